package policy

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

func TestReadsOf(t *testing.T) {
	t.Parallel()
	names := func(m uint64, list []string) string {
		var out []string
		for i, n := range list {
			if m&(1<<i) != 0 {
				out = append(out, n)
			}
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		text                                   string
		person, entitlement, context, identity string
	}{
		{`permit (principal, action, resource);`, "", "", "", ""},
		{`permit (principal, action, resource) when { principal.team == resource.owner_team };`, "team", "owner_team", "identity", "team"}, // identity's team too: a word is a word
		{`permit (principal, action, resource) when { context.identity.owner == principal.email };`, "email", "", "identity", "owner"},
		{`permit (principal, action, resource) when { context.identity == {"name": "x"} };`, "name", "name", "identity", "name,system,kind,environment,criticality,owner,team,active,new"},
		{`permit (principal, action, resource) when { context has identity };`, "", "", "model,kind,duration_minutes,identity", "name,system,kind,environment,criticality,owner,team,active,new"},
		{`permit (principal, action, resource) when { context["kind"] == "jit" };`, "", "", "model,kind,duration_minutes,identity", "name,system,kind,environment,criticality,owner,team,active,new"},
		{`permit (principal, action, resource) when { principal has title && resource["sensitivity_rank"] < 2 && context.duration_minutes < 60 };`, "title", "sensitivity_rank", "duration_minutes", ""},
		{"permit (principal, action, resource)\n  when { context\n    .identity\n    .new };", "", "", "identity", "new"},
	}
	for _, tt := range tests {
		r := readsOf(tt.text)
		got := []string{names(r.person, personAttrs), names(r.entitlement, entitlementAttrs), names(r.context, contextAttrs), names(r.identity, identityAttrs)}
		want := []string{tt.person, tt.entitlement, tt.context, tt.identity}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("readsOf(%q) = %q, want %q", tt.text, got, want)
		}
	}
}

// TestReadsDecideAlike holds a decision on the attributes its model's
// policies read to the decision on every attribute: the same verdict, the
// same policies, no evaluation error, for every model of the example
// catalog and of policies that use records whole, over many questions.
func TestReadsDecideAlike(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	extra := `
  - name: whole-records
    tier: routine
    kind: routine
    requestable: {}
    approval: {automatic: true}
    who_may_request: |
      permit (principal, action, resource) when { context.identity == {"name": "svc-a", "system": "pg", "kind": "service_account", "environment": "prod", "criticality": "", "owner": "ada@example.com", "team": "payments", "active": true, "new": false} };
      permit (principal, action, resource) when { context has identity && context["identity"]["team"] == "orders" };
      forbid (principal, action, resource) when { principal has manager && principal["manager"] == "" && resource has owner_team && resource.owner_team != principal.team };
`
	c, ds := Compile(append(src, extra...))
	if len(ds) > 0 {
		t.Fatal(ds.Err("catalog"))
	}
	people := []steward.Requester{
		{Email: "ada@example.com", Name: "Ada", Title: "Software Engineer", Team: "payments", Manager: "grace@example.com", Active: true},
		{Email: "carl@example.com", Title: "Contractor Engineer", Team: "payments", Active: true},
		{Email: "sam@example.com", Title: "Engineering Manager", Team: "sre", Manager: "m@example.com", Active: true},
		{Email: "gone@example.com", Team: "orders"},
	}
	identities := []steward.IdentityFacts{
		{Name: "svc-a", System: "pg", Kind: "service_account", Environment: "prod", Owner: "ada@example.com", Team: "payments", Active: true},
		{Name: "svc-b", System: "aws-prod-core", Kind: "workload", Environment: "staging", Team: "orders", Active: true},
		{Name: "svc-new", System: "github-acme", Team: "sre", Owner: "sam@example.com", Active: true, New: true},
	}
	targets := []steward.AccessTarget{
		{System: "pg-payments-prod", Name: "app_ro", Sensitivity: steward.LevelLow, OwnerTeam: "payments"},
		{System: "pg-payments-prod", Name: "CREATEROLE", Privileged: true, Sensitivity: steward.LevelHigh, OwnerTeam: "payments"},
		{System: "k8s-prod-eu-west-1", Name: "clusterrole:cluster-admin", Privileged: true, Sensitivity: steward.LevelCritical},
		{Role: "sre-on-call", Sensitivity: steward.LevelMedium},
	}
	n := 0
	for name, cm := range c.models {
		for _, p := range people {
			for _, id := range identities {
				for _, tg := range targets {
					q := &steward.AccessQuestion{Model: name, Requester: p, Identity: id, Target: tg, Duration: steward.Duration(90 * 60e9)}
					got, want := cm.verdictOn(q, cm.reads), cm.verdictOn(q, all)
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s, %s for %s on %s: reads %+v, all %+v", name, p.Email, id.Name, tg, got, want)
					}
					if len(want.Errors) > 0 {
						t.Errorf("%s: evaluation errors %v", name, want.Errors)
					}
					if want.Permitted {
						n++
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no question was permitted: the comparison says little")
	}
}
