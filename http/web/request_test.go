package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// requestCatalog is the catalog the request pages are tested with, on the
// web fixture's organisation: read-only access and a catalog role
// approved by policy; a
// routine model for AdministratorAccess that a boundary refuses; JIT
// elevation on the AWS account, approved by the account's owners (Ada's
// team) and then the security team (Grace's, ledger), which asks for a
// change ticket; and JIT roles on PostgreSQL, approved by the owners.
const requestCatalog = `kind: Catalog
security_team: ledger
tiers:
  - name: routine
    service_levels: {decision: 15m, fulfilment: 15m}
  - name: standard
    service_levels: {decision: 8h, fulfilment: 1h}
  - name: privileged
    service_levels: {decision: 4h, fulfilment: 15m}
boundaries:
  - name: no-standing-admin
    statement: Nobody holds AdministratorAccess standing.
    alternative: Request time-bound elevation through model aws-admin-jit.
    match: {names: [AdministratorAccess], kinds: [routine]}
roles:
  - name: payments-reader
    description: Read the payments account.
    entitlements: [{system: aws-prod-payments, name: ReadOnlyAccess}]
models:
  - name: read-only
    tier: routine
    kind: routine
    requestable: {privileged: false, max_sensitivity: low}
    who_may_request: "permit (principal, action, resource);"
    approval: {automatic: true}
  - name: roles
    tier: routine
    kind: routine
    requestable: {roles: [payments-reader]}
    who_may_request: "permit (principal, action, resource);"
    approval: {automatic: true}
  - name: aws-admin
    tier: standard
    kind: routine
    requestable: {names: [AdministratorAccess]}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [resource-owner]}
  - name: aws-admin-jit
    tier: privileged
    kind: jit
    requestable: {systems: [aws-*], privileged: true}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [resource-owner, security]}
    duration: {default: 1h, maximum: 4h}
    justification: [{name: ticket, description: the change ticket, pattern: "CHG-[0-9]+"}]
  - name: pg-jit
    tier: privileged
    kind: jit
    requestable: {systems: [pg-*], privileged: true}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [resource-owner]}
    duration: {default: 1h, maximum: 4h}
    justification: [{name: ticket, description: the change ticket, pattern: "CHG-[0-9]+"}]
  - name: new-service-account
    tier: standard
    kind: new-identity
    requestable: {systems: [aws-*]}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [resource-owner]}
`

// testClock is a clock a test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// requestFixture is the web fixture with the request path: the catalog
// above in force and the real workflow on the same SQLite store, whose
// clock the test sets (the store's and the pages' is the tests' now).
// Grace asks; Ada, of the team that owns the AWS
// account, approves.
type requestFixture struct {
	*fixture
	DB      *sqlstore.DB
	Flow    *request.Workflow
	Clock   *testClock
	Target  func(ctx context.Context, system string) (steward.Target, error) // the connectors; none by default
	Grace   string                                                           // a member's session
	Ada     string                                                           // a member's session
	Admin   string                                                           // Ada as an admin
	Auditor string                                                           // Grace as an auditor
	targets sync.Mutex
}

func mustRequestFixture(t *testing.T) *requestFixture {
	t.Helper()
	f := &requestFixture{fixture: MustFixture(t), Clock: &testClock{t: now}}
	f.DB = f.Store.(*sqlstore.DB)
	ctx := steward.WithActor(context.Background(), "system:test")
	// What no model serves: owner rights on the analytics project.
	if err := f.DB.CreateEntitlement(ctx, &steward.Entitlement{SystemID: f.sysLedger(), Name: "roles/owner", Privileged: true, Sensitivity: steward.LevelCritical}); err != nil {
		t.Fatal(err)
	}
	f.applyCatalog(t, requestCatalog)
	// Without a connector, as serve is when its configuration names none.
	f.Target = func(_ context.Context, system string) (steward.Target, error) {
		return nil, steward.Errorf(steward.ENOTIMPL, "no postgres connector in the configuration is for system %s: Steward cannot change access there.", system)
	}
	flow, err := request.New(request.Config{Store: f.DB, Compile: compileCatalog, Now: f.Clock.Now, MaxAttempts: 3,
		Targets: func(ctx context.Context, system string) (steward.Target, error) {
			f.targets.Lock()
			defer f.targets.Unlock()
			return f.Target(ctx, system)
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.Flow = flow
	f.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}, Requests: flow}).Handler()
	f.Grace = f.MustSignInWith(t, f.MustTokenFor(t, "grace", steward.RoleMember, f.graceID))
	f.Ada = f.MustSignInWith(t, f.MustTokenFor(t, "ada", steward.RoleMember, f.ownerID))
	f.Admin = f.MustSignIn(t)
	f.Auditor = f.MustSignInWith(t, f.MustTokenFor(t, "grace-audits", steward.RoleAuditor, f.graceID))
	return f
}

