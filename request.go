package steward

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RequestState is where an access request stands.
type RequestState string

// Request states. Pending is the only state an approver acts on; approved
// waits for fulfilment; the other five are final.
const (
	RequestPending   RequestState = "pending"   // waiting for its approvals
	RequestApproved  RequestState = "approved"  // approved; fulfilment is queued or being retried
	RequestFulfilled RequestState = "fulfilled" // the access exists in the target system
	RequestFailed    RequestState = "failed"    // fulfilment failed for good; Reason holds the connector's error
	RequestRefused   RequestState = "refused"   // the catalog refused it when it was made; the decision says why
	RequestDenied    RequestState = "denied"    // an eligible approver denied it
	RequestCancelled RequestState = "cancelled" // withdrawn by the requester (or an administrator) while pending
	RequestExpired   RequestState = "expired"   // never decided in time
)

// RequestStates lists every RequestState.
var RequestStates = []RequestState{RequestPending, RequestApproved, RequestFulfilled, RequestFailed,
	RequestRefused, RequestDenied, RequestCancelled, RequestExpired}

// Validate returns EINVALID unless s is a known state.
func (s RequestState) Validate() error { return oneOf("request state", s, RequestStates) }

// Final reports whether nothing more happens to a request in state s.
func (s RequestState) Final() bool { return s != RequestPending && s != RequestApproved }

