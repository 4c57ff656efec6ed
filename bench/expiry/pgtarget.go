package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
)

// The -pg-target mode: the grants are real role memberships in a
// PostgreSQL server, revoked by Steward's own PostgreSQL connector
// (connector/postgres), as 'steward serve' revokes them. The benchmark
// creates LOGIN roles (the identities) and NOLOGIN roles (the
// entitlements) under a random prefix, grants every membership the JIT
// grants name, and after the run counts with pg_has_role the memberships
// left, which must be none. The roles are dropped at the end, whatever
// happened.

// pgTarget is the server the memberships live in, seen as its administrator.
type pgTarget struct {
	admin           *pgx.Conn
	version         string
	prefix          string
	logins, roles   []string
	member, granted []string // the granted memberships: member[i] is in role granted[i]
}

// newPGTarget connects to the server at dsn with a random role prefix. Its
// drop ends what setup began.
func newPGTarget(ctx context.Context, dsn string) (*pgTarget, error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("-pg-target: %w", err)
	}
	t := &pgTarget{admin: admin, prefix: fmt.Sprintf("expirybench_%d_", rand.Int64N(1e9))} // #nosec G404 -- a name that two runs do not share, not a secret
	if err := admin.QueryRow(ctx, `SELECT version()`).Scan(&t.version); err != nil {
		admin.Close(ctx) // #nosec G104 -- the query's error is the one to report
		return nil, err
	}
	if i := strings.Index(t.version, " on "); i > 0 {
		t.version = t.version[:i]
	}
	return t, nil
}

func (t *pgTarget) login(i int) string { return fmt.Sprintf("%slogin%d", t.prefix, i) }
func (t *pgTarget) role(i int) string  { return fmt.Sprintf("%srole%d", t.prefix, i) }

// setup creates logins LOGIN roles and roles NOLOGIN roles, and grants
// member(i) the role of role(i) for each of the n grants, a statement per
// role; it returns the memberships pg_has_role then counts.
func (t *pgTarget) setup(ctx context.Context, logins, roles, n int, member, role func(i int) int) (int, error) {
	for i := range logins {
		t.logins = append(t.logins, t.login(i))
		if _, err := t.admin.Exec(ctx, `CREATE ROLE `+pgx.Identifier{t.login(i)}.Sanitize()+` LOGIN`); err != nil { // #nosec G202 -- the name is quoted by pgx.Identifier.Sanitize; CREATE ROLE takes no bind parameters
			return 0, err
		}
	}
	for i := range roles {
		t.roles = append(t.roles, t.role(i))
		if _, err := t.admin.Exec(ctx, `CREATE ROLE `+pgx.Identifier{t.role(i)}.Sanitize()+` NOLOGIN`); err != nil { // #nosec G202 -- as above
			return 0, err
		}
	}
	members := make([][]string, roles)
	for i := range n {
		r, m := role(i), t.login(member(i))
		members[r] = append(members[r], pgx.Identifier{m}.Sanitize())
		t.member, t.granted = append(t.member, m), append(t.granted, t.role(r))
	}
	for r, ms := range members {
		if len(ms) == 0 {
			continue
		}
		if _, err := t.admin.Exec(ctx, `GRANT `+pgx.Identifier{t.role(r)}.Sanitize()+` TO `+strings.Join(ms, ", ")); err != nil { // #nosec G202 -- every name is quoted by pgx.Identifier.Sanitize; GRANT takes no bind parameters
			return 0, err
		}
	}
	return t.members(ctx)
}

