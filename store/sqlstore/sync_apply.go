package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// syncRun is one SyncSystem run between staging and owner resolution.
type syncRun struct {
	d       *DB
	c       *sql.Conn
	sys     *steward.System
	o       steward.SyncOptions
	first   bool // the system had no identities: one summary event stands for the rest
	delta   bool // the stage holds only what changed since the digest; the unseen tables what went
	res     *steward.SyncResult
	ev      *eventSink
	touched map[int64]bool // identities whose owner or gaps may have changed
	now     time.Time
	lap     func(step string)

	compared bool // compared_identities is written (comparedIdentities)
}

// apply is the plan of a staged sync's writes: each table in turn, parents
// before what refers to them, and last-used times once every row exists.
// After a step that wrote many rows PostgreSQL's statistics of its table
// are refreshed (analyzeWritten), so that the next step's joins are planned
// with them.
func (r *syncRun) apply(ctx context.Context) error {
	steps := []struct {
		name  string
		fn    func(context.Context) error
		table string
		rows  func() int // rows the step wrote
	}{
		{"entitlements", r.entitlements, "entitlements", func() int { return r.res.EntitlementsChanged }},
		{"identities", r.identities, "identities", func() int { return r.res.IdentitiesCreated + r.res.IdentitiesRemoved }},
		{"credentials", r.credentials, "credentials", func() int { return r.res.CredentialsChanged }},
		{"links", r.links, "", nil},
		{"grants", r.grants, "grants", func() int { return r.res.GrantsCreated + r.res.GrantsRemoved }},
		{"last used", r.lastUsed, "", nil},
	}
	for _, st := range steps {
		if err := st.fn(ctx); err != nil {
			return err
		}
		if st.rows != nil {
			if err := r.d.analyzeWritten(ctx, r.c, st.table, st.rows()); err != nil {
				return err
			}
		}
		r.lap(st.name)
	}
	return nil
}

// analyzeAfter is how many rows a sync step writes before PostgreSQL's
// statistics of its table may be refreshed in the same transaction.
const analyzeAfter = 50000

// analyzeWritten refreshes, on PostgreSQL, the statistics of a table a sync
// step wrote rows rows into, when they are at least analyzeAfter and a tenth
// of what the statistics count (autovacuum's own share). Autovacuum
// analyses a table some time after a large load; until then PostgreSQL
// plans the next sync's joins as if it were empty (minutes instead of
// milliseconds). A 1% re-sync of a large system does not analyse (it cost
// 0.3 s of each, for grants).
func (d *DB) analyzeWritten(ctx context.Context, q querier, table string, rows int) error {
	if rows < analyzeAfter {
		return nil
	}
	return d.analyzeIfBehind(ctx, q, table, rows, 10)
}

// collect runs a query on the run's connection and returns one T per row,
// filled by scan. The rows are closed before it returns.
func collect[T any](ctx context.Context, r *syncRun, query string, args []any, scan func(*sql.Rows, *T) error) ([]T, error) {
	return collectIn(ctx, r.d, r.c, query, args, scan)
}

