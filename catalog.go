package steward

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Catalog is the published service catalog: the tiers the identity service
// works to, the boundaries of what it will not do, the standard request
// models people ask for access through, and the roles (bundles of
// entitlements) routine models grant. It is written as code (YAML, applied
// with `steward apply -f`); its request models' "who may request" rules are
// Cedar policies, compiled by the policy package.
type Catalog struct {
	// SecurityTeam is the team the approver set "security" names.
	SecurityTeam string         `json:"security_team,omitempty" yaml:"security_team,omitempty"`
	Tiers        []Tier         `json:"tiers" yaml:"tiers"`
	Boundaries   []Boundary     `json:"boundaries,omitempty" yaml:"boundaries,omitempty"`
	Roles        []CatalogRole  `json:"roles,omitempty" yaml:"roles,omitempty"`
	Models       []RequestModel `json:"models" yaml:"models"`
}

// Tier is a service level: how fast each kind of work is done for the
// models in it.
type Tier struct {
	Name          string        `json:"name" yaml:"name"`
	Description   string        `json:"description,omitempty" yaml:"description,omitempty"`
	ServiceLevels ServiceLevels `json:"service_levels" yaml:"service_levels"`
}

// ServiceLevels are a tier's targets per kind of work; a zero duration is
// "no target". Each is written like "15m", "4h" or "2d".
type ServiceLevels struct {
	Decision          Duration `json:"decision,omitzero" yaml:"decision,omitempty"`                       // from request to approved or denied
	Fulfilment        Duration `json:"fulfilment,omitzero" yaml:"fulfilment,omitempty"`                   // from approval to access in the target
	ExceptionReview   Duration `json:"exception_review,omitzero" yaml:"exception_review,omitempty"`       // an exception reviewed
	JoinerMoverLeaver Duration `json:"joiner_mover_leaver,omitzero" yaml:"joiner_mover_leaver,omitempty"` // a JML event's cascade done
	Rotation          Duration `json:"rotation,omitzero" yaml:"rotation,omitempty"`                       // a credential rotated when due
	Offboarding       Duration `json:"offboarding,omitzero" yaml:"offboarding,omitempty"`                 // a leaver's access revoked
}

// Duration is a time.Duration written as Go writes one ("90m", "4h") or in
// whole days ("2d"), so that a catalog reads as people say service levels.
type Duration time.Duration

// ParseDuration reads "15m", "4h30m", "2d" or "0". It returns EINVALID for
// anything else or a negative duration.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return 0, Errorf(EINVALID, "duration %q is not a whole number of days (like 2d).", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(EINVALID, "duration %q is not a duration like 15m, 4h or 2d.", s)
	} else if d < 0 {
		return 0, Errorf(EINVALID, "duration %q is negative.", s)
	}
	return Duration(d), nil
}

// String writes d in whole days when it is some, else as Go does, without
// the zero parts ("4h", not "4h0m0s").
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	s := td.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads d as ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Boundary is something the identity service will not do, said plainly,
// with what to do instead. A request whose entitlement and kind the
// boundary's Match selects is refused with both texts.
type Boundary struct {
	Name        string   `json:"name" yaml:"name"`
	Statement   string   `json:"statement" yaml:"statement"`     // "We do not grant standing superuser on production databases."
	Alternative string   `json:"alternative" yaml:"alternative"` // "Request the jit model pg-prod-break-glass."
	Match       Selector `json:"match" yaml:"match"`
}

// CatalogRole is an RBAC bundle of entitlements across systems, which
// routine models can grant as one thing.
type CatalogRole struct {
	Name         string           `json:"name" yaml:"name"`
	Description  string           `json:"description,omitempty" yaml:"description,omitempty"`
	Entitlements []EntitlementRef `json:"entitlements" yaml:"entitlements"`
}

// EntitlementRef names one entitlement of one system.
type EntitlementRef struct {
	System string `json:"system" yaml:"system"`
	Name   string `json:"name" yaml:"name"`
}

