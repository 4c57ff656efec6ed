package http_test

import (
	"fmt"
	"strings"
	"testing"

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
	ts := MustStartServer(t, withRequests)
	if res := ts.Do(request{Method: "PUT", Target: "/api/v1/catalog", Token: ts.Admin, Reader: strings.NewReader(requestCatalog),
		Header: map[string]string{"Content-Type": "application/yaml"}}); res.Status != 200 {
		t.Fatalf("catalog: %d %s", res.Status, res.Body)
	}
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
