package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// list runs a keyset-paginated query. sel must select from a table aliased
// "x" whose id is the first column; where holds extra conditions on x. It
// fetches limit+1 rows to learn whether a next page exists without counting.
func list[T any](ctx context.Context, d *DB, sel string, where []string, args []any, opts steward.ListOptions,
	scan func(scanner) (T, error), idOf func(*T) int64) (*steward.Page[T], error) {
	after, limit, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	where = append([]string{"x.id > ?"}, where...)
	args = append([]any{after}, args...)
	args = append(args, limit+1)
	query := sel + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY x.id LIMIT ?`
	return fetchPage(ctx, d, true, query, args, limit, scan, idOf)
}

// fetchPage runs a query for limit+1 rows in cursor order and makes a page
// of them, with the next page's cursor if the extra row came. fixed says
// the query's text is one of a fixed set (a list's filters, each present
// or not), worth keeping prepared (see stmts.go).
func fetchPage[T any](ctx context.Context, d *DB, fixed bool, query string, args []any, limit int,
	scan func(scanner) (T, error), idOf func(*T) int64) (*steward.Page[T], error) {
	var rows *sql.Rows
	var err error
	if fixed {
		rows, err = d.query(ctx, d.reader(ctx), query, args...)
	} else {
		rows, err = d.reader(ctx).QueryContext(ctx, d.q(query), args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &steward.Page[T]{Items: make([]T, 0, min(limit+1, 64))}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.Next = steward.Cursor(idOf(&page.Items[limit-1]))
	}
	return page, nil
}

// get runs a single-row query and turns no row into ENOTFOUND.
func get[T any](ctx context.Context, d *DB, query string, id int64, what string, scan func(scanner) (T, error)) (*T, error) {
	v, err := scan(d.queryRow(ctx, d.reader(ctx), query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "%s %d does not exist.", what, id)
	} else if err != nil {
		return nil, err
	}
	return &v, nil
}

// textFilter adds a case-insensitive substring match of q over cols. On
// PostgreSQL it is lower(col) LIKE lower(q), which the trigram indexes of
// identities cover (they are on lower(name) and lower(external_id), so that
// the planner never mistakes them for a way to find one external id);
// lower() folds what the database's collation folds (ASCII only under C).
//
// SQLite's LIKE folds ASCII letters only, while its search index (which
// answers identities' searches of three letters or more) folds all of
// Unicode. So that a page does not depend on which of the two answers it,
// a query with a letter beyond ASCII compares folded text (foldFunc).
func (d *DB) textFilter(where []string, args []any, q string, cols ...string) ([]string, []any) {
	if q == "" {
		return where, args
	}
	p := likePattern(q)
	wide := !d.pg && !isASCII(q)
	if wide {
		p = fold(p)
	}
	ors := make([]string, len(cols))
	for i, c := range cols {
		switch {
		case d.pg:
			ors[i] = `lower(` + c + `) LIKE lower(?) ESCAPE '\'`
		case wide:
			ors[i] = foldFunc + `(` + c + `) LIKE ? ESCAPE '\'`
		default:
			ors[i] = c + ` LIKE ? ESCAPE '\'` // case-insensitive for ASCII in SQLite
		}
		args = append(args, p)
	}
	return append(where, "("+strings.Join(ors, " OR ")+")"), args
}

// searchText adds the condition that q is in an identity's name or
// external id, tested on search_text (schema 22), which holds both, joined
// by a line break: one LIKE instead of two, and on PostgreSQL no lower()
// of either, since the column holds them lowered. A walk of the name index
// tests it on each entry (the index holds it), a hundred thousand of them
// between two clusters of a common word's matches. A match cannot span
// the two: a query holds no control character (IdentityFilter.Validate).
// SQLite's column is not folded, so it is tested as textFilter tests any.
func (d *DB) searchText(where []string, args []any, q string) ([]string, []any) {
	if !d.pg {
		return d.textFilter(where, args, q, "x.search_text")
	}
	return append(where, `x.search_text LIKE lower(?) ESCAPE '\'`), append(args, likePattern(q))
}

