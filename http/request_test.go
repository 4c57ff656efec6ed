package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

const requestCatalog = `kind: Catalog
tiers:
  - name: privileged
    service_levels: {decision: 4h}
  - name: routine
    service_levels: {decision: 15m}
boundaries:
  - name: no-superuser
    statement: No standing superuser.
    alternative: Ask for db-jit instead.
    match: {names: [superuser], kinds: [routine]}
models:
  - name: db-jit
    description: Elevation for a while.
    tier: privileged
    kind: jit
    requestable: {systems: [pg-*], privileged: true}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [team:dba]}
    duration: {default: 1h, maximum: 4h}
  - name: db-read
    tier: routine
    kind: routine
    requestable: {systems: [pg-*], privileged: false}
    who_may_request: "permit (principal, action, resource);"
    approval: {automatic: true}
`

// TestRequestAPI is the request path over HTTP, every answer checked
// against the document: a JIT request is pending on its approvers; its
// requester cannot approve it, even as admin; an approver finds it in the
// inbox and approves it; a boundary refuses with its text; what no model
// serves is recorded as unmatched demand; bad input is a 400 that says
// what is wrong.
func TestRequestAPI(t *testing.T) {
	t.Parallel()
	ts := startWithCatalog(t)
	dba := ts.F.Team(func(x *steward.Team) { x.Name = "dba" })
	apps := ts.F.Team(func(x *steward.Team) { x.Name = "apps" })
	ana := ts.F.Person(func(p *steward.Person) { p.Email, p.TeamID = "ana@example.test", &apps.ID })
	bo := ts.F.Person(func(p *steward.Person) { p.Email, p.TeamID = "bo@example.test", &dba.ID })
	anaTok := MustCreatePersonalToken(t, ts.Store, "ana", steward.RoleMember, ana.ID)
	anaAdmin := MustCreatePersonalToken(t, ts.Store, "ana-admin", steward.RoleAdmin, ana.ID)
	boTok := MustCreatePersonalToken(t, ts.Store, "bo", steward.RoleMember, bo.ID)
	pg := ts.F.System(func(s *steward.System) { s.Name, s.OwnerTeamID = "pg-billing", &dba.ID })
	ldap := ts.F.System(func(s *steward.System) { s.Name = "ldap-corp" })
	ts.F.Identity(func(i *steward.Identity) { i.SystemID, i.Name, i.ExternalID = pg.ID, "svc-billing", "svc_billing" })
	ts.F.Identity(func(i *steward.Identity) { i.SystemID, i.Name, i.ExternalID = ldap.ID, "svc-ldap", "svc-ldap" })
	ts.F.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name, e.Privileged = pg.ID, "role:admin", true })
	ts.F.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name = pg.ID, "superuser" })
	ts.F.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name = ldap.ID, "group:admins" })

	ask := func(tok, body string) (*response, steward.RequestResult) {
		res := ts.Do(request{Method: "POST", Target: "/api/v1/requests", Token: tok, Body: body})
		var out steward.RequestResult
		if res.Status < 300 {
			res.Decode(t, &out)
		}
		return res, out
	}
	res, got := ask(anaTok, `{"identity": "svc-billing", "entitlement": "role:admin", "duration": "2h", "justification": {"ticket": "CHG-1"}}`)
	if res.Status != 201 || got.Request == nil || got.Request.State != steward.RequestPending || got.Request.Decision.Model != "db-jit" {
		t.Fatalf("JIT ask: %d %s", res.Status, res.Body)
	}
	id := got.Request.ID
	act := func(tok, verb, reason string) *response {
		return ts.Do(request{Method: "POST", Target: fmt.Sprintf("/api/v1/requests/%d/%s", id, verb), Token: tok, Body: fmt.Sprintf(`{"reason": %q}`, reason)})
	}
	for _, tok := range []string{anaTok, anaAdmin} {
		if res := act(tok, "approve", "mine"); res.Status != 403 || !strings.Contains(res.Error(t).Message, "never decides their own") {
			t.Errorf("the requester approves: %d %s", res.Status, res.Body)
		}
	}
	var inbox steward.Page[steward.AccessRequest]
	if res := ts.Do(request{Target: "/api/v1/requests/inbox", Token: boTok}); res.Status != 200 {
		t.Fatalf("inbox: %d %s", res.Status, res.Body)
	} else if res.Decode(t, &inbox); len(inbox.Items) != 1 || inbox.Items[0].ID != id {
		t.Fatalf("bo's inbox: %+v", inbox)
	}
	if res := act(boTok, "approve", ""); res.Status != 400 {
		t.Errorf("approve without a reason: %d %s", res.Status, res.Body)
	}
	res = act(boTok, "approve", "CHG-1 is approved")
	var r steward.AccessRequest
	if res.Status != 200 {
		t.Fatalf("approve: %d %s", res.Status, res.Body)
	}
	if res.Decode(t, &r); r.State != steward.RequestApproved || len(r.Approvals) != 1 || r.Approvals[0].Approver != bo.Email {
		t.Fatalf("approved: %+v", r)
	}
	if res := act(boTok, "deny", "changed my mind"); res.Status != 409 {
		t.Errorf("deny after approval: %d %s", res.Status, res.Body)
	}
	if res := ts.Do(request{Target: fmt.Sprintf("/api/v1/requests/%d", id), Token: anaTok}); res.Status != 200 {
		t.Errorf("get own: %d %s", res.Status, res.Body)
	}

	res, got = ask(anaTok, `{"model": "db-read", "identity": "svc-billing", "entitlement": "superuser"}`)
	if res.Status != 201 || got.Request == nil || got.Request.State != steward.RequestRefused || !strings.Contains(got.Request.Reason, "No standing superuser. Instead: Ask for db-jit") {
		t.Errorf("boundary: %d %s", res.Status, res.Body)
	}
	res, got = ask(anaTok, `{"identity": "svc-ldap", "entitlement": "group:admins", "justification": {"why": "audit"}}`)
	if res.Status != 200 || got.Request != nil || got.Unmatched == nil || got.Unmatched.Team != "apps" {
		t.Errorf("unmatched: %d %s", res.Status, res.Body)
	}
	var demand steward.Page[steward.UnmatchedDemand]
	if res := ts.Do(request{Target: "/api/v1/unmatched-demand", Token: ts.Viewer}); res.Status != 200 {
		t.Errorf("unmatched demand: %d %s", res.Status, res.Body)
	} else if res.Decode(t, &demand); len(demand.Items) != 1 || demand.Items[0].Identity != "svc-ldap" {
		t.Errorf("unmatched demand: %+v", demand)
	}
	var mine steward.Page[steward.AccessRequest]
	if res := ts.Do(request{Target: "/api/v1/requests?state=pending", Token: anaTok}); res.Status != 200 {
		t.Errorf("list: %d %s", res.Status, res.Body)
	} else if res.Decode(t, &mine); len(mine.Items) != 0 {
		t.Errorf("pending after approval: %+v", mine)
	}

	for _, bad := range []struct {
		target, body, want string
		outside            bool // the document refuses it too
	}{
		{"/api/v1/requests", `{"identity": "svc-billing", "entitlement": "role:admin", "duration": "forever"}`, "duration", false},
		{"/api/v1/requests", `{"identity": "svc-billing", "entitlement": "role:admin", "colour": "red"}`, "colour", true},
		{"/api/v1/requests", `{"identity": "nobody", "entitlement": "role:admin"}`, "nobody", false},
		{"/api/v1/requests/abc/approve", `{"reason": "x"}`, "id", true},
		{"/api/v1/requests/1/extend", `{}`, "duration", true},
	} {
		res := ts.Do(request{Method: "POST", Target: bad.target, Token: anaTok, Body: bad.body, OutsideDocument: bad.outside})
		if res.Status < 400 || res.Status >= 500 || !strings.Contains(res.Error(t).Message, bad.want) {
			t.Errorf("POST %s %s: %d %s, want a 4xx naming %s", bad.target, bad.body, res.Status, res.Body, bad.want)
		}
	}
	if res := ts.Do(request{Target: "/api/v1/requests?state=lost", Token: anaTok, OutsideDocument: true}); res.Status != 400 {
		t.Errorf("bad state: %d %s", res.Status, res.Body)
	}
}

