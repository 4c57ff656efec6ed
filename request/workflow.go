// Package request runs the request path: a person asks for access through
// the catalog, the catalog decides with its reasons, eligible approvers
// approve or deny, the clock escalates and expires what nobody decides, and
// an approved request is fulfilled through its system's connector by a
// durable job enqueued in the approval's own transaction. JIT access it
// grants is recorded with its expiry, which the expiry engine (package jobs)
// revokes on time.
//
// The rules are the domain's pure functions (steward.ActOnRequest,
// steward.TickRequest, steward.MayCancel, steward.DecideAccess through the
// compiled catalog); this package gathers what they need from the store,
// calls them and writes what they decided, each step with its audit event
// in one transaction. It depends on the root package's interfaces only.
package request

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// Store is what the workflow needs of the store.
type Store interface {
	steward.InventoryReader
	steward.RequestStore
	steward.UnitOfWork
	steward.JobQueue
	// CatalogInForce and CatalogDigest return the catalog that decides
	// (steward.CatalogStore).
	CatalogInForce(ctx context.Context) (*steward.CatalogVersion, error)
	CatalogDigest(ctx context.Context) (string, error)
	// RecordJITGrant and ExtendJITGrant record what a JIT request's
	// fulfilment made (steward.JITStore).
	RecordJITGrant(ctx context.Context, grants ...*steward.JITGrant) error
	ExtendJITGrant(ctx context.Context, id int64, expiresAt time.Time) (*steward.JITGrant, error)
	JITGrant(ctx context.Context, id int64) (*steward.JITGrant, error)
	// CreateGrant records the standing access a routine request's
	// fulfilment made, and DisableIdentity what a decommission did
	// (steward.InventoryWriter).
	CreateGrant(ctx context.Context, g *steward.Grant) error
	DisableIdentity(ctx context.Context, id int64, source string) (bool, error)
	// CreateIdentity records the identity a new-identity request made.
	CreateIdentity(ctx context.Context, i *steward.Identity) error
}

