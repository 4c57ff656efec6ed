package steward

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Page is one page of a list. Next is an opaque cursor for the following page,
// empty on the last one. Lists are keyset-paginated, ordered by id: the cost
// of a page does not grow with its depth.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Page size limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ListOptions are the paging fields of every filter.
type ListOptions struct {
	After string // cursor from Page.Next; "" for the first page
	Limit int    // 1..MaxLimit; 0 means DefaultLimit
}

// Normalize checks the options and returns the decoded cursor id (0 for the
// first page) and the effective limit. It returns EINVALID for a bad cursor or
// limit.
func (o ListOptions) Normalize() (afterID int64, limit int, err error) {
	if limit, err = o.checkLimit(); err != nil {
		return 0, 0, err
	}
	if o.After == "" {
		return 0, limit, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(o.After)
	if err != nil || !strings.HasPrefix(string(b), "k1:") {
		return 0, 0, Errorf(EINVALID, "cursor is not one Steward gave out; start again without it.")
	}
	afterID, err = strconv.ParseInt(string(b[3:]), 10, 64)
	if err != nil || afterID < 0 {
		return 0, 0, Errorf(EINVALID, "cursor is not one Steward gave out; start again without it.")
	}
	return afterID, limit, nil
}

// checkLimit returns the effective limit, or EINVALID.
func (o ListOptions) checkLimit() (int, error) {
	switch {
	case o.Limit == 0:
		return DefaultLimit, nil
	case o.Limit < 0 || o.Limit > MaxLimit:
		return 0, Errorf(EINVALID, "limit must be between 1 and %d.", MaxLimit)
	}
	return o.Limit, nil
}

// Cursor encodes the keyset position after id.
func Cursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("k1:" + strconv.FormatInt(id, 10)))
}

// TeamFilter selects teams. Zero fields do not filter.
type TeamFilter struct {
	Query string // substring of name or display name, case-insensitive
	ListOptions
}

// PersonFilter selects people. Zero fields do not filter.
type PersonFilter struct {
	TeamID    int64
	ManagerID int64
	Status    PersonStatus
	Query     string // substring of name, email or external id
	ListOptions
}

// SystemFilter selects systems. Zero fields do not filter.
type SystemFilter struct {
	Kind  SystemKind
	Query string
	ListOptions
}

// IdentityFilter selects identities. Zero fields do not filter.
type IdentityFilter struct {
	Kind        IdentityKind
	SystemID    int64
	OwnerID     int64
	TeamID      int64
	Environment Environment
	Status      IdentityStatus
	Query       string  // substring of name or external id, case-insensitive
	Gap         GapKind // only identities with an open ownership gap of this kind
	Name        string  // exactly this name
	ExternalID  string  // exactly this external id
	// CredentialOlderThan selects identities whose oldest credential was
	// last rotated (or, never rotated, created) more than this many days
	// ago (Identity.OldestCredentialAt). One without a credential, or whose
	// credentials' times are unknown, is not selected.
	CredentialOlderThan int
	// UnusedFor selects identities last used more than this many days ago.
	// One never used (or whose source does not say) is not selected; ask
	// for NeverUsed.
	UnusedFor int
	NeverUsed bool // only identities with no last-used time
	// Sort is the order of the list; id order when empty. A cursor from
	// Page.Next continues the order it was given out for.
	Sort IdentitySort
	// Visible, when set, keeps only the identities a member may see: those
	// its person owns or of its team (see Authorize).
	Visible *Visibility
	ListOptions
}

// Visibility is what a member sees of the inventory: the identities
// PersonID owns and those of TeamID. Zero ids see nothing.
type Visibility struct {
	PersonID int64
	TeamID   int64
}

// EntitlementFilter selects entitlements. Zero fields do not filter.
type EntitlementFilter struct {
	SystemID   int64
	Privileged *bool
	Query      string
	ListOptions
}

// GrantFilter selects grants. Zero fields do not filter.
type GrantFilter struct {
	IdentityID    int64
	EntitlementID int64
	Type          GrantType
	ListOptions
}