// ModelKind is what a request model serves.
type ModelKind string

// Model kinds.
const (
	ModelRoutine      ModelKind = "routine"      // standing RBAC access, often decided by policy alone
	ModelJIT          ModelKind = "jit"          // time-bound elevation, with a default and a maximum duration
	ModelNewIdentity  ModelKind = "new-identity" // a new non-human identity, owned by the requester
	ModelDecommission ModelKind = "decommission" // an identity retired and its access revoked
)

// ModelKinds lists every ModelKind.
var ModelKinds = []ModelKind{ModelRoutine, ModelJIT, ModelNewIdentity, ModelDecommission}

// Validate returns EINVALID unless k is a known kind.
func (k ModelKind) Validate() error { return oneOf("kind", k, ModelKinds) }

// RequestModel is one standard way to ask for access: what may be asked for,
// by whom (a Cedar policy), how it is approved, in which tier, and what a
// request must say.
type RequestModel struct {
	Name        string    `json:"name" yaml:"name"`
	Description string    `json:"description,omitempty" yaml:"description,omitempty"`
	Tier        string    `json:"tier" yaml:"tier"`
	Kind        ModelKind `json:"kind" yaml:"kind"`
	// Requestable selects the entitlements (or roles) the model serves. A
	// new-identity model selects the system the identity is made in.
	Requestable Selector `json:"requestable" yaml:"requestable"`
	// WhoMayRequest is Cedar policy text over the requester (principal, a
	// Person), the entitlement (resource) and the identity that would hold it
	// (context.identity). A request is permitted when a permit matches and no
	// forbid does. See the policy package for the schema.
	WhoMayRequest string        `json:"who_may_request" yaml:"who_may_request"`
	Approval      Approval      `json:"approval" yaml:"approval"`
	Duration      *JITDuration  `json:"duration,omitempty" yaml:"duration,omitempty"`
	Justification []Requirement `json:"justification,omitempty" yaml:"justification,omitempty"`
}

// Selector selects entitlements. Every field set must match (AND); a list
// matches any of its items (OR); strings are glob patterns (path.Match).
type Selector struct {
	Systems        []string    `json:"systems,omitempty" yaml:"systems,omitempty"`
	Names          []string    `json:"names,omitempty" yaml:"names,omitempty"`
	Roles          []string    `json:"roles,omitempty" yaml:"roles,omitempty"` // catalog roles, by name: a role request matches only through these
	Privileged     *bool       `json:"privileged,omitempty" yaml:"privileged,omitempty"`
	MinSensitivity Level       `json:"min_sensitivity,omitempty" yaml:"min_sensitivity,omitempty"`
	MaxSensitivity Level       `json:"max_sensitivity,omitempty" yaml:"max_sensitivity,omitempty"`
	Kinds          []ModelKind `json:"kinds,omitempty" yaml:"kinds,omitempty"` // a boundary's: the request kinds it applies to
}

// ApproverKind is a set of people who may approve.
type ApproverKind string

// Approver sets. A named team is written "team:NAME".
const (
	ApproverResourceOwner    ApproverKind = "resource-owner"    // the team owning the entitlement's system
	ApproverIdentityOwner    ApproverKind = "identity-owner"    // the person owning the identity that will hold the access
	ApproverRequesterManager ApproverKind = "requester-manager" // the requester's manager
	ApproverSecurity         ApproverKind = "security"          // the catalog's security team
	ApproverTeam             ApproverKind = "team"              // written team:NAME
)

// Approval says how a permitted request is approved: at once by policy
// (Automatic), or by Approvals distinct people from the approver sets,
// never the requester.
type Approval struct {
	Automatic bool     `json:"automatic,omitempty" yaml:"automatic,omitempty"`
	Approvers []string `json:"approvers,omitempty" yaml:"approvers,omitempty"` // resource-owner, identity-owner, requester-manager, security, team:NAME; in order of escalation
	Approvals int      `json:"approvals,omitempty" yaml:"approvals,omitempty"` // how many distinct approvers; 1 when unset
}

