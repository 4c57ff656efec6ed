package steward

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Outcome is what a catalog decision says of a request.
type Outcome string

// Outcomes.
const (
	OutcomeApproved Outcome = "approved" // permitted, and the model approves by policy alone
	OutcomePending  Outcome = "pending"  // permitted, and waiting for the approvals the model names
	OutcomeRefused  Outcome = "refused"  // not permitted: the reasons say why and what to do instead
)

// Requester is the person asking, as a decision sees them.
type Requester struct {
	Email   string `json:"email"`
	Name    string `json:"name,omitempty"`
	Title   string `json:"title,omitempty"`
	Team    string `json:"team,omitempty"`
	Manager string `json:"manager,omitempty"` // the manager's e-mail address
	Active  bool   `json:"active"`
}

// IdentityFacts is the identity that would hold the access (or be made,
// or be retired), as a decision sees it. Owner is an e-mail address.
type IdentityFacts struct {
	Name        string `json:"name"`
	System      string `json:"system"`
	Kind        string `json:"kind"`
	Environment string `json:"environment,omitempty"`
	Criticality string `json:"criticality,omitempty"`
	Owner       string `json:"owner,omitempty"`
	Team        string `json:"team,omitempty"`
	Active      bool   `json:"active"`
	New         bool   `json:"new,omitempty"` // a new-identity request: it does not exist yet
}

// AccessQuestion is everything a decision needs: which model, who asks, for
// which identity, for what, how long, and why.
type AccessQuestion struct {
	Model         string            `json:"model"`
	Requester     Requester         `json:"requester"`
	Identity      IdentityFacts     `json:"identity"`
	Target        AccessTarget      `json:"target"`
	Duration      Duration          `json:"duration,omitzero"` // jit: zero asks for the model's default
	Justification map[string]string `json:"justification,omitempty"`
}

// PolicyRef names one Cedar policy of the compiled catalog and what it
// means in the catalog: its model and its rule.
type PolicyRef struct {
	ID       string `json:"id"`     // the policy's id in the compiled set
	Effect   string `json:"effect"` // permit or forbid
	Model    string `json:"model"`
	Rule     string `json:"rule"`               // the policy's @id annotation, or its place ("rule 2")
	Position string `json:"position,omitempty"` // line:column in the model's who_may_request text
}

// PolicyVerdict is what the Cedar policies of a model said: permitted when
// a permit matched and no forbid did.
type PolicyVerdict struct {
	Permitted bool        `json:"permitted"`
	Permits   []PolicyRef `json:"permits,omitempty"`
	Forbids   []PolicyRef `json:"forbids,omitempty"`
	Errors    []string    `json:"errors,omitempty"` // policies that failed to evaluate (they neither permit nor forbid)
}

// Reason is one step of a decision's explanation: which rule said what.
type Reason struct {
	Rule string `json:"rule"` // model, requester, identity, boundary, requestable, duration, justification, policy, approval, approver
	Ok   bool   `json:"ok"`   // whether this step let the request through
	Text string `json:"text"`
}

// ApproverNeed is one approver set a pending request waits on, and why.
type ApproverNeed struct {
	Set ApproverSet `json:"set"`
	Why string      `json:"why"`
}

// AccessDecision is a catalog decision with its reasons: the outcome, the
// model and its tier, which policies permitted or forbade, which approvers
// are needed and why, and, when a boundary refused, its text and the
// alternative. It creates nothing; the request workflow records it.
type AccessDecision struct {
	Outcome       Outcome        `json:"outcome"`
	Model         string         `json:"model"`
	Kind          ModelKind      `json:"kind,omitempty"`
	Tier          string         `json:"tier,omitempty"`
	ServiceLevels *ServiceLevels `json:"service_levels,omitempty"`
	Target        AccessTarget   `json:"target"`
	Duration      Duration       `json:"duration,omitzero"` // jit: how long the grant would last
	Policy        PolicyVerdict  `json:"policy"`
	Approvers     []ApproverNeed `json:"approvers,omitempty"`
	Approvals     int            `json:"approvals,omitempty"` // how many distinct approvers, never the requester
	Boundary      *Boundary      `json:"boundary,omitempty"`
	Reasons       []Reason       `json:"reasons"`
}

// Refusals returns the reasons that refused d, in order.
func (d *AccessDecision) Refusals() []Reason {
	var out []Reason
	for _, r := range d.Reasons {
		if !r.Ok {
			out = append(out, r)
		}
	}
	return out
}

// Model returns the model named name, or nil.
func (c *Catalog) Model(name string) *RequestModel {
	for i := range c.Models {
		if c.Models[i].Name == name {
			return &c.Models[i]
		}
	}
	return nil
}

// Tier returns the tier named name, or nil.
func (c *Catalog) Tier(name string) *Tier {
	for i := range c.Tiers {
		if c.Tiers[i].Name == name {
			return &c.Tiers[i]
		}
	}
	return nil
}

