package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
)

// fixture is one test's corner of the real test PostgreSQL server: roles are
// cluster-wide, so each test names its roles with a random prefix, gets its
// own database, and drops both when it ends.
type fixture struct {
	t      *testing.T
	dsn    *url.URL  // the test server, as its superuser, database "postgres"
	admin  *pgx.Conn // superuser session on database "postgres"
	dbConn *pgx.Conn // superuser session on the test's database
	prefix string    // "stw<hex>_"
	db     string    // the test's database, owned by role(owner)

	enforceOnce sync.Once
	enforced    bool

	mu        sync.Mutex
	passwords map[string]string // role → password, for servers that check them
}

// newFixture creates the test's database, owned by the login role
// f.role("owner"), which the cleanup drops with every role of the prefix.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	raw := testenv.PostgresDSN(t)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("STEWARD_TEST_POSTGRES must be a postgres:// URL for these tests, got %q", raw)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	f := &fixture{t: t, dsn: u, prefix: "stw" + hex.EncodeToString(b[:]) + "_", passwords: map[string]string{}}
	f.db = f.prefix + "db"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, f.url("postgres", ""))
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	f.admin = admin
	t.Cleanup(f.cleanup)
	f.exec("CREATE ROLE " + ident(f.role("owner")) + " LOGIN PASSWORD 'owner-pw'")
	f.exec("CREATE DATABASE " + ident(f.db) + " OWNER " + ident(f.role("owner")))
	if f.dbConn, err = pgx.Connect(ctx, f.url(f.db, "")); err != nil {
		t.Fatalf("connecting to %s: %v", f.db, err)
	}
	return f
}

// cleanup drops the test's database and every role of its prefix, whatever
// state the test left them in.
func (f *fixture) cleanup() {
	ctx := context.Background()
	if f.dbConn != nil {
		_ = f.dbConn.Close(ctx)
	}
	if _, err := f.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(f.db)+" WITH (FORCE)"); err != nil {
		f.t.Errorf("cleanup: dropping %s: %v", f.db, err)
	}
	rows, err := f.admin.Query(ctx, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, f.prefix)
	if err != nil {
		f.t.Errorf("cleanup: %v", err)
		return
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Errorf("cleanup: %v", err)
	}
	for _, r := range roles {
		// DROP OWNED clears what a role holds in database "postgres"; the
		// test's own database is gone already.
		_, _ = f.admin.Exec(ctx, "DROP OWNED BY "+ident(r))
		if _, err := f.admin.Exec(ctx, "DROP ROLE "+ident(r)); err != nil {
			f.t.Errorf("cleanup: dropping role %s: %v", r, err)
		}
	}
	_ = f.admin.Close(ctx)
}

// role returns the test's role called name.
func (f *fixture) role(name string) string { return f.prefix + name }

// url returns the test server's URL for database db as user (the superuser if "").
func (f *fixture) url(db, user string) string {
	u := *f.dsn
	u.Path = "/" + db
	if user != "" {
		u.User = url.User(user)
	}
	return u.String()
}

