package http_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/policy"
	workflow "github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// withCatalog gives the server the policy package's compiler, as
// cmd/steward wires it.
func withCatalog(s *stewardhttp.Server) {
	s.CompileCatalog = func(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
		c, ds := policy.Compile(src)
		if err := ds.Err("the catalog"); err != nil {
			return nil, nil, err
		}
		return c.Catalog, c, nil
	}
}

func TestCatalogAPI(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, withCatalog)
	put := func(src string) *response {
		return ts.Do(request{Method: "PUT", Target: "/api/v1/catalog", Token: ts.Admin, Reader: strings.NewReader(src),
			Header: map[string]string{"Content-Type": "application/yaml"}})
	}
	get := func() *response { return ts.Do(request{Target: "/api/v1/catalog", Token: ts.Viewer}) }

	if res := get(); res.Status != 404 {
		t.Fatalf("no catalog yet: %d %s", res.Status, res.Body)
	}
	// A bad file: every problem with its line and column, nothing applied.
	res := put("kind: Catalog\ntiers:\n  - name: t\n    colour: red\nmodels:\n  - name: m\n    tier: gold\n    kind: routine\n    requestable: {}\n    approval: {automatic: true}\n    who_may_request: permit (principal, action, resource) when { principal.dept == \"x\" };\n")
	if res.Status != 400 {
		t.Fatalf("bad catalog: %d %s", res.Status, res.Body)
	}
	msg := res.Error(t).Message
	if !strings.Contains(msg, ":4:5: colour is not a field here") {
		t.Errorf("message lacks the unknown field at 4:5:\n%s", msg)
	}
	if res := get(); res.Status != 404 {
		t.Fatalf("a refused catalog was applied: %d %s", res.Status, res.Body)
	}
	res = put("kind: Catalog\ntiers:\n  - name: t\nmodels:\n  - name: m\n    tier: t\n    kind: routine\n    requestable: {}\n    approval: {automatic: true}\n    who_may_request: permit (principal, action, resource) when { principal.dept == \"x\" };\n")
	if res.Status != 400 || !strings.Contains(res.Error(t).Message, "does not fit Steward's schema") {
		t.Fatalf("unknown attribute: %d %s", res.Status, res.Body)
	}

	src, err := os.ReadFile("../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var applied struct {
		Changed bool
		Version steward.CatalogVersion
		Changes []steward.CatalogChange
	}
	res = put(string(src))
	if res.Status != 200 {
		t.Fatalf("example catalog: %d %s", res.Status, res.Body)
	}
	res.Decode(t, &applied)
	if !applied.Changed || applied.Version.Version != 1 || len(applied.Changes) < 12 {
		t.Errorf("first apply: %+v", applied)
	}
	res = put(string(src))
	res.Decode(t, &applied)
	if res.Status != 200 || applied.Changed || applied.Version.Version != 1 {
		t.Errorf("same text again: %d changed %v version %d", res.Status, applied.Changed, applied.Version.Version)
	}
	var v steward.CatalogVersion
	get().Decode(t, &v)
	if v.Source != string(src) || len(v.Catalog.Models) != len(applied.Version.Catalog.Models) {
		t.Errorf("GET does not give back the text as applied")
	}
	page, err := ts.Store.Events(context.Background(), steward.EventFilter{Action: steward.ActionCatalogApplied})
	if err != nil || len(page.Items) != 1 || page.Items[0].Actor == "" {
		t.Fatalf("events %+v %v", page, err)
	}
}

