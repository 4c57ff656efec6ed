package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// skipSource is a Skipper over fixed records whose sums are a hash of their
// JSON, as a JSONL importer's are of its lines.
type skipSource struct {
	recs    []steward.Record
	skipped *int // if set, counts the records the store let it skip
}

func (s skipSource) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.ReadSkipping(ctx, nil)
}

func (s skipSource) ReadSkipping(_ context.Context, known steward.KnownFunc) iter.Seq2[steward.Record, error] {
	return func(yield func(steward.Record, error) bool) {
		sums := make([]uint64, len(s.recs))
		for i, r := range s.recs {
			b, _ := json.Marshal(r)
			h := fnv.New64a()
			h.Write(b) // #nosec G104 -- fnv's Write never fails
			sums[i] = h.Sum64() | 1
		}
		skip := make([]bool, len(sums))
		if known != nil {
			known(sums, skip)
		}
		for i, r := range s.recs {
			if skip[i] {
				r = steward.Record{}
				if s.skipped != nil {
					*s.skipped++
				}
			}
			r.Sum, r.Pos = sums[i], fmt.Sprintf("skip.jsonl:%d", i+1)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// digestModel is what a source holds, changed at random round by round.
type digestModel struct {
	rng     *rand.Rand
	t0      time.Time
	n       int
	ents    map[string]bool // name: privileged
	ids     map[string]*steward.SourceIdentity
	grants  map[[2]string]int // 0: standing; n: jit, ending in n days
	removed []string          // external ids once listed and dropped
	owners  []string
}

func (m *digestModel) clone() *digestModel {
	c := *m
	c.ents = maps.Clone(m.ents)
	c.grants = maps.Clone(m.grants)
	c.ids = map[string]*steward.SourceIdentity{}
	for k, v := range m.ids {
		i := *v
		i.Labels = maps.Clone(v.Labels)
		i.Credentials = slices.Clone(v.Credentials)
		c.ids[k] = &i
	}
	c.removed = slices.Clone(m.removed)
	return &c
}

func (m *digestModel) at(days int) *time.Time {
	t := m.t0.Add(time.Duration(days) * 24 * time.Hour)
	return &t
}

func (m *digestModel) pick(keys []string) string { return keys[m.rng.IntN(len(keys))] }

func (m *digestModel) addIdentity(ext string) {
	m.n++
	i := &steward.SourceIdentity{ExternalID: ext, Name: fmt.Sprintf("svc %s %d", ext, m.n), Kind: steward.KindServiceAccount,
		Labels: map[string]string{"app": fmt.Sprint("a", m.rng.IntN(3))}, Owner: m.owners[m.rng.IntN(len(m.owners))]}
	for c := range m.rng.IntN(3) {
		i.Credentials = append(i.Credentials, steward.SourceCredential{ExternalID: fmt.Sprint("key", c), Kind: steward.CredAccessKey, LastRotatedAt: m.at(-m.rng.IntN(300))})
	}
	m.ids[ext] = i
	ents := slices.Sorted(maps.Keys(m.ents))
	for range m.rng.IntN(4) {
		m.grants[[2]string{ext, m.pick(ents)}] = 0
	}
}

// mutate makes one round's changes.
func (m *digestModel) mutate() {
	for range 1 + m.rng.IntN(4) {
		ids := slices.Sorted(maps.Keys(m.ids))
		ents := slices.Sorted(maps.Keys(m.ents))
		switch m.rng.IntN(12) {
		case 0:
			m.n++
			m.addIdentity(fmt.Sprint("id", m.n))
		case 1: // rename
			m.ids[m.pick(ids)].Name = fmt.Sprint("renamed ", m.rng.IntN(1000))
		case 2: // gone, with its grants
			ext := m.pick(ids)
			delete(m.ids, ext)
			for g := range m.grants {
				if g[0] == ext {
					delete(m.grants, g)
				}
			}
			m.removed = append(m.removed, ext)
		case 3: // back again
			if len(m.removed) > 0 {
				ext := m.removed[0]
				m.removed = m.removed[1:]
				m.addIdentity(ext)
			}
		case 4: // a credential rotated, added or dropped
			i := m.ids[m.pick(ids)]
			switch {
			case len(i.Credentials) > 0 && m.rng.IntN(3) > 0:
				i.Credentials[0].LastRotatedAt = m.at(-m.rng.IntN(10))
			case len(i.Credentials) > 0:
				i.Credentials = i.Credentials[1:]
			default:
				i.Credentials = append(i.Credentials, steward.SourceCredential{ExternalID: "new", Kind: steward.CredPassword})
			}
		case 5: // used: an observation only
			m.ids[m.pick(ids)].LastUsedAt = m.at(-m.rng.IntN(30))
		case 6:
			m.grants[[2]string{m.pick(ids), m.pick(ents)}] = 0
		case 7:
			for g := range m.grants {
				delete(m.grants, g)
				break
			}
		case 8:
			for g := range m.grants {
				m.grants[g] = 1 + m.rng.IntN(30)
				break
			}
		case 9:
			m.ents[fmt.Sprint("role:", m.rng.IntN(1000))] = m.rng.IntN(4) == 0
		case 10: // an entitlement gone, with its grants
			if len(ents) > 2 {
				e := m.pick(ents)
				delete(m.ents, e)
				for g := range m.grants {
					if g[1] == e {
						delete(m.grants, g)
					}
				}
			}
		case 11:
			i := m.ids[m.pick(ids)]
			i.Owner = m.owners[m.rng.IntN(len(m.owners))]
		}
	}
}

// records lists the model in a shuffled order.
func (m *digestModel) records() []steward.Record {
	var out []steward.Record
	for _, n := range slices.Sorted(maps.Keys(m.ents)) {
		out = append(out, steward.Record{Entitlement: &steward.SourceEntitlement{Name: n, Privileged: m.ents[n]}})
	}
	for _, ext := range slices.Sorted(maps.Keys(m.ids)) {
		i := *m.ids[ext]
		out = append(out, steward.Record{Identity: &i})
	}
	keys := slices.SortedFunc(maps.Keys(m.grants), func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, g := range keys {
		sg := &steward.SourceGrant{Identity: g[0], Entitlement: g[1]}
		if days := m.grants[g]; days > 0 {
			sg.Type, sg.ExpiresAt = steward.GrantJIT, m.at(days)
		}
		out = append(out, steward.Record{Grant: sg})
	}
	m.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// DumpSystem renders what the store holds of a system, ids left out: its
// entitlements, and its identities with their owners, credentials and grants.
func DumpSystem(t *testing.T, s steward.Store, systemID int64) string {
	t.Helper()
	var b strings.Builder
	ents, err := s.Entitlements(ctx(), steward.EntitlementFilter{SystemID: systemID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	// Rows are listed in id order, which differs between two ways of
	// writing the same inventory: sort by key.
	slices.SortFunc(ents.Items, func(a, b steward.Entitlement) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range ents.Items {
		fmt.Fprintf(&b, "entitlement %s privileged=%v sensitivity=%s\n", e.Name, e.Privileged, e.Sensitivity)
	}
	ids, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: systemID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids.Items, func(a, b steward.IdentityView) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	for _, i := range ids.Items {
		fmt.Fprintf(&b, "identity %s %q %s %s/%s status=%s labels=%v owner=%v/%s team=%v created=%v last_used=%v oldest_credential=%v\n", i.ExternalID, i.Name, i.Kind,
			i.Environment, i.Criticality, i.Status, i.Labels, deref(i.OwnerID), i.OwnerSource, deref(i.TeamID), deref(i.CreatedAt), deref(i.LastUsedAt), deref(i.OldestCredentialAt))
		creds, err := s.Credentials(ctx(), i.ID)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(creds, func(a, b steward.Credential) int { return strings.Compare(a.ExternalID, b.ExternalID) })
		for _, c := range creds {
			fmt.Fprintf(&b, "  credential %s %s status=%s created=%v rotated=%v used=%v expires=%v\n", c.ExternalID, c.Kind, c.Status, deref(c.CreatedAt),
				deref(c.LastRotatedAt), deref(c.LastUsedAt), deref(c.ExpiresAt))
		}
		links, err := s.IdentityLinks(ctx(), i.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			to := "pending"
			if l.ToID != nil {
				to = l.ToName
			}
			fmt.Fprintf(&b, "  link %s %s -> %s\n", l.Kind, l.ToRef, to)
		}
		grants, err := s.Grants(ctx(), steward.GrantFilter{IdentityID: i.ID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
		if err != nil {
			t.Fatal(err)
		}
		var gs []string
		for _, g := range grants.Items {
			gs = append(gs, fmt.Sprintf("  grant %s %s granted=%v expires=%v via=%s", g.EntitlementName, g.Type, g.GrantedAt, deref(g.ExpiresAt), g.GrantedVia))
		}
		slices.Sort(gs)
		for _, g := range gs {
			b.WriteString(g + "\n")
		}
	}
	return b.String()
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// testSyncDigest checks that skipping what the last sync read changes
// nothing about the outcome: three systems are synced round after round
// from one changing source, one comparing every record (Full), one through
// a Skipper, one through a plain source (the store's own sums), and after
// every round all three must hold the same inventory and report the same
// counts. Broken rounds (a record twice, a grant to an identity gone) must
// fail on all three and change nothing; writes outside a sync (the API, a
// partial sync) must not be hidden by the digest.
func testSyncDigest(t *testing.T, s steward.Store, clock *Clock) {
	var owners []string
	for range 3 {
		owners = append(owners, MustPerson(t, s, nil).Email)
	}
	owners = append(owners, "")
	m := &digestModel{rng: rand.New(rand.NewPCG(7, 11)), t0: clock.Now(), ents: map[string]bool{}, ids: map[string]*steward.SourceIdentity{}, // #nosec G404 -- a test's reproducible random model
		grants: map[[2]string]int{}, owners: owners}
	for i := range 5 {
		m.ents[fmt.Sprint("role:base", i)] = i == 0
	}
	for range 25 {
		m.n++
		m.addIdentity(fmt.Sprint("id", m.n))
	}
	full, skip, plain := MustSystem(t, s, nil), MustSystem(t, s, nil), MustSystem(t, s, nil)
	type way struct {
		sys *steward.System
		src func([]steward.Record) steward.Source
		o   steward.SyncOptions
	}
	ways := []way{
		{full, func(r []steward.Record) steward.Source { return records(r...) }, steward.SyncOptions{Source: "t", Full: true}},
		{skip, func(r []steward.Record) steward.Source { return skipSource{recs: r} }, steward.SyncOptions{Source: "t"}},
		{plain, func(r []steward.Record) steward.Source { return records(r...) }, steward.SyncOptions{Source: "t"}},
	}
	var history []*digestModel
	for round := range 30 {
		next := m.clone()
		switch {
		case round%6 == 5 && len(history) > 2:
			// Back to a state of two rounds ago: lines return byte for byte
			// to what an earlier digest held.
			next = history[len(history)-3].clone()
			next.rng = m.rng
		case round > 0:
			next.mutate()
		}
		recs := next.records()
		broken := ""
		switch round % 7 {
		case 3: // a record listed twice, byte for byte
			recs = append(recs, recs[next.rng.IntN(len(recs))])
			broken = "twice"
		case 5: // a grant kept while its identity goes
			ext := next.pick(slices.Sorted(maps.Keys(next.ids)))
			for g := range next.grants {
				if g[0] == ext {
					delete(next.ids, ext)
					broken = "orphan"
					break
				}
			}
			recs = next.records()
		}
		var results []steward.SyncResult
		var dumps []string
		for _, w := range ways {
			before := DumpSystem(t, s, w.sys.ID)
			res, err := s.SyncSystem(ctx(), w.sys.ID, w.src(recs), w.o)
			if broken != "" {
				if steward.ErrorCode(err) != steward.EINVALID {
					t.Fatalf("round %d (%s), system %s: err = %v, want EINVALID", round, broken, w.sys.Name, err)
				}
				if after := DumpSystem(t, s, w.sys.ID); after != before {
					t.Fatalf("round %d: a failed sync changed the inventory of %s:\n%s\nwas\n%s", round, w.sys.Name, after, before)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d, system %s: %v", round, w.sys.Name, err)
			}
			results = append(results, *res)
			dumps = append(dumps, DumpSystem(t, s, w.sys.ID))
		}
		if broken != "" {
			continue
		}
		for i := 1; i < len(ways); i++ {
			if results[i] != results[0] {
				t.Fatalf("round %d: %s reported %+v; comparing everything reported %+v", round, ways[i].sys.Name, results[i], results[0])
			}
			if dumps[i] != dumps[0] {
				t.Fatalf("round %d: %s holds\n%s\ncomparing everything holds\n%s", round, ways[i].sys.Name, dumps[i], dumps[0])
			}
		}
		checkGaps(t, s, fmt.Sprint("round ", round))
		m = next
		history = append(history, m.clone())
		switch {
		case round%5 == 4: // written outside a sync: the next whole sync must see it
			writeByHand(t, s, m, (round/5)%5, round, func(yield func(*steward.System) bool) {
				for _, w := range ways {
					if !yield(w.sys) {
						return
					}
				}
			})
		case round%10 == 8: // a partial source renames one identity
			ext := m.pick(slices.Sorted(maps.Keys(m.ids)))
			i := *m.ids[ext]
			i.Name = "renamed by a partial source"
			for _, w := range ways {
				if _, err := s.SyncSystem(ctx(), w.sys.ID, records(steward.Record{Identity: &i}), steward.SyncOptions{Source: "t", Partial: true}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// testDigestAfterAPIWrites: a row created through the API does not cost the
// next sync its digest; that sync reads again only the records whose rows
// the API wrote, and compares those rows with them, as comparing every
// record would.
func testDigestAfterAPIWrites(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	// Made afresh for each sync: the store normalises what it reads in
	// place, and a record's sum is of what the source gives.
	snap := func() []steward.Record {
		var recs []steward.Record
		for i := range 20 {
			recs = append(recs, ident(fmt.Sprint("svc", i), nil), grant(fmt.Sprint("svc", i), "role:reader"))
		}
		return append(recs, ent("role:reader", false), ent("role:admin", true))
	}
	recs := snap()
	sync := func(step string) (*steward.SyncResult, int) {
		t.Helper()
		var skipped int
		res, err := s.SyncSystem(ctx(), sys.ID, skipSource{recs: snap(), skipped: &skipped}, steward.SyncOptions{Source: "t"})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return res, skipped
	}
	sync("first")
	if _, skipped := sync("again"); skipped != len(recs) {
		t.Fatalf("an unchanged source: %d of %d records skipped", skipped, len(recs))
	}
	admin := entitlementByName(t, s, sys.ID, "role:admin")
	svc3 := identityByExt(t, s, sys.ID, "svc3")
	// A grant the source does not list: every record is skipped, and the
	// grant goes, as a full comparison would have it.
	MustGrant(t, s, svc3.ID, admin.ID, nil)
	res, skipped := sync("after a grant by hand")
	if skipped != len(recs) || res.GrantsRemoved != 1 || res.Events == 0 {
		t.Fatalf("after a grant by hand: %d of %d skipped, %+v", skipped, len(recs), res)
	}
	if g, err := s.Grants(ctx(), steward.GrantFilter{IdentityID: svc3.ID, EntitlementID: admin.ID}); err != nil || len(g.Items) != 0 {
		t.Fatalf("the grant by hand is still there: %+v %v", g, err)
	}
	// A credential by hand: svc3's record, which lists its credentials, is
	// read again; the others are skipped.
	if err := s.CreateCredential(ctx(), &steward.Credential{IdentityID: svc3.ID, ExternalID: "by-hand", Kind: steward.CredPassword, CreatedAt: ptr(clock.Now())}); err != nil {
		t.Fatal(err)
	}
	res, skipped = sync("after a credential by hand")
	if skipped != len(recs)-1 || res.CredentialsChanged != 1 {
		t.Fatalf("after a credential by hand: %d of %d skipped, %+v", skipped, len(recs), res)
	}
	if c, err := s.Credentials(ctx(), svc3.ID); err != nil || len(c) != 0 {
		t.Fatalf("the credential by hand is still there: %+v %v", c, err)
	}
	// Nothing by hand since: the marks were read and are gone.
	if res, skipped := sync("once more"); skipped != len(recs) || res.Events != 0 {
		t.Fatalf("once more: %d of %d skipped, %+v", skipped, len(recs), res)
	}
	// A partial sync writes more than it could name: the next sync reads
	// every record.
	if _, err := s.SyncSystem(ctx(), sys.ID, records(ident("svc5", func(i *steward.SourceIdentity) { i.Name = "renamed" })), steward.SyncOptions{Source: "t", Partial: true}); err != nil {
		t.Fatal(err)
	}
	if res, skipped := sync("after a partial sync"); skipped != 0 || res.IdentitiesUpdated != 1 {
		t.Fatalf("after a partial sync: %d skipped, %+v", skipped, res)
	}
	if _, skipped := sync("and after that"); skipped != len(recs) {
		t.Fatalf("and after that: %d of %d skipped", skipped, len(recs))
	}
}

// writeByHand writes one row into each system through the API, as a person
// would between two syncs: kind 0 an identity the source does not list, 1
// one it may list later, 2 a credential of an identity it lists, 3 an
// entitlement, 4 a grant it does not list of ones it does.
func writeByHand(t *testing.T, s steward.Store, m *digestModel, kind, round int, systems iter.Seq[*steward.System]) {
	t.Helper()
	ids, ents := slices.Sorted(maps.Keys(m.ids)), slices.Sorted(maps.Keys(m.ents))
	ext, ent := m.pick(ids), m.pick(ents)
	for range 20 {
		if _, held := m.grants[[2]string{ext, ent}]; !held {
			break
		}
		ext, ent = m.pick(ids), m.pick(ents)
	}
	for sys := range systems {
		var err error
		switch kind {
		case 0, 1:
			i := &steward.Identity{SystemID: sys.ID, ExternalID: fmt.Sprint("manual", round), Name: "by hand",
				Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive}
			if kind == 1 {
				i.ExternalID = fmt.Sprint("id", m.n+1) // the model's next new identity, if it adds one
			}
			err = s.CreateIdentity(ctx(), i)
		case 2:
			err = s.CreateCredential(ctx(), &steward.Credential{IdentityID: identityByExt(t, s, sys.ID, ext).ID, ExternalID: "by-hand",
				Kind: steward.CredAccessKey, CreatedAt: ptr(m.t0)})
		case 3:
			err = s.CreateEntitlement(ctx(), &steward.Entitlement{SystemID: sys.ID, Name: fmt.Sprint("role:by-hand", round), Sensitivity: steward.LevelHigh})
		case 4:
			err = s.CreateGrant(ctx(), &steward.Grant{IdentityID: identityByExt(t, s, sys.ID, ext).ID, EntitlementID: entitlementByName(t, s, sys.ID, ent).ID,
				Type: steward.GrantStanding, GrantedVia: "by hand"})
		}
		if err != nil {
			t.Fatalf("round %d, written by hand (%d): %v", round, kind, err)
		}
	}
}

func entitlementByName(t *testing.T, s steward.Store, systemID int64, name string) *steward.Entitlement {
	t.Helper()
	page, err := s.Entitlements(ctx(), steward.EntitlementFilter{SystemID: systemID, Query: name, ListOptions: steward.ListOptions{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range page.Items {
		if page.Items[i].Name == name {
			return &page.Items[i]
		}
	}
	t.Fatalf("system %d has no entitlement %s", systemID, name)
	return nil
}

// testTagBeatsRuleAfterPeopleSync: an identity whose owner tag names nobody
// yet is owned by the rule that matches it; when a people sync brings the
// person the tag names, the tag wins at once, without waiting for the
// system's next sync (which skips the unchanged record). The same for a
// team tag and a team the people sync creates.
func testTagBeatsRuleAfterPeopleSync(t *testing.T, s steward.Store, _ *Clock) {
	fallback := MustPerson(t, s, nil)
	fallbackTeam := MustTeam(t, s, nil)
	sys := MustSystem(t, s, nil)
	if _, err := s.ApplyOwnershipRules(ctx(), []steward.OwnershipRule{{Name: "catch-all", Match: steward.RuleMatch{Systems: []string{sys.Name}},
		Owner: fallback.Email, Team: fallbackTeam.Name}}); err != nil {
		t.Fatal(err)
	}
	snap := records(ident("late-owned", func(i *steward.SourceIdentity) { i.Owner = "Late@Example.test"; i.Team = "late-team" }))
	if _, err := s.SyncSystem(ctx(), sys.ID, snap, steward.SyncOptions{Source: "t"}); err != nil {
		t.Fatal(err)
	}
	got := identityByExt(t, s, sys.ID, "late-owned")
	if got.OwnerID == nil || *got.OwnerID != fallback.ID || got.OwnerSource != steward.OwnerFromRule {
		t.Fatalf("before the person exists, the rule owns it: %+v", got.Identity)
	}
	if _, err := s.SyncPeople(ctx(), "ldap:late", people(steward.SourcePerson{ExternalID: "late", Name: "Late Comer", Email: "late@example.test", Team: "late-team"})); err != nil {
		t.Fatal(err)
	}
	got = identityByExt(t, s, sys.ID, "late-owned")
	if got.OwnerID == nil || *got.OwnerID == fallback.ID || got.OwnerSource != steward.OwnerFromTag || got.TeamID == nil || *got.TeamID == fallbackTeam.ID {
		t.Fatalf("after the people sync, the tags own it: %+v", got.Identity)
	}
	// The system's next sync skips the unchanged record; comparing every
	// record must agree that nothing is left to change.
	if res, err := s.SyncSystem(ctx(), sys.ID, snap, steward.SyncOptions{Source: "t"}); err != nil || res.Events != 0 {
		t.Fatalf("re-sync: %+v %v", res, err)
	}
	if res, err := s.SyncSystem(ctx(), sys.ID, snap, steward.SyncOptions{Source: "t", Full: true}); err != nil || res.Events != 0 {
		t.Fatalf("full re-sync found changes: %+v %v", res, err)
	}
	checkGaps(t, s, "testTagBeatsRuleAfterPeopleSync")
}

// testPersonCreatedLater: a person or team created through the API whom an
// owner or team tag names owns those identities at once, as a people sync
// would make them; the system's next syncs (which skip the unchanged
// records) then have nothing left to change.
func testPersonCreatedLater(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	snap := records(ident("waiting", func(i *steward.SourceIdentity) { i.Owner = "Later@Example.test"; i.Team = "later-team" }))
	for range 2 { // the second sync has a digest to skip with
		if _, err := s.SyncSystem(ctx(), sys.ID, snap, steward.SyncOptions{Source: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	later := MustPerson(t, s, func(p *steward.Person) { p.Email = "later@example.test" })
	team := MustTeam(t, s, func(x *steward.Team) { x.Name = "later-team" })
	got := identityByExt(t, s, sys.ID, "waiting")
	if got.OwnerID == nil || *got.OwnerID != later.ID || got.TeamID == nil || *got.TeamID != team.ID || got.OwnerSource != steward.OwnerFromTag {
		t.Fatalf("after the person and team were created: %+v", got.Identity)
	}
	for _, full := range []bool{false, true} {
		if res, err := s.SyncSystem(ctx(), sys.ID, snap, steward.SyncOptions{Source: "t", Full: full}); err != nil || res.Events != 0 {
			t.Fatalf("re-sync (full %v) found changes: %+v %v", full, res, err)
		}
	}
	checkGaps(t, s, "testPersonCreatedLater")
}
