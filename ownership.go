package steward

import (
	"context"
	"fmt"
	"iter"
	"path"
	"slices"
	"strings"
	"time"
)

// OwnerSource says where an identity's owner and team came from, and so what
// may change them: an explicit assignment is kept until someone changes it;
// the others are recomputed on every sync and rules change.
type OwnerSource string

// Owner sources, from strongest to weakest.
const (
	OwnerExplicit OwnerSource = "explicit" // assigned through the API, CLI or UI
	OwnerFromTag  OwnerSource = "source"   // the system's own owner/team tag, matched to a person or team
	OwnerFromRule OwnerSource = "rule"     // an ownership rule matched
	OwnerNone     OwnerSource = ""         // nobody: a gap
)

// OwnershipRule maps identities to a team and an owner by what the source
// says of them. Rules are code: a YAML document applied with steward apply.
// The first rule that matches an identity decides; a rule names a team, an
// owner or both.
type OwnershipRule struct {
	Name  string    `json:"name" yaml:"name"`
	Match RuleMatch `json:"match" yaml:"match"`
	Team  string    `json:"team,omitempty" yaml:"team,omitempty"`   // a team name
	Owner string    `json:"owner,omitempty" yaml:"owner,omitempty"` // a person's external id or email
}

// RuleMatch is what a rule matches. Every field set must match (AND); a
// field with a list matches any of its items (OR). Strings are glob
// patterns (path.Match: * ? [a-z]); label values too.
type RuleMatch struct {
	Systems      []string          `json:"systems,omitempty" yaml:"systems,omitempty"`           // system names
	SystemKinds  []SystemKind      `json:"system_kinds,omitempty" yaml:"system_kinds,omitempty"` // aws, kubernetes, …
	Kinds        []IdentityKind    `json:"kinds,omitempty" yaml:"kinds,omitempty"`
	Environments []Environment     `json:"environments,omitempty" yaml:"environments,omitempty"`
	Names        []string          `json:"names,omitempty" yaml:"names,omitempty"`               // identity name patterns
	ExternalIDs  []string          `json:"external_ids,omitempty" yaml:"external_ids,omitempty"` // external id patterns
	Namespaces   []string          `json:"namespaces,omitempty" yaml:"namespaces,omitempty"`     // the "namespace" label (Kubernetes)
	Labels       map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`             // label (tag) key → value pattern
	Annotations  map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`   // the "annotation:<key>" labels
}

// RuleSubject is what a rule is matched against.
type RuleSubject struct {
	System      string
	SystemKind  SystemKind
	Kind        IdentityKind
	Environment Environment
	Name        string
	ExternalID  string
	Labels      map[string]string
}

// Validate returns EINVALID describing the first problem with r.
func (r *OwnershipRule) Validate() error {
	if !slugRE.MatchString(r.Name) {
		return Errorf(EINVALID, "rule name %q must be a slug (lower-case letters, digits, '.', '_', '-').", r.Name)
	} else if r.Team == "" && r.Owner == "" {
		return Errorf(EINVALID, "rule %q names neither a team nor an owner.", r.Name)
	} else if r.Team != "" && !slugRE.MatchString(r.Team) {
		return Errorf(EINVALID, "rule %q: team %q is not a team name.", r.Name, r.Team)
	} else if err := checkText("rule owner", r.Owner, 320, false); err != nil {
		return err
	}
	m := &r.Match
	if len(m.Systems)+len(m.SystemKinds)+len(m.Kinds)+len(m.Environments)+len(m.Names)+len(m.ExternalIDs)+
		len(m.Namespaces)+len(m.Labels)+len(m.Annotations) == 0 {
		return Errorf(EINVALID, "rule %q matches everything; give it at least one condition (use names: ['*'] if you mean it).", r.Name)
	}
	for _, k := range m.SystemKinds {
		if err := k.Validate(); err != nil {
			return Errorf(EINVALID, "rule %q: %s", r.Name, ErrorMessage(err))
		}
	}
	for _, k := range m.Kinds {
		if err := k.Validate(); err != nil {
			return Errorf(EINVALID, "rule %q: %s", r.Name, ErrorMessage(err))
		}
	}
	for _, e := range m.Environments {
		if err := e.Validate(); err != nil {
			return Errorf(EINVALID, "rule %q: %s", r.Name, ErrorMessage(err))
		}
	}
	pats := slices.Concat(m.Systems, m.Names, m.ExternalIDs, m.Namespaces)
	for _, v := range m.Labels {
		pats = append(pats, v)
	}
	for _, v := range m.Annotations {
		pats = append(pats, v)
	}
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil {
			return Errorf(EINVALID, "rule %q: pattern %q is malformed.", r.Name, p)
		}
	}
	return nil
}

