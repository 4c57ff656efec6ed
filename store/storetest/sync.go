package storetest

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// records turns records into a source stream.
func records(rs ...steward.Record) steward.Source {
	return steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			for i, r := range rs {
				if r.Pos == "" {
					r.Pos = fmt.Sprintf("test:%d", i+1)
				}
				if !yield(r, nil) {
					return
				}
			}
		}
	})
}

// seqSource is a Source of a fixed stream.
func seqSource(seq iter.Seq2[steward.Record, error]) steward.Source {
	return steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] { return seq })
}

func ident(ext string, mod func(*steward.SourceIdentity)) steward.Record {
	i := &steward.SourceIdentity{ExternalID: ext, Kind: steward.KindServiceAccount}
	if mod != nil {
		mod(i)
	}
	return steward.Record{Identity: i}
}

func ent(name string, privileged bool) steward.Record {
	return steward.Record{Entitlement: &steward.SourceEntitlement{Name: name, Privileged: privileged}}
}

func grant(identity, entitlement string) steward.Record {
	return steward.Record{Grant: &steward.SourceGrant{Identity: identity, Entitlement: entitlement}}
}

// snapshot is a small system as a source reports it.
func snapshot(t0 time.Time) []steward.Record {
	rotated := t0.Add(-400 * 24 * time.Hour)
	return []steward.Record{
		ent("role:reader", false), ent("attr:SUPERUSER", true),
		ident("etl", func(i *steward.SourceIdentity) {
			i.Owner = "ada@example.test"
			i.Labels = map[string]string{"app": "etl"}
			i.Credentials = []steward.SourceCredential{{ExternalID: "password", Kind: steward.CredPassword, LastRotatedAt: &rotated}}
		}),
		ident("reporting", func(i *steward.SourceIdentity) { i.Labels = map[string]string{"team": "payments"} }),
		ident("legacy", nil),
		grant("etl", "role:reader"), grant("reporting", "role:reader"), grant("legacy", "attr:SUPERUSER"),
	}
}

func countActions(t *testing.T, s steward.Store, after int) map[string]int {
	t.Helper()
	out := map[string]int{}
	f := steward.EventFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	n := 0
	for {
		page, err := s.Events(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			n++
			if n > after {
				out[string(e.Action)]++
			}
		}
		if page.Next == "" {
			return out
		}
		f.After = page.Next
	}
}

func identityByExt(t *testing.T, s steward.Store, systemID int64, ext string) *steward.IdentityView {
	t.Helper()
	page, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: systemID, Query: ext, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range page.Items {
		if i.ExternalID == ext {
			return &i
		}
	}
	t.Fatalf("no identity %q in system %d", ext, systemID)
	return nil
}