// Validate checks the enum fields of f.
func (f *IdentityFilter) Validate() error {
	if f.Kind != "" {
		if err := f.Kind.Validate(); err != nil {
			return err
		}
	}
	if f.Environment != "" {
		if err := f.Environment.Validate(); err != nil {
			return err
		}
	}
	if f.Status != "" {
		if err := f.Status.Validate(); err != nil {
			return err
		}
	}
	if f.Gap != "" {
		if err := f.Gap.Validate(); err != nil {
			return err
		}
	}
	if err := f.Sort.Validate(); err != nil {
		return err
	} else if err := checkDays("credential_older_than", f.CredentialOlderThan); err != nil {
		return err
	} else if err := checkDays("unused_for", f.UnusedFor); err != nil {
		return err
	} else if f.NeverUsed && f.UnusedFor > 0 {
		return Errorf(EINVALID, "never used and unused for %d days exclude each other: an identity never used has no last use to be old; choose one.", f.UnusedFor)
	} else if err := checkText("name", f.Name, 512, false); err != nil {
		return err
	} else if err := checkText("external id", f.ExternalID, 1024, false); err != nil {
		return err
	} else if f.ExternalID != "" && f.SystemID == 0 {
		return Errorf(EINVALID, "an external id is unique within its system: name the system too.")
	}
	return checkQuery(f.Query)
}

func checkQuery(q string) error { return checkText("query", q, 256, false) }

// IdentityView is an identity with the names a reader needs beside the ids.
// Stores fill the names by join; they are never written.
type IdentityView struct {
	Identity
	SystemName  string       `json:"system_name,omitempty"`
	OwnerName   string       `json:"owner_name,omitempty"`
	OwnerStatus PersonStatus `json:"owner_status,omitempty"`
	TeamName    string       `json:"team_name,omitempty"`
}

// GrantView is a grant with its entitlement's name, system and privilege.
type GrantView struct {
	Grant
	EntitlementName string `json:"entitlement_name"`
	SystemID        int64  `json:"system_id"`
	Privileged      bool   `json:"privileged"`
}

// GapKind is the kind of an ownership gap.
type GapKind string

// Ownership gap kinds, counted over active non-human identities.
const (
	GapUnowned       GapKind = "unowned"        // no owner person
	GapOwnerDeparted GapKind = "owner_departed" // the owner has left
	GapTeamInactive  GapKind = "team_inactive"  // the owning team has no active member
)

// GapKinds lists every GapKind.
var GapKinds = []GapKind{GapUnowned, GapOwnerDeparted, GapTeamInactive}

// IdentityCount is the number of identities of one kind and status.
type IdentityCount struct {
	Kind   IdentityKind   `json:"kind"`
	Status IdentityStatus `json:"status"`
	Count  int64          `json:"count"`
}

// InventoryStats summarises the inventory for metrics and the dashboard.
type InventoryStats struct {
	Identities   []IdentityCount   `json:"identities"`
	Gaps         map[GapKind]int64 `json:"ownership_gaps"`
	People       int64             `json:"people"`
	Teams        int64             `json:"teams"`
	Systems      int64             `json:"systems"`
	Entitlements int64             `json:"entitlements"`
	Grants       int64             `json:"grants"`
	// Syncs is the last successful and failed run of each source into each
	// system (people syncs have no system): how fresh the inventory is.
	Syncs []SyncFreshness `json:"syncs"`
}

// SyncFreshness is the last successful and the last failed run of one
// source into one system.
type SyncFreshness struct {
	Source     string     `json:"source"`           // "connector:NAME", "import:FORMAT", "api:import"…
	System     string     `json:"system,omitempty"` // empty for a people sync
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"` // nil: it never succeeded
	FailedAt   *time.Time `json:"failed_at,omitempty"`   // the last failure, even before the last success
	Error      string     `json:"error,omitempty"`       // what that failure said
}

