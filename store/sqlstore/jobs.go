package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/stewardhq/steward"
)

// Durable jobs live in River's tables (river_job and its companions), in the
// store's database: a job is inserted by the store, in the same transaction
// as the change it follows from, and worked by the River client of package
// jobs, which 'steward serve' runs.
//
// The driver is the same on both engines, database/sql with *sql.Tx as
// River's transaction type: riversqlite on SQLite, riverdatabasesql on
// PostgreSQL. The store's transactions are database/sql ones (pgx's stdlib
// on PostgreSQL), and River's pgx driver (riverpgxv5) inserts only in a
// pgx.Tx, which a *sql.Tx of pgx's stdlib keeps unexported: with it a job
// could not join the store's transaction. riverdatabasesql can, and since
// River v0.51 it listens for new jobs through a pgx connection of its own
// (NewWithPgxListener), so jobs are still picked up at once rather than at
// the next poll.
//
// On SQLite River shares the store's one writer connection: SQLite allows
// one writer at a time, River's SQLite driver asks for a pool of one
// connection for that reason, and a job inserted in the store's transaction
// is written on that connection anyway. A second writer pool would only
// make the two wait on the file lock (busy_timeout) instead of in line.

// openQueue makes the insert-only River client through which the store
// enqueues jobs. It does not touch the database. On failure d is closed.
func (d *DB) openQueue() (*DB, error) {
	q, err := river.NewClient(d.driver(), &river.Config{Logger: slog.New(warnings{d.logger.Handler()})})
	if err != nil {
		d.Close() // #nosec G104 -- the store was opened for this client only; the queue's error is the one to report
		return nil, fmt.Errorf("job queue: %w", err)
	}
	d.queue = q
	return d, nil
}

// driver returns a River driver on the writer pool, without a listener.
func (d *DB) driver() riverdriver.Driver[*sql.Tx] {
	if d.pg {
		return riverdatabasesql.New(d.write)
	}
	return riversqlite.New(d.write)
}

// RiverDriver returns River's driver on d's database, for the River client
// that works jobs (package jobs): on SQLite the store's one writer
// connection, shared for the reasons above; on PostgreSQL the store's pool,
// and a connection of its own for LISTEN, which d closes in Close. The
// client must be stopped before d is closed.
func (d *DB) RiverDriver() (riverdriver.Driver[*sql.Tx], error) {
	if !d.pg {
		return riversqlite.New(d.write), nil
	}
	d.listenMu.Lock()
	defer d.listenMu.Unlock()
	if d.listen == nil {
		cfg, err := pgxpool.ParseConfig(d.dsn)
		if err != nil {
			return nil, steward.Errorf(steward.EINVALID, "PostgreSQL URL is not valid: %v", err)
		}
		// River takes the connection out of the pool for good; one is all
		// a client listens on.
		cfg.MinConns, cfg.MaxConns = 0, 1
		if d.listen, err = pgxpool.NewWithConfig(context.Background(), cfg); err != nil {
			return nil, err
		}
	}
	return riverdatabasesql.NewWithPgxListener(d.write, d.listen), nil
}

func (d *DB) closeListener() {
	d.listenMu.Lock()
	defer d.listenMu.Unlock()
	if d.listen != nil {
		d.listen.Close()
		d.listen = nil
	}
}

// Enqueue adds jobs in ctx's unit of work, or in a transaction of its own.
func (d *DB) Enqueue(ctx context.Context, jobs ...steward.JobArgs) error {
	if len(jobs) == 0 {
		return nil
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error { return d.enqueueTx(ctx, tx, jobs...) })
}

var _ steward.JobQueue = (*DB)(nil)

// enqueueTx inserts jobs in tx. Many go in with one statement (River's
// fast path: a multi-row insert on PostgreSQL, a row at a time on SQLite).
func (d *DB) enqueueTx(ctx context.Context, tx *sql.Tx, jobs ...steward.JobArgs) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		if j == nil || j.Kind() == "" {
			return steward.Errorf(steward.EINVALID, "a job needs a kind.")
		}
		params[i].Args = j
		if s, ok := j.(steward.ScheduledJobArgs); ok {
			params[i].InsertOpts = &river.InsertOpts{ScheduledAt: s.RunAt()}
		}
	}
	if _, err := d.queue.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %s: %w", jobs[0].Kind(), err)
	}
	return nil
}

// migrationLock takes the advisory lock that Migrate holds on PostgreSQL, on
// a connection of its own, and returns what releases it.
func (d *DB) migrationLock(ctx context.Context) (release func(), err error) {
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return nil, d.storeErr(err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7311)`); err != nil {
		conn.Close() // #nosec G104 -- the lock was not taken; its error is the one to report
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7311)`)
		conn.Close() // #nosec G104 -- hands the connection back to the pool; a caller of release could not act on an error
	}, nil
}

// migrateRiver brings River's tables up to the version the River library in
// this binary needs, one River migration per transaction (on PostgreSQL
// River adds an enum value that the same transaction may not use), inside
// Migrate's lock. It writes one audit event for the versions it applied, if
// any.
func (d *DB) migrateRiver(ctx context.Context) error {
	// River logs each migration at Info; the one line below says it all.
	m, err := rivermigrate.New(d.driver(), &rivermigrate.Config{Logger: slog.New(warnings{d.logger.Handler()})})
	if err != nil {
		return err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate River's tables: %w", err)
	} else if len(res.Versions) == 0 {
		return nil
	}
	var versions []string
	for _, v := range res.Versions {
		versions = append(versions, fmt.Sprintf("%03d_%s", v.Version, strings.ReplaceAll(v.Name, " ", "_")))
	}
	d.logger.Info("applied River migrations", "versions", versions)
	// The same data as a migration of Steward's: its name, here River's
	// versions ("river:001_create_river_migration,002_…").
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		return d.appendEvent(ctx, tx, steward.ActionSchemaMigrated, steward.ObjectSchema, "river", steward.SchemaMigrated{Migration: "river:" + strings.Join(versions, ",")})
	})
}