func testSync(t *testing.T, s steward.Store, clock *Clock) {
	ada := MustPerson(t, s, func(p *steward.Person) { p.Email = "ada@example.test"; p.Name = "Ada" })
	sys := MustSystem(t, s, func(x *steward.System) { x.Kind = steward.SystemPostgres })
	before := eventCount(t, s)

	res, err := s.SyncSystem(ctx(), sys.ID, records(snapshot(clock.Now())...), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.IdentitiesCreated != 3 || res.GrantsCreated != 3 || res.EntitlementsChanged != 2 || res.CredentialsChanged != 1 || res.Records != 8 {
		t.Fatalf("first sync = %+v", res)
	}
	acts := countActions(t, s, before)
	if acts["system.synced"] != 1 || acts["identity.created"] != 0 {
		t.Fatalf("a first load writes one summary event (plus gap tasks); got %v", acts)
	}
	etl := identityByExt(t, s, sys.ID, "etl")
	if etl.OwnerID == nil || *etl.OwnerID != ada.ID || etl.OwnerSource != steward.OwnerFromTag || etl.Labels["app"] != "etl" {
		t.Fatalf("etl = %+v", etl)
	}
	creds, err := s.Credentials(ctx(), etl.ID)
	if err != nil || len(creds) != 1 || creds[0].ExternalID != "password" {
		t.Fatalf("credentials = %+v %v", creds, err)
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}

	// The same snapshot again changes nothing and writes no event.
	mid := eventCount(t, s)
	res, err = s.SyncSystem(ctx(), sys.ID, records(snapshot(clock.Now())...), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if n := eventCount(t, s); n != mid || res.Events != 0 {
		t.Fatalf("second identical sync wrote %d events, result %+v", n-mid, res)
	}

	// Only usage changed: last_used_at moves, no event.
	used := clock.Now().Add(-time.Hour)
	snap := snapshot(clock.Now())
	snap[2].Identity.LastUsedAt = &used
	if _, err := s.SyncSystem(ctx(), sys.ID, records(snap...), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if n := eventCount(t, s); n != mid {
		t.Fatalf("a usage-only sync wrote %d events", n-mid)
	}
	if got := identityByExt(t, s, sys.ID, "etl"); got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("last used not refreshed: %v", got.LastUsedAt)
	}

	// Changes: a rename, a rotation, an identity gone, a new privileged grant,
	// a grant gone.
	clock.Advance(time.Hour)
	snap = snapshot(clock.Now())
	rotatedNow := clock.Now()
	snap[2].Identity.Name = "etl-loader"
	snap[2].Identity.Credentials[0].LastRotatedAt = &rotatedNow
	snap = append(snap[:4], snap[5:]...)                      // drop "legacy"
	snap = snap[:len(snap)-1]                                 // drop legacy's grant
	snap = append(snap, grant("reporting", "attr:SUPERUSER")) // new privileged grant
	snap = append(snap[:4], snap[5:]...)                      // drop etl → role:reader
	mid = eventCount(t, s)
	res, err = s.SyncSystem(ctx(), sys.ID, records(snap...), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.IdentitiesUpdated != 1 || res.IdentitiesRemoved != 1 || res.CredentialsRotated != 1 || res.GrantsCreated != 1 || res.GrantsRemoved != 2 {
		t.Fatalf("change sync = %+v", res)
	}
	acts = countActions(t, s, mid)
	for _, a := range []string{"identity.updated", "identity.removed", "credential.rotated", "grant.created", "grant.removed", "system.synced"} {
		if acts[a] == 0 {
			t.Errorf("no %s event; got %v", a, acts)
		}
	}
	legacy := identityByExt(t, s, sys.ID, "legacy")
	if legacy.Status != steward.IdentityRemoved || legacy.RemovedAt == nil {
		t.Fatalf("legacy = %+v", legacy)
	}
	page, err := s.Grants(ctx(), steward.GrantFilter{IdentityID: identityByExt(t, s, sys.ID, "reporting").ID})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("reporting grants = %+v %v", page, err)
	}
	// A changed owner tag moves a resolved owner, and never an explicit one.
	grace := MustPerson(t, s, func(p *steward.Person) { p.ExternalID = "grace"; p.Email = "grace@example.test" })
	reporting := identityByExt(t, s, sys.ID, "reporting")
	if _, err := s.SetOwner(ctx(), reporting.ID, steward.OwnerAssignment{OwnerID: &ada.ID}); err != nil {
		t.Fatal(err)
	}
	snap = snapshot(clock.Now())
	snap[2].Identity.Owner = "grace"
	snap[3].Identity.Owner = "grace"
	mid = eventCount(t, s)
	res, err = s.SyncSystem(ctx(), sys.ID, records(snap...), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := identityByExt(t, s, sys.ID, "etl"); got.OwnerID == nil || *got.OwnerID != grace.ID || got.OwnerSource != steward.OwnerFromTag {
		t.Fatalf("etl after its owner tag changed: %+v", got)
	}
	if got := identityByExt(t, s, sys.ID, "reporting"); got.OwnerID == nil || *got.OwnerID != ada.ID || got.OwnerSource != steward.OwnerExplicit {
		t.Fatalf("an explicit owner moved with the tag: %+v", got)
	}
	if acts := countActions(t, s, mid); acts["identity.owner_changed"] != 1 || res.OwnersChanged != 1 {
		t.Fatalf("owner changes: %v, result %+v", acts, res)
	}
	// A removed identity that comes back is restored.
	res, err = s.SyncSystem(ctx(), sys.ID, records(snapshot(clock.Now())...), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := identityByExt(t, s, sys.ID, "legacy"); got.Status != steward.IdentityActive || got.RemovedAt != nil {
		t.Fatalf("legacy after it came back = %+v", got)
	}
	if res.IdentitiesCreated+res.IdentitiesUpdated == 0 {
		t.Fatalf("the identity that came back is not counted: %+v", res)
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "testSync")
}

func testSyncBadRecords(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	if _, err := s.SyncSystem(ctx(), sys.ID, records(snapshot(clock.Now())...), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	before := eventCount(t, s)
	stream := func(yield func(steward.Record, error) bool) {
		good := snapshot(clock.Now())
		for i, r := range good {
			r.Pos = fmt.Sprintf("f.jsonl:%d", i+1)
			if !yield(r, nil) {
				return
			}
		}
		if !yield(steward.Record{}, steward.Errorf(steward.EINVALID, "f.jsonl:9: not JSON")) {
			return
		}
		bad := []steward.Record{
			{Pos: "f.jsonl:10", Identity: &steward.SourceIdentity{ExternalID: "x", Kind: "robot"}},
			{Pos: "f.jsonl:11", Identity: &steward.SourceIdentity{ExternalID: "etl", Kind: steward.KindAPIKey}},
			{Pos: "f.jsonl:12", Grant: &steward.SourceGrant{Identity: "ghost", Entitlement: "role:reader"}},
			{Pos: "f.jsonl:13", Grant: &steward.SourceGrant{Identity: "etl", Entitlement: "role:nope"}},
			{Pos: "f.jsonl:14"},
			{Pos: "f.jsonl:15", Identity: &steward.SourceIdentity{ExternalID: "brand-new", Kind: steward.KindBot}},
		}
		for _, r := range bad {
			if !yield(r, nil) {
				return
			}
		}
	}
	_, err := s.SyncSystem(ctx(), sys.ID, seqSource(stream), steward.SyncOptions{Source: "test"})
	wantCode(t, err, steward.EINVALID)
	msg := steward.ErrorMessage(err)
	for _, want := range []string{"f.jsonl:9", "f.jsonl:10", "f.jsonl:11", "f.jsonl:12", "f.jsonl:13", "f.jsonl:14", "nothing was changed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s:\n%s", want, msg)
		}
	}
	if eventCount(t, s) != before {
		t.Fatal("a refused sync wrote events")
	}
	page, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: sys.ID, Query: "brand-new"})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("a refused sync created %+v", page.Items)
	}
	// A fatal stream error is returned as is and changes nothing.
	fatal := func(yield func(steward.Record, error) bool) {
		yield(ident("late", nil), nil)
		yield(steward.Record{}, fmt.Errorf("connection reset"))
	}
	if _, err := s.SyncSystem(ctx(), sys.ID, seqSource(fatal), steward.SyncOptions{}); err == nil || steward.ErrorCode(err) != steward.EINTERNAL {
		t.Fatalf("fatal stream error: %v", err)
	}
	_, err = s.SyncSystem(ctx(), 424242, records(), steward.SyncOptions{})
	wantCode(t, err, steward.ENOTFOUND)
}