// Role returns the role named name, or nil.
func (c *Catalog) Role(name string) *CatalogRole {
	for i := range c.Roles {
		if c.Roles[i].Name == name {
			return &c.Roles[i]
		}
	}
	return nil
}

// DecideAccess decides q under model m of c, given what m's Cedar policies
// said (v). It checks, and gives a reason for, each step in order — the
// requester, the boundaries, what the model serves, the duration, the
// justification, the policy — and refuses if any step does, listing every
// step that refused so that "why can't I?" has the whole answer. A
// permitted request is approved at once by an automatic model, or waits for
// the model's approvers. m nil is a request for a model the catalog does
// not have. DecideAccess is pure: it reads nothing and creates nothing.
func DecideAccess(c *Catalog, m *RequestModel, q *AccessQuestion, v PolicyVerdict) AccessDecision {
	d := AccessDecision{Model: q.Model, Target: q.Target, Policy: v}
	say := func(rule string, ok bool, format string, args ...any) {
		d.Reasons = append(d.Reasons, Reason{rule, ok, fmt.Sprintf(format, args...)})
	}
	if m == nil {
		d.Outcome = OutcomeRefused
		say("model", false, "The catalog has no model %q; `steward catalog get` lists the models.", q.Model)
		return d
	}
	d.Kind = m.Kind
	d.Tier = m.Tier
	if t := c.Tier(m.Tier); t != nil {
		sl := t.ServiceLevels
		d.ServiceLevels = &sl
	}
	say("model", true, "Model %s (%s, tier %s).", m.Name, m.Kind, m.Tier)

	if !q.Requester.Active {
		say("requester", false, "%s is not an active person; only active people request access.", orUnknown(q.Requester.Email))
	}
	if m.Kind != ModelNewIdentity && !q.Identity.New && q.Identity.Name != "" && !q.Identity.Active && m.Kind != ModelDecommission {
		say("identity", false, "Identity %s is not active; access is granted only to active identities.", q.Identity.Name)
	}

	for i := range c.Boundaries {
		b := &c.Boundaries[i]
		if b.matches(m.Kind, &q.Target) {
			d.Boundary = b
			say("boundary", false, "Boundary %s: %s Instead: %s", b.Name, strings.TrimSpace(b.Statement), strings.TrimSpace(b.Alternative))
			break
		}
	}

	switch m.Kind {
	case ModelNewIdentity, ModelDecommission:
		if len(m.Requestable.Systems) > 0 && !anyGlob(m.Requestable.Systems, q.Target.System) {
			say("requestable", false, "Model %s serves systems %s, not %s.", m.Name, strings.Join(m.Requestable.Systems, ", "), orUnknown(q.Target.System))
		} else {
			say("requestable", true, "System %s is one model %s serves.", q.Target.System, m.Name)
		}
	default:
		if m.Requestable.Matches(&q.Target) {
			say("requestable", true, "%s is one of what model %s serves.", q.Target, m.Name)
		} else {
			say("requestable", false, "Model %s does not serve %s (it serves %s); `steward decide` with another model, or ask the catalog's owners for one.", m.Name, q.Target, m.Requestable.Describe())
		}
	}

	if m.Kind == ModelJIT && m.Duration != nil {
		switch dur := q.Duration; {
		case dur == 0:
			d.Duration = m.Duration.Default
			say("duration", true, "JIT for the default %s (at most %s).", m.Duration.Default, m.Duration.Maximum)
		case dur > m.Duration.Maximum:
			d.Duration = dur
			say("duration", false, "%s is longer than model %s allows (%s); ask for %s or less.", dur, m.Name, m.Duration.Maximum, m.Duration.Maximum)
		default:
			d.Duration = dur
			say("duration", true, "JIT for %s (at most %s).", dur, m.Duration.Maximum)
		}
	} else if q.Duration != 0 {
		say("duration", false, "Model %s is %s: it grants no time-bound access; leave the duration out.", m.Name, m.Kind)
	}

	for _, r := range m.Justification {
		val := strings.TrimSpace(q.Justification[r.Name])
		switch {
		case val == "":
			say("justification", false, "Justification %s is required%s.", r.Name, describeSuffix(r))
		case r.Pattern != "" && !anchored(r.Pattern).MatchString(val):
			say("justification", false, "Justification %s %q does not match %s%s.", r.Name, val, r.Pattern, describeSuffix(r))
		default:
			say("justification", true, "Justification %s given.", r.Name)
		}
	}

	switch {
	case len(v.Forbids) > 0:
		say("policy", false, "Forbidden by %s.", refs(v.Forbids))
	case v.Permitted:
		say("policy", true, "Permitted by %s.", refs(v.Permits))
	default:
		say("policy", false, "No policy of model %s permits %s to request this%s.", m.Name, orUnknown(q.Requester.Email), evalErrors(v.Errors))
	}

	for _, r := range d.Reasons {
		if !r.Ok {
			d.Outcome = OutcomeRefused
			return d
		}
	}
	if m.Approval.Automatic {
		d.Outcome = OutcomeApproved
		say("approval", true, "Approved by policy: model %s approves a permitted request automatically.", m.Name)
		return d
	}
	d.Outcome = OutcomePending
	d.Approvals = max(m.Approval.Approvals, 1)
	for _, s := range m.Approval.Approvers {
		set, err := ParseApprover(s)
		if err != nil {
			continue // a validated catalog has none
		}
		d.Approvers = append(d.Approvers, ApproverNeed{set, approverWhy(c, set, q)})
	}
	say("approval", true, "Waits for %d approval(s) from %s; never the requester, and one person gives at most one.", d.Approvals, approverList(d.Approvers))
	for _, a := range d.Approvers {
		say("approver", true, "Approver set %s: %s.", a.Set, a.Why)
	}
	return d
}

