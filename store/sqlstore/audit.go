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

// noViaKey marks the context of a migration applied before viaSchema,
// whose events record no Via: the events table has no column for it yet.
type noViaKey struct{}

// viaSchema is the migration that gives events their via column. The
// events of the migrations applied from it on record what the actor came
// through, as every other event does ("local-admin:alice" for steward
// demo's migration, "serve" for serve's).
const viaSchema = 14

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
	if err := d.queryRow(ctx, tx, `SELECT seq, hash FROM audit_head WHERE id = 1`+lock).Scan(&head.Seq, &head.Hash); err != nil { // #nosec G202 -- a fixed FOR UPDATE on PostgreSQL: the store's own names, never input; values are bound as parameters
		return fmt.Errorf("read audit head: %w", err)
	}
	now, actor, via := d.now(), steward.ActorFrom(ctx), steward.ViaFrom(ctx)
	if ctx.Value(noViaKey{}) != nil {
		via = "" // a migration: the column may not exist yet
	}
	sealed := d.keys != nil && ctx.Value(beforeSealsKey{}) == nil
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
		rows[i] = []any{e.Seq, micro(e.Time), e.Actor, e.Action, e.ObjectType, e.ObjectID, string(e.Data), e.PrevHash, e.Hash}
		if via != "" {
			rows[i] = append(rows[i], e.Via)
		}
		if sealed {
			k := d.keys.Current()
			rows[i] = append(rows[i], k.ID, k.Seal(e.Hash))
		}
		head = steward.ChainHead{Seq: e.Seq, Hash: e.Hash}
	}
	cols := []string{"seq", "time", "actor", "action", "object_type", "object_id", "data", "prev_hash", "hash"}
	if via != "" {
		// Left out when empty, for the column's default: so that the
		// migrations before schema 14, which adds it, write their events too.
		cols = append(cols, "via")
	}
	if sealed {
		cols = append(cols, "key_id", "mac")
	}
	if c, ok := tx.(*sql.Conn); ok && len(rows) > 1 {
		if err := d.copyEvents(ctx, c, cols, rows, head.Seq); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
	} else {
		for _, r := range rows {
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
			// One of four texts (with via or not, sealed or not).
			if _, err := d.exec(ctx, tx, `INSERT INTO events (`+strings.Join(cols, ", ")+`) VALUES (`+marks+`)`, r...); err != nil {
				return fmt.Errorf("append audit event: %w", err)
			}
		}
	}
	set, args := `seq = ?, hash = ?`, []any{head.Seq, head.Hash}
	if sealed {
		k := d.keys.Current()
		set, args = set+`, key_id = ?, mac = ?`, append(args, k.ID, k.SealHead(head.Seq, head.Hash))
	}
	if _, err := d.exec(ctx, tx, `UPDATE audit_head SET `+set+` WHERE id = 1`, args...); err != nil {
		return fmt.Errorf("update audit head: %w", err)
	}
	return nil
}

// copyEvents inserts many events (copyRows) whose seqs run up to last,
// one after the other from the first row's.
//
// On SQLite a multi-row INSERT that gives a table's INTEGER PRIMARY KEY
// may abort (the value must be an integer), whatever its conflict clause,
// so it first copies every page it changes to a statement journal, a
// temporary file past 64 KiB: each 32 events touch about as many pages
// of events' index on their object, and a 1% re-sync's 66,678 events
// wrote 0.2 s of it. A seq left out is the largest in the table plus one,
// which is the seq each event is to have when the largest is the one
// before the first row's, as it is for a chain that only grows by
// appending. So then the seqs are left out, and the largest after them is
// checked to be last: any other outcome fails the transaction.
func (d *DB) copyEvents(ctx context.Context, c *sql.Conn, cols []string, rows [][]any, last int64) error {
	if d.pg || cols[0] != "seq" {
		return d.copyRows(ctx, c, "events", cols, rows)
	}
	var top int64
	if err := c.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&top); err != nil {
		return err
	}
	if top != last-int64(len(rows)) {
		return d.copyRows(ctx, c, "events", cols, rows) // as given: the INSERT fails or fills a gap
	}
	rest := make([][]any, len(rows))
	for i, r := range rows {
		rest[i] = r[1:]
	}
	if err := d.copyRows(ctx, c, "events", cols[1:], rest); err != nil {
		return err
	}
	if err := c.QueryRowContext(ctx, `SELECT MAX(seq) FROM events`).Scan(&top); err != nil {
		return err
	}
	if top != last {
		return fmt.Errorf("events took seqs up to %d, not %d", top, last)
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

// sealSchema is the migration that gives events their seal columns. The
// events of the migrations applied before it are written unsealed, as the
// table cannot hold a seal yet.
const sealSchema = 15

// hasSeals reports whether the migration sealSchema has been applied: the
// version, not the newest one, as migrations of other branches may be
// applied after it.
func (d *DB) hasSeals(ctx context.Context, q querier) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, d.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), sealSchema).Scan(&n)
	return n > 0, err
}

