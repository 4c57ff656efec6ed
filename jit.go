package steward

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// JITGrant is just-in-time access: an identity holds an entitlement from
// GrantedAt until ExpiresAt, and at expiry Steward revokes it in the
// target system. Nothing privileged stands forever: a grant whose
// revocation the target refused stays visible, failing and retried, until
// the target takes it; it is never shown as revoked before it is.
//
// The inventory's grant of the same identity and entitlement (Grant, of
// type GrantJIT) is the access as the system holds it; the JITGrant is
// its life: why it exists, until when, and what became of it.
type JITGrant struct {
	ID            int64     `json:"id"`
	IdentityID    int64     `json:"identity_id"`
	EntitlementID int64     `json:"entitlement_id"`
	GrantedAt     time.Time `json:"granted_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	// RequestID is the request that granted it, and GrantedBy who did
	// ("person:ada", "automation:ci"), when known.
	RequestID *int64 `json:"request_id,omitempty"`
	GrantedBy string `json:"granted_by,omitempty"`

	// Filled by the store: where the grant is revoked, by the names the
	// target system knows (the identity's external id, the entitlement's
	// name), which a sync uses as its keys and never changes.
	SystemID    int64  `json:"system_id"`
	Identity    string `json:"identity"`
	Entitlement string `json:"entitlement"`

	// Status is what the store last recorded; State tells what it means
	// at a given time (an active grant past its expiry is expired).
	Status    JITState   `json:"status"`
	WarnedAt  *time.Time `json:"warned_at,omitempty"`  // when the expiry warning went out
	RevokedAt *time.Time `json:"revoked_at,omitempty"` // when the target confirmed the revocation
	// Attempts counts the revocations tried, LastError is what the target
	// said to the last one that failed, and NextAttemptAt when a failing
	// grant is tried again.
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// JITState is where a JIT grant is in its life.
type JITState string

// JIT grant states. A grant is active until it expires, then expired until
// the target confirms its revocation (revoked) or refuses it (failing,
// retried with backoff until it is revoked). The store records active,
// failing and revoked; expired is an active grant past its expiry.
const (
	JITActive  JITState = "active"
	JITExpired JITState = "expired"            // past its expiry, revocation pending
	JITFailing JITState = "revocation_failing" // the target refused or could not be reached: alerting, retried
	JITRevoked JITState = "revoked"
)

// JITStates lists every JITState.
var JITStates = []JITState{JITActive, JITExpired, JITFailing, JITRevoked}

// Validate returns EINVALID unless s is a JITState.
func (s JITState) Validate() error { return oneOf("JIT grant state", s, JITStates) }

// MaxJITDuration bounds how long a JIT grant may last: time-bound access
// that lasts longer than a quarter is standing access by another name.
const MaxJITDuration = 90 * 24 * time.Hour

// Validate returns EINVALID describing the first problem with a new grant.
func (g *JITGrant) Validate() error {
	switch {
	case g.IdentityID <= 0 || g.EntitlementID <= 0:
		return Errorf(EINVALID, "a JIT grant needs an identity_id and an entitlement_id.")
	case g.ExpiresAt.IsZero():
		return Errorf(EINVALID, "a JIT grant needs expires_at: time-bound access has an end.")
	case !g.GrantedAt.IsZero() && !g.ExpiresAt.After(g.GrantedAt):
		return Errorf(EINVALID, "a JIT grant must expire after it is granted (granted %s, expires %s).",
			g.GrantedAt.Format(time.RFC3339), g.ExpiresAt.Format(time.RFC3339))
	case !g.GrantedAt.IsZero() && g.ExpiresAt.Sub(g.GrantedAt) > MaxJITDuration:
		return Errorf(EINVALID, "a JIT grant lasts at most %d days; this one lasts %s. Ask for standing access through its request model instead.",
			int(MaxJITDuration/(24*time.Hour)), g.ExpiresAt.Sub(g.GrantedAt).Round(time.Hour))
	case g.RequestID != nil && *g.RequestID <= 0:
		return Errorf(EINVALID, "a JIT grant's request_id must be positive.")
	}
	return checkText("granted_by", g.GrantedBy, 256, false)
}

// State returns where g is at now: an active grant past its expiry is
// expired (its revocation pending).
func (g *JITGrant) State(now time.Time) JITState {
	if g.Status == JITActive && !now.Before(g.ExpiresAt) {
		return JITExpired
	}
	return g.Status
}

// Lag is how late the revocation was: revoked at − expires at. ok is false
// until the grant is revoked.
func (g *JITGrant) Lag() (lag time.Duration, ok bool) {
	if g.RevokedAt == nil {
		return 0, false
	}
	return g.RevokedAt.Sub(g.ExpiresAt), true
}

// RevocationDue reports whether the expiry engine should try to revoke g
// at now: an active grant from its expiry on, a failing one from its next
// attempt on.
func (g *JITGrant) RevocationDue(now time.Time) bool {
	switch g.Status {
	case JITActive:
		return !now.Before(g.ExpiresAt)
	case JITFailing:
		return g.NextAttemptAt == nil || !now.Before(*g.NextAttemptAt)
	}
	return false
}

// WarningDue reports whether the expiry warning of g should go out at now,
// warning before expiry: once, while it is active and not yet expired. A
// warning of zero sends none.
func (g *JITGrant) WarningDue(now time.Time, warning time.Duration) bool {
	return warning > 0 && g.Status == JITActive && g.WarnedAt == nil &&
		now.Before(g.ExpiresAt) && !now.Before(g.ExpiresAt.Add(-warning))
}

// Revocation retry backoff: the first retry after RetryFirst, each next one
// twice as long, at most RetryMax apart. A target down for an hour is tried
// about a dozen times; one down for a day every quarter of an hour.
const (
	RetryFirst = 5 * time.Second
	RetryMax   = 15 * time.Minute
)

// RevocationBackoff returns how long to wait after the attempts-th failed
// revocation (1 for the first) before trying again.
func RevocationBackoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := RetryFirst
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= RetryMax {
			return RetryMax
		}
	}
	return d
}

// DefaultExpiryWarning is how long before expiry the holder of a JIT grant
// is warned, unless configured otherwise.
const DefaultExpiryWarning = 15 * time.Minute

// JITGrantFilter selects JIT grants. Zero fields do not filter.
type JITGrantFilter struct {
	IdentityID int64
	// State selects by state at the store's clock: expired selects the
	// active grants past their expiry, active those before it.
	State JITState
	ListOptions
}

// Revocation is the outcome of one revocation tried through the target:
// revoked at At, or failed with Err and to be tried again at NextAttemptAt
// (RevocationBackoff).
type Revocation struct {
	GrantID       int64     `json:"grant_id"`
	At            time.Time `json:"at"`
	Err           string    `json:"error,omitempty"` // empty: revoked
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
}

// RevocationClaim is a batch of grants due for revocation, claimed by one
// expiry engine until its lease ends: no other claims them meanwhile.
type RevocationClaim struct {
	Lease  int64      // names the claim, at random; FinishRevocations takes it back
	Grants []JITGrant // the grants claimed
}

// JITStats counts JIT grants by state, for metrics and alerts.
type JITStats struct {
	Active  int64 `json:"active"`  // not yet expired
	Expired int64 `json:"expired"` // past expiry, revocation pending
	Failing int64 `json:"failing"` // revocation failing: alert
	// OldestOverdue is the expiry of the longest-overdue grant that is
	// expired or failing; nil if none is.
	OldestOverdue *time.Time `json:"oldest_overdue,omitempty"`
}

// JITStore keeps JIT grants and runs their expiry. Every write is one
// transaction with its audit events; inside UnitOfWork.Atomically it joins
// the caller's, so that a request's approval, its fulfilment and the JIT
// grant it creates commit together.
type JITStore interface {
	// RecordJITGrant records access granted in the target system as JIT
	// grants, with a jit_grant.granted event each: the inventory's grant
	// of each identity and entitlement becomes (or is created as) a grant
	// of type jit with the expiry. It sets each grant's ID, system and
	// names. It returns EINVALID for a bad grant (or an identity and an
	// entitlement of different systems), ENOTFOUND for a missing identity
	// or entitlement, ECONFLICT if the identity holds the entitlement
	// already, standing or by an unrevoked JIT grant. All are recorded or
	// none.
	RecordJITGrant(ctx context.Context, grants ...*JITGrant) error
	// ExtendJITGrant moves the expiry of an active grant to expiresAt
	// (later than now), with a jit_grant.extended event; its warning goes
	// out again before the new expiry. ENOTFOUND if there is no grant
	// with id, ECONFLICT if it is no longer active, EINVALID for a time
	// not after now or beyond MaxJITDuration from its grant.
	ExtendJITGrant(ctx context.Context, id int64, expiresAt time.Time) (*JITGrant, error)
	// JITGrant returns ENOTFOUND if there is no JIT grant with id.
	JITGrant(ctx context.Context, id int64) (*JITGrant, error)
	// JITGrants lists JIT grants by id. EINVALID for a bad filter or cursor.
	JITGrants(ctx context.Context, f JITGrantFilter) (*Page[JITGrant], error)
	// JITStats counts JIT grants by state at the store's clock.
	JITStats(ctx context.Context) (*JITStats, error)
	JITExpiry
}

// JITExpiry is what the expiry engine needs of the store. Claims are
// exclusive across every engine on the database (several replicas on one
// PostgreSQL): a grant claimed by one is not claimed by another until the
// lease ends, and a revocation is recorded only under the lease that
// claimed it, so each expiry is recorded once.
type JITExpiry interface {
	// ClaimRevocations claims up to limit grants whose revocation is due at
	// now (RevocationDue), soonest due first, for lease. A claim that
	// ends without FinishRevocations (the engine stopped) is due again
	// when its lease ends.
	ClaimRevocations(ctx context.Context, now time.Time, limit int, lease time.Duration) (*RevocationClaim, error)
	// FinishRevocations records the outcome of claimed revocations, with
	// their events: a revoked grant leaves the inventory, a failed one is
	// failing until its next attempt. Outcomes of grants no longer held by
	// the lease (it ended and another engine claimed them) are ignored; it
	// returns how many were recorded.
	FinishRevocations(ctx context.Context, lease int64, outcomes []Revocation) (int, error)
	// WarnExpiring writes the expiry warning of up to limit active grants
	// that expire after now and no later than until and have not been
	// warned, each with a jit_grant.expiry_warned event and, in the same
	// transaction, the JITExpiryWarning job of its notices when it
	// concerns somebody; it returns how many it warned.
	WarnExpiring(ctx context.Context, now, until time.Time, limit int) (int, error)
	// NextJITDue returns when the next revocation falls due (an expiry, a
	// retry, a lease's end), nil if none is scheduled.
	NextJITDue(ctx context.Context) (*time.Time, error)
}

// Revoker takes an entitlement away from an identity in a real system: a
// Target does. Revoking what is not held is not an error. It returns
// ENOTFOUND if the system has no such identity or entitlement, EFORBIDDEN
// if the system refuses, EUNAVAILABLE if it cannot be reached.
type Revoker interface {
	Revoke(ctx context.Context, identity, entitlement string) error
}

var _ Revoker = Target(nil)

// RevocationDone reports whether a Revoker's answer means the access is
// gone: revoked, or the system no longer has the identity or the
// entitlement (ENOTFOUND), which holds nothing to revoke. Any other error
// leaves the grant failing, to be tried again.
func RevocationDone(err error) bool {
	return err == nil || ErrorCode(err) == ENOTFOUND
}

// JITExpiryWarning is the job that an expiry warning queues, in the
// transaction that marks the grant warned: it tells the person who asked
// for the access (the grant's request's requester) and the identity's owner
// that it ends soon, so that whoever still needs it extends it in time. It
// carries the names as they were at the warning, which is what the notices
// describe. A grant nobody asked for through a request, on an identity
// without an owner, tells nobody and queues no job.
type JITExpiryWarning struct {
	GrantID       int64     `json:"grant_id"`
	IdentityName  string    `json:"identity_name"`
	SystemName    string    `json:"system_name"`
	Entitlement   string    `json:"entitlement"`
	ExpiresAt     time.Time `json:"expires_at"`
	RequestID     *int64    `json:"request_id,omitempty"`
	RequesterID   *int64    `json:"requester_id,omitempty"`
	RequesterName string    `json:"requester_name,omitempty"`
	OwnerID       *int64    `json:"owner_id,omitempty"`
	OwnerName     string    `json:"owner_name,omitempty"`
	At            time.Time `json:"at"` // when the warning went out
}

// KindJITExpiryWarning is JITExpiryWarning's job kind.
const KindJITExpiryWarning = "jit_expiry_warning"

// Kind implements JobArgs.
func (JITExpiryWarning) Kind() string { return KindJITExpiryWarning }

// Notices returns what each person the warning concerns is told: the
// requester first, then the identity's owner unless they are the same
// person. The requester is told how to extend; the owner, who may not have
// asked, is told who did.
func (j JITExpiryWarning) Notices() []Notice {
	what := fmt.Sprintf("%s of %s on %s", j.Entitlement, j.IdentityName, j.SystemName)
	left := j.ExpiresAt.Sub(j.At).Round(time.Minute)
	if left < time.Minute {
		left = j.ExpiresAt.Sub(j.At).Round(time.Second)
	}
	when := fmt.Sprintf("at %s (in %s)", j.ExpiresAt.UTC().Format(time.RFC3339), left)
	base := Notice{Kind: j.Kind(), ObjectType: ObjectJITGrant, ObjectID: strconv.FormatInt(j.GrantID, 10)}
	var out []Notice
	if j.RequesterID != nil {
		n := base
		n.PersonID = *j.RequesterID
		n.Subject = "Your JIT access ends soon: " + what
		n.Body = fmt.Sprintf("The just-in-time access %s that you asked for expires %s and is then revoked in %s.", what, when, j.SystemName)
		if j.RequestID != nil {
			n.Body += fmt.Sprintf(" If you still need it, ask to extend it: steward request extend %d --duration D (with the justification the model asks for), or \"Extend\" on the request's page. The request's model decides the extension and its longest duration.", *j.RequestID)
		}
		out = append(out, n)
	}
	if j.OwnerID != nil && (j.RequesterID == nil || *j.OwnerID != *j.RequesterID) {
		n := base
		n.PersonID = *j.OwnerID
		n.Subject = "JIT access on your identity ends soon: " + what
		who := "was granted without a request"
		if j.RequesterName != "" {
			who = "was asked for by " + j.RequesterName
		} else if j.RequestID != nil {
			who = fmt.Sprintf("was granted by request %d", *j.RequestID)
		}
		n.Body = fmt.Sprintf("The just-in-time access %s %s; it expires %s and is then revoked in %s. Nothing is needed from you unless the identity still needs it.",
			what, who, when, j.SystemName)
		out = append(out, n)
	}
	return out
}