func eqFilter(where []string, args []any, col string, v any, set bool) ([]string, []any) {
	if !set {
		return where, args
	}
	return append(where, col+" = ?"), append(args, v)
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

// ---- teams

const teamSelect = `SELECT x.id, x.name, x.display_name, x.manager_id, x.created_at FROM teams x`

func scanTeam(r scanner) (steward.Team, error) {
	var t steward.Team
	var mgr sql.NullInt64
	var created int64
	err := r.Scan(&t.ID, &t.Name, &t.DisplayName, &mgr, &created)
	t.ManagerID, t.CreatedAt = fromNullID(mgr), fromMicro(created)
	return t, err
}

// CreateTeam stores a new team.
func (d *DB) CreateTeam(ctx context.Context, t *steward.Team) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = d.now()
	}
	if err := t.Validate(); err != nil {
		return err
	}
	return d.bigTx(ctx, func(tx *sql.Conn) error {
		if t.ManagerID != nil {
			if err := d.exists(ctx, tx, "people", *t.ManagerID, "manager"); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO teams (name, display_name, manager_id, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
			t.Name, t.DisplayName, idPtr(t.ManagerID), micro(t.CreatedAt)).Scan(&t.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "A team named %q exists already.", t.Name)
		} else if err != nil {
			return err
		}
		if err := d.appendEvent(ctx, tx, steward.ActionTeamCreated, steward.ObjectTeam, idStr(t.ID), teamCreated(t)); err != nil {
			return err
		}
		// A team tag may name it: those identities are its now (see
		// CreatePerson). So may a rule, for the identities whose team
		// nothing stronger decided.
		scope := taggedWithTeam(t.Name)
		if rules, err := d.rulesIn(ctx, tx); err != nil {
			return err
		} else if rulesNameTeam(rules, t.Name) {
			scope = scope.or(teamUndecided())
		}
		ev := &eventSink{d: d, c: tx}
		if err := d.reresolve(ctx, tx, ev, &steward.SyncResult{}, scope); err != nil {
			return err
		}
		return ev.flush(ctx)
	})
}

// Team returns one team.
func (d *DB) Team(ctx context.Context, id int64) (*steward.Team, error) {
	return get(ctx, d, teamSelect+` WHERE x.id = ?`, id, "team", scanTeam)
}

// Teams lists teams.
func (d *DB) Teams(ctx context.Context, f steward.TeamFilter) (*steward.Page[steward.Team], error) {
	if err := checkQuery(f.Query); err != nil {
		return nil, err
	}
	where, args := d.textFilter(nil, nil, f.Query, "x.name", "x.display_name")
	return list(ctx, d, teamSelect, where, args, f.ListOptions, scanTeam, func(t *steward.Team) int64 { return t.ID })
}

// ---- people

const personSelect = `SELECT x.id, x.external_id, x.name, x.email, x.title, x.team_id, x.manager_id, x.status, x.departed_at, x.created_at FROM people x`

func scanPerson(r scanner) (steward.Person, error) {
	var p steward.Person
	var team, mgr, departed sql.NullInt64
	var created int64
	err := r.Scan(&p.ID, &p.ExternalID, &p.Name, &p.Email, &p.Title, &team, &mgr, &p.Status, &departed, &created)
	p.TeamID, p.ManagerID, p.DepartedAt, p.CreatedAt = fromNullID(team), fromNullID(mgr), fromNullMicro(departed), fromMicro(created)
	return p, err
}