// Config configures a Workflow. Store, Compile and Targets are required.
type Config struct {
	Store Store
	// Compile compiles the catalog in force (cmd/steward's, on the policy
	// package); the workflow keeps the last one by its digest.
	Compile steward.CatalogCompiler
	// Targets returns the connector that grants in a system, by the
	// system's name: ENOTIMPL (or any error) when Steward cannot act
	// there, which fails the request with that text.
	Targets func(ctx context.Context, system string) (steward.Target, error)
	// MaxAttempts is how many times fulfilment is tried before the
	// request fails for good. Default: 5.
	MaxAttempts int
	// Now is the clock. Default: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Workflow is the request path. It implements steward.RequestWorkflow.
type Workflow struct {
	cfg Config

	mu      sync.Mutex
	digest  string
	catalog *steward.Catalog
	decider steward.AccessDecider
}

var _ steward.RequestWorkflow = (*Workflow)(nil)

// New returns a Workflow, or EINVALID for a configuration that lacks a part.
func New(cfg Config) (*Workflow, error) {
	if cfg.Store == nil || cfg.Compile == nil || cfg.Targets == nil {
		return nil, steward.Errorf(steward.EINVALID, "the request workflow needs a store, a catalog compiler and the connectors.")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Workflow{cfg: cfg}, nil
}

// MaxAttempts is how many times a request's fulfilment is tried.
func (w *Workflow) MaxAttempts() int { return w.cfg.MaxAttempts }

func (w *Workflow) now() time.Time { return w.cfg.Now().UTC() }

// Catalog returns the catalog in force and its decider, compiled once per
// version. ENOTFOUND when no catalog was ever applied.
func (w *Workflow) Catalog(ctx context.Context) (*steward.Catalog, steward.AccessDecider, error) {
	noCatalog := func(err error) error {
		if steward.ErrorCode(err) == steward.ENOTFOUND {
			return steward.Errorf(steward.ENOTFOUND, "No catalog is in force: apply one (steward apply -f catalog.yaml) before asking for access.")
		}
		return err
	}
	// The digest is one small read; the catalog's text is read and
	// compiled again only when another version is in force.
	digest, err := w.cfg.Store.CatalogDigest(ctx)
	if err != nil {
		return nil, nil, noCatalog(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.digest == digest {
		return w.catalog, w.decider, nil
	}
	v, err := w.cfg.Store.CatalogInForce(ctx)
	if err != nil {
		return nil, nil, noCatalog(err)
	}
	if w.digest != v.Digest {
		c, d, err := w.cfg.Compile([]byte(v.Source))
		if err != nil {
			return nil, nil, err
		}
		w.digest, w.catalog, w.decider = v.Digest, c, d
	}
	return w.catalog, w.decider, nil
}

// person returns the context's principal, which must be a person: requests
// are made and decided by people.
func person(ctx context.Context, doing string) (steward.Principal, error) {
	p, ok := steward.PrincipalFrom(ctx)
	if !ok || p.Kind != steward.PrincipalPerson {
		who := "nobody"
		if ok {
			who = p.Actor()
		}
		return p, steward.Errorf(steward.EFORBIDDEN, "Only a person can %s; %s is not one. Sign in as yourself.", doing, who)
	}
	// Every caller checks this too (the API's and the web UI's routes);
	// the workflow does not rely on it.
	if d := steward.Authorize(p, steward.PermRequestAct); !d.Allowed {
		return p, steward.Errorf(steward.EFORBIDDEN, "%s may not %s: %s", p.Actor(), doing, d.Reason)
	}
	return p, nil
}

// Create decides ref under the catalog in force, as the context's person,
// and records the request (approved, pending or refused) or, when ref names
// no model and none serves it, the unmatched demand. An approved request's
// fulfilment job is enqueued in the same transaction.
func (w *Workflow) Create(ctx context.Context, ref steward.AccessRef) (*steward.RequestResult, error) {
	p, err := person(ctx, "ask for access")
	if err != nil {
		return nil, err
	}
	ref.Requester = p.Name
	c, decider, err := w.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	q, d, err := w.decide(ctx, c, decider, ref)
	if err != nil {
		return nil, err
	}
	if q.Model == "" {
		u := &steward.UnmatchedDemand{Requester: q.Requester.Email, Team: q.Requester.Team, Identity: q.Identity.Name,
			Target: q.Target, Justification: q.Justification, At: w.now()}
		if err := w.cfg.Store.RecordUnmatchedDemand(ctx, u); err != nil {
			return nil, err
		}
		return &steward.RequestResult{Unmatched: u}, nil
	}
	r := steward.NewAccessRequest(q, d, w.now())
	if err := w.record(ctx, r); err != nil {
		return nil, err
	}
	return &steward.RequestResult{Request: r}, nil
}

// Preview decides ref under the catalog in force as the context's person,
// and records nothing: what would happen if they asked ("check before you
// submit"). The question's Model is empty, and the decision zero, when no
// model serves what ref asks for.
func (w *Workflow) Preview(ctx context.Context, ref steward.AccessRef) (*steward.AccessQuestion, steward.AccessDecision, error) {
	p, err := person(ctx, "ask for access")
	if err != nil {
		return nil, steward.AccessDecision{}, err
	}
	ref.Requester = p.Name
	c, decider, err := w.Catalog(ctx)
	if err != nil {
		return nil, steward.AccessDecision{}, err
	}
	return w.decide(ctx, c, decider, ref)
}

// decide asks ref under c. With no model named it tries the models that
// serve the target (steward.CandidateModels), in catalog order, and takes
// the first that approves, else the first that leaves it pending, else the
// first refusal; q.Model stays empty when no model serves it.
func (w *Workflow) decide(ctx context.Context, c *steward.Catalog, decider steward.AccessDecider, ref steward.AccessRef) (*steward.AccessQuestion, steward.AccessDecision, error) {
	q, err := steward.AskAccess(ctx, w.cfg.Store, c, ref)
	if err != nil {
		return nil, steward.AccessDecision{}, err
	}
	if ref.Model != "" {
		return q, decider.Decide(q), nil
	}
	var best *steward.AccessDecision
	var bestModel string
	rank := map[steward.Outcome]int{steward.OutcomeApproved: 0, steward.OutcomePending: 1, steward.OutcomeRefused: 2}
	for _, m := range steward.CandidateModels(c, &q.Target) {
		q.Model = m.Name
		d := decider.Decide(q)
		if best == nil || rank[d.Outcome] < rank[best.Outcome] {
			best, bestModel = &d, m.Name
		}
		if d.Outcome == steward.OutcomeApproved {
			break
		}
	}
	if best == nil {
		q.Model = ""
		return q, steward.AccessDecision{}, nil
	}
	q.Model = bestModel
	return q, *best, nil
}

// record writes a new request, and its fulfilment job when it is approved
// at once, in one transaction.
func (w *Workflow) record(ctx context.Context, r *steward.AccessRequest) error {
	return w.cfg.Store.Atomically(ctx, func(ctx context.Context) error {
		if err := w.cfg.Store.CreateRequest(ctx, r); err != nil {
			return err
		}
		if r.State == steward.RequestApproved {
			return w.cfg.Store.Enqueue(ctx, steward.FulfilRequest{RequestID: r.ID})
		}
		return nil
	})
}

// Approve approves request id as the context's person.
func (w *Workflow) Approve(ctx context.Context, id int64, reason string) (*steward.AccessRequest, error) {
	return w.act(ctx, id, true, reason)
}

// Deny denies request id as the context's person.
func (w *Workflow) Deny(ctx context.Context, id int64, reason string) (*steward.AccessRequest, error) {
	return w.act(ctx, id, false, reason)
}

func (w *Workflow) act(ctx context.Context, id int64, approve bool, reason string) (*steward.AccessRequest, error) {
	verb := "deny requests"
	if approve {
		verb = "approve requests"
	}
	p, err := person(ctx, verb)
	if err != nil {
		return nil, err
	}
	// Get: a request a member may not read is not there to act on either,
	// so that acting tells no more than reading (its state, approvers,
	// requester).
	r, err := w.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	a, err := w.approver(ctx, r, p.Name)
	if err != nil {
		return nil, err
	}
	act, state, err := steward.ActOnRequest(r, a, approve, reason, w.now())
	if err != nil {
		return nil, err
	}
	action := steward.ActionRequestDenied
	if approve {
		action = steward.ActionRequestApproved
	}
	var out *steward.AccessRequest
	err = w.cfg.Store.Atomically(ctx, func(ctx context.Context) error {
		out, err = w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: id, Action: action, From: steward.RequestPending,
			To: state, Approval: &act, Level: r.Level, DecideBy: r.DecideBy, At: act.At})
		if err != nil {
			return err
		}
		// Approvals given at once are all kept (the store appends each),
		// though each approver saw too few to approve: the one whose step
		// brings the count up approves the request.
		if state == steward.RequestPending && approve && out.Approved() >= max(out.Decision.Approvals, 1) {
			state = steward.RequestApproved
			out, err = w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: id, Action: steward.ActionRequestApproved, From: steward.RequestPending,
				To: state, Reason: fmt.Sprintf("%d approvals, as model %s needs.", out.Approved(), out.Decision.Model), At: act.At})
			if err != nil {
				return err
			}
		}
		if state == steward.RequestApproved {
			return w.cfg.Store.Enqueue(ctx, steward.FulfilRequest{RequestID: id})
		}
		return nil
	})
	if steward.ErrorCode(err) == steward.ECONFLICT {
		return nil, steward.Errorf(steward.ECONFLICT, "Request %d changed while you acted on it (someone else decided it, or it escalated or expired); look at it again.", id)
	}
	return out, err
}