// TestRequestDecisionsAndVisibility: an eligible approver denies a request
// with a reason, and nobody decides it after; a requester cancels their own
// request, another member cannot, an admin can; a member sees their own
// requests and those the catalog makes them an approver of, and a list of
// someone else's requests is filtered to those, not refused; an auditor
// sees all and decides none; a token that is not a person asks for
// nothing; JIT grants are read one by one by their number.
func TestRequestDecisionsAndVisibility(t *testing.T) {
	t.Parallel()
	ts := startWithCatalog(t)
	dba := ts.F.Team(func(x *steward.Team) { x.Name = "dba" })
	apps := ts.F.Team(func(x *steward.Team) { x.Name = "apps" })
	ops := ts.F.Team(func(x *steward.Team) { x.Name = "ops" })
	person := func(email string, team int64) (*steward.Person, string) {
		p := ts.F.Person(func(p *steward.Person) { p.Email, p.TeamID = email, &team })
		return p, MustCreatePersonalToken(t, ts.Store, strings.Split(email, "@")[0], steward.RoleMember, p.ID)
	}
	_, ana := person("ana@example.test", apps.ID)
	bo, boTok := person("bo@example.test", dba.ID)
	_, cy := person("cy@example.test", dba.ID)
	_, di := person("di@example.test", ops.ID)
	pg := ts.F.System(func(s *steward.System) { s.Name, s.OwnerTeamID = "pg-billing", &dba.ID })
	svc := ts.F.Identity(func(i *steward.Identity) { i.SystemID, i.Name, i.ExternalID = pg.ID, "svc-billing", "svc_billing" })
	ts.F.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name, e.Privileged = pg.ID, "role:admin", true })
	ts.F.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name, e.Privileged = pg.ID, "role:ops", true })

	ask := func(tok, entitlement string) int64 {
		t.Helper()
		res := ts.Do(request{Method: "POST", Target: "/api/v1/requests", Token: tok,
			Body: fmt.Sprintf(`{"identity": "svc-billing", "entitlement": %q, "duration": "1h", "justification": {"ticket": "CHG-9"}}`, entitlement)})
		var got steward.RequestResult
		if res.Status != 201 {
			t.Fatalf("ask %s: %d %s", entitlement, res.Status, res.Body)
		}
		if res.Decode(t, &got); got.Request == nil || got.Request.State != steward.RequestPending {
			t.Fatalf("ask %s: %s", entitlement, res.Body)
		}
		return got.Request.ID
	}
	denied, cancelled, theirs := ask(ana, "role:admin"), ask(ana, "role:ops"), ask(di, "role:admin")
	act := func(tok string, id int64, verb, reason string) (*response, steward.AccessRequest) {
		t.Helper()
		res := ts.Do(request{Method: "POST", Target: fmt.Sprintf("/api/v1/requests/%d/%s", id, verb), Token: tok, Body: fmt.Sprintf(`{"reason": %q}`, reason)})
		var r steward.AccessRequest
		if res.Status == 200 {
			res.Decode(t, &r)
		}
		return res, r
	}

	// Deny: a reason is required; the denial is kept with who and why;
	// the request is final.
	if res, _ := act(boTok, denied, "deny", " "); res.Status != 400 || !strings.Contains(res.Error(t).Message, "reason") {
		t.Errorf("deny without a reason: %d %s", res.Status, res.Body)
	}
	// A member who may not read a request cannot learn of it by acting
	// on it either.
	if res, _ := act(di, denied, "deny", "not mine to decide"); res.Status != 404 {
		t.Errorf("a member who may not see it denies: %d %s", res.Status, res.Body)
	}
	if res, _ := act(ts.Viewer, denied, "deny", "auditors write nothing"); res.Status != 403 {
		t.Errorf("an auditor denies: %d %s", res.Status, res.Body)
	}
	res, r := act(boTok, denied, "deny", "no change ticket for this")
	if res.Status != 200 || r.State != steward.RequestDenied || len(r.Approvals) != 1 || r.Approvals[0].Approve ||
		r.Approvals[0].Approver != bo.Email || r.Approvals[0].Reason != "no change ticket for this" || r.ClosedAt == nil {
		t.Fatalf("deny: %d %s", res.Status, res.Body)
	}
	if res, _ := act(cy, denied, "approve", "too late"); res.Status != 409 {
		t.Errorf("approve a denied request: %d %s", res.Status, res.Body)
	}

	// Cancel: the requester's own, before it is decided; not another
	// member's (an approver is told who may, one who may not see it that
	// there is no such request); an admin's any.
	if res, _ := act(cy, cancelled, "cancel", "not yours"); res.Status != 403 || !strings.Contains(res.Error(t).Message, "Only ana@example.test") {
		t.Errorf("an approver cancels: %d %s", res.Status, res.Body)
	}
	if res, _ := act(di, cancelled, "cancel", "not yours"); res.Status != 404 {
		t.Errorf("another member cancels: %d %s", res.Status, res.Body)
	}
	if res := ts.Do(request{Method: "POST", Target: fmt.Sprintf("/api/v1/requests/%d/extend", denied), Token: di, Body: `{"duration": "1h"}`}); res.Status != 404 {
		t.Errorf("another member extends: %d %s", res.Status, res.Body)
	}
	if res, r := act(ana, cancelled, "cancel", "not needed after all"); res.Status != 200 || r.State != steward.RequestCancelled || r.ClosedAt == nil {
		t.Errorf("cancel own: %d %s", res.Status, res.Body)
	}
	if res, _ := act(ana, cancelled, "cancel", "again"); res.Status != 409 {
		t.Errorf("cancel twice: %d %s", res.Status, res.Body)
	}
	if res, _ := act(ana, denied, "cancel", "after the denial"); res.Status != 409 {
		t.Errorf("cancel a denied request: %d %s", res.Status, res.Body)
	}

	// Visibility: one's own and what one may decide, by id and in lists.
	get := func(tok string, id int64) int {
		t.Helper()
		return ts.Do(request{Target: fmt.Sprintf("/api/v1/requests/%d", id), Token: tok}).Status
	}
	for _, c := range []struct {
		who, tok string
		id       int64
		want     int
	}{
		{"the requester", ana, denied, 200},
		{"an approver", boTok, theirs, 200},
		{"another member", di, denied, 404},
		{"another member", ana, theirs, 404},
		{"the auditor", ts.Viewer, theirs, 200},
		{"the admin", ts.Admin, denied, 200},
	} {
		if got := get(c.tok, c.id); got != c.want {
			t.Errorf("%s gets request %d: %d, want %d", c.who, c.id, got, c.want)
		}
	}
	list := func(tok, query string) []int64 {
		t.Helper()
		var ids []int64
		for target := "/api/v1/requests?limit=1&" + query; ; {
			res := ts.Do(request{Target: target, Token: tok})
			if res.Status != 200 {
				t.Fatalf("list %s: %d %s", query, res.Status, res.Body)
			}
			var page steward.Page[steward.AccessRequest]
			res.Decode(t, &page)
			for _, r := range page.Items {
				ids = append(ids, r.ID)
			}
			if page.Next == "" {
				return ids
			}
			target = "/api/v1/requests?limit=1&after=" + page.Next + "&" + query
		}
	}
	for _, c := range []struct {
		who, tok, query string
		want            []int64
	}{
		{"ana, her own", ana, "", []int64{cancelled, denied}},
		{"ana, naming herself", ana, "requester=ana@example.test", []int64{cancelled, denied}},
		{"ana, di's (she decides none)", ana, "requester=di@example.test", nil},
		{"bo, his own (none)", boTok, "", nil},
		{"bo, ana's (he is their approver)", boTok, "requester=ana@example.test", []int64{cancelled, denied}},
		{"bo, ana's pending", boTok, "requester=ana@example.test&state=pending", nil},
		{"di, ana's", di, "requester=ana@example.test", nil},
		{"the auditor, all", ts.Viewer, "", []int64{theirs, cancelled, denied}},
		{"the auditor, ana's denied", ts.Viewer, "requester=ana@example.test&state=denied", []int64{denied}},
		{"the admin, for the identity", ts.Admin, "identity=svc-billing&model=db-jit", []int64{theirs, cancelled, denied}},
	} {
		if got := list(c.tok, c.query); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s (%q): %v, want %v", c.who, c.query, got, c.want)
		}
	}
	var inbox steward.Page[steward.AccessRequest]
	if res := ts.Do(request{Target: "/api/v1/requests/inbox", Token: cy}); res.Status != 200 {
		t.Errorf("inbox: %d %s", res.Status, res.Body)
	} else if res.Decode(t, &inbox); len(inbox.Items) != 1 || inbox.Items[0].ID != theirs {
		t.Errorf("cy's inbox: %s", res.Body)
	}
	if res := ts.Do(request{Target: "/api/v1/requests/inbox", Token: di}); res.Status != 200 || strings.Contains(string(res.Body), "svc-billing") {
		t.Errorf("di's inbox (her own request is not in it): %d %s", res.Status, res.Body)
	}
	// An admin cancels anyone's request.
	if res, r := act(ts.Admin, theirs, "cancel", "the change was withdrawn"); res.Status != 200 || r.State != steward.RequestCancelled {
		t.Errorf("an admin cancels: %d %s", res.Status, res.Body)
	}

	// Asking is a person's: an automation token of role admin is refused,
	// saying why.
	ctx := steward.WithActor(context.Background(), "system:fixture")
	bot, err := ts.Store.CreateToken(ctx, &steward.Token{Name: "ci", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &bo.ID})
	if err != nil {
		t.Fatal(err)
	}
	if res := ts.Do(request{Method: "POST", Target: "/api/v1/requests", Token: bot, Body: `{"identity": "svc-billing", "entitlement": "role:admin"}`}); res.Status != 403 ||
		!strings.Contains(res.Error(t).Message, "not a person") {
		t.Errorf("an automation token asks: %d %s", res.Status, res.Body)
	}

	// JIT grants, by number.
	e := ts.F.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name, e.Privileged = pg.ID, "role:jit", true })
	g := &steward.JITGrant{IdentityID: svc.ID, EntitlementID: e.ID, ExpiresAt: time.Now().Add(time.Hour), GrantedBy: "person:bo@example.test"}
	if err := ts.Store.RecordJITGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	var got steward.JITGrant
	if res := ts.Do(request{Target: fmt.Sprintf("/api/v1/jit-grants/%d", g.ID), Token: ts.Viewer}); res.Status != 200 {
		t.Errorf("get JIT grant: %d %s", res.Status, res.Body)
	} else if res.Decode(t, &got); got.ID != g.ID || got.Entitlement != "role:jit" || got.Identity != "svc_billing" || got.Status != steward.JITActive {
		t.Errorf("JIT grant: %s", res.Body)
	}
	var page steward.Page[steward.JITGrant]
	if res := ts.Do(request{Target: "/api/v1/jit-grants?identity=svc-billing&state=active", Token: ts.Viewer}); res.Status != 200 {
		t.Errorf("list JIT grants: %d %s", res.Status, res.Body)
	} else if res.Decode(t, &page); len(page.Items) != 1 || page.Items[0].ID != g.ID {
		t.Errorf("JIT grants of svc-billing: %s", res.Body)
	}
	// A name on two systems needs its system.
	other := ts.F.System(func(s *steward.System) { s.Name = "pg-other" })
	ts.F.Identity(func(i *steward.Identity) { i.SystemID, i.Name, i.ExternalID = other.ID, "svc-billing", "svc_billing_2" })
	if res := ts.Do(request{Target: "/api/v1/jit-grants?identity=svc-billing", Token: ts.Admin}); res.Status != 400 || !strings.Contains(res.Error(t).Message, "name the system") {
		t.Errorf("JIT grants of an ambiguous name: %d %s", res.Status, res.Body)
	}
	if res := ts.Do(request{Target: "/api/v1/jit-grants?identity=svc-billing&system=pg-billing", Token: ts.Admin}); res.Status != 200 || !strings.Contains(string(res.Body), "role:jit") {
		t.Errorf("JIT grants of svc-billing on pg-billing: %d %s", res.Status, res.Body)
	}
	for _, c := range []struct {
		target, tok string
		want        int
		outside     bool
	}{
		{fmt.Sprintf("/api/v1/jit-grants/%d", g.ID), ana, 403, false},
		{fmt.Sprintf("/api/v1/jit-grants/%d", g.ID+100), ts.Admin, 404, false},
		{"/api/v1/jit-grants/abc", ts.Admin, 400, true},
		{"/api/v1/jit-grants?identity=nobody", ts.Admin, 404, false},
		{"/api/v1/jit-grants?system=pg-billing", ts.Admin, 400, false},
		{"/api/v1/jit-grants?state=forever", ts.Admin, 400, true},
		{"/api/v1/requests/0", ts.Admin, 400, true},
		{"/api/v1/requests/99999", ts.Admin, 404, false},
	} {
		if res := ts.Do(request{Target: c.target, Token: c.tok, OutsideDocument: c.outside}); res.Status != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.target, res.Status, res.Body, c.want)
		} else if c.want >= 400 {
			res.Error(t)
		}
	}
}