// beforeSealsKey marks the context of a migration before sealSchema.
type beforeSealsKey struct{}

// checkSealed returns EINVALID when the newest event is sealed but d has
// no audit key: a Steward without the key would write unsealed events
// after sealed ones, which VerifyChainWith takes for a rewrite (a writer
// without the key stripping seals).
func (d *DB) checkSealed(ctx context.Context) error {
	if d.keys != nil {
		return nil
	}
	var keyID string
	err := d.read.QueryRowContext(ctx, `SELECT e.key_id FROM events e JOIN audit_head h ON e.seq = h.seq WHERE h.id = 1`).Scan(&keyID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the audit head's seal: %w", err)
	}
	if keyID != "" {
		return steward.Errorf(steward.EINVALID, "the audit log is sealed with audit key %s but no audit key was given: give --audit-key-file or STEWARD_AUDIT_KEY (docs/audit.md); Steward will not write unsealed events after sealed ones.", keyID)
	}
	return nil
}

// VerifyAudit walks the whole chain in one read transaction, so that it sees
// one consistent snapshot while writers go on, and returns the number of
// events checked or a *steward.ChainError naming the first bad one. It
// checks the seals with the store's audit keys, if it has any.
func (d *DB) VerifyAudit(ctx context.Context) (int64, error) {
	r, err := d.VerifyAuditWith(ctx, steward.ChainCheck{Keys: d.keys})
	return r.Events, err
}

// AuditKeys returns the keys the store seals events with, nil if none.
func (d *DB) AuditKeys() *steward.AuditKeys { return d.keys }

// VerifyAuditWith is VerifyAudit with the checks of c (its own keys or
// none, a checkpoint); see steward.VerifyChainWith.
func (d *DB) VerifyAuditWith(ctx context.Context, c steward.ChainCheck) (steward.ChainReport, error) {
	sealed, err := d.hasSeals(ctx, d.read)
	if err != nil {
		return steward.ChainReport{}, err
	}
	cols, headCols := eventColumns+`, key_id, mac`, `seq, hash, key_id, mac`
	if !sealed { // a database not yet migrated has no seals
		cols, headCols = eventColumns+`, '', ''`, `seq, hash, '', ''`
	}
	tx, err := d.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: d.snapshot()})
	if err != nil {
		return steward.ChainReport{}, err
	}
	defer tx.Rollback()
	var head steward.ChainHead
	if err := tx.QueryRowContext(ctx, `SELECT `+headCols+` FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash, &head.KeyID, &head.MAC); err != nil { // #nosec G202 -- headCols: the head's columns of this function, never input
		if errors.Is(err, sql.ErrNoRows) {
			return steward.ChainReport{}, &steward.ChainError{Seq: 0, Reason: "the audit head row is missing"}
		}
		return steward.ChainReport{}, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+cols+` FROM events ORDER BY seq`) // #nosec G202 -- the event columns of this file: the store's own names, never input; values are bound as parameters
	if err != nil {
		return steward.ChainReport{}, err
	}
	defer rows.Close()
	seq := iter.Seq2[steward.Event, error](func(yield func(steward.Event, error) bool) {
		for rows.Next() {
			var e steward.Event
			var t int64
			var data string
			err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &data, &e.PrevHash, &e.Hash, &e.Via, &e.KeyID, &e.MAC)
			e.Time, e.Data = fromMicro(t), json.RawMessage(data)
			if !yield(e, err) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(steward.Event{}, err)
		}
	})
	return steward.VerifyChainWith(seq, head, c)
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