// TestDecideAPI: POST /api/v1/decide explains, by names, what the catalog
// in force decides, with its reasons: approved by policy, pending on named
// approvers (and why them), refused by a boundary with its alternative; a
// member asks only as themselves; nothing is created.
func TestDecideAPI(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, withCatalog)
	payments := ts.F.Team(func(tm *steward.Team) { tm.Name = "payments" })
	grace := ts.F.Person(func(p *steward.Person) { p.Email = "grace@example.com" })
	ada := ts.F.Person(func(p *steward.Person) {
		p.Email, p.TeamID, p.ManagerID, p.Title = "ada@example.com", &payments.ID, &grace.ID, "Software Engineer"
	})
	sys := ts.F.System(func(s *steward.System) {
		s.Name, s.Kind, s.OwnerTeamID = "pg-payments-prod", steward.SystemPostgres, &payments.ID
	})
	ts.F.Identity(func(i *steward.Identity) {
		i.Name, i.SystemID, i.OwnerID, i.TeamID = "svc-settlement", sys.ID, &ada.ID, &payments.ID
	})
	for _, e := range []steward.Entitlement{{Name: "app_ro", Sensitivity: steward.LevelLow},
		{Name: "CREATEROLE", Privileged: true, Sensitivity: steward.LevelHigh}, {Name: "SUPERUSER", Privileged: true, Sensitivity: steward.LevelCritical}} {
		ts.F.Entitlement(func(x *steward.Entitlement) {
			x.Name, x.Privileged, x.Sensitivity, x.SystemID = e.Name, e.Privileged, e.Sensitivity, sys.ID
		})
	}
	member := MustCreatePersonalToken(t, ts.Store, "ada", steward.RoleMember, ada.ID)
	decide := func(token, body string) *response {
		return ts.Do(request{Method: "POST", Target: "/api/v1/decide", Token: token, Body: body})
	}
	ask := `{"as": "ada@example.com", "model": "read-only-access", "identity": "svc-settlement", "system": "pg-payments-prod", "entitlement": "app_ro"}`
	if res := decide(ts.Admin, ask); res.Status != 404 || !strings.Contains(res.Error(t).Message, "No catalog has been applied") {
		t.Fatalf("before any catalog: %d %s", res.Status, res.Body)
	}
	src, err := os.ReadFile("../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if res := ts.Do(request{Method: "PUT", Target: "/api/v1/catalog", Token: ts.Admin, Reader: strings.NewReader(string(src)),
		Header: map[string]string{"Content-Type": "application/yaml"}}); res.Status != 200 {
		t.Fatalf("apply the example: %d %s", res.Status, res.Body)
	}
	before, err := ts.Store.Events(context.Background(), steward.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		token   string
		body    string
		outcome steward.Outcome
		says    []string
	}{
		{"approved by policy", ts.Admin, ask, steward.OutcomeApproved,
			[]string{"Model read-only-access (routine, tier routine).", "permit policy own-team of model read-only-access", "Approved by policy"}},
		{"a member asks as themselves", member, `{"model": "read-only-access", "identity": "svc-settlement", "entitlement": "app_ro"}`, steward.OutcomeApproved,
			[]string{"permit policy own-identity of model read-only-access"}},
		{"pending, with the approvers and why", ts.Admin, `{"as": "ada@example.com", "model": "pg-prod-elevation", "identity": "svc-settlement", "system": "pg-payments-prod",
			"entitlement": "CREATEROLE", "duration": "2h", "justification": {"ticket": "CHG-1234"}}`, steward.OutcomePending,
			[]string{"JIT for 2h (at most 4h).", "Waits for 2 approval(s) from resource-owner, then security",
				"Approver set resource-owner: team payments owns the system of pg-payments-prod/CREATEROLE.", "Approver set security: team security is the catalog's security team."}},
		{"refused by a boundary, with the alternative", ts.Admin, `{"as": "ada@example.com", "model": "database-app-access", "identity": "svc-settlement", "entitlement": "SUPERUSER",
			"justification": {"purpose": "x"}}`, steward.OutcomeRefused,
			[]string{"Boundary no-standing-superuser: The identity service does not grant standing superuser", "Instead: Request time-bound elevation"}},
		{"refused: too long and no ticket", ts.Admin, `{"as": "ada@example.com", "model": "pg-prod-elevation", "identity": "svc-settlement", "entitlement": "CREATEROLE", "duration": "5h"}`,
			steward.OutcomeRefused, []string{"5h is longer than model pg-prod-elevation allows (4h)", "Justification ticket is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := decide(tt.token, tt.body)
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			var d steward.AccessDecision
			res.Decode(t, &d)
			all := ""
			for _, r := range d.Reasons {
				all += r.Text + "\n"
			}
			if d.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s:\n%s", d.Outcome, tt.outcome, all)
			}
			for _, w := range tt.says {
				if !strings.Contains(all, w) {
					t.Errorf("reasons lack %q:\n%s", w, all)
				}
			}
		})
	}

	// A role is judged by each of its entitlements: those the inventory
	// holds with what it says of them, the others by system and name.
	res := decide(ts.Admin, `{"as": "ada@example.com", "model": "team-roles", "identity": "svc-settlement", "role": "payments-developer"}`)
	var d steward.AccessDecision
	res.Decode(t, &d)
	if res.Status != 200 || d.Outcome != steward.OutcomeApproved || len(d.Target.Entitlements) != 4 ||
		d.Target.Entitlements[0].String() != "pg-payments-prod/app_ro" || d.Target.Entitlements[0].Sensitivity != steward.LevelLow ||
		d.Target.Entitlements[0].OwnerTeam != "payments" || d.Target.Entitlements[1].Sensitivity != "" {
		t.Errorf("a role: %d %+v", res.Status, d)
	}

	if res := decide(member, `{"as": "grace@example.com", "model": "read-only-access", "identity": "svc-settlement", "entitlement": "app_ro"}`); res.Status != 403 {
		t.Errorf("a member asking as someone else: %d %s", res.Status, res.Body)
	}
	if res := decide(ts.Admin, `{"as": "nobody@example.com", "model": "read-only-access", "identity": "svc-settlement", "entitlement": "app_ro"}`); res.Status != 404 {
		t.Errorf("an unknown person: %d %s", res.Status, res.Body)
	}
	if res := decide(ts.Admin, `{"as": "ada@example.com", "model": "read-only-access", "identity": "svc-settlement", "entitlement": "app_ro", "duration": "soon"}`); res.Status != 400 {
		t.Errorf("a bad duration: %d %s", res.Status, res.Body)
	}
	after, err := ts.Store.Events(context.Background(), steward.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(before.Items) {
		t.Errorf("deciding wrote %d events; it creates nothing", len(after.Items)-len(before.Items))
	}
}

// withRequests serves the request path with the real workflow on the test
// server's store and the catalog in force (withCatalog compiles it). No
// connector: a fulfilment job waits in the queue, unworked.
func withRequests(s *stewardhttp.Server) {
	withCatalog(s)
	flow, err := workflow.New(workflow.Config{Store: s.Store.(*sqlstore.DB), Compile: s.CompileCatalog,
		Targets: func(_ context.Context, system string) (steward.Target, error) {
			return nil, steward.Errorf(steward.ENOTIMPL, "no connector for %s in the test", system)
		}})
	if err != nil {
		panic(err)
	}
	s.Requests = flow
}