// Bulk is a batch of inventory loaded in one transaction, for the demo
// organisation, imports and benchmarks. Every row carries its own ID, chosen
// by the caller, so that rows of one batch can refer to each other.
type Bulk struct {
	Teams        []Team
	People       []Person
	Systems      []System
	Identities   []Identity
	Credentials  []Credential
	Entitlements []Entitlement
	Grants       []Grant
	Source       string // recorded on the audit event, e.g. "demo seed=1"

	// DeferGaps leaves the ownership gaps of what this batch loads without
	// tasks, for a loader that streams an estate whose history it knows
	// (the demo): its last batch sets GapStarts, which opens them all.
	// Until then the gaps are not listed (the hourly refresh would open
	// them dated that hour).
	DeferGaps bool
	// GapStarts, when set, makes the load open the task of every ownership
	// gap of the inventory that has none, each dated when the gap began
	// (its entry here, else the load's time) and due GapDue after, in the
	// order they began: lists, which show tasks in task order as oldest
	// first, then follow that history. The store alone decides which gaps
	// exist; an entry for a gap an identity does not have opens nothing.
	// A start may not be after the load.
	GapStarts []GapStart
}

// GapStart says when one ownership gap of one identity began: when its
// owner left, its team's last member left, or it was found without an
// owner.
type GapStart struct {
	IdentityID int64     `json:"identity_id"`
	Gap        GapKind   `json:"gap"`
	At         time.Time `json:"at"`
}

// Len returns the number of rows in b.
func (b *Bulk) Len() int {
	return len(b.Teams) + len(b.People) + len(b.Systems) + len(b.Identities) +
		len(b.Credentials) + len(b.Entitlements) + len(b.Grants)
}

// InventoryReader reads the inventory.
type InventoryReader interface {
	// Team returns ENOTFOUND if there is no team with id.
	Team(ctx context.Context, id int64) (*Team, error)
	// Teams returns EINVALID for a bad filter or cursor.
	Teams(ctx context.Context, f TeamFilter) (*Page[Team], error)
	// TeamByName returns ENOTFOUND if there is no team with that name.
	TeamByName(ctx context.Context, name string) (*Team, error)
	// Person returns ENOTFOUND if there is no person with id.
	Person(ctx context.Context, id int64) (*Person, error)
	// PersonByKey returns the person whose e-mail address (compared without
	// case) or external id is key: ENOTFOUND if there is none, EINVALID if
	// several people share the address.
	PersonByKey(ctx context.Context, key string) (*Person, error)
	// People returns EINVALID for a bad filter or cursor.
	People(ctx context.Context, f PersonFilter) (*Page[Person], error)
	// System returns ENOTFOUND if there is no system with id.
	System(ctx context.Context, id int64) (*System, error)
	// SystemByName returns ENOTFOUND if there is no system with that name.
	SystemByName(ctx context.Context, name string) (*System, error)
	// Systems returns EINVALID for a bad filter or cursor.
	Systems(ctx context.Context, f SystemFilter) (*Page[System], error)
	// Identity returns ENOTFOUND if there is no identity with id.
	Identity(ctx context.Context, id int64) (*IdentityView, error)
	// Identities returns EINVALID for a bad filter or cursor.
	Identities(ctx context.Context, f IdentityFilter) (*Page[IdentityView], error)
	// Credentials returns the credential metadata of one identity, oldest
	// first; an unknown identity has none.
	Credentials(ctx context.Context, identityID int64) ([]Credential, error)
	// IdentityLinks returns the links from and to one identity, oldest
	// first; an unknown identity has none.
	IdentityLinks(ctx context.Context, identityID int64) ([]IdentityLinkView, error)
	// Entitlement returns ENOTFOUND if there is no entitlement with id.
	Entitlement(ctx context.Context, id int64) (*Entitlement, error)
	// Entitlements returns EINVALID for a bad filter or cursor.
	Entitlements(ctx context.Context, f EntitlementFilter) (*Page[Entitlement], error)
	// EntitlementByName returns the entitlement of system systemID named
	// exactly name: ENOTFOUND if there is none.
	EntitlementByName(ctx context.Context, systemID int64, name string) (*Entitlement, error)
	// Grants returns EINVALID for a bad filter or cursor.
	Grants(ctx context.Context, f GrantFilter) (*Page[GrantView], error)
	// CountIdentities counts the identities f selects (its sort and cursor
	// aside): exactly up to a bound of the store's, estimated above it
	// (Count.Estimated). It returns EINVALID for a bad filter.
	CountIdentities(ctx context.Context, f IdentityFilter) (*Count, error)
	StatsReader
}

