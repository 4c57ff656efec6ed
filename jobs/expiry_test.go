package jobs_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

// recorder is a Revoker that records what it was asked to revoke and fails
// while down is set. It stands in for a system in the engine's tests of
// what no real system here does on demand (refuse, then accept); the
// revocation through a real PostgreSQL is TestExpiryRevokesInPostgres.
type recorder struct {
	delay time.Duration // how long each revocation takes
	mu    sync.Mutex
	calls map[string]int // "identity/entitlement" → revocations
	down  bool
}

func (r *recorder) Revoke(_ context.Context, identity, entitlement string) error {
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return steward.Errorf(steward.EUNAVAILABLE, "the system cannot be reached")
	}
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[identity+"/"+entitlement]++
	return nil
}

func (r *recorder) setDown(v bool) { r.mu.Lock(); r.down = v; r.mu.Unlock() }

// revoked returns how many grants were revoked and the most any one was.
func (r *recorder) revoked() (n, most int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.calls {
		most = max(most, k)
	}
	return len(r.calls), most
}

// jitGrants records n JIT grants on one system, of n identities and one
// role, expiring at expires(i).
func jitGrants(t *testing.T, db *sqlstore.DB, n int, expires func(i int) time.Time) []*steward.JITGrant {
	t.Helper()
	sys := storetest.MustSystem(t, db, nil)
	role := storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:admin", true })
	gs := make([]*steward.JITGrant, n)
	for i := range gs {
		id := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.ExternalID = fmt.Sprintf("svc%d", i) })
		gs[i] = &steward.JITGrant{IdentityID: id.ID, EntitlementID: role.ID, GrantedAt: expires(i).Add(-time.Hour), ExpiresAt: expires(i)}
	}
	if err := db.RecordJITGrant(steward.WithActor(context.Background(), "test:jobs"), gs...); err != nil {
		t.Fatal(err)
	}
	return gs
}

func runExpiry(t *testing.T, cfg jobs.ExpiryConfig) *jobs.Expiry {
	t.Helper()
	x, _ := startExpiry(t, cfg)
	return x
}

