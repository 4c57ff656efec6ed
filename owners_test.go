package steward_test

import (
	"testing"

	"github.com/stewardhq/steward"
)

func id(v int64) *int64 { return &v }

// TestResolveOwner is the table of owner precedence: explicit > the
// system's own tag > the first matching rule, each half (owner, team) on
// its own, and the owner's team for a team nothing named.
func TestResolveOwner(t *testing.T) {
	t.Parallel()
	// People: ada (1, team payments 10), grace (2, team ml 11), linus (3,
	// no team), and a departed person (4, team payments) who still resolves.
	dir := &steward.OwnerDirectory{
		People: map[string]int64{
			"ada": 1, "ada@example.com": 1, "grace": 2, "grace@example.com": 2,
			"linus": 3, "linus@example.com": 3, "gone@example.com": 4,
		},
		PersonTeam: map[int64]int64{1: 10, 2: 11, 4: 10},
		Teams:      map[string]int64{"payments": 10, "ml": 11, "platform": 12},
	}
	k8s := steward.RuleSubject{System: "k8s-prod", SystemKind: steward.SystemKubernetes, Kind: steward.KindWorkload,
		Environment: steward.EnvProd, Name: "settlement", ExternalID: "system:serviceaccount:payments:settlement",
		Labels: map[string]string{"namespace": "payments"}}
	aws := steward.RuleSubject{System: "aws-prod", SystemKind: steward.SystemAWS, Kind: steward.KindAPIKey,
		Environment: steward.EnvProd, Name: "ci-deploy", ExternalID: "AKIA1"}
	rules := []steward.OwnershipRule{
		{Name: "payments-k8s", Match: steward.RuleMatch{Namespaces: []string{"payments"}}, Team: "payments", Owner: "ada@example.com"},
		{Name: "ci-team", Match: steward.RuleMatch{Names: []string{"ci-*"}}, Team: "platform"},
		{Name: "aws-owner", Match: steward.RuleMatch{Systems: []string{"aws-*"}}, Owner: "GRACE"},
		{Name: "ghost-owner", Match: steward.RuleMatch{Names: []string{"ghost-*"}}, Owner: "nobody@example.com", Team: "ml"},
		{Name: "ghost-team", Match: steward.RuleMatch{Names: []string{"phantom-*"}}, Owner: "linus", Team: "no-such-team"},
		{Name: "departed", Match: steward.RuleMatch{Names: []string{"legacy-*"}}, Owner: "gone@example.com"},
	}
	named := func(s steward.RuleSubject, name string) steward.RuleSubject { s.Name = name; return s }
	type want struct {
		owner, team     *int64
		source          steward.OwnerSource
		ownerBy, teamBy steward.OwnerBasis
		rule            string
		ownerTag        string
		teamTag         string
	}
	for name, tc := range map[string]struct {
		facts steward.OwnerFacts
		rules []steward.OwnershipRule
		want  want
	}{
		"nothing names anyone": {
			steward.OwnerFacts{Subject: named(aws, "batch")}, nil,
			want{},
		},
		"no rule matches": {
			steward.OwnerFacts{Subject: named(steward.RuleSubject{System: "gcp"}, "batch")}, rules,
			want{},
		},
		"owner tag by e-mail, team from owner": {
			steward.OwnerFacts{OwnerTag: "ada@example.com", Subject: named(aws, "batch")}, nil,
			want{owner: id(1), team: id(10), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, teamBy: steward.BasisOwnerTeam, ownerTag: "ada@example.com"},
		},
		"owner tag by external id": {
			steward.OwnerFacts{OwnerTag: "grace", Subject: named(aws, "batch")}, nil,
			want{owner: id(2), team: id(11), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, teamBy: steward.BasisOwnerTeam, ownerTag: "grace"},
		},
		"owner tag and team tag": {
			steward.OwnerFacts{OwnerTag: "ada", TeamTag: "ml", Subject: named(aws, "batch")}, nil,
			want{owner: id(1), team: id(11), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, teamBy: steward.BasisTag, ownerTag: "ada", teamTag: "ml"},
		},
		"team tag only, nothing else": {
			steward.OwnerFacts{TeamTag: "ml", Subject: named(steward.RuleSubject{System: "gcp"}, "batch")}, rules,
			want{team: id(11), source: steward.OwnerFromTag, teamBy: steward.BasisTag, teamTag: "ml"},
		},
		"owner with no team of their own": {
			steward.OwnerFacts{OwnerTag: "linus", Subject: named(steward.RuleSubject{System: "gcp"}, "batch")}, rules,
			want{owner: id(3), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, ownerTag: "linus"},
		},
		"unknown owner tag falls to the rule": {
			steward.OwnerFacts{OwnerTag: "mallory@example.com", Subject: k8s}, rules,
			want{owner: id(1), team: id(10), source: steward.OwnerFromRule, ownerBy: steward.BasisRule, teamBy: steward.BasisRule, rule: "payments-k8s"},
		},
		"unknown team tag falls to the rule": {
			steward.OwnerFacts{TeamTag: "dissolved", Subject: named(aws, "ci-deploy")}, rules,
			want{team: id(12), source: steward.OwnerFromRule, teamBy: steward.BasisRule, rule: "ci-team"},
		},
		"rule names owner and team": {
			steward.OwnerFacts{Subject: k8s}, rules,
			want{owner: id(1), team: id(10), source: steward.OwnerFromRule, ownerBy: steward.BasisRule, teamBy: steward.BasisRule, rule: "payments-k8s"},
		},
		"tag beats the rule": {
			steward.OwnerFacts{OwnerTag: "grace@example.com", TeamTag: "ml", Subject: k8s}, rules,
			want{owner: id(2), team: id(11), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, teamBy: steward.BasisTag, ownerTag: "grace@example.com", teamTag: "ml"},
		},
		"owner tag, team from the rule": {
			steward.OwnerFacts{OwnerTag: "grace", Subject: k8s}, rules,
			want{owner: id(2), team: id(10), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, teamBy: steward.BasisRule, rule: "payments-k8s", ownerTag: "grace"},
		},
		"team tag, owner from the rule": {
			steward.OwnerFacts{TeamTag: "platform", Subject: k8s}, rules,
			want{owner: id(1), team: id(12), source: steward.OwnerFromTag, ownerBy: steward.BasisRule, teamBy: steward.BasisTag, rule: "payments-k8s", teamTag: "platform"},
		},
		"first matching rule decides, not a later one": {
			// ci-deploy on AWS matches ci-team (team) before aws-owner
			// (owner): the owner stays open, the later rule is not asked.
			steward.OwnerFacts{Subject: aws}, rules,
			want{team: id(12), source: steward.OwnerFromRule, teamBy: steward.BasisRule, rule: "ci-team"},
		},
		"rule owner matched without regard to case": {
			steward.OwnerFacts{Subject: named(aws, "batch")}, rules,
			want{owner: id(2), team: id(11), source: steward.OwnerFromRule, ownerBy: steward.BasisRule, teamBy: steward.BasisOwnerTeam, rule: "aws-owner"},
		},
		"rule naming an unknown owner still gives its team": {
			steward.OwnerFacts{Subject: named(steward.RuleSubject{System: "gcp"}, "ghost-1")}, rules,
			want{team: id(11), source: steward.OwnerFromRule, teamBy: steward.BasisRule, rule: "ghost-owner"},
		},
		"rule naming an unknown team, owner in none": {
			steward.OwnerFacts{Subject: named(steward.RuleSubject{System: "gcp"}, "phantom-1")}, rules,
			want{owner: id(3), source: steward.OwnerFromRule, ownerBy: steward.BasisRule, rule: "ghost-team"},
		},
		"rule naming a departed person resolves to them": {
			steward.OwnerFacts{Subject: named(steward.RuleSubject{System: "gcp"}, "legacy-1")}, rules,
			want{owner: id(4), team: id(10), source: steward.OwnerFromRule, ownerBy: steward.BasisRule, teamBy: steward.BasisOwnerTeam, rule: "departed"},
		},
		"explicit owner and team beat tag and rule": {
			steward.OwnerFacts{Explicit: true, ExplicitOwner: id(3), ExplicitTeam: id(11), OwnerTag: "ada", TeamTag: "payments", Subject: k8s}, rules,
			want{owner: id(3), team: id(11), source: steward.OwnerExplicit, ownerBy: steward.BasisExplicit, teamBy: steward.BasisExplicit},
		},
		"explicit owner without a team gets the owner's team": {
			steward.OwnerFacts{Explicit: true, ExplicitOwner: id(2), Subject: k8s}, rules,
			want{owner: id(2), team: id(11), source: steward.OwnerExplicit, ownerBy: steward.BasisExplicit, teamBy: steward.BasisOwnerTeam},
		},
		"explicit owner without a team, owner in none": {
			steward.OwnerFacts{Explicit: true, ExplicitOwner: id(3), Subject: k8s}, rules,
			want{owner: id(3), source: steward.OwnerExplicit, ownerBy: steward.BasisExplicit},
		},
		"explicit team only: no owner is looked for": {
			steward.OwnerFacts{Explicit: true, ExplicitTeam: id(12), OwnerTag: "ada", Subject: k8s}, rules,
			want{team: id(12), source: steward.OwnerExplicit, teamBy: steward.BasisExplicit},
		},
		"explicit nobody hands back to tags and rules": {
			steward.OwnerFacts{Explicit: true, OwnerTag: "grace", Subject: k8s}, rules,
			want{owner: id(2), team: id(10), source: steward.OwnerFromTag, ownerBy: steward.BasisTag, teamBy: steward.BasisRule, rule: "payments-k8s", ownerTag: "grace"},
		},
		"empty tag never matches an empty key": {
			steward.OwnerFacts{Subject: named(steward.RuleSubject{System: "gcp"}, "batch")}, nil,
			want{},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := steward.ResolveOwner(&tc.facts, tc.rules, dir)
			got := want{d.OwnerID, d.TeamID, d.Source, d.OwnerBy, d.TeamBy, d.Rule, d.OwnerTag, d.TeamTag}
			if !sameID(got.owner, tc.want.owner) || !sameID(got.team, tc.want.team) {
				t.Errorf("owner, team = %v, %v; want %v, %v", deref(got.owner), deref(got.team), deref(tc.want.owner), deref(tc.want.team))
			}
			got.owner, got.team = tc.want.owner, tc.want.team
			if got != tc.want {
				t.Errorf("decision = %+v\nwant       %+v", got, tc.want)
			}
		})
	}
}

