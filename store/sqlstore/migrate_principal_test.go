package sqlstore_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

// TestMigrationPrincipals upgrades a database with tokens as Steward wrote
// them before schema 13 (roles admin and viewer, no principal) and
// requires every viewer token to come out an auditor, the admin token to
// stay admin, every token to become an automation identity of the system
// steward without an owner (an ownership gap while it can be used; a
// revoked one disabled), with the token as its credential, and the audit
// chain to stay intact.
func TestMigrationPrincipals(t *testing.T) {
	t.Parallel()
	for _, e := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "old.db") }},
		{"postgres", func(t *testing.T) string { return sqlstoretest.FreshSchemaDSN(t) }},
	} {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := steward.WithActor(context.Background(), "test")
			db, err := sqlstore.Open(e.dsn(t), sqlstore.Options{Clock: storetest.NewClock(storetest.Epoch)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := sqlstore.MigrateUpTo(ctx, db, 12); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{
				`INSERT INTO tokens (id, name, role, hash, created_at, last_used_at) VALUES
					(1, 'ci-bot', 'admin', 'h1', 1000, 5000),
					(2, 'reader', 'viewer', 'h2', 2000, NULL)`,
				`INSERT INTO tokens (id, name, role, hash, created_at, revoked_at) VALUES (3, 'old', 'admin', 'h3', 500, 900)`,
			} {
				if _, err := sqlstore.RawSQL(db).ExecContext(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			tokens, err := db.Tokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			roles := map[string]steward.Role{}
			for _, tok := range tokens {
				roles[tok.Name] = tok.Role
			}
			if roles["ci-bot"] != steward.RoleAdmin || roles["reader"] != steward.RoleAuditor {
				t.Errorf("roles after the migration: %v; want ci-bot admin, reader auditor", roles)
			}
			for _, tok := range tokens {
				if tok.Kind != steward.PrincipalAutomation || tok.IdentityID == nil || tok.OwnerID != nil || tok.Principal != tok.Name {
					t.Errorf("token %s after the migration: %+v; want an automation token of an unowned identity", tok.Name, tok)
					continue
				}
				iv, err := db.Identity(ctx, *tok.IdentityID)
				if err != nil {
					t.Fatal(err)
				}
				want := steward.IdentityActive
				if tok.Name == "old" {
					want = steward.IdentityDisabled
				}
				if iv.SystemName != steward.SelfSystemName || iv.Name != tok.Name || iv.Kind != steward.KindToken || iv.OwnerID != nil || iv.Status != want {
					t.Errorf("identity of %s = %+v", tok.Name, iv)
				}
				creds, err := db.Credentials(ctx, iv.ID)
				if err != nil || len(creds) != 1 || creds[0].CreatedAt == nil || !creds[0].CreatedAt.Equal(tok.CreatedAt) {
					t.Errorf("credential of %s = %+v, %v", tok.Name, creds, err)
				}
			}
			gaps, err := db.Gaps(ctx, steward.GapFilter{Gap: steward.GapUnowned})
			if err != nil {
				t.Fatal(err)
			}
			var unowned []string
			for _, g := range gaps.Items {
				unowned = append(unowned, g.IdentityName)
			}
			slices.Sort(unowned)
			if !slices.Equal(unowned, []string{"ci-bot", "reader"}) {
				t.Errorf("unowned gaps after the migration: %v; want the two usable tokens", unowned)
			}
			if _, err := db.VerifyAudit(ctx); err != nil {
				t.Errorf("audit chain after the migration: %v", err)
			}
		})
	}
}