// exec runs statements as the superuser in database "postgres".
func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.admin.Exec(context.Background(), s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

// execDB runs statements as the superuser in the test's database.
func (f *fixture) execDB(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.dbConn.Exec(context.Background(), s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

// config is a connector configuration that sees only the test's roles and
// database. Connecting to database "postgres" and reading the test's
// database through Databases exercises the second connection.
func (f *fixture) config() Config {
	return Config{
		DSN:          f.url("postgres", ""),
		Databases:    []string{f.db},
		IncludeRoles: []string{f.prefix + "*"},
		DisabledRole: f.role("disabled"),
		Environment:  steward.EnvStaging,
	}
}

// loginRole creates the test's login role called name with a password and
// the given attributes, and returns its full name.
func (f *fixture) loginRole(name, attrs string) string {
	f.t.Helper()
	role := f.role(name)
	pw := "pw-" + name
	f.exec("CREATE ROLE " + ident(role) + " LOGIN PASSWORD " + literal(pw) + " " + attrs)
	f.mu.Lock()
	f.passwords[role] = pw
	f.mu.Unlock()
	return role
}

// password returns the password loginRole gave role.
func (f *fixture) password(role string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.passwords[role]
}

// configAs is config connecting as role (made by loginRole), whose password
// comes through password_env as in production.
func (f *fixture) configAs(role string) Config {
	cfg := f.config()
	cfg.DSN = f.url("postgres", role)
	cfg.PasswordEnv = "STEWARD_TEST_PASSWORD_" + role
	return cfg
}

// connector builds a connector over cfg, logging into the test's output;
// the passwords of loginRole are its environment.
func (f *fixture) connector(cfg Config, opts Options) *Connector {
	f.t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(f.t.Output(), nil))
	}
	if opts.Getenv == nil {
		opts.Getenv = func(k string) string {
			role, _ := strings.CutPrefix(k, "STEWARD_TEST_PASSWORD_")
			return f.password(role)
		}
	}
	c, err := New(cfg, opts)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return c
}

// login connects to the test's database as role with password.
func (f *fixture) login(role, password string) error {
	cc, err := pgx.ParseConfig(f.url(f.db, role))
	if err != nil {
		return err
	}
	cc.Password = password
	cc.ConnectTimeout = 10 * time.Second
	conn, err := pgx.ConnectConfig(context.Background(), cc)
	if err != nil {
		return err
	}
	return conn.Close(context.Background())
}

// passwordsEnforced reports whether the server checks passwords of the
// test's roles. A server set up with trust authentication (the default of
// scripts/postgres.sh) lets anyone in; then a password can only be checked
// against its stored SCRAM verifier.
func (f *fixture) passwordsEnforced() bool {
	f.enforceOnce.Do(func() {
		f.exec("CREATE ROLE " + ident(f.role("probe")) + " LOGIN PASSWORD 'right-password'")
		f.enforced = f.login(f.role("probe"), "wrong-password") != nil
		if !f.enforced {
			f.t.Logf("the test server trusts every login; passwords are checked against pg_authid's SCRAM verifier instead")
		}
	})
	return f.enforced
}

// checkPassword fails the test unless password is role's password: by
// logging in where the server checks passwords, by its SCRAM verifier (and
// a login that proves LOGIN) where it trusts.
func (f *fixture) checkPassword(role, password string) {
	f.t.Helper()
	if err := f.login(role, password); err != nil {
		f.t.Fatalf("logging in as %s with the rotated password: %v", role, err)
	}
	if f.passwordsEnforced() {
		if err := f.login(role, password+"x"); err == nil {
			f.t.Fatalf("logging in as %s with a wrong password succeeded", role)
		}
		return
	}
	var verifier string
	err := f.admin.QueryRow(context.Background(), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&verifier)
	if err != nil {
		f.t.Fatalf("reading the verifier of %s: %v", role, err)
	}
	if !scramMatches(f.t, verifier, password) {
		f.t.Fatalf("the verifier of %s does not match the password from the sink", role)
	}
}

// scramMatches recomputes verifier's keys from password with its own salt
// and iterations.
func scramMatches(t *testing.T, verifier, password string) bool {
	t.Helper()
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		t.Fatalf("verifier %q is not SCRAM-SHA-256", verifier)
	}
	params, _, _ := strings.Cut(rest, "$")
	iter, salt, _ := strings.Cut(params, ":")
	n, err := strconv.Atoi(iter)
	if err != nil {
		t.Fatalf("verifier iterations: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		t.Fatalf("verifier salt: %v", err)
	}
	got, err := scramVerifier(password, raw, n)
	if err != nil {
		t.Fatal(err)
	}
	return got == verifier
}

// loginRefused reports whether err is PostgreSQL refusing a role that may not log in.
func loginRefused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "28000"
}

// index is one read of a source, by key.
type index struct {
	records      []steward.Record
	identities   map[string]*steward.SourceIdentity
	entitlements map[string]*steward.SourceEntitlement
	grants       map[string]bool // "identity entitlement"
}

func indexOf(records []steward.Record) index {
	ix := index{records: records, identities: map[string]*steward.SourceIdentity{},
		entitlements: map[string]*steward.SourceEntitlement{}, grants: map[string]bool{}}
	for _, r := range records {
		switch {
		case r.Identity != nil:
			ix.identities[r.Identity.ExternalID] = r.Identity
		case r.Entitlement != nil:
			ix.entitlements[r.Entitlement.Name] = r.Entitlement
		case r.Grant != nil:
			ix.grants[r.Grant.Identity+" "+r.Grant.Entitlement] = true
		}
	}
	return ix
}

// read reads src once, failing on any error.
func read(t *testing.T, src steward.Source) index {
	t.Helper()
	var out []steward.Record
	for r, err := range src.Read(context.Background()) {
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, r)
	}
	return indexOf(out)
}
