package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"

	"github.com/stewardhq/steward"
)

// noViaKey marks the context of a migration, whose events record no Via:
// the events table has the column only from schema 14 on.
type noViaKey struct{}

// appendEvent adds one event to the audit chain inside tx.
func (d *DB) appendEvent(ctx context.Context, tx querier, action steward.Action, objectType, objectID string, data any) error {
	return d.appendEvents(ctx, tx, []pendingEvent{{action: action, objectType: objectType, objectID: objectID, data: data}})
}

// appendEvents adds events to the audit chain inside tx, in order. It locks
// the audit_head row first, so concurrent writers (several replicas on one
// PostgreSQL) chain one after the other; SQLite has one writer anyway. Many
// events go in with one COPY (or multi-row INSERT) and one head update.
func (d *DB) appendEvents(ctx context.Context, tx querier, events []pendingEvent) error {
	if len(events) == 0 {
		return nil
	}
	lock := ""
	if d.pg {
		lock = " FOR UPDATE"
	}
	var head steward.ChainHead
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+lock).Scan(&head.Seq, &head.Hash); err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	now, actor, via := d.now(), steward.ActorFrom(ctx), steward.ViaFrom(ctx)
	if ctx.Value(noViaKey{}) != nil {
		via = "" // a migration: the column may not exist yet
	}
	rows := make([][]any, len(events))
	for i, p := range events {
		if err := steward.CheckPayload(p.action, p.data); err != nil {
			return err
		}
		raw := []byte("{}")
		if p.data != nil {
			var err error
			if raw, err = json.Marshal(p.data); err != nil {
				return fmt.Errorf("audit event data: %w", err)
			}
		}
		e := steward.Event{Seq: head.Seq + 1, Time: now, Actor: actor, Via: via, Action: p.action,
			ObjectType: p.objectType, ObjectID: p.objectID, Data: raw, PrevHash: head.Hash}
		e.Hash = e.ComputeHash()
		rows[i] = []any{e.Seq, micro(e.Time), e.Actor, e.Action, e.ObjectType, e.ObjectID, string(e.Data), e.PrevHash, e.Hash, e.Via}
		head = steward.ChainHead{Seq: e.Seq, Hash: e.Hash}
	}
	cols := []string{"seq", "time", "actor", "action", "object_type", "object_id", "data", "prev_hash", "hash", "via"}
	if via == "" {
		// The column's default: so that the migrations before schema 14,
		// which adds it, write their events too.
		cols = cols[:len(cols)-1]
		for i := range rows {
			rows[i] = rows[i][:len(cols)]
		}
	}
	if c, ok := tx.(*sql.Conn); ok && len(rows) > 1 {
		if err := d.copyRows(ctx, c, "events", cols, rows); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
	} else {
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO events (`+strings.Join(cols, ", ")+`) VALUES (?`+strings.Repeat(", ?", len(cols)-1)+`)`), r...); err != nil {
				return fmt.Errorf("append audit event: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, d.q(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), head.Seq, head.Hash); err != nil {
		return fmt.Errorf("update audit head: %w", err)
	}
	return nil
}

const eventColumns = `seq, time, actor, action, object_type, object_id, data, prev_hash, hash, via`

func scanEvent(rows interface{ Scan(...any) error }) (steward.Event, error) {
	var e steward.Event
	var t int64
	var data string
	err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &data, &e.PrevHash, &e.Hash, &e.Via)
	e.Time, e.Data = fromMicro(t), json.RawMessage(data)
	return e, err
}

// Events lists audit events in sequence order.
func (d *DB) Events(ctx context.Context, f steward.EventFilter) (*steward.Page[steward.Event], error) {
	after, limit, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where, args, order := []string{"seq > ?"}, []any{after}, "seq"
	if f.NewestFirst {
		where, order = []string{"seq < ?"}, "seq DESC"
		if after == 0 {
			args = []any{int64(math.MaxInt64)}
		}
	}
	for _, c := range []struct{ col, v string }{{"action", string(f.Action)}, {"object_type", f.ObjectType}, {"object_id", f.ObjectID}, {"actor", f.Actor}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, micro(f.Since))
	}
	args = append(args, limit+1)
	rows, err := d.read.QueryContext(ctx, d.q(`SELECT `+eventColumns+` FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &steward.Page[steward.Event]{Items: []steward.Event{}}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.Next = steward.Cursor(page.Items[limit-1].Seq)
	}
	return page, nil
}

// VerifyAudit walks the whole chain in one read transaction, so that it sees
// one consistent snapshot while writers go on, and returns the number of
// events checked or a *steward.ChainError naming the first bad one.
func (d *DB) VerifyAudit(ctx context.Context) (int64, error) {
	tx, err := d.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: d.snapshot()})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var head steward.ChainHead
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, &steward.ChainError{Seq: 0, Reason: "the audit head row is missing"}
		}
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events ORDER BY seq`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	seq := iter.Seq2[steward.Event, error](func(yield func(steward.Event, error) bool) {
		for rows.Next() {
			if !yield(scanEvent(rows)) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(steward.Event{}, err)
		}
	})
	return steward.VerifyChain(seq, head)
}

// snapshot returns the isolation level that gives one consistent view for a
// long read: REPEATABLE READ on PostgreSQL; SQLite read transactions are
// snapshots already.
func (d *DB) snapshot() sql.IsolationLevel {
	if d.pg {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}
