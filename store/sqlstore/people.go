package sqlstore

import (
	"context"
	"database/sql"
	"iter"
	"time"

	"github.com/stewardhq/steward"
)

// SyncPeople reconciles the people of one people source: the stream is
// staged and checked whole (a bad record changes nothing), then the run's
// steps (peopleRun.sync) write it, all in one transaction.
func (d *DB) SyncPeople(ctx context.Context, source string, people iter.Seq2[steward.SourcePerson, error]) (*steward.SyncResult, error) {
	if source == "" {
		return nil, steward.Errorf(steward.EINVALID, "a people sync needs the name of its source, e.g. ldap:corp.")
	}
	res := &steward.SyncResult{}
	started := d.now()
	tables := []string{"stage_people", "touched", "touched_people"}
	err := d.bulkTx(ctx, func(c *sql.Conn) error {
		defer d.dropTemp(ctx, c, tables...)
		if err := d.createTemp(ctx, c, tables...); err != nil {
			return err
		}
		if err := d.stagePeople(ctx, c, people, res); err != nil {
			return err
		}
		run := &peopleRun{d: d, c: c, source: source, res: res, ev: &eventSink{d: d, c: c}, now: d.now(), started: started,
			touched: map[int64]bool{}, teams: map[int64]bool{}}
		return run.sync(ctx)
	})
	if err != nil {
		d.recordFailure(ctx, source, nil, started, err)
		return nil, err
	}
	return res, nil
}

