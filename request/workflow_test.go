package request_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

const catalogYAML = `kind: Catalog
security_team: security
tiers:
  - name: privileged
    service_levels:
      decision: 4h
      fulfilment: 15m
  - name: routine
    service_levels:
      decision: 15m
boundaries:
  - name: no-standing-superuser
    statement: The identity service grants no standing superuser.
    alternative: Ask for time-bound elevation with db-jit.
    match:
      names: ["role:*superuser"]
      kinds: [routine]
models:
  - name: db-jit
    description: Time-bound elevation on a test database.
    tier: privileged
    kind: jit
    requestable:
      systems: ["pg-*"]
      privileged: true
    who_may_request: |
      permit (principal, action, resource) when { principal.active };
    approval:
      approvers: [resource-owner, security]
      approvals: 1
    duration:
      default: 1h
      maximum: 4h
  - name: db-two
    description: Elevation that two of the system's owners approve.
    tier: privileged
    kind: jit
    requestable:
      systems: ["pg-*"]
      privileged: true
    who_may_request: |
      permit (principal, action, resource);
    approval:
      approvers: [resource-owner]
      approvals: 2
    duration:
      default: 1h
      maximum: 4h
  - name: db-new
    description: A new login role in a test database, owned by whoever asks.
    tier: routine
    kind: new-identity
    requestable:
      systems: ["pg-*"]
    who_may_request: |
      permit (principal, action, resource);
    approval:
      approvers: [resource-owner]
  - name: db-retire
    description: Retire an identity of a test database.
    tier: routine
    kind: decommission
    requestable:
      systems: ["pg-*"]
    who_may_request: |
      permit (principal, action, resource);
    approval:
      approvers: [resource-owner]
  - name: db-read
    description: Read roles of a test database.
    tier: routine
    kind: routine
    requestable:
      systems: ["pg-*"]
      privileged: false
    who_may_request: |
      permit (principal, action, resource) when { principal.active };
    approval:
      automatic: true
`

// org is a small organisation on a store, with a real PostgreSQL server
// as the system the requests are fulfilled in.
type org struct {
	db                       *sqlstore.DB
	flow                     *request.Workflow
	ana, bo, sec, mo         *steward.Person // requester (apps), system owner (dba), security, ana's manager
	cy                       *steward.Person // another of the system's owners (dba)
	sys                      *steward.System
	svc                      *steward.IdentityView
	login, role, read, super string // PostgreSQL role names
	pg                       *testenv.PostgresRoles
	clock                    *clock
	targetDown               bool
	beforeGrant              func() // called as the target starts to grant, when set
	target                   steward.Target
}

// hooked is the real target with org.beforeGrant called before each grant.
type hooked struct {
	steward.Target
	o *org
}

func (h hooked) Grant(ctx context.Context, identity, entitlement string) error {
	if h.o.beforeGrant != nil {
		h.o.beforeGrant()
	}
	return h.Target.Grant(ctx, identity, entitlement)
}

func (h hooked) CreateIdentity(ctx context.Context, identity string) error {
	return h.Target.(steward.IdentityCreator).CreateIdentity(ctx, identity)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func engines(t *testing.T, run func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); run(t, sqlstoretest.MustOpenSQLite(t, nil)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); run(t, sqlstoretest.MustOpenPostgres(t, nil)) })
}

