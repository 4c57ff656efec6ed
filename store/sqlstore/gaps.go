package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// gapNHI selects the identities that can have an ownership gap: active and
// non-human. A person's own login is owned by that person by definition.
const gapNHI = `x.status = 'active' AND x.kind <> 'human'`

// openGapTask is the SQL condition of an open ownership gap task k.
const openGapTask = `k.status = 'open' AND k.kind = 'ownership_gap'`

// gapCond is the SQL condition, over identity x, of each gap kind.
var gapCond = map[steward.GapKind]string{
	steward.GapUnowned:       `x.owner_id IS NULL`,
	steward.GapOwnerDeparted: `EXISTS (SELECT 1 FROM people p WHERE p.id = x.owner_id AND p.status = 'departed')`,
	steward.GapTeamInactive:  `x.team_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM people p WHERE p.team_id = x.team_id AND p.status = 'active')`,
}

type gapCounts struct{ opened, closed int }

// refreshGaps brings the open gap tasks of the identities that scope
// selects in line with the inventory: it opens a
// task, due after steward.GapDue, for each new gap and closes the tasks of
// gaps that healed, each with its audit event. Every change that can open or
// heal a gap calls it for what it touched, in the same transaction.
// ev receives the task events; a quiet sink (a first load) only counts them.
func (d *DB) refreshGaps(ctx context.Context, q querier, ev *eventSink, scope identityScope) (gapCounts, error) {
	return d.refreshGapsOf(ctx, q, ev, false, scope)
}

// refreshGapsOf is refreshGaps; fresh says the identities in scope are new
// (a first load), so none has a task to close: a million-identity load
// saves three passes over its rows.
func (d *DB) refreshGapsOf(ctx context.Context, q querier, ev *eventSink, fresh bool, of identityScope) (gapCounts, error) {
	scope, args := of.where()
	var n gapCounts
	now := d.now()
	// The tasks to close or to move with their identity's team are those
	// of the identities in scope. SQLite finds them by walking every open
	// task (tasks_status) and testing its identity, as if few tasks were
	// open: unless Optimize ran after they grew, it has no statistics of
	// tasks, and an equality on an index's first column looks selective.
	// For a scope of a few ids (a 1% re-sync's touched identities, an API
	// write's one) that read 100,000 open tasks and their identities four
	// times, 0.3-0.4 s of the re-sync; their index on the identity looks
	// up each identity's instead.
	tasks := `tasks`
	if !d.pg && of.ofIDs() {
		tasks = `tasks INDEXED BY tasks_open_gap`
	}
	for _, gap := range steward.GapKinds {
		cond := gapCond[gap]
		due := now.Add(steward.GapDue[gap])
		// One statement opens every new gap of this kind and returns the
		// tasks it made, for their events.
		rows, err := q.QueryContext(ctx, d.q(`INSERT INTO tasks (kind, gap, identity_id, team_id, status, opened_at, due_at)
			SELECT 'ownership_gap', ?, x.id, x.team_id, 'open', ?, ? FROM identities x WHERE (`+scope+`) AND `+gapNHI+` AND `+cond+`
			AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.identity_id = x.id AND k.gap = ? AND `+openGapTask+`)
			ORDER BY x.id RETURNING id, identity_id`), append([]any{string(gap), micro(now), micro(due)}, append(args, string(gap))...)...)
		if err != nil {
			return n, err
		}
		type opened struct{ task, identity int64 }
		var open []opened
		for rows.Next() {
			n.opened++
			if ev.quiet {
				continue
			}
			var o opened
			if err := rows.Scan(&o.task, &o.identity); err != nil {
				rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
				return n, err
			}
			open = append(open, o)
		}
		rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
		if err := rows.Err(); err != nil {
			return n, err
		}
		for _, o := range open {
			if err := ev.emit(ctx, steward.ActionTaskOpened, steward.ObjectTask, o.task, steward.TaskOpened{Kind: steward.TaskKindOwnershipGap, Gap: gap, IdentityID: o.identity, DueAt: due}); err != nil {
				return n, err
			}
		}
		if fresh {
			continue
		}
		closed, err := d.ids(ctx, q, `UPDATE `+tasks+` SET status = 'done', closed_at = ?
			WHERE status = 'open' AND kind = 'ownership_gap' AND gap = ?
			AND identity_id IN (SELECT x.id FROM identities x WHERE (`+scope+`) AND NOT (`+gapNHI+` AND `+cond+`))
			RETURNING id`, append([]any{micro(now), string(gap)}, args...)...)
		if err != nil {
			return n, err
		}
		for _, id := range closed {
			if err := ev.emit(ctx, steward.ActionTaskClosed, steward.ObjectTask, id, steward.TaskClosed{Gap: gap, Reason: "gap healed"}); err != nil {
				return n, err
			}
			n.closed++
		}
	}
	if fresh {
		return n, nil
	}
	// An open task carries its identity's team (the Ownership page's
	// index): follow the identities in scope that moved.
	_, err := q.ExecContext(ctx, d.q(`UPDATE `+tasks+` SET team_id = x.team_id FROM identities x
		WHERE x.id = tasks.identity_id AND tasks.status = 'open' AND tasks.kind = 'ownership_gap'
		AND (`+scope+`) AND x.team_id IS DISTINCT FROM tasks.team_id`), args...)
	return n, err
}