// members counts the granted memberships that stand, by pg_has_role.
func (t *pgTarget) members(ctx context.Context) (int, error) {
	var n int
	err := t.admin.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[], $2::text[]) AS p(member, role)
		WHERE pg_has_role(p.member, p.role, 'MEMBER')`, t.member, t.granted).Scan(&n)
	return n, err
}

// connector is Steward's PostgreSQL connector on the server, managing the
// benchmark's roles only.
func (t *pgTarget) connector(dsn string) (*postgres.Connector, error) {
	return postgres.New(postgres.Config{DSN: dsn, IncludeRoles: []string{t.prefix + "*"}}, postgres.Options{})
}

// drop drops every role setup created, on a context of its own so that it
// runs after a failure or an interrupt too, and closes the connection.
func (t *pgTarget) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer t.admin.Close(ctx) // #nosec G104 -- the roles are dropped or their error returned; closing changes neither
	var first error
	for _, r := range append(t.logins, t.roles...) {
		if _, err := t.admin.Exec(ctx, `DROP ROLE IF EXISTS `+pgx.Identifier{r}.Sanitize()); err != nil && first == nil { // #nosec G202 -- the name is quoted by pgx.Identifier.Sanitize; DROP ROLE takes no bind parameters
			first = fmt.Errorf("dropping role %s: %w", r, err)
		}
	}
	return first
}

// countingTarget counts a real target's answers: done (revoked, or
// nothing left to revoke: steward.RevocationDone) and failed.
type countingTarget struct {
	r            steward.Revoker
	done, failed atomic.Int64
}

func (c *countingTarget) Revoke(ctx context.Context, identity, entitlement string) error {
	err := c.r.Revoke(ctx, identity, entitlement)
	if steward.RevocationDone(err) {
		c.done.Add(1)
	} else {
		c.failed.Add(1)
	}
	return err
}

// timedStore times the engine's calls to the store, to tell where a run's
// time goes: claims, revocations at the target and records. The engine
// claims the next batch and revokes it while the last is recorded
// (jobs.Expiry's pipeline), so the three overlap and may add up to more
// than the run. Revocations are timed as the time at least one is under
// way at the target (timedTarget), claims and records call by call.
type timedStore struct {
	steward.JITExpiry
	claims, claimed, finishes atomic.Int64
	claimT, revokeT, finishT  atomic.Int64 // nanoseconds

	mu       sync.Mutex
	inflight int       // revocations under way
	since    time.Time // when inflight last went from 0 to 1
}

func (s *timedStore) ClaimRevocations(ctx context.Context, now time.Time, limit int, lease time.Duration) (*steward.RevocationClaim, error) {
	t := time.Now()
	c, err := s.JITExpiry.ClaimRevocations(ctx, now, limit, lease)
	s.claims.Add(1)
	s.claimT.Add(int64(time.Since(t)))
	if c != nil && len(c.Grants) > 0 {
		s.claimed.Add(int64(len(c.Grants)))
	}
	return c, err
}

func (s *timedStore) FinishRevocations(ctx context.Context, lease int64, out []steward.Revocation) (int, error) {
	t := time.Now()
	n, err := s.JITExpiry.FinishRevocations(ctx, lease, out)
	s.finishes.Add(1)
	s.finishT.Add(int64(time.Since(t)))
	return n, err
}

// timedTarget is a target whose revocations s times.
type timedTarget struct {
	steward.Revoker
	s *timedStore
}

func (t timedTarget) Revoke(ctx context.Context, identity, entitlement string) error {
	t.s.mu.Lock()
	if t.s.inflight++; t.s.inflight == 1 {
		t.s.since = time.Now()
	}
	t.s.mu.Unlock()
	defer func() {
		t.s.mu.Lock()
		if t.s.inflight--; t.s.inflight == 0 {
			t.s.revokeT.Add(int64(time.Since(t.s.since)))
		}
		t.s.mu.Unlock()
	}()
	return t.Revoker.Revoke(ctx, identity, entitlement)
}

// split is the engine's time in claims, revocations and records, in seconds.
func (s *timedStore) split(took time.Duration) string {
	sec := func(ns int64) string { return fmt.Sprintf("%.1f s", time.Duration(ns).Seconds()) }
	return fmt.Sprintf("%s / %s / %s of %.1f s (%s claims, %s batches recorded, %s grants a batch)", sec(s.claimT.Load()), sec(s.revokeT.Load()),
		sec(s.finishT.Load()), took.Seconds(), thousands(int(s.claims.Load())), thousands(int(s.finishes.Load())),
		thousands(int(s.claimed.Load()/max(1, s.finishes.Load()))))
}
