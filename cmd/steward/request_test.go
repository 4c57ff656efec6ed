package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// TestServeJITRequestAgainstPostgres is the request path end to end
// against a real PostgreSQL: a JIT request is approved by an eligible
// approver, 'steward serve' fulfils it (the River job the approval
// enqueued grants the role), and revokes it at expiry; then a second
// grant expires while Steward is stopped and is revoked within seconds of
// the next start.
func TestServeJITRequestAgainstPostgres(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPostgresRoles(t, "servereq", "etl LOGIN", "admin NOLOGIN")
	server, login, role := pg.DSN, pg.Name("etl"), pg.Name("admin")
	prefix := pg.Prefix
	member := func() bool { return pg.Member(login, role) }
	cfg, err := parseConfig("steward.yaml", fmt.Appendf(nil, `connectors:
  - name: pg-jit
    type: postgres
    postgres:
      dsn: %q
      include_roles: ["%s*"]
`, server, prefix))
	if err != nil {
		t.Fatal(err)
	}

	dsn := filepath.Join(t.TempDir(), "steward.db")
	ctx := steward.WithActor(context.Background(), "test:serve")
	db, err := sqlstore.Open(dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dba := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "dba" })
	apps := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "apps" })
	ana := storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "ana@example.test", &apps.ID })
	bo := storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "bo@example.test", &dba.ID })
	sys := storetest.MustSystem(t, db, func(s *steward.System) { s.Name, s.OwnerTeamID = "pg-jit", &dba.ID })
	storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.Name, x.ExternalID = "svc-etl", login })
	storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:"+role, true })
	src := []byte(`kind: Catalog
tiers:
  - name: privileged
    service_levels:
      decision: 4h
models:
  - name: db-jit
    description: Time-bound elevation.
    tier: privileged
    kind: jit
    requestable:
      systems: ["pg-*"]
      privileged: true
    who_may_request: |
      permit (principal, action, resource);
    approval:
      approvers: [resource-owner]
    duration:
      default: 1h
      maximum: 4h
`)
	c, ds := policy.Compile(src)
	if err := ds.Err("catalog"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ApplyCatalog(ctx, src, c.Catalog); err != nil {
		t.Fatal(err)
	}
	tg, closeTargets := targets(cfg, slog.New(slog.DiscardHandler))
	defer closeTargets()
	flow, err := newWorkflow(db, tg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	person := func(p *steward.Person) context.Context {
		return steward.WithPrincipal(context.Background(), steward.Principal{Kind: steward.PrincipalPerson, Name: p.Email, PersonID: p.ID, Role: steward.RoleMember})
	}
	// approved asks for the role for d as ana, and approves it as bo, the
	// system's owner: the fulfilment job is in the database, unworked.
	approved := func(d time.Duration) *steward.AccessRequest {
		res, err := flow.Create(person(ana), steward.AccessRef{Identity: "svc-etl", Entitlement: "role:" + role, Duration: steward.Duration(d)})
		if err != nil || res.Request == nil || res.Request.State != steward.RequestPending {
			t.Fatalf("ask: %+v, %v", res, err)
		}
		r, err := flow.Approve(person(bo), res.Request.ID, "change CHG-7")
		if err != nil || r.State != steward.RequestApproved {
			t.Fatalf("approve: %+v, %v", r, err)
		}
		return r
	}

	var logs syncBuffer
	serve := func() (stop func()) {
		e := &env{stdout: &logs, stderr: &logs, config: cfg, logger: slog.New(slog.NewTextHandler(&logs, nil))}
		cmd := newServeCmd(e)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs([]string{"--db", dsn, "--addr", "127.0.0.1:0"})
		sctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(sctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, &logs)
			}
		}
	}
	get := func(id int64) *steward.AccessRequest {
		r, err := db.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	grant := func(r *steward.AccessRequest) *steward.JITGrant {
		if r.JITGrantID == nil {
			return nil
		}
		g, err := db.JITGrant(ctx, *r.JITGrantID)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s: not within a minute\n%s", what, &logs)
	}

	// 1. Approved, fulfilled by serve, revoked at expiry.
	r := approved(3 * time.Second)
	stop := serve()
	waitFor("fulfilled", func() bool { return get(r.ID).State == steward.RequestFulfilled })
	if !member() {
		t.Fatalf("request %d is fulfilled but %s is not a member of %s", r.ID, login, role)
	}
	g := grant(get(r.ID))
	waitFor("revoked at expiry", func() bool { return grant(get(r.ID)).Status == steward.JITRevoked })
	if member() {
		t.Errorf("the JIT grant is revoked but %s is still a member of %s", login, role)
	}
	if lag, ok := grant(get(r.ID)).Lag(); !ok || lag < 0 {
		t.Errorf("revocation lag %v, %v", lag, ok)
	}
	if d := g.ExpiresAt.Sub(g.GrantedAt); d != 3*time.Second {
		t.Errorf("the grant lasted %s, want the 3s asked for", d)
	}

	// 2. Fulfilled, then Steward stops before the expiry and starts after it.
	r = approved(4 * time.Second)
	waitFor("fulfilled again", func() bool { return get(r.ID).State == steward.RequestFulfilled })
	stop()
	g = grant(get(r.ID))
	if g.Status != steward.JITActive || !member() {
		t.Fatalf("before the stop's expiry: %+v, member %v", g, member())
	}
	time.Sleep(time.Until(g.ExpiresAt.Add(500 * time.Millisecond)))
	if !member() {
		t.Fatal("the membership went while Steward was stopped")
	}
	started := time.Now()
	stop = serve()
	defer stop()
	waitFor("revoked after the restart", func() bool { return grant(get(r.ID)).Status == steward.JITRevoked })
	if member() {
		t.Errorf("revoked after the restart, but %s is still a member of %s", login, role)
	}
	t.Logf("revoked %s after the restart", time.Since(started))
}