// StatsReader counts the inventory, for metrics and the dashboard.
type StatsReader interface {
	// InventoryStats counts identities by kind and status, and ownership gaps.
	InventoryStats(ctx context.Context) (*InventoryStats, error)
}

// The interfaces below are the roles a store plays, each small enough for
// one consumer to take just the ones it uses (the API server, the web UI,
// the metrics): Store composes them all.

// InventoryWriter changes the inventory: the one-row creates, the bulk
// load and the record of a rotation Steward performed.
type InventoryWriter interface {
	InventoryCreator
	// BulkLoad inserts every row of b in one transaction with one summary
	// audit event, or nothing. It returns EINVALID naming the first bad row,
	// ECONFLICT if an ID or unique key is taken, ENOTFOUND for a reference to
	// a missing row.
	BulkLoad(ctx context.Context, b *Bulk) error
	// RecordRotation records a rotation that Steward performed through a
	// Target: the credential r names, of the identity with that external
	// id in the system, gets r's time as its last rotation and r's expiry,
	// with a credential.rotated event, in one transaction; it is created
	// if the identity had none of that name. It returns EINVALID for a bad
	// result and ENOTFOUND if the system has no such identity.
	RecordRotation(ctx context.Context, systemID int64, identity string, r *RotationResult) (*Credential, error)
	// DisableIdentity records that Steward disabled an identity in its
	// system (a decommission request's fulfilment): an active identity
	// becomes disabled, with an identity.disabled event naming source, and
	// its gaps are refreshed, in one transaction. It reports whether the
	// status changed; an identity not active is left as it is. ENOTFOUND if
	// there is no such identity.
	DisableIdentity(ctx context.Context, id int64, source string) (bool, error)
}

// InventoryCreator creates inventory one row at a time. Each method writes
// its audit event in the same transaction, with the actor from the context
// (WithActor), and sets the ID and server-side timestamps on its argument.
type InventoryCreator interface {
	// CreateTeam returns EINVALID or ECONFLICT (the name is taken).
	CreateTeam(ctx context.Context, t *Team) error
	// CreatePerson returns EINVALID, ECONFLICT (the external id is taken) or
	// ENOTFOUND (the team or manager does not exist).
	CreatePerson(ctx context.Context, p *Person) error
	// CreateSystem returns EINVALID or ECONFLICT (the name is taken).
	CreateSystem(ctx context.Context, s *System) error
	// CreateIdentity returns EINVALID, ECONFLICT (the system already has that
	// external id) or ENOTFOUND (the system, owner or team does not exist).
	CreateIdentity(ctx context.Context, i *Identity) error
	// CreateCredential returns EINVALID or ENOTFOUND (no such identity).
	CreateCredential(ctx context.Context, c *Credential) error
	// CreateEntitlement returns EINVALID, ECONFLICT or ENOTFOUND (no such system).
	CreateEntitlement(ctx context.Context, e *Entitlement) error
	// CreateGrant returns EINVALID, ECONFLICT (the identity already holds the
	// entitlement) or ENOTFOUND (no such identity or entitlement).
	CreateGrant(ctx context.Context, g *Grant) error
}

// TokenService issues and checks API tokens and web sessions.
type TokenService interface {
	// CreateToken stores a new token and returns its secret, which is shown
	// once and never stored. For an automation token it registers the
	// token's identity in Steward's own inventory (the system named
	// SelfSystemName, created on first use), owned by t.OwnerID, with the
	// token as its credential, and sets t.IdentityID. A personal token
	// without an expiry gets DefaultPersonalTokenTTL. It returns EINVALID,
	// ECONFLICT (name taken) or ENOTFOUND (no such person or owner).
	CreateToken(ctx context.Context, t *Token) (raw string, err error)
	// Tokens lists every token, newest last.
	Tokens(ctx context.Context) ([]Token, error)
	// PersonTokens lists one person's personal tokens, newest last.
	PersonTokens(ctx context.Context, personID int64) ([]Token, error)
	// TokenByName returns ENOTFOUND if no token has that name.
	TokenByName(ctx context.Context, name string) (*Token, error)
	// RevokeToken returns ENOTFOUND if there is no token with id. Revoking
	// an automation token disables its identity and credential.
	RevokeToken(ctx context.Context, id int64) error
	Authenticator
	SessionStore
	SignInDirectory
}

