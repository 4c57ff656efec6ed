package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// unit is one write transaction: the connection it runs on and the
// transaction begun on that connection. Small writes and River's inserts go
// through tx (database/sql's handle, which River's drivers take); bulk work
// goes through conn, whose pgx connection underneath can COPY. Both reach
// the same connection, inside the same transaction.
type unit struct {
	d          *DB
	conn       *sql.Conn
	tx         *sql.Tx
	savepoints int   // savepoints made so far, for unique names
	broken     error // a part that failed could not be undone: the unit must not commit
}

// unitKey is the context key of the unit of work a context carries.
type unitKey struct{}

// unitOf returns the unit of work of d that ctx carries, or nil.
func (d *DB) unitOf(ctx context.Context) *unit {
	if u, ok := ctx.Value(unitKey{}).(*unit); ok && u.d == d {
		return u
	}
	return nil
}

// Atomically runs fn in one transaction on the write connection; every store
// method fn calls with the context it is given joins it (see
// steward.UnitOfWork). Inside another unit it is a savepoint of that unit.
func (d *DB) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	return d.inTx(ctx, true, d.writeWait, func(u *unit) error {
		return fn(context.WithValue(ctx, unitKey{}, u))
	})
}

var _ steward.UnitOfWork = (*DB)(nil)

// reader returns what a read should go through: ctx's unit of work, so that
// a read inside one sees what the unit wrote, or else the reader pool.
func (d *DB) reader(ctx context.Context) querier {
	if u := d.unitOf(ctx); u != nil {
		return u.tx
	}
	return d.read
}

// writeTx runs fn in a write transaction and commits it if fn succeeds; in
// ctx's unit of work if it carries one (see inTx).
func (d *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return d.inTx(ctx, true, d.writeWait, func(u *unit) error { return fn(u.tx) })
}

// inTx runs fn in ctx's unit of work, if ctx carries one of d, inside a
// savepoint: a method that fails undoes its own writes and leaves the rest
// of the unit to its caller. Otherwise it begins a transaction on the write
// connection (BEGIN IMMEDIATE on SQLite, which takes the write lock at once)
// and commits it if fn succeeds and ctx is not done.
//
// fk false turns SQLite's foreign key checks off for the transaction (a
// first load: see firstLoad); they can be switched only outside a
// transaction, so inside a unit the checks stay on, which is slower but as
// correct.
//
// The transaction is begun without ctx's cancellation, so that only this
// function ends it: database/sql would otherwise roll it back from another
// goroutine when ctx ends, and a statement on conn that slipped in after
// that rollback would run outside any transaction. Statements still stop
// when ctx ends, and a unit whose context has ended is rolled back here.
//
// wait bounds how long the transaction waits for its turn: for the write
// connection (this process's other writes hold it), then on SQLite for the
// write lock (another process's write holds it: busy_timeout), on
// PostgreSQL for each row lock (lock_timeout, unless wait is BulkWait). A
// transaction that does not get its turn in time fails with EUNAVAILABLE
// (errBusy) and writes nothing.
func (d *DB) inTx(ctx context.Context, fk bool, wait time.Duration, fn func(u *unit) error) (err error) {
	if u := d.unitOf(ctx); u != nil {
		return u.savepoint(ctx, func() error { return fn(u) })
	}
	deadline := time.Now().Add(wait)
	if d.stmts != nil {
		d.stmts.write.prepareWanted(ctx, deadline) // before this transaction takes the writer
	}
	conn, err := d.writerConn(ctx, deadline)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !d.pg {
		if err := d.waitUntil(ctx, conn, deadline); err != nil {
			return err
		}
	}
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
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return d.storeErr(err)
	}
	if d.pg && wait < BulkWait {
		ms := max(1, time.Until(deadline).Milliseconds())
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '`+strconv.FormatInt(ms, 10)+`ms'`); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	u := &unit{d: d, conn: conn, tx: tx}
	if d.stmts != nil {
		d.stmts.writing.Store(tx)
		defer d.stmts.writing.Store(nil)
	}
	if err := fn(u); err != nil {
		_ = tx.Rollback()
		if isBusy(err) {
			return errBusy
		}
		return err
	}
	if err := cmpErr(ctx.Err(), u.broken); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.storeErr(err)
	}
	d.wrote()
	return nil
}

// errBusy is the error of a write that did not get its turn within its
// bound (Options.WriteWait): the API answers it 503 with Retry-After.
var errBusy = steward.Errorf(steward.EUNAVAILABLE,
	"The database is busy with another write, such as a long import; nothing was changed. Try again in a few seconds.")

// writerConn takes the write connection (SQLite: the only one; PostgreSQL:
// one of the pool), waiting until deadline at most: then errBusy.
func (d *DB) writerConn(ctx context.Context, deadline time.Time) (*sql.Conn, error) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := d.write.Conn(wctx)
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			return nil, errBusy
		}
		return nil, d.storeErr(err)
	}
	return conn, nil
}

// waitUntil sets how long SQLite waits for another process's write lock on
// c (busy_timeout) to what is left until deadline.
func (d *DB) waitUntil(ctx context.Context, c *sql.Conn, deadline time.Time) error {
	ms := max(1, time.Until(deadline).Milliseconds())
	_, err := c.ExecContext(ctx, `PRAGMA busy_timeout = `+strconv.FormatInt(ms, 10))
	return err
}

// savepoint runs fn inside a savepoint of u: if fn fails, what it wrote is
// rolled back and the unit goes on as before fn.
func (u *unit) savepoint(ctx context.Context, fn func() error) error {
	u.savepoints++
	name := "steward_" + strconv.Itoa(u.savepoints)
	if _, err := u.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return err
	}
	if err := fn(); err != nil {
		// Without ctx's cancellation: the part that failed is undone even
		// when the context has ended. If it cannot be, the unit is broken
		// and will not commit, whatever its caller does with the error.
		if _, rerr := u.tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			u.d.logger.Warn("rollback to savepoint failed; the unit of work will be rolled back", "savepoint", name, "err", rerr)
			u.broken = fmt.Errorf("undo a failed part of the unit of work: %w", rerr)
		}
		return err
	}
	_, err := u.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name)
	return err
}

// cmpErr returns the first error that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
