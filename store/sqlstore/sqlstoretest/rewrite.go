package sqlstoretest

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// RewriteChain rewrites the audit log of the database behind raw as a
// writer of the database would who wants it to pass 'audit verify': it
// reads every event, lets edit change it, recomputes every hash from the
// first event on, lets seal set each event's seal (KeyID, MAC; nil keeps
// the old ones), writes every row back and moves the head. pg says
// whether raw is PostgreSQL.
func RewriteChain(tb testing.TB, raw *sql.DB, pg bool, edit, seal func(e *steward.Event)) {
	tb.Helper()
	ctx := context.Background()
	rows, err := raw.QueryContext(ctx, `SELECT seq, time, actor, action, object_type, object_id, data, prev_hash, hash, via, key_id, mac FROM events ORDER BY seq`)
	if err != nil {
		tb.Fatal(err)
	}
	var events []steward.Event
	for rows.Next() {
		var e steward.Event
		var t int64
		var data string
		if err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &data, &e.PrevHash, &e.Hash, &e.Via, &e.KeyID, &e.MAC); err != nil {
			tb.Fatal(err)
		}
		e.Time, e.Data = time.UnixMicro(t).UTC(), json.RawMessage(data)
		events = append(events, e)
	}
	if err := rows.Close(); err != nil {
		tb.Fatal(err)
	}
	q := func(s string) string {
		if !pg {
			return s
		}
		for n := 1; strings.Contains(s, "?"); n++ {
			s = strings.Replace(s, "?", "$"+string(rune('0'+n)), 1)
		}
		return s
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	prev := steward.GenesisHash
	for i := range events {
		e := &events[i]
		if edit != nil {
			edit(e)
		}
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		if seal != nil {
			seal(e)
		}
		prev = e.Hash
		if _, err := tx.ExecContext(ctx, q(`UPDATE events SET actor = ?, data = ?, prev_hash = ?, hash = ?, key_id = ?, mac = ? WHERE seq = ?`),
			e.Actor, string(e.Data), e.PrevHash, e.Hash, e.KeyID, e.MAC, e.Seq); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, q(`UPDATE audit_head SET hash = ? WHERE id = 1`), prev); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
