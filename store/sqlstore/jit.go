package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// JIT grants (schema 19): the life of time-bound access and its expiry.
// See migrations/*/0019_jit_grants.sql for the schedule (due_at) and the
// leases that make each expiry recorded once across replicas (numbers since
// schema 21).

// The store records the states active, revocation_failing and revoked, as
// literals in its SQL; an active grant past its expiry is expired
// (steward.JITGrant.State), which the store never writes.

// jitChunk is how many rows one multi-row statement of a JIT write names:
// few enough parameters for SQLite (32,766) and PostgreSQL (65,535).
const jitChunk = 250

// finishChunk is how many outcomes one statement of FinishRevocations
// names on SQLite: a default claim's whole batch, so that a batch is
// recorded in three statements and its events, not twelve (at most 3
// parameters a row). PostgreSQL keeps jitChunk: at a thousand pairs its
// planner deletes the inventory's grants with a hash join over a
// sequential scan of the grants table (100,000 rows), not an index lookup
// a pair, and a 100k run recorded 3,400 revocations/s instead of 7,000+.
func (d *DB) finishChunk() int {
	if d.pg {
		return jitChunk
	}
	return 1000
}

// maxJITError bounds the target's error kept on a failing grant.
const maxJITError = 1000

const jitColumns = `id, identity_id, entitlement_id, system_id, identity_ext, entitlement, granted_at, expires_at, ` +
	`request_id, granted_by, state, due_at, warned_at, revoked_at, attempts, last_error`

// jitSelect reads JIT grants as x, for list.
var jitSelect = `SELECT x.` + strings.ReplaceAll(jitColumns, ", ", ", x.") + ` FROM jit_grants x`

func scanJIT(r scanner) (steward.JITGrant, error) {
	var g steward.JITGrant
	var granted, expires int64
	var req, due, warned, revoked sql.NullInt64
	var state string
	if err := r.Scan(&g.ID, &g.IdentityID, &g.EntitlementID, &g.SystemID, &g.Identity, &g.Entitlement, &granted, &expires,
		&req, &g.GrantedBy, &state, &due, &warned, &revoked, &g.Attempts, &g.LastError); err != nil {
		return g, err
	}
	g.GrantedAt, g.ExpiresAt = fromMicro(granted), fromMicro(expires)
	g.RequestID, g.Status = fromNullID(req), steward.JITState(state)
	g.WarnedAt, g.RevokedAt = fromNullMicro(warned), fromNullMicro(revoked)
	if g.Status == steward.JITFailing {
		g.NextAttemptAt = fromNullMicro(due)
	}
	return g, nil
}

// values renders n rows of cols placeholders as a VALUES list whose
// columns are column1, column2, … on both engines; the first row casts
// each to types[i], so that PostgreSQL knows them.
func values(n int, types ...string) string {
	var b strings.Builder
	b.WriteString("(VALUES (")
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("CAST(? AS " + t + ")")
	}
	b.WriteString(")")
	row := ", (" + strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ") + ")"
	for range n - 1 {
		b.WriteString(row)
	}
	b.WriteString(")")
	return b.String()
}

// RecordJITGrant records JIT grants with their events, and makes the
// inventory's grant of each a jit one with the expiry (see
// steward.JITStore). A grant the identity already holds standing becomes
// jit: a sync may have seen the membership a fulfilment granted a moment
// before it was recorded; whether a request for access already held is
// right is for the request workflow to decide, not the store.
func (d *DB) RecordJITGrant(ctx context.Context, grants ...*steward.JITGrant) error {
	now := d.now()
	for _, g := range grants {
		if g.GrantedAt.IsZero() {
			g.GrantedAt = now
		}
		g.GrantedAt = g.GrantedAt.UTC().Truncate(time.Microsecond)
		g.ExpiresAt = g.ExpiresAt.UTC().Truncate(time.Microsecond)
		if err := g.Validate(); err != nil {
			return err
		}
	}
	return d.inTx(ctx, true, d.writeWait, func(u *unit) error {
		for len(grants) > 0 {
			n := min(jitChunk, len(grants))
			if err := d.recordJIT(ctx, u, grants[:n]); err != nil {
				return err
			}
			grants = grants[n:]
		}
		return nil
	})
}