func testSyncPartial(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	if _, err := s.SyncSystem(ctx(), sys.ID, records(snapshot(clock.Now())...), steward.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := s.SyncSystem(ctx(), sys.ID, records(ident("extra", nil), grant("extra", "role:reader")), steward.SyncOptions{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.IdentitiesCreated != 1 || res.IdentitiesRemoved != 0 || res.GrantsRemoved != 0 || res.GrantsCreated != 1 {
		t.Fatalf("partial sync = %+v", res)
	}
}

func testOwnershipRules(t *testing.T, s steward.Store, clock *Clock) {
	lead := MustPerson(t, s, func(p *steward.Person) { p.ExternalID = "lead"; p.Email = "lead@example.test" })
	payments := MustTeam(t, s, func(x *steward.Team) { x.Name = "payments"; x.ManagerID = &lead.ID })
	MustPerson(t, s, func(p *steward.Person) { p.TeamID = &payments.ID })
	sys := MustSystem(t, s, func(x *steward.System) { x.Name = "k8s-prod"; x.Kind = steward.SystemKubernetes })
	recs := []steward.Record{
		ident("system:serviceaccount:payments:api", func(i *steward.SourceIdentity) { i.Labels = map[string]string{"namespace": "payments"} }),
		ident("system:serviceaccount:ml:trainer", func(i *steward.SourceIdentity) {
			i.Labels = map[string]string{"namespace": "ml", "annotation:owner": "lead@example.test"}
		}),
		ident("system:serviceaccount:kube-system:dns", nil),
	}
	if _, err := s.SyncSystem(ctx(), sys.ID, records(recs...), steward.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if page, err := s.Gaps(ctx(), steward.GapFilter{Gap: steward.GapUnowned}); err != nil || len(page.Items) != 3 {
		t.Fatalf("unowned gaps before rules: %+v %v", page, err)
	}
	rules := []steward.OwnershipRule{
		{Name: "payments-ns", Match: steward.RuleMatch{Systems: []string{"k8s-*"}, Namespaces: []string{"payments"}}, Team: "payments", Owner: "lead"},
		{Name: "annotated", Match: steward.RuleMatch{Annotations: map[string]string{"owner": "*@example.test"}}, Owner: "lead@example.test"},
	}
	res, err := s.ApplyOwnershipRules(ctx(), rules)
	if err != nil {
		t.Fatal(err)
	}
	if res.OwnersChanged != 2 || res.GapsClosed != 2 {
		t.Fatalf("apply rules = %+v", res)
	}
	api := identityByExt(t, s, sys.ID, "system:serviceaccount:payments:api")
	if api.OwnerID == nil || *api.OwnerID != lead.ID || api.TeamID == nil || *api.TeamID != payments.ID || api.OwnerSource != steward.OwnerFromRule {
		t.Fatalf("api = %+v", api)
	}
	got, err := s.OwnershipRules(ctx())
	if err != nil || len(got) != 2 || got[0].Name != "payments-ns" {
		t.Fatalf("rules = %+v %v", got, err)
	}
	before := eventCount(t, s)
	if _, err := s.ApplyOwnershipRules(ctx(), rules); err != nil {
		t.Fatal(err)
	}
	if eventCount(t, s) != before {
		t.Fatal("applying the same rules again wrote events")
	}
	// An explicit owner wins over rules and survives a re-apply.
	other := MustPerson(t, s, nil)
	if _, err := s.SetOwner(ctx(), api.ID, steward.OwnerAssignment{OwnerID: &other.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyOwnershipRules(ctx(), rules[:1]); err != nil {
		t.Fatal(err)
	}
	if got := identityByExt(t, s, sys.ID, "system:serviceaccount:payments:api"); got.OwnerID == nil || *got.OwnerID != other.ID || got.OwnerSource != steward.OwnerExplicit {
		t.Fatalf("explicit owner overridden: %+v", got)
	}
	_, err = s.ApplyOwnershipRules(ctx(), []steward.OwnershipRule{{Name: "all", Team: "payments"}})
	wantCode(t, err, steward.EINVALID)
	checkGaps(t, s, "testOwnershipRules")
}

func testGaps(t *testing.T, s steward.Store, clock *Clock) {
	boss := MustPerson(t, s, func(p *steward.Person) { p.Name = "Boss" })
	team := MustTeam(t, s, func(x *steward.Team) { x.ManagerID = &boss.ID })
	MustPerson(t, s, func(p *steward.Person) { p.TeamID = &team.ID })
	sys := MustSystem(t, s, nil)
	i := MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.TeamID = &team.ID })
	page, err := s.Gaps(ctx(), steward.GapFilter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("gaps = %+v %v", page, err)
	}
	g := page.Items[0]
	if g.Gap != steward.GapUnowned || g.IdentityID != i.ID || !g.DueAt.Equal(clock.Now().Add(steward.GapDue[steward.GapUnowned])) ||
		g.SuggestedOwnerID == nil || *g.SuggestedOwnerID != boss.ID || g.SuggestedOwner != "Boss" || g.TeamName != team.Name {
		t.Fatalf("gap = %+v", g)
	}
	ids, err := s.Identities(ctx(), steward.IdentityFilter{Gap: steward.GapUnowned})
	if err != nil || len(ids.Items) != 1 || ids.Items[0].ID != i.ID {
		t.Fatalf("identities gap=unowned: %+v %v", ids, err)
	}
	// A search and a gap filter together (short and long queries take
	// different paths on SQLite).
	for q, want := range map[string]int{i.Name: 1, i.Name[:2]: 1, "no-such-name": 0} {
		ids, err := s.Identities(ctx(), steward.IdentityFilter{Gap: steward.GapUnowned, Query: q})
		if err != nil || len(ids.Items) != want {
			t.Fatalf("identities gap=unowned q=%q: %+v %v", q, ids, err)
		}
	}
	// Assigning the suggested owner closes the gap.
	if _, err := s.SetOwner(ctx(), i.ID, steward.OwnerAssignment{OwnerID: g.SuggestedOwnerID, TeamID: &team.ID}); err != nil {
		t.Fatal(err)
	}
	if page, _ := s.Gaps(ctx(), steward.GapFilter{}); len(page.Items) != 0 {
		t.Fatalf("gap still open after assignment: %+v", page.Items)
	}
	_, err = s.SetOwner(ctx(), i.ID, steward.OwnerAssignment{OwnerID: ptr(int64(99999))})
	wantCode(t, err, steward.ENOTFOUND)
	_, err = s.SetOwner(ctx(), 99999, steward.OwnerAssignment{})
	wantCode(t, err, steward.ENOTFOUND)
	_, err = s.Gaps(ctx(), steward.GapFilter{Gap: "lonely"})
	wantCode(t, err, steward.EINVALID)

	// Attestation: only the owner.
	_, err = s.Attest(ctx(), i.ID, steward.Attestation{PersonID: 99999})
	wantCode(t, err, steward.EINVALID)
	v, err := s.Attest(ctx(), i.ID, steward.Attestation{PersonID: boss.ID, Note: "still used by billing"})
	if err != nil || v.AttestedAt == nil || *v.AttestedBy != boss.ID {
		t.Fatalf("attest = %+v %v", v, err)
	}
	// A full refresh finds nothing new to do.
	res, err := s.RefreshGaps(ctx())
	if err != nil || res.GapsOpened != 0 || res.GapsClosed != 0 {
		t.Fatalf("refresh = %+v %v", res, err)
	}
	checkGaps(t, s, "testGaps")
}

func people(ps ...steward.SourcePerson) iter.Seq2[steward.SourcePerson, error] {
	return func(yield func(steward.SourcePerson, error) bool) {
		for _, p := range ps {
			if !yield(p, nil) {
				return
			}
		}
	}
}

// testSyncPeople checks the promise: a person set to departed in the
// people source turns every identity they own into an "owner departed" gap
// after the next sync.
func testSyncPeople(t *testing.T, s steward.Store, clock *Clock) {
	staff := []steward.SourcePerson{
		{ExternalID: "grace", Name: "Grace Hopper", Email: "grace@example.test", Team: "platform"},
		{ExternalID: "alan", Name: "Alan Turing", Email: "alan@example.test", Team: "platform", Manager: "grace"},
		{ExternalID: "edsger", Name: "Edsger Dijkstra", Team: "research", Manager: "grace"},
	}
	res, err := s.SyncPeople(ctx(), "ldap:test", people(staff...))
	if err != nil {
		t.Fatal(err)
	}
	if res.PeopleCreated != 3 {
		t.Fatalf("people sync = %+v", res)
	}
	list, err := s.People(ctx(), steward.PersonFilter{Query: "alan"})
	if err != nil || len(list.Items) != 1 || list.Items[0].ManagerID == nil || list.Items[0].TeamID == nil {
		t.Fatalf("alan = %+v %v", list, err)
	}
	alan := list.Items[0]
	sys := MustSystem(t, s, nil)
	if _, err := s.SyncSystem(ctx(), sys.ID, records(
		ident("a", func(i *steward.SourceIdentity) { i.Owner = "alan" }),
		ident("b", func(i *steward.SourceIdentity) { i.Owner = "alan@example.test" }),
	), steward.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	before := eventCount(t, s)
	if _, err := s.SyncPeople(ctx(), "ldap:test", people(staff...)); err != nil {
		t.Fatal(err)
	}
	if eventCount(t, s) != before {
		t.Fatal("the same people again wrote events")
	}
	staff[1].Status = steward.PersonDeparted
	res, err = s.SyncPeople(ctx(), "ldap:test", people(staff...))
	if err != nil {
		t.Fatal(err)
	}
	if res.PeopleDeparted != 1 || res.GapsOpened != 2 {
		t.Fatalf("departure sync = %+v", res)
	}
	gaps, err := s.Gaps(ctx(), steward.GapFilter{Gap: steward.GapOwnerDeparted})
	if err != nil || len(gaps.Items) != 2 || gaps.Items[0].OwnerID == nil || *gaps.Items[0].OwnerID != alan.ID {
		t.Fatalf("owner departed gaps = %+v %v", gaps, err)
	}
	if gaps.Items[0].SuggestedOwner != "Grace Hopper" {
		t.Fatalf("suggested owner = %q, want the departed owner's manager", gaps.Items[0].SuggestedOwner)
	}
	// Missing from the source: departed too; the research team is then
	// without active members.
	res, err = s.SyncPeople(ctx(), "ldap:test", people(staff[0], staff[1]))
	if err != nil || res.PeopleDeparted != 1 {
		t.Fatalf("sync without edsger = %+v %v", res, err)
	}
	p, err := s.People(ctx(), steward.PersonFilter{Query: "edsger"})
	if err != nil || p.Items[0].Status != steward.PersonDeparted || p.Items[0].DepartedAt == nil {
		t.Fatalf("edsger = %+v %v", p.Items, err)
	}
	// Bad people: all reported, nothing changed.
	before = eventCount(t, s)
	_, err = s.SyncPeople(ctx(), "ldap:test", people(steward.SourcePerson{ExternalID: "x", Name: ""}, staff[0], staff[0]))
	wantCode(t, err, steward.EINVALID)
	if !strings.Contains(steward.ErrorMessage(err), "more than once") || eventCount(t, s) != before {
		t.Fatalf("bad people: %v", err)
	}
	_, err = s.SyncPeople(ctx(), "", people())
	wantCode(t, err, steward.EINVALID)
	// Each source's last committed run, per system: the people syncs (no
	// system) and the system sync, at the store's clock.
	clock.Advance(time.Minute)
	if _, err := s.SyncSystem(ctx(), sys.ID, records(ident("a", nil)), steward.SyncOptions{Source: "import:jsonl"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.InventoryStats(ctx())
	if err != nil {
		t.Fatal(err)
	}
	fresh := map[string]steward.SyncFreshness{}
	for _, f := range st.Syncs {
		fresh[f.Source+"/"+f.System] = f
	}
	if f, ok := fresh["ldap:test/"]; !ok || f.FinishedAt == nil || !f.FinishedAt.Equal(clock.Now().Add(-time.Minute)) {
		t.Fatalf("people sync freshness: %+v in %+v", f, st.Syncs)
	}
	if f, ok := fresh["import:jsonl/"+sys.Name]; !ok || f.FinishedAt == nil || !f.FinishedAt.Equal(clock.Now()) || f.FailedAt != nil {
		t.Fatalf("system sync freshness: %+v in %+v", f, st.Syncs)
	}
	// The bad people sync above failed: recorded, with what it said.
	if f := fresh["ldap:test/"]; f.FailedAt == nil || !f.FailedAt.Equal(clock.Now().Add(-time.Minute)) || !strings.Contains(f.Error, "more than once") {
		t.Fatalf("people sync failure: %+v", f)
	}
	// A source that never succeeded has a failure and no success; a later
	// success keeps the failure, older.
	other := MustSystem(t, s, nil)
	twice := records(ident("x", nil), ident("x", nil))
	if _, err := s.SyncSystem(ctx(), other.ID, twice, steward.SyncOptions{Source: "connector:broken"}); steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("a key twice: %v", err)
	}
	failedAt := clock.Now()
	clock.Advance(time.Minute)
	st, err = s.InventoryStats(ctx())
	if err != nil {
		t.Fatal(err)
	}
	find := func(source, system string) steward.SyncFreshness {
		for _, f := range st.Syncs {
			if f.Source == source && f.System == system {
				return f
			}
		}
		t.Fatalf("no freshness of %s into %q in %+v", source, system, st.Syncs)
		return steward.SyncFreshness{}
	}
	if f := find("connector:broken", other.Name); f.FinishedAt != nil || f.FailedAt == nil || !f.FailedAt.Equal(failedAt) || !strings.Contains(f.Error, "identity x is listed more than once") {
		t.Fatalf("a source that never succeeded: %+v", f)
	}
	if _, err := s.SyncSystem(ctx(), other.ID, records(ident("x", nil)), steward.SyncOptions{Source: "connector:broken"}); err != nil {
		t.Fatal(err)
	}
	if st, err = s.InventoryStats(ctx()); err != nil {
		t.Fatal(err)
	}
	if f := find("connector:broken", other.Name); f.FinishedAt == nil || !f.FinishedAt.Equal(clock.Now()) || f.FailedAt == nil || !f.FailedAt.Equal(failedAt) {
		t.Fatalf("after a success: %+v", f)
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "testSyncPeople")
}

// testOwnersInBulk resolves more owners at once than the store updates one
// by one, through the path a first load of a large system takes.
func testOwnersInBulk(t *testing.T, s steward.Store, _ *Clock) {
	MustTeam(t, s, func(x *steward.Team) { x.Name = "bulk-owners" })
	lead := MustPerson(t, s, func(p *steward.Person) { p.ExternalID = "bulk-lead" })
	sys := MustSystem(t, s, nil)
	var recs []steward.Record
	for i := 0; i < 12500; i++ { // more than one chunk of owner resolution
		i := i
		recs = append(recs, ident(fmt.Sprintf("bulk-%d", i), func(si *steward.SourceIdentity) {
			if i%3 == 0 {
				si.Owner = "bulk-lead"
			}
		}))
	}
	res, err := s.SyncSystem(ctx(), sys.ID, records(recs...), steward.SyncOptions{})
	if err != nil || res.OwnersChanged != 4167 {
		t.Fatalf("first load: %+v %v", res, err)
	}
	res, err = s.ApplyOwnershipRules(ctx(), []steward.OwnershipRule{{Name: "all", Match: steward.RuleMatch{Names: []string{"bulk-*"}}, Team: "bulk-owners"}})
	if err != nil || res.OwnersChanged != 12500 {
		t.Fatalf("rules: %+v %v", res, err)
	}
	page, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit, After: steward.Cursor(11000)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range page.Items {
		if i.TeamName != "bulk-owners" || (i.OwnerID != nil && *i.OwnerID != lead.ID) {
			t.Fatalf("identity %s: team %q owner %v", i.ExternalID, i.TeamName, i.OwnerID)
		}
	}
	st, err := s.InventoryStats(ctx())
	if err != nil || st.Gaps[steward.GapUnowned] != 8333 {
		t.Fatalf("unowned gaps = %v, %v; want the 8333 without an owner tag", st.Gaps, err)
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "testOwnersInBulk")
}