// TestRequestsNotServed: a server without a workflow answers every request
// route 501, saying so, and still serves JIT grants from the store.
func TestRequestsNotServed(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	for _, c := range []struct{ method, target, body string }{
		{"POST", "/api/v1/requests", `{"identity": "x", "entitlement": "y"}`},
		{"GET", "/api/v1/requests", ""},
		{"GET", "/api/v1/requests/inbox", ""},
		{"GET", "/api/v1/requests/1", ""},
		{"POST", "/api/v1/requests/1/approve", `{"reason": "ok"}`},
		{"POST", "/api/v1/requests/1/extend", `{"duration": "1h"}`},
		{"GET", "/api/v1/unmatched-demand", ""},
	} {
		res := ts.Do(request{Method: c.method, Target: c.target, Token: ts.Admin, Body: c.body})
		if res.Status != 501 || !strings.Contains(res.Error(t).Message, "does not serve access requests") {
			t.Errorf("%s %s: %d %s", c.method, c.target, res.Status, res.Body)
		}
	}
	if res := ts.Get("/api/v1/jit-grants"); res.Status != 200 {
		t.Errorf("JIT grants: %d %s", res.Status, res.Body)
	}
}

// startWithCatalog starts a server that serves requests, with
// requestCatalog in force.
func startWithCatalog(t *testing.T) *testServer {
	t.Helper()
	ts := MustStartServer(t, withRequests)
	if res := ts.Do(request{Method: "PUT", Target: "/api/v1/catalog", Token: ts.Admin, Reader: strings.NewReader(requestCatalog),
		Header: map[string]string{"Content-Type": "application/yaml"}}); res.Status != 200 {
		t.Fatalf("catalog: %d %s", res.Status, res.Body)
	}
	return ts
}