// approver resolves the approver sets of person email for r from the
// inventory: their team, and the catalog's security team.
func (w *Workflow) approver(ctx context.Context, r *steward.AccessRequest, email string) (steward.Approver, error) {
	team, security, err := w.teamsOf(ctx, email)
	if err != nil {
		return steward.Approver{}, err
	}
	return steward.Approver{Email: email, Sets: r.ApproverSets(email, team, security)}, nil
}

// teamsOf returns what ApproverSets needs to know of person email: their
// team, and the catalog's security team ("" without a catalog).
func (w *Workflow) teamsOf(ctx context.Context, email string) (team, security string, err error) {
	if team, err = w.teamOf(ctx, email); err != nil {
		return "", "", err
	}
	if c, _, err := w.Catalog(ctx); err == nil {
		security = c.SecurityTeam
	}
	return team, security, nil
}

func (w *Workflow) teamOf(ctx context.Context, email string) (string, error) {
	p, err := w.cfg.Store.PersonByKey(ctx, email)
	if err != nil {
		if steward.ErrorCode(err) == steward.ENOTFOUND {
			return "", nil
		}
		return "", err
	}
	if p.TeamID == nil {
		return "", nil
	}
	t, err := w.cfg.Store.Team(ctx, *p.TeamID)
	if err != nil {
		return "", err
	}
	return t.Name, nil
}

// Cancel withdraws request id: its requester, or an administrator, while it
// is not yet fulfilled.
func (w *Workflow) Cancel(ctx context.Context, id int64, reason string) (*steward.AccessRequest, error) {
	p, ok := steward.PrincipalFrom(ctx)
	if !ok {
		return nil, steward.Errorf(steward.EFORBIDDEN, "Sign in to cancel a request.")
	}
	r, err := w.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := steward.MayCancel(r, p.Name, p.Role == steward.RoleAdmin); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "Cancelled by " + p.Name + "."
	}
	return w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: id, Action: steward.ActionRequestCancelled, From: r.State,
		To: steward.RequestCancelled, Reason: reason, Level: r.Level, DecideBy: r.DecideBy, At: w.now()})
}