// startExpiry runs an engine until the test ends or stop is called, which
// waits for Run to return.
func startExpiry(t *testing.T, cfg jobs.ExpiryConfig) (x *jobs.Expiry, stop func()) {
	t.Helper()
	x, err := jobs.NewExpiry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != context.Canceled {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return x, stop
}

func stats(t *testing.T, db *sqlstore.DB) steward.JITStats {
	t.Helper()
	s, err := db.JITStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return *s
}

// TestExpiryAfterRestart: an engine runs while nothing is due and stops;
// grants expire while none runs; the next engine to start, on a new store
// handle, revokes them within seconds of its start, each once, with its
// event and lag; one that expires after the start is revoked when it does,
// not before.
func TestExpiryAfterRestart(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		db, reopen := e.open(t)
		now := time.Now()
		// Three seconds leave room for recording the grants on a loaded
		// machine: none may be due while the first engine runs.
		later := now.Add(6 * time.Second)
		gs := jitGrants(t, db, 40, func(i int) time.Time {
			if i == 0 {
				return later // after the restart
			}
			return now.Add(3*time.Second + time.Duration(i)*10*time.Millisecond) // while stopped
		})
		rec := &recorder{}
		targets := func(context.Context, int64) (steward.Revoker, error) { return rec, nil }
		_, stop := startExpiry(t, jobs.ExpiryConfig{Store: db, MaxIdle: 20 * time.Millisecond, Targets: targets})
		time.Sleep(200 * time.Millisecond) // several passes, nothing due
		stop()
		if n, _ := rec.revoked(); n != 0 {
			t.Fatalf("%d grants revoked before they expired", n)
		}
		time.Sleep(time.Until(gs[len(gs)-1].ExpiresAt.Add(100 * time.Millisecond)))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = reopen()
		started := time.Now()
		x := runExpiry(t, jobs.ExpiryConfig{Store: db, Stats: db.JITStats, Batch: 7, Targets: targets})
		eventually(t, "the expired grants revoked", func() bool { n, _ := rec.revoked(); return n >= len(gs)-1 })
		if took := time.Since(started); took > 5*time.Second {
			t.Errorf("the grants that expired while stopped were revoked %s after the start, want within seconds", took)
		}
		if n, _ := rec.revoked(); n != len(gs)-1 {
			t.Errorf("%d revoked at the target before the last grant's expiry, want %d", n, len(gs)-1)
		}
		eventually(t, "the last grant revoked at its expiry", func() bool { n, _ := rec.revoked(); return n == len(gs) })
		eventually(t, "every revocation recorded", func() bool { s := stats(t, db); return s == steward.JITStats{} })
		if _, most := rec.revoked(); most != 1 {
			t.Errorf("a grant was revoked %d times", most)
		}
		lags := map[string]time.Duration{}
		for _, g := range gs {
			got, err := db.JITGrant(context.Background(), g.ID)
			if err != nil {
				t.Fatal(err)
			}
			lag, ok := got.Lag()
			if got.Status != steward.JITRevoked || !ok || lag < 0 || got.Attempts != 1 {
				t.Errorf("grant %d: %+v", g.ID, got)
			}
			lags[fmt.Sprint(g.ID)] = lag
		}
		if lags[fmt.Sprint(gs[0].ID)] > 3*time.Second {
			t.Errorf("the grant expiring after the start was revoked %s late", lags[fmt.Sprint(gs[0].ID)])
		}
		ev, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionJITRevoked, ListOptions: steward.ListOptions{Limit: 100}})
		if err != nil || len(ev.Items) != len(gs) {
			t.Fatalf("revoked events: %d, %v", len(ev.Items), err)
		}
		for _, e := range ev.Items {
			p, err := e.Payload()
			r, ok := p.(*steward.JITGrantRevoked)
			if err != nil || !ok || e.Actor != "automation:steward" || e.Via != "job:expiry" {
				t.Fatalf("event %+v: %v", e, err)
			}
			// The event's lag is the stored one, in whole milliseconds.
			if want, ok := lags[e.ObjectID]; !ok || r.LagMS != want.Milliseconds() || r.LagMS != r.RevokedAt.Sub(r.ExpiresAt).Milliseconds() {
				t.Errorf("grant %s: event lag %d ms, stored %s", e.ObjectID, r.LagMS, want)
			}
		}
		eventually(t, "every revocation counted", func() bool {
			return metric(t, x, "steward_jit_revocations_total", "outcome", "revoked") == float64(len(gs))
		})
	})
}

// TestExpiryRetriesFailures: a target that is down leaves the grant
// failing (visible, counted, never revoked) until it is back.
func TestExpiryRetriesFailures(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		db, _ := e.open(t)
		gs := jitGrants(t, db, 3, func(i int) time.Time { return time.Now().Add(-time.Minute) })
		rec := &recorder{down: true}
		// The clock runs a minute ahead after the first failures, so that
		// the retry after its backoff comes without waiting for it.
		var mu sync.Mutex
		skew := time.Duration(0)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
		x := runExpiry(t, jobs.ExpiryConfig{Store: db, Stats: db.JITStats, Now: clock, MaxIdle: 50 * time.Millisecond,
			Targets: func(context.Context, int64) (steward.Revoker, error) { return rec, nil }})
		eventually(t, "the grants failing", func() bool { return stats(t, db).Failing == 3 })
		g, err := db.JITGrant(context.Background(), gs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.State(time.Now()) != steward.JITFailing || g.RevokedAt != nil || !strings.Contains(g.LastError, "cannot be reached") || g.NextAttemptAt == nil {
			t.Errorf("failing grant %+v", g)
		}
		if v := metric(t, x, "steward_jit_grants", "state", "revocation_failing"); v != 3 {
			t.Errorf("failing gauge %v", v)
		}
		// Never shown as revoked: listed as failing, still in the inventory,
		// no revoked event, a failed event for each attempt.
		failing, err := db.JITGrants(context.Background(), steward.JITGrantFilter{State: steward.JITFailing})
		if err != nil || len(failing.Items) != 3 {
			t.Errorf("failing grants listed: %d, %v", len(failing.Items), err)
		}
		if page, err := db.JITGrants(context.Background(), steward.JITGrantFilter{State: steward.JITRevoked}); err != nil || len(page.Items) != 0 {
			t.Errorf("revoked grants listed while the target is down: %d, %v", len(page.Items), err)
		}
		if inv, err := db.Grants(context.Background(), steward.GrantFilter{IdentityID: g.IdentityID, EntitlementID: g.EntitlementID}); err != nil || len(inv.Items) != 1 {
			t.Errorf("the inventory grant of a failing revocation: %d, %v", len(inv.Items), err)
		}
		if ev, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionJITRevoked}); err != nil || len(ev.Items) != 0 {
			t.Errorf("%d revoked events while the target is down (%v)", len(ev.Items), err)
		}
		if ev, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionJITRevocationFailed}); err != nil || len(ev.Items) < 3 {
			t.Errorf("%d revocation_failed events, want one per attempt (%v)", len(ev.Items), err)
		}
		rec.setDown(false)
		mu.Lock()
		skew = time.Hour
		mu.Unlock()
		x.Wake()
		eventually(t, "the retries revoked", func() bool { s := stats(t, db); return s == steward.JITStats{} })
		g, _ = db.JITGrant(context.Background(), gs[0].ID)
		if g.Status != steward.JITRevoked || g.Attempts < 2 {
			t.Errorf("after the retry %+v", g)
		}
		if v := metric(t, x, "steward_jit_revocations_total", "outcome", "failed"); v < 3 {
			t.Errorf("failures counted %v", v)
		}
	})
}

