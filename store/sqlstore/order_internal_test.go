package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestSortedPageSections: a sorted page does not read a section that its
// filters leave empty, the unknown keys under a range of the key itself or
// the known ones under never used. PostgreSQL walked every identity without
// a credential, in id order, to find none older than three years.
func TestSortedPageSections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sort           steward.IdentitySort
		f              steward.IdentityFilter
		known, unknown bool
	}{
		{steward.SortByCredentialAge, steward.IdentityFilter{CredentialOlderThan: 3 * 365}, true, false},
		{steward.SortByCredentialAgeDesc, steward.IdentityFilter{CredentialOlderThan: 30, Kind: steward.KindBot}, true, false},
		{steward.SortByCredentialAge, steward.IdentityFilter{UnusedFor: 30}, true, true},
		{steward.SortByLastUsed, steward.IdentityFilter{UnusedFor: 90}, true, false},
		{steward.SortByLastUsedDesc, steward.IdentityFilter{NeverUsed: true}, false, true},
		{steward.SortByLastUsed, steward.IdentityFilter{CredentialOlderThan: 30}, true, true},
		{steward.SortByCreated, steward.IdentityFilter{NeverUsed: true, CredentialOlderThan: 30}, true, true},
		{steward.SortByName, steward.IdentityFilter{NeverUsed: true, CredentialOlderThan: 30}, true, false},
	} {
		known, unknown := sections(tc.f, sortKeys[tc.sort.Key()])
		if known != tc.known || unknown != tc.unknown {
			t.Errorf("sort %s, %+v: reads known %v, unknown %v; want %v, %v", tc.sort, tc.f, known, unknown, tc.known, tc.unknown)
		}
	}
}

// TestCountBoundsReadEnds: the id range of an estimated count is read from
// the ends of the primary key, not by scanning an index, which cost 80 ms
// of every estimate at a million identities.
func TestCountBoundsReadEnds(t *testing.T) {
	t.Parallel()
	db := planDB(t)
	plan := explain(t, db, idBounds)
	for _, line := range strings.Split(plan, "\n") {
		if strings.HasPrefix(line, "SCAN identities") {
			t.Errorf("the id range scans the identities:\n%s", plan)
		}
	}
	if strings.Count(plan, "SEARCH identities") != 2 {
		t.Errorf("the id range does not read the two ends of the primary key:\n%s", plan)
	}
}

// TestExactCountAlone: a search alone or a gap alone is counted in its own
// index, without reading an identity for each match; with another filter
// the identities are read.
func TestExactCountAlone(t *testing.T) {
	t.Parallel()
	db := planDB(t)
	for _, tc := range []struct {
		f     steward.IdentityFilter
		reads bool // reads identities x
	}{
		{steward.IdentityFilter{Query: "payments"}, false},
		{steward.IdentityFilter{Gap: steward.GapUnowned}, false},
		{steward.IdentityFilter{Query: "payments", Kind: steward.KindBot}, true},
		{steward.IdentityFilter{Gap: steward.GapUnowned, Query: "payments"}, true},
		{steward.IdentityFilter{Gap: steward.GapUnowned, TeamID: 3}, true},
	} {
		q, args := db.exactCountQuery(tc.f, db.now(), 10001)
		plan := explain(t, db, q, args...)
		if reads := strings.Contains(plan, " x "); reads != tc.reads {
			t.Errorf("%+v: reads identities %v, want %v:\n%s", tc.f, reads, tc.reads, plan)
		}
	}
}

