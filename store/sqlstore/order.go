package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// ---- credential age

// refreshCredentialAge sets oldest_credential_at again from the credentials
// of the identities that scope selects. Every write of credentials calls
// it, in its own transaction, for the identities whose credentials it
// wrote.
//
// The value is the identity's active credentials' last rotation, or
// creation when never rotated, the earliest of them. MIN skips a credential
// whose times are both unknown (NULL), so that such a credential never makes
// an identity look old or new. A disabled key cannot authenticate: it waits
// to be removed, not rotated, so it does not count.
func (d *DB) refreshCredentialAge(ctx context.Context, q querier, scope identityScope) error {
	cond, args := scope.where()
	_, err := q.ExecContext(ctx, d.q(`UPDATE identities AS x SET oldest_credential_at =
		(SELECT min(COALESCE(c.last_rotated_at, c.created_at)) FROM credentials c WHERE c.identity_id = x.id AND c.status <> 'disabled')
		WHERE `+cond), args...)
	return err
}

// refreshCredentialAgeOf is refreshCredentialAge for a list of identity
// ids, a few hundred at a time.
func (d *DB) refreshCredentialAgeOf(ctx context.Context, q querier, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := d.refreshCredentialAge(ctx, q, identityIDs(ids[:n])); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// oldestOf returns the oldest_credential_at of an identity whose credential
// rows (created_at, last_rotated_at as written: int64 or nil) are given, for
// the loads that write an identity and its credentials together.
func oldestOf(created, rotated []any) any {
	var out any
	for i := range created {
		v := rotated[i]
		if v == nil {
			v = created[i]
		}
		if n, ok := v.(int64); ok && (out == nil || n < out.(int64)) {
			out = n
		}
	}
	return out
}

// ---- sort keys

// sortKey is the column an identity sort orders by.
type sortKey struct {
	col      string // on identities x
	text     bool
	nullable bool
}

var sortKeys = map[steward.IdentitySort]sortKey{
	steward.SortByName:          {col: "name", text: true},
	steward.SortByCreated:       {col: "created_at", nullable: true},
	steward.SortByLastUsed:      {col: "last_used_at", nullable: true},
	steward.SortByCredentialAge: {col: "oldest_credential_at", nullable: true},
}

// keyOf returns the cursor encoding of v's value of the key of sort, and
// false when the value is unknown.
func keyOf(sort steward.IdentitySort, v *steward.IdentityView) (string, bool) {
	t := func(p *time.Time) (string, bool) {
		if p == nil || p.IsZero() {
			return "", false
		}
		return strconv.FormatInt(micro(*p), 10), true
	}
	switch sort.Key() {
	case steward.SortByName:
		return v.Name, true
	case steward.SortByCreated:
		return t(v.CreatedAt)
	case steward.SortByLastUsed:
		return t(v.LastUsedAt)
	case steward.SortByCredentialAge:
		return t(v.OldestCredentialAt)
	}
	return "", false
}

// keyValue decodes a cursor's key for the column k.
func (k sortKey) keyValue(s string) (any, error) {
	if k.text {
		return s, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "cursor is not one Steward gave out for this order; start again without it.")
	}
	return n, nil
}

// ---- filters

// driveBound is how many matches of a sorted page's filters, after its
// cursor, may be collected and sorted; with more, the page walks the sort
// key's index instead and tests each row. At the bound either costs about
// the same: sorting 5,000 rows, or walking 50 × N / 5,000 index entries to
// find a page (10,000 at a million identities).
func (d *DB) driveBound() int {
	if d.sortDrive > 0 {
		return d.sortDrive
	}
	return 5000
}

// exactCountMax is the largest count CountIdentities gives exactly; above
// it, it estimates from a sample (see CountIdentities).
func (d *DB) exactCountMax() int {
	if d.exactCount > 0 {
		return d.exactCount
	}
	return 10000
}

// countSamples is how many identity ids an estimate probes.
const countSamples = 2000

// plan says how a query of identities may use indexes.
type plan int

const (
	// planFree leaves the choice of index to the planner.
	planFree plan = iota
	// planRows tests each row that another part of the query finds: the
	// walk of a sort key's index, or ids drawn for a sample. The search is
	// then a LIKE and a gap kind an EXISTS probe, which test one row,
	// where SQLite's search index and the gap tasks can only yield theirs.
	// (SQLite's walk names its index; PostgreSQL's planner, knowing the
	// filters match many rows, walks the index to stop after a page.)
	planRows
)

