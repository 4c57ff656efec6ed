// Package sqlstore implements steward.Store on SQLite (the embedded default,
// pure Go through modernc.org/sqlite) and PostgreSQL (pgx), with one set of
// hand-written queries and a small dialect layer. The same conformance suite
// (store/storetest) runs against both.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/riverqueue/river"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stewardhq/steward"
)

//go:embed migrations
var migrations embed.FS

// Options configure a DB. Zero values take the defaults given.
type Options struct {
	// Clock stamps rows and audit events. Default: steward.SystemClock.
	Clock steward.Clock
	// Logger receives store diagnostics. Default: discard.
	Logger *slog.Logger
	// ReadConns is the number of SQLite reader connections. Default: 4.
	// SQLite always has exactly one writer connection: it allows one writer
	// at a time, and queueing writers in Go is cheaper than busy-waiting.
	ReadConns int
	// MaxConns is the PostgreSQL pool size. Default: 16.
	MaxConns int
	// WriteWait bounds how long a write waits for its turn (on SQLite, for
	// the one writer: this process's other writes, or another process's,
	// such as a long steward import beside a running server; on
	// PostgreSQL, for the row locks it needs) before it fails with
	// EUNAVAILABLE and changes nothing, so that an API client learns to
	// come back rather than hang. Syncs, imports and migrations wait longer
	// (BulkWait). Default: DefaultWriteWait.
	WriteWait time.Duration
	// DigestMaxAge is how long a system's sync digest is trusted after the
	// last sync that compared every record: the next sync after that
	// compares every record again. It bounds how long a skip that should
	// not have happened (two records sharing a 64-bit sum) could hide a
	// change. Default: DefaultDigestMaxAge.
	DigestMaxAge time.Duration
	// AuditKeys seal every audit event the store writes with the first key
	// (steward.AuditKey); VerifyAudit checks seals with all of them. Nil:
	// events are written unsealed, and Migrate refuses a database whose
	// newest event is sealed. Default: nil.
	AuditKeys *steward.AuditKeys
}

// DefaultWriteWait is the default of Options.WriteWait: longer than a 1%
// re-sync of a million identities holds the writer (about 3 s), shorter
// than any client's patience.
const DefaultWriteWait = 10 * time.Second

// BulkWait is how long a sync, import, bulk load or migration waits for its
// turn to write: it has read and staged what it will write already, and
// waits for the writes before it rather than fail.
const BulkWait = 10 * time.Minute

// walLimit is the size SQLite's write-ahead log is cut back to after a
// checkpoint (journal_size_limit): a large write grows the log by what it
// writes, and SQLite never shrinks it by itself.
const walLimit = 64 << 20

// DefaultDigestMaxAge is a week: at a million identities and five million
// grants, a comparison of every record takes about 50 s.
const DefaultDigestMaxAge = 7 * 24 * time.Hour

// DB is a Steward store on SQLite or PostgreSQL.
type DB struct {
	pg     bool    // PostgreSQL dialect; SQLite otherwise
	read   *sql.DB // SQLite: reader pool; PostgreSQL: the one pool
	write  *sql.DB // SQLite: one writer connection; PostgreSQL: the one pool
	dsn    string  // PostgreSQL: the URL, for River's LISTEN connection
	clock  steward.Clock
	logger *slog.Logger
	keys   *steward.AuditKeys // Options.AuditKeys

	lockMu sync.Mutex      // guards locks
	locks  map[string]bool // TryLock's locks on SQLite

	touchMu sync.Mutex
	touched map[int64]time.Time // token id → when its last use was last written (or tried)

	digestChunk  int           // entries per sync_digests row; 0: digestChunk (tests set fewer)
	digestMaxAge time.Duration // Options.DigestMaxAge
	noFirstLoad  bool          // stage a first load as any other sync (tests compare the two)
	laterFloor   int64         // rows a first load writes before building indexes after it; 0: laterFloor
	fewGaps      int           // gap tasks below which they drive a searched page; 0: fewGapsMax's default
	loadRows     int           // rows of a table a first load writes at once; 0: loadBatch's default
	sortDrive    int           // matches below which a sorted page's filters drive; 0: driveBound's default
	exactCount   int           // largest exact CountIdentities; 0: exactCountMax's default
	writeWait    time.Duration // Options.WriteWait
	walLimit     int64         // bytes; walLimit unless a test sets less
	file         string        // SQLite: the database file
	stage        *sql.DB       // SQLite: connections on which syncs stage their records (see stagedTx)
	stmts        *stmts        // SQLite: prepared statements of the hot paths (see stmts.go); nil on PostgreSQL

	// SQLite: the write-ahead log is copied into the database file by a
	// goroutine after each write (see Checkpoint), not by the writer as it
	// commits.
	ckpt     chan struct{} // a checkpoint is wanted; never closed, so wrote never panics
	ckptStop chan struct{}
	ckptWG   sync.WaitGroup
	ckptMu   sync.Mutex
	stopOnce sync.Once

	queue    *river.Client[*sql.Tx] // inserts jobs in the store's transactions; works none
	listenMu sync.Mutex
	listen   *pgxpool.Pool // PostgreSQL: River's LISTEN connection, made by RiverDriver
}