// Matches reports whether the rule applies to s.
func (r *OwnershipRule) Matches(s *RuleSubject) bool {
	m := &r.Match
	return anyGlob(m.Systems, s.System) &&
		(len(m.SystemKinds) == 0 || slices.Contains(m.SystemKinds, s.SystemKind)) &&
		(len(m.Kinds) == 0 || slices.Contains(m.Kinds, s.Kind)) &&
		(len(m.Environments) == 0 || slices.Contains(m.Environments, s.Environment)) &&
		anyGlob(m.Names, s.Name) && anyGlob(m.ExternalIDs, s.ExternalID) &&
		(len(m.Namespaces) == 0 || hasLabel(s.Labels, "namespace") && anyGlob(m.Namespaces, s.Labels["namespace"])) &&
		labelsMatch(m.Labels, s.Labels, "") && labelsMatch(m.Annotations, s.Labels, "annotation:")
}

// anyGlob reports whether v matches one of pats; no pattern matches all.
func anyGlob(pats []string, v string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if ok, _ := path.Match(p, v); ok {
			return true
		}
	}
	return false
}

func hasLabel(l map[string]string, k string) bool { _, ok := l[k]; return ok }

func labelsMatch(want, have map[string]string, prefix string) bool {
	for k, p := range want {
		v, ok := have[prefix+k]
		if !ok {
			return false
		}
		if m, _ := path.Match(p, v); !m {
			return false
		}
	}
	return true
}

// FirstMatch returns the first rule of rules that matches s, or nil.
func FirstMatch(rules []OwnershipRule, s *RuleSubject) *OwnershipRule {
	for i := range rules {
		if rules[i].Matches(s) {
			return &rules[i]
		}
	}
	return nil
}

// ValidateRules validates every rule and that names are unique.
func ValidateRules(rules []OwnershipRule) error {
	seen := map[string]bool{}
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return err
		}
		if seen[rules[i].Name] {
			return Errorf(EINVALID, "rule name %q is used twice.", rules[i].Name)
		}
		seen[rules[i].Name] = true
	}
	return nil
}

// TaskStatus is the state of a backlog work item.
type TaskStatus string

// Task statuses.
const (
	TaskOpen TaskStatus = "open"
	TaskDone TaskStatus = "done"
)

