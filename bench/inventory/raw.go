package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stewardhq/steward"
)

// rawTable is a scratch table with the shape of one of the store's tables
// (same columns and types) but no index beside its primary key, so that
// inserting into it measures what the engine can do at best on this machine
// in this run. The store's load is then reported as a fraction of it.
type rawTable struct {
	name string
	cols []string
	ints map[string]bool // integer columns; the rest are text
}

var (
	rawIdentities = rawTable{name: "bench_raw_identities",
		cols: []string{"id", "system_id", "external_id", "name", "kind", "environment", "criticality", "owner_id", "team_id", "status", "labels", "created_at", "last_used_at", "updated_at"},
		ints: map[string]bool{"id": true, "system_id": true, "owner_id": true, "team_id": true, "created_at": true, "last_used_at": true, "updated_at": true}}
	rawGrants = rawTable{name: "bench_raw_grants",
		cols: []string{"id", "identity_id", "entitlement_id", "type", "granted_at", "expires_at", "granted_via"},
		ints: map[string]bool{"id": true, "identity_id": true, "entitlement_id": true, "granted_at": true, "expires_at": true}}
)

// ddl returns the CREATE TABLE statement of t in dialect ("sqlite" or
// "postgres"). The id is the primary key: the rowid on SQLite, a B-tree on
// PostgreSQL, as in the store's own tables.
func (t rawTable) ddl(dialect string) string {
	defs := make([]string, len(t.cols))
	for i, c := range t.cols {
		typ := "TEXT"
		if t.ints[c] {
			typ = "BIGINT"
			if dialect == "sqlite" {
				typ = "INTEGER"
			}
		}
		if c == "id" {
			typ += " PRIMARY KEY"
		}
		defs[i] = c + " " + typ
	}
	return "CREATE TABLE " + t.name + " (" + strings.Join(defs, ", ") + ")"
}

// Throughput is a number of rows written in a measured time.
type Throughput struct {
	Rows    int
	Elapsed time.Duration
}

// PerSecond returns rows per second, 0 if nothing was timed.
func (t Throughput) PerSecond() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Rows) / t.Elapsed.Seconds()
}

// rawInsert creates t, writes n rows from next into it in one transaction
// and drops it. Only the inserts and the commit are timed, not making the
// rows. SQLite gets a prepared single-row INSERT (what its bulk load does
// too); PostgreSQL gets COPY through pgx.
func rawInsert(ctx context.Context, db *sql.DB, dialect string, t rawTable, n, chunk int, next func(n int) [][]any) (Throughput, error) {
	if _, err := db.ExecContext(ctx, t.ddl(dialect)); err != nil {
		return Throughput{}, fmt.Errorf("create %s: %w", t.name, err)
	}
	var tp Throughput
	var err error
	if dialect == "postgres" {
		tp, err = rawCopy(ctx, db, t, n, chunk, next)
	} else {
		tp, err = rawPrepared(ctx, db, t, n, chunk, next)
	}
	if _, e := db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+t.name); e != nil && err == nil {
		err = fmt.Errorf("drop %s: %w", t.name, e)
	}
	return tp, err
}

func rawPrepared(ctx context.Context, db *sql.DB, t rawTable, n, chunk int, next func(n int) [][]any) (Throughput, error) {
	var tp Throughput
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return tp, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ")
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+t.name+" ("+strings.Join(t.cols, ", ")+") VALUES ("+marks+")") // #nosec G202 -- the benchmark's own table and column names; values are bound
	if err != nil {
		return tp, err
	}
	defer stmt.Close()
	for tp.Rows < n {
		rows := next(min(chunk, n-tp.Rows))
		if len(rows) == 0 {
			break
		}
		start := time.Now()
		for _, r := range rows {
			if _, err := stmt.ExecContext(ctx, r...); err != nil {
				return tp, fmt.Errorf("insert %s: %w", t.name, err)
			}
		}
		tp.Elapsed += time.Since(start)
		tp.Rows += len(rows)
	}
	start := time.Now()
	if err := tx.Commit(); err != nil {
		return tp, err
	}
	tp.Elapsed += time.Since(start)
	return tp, nil
}

// rawCopy reaches the pgx connection under database/sql, as the store's own
// bulk load does, because COPY is not part of database/sql.
func rawCopy(ctx context.Context, db *sql.DB, t rawTable, n, chunk int, next func(n int) [][]any) (Throughput, error) {
	var tp Throughput
	conn, err := db.Conn(ctx)
	if err != nil {
		return tp, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		for tp.Rows < n {
			rows := next(min(chunk, n-tp.Rows))
			if len(rows) == 0 {
				break
			}
			start := time.Now()
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
			tp.Elapsed += time.Since(start)
			tp.Rows += len(rows)
		}
		start := time.Now()
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		tp.Elapsed += time.Since(start)
		return nil
	})
	return tp, err
}

// identityRow is i as the values the store writes (times as Unix
// microseconds, labels as JSON), in rawIdentities column order.
func identityRow(i *steward.Identity) []any {
	var labels any
	if len(i.Labels) > 0 {
		b, _ := json.Marshal(i.Labels) // a map of strings always marshals
		labels = string(b)
	}
	return []any{i.ID, i.SystemID, i.ExternalID, i.Name, string(i.Kind), string(i.Environment), string(i.Criticality),
		nullID(i.OwnerID), nullID(i.TeamID), string(i.Status), labels, i.CreatedAt.UnixMicro(), nullTime(i.LastUsedAt), i.CreatedAt.UnixMicro()}
}

// grantRow is g as the values the store writes, in rawGrants column order.
func grantRow(g *steward.Grant) []any {
	return []any{g.ID, g.IdentityID, g.EntitlementID, string(g.Type), g.GrantedAt.UnixMicro(), nullTime(g.ExpiresAt), g.GrantedVia}
}

func nullID(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullTime(p *time.Time) any {
	if p == nil {
		return nil
	}
	return p.UnixMicro()
}
