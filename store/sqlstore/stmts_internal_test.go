package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stewardhq/steward"
)

// TestStmtCache: on SQLite the hot paths' texts are prepared once and kept,
// reads on the reader pool at once, a write transaction's on the writer
// from the next transaction on; the writes through kept statements are
// the same as without (the audit chain verifies); the cache stops at its
// bound; Close closes every statement and hands out none after.
func TestStmtCache(t *testing.T) {
	t.Parallel()
	ctx := steward.WithActor(context.Background(), "test")
	db := openSQLite(t, ctx)
	if _, err := db.SystemByName(ctx, "nowhere"); steward.ErrorCode(err) != steward.ENOTFOUND {
		t.Fatalf("SystemByName: %v, want ENOTFOUND", err)
	}
	if db.stmts.read.lookup(systemSelect+` WHERE x.name = ?`) == nil {
		t.Fatal("the system by name is not kept prepared on the readers")
	}
	var ids []int64
	for i := range 3 {
		r := &steward.AccessRequest{Requester: "a@example.com", Identity: fmt.Sprint("svc-", i), State: steward.RequestPending}
		if err := db.Atomically(ctx, func(ctx context.Context) error { return db.CreateRequest(ctx, r) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		if got, err := db.Request(ctx, r.ID); err != nil || got.Identity != r.Identity {
			t.Fatalf("request %d read back as %+v, %v", r.ID, got, err)
		}
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("request ids %v", ids)
	}
	if db.stmts.write.lookup(`SELECT seq, hash FROM audit_head WHERE id = 1`) == nil {
		t.Fatal("the audit head's read is not kept prepared on the writer")
	}
	if _, err := db.VerifyAudit(ctx); err != nil {
		t.Fatalf("the audit chain written through prepared statements: %v", err)
	}

	for i := range maxStmts + 10 {
		db.stmt(ctx, db.read, fmt.Sprintf("SELECT %d", i))
	}
	if n := len(db.stmts.read.m); n != maxStmts {
		t.Fatalf("%d statements kept, want the bound %d", n, maxStmts)
	}
	if db.stmt(ctx, db.read, "SELECT 'one more'") != nil {
		t.Fatal("a statement past the bound was kept")
	}

	kept := db.stmts.read.lookup(systemSelect + ` WHERE x.name = ?`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(db.stmts.read.m)+len(db.stmts.write.m) != 0 || db.stmt(ctx, db.read, "SELECT 1") != nil {
		t.Fatal("statements kept after Close")
	}
	if err := kept.QueryRowContext(ctx, "x").Scan(new(int)); err == nil {
		t.Fatal("a kept statement still runs after Close")
	}
}

// TestStat1Only: on SQLite, Optimize leaves the planner sqlite_stat1's
// figures and no samples in sqlite_stat4 (whose samples would make SQLite
// compile a kept statement again at every run), on the connection that
// analysed and on the readers; Migrate empties the samples an earlier
// Steward's ANALYZE kept.
func TestStat1Only(t *testing.T) {
	t.Parallel()
	ctx := steward.WithActor(context.Background(), "test")
	db := openSQLite(t, ctx)
	for i := range 50 {
		if err := db.CreateSystem(ctx, &steward.System{Name: fmt.Sprint("sys-", i), Kind: steward.SystemGitHub}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(table string) int {
		t.Helper()
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil { // as Optimize did before
		t.Fatal(err)
	}
	if count("sqlite_stat4") == 0 {
		t.Fatal("ANALYZE kept no samples: the test shows nothing")
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count("sqlite_stat4"); n != 0 {
		t.Fatalf("Migrate kept %d samples", n)
	}
	if err := db.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if n, m := count("sqlite_stat4"), count("sqlite_stat1"); n != 0 || m == 0 {
		t.Fatalf("after Optimize: %d samples, %d stat1 rows; want none and some", n, m)
	}
	if _, err := db.SystemByName(ctx, "sys-7"); err != nil {
		t.Fatal(err)
	}
}

// openSQLite opens and migrates a new SQLite store, closed when the test ends.
func openSQLite(t *testing.T, ctx context.Context) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "steward.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
