package testenv

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"
)

// PostgresRoles are roles a test makes on the test PostgreSQL server
// (PostgresDSN) to act on through the postgres connector: each is named
// with a prefix random to the test, so that tests in parallel never meet,
// and all are dropped when the test ends.
type PostgresRoles struct {
	DSN    string  // the test server's
	Prefix string  // "tag_123456789_": every role's name starts with it
	Admin  *sql.DB // the test server as its superuser
	tb     testing.TB
	made   []string
}

// NewPostgresRoles makes roles on the test server, each given as its
// name and attributes: "app LOGIN", "admin NOLOGIN". It skips (or, when
// strict, fails) without a test server.
func NewPostgresRoles(tb testing.TB, tag string, roles ...string) *PostgresRoles {
	tb.Helper()
	dsn := PostgresDSN(tb)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	r := &PostgresRoles{DSN: dsn, Prefix: fmt.Sprintf("%s_%d_", tag, rand.Int64N(1e9)), Admin: admin, tb: tb} // #nosec G404 -- a name unique among concurrent test runs, not a secret
	tb.Cleanup(func() {
		for _, name := range slices.Backward(r.made) {
			_, _ = admin.Exec(`DROP ROLE IF EXISTS ` + name)
		}
		_ = admin.Close()
	})
	for _, spec := range roles {
		name, attrs, _ := strings.Cut(spec, " ")
		r.made = append(r.made, r.Name(name))
		r.Exec(`CREATE ROLE ` + r.Name(name) + ` ` + attrs)
	}
	return r
}

// Name is the role name made for name.
func (r *PostgresRoles) Name(name string) string { return r.Prefix + name }

// Exec runs statements as the superuser, failing the test on an error.
func (r *PostgresRoles) Exec(stmts ...string) {
	r.tb.Helper()
	for _, q := range stmts {
		if _, err := r.Admin.Exec(q); err != nil {
			r.tb.Fatalf("%s: %v", q, err)
		}
	}
}

// Member reports whether role login is a member of role (pg_has_role).
func (r *PostgresRoles) Member(login, role string) bool {
	r.tb.Helper()
	var ok bool
	if err := r.Admin.QueryRow(`SELECT pg_has_role($1, $2, 'MEMBER')`, login, role).Scan(&ok); err != nil {
		r.tb.Fatal(err)
	}
	return ok
}

// CanLogin reports whether role may log in (pg_roles.rolcanlogin).
func (r *PostgresRoles) CanLogin(role string) bool {
	r.tb.Helper()
	var ok bool
	if err := r.Admin.QueryRow(`SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, role).Scan(&ok); err != nil {
		r.tb.Fatal(err)
	}
	return ok
}

// Later names a role that the code under test is to make, and drops it
// with the others when the test ends.
func (r *PostgresRoles) Later(name string) string {
	r.made = append(r.made, r.Name(name))
	return r.Name(name)
}
