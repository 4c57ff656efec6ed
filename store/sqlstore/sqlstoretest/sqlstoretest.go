// Package sqlstoretest opens real, migrated sqlstore databases for tests:
// SQLite in a temp dir, PostgreSQL in a fresh schema of the test server.
package sqlstoretest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
)

// MustOpenSQLite opens a migrated store in a fresh file under tb.TempDir.
func MustOpenSQLite(tb testing.TB, clock steward.Clock) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(filepath.Join(tb.TempDir(), "steward.db"), sqlstore.Options{Clock: clock})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { closeDB(tb, db) })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

var (
	seq       atomic.Int64
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// FreshSchemaDSN returns the DSN of a new, empty schema of the test server
// (STEWARD_TEST_POSTGRES; skipped or failed by testenv when unset), dropped
// when the test ends, so that tests run in parallel unseen by each other.
func FreshSchemaDSN(tb testing.TB) string {
	tb.Helper()
	dsn := testenv.PostgresDSN(tb)
	adminOnce.Do(func() {
		if admin, adminErr = sql.Open("pgx", dsn); adminErr == nil {
			// Extensions belong to the database, not to a schema: make
			// pg_trgm once, in public, so that no test's migration creates
			// it in its own schema and drops it (and every index that uses
			// it) with that schema.
			_, adminErr = admin.Exec(`CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public`)
		}
	})
	if adminErr != nil {
		tb.Fatalf("test PostgreSQL: %v", adminErr)
	}
	schema := fmt.Sprintf("steward_test_%d_%d", seq.Add(1), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil { // #nosec G202 -- a schema name this helper made from a counter and the time, never input
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		// A schema left behind costs the throwaway server only room, but
		// say so: many of them would point at a leak.
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil { // #nosec G202 -- a schema name this helper made from a counter and the time, never input
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpenPostgres opens a migrated store in a fresh schema (FreshSchemaDSN).
func MustOpenPostgres(tb testing.TB, clock steward.Clock) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(FreshSchemaDSN(tb), sqlstore.Options{Clock: clock, MaxConns: 4})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { closeDB(tb, db) })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// closeDB closes a test's store at its end. The test has its outcome by
// then; a failure to close is logged, as it may explain a later one.
func closeDB(tb testing.TB, db *sqlstore.DB) {
	if err := db.Close(); err != nil {
		tb.Logf("close the test store: %v", err)
	}
}