// TestExpiryWarns: the warning goes out once, before expiry.
func TestExpiryWarns(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		db, _ := e.open(t)
		jitGrants(t, db, 2, func(i int) time.Time { return time.Now().Add(time.Duration(10+50*i) * time.Minute) })
		runExpiry(t, jobs.ExpiryConfig{Store: db, Warning: 30 * time.Minute, MaxIdle: 20 * time.Millisecond,
			Targets: func(context.Context, int64) (steward.Revoker, error) { return &recorder{}, nil }})
		count := func() int {
			ev, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionJITExpiryWarned})
			if err != nil {
				t.Fatal(err)
			}
			return len(ev.Items)
		}
		eventually(t, "the warning", func() bool { return count() >= 1 })
		time.Sleep(200 * time.Millisecond) // several passes
		if n := count(); n != 1 {
			t.Errorf("%d warnings, want one: the grant in 10 minutes, once", n)
		}
	})
}

// TestExpiryWarningNotices: the warning tells the person who asked for the
// access and the identity's owner, through the inbox, once each; a grant
// that concerns nobody tells nobody.
func TestExpiryWarningNotices(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		db, _ := e.open(t)
		ctx := steward.WithActor(context.Background(), "test:jobs")
		ana := storetest.MustPerson(t, db, func(p *steward.Person) { p.Name, p.Email = "Ana", "ana@example.test" })
		cy := storetest.MustPerson(t, db, func(p *steward.Person) { p.Name, p.Email = "Cy", "cy@example.test" })
		sys := storetest.MustSystem(t, db, func(s *steward.System) { s.Name = "billing-db" })
		role := storetest.MustEntitlement(t, db, sys.ID, func(x *steward.Entitlement) { x.Name, x.Privileged = "role:admin", true })
		owned := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.Name, x.OwnerID = "svc-billing", &cy.ID })
		unowned := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.Name = "svc-orphan" })
		ask := func(requester string) *int64 {
			r := &steward.AccessRequest{Requester: requester, Identity: "svc-billing", State: steward.RequestFulfilled, CreatedAt: time.Now(),
				Target:   steward.AccessTarget{System: "billing-db", Name: "role:admin"},
				Decision: steward.AccessDecision{Outcome: steward.OutcomePending, Model: "db-jit", Approvals: 1},
				Question: steward.AccessQuestion{Model: "db-jit", Requester: steward.Requester{Email: requester}, Identity: steward.IdentityFacts{Name: "svc-billing"}}}
			if err := db.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			return &r.ID
		}
		in := time.Now().Add(10 * time.Minute)
		asked := &steward.JITGrant{IdentityID: owned.ID, EntitlementID: role.ID, GrantedAt: time.Now(), ExpiresAt: in, RequestID: ask("ana@example.test")}
		nobody := &steward.JITGrant{IdentityID: unowned.ID, EntitlementID: role.ID, GrantedAt: time.Now(), ExpiresAt: in}
		if err := db.RecordJITGrant(ctx, asked, nobody); err != nil {
			t.Fatal(err)
		}
		start(t, db, jobs.Config{})
		runExpiry(t, jobs.ExpiryConfig{Store: db, Warning: 30 * time.Minute, MaxIdle: 20 * time.Millisecond,
			Targets: func(context.Context, int64) (steward.Revoker, error) { return &recorder{}, nil }})
		eventually(t, "the notices", func() bool { return len(notices(t, db, ana.ID)) == 1 && len(notices(t, db, cy.ID)) == 1 })
		a, c := notices(t, db, ana.ID)[0], notices(t, db, cy.ID)[0]
		for _, n := range []steward.Notice{a, c} {
			if n.Kind != steward.KindJITExpiryWarning || n.ObjectType != steward.ObjectJITGrant || n.ObjectID != fmt.Sprint(asked.ID) {
				t.Errorf("notice %+v: want a JIT expiry warning about grant %d", n, asked.ID)
			}
		}
		if !strings.Contains(a.Subject, "Your JIT access ends soon: role:admin of svc-billing on billing-db") ||
			!strings.Contains(a.Body, fmt.Sprintf("steward request extend %d", *asked.RequestID)) {
			t.Errorf("the requester's notice: %q / %q", a.Subject, a.Body)
		}
		if !strings.Contains(c.Subject, "JIT access on your identity ends soon") || !strings.Contains(c.Body, "asked for by Ana") {
			t.Errorf("the owner's notice: %q / %q", c.Subject, c.Body)
		}
		time.Sleep(200 * time.Millisecond) // several passes: nobody is told twice
		if len(notices(t, db, ana.ID)) != 1 || len(notices(t, db, cy.ID)) != 1 {
			t.Errorf("told again: ana %d, cy %d notices", len(notices(t, db, ana.ID)), len(notices(t, db, cy.ID)))
		}
		if g, err := db.JITGrant(context.Background(), nobody.ID); err != nil || g.WarnedAt == nil {
			t.Error("the grant that concerns nobody was not warned (its event is the record)")
		}
		all, err := db.Notices(context.Background(), steward.NoticeFilter{})
		if err != nil || len(all.Items) != 2 {
			t.Errorf("notices %+v, %v: want only ana's and cy's", all, err)
		}
	})
}