// sysLedger is the analytics project, of team ledger.
func (f *requestFixture) sysLedger() int64 { return 3 }

func compileCatalog(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
	c, ds := policy.Compile(src)
	if err := ds.Err("catalog"); err != nil {
		return nil, nil, err
	}
	return c.Catalog, c, nil
}

func (f *requestFixture) applyCatalog(t *testing.T, src string) {
	t.Helper()
	c, _, err := compileCatalog([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.DB.ApplyCatalog(steward.WithActor(context.Background(), "system:test"), []byte(src), c); err != nil {
		t.Fatal(err)
	}
}

// as is a context acting as the person of personID, a member.
func (f *requestFixture) as(t *testing.T, personID int64) context.Context {
	t.Helper()
	p, err := f.DB.Person(context.Background(), personID)
	if err != nil {
		t.Fatal(err)
	}
	return steward.WithPrincipal(context.Background(), steward.Principal{Kind: steward.PrincipalPerson, Name: p.Email, Role: steward.RoleMember, PersonID: p.ID})
}

// ask makes a request as Grace through the workflow, as the form does.
func (f *requestFixture) ask(t *testing.T, ref steward.AccessRef) *steward.AccessRequest {
	t.Helper()
	res, err := f.Flow.Create(f.as(t, f.graceID), ref)
	if err != nil || res.Request == nil {
		t.Fatalf("ask %+v: %+v, %v", ref, res, err)
	}
	return res.Request
}

// adminJIT is what Grace asks for most: AdministratorAccess on the AWS
// account's deployer for two hours, with a ticket.
var adminJIT = steward.AccessRef{Identity: "payments-api-deployer", Entitlement: "AdministratorAccess",
	Duration: steward.Duration(2 * time.Hour), Justification: map[string]string{"ticket": "CHG-7"}}

// post sends a form as a browser on Steward's own pages does.
func (f *requestFixture) post(t *testing.T, target, session string, form url.Values) (*http.Response, string) {
	t.Helper()
	return f.Do(t, http.MethodPost, target, session, form)
}

// checkAs checks the request form as session, and wants a 200.
func (f *requestFixture) checkAs(t *testing.T, session string, form url.Values) string {
	t.Helper()
	form.Set("action", "check")
	res, body := f.post(t, "/requests/new", session, form)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("check %v: status %d\n%s", form, res.StatusCode, body)
	}
	return body
}

func decodeSuggestions(t *testing.T, body string) []suggestion {
	t.Helper()
	var out []suggestion
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("suggestions %q: %v", body, err)
	}
	return out
}

func mustLack(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(body, u) {
			t.Errorf("%s has %q", what, u)
		}
	}
}

var navLinkRE = regexp.MustCompile(`<nav class="side"[\s\S]*?</nav>`)

// TestRequestNav: the request path's sections are in the navigation only
// where the server serves requests; an auditor, who asks and decides
// nothing, has "My requests" (everyone's) but no form or inbox, and is
// refused them.
func TestRequestNav(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	_, body := f.mustGet(t, "/inventory", f.Grace, http.StatusOK)
	nav := navLinkRE.FindString(body)
	mustContain(t, "a member's navigation", nav, `<a href="/requests/new">Request access`, `<a href="/requests/inbox">Inbox`, `<a href="/requests">My requests`)

	_, body = f.mustGet(t, "/requests", f.Auditor, http.StatusOK)
	nav = navLinkRE.FindString(body)
	mustContain(t, "an auditor's navigation", nav, `<a href="/requests" aria-current="page">My requests`)
	mustLack(t, "an auditor's navigation", nav, `/requests/new`, `/requests/inbox`)
	mustLack(t, "an auditor's list", body, `id="new-request"`)
	f.mustGet(t, "/requests/new", f.Auditor, http.StatusForbidden)
	f.mustGet(t, "/requests/inbox", f.Auditor, http.StatusForbidden)
	res, body := f.post(t, "/requests/new", f.Auditor, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"ReadOnlyAccess"}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "writes nothing") {
		t.Errorf("an auditor submits a request: %d\n%s", res.StatusCode, body)
	}

	// A server without the workflow.
	plain := MustFixture(t)
	session := plain.MustSignIn(t)
	_, body = plain.mustGet(t, "/inventory", session, http.StatusOK)
	mustLack(t, "the navigation without requests", navLinkRE.FindString(body), "/requests")
	_, body = plain.mustGet(t, "/requests/new", session, http.StatusNotImplemented)
	mustContain(t, "the request form without requests", body, "does not serve access requests")
}