// SelfSystemName is the system of Steward's own inventory: the automation
// identities its API tokens belong to.
const SelfSystemName = "steward"

// SelfRegistrar registers the identity Steward itself acts as.
type SelfRegistrar interface {
	// RegisterSteward registers Steward's own automation identity
	// (SelfIdentityName, a service account of the system SelfSystemName,
	// created if missing), owned by owner, with its events, unless it is
	// registered already, in which case it is left as it is (its owner is
	// changed like any identity's). A nil owner leaves it unowned: an
	// ownership gap until someone is assigned. It returns the principal
	// Steward acts as (SelfPrincipal, with IdentityID), ENOTFOUND for an
	// unknown owner, or ECONFLICT when an automation token has taken the
	// name.
	RegisterSteward(ctx context.Context, owner *int64) (*Principal, error)
}

// Authenticator checks API tokens.
type Authenticator interface {
	// Authenticate returns the principal acting with a raw token secret,
	// with Via "token:NAME", or EUNAUTHORIZED if the token is unknown,
	// revoked or expired, or its person has departed.
	Authenticate(ctx context.Context, raw string) (*Principal, error)
	// AuthenticateToken is Authenticate, returning the token itself.
	AuthenticateToken(ctx context.Context, raw string) (*Token, error)
}

// SessionStore keeps the web UI's sessions. A session belongs to an API
// token (a sign-in with a pasted token) or to a person (a sign-in through
// the OpenID provider, in the role decided then).
type SessionStore interface {
	// CreateSession starts a web session for a token and returns the cookie
	// secret. It returns ENOTFOUND for an unknown token.
	CreateSession(ctx context.Context, tokenID int64, ttl time.Duration) (raw string, err error)
	// CreatePersonSession starts a web session for a person signed in
	// through the OpenID provider and returns the cookie secret, with a
	// person.signed_in event. It returns EINVALID for a role sign-in does
	// not give, ENOTFOUND for an unknown person and EFORBIDDEN for one who
	// has departed (CheckSignIn).
	CreatePersonSession(ctx context.Context, s PersonSession, ttl time.Duration) (raw string, err error)
	// SessionPrincipal returns who acts in a live session: the person in
	// the session's role, or the token's principal. It returns
	// EUNAUTHORIZED when the session is unknown or expired, its token
	// revoked or expired, or its person departed.
	SessionPrincipal(ctx context.Context, raw string) (*Principal, error)
	// DeleteSession ends a session; ending an unknown one is not an error.
	DeleteSession(ctx context.Context, raw string) error
}

// SignInDirectory finds, and may create, the people who sign in through
// the OpenID provider.
type SignInDirectory interface {
	// PersonBySignIn returns the person a provider's claim names: by e-mail
	// address without regard to case (ClaimEmail), or by external id
	// exactly (ClaimSubject). It returns ENOTFOUND when there is none and
	// EINVALID when several people share the address.
	PersonBySignIn(ctx context.Context, by PersonClaim, key string) (*Person, error)
	// CreatePerson is InventoryCreator's, for just-in-time creation.
	CreatePerson(ctx context.Context, p *Person) error
}

// AuditLog reads and verifies the audit chain.
type AuditLog interface {
	AuditReader
	// VerifyAudit checks the whole chain; see VerifyChain for what it returns.
	VerifyAudit(ctx context.Context) (int64, error)
}

// AuditReader reads the audit chain.
type AuditReader interface {
	// Events returns EINVALID for a bad filter or cursor. Cursors and order
	// follow Seq.
	Events(ctx context.Context, f EventFilter) (*Page[Event], error)
}

// Pinger tells whether the store can be reached.
type Pinger interface {
	// Ping returns EUNAVAILABLE if the database cannot be reached.
	Ping(ctx context.Context) error
}

// Store is everything Steward keeps. Implementations: store/sqlstore
// (SQLite and PostgreSQL).
type Store interface {
	InventoryReader
	InventoryWriter
	TokenService
	SelfRegistrar
	AuditLog
	OwnershipService
	SyncStore
	CatalogStore
	JITStore
	RequestStore
	Inbox
	Pinger
	// Close releases the database.
	Close() error
}