// gapsInLine reports whether the open gap tasks are exactly the gaps the
// inventory has, each with its identity's team. It only reads.
func (d *DB) gapsInLine(ctx context.Context) (bool, error) {
	queries := []string{`SELECT 1 FROM tasks k JOIN identities x ON x.id = k.identity_id WHERE ` + openGapTask +
		` AND x.team_id IS DISTINCT FROM k.team_id LIMIT 1`}
	var args [][]any
	args = append(args, nil)
	for _, gap := range steward.GapKinds {
		cond := gapCond[gap]
		queries = append(queries,
			`SELECT 1 FROM identities x WHERE `+gapNHI+` AND `+cond+`
			AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.identity_id = x.id AND k.gap = ? AND `+openGapTask+`) LIMIT 1`,
			`SELECT 1 FROM tasks k JOIN identities x ON x.id = k.identity_id WHERE `+openGapTask+` AND k.gap = ?
			AND NOT (`+gapNHI+` AND `+cond+`) LIMIT 1`)
		args = append(args, []any{string(gap)}, []any{string(gap)})
	}
	for i, q := range queries {
		var one int
		err := d.read.QueryRowContext(ctx, d.q(q), args[i]...).Scan(&one)
		if err == nil {
			return false, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
	}
	return true, nil
}

// ids runs a query that selects one id column.
func (d *DB) ids(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// RefreshGaps recomputes every gap task. Every write keeps the tasks of
// what it touched in line, so this pass normally has nothing to do: it
// first looks, on a reader, for anything out of line, and takes SQLite's
// one writer (4 s at a million identities, which every API write and sync
// would wait for) only if it finds something. (On PostgreSQL the pass itself
// writes nothing when nothing is out of line, and blocks nobody.)
func (d *DB) RefreshGaps(ctx context.Context) (*steward.SyncResult, error) {
	res := &steward.SyncResult{}
	if !d.pg { // PostgreSQL's pass takes no lock that anyone waits for
		if ok, err := d.gapsInLine(ctx); err != nil || ok {
			return res, err
		}
	}
	err := d.bulkTx(ctx, func(c *sql.Conn) error {
		ev := &eventSink{d: d, c: c}
		n, err := d.refreshGaps(ctx, c, ev, everyIdentity())
		if err != nil {
			return err
		}
		res.GapsOpened, res.GapsClosed, res.Events = n.opened, n.closed, n.opened+n.closed
		return ev.flush(ctx)
	})
	return res, err
}

// Gaps lists open ownership gaps in task order (oldest first), with the
// owner a person would most likely assign: the departed owner's manager, or
// else the team's manager.
func (d *DB) Gaps(ctx context.Context, f steward.GapFilter) (*steward.Page[steward.GapView], error) {
	if f.Gap != "" {
		if err := f.Gap.Validate(); err != nil {
			return nil, err
		}
	}
	after, limit, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	where, args := []string{"k.id > ?", openGapTask}, []any{after}
	from := `tasks k`
	if f.Gap != "" {
		where, args = append(where, "k.gap = ?"), append(args, string(f.Gap))
		if !d.pg {
			// SQLite has no samples of values (stat1Only), so it plans one
			// way for every kind: in id order, testing each open task, which
			// reads them all for a kind that has few or none (17-23 ms at
			// 141,781 open tasks). A kind with fewer than fewGapsMax open
			// tasks is read through its index and sorted instead; counting
			// up to the bound reads at most that many index entries.
			var n int
			if err := d.queryRow(ctx, d.reader(ctx), `SELECT count(*) FROM (SELECT 1 FROM tasks WHERE gap = ? AND status = 'open' LIMIT ?)`,
				string(f.Gap), d.fewGapsMax()).Scan(&n); err != nil {
				return nil, err
			}
			if n < d.fewGapsMax() {
				from = `tasks k INDEXED BY tasks_gap_identity`
			}
		}
	}
	switch {
	case f.TeamID == -1:
		where = append(where, "k.team_id IS NULL")
	case f.TeamID > 0:
		where, args = append(where, "k.team_id = ?"), append(args, f.TeamID)
	case f.TeamID < -1:
		return nil, steward.Errorf(steward.EINVALID, "team must be a team id, or -1 for identities without a team.")
	}
	args = append(args, limit+1)
	query := `SELECT k.id, k.gap, k.identity_id, k.status, k.opened_at, k.due_at, x.name, x.kind, s.name, x.team_id, t.name, x.owner_id, p.name,
			COALESCE(CASE WHEN p.status = 'departed' THEN p.manager_id END, t.manager_id), COALESCE(pm.name, tm.name)
		FROM ` + from + ` JOIN identities x ON x.id = k.identity_id JOIN systems s ON s.id = x.system_id
		LEFT JOIN teams t ON t.id = x.team_id LEFT JOIN people p ON p.id = x.owner_id
		LEFT JOIN people pm ON pm.id = CASE WHEN p.status = 'departed' THEN p.manager_id END
		LEFT JOIN people tm ON tm.id = t.manager_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY k.id LIMIT ?`
	return fetchPage(ctx, d, false, query, args, limit, scanGap, func(g *steward.GapView) int64 { return g.ID })
}

func scanGap(r scanner) (steward.GapView, error) {
	var g steward.GapView
	var opened, due int64
	var team, owner, suggested sql.NullInt64
	var teamName, ownerName, suggestedName sql.NullString
	if err := r.Scan(&g.ID, &g.Gap, &g.IdentityID, &g.Status, &opened, &due, &g.IdentityName, &g.IdentityKind, &g.SystemName,
		&team, &teamName, &owner, &ownerName, &suggested, &suggestedName); err != nil {
		return g, err
	}
	g.Kind, g.OpenedAt, g.DueAt = steward.TaskKindOwnershipGap, fromMicro(opened), fromMicro(due)
	g.TeamID, g.TeamName, g.OwnerID, g.OwnerName = fromNullID(team), teamName.String, fromNullID(owner), ownerName.String
	g.SuggestedOwnerID, g.SuggestedOwner = fromNullID(suggested), suggestedName.String
	return g, nil
}

// SetOwner assigns an identity's owner and team explicitly, and queues the
// job that tells the new and the previous owner, in the same transaction.
func (d *DB) SetOwner(ctx context.Context, identityID int64, a steward.OwnerAssignment) (*steward.IdentityView, error) {
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		var oldOwner, oldTeam sql.NullInt64
		var oldSource string
		err := tx.QueryRowContext(ctx, d.q(`SELECT owner_id, team_id, owner_source FROM identities WHERE id = ?`), identityID).Scan(&oldOwner, &oldTeam, &oldSource)
		if err == sql.ErrNoRows {
			return steward.Errorf(steward.ENOTFOUND, "identity %d does not exist.", identityID)
		} else if err != nil {
			return err
		}
		to, err := d.assignOwner(ctx, tx, a.OwnerID, a.TeamID, "person")
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE identities SET owner_id = ?, team_id = ?, owner_source = ?, owner_by = ?, team_by = ?, owner_rule = ?,
			updated_at = ? WHERE id = ?`), append(ownerVals(&to), micro(d.now()), identityID)...); err != nil {
			return err
		}
		if err := d.appendEvent(ctx, tx, steward.ActionIdentityOwnerChanged, steward.ObjectIdentity, idStr(identityID),
			ownerChanged(&to, fromNullID(oldOwner), fromNullID(oldTeam), oldSource)); err != nil {
			return err
		}
		if err := d.queueOwnerNotice(ctx, tx, identityID, fromNullID(oldOwner), a.OwnerID); err != nil {
			return err
		}
		ev := &eventSink{d: d, c: tx}
		if _, err = d.refreshGaps(ctx, tx, ev, oneIdentity(identityID)); err != nil {
			return err
		}
		return ev.flush(ctx)
	})
	if err != nil {
		return nil, err
	}
	return d.Identity(ctx, identityID)
}

// Attest records the owner's confirmation of an identity.
func (d *DB) Attest(ctx context.Context, identityID int64, a steward.Attestation) (*steward.IdentityView, error) {
	if err := checkText(a.Note, 2048); err != nil {
		return nil, err
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		var owner sql.NullInt64
		err := tx.QueryRowContext(ctx, d.q(`SELECT owner_id FROM identities WHERE id = ?`), identityID).Scan(&owner)
		if err == sql.ErrNoRows {
			return steward.Errorf(steward.ENOTFOUND, "identity %d does not exist.", identityID)
		} else if err != nil {
			return err
		}
		if !owner.Valid {
			return steward.Errorf(steward.EINVALID, "identity %d has no owner to attest it; assign one first.", identityID)
		} else if owner.Int64 != a.PersonID {
			return steward.Errorf(steward.EINVALID, "person %d is not the owner of identity %d; only its owner (person %d) can attest it.", a.PersonID, identityID, owner.Int64)
		}
		now := d.now()
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE identities SET attested_at = ?, attested_by = ? WHERE id = ?`), micro(now), a.PersonID, identityID); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionIdentityAttested, steward.ObjectIdentity, idStr(identityID), steward.IdentityAttested(a))
	})
	if err != nil {
		return nil, err
	}
	return d.Identity(ctx, identityID)
}

// checkText validates a free-text note: UTF-8 and at most max bytes.
func checkText(v string, max int) error {
	if len(v) > max {
		return steward.Errorf(steward.EINVALID, "note is %d bytes; the limit is %d.", len(v), max)
	} else if !utf8.ValidString(v) {
		return steward.Errorf(steward.EINVALID, "note is not valid UTF-8.")
	}
	return nil
}