// TestRequestCheck: checking the form shows what would happen — which
// model applies and whether it is approved by policy, waits for named
// approvers and why, or is refused with every reason and a boundary's
// alternative — and records nothing.
func TestRequestCheck(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	check := func(t *testing.T, status int, form url.Values) string {
		t.Helper()
		form.Set("action", "check")
		res, body := f.post(t, "/requests/new", f.Grace, form)
		if res.StatusCode != status {
			t.Fatalf("check %v: status %d, want %d\n%s", form, res.StatusCode, status, body)
		}
		return body
	}
	t.Run("pending", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"AdministratorAccess"}, "duration": {"2h"}, "j.ticket": {"CHG-7"}})
		mustContain(t, "the check", body,
			`Model <strong>aws-admin-jit</strong> (jit, tier privileged) applies to aws-prod-payments/AdministratorAccess, for 2h.`,
			`Pending under model aws-admin-jit (tier privileged): it waits for 1 approval from <strong>resource-owner</strong> because team payments-platform owns the system of aws-prod-payments/AdministratorAccess, then (if nobody decides in time) <strong>security</strong> because team ledger is the catalog&#39;s security team.`,
			`The tier's decision level is 4h.`,
			`<option value="" selected>let Steward find it</option>`, // submitting finds the same model
			`<legend>Justification model aws-admin-jit asks for</legend>`,
			`name="j.ticket" value="CHG-7" maxlength="2000" required`)
	})
	t.Run("approved by policy", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"ReadOnlyAccess"}})
		mustContain(t, "the check", body, `Approved automatically: model read-only approves a permitted request by policy. Submitting grants it; the tier's fulfilment level is 15m.`)
	})
	t.Run("a catalog role", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"payments-api-deployer"}, "role": {"payments-reader"}})
		mustContain(t, "the check", body, `Approved automatically`, `<option value="payments-reader" selected>payments-reader</option>`)
	})
	t.Run("refused by a boundary", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"AdministratorAccess"}, "model": {"aws-admin"}})
		mustContain(t, "the check", body, `Refused under model aws-admin: Boundary no-standing-admin`,
			`<div class="boundary" id="preview-boundary"><p><strong>Boundary no-standing-admin:</strong> Nobody holds AdministratorAccess standing.</p><p><strong>Instead:</strong> Request time-bound elevation through model aws-admin-jit.</p></div>`,
			`<li class="no">✗ Boundary no-standing-admin`, `<li class="ok">✓ Model aws-admin (routine, tier standard).`)
	})
	t.Run("refused: the justification", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"AdministratorAccess"}, "model": {"aws-admin-jit"}, "j.ticket": {"soon"}, "duration": {"9h"}})
		mustContain(t, "the check", body, `Refused under model aws-admin-jit`,
			`Justification ticket &#34;soon&#34; does not match CHG-[0-9]&#43; (the change ticket).`,
			`9h is longer than model aws-admin-jit allows (4h); ask for 4h or less.`)
	})
	t.Run("unmatched", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"ledger-export-bot"}, "entitlement": {"roles/owner"}})
		mustContain(t, "the check", body, `No model of the catalog serves gcp-analytics/roles/owner. Submitting records it as <strong>unmatched demand</strong>`)
	})
	t.Run("names what it cannot find", func(t *testing.T) {
		body := check(t, http.StatusNotFound, url.Values{"identity": {"no-such-bot"}, "entitlement": {"ReadOnlyAccess"}})
		mustContain(t, "the check", body, `<p class="alert" role="alert" id="request-error">No identity is named no-such-bot.</p>`, `value="no-such-bot"`)
		body = check(t, http.StatusBadRequest, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"ReadOnlyAccess"}, "role": {"payments-reader"}})
		mustContain(t, "the check", body, "Ask for an entitlement or a catalog role, not both")
		body = check(t, http.StatusBadRequest, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"ReadOnlyAccess"}, "duration": {"soon"}})
		mustContain(t, "the check", body, `duration`)
	})
	t.Run("escapes what was typed", func(t *testing.T) {
		body := check(t, http.StatusOK, url.Values{"identity": {"payments-api-deployer"}, "entitlement": {"ReadOnlyAccess"}, "j.reason": {`<script>alert(1)</script>`}})
		mustLack(t, "the check", body, `<script>alert(1)</script>`)
		mustContain(t, "the check", body, `value="&lt;script&gt;alert(1)&lt;/script&gt;"`)
	})
	page, err := f.DB.Requests(context.Background(), steward.RequestFilter{})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("checking recorded requests: %+v, %v", page, err)
	}
	if u, err := f.DB.UnmatchedDemands(context.Background(), steward.ListOptions{}); err != nil || len(u.Items) != 0 {
		t.Errorf("checking recorded unmatched demand: %+v, %v", u, err)
	}
}

