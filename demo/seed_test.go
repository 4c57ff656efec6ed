package demo

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
)

// The shared test openers: SQLite in a temp dir, PostgreSQL in a fresh schema.
var (
	MustOpenSQLite   = sqlstoretest.MustOpenSQLite
	MustOpenPostgres = sqlstoretest.MustOpenPostgres
)

// TestSeed loads a small organisation into each real store and reads it back
// through the store's own lists and statistics.
func TestSeed(t *testing.T) {
	t.Parallel()
	cfg := Config{People: 200, NHI: 8000, Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var want Summary
	MustGenerate(t, cfg, func(b *steward.Bulk) error { want.Add(b); return nil })

	stores := []struct {
		name string
		open func(testing.TB, steward.Clock) *sqlstore.DB
	}{
		{"sqlite", MustOpenSQLite},
		{"postgres", MustOpenPostgres},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := st.open(t, steward.FixedClock{T: cfg.Now})

			start := time.Now()
			got, err := Seed(ctx, db, cfg)
			if err != nil {
				t.Fatalf("Seed: %v", err)
			}
			t.Logf("seeded %d rows in %d batches in %v", got.Rows(), got.Batches, time.Since(start))
			if got.Admin == "" {
				t.Errorf("Seed names no admin")
			}
			want := want
			want.Admin = got.Admin
			if got != want {
				t.Errorf("Seed summary %+v; want %+v", got, want)
			}

			t.Run("stats count every row", func(t *testing.T) {
				s, err := db.InventoryStats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var identities, nhi int64
				for _, c := range s.Identities {
					identities += c.Count
					if c.Kind.NonHuman() {
						nhi += c.Count
					}
				}
				// Steward's own system and identity come on top of the
				// organisation.
				counts := []struct {
					name      string
					got, want int64
				}{
					{"people", s.People, int64(cfg.People)},
					{"teams", s.Teams, int64(want.Teams)},
					{"systems", s.Systems, int64(want.Systems) + 1},
					{"entitlements", s.Entitlements, int64(want.Entitlements)},
					{"grants", s.Grants, int64(want.Grants)},
					{"identities", identities, int64(want.Identities) + 1},
					{"non-human identities", nhi, int64(cfg.NHI) + 1},
				}
				for _, c := range counts {
					if c.got != c.want {
						t.Errorf("%s: store has %d; want %d", c.name, c.got, c.want)
					}
				}
				for _, k := range steward.GapKinds {
					if s.Gaps[k] == 0 {
						t.Errorf("no %s ownership gap; the demo promises some", k)
					}
				}
				t.Logf("gaps %v", s.Gaps)
			})

			t.Run("filters find demo identities", func(t *testing.T) {
				tests := []struct {
					name string
					f    steward.IdentityFilter
				}{
					{"api keys", steward.IdentityFilter{Kind: steward.KindAPIKey}},
					{"staging", steward.IdentityFilter{Environment: steward.EnvStaging}},
					{"disabled", steward.IdentityFilter{Status: steward.IdentityDisabled}},
					{"payments team", steward.IdentityFilter{TeamID: 2, Kind: steward.KindWorkload}},
					{"search settlement", steward.IdentityFilter{Query: "settlement"}},
					{"search an access key id", steward.IdentityFilter{Query: "AKIA"}},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						tt.f.Limit = 10
						p, err := db.Identities(ctx, tt.f)
						if err != nil {
							t.Fatal(err)
						}
						if len(p.Items) == 0 {
							t.Fatalf("Identities(%+v) found nothing", tt.f)
						}
						if p.Items[0].SystemName == "" {
							t.Errorf("identity %d has no system name", p.Items[0].ID)
						}
					})
				}
			})

			t.Run("time-bound grants expire", func(t *testing.T) {
				for _, typ := range []steward.GrantType{steward.GrantJIT, steward.GrantException} {
					p, err := db.Grants(ctx, steward.GrantFilter{Type: typ, ListOptions: steward.ListOptions{Limit: 100}})
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Items) == 0 {
						t.Fatalf("no %s grants", typ)
					}
					for _, g := range p.Items {
						if g.ExpiresAt == nil {
							t.Errorf("%s grant %d has no expiry", typ, g.ID)
						}
					}
				}
			})

			t.Run("credentials and the audit chain", func(t *testing.T) {
				p, err := db.Identities(ctx, steward.IdentityFilter{Kind: steward.KindCertificate, ListOptions: steward.ListOptions{Limit: 1}})
				if err != nil || len(p.Items) == 0 {
					t.Fatalf("no certificate: %v", err)
				}
				creds, err := db.Credentials(ctx, p.Items[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(creds) != 1 || creds[0].ExpiresAt == nil || creds[0].Fingerprint == "" {
					t.Errorf("certificate %d credentials %+v; want one with an expiry and a fingerprint", p.Items[0].ID, creds)
				}
				n, err := db.VerifyAudit(ctx)
				if err != nil {
					t.Fatalf("VerifyAudit after %d events: %v", n, err)
				}
				// Asked by actor: the migrations' events come first, and
				// their number grows. The demo's admin loaded it, through
				// the demo since ctx names nobody.
				ev, err := db.Events(ctx, steward.EventFilter{Actor: "person:" + got.Admin, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
				if err != nil {
					t.Fatal(err)
				}
				if len(ev.Items) != got.Batches+2 { // the batches, Steward's system and identity
					t.Errorf("%d audit events by person:%s; want %d", len(ev.Items), got.Admin, got.Batches+2)
				}
				for _, e := range ev.Items {
					if e.Via != "demo" {
						t.Errorf("event %d %s came through %q; want demo", e.Seq, e.Action, e.Via)
					}
				}
			})

			t.Run("the admin owns Steward's own identity", func(t *testing.T) {
				admin, err := db.PersonBySignIn(ctx, steward.ClaimEmail, got.Admin)
				if err != nil {
					t.Fatal(err)
				}
				if admin.Status != steward.PersonActive {
					t.Errorf("the admin %s has departed", got.Admin)
				}
				self, err := db.SystemByName(ctx, steward.SelfSystemName)
				if err != nil {
					t.Fatal(err)
				}
				p, err := db.Identities(ctx, steward.IdentityFilter{SystemID: self.ID, ExternalID: steward.SelfIdentityName, ListOptions: steward.ListOptions{Limit: 1}})
				if err != nil || len(p.Items) != 1 {
					t.Fatalf("Steward's own identity: %v, %d found", err, len(p.Items))
				}
				if o := p.Items[0].OwnerID; o == nil || *o != admin.ID {
					t.Errorf("Steward's own identity is owned by %v; want the admin %d", o, admin.ID)
				}
			})

			t.Run("gaps have a history", func(t *testing.T) {
				// The store opened a task for every gap, and no other:
				// a full recompute finds nothing to do.
				res, err := db.RefreshGaps(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if res.GapsOpened != 0 || res.GapsClosed != 0 {
					t.Errorf("after seeding, a gap refresh opened %d and closed %d tasks; the history missed them", res.GapsOpened, res.GapsClosed)
				}
				var all []steward.GapView
				for f := (steward.GapFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}); ; {
					p, err := db.Gaps(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, p.Items...)
					if p.Next == "" {
						break
					}
					f.After = p.Next
				}
				overdue, months := 0, map[string]bool{}
				for i, g := range all {
					if i > 0 && g.OpenedAt.Before(all[i-1].OpenedAt) {
						t.Fatalf("gap %d opened %v, before the one listed ahead of it (%v): the list is not oldest first", g.ID, g.OpenedAt, all[i-1].OpenedAt)
					}
					if g.OpenedAt.After(cfg.Now) || g.OpenedAt.Before(cfg.Now.Add(-adoptedAgo)) {
						t.Errorf("gap %d opened %v, outside Steward's time", g.ID, g.OpenedAt)
					}
					if !g.DueAt.Equal(g.OpenedAt.Add(steward.GapDue[g.Gap])) {
						t.Errorf("gap %d due %v, opened %v", g.ID, g.DueAt, g.OpenedAt)
					}
					if g.DueAt.Before(cfg.Now) {
						overdue++
					}
					months[g.OpenedAt.Format("2006-01")] = true
				}
				t.Logf("%d gaps over %d months, %d overdue", len(all), len(months), overdue)
				if overdue == 0 || overdue == len(all) || len(months) < 6 {
					t.Errorf("%d of %d gaps overdue over %d months; want some overdue and some not, over months", overdue, len(all), len(months))
				}
			})

			t.Run("owner set by a tag only where the labels say so", func(t *testing.T) {
				p, err := db.Identities(ctx, steward.IdentityFilter{Kind: steward.KindAPIKey, ListOptions: steward.ListOptions{Limit: 500}})
				if err != nil {
					t.Fatal(err)
				}
				bySource := map[steward.OwnerSource]int{}
				for _, iv := range p.Items {
					bySource[iv.OwnerSource]++
					if iv.OwnerSource != steward.OwnerFromTag {
						continue
					}
					if iv.Labels["team"] != iv.TeamName {
						t.Errorf("identity %d: owner from a tag, but its team label %q is not its team %q", iv.ID, iv.Labels["team"], iv.TeamName)
					}
					if iv.OwnerID != nil {
						owner, err := db.Person(ctx, *iv.OwnerID)
						if err != nil {
							t.Fatal(err)
						}
						if iv.Labels["owner"] != owner.Email {
							t.Errorf("identity %d: owner from a tag, but its owner label %q is not its owner %s", iv.ID, iv.Labels["owner"], owner.Email)
						}
					}
				}
				if bySource[steward.OwnerFromTag] == 0 || bySource[steward.OwnerExplicit] == 0 || bySource[steward.OwnerNone] == 0 {
					t.Errorf("owner sources %v; want tags, explicit assignments and none", bySource)
				}
			})

			t.Run("the store decides the same from the tags", func(t *testing.T) {
				// The identities a tag decided name the tag, and their
				// store keeps it: re-resolving every owner (a rules change
				// that matches nothing) changes none, where it would drop
				// every owner a tag decided if the tags were lost.
				p, err := db.Identities(ctx, steward.IdentityFilter{Kind: steward.KindAPIKey, ListOptions: steward.ListOptions{Limit: 500}})
				if err != nil {
					t.Fatal(err)
				}
				for _, iv := range p.Items {
					if iv.OwnerSource == steward.OwnerFromTag && iv.OwnerReason.OwnerTag == "" && iv.OwnerReason.TeamTag == "" {
						t.Errorf("identity %d: owner from a tag, but its reason %+v names none", iv.ID, iv.OwnerReason)
					}
				}
				res, err := db.ApplyOwnershipRules(ctx, []steward.OwnershipRule{{Name: "nothing", Match: steward.RuleMatch{Names: []string{"no-such-identity-*"}}, Team: "leadership"}})
				if err != nil {
					t.Fatal(err)
				}
				if res.OwnersChanged != 0 || res.GapsOpened != 0 || res.GapsClosed != 0 {
					t.Errorf("re-resolving the demo's owners changed %d owners, opened %d gaps and closed %d; want none", res.OwnersChanged, res.GapsOpened, res.GapsClosed)
				}
			})

			t.Run("seeding twice conflicts", func(t *testing.T) {
				_, err := Seed(ctx, db, Config{People: 10, NHI: 10})
				if steward.ErrorCode(err) != steward.ECONFLICT {
					t.Errorf("second Seed = %v; want ECONFLICT", err)
				}
			})
		})
	}
}