// Extend asks to extend the JIT grant that request id made by d.
func (w *Workflow) Extend(ctx context.Context, id int64, d steward.Duration, justification map[string]string) (*steward.RequestResult, error) {
	p, err := person(ctx, "ask to extend access")
	if err != nil {
		return nil, err
	}
	r, err := w.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Decision.Kind != steward.ModelJIT || r.State != steward.RequestFulfilled || r.JITGrantID == nil {
		return nil, steward.Errorf(steward.ECONFLICT, "Request %d made no JIT grant (it is a %s request, %s); only time-bound access is extended.", id, orKind(r.Decision.Kind), r.State)
	}
	g, err := w.cfg.Store.JITGrant(ctx, *r.JITGrantID)
	if err != nil {
		return nil, err
	}
	if st := g.State(w.now()); st != steward.JITActive {
		return nil, steward.Errorf(steward.ECONFLICT, "The access request %d granted is %s; ask for it again instead of extending it.", id, st)
	}
	if d <= 0 {
		return nil, steward.Errorf(steward.EINVALID, "Say how much longer the access is needed (a duration such as 2h).")
	}
	c, decider, err := w.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	ref := steward.AccessRef{Model: r.Decision.Model, Requester: p.Name, Identity: r.Identity, System: r.Question.Identity.System,
		Entitlement: r.Target.Name, Role: r.Target.Role, Duration: d, Justification: justification}
	q, dec, err := w.decide(ctx, c, decider, ref)
	if err != nil {
		return nil, err
	}
	nr := steward.NewAccessRequest(q, dec, w.now())
	nr.Extends = r.JITGrantID
	if err := w.record(ctx, nr); err != nil {
		return nil, err
	}
	return &steward.RequestResult{Request: nr}, nil
}

func orKind(k steward.ModelKind) string {
	if k == "" {
		return "non-JIT"
	}
	return string(k)
}

// Get returns request id. A member sees their own requests and those they
// may decide; any other answers ENOTFOUND, as if it did not exist.
func (w *Workflow) Get(ctx context.Context, id int64) (*steward.AccessRequest, error) {
	r, err := w.cfg.Store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, err := w.maySee(ctx, r); err != nil {
		return nil, err
	} else if !ok {
		return nil, steward.Errorf(steward.ENOTFOUND, "No request %d.", id)
	}
	return r, nil
}

func (w *Workflow) maySee(ctx context.Context, r *steward.AccessRequest) (bool, error) {
	p, ok := steward.PrincipalFrom(ctx)
	if !ok {
		return false, nil
	}
	if p.Role != steward.RoleMember {
		return true, nil
	}
	if strings.EqualFold(p.Name, r.Requester) {
		return true, nil
	}
	a, err := w.approver(ctx, r, p.Name)
	if err != nil {
		return false, err
	}
	return len(a.Sets) > 0, nil
}

// List lists requests, newest first. A member lists their own by default;
// naming another requester, they list what they may see of that person's
// requests (those they are an approver of), as a member's other lists are
// filtered rather than refused.
func (w *Workflow) List(ctx context.Context, f steward.RequestFilter) (*steward.Page[steward.AccessRequest], error) {
	p, ok := steward.PrincipalFrom(ctx)
	if !ok {
		return nil, steward.Errorf(steward.EFORBIDDEN, "Sign in to list requests.")
	}
	if p.Role != steward.RoleMember {
		return w.cfg.Store.Requests(ctx, f)
	}
	if f.Requester == "" || strings.EqualFold(f.Requester, p.Name) {
		f.Requester = p.Name
		return w.cfg.Store.Requests(ctx, f)
	}
	return w.decidable(ctx, p.Name, f)
}

// Bounds of a filtered list: how many requests one page reads, in how many
// reads of the store, before it answers a short page with a cursor to go on.
const (
	filterScan  = 5000
	filterReads = 100
)

// decidable lists the requests of f that email is an approver of (by the
// facts each recorded, ApproverSets), newest first. The store is read page
// by page for the number still missing, so that the page's cursor is the
// store's own; a page may be short (even empty) with a cursor when the
// scan bound is reached, and the caller goes on from it.
func (w *Workflow) decidable(ctx context.Context, email string, f steward.RequestFilter) (*steward.Page[steward.AccessRequest], error) {
	_, limit, err := f.ListOptions.Normalize()
	if err != nil {
		return nil, err
	}
	team, security, err := w.teamsOf(ctx, email)
	if err != nil {
		return nil, err
	}
	out := &steward.Page[steward.AccessRequest]{Items: []steward.AccessRequest{}}
	for scanned, reads := 0, 0; ; reads++ {
		f.Limit = limit - len(out.Items)
		page, err := w.cfg.Store.Requests(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			if r := &page.Items[i]; len(r.ApproverSets(email, team, security)) > 0 {
				out.Items = append(out.Items, *r)
			}
		}
		scanned += len(page.Items)
		out.Next = page.Next
		if page.Next == "" || len(out.Items) >= limit || scanned >= filterScan || reads+1 >= filterReads {
			return out, nil
		}
		f.After = page.Next
	}
}

