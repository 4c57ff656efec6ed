package steward_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// testCatalog is a small valid catalog that each case of the tables below
// changes in one place.
func testCatalog() *steward.Catalog {
	return &steward.Catalog{
		SecurityTeam: "security",
		Tiers: []steward.Tier{
			{Name: "standard", ServiceLevels: steward.ServiceLevels{Decision: steward.Duration(4 * time.Hour), Fulfilment: steward.Duration(15 * time.Minute)}},
			{Name: "privileged", ServiceLevels: steward.ServiceLevels{Decision: steward.Duration(time.Hour)}},
		},
		Boundaries: []steward.Boundary{{
			Name: "no-standing-superuser", Statement: "We do not grant standing superuser.",
			Alternative: "Use model pg-break-glass.",
			Match:       steward.Selector{Names: []string{"superuser"}, Kinds: []steward.ModelKind{steward.ModelRoutine}},
		}},
		Roles: []steward.CatalogRole{{Name: "payments-dev", Entitlements: []steward.EntitlementRef{{System: "pg-payments", Name: "payments_read"}}}},
		Models: []steward.RequestModel{
			{
				Name: "pg-read", Tier: "standard", Kind: steward.ModelRoutine,
				Requestable:   steward.Selector{Systems: []string{"pg-*"}, Names: []string{"*_read", "superuser"}, Roles: []string{"payments-dev"}, MaxSensitivity: steward.LevelHigh},
				WhoMayRequest: `permit (principal, action, resource);`,
				Approval:      steward.Approval{Automatic: true},
			},
			{
				Name: "pg-break-glass", Tier: "privileged", Kind: steward.ModelJIT,
				Requestable:   steward.Selector{Systems: []string{"pg-*"}, Privileged: yes()},
				WhoMayRequest: `permit (principal, action, resource);`,
				Approval:      steward.Approval{Approvers: []string{"resource-owner", "security"}, Approvals: 2},
				Duration:      &steward.JITDuration{Default: steward.Duration(time.Hour), Maximum: steward.Duration(8 * time.Hour)},
				Justification: []steward.Requirement{{Name: "ticket", Pattern: `[A-Z]+-[0-9]+`, Description: "the incident"}},
			},
		},
	}
}

