package steward

import "fmt"

// OwnerBasis says what decided one half of an identity's ownership: its
// owner, or its team. An identity's owner and team may have different
// bases: an owner from the system's tag and a team from a rule, say.
type OwnerBasis string

// Owner bases.
const (
	BasisExplicit  OwnerBasis = "explicit"   // set by hand through the API, CLI or UI
	BasisTag       OwnerBasis = "tag"        // the system's own owner or team tag
	BasisRule      OwnerBasis = "rule"       // an ownership rule
	BasisOwnerTeam OwnerBasis = "owner_team" // team only: the owner's own team, since nothing else named one
	BasisNone      OwnerBasis = ""           // nothing: no owner, or no team
)

// OwnerBases lists every OwnerBasis that decides something.
var OwnerBases = []OwnerBasis{BasisExplicit, BasisTag, BasisRule, BasisOwnerTeam}

// OwnerFacts is what decides one identity's owner and team: an explicit
// assignment, the tags its system reports, and what ownership rules match.
type OwnerFacts struct {
	// Explicit says someone assigned the owner and team by hand; then
	// ExplicitOwner and ExplicitTeam are what they chose (nil: none). An
	// assignment of neither hands the identity back to tags and rules.
	Explicit      bool
	ExplicitOwner *int64
	ExplicitTeam  *int64
	// OwnerTag is the system's owner tag (a person's external id or e-mail),
	// normalised with NormalizeOwnerKey; TeamTag is its team tag (a team
	// name). Empty when the system says nothing.
	OwnerTag string
	TeamTag  string
	// Subject is what rules match against.
	Subject RuleSubject
}

// OwnerDirectory is what owner resolution knows of people and teams: the
// keys that tags and rules name them by. Departed people are in it too: an
// identity whose tag or rule names someone who left has an owner who
// departed (a gap of that kind), not no owner.
type OwnerDirectory struct {
	People     map[string]int64 // NormalizeOwnerKey(external id or e-mail) → person
	PersonTeam map[int64]int64  // person → their team
	Teams      map[string]int64 // team name → team
}

// OwnerDecision is where an identity's owner and team point, and why.
type OwnerDecision struct {
	OwnerID *int64
	TeamID  *int64
	// Source is the strongest basis that decided either half, in the terms
	// of OwnerSource: what may change the decision later.
	Source  OwnerSource
	OwnerBy OwnerBasis // what decided OwnerID
	TeamBy  OwnerBasis // what decided TeamID
	// Rule names the ownership rule when OwnerBy or TeamBy is BasisRule.
	Rule string
	// OwnerTag and TeamTag are the tags that decided, when OwnerBy or TeamBy
	// is BasisTag.
	OwnerTag string
	TeamTag  string
}

// ResolveOwner decides an identity's owner and team. Precedence, for each
// half separately:
//
//  1. an explicit assignment of an owner, a team or both decides both
//     halves, and nothing else is consulted (a team left empty by hand is
//     the owner's team);
//  2. the system's own tag, if it names a known person (owner) or team;
//  3. the first ownership rule that matches, for what the tags left open,
//     if the person or team it names is known;
//  4. a team still open is the owner's own team.
//
// A tag or rule that names someone Steward does not know decides nothing:
// the next step may.
func ResolveOwner(f *OwnerFacts, rules []OwnershipRule, dir *OwnerDirectory) OwnerDecision {
	var d OwnerDecision
	if f.Explicit && (f.ExplicitOwner != nil || f.ExplicitTeam != nil) {
		d.Source = OwnerExplicit
		if f.ExplicitOwner != nil {
			d.OwnerID, d.OwnerBy = ptr(*f.ExplicitOwner), BasisExplicit
		}
		if f.ExplicitTeam != nil {
			d.TeamID, d.TeamBy = ptr(*f.ExplicitTeam), BasisExplicit
		}
		d.ownerTeam(dir)
		return d
	}
	if id, ok := dir.People[f.OwnerTag]; ok && f.OwnerTag != "" {
		d.OwnerID, d.OwnerBy, d.OwnerTag, d.Source = ptr(id), BasisTag, f.OwnerTag, OwnerFromTag
	}
	if id, ok := dir.Teams[f.TeamTag]; ok && f.TeamTag != "" {
		d.TeamID, d.TeamBy, d.TeamTag, d.Source = ptr(id), BasisTag, f.TeamTag, OwnerFromTag
	}
	if d.OwnerID == nil || d.TeamID == nil {
		if rule := FirstMatch(rules, &f.Subject); rule != nil {
			if id, ok := dir.People[NormalizeOwnerKey(rule.Owner)]; ok && d.OwnerID == nil && rule.Owner != "" {
				d.OwnerID, d.OwnerBy, d.Rule = ptr(id), BasisRule, rule.Name
			}
			if id, ok := dir.Teams[rule.Team]; ok && d.TeamID == nil && rule.Team != "" {
				d.TeamID, d.TeamBy, d.Rule = ptr(id), BasisRule, rule.Name
			}
			if d.Rule != "" && d.Source == OwnerNone {
				d.Source = OwnerFromRule
			}
		}
	}
	d.ownerTeam(dir)
	return d
}

// ownerTeam gives an identity with an owner but no team its owner's team.
func (d *OwnerDecision) ownerTeam(dir *OwnerDirectory) {
	if d.TeamID != nil || d.OwnerID == nil || dir == nil {
		return
	}
	if t, ok := dir.PersonTeam[*d.OwnerID]; ok {
		d.TeamID, d.TeamBy = ptr(t), BasisOwnerTeam
	}
}

// OwnerReason is the recorded why of an identity's owner and team: what
// decided each half, and the rule or tags it came from. Stores keep it on
// the identity beside OwnerSource.
type OwnerReason struct {
	OwnerBy OwnerBasis `json:"owner_by,omitempty"`
	TeamBy  OwnerBasis `json:"team_by,omitempty"`
	Rule    string     `json:"rule,omitempty"`
	// The tags are the identity's own owner and team tags; they are set
	// only when one decided.
	OwnerTag string `json:"owner_tag,omitempty"`
	TeamTag  string `json:"team_tag,omitempty"`
}

// Reason returns the decision's reason, to record.
func (d *OwnerDecision) Reason() OwnerReason {
	return OwnerReason{OwnerBy: d.OwnerBy, TeamBy: d.TeamBy, Rule: d.Rule, OwnerTag: d.OwnerTag, TeamTag: d.TeamTag}
}

// OwnerWords says in words why an identity has its owner, for people:
// "rule payments-k8s", "the system's owner tag alice@example.com", "set by
// hand". Empty when it has no owner.
func (r OwnerReason) OwnerWords() string { return r.words(r.OwnerBy, r.OwnerTag, "owner") }

// TeamWords says in words why an identity has its team, as OwnerWords.
func (r OwnerReason) TeamWords() string { return r.words(r.TeamBy, r.TeamTag, "team") }

func (r OwnerReason) words(by OwnerBasis, tag, what string) string {
	switch by {
	case BasisExplicit:
		return "set by hand"
	case BasisTag:
		if tag == "" {
			return fmt.Sprintf("the system's %s tag", what)
		}
		return fmt.Sprintf("the system's %s tag %s", what, tag)
	case BasisRule:
		return "rule " + r.Rule
	case BasisOwnerTeam:
		return "the owner's team"
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