// CreatePerson stores a new person.
func (d *DB) CreatePerson(ctx context.Context, p *steward.Person) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = d.now()
	}
	if p.Status == "" {
		p.Status = steward.PersonActive
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return d.bigTx(ctx, func(tx *sql.Conn) error {
		if p.TeamID != nil {
			if err := d.exists(ctx, tx, "teams", *p.TeamID, "team"); err != nil {
				return err
			}
		}
		if p.ManagerID != nil {
			if err := d.exists(ctx, tx, "people", *p.ManagerID, "manager"); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO people (external_id, name, email, title, team_id, manager_id, status, departed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			p.ExternalID, p.Name, p.Email, p.Title, idPtr(p.TeamID), idPtr(p.ManagerID), string(p.Status), microPtr(p.DepartedAt), micro(p.CreatedAt)).Scan(&p.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "A person with external id %q exists already.", p.ExternalID)
		} else if err != nil {
			return err
		}
		if err := d.appendEvent(ctx, tx, steward.ActionPersonCreated, steward.ObjectPerson, idStr(p.ID), personCreated(p)); err != nil {
			return err
		}
		// An owner tag may name them: those identities are theirs now, as a
		// people sync would make them. (A system's next sync would not: its
		// records did not change, and it skips them.)
		// So may a rule, for the identities that have no owner.
		scope := taggedWithOwner(steward.NormalizeOwnerKey(p.Email), steward.NormalizeOwnerKey(p.ExternalID))
		if rules, err := d.rulesIn(ctx, tx); err != nil {
			return err
		} else if rulesNamePerson(rules, p.Email, p.ExternalID) {
			scope = scope.or(withoutOwner())
		}
		ev := &eventSink{d: d, c: tx}
		if err := d.reresolve(ctx, tx, ev, &steward.SyncResult{}, scope); err != nil {
			return err
		}
		// An active member heals the team_inactive gaps of their team.
		if p.TeamID != nil && p.Status == steward.PersonActive {
			if _, err := d.refreshGaps(ctx, tx, ev, teamIdentities(*p.TeamID)); err != nil {
				return err
			}
		}
		return ev.flush(ctx)
	})
}

// Person returns one person.
func (d *DB) Person(ctx context.Context, id int64) (*steward.Person, error) {
	return get(ctx, d, personSelect+` WHERE x.id = ?`, id, "person", scanPerson)
}

// People lists people.
func (d *DB) People(ctx context.Context, f steward.PersonFilter) (*steward.Page[steward.Person], error) {
	if f.Status != "" {
		if err := f.Status.Validate(); err != nil {
			return nil, err
		}
	}
	if err := checkQuery(f.Query); err != nil {
		return nil, err
	}
	where, args := eqFilter(nil, nil, "x.team_id", f.TeamID, f.TeamID != 0)
	where, args = eqFilter(where, args, "x.manager_id", f.ManagerID, f.ManagerID != 0)
	where, args = eqFilter(where, args, "x.status", string(f.Status), f.Status != "")
	where, args = d.textFilter(where, args, f.Query, "x.name", "x.email", "x.external_id")
	return list(ctx, d, personSelect, where, args, f.ListOptions, scanPerson, func(p *steward.Person) int64 { return p.ID })
}

// ---- systems

const systemSelect = `SELECT x.id, x.name, x.kind, x.description, x.owner_team_id, x.created_at FROM systems x`

func scanSystem(r scanner) (steward.System, error) {
	var s steward.System
	var team sql.NullInt64
	var created int64
	err := r.Scan(&s.ID, &s.Name, &s.Kind, &s.Description, &team, &created)
	s.OwnerTeamID, s.CreatedAt = fromNullID(team), fromMicro(created)
	return s, err
}

// CreateSystem stores a new system.
func (d *DB) CreateSystem(ctx context.Context, s *steward.System) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = d.now()
	}
	if err := s.Validate(); err != nil {
		return err
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		if s.OwnerTeamID != nil {
			if err := d.exists(ctx, tx, "teams", *s.OwnerTeamID, "team"); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO systems (name, kind, description, owner_team_id, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			s.Name, string(s.Kind), s.Description, idPtr(s.OwnerTeamID), micro(s.CreatedAt)).Scan(&s.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "A system named %q exists already.", s.Name)
		} else if err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionSystemCreated, steward.ObjectSystem, idStr(s.ID), steward.SystemCreated(*s))
	})
}

// System returns one system.
func (d *DB) System(ctx context.Context, id int64) (*steward.System, error) {
	return get(ctx, d, systemSelect+` WHERE x.id = ?`, id, "system", scanSystem)
}