// TestSampleFirst: only two or more broad filters with no narrow one are
// sampled before their exact count, and a sample decides "far above the
// bound" only with four times the matches a set of the bound would give.
func TestSampleFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    steward.IdentityFilter
		want bool
	}{
		{steward.IdentityFilter{}, false},
		{steward.IdentityFilter{Kind: steward.KindBot}, false},
		{steward.IdentityFilter{Query: "payments"}, false},
		{steward.IdentityFilter{Kind: steward.KindBot, NeverUsed: true}, true},
		{steward.IdentityFilter{Gap: steward.GapUnowned, Query: "payments"}, true},
		{steward.IdentityFilter{UnusedFor: 90, CredentialOlderThan: 365}, true},
		{steward.IdentityFilter{Kind: steward.KindBot, NeverUsed: true, OwnerID: 3}, false},
		{steward.IdentityFilter{Kind: steward.KindBot, NeverUsed: true, SystemID: 3}, false},
		{steward.IdentityFilter{Kind: steward.KindBot, NeverUsed: true, Visible: &steward.Visibility{PersonID: 1}}, false},
	} {
		if got := broadCombination(tc.f); got != tc.want {
			t.Errorf("%+v: sampled first %v, want %v", tc.f, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    countSample
		want bool
	}{
		// A million ids, 2,000 drawn: a set of 10,000 gives 20 on average.
		{countSample{matched: 80, drawn: 2000, span: 1_000_000}, true},
		{countSample{matched: 79, drawn: 2000, span: 1_000_000}, false},
		{countSample{matched: 20, drawn: 2000, span: 1_000_000}, false},
		// Few ids: a set of 10,000 in 30,000 gives 667 of 2,000; four
		// times that cannot be drawn, so the count is exact.
		{countSample{matched: 2000, drawn: 2000, span: 30_000}, false},
		{countSample{matched: 1600, drawn: 2000, span: 50_000}, true},
		{countSample{matched: 1599, drawn: 2000, span: 50_000}, false},
		{countSample{matched: 0, drawn: 0, span: 0}, false},
	} {
		if got := sampleFarAbove(tc.s, 10000); got != tc.want {
			t.Errorf("%+v: far above %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestNameWalkCovered: a page sorted by name with a search walks the name
// index alone and reads a table row for the page's rows only; a filter the
// index does not hold reads the table as it walks. The search tests the
// index's search text (schema 22), a virtual column: SQLite's plan then
// says "USING INDEX" and seeks the table row deferred, which happens only
// if a column of the table is read, so the test reads the program.
func TestNameWalkCovered(t *testing.T) {
	t.Parallel()
	db := planDB(t)
	for _, tc := range []struct {
		f       steward.IdentityFilter
		covered bool
	}{
		{steward.IdentityFilter{Query: "payments"}, true},
		{steward.IdentityFilter{Query: "pa"}, true},
		{steward.IdentityFilter{Query: "émile"}, true},
		{steward.IdentityFilter{Query: "payments", Kind: steward.KindBot}, false},
	} {
		tc.f.Sort = steward.SortByName
		q, args, err := db.sectionQuery(tc.f, sortKeys[steward.SortByName], false, nil, db.now(), planRows, 51)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, db, q, args...)
		if !strings.Contains(plan, "INDEX identities_name") {
			t.Errorf("%+v: does not walk the name index:\n%s", tc.f, plan)
		}
		if covered := !walkReadsTable(t, db, q, args...); covered != tc.covered {
			t.Errorf("%+v: walks the index alone %v, want %v:\n%s", tc.f, covered, tc.covered, plan)
		}
		if tc.f.Query != "" && !strings.Contains(q, "search_text") {
			t.Errorf("%+v: does not test the search text:\n%s", tc.f, q)
		}
	}
}

// walkReadsTable reports whether SQLite's program for query reads a column
// of a table row it reached through an index (a deferred seek) as it
// walks: a column the index does not hold. The rows of a page, read after
// the walk by id, are not reached that way.
func walkReadsTable(t *testing.T, db *DB, query string, args ...any) bool {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), `EXPLAIN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type op struct {
		code   string
		p1, p3 int
	}
	var ops []op
	for rows.Next() {
		var addr, p1, p2, p3, p5 int
		var code string
		var p4, comment sql.NullString
		if err := rows.Scan(&addr, &code, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op{code, p1, p3})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	deferred := map[int]bool{} // table cursors seeked from an index entry
	for _, o := range ops {
		if o.code == "DeferredSeek" {
			deferred[o.p3] = true
		}
	}
	for _, o := range ops {
		if o.code == "Column" && deferred[o.p1] {
			return true
		}
	}
	if len(deferred) == 0 {
		// A seek that is not deferred reads the row.
		return !strings.Contains(explain(t, db, query, args...), "USING COVERING INDEX identities_name")
	}
	return false
}

// planDB opens a migrated SQLite store for tests that read plans.
func planDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "steward.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// explain returns SQLite's plan of query, a line a step, each ending in a
// space.
func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail+" ")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestKindAndUseCounted: a count of a kind with never used or unused for
// reads the (kind, status, last_used_at) index alone (schema 17). Before,
// no index held both: the count walked the last-used index and read a row
// for each entry, 150-230 ms at a million identities.
func TestKindAndUseCounted(t *testing.T) {
	t.Parallel()
	db := planDB(t)
	// The statistics ANALYZE gave at a million identities: the last-used
	// index claims two rows a value, so that the planner walks it for
	// "never used" (150,000 NULLs) unless told.
	ctx := context.Background()
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil { // makes sqlite_stat1
		t.Fatal(err)
	}
	for _, st := range [][2]string{{"identities_kind_status", "1000000 125000 41667 2"}, {"identities_last_used_at", "1000000 2 1"},
		{"identities_kind", "1000000 125000 1"}, {"identities_status", "1000000 333334 1"}, {"identities_owner_id", "1000000 50 1"}} {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('identities', ?, ?)`, st[0], st[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.write.ExecContext(ctx, `ANALYZE sqlite_schema`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f       steward.IdentityFilter
		covered bool
	}{
		{steward.IdentityFilter{Kind: steward.KindBot, NeverUsed: true}, true},
		{steward.IdentityFilter{Kind: steward.KindBot, UnusedFor: 90, Status: steward.IdentityActive}, true},
		{steward.IdentityFilter{Kind: steward.KindBot, NeverUsed: true, OwnerID: 3}, false},
		{steward.IdentityFilter{NeverUsed: true}, false},
	} {
		q, args := db.exactCountQuery(tc.f, db.now(), 10_001)
		plan := explain(t, db, q, args...)
		if covered := strings.Contains(plan, "USING COVERING INDEX identities_kind_status"); covered != tc.covered {
			t.Errorf("%+v: counts in the kind index alone %v, want %v:\n%s", tc.f, covered, tc.covered, plan)
		}
	}
}