// AccessRequest is a request made through the catalog: the question asked,
// the decision the catalog gave when it was made, and what happened since.
// People are named by e-mail address.
type AccessRequest struct {
	ID            int64             `json:"id"`
	Requester     string            `json:"requester"`
	Identity      string            `json:"identity"`
	Target        AccessTarget      `json:"target"`
	Duration      Duration          `json:"duration,omitzero"` // jit: how long the grant lasts once fulfilled
	Justification map[string]string `json:"justification,omitempty"`
	Decision      AccessDecision    `json:"decision"`
	State         RequestState      `json:"state"`
	// Level is how far the request has escalated: the approver sets
	// Decision.Approvers[0..Level] may act on it.
	Level     int               `json:"level"`
	Approvals []RequestApproval `json:"approvals,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	// DecideBy is when the current approver level's service level runs
	// out (zero: the tier sets none); ExpiresAt is when a request still
	// pending expires.
	DecideBy  time.Time  `json:"decide_by,omitzero"`
	ExpiresAt time.Time  `json:"expires_at,omitzero"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
	Reason    string     `json:"reason,omitempty"` // why it ended, or why it escalated last

	// Question is the question as it was asked, with the facts the
	// decision saw (the requester's team and manager, the identity's
	// owner, the system's owning team): approvers are resolved from it
	// (ApproverSets), so a later change in the inventory does not change
	// who may approve a request already made.
	Question AccessQuestion `json:"question"`
	// FirstDecideBy is the first DecideBy, which escalation moves on: a
	// request decided after it breached its tier's decision level
	// (Breached).
	FirstDecideBy time.Time `json:"first_decide_by,omitzero"`
	// Extends is the JIT grant a request to extend names; JITGrantID the
	// JIT grant its fulfilment made (or extended).
	Extends    *int64 `json:"extends,omitempty"`
	JITGrantID *int64 `json:"jit_grant_id,omitempty"`
	// Attempts counts the fulfilments tried, LastError is what the target
	// said to the last one that failed (retried with backoff until the
	// request fails for good).
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RequestApproval is one approver's act on a request: who, as which
// approver set, approve or deny, why, and when.
type RequestApproval struct {
	Approver string      `json:"approver"`
	Set      ApproverSet `json:"set"`
	Approve  bool        `json:"approve"`
	Reason   string      `json:"reason"`
	At       time.Time   `json:"at"`
}

// Approver is a person acting on a request and the approver sets they are
// in for it, which the caller resolves from the inventory (the owning team's
// members, the identity's owner, the requester's manager, the security
// team's and a named team's members).
type Approver struct {
	Email string
	Sets  []ApproverSet
}

// MinRequestLife is the least time a request may stay pending before it
// expires; a tier with a decision level gives each approver level that long
// again (RequestDeadlines).
const MinRequestLife = 7 * 24 * time.Hour

// RequestDeadlines returns when a request made at now under decision d
// must be decided at its first approver level (zero when the tier sets no
// decision level) and when it expires if nobody decides it: after every
// approver level has had the decision level, and never sooner than
// MinRequestLife.
func RequestDeadlines(d *AccessDecision, now time.Time) (decideBy, expiresAt time.Time) {
	var level time.Duration
	if d.ServiceLevels != nil {
		level = time.Duration(d.ServiceLevels.Decision)
	}
	life := MinRequestLife
	if level > 0 {
		decideBy = now.Add(level)
		life = max(life, level*time.Duration(len(d.Approvers)+1))
	}
	return decideBy, now.Add(life)
}

// NewAccessRequest makes the request for question q that decision d
// answered at now. An approved decision makes an approved request (its
// fulfilment is next), a pending one waits for approvers, a refused one is
// recorded refused, closed at once, with the decision's refusals as its
// reason.
func NewAccessRequest(q *AccessQuestion, d AccessDecision, now time.Time) *AccessRequest {
	r := &AccessRequest{Requester: q.Requester.Email, Identity: q.Identity.Name, Target: d.Target, Duration: d.Duration,
		Justification: q.Justification, Decision: d, CreatedAt: now, UpdatedAt: now, Question: *q}
	switch d.Outcome {
	case OutcomeApproved:
		r.State = RequestApproved
	case OutcomePending:
		r.State = RequestPending
		r.DecideBy, r.ExpiresAt = RequestDeadlines(&d, now)
		r.FirstDecideBy = r.DecideBy
	default:
		r.State = RequestRefused
		r.ClosedAt = &now
		texts := make([]string, 0, len(d.Reasons))
		for _, x := range d.Refusals() {
			texts = append(texts, x.Text)
		}
		r.Reason = strings.Join(texts, " ")
	}
	return r
}

// EligibleSets returns the approver sets that may act on r now: those of
// its decision up to its escalation level.
func (r *AccessRequest) EligibleSets() []ApproverSet {
	var out []ApproverSet
	for i, n := range r.Decision.Approvers {
		if i > r.Level {
			break
		}
		out = append(out, n.Set)
	}
	return out
}

// Approved returns how many distinct people approved r.
func (r *AccessRequest) Approved() int {
	seen := map[string]bool{}
	for _, a := range r.Approvals {
		if a.Approve {
			seen[a.Approver] = true
		}
	}
	return len(seen)
}

// ActOnRequest decides whether a may approve (approve true) or deny r at
// now, and returns the act to record and the state r is in after it. It
// enforces separation of duties: the requester never acts on their own
// request, whatever their role, and one person gives at most one of the
// approvals the model requires. Only a pending request is acted on, and
// only by someone in an approver set r's level has reached; a reason is
// required. An approval that completes the count approves r; one denial
// denies it. It returns EFORBIDDEN or ECONFLICT (not pending) with the
// reason, and changes nothing: the caller stores the act and the state.
func ActOnRequest(r *AccessRequest, a Approver, approve bool, reason string, now time.Time) (RequestApproval, RequestState, error) {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	reason = strings.TrimSpace(reason)
	switch {
	case r.State != RequestPending:
		return RequestApproval{}, r.State, Errorf(ECONFLICT, "Request %d is %s; only a pending request can be approved or denied.", r.ID, r.State)
	case strings.EqualFold(a.Email, r.Requester):
		return RequestApproval{}, r.State, Errorf(EFORBIDDEN, "%s made request %d and cannot %s it: a requester never decides their own request, administrators included.", a.Email, r.ID, verb)
	case reason == "":
		return RequestApproval{}, r.State, Errorf(EINVALID, "Give a reason to %s request %d; it is kept with the decision.", verb, r.ID)
	}
	for _, p := range r.Approvals {
		if strings.EqualFold(p.Approver, a.Email) {
			return RequestApproval{}, r.State, Errorf(EFORBIDDEN, "%s already acted on request %d (%s); it needs %d approvals from different people.",
				a.Email, r.ID, p.Set, r.Decision.Approvals)
		}
	}
	eligible := r.EligibleSets()
	var as *ApproverSet
	for i := range eligible {
		if slices.Contains(a.Sets, eligible[i]) {
			as = &eligible[i]
			break
		}
	}
	if as == nil {
		return RequestApproval{}, r.State, Errorf(EFORBIDDEN, "%s is not an approver of request %d; it waits for %s.", a.Email, r.ID, r.waitsFor())
	}
	act := RequestApproval{Approver: a.Email, Set: *as, Approve: approve, Reason: reason, At: now}
	if !approve {
		return act, RequestDenied, nil
	}
	if r.Approved()+1 >= max(r.Decision.Approvals, 1) {
		return act, RequestApproved, nil
	}
	return act, RequestPending, nil
}

// waitsFor says whose approvals r waits for, with why, as the decision gave.
func (r *AccessRequest) waitsFor() string {
	var parts []string
	for i, n := range r.Decision.Approvers {
		if i > r.Level {
			break
		}
		parts = append(parts, n.Set.String()+" ("+n.Why+")")
	}
	if len(parts) == 0 {
		return "no approver set"
	}
	return strings.Join(parts, ", or ")
}

// MayCancel decides whether by may cancel r: its requester, or an
// administrator, while it is pending or approved but not yet fulfilled.
func MayCancel(r *AccessRequest, by string, admin bool) error {
	switch {
	case r.State.Final():
		return Errorf(ECONFLICT, "Request %d is %s already.", r.ID, r.State)
	case !admin && !strings.EqualFold(by, r.Requester):
		return Errorf(EFORBIDDEN, "Only %s, who made request %d, or an administrator can cancel it.", r.Requester, r.ID)
	}
	return nil
}

// RequestTimer is what the clock does to a pending request: escalate it to
// the next approver level, or expire it.
type RequestTimer struct {
	State    RequestState // pending (escalated) or expired
	Level    int
	DecideBy time.Time
	Reason   string
}

// TickRequest returns what the clock does to r at now, if anything: a
// pending request past ExpiresAt expires; one past DecideBy escalates to
// its next approver set and gets the decision level again, or, at its last
// set, keeps waiting (its service level is breached, which the metrics
// count). ok is false when nothing changes.
func TickRequest(r *AccessRequest, now time.Time) (t RequestTimer, ok bool) {
	if r.State != RequestPending {
		return t, false
	}
	if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return RequestTimer{State: RequestExpired, Level: r.Level, DecideBy: r.DecideBy,
			Reason: fmt.Sprintf("Nobody decided it by %s; it expired. Ask again if the access is still needed.", r.ExpiresAt.UTC().Format(time.RFC3339))}, true
	}
	if r.DecideBy.IsZero() || now.Before(r.DecideBy) || r.Level+1 >= len(r.Decision.Approvers) {
		return t, false
	}
	var level time.Duration
	if r.Decision.ServiceLevels != nil {
		level = time.Duration(r.Decision.ServiceLevels.Decision)
	}
	next := r.Decision.Approvers[r.Level+1]
	return RequestTimer{State: RequestPending, Level: r.Level + 1, DecideBy: now.Add(level),
		Reason: fmt.Sprintf("Not decided within tier %s's decision level (%s): escalated to %s (%s).", r.Decision.Tier, Duration(level), next.Set, next.Why)}, true
}

