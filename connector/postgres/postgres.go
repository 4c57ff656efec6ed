// Package postgres connects Steward to a PostgreSQL cluster, as a source (what
// roles exist and what they may do) and as a target (grant and revoke role
// membership, rotate a password, disable and drop a role).
//
// How PostgreSQL maps onto Steward's nouns:
//
//   - A role that can log in (rolcanlogin) is an identity of kind
//     service_account; its external id is the role name. A role that
//     Steward disabled (NOLOGIN, member of Config.DisabledRole) stays an
//     identity with status disabled, so that its grants stay visible and
//     disabling never looks like a deletion to the reconciler.
//   - A login role's criticality follows its own attributes, as the AWS
//     root user's does: SUPERUSER is critical; CREATEROLE, BYPASSRLS and
//     REPLICATION are high; other roles take the sync's default (medium).
//   - A login role with a password has one credential, kind password,
//     external id "password", expiring at rolvaliduntil. Whether a password
//     is set is only readable by a superuser (pg_authid); otherwise every
//     login role gets the credential and the label password=unknown.
//   - Entitlements: "role:<name>" for every NOLOGIN role (and every login
//     role that other roles are members of); "attr:SUPERUSER",
//     "attr:CREATEROLE", "attr:BYPASSRLS", "attr:REPLICATION",
//     "attr:CREATEDB"; "owner:database:<db>"; "database:<db>:<PRIVILEGE>";
//     "table:<db>.<schema>.<table>:<PRIVILEGE>". A name part holding '.',
//     ':' or '"' is double-quoted as in SQL.
//   - Privileged: SUPERUSER, CREATEROLE, BYPASSRLS, REPLICATION, database
//     ownership, the predefined roles that reach all data or the server's
//     files and programs, and every role that has one of these itself or
//     through (nested) membership.
//   - Grants are what identities hold directly: role membership,
//     attributes, database ownership and privileges (an owner's implicit
//     privileges included), table privileges. What a NOLOGIN role holds is
//     what its entitlement means: it is summarised in the entitlement's
//     description, not emitted as grants. Privileges granted to PUBLIC,
//     column, schema and sequence privileges are not read.
//
// A configuration (see Config) reads, for example:
//
//	dsn: postgres://steward@db.internal:5432/postgres?sslmode=verify-full
//	password_file: /run/secrets/steward-postgres
//	databases: [app, "billing_*"]
//	exclude_roles: ["rds*"]
//	environment: prod
//	rotation_sink: file:/run/steward/rotated
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stewardhq/steward"
)

// Options are the collaborators of a Connector; every field has a default.
type Options struct {
	// Logger receives what an operator needs to know (a rotation, a role
	// skipped). Never a password or a statement that carries one.
	// Default: discard.
	Logger *slog.Logger
	// Clock stamps rotations and computes password expiry.
	// Default: steward.SystemClock.
	Clock steward.Clock
	// Getenv reads the variable named by Config.PasswordEnv. Default: os.Getenv.
	Getenv func(string) string
	// ReadFile reads Config.PasswordFile. Default: os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Stdout is where the "stdout" rotation sink prints. Default: os.Stdout.
	Stdout io.Writer
}

// Connector is a PostgreSQL cluster as a steward.Source and steward.Target.
// It holds no connection: each Read and each target call connects, so that a
// long-lived Steward never sits on a broken or stale session. It is safe for
// concurrent use.
type Connector struct {
	cfg    Config
	conn   *pgx.ConnConfig
	sink   rotationSink
	logger *slog.Logger
	clock  steward.Clock
	stdout io.Writer
	outMu  sync.Mutex // one printed password never interleaves with another

	// pool holds the sessions Grant and Revoke use, made on first use: a
	// session of its own for every change cost a connection and its
	// authentication each, which held revocations to about 30 a second.
	poolMu sync.Mutex
	pool   *pgxpool.Pool
}