// inboxScan bounds how many pending requests Inbox reads.
const inboxScan = 5000

// Inbox lists the pending requests the context's person may approve now,
// oldest first: those whose reached approver sets include them and that
// they have not acted on yet.
func (w *Workflow) Inbox(ctx context.Context) ([]steward.AccessRequest, error) {
	p, err := person(ctx, "have an approver's inbox")
	if err != nil {
		return nil, err
	}
	team, security, err := w.teamsOf(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	var out []steward.AccessRequest
	f := steward.RequestFilter{State: steward.RequestPending, Oldest: true, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	for read := 0; ; {
		page, err := w.cfg.Store.Requests(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			r := &page.Items[i]
			if mayActNow(r, p.Name, r.ApproverSets(p.Name, team, security)) {
				out = append(out, *r)
			}
		}
		read += len(page.Items)
		if page.Next == "" {
			break
		}
		if read >= inboxScan {
			// The longest-waiting are in; what is left out is the newest.
			w.cfg.Logger.Warn("inbox: more pending requests than one inbox reads; the newest are left out", "read", read, "person", p.Name)
			break
		}
		f.After = page.Next
	}
	return out, nil
}

// mayActNow reports whether email, in sets, may act on pending r now.
func mayActNow(r *steward.AccessRequest, email string, sets []steward.ApproverSet) bool {
	for _, a := range r.Approvals {
		if strings.EqualFold(a.Approver, email) {
			return false
		}
	}
	for _, s := range r.EligibleSets() {
		if slices.Contains(sets, s) {
			return true
		}
	}
	return false
}

// Unmatched lists unmatched demand, newest first.
func (w *Workflow) Unmatched(ctx context.Context, o steward.ListOptions) (*steward.Page[steward.UnmatchedDemand], error) {
	return w.cfg.Store.UnmatchedDemands(ctx, o)
}

// Tick escalates the pending requests whose decision level ran out and
// expires those nobody decided (steward.TickRequest), up to limit of them,
// and returns how many it changed. Run it from one scheduler (the jobs
// runner's leader): a request moved meanwhile by someone else is skipped.
func (w *Workflow) Tick(ctx context.Context, limit int) (int, error) {
	now := w.now()
	ctx = asSteward(ctx, "job:request-clock")
	page, err := w.cfg.Store.Requests(ctx, steward.RequestFilter{State: steward.RequestPending, Due: &now,
		ListOptions: steward.ListOptions{Limit: min(max(limit, 1), steward.MaxLimit)}})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range page.Items {
		r := &page.Items[i]
		t, ok := steward.TickRequest(r, now)
		if !ok {
			continue
		}
		action := steward.ActionRequestEscalated
		if t.State == steward.RequestExpired {
			action = steward.ActionRequestExpired
		}
		_, err := w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: r.ID, Action: action, From: steward.RequestPending, To: t.State,
			Level: t.Level, DecideBy: t.DecideBy, Reason: t.Reason, At: now})
		switch {
		case err == nil:
			n++
		case steward.ErrorCode(err) == steward.ECONFLICT:
		default:
			return n, err
		}
	}
	return n, nil
}

// asSteward makes Steward's own automation identity the actor of what the
// clock and fulfilment do, through job, or through whoever runs them when
// someone does (the demo's seeding, run by a local administrator).
func asSteward(ctx context.Context, job string) context.Context {
	if p, ok := steward.PrincipalFrom(ctx); ok {
		job = p.Actor()
	}
	return steward.WithPrincipal(ctx, steward.SelfPrincipal(job))
}