// Breached reports whether r missed its tier's decision level at now: it
// was decided (or is still pending) after its first DecideBy. first is
// the request's first DecideBy, which escalation moves on.
func Breached(first time.Time, decidedAt *time.Time, now time.Time) bool {
	if first.IsZero() {
		return false
	}
	at := now
	if decidedAt != nil {
		at = *decidedAt
	}
	return at.After(first)
}

// CandidateModels returns the models of c that serve target for a request
// of kind routine or jit, in catalog order, for a request that names no
// model. None means the request is unmatched demand (UnmatchedDemand).
func CandidateModels(c *Catalog, target *AccessTarget) []*RequestModel {
	var out []*RequestModel
	for i := range c.Models {
		m := &c.Models[i]
		if (m.Kind == ModelRoutine || m.Kind == ModelJIT) && m.Requestable.Matches(target) {
			out = append(out, m)
		}
	}
	return out
}

// UnmatchedDemand is a request no model serves, kept so that the catalog's
// owners see what people ask for and cannot get.
type UnmatchedDemand struct {
	ID            int64             `json:"id"`
	Requester     string            `json:"requester"`
	Team          string            `json:"team,omitempty"`
	Identity      string            `json:"identity"`
	Target        AccessTarget      `json:"target"`
	Justification map[string]string `json:"justification,omitempty"`
	At            time.Time         `json:"at"`
}