// recordJIT records one chunk of grants in u.
func (d *DB) recordJIT(ctx context.Context, u *unit, grants []*steward.JITGrant) error {
	// Where each grant is revoked: the names its system knows.
	type where struct {
		system int64
		name   string
	}
	idents, ents := map[int64]where{}, map[int64]where{}
	for _, g := range grants {
		idents[g.IdentityID], ents[g.EntitlementID] = where{}, where{}
	}
	for _, look := range []struct {
		table, col, what string
		ids              map[int64]where
	}{{"identities", "external_id", "identity", idents}, {"entitlements", "name", "entitlement", ents}} {
		args := make([]any, 0, len(look.ids))
		for id := range look.ids {
			args = append(args, id)
		}
		rows, err := u.tx.QueryContext(ctx, d.q(`SELECT id, system_id, `+look.col+` FROM `+look.table+` WHERE id IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+`)`), args...)
		if err != nil {
			return err
		}
		found := 0
		for rows.Next() {
			var id int64
			var w where
			if err := rows.Scan(&id, &w.system, &w.name); err != nil {
				rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
				return err
			}
			look.ids[id] = w
			found++
		}
		rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
		if err := rows.Err(); err != nil {
			return err
		}
		if found < len(look.ids) {
			for id, w := range look.ids {
				if w.system == 0 {
					return steward.Errorf(steward.ENOTFOUND, "%s %d does not exist.", look.what, id)
				}
			}
		}
	}
	args := make([]any, 0, len(grants)*10)
	for _, g := range grants {
		i, e := idents[g.IdentityID], ents[g.EntitlementID]
		if i.system != e.system {
			return steward.Errorf(steward.EINVALID, "identity %d and entitlement %d are of different systems: a grant is held in one.", g.IdentityID, g.EntitlementID)
		}
		g.SystemID, g.Identity, g.Entitlement, g.Status = i.system, i.name, e.name, steward.JITActive
		g.WarnedAt, g.RevokedAt, g.NextAttemptAt, g.Attempts, g.LastError = nil, nil, nil, 0, ""
		args = append(args, g.IdentityID, g.EntitlementID, g.SystemID, g.Identity, g.Entitlement, micro(g.GrantedAt), micro(g.ExpiresAt),
			idPtr(g.RequestID), g.GrantedBy, micro(g.ExpiresAt))
	}
	rows, err := u.tx.QueryContext(ctx, d.q(`INSERT`+d.orFail()+` INTO jit_grants (identity_id, entitlement_id, system_id, identity_ext, entitlement, granted_at, expires_at, request_id, granted_by, due_at, state)
		SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, column10, 'active' FROM `+
		values(len(grants), "BIGINT", "BIGINT", "BIGINT", "TEXT", "TEXT", "BIGINT", "BIGINT", "BIGINT", "TEXT", "BIGINT")+` AS v
		RETURNING id, identity_id, entitlement_id`), args...)
	if err != nil {
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "The identity holds the entitlement by a JIT grant not yet revoked: extend it instead.")
		}
		return err
	}
	type pair struct{ identity, entitlement int64 }
	ids := make(map[pair]int64, len(grants))
	for rows.Next() {
		var id int64
		var p pair
		if err := rows.Scan(&id, &p.identity, &p.entitlement); err != nil {
			rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
			return err
		}
		ids[p] = id
	}
	rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
	if err := rows.Err(); err != nil {
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "The identity holds the entitlement by a JIT grant not yet revoked: extend it instead.")
		}
		return err
	}
	// The inventory's grant: created, or made jit with the expiry. Its
	// digest is cleared, so that the next sync compares it (and keeps it
	// jit while the JIT grant is open: see resolveGrants).
	args, dirty := args[:0], make([]any, 0, len(grants)*2)
	events := make([]pendingEvent, 0, len(grants))
	for _, g := range grants {
		g.ID = ids[pair{g.IdentityID, g.EntitlementID}]
		if g.ID == 0 {
			return steward.Errorf(steward.ECONFLICT, "The identity %d is granted entitlement %d twice in one batch.", g.IdentityID, g.EntitlementID)
		}
		args = append(args, g.IdentityID, g.EntitlementID, micro(g.GrantedAt), micro(g.ExpiresAt), "jit:"+idStr(g.ID))
		ref, ok := grantRef(g.IdentityID, g.EntitlementID)
		if !ok {
			ref = refWhole
		}
		dirty = append(dirty, g.SystemID, int64(ref))
		events = append(events, pendingEvent{steward.ActionJITGranted, steward.ObjectJITGrant, idStr(g.ID), steward.JITGranted{
			IdentityID: g.IdentityID, EntitlementID: g.EntitlementID, Entitlement: g.Entitlement, GrantedAt: g.GrantedAt,
			ExpiresAt: g.ExpiresAt, RequestID: g.RequestID, GrantedBy: g.GrantedBy}})
	}
	if _, err := u.tx.ExecContext(ctx, d.q(`INSERT`+d.orFail()+` INTO grants (identity_id, entitlement_id, type, granted_at, expires_at, granted_via, content_hash)
		SELECT column1, column2, 'jit', column3, column4, column5, '' FROM `+values(len(grants), "BIGINT", "BIGINT", "BIGINT", "BIGINT", "TEXT")+` AS v WHERE true
		ON CONFLICT (identity_id, entitlement_id) DO UPDATE SET type = 'jit', granted_at = excluded.granted_at,
			expires_at = excluded.expires_at, granted_via = excluded.granted_via, content_hash = ''`), args...); err != nil {
		return err
	}
	if err := d.markDirtyMany(ctx, u.tx, dirty); err != nil {
		return err
	}
	return d.appendEvents(ctx, u.conn, events)
}

// orFail is " OR FAIL" on SQLite: a statement that writes many rows and may
// abort (a CHECK, NOT NULL or UNIQUE constraint) otherwise first copies each
// page it changes to a statement journal, a temporary file, so that it can
// undo just itself; a failed JIT write rolls back its whole transaction (or
// savepoint) anyway. Without it the statement journal's writes were a third
// of the expiry engine's time at a million grants (see copyRows).
// PostgreSQL has no such clause and no such journal.
func (d *DB) orFail() string {
	if d.pg {
		return ""
	}
	return " OR FAIL"
}

// markDirtyMany is markDirty of many rows, given as system id, ref pairs.
func (d *DB) markDirtyMany(ctx context.Context, tx querier, pairs []any) error {
	if len(pairs) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, d.q(`INSERT`+d.orFail()+` INTO sync_dirty (system_id, ref) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?), ", len(pairs)/2), ", ")), pairs...)
	return err
}

// ExtendJITGrant moves an active grant's expiry (steward.JITStore).
func (d *DB) ExtendJITGrant(ctx context.Context, id int64, expiresAt time.Time) (*steward.JITGrant, error) {
	expiresAt = expiresAt.UTC().Truncate(time.Microsecond)
	var out *steward.JITGrant
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		g, err := scanJIT(tx.QueryRowContext(ctx, d.q(`SELECT `+jitColumns+` FROM jit_grants WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return steward.Errorf(steward.ENOTFOUND, "JIT grant %d does not exist.", id)
		} else if err != nil {
			return err
		}
		now := d.now()
		if st := g.State(now); st != steward.JITActive {
			return steward.Errorf(steward.ECONFLICT, "JIT grant %d is %s: only an active grant can be extended; request the access again.", id, st)
		} else if !expiresAt.After(now) {
			return steward.Errorf(steward.EINVALID, "An extension must end after now.")
		}
		old := g.ExpiresAt
		g.ExpiresAt = expiresAt
		if err := g.Validate(); err != nil {
			return err
		}
		// Only an unclaimed grant (due at its expiry) moves: a claimed one is
		// being revoked.
		res, err := tx.ExecContext(ctx, d.q(`UPDATE jit_grants SET expires_at = ?, due_at = ?, warned_at = NULL WHERE id = ? AND state = 'active' AND lease IS NULL`),
			micro(expiresAt), micro(expiresAt), id)
		if err != nil {
			return err
		} else if n, _ := res.RowsAffected(); n != 1 {
			return steward.Errorf(steward.ECONFLICT, "JIT grant %d is being revoked: request the access again.", id)
		}
		g.WarnedAt = nil
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE grants SET expires_at = ? WHERE identity_id = ? AND entitlement_id = ? AND type = 'jit'`),
			micro(expiresAt), g.IdentityID, g.EntitlementID); err != nil {
			return err
		}
		out = &g
		return d.appendEvent(ctx, tx, steward.ActionJITExtended, steward.ObjectJITGrant, idStr(id), steward.JITExtended{OldExpiresAt: old, ExpiresAt: expiresAt})
	})
	return out, err
}

