package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// bigTx runs fn in one write transaction on one connection, for writes
// that need the connection: COPY on PostgreSQL (through the pgx connection
// underneath) and ordinary statements (through database/sql) share the
// transaction; inside a unit of work it is the unit's (see inTx). It waits
// for its turn as any write does (Options.WriteWait).
func (d *DB) bigTx(ctx context.Context, fn func(c *sql.Conn) error) (err error) {
	return d.inTx(ctx, true, d.writeWait, func(u *unit) error { return fn(u.conn) })
}

// bulkTx is bigTx for work that moves many rows and has read what it
// writes already (bulk loads, syncs, migrations, the gap refresh): it waits
// up to BulkWait for its turn rather than fail.
func (d *DB) bulkTx(ctx context.Context, fn func(c *sql.Conn) error) (err error) {
	return d.bulkTxFK(ctx, true, fn)
}

// bulkTxFK is bulkTx, with SQLite's foreign key checks off when fk is false
// (for a first load, whose references are its own rows: see firstLoad).
func (d *DB) bulkTxFK(ctx context.Context, fk bool, fn func(c *sql.Conn) error) (err error) {
	return d.inTx(ctx, fk, BulkWait, func(u *unit) error { return fn(u.conn) })
}

// copyRows inserts rows into table's columns inside a bigTx or bulkTx: COPY on
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
	// Not so when the rows give the table's INTEGER PRIMARY KEY: a value
	// that is not an integer aborts the statement whatever its conflict
	// clause, so SQLite journals it anyway (copyEvents leaves events' seq
	// out for that reason; the first load's and BulkLoad's rows that give
	// their ids still journal, unmeasured).
	const perStmt = 32
	marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	prefix := `INSERT OR FAIL INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close() // #nosec G104 -- a statement of the transaction, which commits or rolls back whole after this
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

// stagedTx runs a long write on SQLite in two transactions on one
// connection of its own (from d.stage), so that it holds the write lock
// only while it writes. stage runs first, in a read transaction: it may
// read the database and fill temporary tables (a sync's staging tables,
// which belong to the connection and outlive the transaction), and it
// holds no lock that a writer waits for, in this process or another. Then
// stagedTx takes the writer's turn: it holds the writer connection, unused,
// so that this process's other writes (and River's) queue behind it as
// behind any write, and begins a write transaction on its own connection
// (BEGIN IMMEDIATE, waiting up to BulkWait for another process's write),
// in which apply writes. The writes of others that commit between the two
// are apply's to reckon with. cleanup, if not nil, runs last, on the
// connection, whatever happened (to drop the temporary tables).
func (d *DB) stagedTx(ctx context.Context, stage, apply func(c *sql.Conn) error, cleanup func(c *sql.Conn)) error {
	conn, err := d.stage.Conn(ctx)
	if err != nil {
		return d.storeErr(err)
	}
	defer conn.Close()
	if cleanup != nil {
		defer cleanup(conn)
	}
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{ReadOnly: true}) // BEGIN DEFERRED
	if err != nil {
		return d.storeErr(err)
	}
	if err := stage(conn); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.storeErr(err)
	}
	deadline := time.Now().Add(BulkWait)
	turn, err := d.writerConn(ctx, deadline)
	if err != nil {
		return err
	}
	defer turn.Close()
	if err := d.waitUntil(ctx, conn, deadline); err != nil {
		return err
	}
	tx, err = conn.BeginTx(context.WithoutCancel(ctx), nil) // BEGIN IMMEDIATE
	if err != nil {
		return d.storeErr(err)
	}
	if err := apply(conn); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := ctx.Err(); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.storeErr(err)
	}
	d.wrote()
	return nil
}
