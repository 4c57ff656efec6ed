package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// testBulkHistory: an estate streamed in batches with its history (the
// demo) defers its gaps and opens them with the last batch, each dated when
// it began and listed oldest first, whatever the order its identities came
// in. The store still decides which gaps exist.
func testBulkHistory(t *testing.T, s steward.Store, clock *Clock) {
	now := clock.Now()
	day := 24 * time.Hour
	base := int64(7000)
	team, lead, gone := base+1, base+1, base+2
	ident := func(n int64, mod func(x *steward.Identity)) steward.Identity {
		x := steward.Identity{ID: base + n, SystemID: base + 1, ExternalID: fmt.Sprintf("hist-%d", n), Name: fmt.Sprintf("hist-%d", n),
			Kind: steward.KindAPIKey, Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive,
			CreatedAt: ptr(now.Add(-400 * day))}
		if mod != nil {
			mod(&x)
		}
		return x
	}
	first := &steward.Bulk{
		Source:    "storetest history 1",
		DeferGaps: true,
		Teams:     []steward.Team{{ID: team, Name: "hist-team", ManagerID: &lead, CreatedAt: now}},
		People: []steward.Person{
			{ID: lead, ExternalID: "hist-lead", Name: "Lead", TeamID: &team, Status: steward.PersonActive, CreatedAt: now},
			{ID: gone, ExternalID: "hist-gone", Name: "Gone", TeamID: &team, ManagerID: &lead, Status: steward.PersonDeparted, DepartedAt: ptr(now.Add(-60 * day)), CreatedAt: now.Add(-900 * day)},
		},
		Systems: []steward.System{{ID: base + 1, Name: "hist-sys", Kind: steward.SystemVault, CreatedAt: now.Add(-900 * day)}},
		Identities: []steward.Identity{
			ident(1, nil), // unowned since 30 days ago
			ident(2, func(x *steward.Identity) { x.OwnerID, x.TeamID = &gone, &team }), // its owner left 60 days ago
			ident(3, func(x *steward.Identity) { x.OwnerID, x.TeamID = &lead, &team }), // no gap
		},
	}
	if err := s.BulkLoad(ctx(), first); err != nil {
		t.Fatal(err)
	}
	if gaps := AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.GapView], error) {
		return s.Gaps(ctx(), steward.GapFilter{ListOptions: o})
	}, 10); len(gaps) != 0 {
		t.Fatalf("a batch that defers its gaps opened %d", len(gaps))
	}

	last := func() *steward.Bulk {
		return &steward.Bulk{
			Source:     "storetest history 2",
			Identities: []steward.Identity{ident(4, nil)}, // unowned, no start given: now
			GapStarts: []steward.GapStart{
				{IdentityID: base + 1, Gap: steward.GapUnowned, At: now.Add(-30 * day)},
				{IdentityID: base + 2, Gap: steward.GapOwnerDeparted, At: now.Add(-60 * day)},
				{IdentityID: base + 3, Gap: steward.GapUnowned, At: now.Add(-90 * day)}, // it has no such gap
				{IdentityID: 999999, Gap: steward.GapUnowned, At: now.Add(-90 * day)},   // no such identity
			},
		}
	}
	bad := map[string]func(b *steward.Bulk){
		"a start in the future": func(b *steward.Bulk) { b.GapStarts[0].At = now.Add(time.Hour) },
		"a start given twice":   func(b *steward.Bulk) { b.GapStarts[1] = b.GapStarts[0] },
		"an unknown gap":        func(b *steward.Bulk) { b.GapStarts[0].Gap = "lost" },
		"no time":               func(b *steward.Bulk) { b.GapStarts[0].At = time.Time{} },
		"deferring too":         func(b *steward.Bulk) { b.DeferGaps = true },
	}
	for name, mod := range bad {
		b := last()
		mod(b)
		wantCode(t, s.BulkLoad(ctx(), b), steward.EINVALID)
		if _, err := s.Identity(ctx(), base+4); !steward.IsCode(err, steward.ENOTFOUND) {
			t.Fatalf("%s: the refused batch loaded its identity (err %v)", name, err)
		}
	}
	if err := s.BulkLoad(ctx(), last()); err != nil {
		t.Fatal(err)
	}
	gaps := AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.GapView], error) {
		return s.Gaps(ctx(), steward.GapFilter{ListOptions: o})
	}, 10)
	type row struct {
		identity    int64
		gap         steward.GapKind
		opened, due time.Time
	}
	want := []row{
		{base + 2, steward.GapOwnerDeparted, now.Add(-60 * day), now.Add(-53 * day)},
		{base + 1, steward.GapUnowned, now.Add(-30 * day), now.Add(-16 * day)},
		{base + 4, steward.GapUnowned, now, now.Add(14 * day)},
	}
	if len(gaps) != len(want) {
		t.Fatalf("open gaps %+v, want %d", gaps, len(want))
	}
	for i, g := range gaps {
		w := want[i]
		if g.IdentityID != w.identity || g.Gap != w.gap || !g.OpenedAt.Equal(w.opened) || !g.DueAt.Equal(w.due) {
			t.Errorf("gap %d (oldest first) = identity %d %s opened %v due %v; want identity %d %s opened %v due %v",
				i, g.IdentityID, g.Gap, g.OpenedAt, g.DueAt, w.identity, w.gap, w.opened, w.due)
		}
	}
	checkGaps(t, s, "a load with its history")
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
}

