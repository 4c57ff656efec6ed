package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// SetDigestChunk makes d write sync digests in rows of n entries, so that a
// test with a few records spans several.
func SetDigestChunk(d *DB, n int) { d.digestChunk = n }

// StageFirstLoads makes d stage the first sync of an empty system as it
// does any other (on), instead of loading it straight into the live tables,
// so that a test can compare the two.
func StageFirstLoads(d *DB, on bool) { d.noFirstLoad = on }

// OnPostgres reports whether d is on PostgreSQL.
func OnPostgres(d *DB) bool { return d.pg }

// SetLaterFloor makes a first load of d build its indexes after it once it
// has written n rows of a table, so that small tests take that path, and
// hand its writer rows n at a time, so that they write in several batches.
func SetLaterFloor(d *DB, n int64) { d.laterFloor, d.loadRows = n, int(n) }

// SyncAsFirstLoad runs a sync as SyncSystem does when it has found the
// system empty before the transaction, and reports whether the run found
// it not empty after all (the race SyncSystem retries).
func SyncAsFirstLoad(ctx context.Context, d *DB, systemID int64, src steward.Source) (notEmpty bool, err error) {
	_, err = d.syncSystem(ctx, systemID, src, steward.SyncOptions{Environment: steward.EnvProd}, true, false)
	return errors.Is(err, errNotEmpty), err
}

// SetFewGaps sets the number of a gap kind's tasks below which they, not
// the search index, drive a SQLite page that filters on both.
func SetFewGaps(d *DB, n int) { d.fewGaps = n }

// AnalyzeIfBehind is analyzeIfBehind on d's writer.
func AnalyzeIfBehind(ctx context.Context, d *DB, table string, wrote, fraction int) error {
	return d.analyzeIfBehind(ctx, d.write, table, wrote, fraction)
}

// RawSQL returns d's writer pool, for the tests that must reach behind the
// store: to tamper with the audit chain, read the engine's own state
// (pragmas, locks) or stage a race. The store has no such door outside its
// own tests.
func RawSQL(d *DB) *sql.DB { return d.write }

// Checkpoint is checkpoint, which the store otherwise runs by itself.
func Checkpoint(ctx context.Context, d *DB) error { return d.checkpoint(ctx) }

// MigrateUpTo applies the migrations of d up to version, so that a test can
// write rows as an older Steward did before applying the rest.
func MigrateUpTo(ctx context.Context, d *DB, version int) error { return d.migrate(ctx, version) }

// ExecRaw runs statements on d's writer behind the store's back, for tests
// that set up what an older version of Steward left.
func ExecRaw(ctx context.Context, d *DB, query string) error {
	_, err := d.write.ExecContext(ctx, query)
	return err
}

// SetSortDrive sets the number of matches below which a sorted page's
// filters, not the sort key's index, drive it: 1 makes every filtered page
// walk the index, a large number makes every one collect and sort.
func SetSortDrive(d *DB, n int) { d.sortDrive = n }

// SetExactCount sets the largest count CountIdentities gives exactly.
func SetExactCount(d *DB, n int) { d.exactCount = n }

// IdentityPlans returns the queries of the first section of a page of f
// (its known keys, or in id order the range path) under each plan: walking
// the sort key's index, and collecting the filters' few matches. For tests
// that read the plans.
func IdentityPlans(d *DB, f steward.IdentityFilter) (walk, few string, walkArgs, fewArgs []any) {
	now := d.now()
	if f.Sort == steward.SortByID {
		walk, walkArgs = d.identitiesQuery(f, 0, 50, false, true)
		c := d.filterConds(f, now, planFree)
		c.add(`x.id > ?`, 0)
		few = `SELECT ` + identityColumns + ` FROM ` + c.from + ` WHERE ` + c.sql() + ` ORDER BY ` + d.hide("x.id", false) + ` LIMIT ?`
		return d.q(walk), d.q(few), walkArgs, append(c.args, 51)
	}
	key := sortKeys[f.Sort.Key()]
	walk, walkArgs, _ = d.sectionQuery(f, key, false, nil, now, planRows, 51)
	few, fewArgs, _ = d.sectionQuery(f, key, false, nil, now, planFree, 51)
	return d.q(walk), d.q(few), walkArgs, fewArgs
}

// Explain returns the plan of query: EXPLAIN QUERY PLAN's details on
// SQLite, EXPLAIN's lines on PostgreSQL.
func Explain(ctx context.Context, d *DB, query string, args ...any) (string, error) {
	prefix := `EXPLAIN QUERY PLAN `
	if d.pg {
		prefix = `EXPLAIN `
	}
	rows, err := d.read.QueryContext(ctx, prefix+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var b []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		b = append(b, fmt.Sprint(vals[len(vals)-1]))
	}
	return strings.Join(b, "\n"), rows.Err()
}

// QueuedJobs returns the arguments (JSON) of the jobs of kind in River's
// table, oldest first, whatever their state.
func QueuedJobs(ctx context.Context, d *DB, kind string) ([]string, error) {
	args := "args"
	if !d.pg {
		args = "json(args)" // River keeps SQLite's JSON as JSONB
	}
	rows, err := d.read.QueryContext(ctx, d.q(`SELECT `+args+` FROM river_job WHERE kind = ? ORDER BY id`), kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// JobSchedule returns when the jobs of kind are to run, oldest first.
func JobSchedule(ctx context.Context, d *DB, kind string) ([]time.Time, error) {
	rows, err := d.read.QueryContext(ctx, d.q(`SELECT scheduled_at FROM river_job WHERE kind = ? ORDER BY id`), kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at any
		if err := rows.Scan(&at); err != nil {
			return nil, err
		}
		switch v := at.(type) {
		case time.Time:
			out = append(out, v.UTC())
		case string: // SQLite: River's own text format
			t, err := time.Parse("2006-01-02 15:04:05.000", v)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		default:
			return nil, fmt.Errorf("scheduled_at is a %T", at)
		}
	}
	return out, rows.Err()
}

// SetWriteWait sets how long d's writes wait for their turn
// (Options.WriteWait), for a test that holds the turn on purpose.
func SetWriteWait(d *DB, wait time.Duration) { d.writeWait = wait }

// SetWALLimit sets the size over which d's checkpointer cuts SQLite's
// write-ahead log back, so that a test need not write 64 MiB.
func SetWALLimit(d *DB, n int64) { d.walLimit = n }

// WALFile is the path of d's SQLite write-ahead log.
func WALFile(d *DB) string { return d.file + "-wal" }

// SetAuditKeys makes d seal the events it writes from now on with keys
// (nil: unsealed), as if it had been opened with Options.AuditKeys.
func SetAuditKeys(d *DB, keys *steward.AuditKeys) { d.keys = keys }

// WalkByName returns the ids of the first page of identities sorted by name
// that a search for q finds, read by walking the name index whatever the
// number of matches (a search that matches nothing otherwise never walks).
func WalkByName(ctx context.Context, d *DB, q string) ([]int64, error) {
	f := steward.IdentityFilter{Query: q, Sort: steward.SortByName}
	rows, err := d.section(ctx, f, sortKeys[steward.SortByName], false, nil, d.now(), planRows, 51)
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, err
}

// CommonSearch reports whether a search for q alone is one that the store
// expects to match at least n identities without counting them.
func CommonSearch(ctx context.Context, d *DB, q string, n int) (bool, error) {
	return d.commonSearch(ctx, steward.IdentityFilter{Query: q}, d.now(), n)
}
