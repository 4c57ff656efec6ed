package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	"github.com/stewardhq/steward"
)

// ownerResolver gathers what steward.ResolveOwner needs to decide the owner
// and team of identities that nobody assigned explicitly (the rules in
// force, and the people and teams that tags and rules name), once per run,
// and decides identity by identity with it. The decision is the domain's;
// the store only reads its inputs and writes its outcome.
type ownerResolver struct {
	rules   []steward.OwnershipRule
	dir     steward.OwnerDirectory
	systems map[int64]steward.System
}

func (d *DB) newOwnerResolver(ctx context.Context, q querier) (*ownerResolver, error) {
	r := &ownerResolver{dir: steward.OwnerDirectory{People: map[string]int64{}, PersonTeam: map[int64]int64{}, Teams: map[string]int64{}},
		systems: map[int64]steward.System{}}
	var err error
	if r.rules, err = d.rulesIn(ctx, q); err != nil {
		return nil, err
	}
	// Departed people resolve too: an identity whose tag or rule names
	// someone who left is an "owner departed" gap, not an unowned one.
	rows, err := q.QueryContext(ctx, `SELECT id, external_id, email, team_id FROM people`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var ext, email string
		var team sql.NullInt64
		if err := rows.Scan(&id, &ext, &email, &team); err != nil {
			rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
			return nil, err
		}
		r.dir.People[steward.NormalizeOwnerKey(ext)] = id
		if email != "" {
			r.dir.People[steward.NormalizeOwnerKey(email)] = id
		}
		if team.Valid {
			r.dir.PersonTeam[id] = team.Int64
		}
	}
	rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT id, name FROM teams`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
			return nil, err
		}
		r.dir.Teams[name] = id
	}
	rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, systemSelect)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSystem(rows)
		if err != nil {
			return nil, err
		}
		r.systems[s.ID] = s
	}
	return r, rows.Err()
}

// resolveIdentity resolves the owner and team of an identity a source of
// system sys reports, whose owner tag normalises to owner.
func (r *ownerResolver) resolveIdentity(sys *steward.System, i *steward.SourceIdentity, owner string) steward.OwnerDecision {
	return r.resolve(&steward.RuleSubject{System: sys.Name, SystemKind: sys.Kind, Kind: i.Kind, Environment: i.Environment,
		Name: i.Name, ExternalID: i.ExternalID, Labels: i.Labels}, owner, i.Team)
}

func (r *ownerResolver) resolve(subject *steward.RuleSubject, ownerTag, teamTag string) steward.OwnerDecision {
	return steward.ResolveOwner(&steward.OwnerFacts{OwnerTag: ownerTag, TeamTag: teamTag, Subject: *subject}, r.rules, &r.dir)
}

// ownerCols are the columns of identities that record a decision, in the
// order ownerVals gives them.
const ownerCols = `owner_id, team_id, owner_source, owner_by, team_by, owner_rule`

// ownerVals returns what a decision writes into ownerCols.
func ownerVals(to *steward.OwnerDecision) []any {
	return []any{idPtr(to.OwnerID), idPtr(to.TeamID), string(to.Source), string(to.OwnerBy), string(to.TeamBy), to.Rule}
}

// sameDecision reports whether a decision is what an identity records.
func sameDecision(to *steward.OwnerDecision, owner, team *int64, source, ownerBy, teamBy, rule string) bool {
	return sameID(to.OwnerID, owner) && sameID(to.TeamID, team) && string(to.Source) == source &&
		string(to.OwnerBy) == ownerBy && string(to.TeamBy) == teamBy && to.Rule == rule
}

// resolveOwnersInto re-resolves the owner and team of every identity that
// scope selects, writing an event for each that changes,
// and adds what changed to changedIDs. Of an explicit assignment only a team
// that came from the owner is re-resolved: it follows the owner's team. Syncs
// resolve as they stage; this is for rules and people that change under
// identities that did not.
func (d *DB) resolveOwnersInto(ctx context.Context, c *sql.Conn, of identityScope, res *steward.SyncResult, ev *eventSink, changedIDs map[int64]bool) error {
	scope, args := of.where()
	r, err := d.newOwnerResolver(ctx, c)
	if err != nil {
		return err
	}
	// In chunks of identities by id, so that memory stays bounded however
	// many a first load or a rules change resolves.
	const chunk = 10000
	for after := int64(0); ; {
		var updates []ownerUpdate
		n := 0
		rows, err := c.QueryContext(ctx, d.q(`SELECT x.id, x.system_id, x.name, x.external_id, x.kind, x.environment, x.labels, x.owner_hint, x.team_hint,
			x.owner_id, x.team_id, x.owner_source, x.owner_by, x.team_by, x.owner_rule FROM identities x WHERE (`+scope+`)
			AND (x.owner_source <> 'explicit' OR x.team_by <> 'explicit') AND x.id > ?
			ORDER BY x.id LIMIT `+idStr(chunk)), append(append([]any{}, args...), after)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			n++
			var id, systemID int64
			var name, ext, kind, env, ownerHint, teamHint, source, ownerBy, teamBy, rule string
			var labels sql.NullString
			var owner, team sql.NullInt64
			if err := rows.Scan(&id, &systemID, &name, &ext, &kind, &env, &labels, &ownerHint, &teamHint, &owner, &team, &source,
				&ownerBy, &teamBy, &rule); err != nil {
				rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
				return err
			}
			after = id
			subject := &steward.RuleSubject{Name: name, ExternalID: ext, Kind: steward.IdentityKind(kind), Environment: steward.Environment(env)}
			if s, ok := r.systems[systemID]; ok {
				subject.System, subject.SystemKind = s.Name, s.Kind
			}
			if labels.Valid && labels.String != "" {
				_ = json.Unmarshal([]byte(labels.String), &subject.Labels)
			}
			facts := steward.OwnerFacts{OwnerTag: ownerHint, TeamTag: teamHint, Subject: *subject}
			if source == string(steward.OwnerExplicit) {
				// An owner set by hand without a team: the owner's team.
				facts = steward.OwnerFacts{Explicit: true, ExplicitOwner: fromNullID(owner)}
			}
			to := steward.ResolveOwner(&facts, r.rules, &r.dir)
			if !sameDecision(&to, fromNullID(owner), fromNullID(team), source, ownerBy, teamBy, rule) {
				updates = append(updates, ownerUpdate{id: id, oldOwner: fromNullID(owner), oldTeam: fromNullID(team), oldSource: source, to: to})
			}
		}
		rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
		if err := rows.Err(); err != nil {
			return err
		}
		if err := d.applyOwners(ctx, c, updates, res, ev, changedIDs); err != nil {
			return err
		}
		if n < chunk {
			return nil
		}
	}
}

// applyOwners writes one chunk of resolved owners and records what changed.
func (d *DB) applyOwners(ctx context.Context, c *sql.Conn, updates []ownerUpdate, res *steward.SyncResult, ev *eventSink, changedIDs map[int64]bool) error {
	if err := d.writeOwners(ctx, c, updates); err != nil {
		return err
	}
	for _, u := range updates {
		if changedIDs != nil {
			changedIDs[u.id] = true
		}
		if sameID(u.oldOwner, u.to.OwnerID) && sameID(u.oldTeam, u.to.TeamID) {
			continue // only the recorded source or reason changed
		}
		res.OwnersChanged++
		if err := ev.emit(ctx, steward.ActionIdentityOwnerChanged, steward.ObjectIdentity, u.id, ownerChanged(&u.to, u.oldOwner, u.oldTeam, u.oldSource)); err != nil {
			return err
		}
	}
	return nil
}

func sameID(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// rulesIn reads the ownership rules in order.
func (d *DB) rulesIn(ctx context.Context, q querier) ([]steward.OwnershipRule, error) {
	rows, err := q.QueryContext(ctx, `SELECT body FROM ownership_rules ORDER BY position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []steward.OwnershipRule{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var r steward.OwnershipRule
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OwnershipRules returns the rules in force.
func (d *DB) OwnershipRules(ctx context.Context) ([]steward.OwnershipRule, error) {
	return d.rulesIn(ctx, d.read)
}

// ApplyOwnershipRules replaces the rules and re-resolves every identity not
// explicitly assigned.
func (d *DB) ApplyOwnershipRules(ctx context.Context, rules []steward.OwnershipRule) (*steward.SyncResult, error) {
	if err := steward.ValidateRules(rules); err != nil {
		return nil, err
	}
	res := &steward.SyncResult{}
	err := d.bigTx(ctx, func(c *sql.Conn) error {
		old, err := d.rulesIn(ctx, c)
		if err != nil {
			return err
		}
		oldJSON, _ := json.Marshal(old)
		newJSON, _ := json.Marshal(rules)
		if string(oldJSON) == string(newJSON) {
			return nil // the same rules again: nothing to do, no event
		}
		if _, err := c.ExecContext(ctx, `DELETE FROM ownership_rules`); err != nil {
			return err
		}
		for i, r := range rules {
			body, _ := json.Marshal(r)
			if _, err := c.ExecContext(ctx, d.q(`INSERT INTO ownership_rules (position, name, body) VALUES (?, ?, ?)`), i+1, r.Name, string(body)); err != nil {
				return err
			}
		}
		ev := &eventSink{d: d, c: c}
		if err := ev.emit(ctx, steward.ActionOwnershipRulesApplied, steward.ObjectOwnershipRules, 0, steward.RulesApplied{Rules: rules}); err != nil {
			return err
		}
		if err := d.reresolve(ctx, c, ev, res, everyIdentity()); err != nil {
			return err
		}
		res.Events = ev.n
		return ev.flush(ctx)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// reresolve re-resolves the owners of the identities scope selects and
// refreshes the gaps of those whose owner changed, with events into ev.
func (d *DB) reresolve(ctx context.Context, c *sql.Conn, ev *eventSink, res *steward.SyncResult, scope identityScope) error {
	changedIDs := map[int64]bool{}
	if err := d.resolveOwnersInto(ctx, c, scope, res, ev, changedIDs); err != nil {
		return err
	}
	if err := d.createTemp(ctx, c, "touched"); err != nil {
		return err
	}
	defer d.dropTemp(ctx, c, "touched")
	if err := d.writeTouched(ctx, c, "touched", changedIDs); err != nil {
		return err
	}
	gaps, err := d.refreshGaps(ctx, c, ev, touchedIdentities())
	if err != nil {
		return err
	}
	res.GapsOpened, res.GapsClosed = gaps.opened, gaps.closed
	return nil
}

// ownerUpdate is one identity whose resolved owner differs from its stored one.
type ownerUpdate struct {
	id                int64
	oldOwner, oldTeam *int64
	oldSource         string
	to                steward.OwnerDecision
}

// writeOwners stores resolved owners: one UPDATE each for a few, or, for a
// large set (a first load resolves a whole system), one COPY into a
// temporary table and one UPDATE joined to it.
func (d *DB) writeOwners(ctx context.Context, c *sql.Conn, updates []ownerUpdate) error {
	if len(updates) < 1000 {
		for _, u := range updates {
			if _, err := c.ExecContext(ctx, d.q(`UPDATE identities SET owner_id = ?, team_id = ?, owner_source = ?, owner_by = ?, team_by = ?, owner_rule = ?
				WHERE id = ?`), append(ownerVals(&u.to), u.id)...); err != nil {
				return err
			}
		}
		return nil
	}
	if err := d.createTemp(ctx, c, "owner_updates"); err != nil {
		return err
	}
	defer d.dropTemp(ctx, c, "owner_updates")
	rows := make([][]any, len(updates))
	for i, u := range updates {
		rows[i] = append([]any{u.id}, ownerVals(&u.to)...)
	}
	if err := d.copyRows(ctx, c, "owner_updates", []string{"id", "owner_id", "team_id", "owner_source", "owner_by", "team_by", "owner_rule"}, rows); err != nil {
		return err
	}
	_, err := c.ExecContext(ctx, `UPDATE identities SET owner_id = u.owner_id, team_id = u.team_id, owner_source = u.owner_source,
		owner_by = u.owner_by, team_by = u.team_by, owner_rule = u.owner_rule
		FROM owner_updates u WHERE identities.id = u.id`)
	return err
}

// ownerChanged is the payload of an identity.owner_changed event: the
// decision that moved the owner or team, and what was there before.
func ownerChanged(to *steward.OwnerDecision, oldOwner, oldTeam *int64, oldSource string) steward.OwnerChanged {
	return steward.OwnerChanged{OwnerID: to.OwnerID, TeamID: to.TeamID, OwnerSource: to.Source, OwnerBy: to.OwnerBy, TeamBy: to.TeamBy,
		Rule: to.Rule, OldOwnerID: oldOwner, OldTeamID: oldTeam, OldOwnerSource: steward.OwnerSource(oldSource)}
}

// assignOwner decides an explicit assignment of owner and team (either may
// be nil): ENOTFOUND names a person (as what) or team that does not exist.
// An owner given without a team brings their own team. An assignment of
// neither decides nothing here: the identity is handed back to tags and
// rules, which its next re-resolution applies (a sync that changes it, a
// people sync, a rules change).
func (d *DB) assignOwner(ctx context.Context, q querier, owner, team *int64, what string) (steward.OwnerDecision, error) {
	dir := &steward.OwnerDirectory{PersonTeam: map[int64]int64{}}
	if owner != nil {
		var t sql.NullInt64
		err := q.QueryRowContext(ctx, d.q(`SELECT team_id FROM people WHERE id = ?`), *owner).Scan(&t)
		if errors.Is(err, sql.ErrNoRows) {
			return steward.OwnerDecision{}, steward.Errorf(steward.ENOTFOUND, "%s %d does not exist.", what, *owner)
		} else if err != nil {
			return steward.OwnerDecision{}, err
		} else if t.Valid {
			dir.PersonTeam[*owner] = t.Int64
		}
	}
	if team != nil {
		if err := d.exists(ctx, q, "teams", *team, "team"); err != nil {
			return steward.OwnerDecision{}, err
		}
	}
	return steward.ResolveOwner(&steward.OwnerFacts{Explicit: true, ExplicitOwner: owner, ExplicitTeam: team}, nil, dir), nil
}

// rulesNameTeam reports whether a rule names one of the teams: the
// identities it matches whose team nothing stronger decided may now get it.
func rulesNameTeam(rules []steward.OwnershipRule, names ...string) bool {
	for _, r := range rules {
		if r.Team != "" && slices.Contains(names, r.Team) {
			return true
		}
	}
	return false
}

// rulesNamePerson reports whether a rule names the person with one of keys
// (an e-mail or external id) as owner.
func rulesNamePerson(rules []steward.OwnershipRule, keys ...string) bool {
	for _, r := range rules {
		for _, k := range keys {
			if r.Owner != "" && k != "" && steward.NormalizeOwnerKey(r.Owner) == steward.NormalizeOwnerKey(k) {
				return true
			}
		}
	}
	return false
}