func sameID(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// TestResolveOwnerCopies holds that a decision does not alias the facts it
// was given: changing one afterwards leaves the other alone.
func TestResolveOwnerCopies(t *testing.T) {
	t.Parallel()
	owner := int64(5)
	d := steward.ResolveOwner(&steward.OwnerFacts{Explicit: true, ExplicitOwner: &owner}, nil, &steward.OwnerDirectory{})
	owner = 6
	if *d.OwnerID != 5 {
		t.Fatalf("decision changed with its facts: %d", *d.OwnerID)
	}
}

func TestOwnerWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r           steward.OwnerReason
		owner, team string
	}{
		{steward.OwnerReason{}, "", ""},
		{steward.OwnerReason{OwnerBy: steward.BasisExplicit, TeamBy: steward.BasisExplicit}, "set by hand", "set by hand"},
		{steward.OwnerReason{OwnerBy: steward.BasisExplicit, TeamBy: steward.BasisOwnerTeam}, "set by hand", "the owner's team"},
		{steward.OwnerReason{OwnerBy: steward.BasisTag, TeamBy: steward.BasisRule, Rule: "payments-k8s", OwnerTag: "alice@example.com"},
			"the system's owner tag alice@example.com", "rule payments-k8s"},
		{steward.OwnerReason{OwnerBy: steward.BasisRule, TeamBy: steward.BasisTag, Rule: "r", TeamTag: "payments"},
			"rule r", "the system's team tag payments"},
		{steward.OwnerReason{OwnerBy: steward.BasisTag}, "the system's owner tag", ""},
	} {
		if got := tc.r.OwnerWords(); got != tc.owner {
			t.Errorf("%+v: OwnerWords = %q, want %q", tc.r, got, tc.owner)
		}
		if got := tc.r.TeamWords(); got != tc.team {
			t.Errorf("%+v: TeamWords = %q, want %q", tc.r, got, tc.team)
		}
	}
}

