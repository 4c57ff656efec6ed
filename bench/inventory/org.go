package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/stewardhq/steward"
)

// Sizes is how big a synthetic organisation is.
type Sizes struct {
	Identities   int
	Grants       int
	People       int
	Teams        int
	Systems      int
	Entitlements int
}

// Org generates a synthetic inventory that is the same for the same seed and
// sizes. Identities and grants come out in batches, in id order, so that a
// million rows never sit in memory at once; only a byte or two per identity
// is kept (its system and kind), which the grants need.
//
// The shape follows a real estate rather than a uniform one, because uniform
// data flatters a planner: identity kinds, systems, owners, teams and
// entitlements are skewed (a few are very popular, most are rare), about 10%
// of identities have no owner, most are active, and grants are mostly
// standing with some time-bound jit and exception grants.
type Org struct {
	sizes Sizes
	seed  uint64
	now   time.Time

	ref    *rand.Rand // teams, people, systems, entitlements
	ids    *rand.Rand // identities
	grants *rand.Rand // grants
	creds  *rand.Rand // credentials: its own stream, so that identities and grants stay the same with or without them

	nextCredential int64

	personTeam   []int32 // team id of person i+1
	ownerPerm    []int32 // skewed owner rank -> person index
	systemPerm   []int32 // skewed system rank -> system index
	systemKinds  []steward.SystemKind
	systemNames  []string
	teamPerm     []int32
	entPerm      []int32 // skewed global entitlement rank -> entitlement index
	identSystem  []int32 // system index of identity i+1, filled as identities are made
	identHuman   []bool
	nextIdentity int64
	nextGrant    int64
	grantOwner   int64 // next identity whose grants are to be made
	grantsLeft   int
}

// Epoch is the "now" of every synthetic organisation, fixed so that a seed
// gives the same rows on any day.
var Epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// NewOrg returns the generator for sizes and seed.
func NewOrg(s Sizes, seed uint64) *Org {
	o := &Org{
		sizes:        s,
		seed:         seed,
		now:          Epoch,
		ref:          rand.New(rand.NewPCG(seed, 1)), // #nosec G404 -- a benchmark's organisation, reproducible from its seed
		ids:          rand.New(rand.NewPCG(seed, 2)), // #nosec G404 -- a benchmark's organisation, reproducible from its seed
		grants:       rand.New(rand.NewPCG(seed, 3)), // #nosec G404 -- a benchmark's organisation, reproducible from its seed
		creds:        rand.New(rand.NewPCG(seed, 4)), // #nosec G404 -- a benchmark's organisation, reproducible from its seed
		identSystem:  make([]int32, 0, s.Identities),
		identHuman:   make([]bool, 0, s.Identities),
		nextIdentity: 1,
		nextGrant:    1,
		grantOwner:   1,
		grantsLeft:   s.Grants,
	}
	o.ownerPerm = perm(o.ref, s.People)
	o.systemPerm = perm(o.ref, s.Systems)
	o.teamPerm = perm(o.ref, s.Teams)
	o.entPerm = perm(o.ref, s.Entitlements)
	return o
}

func perm(r *rand.Rand, n int) []int32 {
	p := make([]int32, n)
	for i, v := range r.Perm(n) {
		p[i] = int32(v) // #nosec G115 -- v < n, a count of rows the benchmark holds in memory, far below 2^31
	}
	return p
}

// skewed returns an index in [0, n) where low indexes are much more likely:
// with power 2 the first 1% of indexes get 10% of the picks. Callers map it
// through a permutation so that popularity does not follow id order.
func skewed(r *rand.Rand, n int, power float64) int {
	return min(int(float64(n)*math.Pow(r.Float64(), power)), n-1)
}

// weighted returns values[i] with probability weights[i]/sum(weights).
func weighted[T any](r *rand.Rand, values []T, weights []float64) T {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := r.Float64() * sum
	for i, w := range weights {
		if x < w {
			return values[i]
		}
		x -= w
	}
	return values[len(values)-1]
}