// poolConns bounds the sessions a connector keeps open for grants and
// revocations; idle ones are closed after poolIdle.
const (
	poolConns = 8
	poolIdle  = 30 * time.Second
)

// session returns a pooled session on the configured database and what
// hands it back.
func (c *Connector) session(ctx context.Context) (*pgx.Conn, func(), error) {
	c.poolMu.Lock()
	if c.pool == nil {
		pc, err := pgxpool.ParseConfig("")
		if err != nil {
			c.poolMu.Unlock()
			return nil, nil, err
		}
		pc.ConnConfig = c.conn.Copy()
		pc.MaxConns, pc.MinConns, pc.MaxConnIdleTime = poolConns, 0, poolIdle
		if c.pool, err = pgxpool.NewWithConfig(context.WithoutCancel(ctx), pc); err != nil {
			c.poolMu.Unlock()
			return nil, nil, classify(err, fmt.Sprintf("connecting to database %q on %s", c.conn.Database, c.conn.Host))
		}
	}
	pool := c.pool
	c.poolMu.Unlock()
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, classify(err, fmt.Sprintf("connecting to database %q on %s", c.conn.Database, c.conn.Host))
	}
	return pc.Conn(), pc.Release, nil
}

// Close closes the sessions the connector keeps for grants and
// revocations.
func (c *Connector) Close() {
	c.poolMu.Lock()
	defer c.poolMu.Unlock()
	if c.pool != nil {
		c.pool.Close()
		c.pool = nil
	}
}

var (
	_ steward.Source = (*Connector)(nil)
	_ steward.Target = (*Connector)(nil)
)

// New checks cfg, reads the password from its environment variable or file
// and, for a file rotation sink, checks the directory's mode. It does not
// connect. Errors: EINVALID.
func New(cfg Config, opts Options) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = steward.SystemClock{}
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	cc, err := cfg.connConfig(opts.Getenv, opts.ReadFile)
	if err != nil {
		return nil, err
	}
	sink, _ := cfg.sink() // Validate checked it
	if sink.Dir != "" {
		if err := checkSinkDir(sink.Dir); err != nil {
			return nil, err
		}
	}
	return &Connector{cfg: cfg, conn: cc, sink: sink, logger: opts.Logger, clock: opts.Clock, stdout: opts.Stdout}, nil
}

// connect opens a session to database db, or to the configured one if db is "".
func (c *Connector) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cc := c.conn.Copy()
	if db != "" {
		cc.Database = db
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("connecting to database %q on %s", cc.Database, cc.Host))
	}
	return conn, nil
}

// classify turns a pgx error into a steward.Error with the code a caller can
// act on, keeping the original in the chain for the logs. what says what
// Steward was doing, in words a user understands.
func classify(err error, what string) error {
	var se *steward.Error
	var pe *pgconn.PgError
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.As(err, &pe):
		code := steward.EINTERNAL
		switch {
		case pe.Code == "42501":
			code = steward.EFORBIDDEN
		case pe.Code == "42704":
			code = steward.ENOTFOUND
		case pe.Code == "2BP01", pe.Code == "0LP01", pe.Code == "55006", pe.Code == "42710":
			code = steward.ECONFLICT
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "28"), strings.HasPrefix(pe.Code, "53"),
			strings.HasPrefix(pe.Code, "57P"):
			code = steward.EUNAVAILABLE
		case strings.HasPrefix(pe.Code, "22"), strings.HasPrefix(pe.Code, "42"):
			code = steward.EINVALID
		}
		msg := pe.Message
		if pe.Detail != "" {
			msg += " (" + oneLine(pe.Detail, 512) + ")"
		}
		return fmt.Errorf("%w: %w", steward.Errorf(code, "postgres: %s: %s.", what, msg), err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ce), errors.As(err, &ne):
		return fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: %s: the server cannot be reached.", what), err)
	default:
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
}

// oneLine joins a multi-line server detail into one line of at most max bytes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
	return truncate(s, max)
}

// truncate cuts s to at most max bytes on a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ident quotes a role, database or other name for SQL.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