// queueOwnerNotice enqueues in tx the job that tells the people an explicit
// owner change concerns (steward.OwnerAssigned), if it concerns anybody.
func (d *DB) queueOwnerNotice(ctx context.Context, tx *sql.Tx, identityID int64, previous, owner *int64) error {
	if !steward.OwnerChangeConcernsPeople(previous, owner) {
		return nil
	}
	j := steward.OwnerAssigned{IdentityID: identityID, OwnerID: owner, PreviousOwnerID: previous, By: steward.ActorFrom(ctx), At: d.now()}
	if err := tx.QueryRowContext(ctx, d.q(`SELECT x.name, s.name FROM identities x JOIN systems s ON s.id = x.system_id WHERE x.id = ?`),
		identityID).Scan(&j.IdentityName, &j.SystemName); err != nil {
		return err
	}
	for _, p := range []struct {
		id   *int64
		name *string
	}{{owner, &j.OwnerName}, {previous, &j.PreviousOwnerName}} {
		if p.id == nil {
			continue
		}
		if err := tx.QueryRowContext(ctx, d.q(`SELECT name FROM people WHERE id = ?`), *p.id).Scan(p.name); err != nil {
			return err
		}
	}
	return d.enqueueTx(ctx, tx, j)
}

// DeliverNotices writes the notices of one job, once (see steward.Inbox).
func (d *DB) DeliverNotices(ctx context.Context, jobID int64, notices []steward.Notice) (int, error) {
	for i := range notices {
		if err := notices[i].Validate(); err != nil {
			return 0, err
		}
	}
	var wrote int
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		wrote = 0
		now := d.now()
		for i := range notices {
			n := &notices[i]
			var id int64
			err := tx.QueryRowContext(ctx, d.q(`INSERT INTO notices (person_id, kind, subject, body, object_type, object_id, job_id, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, person_id) DO NOTHING RETURNING id`),
				n.PersonID, n.Kind, n.Subject, n.Body, n.ObjectType, n.ObjectID, jobID, micro(now)).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				continue // an earlier attempt of the job delivered it
			case isForeignKey(err):
				return steward.Errorf(steward.ENOTFOUND, "person %d does not exist.", n.PersonID)
			case err != nil:
				return err
			}
			n.ID, n.JobID, n.CreatedAt = id, jobID, now
			if err := d.appendEvent(ctx, tx, steward.ActionNoticeDelivered, steward.ObjectNotice, idStr(id), steward.NoticeDelivered{
				PersonID: n.PersonID, Kind: n.Kind, Subject: n.Subject, ObjectType: n.ObjectType, ObjectID: n.ObjectID, JobID: jobID,
			}); err != nil {
				return err
			}
			wrote++
		}
		return nil
	})
	return wrote, err
}

var _ steward.Inbox = (*DB)(nil)

const noticeColumns = `x.id, x.person_id, p.email, x.kind, x.subject, x.body, x.object_type, x.object_id, x.job_id, x.created_at, x.sent_at`

// Notices lists notices, oldest first unless f.Newest.
func (d *DB) Notices(ctx context.Context, f steward.NoticeFilter) (*steward.Page[steward.Notice], error) {
	after, limit, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	where, args, order := []string{"x.id > ?"}, []any{after}, "ASC"
	if f.Newest {
		where, args, order = []string{"1 = 1"}, nil, "DESC"
		if after > 0 {
			where, args = []string{"x.id < ?"}, []any{after}
		}
	}
	if f.PersonID != 0 {
		where, args = append(where, "x.person_id = ?"), append(args, f.PersonID)
	}
	if f.Unsent {
		where = append(where, "x.sent_at IS NULL")
	}
	args = append(args, limit+1)
	query := `SELECT ` + noticeColumns + ` FROM notices x JOIN people p ON p.id = x.person_id WHERE ` + strings.Join(where, " AND ") + ` ORDER BY x.id ` + order + ` LIMIT ?`
	return fetchPage(ctx, d, false, query, args, limit, scanNotice, func(n *steward.Notice) int64 { return n.ID })
}

func scanNotice(r scanner) (steward.Notice, error) {
	var n steward.Notice
	var created int64
	var sent sql.NullInt64
	err := r.Scan(&n.ID, &n.PersonID, &n.Person, &n.Kind, &n.Subject, &n.Body, &n.ObjectType, &n.ObjectID, &n.JobID, &created, &sent)
	n.CreatedAt, n.SentAt = fromMicro(created), fromNullMicro(sent)
	return n, err
}

// warnings passes on a handler's records of level Warn and above.
type warnings struct{ slog.Handler }

func (h warnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnings) WithAttrs(a []slog.Attr) slog.Handler { return warnings{h.Handler.WithAttrs(a)} }
func (h warnings) WithGroup(n string) slog.Handler      { return warnings{h.Handler.WithGroup(n)} }