// mix is splitmix64: a cheap, well-spread hash that makes external ids look
// random yet be a pure function of seed and row, so the benchmark can ask
// for one that exists (a rare free-text search) without remembering them.
func mix(seed uint64, i int64) uint64 {
	z := seed*0x9e3779b97f4a7c15 + uint64(i) // #nosec G115 -- a hash: the row number's bits are kept on purpose
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Apps are the application words in names, most popular first: q=payments
// matches a few percent of identities, which is a "common" search.
var apps = []string{"payments", "checkout", "billing", "orders", "search", "catalog", "ledger", "identity",
	"gateway", "analytics", "fraud", "pricing", "inventory", "shipping", "notifications", "reporting",
	"risk", "cart", "email", "recommendations", "warehouse", "etl", "ingest", "stream", "cache", "media",
	"images", "chat", "support", "crm", "payroll", "finance", "audit", "compliance", "monitoring",
	"logging", "metrics", "tracing", "backup", "deploy", "build", "registry", "dns", "edge", "mobile",
	"partner", "vendor", "marketing"}

var components = []string{"api", "worker", "cron", "sync", "exporter", "importer", "migrator", "scheduler",
	"consumer", "producer", "frontend", "backend", "job", "agent", "proxy"}

var firstNames = []string{"ada", "alan", "amara", "ana", "ben", "carla", "chen", "dana", "diego", "elena",
	"emeka", "fatima", "felix", "grace", "hana", "ivan", "jin", "julia", "kofi", "lara", "liam", "maya",
	"mohamed", "nadia", "noah", "olga", "omar", "priya", "quinn", "rosa", "sam", "sara", "tariq", "uma",
	"victor", "wei", "xena", "yusuf", "zoe", "lea"}

var lastNames = []string{"adams", "bauer", "costa", "dubois", "evans", "fischer", "garcia", "hansen",
	"ito", "jensen", "kim", "lopez", "mensah", "nakamura", "okafor", "patel", "quist", "rossi", "schmidt",
	"tanaka", "ueda", "vargas", "weber", "xu", "yilmaz", "zhang", "novak", "silva", "khan", "murphy"}

var titles = []string{"Software Engineer", "Senior Software Engineer", "Staff Engineer", "SRE",
	"Data Engineer", "Security Engineer", "Engineering Manager", "Product Manager", "Analyst", "Contractor"}

var teamSuffixes = []string{"platform", "core", "infra", "data", "sre", "product", "security", "tools"}

// Identity kinds with their weights: non-human identities outnumber people's
// accounts about 40 to 1.
var (
	kinds       = []steward.IdentityKind{steward.KindServiceAccount, steward.KindAPIKey, steward.KindToken, steward.KindSecret, steward.KindWorkload, steward.KindCertificate, steward.KindBot, steward.KindHuman}
	kindWeights = []float64{28, 18, 14, 12, 11, 9, 5.5, 2.5}
	kindPrefix  = map[steward.IdentityKind]string{steward.KindServiceAccount: "svc", steward.KindAPIKey: "key", steward.KindToken: "tok",
		steward.KindSecret: "sec", steward.KindWorkload: "wl", steward.KindCertificate: "cert", steward.KindBot: "bot", steward.KindHuman: "user"}
	envWeights       = []float64{45, 25, 30} // prod, staging, dev
	statusWeights    = []float64{85, 10, 5}  // active, disabled, removed
	levelWeights     = []float64{40, 35, 18, 7}
	systemKinds      = []steward.SystemKind{steward.SystemAWS, steward.SystemKubernetes, steward.SystemPostgres, steward.SystemGCP, steward.SystemAzure, steward.SystemSaaS, steward.SystemGitHub, steward.SystemVault, steward.SystemLDAP, steward.SystemOkta}
	systemKindWeight = []float64{30, 20, 15, 8, 7, 6, 5, 5, 2, 2}
)

// Reference returns the teams, people, systems and entitlements, as one
// batch: they are small, and teams and people refer to each other.
func (o *Org) Reference() *steward.Bulk {
	r, s := o.ref, o.sizes
	b := &steward.Bulk{Source: fmt.Sprintf("bench seed=%d reference", o.seed)}
	// Every team gets one person first (its manager), the rest are spread.
	o.personTeam = make([]int32, s.People)
	for i := range s.People {
		if i < s.Teams {
			o.personTeam[i] = int32(i + 1)
		} else {
			o.personTeam[i] = int32(o.teamPerm[skewed(r, s.Teams, 1.5)] + 1)
		}
	}
	for t := range s.Teams {
		id := int64(t + 1)
		mgr := id // person t+1 is the first member of team t+1
		b.Teams = append(b.Teams, steward.Team{ID: id, Name: fmt.Sprintf("%s-%s-%d", apps[t%len(apps)], teamSuffixes[t%len(teamSuffixes)], id),
			DisplayName: fmt.Sprintf("%s %s %d", apps[t%len(apps)], teamSuffixes[t%len(teamSuffixes)], id), ManagerID: &mgr,
			CreatedAt: o.now.Add(-time.Duration(1000+r.IntN(2000)) * 24 * time.Hour)})
	}
	for i := range s.People {
		id := int64(i + 1)
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		team := int64(o.personTeam[i])
		p := steward.Person{ID: id, ExternalID: fmt.Sprintf("u%07d", id), Name: fmt.Sprintf("%s %s", title(first), title(last)),
			Email: fmt.Sprintf("%s.%s.%d@example.com", first, last, id), Title: titles[r.IntN(len(titles))], TeamID: &team,
			Status: steward.PersonActive, CreatedAt: o.now.Add(-time.Duration(30+r.IntN(3000)) * 24 * time.Hour)}
		if mgr := team; mgr != id && int(mgr) <= s.People {
			p.ManagerID = &mgr
		}
		if i >= s.Teams && r.Float64() < 0.08 { // managers stay; 8% of the others have left
			p.Status = steward.PersonDeparted
			at := o.now.Add(-time.Duration(r.IntN(700)) * 24 * time.Hour)
			p.DepartedAt = &at
		}
		b.People = append(b.People, p)
	}
	for i := range s.Systems {
		id := int64(i + 1)
		k := weighted(r, systemKinds, systemKindWeight)
		env := weighted(r, steward.Environments, envWeights)
		team := int64(r.IntN(s.Teams) + 1)
		name := fmt.Sprintf("%s-%s-%s-%d", k, env, apps[r.IntN(len(apps))], id)
		o.systemKinds = append(o.systemKinds, k)
		o.systemNames = append(o.systemNames, name)
		b.Systems = append(b.Systems, steward.System{ID: id, Name: name, Kind: k, Description: fmt.Sprintf("%s %s", k, env),
			OwnerTeamID: &team, CreatedAt: o.now.Add(-time.Duration(500+r.IntN(2000)) * 24 * time.Hour)})
	}
	for j := range s.Entitlements {
		id := int64(j + 1)
		sys := j % s.Systems // system i holds entitlements i, i+S, i+2S, …
		priv := r.Float64() < 0.1
		role := "read"
		switch {
		case priv:
			role = []string{"admin", "owner", "root", "superuser"}[r.IntN(4)]
		case r.Float64() < 0.4:
			role = "write"
		}
		sens := weighted(r, steward.Levels, levelWeights)
		if priv {
			sens = steward.LevelCritical
		}
		b.Entitlements = append(b.Entitlements, steward.Entitlement{ID: id, SystemID: int64(sys + 1),
			Name: fmt.Sprintf("%s/%s-%s-%d", o.systemKinds[sys], apps[r.IntN(len(apps))], role, id), Privileged: priv, Sensitivity: sens,
			Description: "synthetic " + role, CreatedAt: o.now.Add(-time.Duration(100+r.IntN(1500)) * 24 * time.Hour)})
	}
	return b
}

func title(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// Identities returns the next n identities (fewer at the end); nil when
// they are all out. Reference must have run first.
func (o *Org) Identities(n int) []steward.Identity {
	r, s := o.ids, o.sizes
	n = min(n, s.Identities-int(o.nextIdentity)+1)
	if n <= 0 {
		return nil
	}
	out := make([]steward.Identity, 0, n)
	for range n {
		id := o.nextIdentity
		o.nextIdentity++
		sys := int(o.systemPerm[skewed(r, s.Systems, 1.6)])
		kind := weighted(r, kinds, kindWeights)
		env := weighted(r, steward.Environments, envWeights)
		app := apps[skewed(r, len(apps), 1.6)]
		i := steward.Identity{ID: id, SystemID: int64(sys + 1), Kind: kind, Environment: env,
			Criticality: weighted(r, steward.Levels, levelWeights), Status: weighted(r, steward.IdentityStatuses, statusWeights)}
		// About 10% have no owner; owners are skewed (a few platform people
		// own thousands) and the team is mostly the owner's.
		if r.Float64() >= 0.10 {
			owner := int64(o.ownerPerm[skewed(r, s.People, 2)] + 1)
			i.OwnerID = &owner
			team := int64(o.personTeam[owner-1])
			if r.Float64() < 0.15 {
				team = int64(o.teamPerm[skewed(r, s.Teams, 1.5)] + 1)
			}
			i.TeamID = &team
		} else if r.Float64() < 0.5 {
			team := int64(o.teamPerm[skewed(r, s.Teams, 1.5)] + 1)
			i.TeamID = &team
		}
		if kind == steward.KindHuman {
			i.Name = fmt.Sprintf("%s.%s%d", firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))], r.IntN(100))
		} else {
			i.Name = fmt.Sprintf("%s-%s-%s-%s-%d", kindPrefix[kind], app, components[r.IntN(len(components))], env, r.IntN(1000))
		}
		i.ExternalID = o.ExternalID(id, kind, o.systemKinds[sys])
		if r.Float64() < 0.3 {
			i.Labels = map[string]string{"app": app, "cost-center": fmt.Sprintf("cc-%d", 100+r.IntN(60))}
		}
		created := o.now.Add(-time.Duration(r.Int64N(int64(5 * 365 * 24 * time.Hour)))).Truncate(time.Microsecond)
		i.CreatedAt = &created
		if r.Float64() >= 0.15 { // 15% never used
			used := created.Add(time.Duration(r.Float64() * float64(o.now.Sub(created)))).Truncate(time.Microsecond)
			i.LastUsedAt = &used
		}
		o.identSystem = append(o.identSystem, int32(sys)) // #nosec G115 -- an index into the benchmark's systems, a few thousand at most
		o.identHuman = append(o.identHuman, kind == steward.KindHuman)
		out = append(out, i)
	}
	return out
}