// stagePeople loads the stream into stage_people and checks it: every
// record the stream or a check finds unusable is reported at once, and
// then nothing is written.
func (d *DB) stagePeople(ctx context.Context, c *sql.Conn, people iter.Seq2[steward.SourcePerson, error], res *steward.SyncResult) error {
	var bad problems
	st := &stager{d: d, c: c, rows: map[string][][]any{}, cols: map[string][]string{
		"stage_people": {"external_id", "name", "email", "title", "team", "manager", "status", "departed_at", "pos"},
	}}
	for p, err := range people {
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
	if err := d.checkStage(ctx, c, &bad, `SELECT `+d.repeatPos(`stage_people`, `external_id`)+` AS pos, 'person ' || s.external_id || ' is listed more than once' AS msg FROM stage_people s GROUP BY s.external_id HAVING count(*) > 1`); err != nil {
		return err
	}
	return bad.err()
}

// peopleRun is one SyncPeople run once its stream is staged.
type peopleRun struct {
	d       *DB
	c       *sql.Conn
	source  string
	res     *steward.SyncResult
	ev      *eventSink
	now     time.Time
	started time.Time      // when the run began, for its record
	touched map[int64]bool // people whose status or team changed
	teams   map[int64]bool // teams whose membership changed
	teamIDs []int64        // teams, as a list (noteTouched)
	created []string       // the names of the teams it created
}

// sync runs the steps of a people sync in order: teams before the people
// who join them, managers once every person exists, then what the changed
// people mean for the identities they own or are named by, and the record
// of the run.
func (r *peopleRun) sync(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		r.createTeams,
		r.createPeople,
		r.updatePeople,
		r.linkManagers,
		r.departPeople,
		r.noteTouched,
		r.reresolveOwners,
		r.refreshGaps,
		r.finish,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// createTeams creates the teams the staged people name that do not exist
// yet, each with its event. A tag or rule may name one: they are noted for
// the re-resolution.
func (r *peopleRun) createTeams(ctx context.Context) error {
	type named struct {
		id   int64
		name string
	}
	teams, err := collectIn(ctx, r.d, r.c, `INSERT INTO teams (name, display_name, created_at)
		SELECT s.team, s.team, ? FROM (SELECT DISTINCT team FROM stage_people WHERE team <> '') s
		WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.name = s.team) RETURNING id, name`, []any{micro(r.now)}, func(rows *sql.Rows, t *named) error {
		return rows.Scan(&t.id, &t.name)
	})
	if err != nil {
		return err
	}
	for _, t := range teams {
		r.teams[t.id] = true // a tag may name it
		r.created = append(r.created, t.name)
		if err := r.ev.emit(ctx, steward.ActionTeamCreated, steward.ObjectTeam, t.id, steward.TeamCreated{Name: t.name, Source: r.source}); err != nil {
			return err
		}
	}
	return nil
}

// createPeople creates the staged people who do not exist yet, each with
// its event, in their teams.
func (r *peopleRun) createPeople(ctx context.Context) error {
	type named struct {
		id  int64
		ext string
	}
	now := micro(r.now)
	created, err := collectIn(ctx, r.d, r.c, `INSERT INTO people (external_id, name, email, title, team_id, status, departed_at, created_at, source)
		SELECT s.external_id, s.name, s.email, s.title, (SELECT t.id FROM teams t WHERE t.name = s.team), s.status,
			CASE WHEN s.status = 'departed' THEN COALESCE(s.departed_at, ?) END, ?, ?
		FROM stage_people s WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.external_id = s.external_id)
		RETURNING id, external_id`, []any{now, now, r.source}, func(rows *sql.Rows, p *named) error {
		return rows.Scan(&p.id, &p.ext)
	})
	if err != nil {
		return err
	}
	for _, p := range created {
		r.res.PeopleCreated++
		r.touched[p.id] = true
		if err := r.ev.emit(ctx, steward.ActionPersonCreated, steward.ObjectPerson, p.id, steward.PersonCreated{ExternalID: p.ext, Source: r.source}); err != nil {
			return err
		}
	}
	return nil
}

// personChange is a person whose staged record differs from the stored
// one: [0] what is stored, [1] what the source says.
type personChange struct {
	id                                        int64
	name, email, title, team, manager, status [2]string
	oldTeamID, newTeamID                      sql.NullInt64
	source                                    string
}

// updatePeople writes the people whose record changed, or who came from
// another source (which this one takes over).
func (r *peopleRun) updatePeople(ctx context.Context) error {
	changes, err := collectIn(ctx, r.d, r.c, `SELECT p.id, p.name, s.name, p.email, s.email, p.title, s.title, COALESCE(t.name, ''), s.team,
			COALESCE(m.external_id, ''), s.manager, p.status, s.status, p.team_id, nt.id, p.source
		FROM stage_people s JOIN people p ON p.external_id = s.external_id
		LEFT JOIN teams t ON t.id = p.team_id LEFT JOIN teams nt ON nt.name = s.team
		LEFT JOIN people m ON m.id = p.manager_id
		WHERE p.name <> s.name OR p.email <> s.email OR p.title <> s.title OR COALESCE(t.name, '') <> s.team
			OR COALESCE(m.external_id, '') <> s.manager OR p.status <> s.status OR p.source <> ?`, []any{r.source}, func(rows *sql.Rows, ch *personChange) error {
		return rows.Scan(&ch.id, &ch.name[0], &ch.name[1], &ch.email[0], &ch.email[1], &ch.title[0], &ch.title[1], &ch.team[0], &ch.team[1],
			&ch.manager[0], &ch.manager[1], &ch.status[0], &ch.status[1], &ch.oldTeamID, &ch.newTeamID, &ch.source)
	})
	if err != nil {
		return err
	}
	for i := range changes {
		if err := r.updatePerson(ctx, &changes[i]); err != nil {
			return err
		}
	}
	return nil
}

// updatePerson writes one changed person and its event: departed or
// returned when the status changed. A person whose e-mail, status or team
// changed is noted, with both teams, for the re-resolution.
func (r *peopleRun) updatePerson(ctx context.Context, ch *personChange) error {
	now := micro(r.now)
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
	if _, err := r.c.ExecContext(ctx, r.d.q(`UPDATE people SET name = ?, email = ?, title = ?, team_id = ?, status = ?, source = ?, departed_at = `+departed+` WHERE id = ?`), args...); err != nil {
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
		return nil // only the source changed hands
	}
	return r.ev.emit(ctx, action, steward.ObjectPerson, ch.id, steward.PersonChanged{Changes: steward.Changes(diff), Source: r.source})
}

// linkManagers sets managers, once every person of the stream exists. A
// manager outside the source (another directory, a search base that
// excludes them) is left unset rather than failing the sync.
func (r *peopleRun) linkManagers(ctx context.Context) error {
	upd := `UPDATE people SET manager_id = m.id FROM stage_people s LEFT JOIN people m ON m.external_id = s.manager
		WHERE people.external_id = s.external_id AND people.manager_id IS NOT m.id`
	if r.d.pg {
		upd = `UPDATE people p SET manager_id = m.id FROM stage_people s LEFT JOIN people m ON m.external_id = s.manager
			WHERE p.external_id = s.external_id AND p.manager_id IS DISTINCT FROM m.id`
	}
	_, err := r.c.ExecContext(ctx, upd)
	return err
}

// departPeople marks the people of this source that it no longer lists as
// departed, each with its event.
func (r *peopleRun) departPeople(ctx context.Context) error {
	type gone struct {
		id   int64
		team sql.NullInt64
	}
	left, err := collectIn(ctx, r.d, r.c, `SELECT p.id, p.team_id FROM people p WHERE p.source = ? AND p.status = 'active'
		AND NOT EXISTS (SELECT 1 FROM stage_people s WHERE s.external_id = p.external_id) ORDER BY p.id`, []any{r.source}, func(rows *sql.Rows, g *gone) error {
		return rows.Scan(&g.id, &g.team)
	})
	if err != nil {
		return err
	}
	for _, g := range left {
		if _, err := r.c.ExecContext(ctx, r.d.q(`UPDATE people SET status = 'departed', departed_at = ? WHERE id = ?`), micro(r.now), g.id); err != nil {
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

// noteTouched stores the people the run touched in touched_people, and
// lists the teams it touched, for the scopes of the steps that follow.
func (r *peopleRun) noteTouched(ctx context.Context) error {
	if err := r.d.writeTouched(ctx, r.c, "touched_people", r.touched); err != nil {
		return err
	}
	r.teamIDs = make([]int64, 0, len(r.teams))
	for id := range r.teams {
		r.teamIDs = append(r.teamIDs, id)
	}
	return nil
}

// reresolveOwners re-resolves the identities whose owner or team someone
// new may now be: those that lack an owner or a team, those of the people
// who changed, and those whose owner or team tag names a person or team
// that is new or changed (a tag beats the rule that filled in meanwhile).
// A system's next sync would not: it skips the records its digest says are
// unchanged. A new team that a rule names beats the owner's team it filled
// in with meanwhile. The identities that changed go into touched.
func (r *peopleRun) reresolveOwners(ctx context.Context) error {
	scope := withoutOwner().or(withoutTeam(), ownedByTouchedPeople(), taggedWithTouchedPeople(), taggedWithTeams(r.teamIDs))
	rules, err := r.d.rulesIn(ctx, r.c)
	if err != nil {
		return err
	}
	if rulesNameTeam(rules, r.created...) {
		scope = scope.or(teamFromOwner())
	}
	changedIDs := map[int64]bool{}
	if err := r.d.resolveOwnersInto(ctx, r.c, scope, r.res, r.ev, changedIDs); err != nil {
		return err
	}
	return r.d.writeTouched(ctx, r.c, "touched", changedIDs)
}

// refreshGaps brings in line the gaps of the identities whose owner, owner's
// status or team's membership the run changed.
func (r *peopleRun) refreshGaps(ctx context.Context) error {
	gaps, err := r.d.refreshGaps(ctx, r.c, r.ev, ownedByTouchedPeople().or(touchedIdentities(), teamsIdentities(r.teamIDs)))
	if err != nil {
		return err
	}
	r.res.GapsOpened, r.res.GapsClosed = gaps.opened, gaps.closed
	return nil
}

// finish appends the run's events, its summary event when it changed
// anything, and the record of the run.
func (r *peopleRun) finish(ctx context.Context) error {
	r.res.Events = r.ev.n
	if err := r.ev.flush(ctx); err != nil {
		return err
	}
	if changed(r.res) {
		if err := r.d.appendEvent(ctx, r.c, steward.ActionPeopleSynced, steward.ObjectPeople, r.source, steward.PeopleSynced{Source: r.source, Result: r.res}); err != nil {
			return err
		}
		r.res.Events++
	}
	return r.d.recordRun(ctx, r.c, r.source, nil, r.started, r.res)
}
