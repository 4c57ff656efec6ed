package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// AllPages follows a list's cursor to its end and returns every item.
func AllPages[T any](t *testing.T, list func(o steward.ListOptions) (*steward.Page[T], error), limit int) []T {
	t.Helper()
	var out []T
	for after := ""; ; {
		page, err := list(steward.ListOptions{After: after, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if after = page.Next; after == "" {
			return out
		}
	}
}

// wantGaps derives, with the domain's own gap conditions
// (steward.OwnershipGaps) over what the store lists, which identities have
// which ownership gap: the oracle the store's set-based SQL (its gap tasks,
// gap filter and counts) must agree with.
// It also returns each identity's team (-1 for none).
func wantGaps(t *testing.T, s steward.Store) (map[steward.GapKind][]int64, map[int64]int64) {
	t.Helper()
	persons := AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.Person], error) {
		return s.People(ctx(), steward.PersonFilter{ListOptions: o})
	}, steward.MaxLimit)
	status, activeMembers := map[int64]steward.PersonStatus{}, map[int64]int{}
	for _, p := range persons {
		status[p.ID] = p.Status
		if p.Status == steward.PersonActive && p.TeamID != nil {
			activeMembers[*p.TeamID]++
		}
	}
	want, teamOf := map[steward.GapKind][]int64{}, map[int64]int64{}
	identities := AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.IdentityView], error) {
		return s.Identities(ctx(), steward.IdentityFilter{ListOptions: o})
	}, steward.MaxLimit)
	for _, x := range identities {
		teamOf[x.ID] = -1
		f := steward.GapFacts{Kind: x.Kind, Status: x.Status, OwnerID: x.OwnerID, TeamID: x.TeamID}
		if x.TeamID != nil {
			teamOf[x.ID] = *x.TeamID
			f.TeamActiveMembers = activeMembers[*x.TeamID]
		}
		if x.OwnerID != nil {
			f.OwnerStatus = status[*x.OwnerID]
		}
		for _, g := range steward.OwnershipGaps(&f).Gaps {
			want[g.Gap] = append(want[g.Gap], x.ID)
		}
	}
	return want, teamOf
}

// CheckGaps is checkGaps, for a store's own tests.
func CheckGaps(t *testing.T, s steward.Store, step string) { t.Helper(); checkGaps(t, s, step) }

// checkGaps requires the three views of ownership gaps to match the
// inventory after any write: the open gap tasks (Gaps), the inventory's gap
// filter and the counts of InventoryStats (which /metrics and the Ownership
// page show). step names the write, for the failure message.
func checkGaps(t *testing.T, s steward.Store, step string) {
	t.Helper()
	want, teamOf := wantGaps(t, s)
	st, err := s.InventoryStats(ctx())
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range steward.GapKinds {
		w := want[kind]
		if got := st.Gaps[kind]; got != int64(len(w)) {
			t.Errorf("after %s: InventoryStats counts %d %s gaps, the inventory has %d", step, got, kind, len(w))
		}
		filtered := ids(AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.IdentityView], error) {
			return s.Identities(ctx(), steward.IdentityFilter{Gap: kind, ListOptions: o})
		}, steward.MaxLimit), func(x steward.IdentityView) int64 { return x.ID })
		tasks := ids(AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.GapView], error) {
			return s.Gaps(ctx(), steward.GapFilter{Gap: kind, ListOptions: o})
		}, steward.MaxLimit), func(g steward.GapView) int64 { return g.IdentityID })
		slices.Sort(tasks)
		if !slices.Equal(filtered, w) || !slices.Equal(tasks, w) {
			t.Errorf("after %s: %s gaps: inventory %v, gap filter %v, open tasks %v", step, kind, w, filtered, tasks)
		}
	}
	// The Ownership page lists gaps by team: each team's list (and the
	// list of identities without a team) holds its identities' gaps.
	byTeam := map[int64][]string{}
	for _, kind := range steward.GapKinds {
		for _, id := range want[kind] {
			byTeam[teamOf[id]] = append(byTeam[teamOf[id]], fmt.Sprint(kind, ":", id))
		}
	}
	teams := map[int64]bool{-1: true}
	for _, team := range teamOf {
		teams[team] = true
	}
	for team := range teams {
		var got []string
		for _, g := range AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.GapView], error) {
			return s.Gaps(ctx(), steward.GapFilter{TeamID: team, ListOptions: o})
		}, 7) {
			got = append(got, fmt.Sprint(g.Gap, ":", g.IdentityID))
			if (g.TeamID == nil && team != -1) || (g.TeamID != nil && *g.TeamID != team) {
				t.Fatalf("after %s: the gap list of team %d shows %s:%d of team %v", step, team, g.Gap, g.IdentityID, deref(g.TeamID))
			}
		}
		slices.Sort(got)
		w := byTeam[team]
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("after %s: gaps of team %d: %d listed, the inventory has %d; listed only: %v; missing: %v",
				step, team, len(got), len(w), firstFew(without(got, w)), firstFew(without(w, got)))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The credential age on each identity is kept by the same writes.
	checkCredentialAges(t, s, step)
}