func (b *Boundary) matches(k ModelKind, t *AccessTarget) bool {
	if len(b.Match.Kinds) > 0 && !slices.Contains(b.Match.Kinds, k) {
		return false
	}
	s := b.Match
	s.Kinds = nil
	if t.Role != "" {
		// A boundary selects entitlements: a role matches on any of its
		// own, or on what it sums up.
		for i := range t.Entitlements {
			e := t.Entitlements[i]
			e.Role, e.Entitlements = "", nil
			if s.Matches(&e) {
				return true
			}
		}
		r := *t
		r.Role, r.Entitlements = "", nil
		return s.Matches(&r)
	}
	return s.Matches(t)
}

// Describe says in words what s selects; "everything" when it sets nothing.
func (s Selector) Describe() string {
	var parts []string
	if len(s.Systems) > 0 {
		parts = append(parts, "systems "+strings.Join(s.Systems, ", "))
	}
	if len(s.Names) > 0 {
		parts = append(parts, "names "+strings.Join(s.Names, ", "))
	}
	if len(s.Roles) > 0 {
		parts = append(parts, "roles "+strings.Join(s.Roles, ", "))
	}
	if s.Privileged != nil {
		if *s.Privileged {
			parts = append(parts, "privileged only")
		} else {
			parts = append(parts, "not privileged")
		}
	}
	if s.MinSensitivity != "" {
		parts = append(parts, "sensitivity "+string(s.MinSensitivity)+" or above")
	}
	if s.MaxSensitivity != "" {
		parts = append(parts, "sensitivity "+string(s.MaxSensitivity)+" or below")
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, "; ")
}

func approverWhy(c *Catalog, s ApproverSet, q *AccessQuestion) string {
	switch s.Kind {
	case ApproverResourceOwner:
		if q.Target.OwnerTeam == "" {
			return "the owners of " + q.Target.String() + "; its system has no owning team, so this set has nobody until one is set"
		}
		return "team " + q.Target.OwnerTeam + " owns the system of " + q.Target.String()
	case ApproverIdentityOwner:
		switch {
		case q.Identity.Owner == "":
			return "identity " + q.Identity.Name + " has no owner, so this set has nobody until one is set"
		case q.Identity.Owner == q.Requester.Email:
			return q.Identity.Owner + " owns identity " + q.Identity.Name + " but is the requester, who cannot approve"
		}
		return q.Identity.Owner + " owns identity " + q.Identity.Name
	case ApproverRequesterManager:
		if q.Requester.Manager == "" {
			return q.Requester.Email + " has no manager on record, so this set has nobody"
		}
		return q.Requester.Manager + " is the requester's manager"
	case ApproverSecurity:
		if c.SecurityTeam == "" {
			return "the catalog names no security team"
		}
		return "team " + c.SecurityTeam + " is the catalog's security team"
	case ApproverTeam:
		return "model names team " + s.Team
	}
	return ""
}

func approverList(ns []ApproverNeed) string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Set.String()
	}
	return strings.Join(out, ", then ")
}

func refs(rs []PolicyRef) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s policy %s of model %s (%s)", r.Effect, r.Rule, r.Model, r.ID)
	}
	return strings.Join(out, "; ")
}

func evalErrors(es []string) string {
	if len(es) == 0 {
		return ""
	}
	return " (a policy failed to evaluate: " + strings.Join(es, "; ") + ")"
}

func describeSuffix(r Requirement) string {
	if r.Description == "" {
		return ""
	}
	return " (" + r.Description + ")"
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

var patterns sync.Map // pattern → *regexp.Regexp, anchored

// anchored returns pattern compiled to match a whole value. Patterns come
// from a validated catalog; one that does not compile matches nothing.
func anchored(p string) *regexp.Regexp {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		re = regexp.MustCompile(`[^\s\S]`)
	}
	patterns.Store(p, re)
	return re
}

// DurationOf converts a time.Duration.
func DurationOf(d time.Duration) Duration { return Duration(d) }

// AccessDecider decides access questions under one compiled catalog (the
// policy package's Compiled).
type AccessDecider interface {
	Decide(q *AccessQuestion) AccessDecision
}

// CatalogCompiler compiles a catalog's text: the catalog and its decider,
// or EINVALID listing every problem with its line and column.
type CatalogCompiler func(src []byte) (*Catalog, AccessDecider, error)