// JITGrant returns one JIT grant.
func (d *DB) JITGrant(ctx context.Context, id int64) (*steward.JITGrant, error) {
	return get(ctx, d, `SELECT `+jitColumns+` FROM jit_grants WHERE id = ?`, id, "JIT grant", scanJIT)
}

// JITGrants lists JIT grants by id.
func (d *DB) JITGrants(ctx context.Context, f steward.JITGrantFilter) (*steward.Page[steward.JITGrant], error) {
	where, args := eqFilter(nil, nil, "x.identity_id", f.IdentityID, f.IdentityID != 0)
	if f.State != "" {
		if err := f.State.Validate(); err != nil {
			return nil, err
		}
		now := micro(d.now())
		switch f.State {
		case steward.JITActive:
			where, args = append(where, "x.state = 'active' AND x.expires_at > ?"), append(args, now)
		case steward.JITExpired:
			where, args = append(where, "x.state = 'active' AND x.expires_at <= ?"), append(args, now)
		default:
			where, args = append(where, "x.state = ?"), append(args, string(f.State))
		}
	}
	return list(ctx, d, jitSelect, where, args, f.ListOptions, scanJIT, func(g *steward.JITGrant) int64 { return g.ID })
}

// JITStats counts the unrevoked JIT grants by state at the store's clock.
func (d *DB) JITStats(ctx context.Context) (*steward.JITStats, error) {
	now := micro(d.now())
	var s steward.JITStats
	var oldest sql.NullInt64
	err := d.reader(ctx).QueryRowContext(ctx, d.q(`SELECT
		COALESCE(SUM(CASE WHEN state = 'active' AND expires_at > ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'active' AND expires_at <= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'revocation_failing' THEN 1 ELSE 0 END), 0),
		MIN(CASE WHEN expires_at <= ? THEN expires_at END)
		FROM jit_grants WHERE due_at IS NOT NULL`), now, now, now).Scan(&s.Active, &s.Expired, &s.Failing, &oldest)
	if err != nil {
		return nil, err
	}
	s.OldestOverdue = fromNullMicro(oldest)
	return &s, nil
}