// SystemByName returns the system with a name.
func (d *DB) SystemByName(ctx context.Context, name string) (*steward.System, error) {
	s, err := scanSystem(d.queryRow(ctx, d.read, systemSelect+` WHERE x.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "system %q does not exist.", name)
	} else if err != nil {
		return nil, err
	}
	return &s, nil
}

// Systems lists systems.
func (d *DB) Systems(ctx context.Context, f steward.SystemFilter) (*steward.Page[steward.System], error) {
	if f.Kind != "" {
		if err := f.Kind.Validate(); err != nil {
			return nil, err
		}
	}
	if err := checkQuery(f.Query); err != nil {
		return nil, err
	}
	where, args := eqFilter(nil, nil, "x.kind", string(f.Kind), f.Kind != "")
	where, args = d.textFilter(where, args, f.Query, "x.name", "x.description")
	return list(ctx, d, systemSelect, where, args, f.ListOptions, scanSystem, func(s *steward.System) int64 { return s.ID })
}

// ---- identities

const identityColumns = `x.id, x.system_id, x.external_id, x.name, x.kind, x.environment, x.criticality, x.owner_id, x.team_id, x.status, x.labels, x.created_at, x.last_used_at, x.updated_at, x.owner_source, x.removed_at, x.attested_at, x.attested_by,
	x.owner_by, x.team_by, x.owner_rule, x.owner_hint, x.team_hint, x.oldest_credential_at`

// identityView selects the identity page first (in a subquery that the
// planner keeps, because it has a LIMIT) and joins names to those rows only,
// so a join never makes a page scan more than the page.
func identityView(inner string) string { return identityViewOrdered(inner, `x.id`) }

// identityViewOrdered is identityView for a page in another order: order
// sorts the page's rows again after the joins.
func identityViewOrdered(inner, order string) string {
	return `SELECT x.*, s.name, p.name, p.status, t.name FROM (` + inner + `) x
		JOIN systems s ON s.id = x.system_id
		LEFT JOIN people p ON p.id = x.owner_id
		LEFT JOIN teams t ON t.id = x.team_id
		ORDER BY ` + order
}

func scanIdentityView(r scanner) (steward.IdentityView, error) {
	var v steward.IdentityView
	var owner, team, created, lastUsed, removed, attested, attestedBy, oldestCred sql.NullInt64
	var labels, ownerName, ownerStatus, teamName sql.NullString
	var updated int64
	var ownerHint, teamHint string
	rs := &v.OwnerReason
	err := r.Scan(&v.ID, &v.SystemID, &v.ExternalID, &v.Name, &v.Kind, &v.Environment, &v.Criticality, &owner, &team, &v.Status,
		&labels, &created, &lastUsed, &updated, &v.OwnerSource, &removed, &attested, &attestedBy,
		&rs.OwnerBy, &rs.TeamBy, &rs.Rule, &ownerHint, &teamHint, &oldestCred,
		&v.SystemName, &ownerName, &ownerStatus, &teamName)
	if err != nil {
		return v, err
	}
	// The tags that decided are the identity's own; the reason names them.
	if rs.OwnerBy == steward.BasisTag {
		rs.OwnerTag = ownerHint
	}
	if rs.TeamBy == steward.BasisTag {
		rs.TeamTag = teamHint
	}
	v.OwnerID, v.TeamID, v.LastUsedAt = fromNullID(owner), fromNullID(team), fromNullMicro(lastUsed)
	v.RemovedAt, v.AttestedAt, v.AttestedBy = fromNullMicro(removed), fromNullMicro(attested), fromNullID(attestedBy)
	v.OldestCredentialAt = fromNullMicro(oldestCred)
	v.CreatedAt, v.UpdatedAt = fromNullMicro(created), fromMicro(updated)
	v.OwnerName, v.OwnerStatus, v.TeamName = ownerName.String, steward.PersonStatus(ownerStatus.String), teamName.String
	if labels.Valid && labels.String != "" {
		if err := json.Unmarshal([]byte(labels.String), &v.Labels); err != nil {
			return v, err
		}
	}
	return v, nil
}

func labelsJSON(l map[string]string) any {
	if len(l) == 0 {
		return nil
	}
	b, _ := json.Marshal(l) // a map of strings always marshals
	return string(b)
}

// CreateIdentity stores a new identity.
func (d *DB) CreateIdentity(ctx context.Context, i *steward.Identity) error {
	// CreatedAt stays nil when the caller does not know it: the time of
	// this call is not when the identity was created in its system.
	now := d.now()
	i.UpdatedAt = now
	if i.Status == "" {
		i.Status = steward.IdentityActive
	}
	if err := i.Validate(); err != nil {
		return err
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := d.exists(ctx, tx, "systems", i.SystemID, "system"); err != nil {
			return err
		}
		// An owner or team given is an explicit assignment, as SetOwner's.
		to, err := d.assignOwner(ctx, tx, i.OwnerID, i.TeamID, "owner")
		if err != nil {
			return err
		}
		i.OwnerID, i.TeamID, i.OwnerSource, i.OwnerReason = to.OwnerID, to.TeamID, to.Source, to.Reason()
		err = tx.QueryRowContext(ctx, d.q(`INSERT INTO identities (system_id, external_id, name, kind, environment, criticality, status, labels,
			created_at, last_used_at, updated_at, `+ownerCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			append([]any{i.SystemID, i.ExternalID, i.Name, string(i.Kind), string(i.Environment), string(i.Criticality),
				string(i.Status), labelsJSON(i.Labels), microPtr(i.CreatedAt), microPtr(i.LastUsedAt), micro(i.UpdatedAt)}, ownerVals(&to)...)...).Scan(&i.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "System %d already has an identity with external id %q.", i.SystemID, i.ExternalID)
		} else if err != nil {
			return err
		}
		if err := d.appendEvent(ctx, tx, steward.ActionIdentityCreated, steward.ObjectIdentity, idStr(i.ID), identityCreated(i)); err != nil {
			return err
		}
		if err := d.markDirty(ctx, tx, i.SystemID, false, identityRef(i.ID)); err != nil {
			return err
		}
		ev := &eventSink{d: d, c: tx}
		if _, err = d.refreshGaps(ctx, tx, ev, oneIdentity(i.ID)); err != nil {
			return err
		}
		return ev.flush(ctx)
	})
}

// Identity returns one identity with the names of its system, owner and team.
func (d *DB) Identity(ctx context.Context, id int64) (*steward.IdentityView, error) {
	return get(ctx, d, identityView(`SELECT `+identityColumns+` FROM identities x WHERE x.id = ?`), id, "identity", scanIdentityView)
}

// fewGapsMax is the number of a gap kind's tasks below which they, not the
// search index, drive a page that has both (see Identities).
func (d *DB) fewGapsMax() int {
	if d.fewGaps > 0 {
		return d.fewGaps
	}
	return 2000
}

// Identities lists identities.
func (d *DB) Identities(ctx context.Context, f steward.IdentityFilter) (*steward.Page[steward.IdentityView], error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	pos, limit, err := f.Position()
	if err != nil {
		return nil, err
	}
	if f.Sort != steward.SortByID {
		return d.sortedPage(ctx, f, pos, limit)
	}
	var after int64
	if pos != nil {
		after = pos.ID
	}
	hideRanges := false
	if f.CredentialOlderThan > 0 || f.UnusedFor > 0 {
		// A time range in id order: its own index finds few matches
		// quickly but in the wrong order, so it drives only when they are
		// few enough to sort; else the page walks in id order (by its other
		// filters' indexes) and tests the range on each row.
		few, err := d.fewInIDOrder(ctx, f, after, limit)
		if err != nil || few != nil {
			return few, err
		}
		hideRanges = true
	}
	fewGaps := false
	if !d.pg && f.Gap != "" && utf8.RuneCountInString(f.Query) >= 3 {
		// A search and a gap kind: drive from whichever set is small. The
		// search's matches are probed cheaply by id, the gap tasks too, but
		// the search index cannot be probed by id (each probe runs the
		// whole search). So count the gap's tasks after the cursor, up to
		// a bound: below it the tasks drive and a plain LIKE tests each
		// (a common word with a rare gap read all its 86,000 matches:
		// 88 ms); above it the search drives.
		var n int
		if err := d.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM tasks WHERE gap = ? AND status = 'open' AND identity_id > ? LIMIT ?)`,
			string(f.Gap), after, d.fewGapsMax()).Scan(&n); err != nil {
			return nil, err
		}
		fewGaps = n < d.fewGapsMax()
	}
	inner, args := d.identitiesQuery(f, after, limit, fewGaps, hideRanges)
	return fetchPage(ctx, d, true, identityView(inner), args, limit, scanIdentityView, func(v *steward.IdentityView) int64 { return v.ID })
}

// identitiesQuery builds the inner query of a page of Identities: the
// page's identity rows, in id order, after the cursor.
//
// fewGaps (SQLite, a search and a gap kind) says the gap's tasks after the
// cursor are few: they drive, and the search is a LIKE on each, which
// folds the case of ASCII letters only (the search index folds all).
// hideRanges hides the time ranges from the planner, so that they are
// tested on each row rather than drive (see Identities).
func (d *DB) identitiesQuery(f steward.IdentityFilter, after int64, limit int, fewGaps, hideRanges bool) (string, []any) {
	where, args := []string{"x.id > ?"}, []any{after}
	where, args = eqFilter(where, args, "x.kind", string(f.Kind), f.Kind != "")
	where, args = eqFilter(where, args, "x.system_id", f.SystemID, f.SystemID != 0)
	where, args = eqFilter(where, args, "x.owner_id", f.OwnerID, f.OwnerID != 0)
	where, args = eqFilter(where, args, "x.team_id", f.TeamID, f.TeamID != 0)
	if f.Visible != nil {
		where, args = append(where, "(x.owner_id = ? OR x.team_id = ?)"), append(args, f.Visible.PersonID, f.Visible.TeamID)
	}
	where, args = eqFilter(where, args, "x.environment", string(f.Environment), f.Environment != "")
	where, args = eqFilter(where, args, "x.status", string(f.Status), f.Status != "")
	where, args = eqFilter(where, args, "x.name", f.Name, f.Name != "")
	where, args = eqFilter(where, args, "x.external_id", f.ExternalID, f.ExternalID != "")
	if f.NeverUsed {
		// The (last_used_at, id) index holds the never used in id order.
		where = append(where, "x.last_used_at IS NULL")
	}
	ranged := func(col string, days int) {
		if days > 0 {
			if hideRanges {
				col = d.hide(col, false)
			}
			where, args = append(where, col+" < ?"), append(args, micro(steward.CutoffOf(d.now(), days)))
		}
	}
	ranged("x.oldest_credential_at", f.CredentialOlderThan)
	ranged("x.last_used_at", f.UnusedFor)
	// order is the column that drives the page: ordering by it, rather
	// than by x.id that equals it, lets SQLite stop after a page instead
	// of sorting every match (86,000 for a common word at a million
	// identities: 0.2 s).
	from, order := `identities x`, `x.id`
	if !d.pg && utf8.RuneCountInString(f.Query) >= 3 && !fewGaps {
		// The trigram index yields the matches in id order; shorter
		// queries have no trigram and scan with LIKE.
		from, order = `identities_fts f JOIN identities x ON x.id = f.rowid`, `f.rowid`
		where = append(where, "f.identities_fts MATCH ?", "f.rowid > ?")
		args = append(args, `"`+strings.ReplaceAll(f.Query, `"`, `""`)+`"`, after)
	} else {
		where, args = d.textFilter(where, args, f.Query, "x.name", "x.external_id")
	}
	if f.Gap != "" {
		// The open gap tasks are the materialised gap set: driving the page
		// from their (gap, identity_id) index keeps it a range scan. With a
		// search index query, its matches drive and the tasks are probed.
		if from == `identities x` {
			from, order = `tasks k JOIN identities x ON x.id = k.identity_id`, `k.identity_id`
		} else {
			// CROSS JOIN: SQLite keeps this order, and so the page order.
			from += ` CROSS JOIN tasks k ON k.identity_id = x.id`
		}
		where = append(where, "k.gap = ?", "k.status = 'open'", "k.identity_id > ?")
		args = append(args, string(f.Gap), after)
	}
	args = append(args, limit+1)
	inner := `SELECT ` + identityColumns + ` FROM ` + from + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order + ` LIMIT ?`
	return inner, args
}

// ---- credentials

const credentialColumns = `id, identity_id, external_id, kind, status, created_at, last_rotated_at, last_used_at, expires_at, fingerprint` // #nosec G101 -- column names, not a credential

func scanCredential(r scanner) (steward.Credential, error) {
	var c steward.Credential
	var created, rotated, used, expires sql.NullInt64
	err := r.Scan(&c.ID, &c.IdentityID, &c.ExternalID, &c.Kind, &c.Status, &created, &rotated, &used, &expires, &c.Fingerprint)
	c.CreatedAt, c.LastRotatedAt, c.LastUsedAt, c.ExpiresAt = fromNullMicro(created), fromNullMicro(rotated), fromNullMicro(used), fromNullMicro(expires)
	return c, err
}

// CreateCredential stores the metadata of a new credential. CreatedAt stays
// nil when the caller does not know when it was issued.
func (d *DB) CreateCredential(ctx context.Context, c *steward.Credential) error {
	if c.Status == "" {
		c.Status = steward.CredentialActive
	}
	if err := c.Validate(); err != nil {
		return err
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := d.exists(ctx, tx, "identities", c.IdentityID, "identity"); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO credentials (identity_id, external_id, kind, status, created_at, last_rotated_at, last_used_at, expires_at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			c.IdentityID, c.ExternalID, string(c.Kind), string(c.Status), microPtr(c.CreatedAt), microPtr(c.LastRotatedAt), microPtr(c.LastUsedAt), microPtr(c.ExpiresAt), c.Fingerprint).Scan(&c.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "Identity %d already has a credential with external id %q.", c.IdentityID, c.ExternalID)
		} else if err != nil {
			return err
		}
		// The identity's record is read again: it lists its credentials.
		if err := d.markDirty(ctx, tx, c.IdentityID, true, identityRef(c.IdentityID)); err != nil {
			return err
		}
		if err := d.refreshCredentialAge(ctx, tx, oneIdentity(c.IdentityID)); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionCredentialCreated, steward.ObjectCredential, idStr(c.ID), credentialCreated(c))
	})
}