// JITDuration bounds a jit model's grants.
type JITDuration struct {
	Default Duration `json:"default" yaml:"default"`
	Maximum Duration `json:"maximum" yaml:"maximum"`
}

// Requirement is a justification field a request must fill in, matching
// Pattern (a regular expression, anchored by Steward) when one is given.
type Requirement struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Pattern     string `json:"pattern,omitempty" yaml:"pattern,omitempty"`
}

// Problem is one thing wrong with a catalog: where (a path such as
// "models[2].tier") and what. Parsers map Path back to a line and column.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

var catalogName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ValidateCatalog returns every problem of c, in document order; none for a
// valid catalog. Cedar text is checked by the policy package, not here.
func ValidateCatalog(c *Catalog) []Problem {
	var ps []Problem
	add := func(p, format string, args ...any) { ps = append(ps, Problem{p, fmt.Sprintf(format, args...)}) }
	name := func(p, kind, n string, seen map[string]bool) {
		if n == "" {
			add(p+".name", "a %s needs a name.", kind)
		} else if !catalogName.MatchString(n) {
			add(p+".name", "%s name %q must be lower case letters, digits, '.', '_' or '-', at most 63, starting with a letter or digit.", kind, n)
		} else if seen[n] {
			add(p+".name", "%s %q is declared twice.", kind, n)
		}
		seen[n] = true
	}
	if c.SecurityTeam != "" && !catalogName.MatchString(c.SecurityTeam) {
		add("security_team", "team name %q is not a team name.", c.SecurityTeam)
	}
	if len(c.Tiers) == 0 {
		add("tiers", "a catalog needs at least one tier.")
	}
	tiers := map[string]bool{}
	for i, t := range c.Tiers {
		name(fmt.Sprintf("tiers[%d]", i), "tier", t.Name, tiers)
	}
	bounds := map[string]bool{}
	for i, b := range c.Boundaries {
		p := fmt.Sprintf("boundaries[%d]", i)
		name(p, "boundary", b.Name, bounds)
		if strings.TrimSpace(b.Statement) == "" {
			add(p+".statement", "a boundary says what the service will not do.")
		}
		if strings.TrimSpace(b.Alternative) == "" {
			add(p+".alternative", "a boundary says what to do instead.")
		}
		ps = append(ps, validateSelector(p+".match", b.Match, nil, true)...)
		if b.Match.empty() {
			add(p+".match", "a boundary with an empty match would refuse every request.")
		}
	}
	roles := map[string]bool{}
	for i, r := range c.Roles {
		p := fmt.Sprintf("roles[%d]", i)
		name(p, "role", r.Name, roles)
		if len(r.Entitlements) == 0 {
			add(p+".entitlements", "a role bundles at least one entitlement.")
		}
		for j, e := range r.Entitlements {
			if e.System == "" || e.Name == "" {
				add(fmt.Sprintf("%s.entitlements[%d]", p, j), "an entitlement is named by its system and its name.")
			}
		}
	}
	if len(c.Models) == 0 {
		add("models", "a catalog needs at least one request model.")
	}
	models := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		name(p, "model", m.Name, models)
		if m.Tier == "" {
			add(p+".tier", "a model names its tier.")
		} else if !tiers[m.Tier] {
			add(p+".tier", "tier %q is not declared; declared: %s.", m.Tier, strings.Join(names(c.Tiers, func(t Tier) string { return t.Name }), ", "))
		}
		if err := m.Kind.Validate(); err != nil {
			add(p+".kind", "%s", ErrorMessage(err))
		}
		ps = append(ps, validateSelector(p+".requestable", m.Requestable, roles, false)...)
		if strings.TrimSpace(m.WhoMayRequest) == "" {
			add(p+".who_may_request", "a model says who may request it, as a Cedar policy (permit (principal, action, resource) when { … };).")
		}
		ps = append(ps, validateApproval(p+".approval", m.Approval)...)
		switch {
		case m.Kind == ModelJIT && m.Duration == nil:
			add(p+".duration", "a jit model needs a default and a maximum duration.")
		case m.Kind == ModelJIT:
			d := m.Duration
			if d.Maximum <= 0 {
				add(p+".duration.maximum", "the maximum duration must be more than zero.")
			}
			if d.Default <= 0 {
				add(p+".duration.default", "the default duration must be more than zero.")
			} else if d.Maximum > 0 && d.Default > d.Maximum {
				add(p+".duration.default", "the default %s is longer than the maximum %s.", d.Default, d.Maximum)
			}
		case m.Duration != nil:
			add(p+".duration", "only a jit model has a duration; this one is %s.", m.Kind)
		}
		fields := map[string]bool{}
		for j, r := range m.Justification {
			q := fmt.Sprintf("%s.justification[%d]", p, j)
			if r.Name == "" {
				add(q+".name", "a justification field needs a name.")
			} else if fields[r.Name] {
				add(q+".name", "justification field %q is declared twice.", r.Name)
			}
			fields[r.Name] = true
			if r.Pattern != "" {
				if _, err := regexp.Compile(r.Pattern); err != nil {
					add(q+".pattern", "pattern %q is not a regular expression: %v.", r.Pattern, err)
				}
			}
		}
	}
	return ps
}

