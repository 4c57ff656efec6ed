package sqlstore_test

import (
	"context"
	"iter"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

// TestMigrationForgetsStampedTimes: rows written before schema 10 with the
// time of the sync that created them as their creation time come out of
// the migration with an unknown creation time; a time inside no such sync
// (given by the source), or inside a sync that created nothing of its
// kind, or inside another system's sync, is kept. Rows of an older
// Steward are written with SQL as it wrote them.
func TestMigrationForgetsStampedTimes(t *testing.T) {
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
			if err := sqlstore.MigrateUpTo(ctx, db, 8); err != nil {
				t.Fatal(err)
			}
			// Two systems: a sync of system 1 ran from 1000 to 2000 and
			// created identities and credentials; one of system 2 from 5000
			// to 6000 created identities only; a failed run of system 1 from
			// 7000 to 8000 changed nothing.
			stmts := []string{
				`INSERT INTO systems (id, name, kind, created_at) VALUES (1, 'one', 'postgres', 0), (2, 'two', 'aws', 0)`,
				`INSERT INTO sync_runs (source, system_id, started_at, finished_at, result) VALUES
					('connector:one', 1, 1000, 2000, '{"records": 3, "identities_created": 2, "credentials_changed": 1}'),
					('import:aws', 2, 5000, 6000, '{"records": 1, "identities_created": 1, "credentials_changed": 0}')`,
				`INSERT INTO sync_runs (source, system_id, started_at, finished_at, result, error) VALUES
					('connector:one', 1, 7000, 8000, '{}', 'connection refused')`,
				`INSERT INTO identities (id, system_id, external_id, name, kind, environment, criticality, status, created_at, updated_at) VALUES
					(1, 1, 'stamped', 'stamped', 'service_account', 'prod', 'medium', 'active', 1500, 1500),
					(2, 1, 'given', 'given', 'service_account', 'prod', 'medium', 'active', 500, 1500),
					(3, 1, 'edge', 'edge', 'service_account', 'prod', 'medium', 'active', 2000, 2000),
					(4, 1, 'other-run', 'other-run', 'service_account', 'prod', 'medium', 'active', 5500, 5500),
					(5, 1, 'failed-run', 'failed-run', 'service_account', 'prod', 'medium', 'active', 7500, 7500),
					(6, 2, 'role', 'role', 'service_account', 'prod', 'medium', 'active', 5000, 5000)`,
				`INSERT INTO credentials (id, identity_id, kind, created_at, external_id) VALUES
					(1, 1, 'password', 1500, 'password'), (2, 2, 'password', 900, 'password'), (3, 6, 'access_key', 5500, 'key')`,
			}
			for _, s := range stmts {
				if _, err := sqlstore.RawSQL(db).ExecContext(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[int64]int64{1: -1, 2: 500, 3: -1, 4: 5500, 5: 7500, 6: -1} {
				i, err := db.Identity(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case want < 0 && i.CreatedAt != nil:
					t.Errorf("identity %s: created %v, want unknown (stamped by a sync)", i.ExternalID, i.CreatedAt)
				case want >= 0 && (i.CreatedAt == nil || !i.CreatedAt.Equal(time.UnixMicro(want))):
					t.Errorf("identity %s: created %v, want %v", i.ExternalID, i.CreatedAt, time.UnixMicro(want).UTC())
				}
			}
			for identity, want := range map[int64]int64{1: -1, 2: 900, 6: 5500} {
				creds, err := db.Credentials(ctx, identity)
				if err != nil || len(creds) != 1 {
					t.Fatalf("credentials of %d: %v, %v", identity, creds, err)
				}
				c := creds[0]
				switch {
				case c.Status != steward.CredentialActive:
					t.Errorf("credential %d: status %q, want active", c.ID, c.Status)
				case want < 0 && c.CreatedAt != nil:
					t.Errorf("credential %d: created %v, want unknown (stamped by a sync)", c.ID, c.CreatedAt)
				case want >= 0 && (c.CreatedAt == nil || !c.CreatedAt.Equal(time.UnixMicro(want))):
					t.Errorf("credential %d: created %v, want %v", c.ID, c.CreatedAt, time.UnixMicro(want).UTC())
				}
			}
			// The schema works on: a sync writes and reads the new columns.
			res, err := db.SyncSystem(ctx, 1, steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
				return func(yield func(steward.Record, error) bool) {
					yield(steward.Record{Identity: &steward.SourceIdentity{ExternalID: "stamped", Kind: steward.KindServiceAccount,
						Credentials: []steward.SourceCredential{{ExternalID: "password", Kind: steward.CredPassword, Status: steward.CredentialDisabled}}},
						Pos: "t:1"}, nil)
				}
			}), steward.SyncOptions{Source: "t", Partial: true})
			if err != nil || res.CredentialsChanged != 1 {
				t.Fatalf("sync after the migration: %+v, %v", res, err)
			}
		})
	}
}
