package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
)

// InventoryStats counts identities by kind and status, open ownership gaps
// and the other tables, and says when each source last synced. Each count uses an index; at a million identities it
// still scans them once, so callers that poll (metrics) cache it.
func (d *DB) InventoryStats(ctx context.Context) (*steward.InventoryStats, error) {
	s := &steward.InventoryStats{Identities: []steward.IdentityCount{}, Gaps: map[steward.GapKind]int64{}}
	for _, count := range []func(context.Context, *steward.InventoryStats) error{
		d.statsIdentities,
		d.statsTables,
		d.statsGaps,
		d.statsSyncs,
	} {
		if err := count(ctx, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// statsIdentities counts identities by kind and status.
func (d *DB) statsIdentities(ctx context.Context, s *steward.InventoryStats) error {
	return d.eachRow(ctx, d.read, `SELECT kind, status, count(*) FROM identities GROUP BY kind, status ORDER BY kind, status`, nil, func(rows *sql.Rows) error {
		var c steward.IdentityCount
		if err := rows.Scan(&c.Kind, &c.Status, &c.Count); err != nil {
			return err
		}
		s.Identities = append(s.Identities, c)
		return nil
	})
}

// statsTables counts the rows of the other inventory tables.
func (d *DB) statsTables(ctx context.Context, s *steward.InventoryStats) error {
	counts := []struct {
		dst   *int64
		query string
	}{
		{&s.People, `SELECT count(*) FROM people`},
		{&s.Teams, `SELECT count(*) FROM teams`},
		{&s.Systems, `SELECT count(*) FROM systems`},
		{&s.Entitlements, `SELECT count(*) FROM entitlements`},
		{&s.Grants, `SELECT count(*) FROM grants`},
	}
	for _, c := range counts {
		if err := d.read.QueryRowContext(ctx, c.query).Scan(c.dst); err != nil {
			return err
		}
	}
	return nil
}

// statsGaps counts open gaps by kind, every kind even at zero. Gaps are
// counted from their open tasks, which every write keeps in line with the
// inventory in its own transaction: the same set that the gap list and the
// inventory's gap filter show.
func (d *DB) statsGaps(ctx context.Context, s *steward.InventoryStats) error {
	for _, g := range steward.GapKinds {
		s.Gaps[g] = 0
	}
	return d.eachRow(ctx, d.read, `SELECT gap, count(*) FROM tasks WHERE status = 'open' AND kind = 'ownership_gap' GROUP BY gap`, nil, func(rows *sql.Rows) error {
		var g steward.GapKind
		var n int64
		if err := rows.Scan(&g, &n); err != nil {
			return err
		}
		s.Gaps[g] = n
		return nil
	})
}

// statsSyncs gives the last successful and the last failed run of each
// source into each system. A failed run's own rows were rolled back; its
// record was written after (recordFailure).
func (d *DB) statsSyncs(ctx context.Context, s *steward.InventoryStats) error {
	s.Syncs = []steward.SyncFreshness{}
	at := map[[2]string]int{}
	return d.eachRow(ctx, d.read, `SELECT r.source, COALESCE(s.name, ''), r.started_at, r.finished_at, r.error
		FROM sync_runs r LEFT JOIN systems s ON s.id = r.system_id
		WHERE r.id IN (SELECT max(id) FROM sync_runs GROUP BY source, system_id, error = '') ORDER BY r.source, s.name, r.id`, nil, func(rows *sql.Rows) error {
		var source, system, failure string
		var started, finished int64
		if err := rows.Scan(&source, &system, &started, &finished, &failure); err != nil {
			return err
		}
		key := [2]string{source, system}
		i, ok := at[key]
		if !ok {
			i, at[key] = len(s.Syncs), len(s.Syncs)
			s.Syncs = append(s.Syncs, steward.SyncFreshness{Source: source, System: system})
		}
		f := &s.Syncs[i]
		if failure == "" {
			st, fin := fromMicro(started), fromMicro(finished)
			f.StartedAt, f.FinishedAt = &st, &fin
		} else {
			fin := fromMicro(finished)
			f.FailedAt, f.Error = &fin, failure
		}
		return nil
	})
}

// SyncRuns lists recorded sync runs, newest first.
func (d *DB) SyncRuns(ctx context.Context, f steward.SyncRunFilter) (*steward.Page[steward.SyncRun], error) {
	after, limit, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	if len(f.Source) > 256 {
		return nil, steward.Errorf(steward.EINVALID, "source is %d bytes long; at most 256.", len(f.Source))
	}
	where, args := []string{"1 = 1"}, []any{}
	if after > 0 {
		where, args = append(where, "x.id < ?"), append(args, after)
	}
	where, args = eqFilter(where, args, "x.source", f.Source, f.Source != "")
	where, args = eqFilter(where, args, "x.system_id", f.SystemID, f.SystemID != 0)
	if f.Failed != nil {
		op := "="
		if *f.Failed {
			op = "<>"
		}
		where = append(where, "x.error "+op+" ''")
	}
	args = append(args, limit+1)
	query := `SELECT x.id, x.source, x.system_id, COALESCE(s.name, ''), x.started_at, x.finished_at, x.result, x.error
		FROM sync_runs x LEFT JOIN systems s ON s.id = x.system_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY x.id DESC LIMIT ?`
	return fetchPage(ctx, d, false, query, args, limit, scanSyncRun, func(r *steward.SyncRun) int64 { return r.ID })
}

func scanSyncRun(r scanner) (steward.SyncRun, error) {
	var run steward.SyncRun
	var system sql.NullInt64
	var started, finished int64
	var result string
	if err := r.Scan(&run.ID, &run.Source, &system, &run.SystemName, &started, &finished, &result, &run.Error); err != nil {
		return run, err
	}
	run.SystemID, run.StartedAt, run.FinishedAt = fromNullID(system), fromMicro(started), fromMicro(finished)
	if run.Error == "" {
		run.Result = &steward.SyncResult{}
		if err := json.Unmarshal([]byte(result), run.Result); err != nil {
			return run, fmt.Errorf("sync run %d: result: %w", run.ID, err)
		}
	}
	return run, nil
}