// Fulfil fulfils approved request id through its system's connector, the
// attempt-th time (from 1). It grants every entitlement the request names
// (a role's, in each of its systems) and then, in one transaction, records
// the JIT grant with its expiry (or the standing grant, or the extended
// expiry) and the request fulfilled. A try that fails is recorded on the
// request (request.fulfilment_failed) and returned, to be retried with
// backoff; the last one, or an error another try cannot mend (the system,
// identity or entitlement does not exist, the connector refuses), fails
// the request with the connector's error, and Fulfil returns nil: there is
// nothing left to retry. A request no longer approved (cancelled) is left
// alone.
func (w *Workflow) Fulfil(ctx context.Context, id int64, attempt int) error {
	ctx = asSteward(ctx, "job:request.fulfil")
	r, err := w.cfg.Store.Request(ctx, id)
	if err != nil {
		return err
	}
	if r.State != steward.RequestApproved {
		return nil
	}
	err = w.fulfil(ctx, r, attempt)
	if err == nil {
		return nil
	}
	now := w.now()
	last := attempt >= w.cfg.MaxAttempts || permanent(err)
	if !last {
		_, cerr := w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: id, Action: steward.ActionRequestFulfilmentFailed,
			From: steward.RequestApproved, To: steward.RequestApproved, Attempts: attempt, LastError: steward.FailureText(err),
			Level: r.Level, DecideBy: r.DecideBy, At: now})
		if cerr != nil && steward.ErrorCode(cerr) != steward.ECONFLICT {
			return errors.Join(err, cerr)
		}
		return err
	}
	w.cfg.Logger.Warn("request fulfilment failed for good", "request", id, "attempt", attempt, "error", err)
	_, cerr := w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: id, Action: steward.ActionRequestFailed,
		From: steward.RequestApproved, To: steward.RequestFailed, Attempts: attempt, LastError: steward.FailureText(err),
		Reason: fmt.Sprintf("Fulfilment failed after %d attempt(s): %s", attempt, steward.ErrorMessage(err)), Level: r.Level, DecideBy: r.DecideBy, At: now})
	if cerr != nil && steward.ErrorCode(cerr) != steward.ECONFLICT {
		return cerr
	}
	return nil
}

// permanent reports whether another try cannot mend err.
func permanent(err error) bool {
	switch steward.ErrorCode(err) {
	case steward.EINVALID, steward.ENOTFOUND, steward.EFORBIDDEN, steward.ECONFLICT, steward.ENOTIMPL:
		return true
	}
	return false
}

// member is one entitlement a request grants: where, and to whom.
type member struct {
	system      *steward.System
	identity    *steward.IdentityView
	entitlement *steward.Entitlement
}

func (w *Workflow) fulfil(ctx context.Context, r *steward.AccessRequest, attempt int) error {
	switch r.Decision.Kind {
	case steward.ModelRoutine, steward.ModelJIT:
	case steward.ModelDecommission:
		return w.decommission(ctx, r)
	case steward.ModelNewIdentity:
		return w.newIdentity(ctx, r, attempt)
	default:
		return steward.Errorf(steward.ENOTIMPL, "Steward cannot fulfil a %s request through a connector yet: the request is approved; make %s in %s by hand.",
			r.Decision.Kind, r.Identity, r.Question.Identity.System)
	}
	members, err := w.members(ctx, r)
	if err != nil {
		return err
	}
	// What this fulfilment gives that the identity did not hold, which is
	// what must not stand if the request is cancelled meanwhile.
	var fresh []member
	if r.Extends == nil {
		for _, m := range members {
			held, err := w.cfg.Store.Grants(ctx, steward.GrantFilter{IdentityID: m.identity.ID, EntitlementID: m.entitlement.ID, ListOptions: steward.ListOptions{Limit: 1}})
			if err != nil {
				return err
			}
			if len(held.Items) == 0 {
				fresh = append(fresh, m)
			}
		}
	}
	grantedAt := w.now()
	for _, m := range members {
		t, err := w.cfg.Targets(ctx, m.system.Name)
		if err != nil {
			return err
		}
		if err := t.Grant(ctx, m.identity.ExternalID, m.entitlement.Name); err != nil {
			return err
		}
	}
	err = w.recordFulfilment(ctx, r, members)
	switch steward.ErrorCode(err) {
	case steward.ECONFLICT, steward.EUNAVAILABLE:
		// No longer approved, or the record lost a deadlock to what
		// changed it (a cancel): a later try would find it closed and
		// do nothing, so whatever closed it is handled now.
		return w.undo(ctx, r, fresh, grantedAt, err)
	}
	return err
}

