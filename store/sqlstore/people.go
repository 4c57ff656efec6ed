package sqlstore

import (
	"context"
	"database/sql"
	"iter"
	"time"

	"github.com/stewardhq/steward"
)

// SyncPeople reconciles the people of one people source.
func (d *DB) SyncPeople(ctx context.Context, source string, people iter.Seq2[steward.SourcePerson, error]) (*steward.SyncResult, error) {
	if source == "" {
		return nil, steward.Errorf(steward.EINVALID, "a people sync needs the name of its source, e.g. ldap:corp.")
	}
	res := &steward.SyncResult{}
	started := d.now()
	tables := []string{"stage_people", "touched", "touched_people"}
	err := d.bigTx(ctx, func(c *sql.Conn) error {
		defer d.dropTemp(ctx, c, tables...)
		if err := d.createTemp(ctx, c, tables...); err != nil {
			return err
		}
		var bad problems
		st := &stager{d: d, c: c, rows: map[string][][]any{}, cols: map[string][]string{
			"stage_people": {"external_id", "name", "email", "title", "team", "manager", "status", "departed_at", "pos"},
		}}
		n := 0
		for p, err := range people {
			n++
			if err != nil {
				if err := bad.collect(err); err != nil {
					return err
				}
				continue
			}
			res.Records++
			if err := p.Normalize(); err != nil {
				bad.add(steward.ErrorMessage(steward.AtPos(p.ExternalID, err)))
				continue
			}
			if err := st.add(ctx, "stage_people", p.ExternalID, p.Name, p.Email, p.Title, p.Team, p.Manager, string(p.Status),
				microPtr(p.DepartedAt), p.ExternalID); err != nil {
				return err
			}
		}
		if err := st.flush(ctx); err != nil {
			return err
		}
		if err := d.indexStage(ctx, c, "stage_people"); err != nil {
			return err
		}
		if err := d.checkStage(ctx, c, &bad, `SELECT `+d.repeatPos(`stage_people`, `external_id`)+`, 'person ' || s.external_id || ' is listed more than once' FROM stage_people s GROUP BY s.external_id HAVING count(*) > 1`); err != nil {
			return err
		}
		if err := bad.err(); err != nil {
			return err
		}
		run := &peopleRun{d: d, c: c, source: source, res: res, ev: &eventSink{d: d, c: c}, now: d.now(), touched: map[int64]bool{}, teams: map[int64]bool{}}
		if err := run.apply(ctx); err != nil {
			return err
		}
		if err := d.writeTouched(ctx, c, "touched_people", run.touched); err != nil {
			return err
		}
		teamIDs := make([]int64, 0, len(run.teams))
		for id := range run.teams {
			teamIDs = append(teamIDs, id)
		}
		// Someone new may be the owner a tag or rule named: re-resolve the
		// identities that lack an owner or a team, those of the people who
		// changed, and those whose owner or team tag names a person or team
		// that is new or changed (a tag beats the rule that filled in
		// meanwhile). A system's next sync would not: it skips the records
		// its digest says are unchanged.
		// A new team that a rule names beats the owner's team it filled in
		// with meanwhile.
		scope := withoutOwner().or(withoutTeam(), ownedByTouchedPeople(), taggedWithTouchedPeople(), taggedWithTeams(teamIDs))
		rules, err := d.rulesIn(ctx, c)
		if err != nil {
			return err
		}
		if rulesNameTeam(rules, run.created...) {
			scope = scope.or(teamFromOwner())
		}
		changedIDs := map[int64]bool{}
		if err := d.resolveOwnersInto(ctx, c, scope, res, run.ev, changedIDs); err != nil {
			return err
		}
		if err := d.writeTouched(ctx, c, "touched", changedIDs); err != nil {
			return err
		}
		gaps, err := d.refreshGaps(ctx, c, run.ev, ownedByTouchedPeople().or(touchedIdentities(), teamsIdentities(teamIDs)))
		if err != nil {
			return err
		}
		res.GapsOpened, res.GapsClosed = gaps.opened, gaps.closed
		res.Events = run.ev.n
		if err := run.ev.flush(ctx); err != nil {
			return err
		}
		if changed(res) {
			if err := d.appendEvent(ctx, c, steward.ActionPeopleSynced, steward.ObjectPeople, source, steward.PeopleSynced{Source: source, Result: res}); err != nil {
				return err
			}
			res.Events++
		}
		return d.recordRun(ctx, c, source, nil, started, res)
	})
	if err != nil {
		d.recordFailure(ctx, source, nil, started, err)
		return nil, err
	}
	return res, nil
}

