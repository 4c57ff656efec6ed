package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestCopyEvents: on SQLite many events go in without their seqs (which
// would make each INSERT write a statement journal) and take the seqs of
// the chain, which verifies; when the table's largest seq is not the
// head's, they go in with their seqs as before, and a seq taken already
// fails the append.
func TestCopyEvents(t *testing.T) {
	t.Parallel()
	ctx := steward.WithActor(context.Background(), "test")
	db := openSQLite(t, ctx)
	appendN := func(n int) error {
		events := make([]pendingEvent, n)
		for i := range events {
			events[i] = pendingEvent{action: steward.ActionIdentityRemoved, objectType: steward.ObjectIdentity, objectID: idStr(int64(i + 1)),
				data: steward.Removed{Reason: "test"}}
		}
		return db.bulkTx(ctx, func(c *sql.Conn) error { return db.appendEvents(ctx, c, events) })
	}
	top := func() (n int64) {
		if err := db.read.QueryRowContext(ctx, `SELECT MAX(seq) FROM events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := top()
	if err := appendN(70); err != nil {
		t.Fatal(err)
	}
	if got := top(); got != before+70 {
		t.Fatalf("largest seq %d after 70 events from %d", got, before)
	}
	if _, err := db.VerifyAudit(ctx); err != nil {
		t.Fatalf("the chain after events appended without their seqs: %v", err)
	}
	// A row past the head (never written by Steward): the next events
	// cannot take the seqs after it, and are inserted with their own,
	// which the row takes one of.
	if _, err := db.write.ExecContext(ctx, `INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash)
		VALUES (?, 0, 'x', 'x', 'x', 'x', '{}', '', '')`, top()+2); err != nil {
		t.Fatal(err)
	}
	err := appendN(5)
	if err == nil || !strings.Contains(err.Error(), "append audit events") {
		t.Fatalf("events appended over a seq taken: %v", err)
	}
	if got := top(); got != before+72 {
		t.Fatalf("largest seq %d after the failed append, want %d", got, before+72)
	}
}