func newOrg(t *testing.T, db *sqlstore.DB) *org {
	t.Helper()
	pg := testenv.NewPostgresRoles(t, "reqflow", "app LOGIN", "admin NOLOGIN", "read NOLOGIN", "superuser NOLOGIN")
	server, prefix := pg.DSN, pg.Prefix
	o := &org{db: db, pg: pg, login: pg.Name("app"), role: pg.Name("admin"), read: pg.Name("read"), super: pg.Name("superuser"),
		clock: &clock{t: time.Now().UTC()}}
	target, err := postgres.New(postgres.Config{DSN: server, IncludeRoles: []string{prefix + "*"}}, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o.target = target

	ctx := steward.WithActor(context.Background(), "test:setup")
	dba := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "dba" })
	security := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "security" })
	apps := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "apps" })
	o.mo = storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "mo@example.test", &apps.ID })
	o.ana = storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID, p.ManagerID = "ana@example.test", &apps.ID, &o.mo.ID })
	o.bo = storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "bo@example.test", &dba.ID })
	o.cy = storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "cy@example.test", &dba.ID })
	o.sec = storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "sec@example.test", &security.ID })
	o.sys = storetest.MustSystem(t, db, func(s *steward.System) { s.Name, s.OwnerTeamID = "pg-test", &dba.ID })
	id := storetest.MustIdentity(t, db, o.sys.ID, func(x *steward.Identity) { x.Name, x.ExternalID, x.TeamID = "svc-app", o.login, &apps.ID })
	if o.svc, err = db.Identity(ctx, id.ID); err != nil {
		t.Fatal(err)
	}
	storetest.MustEntitlement(t, db, o.sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:"+o.role, true })
	storetest.MustEntitlement(t, db, o.sys.ID, func(e *steward.Entitlement) { e.Name = "role:" + o.read })
	storetest.MustEntitlement(t, db, o.sys.ID, func(e *steward.Entitlement) { e.Name = "role:" + o.super })
	storetest.MustEntitlement(t, db, o.sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:"+prefix+"missing", true })
	c, ds := policy.Compile([]byte(catalogYAML))
	if err := ds.Err("catalog"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ApplyCatalog(ctx, []byte(catalogYAML), c.Catalog); err != nil {
		t.Fatal(err)
	}
	o.flow, err = request.New(request.Config{Store: db, Now: o.clock.Now,
		Compile: func(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
			c, ds := policy.Compile(src)
			if err := ds.Err("catalog"); err != nil {
				return nil, nil, err
			}
			return c.Catalog, c, nil
		},
		Targets: func(ctx context.Context, system string) (steward.Target, error) {
			if o.targetDown {
				return nil, steward.Errorf(steward.EUNAVAILABLE, "pg-test cannot be reached (the test took it down)")
			}
			if system != o.sys.Name {
				return nil, steward.Errorf(steward.ENOTIMPL, "no connector for %s", system)
			}
			return hooked{target, o}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// as returns a context acting as person p in role.
func as(p *steward.Person, role steward.Role) context.Context {
	return steward.WithPrincipal(context.Background(), steward.Principal{Kind: steward.PrincipalPerson, Name: p.Email, PersonID: p.ID, Role: role, Via: "test"})
}

func (o *org) member(t *testing.T, role string) bool {
	t.Helper()
	return o.pg.Member(o.login, role)
}

func (o *org) ask(t *testing.T, p *steward.Person, ref steward.AccessRef) *steward.RequestResult {
	t.Helper()
	res, err := o.flow.Create(as(p, steward.RoleMember), ref)
	if err != nil {
		t.Fatalf("create %+v: %v", ref, err)
	}
	return res
}

func (o *org) events(t *testing.T, id int64) []steward.Action {
	t.Helper()
	page, err := o.db.Events(context.Background(), steward.EventFilter{ObjectType: steward.ObjectRequest, ObjectID: fmt.Sprint(id), ListOptions: steward.ListOptions{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var out []steward.Action
	for _, e := range page.Items {
		out = append(out, e.Action)
	}
	return out
}

func wantCode(t *testing.T, err error, code, contains string) {
	t.Helper()
	if steward.ErrorCode(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v (%s), want %s containing %q", err, steward.ErrorCode(err), code, contains)
	}
}

// TestJITJourney: a JIT request is pending on the named approvers; the
// requester cannot approve it, even as admin; someone who is not an
// approver cannot either; the system's owner sees it in the inbox and
// approves it; fulfilment grants the role in the real PostgreSQL and
// records the JIT grant with its expiry; the holder's extension is a new
// request of the same model. Each step writes its event.
func TestJITJourney(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		res := o.ask(t, o.ana, steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.role,
			Justification: map[string]string{"why": "migration"}})
		r := res.Request
		if r == nil || r.State != steward.RequestPending || r.Decision.Model != "db-jit" || len(r.Decision.Approvers) != 2 {
			t.Fatalf("asked: %+v", res)
		}
		if r.Duration != steward.Duration(time.Hour) {
			t.Errorf("duration %s, want the model's default 1h", r.Duration)
		}

		_, err := o.flow.Approve(as(o.ana, steward.RoleMember), r.ID, "mine")
		wantCode(t, err, steward.EFORBIDDEN, "never decides their own")
		_, err = o.flow.Approve(as(o.ana, steward.RoleAdmin), r.ID, "I am admin")
		wantCode(t, err, steward.EFORBIDDEN, "administrators included")
		_, err = o.flow.Approve(as(o.mo, steward.RoleAdmin), r.ID, "I manage ana")
		wantCode(t, err, steward.EFORBIDDEN, "not an approver")
		_, err = o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "  ")
		wantCode(t, err, steward.EINVALID, "reason")

		inbox, err := o.flow.Inbox(as(o.bo, steward.RoleMember))
		if err != nil || len(inbox) != 1 || inbox[0].ID != r.ID {
			t.Fatalf("bo's inbox: %v, %v", inbox, err)
		}
		if inbox, err := o.flow.Inbox(as(o.ana, steward.RoleMember)); err != nil || len(inbox) != 0 {
			t.Fatalf("ana's own request is in her inbox: %v, %v", inbox, err)
		}
		// security is at level 0 only from the second set on: not yet.
		if inbox, err := o.flow.Inbox(as(o.sec, steward.RoleMember)); err != nil || len(inbox) != 0 {
			t.Fatalf("security's inbox before escalation: %v, %v", inbox, err)
		}
		if _, err := o.flow.Get(as(o.mo, steward.RoleMember), r.ID); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Errorf("a member who is neither requester nor approver sees the request: %v", err)
		}

		r, err = o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "change CHG-1 approved")
		if err != nil || r.State != steward.RequestApproved || len(r.Approvals) != 1 || r.Approvals[0].Approver != o.bo.Email {
			t.Fatalf("approved: %+v, %v", r, err)
		}
		if o.member(t, o.role) {
			t.Fatal("the role was granted before fulfilment")
		}
		if err := o.flow.Fulfil(context.Background(), r.ID, 1); err != nil {
			t.Fatal(err)
		}
		if !o.member(t, o.role) {
			t.Fatal("fulfilled, but the role is not granted in PostgreSQL")
		}
		r, err = o.flow.Get(as(o.ana, steward.RoleMember), r.ID)
		if err != nil || r.State != steward.RequestFulfilled || r.JITGrantID == nil {
			t.Fatalf("after fulfilment: %+v, %v", r, err)
		}
		g, err := db.JITGrant(context.Background(), *r.JITGrantID)
		if err != nil {
			t.Fatal(err)
		}
		if d := g.ExpiresAt.Sub(g.GrantedAt); d != time.Hour || g.RequestID == nil || *g.RequestID != r.ID || g.Status != steward.JITActive {
			t.Errorf("JIT grant %+v: lasts %s", g, d)
		}
		// Fulfilling again does nothing: the request is no longer approved.
		if err := o.flow.Fulfil(context.Background(), r.ID, 2); err != nil {
			t.Fatal(err)
		}
		want := []steward.Action{steward.ActionRequestCreated, steward.ActionRequestApproved, steward.ActionRequestFulfilled}
		if got := o.events(t, r.ID); !sameSet(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}

		ext, err := o.flow.Extend(as(o.ana, steward.RoleMember), r.ID, steward.Duration(time.Hour), nil)
		if err != nil || ext.Request == nil || ext.Request.Extends == nil || *ext.Request.Extends != g.ID || ext.Request.State != steward.RequestPending {
			t.Fatalf("extend: %+v, %v", ext, err)
		}
		_, err = o.flow.Approve(as(o.sec, steward.RoleMember), ext.Request.ID, "ok")
		wantCode(t, err, steward.EFORBIDDEN, "not an approver")
		if _, err = o.flow.Approve(as(o.bo, steward.RoleMember), ext.Request.ID, "one more hour"); err != nil {
			t.Fatal(err)
		}
		if err := o.flow.Fulfil(context.Background(), ext.Request.ID, 1); err != nil {
			t.Fatal(err)
		}
		g2, err := db.JITGrant(context.Background(), g.ID)
		if err != nil || !g2.ExpiresAt.Equal(g.ExpiresAt.Add(time.Hour)) {
			t.Fatalf("extended grant %+v (was %s), %v", g2, g.ExpiresAt, err)
		}
		// The extension's request extends the same grant again.
		again, err := o.flow.Extend(as(o.ana, steward.RoleMember), ext.Request.ID, steward.Duration(time.Hour), nil)
		if err != nil || again.Request == nil || again.Request.Extends == nil || *again.Request.Extends != g.ID {
			t.Errorf("extending the extension: %+v, %v", again, err)
		}
		// A request that made no grant (still pending) is not extended.
		if _, err := o.flow.Extend(as(o.ana, steward.RoleMember), again.Request.ID, steward.Duration(time.Hour), nil); steward.ErrorCode(err) != steward.ECONFLICT {
			t.Errorf("extending a request that made no grant: %v", err)
		}
	})
}

func sameSet(a, b []steward.Action) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[steward.Action]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestRoutineRefusedUnmatched: a routine request the policy permits is
// approved at once and fulfilled; one that matches a boundary is refused
// with the boundary's text and alternative; one no model serves is kept
// as unmatched demand.
func TestRoutineRefusedUnmatched(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		res := o.ask(t, o.ana, steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.read})
		if res.Request == nil || res.Request.State != steward.RequestApproved || res.Request.Decision.Model != "db-read" {
			t.Fatalf("routine: %+v", res)
		}
		if err := o.flow.Fulfil(context.Background(), res.Request.ID, 1); err != nil {
			t.Fatal(err)
		}
		if !o.member(t, o.read) {
			t.Error("routine request fulfilled but not granted")
		}
		if r, _ := o.flow.Get(as(o.ana, steward.RoleMember), res.Request.ID); r == nil || r.State != steward.RequestFulfilled {
			t.Errorf("routine after fulfilment: %+v", r)
		}

		res = o.ask(t, o.ana, steward.AccessRef{Model: "db-read", Identity: "svc-app", Entitlement: "role:" + o.super})
		r := res.Request
		if r == nil || r.State != steward.RequestRefused || !strings.Contains(r.Reason, "grants no standing superuser") || !strings.Contains(r.Reason, "db-jit") {
			t.Fatalf("boundary: %+v", res)
		}
		if _, err := o.flow.Approve(as(o.bo, steward.RoleAdmin), r.ID, "anyway"); steward.ErrorCode(err) != steward.ECONFLICT {
			t.Errorf("approving a refused request: %v", err)
		}
		// A member it names no approver is not told of it at all.
		if _, err := o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "anyway"); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Errorf("a member approves a refused request they may not see: %v", err)
		}

		other := storetest.MustSystem(t, db, func(s *steward.System) { s.Name = "ldap-corp" })
		storetest.MustIdentity(t, db, other.ID, func(x *steward.Identity) { x.Name = "svc-ldap" })
		storetest.MustEntitlement(t, db, other.ID, func(e *steward.Entitlement) { e.Name = "group:admins" })
		res = o.ask(t, o.ana, steward.AccessRef{Identity: "svc-ldap", Entitlement: "group:admins", Justification: map[string]string{"why": "audit"}})
		if res.Request != nil || res.Unmatched == nil || res.Unmatched.ID == 0 || res.Unmatched.Team != "apps" || res.Unmatched.Target.Name != "group:admins" {
			t.Fatalf("unmatched: %+v", res)
		}
		page, err := o.flow.Unmatched(as(o.sec, steward.RoleAuditor), steward.ListOptions{})
		if err != nil || len(page.Items) != 1 || page.Items[0].Requester != o.ana.Email || page.Items[0].Justification["why"] != "audit" {
			t.Fatalf("unmatched demand: %+v, %v", page, err)
		}
		if _, err := o.flow.Create(as(o.sec, steward.RoleAuditor), steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.read}); steward.ErrorCode(err) != steward.EFORBIDDEN {
			t.Errorf("an auditor asks: %v", err)
		}
		if _, err := o.flow.Create(steward.WithActor(context.Background(), "test:x"), steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.read}); steward.ErrorCode(err) != steward.EFORBIDDEN {
			t.Errorf("a request by no person: %v", err)
		}
	})
}