// testGapsFollowEveryWrite makes gaps open and heal through every kind of
// write the store has, and after each requires the gap tasks, the gap
// filter and the counts to agree with the inventory.
func testGapsFollowEveryWrite(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	empty := MustTeam(t, s, nil)
	lone := MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.TeamID = &empty.ID })
	checkGaps(t, s, "an identity of a team without people")

	// A person joining the team heals its team_inactive gap.
	joiner := MustPerson(t, s, func(p *steward.Person) { p.TeamID = &empty.ID })
	checkGaps(t, s, "a person created in that team")
	MustPerson(t, s, func(p *steward.Person) {
		p.TeamID = &empty.ID
		p.Status = steward.PersonDeparted
		p.DepartedAt = ptr(clock.Now())
	})
	checkGaps(t, s, "a departed person created in that team")

	if _, err := s.SetOwner(ctx(), lone.ID, steward.OwnerAssignment{OwnerID: &joiner.ID, TeamID: &empty.ID}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "an owner set")
	// Unowned again, and moved to another team: the open gap moves with it.
	other := MustTeam(t, s, nil)
	if _, err := s.SetOwner(ctx(), lone.ID, steward.OwnerAssignment{TeamID: &empty.ID}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "the owner taken away")
	if _, err := s.SetOwner(ctx(), lone.ID, steward.OwnerAssignment{TeamID: &other.ID}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "the team changed")

	// A bulk load opens the gaps of what it loads, and heals those its
	// people fill.
	now := clock.Now()
	base := int64(5000)
	quiet, busy, mgr, gone := base+1, base+2, base+1, base+2
	b := &steward.Bulk{
		Source: "storetest gaps",
		Teams: []steward.Team{
			{ID: quiet, Name: "bulk-quiet", CreatedAt: now},
			{ID: busy, Name: "bulk-busy", CreatedAt: now},
		},
		People: []steward.Person{
			{ID: mgr, ExternalID: "bulk-mgr", Name: "Bulk Manager", TeamID: &busy, Status: steward.PersonActive, CreatedAt: now},
			{ID: gone, ExternalID: "bulk-gone", Name: "Bulk Gone", TeamID: &busy, Status: steward.PersonDeparted, DepartedAt: &now, CreatedAt: now},
		},
		Systems: []steward.System{{ID: base + 1, Name: "bulk-gaps", Kind: steward.SystemVault, CreatedAt: now}},
	}
	for i, mod := range []func(x *steward.Identity){
		func(x *steward.Identity) {},                                                        // unowned
		func(x *steward.Identity) { x.OwnerID, x.TeamID = &mgr, &busy },                     // fine
		func(x *steward.Identity) { x.OwnerID, x.TeamID = &gone, &busy },                    // owner departed
		func(x *steward.Identity) { x.OwnerID, x.TeamID = &mgr, &quiet },                    // team inactive
		func(x *steward.Identity) { x.TeamID = &quiet },                                     // both
		func(x *steward.Identity) { x.Kind = steward.KindHuman },                            // a person's login
		func(x *steward.Identity) { x.Status = steward.IdentityRemoved; x.OwnerID = &gone }, // gone from its system
	} {
		x := steward.Identity{ID: base + 1 + int64(i), SystemID: base + 1, ExternalID: fmt.Sprintf("bulk-%d", i), Name: fmt.Sprintf("bulk-%d", i),
			Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive, CreatedAt: &now}
		mod(&x)
		b.Identities = append(b.Identities, x)
	}
	if err := s.BulkLoad(ctx(), b); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a bulk load")
	if err := s.BulkLoad(ctx(), &steward.Bulk{Source: "storetest gaps", People: []steward.Person{
		{ID: base + 10, ExternalID: "bulk-late", Name: "Bulk Late", TeamID: &quiet, Status: steward.PersonActive, CreatedAt: now},
	}}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a bulk load of a person into the inactive team")

	// Syncs: people first, so that owner tags resolve.
	staff := []steward.SourcePerson{
		{ExternalID: "gap-ada", Name: "Ada", Email: "ada@example.test", Team: "gap-core"},
		{ExternalID: "gap-bob", Name: "Bob", Team: "gap-edge"},
	}
	if _, err := s.SyncPeople(ctx(), "ldap:gaps", people(staff...)); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a people sync")
	synced := MustSystem(t, s, nil)
	src := records(
		ident("s1", func(i *steward.SourceIdentity) { i.Owner = "ada@example.test" }),
		ident("s2", func(i *steward.SourceIdentity) { i.Owner = "gap-bob" }),
		ident("s3", nil),
		ident("s4", func(i *steward.SourceIdentity) { i.Labels = map[string]string{"team": "edge"} }),
	)
	if _, err := s.SyncSystem(ctx(), synced.ID, src, steward.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a system sync")
	if _, err := s.ApplyOwnershipRules(ctx(), []steward.OwnershipRule{{
		Name: "edge", Match: steward.RuleMatch{Labels: map[string]string{"team": "edge"}}, Owner: "gap-bob",
	}}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "ownership rules applied")
	staff[1].Status = steward.PersonDeparted
	if _, err := s.SyncPeople(ctx(), "ldap:gaps", people(staff...)); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a departure")
	if _, err := s.SyncPeople(ctx(), "ldap:gaps", people(staff[1])); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a person gone from the source")
	if _, err := s.SyncSystem(ctx(), synced.ID, records(ident("s1", nil), ident("s3", func(i *steward.SourceIdentity) { i.Owner = "gap-ada" })), steward.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "a re-sync that drops identities and changes owners")
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
}

// without returns the items of a that b lacks.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// firstFew keeps a failure message short.
func firstFew(xs []string) []string { return xs[:min(len(xs), 5)] }

// testSyncRuns: every run is recorded, a failed one with its error and no
// result; the list is newest first, filters combine and pages follow.
func testSyncRuns(t *testing.T, s steward.Store, clock *Clock) {
	a, b := MustSystem(t, s, nil), MustSystem(t, s, nil)
	run := func(sys *steward.System, source string, recs ...steward.Record) {
		t.Helper()
		clock.Advance(time.Minute)
		_, _ = s.SyncSystem(ctx(), sys.ID, records(recs...), steward.SyncOptions{Source: source})
	}
	run(a, "import:jsonl", ident("a1", nil))
	run(a, "import:jsonl", ident("a1", nil), ident("a1", nil)) // fails: listed twice
	run(b, "connector:pg", ident("b1", nil), ident("b2", nil))
	if _, err := s.SyncPeople(ctx(), "ldap:corp", people(steward.SourcePerson{ExternalID: "p1", Name: "P One"})); err != nil {
		t.Fatal(err)
	}
	list := func(f steward.SyncRunFilter) []steward.SyncRun {
		t.Helper()
		return AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.SyncRun], error) {
			f.ListOptions = o
			return s.SyncRuns(ctx(), f)
		}, 1)
	}
	all := list(steward.SyncRunFilter{})
	if len(all) != 4 {
		t.Fatalf("%d runs, want 4: %+v", len(all), all)
	}
	people, pg, failed, first := all[0], all[1], all[2], all[3]
	if people.Source != "ldap:corp" || people.SystemID != nil || people.Result == nil || people.Result.PeopleCreated != 1 {
		t.Fatalf("newest run: %+v", people)
	}
	if pg.Source != "connector:pg" || pg.SystemID == nil || *pg.SystemID != b.ID || pg.SystemName != b.Name || pg.Result == nil ||
		pg.Result.IdentitiesCreated != 2 || !pg.FinishedAt.Equal(clock.Now()) || pg.Error != "" {
		t.Fatalf("pg run: %+v", pg)
	}
	if failed.Result != nil || !strings.HasPrefix(failed.Error, "1 record(s) cannot be used") || !strings.Contains(failed.Error, "listed more than once") || *failed.SystemID != a.ID {
		t.Fatalf("failed run: %+v", failed)
	}
	if first.Result == nil || first.Result.IdentitiesCreated != 1 || !first.StartedAt.Equal(Epoch.Add(time.Minute)) {
		t.Fatalf("first run: %+v", first)
	}
	ids := func(runs []steward.SyncRun) []int64 {
		return ids(runs, func(r steward.SyncRun) int64 { return r.ID })
	}
	for name, tc := range map[string]struct {
		f    steward.SyncRunFilter
		want []steward.SyncRun
	}{
		"source":         {steward.SyncRunFilter{Source: "import:jsonl"}, []steward.SyncRun{failed, first}},
		"system":         {steward.SyncRunFilter{SystemID: b.ID}, []steward.SyncRun{pg}},
		"failed":         {steward.SyncRunFilter{Failed: ptr(true)}, []steward.SyncRun{failed}},
		"succeeded":      {steward.SyncRunFilter{Failed: ptr(false)}, []steward.SyncRun{people, pg, first}},
		"system, failed": {steward.SyncRunFilter{SystemID: a.ID, Failed: ptr(false)}, []steward.SyncRun{first}},
		"no such source": {steward.SyncRunFilter{Source: "nothing"}, nil},
		"no such system": {steward.SyncRunFilter{SystemID: 999999}, nil},
	} {
		if got := ids(list(tc.f)); !slices.Equal(got, ids(tc.want)) {
			t.Errorf("%s: runs %v, want %v", name, got, ids(tc.want))
		}
	}
	_, err := s.SyncRuns(ctx(), steward.SyncRunFilter{Source: strings.Repeat("x", 300)})
	wantCode(t, err, steward.EINVALID)
}