// TestRequestForm: the form is the catalog's: its request models, its
// roles, the justification each model asks for, and type-ahead for the
// identity, the system and the entitlement by name.
func TestRequestForm(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	_, body := f.mustGet(t, "/requests/new", f.Grace, http.StatusOK)
	mustContain(t, "the form", body,
		`<option value="" selected>let Steward find it</option>`, `<option value="aws-admin-jit">aws-admin-jit (jit, tier privileged)</option>`,
		`<option value="payments-reader">payments-reader</option>`,
		`data-suggest="identity"`, `data-suggest="system"`, `data-suggest="entitlement"`,
		`<label for="j-ticket">ticket</label>`, `(asked by aws-admin-jit, pg-jit)`, `<label for="j-reason">reason</label>`)
	_, body = f.mustGet(t, "/requests/new?model=aws-admin-jit&identity=payments-api-deployer", f.Grace, http.StatusOK)
	mustContain(t, "the form for a model", body, `<label for="j-ticket">ticket <span class="muted">(required)</span></label>`, `value="payments-api-deployer"`)
	if n := strings.Count(body, `id="j-reason"`); n != 1 {
		t.Errorf("%d reason fields", n)
	}

	// A name on two systems: the form says which, and asks for one.
	if err := f.DB.CreateIdentity(steward.WithActor(context.Background(), "system:test"), &steward.Identity{SystemID: f.sysLedger(), ExternalID: "deployer@analytics",
		Name: "payments-api-deployer", Kind: steward.KindServiceAccount, Environment: steward.EnvDev, Criticality: steward.LevelLow}); err != nil {
		t.Fatal(err)
	}
	res, body := f.post(t, "/requests/new", f.Admin, url.Values{"action": {"check"}, "identity": {"payments-api-deployer"}, "entitlement": {"ReadOnlyAccess"}})
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("an ambiguous identity: %d", res.StatusCode)
	}
	mustContain(t, "the form for an ambiguous identity", body, `Several identities are named payments-api-deployer; name the system too.`,
		`An identity of that name is on <strong>aws-prod-payments</strong>, <strong>gcp-analytics</strong>: name the system.`,
		`<datalist id="system-list"><option value="aws-prod-payments"></option><option value="gcp-analytics"></option></datalist>`)
	body = f.checkAs(t, f.Admin, url.Values{"identity": {"payments-api-deployer"}, "system": {"aws-prod-payments"}, "entitlement": {"ReadOnlyAccess"}})
	mustContain(t, "the form with the system named", body, `Approved automatically`)
	mustLack(t, "the form with the system named", body, `identity-systems`)

	_, b := f.mustGet(t, "/suggest?what=identity&q=deploy", f.Admin, http.StatusOK)
	got := decodeSuggestions(t, b)
	if len(got) != 2 || got[0].Value != "payments-api-deployer" || got[0].Label != "aws-prod-payments · service account" || got[1].Label != "gcp-analytics · service account" {
		t.Errorf("identity suggestions: %+v", got)
	}
	_, b = f.mustGet(t, "/suggest?what=entitlement&q=admin", f.Grace, http.StatusOK)
	if got = decodeSuggestions(t, b); len(got) != 1 || got[0].Value != "AdministratorAccess" || got[0].Label != "aws-prod-payments · privileged" {
		t.Errorf("entitlement suggestions: %+v", got)
	}
	// A member is offered only the identities they may see: Grace's team
	// has ledger-export-bot, not the payments deployer.
	_, b = f.mustGet(t, "/suggest?what=identity&q=e", f.Grace, http.StatusOK)
	if got = decodeSuggestions(t, b); len(got) == 0 {
		t.Error("grace is offered nothing")
	}
	for _, s := range got {
		if s.Value != "ledger-export-bot" {
			t.Errorf("grace is offered %+v", s)
		}
	}
}