// TestExpiryReplicas: two engines on one PostgreSQL, each with its own
// connections, revoke 500 expired grants between them, each once. Each
// revocation takes a millisecond, so that the two claim side by side
// rather than one finishing before the other starts.
func TestExpiryReplicas(t *testing.T) {
	t.Parallel()
	dsn := sqlstoretest.FreshSchemaDSN(t)
	db, open := openAt(t, dsn)
	const n = 500
	gs := jitGrants(t, db, n, func(i int) time.Time { return time.Now().Add(-time.Hour + time.Duration(i)*time.Millisecond) })
	rec := &recorder{delay: time.Millisecond}
	// Each engine's revocations wait until the other engine has begun
	// revoking (at most 10 s), so that on a loaded machine the first
	// engine started cannot finish them all before the second claims.
	began := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var xs []*jobs.Expiry
	for i := range 2 {
		g := &gated{rec: rec, mine: began[i], other: began[1-i]}
		xs = append(xs, runExpiry(t, jobs.ExpiryConfig{Store: open(), Batch: 20, Concurrency: 4,
			Targets: func(context.Context, int64) (steward.Revoker, error) { return g, nil }}))
	}
	eventually(t, "every grant revoked", func() bool { s := stats(t, db); return s == steward.JITStats{} })
	if k, most := rec.revoked(); k != len(gs) || most != 1 {
		t.Errorf("%d grants revoked at the target, one %d times", k, most)
	}
	ev, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionJITRevoked, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil || len(ev.Items) != n {
		t.Fatalf("%d revoked events, want %d (%v)", len(ev.Items), n, err)
	}
	var a, b float64
	eventually(t, "the engines' counts", func() bool {
		a, b = metric(t, xs[0], "steward_jit_revocations_total", "outcome", "revoked"), metric(t, xs[1], "steward_jit_revocations_total", "outcome", "revoked")
		return a+b >= n
	})
	t.Logf("the two engines revoked %v and %v", a, b)
	if a+b != n {
		t.Errorf("the engines counted %v revocations, want %d", a+b, n)
	}
	if a == 0 || b == 0 {
		t.Errorf("one engine revoked all %d: the claims never met", n)
	}
	if _, err := db.VerifyAudit(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestExpiryRevokesInPostgres: a JIT grant of a role in a real PostgreSQL
// is revoked there at expiry through the PostgreSQL connector.
func TestExpiryRevokesInPostgres(t *testing.T) {
	t.Parallel()
	server := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	prefix := fmt.Sprintf("jit%d_", time.Now().UnixNano()%1e9)
	login, role := prefix+"etl", prefix+"admin"
	for _, q := range []string{`CREATE ROLE ` + login + ` LOGIN`, `CREATE ROLE ` + role, `GRANT ` + role + ` TO ` + login} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{`DROP ROLE IF EXISTS ` + login, `DROP ROLE IF EXISTS ` + role} {
			_, _ = conn.Exec(context.Background(), q)
		}
	})
	member := func() bool {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER')`, login, role).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	db, _ := openAt(t, sqlstoretest.FreshSchemaDSN(t))
	sys := storetest.MustSystem(t, db, nil)
	id := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.ExternalID = login })
	ent := storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:"+role, true })
	g := &steward.JITGrant{IdentityID: id.ID, EntitlementID: ent.ID, ExpiresAt: time.Now().Add(time.Second)}
	if err := db.RecordJITGrant(steward.WithActor(ctx, "test:jobs"), g); err != nil {
		t.Fatal(err)
	}
	target, err := postgres.New(postgres.Config{DSN: server, IncludeRoles: []string{prefix + "*"}}, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !member() {
		t.Fatal("the fixture's membership is missing")
	}
	runExpiry(t, jobs.ExpiryConfig{Store: db, Targets: func(_ context.Context, system int64) (steward.Revoker, error) {
		if system != sys.ID {
			return nil, steward.Errorf(steward.ENOTFOUND, "no connector for system %d", system)
		}
		return target, nil
	}})
	eventually(t, "the revocation recorded", func() bool {
		got, err := db.JITGrant(ctx, g.ID)
		return err == nil && got.Status == steward.JITRevoked
	})
	if member() {
		t.Errorf("%s is still a member of %s after its JIT grant was revoked", login, role)
	}
}