// undo handles a fulfilment whose record failed because the request is
// no longer approved: cancelled (or failed by another try) while the
// target was granting. The memberships it gave that the identity did not
// hold before must not stand with nothing to show for them, so they are
// recorded as JIT grants that expire at once: the expiry engine revokes
// them through the target, retrying while it refuses, audited as every
// revocation is. A request still approved (the record was only busy) is
// left for the next try with the error, and one that another try
// fulfilled meanwhile as it is.
func (w *Workflow) undo(ctx context.Context, r *steward.AccessRequest, fresh []member, grantedAt time.Time, conflict error) error {
	cur, err := w.cfg.Store.Request(ctx, r.ID)
	if err != nil {
		return errors.Join(conflict, err)
	}
	if cur.State == steward.RequestFulfilled || cur.State == steward.RequestApproved {
		return conflict
	}
	if len(fresh) == 0 {
		return nil
	}
	expires := w.now()
	if !expires.After(grantedAt) {
		expires = grantedAt.Add(time.Millisecond)
	}
	grants := make([]*steward.JITGrant, len(fresh))
	for i, m := range fresh {
		grants[i] = &steward.JITGrant{IdentityID: m.identity.ID, EntitlementID: m.entitlement.ID, GrantedAt: grantedAt,
			ExpiresAt: expires, RequestID: &r.ID, GrantedBy: "job:request.fulfil"}
	}
	if err := w.cfg.Store.RecordJITGrant(ctx, grants...); err != nil {
		return errors.Join(conflict, err)
	}
	w.cfg.Logger.Warn("request no longer approved when its fulfilment was recorded; what it granted is revoked at once",
		"request", r.ID, "state", cur.State, "grants", len(grants))
	return nil
}

// recordFulfilment writes what a fulfilment made, and the request
// fulfilled, in one unit of work; ECONFLICT if the request is no longer
// approved.
func (w *Workflow) recordFulfilment(ctx context.Context, r *steward.AccessRequest, members []member) error {
	now := w.now()
	return w.cfg.Store.Atomically(ctx, func(ctx context.Context) error {
		var grantID *int64
		switch {
		case r.Decision.Kind == steward.ModelJIT && r.Extends != nil:
			g, err := w.cfg.Store.JITGrant(ctx, *r.Extends)
			if err != nil {
				return err
			}
			if _, err := w.cfg.Store.ExtendJITGrant(ctx, g.ID, g.ExpiresAt.Add(time.Duration(r.Duration))); err != nil {
				return err
			}
			grantID = &g.ID
		case r.Decision.Kind == steward.ModelJIT:
			grants := make([]*steward.JITGrant, len(members))
			for i, m := range members {
				grants[i] = &steward.JITGrant{IdentityID: m.identity.ID, EntitlementID: m.entitlement.ID, GrantedAt: now,
					ExpiresAt: now.Add(time.Duration(r.Duration)), RequestID: &r.ID, GrantedBy: "person:" + r.Requester}
			}
			if err := w.cfg.Store.RecordJITGrant(ctx, grants...); err != nil {
				return err
			}
			grantID = &grants[0].ID
		default:
			for _, m := range members {
				err := w.cfg.Store.CreateGrant(ctx, &steward.Grant{IdentityID: m.identity.ID, EntitlementID: m.entitlement.ID,
					Type: steward.GrantStanding, GrantedAt: now, GrantedVia: fmt.Sprintf("request:%d", r.ID)})
				if err != nil && steward.ErrorCode(err) != steward.ECONFLICT { // held already: granted is granted
					return err
				}
			}
		}
		return w.fulfilled(ctx, r, grantID, now)
	})
}

// fulfilled records r fulfilled at at (with the JIT grant it made, if
// any), inside the unit that records what its fulfilment made; ECONFLICT
// if r is no longer approved.
func (w *Workflow) fulfilled(ctx context.Context, r *steward.AccessRequest, grantID *int64, at time.Time) error {
	_, err := w.cfg.Store.ChangeRequest(ctx, steward.RequestChange{ID: r.ID, Action: steward.ActionRequestFulfilled,
		From: steward.RequestApproved, To: steward.RequestFulfilled, JITGrantID: grantID, Attempts: r.Attempts + 1,
		Level: r.Level, DecideBy: r.DecideBy, At: at})
	return err
}

// members resolves what r grants to inventory objects: its entitlement, or
// each of its role's, held by r's identity in the entitlement's system.
func (w *Workflow) members(ctx context.Context, r *steward.AccessRequest) ([]member, error) {
	type want struct{ system, name string }
	var wants []want
	if r.Target.Role != "" {
		for _, e := range r.Target.Entitlements {
			wants = append(wants, want{e.System, e.Name})
		}
	} else {
		wants = append(wants, want{r.Target.System, r.Target.Name})
	}
	if len(wants) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "Request %d names nothing to grant.", r.ID)
	}
	var out []member
	for _, x := range wants {
		sys, err := w.cfg.Store.SystemByName(ctx, x.system)
		if err != nil {
			return nil, err
		}
		id, err := steward.IdentityNamed(ctx, w.cfg.Store, sys, r.Identity)
		if err != nil {
			return nil, err
		}
		ent, err := steward.EntitlementNamed(ctx, w.cfg.Store, sys, x.name)
		if err != nil {
			return nil, err
		}
		out = append(out, member{system: sys, identity: id, entitlement: ent})
	}
	return out, nil
}