// Credentials returns the credential metadata of a batch of identities:
// share of the non-human ones have one (a few two), created after their
// identity, some rotated since. Each identity's credentials go in the same
// BulkLoad as the identity, as imports and the demo load them.
func (o *Org) Credentials(ids []steward.Identity, share float64) []steward.Credential {
	r := o.creds
	var out []steward.Credential
	for i := range ids {
		x := &ids[i]
		if x.Kind == steward.KindHuman || r.Float64() >= share {
			continue
		}
		n := 1
		if r.Float64() < 0.15 {
			n = 2
		}
		for k := range n {
			o.nextCredential++
			age := o.now.Sub(*x.CreatedAt)
			created := x.CreatedAt.Add(time.Duration(r.Float64() * float64(age))).Truncate(time.Microsecond)
			c := steward.Credential{ID: o.nextCredential, IdentityID: x.ID, Kind: steward.CredAccessKey, ExternalID: fmt.Sprint("key-", k+1),
				CreatedAt: &created}
			if r.Float64() < 0.4 {
				rotated := created.Add(time.Duration(r.Float64() * float64(o.now.Sub(created)))).Truncate(time.Microsecond)
				c.LastRotatedAt = &rotated
			}
			out = append(out, c)
		}
	}
	return out
}

// ExternalID returns the external id of identity id: a pure function of the
// seed and id, so the benchmark can search for a rare one.
func (o *Org) ExternalID(id int64, kind steward.IdentityKind, sys steward.SystemKind) string {
	return fmt.Sprintf("%s:%s/%016x", sys, kindPrefix[kind], mix(o.seed, id))
}

