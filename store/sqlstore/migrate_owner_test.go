package sqlstore_test

import (
	"context"
	"iter"
	"strconv"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestMigrationOwnerReasons upgrades a database as Steward left it before
// schema 11 (owners resolved, no reasons recorded, an owner set by hand
// without a team) and requires the migration to record every identity's
// reason as the domain decides it, to give the hand-set owner's identity
// the owner's team with its event, and to leave the audit chain intact.
func TestMigrationOwnerReasons(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test:migrate")
		team := &steward.Team{Name: "payments"}
		if err := db.CreateTeam(ctx, team); err != nil {
			t.Fatal(err)
		}
		ada := &steward.Person{ExternalID: "ada", Name: "Ada", Email: "ada@example.test", TeamID: &team.ID, Status: steward.PersonActive}
		if err := db.CreatePerson(ctx, ada); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ApplyOwnershipRules(ctx, []steward.OwnershipRule{{Name: "ci", Match: steward.RuleMatch{Names: []string{"ci-*"}}, Team: "payments"}}); err != nil {
			t.Fatal(err)
		}
		sys := &steward.System{Name: "aws", Kind: steward.SystemAWS}
		if err := db.CreateSystem(ctx, sys); err != nil {
			t.Fatal(err)
		}
		recs := []steward.Record{
			{Pos: "1", Identity: &steward.SourceIdentity{ExternalID: "tagged", Kind: steward.KindBot, Owner: "ADA@example.test"}},
			{Pos: "2", Identity: &steward.SourceIdentity{ExternalID: "ci-deploy", Kind: steward.KindToken}},
			{Pos: "3", Identity: &steward.SourceIdentity{ExternalID: "by-hand", Kind: steward.KindBot}},
		}
		src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
			return func(yield func(steward.Record, error) bool) {
				for _, r := range recs {
					if !yield(r, nil) {
						return
					}
				}
			}
		})
		if _, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"}); err != nil {
			t.Fatal(err)
		}
		byExt := func() map[string]steward.IdentityView {
			page, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]steward.IdentityView{}
			for _, x := range page.Items {
				out[x.ExternalID] = x
			}
			return out
		}
		hand := byExt()["by-hand"]
		if _, err := db.SetOwner(ctx, hand.ID, steward.OwnerAssignment{OwnerID: &ada.ID}); err != nil {
			t.Fatal(err)
		}
		// What schema 10 held: no reasons, and set-owner left the team empty.
		for _, q := range []string{
			`UPDATE identities SET team_id = NULL WHERE owner_source = 'explicit'`,
			`ALTER TABLE identities DROP COLUMN owner_by`,
			`ALTER TABLE identities DROP COLUMN team_by`,
			`ALTER TABLE identities DROP COLUMN owner_rule`,
			`DELETE FROM schema_migrations WHERE version = 11`,
		} {
			if err := sqlstore.ExecRaw(ctx, db, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		before, err := db.Events(ctx, steward.EventFilter{Action: steward.ActionIdentityOwnerChanged, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
		if err != nil {
			t.Fatal(err)
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got := byExt()
		for ext, want := range map[string]steward.OwnerReason{
			"tagged":    {OwnerBy: steward.BasisTag, TeamBy: steward.BasisOwnerTeam, OwnerTag: "ada@example.test"},
			"ci-deploy": {TeamBy: steward.BasisRule, Rule: "ci"},
			"by-hand":   {OwnerBy: steward.BasisExplicit, TeamBy: steward.BasisOwnerTeam},
		} {
			if x := got[ext]; x.OwnerReason != want || x.TeamID == nil || *x.TeamID != team.ID {
				t.Errorf("%s after the migration: team %v, reason %+v; want team %d, %+v", ext, x.TeamID, x.OwnerReason, team.ID, want)
			}
		}
		after, err := db.Events(ctx, steward.EventFilter{Action: steward.ActionIdentityOwnerChanged, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Items) != len(before.Items)+1 || after.Items[len(after.Items)-1].ObjectID != strconv.FormatInt(hand.ID, 10) {
			t.Errorf("owner changes: %d before the migration, %d after; want one more, for by-hand", len(before.Items), len(after.Items))
		}
		if _, err := db.VerifyAudit(ctx); err != nil {
			t.Fatalf("the audit chain after the migration: %v", err)
		}
	})
}
