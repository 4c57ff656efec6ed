package sqlstore

import (
	"context"
	"errors"
	"fmt"
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
	_, err = d.syncSystem(ctx, systemID, src, steward.SyncOptions{Environment: steward.EnvProd}, true)
	return errors.Is(err, errNotEmpty), err
}

// SetFewGaps sets the number of a gap kind's tasks below which they, not
// the search index, drive a SQLite page that filters on both.
func SetFewGaps(d *DB, n int) { d.fewGaps = n }

// AnalyzeIfBehind is analyzeIfBehind on d's writer.
func AnalyzeIfBehind(ctx context.Context, d *DB, table string, wrote, fraction int) error {
	return d.analyzeIfBehind(ctx, d.write, table, wrote, fraction)
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