// identityConds are the conditions of a filter on identities x, and the
// tables the query reads.
type identityConds struct {
	from  string
	where []string
	args  []any
}

func (c *identityConds) add(cond string, args ...any) {
	c.where = append(c.where, cond)
	c.args = append(c.args, args...)
}

// sql returns the conditions joined for a WHERE clause.
func (c *identityConds) sql() string {
	if len(c.where) == 0 {
		return "1 = 1"
	}
	return strings.Join(c.where, " AND ")
}

// hide returns col as an expression that no index serves, so that a
// planner cannot drive a query from it: SQLite's unary plus, PostgreSQL's
// no-op arithmetic or concatenation.
func (d *DB) hide(col string, text bool) string {
	switch {
	case !d.pg:
		return "+" + col
	case text:
		return "(" + col + " || '')"
	}
	return "(" + col + " + 0)"
}

// filterConds builds the conditions of f's filters (not its cursor) as p
// says.
func (d *DB) filterConds(f steward.IdentityFilter, now time.Time, p plan) identityConds {
	c := identityConds{from: `identities x`}
	eq := func(col string, v any, set bool) {
		if set {
			c.add(`x.`+col+` = ?`, v)
		}
	}
	eq("kind", string(f.Kind), f.Kind != "")
	eq("system_id", f.SystemID, f.SystemID != 0)
	eq("owner_id", f.OwnerID, f.OwnerID != 0)
	eq("team_id", f.TeamID, f.TeamID != 0)
	if f.Visible != nil {
		c.add(`(x.owner_id = ? OR x.team_id = ?)`, f.Visible.PersonID, f.Visible.TeamID)
	}
	eq("environment", string(f.Environment), f.Environment != "")
	eq("status", string(f.Status), f.Status != "")
	eq("name", f.Name, f.Name != "")
	eq("external_id", f.ExternalID, f.ExternalID != "")
	if f.CredentialOlderThan > 0 {
		c.add(`x.oldest_credential_at < ?`, micro(steward.CutoffOf(now, f.CredentialOlderThan)))
	}
	if f.UnusedFor > 0 {
		c.add(`x.last_used_at < ?`, micro(steward.CutoffOf(now, f.UnusedFor)))
	}
	if f.NeverUsed {
		c.add(`x.last_used_at IS NULL`)
	}
	switch {
	case f.Query == "":
	case p == planFree && !d.pg && utf8.RuneCountInString(f.Query) >= 3:
		// SQLite's trigram index yields a search's matches; it cannot
		// test one row, so it only serves a plan that is free to start
		// from it.
		c.from += ` JOIN identities_fts f ON f.rowid = x.id`
		c.add(`f.identities_fts MATCH ?`, `"`+strings.ReplaceAll(f.Query, `"`, `""`)+`"`)
	case p == planRows:
		// A row at a time: one column holds both (searchText).
		c.where, c.args = d.searchText(c.where, c.args, f.Query)
	default:
		c.where, c.args = d.textFilter(c.where, c.args, f.Query, "x.name", "x.external_id")
	}
	if f.Gap != "" {
		if p == planFree {
			c.from += ` JOIN tasks k ON k.identity_id = x.id`
			c.add(`k.gap = ? AND k.status = 'open'`, string(f.Gap))
		} else {
			c.add(`EXISTS (SELECT 1 FROM tasks k WHERE k.identity_id = x.id AND k.gap = ? AND k.status = 'open' AND k.kind = 'ownership_gap')`, string(f.Gap))
		}
	}
	return c
}

// hasFilter reports whether f selects anything beyond the sort key's own
// range.
func hasFilter(f steward.IdentityFilter, key string) bool {
	g := f
	g.Sort, g.ListOptions = "", steward.ListOptions{}
	switch key {
	case "oldest_credential_at":
		g.CredentialOlderThan = 0
	case "last_used_at":
		g.UnusedFor = 0
	}
	return g != (steward.IdentityFilter{})
}

// ---- sorted pages