// RareFragment returns ten hex digits from the middle of identity id's
// external id: a free-text search that matches that one identity.
func (o *Org) RareFragment(id int64) string {
	return fmt.Sprintf("%016x", mix(o.seed, id))[3:13]
}

// Grants returns about the next n grants, whole identities at a time (so a
// batch may run a few over n); nil when they are all out. It makes grants
// only for identities already returned by Identities.
func (o *Org) Grants(n int) []steward.Grant {
	r, s := o.grants, o.sizes
	out := make([]steward.Grant, 0, n+64)
	perSystem := (s.Entitlements + s.Systems - 1) / s.Systems
	for len(out) < n && o.grantsLeft > 0 && int(o.grantOwner) <= len(o.identSystem) {
		ident := o.grantOwner
		o.grantOwner++
		// Draw this identity's count around the mean that is still owed, so
		// the total comes out at the asked number of grants.
		left := s.Identities - int(ident) + 1
		mean := float64(o.grantsLeft) / float64(left)
		k := 1 + r.IntN(max(1, int(2*mean-0.5)))
		if o.identHuman[ident-1] {
			k += r.IntN(6) // people's accounts collect more
		}
		if int(ident) == s.Identities { // the last one takes what is owed
			k = o.grantsLeft
		}
		k = min(k, o.grantsLeft, s.Entitlements/2, 64)
		sys := int(o.identSystem[ident-1])
		chosen := make(map[int]struct{}, k)
		for range k {
			var ent int
			for try := 0; ; try++ {
				if r.Float64() < 0.8 { // mostly the identity's own system, skewed
					ent = sys + skewed(r, perSystem, 2)*s.Systems
				} else {
					ent = int(o.entPerm[skewed(r, s.Entitlements, 2)])
				}
				if ent >= s.Entitlements {
					continue
				}
				if _, dup := chosen[ent]; !dup || try > 50 {
					break
				}
			}
			for _, dup := chosen[ent]; dup; _, dup = chosen[ent] { // give up being skewed
				ent = (ent + 1) % s.Entitlements
			}
			chosen[ent] = struct{}{}
			g := steward.Grant{ID: o.nextGrant, IdentityID: ident, EntitlementID: int64(ent + 1),
				GrantedAt: o.now.Add(-time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour)))).Truncate(time.Microsecond)}
			o.nextGrant++
			switch x := r.Float64(); {
			case x < 0.06:
				g.Type = steward.GrantJIT
				exp := g.GrantedAt.Add(time.Duration(1+r.IntN(8)) * time.Hour)
				g.ExpiresAt = &exp
				g.GrantedVia = fmt.Sprintf("request:%d", r.IntN(1_000_000))
			case x < 0.10:
				g.Type = steward.GrantException
				exp := g.GrantedAt.Add(time.Duration(7+r.IntN(84)) * 24 * time.Hour)
				g.ExpiresAt = &exp
				g.GrantedVia = fmt.Sprintf("exception:%d", r.IntN(100_000))
			default:
				g.Type = steward.GrantStanding
				if r.Float64() < 0.05 {
					exp := g.GrantedAt.Add(365 * 24 * time.Hour)
					g.ExpiresAt = &exp
				}
				g.GrantedVia = "sync:" + o.systemNames[sys]
			}
			out = append(out, g)
			o.grantsLeft--
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// IdentitySystem returns the system id of a generated identity.
func (o *Org) IdentitySystem(id int64) int64 { return int64(o.identSystem[id-1]) + 1 }

// CommonWords are free-text searches that match a few percent of identities.
func CommonWords() []string { return apps[:5] }
