package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Prepared statements, SQLite only.
//
// database/sql prepares every query anew unless it is given a *sql.Stmt,
// and preparing (parsing and planning) was a third of the CPU of an access
// request on SQLite (bench/RESULTS.md, "Access requests end to end over
// HTTP"). So the store keeps a *sql.Stmt per SQL text of its hot paths on
// each SQLite pool: database/sql prepares it once on each connection that
// runs it and reuses it there, and a write transaction reuses the one
// prepared on the writer connection (Tx.StmtContext). PostgreSQL needs none
// of this: pgx caches the statements it prepares on each connection.
//
// Only texts that are the same from call to call go through the cache
// (written out, or built from a fixed set of filters), and it keeps at most
// maxStmts of them per pool; a text beyond that is prepared each time, as
// before. Nothing is ever evicted, so a statement is never closed under
// a caller that has just been handed it; DB.Close closes them all.

// maxStmts bounds the statements kept per pool: the hot paths use a few
// dozen texts; the inventory's filters make more, which are cached until
// the bound.
const maxStmts = 256

// stmtCache holds the prepared statements of one pool.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	want   map[string]bool // writer: texts to prepare when the writer is next free (see prepareWanted)
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, want: map[string]bool{}}
}

// lookup returns the statement of text, or nil.
func (c *stmtCache) lookup(text string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return c.m[text]
}

// get returns the statement of text, preparing it on the pool the first
// time; nil when the cache is full or closed, or the text does not
// prepare (the caller then runs it unprepared and gets its error).
func (c *stmtCache) get(ctx context.Context, text string) *sql.Stmt {
	c.mu.Lock()
	s, full := c.m[text], len(c.m) >= maxStmts
	c.mu.Unlock()
	if s != nil || full {
		return s
	}
	s, err := c.db.PrepareContext(ctx, text)
	if err != nil {
		return nil
	}
	return c.put(text, s)
}

// put keeps s for text unless another caller prepared it meanwhile, or the
// cache is closed or full, and returns the statement to use.
func (c *stmtCache) put(text string, s *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[text]; old != nil || c.closed || len(c.m) >= maxStmts {
		s.Close() // #nosec G104 -- a duplicate never used: nothing to report
		return old
	}
	c.m[text] = s
	return s
}

// wanted notes text to be prepared on the writer once it is free: inside
// a transaction the writer connection is taken, and preparing on the pool
// would wait for it forever.
func (c *stmtCache) wanted(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && len(c.m)+len(c.want) < maxStmts {
		c.want[text] = true
	}
}

// prepareWanted prepares the texts wanted, waiting for the writer until
// deadline at most. A transaction calls it before it takes the writer: the
// first transactions to run a text run it unprepared, the next ones
// prepared.
func (c *stmtCache) prepareWanted(ctx context.Context, deadline time.Time) {
	c.mu.Lock()
	if len(c.want) == 0 {
		c.mu.Unlock()
		return
	}
	texts := make([]string, 0, len(c.want))
	for t := range c.want {
		texts = append(texts, t)
	}
	clear(c.want)
	c.mu.Unlock()
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for _, t := range texts {
		s, err := c.db.PrepareContext(wctx, t)
		if err != nil {
			return // wanted again the next time it runs
		}
		c.put(t, s)
	}
}

// close closes every statement; the cache hands out none after it.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var err error
	for t, s := range c.m {
		if e := s.Close(); err == nil {
			err = e
		}
		delete(c.m, t)
	}
	clear(c.want)
	return err
}

// stmts are the statement caches of a SQLite store: the readers' and the
// writer's, and the write transaction in progress, which takes its
// statements from the writer's. (Nothing runs a cached statement on the
// writer outside a transaction: preparing one there would wait for a
// transaction that may be the caller's own.)
type stmts struct {
	read, write *stmtCache
	writing     atomic.Pointer[sql.Tx] // the transaction open on the writer connection (SQLite has one at a time)
}

// stmt returns the prepared statement of text for q, or nil when text is
// to be run unprepared: on PostgreSQL, through a connection or a
// transaction not on the writer, or when the cache is full.
func (d *DB) stmt(ctx context.Context, q querier, text string) *sql.Stmt {
	if d.stmts == nil {
		return nil
	}
	switch q := q.(type) {
	case *sql.DB:
		if q == d.read {
			return d.stmts.read.get(ctx, text)
		}
	case *sql.Tx:
		if q != d.stmts.writing.Load() {
			return nil
		}
		s := d.stmts.write.lookup(text)
		if s == nil {
			d.stmts.write.wanted(text)
			return nil
		}
		return q.StmtContext(ctx, s)
	}
	return nil
}

// queryRow is q.QueryRowContext of a fixed text, prepared once on SQLite.
func (d *DB) queryRow(ctx context.Context, q querier, text string, args ...any) *sql.Row {
	if s := d.stmt(ctx, q, text); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, d.q(text), args...)
}

// query is q.QueryContext of a fixed text, prepared once on SQLite. The
// caller must close the rows before it runs the same text again in the
// same transaction: a prepared statement runs one query at a time.
func (d *DB) query(ctx context.Context, q querier, text string, args ...any) (*sql.Rows, error) {
	if s := d.stmt(ctx, q, text); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, d.q(text), args...)
}

// exec is q.ExecContext of a fixed text, prepared once on SQLite.
func (d *DB) exec(ctx context.Context, q querier, text string, args ...any) (sql.Result, error) {
	if s := d.stmt(ctx, q, text); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return q.ExecContext(ctx, d.q(text), args...)
}