// BenchmarkResolveOwner is the cost per identity that a sync or first load
// pays for owner resolution: a tag that names a person, and ten rules of
// which the last matches.
//
//	go test -run '^$' -bench ResolveOwner .
func BenchmarkResolveOwner(b *testing.B) {
	dir := &steward.OwnerDirectory{People: map[string]int64{"ada@example.com": 1}, PersonTeam: map[int64]int64{1: 10},
		Teams: map[string]int64{"payments": 10}}
	var rules []steward.OwnershipRule
	for i := range 9 {
		rules = append(rules, steward.OwnershipRule{Name: "r", Team: "payments", Match: steward.RuleMatch{Names: []string{"nomatch-" + string(rune('a'+i)) + "*"}}})
	}
	rules = append(rules, steward.OwnershipRule{Name: "last", Team: "payments", Match: steward.RuleMatch{Namespaces: []string{"pay*"}}})
	facts := steward.OwnerFacts{OwnerTag: "ada@example.com", Subject: steward.RuleSubject{System: "k8s", Name: "settlement",
		Labels: map[string]string{"namespace": "payments"}}}
	b.ReportAllocs()
	for b.Loop() {
		if d := steward.ResolveOwner(&facts, rules, dir); d.TeamID == nil {
			b.Fatal("no team")
		}
	}
}