// Task is one item of Steward's work backlog. Ownership gaps open tasks;
// later capabilities (requests, reviews, rotation) add kinds of their own.
type Task struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"` // "ownership_gap"
	Gap        GapKind    `json:"gap,omitempty"`
	IdentityID int64      `json:"identity_id,omitempty"`
	Status     TaskStatus `json:"status"`
	OpenedAt   time.Time  `json:"opened_at"`
	DueAt      time.Time  `json:"due_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
}

// TaskKindOwnershipGap is the kind of the task an ownership gap opens.
const TaskKindOwnershipGap = "ownership_gap"

// GapDue is how long each kind of ownership gap may stay open: the due date
// of the task it opens. An owner who left is the most urgent, since nobody
// answers for what the identity can do.
var GapDue = map[GapKind]time.Duration{
	GapOwnerDeparted: 7 * 24 * time.Hour,
	GapUnowned:       14 * 24 * time.Hour,
	GapTeamInactive:  14 * 24 * time.Hour,
}

// Validate returns EINVALID unless g is a known gap kind.
func (g GapKind) Validate() error { return oneOf("gap", g, GapKinds) }

// GapView is one open ownership gap with what a person needs to close it.
type GapView struct {
	Task
	IdentityName     string       `json:"identity_name"`
	IdentityKind     IdentityKind `json:"identity_kind"`
	SystemName       string       `json:"system_name"`
	TeamID           *int64       `json:"team_id,omitempty"`
	TeamName         string       `json:"team_name,omitempty"`
	OwnerID          *int64       `json:"owner_id,omitempty"`
	OwnerName        string       `json:"owner_name,omitempty"`
	SuggestedOwnerID *int64       `json:"suggested_owner_id,omitempty"` // the departed owner's manager, or the team's manager
	SuggestedOwner   string       `json:"suggested_owner,omitempty"`
}

// GapFilter selects open ownership gaps. Zero fields do not filter.
type GapFilter struct {
	Gap    GapKind
	TeamID int64 // -1: identities without a team
	ListOptions
}

// OwnerAssignment sets an identity's owner and team explicitly. An owner
// without a team brings the owner's own team (see ResolveOwner); a team
// without an owner leaves it without one; an assignment with both nil hands
// the identity back to tags and rules.
type OwnerAssignment struct {
	OwnerID *int64 `json:"owner_id"`
	TeamID  *int64 `json:"team_id"`
}

// Attestation is an owner's statement that an identity is theirs and still
// needed.
type Attestation struct {
	// PersonID is who attests: the acting person, never taken from a
	// request body. It must be the identity's owner.
	PersonID int64  `json:"-"`
	Note     string `json:"note,omitempty"`
}

// SyncOptions control one reconciliation run.
type SyncOptions struct {
	// Source names the run on its audit events, e.g. "import:aws-credential-report"
	// or "connector:pg-main".
	Source string
	// Environment is given to identities whose source does not say. Default: prod.
	Environment Environment
	// Partial, when set, upserts what the source reports and removes
	// nothing: for sources that are not a whole snapshot of the system.
	Partial bool
	// Full, when set, parses and compares every record even where the
	// system's last whole sync holds the same record (see Skipper). The
	// result is the same; it is for when the digest itself is in doubt.
	Full bool
}

// SyncResult counts what one reconciliation run changed.
type SyncResult struct {
	Records             int `json:"records"`
	IdentitiesCreated   int `json:"identities_created"`
	IdentitiesUpdated   int `json:"identities_updated"`
	IdentitiesRemoved   int `json:"identities_removed"`
	CredentialsRotated  int `json:"credentials_rotated"`
	CredentialsChanged  int `json:"credentials_changed"` // created, updated or removed, rotation aside
	EntitlementsChanged int `json:"entitlements_changed"`
	GrantsCreated       int `json:"grants_created"`
	GrantsUpdated       int `json:"grants_updated"`
	GrantsRemoved       int `json:"grants_removed"`
	OwnersChanged       int `json:"owners_changed"`
	LinksChanged        int `json:"links_changed"` // links to other identities added, removed or resolved
	PeopleCreated       int `json:"people_created,omitempty"`
	PeopleUpdated       int `json:"people_updated,omitempty"`
	PeopleDeparted      int `json:"people_departed,omitempty"`
	GapsOpened          int `json:"gaps_opened"`
	GapsClosed          int `json:"gaps_closed"`
	Events              int `json:"events"`
}

// Changes says in words what a run changed, group by group ("identities 2
// created, 1 removed; gaps 1 opened"); empty when it changed nothing.
func (r SyncResult) Changes() string {
	var parts []string
	group := func(what string, counts ...any) {
		var got []string
		for i := 0; i < len(counts); i += 2 {
			if n := counts[i].(int); n != 0 {
				got = append(got, fmt.Sprintf("%d %s", n, counts[i+1]))
			}
		}
		if len(got) > 0 {
			parts = append(parts, what+" "+strings.Join(got, ", "))
		}
	}
	group("identities", r.IdentitiesCreated, "created", r.IdentitiesUpdated, "updated", r.IdentitiesRemoved, "removed")
	group("credentials", r.CredentialsRotated, "rotated", r.CredentialsChanged, "changed")
	group("entitlements", r.EntitlementsChanged, "changed")
	group("grants", r.GrantsCreated, "created", r.GrantsUpdated, "updated", r.GrantsRemoved, "removed")
	group("links", r.LinksChanged, "changed")
	group("people", r.PeopleCreated, "created", r.PeopleUpdated, "updated", r.PeopleDeparted, "departed")
	group("gaps", r.GapsOpened, "opened", r.GapsClosed, "closed")
	return strings.Join(parts, "; ")
}

// Outcome is one line on how a run ended: "ok: 3 records; identities 1
// created" or "failed: " and its error.
func (r SyncRun) Outcome() string {
	if r.Error != "" || r.Result == nil {
		return "failed: " + strings.Join(strings.Fields(r.Error), " ")
	}
	records := fmt.Sprintf("%d records", r.Result.Records)
	if r.Result.Records == 1 {
		records = "1 record"
	}
	if c := r.Result.Changes(); c != "" {
		return "ok: " + records + "; " + c
	}
	return "ok: " + records + ", nothing changed"
}

// OwnershipService keeps owners explicit and gaps tracked.
type OwnershipService interface {
	OwnerAssigner
	OwnershipRuleStore
	GapReader
	// RefreshGaps recomputes every gap task from the inventory: opens the
	// missing, closes the healed. Every write, bulk loads included, already
	// does this for what it touches in its own transaction; this full pass
	// is the repair for a database written to by other means.
	RefreshGaps(ctx context.Context) (*SyncResult, error)
}

// SyncStore reconciles the inventory with what sources report.
type SyncStore interface {
	SystemSyncer
	// SyncPeople makes the people of one source match the stream: upserts by
	// external id, creates teams named by people, and marks departed the
	// people of that source it no longer lists. Errors as SyncSystem.
	SyncPeople(ctx context.Context, source string, people iter.Seq2[SourcePerson, error]) (*SyncResult, error)
	SyncRunReader
}

// SystemSyncer reconciles one system with a source.
type SystemSyncer interface {
	// SyncSystem makes the inventory of one system match what the source
	// reads, in one transaction: upserts by external id, marks identities the
	// source no longer reports as removed (unless Partial), writes an event
	// per change. Every record that cannot be used is reported in one
	// EINVALID error naming its position, and then nothing changes.
	// A whole sync remembers each record's Sum, so that the next one skips
	// the records that did not change (and, for a Skipper, their parsing).
	SyncSystem(ctx context.Context, systemID int64, src Source, o SyncOptions) (*SyncResult, error)
}

// SyncRunReader reads the record of sync and import runs.
type SyncRunReader interface {
	// SyncRuns lists the recorded runs, newest first: what each changed,
	// or why it failed. The cursor continues to older runs.
	SyncRuns(ctx context.Context, f SyncRunFilter) (*Page[SyncRun], error)
}

// OwnerAssigner assigns owners explicitly and records their attestations.
type OwnerAssigner interface {
	// SetOwner assigns an identity's owner and team explicitly, deciding by
	// ResolveOwner (an owner without a team brings their own). ENOTFOUND for
	// an unknown identity, person or team.
	SetOwner(ctx context.Context, identityID int64, a OwnerAssignment) (*IdentityView, error)
	// Attest records that the identity's owner confirms it. EINVALID if the
	// person is not the identity's owner; ENOTFOUND for an unknown identity.
	Attest(ctx context.Context, identityID int64, a Attestation) (*IdentityView, error)
}

// OwnershipRuleStore keeps the ownership rules.
type OwnershipRuleStore interface {
	// OwnershipRules returns the rules in force, in order.
	OwnershipRules(ctx context.Context) ([]OwnershipRule, error)
	// ApplyOwnershipRules replaces the rules and re-resolves the owner of
	// every identity not explicitly assigned. EINVALID for a bad rule.
	ApplyOwnershipRules(ctx context.Context, rules []OwnershipRule) (*SyncResult, error)
}

// GapReader lists ownership gaps.
type GapReader interface {
	// Gaps lists open ownership gaps, oldest first by task id.
	Gaps(ctx context.Context, f GapFilter) (*Page[GapView], error)
}

// SyncRun is one recorded run of a sync or import. A failed run changed
// nothing; it is recorded with its error.
type SyncRun struct {
	ID         int64       `json:"id"`
	Source     string      `json:"source"`
	SystemID   *int64      `json:"system_id,omitempty"` // nil for a people sync
	SystemName string      `json:"system_name,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt time.Time   `json:"finished_at"`
	Result     *SyncResult `json:"result,omitempty"` // nil for a failed run
	Error      string      `json:"error,omitempty"`  // empty for a run that succeeded
}

// SyncRunFilter selects sync runs. Zero fields do not filter.
type SyncRunFilter struct {
	Source   string
	SystemID int64
	Failed   *bool
	ListOptions
}

// NormalizeOwnerKey lower-cases an owner hint (email or external id) for
// matching people.
func NormalizeOwnerKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