// sortedPage returns a page of identities in f.Sort's order. The known
// keys come first, in the key's order and then id's; the unknown ones
// (NULL) after them in id order, in the same direction. A page that ends
// the known keys goes on into the unknown ones.
func (d *DB) sortedPage(ctx context.Context, f steward.IdentityFilter, pos *steward.SortCursor, limit int) (*steward.Page[steward.IdentityView], error) {
	key := sortKeys[f.Sort.Key()]
	now := d.now()
	p := planRows
	if hasFilter(f, key.col) {
		few, err := d.fewMatches(ctx, f, now)
		if err != nil {
			return nil, err
		} else if few {
			p = planFree
		}
	}
	known, unknown := sections(f, key)
	var items []steward.IdentityView
	if known && (pos == nil || !pos.Unknown) {
		rows, err := d.section(ctx, f, key, false, pos, now, p, limit+1)
		if err != nil {
			return nil, err
		}
		items = rows
	}
	if len(items) <= limit && unknown {
		var after *steward.SortCursor
		if pos != nil && pos.Unknown {
			after = pos
		}
		rows, err := d.section(ctx, f, key, true, after, now, p, limit+1-len(items))
		if err != nil {
			return nil, err
		}
		items = append(items, rows...)
	}
	page := &steward.Page[steward.IdentityView]{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := &page.Items[limit-1]
		k, known := keyOf(f.Sort, last)
		page.Next = steward.SortCursor{Sort: f.Sort, Unknown: !known, Key: k, ID: last.ID}.Encode()
	}
	return page, nil
}

// sections reports which sections of f's sorted list can hold matches:
// a filter on the sort key's own range (credential older than, unused for)
// matches no unknown key, and never used no known one. A page does not read
// a section that cannot: a planner does not see that the key's range and
// its IS NULL exclude each other, and walks the whole section to find no
// row (PostgreSQL, the page after the last credential older than three
// years: every identity without a credential read in id order).
func sections(f steward.IdentityFilter, key sortKey) (known, unknown bool) {
	known, unknown = true, key.nullable
	switch key.col {
	case "oldest_credential_at":
		unknown = unknown && f.CredentialOlderThan == 0
	case "last_used_at":
		unknown = unknown && f.UnusedFor == 0
		known = !f.NeverUsed
	}
	return known, unknown
}

// fewMatches reports whether f's filters match fewer identities than
// driveBound, counted up to it, wherever the list's cursor is: then a page
// collects them through the filters' indexes and sorts them, at a cost that
// the bound caps; else it walks the sort key's index from the cursor and
// tests each row, which finds a page soon because matches are many. (A
// count of the matches after the cursor would read, deep in a list, every
// match before it.)
//
// Two or more broad filters (see CountIdentities) are sampled first, and a
// sample that shows them far above the bound (sampleFarAbove) answers. On
// PostgreSQL a search that the planner expects to match far more than the
// bound (commonSearch) is walked without a count: its trigram index reads
// every match of the word into a bitmap before the count's LIMIT applies (a
// common word at a million identities: 31,000 matches, 30 ms; 86,000, 85
// ms). The count is the one CountIdentities makes (exactCountQuery), which
// reads a search alone in SQLite's search index only.
func (d *DB) fewMatches(ctx context.Context, f steward.IdentityFilter, now time.Time) (bool, error) {
	bound := d.driveBound()
	if broadCombination(f) {
		s, err := d.sampleCount(ctx, f, now)
		if err != nil {
			return false, err
		}
		if s.all {
			return s.matched < int64(bound), nil
		}
		if sampleFarAbove(s, bound) {
			return false, nil
		}
	} else if common, err := d.commonSearch(ctx, f, now, 2*bound); err != nil || common {
		return false, err
	}
	query, args := d.exactCountQuery(f, now, bound)
	var found int
	err := d.read.QueryRowContext(ctx, d.q(query), args...).Scan(&found)
	return found < bound, err
}

// commonSearch reports whether f is a search with no narrow filter that
// PostgreSQL's planner expects to match at least n identities: its
// estimate (EXPLAIN, from the statistics of the trigram indexes'
// expressions) costs a plan, under a millisecond, where the count of a
// common word costs its bitmap. At a million identities it estimated
// 80,897 for "payments" (86,206 match), 20,299 for "search" (30,954),
// and 200, its floor, for a word that matches one. Always false on SQLite,
// whose search index counts up to a limit at the cost of the limit.
func (d *DB) commonSearch(ctx context.Context, f steward.IdentityFilter, now time.Time, n int) (bool, error) {
	if !d.pg || f.Query == "" || narrowFilter(f) {
		return false, nil
	}
	c := d.filterConds(f, now, planFree)
	var plan []byte
	if err := d.read.QueryRowContext(ctx, d.q(`EXPLAIN (FORMAT JSON) SELECT 1 FROM `+c.from+` WHERE `+c.sql()), c.args...).Scan(&plan); err != nil {
		return false, err
	}
	var top []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal(plan, &top); err != nil || len(top) == 0 {
		return false, fmt.Errorf("read PostgreSQL's plan: %v", err)
	}
	return top[0].Plan.Rows >= float64(n), nil
}