// TestClock: a pending request not decided within its tier's decision
// level escalates to the next approver set, which may then act; one that
// nobody decides expires with a reason. The requester may cancel.
func TestClock(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		ref := steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.role}
		r := o.ask(t, o.ana, ref).Request
		stays := o.ask(t, o.ana, ref).Request
		cancel := o.ask(t, o.ana, ref).Request

		if n, err := o.flow.Tick(context.Background(), 100); err != nil || n != 0 {
			t.Fatalf("tick before the level: %d, %v", n, err)
		}
		o.clock.Add(4*time.Hour + time.Second)
		if n, err := o.flow.Tick(context.Background(), 100); err != nil || n != 3 {
			t.Fatalf("tick after the level: %d, %v", n, err)
		}
		r, err := o.flow.Get(as(o.sec, steward.RoleMember), r.ID)
		if err != nil || r.Level != 1 || !strings.Contains(r.Reason, "escalated to security") {
			t.Fatalf("escalated: %+v, %v", r, err)
		}
		if inbox, err := o.flow.Inbox(as(o.sec, steward.RoleMember)); err != nil || len(inbox) != 3 {
			t.Fatalf("security's inbox after escalation: %d, %v", len(inbox), err)
		}
		if _, err := o.flow.Approve(as(o.sec, steward.RoleMember), r.ID, "incident INC-9"); err != nil {
			t.Fatal(err)
		}
		if _, err := o.flow.Cancel(as(o.mo, steward.RoleAuditor), cancel.ID, ""); steward.ErrorCode(err) != steward.EFORBIDDEN {
			t.Errorf("someone else cancels: %v", err)
		}
		if _, err := o.flow.Cancel(as(o.mo, steward.RoleMember), cancel.ID, ""); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Errorf("a member who may not see it cancels: %v", err)
		}
		if c, err := o.flow.Cancel(as(o.ana, steward.RoleMember), cancel.ID, "not needed"); err != nil || c.State != steward.RequestCancelled || c.ClosedAt == nil {
			t.Fatalf("cancel: %+v, %v", c, err)
		}

		o.clock.Add(steward.MinRequestLife)
		if n, err := o.flow.Tick(context.Background(), 100); err != nil || n != 1 {
			t.Fatalf("tick at the end of life: %d, %v", n, err)
		}
		stays, err = o.flow.Get(as(o.ana, steward.RoleMember), stays.ID)
		if err != nil || stays.State != steward.RequestExpired || !strings.Contains(stays.Reason, "expired") {
			t.Fatalf("expired: %+v, %v", stays, err)
		}
		want := []steward.Action{steward.ActionRequestCreated, steward.ActionRequestEscalated, steward.ActionRequestExpired}
		if got := o.events(t, stays.ID); !sameSet(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

// TestFulfilmentFailures: a target that cannot be reached leaves the
// request approved with the try and its error on it, retried; the last
// try fails it with the connector's error; an entitlement the system does
// not have fails it at once. Never silently.
func TestFulfilmentFailures(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		approve := func(ent string) int64 {
			r := o.ask(t, o.ana, steward.AccessRef{Identity: "svc-app", Entitlement: ent}).Request
			if _, err := o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "ok"); err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		get := func(id int64) *steward.AccessRequest {
			r, err := o.flow.Get(as(o.ana, steward.RoleMember), id)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		down := approve("role:" + o.role)
		o.targetDown = true
		err := o.flow.Fulfil(context.Background(), down, 1)
		if steward.ErrorCode(err) != steward.EUNAVAILABLE {
			t.Fatalf("first try with the target down: %v", err)
		}
		if r := get(down); r.State != steward.RequestApproved || r.Attempts != 1 || r.LastError != "unavailable: pg-test cannot be reached (the test took it down)" {
			t.Fatalf("after a failed try: %+v", r)
		}
		if err := o.flow.Fulfil(context.Background(), down, o.flow.MaxAttempts()); err != nil {
			t.Fatalf("last try: %v", err)
		}
		if r := get(down); r.State != steward.RequestFailed || r.ClosedAt == nil || !strings.Contains(r.Reason, "cannot be reached") {
			t.Fatalf("after the last try: %+v", r)
		}
		o.targetDown = false

		missing := approve(strings.Replace("role:"+o.role, "admin", "missing", 1))
		if err := o.flow.Fulfil(context.Background(), missing, 1); err != nil {
			t.Fatalf("a permanent failure is recorded, not retried: %v", err)
		}
		if r := get(missing); r.State != steward.RequestFailed || r.LastError == "" {
			t.Fatalf("missing role: %+v", r)
		}
		want := []steward.Action{steward.ActionRequestCreated, steward.ActionRequestApproved, steward.ActionRequestFailed}
		if got := o.events(t, missing); !sameSet(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

// TestCancelDuringFulfilment: the requester cancels while the target is
// granting. The request stays cancelled, and what the fulfilment gave does
// not stand: it is recorded as a JIT grant that expired at once, which the
// expiry engine revokes in the target.
func TestCancelDuringFulfilment(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		r := o.ask(t, o.ana, steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.role}).Request
		if _, err := o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "ok"); err != nil {
			t.Fatal(err)
		}
		o.beforeGrant = func() {
			o.beforeGrant = nil
			if _, err := o.flow.Cancel(as(o.ana, steward.RoleMember), r.ID, "not needed after all"); err != nil {
				t.Errorf("cancel: %v", err)
			}
		}
		if err := o.flow.Fulfil(context.Background(), r.ID, 1); err != nil {
			t.Fatalf("fulfil: %v", err)
		}
		got, err := db.Request(context.Background(), r.ID)
		if err != nil || got.State != steward.RequestCancelled || got.JITGrantID != nil {
			t.Fatalf("request %+v, %v: want cancelled, with no grant", got, err)
		}
		if !o.member(t, o.role) {
			t.Fatal("the target did not grant: the test does not test the race")
		}
		page, err := db.JITGrants(context.Background(), steward.JITGrantFilter{IdentityID: o.svc.ID, State: steward.JITExpired})
		if err != nil || len(page.Items) != 1 || page.Items[0].RequestID == nil || *page.Items[0].RequestID != r.ID {
			t.Fatalf("JIT grants past expiry %+v, %v: want the cancelled request's, to be revoked", page, err)
		}
		x, err := jobs.NewExpiry(jobs.ExpiryConfig{Store: db, Targets: func(context.Context, int64) (steward.Revoker, error) { return o.target, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := x.Pass(steward.WithPrincipal(context.Background(), steward.SelfPrincipal("job:expiry"))); err != nil || res.Revoked != 1 {
			t.Fatalf("expiry pass: %+v, %v", res, err)
		}
		if o.member(t, o.role) {
			t.Error("revoked, but the cancelled request's membership still stands")
		}

		// Granted again by another try meanwhile: nothing is undone.
		r = o.ask(t, o.ana, steward.AccessRef{Identity: "svc-app", Entitlement: "role:" + o.read}).Request
		if r.State != steward.RequestApproved {
			if _, err := o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "ok"); err != nil {
				t.Fatal(err)
			}
		}
		o.beforeGrant = func() {
			o.beforeGrant = nil
			if err := o.flow.Fulfil(context.Background(), r.ID, 1); err != nil {
				t.Errorf("the other try: %v", err)
			}
		}
		if err := o.flow.Fulfil(context.Background(), r.ID, 1); steward.ErrorCode(err) != steward.ECONFLICT && err != nil {
			t.Fatalf("fulfil after another try: %v", err)
		}
		if got, _ := db.Request(context.Background(), r.ID); got.State != steward.RequestFulfilled || !o.member(t, o.read) {
			t.Errorf("fulfilled by the other try: %+v, member %v", got, o.member(t, o.read))
		}
	})
}

// TestDecommission: an approved decommission disables the identity in
// the real server (NOLOGIN) and in the inventory at once, with its event,
// and the request is fulfilled.
func TestDecommission(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		r := o.ask(t, o.ana, steward.AccessRef{Model: "db-retire", Identity: "svc-app", System: o.sys.Name}).Request
		if r == nil || r.State != steward.RequestPending {
			t.Fatalf("ask: %+v", r)
		}
		if _, err := o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "retired with the old billing run"); err != nil {
			t.Fatal(err)
		}
		if err := o.flow.Fulfil(context.Background(), r.ID, 1); err != nil {
			t.Fatalf("fulfil: %v", err)
		}
		if got, err := db.Request(context.Background(), r.ID); err != nil || got.State != steward.RequestFulfilled {
			t.Fatalf("request %+v, %v", got, err)
		}
		if o.pg.CanLogin(o.login) {
			t.Errorf("%s can still log in after its decommission", o.login)
		}
		iv, err := db.Identity(context.Background(), o.svc.ID)
		if err != nil || iv.Status != steward.IdentityDisabled {
			t.Fatalf("identity %+v, %v: want disabled in the inventory", iv, err)
		}
		ev, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionIdentityDisabled, ObjectID: fmt.Sprint(o.svc.ID)})
		if err != nil || len(ev.Items) != 1 || !strings.Contains(string(ev.Items[0].Data), fmt.Sprintf("request %d (decommission)", r.ID)) {
			t.Errorf("identity.disabled events %+v, %v", ev, err)
		}
		// Disabled already: recorded once.
		if changed, err := db.DisableIdentity(context.Background(), o.svc.ID, "again"); err != nil || changed {
			t.Errorf("DisableIdentity again = %v, %v", changed, err)
		}
	})
}

