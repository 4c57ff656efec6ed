package policy_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/policy"
)

func mustExample(tb testing.TB) *policy.Compiled {
	tb.Helper()
	src, err := os.ReadFile("../examples/catalog.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	c, ds := policy.Compile(src)
	if ds != nil {
		tb.Fatalf("examples/catalog.yaml: %v", ds.Err("catalog.yaml"))
	}
	return c
}

func TestExampleCatalog(t *testing.T) {
	t.Parallel()
	c := mustExample(t)
	kinds := map[steward.ModelKind]int{}
	for _, m := range c.Catalog.Models {
		kinds[m.Kind]++
	}
	if len(c.Catalog.Models) < 12 || len(c.Catalog.Tiers) < 3 || len(c.Catalog.Boundaries) == 0 || len(c.Catalog.Roles) == 0 {
		t.Errorf("example has %d models, %d tiers, %d boundaries, %d roles", len(c.Catalog.Models), len(c.Catalog.Tiers), len(c.Catalog.Boundaries), len(c.Catalog.Roles))
	}
	for _, k := range steward.ModelKinds {
		if kinds[k] == 0 {
			t.Errorf("example has no %s model", k)
		}
	}
	if !strings.Contains(c.PolicyText(), "// pg-prod-elevation.0\n@id(\"owning-team-or-dba\")") {
		t.Errorf("policy text:\n%s", c.PolicyText())
	}
}

// Requesters and targets of the demo organisation, as the store would give
// them.
var (
	ada = steward.Requester{Email: "ada@example.com", Name: "Ada", Title: "Software Engineer", Team: "payments", Manager: "grace@example.com", Active: true}
	dba = steward.Requester{Email: "dora@example.com", Title: "Database Engineer", Team: "database-reliability", Manager: "m@example.com", Active: true}
	con = steward.Requester{Email: "carl@example.com", Title: "Contractor Engineer", Team: "payments", Active: true}

	paymentsSA  = steward.IdentityFacts{Name: "svc-settlement", System: "pg-payments-prod", Kind: "service_account", Environment: "prod", Owner: "ada@example.com", Team: "payments", Active: true}
	ordersSA    = steward.IdentityFacts{Name: "svc-orders", System: "pg-orders-prod", Kind: "service_account", Environment: "prod", Owner: "olga@example.com", Team: "orders", Active: true}
	orphanSA    = steward.IdentityFacts{Name: "svc-legacy", System: "aws-dev", Kind: "service_account", Environment: "dev", Team: "orders", Active: true}
	appRO       = steward.AccessTarget{System: "pg-payments-prod", Name: "app_ro", Sensitivity: steward.LevelLow, OwnerTeam: "payments"}
	appRW       = steward.AccessTarget{System: "pg-payments-prod", Name: "app_rw", Sensitivity: steward.LevelMedium, OwnerTeam: "payments"}
	pgSuper     = steward.AccessTarget{System: "pg-payments-prod", Name: "SUPERUSER", Privileged: true, Sensitivity: steward.LevelCritical, OwnerTeam: "payments"}
	pgCreate    = steward.AccessTarget{System: "pg-payments-prod", Name: "CREATEROLE", Privileged: true, Sensitivity: steward.LevelHigh, OwnerTeam: "payments"}
	vaultRoot   = steward.AccessTarget{System: "vault-prod", Name: "policy:root", Privileged: true, Sensitivity: steward.LevelCritical, OwnerTeam: "secrets-platform"}
	paymentsDev = steward.AccessTarget{Role: "payments-developer", Sensitivity: steward.LevelLow}
)

func TestDecide(t *testing.T) {
	t.Parallel()
	c := mustExample(t)
	ticket := map[string]string{"ticket": "CHG-1234"}
	tests := []struct {
		name    string
		q       steward.AccessQuestion
		outcome steward.Outcome
		says    []string // in the reasons' text
	}{
		{"read-only for own team, automatic", steward.AccessQuestion{Model: "read-only-access", Requester: ada, Identity: paymentsSA, Target: appRO},
			steward.OutcomeApproved, []string{"permit policy own-team of model read-only-access", "Approved by policy"}},
		{"read-only for another team's identity", steward.AccessQuestion{Model: "read-only-access", Requester: ada, Identity: ordersSA, Target: appRO},
			steward.OutcomeRefused, []string{"No policy of model read-only-access permits ada@example.com"}},
		{"read-only does not serve medium", steward.AccessQuestion{Model: "read-only-access", Requester: ada, Identity: paymentsSA, Target: appRW},
			steward.OutcomeRefused, []string{"does not serve pg-payments-prod/app_rw", "not privileged; sensitivity low or below"}},
		{"database access waits for the resource owner", steward.AccessQuestion{Model: "database-app-access", Requester: ada, Identity: paymentsSA, Target: appRW, Justification: map[string]string{"purpose": "settlement job"}},
			steward.OutcomePending, []string{"team payments owns the system of pg-payments-prod/app_rw"}},
		{"a forbid wins over a permit", steward.AccessQuestion{Model: "database-app-access", Requester: con, Identity: paymentsSA, Target: appRW, Justification: map[string]string{"purpose": "x"}},
			steward.OutcomeRefused, []string{"Forbidden by forbid policy no-prod-writes-for-contractors"}},
		{"role for own team", steward.AccessQuestion{Model: "team-roles", Requester: ada, Identity: paymentsSA, Target: paymentsDev},
			steward.OutcomeApproved, []string{"role payments-developer is one of what model team-roles serves"}},
		{"jit elevation needs two approvals", steward.AccessQuestion{Model: "pg-prod-elevation", Requester: ada, Identity: paymentsSA, Target: pgCreate, Justification: ticket},
			steward.OutcomePending, []string{"Waits for 2 approval(s) from resource-owner, then security", "JIT for the default 1h"}},
		{"jit elevation by a dba of another team", steward.AccessQuestion{Model: "pg-prod-elevation", Requester: dba, Identity: paymentsSA, Target: pgCreate, Justification: ticket, Duration: steward.Duration(2 * time.Hour)},
			steward.OutcomePending, []string{"JIT for 2h (at most 4h)"}},
		{"jit elevation too long without ticket", steward.AccessQuestion{Model: "pg-prod-elevation", Requester: ada, Identity: paymentsSA, Target: pgCreate, Duration: steward.Duration(5 * time.Hour)},
			steward.OutcomeRefused, []string{"5h is longer than model pg-prod-elevation allows (4h)", "Justification ticket is required"}},
		{"standing superuser refused by a boundary", steward.AccessQuestion{Model: "database-app-access", Requester: ada, Identity: paymentsSA, Target: pgSuper},
			steward.OutcomeRefused, []string{"Boundary no-standing-superuser", "Instead: Request time-bound elevation"}},
		{"vault root refused even as jit", steward.AccessQuestion{Model: "break-glass", Requester: ada, Identity: paymentsSA, Target: vaultRoot, Justification: map[string]string{"incident": "INC-1", "summary": "x"}},
			steward.OutcomeRefused, []string{"Boundary no-root-vault-policy", "sealed ceremony"}},
		{"new identity for own team", steward.AccessQuestion{Model: "new-service-account", Requester: ada, Identity: steward.IdentityFacts{Name: "svc-payouts", System: "aws-prod-payments", Team: "payments", Owner: ada.Email, New: true}, Target: steward.AccessTarget{System: "aws-prod-payments"}, Justification: map[string]string{"service": "payouts"}},
			steward.OutcomePending, []string{"grace@example.com is the requester's manager"}},
		{"new identity in a system the model does not serve", steward.AccessQuestion{Model: "new-ci-token", Requester: ada, Identity: steward.IdentityFacts{Name: "bot", System: "slack", Team: "payments", New: true}, Target: steward.AccessTarget{System: "slack"}},
			steward.OutcomeRefused, []string{"Model new-ci-token serves systems github-acme, not slack"}},
		{"decommission own identity", steward.AccessQuestion{Model: "decommission-identity", Requester: ada, Identity: paymentsSA, Target: steward.AccessTarget{System: paymentsSA.System}},
			steward.OutcomeApproved, []string{"permit policy owner of model decommission-identity"}},
		{"decommission an orphan", steward.AccessQuestion{Model: "decommission-orphan", Requester: ada, Identity: orphanSA, Target: steward.AccessTarget{System: orphanSA.System}},
			steward.OutcomePending, []string{"team security is the catalog's security team"}},
		{"unknown model", steward.AccessQuestion{Model: "nope", Requester: ada, Identity: paymentsSA, Target: appRO},
			steward.OutcomeRefused, []string{`The catalog has no model "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := c.Decide(&tt.q)
			all := ""
			for _, r := range d.Reasons {
				all += r.Text + "\n"
			}
			if d.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s; reasons:\n%s", d.Outcome, tt.outcome, all)
			}
			for _, w := range tt.says {
				if !strings.Contains(all, w) {
					t.Errorf("reasons lack %q:\n%s", w, all)
				}
			}
		})
	}
}

const goodHead = `kind: Catalog
tiers:
  - name: standard
    service_levels: {decision: 4h}
models:
  - name: m
    tier: standard
    kind: routine
    requestable: {}
    approval: {automatic: true}
`

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string // "line:col: words", every diagnostic in order
	}{
		{"good", goodHead + "    who_may_request: permit (principal, action, resource);\n", nil},
		{"yaml syntax", "kind: Catalog\ntiers: [\n", []string{"3:1: YAML: did not find expected node content"}},
		{"yaml parser error mid-file", "kind: Catalog\ntiers:\n  - name: a\n - name: b\n", []string{"4:1: YAML: did not find expected key"}},
		{"yaml parser error at the end", "[kind: Catalog\n", []string{"2:1: YAML: did not find expected ',' or ']'"}},
		{"yaml parser error on line 1", "kind: [Catalog}\n", []string{"1:1: YAML: did not find expected ',' or ']'"}},
		{"yaml scanner error", "kind: Catalog\ntiers:\n\t- name: a\n", []string{"3:1: YAML: found character that cannot start any token"}},
		{"not a catalog", "kind: OwnershipRules\n", []string{"1:7: not a catalog"}},
		{"every field error at once", `kind: Catalog
tiers:
  - name: standard
    colour: blue
    service_levels: {decision: soon}
models:
  - name: m
    tier: standard
    kind: routine
    requestable: {privileged: maybe}
    approval: {automatic: true, approvals: lots}
    who_may_request: permit (principal, action, resource);
`, []string{"4:5: colour is not a field here", "5:32: decision: duration \"soon\"", "10:31: privileged: want true or false", "11:44: approvals: want a whole number"}},
		{"every problem at once: reading, the domain's and Cedar's", `kind: Catalog
tiers:
  - name: standard
    service_levels: {decision: soon}
models:
  - name: m
    tier: gold
    kind: routine
    requestable: {}
    approval: {automatic: true, approvals: lots}
    who_may_request: permit (principal, action, resource) when { principal.dept == "x" };
`, []string{"4:32: decision: duration", "7:11: tier \"gold\" is not declared", "10:44: approvals: want a whole number", "11:76: attribute `dept`"}},
		{"domain problems get positions", `kind: Catalog
tiers:
  - name: standard
models:
  - name: m
    tier: gold
    kind: bulk
    requestable: {}
    approval: {}
    who_may_request: permit (principal, action, resource);
`, []string{"6:11: tier \"gold\" is not declared", "7:11: kind \"bulk\" is not known", "9:15: name who approves"}},
		{"unknown attribute refused at apply", goodHead + `    who_may_request: |
      permit (principal, action, resource)
      when { principal.department == "payments" };
`, []string{"13:24: attribute `department` on entity type `Person` not found"}},
		{"unknown attribute on one line", goodHead + `    who_may_request: permit (principal, action, resource) when { principal.dept == "x" };
`, []string{"11:76: attribute `dept`"}},
		{"unknown attribute quoted", goodHead + `    who_may_request: "permit (principal, action, resource) when { principal.dept == 1 };"
`, []string{"11:77: attribute `dept`"}},
		{"unknown attribute of the identity, second policy", goodHead + `    who_may_request: |
      @id("one")
      permit (principal, action, resource);
      @id("two")
      permit (principal, action, resource)
        when { context.identity.department == "payments" };
`, []string{"16:33: attribute `department`"}},
		{"unknown entity type", goodHead + `    who_may_request: |
      permit (principal, action, resource)
      when { principal in Group::"payments" };
`, []string{"13:27: does not fit Steward's schema"}},
		{"type error", goodHead + `    who_may_request: |
      permit (principal, action, resource)
      when { resource.privileged == "yes" };
`, []string{"12:7: does not fit Steward's schema"}},
		{"cedar syntax error", goodHead + `    who_may_request: |
      permit (principal, action, resource)
      when { principal.team == };
`, []string{"13:"}},
		{"aliases refused", goodHead + "    who_may_request: &p permit (principal, action, resource);\n", []string{"11:22: anchors and aliases"}},
		{"two documents", goodHead + "    who_may_request: permit (principal, action, resource);\n---\nkind: Catalog\n", []string{"12:1: one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ds := policy.Compile([]byte(tt.src))
			if len(ds) != len(tt.want) {
				t.Fatalf("got %d diagnostics %v, want %d %v", len(ds), ds, len(tt.want), tt.want)
			}
			if (c == nil) != (len(tt.want) > 0) {
				t.Errorf("compiled %v with diagnostics %v", c != nil, ds)
			}
			for i, w := range tt.want {
				pos, words, _ := strings.Cut(w, ": ")
				at := pos + ":" // "13:24" is not "13:245"; a bare "13:" is any column of line 13
				if strings.HasSuffix(pos, ":") {
					at = pos
				}
				if !strings.HasPrefix(ds[i].String(), at) || !strings.Contains(ds[i].Message, words) {
					t.Errorf("diagnostic %d = %s, want at %s with %q", i, ds[i], pos, words)
				}
			}
			if len(ds) > 0 {
				err := ds.Err("c.yaml")
				if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), "nothing was applied") {
					t.Errorf("Err: %v", err)
				}
			}
		})
	}
}

func FuzzCompile(f *testing.F) {
	src, err := os.ReadFile("../examples/catalog.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	f.Add([]byte(goodHead + "    who_may_request: permit (principal, action, resource);\n"))
	f.Add([]byte("kind: Catalog\ntiers: [{name: a, service_levels: {decision: 2d}}]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ds := policy.Compile(b)
		if (c == nil) == (len(ds) == 0) {
			t.Fatalf("compiled %v with %d diagnostics", c != nil, len(ds))
		}
		if c != nil {
			if ps := steward.ValidateCatalog(c.Catalog); len(ps) > 0 {
				t.Fatalf("compiled an invalid catalog: %v", ps)
			}
			for _, m := range c.Catalog.Models {
				_ = c.Decide(&steward.AccessQuestion{Model: m.Name, Requester: ada, Identity: paymentsSA, Target: appRO})
			}
		}
		for _, d := range ds {
			if d.Message == "" {
				t.Fatalf("empty diagnostic %+v", d)
			}
		}
	})
}
