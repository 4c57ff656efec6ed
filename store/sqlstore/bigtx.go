package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// bigTx runs fn in one write transaction on one connection, for work that
// moves many rows: bulk loads and syncs. The transaction is opened with plain
// SQL so that COPY on PostgreSQL (through the pgx connection underneath) and
// ordinary statements (through database/sql) share it.
func (d *DB) bigTx(ctx context.Context, fn func(c *sql.Conn) error) (err error) {
	return d.bigTxFK(ctx, true, fn)
}

// bigTxFK is bigTx, with SQLite's foreign key checks off when fk is false
// (for a first load, whose references are its own rows: see firstLoad).
// SQLite can switch them only outside a transaction; they are switched back
// on before the connection is used again, or it is thrown away.
func (d *DB) bigTxFK(ctx context.Context, fk bool, fn func(c *sql.Conn) error) (err error) {
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !fk && !d.pg {
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return err
		}
		defer func() {
			if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil {
				d.logger.Error("foreign keys not switched back on; closing the connection", "err", ferr)
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	begin := "BEGIN"
	if !d.pg {
		begin = "BEGIN IMMEDIATE" // take the write lock now, not at the first write
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return d.storeErr(err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err = fn(conn); err != nil {
		return err
	}
	if _, err = conn.ExecContext(ctx, "COMMIT"); err != nil {
		return d.storeErr(err)
	}
	d.wrote()
	return nil
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