// collectIn runs a query and returns one T per row, filled by scan
// (eachRow).
func collectIn[T any](ctx context.Context, d *DB, q querier, query string, args []any, scan func(*sql.Rows, *T) error) ([]T, error) {
	var out []T
	err := d.eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var v T
		if err := scan(rows, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// query runs a query on the run's connection (eachRow).
func (r *syncRun) query(ctx context.Context, query string, args []any, fn func(*sql.Rows) error) error {
	return r.d.eachRow(ctx, r.c, query, args, fn)
}

// eachRow runs a query and calls fn for each row, closing the rows before
// returning so that fn's caller may write next. Slow ones are logged.
func (d *DB) eachRow(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	defer d.timed(query)()
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *syncRun) exec(ctx context.Context, query string, args ...any) error {
	defer r.d.timed(query)()
	_, err := r.c.ExecContext(ctx, r.d.q(query), args...)
	return err
}

func (r *syncRun) via() string { return syncVia(r.o) }

// entitlements creates, changes and removes the system's entitlements as
// the stage says. They may exist before the system's first identities, so
// a first run compares them too; a partial source removes none.
func (r *syncRun) entitlements(ctx context.Context) error {
	if err := r.createEntitlements(ctx); err != nil {
		return err
	}
	if err := r.updateEntitlements(ctx); err != nil {
		return err
	}
	if r.o.Partial {
		return nil
	}
	return r.removeEntitlements(ctx)
}

// createEntitlements inserts the staged entitlements the system lacks, each
// with its event.
func (r *syncRun) createEntitlements(ctx context.Context) error {
	sid := r.sys.ID
	type created struct {
		id         int64
		name       string
		privileged bool
	}
	news, err := collect(ctx, r, `INSERT INTO entitlements (system_id, name, description, privileged, sensitivity, created_at, content_hash)
		SELECT ?, s.name, s.description, s.privileged, s.sensitivity, ?, s.hash FROM stage_entitlements s
		WHERE NOT EXISTS (SELECT 1 FROM entitlements e WHERE e.system_id = ? AND e.name = s.name)
		RETURNING id, name, privileged`, []any{sid, micro(r.now), sid}, func(rows *sql.Rows, n *created) error {
		return rows.Scan(&n.id, &n.name, &n.privileged)
	})
	if err != nil {
		return err
	}
	for _, n := range news {
		r.res.EntitlementsChanged++
		if err := r.ev.emit(ctx, steward.ActionEntitlementCreated, steward.ObjectEntitlement, n.id, steward.EntitlementCreated{SystemID: sid, Name: n.name, Privileged: n.privileged}); err != nil {
			return err
		}
	}
	return nil
}

// updateEntitlements writes the entitlements whose staged digest differs,
// with an event for each whose fields changed (over bulk-loaded rows only
// the digest may be new).
func (r *syncRun) updateEntitlements(ctx context.Context) error {
	type change struct {
		id               int64
		name             string
		oldDesc, newDesc string
		oldPriv, newPriv bool
		oldSens, newSens string
		hash             string
	}
	changes, err := collect(ctx, r, `SELECT e.id, e.name, e.description, s.description, e.privileged, s.privileged, e.sensitivity, s.sensitivity, s.hash
		FROM stage_entitlements s CROSS JOIN entitlements e WHERE e.system_id = ? AND e.name = s.name AND e.content_hash <> s.hash`, []any{r.sys.ID}, func(rows *sql.Rows, ch *change) error {
		return rows.Scan(&ch.id, &ch.name, &ch.oldDesc, &ch.newDesc, &ch.oldPriv, &ch.newPriv, &ch.oldSens, &ch.newSens, &ch.hash)
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if err := r.exec(ctx, `UPDATE entitlements SET description = ?, privileged = ?, sensitivity = ?, content_hash = ? WHERE id = ?`,
			ch.newDesc, ch.newPriv, ch.newSens, ch.hash, ch.id); err != nil {
			return err
		}
		diff := fieldDiff{}
		diff.add("description", ch.oldDesc, ch.newDesc)
		diff.add("privileged", ch.oldPriv, ch.newPriv)
		diff.add("sensitivity", ch.oldSens, ch.newSens)
		if len(diff) == 0 {
			continue // a first sync over bulk-loaded rows: only the digest was new
		}
		r.res.EntitlementsChanged++
		if err := r.ev.emit(ctx, steward.ActionEntitlementUpdated, steward.ObjectEntitlement, ch.id, steward.EntitlementChanged{Name: ch.name, Changes: steward.Changes(diff)}); err != nil {
			return err
		}
	}
	return nil
}

// removeEntitlements deletes the entitlements the source no longer lists,
// each after its grants, with their events.
func (r *syncRun) removeEntitlements(ctx context.Context) error {
	sid := r.sys.ID
	// In a delta run only the rows whose records did not come back
	// unchanged can have gone.
	unseen := ``
	if r.delta {
		unseen = ` AND e.id IN (SELECT id FROM unseen_entitlements)`
	}
	gone, err := r.d.ids(ctx, r.c, `SELECT e.id FROM entitlements e WHERE e.system_id = ?`+unseen+`
		AND NOT EXISTS (SELECT 1 FROM stage_entitlements s WHERE s.name = e.name) ORDER BY e.id`, sid)
	if err != nil {
		return err
	}
	for _, id := range gone {
		if err := r.removeGrants(ctx, grantsGone{entitlement: id}); err != nil {
			return err
		}
		if err := r.exec(ctx, `DELETE FROM entitlements WHERE id = ?`, id); err != nil {
			return err
		}
		r.res.EntitlementsChanged++
		if err := r.ev.emit(ctx, steward.ActionEntitlementRemoved, steward.ObjectEntitlement, id, steward.EntitlementRemoved{SystemID: sid, Reason: "no longer reported by " + r.via()}); err != nil {
			return err
		}
	}
	return nil
}

// grantsGone says which grants a sync removes (removeGrants): those of an
// entitlement that is gone, or (entitlement 0) those of the system that the
// source no longer lists.
type grantsGone struct {
	entitlement int64
}

// where renders which grants (g) go as an SQL condition and its values.
// In a delta run the grants the source no longer lists are among the
// unseen ones: every other grant's record came back unchanged.
func (w grantsGone) where(r *syncRun) (string, []any) {
	switch {
	case w.entitlement != 0:
		return `g.entitlement_id = ?`, []any{w.entitlement}
	case r.delta:
		return `g.id IN (SELECT g2.id FROM unseen_grants u CROSS JOIN grants g2
			WHERE g2.identity_id = u.identity_id AND g2.entitlement_id = u.entitlement_id
			AND NOT EXISTS (SELECT 1 FROM resolved_grants s WHERE s.identity_id = u.identity_id AND s.entitlement_id = u.entitlement_id))`, nil
	}
	return `g.identity_id IN (SELECT x.id FROM identities x WHERE x.system_id = ?)
		AND NOT EXISTS (SELECT 1 FROM resolved_grants s WHERE s.identity_id = g.identity_id AND s.entitlement_id = g.entitlement_id)`, []any{r.sys.ID}
}

// removeGrants deletes the grants that w selects, each with its event.
func (r *syncRun) removeGrants(ctx context.Context, w grantsGone) error {
	cond, args := w.where(r)
	type gone struct {
		id, identity, entitlement int64
		name                      string
		privileged                bool
	}
	var all []gone
	if err := r.query(ctx, `SELECT g.id, g.identity_id, g.entitlement_id, e.name, e.privileged FROM grants g JOIN entitlements e ON e.id = g.entitlement_id
		WHERE `+cond+` ORDER BY g.id`, args, func(rows *sql.Rows) error {
		var x gone
		if err := rows.Scan(&x.id, &x.identity, &x.entitlement, &x.name, &x.privileged); err != nil {
			return err
		}
		all = append(all, x)
		return nil
	}); err != nil {
		return err
	}
	ids := make([]int64, len(all))
	for i, x := range all {
		ids[i] = x.id
	}
	if err := r.execIDs(ctx, deleteGrants, ids); err != nil {
		return err
	}
	for _, x := range all {
		r.res.GrantsRemoved++
		if err := r.ev.emit(ctx, steward.ActionGrantRemoved, steward.ObjectGrant, x.id, steward.GrantRemoved{IdentityID: x.identity, EntitlementID: x.entitlement,
			Entitlement: x.name, Privileged: x.privileged, Reason: "no longer reported by " + r.via()}); err != nil {
			return err
		}
	}
	return nil
}

// identities creates, changes and removes the system's identities as the
// stage says: after a first run's inserts nothing existed to change or
// remove, and a partial source removes none.
func (r *syncRun) identities(ctx context.Context) error {
	if err := r.createIdentities(ctx); err != nil {
		return err
	}
	if r.first {
		return nil // nothing existed to change or remove
	}
	if err := r.updateIdentities(ctx); err != nil {
		return err
	}
	if r.o.Partial {
		return nil
	}
	return r.removeIdentities(ctx)
}

// createIdentities inserts the staged identities the system lacks, with
// the owners resolved as they were staged, each with its event and marked
// touched (a first run's are neither: the system scopes what follows, and
// one summary event stands for them).
func (r *syncRun) createIdentities(ctx context.Context) error {
	sid := r.sys.ID
	type created struct {
		id          int64
		externalID  string
		kind        string
		owner, team *int64
	}
	var news []created
	if err := r.query(ctx, `INSERT INTO identities (system_id, external_id, name, kind, environment, criticality, status, labels, owner_hint, team_hint,
			created_at, last_used_at, updated_at, content_hash, owner_id, team_id, owner_source, owner_by, team_by, owner_rule)
		SELECT ?, s.external_id, s.name, s.kind, s.environment, s.criticality, s.status, s.labels, s.owner_hint, s.team_hint,
			s.created_at, s.last_used_at, ?, s.hash, s.owner_id, s.team_id, s.owner_source, s.owner_by, s.team_by, s.owner_rule
		FROM stage_identities s
		WHERE NOT EXISTS (SELECT 1 FROM identities x WHERE x.system_id = ? AND x.external_id = s.external_id)
		RETURNING id, external_id, kind, owner_id, team_id`, []any{sid, micro(r.now), sid}, func(rows *sql.Rows) error {
		r.res.IdentitiesCreated++
		var n created
		var owner, team sql.NullInt64
		if err := rows.Scan(&n.id, &n.externalID, &n.kind, &owner, &team); err != nil {
			return err
		}
		if owner.Valid || team.Valid {
			r.res.OwnersChanged++
		}
		if !r.first { // a first load is scoped by system afterwards; do not hold a million ids
			n.owner, n.team = fromNullID(owner), fromNullID(team)
			news = append(news, n)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, n := range news {
		r.touched[n.id] = true
		if err := r.ev.emit(ctx, steward.ActionIdentityCreated, steward.ObjectIdentity, n.id, steward.IdentityCreated{SystemID: sid, ExternalID: n.externalID,
			Kind: steward.IdentityKind(n.kind), OwnerID: n.owner, TeamID: n.team, Source: r.o.Source}); err != nil {
			return err
		}
	}
	return nil
}

// identityRow is what an identity holds, or what its staged record says.
type identityRow struct {
	id                                           int64
	name, kind, env, crit, status, ownerH, teamH string
	labels                                       sql.NullString
	created                                      sql.NullInt64 // NULL: the source never said
	owner, team                                  sql.NullInt64
	ownerSource, ownerBy, teamBy, rule           string
}

// identityChange is an identity whose staged digest differs from its own,
// or that was removed and is listed again.
type identityChange struct {
	old, new identityRow
	hash     string
}

// updateIdentities writes each identity whose staged record changed, or
// that comes back after its removal (updateIdentity).
func (r *syncRun) updateIdentities(ctx context.Context) error {
	var changes []identityChange
	if err := r.query(ctx, `SELECT x.id, x.name, x.kind, x.environment, x.criticality, x.status, x.labels, x.owner_hint, x.team_hint, x.created_at,
			x.owner_id, x.team_id, x.owner_source, x.owner_by, x.team_by, x.owner_rule,
			s.name, s.kind, s.environment, s.criticality, s.status, s.labels, s.owner_hint, s.team_hint, COALESCE(s.created_at, x.created_at), s.hash,
			s.owner_id, s.team_id, s.owner_source, s.owner_by, s.team_by, s.owner_rule
		FROM stage_identities s CROSS JOIN identities x WHERE x.system_id = ? AND x.external_id = s.external_id
		AND (x.content_hash <> s.hash OR x.status = 'removed')`, []any{r.sys.ID}, func(rows *sql.Rows) error {
		var ch identityChange
		o, n := &ch.old, &ch.new
		if err := rows.Scan(&o.id, &o.name, &o.kind, &o.env, &o.crit, &o.status, &o.labels, &o.ownerH, &o.teamH, &o.created,
			&o.owner, &o.team, &o.ownerSource, &o.ownerBy, &o.teamBy, &o.rule,
			&n.name, &n.kind, &n.env, &n.crit, &n.status, &n.labels, &n.ownerH, &n.teamH, &n.created, &ch.hash,
			&n.owner, &n.team, &n.ownerSource, &n.ownerBy, &n.teamBy, &n.rule); err != nil {
			return err
		}
		changes = append(changes, ch)
		return nil
	}); err != nil {
		return err
	}
	for i := range changes {
		if ch := &changes[i]; ch.old.ownerSource == string(steward.OwnerExplicit) {
			// Somebody assigned it: what the source now says does not move it.
			o, n := &ch.old, &ch.new
			n.owner, n.team, n.ownerSource, n.ownerBy, n.teamBy, n.rule = o.owner, o.team, o.ownerSource, o.ownerBy, o.teamBy, o.rule
		}
	}
	if err := r.writeIdentities(ctx, changes); err != nil {
		return err
	}
	for i := range changes {
		if err := r.identityChanged(ctx, &changes[i]); err != nil {
			return err
		}
	}
	return nil
}

// identityUpdates is how many changed identities one UPDATE writes on
// PostgreSQL: a statement each cost a round trip, and the identities step
// of a 1% re-sync of a million (3,333 renamed) 2.2-2.4 s against 1.5-2.0.
// SQLite runs its statements in the process, and there an UPDATE … FROM of
// a batch took the step from 0.5-0.8 s to 1.3-1.9.
const identityUpdates = 500

// writeIdentities writes the changed identities, each with its new content
// hash, no removal time and the run's time; on PostgreSQL those that set
// the same columns (changedColumns) together.
func (r *syncRun) writeIdentities(ctx context.Context, changes []identityChange) error {
	if !r.d.pg {
		for i := range changes {
			ch := &changes[i]
			cols, args := changedColumns(&ch.old, &ch.new)
			var set strings.Builder
			for _, c := range cols {
				set.WriteString(c + " = ?, ")
			}
			if err := r.exec(ctx, `UPDATE identities SET `+set.String()+`content_hash = ?, removed_at = NULL, updated_at = ? WHERE id = ?`,
				append(args, ch.hash, micro(r.now), ch.old.id)...); err != nil {
				return err
			}
		}
		return nil
	}
	type batch struct {
		cols []string
		rows [][]any // id, the columns' values, hash
	}
	var order []string
	batches := map[string]*batch{}
	for i := range changes {
		ch := &changes[i]
		cols, vals := changedColumns(&ch.old, &ch.new)
		key := strings.Join(cols, ",")
		b := batches[key]
		if b == nil {
			b = &batch{cols: cols}
			batches[key] = b
			order = append(order, key)
		}
		b.rows = append(b.rows, append(append([]any{ch.old.id}, vals...), ch.hash))
	}
	for _, key := range order {
		b := batches[key]
		// v(id, c0, …, h); the integer columns cast, for PostgreSQL, which
		// takes VALUES' parameters for text otherwise.
		names := []string{"id"}
		cast := []bool{true}
		var set strings.Builder
		for i, c := range b.cols {
			names, cast = append(names, "c"+strconv.Itoa(i)), append(cast, identityIntColumns[c])
			set.WriteString(c + " = v.c" + strconv.Itoa(i) + ", ")
		}
		names, cast = append(names, "h"), append(cast, false)
		one := make([]string, len(names))
		for i := range names {
			one[i] = "?"
			if cast[i] {
				one[i] = "CAST(? AS BIGINT)"
			}
		}
		row := "(" + strings.Join(one, ", ") + ")"
		for rows := range slices.Chunk(b.rows, identityUpdates) {
			args := make([]any, 0, len(rows)*len(names)+1)
			for _, v := range rows {
				args = append(args, v...)
			}
			args = append(args, micro(r.now))
			if err := r.exec(ctx, `WITH v(`+strings.Join(names, ", ")+`) AS (VALUES `+strings.Repeat(row+", ", len(rows)-1)+row+`)
				UPDATE identities SET `+set.String()+`content_hash = v.h, removed_at = NULL, updated_at = ? FROM v WHERE identities.id = v.id`, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// identityIntColumns are the columns changedColumns may set that hold
// integers.
var identityIntColumns = map[string]bool{"created_at": true, "owner_id": true, "team_id": true}

// identityChanged marks a changed identity touched. A new owner or team
// gets its event, and so does any other field that changed: restored,
// disabled or updated (over a bulk-loaded row only the digest may be new,
// and then there is none).
func (r *syncRun) identityChanged(ctx context.Context, ch *identityChange) error {
	o, n := ch.old, ch.new
	r.touched[o.id] = true
	if o.owner != n.owner || o.team != n.team {
		r.res.OwnersChanged++
		to := steward.OwnerDecision{OwnerID: fromNullID(n.owner), TeamID: fromNullID(n.team), Source: steward.OwnerSource(n.ownerSource),
			OwnerBy: steward.OwnerBasis(n.ownerBy), TeamBy: steward.OwnerBasis(n.teamBy), Rule: n.rule}
		if err := r.ev.emit(ctx, steward.ActionIdentityOwnerChanged, steward.ObjectIdentity, o.id,
			ownerChanged(&to, fromNullID(o.owner), fromNullID(o.team), o.ownerSource)); err != nil {
			return err
		}
	}
	diff := fieldDiff{}
	diff.add("name", o.name, n.name)
	diff.add("kind", o.kind, n.kind)
	diff.add("environment", o.env, n.env)
	diff.add("criticality", o.crit, n.crit)
	diff.add("status", o.status, n.status)
	diff.addLabels(o.labels, n.labels)
	diff.add("owner_hint", o.ownerH, n.ownerH)
	diff.add("team_hint", o.teamH, n.teamH)
	diff.add("created_at", fromNullMicro(o.created), fromNullMicro(n.created))
	if len(diff) == 0 {
		return nil // first sync over a bulk-loaded row: only the digest was new
	}
	action := steward.ActionIdentityUpdated
	switch {
	case o.status == string(steward.IdentityRemoved):
		action = steward.ActionIdentityRestored
	case n.status == string(steward.IdentityDisabled) && o.status != n.status:
		action = steward.ActionIdentityDisabled
	}
	r.res.IdentitiesUpdated++
	return r.ev.emit(ctx, action, steward.ObjectIdentity, o.id, steward.IdentityChanged{Changes: steward.Changes(diff), Source: r.o.Source})
}

// changedColumns lists, for an identity's UPDATE, the columns whose value
// differs between its row o and what its record says now (n), with their
// values. The columns that did not change are
// left out of the statement: SQLite rewrites the entries of every index on a
// column a statement sets, changed or not, and identities have an index on
// most of them (kind, environment, status, owner, team, name, created_at):
// a renamed identity rewrites one index instead of eight.
func changedColumns(o, n *identityRow) (cols []string, args []any) {
	col := func(name string, changed bool, v any) {
		if changed {
			cols, args = append(cols, name), append(args, v)
		}
	}
	col("name", o.name != n.name, n.name)
	col("kind", o.kind != n.kind, n.kind)
	col("environment", o.env != n.env, n.env)
	col("criticality", o.crit != n.crit, n.crit)
	col("status", o.status != n.status, n.status)
	col("labels", o.labels != n.labels, n.labels)
	col("owner_hint", o.ownerH != n.ownerH, n.ownerH)
	col("team_hint", o.teamH != n.teamH, n.teamH)
	col("created_at", o.created != n.created, n.created)
	col("owner_id", o.owner != n.owner, n.owner)
	col("team_id", o.team != n.team, n.team)
	col("owner_source", o.ownerSource != n.ownerSource, n.ownerSource)
	col("owner_by", o.ownerBy != n.ownerBy, n.ownerBy)
	col("team_by", o.teamBy != n.teamBy, n.teamBy)
	col("owner_rule", o.rule != n.rule, n.rule)
	return cols, args
}

// removeIdentities marks the identities the source no longer lists as
// removed (they keep their history), each with its event, and touched.
func (r *syncRun) removeIdentities(ctx context.Context) error {
	// In a delta run only the rows whose records did not come back
	// unchanged can have gone.
	unseen := ``
	if r.delta {
		unseen = ` AND x.id IN (SELECT id FROM unseen_identities)`
	}
	gone, err := r.d.ids(ctx, r.c, `SELECT x.id FROM identities x WHERE x.system_id = ? AND x.status <> 'removed'`+unseen+`
		AND NOT EXISTS (SELECT 1 FROM stage_identities s WHERE s.external_id = x.external_id) ORDER BY x.id`, r.sys.ID)
	if err != nil {
		return err
	}
	if err := r.execIDs(ctx, markIdentitiesRemoved, gone); err != nil {
		return err
	}
	for _, id := range gone {
		r.touched[id] = true
		r.res.IdentitiesRemoved++
		if err := r.ev.emit(ctx, steward.ActionIdentityRemoved, steward.ObjectIdentity, id, steward.Removed{Reason: "no longer reported by " + r.via()}); err != nil {
			return err
		}
	}
	return nil
}

// credentials creates, changes and removes credentials as the stage says,
// and then sets the credential age of every identity whose credentials it
// wrote (wrote). After a first run's inserts nothing existed to change or
// remove, and every identity is new; a partial source removes none.
func (r *syncRun) credentials(ctx context.Context) error {
	wrote := map[int64]bool{}
	if err := r.createCredentials(ctx, wrote); err != nil {
		return err
	}
	if r.first {
		// Every identity is new: take them all at once.
		return r.d.refreshCredentialAge(ctx, r.c, systemIdentities(r.sys.ID))
	}
	if err := r.updateCredentials(ctx, wrote); err != nil {
		return err
	}
	if !r.o.Partial {
		if err := r.removeCredentials(ctx, wrote); err != nil {
			return err
		}
	}
	ids := make([]int64, 0, len(wrote))
	for id := range wrote {
		ids = append(ids, id)
	}
	return r.d.refreshCredentialAgeOf(ctx, r.c, ids)
}

// createCredentials inserts the staged credentials their identities lack,
// each with its event, and adds their identities to wrote (but for a first
// run's, which are all of the system's and get one summary event).
func (r *syncRun) createCredentials(ctx context.Context, wrote map[int64]bool) error {
	type created struct {
		id, identity int64
		status       string
	}
	var news []created
	if err := r.query(ctx, `INSERT INTO credentials (identity_id, external_id, kind, status, version, created_at, last_rotated_at, last_used_at, expires_at, content_hash)
		SELECT x.id, s.external_id, s.kind, s.status, s.version, s.created_at, s.last_rotated_at, s.last_used_at, s.expires_at, s.hash
		FROM stage_credentials s CROSS JOIN identities x WHERE x.system_id = ? AND x.external_id = s.identity_ext
		AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.identity_id = x.id AND c.external_id = s.external_id)
		RETURNING id, identity_id, status`, []any{r.sys.ID}, func(rows *sql.Rows) error {
		r.res.CredentialsChanged++
		if r.first {
			return nil
		}
		var n created
		if err := rows.Scan(&n.id, &n.identity, &n.status); err != nil {
			return err
		}
		news = append(news, n)
		return nil
	}); err != nil {
		return err
	}
	for _, n := range news {
		wrote[n.identity] = true
		data := steward.CredentialCreated{IdentityID: n.identity}
		if n.status != string(steward.CredentialActive) {
			data.Status = steward.CredentialStatus(n.status)
		}
		if err := r.ev.emit(ctx, steward.ActionCredentialCreated, steward.ObjectCredential, n.id, data); err != nil {
			return err
		}
	}
	return nil
}

// updateCredentials writes each credential whose staged record changed
// (updateCredential), and adds its identity to wrote.
func (r *syncRun) updateCredentials(ctx context.Context, wrote map[int64]bool) error {
	var changes []credentialChange
	// A time the source does not give keeps the one known (a creation it
	// gave before, a rotation Steward recorded itself, see RecordRotation).
	if err := r.query(ctx, `SELECT c.id, c.identity_id, c.kind, c.status, c.version, c.created_at, c.last_rotated_at, c.expires_at,
			s.kind, s.status, s.version, COALESCE(s.created_at, c.created_at), COALESCE(s.last_rotated_at, c.last_rotated_at), s.last_rotated_at, s.expires_at, s.hash
		FROM stage_credentials s CROSS JOIN identities x CROSS JOIN credentials c
		WHERE x.system_id = ? AND x.external_id = s.identity_ext AND c.identity_id = x.id AND c.external_id = s.external_id AND c.content_hash <> s.hash`,
		[]any{r.sys.ID}, func(rows *sql.Rows) error {
			var ch credentialChange
			if err := rows.Scan(&ch.id, &ch.identity, &ch.kind, &ch.status, &ch.version, &ch.created, &ch.rotated, &ch.expires,
				&ch.newKind, &ch.newStatus, &ch.newVersion, &ch.newCreated, &ch.newRotated, &ch.givenRotated, &ch.newExpires, &ch.hash); err != nil {
				return err
			}
			changes = append(changes, ch)
			return nil
		}); err != nil {
		return err
	}
	for i := range changes {
		wrote[changes[i].identity] = true
		if err := r.updateCredential(ctx, &changes[i]); err != nil {
			return err
		}
	}
	return nil
}

// updateCredential writes one changed credential and its event, as decide
// names it: none over a bulk-loaded row whose digest alone was new.
func (r *syncRun) updateCredential(ctx context.Context, ch *credentialChange) error {
	action, diff := ch.decide()
	if err := r.exec(ctx, `UPDATE credentials SET kind = ?, status = ?, version = ?, created_at = ?, last_rotated_at = ?, expires_at = ?, content_hash = ? WHERE id = ?`,
		ch.newKind, ch.newStatus, ch.newVersion, ch.newCreated, ch.newRotated, ch.newExpires, ch.hash, ch.id); err != nil {
		return err
	}
	switch {
	case action == "":
		return nil // a first sync over bulk-loaded rows: only the digest was new
	case action == steward.ActionCredentialRotated:
		r.res.CredentialsRotated++
	default:
		r.res.CredentialsChanged++
	}
	data := steward.CredentialChanged{IdentityID: ch.identity, Changes: steward.Changes(diff)}
	if action == steward.ActionCredentialRotated && ch.noticed {
		// The source shows the secret changed but not when: between the
		// last sync that read the old one and this one.
		data.Evidence = "the secret's version changed since the last sync; the source gives no time"
	}
	return r.ev.emit(ctx, action, steward.ObjectCredential, ch.id, data)
}

// removeCredentials deletes the credentials the source no longer lists,
// each with its event, and adds their identities to wrote.
func (r *syncRun) removeCredentials(ctx context.Context, wrote map[int64]bool) error {
	type gone struct{ id, identity int64 }
	// A delta run compares the credentials of the identities it staged or
	// lost: every other identity's record, credentials and all, came back
	// unchanged.
	from := `credentials c JOIN identities x ON x.id = c.identity_id WHERE`
	if r.delta {
		t, err := r.comparedIdentities(ctx)
		if err != nil {
			return err
		}
		from = t + ` t CROSS JOIN identities x CROSS JOIN credentials c WHERE x.id = t.id AND`
	}
	all, err := collect(ctx, r, `SELECT c.id, c.identity_id FROM `+from+`
		c.identity_id = x.id AND x.system_id = ? AND c.external_id <> ''
		AND NOT EXISTS (SELECT 1 FROM stage_credentials s WHERE s.identity_ext = x.external_id AND s.external_id = c.external_id) ORDER BY c.id`, []any{r.sys.ID}, func(rows *sql.Rows, g *gone) error {
		return rows.Scan(&g.id, &g.identity)
	})
	if err != nil {
		return err
	}
	ids := make([]int64, len(all))
	for i, g := range all {
		ids[i] = g.id
	}
	if err := r.execIDs(ctx, deleteCredentials, ids); err != nil {
		return err
	}
	for _, g := range all {
		wrote[g.identity] = true
		r.res.CredentialsChanged++
		if err := r.ev.emit(ctx, steward.ActionCredentialRemoved, steward.ObjectCredential, g.id, steward.CredentialRemoved{IdentityID: g.identity, Reason: "no longer reported by " + r.via()}); err != nil {
			return err
		}
	}
	return nil
}

// credentialChange is a credential whose source record changed: what it
// held and what the source says now.
type credentialChange struct {
	id, identity                         int64
	kind, status, version                string
	created, rotated, expires            sql.NullInt64
	newKind, newStatus, newVersion, hash string
	newCreated, newRotated, newExpires   sql.NullInt64
	givenRotated                         sql.NullInt64 // the rotation time the source gave, if any
	noticed                              bool          // set by decide: a rotation known only by its version
}

// decide works out what changed and the event it is: credential.disabled or
// credential.enabled when its status changed, credential.rotated when it was
// rotated, credential.updated otherwise, or "" when nothing that an event
// shows changed.
//
// A rotation is a new last-rotated time, a new creation time (a key
// replaced under the same slot), or a new version where an old one was
// known: a secret changed by someone the source gives no time for. Then the
// time of the last rotation is not known, and is cleared rather than left
// at a rotation that is no longer the last.
func (ch *credentialChange) decide() (steward.Action, fieldDiff) {
	ch.noticed = ch.version != "" && ch.newVersion != "" && ch.newVersion != ch.version && !ch.givenRotated.Valid
	if ch.noticed {
		ch.newRotated = sql.NullInt64{}
	}
	diff := fieldDiff{}
	diff.add("kind", ch.kind, ch.newKind)
	diff.add("status", ch.status, ch.newStatus)
	diff.add("created_at", fromNullMicro(ch.created), fromNullMicro(ch.newCreated))
	diff.add("last_rotated_at", fromNullMicro(ch.rotated), fromNullMicro(ch.newRotated))
	diff.add("expires_at", fromNullMicro(ch.expires), fromNullMicro(ch.newExpires))
	_, rotated := diff["last_rotated_at"]
	_, recreated := diff["created_at"]
	_, status := diff["status"]
	switch {
	case status && ch.newStatus == string(steward.CredentialDisabled):
		return steward.ActionCredentialDisabled, diff
	case status:
		return steward.ActionCredentialEnabled, diff
	case ch.noticed || rotated || recreated && ch.created.Valid:
		return steward.ActionCredentialRotated, diff
	case len(diff) > 0:
		return steward.ActionCredentialUpdated, diff
	}
	return "", diff
}

// grants resolves the staged grants to ids, then creates, changes and
// removes grants as they say. After a first run's inserts nothing existed
// to change or remove; a partial source removes none.
func (r *syncRun) grants(ctx context.Context) error {
	if err := r.resolveGrants(ctx); err != nil {
		return err
	}
	if err := r.createGrants(ctx); err != nil {
		return err
	}
	if r.first {
		return nil // nothing existed to change or remove
	}
	if err := r.updateGrants(ctx); err != nil {
		return err
	}
	if r.o.Partial {
		return nil
	}
	return r.removeGrants(ctx, grantsGone{})
}

// resolveGrants resolves the staged grants to ids once, into
// resolved_grants: every comparison after this is on two integers through
// the grants' own unique index.
func (r *syncRun) resolveGrants(ctx context.Context) error {
	sid := r.sys.ID
	if err := r.exec(ctx, `INSERT INTO resolved_grants (identity_id, entitlement_id, type, granted_at, expires_at, hash, rsum)
		SELECT x.id, e.id, s.type, s.granted_at, s.expires_at, s.hash, s.rsum
		FROM stage_grants s CROSS JOIN identities x CROSS JOIN entitlements e
		WHERE x.system_id = ? AND x.external_id = s.identity_ext AND e.system_id = ? AND e.name = s.entitlement`, sid, sid); err != nil {
		return err
	}
	if err := r.d.indexStage(ctx, r.c, "resolved_grants"); err != nil {
		return err
	}
	// A grant Steward gave just in time is reported by its system as any
	// other membership (PostgreSQL has no expiry on one): while its JIT
	// grant is open it stays jit with the JIT grant's expiry, so that a sync
	// never makes it look standing or loses when it ends.
	return r.exec(ctx, `UPDATE resolved_grants SET type = 'jit', expires_at = j.expires_at FROM jit_grants j
		WHERE j.system_id = ? AND j.state <> 'revoked'
		AND j.identity_id = resolved_grants.identity_id AND j.entitlement_id = resolved_grants.entitlement_id`, sid)
}

// createGrants inserts the resolved grants that do not exist, each with its
// event naming the entitlement (but for a first run's: one summary event
// stands for them).
//
// They go in in the order of the grants' unique key (identity, entitlement),
// which resolved_grants is indexed on: the inserts into that index of a
// table of millions then walk it once from start to end instead of landing
// on a random page each, and the events come in that order too.
func (r *syncRun) createGrants(ctx context.Context) error {
	type created struct {
		id, identity, entitlement int64
	}
	var news []created
	// On SQLite a plain INSERT of many rows inside a transaction may
	// abort halfway (a UNIQUE or NOT NULL failure), so SQLite copies every
	// page it changes into a statement journal first, to undo the
	// statement alone: a temporary file, hundreds of milliseconds of
	// writes for a 1% re-sync's grants. OR IGNORE cannot abort, and ignores
	// nothing here: NOT EXISTS leaves out the keys that exist, and every
	// value inserted is NOT NULL in resolved_grants or COALESCEd.
	insert := `INSERT`
	if !r.d.pg {
		insert = `INSERT OR IGNORE`
	}
	if err := r.query(ctx, insert+` INTO grants (identity_id, entitlement_id, type, granted_at, expires_at, granted_via, content_hash)
		SELECT s.identity_id, s.entitlement_id, s.type, COALESCE(s.granted_at, ?), s.expires_at, ?, s.hash FROM resolved_grants s
		WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.identity_id = s.identity_id AND g.entitlement_id = s.entitlement_id)
		ORDER BY s.identity_id, s.entitlement_id
		RETURNING id, identity_id, entitlement_id`, []any{micro(r.now), r.via()}, func(rows *sql.Rows) error {
		r.res.GrantsCreated++
		if r.first {
			return nil
		}
		var n created
		if err := rows.Scan(&n.id, &n.identity, &n.entitlement); err != nil {
			return err
		}
		news = append(news, n)
		return nil
	}); err != nil {
		return err
	}
	if len(news) == 0 {
		return nil
	}
	ents, err := r.entitlementNames(ctx)
	if err != nil {
		return err
	}
	for _, n := range news {
		e := ents[n.entitlement]
		if err := r.ev.emit(ctx, steward.ActionGrantCreated, steward.ObjectGrant, n.id, steward.GrantCreated{IdentityID: n.identity, EntitlementID: n.entitlement,
			Entitlement: e.Name, Privileged: e.Privileged, Source: r.o.Source}); err != nil {
			return err
		}
	}
	return nil
}

// updateGrants writes the grants whose resolved digest differs, with an
// event for each whose fields changed.
func (r *syncRun) updateGrants(ctx context.Context) error {
	type change struct {
		id                  int64
		typ, newTyp, hash   string
		granted, newGranted int64
		expires, newExpires sql.NullInt64
	}
	changes, err := collect(ctx, r, `SELECT g.id, g.type, g.granted_at, g.expires_at, s.type, COALESCE(s.granted_at, g.granted_at), s.expires_at, s.hash
		FROM resolved_grants s CROSS JOIN grants g WHERE g.identity_id = s.identity_id AND g.entitlement_id = s.entitlement_id
		AND g.content_hash <> s.hash`, nil, func(rows *sql.Rows, ch *change) error {
		return rows.Scan(&ch.id, &ch.typ, &ch.granted, &ch.expires, &ch.newTyp, &ch.newGranted, &ch.newExpires, &ch.hash)
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if err := r.exec(ctx, `UPDATE grants SET type = ?, granted_at = ?, expires_at = ?, content_hash = ? WHERE id = ?`,
			ch.newTyp, ch.newGranted, ch.newExpires, ch.hash, ch.id); err != nil {
			return err
		}
		diff := fieldDiff{}
		diff.add("type", ch.typ, ch.newTyp)
		diff.add("granted_at", fromMicro(ch.granted), fromMicro(ch.newGranted))
		diff.add("expires_at", fromNullMicro(ch.expires), fromNullMicro(ch.newExpires))
		if len(diff) == 0 {
			continue
		}
		r.res.GrantsUpdated++
		if err := r.ev.emit(ctx, steward.ActionGrantUpdated, steward.ObjectGrant, ch.id, steward.GrantChanged{Changes: steward.Changes(diff)}); err != nil {
			return err
		}
	}
	return nil
}

// idWrite is a write a sync makes to rows it names by id (execIDs).
type idWrite int

const (
	deleteGrants          idWrite = iota // grants the source no longer lists
	deleteCredentials                    // credentials the source no longer lists
	deleteLinks                          // links the source no longer lists
	markIdentitiesRemoved                // identities the source no longer lists, removed at the run's time
)

// execIDs runs w for the rows ids names, a few hundred at a time rather
// than one statement a row.
func (r *syncRun) execIDs(ctx context.Context, w idWrite, ids []int64) error {
	var stmt string
	var args []any
	switch w {
	case deleteGrants:
		stmt = `DELETE FROM grants`
	case deleteCredentials:
		stmt = `DELETE FROM credentials`
	case deleteLinks:
		stmt = `DELETE FROM identity_links`
	case markIdentitiesRemoved:
		stmt, args = `UPDATE identities SET status = 'removed', removed_at = ?, updated_at = ?`, []any{micro(r.now), micro(r.now)}
	default:
		panic("sqlstore: unknown write by id")
	}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := r.exec(ctx, stmt+` WHERE id IN (`+int64List(ids[:n])+`)`, args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// comparedIdentities returns, for a delta run, the table of the ids of the
// identities whose credentials and links it compares: those it lost and
// those it staged. Every other identity's record, credentials and links
// and all, came back unchanged. The set is written once, at the first
// step that asks (after the identities step, which creates the staged
// ones): credentials and links both join it.
func (r *syncRun) comparedIdentities(ctx context.Context) (string, error) {
	if !r.compared {
		if err := r.d.createTemp(ctx, r.c, "compared_identities"); err != nil {
			return "", err
		}
		if err := r.exec(ctx, `INSERT INTO compared_identities (id) SELECT id FROM unseen_identities UNION
			SELECT x.id FROM stage_identities s CROSS JOIN identities x WHERE x.system_id = ? AND x.external_id = s.external_id`, r.sys.ID); err != nil {
			return "", err
		}
		if r.d.pg {
			if err := r.exec(ctx, `ANALYZE compared_identities`); err != nil {
				return "", err
			}
		}
		r.compared = true
	}
	return "compared_identities", nil
}

func (r *syncRun) entitlementNames(ctx context.Context) (map[int64]steward.Entitlement, error) {
	out := map[int64]steward.Entitlement{}
	err := r.query(ctx, `SELECT id, name, privileged FROM entitlements WHERE system_id = ?`, []any{r.sys.ID}, func(rows *sql.Rows) error {
		var e steward.Entitlement
		if err := rows.Scan(&e.ID, &e.Name, &e.Privileged); err != nil {
			return err
		}
		out[e.ID] = e
		return nil
	})
	return out, err
}

// lastUsed refreshes last-used times in bulk, without events: they are
// observations of use, not changes anyone made.
func (r *syncRun) lastUsed(ctx context.Context) error {
	sid := r.sys.ID
	if r.d.pg {
		if err := r.exec(ctx, `UPDATE identities x SET last_used_at = s.last_used_at FROM stage_identities s
			WHERE x.system_id = ? AND x.external_id = s.external_id AND s.last_used_at IS NOT NULL AND x.last_used_at IS DISTINCT FROM s.last_used_at`, sid); err != nil {
			return err
		}
		return r.exec(ctx, `UPDATE credentials c SET last_used_at = s.last_used_at FROM stage_credentials s, identities x
			WHERE x.system_id = ? AND x.external_id = s.identity_ext AND c.identity_id = x.id AND c.external_id = s.external_id
			AND s.last_used_at IS NOT NULL AND c.last_used_at IS DISTINCT FROM s.last_used_at`, sid)
	}
	// SQLite: the rows to change are found from the stage (CROSS JOIN keeps
	// that order), not by walking every identity of the system.
	if err := r.exec(ctx, `UPDATE identities SET last_used_at = (SELECT s.last_used_at FROM stage_identities s WHERE s.external_id = identities.external_id)
		WHERE id IN (SELECT x.id FROM stage_identities s CROSS JOIN identities x
			WHERE x.system_id = ? AND x.external_id = s.external_id AND s.last_used_at IS NOT NULL AND x.last_used_at IS NOT s.last_used_at)`, sid); err != nil {
		return err
	}
	return r.exec(ctx, `UPDATE credentials SET last_used_at = (SELECT s.last_used_at FROM stage_credentials s CROSS JOIN identities x
			WHERE x.id = credentials.identity_id AND s.identity_ext = x.external_id AND s.external_id = credentials.external_id)
		WHERE id IN (SELECT c.id FROM stage_credentials s CROSS JOIN identities x CROSS JOIN credentials c
			WHERE x.system_id = ? AND x.external_id = s.identity_ext AND c.identity_id = x.id AND c.external_id = s.external_id
			AND s.last_used_at IS NOT NULL AND c.last_used_at IS NOT s.last_used_at)`, sid)
}

// fieldDiff records old and new values of the fields that changed.
type fieldDiff map[string][2]any

func (f fieldDiff) add(name string, old, new any) {
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(new)
	if string(a) != string(b) {
		f[name] = [2]any{old, new}
	}
}

func (f fieldDiff) addLabels(old, new sql.NullString) {
	var a, b map[string]string
	_ = json.Unmarshal([]byte(old.String), &a)
	_ = json.Unmarshal([]byte(new.String), &b)
	if !maps.Equal(a, b) {
		f["labels"] = [2]any{a, b}
	}
}

// laps returns a function that logs, at debug level, how long each step
// of a long write took since the one before.
func (d *DB) laps(what string) func(step string) {
	last := time.Now()
	return func(step string) {
		now := time.Now()
		d.logger.Debug(what+" step", "step", step, "took", now.Sub(last).Round(time.Millisecond))
		last = now
	}
}

// timed logs, at debug level, how long a slow statement of a sync took.
func (d *DB) timed(query string) func() {
	start := time.Now()
	return func() {
		if took := time.Since(start); took > 100*time.Millisecond {
			sql := strings.Join(strings.Fields(query), " ")
			d.logger.Debug("slow sync statement", "took", took.Round(time.Millisecond), "sql", sql[:min(len(sql), 160)])
		}
	}
}
