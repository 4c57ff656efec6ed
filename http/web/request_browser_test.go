package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestBrowserJITJourney is the request path in Chromium against a real
// PostgreSQL: a person requests JIT access from the form (and sees, before
// submitting, that it will wait for the system's owners and why); the
// requester has no approve button, and a forged approval of their own
// request is refused; an approver finds it in the inbox and approves it;
// fulfilled, the request page shows the grant with its countdown; at
// expiry it is revoked in PostgreSQL and the page says so.
func TestBrowserJITJourney(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")
	pg := testenv.NewPostgresRoles(t, "webjit", "app LOGIN", "admin NOLOGIN")
	server, login, role, prefix := pg.DSN, pg.Name("app"), pg.Name("admin"), pg.Prefix
	member := func() bool { return pg.Member(login, role) }
	target, err := postgres.New(postgres.Config{DSN: server, IncludeRoles: []string{prefix + "*"}}, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}

	ctx := steward.WithActor(context.Background(), "system:test")
	db, err := sqlstore.Open(filepath.Join(t.TempDir(), "steward.db"), sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	team := func(name string) *steward.Team {
		x := &steward.Team{Name: name}
		if err := db.CreateTeam(ctx, x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	dba, apps := team("dba"), team("apps")
	person := func(name string, tm *steward.Team) *steward.Person {
		p := &steward.Person{ExternalID: name, Name: name, Email: name + "@example.test", TeamID: &tm.ID, Status: steward.PersonActive}
		if err := db.CreatePerson(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ana, bo := person("ana", apps), person("bo", dba)
	sys := &steward.System{Name: "pg-billing", Kind: steward.SystemPostgres, OwnerTeamID: &dba.ID}
	if err := db.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	ident := &steward.Identity{SystemID: sys.ID, ExternalID: login, Name: "svc-billing", Kind: steward.KindServiceAccount,
		Environment: steward.EnvProd, Criticality: steward.LevelHigh, TeamID: &apps.ID}
	if err := db.CreateIdentity(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEntitlement(ctx, &steward.Entitlement{SystemID: sys.ID, Name: "role:" + role, Privileged: true, Sensitivity: steward.LevelHigh}); err != nil {
		t.Fatal(err)
	}
	src := []byte(`kind: Catalog
tiers: [{name: privileged, service_levels: {decision: 4h, fulfilment: 15m}}]
models:
  - name: db-jit
    description: Time-bound elevation on a billing database.
    tier: privileged
    kind: jit
    requestable: {systems: [pg-*], privileged: true}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [resource-owner]}
    duration: {default: 1h, maximum: 4h}
    justification: [{name: ticket, description: "the change ticket", pattern: "CHG-[0-9]+"}]
`)
	compile := func(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
		c, ds := policy.Compile(src)
		if err := ds.Err("catalog"); err != nil {
			return nil, nil, err
		}
		return c.Catalog, c, nil
	}
	cat, _, err := compile(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ApplyCatalog(ctx, src, cat); err != nil {
		t.Fatal(err)
	}
	flow, err := request.New(request.Config{Store: db, Compile: compile,
		Targets: func(context.Context, string) (steward.Target, error) { return target, nil }})
	if err != nil {
		t.Fatal(err)
	}
	token := func(p *steward.Person) string {
		raw, err := db.CreateToken(ctx, &steward.Token{Name: p.ExternalID, Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &p.ID})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	anaTok, boTok := token(ana), token(bo)
	ts := httptest.NewServer((&UI{Store: db, Requests: flow}).Handler())
	defer ts.Close()

	b := newBrowserSized(t, 1366, 900)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	click := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(b, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	open := func(path string) {
		t.Helper()
		if err := chromedp.Do(b, chromedp.Navigate(ts.URL+path)); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
	}
	signOut := func() {
		t.Helper()
		if _, err := chromedp.Run(b, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}

	// ana asks, from the navigation's "Request access" and the form.
	signIn(t, b, ts.URL, anaTok)
	click(`nav.side a[href="/requests/new"]`)
	if err := chromedp.Do(b,
		chromedp.SendKeys(chromedp.ID("identity"), "svc-billing"),
		chromedp.SendKeys(chromedp.ID("entitlement"), "role:"+role),
		chromedp.SendKeys(chromedp.ID("duration"), "4s"),
		chromedp.SendKeys(chromedp.ID("j-ticket"), "CHG-1234")); err != nil {
		t.Fatal(err)
	}
	click("#check")
	if got := text("#preview-outcome"); !strings.Contains(got, "Pending under model db-jit") || !strings.Contains(got, "resource-owner because team dba owns the system of pg-billing/role:"+role) {
		t.Fatalf("the check before submitting: %q", got)
	}
	shot(t, b, "request-check.png")
	if n, _ := db.Requests(ctx, steward.RequestFilter{}); len(n.Items) != 0 {
		t.Fatalf("checking recorded a request: %+v", n.Items)
	}
	click("#submit")
	if got := text("#request-state"); got != "pending" {
		t.Fatalf("after submitting: state %q", got)
	}
	page1, err := db.Requests(ctx, steward.RequestFilter{})
	if err != nil || len(page1.Items) != 1 {
		t.Fatalf("requests: %+v, %v", page1, err)
	}
	id := page1.Items[0].ID
	if buttons, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#approve-form").length`)); err != nil || buttons != 0 {
		t.Errorf("the requester is offered an approve form: %d, %v", buttons, err)
	}
	// A forged approval of one's own request.
	if _, err := chromedp.Run(b, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Evaluate[bool](fmt.Sprintf(`(function(){var f=document.createElement("form");f.method="post";f.action="/requests/%d/approve";
		var i=document.createElement("input");i.name="reason";i.value="forged";f.appendChild(i);document.body.appendChild(f);f.submit();return true;})()`, id)))); err != nil {
		t.Fatal(err)
	}
	if got := text("main"); !strings.Contains(got, "never decides their own") {
		t.Errorf("a forged self-approval: %q", got)
	}
	signOut()

	// bo approves from the inbox, with a reason.
	signIn(t, b, ts.URL, boTok)
	click(`nav.side a[href="/requests/inbox"]`)
	if got := text(fmt.Sprintf("#inbox-%d", id)); !strings.Contains(got, "ana@example.test") || !strings.Contains(got, "svc-billing") || !strings.Contains(got, "db-jit, privileged") {
		t.Fatalf("bo's inbox: %q", got)
	}
	if err := chromedp.Do(b, chromedp.SendKeys(chromedp.ID(fmt.Sprintf("reason-%d", id)), "CHG-1234 is approved")); err != nil {
		t.Fatal(err)
	}
	shot(t, b, "request-inbox.png")
	click(fmt.Sprintf("#decide-%d button.approve", id))
	if got := text("#flash"); got != fmt.Sprintf("Request %d is approved.", id) {
		t.Fatalf("after approving: %q", got)
	}
	if got := text("main"); !strings.Contains(got, "Nothing waits for your decision.") {
		t.Errorf("bo's inbox after approving: %q", got)
	}
	signOut()

	// Fulfilment (the job serve would work) grants in PostgreSQL.
	if err := flow.Fulfil(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if !member() {
		t.Fatal("fulfilled, but the role is not granted")
	}
	signIn(t, b, ts.URL, anaTok)
	open(fmt.Sprintf("/requests/%d", id))
	if got := text("#grant"); !strings.Contains(got, "active") {
		t.Fatalf("the grant: %q", got)
	}
	first := text("#countdown")
	shot(t, b, "request-grant.png")
	time.Sleep(1200 * time.Millisecond)
	if second := text("#countdown"); second == first {
		t.Errorf("the countdown does not count: %q then %q", first, second)
	}

	// At expiry the engine revokes it in PostgreSQL; the page says so.
	exp, err := jobs.NewExpiry(jobs.ExpiryConfig{Store: db, MaxIdle: 100 * time.Millisecond,
		Targets: func(context.Context, int64) (steward.Revoker, error) { return target, nil }})
	if err != nil {
		t.Fatal(err)
	}
	xctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = exp.Run(xctx) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(time.Minute); member() && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
	}
	if member() {
		t.Fatal("not revoked within a minute of its expiry")
	}
	var state string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		open(fmt.Sprintf("/requests/%d", id))
		if state = text("#grant-state"); state == "revoked" {
			break
		}
	}
	if state != "revoked" {
		t.Errorf("the grant after its expiry: %q", state)
	}
}