var _ steward.Store = (*DB)(nil)

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// readMap is how much of a SQLite database file its readers map: as much
// as SQLite allows (SQLITE_MAX_MMAP_SIZE, 2 GiB less 64 KiB).
const readMap = 0x7fff0000

// Open opens the store at dsn: a postgres:// URL, or else the path of a SQLite
// file, created if missing. It does not migrate; call Migrate.
func Open(dsn string, o Options) (*DB, error) {
	if dsn == "" {
		return nil, steward.Errorf(steward.EINVALID, "no database given: pass --db with a SQLite file path or a postgres:// URL.")
	}
	d := &DB{pg: IsPostgres(dsn), clock: o.Clock, logger: o.Logger, digestMaxAge: o.DigestMaxAge, writeWait: o.WriteWait, walLimit: walLimit, keys: o.AuditKeys}
	if d.writeWait <= 0 {
		d.writeWait = DefaultWriteWait
	}
	if d.digestMaxAge <= 0 {
		d.digestMaxAge = DefaultDigestMaxAge
	}
	if d.clock == nil {
		d.clock = steward.SystemClock{}
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if d.pg {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, steward.Errorf(steward.EINVALID, "PostgreSQL URL is not valid: %v", err)
		}
		n := o.MaxConns
		if n <= 0 {
			n = 16
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db.SetConnMaxIdleTime(5 * time.Minute)
		d.read, d.write, d.dsn = db, db, dsn
		return d.openQueue()
	}
	file := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(file, '?'); i >= 0 {
		file = file[:i]
	}
	// WAL lets readers run beside the writer; busy_timeout makes another
	// process (a CLI command beside a running server) wait instead of fail
	// (each write transaction sets its own bound: see inTx);
	// synchronous=NORMAL is durable across process crashes in WAL mode;
	// journal_size_limit cuts the log back after a checkpoint has emptied
	// it, which SQLite otherwise never does.
	params := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16000)&_pragma=journal_size_limit(" + strconv.Itoa(walLimit) + ")&_time_format=sqlite"
	// The writer gets a larger page cache (64 MiB): syncs and bulk loads
	// probe the indexes of millions of rows at random. It does not
	// checkpoint the log itself: a commit that crosses SQLite's threshold
	// would copy the log into the database before returning (0.6 s after a
	// large sync); a goroutine does it just after instead. Its large sorts
	// (a first load's index builds) may use helper threads: the entitlement
	// index of 5,000,000 grants took 6.5 s alone and 4.1 s with them.
	writer := "file:" + file + params + "&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)&_pragma=threads(4)&_txlock=immediate"
	write, err := sql.Open("sqlite", writer)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// Readers map the database file (up to SQLite's limit of 2 GiB; past
	// it they read as before): a page list reads a table row for each of
	// its matches or walked index entries, and a read through the OS page
	// cache costs a system call each. Sorted by name in a team of 5,000 at
	// a million identities: 43 ms a page, 15 ms mapped; a common word at the
	// middle of the list, 49 ms and 30 ms. The writers do not: a sync
	// gained 5-10% and its process showed the whole file resident.
	read, err := sql.Open("sqlite", "file:"+file+params+"&_pragma=query_only(1)&_pragma=mmap_size("+strconv.Itoa(readMap)+")")
	if err != nil {
		write.Close() // #nosec G104 -- open failed before anything was read or written; its error is the one to report
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// A sync reads, parses and stages its records on a connection of its
	// own, outside the writer's turn, and writes from the same connection
	// (its staging tables are the connection's) once it has the turn: see
	// stagedTx. As the writer, it does not checkpoint, and sorts with
	// helper threads.
	stage, err := sql.Open("sqlite", writer)
	if err != nil {
		write.Close() // #nosec G104 -- open failed before anything was read or written; its error is the one to report
		read.Close()  // #nosec G104 -- open failed before anything was read or written; its error is the one to report
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	stage.SetMaxOpenConns(2)
	stage.SetMaxIdleConns(1)
	n := o.ReadConns
	if n <= 0 {
		n = 4
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	d.read, d.write, d.stage, d.file = read, write, stage, file
	d.stmts = &stmts{read: newStmtCache(read), write: newStmtCache(write)}
	d.startCheckpointer()
	return d.openQueue()
}

// startCheckpointer runs SQLite checkpoints after writes (wrote) and every
// second, so that the log stays short without a writer paying for it. The
// tick is for the writes that do not pass through wrote: River's, which
// fetch and complete jobs on the same connection many times a second while
// jobs are worked (with a tick of a minute the log grew to 770 MB while
// 100,000 jobs were worked). A checkpoint with nothing to copy costs
// next to nothing.
func (d *DB) startCheckpointer() {
	d.ckpt, d.ckptStop = make(chan struct{}, 1), make(chan struct{})
	d.ckptWG.Add(1)
	go func() {
		defer d.ckptWG.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-d.ckpt:
			case <-tick.C:
			case <-d.ckptStop:
				return
			}
			if err := d.checkpoint(context.Background()); err != nil {
				d.logger.Warn("checkpoint failed", "err", err)
			}
		}
	}()
}

// wrote asks for a checkpoint after a commit.
func (d *DB) wrote() {
	if d.ckpt != nil {
		select {
		case d.ckpt <- struct{}{}:
		default: // one is pending already
		}
	}
}

// checkpoint copies SQLite's write-ahead log into the database file, as far
// as readers allow (PASSIVE: it waits for nobody), and once all of it is
// copied cuts the log file back if a large write has grown it over its
// limit (truncateLog). The store does this by itself after writes and
// every second. Nothing to do on PostgreSQL.
func (d *DB) checkpoint(ctx context.Context) error {
	if d.pg {
		return nil
	}
	d.ckptMu.Lock()
	defer d.ckptMu.Unlock()
	var busy, frames, copied int
	if err := d.read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	if frames < 0 || copied < frames {
		return nil // a reader still needs part of the log: the next tick
	}
	if fi, err := os.Stat(d.file + "-wal"); err != nil || fi.Size() <= d.walLimit {
		return nil
	}
	return d.truncateLog(ctx)
}

// truncateLog empties the write-ahead log file (a TRUNCATE checkpoint)
// once a PASSIVE one has copied all of it into the database. SQLite cuts
// the log back to journal_size_limit only when the next write starts it
// over, and a log grown by a large import (hundreds of MB) would otherwise
// stay that size while the server is idle. A TRUNCATE checkpoint takes the
// write lock and waits for readers; with busy_timeout 0 it waits for
// neither: when a writer or a reader is in the way it does nothing, and the
// next tick tries again. With nothing left to copy it holds the write lock
// only to cut the file.
//
// It runs on the writer's connection, when that is free within a moment
// (else the next tick tries again): a TRUNCATE checkpoint starts the log
// over with a new header, and any other connection that sees the new
// header drops its whole page cache. The writer's is 64 MiB; cut from a
// reader's connection, every cut cost the next write a cold cache (the JIT
// expiry engine, writing without pause, lost about a quarter of its speed
// to it: see bench/RESULTS.md).
func (d *DB) truncateLog(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	c, err := d.write.Conn(wctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			return nil // the writer is busy: writes are flowing, and the next tick tries again
		}
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return err
	}
	defer func() {
		if _, err := c.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout = 10000`); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn }) // not back into the pool without its timeout
		}
	}()
	var busy, frames, copied int
	return c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
}

// Dialect returns "sqlite" or "postgres".
func (d *DB) Dialect() string {
	if d.pg {
		return "postgres"
	}
	return "sqlite"
}

// Close closes the database.
func (d *DB) Close() error {
	if d.ckptStop != nil {
		d.stopOnce.Do(func() { close(d.ckptStop) })
		d.ckptWG.Wait()
	}
	d.closeListener()
	var err error
	if d.stmts != nil {
		// Before their pools: a statement holds its connections' handles.
		err = cmpErr(d.stmts.read.close(), d.stmts.write.close())
	}
	if e := d.write.Close(); err == nil { // SQLite: the last connection to close checkpoints
		err = e
	}
	if d.read != d.write {
		if e := d.read.Close(); err == nil {
			err = e
		}
	}
	if d.stage != nil {
		if e := d.stage.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Ping returns EUNAVAILABLE if the database cannot be reached.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		d.logger.Warn("store ping failed", "err", err)
		return steward.Errorf(steward.EUNAVAILABLE, "The database cannot be reached.")
	}
	return nil
}

// Migrate applies every embedded migration not yet applied, each in its own
// transaction with an audit event, and then River's (see migrateRiver). On
// PostgreSQL an advisory lock, held throughout, makes replicas that start at
// once take turns.
//
// It returns EINVALID, after migrating, when the newest audit event is
// sealed and the store has no audit key (Options.AuditKeys), so that no
// command writes an unsealed event after sealed ones.
func (d *DB) Migrate(ctx context.Context) error {
	if err := d.migrate(ctx, 0); err != nil {
		return err
	}
	return d.checkSealed(ctx)
}

// migrate applies Steward's migrations up to version upTo, or all of them
// and then River's when upTo is 0 (a test stops early to write rows as an
// older Steward did).
func (d *DB) migrate(ctx context.Context, upTo int) error {
	if d.pg {
		// The whole of it, from the creation of schema_migrations on: two
		// replicas creating it at once on a new database collide in
		// PostgreSQL's catalog even with IF NOT EXISTS.
		release, err := d.migrationLock(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	if _, err := d.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	dir := path.Join("migrations", d.Dialect())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		name := e.Name()
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		} else if upTo > 0 && version > upTo {
			break
		}
		body, err := fs.ReadFile(migrations, path.Join(dir, name))
		if err != nil {
			return err
		}
		applied := false
		err = d.bulkTx(ctx, func(tx *sql.Conn) error {
			applied = false
			var n int
			if err := tx.QueryRowContext(ctx, d.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			} else if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			ectx := ctx // what the migration's events are written with
			if version < viaSchema {
				ectx = context.WithValue(ectx, noViaKey{}, true)
			}
			if sealed, err := d.hasSeals(ctx, tx); err != nil {
				return err
			} else if !sealed && version != sealSchema {
				ectx = context.WithValue(ectx, beforeSealsKey{}, true)
			}
			if step := migrationSteps[version]; step != nil {
				if err := step(d, ectx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), version, name, d.now().UnixMicro()); err != nil {
				return err
			}
			d.logger.Info("applied migration", "name", name)
			applied = true
			return d.appendEvent(ectx, tx, steward.ActionSchemaMigrated, steward.ObjectSchema, strconv.Itoa(version), steward.SchemaMigrated{Migration: name})
		})
		if err != nil {
			return err
		}
		if after := migrationAfter[version]; applied && d.pg && after != "" {
			if _, err := d.write.ExecContext(ctx, after); err != nil {
				return fmt.Errorf("migration %s, after it: %w", name, err)
			}
		}
	}
	if upTo > 0 {
		return nil
	}
	if !d.pg {
		if err := d.dropStat4(ctx); err != nil {
			return err
		}
	}
	return d.migrateRiver(ctx)
}

// migrationAfter are statements PostgreSQL runs after a migration has
// committed, outside any transaction, which VACUUM needs.
var migrationAfter = map[int]string{
	// Schema 22 rewrites identities (a stored column): the rewritten table
	// has no visibility map, so an index-only scan of it would read the
	// table row of every entry it walks until autovacuum came by (a page
	// sorted by name and searched: 33 ms became 450).
	22: `VACUUM (ANALYZE) identities`,
}

// migrationSteps are the parts of migrations that SQL cannot do, run in the
// migration's transaction after its SQL.
var migrationSteps = map[int]func(d *DB, ctx context.Context, c *sql.Conn) error{
	// Schema 14 gives every token a principal: those made before it become
	// automation identities of Steward's own inventory, without an owner.
	14: func(d *DB, ctx context.Context, c *sql.Conn) error { return d.migratePrincipals(ctx, c) },
	// Schema 11 records why each identity has its owner; explicit
	// assignments are filled in by its SQL, every other identity is
	// re-resolved here, since only the domain's rules can say which rule
	// or tag decided. Owners do not change unless the database was out of
	// line; where one does, it gets its event as any re-resolution's.
	11: func(d *DB, ctx context.Context, c *sql.Conn) error {
		ev := &eventSink{d: d, c: c}
		if err := d.reresolve(ctx, c, ev, &steward.SyncResult{}, everyIdentity()); err != nil {
			return err
		}
		return ev.flush(ctx)
	},
}

// SchemaVersion returns the newest applied migration, 0 for an empty database.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.read.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, nil // no schema_migrations table yet
	}
	return int(v.Int64), nil
}

// now returns the clock's time at the precision the store keeps.
func (d *DB) now() time.Time { return d.clock.Now().UTC().Truncate(time.Microsecond) }

// q rewrites ? placeholders as $1, $2, … for PostgreSQL. Queries are
// written with ? and never contain a literal question mark.
func (d *DB) q(query string) string {
	if !d.pg {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteByte(query[i])
		}
	}
	return b.String()
}

// storeErr turns a constraint error that reached commit (SQLite checks
// deferred foreign keys there) into a user error; others pass through.
func (d *DB) storeErr(err error) error {
	switch {
	case isBusy(err):
		return errBusy
	case isForeignKey(err):
		return steward.Errorf(steward.ENOTFOUND, "A row refers to another that does not exist.")
	case isUnique(err):
		return steward.Errorf(steward.ECONFLICT, "A row with the same key exists already.")
	}
	return err
}

// isBusy reports whether err is a write that did not get its turn: SQLite's
// busy_timeout or PostgreSQL's lock_timeout ran out, or PostgreSQL chose
// this transaction to end a deadlock (units of work lock a row and the
// audit chain's head in either order: an approval locks the request, then
// the head; a fulfilment's records lock the head, then the request) or a
// serialization failure. Each rolled back whole, and trying again is the
// answer.
func isBusy(err error) bool {
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	case errors.As(err, &pe):
		switch pe.Code {
		case "55P03", "40P01", "40001": // lock_not_available, deadlock_detected, serialization_failure
			return true
		}
	}
	return false
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	case errors.As(err, &pe):
		return pe.Code == "23505"
	}
	return false
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	case errors.As(err, &pe):
		return pe.Code == "23503"
	}
	return false
}

// querier is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// micro converts a time to the stored Unix microseconds.
func micro(t time.Time) int64 { return t.UnixMicro() }

// microPtr converts an optional time to a nullable column value.
func microPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromMicro converts stored Unix microseconds to a UTC time.
func fromMicro(v int64) time.Time { return time.UnixMicro(v).UTC() }

// fromNullMicro converts a nullable column to an optional time.
func fromNullMicro(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicro(v.Int64)
	return &t
}

// idPtr converts an optional id to a nullable column value.
func idPtr(id *int64) any {
	if id == nil {
		return nil
	}
	return *id
}

// fromNullID converts a nullable id column to an optional id.
func fromNullID(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	id := v.Int64
	return &id
}

// likePattern returns a LIKE pattern that matches q as a literal substring.
// foldFunc is the SQL name of fold on SQLite connections.
const foldFunc = "steward_fold"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(foldFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return fold(v), nil
		case []byte:
			return fold(string(v)), nil
		}
		return args[0], nil // NULL, or a number: nothing to fold
	})
}

// fold lower-cases s letter by letter, as SQLite's search index folds text
// (Unicode's simple case mapping: one letter for one).
func fold(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	return strings.Map(unicode.ToLower, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// exists returns ENOTFOUND naming what unless table has a row with id.
func (d *DB) exists(ctx context.Context, tx querier, table string, id int64, what string) error {
	var one int
	err := tx.QueryRowContext(ctx, d.q(`SELECT 1 FROM `+table+` WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return steward.Errorf(steward.ENOTFOUND, "%s %d does not exist.", what, id)
	}
	return err
}

// TryLock takes a named lock that one process at a time may hold, across
// every replica on the same PostgreSQL (an advisory lock) or within this
// process for SQLite, where there is only one. It returns ok false at once if
// another holder has it; release frees it.
func (d *DB) TryLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	if !d.pg {
		d.lockMu.Lock()
		defer d.lockMu.Unlock()
		if d.locks == nil {
			d.locks = map[string]bool{}
		}
		if d.locks[name] {
			return nil, false, nil
		}
		d.locks[name] = true
		return func() { d.lockMu.Lock(); delete(d.locks, name); d.lockMu.Unlock() }, true, nil
	}
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, "steward:"+name).Scan(&ok); err != nil || !ok {
		conn.Close() // #nosec G104 -- the lock was not taken; the query's error (or none, when another holds it) is returned
		return nil, false, err
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, "steward:"+name)
		conn.Close() // #nosec G104 -- hands the connection back to the pool; a caller of release could not act on an error
	}, true, nil
}