func TestValidateCatalog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(c *steward.Catalog)
		want   []string // "path: words of the message", every problem in order
	}{
		{"valid", func(c *steward.Catalog) {}, nil},
		{"no tiers or models", func(c *steward.Catalog) { c.Tiers, c.Models = nil, nil; c.Roles = nil }, []string{"tiers: at least one tier", "models: at least one request model"}},
		{"tier twice and bad name", func(c *steward.Catalog) {
			c.Tiers[1].Name = "standard"
			c.Tiers = append(c.Tiers, steward.Tier{Name: "Gold Tier"})
		},
			[]string{"tiers[1].name: declared twice", "tiers[2].name: lower case", "models[1].tier: not declared"}},
		{"model errors all reported", func(c *steward.Catalog) {
			m := &c.Models[0]
			m.Tier, m.Kind, m.WhoMayRequest = "gold", "bulk", " "
			m.Requestable.Roles = []string{"nope"}
			m.Requestable.MinSensitivity = "critical"
		}, []string{"models[0].tier: tier \"gold\" is not declared", "models[0].kind: not known", "models[0].requestable.roles[0]: role \"nope\"", "models[0].requestable.min_sensitivity: above max_sensitivity", "models[0].who_may_request: Cedar policy"}},
		{"jit without duration", func(c *steward.Catalog) { c.Models[1].Duration = nil }, []string{"models[1].duration: default and a maximum"}},
		{"default over maximum", func(c *steward.Catalog) { c.Models[1].Duration.Default = steward.Duration(9 * time.Hour) }, []string{"models[1].duration.default: longer than the maximum"}},
		{"routine with duration", func(c *steward.Catalog) { c.Models[0].Duration = c.Models[1].Duration }, []string{"models[0].duration: only a jit model"}},
		{"approval both ways", func(c *steward.Catalog) { c.Models[0].Approval.Approvers = []string{"security"} }, []string{"models[0].approval.automatic: names no approvers"}},
		{"approval neither way", func(c *steward.Catalog) { c.Models[0].Approval = steward.Approval{} }, []string{"models[0].approval.approvers: name who approves"}},
		{"unknown approver", func(c *steward.Catalog) {
			c.Models[1].Approval.Approvers = []string{"security", "the-boss", "team:", "security"}
		},
			[]string{"models[1].approval.approvers[1]: not known", "models[1].approval.approvers[2]: names no team", "models[1].approval.approvers[3]: named twice"}},
		{"bad pattern", func(c *steward.Catalog) { c.Models[1].Justification[0].Pattern = "([" }, []string{"models[1].justification[0].pattern: not a regular expression"}},
		{"boundary without texts", func(c *steward.Catalog) { c.Boundaries[0].Statement, c.Boundaries[0].Alternative = "", "" },
			[]string{"boundaries[0].statement: will not do", "boundaries[0].alternative: instead"}},
		{"boundary matching everything", func(c *steward.Catalog) { c.Boundaries[0].Match = steward.Selector{} }, []string{"boundaries[0].match: every request"}},
		{"kinds in a model", func(c *steward.Catalog) { c.Models[0].Requestable.Kinds = []steward.ModelKind{steward.ModelJIT} }, []string{"models[0].requestable.kinds[0]: boundary's match"}},
		{"bad glob", func(c *steward.Catalog) { c.Models[0].Requestable.Names = []string{"["} }, []string{"models[0].requestable.names[0]: not a valid glob"}},
		{"empty role", func(c *steward.Catalog) { c.Roles[0].Entitlements = []steward.EntitlementRef{{System: "x"}} }, []string{"roles[0].entitlements[0]: its system and its name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testCatalog()
			tt.change(c)
			got := steward.ValidateCatalog(c)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				path, words, _ := strings.Cut(w, ": ")
				if got[i].Path != path || !strings.Contains(got[i].Message, words) {
					t.Errorf("problem %d = %s, want path %s with %q", i, got[i], path, words)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, out string
		ok      bool
	}{{"15m", "15m", true}, {"4h", "4h", true}, {"90m", "1h30m", true}, {"2d", "2d", true}, {"48h", "2d", true}, {"0", "0s", true},
		{"-1h", "", false}, {"d", "", false}, {"1.5d", "", false}, {"soon", "", false}, {"", "", false}} {
		d, err := steward.ParseDuration(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDuration(%q) error %v, want ok=%v", tt.in, err, tt.ok)
		} else if tt.ok && d.String() != tt.out {
			t.Errorf("ParseDuration(%q) = %s, want %s", tt.in, d, tt.out)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	t.Parallel()
	s := steward.Selector{Systems: []string{"pg-*"}, Names: []string{"*_read"}, Privileged: no(), MinSensitivity: steward.LevelMedium, MaxSensitivity: steward.LevelHigh, Roles: []string{"dev"}}
	for _, tt := range []struct {
		t    steward.AccessTarget
		want bool
	}{
		{steward.AccessTarget{System: "pg-payments", Name: "orders_read", Sensitivity: steward.LevelMedium}, true},
		{steward.AccessTarget{System: "ldap", Name: "orders_read", Sensitivity: steward.LevelMedium}, false},
		{steward.AccessTarget{System: "pg-payments", Name: "orders_write", Sensitivity: steward.LevelMedium}, false},
		{steward.AccessTarget{System: "pg-payments", Name: "orders_read", Sensitivity: steward.LevelMedium, Privileged: true}, false},
		{steward.AccessTarget{System: "pg-payments", Name: "orders_read", Sensitivity: steward.LevelLow}, false},
		{steward.AccessTarget{System: "pg-payments", Name: "orders_read", Sensitivity: steward.LevelCritical}, false},
		{steward.AccessTarget{Role: "dev"}, true},
		{steward.AccessTarget{Role: "ops"}, false},
	} {
		if got := s.Matches(&tt.t); got != tt.want {
			t.Errorf("Matches(%+v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

func TestDecideAccess(t *testing.T) {
	t.Parallel()
	permit := steward.PolicyVerdict{Permitted: true, Permits: []steward.PolicyRef{{ID: "pg-read.0", Effect: "permit", Model: "pg-read", Rule: "everyone"}}}
	forbid := steward.PolicyVerdict{Forbids: []steward.PolicyRef{{ID: "pg-read.1", Effect: "forbid", Model: "pg-read", Rule: "contractors"}}}
	read := steward.AccessTarget{System: "pg-payments", Name: "orders_read", Sensitivity: steward.LevelLow, OwnerTeam: "payments"}
	su := steward.AccessTarget{System: "pg-payments", Name: "superuser", Privileged: true, Sensitivity: steward.LevelHigh, OwnerTeam: "payments"}
	ada := steward.Requester{Email: "ada@example.com", Team: "payments", Manager: "grace@example.com", Active: true}
	tests := []struct {
		name      string
		q         steward.AccessQuestion
		v         steward.PolicyVerdict
		outcome   steward.Outcome
		refusedBy []string // the rules of the refusing reasons, in order
		approvers []string
	}{
		{"routine approved by policy", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: read}, permit, steward.OutcomeApproved, nil, nil},
		{"unknown model", steward.AccessQuestion{Model: "nope", Requester: ada, Target: read}, permit, steward.OutcomeRefused, []string{"model"}, nil},
		{"no permit", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: read}, steward.PolicyVerdict{}, steward.OutcomeRefused, []string{"policy"}, nil},
		{"forbid wins", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: read}, forbid, steward.OutcomeRefused, []string{"policy"}, nil},
		{"departed requester", steward.AccessQuestion{Model: "pg-read", Requester: steward.Requester{Email: "x@example.com"}, Target: read}, permit, steward.OutcomeRefused, []string{"requester"}, nil},
		{"inactive identity", steward.AccessQuestion{Model: "pg-read", Requester: ada, Identity: steward.IdentityFacts{Name: "svc-old"}, Target: read}, permit, steward.OutcomeRefused, []string{"identity"}, nil},
		{"boundary refuses with alternative", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: su}, permit, steward.OutcomeRefused, []string{"boundary"}, nil},
		{"not served", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: steward.AccessTarget{System: "ldap", Name: "x_read"}}, permit, steward.OutcomeRefused, []string{"requestable"}, nil},
		{"a role holding what a boundary refuses", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: steward.AccessTarget{Role: "payments-dev",
			Entitlements: []steward.AccessTarget{{System: "pg-payments", Name: "payments_read"}, {System: "pg-payments", Name: "superuser"}}}}, permit, steward.OutcomeRefused, []string{"boundary"}, nil},
		{"role served", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: steward.AccessTarget{Role: "payments-dev"}}, permit, steward.OutcomeApproved, nil, nil},
		{"routine with duration", steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: read, Duration: steward.Duration(time.Hour)}, permit, steward.OutcomeRefused, []string{"duration"}, nil},
		{"jit pending on approvers", steward.AccessQuestion{Model: "pg-break-glass", Requester: ada, Target: su, Justification: map[string]string{"ticket": "INC-42"}}, permit, steward.OutcomePending, nil, []string{"resource-owner", "security"}},
		{"jit too long, no ticket", steward.AccessQuestion{Model: "pg-break-glass", Requester: ada, Target: su, Duration: steward.Duration(9 * time.Hour)}, permit, steward.OutcomeRefused, []string{"duration", "justification"}, nil},
		{"jit ticket not matching", steward.AccessQuestion{Model: "pg-break-glass", Requester: ada, Target: su, Justification: map[string]string{"ticket": "see INC-42"}}, permit, steward.OutcomeRefused, []string{"justification"}, nil},
	}
	c := testCatalog()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := steward.DecideAccess(c, c.Model(tt.q.Model), &tt.q, tt.v)
			if d.Outcome != tt.outcome {
				t.Fatalf("outcome %s, want %s; reasons %+v", d.Outcome, tt.outcome, d.Reasons)
			}
			var refused []string
			for _, r := range d.Refusals() {
				refused = append(refused, r.Rule)
			}
			if !slices.Equal(refused, tt.refusedBy) {
				t.Errorf("refused by %v, want %v; reasons %+v", refused, tt.refusedBy, d.Reasons)
			}
			var sets []string
			for _, a := range d.Approvers {
				sets = append(sets, a.Set.String())
			}
			if !slices.Equal(sets, tt.approvers) {
				t.Errorf("approvers %v, want %v", sets, tt.approvers)
			}
		})
	}
	t.Run("reasons name the tier, boundary text and policy", func(t *testing.T) {
		q := steward.AccessQuestion{Model: "pg-read", Requester: ada, Target: su}
		d := steward.DecideAccess(c, c.Model("pg-read"), &q, forbid)
		if d.Tier != "standard" || d.ServiceLevels == nil || d.ServiceLevels.Decision != steward.Duration(4*time.Hour) {
			t.Errorf("tier %q levels %+v", d.Tier, d.ServiceLevels)
		}
		if d.Boundary == nil || d.Boundary.Name != "no-standing-superuser" {
			t.Fatalf("boundary %+v", d.Boundary)
		}
		all := ""
		for _, r := range d.Reasons {
			all += r.Text + "\n"
		}
		for _, w := range []string{"We do not grant standing superuser.", "Instead: Use model pg-break-glass.", "forbid policy contractors of model pg-read (pg-read.1)"} {
			if !strings.Contains(all, w) {
				t.Errorf("reasons lack %q:\n%s", w, all)
			}
		}
	})
	t.Run("jit default duration and approvals", func(t *testing.T) {
		q := steward.AccessQuestion{Model: "pg-break-glass", Requester: ada, Target: su, Justification: map[string]string{"ticket": "INC-1"}}
		d := steward.DecideAccess(c, c.Model(q.Model), &q, permit)
		if d.Duration != steward.Duration(time.Hour) || d.Approvals != 2 {
			t.Errorf("duration %s approvals %d", d.Duration, d.Approvals)
		}
		if !strings.Contains(d.Approvers[0].Why, "team payments owns") || !strings.Contains(d.Approvers[1].Why, "team security") {
			t.Errorf("why %+v", d.Approvers)
		}
	})
}

func TestDiffCatalogs(t *testing.T) {
	t.Parallel()
	a, b := testCatalog(), testCatalog()
	if d := steward.DiffCatalogs(a, b); len(d) != 0 {
		t.Errorf("same catalog: %v", d)
	}
	b.Models[0].Description = "changed"
	b.Tiers = b.Tiers[:1]
	b.Models = b.Models[:1]
	b.Roles = append(b.Roles, steward.CatalogRole{Name: "ops"})
	var got []string
	for _, c := range steward.DiffCatalogs(a, b) {
		got = append(got, c.String())
	}
	want := []string{"- tier privileged", "+ role ops", "~ model pg-read", "- model pg-break-glass"}
	if !slices.Equal(got, want) {
		t.Errorf("diff %v, want %v", got, want)
	}
	if n := len(steward.DiffCatalogs(nil, a)); n != 7 {
		t.Errorf("from nothing: %d changes, want 7", n)
	}
}