type peopleRun struct {
	d       *DB
	c       *sql.Conn
	source  string
	res     *steward.SyncResult
	ev      *eventSink
	now     time.Time
	touched map[int64]bool // people whose status or team changed
	teams   map[int64]bool // teams whose membership changed
	created []string       // the names of the teams it created
}

func (r *peopleRun) apply(ctx context.Context) error {
	d, c, now := r.d, r.c, micro(r.now)
	type named struct {
		id   int64
		name string
	}
	var teams []named
	rows, err := c.QueryContext(ctx, d.q(`INSERT INTO teams (name, display_name, created_at)
		SELECT s.team, s.team, ? FROM (SELECT DISTINCT team FROM stage_people WHERE team <> '') s
		WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.name = s.team) RETURNING id, name`), now)
	if err != nil {
		return err
	}
	for rows.Next() {
		var t named
		if err := rows.Scan(&t.id, &t.name); err != nil {
			rows.Close()
			return err
		}
		teams = append(teams, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range teams {
		r.teams[t.id] = true // a tag may name it
		r.created = append(r.created, t.name)
		if err := r.ev.emit(ctx, steward.ActionTeamCreated, steward.ObjectTeam, t.id, steward.TeamCreated{Name: t.name, Source: r.source}); err != nil {
			return err
		}
	}

	var created []named
	rows, err = c.QueryContext(ctx, d.q(`INSERT INTO people (external_id, name, email, title, team_id, status, departed_at, created_at, source)
		SELECT s.external_id, s.name, s.email, s.title, (SELECT t.id FROM teams t WHERE t.name = s.team), s.status,
			CASE WHEN s.status = 'departed' THEN COALESCE(s.departed_at, ?) END, ?, ?
		FROM stage_people s WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.external_id = s.external_id)
		RETURNING id, external_id`), now, now, r.source)
	if err != nil {
		return err
	}
	for rows.Next() {
		var p named
		if err := rows.Scan(&p.id, &p.name); err != nil {
			rows.Close()
			return err
		}
		created = append(created, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range created {
		r.res.PeopleCreated++
		r.touched[p.id] = true
		if err := r.ev.emit(ctx, steward.ActionPersonCreated, steward.ObjectPerson, p.id, steward.PersonCreated{ExternalID: p.name, Source: r.source}); err != nil {
			return err
		}
	}

	type change struct {
		id                                        int64
		name, email, title, team, manager, status [2]string
		oldTeamID, newTeamID                      sql.NullInt64
		source                                    string
	}
	var changes []change
	rows, err = c.QueryContext(ctx, d.q(`SELECT p.id, p.name, s.name, p.email, s.email, p.title, s.title, COALESCE(t.name, ''), s.team,
			COALESCE(m.external_id, ''), s.manager, p.status, s.status, p.team_id, nt.id, p.source
		FROM stage_people s JOIN people p ON p.external_id = s.external_id
		LEFT JOIN teams t ON t.id = p.team_id LEFT JOIN teams nt ON nt.name = s.team
		LEFT JOIN people m ON m.id = p.manager_id
		WHERE p.name <> s.name OR p.email <> s.email OR p.title <> s.title OR COALESCE(t.name, '') <> s.team
			OR COALESCE(m.external_id, '') <> s.manager OR p.status <> s.status OR p.source <> ?`), r.source)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ch change
		if err := rows.Scan(&ch.id, &ch.name[0], &ch.name[1], &ch.email[0], &ch.email[1], &ch.title[0], &ch.title[1], &ch.team[0], &ch.team[1],
			&ch.manager[0], &ch.manager[1], &ch.status[0], &ch.status[1], &ch.oldTeamID, &ch.newTeamID, &ch.source); err != nil {
			rows.Close()
			return err
		}
		changes = append(changes, ch)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ch := range changes {
		departed := "departed_at"
		switch {
		case ch.status[0] != "departed" && ch.status[1] == "departed":
			departed = "?"
		case ch.status[1] != "departed":
			departed = "NULL"
		}
		args := []any{ch.name[1], ch.email[1], ch.title[1], fromNullID(ch.newTeamID), ch.status[1], r.source}
		if departed == "?" {
			args = append(args, now)
		}
		args = append(args, ch.id)
		if _, err := c.ExecContext(ctx, d.q(`UPDATE people SET name = ?, email = ?, title = ?, team_id = ?, status = ?, source = ?, departed_at = `+departed+` WHERE id = ?`), args...); err != nil {
			return err
		}
		diff := fieldDiff{}
		diff.add("name", ch.name[0], ch.name[1])
		diff.add("email", ch.email[0], ch.email[1])
		diff.add("title", ch.title[0], ch.title[1])
		diff.add("team", ch.team[0], ch.team[1])
		diff.add("manager", ch.manager[0], ch.manager[1])
		diff.add("status", ch.status[0], ch.status[1])
		action := steward.ActionPersonUpdated
		switch {
		case ch.status[0] != ch.status[1] && ch.status[1] == "departed":
			action = steward.ActionPersonDeparted
		case ch.status[0] != ch.status[1]:
			action = steward.ActionPersonReturned
		}
		if ch.email[0] != ch.email[1] {
			r.touched[ch.id] = true // an owner tag may name the new address
		}
		if ch.status[0] != ch.status[1] || ch.team[0] != ch.team[1] {
			r.touched[ch.id] = true
			if ch.oldTeamID.Valid {
				r.teams[ch.oldTeamID.Int64] = true
			}
			if ch.newTeamID.Valid {
				r.teams[ch.newTeamID.Int64] = true
			}
		}
		if action == steward.ActionPersonDeparted {
			r.res.PeopleDeparted++
		} else {
			r.res.PeopleUpdated++
		}
		if len(diff) == 0 {
			continue // only the source changed hands
		}
		if err := r.ev.emit(ctx, action, steward.ObjectPerson, ch.id, steward.PersonChanged{Changes: steward.Changes(diff), Source: r.source}); err != nil {
			return err
		}
	}

	// Managers, once every person of the stream exists. A manager outside
	// the source (another directory, a search base that excludes them) is
	// left unset rather than failing the sync.
	upd := `UPDATE people SET manager_id = m.id FROM stage_people s LEFT JOIN people m ON m.external_id = s.manager
		WHERE people.external_id = s.external_id AND people.manager_id IS NOT m.id`
	if d.pg {
		upd = `UPDATE people p SET manager_id = m.id FROM stage_people s LEFT JOIN people m ON m.external_id = s.manager
			WHERE p.external_id = s.external_id AND p.manager_id IS DISTINCT FROM m.id`
	}
	if _, err := c.ExecContext(ctx, upd); err != nil {
		return err
	}

	// People of this source that it no longer lists have left.
	type gone struct {
		id   int64
		team sql.NullInt64
	}
	var left []gone
	rows, err = c.QueryContext(ctx, d.q(`SELECT p.id, p.team_id FROM people p WHERE p.source = ? AND p.status = 'active'
		AND NOT EXISTS (SELECT 1 FROM stage_people s WHERE s.external_id = p.external_id) ORDER BY p.id`), r.source)
	if err != nil {
		return err
	}
	for rows.Next() {
		var g gone
		if err := rows.Scan(&g.id, &g.team); err != nil {
			rows.Close()
			return err
		}
		left = append(left, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range left {
		if _, err := c.ExecContext(ctx, d.q(`UPDATE people SET status = 'departed', departed_at = ? WHERE id = ?`), now, g.id); err != nil {
			return err
		}
		r.touched[g.id] = true
		if g.team.Valid {
			r.teams[g.team.Int64] = true
		}
		r.res.PeopleDeparted++
		if err := r.ev.emit(ctx, steward.ActionPersonDeparted, steward.ObjectPerson, g.id, steward.PersonChanged{Reason: "no longer listed by " + r.source, Source: r.source}); err != nil {
			return err
		}
	}
	return nil
}