// ApproverSets returns the approver sets of r that the person with e-mail
// address email, a member of team (empty: none), is in, by the facts r's
// question recorded: resource-owner is a member of the team that owns the
// system (for a role, of any of its entitlements' systems), identity-owner
// is the identity's owner, requester-manager the requester's manager,
// security a member of securityTeam (the catalog's), team:NAME a member of
// NAME. The requester is in none: they never approve their own request.
func (r *AccessRequest) ApproverSets(email, team, securityTeam string) []ApproverSet {
	if strings.EqualFold(email, r.Requester) {
		return nil
	}
	q := &r.Question
	var out []ApproverSet
	for _, n := range r.Decision.Approvers {
		in := false
		switch n.Set.Kind {
		case ApproverResourceOwner:
			in = team != "" && ownsTarget(&r.Target, team)
		case ApproverIdentityOwner:
			in = q.Identity.Owner != "" && strings.EqualFold(email, q.Identity.Owner)
		case ApproverRequesterManager:
			in = q.Requester.Manager != "" && strings.EqualFold(email, q.Requester.Manager)
		case ApproverSecurity:
			in = team != "" && team == securityTeam
		case ApproverTeam:
			in = team != "" && team == n.Set.Team
		}
		if in && !slices.Contains(out, n.Set) {
			out = append(out, n.Set)
		}
	}
	return out
}

func ownsTarget(t *AccessTarget, team string) bool {
	if t.OwnerTeam == team {
		return true
	}
	for i := range t.Entitlements {
		if t.Entitlements[i].OwnerTeam == team {
			return true
		}
	}
	return false
}

// RequestFilter selects requests. Zero fields do not filter; people are
// named by e-mail address.
type RequestFilter struct {
	Requester string
	State     RequestState
	Identity  string
	Model     string
	// Due selects pending requests whose DecideBy or ExpiresAt is at or
	// before it (the clock's work: TickRequest).
	Due *time.Time
	// Oldest lists oldest first (the inbox: who waited longest comes
	// first, and is never the one a bound leaves out). Default: newest
	// first.
	Oldest bool
	ListOptions
}

// RequestChange is one step in a request's life, written with its event
// (Action) in one transaction. It applies only while the request is in
// state From: otherwise the store returns ECONFLICT and writes nothing, so
// that two approvers, or an approver and the clock, never both move it.
// The domain decides the step (ActOnRequest, TickRequest, MayCancel); the
// store records it.
type RequestChange struct {
	ID     int64
	Action Action // request.approved, request.denied, request.escalated, ...
	From   RequestState
	To     RequestState
	// Approval is the act to add (approve, deny); Level and DecideBy the
	// escalation's; Reason why it ended or escalated; JITGrantID the grant
	// its fulfilment made; Attempts and LastError a fulfilment's try.
	Approval   *RequestApproval
	Level      int
	DecideBy   time.Time
	Reason     string
	JITGrantID *int64
	Attempts   int
	LastError  string
	At         time.Time
}

