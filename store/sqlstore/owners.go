package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/stewardhq/steward"
)

// ownerResolver decides the owner and team of identities that nobody
// assigned explicitly: the system's own tag first (an owner or team hint that
// names a known person or team), then the first matching ownership rule. An
// identity with an owner but no team gets the owner's team.
type ownerResolver struct {
	rules      []steward.OwnershipRule
	people     map[string]int64 // lower-case external id and email → person
	personTeam map[int64]int64
	teams      map[string]int64 // name → team
	systems    map[int64]steward.System
}

func (d *DB) newOwnerResolver(ctx context.Context, q querier) (*ownerResolver, error) {
	r := &ownerResolver{people: map[string]int64{}, personTeam: map[int64]int64{}, teams: map[string]int64{}, systems: map[int64]steward.System{}}
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
			rows.Close()
			return nil, err
		}
		r.people[steward.NormalizeOwnerKey(ext)] = id
		if email != "" {
			r.people[steward.NormalizeOwnerKey(email)] = id
		}
		if team.Valid {
			r.personTeam[id] = team.Int64
		}
	}
	rows.Close()
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
			rows.Close()
			return nil, err
		}
		r.teams[name] = id
	}
	rows.Close()
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

// resolution is where an identity's owner and team should point.
type resolution struct {
	owner, team *int64
	source      steward.OwnerSource
	rule        string
}

// resolveIdentity resolves the owner and team of an identity a source of
// system sys reports, whose owner tag normalises to owner.
func (r *ownerResolver) resolveIdentity(sys *steward.System, i *steward.SourceIdentity, owner string) resolution {
	return r.resolve(&steward.RuleSubject{System: sys.Name, SystemKind: sys.Kind, Kind: i.Kind, Environment: i.Environment,
		Name: i.Name, ExternalID: i.ExternalID, Labels: i.Labels}, owner, i.Team)
}

func (r *ownerResolver) resolve(subject *steward.RuleSubject, ownerHint, teamHint string) resolution {
	var res resolution
	if id, ok := r.people[ownerHint]; ok && ownerHint != "" {
		res.owner, res.source = &id, steward.OwnerFromTag
	}
	if id, ok := r.teams[teamHint]; ok && teamHint != "" {
		res.team, res.source = &id, steward.OwnerFromTag
	}
	if res.owner == nil || res.team == nil {
		if rule := steward.FirstMatch(r.rules, subject); rule != nil {
			if id, ok := r.people[steward.NormalizeOwnerKey(rule.Owner)]; ok && res.owner == nil && rule.Owner != "" {
				res.owner = &id
				if res.source == "" {
					res.source = steward.OwnerFromRule
				}
				res.rule = rule.Name
			}
			if id, ok := r.teams[rule.Team]; ok && res.team == nil && rule.Team != "" {
				res.team = &id
				if res.source == "" {
					res.source = steward.OwnerFromRule
				}
				res.rule = rule.Name
			}
		}
	}
	if res.team == nil && res.owner != nil {
		if t, ok := r.personTeam[*res.owner]; ok {
			res.team = &t
		}
	}
	return res
}

// resolveOwnersInto re-resolves the owner and team of every identity that
// scope (over identity x) selects and nobody assigned explicitly, writing an
// event for each that changes, and adds what changed to changedIDs. Syncs
// resolve as they stage; this is for rules and people that change under
// identities that did not.
func (d *DB) resolveOwnersInto(ctx context.Context, c *sql.Conn, scope string, args []any, res *steward.SyncResult, ev *eventSink, changedIDs map[int64]bool) error {
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
			x.owner_id, x.team_id, x.owner_source FROM identities x WHERE (`+scope+`) AND x.owner_source <> 'explicit' AND x.id > ?
			ORDER BY x.id LIMIT `+idStr(chunk)), append(append([]any{}, args...), after)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			n++
			var id, systemID int64
			var name, ext, kind, env, ownerHint, teamHint, source string
			var labels sql.NullString
			var owner, team sql.NullInt64
			if err := rows.Scan(&id, &systemID, &name, &ext, &kind, &env, &labels, &ownerHint, &teamHint, &owner, &team, &source); err != nil {
				rows.Close()
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
			to := r.resolve(subject, ownerHint, teamHint)
			if !sameID(to.owner, fromNullID(owner)) || !sameID(to.team, fromNullID(team)) || string(to.source) != source {
				updates = append(updates, ownerUpdate{id: id, oldOwner: fromNullID(owner), oldTeam: fromNullID(team), oldSource: source, to: to})
			}
		}
		rows.Close()
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
		if sameID(u.oldOwner, u.to.owner) && sameID(u.oldTeam, u.to.team) {
			continue // only the recorded source changed
		}
		res.OwnersChanged++
		if err := ev.emit(ctx, "identity.owner_changed", "identity", u.id, map[string]any{
			"owner_id": u.to.owner, "team_id": u.to.team, "owner_source": u.to.source, "rule": u.to.rule,
			"old_owner_id": u.oldOwner, "old_team_id": u.oldTeam, "old_owner_source": u.oldSource}); err != nil {
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
		if err := ev.emit(ctx, "ownership_rules.applied", "ownership_rules", 0, map[string]any{"rules": rules}); err != nil {
			return err
		}
		if err := d.reresolve(ctx, c, ev, res, "1 = 1"); err != nil {
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
func (d *DB) reresolve(ctx context.Context, c *sql.Conn, ev *eventSink, res *steward.SyncResult, scope string, args ...any) error {
	changedIDs := map[int64]bool{}
	if err := d.resolveOwnersInto(ctx, c, scope, args, res, ev, changedIDs); err != nil {
		return err
	}
	if err := d.createTemp(ctx, c, "touched"); err != nil {
		return err
	}
	defer d.dropTemp(ctx, c, "touched")
	if err := d.writeTouched(ctx, c, "touched", changedIDs); err != nil {
		return err
	}
	gaps, err := d.refreshGaps(ctx, c, ev, `x.id IN (SELECT id FROM touched)`)
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
	to                resolution
}

// writeOwners stores resolved owners: one UPDATE each for a few, or, for a
// large set (a first load resolves a whole system), one COPY into a
// temporary table and one UPDATE joined to it.
func (d *DB) writeOwners(ctx context.Context, c *sql.Conn, updates []ownerUpdate) error {
	if len(updates) < 1000 {
		for _, u := range updates {
			if _, err := c.ExecContext(ctx, d.q(`UPDATE identities SET owner_id = ?, team_id = ?, owner_source = ? WHERE id = ?`),
				idPtr(u.to.owner), idPtr(u.to.team), string(u.to.source), u.id); err != nil {
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
		rows[i] = []any{u.id, idPtr(u.to.owner), idPtr(u.to.team), string(u.to.source)}
	}
	if err := d.copyRows(ctx, c, "owner_updates", []string{"id", "owner_id", "team_id", "owner_source"}, rows); err != nil {
		return err
	}
	_, err := c.ExecContext(ctx, `UPDATE identities SET owner_id = u.owner_id, team_id = u.team_id, owner_source = u.owner_source
		FROM owner_updates u WHERE identities.id = u.id`)
	return err
}