// TestExpiryRefusedByPostgres: a real PostgreSQL refuses the revocation
// (Steward's role may not revoke the membership): the grant stays expired
// and unrevoked, failing with the server's reason, the membership stands,
// and nothing says revoked; once the role may, the retry revokes it.
func TestExpiryRefusedByPostgres(t *testing.T) {
	t.Parallel()
	server := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	prefix := fmt.Sprintf("jitno%d_", time.Now().UnixNano()%1e9)
	stewardRole, login, role := prefix+"steward", prefix+"etl", prefix+"admin"
	const password = "jit-refused-test"
	for _, q := range []string{`CREATE ROLE ` + stewardRole + ` LOGIN PASSWORD '` + password + `'`, `CREATE ROLE ` + login + ` LOGIN`,
		`CREATE ROLE ` + role, `GRANT ` + role + ` TO ` + login} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, r := range []string{login, role, stewardRole} {
			_, _ = conn.Exec(context.Background(), `DROP ROLE IF EXISTS `+r)
		}
	})
	member := func() bool {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER')`, login, role).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(stewardRole)
	target, err := postgres.New(postgres.Config{DSN: u.String(), PasswordEnv: "PW", IncludeRoles: []string{prefix + "*"}},
		postgres.Options{Getenv: func(string) string { return password }})
	if err != nil {
		t.Fatal(err)
	}

	db, _ := openAt(t, sqlstoretest.FreshSchemaDSN(t))
	sys := storetest.MustSystem(t, db, nil)
	id := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.ExternalID = login })
	ent := storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:"+role, true })
	g := &steward.JITGrant{IdentityID: id.ID, EntitlementID: ent.ID, GrantedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Second)}
	if err := db.RecordJITGrant(steward.WithActor(ctx, "test:jobs"), g); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	skew := time.Duration(0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	x := runExpiry(t, jobs.ExpiryConfig{Store: db, Stats: db.JITStats, Now: clock, MaxIdle: 50 * time.Millisecond,
		Targets: func(context.Context, int64) (steward.Revoker, error) { return target, nil }})
	eventually(t, "the revocation failing", func() bool { return stats(t, db).Failing == 1 })
	got, err := db.JITGrant(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != steward.JITFailing || got.RevokedAt != nil || !strings.HasPrefix(got.LastError, steward.EFORBIDDEN+":") || got.NextAttemptAt == nil {
		t.Errorf("refused grant %+v", got)
	}
	if !member() {
		t.Error("the membership went, but the revocation was recorded as failing")
	}
	if ev, err := db.Events(ctx, steward.EventFilter{Action: steward.ActionJITRevoked}); err != nil || len(ev.Items) != 0 {
		t.Errorf("%d revoked events for a refused revocation (%v)", len(ev.Items), err)
	}
	if v := metric(t, x, "steward_jit_grants", "state", "revocation_failing"); v != 1 {
		t.Errorf("failing gauge %v", v)
	}

	// Steward's role may now: the retry after its backoff revokes it.
	if _, err := conn.Exec(ctx, `GRANT `+role+` TO `+stewardRole+` WITH ADMIN OPTION`); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	skew = time.Hour
	mu.Unlock()
	x.Wake()
	eventually(t, "the retry revoked", func() bool {
		got, err := db.JITGrant(ctx, g.ID)
		return err == nil && got.Status == steward.JITRevoked
	})
	if member() {
		t.Errorf("%s is still a member of %s after the retry", login, role)
	}
}

// flakyFinish is a store whose FinishRevocations fails its first failures
// calls, as SQLite's does while a long import holds the writer.
type flakyFinish struct {
	steward.JITExpiry
	mu       sync.Mutex
	failures int
}

func (f *flakyFinish) FinishRevocations(ctx context.Context, lease int64, out []steward.Revocation) (int, error) {
	f.mu.Lock()
	fail := f.failures > 0
	f.failures--
	f.mu.Unlock()
	if fail {
		return 0, steward.Errorf(steward.EUNAVAILABLE, "The database is busy with another write")
	}
	return f.JITExpiry.FinishRevocations(ctx, lease, out)
}

// TestExpiryRetriesRecording: revocations done in the system whose
// recording fails for a moment are recorded when the store is back, under
// the same claim, not revoked again when the lease ends.
func TestExpiryRetriesRecording(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		db, _ := e.open(t)
		gs := jitGrants(t, db, 5, func(i int) time.Time { return time.Now().Add(-time.Minute) })
		rec := &recorder{}
		runExpiry(t, jobs.ExpiryConfig{Store: &flakyFinish{JITExpiry: db, failures: 2}, Lease: time.Hour,
			Targets: func(context.Context, int64) (steward.Revoker, error) { return rec, nil }})
		eventually(t, "the revocations recorded", func() bool { s := stats(t, db); return s == steward.JITStats{} })
		if k, most := rec.revoked(); k != len(gs) || most != 1 {
			t.Errorf("%d grants revoked at the target, one %d times", k, most)
		}
		for _, g := range gs {
			got, err := db.JITGrant(context.Background(), g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if lag, _ := got.Lag(); got.Status != steward.JITRevoked || lag > 2*time.Minute {
				t.Errorf("grant %d: %s, lag %s", g.ID, got.Status, lag)
			}
		}
	})
}

// gated is one engine's revoker in TestExpiryReplicas: it says when its
// engine begins revoking, and waits for the other's to begin.
type gated struct {
	rec         *recorder
	once        sync.Once
	mine, other chan struct{}
}

func (g *gated) Revoke(ctx context.Context, identity, entitlement string) error {
	g.once.Do(func() { close(g.mine) })
	select {
	case <-g.other:
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.rec.Revoke(ctx, identity, entitlement)
}
