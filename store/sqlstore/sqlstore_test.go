package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clock steward.Clock) steward.Store {
		return MustOpenSQLite(t, clock)
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T, clock steward.Clock) steward.Store {
		return MustOpenPostgres(t, dsn, clock)
	})
}

// MustOpenSQLite opens a migrated store in a fresh file under t.TempDir.
func MustOpenSQLite(tb testing.TB, clock steward.Clock) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(filepath.Join(tb.TempDir(), "steward.db"), sqlstore.Options{Clock: clock})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

var schemaSeq atomic.Int64
var adminOnce sync.Once
var admin *sql.DB

// MustOpenPostgres opens a migrated store in a fresh schema of the test
// server, dropped when the test ends, so tests run in parallel unseen by
// each other.
func MustOpenPostgres(tb testing.TB, dsn string, clock steward.Clock) *sqlstore.DB {
	tb.Helper()
	adminOnce.Do(func() { admin, _ = sql.Open("pgx", dsn) })
	schema := fmt.Sprintf("steward_test_%d_%d", schemaSeq.Add(1), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sqlstore.Open(u.String(), sqlstore.Options{Clock: clock, MaxConns: 4})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// each runs fn against SQLite and, when available, PostgreSQL.
func each(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, MustOpenSQLite(t, storetest.NewClock(storetest.Epoch)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, MustOpenPostgres(t, testenv.PostgresDSN(t), storetest.NewClock(storetest.Epoch)))
	})
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(context.Background())
		if err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		n, err := db.VerifyAudit(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("after two migrations: %d events, %v; want the one schema.migrated", n, err)
		}
	})
}

// TestTamper edits, inserts and deletes audit rows behind the store's back
// and checks that VerifyAudit names the first bad event.
func TestTamper(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		sql     string
		wantSeq int64
		reason  string
	}{
		"edit data":      {`UPDATE events SET data = '{"name":"forged"}' WHERE seq = 3`, 3, "edited"},
		"edit actor":     {`UPDATE events SET actor = 'someone-else' WHERE seq = 4`, 4, "edited"},
		"delete middle":  {`DELETE FROM events WHERE seq = 2`, 3, "deleted"},
		"delete last":    {`DELETE FROM events WHERE seq = 5`, 5, "deleted from the end"},
		"insert garbage": {`INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash) SELECT 6, time, actor, action, object_type, object_id, data, hash, hash FROM events WHERE seq = 5`, 6, "edited"},
		// A forger who recomputes the hash of the row they append is still
		// caught: the head row was not moved.
		"append rehashed": {forgedAppend, 6, "appended"},
		"renumber":        {`UPDATE events SET seq = 10 WHERE seq = 5`, 10, "deleted"},
		"replace hashes":  {`UPDATE events SET hash = '` + strings.Repeat("a", 64) + `' WHERE seq = 2`, 2, "edited"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			each(t, func(t *testing.T, db *sqlstore.DB) {
				ctx := steward.WithActor(context.Background(), "test")
				for n := 0; n < 4; n++ { // events 2..5 after schema.migrated
					storetest.MustTeam(t, db, nil)
				}
				if _, err := db.VerifyAudit(ctx); err != nil {
					t.Fatalf("intact chain: %v", err)
				}
				if tc.sql == forgedAppend {
					appendForged(t, db)
				} else if _, err := db.SQL().Exec(tc.sql); err != nil {
					t.Fatal(err)
				}
				_, err := db.VerifyAudit(ctx)
				var ce *steward.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("VerifyAudit after %q = %v, want a ChainError", tc.sql, err)
				}
				if ce.Seq != tc.wantSeq || !strings.Contains(ce.Reason, tc.reason) {
					t.Fatalf("ChainError{%d, %q}, want seq %d and %q", ce.Seq, ce.Reason, tc.wantSeq, tc.reason)
				}
			})
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := sqlstore.Open("", sqlstore.Options{}); steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("empty dsn: %v", err)
	}
	db, err := sqlstore.Open(filepath.Join(t.TempDir(), "missing-dir", "x.db"), sqlstore.Options{})
	if err == nil {
		defer db.Close()
		if err := db.Ping(context.Background()); steward.ErrorCode(err) != steward.EUNAVAILABLE {
			t.Fatalf("ping of an unopenable file: %v", err)
		}
	}
}

const forgedAppend = "forged append"

// appendForged inserts a well-formed event 6 that chains to event 5.
func appendForged(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	var prev string
	if err := db.SQL().QueryRow(`SELECT hash FROM events WHERE seq = 5`).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	e := steward.Event{Seq: 6, Time: storetest.Epoch, Actor: "token:admin", Action: "grant.created", ObjectType: "grant", ObjectID: "1", Data: []byte(`{}`), PrevHash: prev}
	e.Hash = e.ComputeHash()
	q := `INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash) VALUES (6, ?, 'token:admin', 'grant.created', 'grant', '1', '{}', ?, ?)`
	if db.Dialect() == "postgres" {
		q = `INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash) VALUES (6, $1, 'token:admin', 'grant.created', 'grant', '1', '{}', $2, $3)`
	}
	if _, err := db.SQL().Exec(q, e.Time.UnixMicro(), e.PrevHash, e.Hash); err != nil {
		t.Fatal(err)
	}
}
