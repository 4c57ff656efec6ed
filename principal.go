package steward

import (
	"context"
	"strings"
)

// PrincipalKind says what kind of principal is acting.
type PrincipalKind string

// Principal kinds. Every audit event names one (Event.Actor is the
// principal's Actor form).
const (
	// PrincipalPerson is a Person of the directory, signed in through the
	// OpenID provider or acting with a personal token.
	PrincipalPerson PrincipalKind = "person"
	// PrincipalAutomation is a non-human identity of Steward's own
	// inventory (a CI job, a Terraform run) acting with its token. It has
	// an owner like any other identity.
	PrincipalAutomation PrincipalKind = "automation"
	// PrincipalLocalAdmin is an operator running the CLI against a local
	// database, named by OS user: bootstrap and offline administration.
	PrincipalLocalAdmin PrincipalKind = "local-admin"
	// PrincipalSystem is the actor of Steward's own acts on events from
	// before it acted as its own automation identity (SelfPrincipal):
	// "system:scheduler" and the like. A context that names nobody still
	// records "system" (ActorFrom).
	PrincipalSystem PrincipalKind = "system"
)

// PrincipalKinds lists every PrincipalKind.
var PrincipalKinds = []PrincipalKind{PrincipalPerson, PrincipalAutomation, PrincipalLocalAdmin, PrincipalSystem}

// Validate returns EINVALID unless k is a known kind.
func (k PrincipalKind) Validate() error { return oneOf("principal kind", k, PrincipalKinds) }

// Principal is who acts on a request or a job: a person, an automation
// identity, a local administrator or Steward itself, with the role it acts
// in and what it came through.
type Principal struct {
	Kind PrincipalKind `json:"kind"`
	// Name is the person's email, the automation identity's name, the OS
	// user of a local administrator or the name of a system job.
	Name string `json:"name"`
	// PersonID is set for PrincipalPerson, IdentityID for
	// PrincipalAutomation.
	PersonID   int64 `json:"-"`
	IdentityID int64 `json:"-"`
	Role       Role  `json:"role"`
	// Via is what the principal came through: "token:NAME" for an API
	// token, "session:PREFIX" for a web session (the first characters of
	// the session's stored hash, never the secret), "cli" for a local
	// administrator, empty for a system job. Audit events record it.
	Via string `json:"via,omitempty"`
}

// Actor returns the form recorded on audit events: "person:alice@example.com",
// "automation:terraform-ci", "local-admin:alice", "system:scheduler".
func (p Principal) Actor() string { return string(p.Kind) + ":" + p.Name }

// ParseActor splits an actor string into its kind and name. Actors from
// before principals ("token:NAME", "cli:USER") come back with their prefix
// as the kind; Validate tells them apart.
func ParseActor(actor string) (PrincipalKind, string) {
	kind, name, ok := strings.Cut(actor, ":")
	if !ok {
		return PrincipalSystem, actor
	}
	return PrincipalKind(kind), name
}

// SelfIdentityName is the name of Steward's own automation identity, in
// its own system (SelfSystemName): Steward acts under it when no person
// does, in serve's scheduled syncs, gap refreshes, notices, schema
// migrations on start and people created at sign-in.
const SelfIdentityName = "steward"

// SelfPrincipal returns Steward itself acting, as its own automation
// identity, through via: what made it act ("job:refresh-gaps",
// "connector:NAME", "serve"). Its events name "automation:steward", which
// resolves, like every automation principal, to an identity with an owner
// (SelfRegistrar registers it).
func SelfPrincipal(via string) Principal {
	return Principal{Kind: PrincipalAutomation, Name: SelfIdentityName, Role: RoleAdmin, Via: via}
}

type principalKey struct{}

// WithPrincipal returns a context in which p acts: stores record
// p.Actor() and p.Via on every audit event written under it.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, p)
	return WithActor(ctx, p.Actor())
}

// PrincipalFrom returns the principal set by WithPrincipal, and false when
// none was set.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// ViaFrom returns what the acting principal came through, or "" when no
// principal was set.
func ViaFrom(ctx context.Context) string {
	p, _ := PrincipalFrom(ctx)
	return p.Via
}