// Credentials returns an identity's credential metadata, oldest first.
func (d *DB) Credentials(ctx context.Context, identityID int64) ([]steward.Credential, error) {
	rows, err := d.read.QueryContext(ctx, d.q(`SELECT `+credentialColumns+`
		FROM credentials WHERE identity_id = ? ORDER BY id LIMIT 1000`), identityID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []steward.Credential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ---- entitlements

const entitlementSelect = `SELECT x.id, x.system_id, x.name, x.description, x.privileged, x.sensitivity, x.created_at FROM entitlements x`

func scanEntitlement(r scanner) (steward.Entitlement, error) {
	var e steward.Entitlement
	var created int64
	err := r.Scan(&e.ID, &e.SystemID, &e.Name, &e.Description, &e.Privileged, &e.Sensitivity, &created)
	e.CreatedAt = fromMicro(created)
	return e, err
}

// CreateEntitlement stores a new entitlement.
func (d *DB) CreateEntitlement(ctx context.Context, e *steward.Entitlement) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = d.now()
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := d.exists(ctx, tx, "systems", e.SystemID, "system"); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO entitlements (system_id, name, description, privileged, sensitivity, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			e.SystemID, e.Name, e.Description, e.Privileged, string(e.Sensitivity), micro(e.CreatedAt)).Scan(&e.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "System %d already has an entitlement named %q.", e.SystemID, e.Name)
		} else if err != nil {
			return err
		}
		if err := d.markDirty(ctx, tx, e.SystemID, false, entitlementRef(e.ID)); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionEntitlementCreated, steward.ObjectEntitlement, idStr(e.ID), entitlementCreated(e))
	})
}