func names[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func (s Selector) empty() bool {
	return len(s.Systems) == 0 && len(s.Names) == 0 && len(s.Roles) == 0 && s.Privileged == nil &&
		s.MinSensitivity == "" && s.MaxSensitivity == "" && len(s.Kinds) == 0
}

// validateSelector checks s at path p; roles is nil where roles cannot be
// named (a boundary), and kinds are allowed only in a boundary.
func validateSelector(p string, s Selector, roles map[string]bool, boundary bool) []Problem {
	var ps []Problem
	add := func(q, format string, args ...any) { ps = append(ps, Problem{q, fmt.Sprintf(format, args...)}) }
	for i, g := range append(slices.Clone(s.Systems), s.Names...) {
		if _, err := path.Match(g, ""); err != nil {
			field, j := "systems", i
			if i >= len(s.Systems) {
				field, j = "names", i-len(s.Systems)
			}
			add(fmt.Sprintf("%s.%s[%d]", p, field, j), "pattern %q is not a valid glob.", g)
		}
	}
	for i, r := range s.Roles {
		if boundary {
			add(fmt.Sprintf("%s.roles[%d]", p, i), "a boundary selects entitlements, not roles.")
		} else if !roles[r] {
			add(fmt.Sprintf("%s.roles[%d]", p, i), "role %q is not declared in the catalog's roles.", r)
		}
	}
	if s.MinSensitivity != "" {
		if err := s.MinSensitivity.Validate(); err != nil {
			add(p+".min_sensitivity", "%s", ErrorMessage(err))
		}
	}
	if s.MaxSensitivity != "" {
		if err := s.MaxSensitivity.Validate(); err != nil {
			add(p+".max_sensitivity", "%s", ErrorMessage(err))
		}
	}
	if s.MinSensitivity != "" && s.MaxSensitivity != "" && levelRank(s.MinSensitivity) > levelRank(s.MaxSensitivity) {
		add(p+".min_sensitivity", "min_sensitivity %s is above max_sensitivity %s: nothing would match.", s.MinSensitivity, s.MaxSensitivity)
	}
	for i, k := range s.Kinds {
		if !boundary {
			add(fmt.Sprintf("%s.kinds[%d]", p, i), "a model has one kind; kinds belong in a boundary's match.")
		} else if err := k.Validate(); err != nil {
			add(fmt.Sprintf("%s.kinds[%d]", p, i), "%s", ErrorMessage(err))
		}
	}
	return ps
}

func validateApproval(p string, a Approval) []Problem {
	var ps []Problem
	add := func(q, format string, args ...any) { ps = append(ps, Problem{q, fmt.Sprintf(format, args...)}) }
	if a.Approvals < 0 {
		add(p+".approvals", "approvals cannot be negative.")
	}
	if a.Automatic && (len(a.Approvers) > 0 || a.Approvals > 0) {
		add(p+".automatic", "an automatic approval names no approvers: the policy's permit is the approval.")
	}
	if !a.Automatic && len(a.Approvers) == 0 {
		add(p+".approvers", "name who approves (resource-owner, identity-owner, requester-manager, security, team:NAME), or set automatic: true.")
	}
	seen := map[string]bool{}
	for i, s := range a.Approvers {
		q := fmt.Sprintf("%s.approvers[%d]", p, i)
		if _, err := ParseApprover(s); err != nil {
			add(q, "%s", ErrorMessage(err))
		} else if seen[s] {
			add(q, "approver set %q is named twice.", s)
		}
		seen[s] = true
	}
	return ps
}

// ApproverSet is one parsed approver set: its kind, and the team for
// ApproverTeam.
type ApproverSet struct {
	Kind ApproverKind `json:"kind"`
	Team string       `json:"team,omitempty"`
}

// String writes s as a catalog does.
func (s ApproverSet) String() string {
	if s.Kind == ApproverTeam {
		return "team:" + s.Team
	}
	return string(s.Kind)
}

// ParseApprover reads an approver set as a catalog writes it; EINVALID for
// anything else.
func ParseApprover(s string) (ApproverSet, error) {
	if team, ok := strings.CutPrefix(s, "team:"); ok {
		if !catalogName.MatchString(team) {
			return ApproverSet{}, Errorf(EINVALID, "approver %q names no team; write team:NAME.", s)
		}
		return ApproverSet{ApproverTeam, team}, nil
	}
	switch k := ApproverKind(s); k {
	case ApproverResourceOwner, ApproverIdentityOwner, ApproverRequesterManager, ApproverSecurity:
		return ApproverSet{Kind: k}, nil
	}
	return ApproverSet{}, Errorf(EINVALID, "approver %q is not known; one of: resource-owner, identity-owner, requester-manager, security, team:NAME.", s)
}

func levelRank(l Level) int { return slices.Index(Levels, l) }

// LevelRank is l's place from least (0, low) to most severe (3, critical);
// -1 for a level Steward does not know.
func LevelRank(l Level) int { return levelRank(l) }

// Matches reports whether the selector selects target. A role request
// matches only a selector that names the role; an entitlement request
// matches on system, name, privileged flag and sensitivity.
func (s *Selector) Matches(t *AccessTarget) bool {
	if t.Role != "" {
		return slices.Contains(s.Roles, t.Role)
	}
	if len(s.Roles) > 0 && len(s.Systems) == 0 && len(s.Names) == 0 {
		return false // a selector of roles only grants no single entitlement
	}
	if len(s.Systems) > 0 && !anyGlob(s.Systems, t.System) {
		return false
	}
	if len(s.Names) > 0 && !anyGlob(s.Names, t.Name) {
		return false
	}
	if s.Privileged != nil && *s.Privileged != t.Privileged {
		return false
	}
	if s.MinSensitivity != "" && levelRank(t.Sensitivity) < levelRank(s.MinSensitivity) {
		return false
	}
	if s.MaxSensitivity != "" && levelRank(t.Sensitivity) > levelRank(s.MaxSensitivity) {
		return false
	}
	return true
}

// AccessTarget is what a request asks for: one entitlement of a system, or a
// catalog role (Role set, Entitlements its entitlements, and the other
// fields summarising them: privileged if any is, the highest sensitivity). For a new identity,
// System is where it is made and Name is empty.
type AccessTarget struct {
	System      string `json:"system,omitempty"`
	Name        string `json:"name,omitempty"`
	Role        string `json:"role,omitempty"`
	Privileged  bool   `json:"privileged"`
	Sensitivity Level  `json:"sensitivity,omitempty"`
	OwnerTeam   string `json:"owner_team,omitempty"` // the team owning the system: the resource owner
	// Entitlements are a role's: each as the catalog names it, with what
	// the inventory says of it (privileged, sensitivity) when it holds it.
	// A boundary refuses a role when it would refuse any of them.
	Entitlements []AccessTarget `json:"entitlements,omitempty"`
}

// String names t as a person would.
func (t AccessTarget) String() string {
	switch {
	case t.Role != "":
		return "role " + t.Role
	case t.Name == "":
		return "system " + t.System
	}
	return t.System + "/" + t.Name
}

// CatalogChange is one difference between two catalogs: a tier, boundary,
// role or model added, removed or changed, or the security team changed.
type CatalogChange struct {
	Op   string `json:"op"`   // added, removed, changed
	What string `json:"what"` // tier, boundary, role, model, security_team
	Name string `json:"name"`
}

func (c CatalogChange) String() string {
	sign := map[string]string{"added": "+", "removed": "-", "changed": "~"}[c.Op]
	return fmt.Sprintf("%s %s %s", sign, c.What, c.Name)
}

// DiffCatalogs lists what applying next over prev would change, by name,
// in the order of prev then next; prev nil is the empty catalog.
func DiffCatalogs(prev, next *Catalog) []CatalogChange {
	if prev == nil {
		prev = &Catalog{}
	}
	var out []CatalogChange
	if prev.SecurityTeam != next.SecurityTeam {
		out = append(out, CatalogChange{"changed", "security_team", next.SecurityTeam})
	}
	out = append(out, diffNamed("tier", prev.Tiers, next.Tiers, func(t Tier) string { return t.Name })...)
	out = append(out, diffNamed("boundary", prev.Boundaries, next.Boundaries, func(b Boundary) string { return b.Name })...)
	out = append(out, diffNamed("role", prev.Roles, next.Roles, func(r CatalogRole) string { return r.Name })...)
	out = append(out, diffNamed("model", prev.Models, next.Models, func(m RequestModel) string { return m.Name })...)
	return out
}

func diffNamed[T any](what string, prev, next []T, name func(T) string) []CatalogChange {
	var out []CatalogChange
	in := func(xs []T, n string) (T, bool) {
		for _, x := range xs {
			if name(x) == n {
				return x, true
			}
		}
		var zero T
		return zero, false
	}
	for _, p := range prev {
		n, ok := in(next, name(p))
		switch {
		case !ok:
			out = append(out, CatalogChange{"removed", what, name(p)})
		case !reflect.DeepEqual(p, n):
			out = append(out, CatalogChange{"changed", what, name(p)})
		}
	}
	for _, n := range next {
		if _, ok := in(prev, name(n)); !ok {
			out = append(out, CatalogChange{"added", what, name(n)})
		}
	}
	return out
}

// CatalogVersion is one applied catalog: its text exactly as applied, the
// catalog read from it, and who applied it when.
type CatalogVersion struct {
	Version   int64     `json:"version"`
	Source    string    `json:"source"`
	Digest    string    `json:"digest"` // sha256 of Source, hex
	Catalog   *Catalog  `json:"catalog"`
	AppliedAt time.Time `json:"applied_at"`
	AppliedBy string    `json:"applied_by"`
}

// CatalogStore keeps the applied catalog and its history.
type CatalogStore interface {
	// CatalogInForce returns the latest applied version: ENOTFOUND when no
	// catalog was ever applied.
	CatalogInForce(ctx context.Context) (*CatalogVersion, error)
	// CatalogDigest returns the digest of the catalog in force and reads
	// nothing else, so that whoever keeps a compiled catalog can check it
	// is still the one in force on every decision: ENOTFOUND when none.
	CatalogDigest(ctx context.Context) (string, error)
	// ApplyCatalog stores source (already compiled to c by the caller) as
	// the catalog in force, with an ActionCatalogApplied event in the same
	// transaction. Applying the text in force again changes nothing and
	// writes no event: it returns the version in force and changed false.
	// It returns EINVALID for a catalog ValidateCatalog refuses.
	ApplyCatalog(ctx context.Context, source []byte, c *Catalog) (v *CatalogVersion, changed bool, err error)
}