// TestNewIdentity: an approved new-identity request makes the login role
// in the real server and records the identity owned by the requester, in
// their team; a name the inventory has already, or one the connector would
// not manage, fails the request with why.
func TestNewIdentity(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		fulfilled := func(name string) *steward.AccessRequest {
			t.Helper()
			r := o.ask(t, o.ana, steward.AccessRef{Model: "db-new", Identity: name, System: o.sys.Name}).Request
			if r == nil || r.State != steward.RequestPending {
				t.Fatalf("ask for %s: %+v", name, r)
			}
			if _, err := o.flow.Approve(as(o.bo, steward.RoleMember), r.ID, "ok"); err != nil {
				t.Fatal(err)
			}
			if err := o.flow.Fulfil(context.Background(), r.ID, 1); err != nil {
				t.Fatalf("fulfil: %v", err)
			}
			got, err := db.Request(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		name := o.pg.Later("svc_new")
		r := fulfilled(name)
		if r.State != steward.RequestFulfilled {
			t.Fatalf("request %+v: want fulfilled", r)
		}
		if !o.pg.CanLogin(name) {
			t.Errorf("no login role %s in the server", name)
		}
		page, err := db.Identities(context.Background(), steward.IdentityFilter{SystemID: o.sys.ID, ExternalID: name, ListOptions: steward.ListOptions{Limit: 2}})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("identities named %s: %+v, %v", name, page, err)
		}
		iv := page.Items[0]
		if iv.OwnerID == nil || *iv.OwnerID != o.ana.ID || iv.TeamID == nil || *iv.TeamID != *o.ana.TeamID || iv.OwnerSource != steward.OwnerExplicit ||
			iv.Status != steward.IdentityActive || iv.Labels["steward.request"] != fmt.Sprint(r.ID) || iv.CreatedAt == nil {
			t.Errorf("the new identity: %+v", iv)
		}

		if r := fulfilled(name); r.State != steward.RequestFailed || !strings.Contains(r.Reason, "ask to own it") {
			t.Errorf("a name taken: %+v", r)
		}
		if r := fulfilled("outside_" + name); r.State != steward.RequestFailed || !strings.Contains(r.Reason, "include_roles") {
			t.Errorf("a name outside include_roles: %+v", r)
		}
	})
}

// TestApprovalsAtOnce: two eligible approvers of a model that needs two
// approvals act at the same moment, each having read the request with
// none: both approvals are kept and the request is approved, not left
// pending with enough approvals.
func TestApprovalsAtOnce(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		o := newOrg(t, db)
		for range 5 {
			r := o.ask(t, o.ana, steward.AccessRef{Model: "db-two", Identity: "svc-app", Entitlement: "role:" + o.role}).Request
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, p := range []*steward.Person{o.bo, o.cy} {
				wg.Go(func() { _, errs[i] = o.flow.Approve(as(p, steward.RoleMember), r.ID, "ok") })
			}
			wg.Wait()
			got, err := o.flow.Get(as(o.ana, steward.RoleMember), r.ID)
			if err != nil || errs[0] != nil || errs[1] != nil {
				t.Fatalf("approvals: %v, %v, %v", errs[0], errs[1], err)
			}
			if got.State != steward.RequestApproved || len(got.Approvals) != 2 {
				t.Fatalf("after two approvals at once: %s with %d approvals", got.State, len(got.Approvals))
			}
			if _, err := o.flow.Cancel(as(o.ana, steward.RoleMember), r.ID, "done"); err != nil {
				t.Fatal(err)
			}
		}
	})
}