// Entitlement returns one entitlement.
func (d *DB) Entitlement(ctx context.Context, id int64) (*steward.Entitlement, error) {
	return get(ctx, d, entitlementSelect+` WHERE x.id = ?`, id, "entitlement", scanEntitlement)
}

// EntitlementByName returns the entitlement of a system with exactly a
// name: one probe of the (system_id, name) key. AskAccess asked
// Entitlements for a search of the name instead and picked the exact
// match, a scan of the system's entitlements (a fifth of an access
// request's CPU on SQLite when planned through the index).
func (d *DB) EntitlementByName(ctx context.Context, systemID int64, name string) (*steward.Entitlement, error) {
	e, err := scanEntitlement(d.queryRow(ctx, d.reader(ctx), entitlementSelect+` WHERE x.system_id = ? AND x.name = ?`, systemID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "System %d has no entitlement named %q.", systemID, name)
	} else if err != nil {
		return nil, err
	}
	return &e, nil
}

// Entitlements lists entitlements.
func (d *DB) Entitlements(ctx context.Context, f steward.EntitlementFilter) (*steward.Page[steward.Entitlement], error) {
	if err := checkQuery(f.Query); err != nil {
		return nil, err
	}
	where, args := eqFilter(nil, nil, "x.system_id", f.SystemID, f.SystemID != 0)
	if f.Privileged != nil {
		where, args = append(where, "x.privileged = ?"), append(args, *f.Privileged)
	}
	where, args = d.textFilter(where, args, f.Query, "x.name", "x.description")
	return list(ctx, d, entitlementSelect, where, args, f.ListOptions, scanEntitlement, func(e *steward.Entitlement) int64 { return e.ID })
}

