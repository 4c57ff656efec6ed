package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// bigTx runs fn in one write transaction on one connection, for work that
// moves many rows: bulk loads and syncs. fn gets the connection, so that
// COPY on PostgreSQL (through the pgx connection underneath) and ordinary
// statements (through database/sql) share the transaction; inside a unit of
// work it is the unit's (see inTx).
func (d *DB) bigTx(ctx context.Context, fn func(c *sql.Conn) error) (err error) {
	return d.bigTxFK(ctx, true, fn)
}

// bigTxFK is bigTx, with SQLite's foreign key checks off when fk is false
// (for a first load, whose references are its own rows: see firstLoad).
func (d *DB) bigTxFK(ctx context.Context, fk bool, fn func(c *sql.Conn) error) (err error) {
	return d.inTx(ctx, fk, func(u *unit) error { return fn(u.conn) })
}

// copyRows inserts rows into table's columns inside a bigTx: COPY on
// PostgreSQL, multi-row prepared INSERTs on SQLite.
func (d *DB) copyRows(ctx context.Context, c *sql.Conn, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if d.pg {
		return c.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			if _, err := pc.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			return nil
		})
	}
	// Several rows per statement: fewer trips through database/sql. OR
	// FAIL: a multi-row statement that may abort must first copy every page
	// it changes to a statement journal, to undo just itself; on failure the
	// whole transaction is rolled back anyway. Without the journal a first
	// load of 200,000 identities and a million grants took 10.3 s, not 13.3.
	const perStmt = 32
	marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	prefix := `INSERT OR FAIL INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	args := make([]any, 0, perStmt*len(cols))
	for len(rows) > 0 {
		n := min(perStmt, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if n == perStmt {
			if stmt == nil {
				var err error
				if stmt, err = c.PrepareContext(ctx, prefix+strings.TrimSuffix(strings.Repeat(marks+", ", n), ", ")); err != nil {
					return err
				}
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return err
			}
		} else if _, err := c.ExecContext(ctx, prefix+strings.TrimSuffix(strings.Repeat(marks+", ", n), ", "), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