// TestRequestSubmit: submitting makes the request and goes to its page,
// which shows the decision with every reason, the approvers and why, and
// the timeline; what no model serves goes to a page that says it was
// recorded.
func TestRequestSubmit(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	res, body := f.post(t, "/requests/new", f.Grace, url.Values{"action": {"submit"}, "identity": {"payments-api-deployer"},
		"entitlement": {"AdministratorAccess"}, "duration": {"2h"}, "j.ticket": {"CHG-7"}, "j.reason": {"deploy the fix"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/requests/1" {
		t.Fatalf("submit: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	_, body = f.Follow(t, res, f.Grace)
	mustContain(t, "the new request's page", body,
		`<p class="flash" role="status" id="flash">Request 1 is pending.</p>`,
		`<span id="request-state">pending</span>`,
		`grace@example.test asked for <strong>aws-prod-payments/AdministratorAccess</strong> for identity <strong>payments-api-deployer</strong> on aws-prod-payments under model aws-admin-jit (tier privileged), for 2h.`,
		`<span class="chip-key">ticket</span> = CHG-7`, `<span class="chip-key">reason</span> = deploy the fix`,
		`<h2 id="decision-heading">The catalog's decision when it was asked: pending</h2>`,
		`<li class="ok">✓ Justification ticket given.</li>`,
		`<li><strong>resource-owner</strong>: team payments-platform owns the system of aws-prod-payments/AdministratorAccess <span class="badge">may decide now</span></li>`,
		`<li><strong>security</strong>: team ledger is the catalog&#39;s security team <span class="muted">(asked if the request escalates to level 2)</span></li>`,
		`1 approval needed, never the requester's; 0 given.`,
		`<strong>grace@example.test</strong>: Asked for aws-prod-payments/AdministratorAccess for identity payments-api-deployer for 2h; the catalog said pending under model aws-admin-jit.`,
		`id="cancel-form"`)
	mustLack(t, "the requester's page", body, `id="approve-form"`, `id="extend-form"`)

	// What no model serves.
	res, body = f.post(t, "/requests/new", f.Grace, url.Values{"action": {"submit"}, "identity": {"ledger-export-bot"}, "entitlement": {"roles/owner"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/requests/unmatched" {
		t.Fatalf("submit unmatched: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	_, body = f.Follow(t, res, f.Grace)
	mustContain(t, "the unmatched page", body, `<h1>Recorded as unmatched demand</h1>`,
		`Recorded: gcp-analytics/roles/owner for identity ledger-export-bot, asked by grace@example.test at 2026-06-01 12:00 UTC.`,
		`no request was made and nothing will be granted`)
	u, err := f.DB.UnmatchedDemands(context.Background(), steward.ListOptions{})
	if err != nil || len(u.Items) != 1 || u.Items[0].Identity != "ledger-export-bot" {
		t.Errorf("unmatched demand: %+v, %v", u, err)
	}

	// Cancelling one's own pending request.
	res, body = f.post(t, "/requests/1/cancel", f.Grace, url.Values{"reason": {"fixed without it"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", res.StatusCode, body)
	}
	_, body = f.Follow(t, res, f.Grace)
	mustContain(t, "the cancelled request", body, `<span id="request-state">cancelled</span>`, `Cancelled: “fixed without it”.`)
	mustLack(t, "the cancelled request", body, `id="cancel-form"`)
}

// TestRequestNewIdentity: the form offers the models that make an
// identity, and asks one with no entitlement: a new identity named with
// its system, pending on the system's owners; without such a model an
// empty entitlement is still refused.
func TestRequestNewIdentity(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	_, body := f.mustGet(t, "/requests/new", f.Grace, http.StatusOK)
	mustContain(t, "the form", body, `<option value="new-service-account">new-service-account (a new identity: name it and its system, no entitlement; tier standard)</option>`)
	res, body := f.post(t, "/requests/new", f.Grace, url.Values{"action": {"submit"}, "identity": {"payments-reconciler"},
		"system": {"aws-prod-payments"}, "model": {"new-service-account"}, "j.reason": {"the reconciliation job"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/requests/1" {
		t.Fatalf("submit: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	_, body = f.Follow(t, res, f.Grace)
	mustContain(t, "the new request's page", body, `<span id="request-state">pending</span>`, `payments-reconciler`, `new-service-account`)
	res, body = f.post(t, "/requests/new", f.Grace, url.Values{"action": {"submit"}, "identity": {"payments-api-deployer"}, "model": {"read-only"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Name the entitlement you need") {
		t.Errorf("no entitlement under an access model: %d\n%s", res.StatusCode, body)
	}
}

// TestInbox: an approver finds what waits for them, with its requester,
// identity, what, model, tier, age and the time left to its decision
// level, and approves or denies it there with a reason. The requester has
// no approve button on their own request, and a forged approval is
// refused with the separation-of-duties rule.
func TestInbox(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	f.Clock.Set(now.Add(-2 * time.Hour)) // asked two hours ago
	first := f.ask(t, adminJIT)
	f.ask(t, adminJIT)
	f.Clock.Set(now)
	_, body := f.mustGet(t, "/requests/inbox", f.Ada, http.StatusOK)
	mustContain(t, "ada's inbox", body, `<caption id="inbox-caption">2 waiting for you</caption>`, `<tr id="inbox-1">`, `<tr id="inbox-2">`,
		`<td class="wrap">grace@example.test</td>`, `payments-api-deployer <span class="muted small">on aws-prod-payments</span>`,
		`<td class="wrap">aws-prod-payments/AdministratorAccess</td>`, `<td>aws-admin-jit, privileged</td>`,
		`title="2026-06-01 10:00 UTC">2 hours ago</time>`, // asked
		`title="2026-06-01 14:00 UTC">in 2 hours</time>`,  // the 4h decision level
		`<form method="post" action="/requests/1/approve" class="inline-form decide-form" id="decide-1">`,
		`<input type="hidden" name="next" value="/requests/inbox">`,
		`<button type="submit" formaction="/requests/1/deny" class="button-quiet deny">Deny</button>`)
	if strings.Index(body, `id="inbox-1"`) > strings.Index(body, `id="inbox-2"`) {
		t.Error("the inbox is not oldest first")
	}
	_, body = f.mustGet(t, "/requests/inbox", f.Grace, http.StatusOK)
	mustContain(t, "grace's inbox", body, `Nothing waits for your decision.`)

	// Grace's own request: no decision form, and a forged one is refused.
	_, body = f.mustGet(t, "/requests/1", f.Grace, http.StatusOK)
	mustLack(t, "the requester's page", body, `id="approve-form"`, `id="decide"`)
	res, body := f.post(t, "/requests/1/approve", f.Grace, url.Values{"reason": {"it is fine"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a requester's own approval: %d", res.StatusCode)
	}
	mustContain(t, "the refusal", body, `<h1>Request 1 was not approved</h1>`, `grace@example.test made request 1 and cannot approve it: a requester never decides their own request, administrators included.`)
	// Ada, of the team that owns the account, approves it; signed in as
	// an admin or not, the catalog's approver sets decide.
	res, _ = f.post(t, "/requests/1/approve", f.Admin, url.Values{"reason": {"CHG-7 is approved"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("ada approves: %d", res.StatusCode)
	}
	if r, _ := f.DB.Request(context.Background(), first.ID); r.State != steward.RequestApproved {
		t.Fatalf("after ada's approval: %s", r.State)
	}

	// A reason is required.
	res, body = f.post(t, "/requests/2/deny", f.Ada, url.Values{"reason": {"  "}, "next": {"/requests/inbox"}})
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a denial without a reason: %d", res.StatusCode)
	}
	mustContain(t, "the refusal", body, `Give a reason to deny request 2`)
	// From the inbox, back to it.
	res, body = f.post(t, "/requests/2/deny", f.Ada, url.Values{"reason": {"not during the freeze"}, "next": {"/requests/inbox"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/requests/inbox" {
		t.Fatalf("deny from the inbox: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	_, body = f.Follow(t, res, f.Ada)
	mustContain(t, "ada's inbox after", body, `Request 2 is denied.`, `Nothing waits for your decision.`)
	_, body = f.mustGet(t, "/requests/2", f.Grace, http.StatusOK)
	mustContain(t, "the denied request", body, `<span id="request-state">denied</span>`,
		`<li class="bad"><time datetime="2026-06-01T12:00:00Z" title="2026-06-01 12:00 UTC">just now</time> <span class="muted small">2026-06-01 12:00 UTC</span> <strong>ada@example.test</strong>: Denied as resource-owner: “not during the freeze”.</li>`,
		`<dd id="request-reason">Denied by ada@example.test as resource-owner: “not during the freeze”.</dd>`)

	// A page for a request one may not see reads as none.
	f.ask(t, steward.AccessRef{Identity: "payments-api-deployer", Entitlement: "ReadOnlyAccess"})
	f.mustGet(t, "/requests/3", f.Ada, http.StatusNotFound)
	f.mustGet(t, "/requests/3", f.Admin, http.StatusOK)
	f.mustGet(t, "/requests/three", f.Grace, http.StatusBadRequest)

	// A cross-site form is refused before it reaches the workflow.
	r := newRequest(http.MethodPost, "/requests/1/cancel", f.Grace)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, _ := serve(f.Handler, r); res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site cancel: %d", res.StatusCode)
	}
}

// TestMyRequests: a member lists their own requests; an admin or auditor
// everyone's, by state.
func TestMyRequests(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	f.ask(t, adminJIT)
	f.ask(t, steward.AccessRef{Identity: "payments-api-deployer", Entitlement: "ReadOnlyAccess"})
	_, body := f.mustGet(t, "/requests", f.Grace, http.StatusOK)
	mustContain(t, "grace's requests", body, `<h1>My requests</h1>`, `<tr id="request-1">`, `<tr id="request-2">`,
		`<td class="state">pending</td>`, `<td class="state">approved</td>`, `resource-owner, due <time`)
	mustLack(t, "grace's requests", body, `name="all"`)
	_, body = f.mustGet(t, "/requests?state=pending", f.Grace, http.StatusOK)
	mustContain(t, "grace's pending requests", body, `<tr id="request-1">`, `<option value="pending" selected>pending</option>`)
	mustLack(t, "grace's pending requests", body, `<tr id="request-2">`)
	f.mustGet(t, "/requests?state=lost", f.Grace, http.StatusBadRequest)

	_, body = f.mustGet(t, "/requests?all=1", f.Ada, http.StatusOK)
	mustContain(t, "a member asking for everyone's", body, `<h1>My requests</h1>`, `No requests.`, `1 waiting for your decision`)
	for _, session := range []string{f.Admin, f.Auditor} {
		_, body = f.mustGet(t, "/requests?all=1&state=approved", session, http.StatusOK)
		mustContain(t, "everyone's approved requests", body, `<h1>All requests</h1>`, `<tr id="request-2">`, `<td class="wrap">grace@example.test</td>`)
		mustLack(t, "everyone's approved requests", body, `<tr id="request-1">`)
	}
}

// TestRequestFulfilmentWithoutConnector: a request approved for a system
// no connector can change fails with the reason, and its page says so.
func TestRequestFulfilmentWithoutConnector(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	r := f.ask(t, steward.AccessRef{Identity: "payments-api-deployer", Entitlement: "ReadOnlyAccess"})
	if err := f.Flow.Fulfil(context.Background(), r.ID, 1); err != nil {
		t.Fatal(err)
	}
	_, body := f.mustGet(t, "/requests/1", f.Grace, http.StatusOK)
	mustContain(t, "the failed request", body, `<span id="request-state">failed</span>`,
		`<strong>Steward</strong>: Fulfilment try 1 failed for good: no postgres connector in the configuration is for system aws-prod-payments: Steward cannot change access there.</li>`,
		`<dt>Why it ended</dt>`)
	mustLack(t, "the failed request", body, `id="cancel-form"`, `id="grant"`)
}

// TestRequestGrantPage: a JIT request fulfilled in PostgreSQL shows its
// grant with the time left, server-side, and a countdown to its expiry;
// the timeline has the failed try before; the requester may ask to
// extend it with the justification the model asks for; past its expiry
// the page says so.
func TestRequestGrantPage(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPostgresRoles(t, "webgrant", "app LOGIN", "admin NOLOGIN")
	login, role := pg.Name("app"), pg.Name("admin")
	f := mustRequestFixture(t)
	ctx := steward.WithActor(context.Background(), "system:test")
	sys := &steward.System{Name: "pg-billing", Kind: steward.SystemPostgres, OwnerTeamID: &f.teamPay}
	if err := f.DB.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	if err := f.DB.CreateIdentity(ctx, &steward.Identity{SystemID: sys.ID, ExternalID: login, Name: "svc-billing", Kind: steward.KindServiceAccount,
		Environment: steward.EnvProd, Criticality: steward.LevelHigh, TeamID: &f.teamLed}); err != nil {
		t.Fatal(err)
	}
	if err := f.DB.CreateEntitlement(ctx, &steward.Entitlement{SystemID: sys.ID, Name: "role:" + role, Privileged: true, Sensitivity: steward.LevelHigh}); err != nil {
		t.Fatal(err)
	}
	target, err := postgres.New(postgres.Config{DSN: pg.DSN, IncludeRoles: []string{pg.Prefix + "*"}}, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	down, err := postgres.New(postgres.Config{DSN: "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", IncludeRoles: []string{pg.Prefix + "*"}}, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	setTarget := func(t steward.Target) {
		f.targets.Lock()
		defer f.targets.Unlock()
		f.Target = func(context.Context, string) (steward.Target, error) { return t, nil }
	}

	r := f.ask(t, steward.AccessRef{Identity: "svc-billing", Entitlement: "role:" + role, Duration: steward.Duration(time.Hour),
		Justification: map[string]string{"ticket": "CHG-9"}})
	if _, err := f.Flow.Approve(f.as(t, f.ownerID), r.ID, "CHG-9 is on the board"); err != nil {
		t.Fatal(err)
	}
	setTarget(down)
	if err := f.Flow.Fulfil(context.Background(), r.ID, 1); steward.ErrorCode(err) != steward.EUNAVAILABLE {
		t.Fatalf("fulfilment with the server down: %v", err)
	}
	setTarget(target)
	if err := f.Flow.Fulfil(context.Background(), r.ID, 2); err != nil {
		t.Fatal(err)
	}
	if !pg.Member(login, role) {
		t.Fatal("fulfilled, but not granted in PostgreSQL")
	}

	_, body := f.mustGet(t, "/requests/1", f.Grace, http.StatusOK)
	mustContain(t, "the fulfilled request", body, `<span id="request-state">fulfilled</span>`,
		`JIT grant 1: <span id="grant-state" class="badge">active</span>.`,
		`It expires <time datetime="2026-06-01T13:00:00Z">in 1 hour</time> <span class="muted small">2026-06-01 13:00 UTC</span>: <strong><span id="countdown" data-expires="2026-06-01T13:00:00Z">1h0m0s</span></strong> left.`,
		`<strong>ada@example.test</strong>: Approved as resource-owner: “CHG-9 is on the board”. The request is approved; fulfilment is queued.`,
		`<li class="bad">`, `<strong>Steward</strong>: Fulfilment try 1 failed: postgres: `, `the server cannot be reached.`,
		`<strong>Steward</strong>: Fulfilled: JIT grant 1 is in pg-billing.`,
		`Granted until 2026-06-01 13:00 UTC.`,
		`<form method="post" action="/requests/1/extend" class="inline-form" id="extend-form">`,
		`<input id="extend-j-ticket" name="j.ticket" value="CHG-9" maxlength="2000" required>`)
	mustLack(t, "the fulfilled request", body, `id="cancel-form"`)
	if strings.Index(body, "Fulfilment try 1 failed") > strings.Index(body, "Fulfilled: JIT grant 1") {
		t.Error("the timeline is out of order")
	}
	_, body = f.mustGet(t, "/requests/1", f.Ada, http.StatusOK)
	mustLack(t, "the approver's view of it", body, `id="extend-form"`, `id="approve-form"`)

	// Asking to extend it: a new request under the same model.
	res, body := f.post(t, "/requests/1/extend", f.Grace, url.Values{"duration": {"30m"}, "j.ticket": {"CHG-9"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/requests/2" {
		t.Fatalf("extend: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	_, body = f.Follow(t, res, f.Grace)
	mustContain(t, "the extension", body, `Extension request 2 is pending.`, `for 30m.`, `It extends the access of <a href="/requests/1">an earlier request</a>.`)

	// Past its expiry, before the engine revoked it.
	later := (&UI{Store: f.Store, Clock: steward.FixedClock{T: now.Add(90 * time.Minute)}, Requests: f.Flow}).Handler()
	_, body = serve(later, newRequest(http.MethodGet, "/requests/1", f.Grace))
	mustContain(t, "the expired grant", body, `<span id="grant-state" class="badge badge-warn">expired</span>`, `It expired <time datetime="2026-06-01T13:00:00Z">30 minutes ago</time>`, `Steward is revoking it.`)
	mustLack(t, "the expired grant", body, `id="countdown"`, `id="extend-form"`)
}

// TestRequestPagesAskForNoID: the request path works by names too.
func TestRequestPagesAskForNoID(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	f.ask(t, adminJIT)
	for _, c := range []struct{ page, session string }{{"/requests/new", f.Grace}, {"/requests/inbox", f.Ada}, {"/requests", f.Grace},
		{"/requests?all=1", f.Admin}, {"/requests/1", f.Grace}, {"/requests/1", f.Ada}} {
		_, body := f.mustGet(t, c.page, c.session, http.StatusOK)
		noIDFields(t, c.page, body)
	}
}

// TestNoticesPage: a person reads what Steward told them, newest first,
// each linked to what it is about; never another person's.
func TestNoticesPage(t *testing.T) {
	t.Parallel()
	f := mustRequestFixture(t)
	r := f.ask(t, adminJIT)
	ctx := steward.WithActor(context.Background(), "system:test")
	ids, err := f.DB.Identities(ctx, steward.IdentityFilter{ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(ids.Items) == 0 {
		t.Fatalf("identities: %v", err)
	}
	ents, err := f.DB.Entitlements(ctx, steward.EntitlementFilter{SystemID: ids.Items[0].SystemID, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(ents.Items) == 0 {
		t.Fatalf("entitlements: %v", err)
	}
	g := &steward.JITGrant{IdentityID: ids.Items[0].ID, EntitlementID: ents.Items[0].ID, GrantedAt: now, ExpiresAt: now.Add(10 * time.Minute), RequestID: &r.ID}
	if err := f.DB.RecordJITGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	job := steward.WithPrincipal(context.Background(), steward.SelfPrincipal("job:test"))
	deliver := func(jobID int64, n steward.Notice) {
		if _, err := f.DB.DeliverNotices(job, jobID, []steward.Notice{n}); err != nil {
			t.Fatal(err)
		}
	}
	deliver(1, steward.Notice{PersonID: f.graceID, Kind: steward.KindOwnerAssigned, Subject: "You now own svc-first", Body: "Ada made you its owner.",
		ObjectType: steward.ObjectIdentity, ObjectID: fmt.Sprint(ids.Items[0].ID)})
	deliver(2, steward.Notice{PersonID: f.graceID, Kind: steward.KindJITExpiryWarning, Subject: "Your JIT access ends soon", Body: "Extend it: steward request extend.",
		ObjectType: steward.ObjectJITGrant, ObjectID: fmt.Sprint(g.ID)})
	deliver(3, steward.Notice{PersonID: f.ownerID, Kind: steward.KindOwnerAssigned, Subject: "A notice for Ada", Body: "Not for Grace.",
		ObjectType: steward.ObjectIdentity, ObjectID: fmt.Sprint(ids.Items[0].ID)})

	for _, session := range []string{f.Grace, f.Auditor} {
		_, body := f.mustGet(t, "/notices", session, http.StatusOK)
		mustContain(t, "grace's notices", body, `<a href="/notices" aria-current="page">Notices`, `<h1>Notices</h1>`,
			`Your JIT access ends soon`, fmt.Sprintf(`<a href="/requests/%d">request %d</a>`, r.ID, r.ID),
			`You now own svc-first`, fmt.Sprintf(`<a href="/identities/%d">the identity</a>`, ids.Items[0].ID))
		mustLack(t, "grace's notices", body, `A notice for Ada`)
		if strings.Index(body, "Your JIT access ends soon") > strings.Index(body, "You now own svc-first") {
			t.Error("the notices are not newest first")
		}
	}
	_, body := f.mustGet(t, "/notices", f.Ada, http.StatusOK)
	mustContain(t, "ada's notices", body, `A notice for Ada`)
	mustLack(t, "ada's notices", body, `Your JIT access ends soon`)
}