// ---- grants

const grantSelect = `SELECT x.id, x.identity_id, x.entitlement_id, x.type, x.granted_at, x.expires_at, x.granted_via, e.name, e.system_id, e.privileged
	FROM grants x JOIN entitlements e ON e.id = x.entitlement_id`

func scanGrant(r scanner) (steward.GrantView, error) {
	var g steward.GrantView
	var granted int64
	var expires sql.NullInt64
	err := r.Scan(&g.ID, &g.IdentityID, &g.EntitlementID, &g.Type, &granted, &expires, &g.GrantedVia, &g.EntitlementName, &g.SystemID, &g.Privileged)
	g.GrantedAt, g.ExpiresAt = fromMicro(granted), fromNullMicro(expires)
	return g, err
}

// CreateGrant stores a new grant.
func (d *DB) CreateGrant(ctx context.Context, g *steward.Grant) error {
	if g.GrantedAt.IsZero() {
		g.GrantedAt = d.now()
	}
	if err := g.Validate(); err != nil {
		return err
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := d.exists(ctx, tx, "identities", g.IdentityID, "identity"); err != nil {
			return err
		}
		if err := d.exists(ctx, tx, "entitlements", g.EntitlementID, "entitlement"); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO grants (identity_id, entitlement_id, type, granted_at, expires_at, granted_via) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			g.IdentityID, g.EntitlementID, string(g.Type), micro(g.GrantedAt), microPtr(g.ExpiresAt), g.GrantedVia).Scan(&g.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "Identity %d already holds entitlement %d.", g.IdentityID, g.EntitlementID)
		} else if err != nil {
			return err
		}
		ref, ok := grantRef(g.IdentityID, g.EntitlementID)
		if !ok {
			ref = refWhole // no digest holds such ids anyway
		}
		if err := d.markDirty(ctx, tx, g.IdentityID, true, ref); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionGrantCreated, steward.ObjectGrant, idStr(g.ID), grantCreated(g))
	})
}

// Grants lists grants with their entitlement's name and privilege.
func (d *DB) Grants(ctx context.Context, f steward.GrantFilter) (*steward.Page[steward.GrantView], error) {
	if f.Type != "" {
		if err := f.Type.Validate(); err != nil {
			return nil, err
		}
	}
	where, args := eqFilter(nil, nil, "x.identity_id", f.IdentityID, f.IdentityID != 0)
	where, args = eqFilter(where, args, "x.entitlement_id", f.EntitlementID, f.EntitlementID != 0)
	where, args = eqFilter(where, args, "x.type", string(f.Type), f.Type != "")
	return list(ctx, d, grantSelect, where, args, f.ListOptions, scanGrant, func(g *steward.GrantView) int64 { return g.ID })
}

func checkQuery(q string) error {
	f := steward.IdentityFilter{Query: q}
	return f.Validate()
}