// RequestStore keeps access requests and unmatched demand. Every write is
// one transaction with its audit event; inside UnitOfWork.Atomically it
// joins the caller's, so that an approval and the fulfilment job it
// enqueues commit together.
type RequestStore interface {
	// CreateRequest records r (any state NewAccessRequest makes) with a
	// request.created event and sets its ID. EINVALID for a request
	// without requester, identity or state.
	CreateRequest(ctx context.Context, r *AccessRequest) error
	// Request returns ENOTFOUND if there is no request with id.
	Request(ctx context.Context, id int64) (*AccessRequest, error)
	// Requests lists requests, newest first. EINVALID for a bad filter or
	// cursor.
	Requests(ctx context.Context, f RequestFilter) (*Page[AccessRequest], error)
	// ChangeRequest applies c and returns the request after it: ENOTFOUND
	// for no request with c.ID, ECONFLICT if it is no longer in c.From,
	// EINVALID for an action that is not a request's.
	ChangeRequest(ctx context.Context, c RequestChange) (*AccessRequest, error)
	// RecordUnmatchedDemand records d with a unmatched_demand.recorded event and
	// sets its ID.
	RecordUnmatchedDemand(ctx context.Context, d *UnmatchedDemand) error
	// UnmatchedDemands lists unmatched demand, newest first.
	UnmatchedDemands(ctx context.Context, o ListOptions) (*Page[UnmatchedDemand], error)
}

// RequestResult is what asking for access gives: the request made (approved,
// pending or refused, with the decision's reasons), or, when no model of
// the catalog serves what was asked, the unmatched demand recorded and the
// models that came closest.
type RequestResult struct {
	Request   *AccessRequest   `json:"request,omitempty"`
	Unmatched *UnmatchedDemand `json:"unmatched,omitempty"`
}

// RequestWorkflow is the request path as the API, the CLI and the web UI
// use it. The acting person is the context's principal (WithPrincipal).
type RequestWorkflow interface {
	// Create decides ref under the catalog in force and records the
	// request, or the unmatched demand when ref names no model and none
	// serves it. An approved request's fulfilment is enqueued in the same
	// transaction.
	Create(ctx context.Context, ref AccessRef) (*RequestResult, error)
	// Preview decides ref as Create would and records nothing ("check
	// before you submit"): the question's Model is empty when no model
	// serves it.
	Preview(ctx context.Context, ref AccessRef) (*AccessQuestion, AccessDecision, error)
	// Approve and Deny act on a pending request as the context's person
	// (ActOnRequest: never the requester, one approval per person).
	// Approve, Deny, Cancel and Extend answer ENOTFOUND, as Get does, for
	// a request the context's member may not see.
	Approve(ctx context.Context, id int64, reason string) (*AccessRequest, error)
	Deny(ctx context.Context, id int64, reason string) (*AccessRequest, error)
	// Cancel withdraws a request not yet fulfilled (MayCancel).
	Cancel(ctx context.Context, id int64, reason string) (*AccessRequest, error)
	// Extend asks to extend the JIT grant that request id made by d: a
	// new request of the same model for the same identity and
	// entitlement, decided again, within the model's maximum, which
	// moves the grant's expiry when fulfilled. ECONFLICT if that grant is
	// no longer active.
	Extend(ctx context.Context, id int64, d Duration, justification map[string]string) (*RequestResult, error)
	// Get returns ENOTFOUND for no request with id (or one the context's
	// member may not see).
	Get(ctx context.Context, id int64) (*AccessRequest, error)
	List(ctx context.Context, f RequestFilter) (*Page[AccessRequest], error)
	// Inbox lists the pending requests the context's person may approve
	// now, oldest first.
	Inbox(ctx context.Context) ([]AccessRequest, error)
	Unmatched(ctx context.Context, o ListOptions) (*Page[UnmatchedDemand], error)
}

// FulfilRequest is the durable job that fulfils an approved request through
// its system's connector. It is enqueued in the transaction that approves
// the request, so it exists if and only if the approval does.
type FulfilRequest struct {
	RequestID int64 `json:"request_id"`
}

// Kind implements JobArgs.
func (FulfilRequest) Kind() string { return "request.fulfil" }