// section reads up to n identities of one section of a sorted list, under
// plan p (see fewMatches): those whose key is known (after pos), or those
// whose key is unknown (after pos's id).
func (d *DB) section(ctx context.Context, f steward.IdentityFilter, key sortKey, unknown bool, pos *steward.SortCursor, now time.Time, p plan, n int) ([]steward.IdentityView, error) {
	query, args, err := d.sectionQuery(f, key, unknown, pos, now, p, n)
	if err != nil {
		return nil, err
	}
	rows, err := d.read.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []steward.IdentityView
	for rows.Next() {
		v, err := scanIdentityView(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// sectionQuery is the query of section under plan p, for n rows.
func (d *DB) sectionQuery(f steward.IdentityFilter, key sortKey, unknown bool, pos *steward.SortCursor, now time.Time, p plan, n int) (string, []any, error) {
	desc := f.Sort.Desc()
	c, err := d.sectionConds(f, key, unknown, pos, now, p)
	if err != nil {
		return "", nil, err
	}
	dir := ""
	if desc {
		dir = " DESC"
	}
	var order, outer string
	switch {
	case unknown && p == planRows:
		order, outer = `x.id`+dir, `x.id`+dir
	case unknown:
		order, outer = d.hide("x.id", false)+dir, `x.id`+dir
	case p == planRows:
		order, outer = `x.`+key.col+dir+`, x.id`+dir, `x.`+key.col+dir+`, x.id`+dir
	default:
		// Sorting the few matches: the key hidden, so that the planner
		// does not walk its index instead of using the filters'.
		order, outer = d.hide("x."+key.col, key.text)+dir+`, x.id`+dir, `x.`+key.col+dir+`, x.id`+dir
	}
	from := c.from
	if p == planRows && !d.pg {
		// SQLite: the walk reads the sort key's index (for the unknown
		// keys, its NULL entries in id order), and no other.
		from = `identities x INDEXED BY identities_` + key.col + strings.TrimPrefix(from, `identities x`)
	}
	var inner string
	if p == planRows && !unknown && coveredByNameIndex(f, key) {
		// The walk tests each index entry; the name index holds the
		// search text (name and external id, schema 22), so that the walk
		// reads only the index, and a table row for each of the page's
		// rows alone. (SQLite's plan says it seeks the table row; the seek
		// is deferred until a column of the table is read, and none is.)
		// Selecting ids first makes it an index-only walk on PostgreSQL
		// as well, whose plain index scan reads the table row before it
		// tests a filter. (A common word sorted by name: the matches
		// cluster, and a walk between clusters read a row per entry,
		// 110-490 ms at a million identities.)
		inner = `SELECT ` + identityColumns + ` FROM identities x JOIN (SELECT x.id FROM ` + from + ` WHERE ` + c.sql() + ` ORDER BY ` + order + ` LIMIT ?) w ON w.id = x.id`
	} else {
		inner = `SELECT ` + identityColumns + ` FROM ` + from + ` WHERE ` + c.sql() + ` ORDER BY ` + order + ` LIMIT ?`
	}
	return identityViewOrdered(inner, outer), append(c.args, n), nil
}

// coveredByNameIndex reports whether a walk of the name index can test f's
// filters on the index alone: a search (the search text, which the index
// holds) and nothing else.
func coveredByNameIndex(f steward.IdentityFilter, key sortKey) bool {
	g := f
	g.Sort, g.ListOptions, g.Query = "", steward.ListOptions{}, ""
	return key.col == "name" && f.Query != "" && g == (steward.IdentityFilter{})
}

// sectionConds adds to f's filters the bounds of a section and its cursor.
func (d *DB) sectionConds(f steward.IdentityFilter, key sortKey, unknown bool, pos *steward.SortCursor, now time.Time, p plan) (identityConds, error) {
	c := d.filterConds(f, now, p)
	k := "x." + key.col
	if p != planRows {
		k = d.hide(k, key.text)
	}
	cmp := ">"
	if f.Sort.Desc() {
		cmp = "<"
	}
	switch {
	case unknown:
		c.add(k + ` IS NULL`)
		if pos != nil {
			c.add(`x.id `+cmp+` ?`, pos.ID)
		}
	default:
		if key.nullable {
			c.add(k + ` IS NOT NULL`)
		}
		if pos != nil {
			v, err := key.keyValue(pos.Key)
			if err != nil {
				return c, err
			}
			c.add(`(`+k+`, x.id) `+cmp+` (?, ?)`, v, pos.ID)
		}
	}
	return c, nil
}

// ---- counts

// CountIdentities counts the identities f selects: exactly up to
// exactCountMax, and above it estimated from a sample, so that a count
// costs about the same whatever it finds. The sample is countSamples ids
// drawn at random between the smallest and the largest id (the same ones
// for the same filter, so that a count does not change from one page to the
// next): the share of them that exist and match, times the span of ids,
// estimates the matches; rounded to two digits, and never below what was
// counted.
//
// Two or more broad filters (kind, never used, a search, …) and no narrow
// one (a system, an owner, a team) are sampled first: no one index serves
// both, so the exact count tests a row for each entry of one of them, up to
// the bound's matches (never used and a kind: 33,000 rows, 160-210 ms at a
// million identities). When the sample shows the set far above the bound
// (sampleFarAbove), its estimate is the answer; else the exact count runs.
// (A common word is counted, not sampled first, although PostgreSQL's
// trigram index yields every match before the count's LIMIT applies: its
// sample reads 2,000 table rows at random, which cost as much, 30-60 ms at
// a million identities, where a rare word's count costs 1.)
func (d *DB) CountIdentities(ctx context.Context, f steward.IdentityFilter) (*steward.Count, error) {
	f.Sort, f.ListOptions = "", steward.ListOptions{}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	now := d.now()
	bound := d.exactCountMax()
	if broadCombination(f) {
		s, err := d.sampleCount(ctx, f, now)
		if err != nil {
			return nil, err
		}
		if s.all {
			return &steward.Count{N: s.matched}, nil
		}
		if sampleFarAbove(s, bound) {
			return &steward.Count{N: steward.RoundEstimate(s.estimate(), int64(bound)+1), Estimated: true}, nil
		}
	}
	query, args := d.exactCountQuery(f, now, bound+1)
	var n int64
	if err := d.read.QueryRowContext(ctx, d.q(query), args...).Scan(&n); err != nil {
		return nil, err
	}
	if n <= int64(bound) {
		return &steward.Count{N: n}, nil
	}
	s, err := d.sampleCount(ctx, f, now)
	if err != nil {
		return nil, err
	}
	return &steward.Count{N: steward.RoundEstimate(s.estimate(), n), Estimated: true}, nil
}

// countSample is what a sample of identity ids found.
type countSample struct {
	matched int64 // sampled ids that exist and match
	drawn   int64 // ids drawn
	span    int64 // ids between the smallest and the largest
	all     bool  // the span was small enough to draw every id: matched is exact
}

func (s countSample) estimate() int64 {
	return int64(float64(s.matched) / float64(s.drawn) * float64(s.span))
}

// sampleCount counts f's matches among countSamples ids drawn at random
// (sampleIDs) between the smallest and the largest identity id.
func (d *DB) sampleCount(ctx context.Context, f steward.IdentityFilter, now time.Time) (countSample, error) {
	var lo, hi sql.NullInt64
	if err := d.read.QueryRowContext(ctx, idBounds).Scan(&lo, &hi); err != nil {
		return countSample{}, err
	}
	if !lo.Valid {
		return countSample{all: true}, nil
	}
	span := hi.Int64 - lo.Int64 + 1
	ids := sampleIDs(lo.Int64, span, countSamples, f)
	slices.Sort(ids) // looked up in the table's order
	p := d.filterConds(f, now, planRows)
	s := countSample{drawn: int64(len(ids)), span: span, all: span <= int64(len(ids))}
	query := `SELECT count(*) FROM ` + p.from + ` WHERE x.id IN (` + int64List(ids) + `) AND ` + p.sql()
	if d.pg && f.Query == "" {
		// Each id looked up alone, in order. Given the list, PostgreSQL's
		// planner may scan the index of a filter with the ids as a filter
		// of its own: every token of a million identities (140,000
		// entries) for a count of tokens, 48-60 ms where 2,000 lookups
		// take 5-8. (A search tests the table row, which the list reads
		// as fast: a common word's count had p95 43 ms with the list and
		// 54 ms with the lookups.)
		query = `SELECT count(*) FROM unnest('{` + int64List(ids) + `}'::bigint[]) s(id)
			CROSS JOIN LATERAL (SELECT 1 FROM ` + p.from + ` WHERE x.id = s.id AND ` + p.sql() + ` LIMIT 1) m`
	}
	err := d.read.QueryRowContext(ctx, d.q(query), p.args...).Scan(&s.matched)
	return s, err
}

// broadCombination reports whether f has two or more broad filters, which
// match a large share of the identities each, and no narrow one, which an
// index finds few of (see CountIdentities).
func broadCombination(f steward.IdentityFilter) bool {
	if narrowFilter(f) {
		return false
	}
	broad := 0
	for _, set := range []bool{f.Kind != "", f.Environment != "", f.Status != "", f.Query != "", f.Gap != "",
		f.CredentialOlderThan > 0, f.UnusedFor > 0, f.NeverUsed} {
		if set {
			broad++
		}
	}
	return broad >= 2
}

// narrowFilter reports whether f has a filter that an index finds few
// identities of: a system, an owner, a team, what a member may see, a name
// or an external id.
func narrowFilter(f steward.IdentityFilter) bool {
	return f.SystemID != 0 || f.OwnerID != 0 || f.TeamID != 0 || f.Visible != nil || f.Name != "" || f.ExternalID != ""
}

// sampleFarAbove reports whether a sample shows a set far above bound: at
// least four times the matches a set of bound identities would give the
// sample on average. A set of bound or fewer gives that many with a
// negligible chance (at a million ids, 2,000 drawn: 80 matches or more where
// 20 are expected, under 1e-20), so the count stays exact up to the bound.
func sampleFarAbove(s countSample, bound int) bool {
	expected := float64(bound) * float64(s.drawn) / float64(s.span)
	return s.drawn > 0 && float64(s.matched) >= 4*expected && float64(s.matched) >= 40
}

// exactCountQuery is the query that counts f's matches up to limit. A
// search alone (SQLite's search index) or a gap alone (the open gap tasks)
// is counted in that index only: each of its rows is an identity's (the
// search index follows the table by triggers, a task's identity is a
// foreign key, and identities are not deleted), and joining the identities
// read one row for each match (10,001 rows: 40 to 120 ms at a million
// identities, against under 2 ms without).
func (d *DB) exactCountQuery(f steward.IdentityFilter, now time.Time, limit int) (string, []any) {
	c := d.filterConds(f, now, planFree)
	alone := f
	alone.Query, alone.Gap = "", ""
	if alone == (steward.IdentityFilter{}) {
		switch {
		case f.Gap == "" && strings.Contains(c.from, "identities_fts f"):
			c.from = `identities_fts f`
		case f.Query == "" && f.Gap != "":
			c.from = `tasks k`
		}
	}
	if !d.pg && kindAndUse(f) {
		// The (kind, status, last_used_at) index holds every column such a
		// filter tests (schema 17), so the count reads it alone. With the
		// statistics of a million identities SQLite's planner walks the
		// last-used index for "never used" instead, a table row an entry
		// (150-230 ms; 1-10 ms this way).
		c.from = `identities x INDEXED BY identities_kind_status`
	}
	return `SELECT count(*) FROM (SELECT 1 FROM ` + c.from + ` WHERE ` + c.sql() + ` LIMIT ?) m`, append(c.args, limit)
}

// kindAndUse reports whether f is a kind, with "never used" or "unused
// for", perhaps a status, and nothing else.
func kindAndUse(f steward.IdentityFilter) bool {
	g := f
	g.Kind, g.Status, g.NeverUsed, g.UnusedFor = "", "", false, 0
	return f.Kind != "" && (f.NeverUsed || f.UnusedFor > 0) && g == (steward.IdentityFilter{})
}

// idBounds reads the smallest and the largest identity id, each from one
// end of the primary key. (SQLite reads the end of an index for a query of
// one min() or max() only; "SELECT min(id), max(id)" scanned a whole index,
// 80 ms at a million identities, in every estimated count.)
const idBounds = `SELECT (SELECT min(id) FROM identities), (SELECT max(id) FROM identities)`

// sampleIDs draws n distinct ids from [lo, lo+span) (all of them when the
// span is smaller), seeded by the filter so that the same filter draws the
// same sample.
func sampleIDs(lo, span int64, n int, f steward.IdentityFilter) []int64 {
	if span <= int64(n) {
		ids := make([]int64, span)
		for i := range ids {
			ids[i] = lo + int64(i)
		}
		return ids
	}
	key := strings.Join([]string{string(f.Kind), idStr(f.SystemID), idStr(f.OwnerID), idStr(f.TeamID), string(f.Environment),
		string(f.Status), f.Query, string(f.Gap), f.Name, f.ExternalID, strconv.Itoa(f.CredentialOlderThan), strconv.Itoa(f.UnusedFor),
		strconv.FormatBool(f.NeverUsed), visibleKey(f.Visible)}, "\x00")
	h := fnv.New64a()
	h.Write([]byte(key))                            // #nosec G104 -- fnv's Write never fails
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5eed)) // #nosec G404 -- picks the ids a count estimate samples, seeded by the filter so that a count repeats; nothing secret
	seen := make(map[int64]bool, n)
	ids := make([]int64, 0, n)
	for len(ids) < n {
		id := lo + rng.Int64N(span)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// ---- lookups by name

// TeamByName returns the team with a name.
func (d *DB) TeamByName(ctx context.Context, name string) (*steward.Team, error) {
	t, err := scanTeam(d.read.QueryRowContext(ctx, d.q(teamSelect+` WHERE x.name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "No team is named %q.", name)
	} else if err != nil {
		return nil, err
	}
	return &t, nil
}

// PersonByKey returns the person whose external id or e-mail address is
// key: exactly, or failing that without regard to case, as owner tags are
// matched.
func (d *DB) PersonByKey(ctx context.Context, key string) (*steward.Person, error) {
	for _, cond := range []string{`x.external_id = ? OR x.email = ?`, `lower(x.external_id) = lower(?) OR lower(x.email) = lower(?)`} {
		rows, err := d.query(ctx, d.read, personSelect+` WHERE `+cond+` ORDER BY x.id LIMIT 3`, key, key)
		if err != nil {
			return nil, err
		}
		var found []steward.Person
		for rows.Next() {
			p, err := scanPerson(rows)
			if err != nil {
				rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
				return nil, err
			}
			found = append(found, p)
		}
		rows.Close() // #nosec G104 -- rows.Err() just below reports the query's error; Close after the last Next returns nil
		if err := rows.Err(); err != nil {
			return nil, err
		}
		switch {
		case len(found) == 1:
			return &found[0], nil
		case len(found) > 1:
			// An external id is unique; what two people share is an address.
			for i := range found {
				if found[i].ExternalID == key {
					return &found[i], nil
				}
			}
			names := make([]string, len(found))
			for i, p := range found {
				names[i] = p.ExternalID
			}
			return nil, steward.Errorf(steward.EINVALID, "Several people have the e-mail address %q (external ids %s); name one by external id.", key, strings.Join(names, ", "))
		}
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No person has the e-mail address or external id %q.", key)
}

// fewInIDOrder returns the page of a list in id order with a time range
// when the filters' matches are fewer than driveBound (fewMatches): then
// they are found through the filters' indexes and sorted. It returns nil
// when they are more.
func (d *DB) fewInIDOrder(ctx context.Context, f steward.IdentityFilter, after int64, limit int) (*steward.Page[steward.IdentityView], error) {
	now := d.now()
	if few, err := d.fewMatches(ctx, f, now); err != nil || !few {
		return nil, err
	}
	c := d.filterConds(f, now, planFree)
	c.add(`x.id > ?`, after)
	inner := `SELECT ` + identityColumns + ` FROM ` + c.from + ` WHERE ` + c.sql() + ` ORDER BY ` + d.hide("x.id", false) + ` LIMIT ?`
	return fetchPage(ctx, d, false, identityView(inner), append(c.args, limit+1), limit, scanIdentityView, func(v *steward.IdentityView) int64 { return v.ID })
}

// visibleKey writes a member's visibility for sampleIDs' seed.
func visibleKey(v *steward.Visibility) string {
	if v == nil {
		return ""
	}
	return idStr(v.PersonID) + "/" + idStr(v.TeamID)
}
