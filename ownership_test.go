package steward_test

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

func TestRuleMatches(t *testing.T) {
	t.Parallel()
	subject := steward.RuleSubject{System: "k8s-prod-eu", SystemKind: steward.SystemKubernetes, Kind: steward.KindWorkload,
		Environment: steward.EnvProd, Name: "settlement-worker", ExternalID: "system:serviceaccount:payments:settlement-worker",
		Labels: map[string]string{"namespace": "payments", "app": "settlement", "annotation:owner": "ada@example.com"}}
	for name, tc := range map[string]struct {
		m    steward.RuleMatch
		want bool
	}{
		"system glob":         {steward.RuleMatch{Systems: []string{"k8s-*"}}, true},
		"system other":        {steward.RuleMatch{Systems: []string{"aws-*"}}, false},
		"system any of":       {steward.RuleMatch{Systems: []string{"aws-*", "k8s-prod-??"}}, true},
		"system kind":         {steward.RuleMatch{SystemKinds: []steward.SystemKind{steward.SystemKubernetes}}, true},
		"kind no":             {steward.RuleMatch{Kinds: []steward.IdentityKind{steward.KindAPIKey}}, false},
		"env":                 {steward.RuleMatch{Environments: []steward.Environment{steward.EnvProd, steward.EnvStaging}}, true},
		"name":                {steward.RuleMatch{Names: []string{"settlement-*"}}, true},
		"external id":         {steward.RuleMatch{ExternalIDs: []string{"system:serviceaccount:payments:*"}}, true},
		"namespace":           {steward.RuleMatch{Namespaces: []string{"pay*"}}, true},
		"namespace no":        {steward.RuleMatch{Namespaces: []string{"ml"}}, false},
		"label":               {steward.RuleMatch{Labels: map[string]string{"app": "settle*"}}, true},
		"label missing":       {steward.RuleMatch{Labels: map[string]string{"team": "*"}}, false},
		"annotation":          {steward.RuleMatch{Annotations: map[string]string{"owner": "*@example.com"}}, true},
		"annotation as label": {steward.RuleMatch{Labels: map[string]string{"owner": "*"}}, false},
		"all must hold":       {steward.RuleMatch{Systems: []string{"k8s-*"}, Kinds: []steward.IdentityKind{steward.KindBot}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			r := steward.OwnershipRule{Name: "r", Team: "payments", Match: tc.m}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := r.Matches(&subject); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		r    steward.OwnershipRule
		want string
	}{
		"ok":           {steward.OwnershipRule{Name: "a", Team: "t", Match: steward.RuleMatch{Names: []string{"*"}}}, ""},
		"no target":    {steward.OwnershipRule{Name: "a", Match: steward.RuleMatch{Names: []string{"*"}}}, "neither a team nor an owner"},
		"no condition": {steward.OwnershipRule{Name: "a", Team: "t"}, "matches everything"},
		"bad glob":     {steward.OwnershipRule{Name: "a", Team: "t", Match: steward.RuleMatch{Names: []string{"[a-"}}}, "malformed"},
		"bad kind":     {steward.OwnershipRule{Name: "a", Team: "t", Match: steward.RuleMatch{Kinds: []steward.IdentityKind{"robot"}}}, "robot"},
		"bad name":     {steward.OwnershipRule{Name: "A B", Team: "t", Match: steward.RuleMatch{Names: []string{"*"}}}, "slug"},
		"bad team":     {steward.OwnershipRule{Name: "a", Team: "Team X", Match: steward.RuleMatch{Names: []string{"*"}}}, "not a team name"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(steward.ErrorMessage(err), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	dup := []steward.OwnershipRule{
		{Name: "a", Team: "t", Match: steward.RuleMatch{Names: []string{"*"}}},
		{Name: "a", Team: "u", Match: steward.RuleMatch{Names: []string{"x"}}},
	}
	if err := steward.ValidateRules(dup); !strings.Contains(steward.ErrorMessage(err), "twice") {
		t.Fatalf("duplicate names: %v", err)
	}
	first := steward.FirstMatch(dup, &steward.RuleSubject{Name: "x"})
	if first == nil || first.Team != "t" {
		t.Fatalf("first match = %+v", first)
	}
}

func TestSourceNormalize(t *testing.T) {
	t.Parallel()
	r := steward.Record{Identity: &steward.SourceIdentity{ExternalID: "svc", Kind: steward.KindBot}}
	if err := r.Normalize(steward.EnvStaging); err != nil {
		t.Fatal(err)
	}
	if i := r.Identity; i.Name != "svc" || i.Environment != steward.EnvStaging || i.Status != steward.IdentityActive || i.Criticality != steward.LevelMedium {
		t.Fatalf("defaults: %+v", i)
	}
	for name, bad := range map[string]steward.Record{
		"empty":        {},
		"two items":    {Identity: &steward.SourceIdentity{ExternalID: "a", Kind: steward.KindBot}, Grant: &steward.SourceGrant{Identity: "a", Entitlement: "b"}},
		"removed":      {Identity: &steward.SourceIdentity{ExternalID: "a", Kind: steward.KindBot, Status: steward.IdentityRemoved}},
		"dup cred":     {Identity: &steward.SourceIdentity{ExternalID: "a", Kind: steward.KindBot, Credentials: []steward.SourceCredential{{ExternalID: "1", Kind: steward.CredToken}, {ExternalID: "1", Kind: steward.CredToken}}}},
		"jit no end":   {Grant: &steward.SourceGrant{Identity: "a", Entitlement: "b", Type: steward.GrantJIT}},
		"grant no ent": {Grant: &steward.SourceGrant{Identity: "a"}},
		"ent no name":  {Entitlement: &steward.SourceEntitlement{}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := bad.Normalize(steward.EnvProd); steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("err = %v", err)
			}
		})
	}
	e := steward.Record{Entitlement: &steward.SourceEntitlement{Name: "admin", Privileged: true}}
	if err := e.Normalize(steward.EnvProd); err != nil || e.Entitlement.Sensitivity != steward.LevelHigh {
		t.Fatalf("privileged default sensitivity: %+v %v", e.Entitlement, err)
	}
	err := steward.AtPos("f.csv:3", steward.Errorf(steward.EINVALID, "bad kind"))
	if steward.ErrorMessage(err) != "f.csv:3: bad kind" || steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("AtPos = %v", err)
	}
}

func TestSyncRunOutcome(t *testing.T) {
	for _, tt := range []struct {
		run  steward.SyncRun
		want string
	}{
		{steward.SyncRun{Result: &steward.SyncResult{Records: 1}}, "ok: 1 record, nothing changed"},
		{steward.SyncRun{Result: &steward.SyncResult{Records: 12, IdentitiesUpdated: 2, IdentitiesRemoved: 1, GrantsCreated: 3, GapsClosed: 1}},
			"ok: 12 records; identities 2 updated, 1 removed; grants 3 created; gaps 1 closed"},
		{steward.SyncRun{Result: &steward.SyncResult{Records: 40, PeopleDeparted: 1, CredentialsRotated: 2}},
			"ok: 40 records; credentials 2 rotated; people 1 departed"},
		{steward.SyncRun{Error: "2 record(s) cannot be used; nothing was changed:\n  f.csv:3: no kind\n  f.csv:9: no kind"},
			"failed: 2 record(s) cannot be used; nothing was changed: f.csv:3: no kind f.csv:9: no kind"},
	} {
		if got := tt.run.Outcome(); got != tt.want {
			t.Errorf("Outcome() = %q, want %q", got, tt.want)
		}
	}
}