// decommission disables r's identity in its system, and records the
// request fulfilled; the next sync sees the identity disabled.
func (w *Workflow) decommission(ctx context.Context, r *steward.AccessRequest) error {
	sys, err := w.cfg.Store.SystemByName(ctx, r.Question.Identity.System)
	if err != nil {
		return err
	}
	iv, err := steward.IdentityNamed(ctx, w.cfg.Store, sys, r.Identity)
	if err != nil {
		return err
	}
	t, err := w.cfg.Targets(ctx, sys.Name)
	if err != nil {
		return err
	}
	if err := t.Disable(ctx, iv.ExternalID); err != nil {
		return err
	}
	// The inventory shows it disabled at once, not after the next sync,
	// in the unit that fulfils the request.
	source := fmt.Sprintf("request %d (decommission)", r.ID)
	err = w.cfg.Store.Atomically(ctx, func(ctx context.Context) error {
		if _, err := w.cfg.Store.DisableIdentity(ctx, iv.ID, source); err != nil {
			return err
		}
		return w.fulfilled(ctx, r, nil, w.now())
	})
	if steward.ErrorCode(err) != steward.ECONFLICT {
		return err
	}
	// Cancelled while the target disabled it: the request stays as it
	// is, and the inventory still tells the truth of the system. (A target
	// cannot enable again: the connector has no such operation.)
	if _, derr := w.cfg.Store.DisableIdentity(ctx, iv.ID, source+", no longer approved when it was done"); derr != nil {
		return errors.Join(err, derr)
	}
	w.cfg.Logger.Warn("decommission request no longer approved when the identity was disabled; the identity stays disabled",
		"request", r.ID, "identity", iv.Name)
	return nil
}

// newIdentity makes the identity a new-identity request asks for in its
// system, through a connector that can (steward.IdentityCreator), and
// records it in the inventory owned by the requester, in their team, in
// the unit that fulfils the request: an identity owned from its first day,
// which the next sync finds by its name. A name the inventory has already
// is refused: asking to own an existing identity is another request.
func (w *Workflow) newIdentity(ctx context.Context, r *steward.AccessRequest, attempt int) error {
	sys, err := w.cfg.Store.SystemByName(ctx, r.Question.Identity.System)
	if err != nil {
		return err
	}
	if _, err := steward.IdentityNamed(ctx, w.cfg.Store, sys, r.Identity); err == nil {
		return steward.Errorf(steward.ECONFLICT, "%s has an identity named %s already; ask to own it rather than to make it.", sys.Name, r.Identity)
	} else if !steward.IsCode(err, steward.ENOTFOUND) {
		return err
	}
	t, err := w.cfg.Targets(ctx, sys.Name)
	if err != nil {
		return err
	}
	maker, ok := t.(steward.IdentityCreator)
	if !ok {
		return steward.Errorf(steward.ENOTIMPL, "The connector of %s cannot make identities: the request is approved; make %s there by hand, and the next sync finds it.",
			sys.Name, r.Identity)
	}
	// A later try may find the identity its earlier one made before that
	// one could record it: it is this request's, and recorded now.
	if err := maker.CreateIdentity(ctx, r.Identity); err != nil && !(attempt > 1 && steward.IsCode(err, steward.ECONFLICT)) {
		return err
	}
	requester, err := w.cfg.Store.PersonByKey(ctx, r.Requester)
	if err != nil {
		return err
	}
	// Its system's environment, as its other identities have it (a sync's
	// default, prod, when it has none); the next sync sets what the
	// connector's configuration says.
	env := steward.EnvProd
	if page, err := w.cfg.Store.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 1}}); err != nil {
		return err
	} else if len(page.Items) > 0 {
		env = page.Items[0].Environment
	}
	now := w.now()
	return w.cfg.Store.Atomically(ctx, func(ctx context.Context) error {
		id := &steward.Identity{SystemID: sys.ID, ExternalID: r.Identity, Name: r.Identity, Kind: steward.KindServiceAccount,
			Environment: env, Criticality: steward.LevelMedium, OwnerID: &requester.ID, TeamID: requester.TeamID,
			Status: steward.IdentityActive, CreatedAt: &now,
			Labels: map[string]string{"steward.request": strconv.FormatInt(r.ID, 10)}}
		if err := w.cfg.Store.CreateIdentity(ctx, id); err != nil {
			return err
		}
		return w.fulfilled(ctx, r, nil, now)
	})
}
