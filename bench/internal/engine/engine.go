// Package engine opens, beside a benchmark's store, a connection of its own
// to the same database, for what a benchmark asks of the database engine
// rather than of Steward: the raw insert speed the store's figures are
// compared with, the size on disk, the engine's version, a log checkpoint
// between two timed phases. The store lends nobody its connections
// (sqlstore has no escape hatch), so scratch tables and engine queries go
// through this second pool, and nothing here can touch Steward's tables in
// the store's name.
package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the driver the store uses for SQLite

	"github.com/stewardhq/steward/store/sqlstore"
)

// DB is a pool on the benchmark's database.
type DB struct {
	*sql.DB
	Dialect string // "sqlite" or "postgres", as sqlstore.DB.Dialect
}

// Open opens a pool on the database at dsn, as sqlstore.Open reads dsn: a
// postgres:// URL or a SQLite file path. On SQLite it is one connection
// with the pragmas of the store's writer (WAL, synchronous=NORMAL, the same
// page cache, no automatic checkpoint), so that the raw insert speed it
// measures is the engine's as the store's writer has it. Those pragmas are
// repeated from sqlstore.Open by hand: only the yardstick depends on them.
func Open(dsn string) (*DB, error) {
	if sqlstore.IsPostgres(dsn) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		return &DB{db, "postgres"}, nil
	}
	file := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(file, '?'); i >= 0 {
		file = file[:i]
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"+
		"&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)&_pragma=threads(4)&_time_format=sqlite&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &DB{db, "sqlite"}, nil
}

// Size returns the bytes the database takes on disk, after a checkpoint on
// SQLite so that the write-ahead log is counted in the file.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	if db.Dialect == "postgres" {
		err := db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
		return n, err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	err := db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&n)
	return n, err
}

// Version names the engine and its version, or the dialect if it cannot
// be read. For PostgreSQL it adds the two server settings that move the
// benchmarks' figures most: shared_buffers, and huge_pages, without which
// each new connection's first statements fault in the page tables of every
// buffer they touch (docs/sizing.md).
func (db *DB) Version(ctx context.Context) string {
	var v string
	q := `SELECT 'SQLite ' || sqlite_version()`
	if db.Dialect == "postgres" {
		q = `SELECT 'PostgreSQL ' || current_setting('server_version') || ' (shared_buffers ' || current_setting('shared_buffers') ||
			', huge_pages ' || current_setting('huge_pages') || ')'`
	}
	if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return db.Dialect
	}
	return v
}

// Checkpoint copies SQLite's write-ahead log into the database file as far
// as readers allow, as the store does by itself after writes: a benchmark
// does it between phases, so that one phase's checkpoint is timed apart
// from the next phase. Nothing to do on PostgreSQL.
func (db *DB) Checkpoint(ctx context.Context) error {
	if db.Dialect == "postgres" {
		return nil
	}
	_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return err
}

// Insert writes rows into a scratch table in one transaction the way the
// store's own bulk load writes its tables, without the store: multi-row
// prepared INSERTs of 32 rows on SQLite, COPY on PostgreSQL (through pgx,
// under database/sql).
func (db *DB) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if db.Dialect == "postgres" {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			tx, err := pc.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			return tx.Commit(ctx)
		})
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	const perStmt = 32
	marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	insert := func(n int) string {
		return "INSERT OR FAIL INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(marks+", ", n), ", ")
	}
	stmt, err := tx.PrepareContext(ctx, insert(perStmt))
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 0, perStmt*len(cols))
	for len(rows) > 0 {
		n := min(perStmt, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if n == perStmt {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insert(n), args...)
		}
		if err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return tx.Commit()
}
