package demo

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// system is what the generator remembers of a system.
type system struct {
	spec     *systemSpec
	id       int64
	created  time.Time
	account  string                // AWS account number or GCP project id
	envs     []steward.Environment // drawn from uniformly
	ents     []entitlementSpec
	priv     []int // indexes into ents
	plain    []int
	perTeam  bool  // two more entitlements per team follow ents
	firstEnt int64 // the ID of ents[0]
	// connected is when the system was connected to Steward: the first
	// day its gaps could be seen.
	connected time.Time
}

// teamEntitlement returns the ID of team t's entitlement j (0 writes, 1 reads).
func (s *system) teamEntitlement(t *team, j int) int64 {
	return s.firstEnt + int64(len(s.ents)) + 2*(t.id-2) + int64(j)
}

// privileged reports whether entitlement id of s is privileged.
func (s *system) privileged(id int64) bool {
	i := id - s.firstEnt
	return i < int64(len(s.ents)) && s.ents[i].privileged
}

// emitSystems emits the systems and their entitlements.
func (g *generator) emitSystems() error {
	ownerTeam := map[string]int64{} // base team name → its first team
	for _, t := range g.teams[1:] {
		if _, ok := ownerTeam[t.base]; !ok {
			ownerTeam[t.base] = t.id
		}
	}
	accounts := map[string]bool{}
	var totals [nhiKinds]int
	for i := range systemSpecs {
		spec := &systemSpecs[i]
		s := &system{spec: spec, id: int64(i + 1), created: g.ago(g.between(3*year, 10*year))}
		switch spec.kind {
		case steward.SystemAWS:
			for s.account == "" || accounts[s.account] {
				s.account = strconv.FormatInt(100_000_000_000+g.rng.Int64N(900_000_000_000), 10)
			}
			accounts[s.account] = true
		case steward.SystemGCP:
			s.account = "acme-" + strings.TrimPrefix(spec.name, "gcp-")
		}
		switch {
		case spec.env != "":
			s.envs = []steward.Environment{spec.env}
		case strings.HasSuffix(spec.name, "nonprod"):
			s.envs = []steward.Environment{steward.EnvStaging, steward.EnvStaging, steward.EnvDev}
		default: // shared systems hold mostly production identities
			s.envs = []steward.Environment{steward.EnvProd, steward.EnvProd, steward.EnvProd, steward.EnvStaging, steward.EnvDev}
		}
		s.ents, s.perTeam = catalogue(spec)
		for j, e := range s.ents {
			if e.privileged {
				s.priv = append(s.priv, j)
			} else {
				s.plain = append(s.plain, j)
			}
		}
		for k, w := range spec.weights {
			if w > 0 {
				totals[k] += w
				g.kindSystems[k] = append(g.kindSystems[k], i)
				g.kindWeights[k] = append(g.kindWeights[k], totals[k])
			}
		}
		row := steward.System{ID: s.id, Name: spec.name, Kind: spec.kind, Description: spec.desc, CreatedAt: s.created}
		if id, ok := ownerTeam[spec.owner]; ok {
			row.OwnerTeamID = ptr(id)
		}
		g.systems = append(g.systems, s)
		g.bySystem[spec.name] = s
		g.b.Systems = append(g.b.Systems, row)
	}
	g.named = make([]int32, len(g.teams)*len(g.systems)*int(nhiKinds))
	if err := g.flushIfFull(); err != nil {
		return err
	}
	for _, s := range g.systems {
		s.firstEnt = g.nextEntitlement + 1
		for _, e := range s.ents {
			if err := g.addEntitlement(s, e); err != nil {
				return err
			}
		}
		if !s.perTeam {
			continue
		}
		for _, t := range g.teams[1:] {
			for _, e := range teamEntitlements(s.spec.kind, t.name) {
				if err := g.addEntitlement(s, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (g *generator) addEntitlement(s *system, e entitlementSpec) error {
	g.nextEntitlement++
	g.b.Entitlements = append(g.b.Entitlements, steward.Entitlement{
		ID: g.nextEntitlement, SystemID: s.id, Name: e.name, Description: e.desc,
		Privileged: e.privileged, Sensitivity: e.sensitivity,
		CreatedAt: s.created.Add(g.between(0, min(2*year, g.now.Sub(s.created)))),
	})
	return g.flushIfFull()
}

// emitHumans gives every person an account in the directory and in Okta, and
// most engineers one on GitHub. Leavers' accounts are mostly disabled or
// removed, but not all: offboarding in real estates misses some.
func (g *generator) emitHumans() error {
	ldap, okta, gh := g.bySystem["ldap-corp"], g.bySystem["okta-acme"], g.bySystem["github-acme"]
	for _, p := range g.people {
		g.addHuman(p, ldap)
		g.addHuman(p, okta)
		if p.dept != nil && p.dept.technical() && g.pct(90) {
			g.addHuman(p, gh)
		}
		if err := g.flushIfFull(); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) addHuman(p *person, s *system) {
	g.nextIdentity++
	id := g.nextIdentity
	i := steward.Identity{
		ID: id, SystemID: s.id, Kind: steward.KindHuman, Environment: steward.EnvProd,
		Criticality: steward.LevelMedium, OwnerID: ptr(p.ID), TeamID: p.TeamID, Status: steward.IdentityActive,
		CreatedAt: ptr(p.CreatedAt.Add(g.between(0, 3*day))),
		// The directory or identity provider says whose account it is: its
		// owner tag is the person's email, and the team is theirs.
		OwnerSource: steward.OwnerFromTag,
		OwnerReason: steward.OwnerReason{OwnerBy: steward.BasisTag, OwnerTag: steward.NormalizeOwnerKey(p.Email)},
	}
	if p.TeamID != nil {
		i.OwnerReason.TeamBy = steward.BasisOwnerTeam
	}
	switch s.spec.kind {
	case steward.SystemLDAP:
		i.Name, i.ExternalID = p.login, "uid="+p.login+",ou=people,dc=example,dc=com"
	case steward.SystemOkta:
		i.Name, i.ExternalID = p.Email, "00u"+g.opaque(id, alnum, 17)
	default:
		i.Name, i.ExternalID = strings.ReplaceAll(p.login, ".", "-")+"-acme", g.decimal(id)
	}
	if i.CreatedAt.After(g.now) {
		i.CreatedAt = ptr(g.now)
	}
	last := g.ago(g.between(0, 5*day))
	if g.pct(10) {
		last = g.ago(g.between(5*day, 60*day))
	}
	if p.Status == steward.PersonDeparted {
		last = p.DepartedAt.Add(-g.between(0, 10*day))
		switch r := g.rng.IntN(100); {
		case s.spec.kind == steward.SystemLDAP && r < 70, s.spec.kind == steward.SystemOkta && r < 35:
			i.Status = steward.IdentityDisabled
		case s.spec.kind == steward.SystemOkta && r < 85, s.spec.kind == steward.SystemGitHub && r < 60:
			i.Status = steward.IdentityRemoved
		}
	}
	if last.Before(*i.CreatedAt) {
		last = g.after(*i.CreatedAt)
	}
	i.LastUsedAt = ptr(last)
	i.UpdatedAt = g.after(*i.CreatedAt)
	g.b.Identities = append(g.b.Identities, i)
	g.addGrants(&i, s, g.teams[*p.TeamID-1], 2+g.rng.IntN(3), 3)
}

// pickTeam returns a team at random, weighted by its NHI weight.
func (g *generator) pickTeam() *team {
	w := g.teamWeights
	return g.teams[sort.SearchInts(w, g.rng.IntN(w[len(w)-1])+1)]
}

// pickSystem returns a system that holds identities of kind k, weighted.
func (g *generator) pickSystem(k nhiKind) *system {
	w := g.kindWeights[k]
	return g.systems[g.kindSystems[k][sort.SearchInts(w, g.rng.IntN(w[len(w)-1])+1)]]
}

// pickKind returns a non-human kind, weighted by kindWeights.
func (g *generator) pickKind() nhiKind {
	r := g.rng.IntN(100)
	for k, w := range kindWeights {
		if r < w {
			return nhiKind(k)
		}
		r -= w
	}
	return nhiServiceAccount
}

// slug returns the c-th service name of team t: its services first
// ("settlement"), then their components ("settlement-worker"), then numbered
// components ("settlement-worker-2"). The c-th name differs from every other;
// c counts a team's identities of one kind on one system, so that every
// system's first service account of the payments team is "settlement".
func slug(t *team, c int) (app, s string) {
	app = t.apps[c%len(t.apps)]
	k := c / len(t.apps)
	if k == 0 {
		return app, app
	}
	s = app + "-" + components[(k-1)%len(components)]
	if n := (k - 1) / len(components); n > 0 {
		s += "-" + strconv.Itoa(n+1)
	}
	return app, s
}

// addNHI adds one non-human identity with its credentials and grants.
func (g *generator) addNHI() {
	t := g.pickTeam()
	k := g.pickKind()
	s := g.pickSystem(k)
	n := &g.named[(int(t.id-1)*len(g.systems)+int(s.id-1))*int(nhiKinds)+int(k)]
	app, sl := slug(t, int(*n))
	*n++
	env := pick(g, s.envs)

	g.nextIdentity++
	id := g.nextIdentity
	i := steward.Identity{
		ID: id, SystemID: s.id, Kind: identityKinds[k], Environment: env, Status: steward.IdentityActive,
	}
	credKind, credPct := g.describe(&i, k, s, t, app, sl)

	// Ages spread over a decade, bounded by the system's own age; Vault
	// tokens are short-lived.
	var age time.Duration
	switch r := g.rng.IntN(100); {
	case k == nhiToken && s.spec.kind == steward.SystemVault:
		age = g.between(time.Hour, 31*day)
	case r < 30:
		age = g.between(day, year)
	case r < 60:
		age = g.between(year, 3*year)
	case r < 85:
		age = g.between(3*year, 6*year)
	default:
		age = g.between(6*year, 10*year)
	}
	if maxAge := g.now.Sub(s.created); age > maxAge {
		age = g.between(day, maxAge)
	}
	i.CreatedAt = ptr(g.ago(age))

	// Most identities were used in the last days; some a year ago; some never.
	var last time.Duration
	switch r := g.rng.IntN(100); {
	case r < 15:
		last = -1
	case r < 62:
		last = g.between(0, 3*day)
	case r < 76:
		last = g.between(3*day, 30*day)
	case r < 86:
		last = g.between(30*day, 180*day)
	default:
		last = g.between(180*day, 500*day)
	}
	if last >= 0 {
		lu := g.ago(last)
		if lu.Before(*i.CreatedAt) {
			lu = g.after(*i.CreatedAt)
		}
		i.LastUsedAt = ptr(lu)
	}
	i.UpdatedAt = g.after(*i.CreatedAt)

	switch r := g.rng.IntN(100); {
	case r < 6:
		i.Status = steward.IdentityDisabled
	case r < 8:
		i.Status = steward.IdentityRemoved
	}
	i.Criticality = g.criticality(env)

	// About one identity in ten has no owner; some of those still carry the
	// team in a label, which later ownership rules can use.
	if g.pct(10) {
		if g.pct(40) {
			i.TeamID = ptr(t.id)
		}
	} else {
		i.OwnerID = ptr(pick(g, t.members))
		if g.pct(95) {
			i.TeamID = ptr(t.id)
		}
	}
	var labelTeam *team
	if g.pct(70) {
		labelTeam = t
		if g.pct(3) { // a stale label left behind when the identity changed hands
			labelTeam = g.teams[1+g.rng.IntN(len(g.teams)-1)]
		}
		i.Labels = map[string]string{"team": labelTeam.name, "app": app, "cost-center": t.costCenter}
		switch r := g.rng.IntN(100); {
		case r < 55:
			i.Labels["managed-by"] = "terraform"
		case r < 70 && s.spec.kind == steward.SystemKubernetes:
			i.Labels["managed-by"] = "helm"
		case r < 75:
			i.Labels["managed-by"] = "pulumi"
		}
	}
	g.provenance(&i, t, labelTeam)
	g.recordGaps(&i, s)
	g.b.Identities = append(g.b.Identities, i)

	if credKind != "" && g.pct(credPct) {
		g.addCredential(&i, credKind, s)
		if k == nhiAPIKey && g.pct(8) { // a second key left behind by a rotation
			g.addCredential(&i, credKind, s)
		}
	}
	g.addGrants(&i, s, t, 2+g.rng.IntN(8), 6)
}

// criticality grades an identity by its environment.
func (g *generator) criticality(env steward.Environment) steward.Level {
	r := g.rng.IntN(100)
	switch env {
	case steward.EnvProd:
		switch {
		case r < 10:
			return steward.LevelLow
		case r < 45:
			return steward.LevelMedium
		case r < 85:
			return steward.LevelHigh
		}
		return steward.LevelCritical
	case steward.EnvStaging:
		switch {
		case r < 40:
			return steward.LevelLow
		case r < 85:
			return steward.LevelMedium
		}
		return steward.LevelHigh
	}
	if r < 70 {
		return steward.LevelLow
	}
	return steward.LevelMedium
}

// describe sets the name and external id of a non-human identity the way its
// system spells them, and returns the kind of credential it usually has and
// how often, in percent. External ids are unique within a system by
// construction: either they embed the team and its unique service name with
// separators no name contains, or they embed a scramble of the identity ID.
func (g *generator) describe(i *steward.Identity, k nhiKind, s *system, t *team, app, sl string) (steward.CredentialKind, int) {
	env := string(i.Environment)
	ts := t.name + "-" + sl
	switch k {
	case nhiServiceAccount:
		switch s.spec.kind {
		case steward.SystemAWS:
			i.Name = "svc-" + ts + "-" + env
			if g.pct(40) { // an IAM user, with access keys
				i.ExternalID = "arn:aws:iam::" + s.account + ":user/" + i.Name
				return steward.CredAccessKey, 100
			}
			i.ExternalID = "arn:aws:iam::" + s.account + ":role/" + i.Name
			return "", 0
		case steward.SystemGCP:
			i.Name, i.ExternalID = ts, ts+"@"+s.account+".iam.gserviceaccount.com"
			return steward.CredPrivateKey, 50
		case steward.SystemPostgres:
			i.Name = strings.ReplaceAll(ts, "-", "_")
			i.ExternalID = i.Name
			return steward.CredPassword, 90
		case steward.SystemLDAP:
			i.Name = "svc-" + ts
			i.ExternalID = "uid=" + i.Name + ",ou=service-accounts,dc=example,dc=com"
			return steward.CredPassword, 90
		case steward.SystemOkta:
			i.Name, i.ExternalID = ts+" service app", "0oa"+g.opaque(i.ID, alnum, 17)
			return steward.CredClientSecret, 80
		default: // a warehouse user
			i.Name = "SVC_" + strings.ToUpper(strings.ReplaceAll(ts, "-", "_"))
			i.ExternalID = i.Name
			return steward.CredPrivateKey, 80
		}
	case nhiAPIKey:
		switch s.spec.kind {
		case steward.SystemAWS:
			i.Name, i.ExternalID = ts+"-"+env+"-access-key", "AKIA"+g.opaque(i.ID, base32Upper, 16)
			return steward.CredAccessKey, 100
		case steward.SystemGCP:
			i.Name, i.ExternalID = ts+"-key", g.opaque(i.ID, hexDigits, 40)
			return steward.CredPrivateKey, 100
		case steward.SystemGitHub:
			i.Name, i.ExternalID = sl+"-deploy-key", "deploy-key:"+g.decimal(i.ID)
			return steward.CredSSHKey, 100
		}
		if s.spec.name == "pagerduty" {
			i.Name, i.ExternalID = ts+"-integration-key", "P"+g.opaque(i.ID, upperAlnum, 7)
			return steward.CredToken, 100
		}
		i.Name, i.ExternalID = ts+"-"+env+"-api-key", g.opaque(i.ID, hexDigits, 32)
		return steward.CredToken, 100
	case nhiToken:
		switch s.spec.kind {
		case steward.SystemVault:
			i.Name, i.ExternalID = "vault-token-"+ts+"-"+env, "accessor:"+g.opaque(i.ID, alnum, 24)
		case steward.SystemGitHub:
			i.Name = "ci-deploy-" + t.name
			if g.pct(50) {
				i.Name += "-" + app
			}
			i.ExternalID = g.decimal(i.ID)
		case steward.SystemOkta:
			i.Name, i.ExternalID = "okta-api-token-"+ts, "00T"+g.opaque(i.ID, alnum, 17)
		default: // a Kubernetes service-account token secret
			i.Name, i.ExternalID = sl+"-token", t.name+"/"+sl+"-token"
		}
		return steward.CredToken, 100
	case nhiSecret:
		w := pick(g, secretWords)
		switch s.spec.kind {
		case steward.SystemVault:
			i.Name = t.name + "/" + sl + "/" + w.name
			i.ExternalID = "secret/data/" + env + "/" + i.Name
		case steward.SystemAWS:
			i.Name = env + "/" + t.name + "/" + sl + "/" + w.name
			i.ExternalID = "arn:aws:secretsmanager:" + s.spec.region + ":" + s.account + ":secret:" + i.Name + "-" + g.random(alnum, 6)
		default:
			i.Name = t.name + "_" + sl + "_" + w.name
			i.ExternalID = "projects/" + s.account + "/secrets/" + i.Name
		}
		return steward.CredentialKind(w.kind), 100
	case nhiCertificate:
		host := app
		if g.pct(25) {
			host = "api"
		}
		host += "." + t.name
		if env != "prod" {
			host += "." + env
		}
		i.Name = host + ".example.com"
		if g.pct(5) {
			i.Name = "*." + t.name + ".internal.example.com"
		}
		switch s.spec.kind {
		case steward.SystemVault:
			i.ExternalID = "pki_int:" + g.serial(i.ID)
		case steward.SystemAWS:
			i.ExternalID = "arn:aws:acm:" + s.spec.region + ":" + s.account + ":certificate/" + g.uuid(i.ID)
		default: // cert-manager
			i.ExternalID = t.name + "/" + sl + "-tls"
		}
		return steward.CredCertificate, 100
	case nhiWorkload:
		switch s.spec.kind {
		case steward.SystemKubernetes:
			i.Name, i.ExternalID = sl, "system:serviceaccount:"+t.name+":"+sl
			return steward.CredToken, 12
		case steward.SystemGCP:
			i.Name = t.name + "/" + sl
			i.ExternalID = "serviceAccount:" + s.account + ".svc.id.goog[" + i.Name + "]"
		default: // an IAM role for a Kubernetes service account
			i.Name = "irsa-" + ts
			i.ExternalID = "arn:aws:iam::" + s.account + ":role/" + i.Name
		}
		return "", 0
	default: // bot
		if s.spec.kind == steward.SystemGitHub {
			i.Name = t.name + "-" + app + "-bot[bot]"
			if g.bots < len(wellKnownBots) {
				i.Name = wellKnownBots[g.bots]
			}
			g.bots++
			i.ExternalID = g.decimal(i.ID)
			return steward.CredPrivateKey, 90
		}
		i.Name, i.ExternalID = sl+"-bot", "B"+g.opaque(i.ID, upperAlnum, 10)
		return steward.CredToken, 100
	}
}

// addCredential adds the metadata of one credential of i: when it was
// issued, rotated and expires, and the fingerprint of a random value.
func (g *generator) addCredential(i *steward.Identity, kind steward.CredentialKind, s *system) {
	g.nextCredential++
	c := steward.Credential{
		ID: g.nextCredential, IdentityID: i.ID, Kind: kind, Status: steward.CredentialActive, CreatedAt: ptr(*i.CreatedAt),
		LastUsedAt: i.LastUsedAt, Fingerprint: g.fingerprint(),
	}
	switch {
	case kind == steward.CredCertificate:
		if g.pct(70) { // renewed automatically every 60 days or so, valid for 90
			issued := g.ago(g.between(0, 85*day))
			if issued.After(*c.CreatedAt) {
				c.LastRotatedAt = ptr(issued)
			} else {
				issued = *c.CreatedAt
			}
			c.ExpiresAt = ptr(issued.Add(90 * day))
		} else { // bought and renewed by hand; some have lapsed, some soon will
			issued := g.ago(g.between(0, 500*day))
			if issued.After(c.CreatedAt.Add(day)) {
				c.LastRotatedAt = ptr(issued)
			} else {
				issued = *c.CreatedAt
			}
			c.ExpiresAt = ptr(issued.Add(398 * day))
		}
	case kind == steward.CredToken && s.spec.kind == steward.SystemVault:
		c.ExpiresAt = ptr(c.CreatedAt.Add(32 * day))
	case kind == steward.CredToken && s.spec.kind == steward.SystemGitHub:
		if g.pct(40) { // a classic token that never expires
			break
		}
		life := 90 * day
		if g.pct(40) {
			life = year
		}
		issued := *c.CreatedAt
		if at := g.ago(g.between(0, life)); g.pct(80) && at.After(issued) { // regenerated on time
			c.LastRotatedAt = ptr(at)
			issued = at
		}
		c.ExpiresAt = ptr(issued.Add(life))
	default:
		// A third rotate on schedule, some were rotated once, half never:
		// an old identity that was never rotated has a key older than a year.
		switch r := g.rng.IntN(100); {
		case r < 35:
			if at := g.ago(g.between(0, 90*day)); at.After(*c.CreatedAt) {
				c.LastRotatedAt = ptr(at)
			}
		case r < 50:
			if at := g.after(*c.CreatedAt); at.After(*c.CreatedAt) {
				c.LastRotatedAt = ptr(at)
			}
		}
	}
	if c.ExpiresAt != nil && c.LastUsedAt != nil && c.LastUsedAt.After(*c.ExpiresAt) {
		c.LastUsedAt = ptr(c.ExpiresAt.Add(-g.between(0, min(c.ExpiresAt.Sub(*c.CreatedAt), 30*day))))
	}
	g.b.Credentials = append(g.b.Credentials, c)
}

// addGrants gives i up to n entitlements of s: often its team's own, then
// from the system's catalogue, privileged ones privPct times in a hundred.
func (g *generator) addGrants(i *steward.Identity, s *system, t *team, n, privPct int) {
	g.picked = g.picked[:0]
	if s.perTeam && t.id > 1 && g.pct(60) {
		g.picked = append(g.picked, s.teamEntitlement(t, g.rng.IntN(2)))
	}
	for tries := 0; len(g.picked) < n && tries < 3*n; tries++ {
		var e int64
		if len(s.priv) > 0 && g.pct(privPct) {
			e = s.firstEnt + int64(pick(g, s.priv))
		} else {
			e = s.firstEnt + int64(pick(g, s.plain))
		}
		if !slices.Contains(g.picked, e) {
			g.picked = append(g.picked, e)
		}
	}
	for _, e := range g.picked {
		g.addGrant(i, s, e)
	}
}

// addGrant adds one grant. Privileged access is often just in time or
// backed by an exception, but a good share is standing; time-bound grants
// expire within days or weeks, and a few exceptions are overdue.
func (g *generator) addGrant(i *steward.Identity, s *system, e int64) {
	g.nextGrant++
	gr := steward.Grant{ID: g.nextGrant, IdentityID: i.ID, EntitlementID: e, Type: steward.GrantStanding}
	r := g.rng.IntN(100)
	if s.privileged(e) {
		switch {
		case r < 35:
			gr.Type = steward.GrantJIT
		case r < 55:
			gr.Type = steward.GrantException
		}
	} else {
		switch {
		case r < 3:
			gr.Type = steward.GrantJIT
		case r < 8:
			gr.Type = steward.GrantException
		}
	}
	switch gr.Type {
	case steward.GrantStanding:
		gr.GrantedAt = g.after(*i.CreatedAt)
		switch r := g.rng.IntN(100); {
		case r < 60:
			gr.GrantedVia = "sync:" + s.spec.name
		case r < 90:
			gr.GrantedVia = "terraform"
		default:
			gr.GrantedVia = "manual"
		}
	case steward.GrantJIT:
		d := pick(g, []time.Duration{time.Hour, 4 * time.Hour, 8 * time.Hour, day, 3 * day, 7 * day})
		gr.GrantedAt = g.ago(g.between(0, d/2))
		gr.ExpiresAt = ptr(gr.GrantedAt.Add(d))
		g.requests++
		gr.GrantedVia = "request:" + strconv.FormatInt(g.requests, 10)
	default:
		gr.GrantedAt = g.ago(g.between(7*day, 180*day))
		gr.ExpiresAt = ptr(g.now.Add(g.between(day, 60*day)))
		if g.pct(5) { // overdue: the expiry passed and nobody revoked it
			gr.GrantedAt = g.ago(g.between(30*day, 180*day))
			gr.ExpiresAt = ptr(g.ago(g.between(day, 14*day)))
		}
		g.exceptions++
		gr.GrantedVia = "exception:" + strconv.FormatInt(g.exceptions, 10)
	}
	if gr.GrantedAt.Before(*i.CreatedAt) {
		gr.GrantedAt = *i.CreatedAt
		if gr.ExpiresAt != nil && !gr.ExpiresAt.After(gr.GrantedAt) {
			gr.ExpiresAt = ptr(gr.GrantedAt.Add(day))
		}
	}
	g.b.Grants = append(g.b.Grants, gr)
}

// Alphabets of opaque external ids.
const (
	alnum       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	upperAlnum  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	hexDigits   = "0123456789abcdef"
)

// scramble maps an identity ID to a 32-bit value one-to-one (xor, multiply
// by an odd constant and xor-shift are each invertible), so that ids derived
// from it are unique without remembering the ones handed out, yet do not
// count up visibly.
func (g *generator) scramble(id int64) uint32 {
	x := uint32(id) ^ g.scrambleKey // #nosec G115 -- the demo's ids stay far below 2^32; scramble is one-to-one on 32 bits
	x *= 0x9E3779B1
	x ^= x >> 15
	x *= 0x85EBCA77
	x ^= x >> 13
	return x
}

// random returns n random characters of alphabet.
func (g *generator) random(alphabet string, n int) string {
	b := make([]byte, n)
	for j := range b {
		b[j] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// opaque returns n characters of alphabet that look random and contain the
// scrambled id at fixed positions, so that two identities never share one.
func (g *generator) opaque(id int64, alphabet string, n int) string {
	b := []byte(g.random(alphabet, n))
	base := uint64(len(alphabet))
	digits := 0
	for v := uint64(1); v < 1<<32; v *= base {
		digits++
	}
	step := 1
	if n >= 2*digits {
		step = 2
	}
	u := uint64(g.scramble(id))
	for j, pos := 0, n-1; j < digits; j, pos = j+1, pos-step {
		b[pos] = alphabet[u%base]
		u /= base
	}
	return string(b)
}

// decimal returns a numeric id, as GitHub gives its users and apps.
func (g *generator) decimal(id int64) string {
	return strconv.FormatUint(uint64(g.scramble(id))+10_000_000, 10)
}

// serial returns a certificate serial number: 16 bytes, hex, colon-separated.
func (g *generator) serial(id int64) string {
	b := g.opaque(id, hexDigits, 32)
	var s strings.Builder
	for j := 0; j < len(b); j += 2 {
		if j > 0 {
			s.WriteByte(':')
		}
		s.WriteString(b[j : j+2])
	}
	return s.String()
}

// uuid returns a UUID-shaped id.
func (g *generator) uuid(id int64) string {
	b := g.opaque(id, hexDigits, 32)
	return b[:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:]
}

// fingerprint returns the keyed fingerprint of 32 random bytes: it has the
// shape of a real one and matches no real secret.
func (g *generator) fingerprint() string {
	var v [32]byte
	for j := 0; j < len(v); j += 8 {
		u := g.rng.Uint64()
		for k := range 8 {
			v[j+k] = byte(u >> (8 * k)) // #nosec G115 -- takes one byte of u on purpose
		}
	}
	return steward.Fingerprint(g.fpKey, v[:])
}