// testBulkOwnerTags: an identity a bulk load says a tag decided keeps its
// tags, as a synced one does: its page names the tag, and a later
// re-resolution (here a rules change that matches nothing) decides from
// them again and keeps the owner and team they name.
func testBulkOwnerTags(t *testing.T, s steward.Store, clock *Clock) {
	now := clock.Now()
	base := int64(7100)
	team, person, sys := base+1, base+1, base+1
	ident := func(n int64, mod func(x *steward.Identity)) steward.Identity {
		x := steward.Identity{ID: base + n, SystemID: sys, ExternalID: fmt.Sprintf("tagged-%d", n), Name: fmt.Sprintf("tagged-%d", n),
			Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive,
			CreatedAt: ptr(now)}
		mod(&x)
		return x
	}
	b := &steward.Bulk{
		Source:  "storetest owner tags",
		Teams:   []steward.Team{{ID: team, Name: "tagged-team", CreatedAt: now}},
		People:  []steward.Person{{ID: person, ExternalID: "tagged-lead", Name: "Lead", Email: "Lead@Example.test", TeamID: &team, Status: steward.PersonActive, CreatedAt: now}},
		Systems: []steward.System{{ID: sys, Name: "tagged-sys", Kind: steward.SystemKubernetes, CreatedAt: now}},
		Identities: []steward.Identity{
			// The owner tag names the owner; the team is the owner's.
			ident(1, func(x *steward.Identity) {
				x.OwnerID, x.TeamID, x.OwnerSource = &person, &team, steward.OwnerFromTag
				x.OwnerReason = steward.OwnerReason{OwnerBy: steward.BasisTag, OwnerTag: "lead@example.test", TeamBy: steward.BasisOwnerTeam}
			}),
			// The team tag alone: a team and no owner.
			ident(2, func(x *steward.Identity) {
				x.TeamID, x.OwnerSource = &team, steward.OwnerFromTag
				x.OwnerReason = steward.OwnerReason{TeamBy: steward.BasisTag, TeamTag: "tagged-team"}
			}),
		},
	}
	if err := s.BulkLoad(ctx(), b); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, want := range b.Identities {
			got, err := s.Identity(ctx(), want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameID(got.OwnerID, want.OwnerID) || !sameID(got.TeamID, want.TeamID) || got.OwnerSource != want.OwnerSource || got.OwnerReason != want.OwnerReason {
				t.Errorf("%s: %s has owner %s team %s source %q reason %+v; want %s %s %q %+v", when, want.Name,
					showID(got.OwnerID), showID(got.TeamID), got.OwnerSource, got.OwnerReason, showID(want.OwnerID), showID(want.TeamID), want.OwnerSource, want.OwnerReason)
			}
		}
	}
	check("after the load")
	res, err := s.ApplyOwnershipRules(ctx(), []steward.OwnershipRule{{Name: "none", Match: steward.RuleMatch{Names: []string{"nothing-*"}}, Team: "tagged-team"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.OwnersChanged != 0 {
		t.Errorf("a rule that matches nothing changed %d owners", res.OwnersChanged)
	}
	check("after a rules change")
	checkGaps(t, s, "testBulkOwnerTags")
}

// sameID reports whether two optional ids are equal.
func sameID(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// showID writes an optional id for a test's message.
func showID(p *int64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}