// newLease returns a number for one claim: 63 random bits. A claim is
// told from another only on the grants it holds, and only after its lease
// ends can another hold them; that the next claim of a grant draws the
// number of the claim before it, the one case where the two would be
// confused, has a chance of 2^-63.
func newLease() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1) // #nosec G115 -- shifted to 63 bits: fits
}

// ClaimRevocations claims the grants whose revocation is due, soonest
// first, by moving their due time to the lease's end under a new lease
// name. On PostgreSQL rows another replica's claim holds are skipped, not
// waited for; SQLite has one writer.
func (d *DB) ClaimRevocations(ctx context.Context, now time.Time, limit int, lease time.Duration) (*steward.RevocationClaim, error) {
	if limit < 1 || lease <= 0 {
		return nil, steward.Errorf(steward.EINVALID, "a claim needs a positive limit and lease.")
	}
	c := &steward.RevocationClaim{Lease: newLease()}
	skip := ""
	if d.pg {
		skip = ` FOR UPDATE SKIP LOCKED`
	}
	err := d.inTx(ctx, true, d.writeWait, func(u *unit) error {
		c.Grants = c.Grants[:0]
		rows, err := u.tx.QueryContext(ctx, d.q(`UPDATE`+d.orFail()+` jit_grants SET due_at = ?, lease = ?
			WHERE id IN (SELECT id FROM jit_grants WHERE due_at <= ? ORDER BY due_at LIMIT ?`+skip+`)
			RETURNING `+jitColumns), micro(now.Add(lease)), c.Lease, micro(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanJIT(rows)
			if err != nil {
				return err
			}
			c.Grants = append(c.Grants, g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FinishRevocations records the outcomes of a claim (steward.JITExpiry).
func (d *DB) FinishRevocations(ctx context.Context, lease int64, outcomes []steward.Revocation) (int, error) {
	var done, failed []steward.Revocation
	for _, o := range outcomes {
		if o.Err == "" {
			done = append(done, o)
		} else {
			failed = append(failed, o)
		}
	}
	recorded := 0
	err := d.inTx(ctx, true, d.writeWait, func(u *unit) error {
		recorded = 0
		events := make([]pendingEvent, 0, len(outcomes))
		for len(done) > 0 {
			n := min(d.finishChunk(), len(done))
			args := make([]any, 0, 2*n+1)
			for _, o := range done[:n] {
				args = append(args, o.GrantID, micro(o.At))
			}
			args = append(args, lease)
			rows, err := u.tx.QueryContext(ctx, d.q(`UPDATE`+d.orFail()+` jit_grants SET state = 'revoked', revoked_at = v.column2, due_at = NULL, lease = NULL, attempts = attempts + 1
				FROM `+values(n, "BIGINT", "BIGINT")+` AS v WHERE jit_grants.id = v.column1 AND jit_grants.lease = ?
				RETURNING id, identity_id, entitlement_id, system_id, expires_at, revoked_at, attempts`), args...)
			if err != nil {
				return err
			}
			pairs, dirty := make([]any, 0, 2*n), make([]any, 0, 2*n)
			for rows.Next() {
				var id, identity, entitlement, system, expires, revoked int64
				var attempts int
				if err := rows.Scan(&id, &identity, &entitlement, &system, &expires, &revoked, &attempts); err != nil {
					rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
					return err
				}
				pairs = append(pairs, identity, entitlement)
				ref, ok := grantRef(identity, entitlement)
				if !ok {
					ref = refWhole
				}
				dirty = append(dirty, system, int64(ref))
				events = append(events, pendingEvent{steward.ActionJITRevoked, steward.ObjectJITGrant, idStr(id), steward.JITGrantRevoked{
					IdentityID: identity, EntitlementID: entitlement, ExpiresAt: fromMicro(expires), RevokedAt: fromMicro(revoked),
					LagMS: (revoked - expires) / 1000, Attempts: attempts}})
			}
			rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
			if err := rows.Err(); err != nil {
				return err
			}
			if len(pairs) > 0 {
				// The access is gone from the system: so from the inventory.
				if _, err := u.tx.ExecContext(ctx, d.q(`DELETE FROM grants WHERE type = 'jit' AND id IN (SELECT g.id FROM grants g JOIN `+
					values(len(pairs)/2, "BIGINT", "BIGINT")+` AS v ON g.identity_id = v.column1 AND g.entitlement_id = v.column2)`), pairs...); err != nil {
					return err
				}
				if err := d.markDirtyMany(ctx, u.tx, dirty); err != nil {
					return err
				}
			}
			recorded += len(pairs) / 2
			done = done[n:]
		}
		for len(failed) > 0 {
			n := min(d.finishChunk(), len(failed))
			args := make([]any, 0, 3*n+1)
			next := make(map[int64]time.Time, n)
			for _, o := range failed[:n] {
				msg := o.Err
				if len(msg) > maxJITError {
					msg = msg[:maxJITError]
				}
				args = append(args, o.GrantID, micro(o.NextAttemptAt), msg)
				next[o.GrantID] = o.NextAttemptAt.UTC()
			}
			args = append(args, lease)
			// A grant no longer under the lease is left out: the lease ended,
			// another engine has it.
			rows, err := u.tx.QueryContext(ctx, d.q(`UPDATE`+d.orFail()+` jit_grants SET state = 'revocation_failing', due_at = v.column2, lease = NULL, attempts = attempts + 1, last_error = v.column3
				FROM `+values(n, "BIGINT", "BIGINT", "TEXT")+` AS v WHERE jit_grants.id = v.column1 AND jit_grants.lease = ?
				RETURNING id, identity_id, expires_at, attempts, last_error`), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id, identity, expires int64
				var attempts int
				var msg string
				if err := rows.Scan(&id, &identity, &expires, &attempts, &msg); err != nil {
					rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
					return err
				}
				recorded++
				events = append(events, pendingEvent{steward.ActionJITRevocationFailed, steward.ObjectJITGrant, idStr(id), steward.JITRevocationFailed{
					IdentityID: identity, ExpiresAt: fromMicro(expires), Attempts: attempts, Error: msg, NextAttemptAt: next[id]}})
			}
			rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
			if err := rows.Err(); err != nil {
				return err
			}
			failed = failed[n:]
		}
		return d.appendEvents(ctx, u.conn, events)
	})
	if err != nil {
		return 0, err
	}
	return recorded, nil
}

// WarnExpiring writes the expiry warnings that are due (steward.JITExpiry).
func (d *DB) WarnExpiring(ctx context.Context, now, until time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, steward.Errorf(steward.EINVALID, "a warning run needs a positive limit.")
	}
	skip := ""
	if d.pg {
		skip = ` FOR UPDATE SKIP LOCKED`
	}
	n := 0
	err := d.inTx(ctx, true, d.writeWait, func(u *unit) error {
		rows, err := u.tx.QueryContext(ctx, d.q(`UPDATE`+d.orFail()+` jit_grants SET warned_at = ?
			WHERE id IN (SELECT id FROM jit_grants WHERE state = 'active' AND warned_at IS NULL AND expires_at > ? AND expires_at <= ?
				ORDER BY expires_at LIMIT ?`+skip+`)
			RETURNING id, identity_id, expires_at`), micro(now), micro(now), micro(until), limit)
		if err != nil {
			return err
		}
		var events []pendingEvent
		var ids []int64
		for rows.Next() {
			var id, identity, expires int64
			if err := rows.Scan(&id, &identity, &expires); err != nil {
				rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
				return err
			}
			events = append(events, pendingEvent{steward.ActionJITExpiryWarned, steward.ObjectJITGrant, idStr(id),
				steward.JITExpiryWarned{IdentityID: identity, ExpiresAt: fromMicro(expires)}})
			ids = append(ids, id)
		}
		rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(events)
		if n == 0 {
			return nil
		}
		if err := d.appendEvents(ctx, u.conn, events); err != nil {
			return err
		}
		return d.enqueueWarnings(ctx, u.tx, ids, now)
	})
	return n, err
}

// enqueueWarnings queues the notices of the grants just warned
// (steward.JITExpiryWarning), one job per grant that concerns somebody:
// the person who asked for it (the requester of its request, found by
// e-mail or external id as the workflow names them) or the identity's owner.
func (d *DB) enqueueWarnings(ctx context.Context, tx *sql.Tx, ids []int64, now time.Time) error {
	var jobs []steward.JobArgs
	for start := 0; start < len(ids); start += 500 {
		part := ids[start:min(start+500, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := tx.QueryContext(ctx, d.q(`SELECT g.id, i.name, s.name, g.entitlement, g.expires_at, g.request_id,
				rp.id, rp.name, o.id, o.name
			FROM jit_grants g
			JOIN identities i ON i.id = g.identity_id
			JOIN systems s ON s.id = i.system_id
			LEFT JOIN people o ON o.id = i.owner_id
			LEFT JOIN access_requests r ON r.id = g.request_id
			LEFT JOIN people rp ON rp.id = (SELECT p.id FROM people p WHERE p.email = r.requester OR p.external_id = r.requester ORDER BY p.id LIMIT 1)
			WHERE g.id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")+`) ORDER BY g.id`), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var w steward.JITExpiryWarning
			var expires int64
			var request, requester, owner sql.NullInt64
			var requesterName, ownerName sql.NullString
			if err := rows.Scan(&w.GrantID, &w.IdentityName, &w.SystemName, &w.Entitlement, &expires, &request,
				&requester, &requesterName, &owner, &ownerName); err != nil {
				rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
				return err
			}
			w.ExpiresAt, w.At = fromMicro(expires), now.UTC()
			w.RequestID, w.RequesterID, w.OwnerID = fromNullID(request), fromNullID(requester), fromNullID(owner)
			w.RequesterName, w.OwnerName = requesterName.String, ownerName.String
			if w.RequesterID != nil || w.OwnerID != nil {
				jobs = append(jobs, w)
			}
		}
		rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	return d.enqueueTx(ctx, tx, jobs...)
}

// NextJITDue returns the earliest due time of the schedule.
func (d *DB) NextJITDue(ctx context.Context) (*time.Time, error) {
	var due sql.NullInt64
	if err := d.reader(ctx).QueryRowContext(ctx, `SELECT MIN(due_at) FROM jit_grants WHERE due_at IS NOT NULL`).Scan(&due); err != nil {
		return nil, err
	}
	return fromNullMicro(due), nil
}

var _ steward.JITStore = (*DB)(nil)
