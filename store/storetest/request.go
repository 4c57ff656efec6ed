package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// approverCtx is a context in which a person acts through a token, as the
// request workflow's writes are made.
func approverCtx(email string) context.Context {
	return steward.WithPrincipal(context.Background(), steward.Principal{Kind: steward.PrincipalPerson, Name: email, Role: steward.RoleMember, Via: "token:" + email})
}

// fullRequest is a pending request with every field set, its times in
// another zone and finer than the store keeps, as a caller may pass them.
func fullRequest(now time.Time) *steward.AccessRequest {
	zone := time.FixedZone("CEST", 2*60*60)
	at := now.In(zone).Add(123 * time.Nanosecond)
	target := steward.AccessTarget{System: "billing-db", Name: "role:write", Privileged: true, Sensitivity: steward.LevelHigh, OwnerTeam: "payments",
		Entitlements: []steward.AccessTarget{{System: "billing-db", Name: "role:read", Sensitivity: steward.LevelLow}}}
	q := steward.AccessQuestion{
		Model:         "pg-write",
		Requester:     steward.Requester{Email: "ana@example.test", Name: "Ana", Title: "Engineer", Team: "payments", Manager: "bo@example.test", Active: true},
		Identity:      steward.IdentityFacts{Name: "svc-billing", System: "billing-db", Kind: "service_account", Environment: "prod", Criticality: "high", Owner: "cy@example.test", Team: "payments", Active: true},
		Target:        target,
		Duration:      steward.Duration(4 * time.Hour),
		Justification: map[string]string{"ticket": "INC-1", "why": "a fix"},
	}
	d := steward.AccessDecision{
		Outcome: steward.OutcomePending, Model: "pg-write", Kind: steward.ModelJIT, Tier: "gold",
		ServiceLevels: &steward.ServiceLevels{Decision: steward.Duration(4 * time.Hour), Fulfilment: steward.Duration(time.Hour)},
		Target:        target, Duration: steward.Duration(4 * time.Hour),
		Policy: steward.PolicyVerdict{Permitted: true, Permits: []steward.PolicyRef{{ID: "policy0", Effect: "permit", Model: "pg-write", Rule: "engineers", Position: "2:1"}},
			Errors: []string{"policy1: no such attribute"}},
		Approvers: []steward.ApproverNeed{{Set: steward.ApproverSet{Kind: steward.ApproverIdentityOwner}, Why: "owns svc-billing"},
			{Set: steward.ApproverSet{Kind: steward.ApproverTeam, Team: "dba"}, Why: "the model names team dba"}},
		Approvals: 2,
		Reasons: []steward.Reason{{Rule: "model", Ok: true, Text: "Model pg-write."}, {Rule: "approval", Ok: true, Text: "Two approvals."},
			{Rule: "duration", Ok: false, Text: "Shortened to 4h."}},
	}
	closed := at.Add(time.Hour)
	return &steward.AccessRequest{
		Requester: "ana@example.test", Identity: "svc-billing", Target: target, Duration: steward.Duration(4 * time.Hour),
		Justification: q.Justification, Decision: d, State: steward.RequestPending, Level: 1,
		Approvals: []steward.RequestApproval{{Approver: "cy@example.test", Set: steward.ApproverSet{Kind: steward.ApproverIdentityOwner}, Approve: true, Reason: "fine", At: at.Add(time.Minute)}},
		CreatedAt: at, DecideBy: at.Add(4 * time.Hour), ExpiresAt: at.Add(7 * 24 * time.Hour), ClosedAt: &closed, Reason: "escalated to team dba",
		Question: q, FirstDecideBy: at.Add(2 * time.Hour), Extends: ptr(int64(41)), JITGrantID: ptr(int64(42)),
		Attempts: 3, LastError: "postgres: unavailable", UpdatedAt: at.Add(30 * time.Minute),
	}
}

// stored is r as the store keeps it: times in UTC, to the microsecond.
func stored(r steward.AccessRequest) steward.AccessRequest {
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	r.CreatedAt, r.UpdatedAt, r.DecideBy, r.ExpiresAt, r.FirstDecideBy = utc(r.CreatedAt), utc(r.UpdatedAt), utc(r.DecideBy), utc(r.ExpiresAt), utc(r.FirstDecideBy)
	if r.ClosedAt != nil {
		r.ClosedAt = ptr(utc(*r.ClosedAt))
	}
	r.Approvals = slices.Clone(r.Approvals)
	for i := range r.Approvals {
		r.Approvals[i].At = utc(r.Approvals[i].At)
	}
	return r
}

func mustRequest(t *testing.T, s steward.Store, id int64) *steward.AccessRequest {
	t.Helper()
	r, err := s.Request(ctx(), id)
	if err != nil {
		t.Fatalf("Request(%d): %v", id, err)
	}
	return r
}

// requestEvents returns the events that name request id, oldest first.
func requestEvents(t *testing.T, s steward.Store, objectType string, id int64) []steward.Event {
	t.Helper()
	page, err := s.Events(ctx(), steward.EventFilter{ObjectType: objectType, ObjectID: fmt.Sprint(id), ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func payloadOf[T any](t *testing.T, e steward.Event) *T {
	t.Helper()
	p, err := e.Payload()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.(*T)
	if !ok {
		t.Fatalf("event %s: payload %T", e.Action, p)
	}
	return v
}

func testRequestRoundTrip(t *testing.T, s steward.Store, clock *Clock) {
	in := fullRequest(clock.Now())
	want := stored(*in)
	c := approverCtx("ana@example.test")
	if err := s.CreateRequest(c, in); err != nil {
		t.Fatal(err)
	}
	if in.ID == 0 {
		t.Fatal("CreateRequest set no ID")
	}
	want.ID = in.ID
	if !reflect.DeepEqual(*in, want) {
		t.Errorf("CreateRequest left\n%+v\nwant\n%+v", *in, want)
	}
	got := mustRequest(t, s, in.ID)
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", *got, want)
	}
	if got.CreatedAt.Location() != time.UTC || got.ClosedAt.Location() != time.UTC || got.Approvals[0].At.Location() != time.UTC {
		t.Errorf("times not in UTC: %v %v %v", got.CreatedAt, got.ClosedAt, got.Approvals[0].At)
	}
	// The event names the request, the person acting, and what was asked
	// and decided.
	ev := requestEvents(t, s, steward.ObjectRequest, in.ID)
	if len(ev) != 1 || ev[0].Action != steward.ActionRequestCreated || ev[0].Actor != "person:ana@example.test" || ev[0].Via != "token:ana@example.test" {
		t.Fatalf("events %+v", ev)
	}
	p := payloadOf[steward.RequestCreated](t, ev[0])
	wantP := steward.RequestCreated{Model: "pg-write", Requester: in.Requester, Identity: in.Identity, Target: in.Target, Duration: in.Duration,
		Justification: in.Justification, State: steward.RequestPending, Outcome: steward.OutcomePending, Reasons: in.Decision.Reasons, Extends: in.Extends}
	if !reflect.DeepEqual(*p, wantP) {
		t.Errorf("payload\n%+v\nwant\n%+v", *p, wantP)
	}

	// A request as NewAccessRequest makes it, refused: closed at once, no
	// deadlines, nothing optional.
	q := in.Question
	q.Justification = nil
	refused := steward.NewAccessRequest(&q, steward.AccessDecision{Outcome: steward.OutcomeRefused, Model: "pg-write", Target: q.Target,
		Boundary: &steward.Boundary{Name: "no-superuser", Statement: "No superuser.", Alternative: "Ask for pg-break-glass.", Match: steward.Selector{Names: []string{"role:super*"}, Kinds: []steward.ModelKind{steward.ModelRoutine}}},
		Reasons:  []steward.Reason{{Rule: "boundary", Ok: false, Text: "No superuser."}}}, clock.Now())
	if err := s.CreateRequest(ctx(), refused); err != nil {
		t.Fatal(err)
	}
	if got := mustRequest(t, s, refused.ID); !reflect.DeepEqual(*got, stored(*refused)) || got.ClosedAt == nil || got.Reason != "No superuser." ||
		!got.DecideBy.IsZero() || got.Approvals != nil || got.Justification != nil || got.Extends != nil {
		t.Errorf("refused request read back\n%+v\nwant\n%+v", *got, stored(*refused))
	}

	// Refusals, each writing nothing.
	before := eventCount(t, s)
	for name, mod := range map[string]func(r *steward.AccessRequest){
		"no requester":   func(r *steward.AccessRequest) { r.Requester = " " },
		"no identity":    func(r *steward.AccessRequest) { r.Identity = "" },
		"no state":       func(r *steward.AccessRequest) { r.State = "" },
		"unknown state":  func(r *steward.AccessRequest) { r.State = "granted" },
		"negative level": func(r *steward.AccessRequest) { r.Level = -1 },
	} {
		r := fullRequest(clock.Now())
		mod(r)
		if err := s.CreateRequest(ctx(), r); steward.ErrorCode(err) != steward.EINVALID || r.ID != 0 {
			t.Errorf("%s: CreateRequest = %v (id %d), want EINVALID", name, err, r.ID)
		}
	}
	if n := eventCount(t, s); n != before {
		t.Errorf("refused requests wrote %d events", n-before)
	}
	page, err := s.Requests(ctx(), steward.RequestFilter{})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("Requests = %+v, %v; want the two made", page, err)
	}
	_, err = s.Request(ctx(), 1<<40)
	wantCode(t, err, steward.ENOTFOUND)
}

// newRequest records a pending request of requester for identity under
// model, made at the clock's time, with deadlines after decide and expire.
func newRequest(t *testing.T, s steward.Store, clock *Clock, requester, identity, model string, state steward.RequestState, decide, expire time.Duration) *steward.AccessRequest {
	t.Helper()
	now := clock.Now()
	r := &steward.AccessRequest{Requester: requester, Identity: identity, State: state, CreatedAt: now,
		Target:   steward.AccessTarget{System: "billing-db", Name: "role:read"},
		Decision: steward.AccessDecision{Outcome: steward.OutcomePending, Model: model, Approvals: 1},
		Question: steward.AccessQuestion{Model: model, Requester: steward.Requester{Email: requester}, Identity: steward.IdentityFacts{Name: identity}}}
	if decide != 0 {
		r.DecideBy, r.FirstDecideBy = now.Add(decide), now.Add(decide)
	}
	if expire != 0 {
		r.ExpiresAt = now.Add(expire)
	}
	if err := s.CreateRequest(ctx(), r); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	clock.Advance(time.Second)
	return r
}

func requestIDs(rs []steward.AccessRequest) []int64 {
	return ids(rs, func(r steward.AccessRequest) int64 { return r.ID })
}

func testRequestList(t *testing.T, s steward.Store, clock *Clock) {
	const ana, bo = "ana@example.test", "bo@example.test"
	t0 := clock.Now()
	hour := time.Hour
	r1 := newRequest(t, s, clock, ana, "svc-a", "pg-read", steward.RequestPending, hour, 10*hour)   // due at t0+1h
	r2 := newRequest(t, s, clock, bo, "svc-a", "pg-read", steward.RequestApproved, hour, 10*hour)   // not pending: never due
	r3 := newRequest(t, s, clock, ana, "svc-b", "pg-write", steward.RequestPending, 0, 2*hour)      // no decision level: due at expiry
	r4 := newRequest(t, s, clock, bo, "svc-b", "pg-write", steward.RequestPending, 5*hour, 10*hour) // due later
	r5 := newRequest(t, s, clock, ana, "svc-a", "pg-write", steward.RequestRefused, 0, 0)           // closed
	r6 := newRequest(t, s, clock, bo, "svc-c", "pg-read", steward.RequestPending, 3*hour, 3*hour+1) // due later
	all := []*steward.AccessRequest{r6, r5, r4, r3, r2, r1}                                         // newest first
	ids := func(rs ...*steward.AccessRequest) []int64 {
		out := []int64{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	list := func(f steward.RequestFilter, limit int) []int64 {
		t.Helper()
		out := []int64{}
		return append(out, requestIDs(AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.AccessRequest], error) {
			f.ListOptions = o
			return s.Requests(ctx(), f)
		}, limit))...)
	}
	at := func(d time.Duration) *time.Time { return ptr(t0.Add(d)) }
	for name, tc := range map[string]struct {
		f    steward.RequestFilter
		want []int64
	}{
		"all":                 {steward.RequestFilter{}, ids(all...)},
		"requester":           {steward.RequestFilter{Requester: ana}, ids(r5, r3, r1)},
		"identity":            {steward.RequestFilter{Identity: "svc-a"}, ids(r5, r2, r1)},
		"model":               {steward.RequestFilter{Model: "pg-write"}, ids(r5, r4, r3)},
		"state":               {steward.RequestFilter{State: steward.RequestPending}, ids(r6, r4, r3, r1)},
		"requester and model": {steward.RequestFilter{Requester: bo, Model: "pg-read"}, ids(r6, r2)},
		"nobody":              {steward.RequestFilter{Requester: "cy@example.test"}, ids()},
		"due before any":      {steward.RequestFilter{Due: at(30 * time.Minute)}, ids()},
		"due at decide_by":    {steward.RequestFilter{Due: ptr(r1.DecideBy)}, ids(r1)},
		"due after 2h":        {steward.RequestFilter{Due: at(2*hour + 10*time.Second)}, ids(r3, r1)},
		"due after 3h":        {steward.RequestFilter{Due: at(3*hour + 10*time.Second)}, ids(r6, r3, r1)},
		"due and requester":   {steward.RequestFilter{Due: at(3*hour + 10*time.Second), Requester: bo}, ids(r6)},
		"due after all":       {steward.RequestFilter{Due: at(100 * hour)}, ids(r6, r4, r3, r1)},
		"oldest first":        {steward.RequestFilter{Oldest: true}, ids(r1, r2, r3, r4, r5, r6)},
		"pending, oldest":     {steward.RequestFilter{State: steward.RequestPending, Oldest: true}, ids(r1, r3, r4, r6)},
	} {
		for _, limit := range []int{1, 2, 100} {
			if got := list(tc.f, limit); !slices.Equal(got, tc.want) {
				t.Errorf("%s (pages of %d): %v, want %v", name, limit, got, tc.want)
			}
		}
	}
	page, err := s.Requests(ctx(), steward.RequestFilter{ListOptions: steward.ListOptions{Limit: 4}})
	if err != nil || len(page.Items) != 4 || page.Next == "" || !reflect.DeepEqual(page.Items[0], stored(*r6)) {
		t.Fatalf("first page %+v, %v", page, err)
	}
	for name, f := range map[string]steward.RequestFilter{
		"bad state":  {State: "granted"},
		"bad cursor": {ListOptions: steward.ListOptions{After: "nope"}},
		"bad limit":  {ListOptions: steward.ListOptions{Limit: -1}},
		"long name":  {Requester: strings.Repeat("x", 1000)},
	} {
		_, err := s.Requests(ctx(), f)
		if steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func testRequestChange(t *testing.T, s steward.Store, clock *Clock) {
	r := newRequest(t, s, clock, "ana@example.test", "svc-a", "pg-write", steward.RequestPending, time.Hour, 10*time.Hour)
	change := func(who string, c steward.RequestChange) *steward.AccessRequest {
		t.Helper()
		c.ID = r.ID
		got, err := s.ChangeRequest(approverCtx(who), c)
		if err != nil {
			t.Fatalf("ChangeRequest(%s %s→%s): %v", c.Action, c.From, c.To, err)
		}
		if back := mustRequest(t, s, r.ID); !reflect.DeepEqual(back, got) {
			t.Fatalf("ChangeRequest returned\n%+v\nthe store has\n%+v", got, back)
		}
		return got
	}
	lastEvent := func() steward.Event {
		t.Helper()
		ev := requestEvents(t, s, steward.ObjectRequest, r.ID)
		return ev[len(ev)-1]
	}

	// Escalated by the clock: the next level, a new deadline, the reason.
	clock.Advance(time.Hour)
	decide := clock.Now().Add(time.Hour)
	got := change("steward", steward.RequestChange{Action: steward.ActionRequestEscalated, From: steward.RequestPending, To: steward.RequestPending,
		Level: 1, DecideBy: decide, Reason: "escalated to team dba"})
	if got.Level != 1 || !got.DecideBy.Equal(decide) || !got.FirstDecideBy.Equal(r.FirstDecideBy) || got.Reason != "escalated to team dba" ||
		!got.UpdatedAt.Equal(clock.Now()) || got.ClosedAt != nil || got.State != steward.RequestPending {
		t.Errorf("escalated: %+v", got)
	}
	if e := lastEvent(); e.Action != steward.ActionRequestEscalated || e.Actor != "person:steward" ||
		!reflect.DeepEqual(*payloadOf[steward.RequestChanged](t, e), steward.RequestChanged{From: steward.RequestPending, To: steward.RequestPending, Level: 1, Reason: "escalated to team dba"}) {
		t.Errorf("escalation event %+v", e)
	}

	// Two approvals: the first keeps it pending, the second approves it.
	// Each is added to the approvals; neither moves the level or the
	// escalation's reason.
	zone := time.FixedZone("X", -5*60*60)
	at1 := clock.Now().Add(time.Minute).In(zone).Add(7 * time.Nanosecond)
	a1 := steward.RequestApproval{Approver: "cy@example.test", Set: steward.ApproverSet{Kind: steward.ApproverIdentityOwner}, Approve: true, Reason: "ok", At: at1}
	got = change("cy@example.test", steward.RequestChange{Action: steward.ActionRequestApproved, From: steward.RequestPending, To: steward.RequestPending, Approval: &a1, At: at1})
	want1 := a1
	want1.At = at1.UTC().Truncate(time.Microsecond)
	if got.State != steward.RequestPending || !reflect.DeepEqual(got.Approvals, []steward.RequestApproval{want1}) || got.Level != 1 ||
		!got.DecideBy.Equal(decide) || got.Reason != "escalated to team dba" || !got.UpdatedAt.Equal(want1.At) || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("first approval: %+v", got)
	}
	a2 := steward.RequestApproval{Approver: "di@example.test", Set: steward.ApproverSet{Kind: steward.ApproverTeam, Team: "dba"}, Approve: true, Reason: "fine too"}
	clock.Advance(time.Minute)
	got = change("di@example.test", steward.RequestChange{Action: steward.ActionRequestApproved, From: steward.RequestPending, To: steward.RequestApproved, Approval: &a2})
	want2 := a2
	want2.At = clock.Now() // a change without a time happens at the store's clock
	if got.State != steward.RequestApproved || !reflect.DeepEqual(got.Approvals, []steward.RequestApproval{want1, want2}) || got.Approved() != 2 ||
		!got.UpdatedAt.Equal(clock.Now()) || got.ClosedAt != nil {
		t.Errorf("second approval: %+v", got)
	}
	if e := lastEvent(); e.Action != steward.ActionRequestApproved || e.Actor != "person:di@example.test" ||
		!reflect.DeepEqual(*payloadOf[steward.RequestChanged](t, e), steward.RequestChanged{From: steward.RequestPending, To: steward.RequestApproved, Approval: &want2}) {
		t.Errorf("approval event %+v", e)
	}

	// Fulfilment: a try that fails, then one that succeeds with its grant.
	clock.Advance(time.Minute)
	got = change("steward", steward.RequestChange{Action: steward.ActionRequestFulfilmentFailed, From: steward.RequestApproved, To: steward.RequestApproved,
		Attempts: 1, LastError: "postgres: unavailable " + strings.Repeat("é", 600)})
	if got.State != steward.RequestApproved || got.Attempts != 1 || !strings.HasPrefix(got.LastError, "postgres: unavailable") || len(got.LastError) > 1000 ||
		!strings.HasSuffix(got.LastError, "é") || got.ClosedAt != nil || got.Reason != "escalated to team dba" {
		t.Errorf("failed try: %+v", got)
	}
	if p := payloadOf[steward.RequestChanged](t, lastEvent()); p.Attempts != 1 || p.Error != got.LastError {
		t.Errorf("failed try's event %+v", p)
	}
	clock.Advance(time.Minute)
	got = change("steward", steward.RequestChange{Action: steward.ActionRequestFulfilled, From: steward.RequestApproved, To: steward.RequestFulfilled,
		Attempts: 2, JITGrantID: ptr(int64(9))})
	if got.State != steward.RequestFulfilled || got.Attempts != 2 || got.JITGrantID == nil || *got.JITGrantID != 9 || got.ClosedAt == nil ||
		!got.ClosedAt.Equal(clock.Now()) || !strings.HasPrefix(got.LastError, "postgres") || len(got.Approvals) != 2 {
		t.Errorf("fulfilled: %+v", got)
	}
	if e := lastEvent(); e.Action != steward.ActionRequestFulfilled ||
		!reflect.DeepEqual(*payloadOf[steward.RequestChanged](t, e), steward.RequestChanged{From: steward.RequestApproved, To: steward.RequestFulfilled, JITGrantID: ptr(int64(9)), Attempts: 2}) {
		t.Errorf("fulfilled event %+v", e)
	}
	if n := len(requestEvents(t, s, steward.ObjectRequest, r.ID)); n != 6 {
		t.Errorf("%d events, want created and five changes", n)
	}

	// Refusals, each changing nothing and writing no event.
	other := newRequest(t, s, clock, "ana@example.test", "svc-b", "pg-write", steward.RequestPending, 0, time.Hour)
	before, final := eventCount(t, s), mustRequest(t, s, r.ID)
	for name, tc := range map[string]struct {
		c    steward.RequestChange
		code string
		text string
	}{
		"not from fulfilled": {steward.RequestChange{ID: r.ID, Action: steward.ActionRequestCancelled, From: steward.RequestApproved, To: steward.RequestCancelled}, steward.ECONFLICT,
			fmt.Sprintf("Request %d is fulfilled, not approved", r.ID)},
		"not from approved": {steward.RequestChange{ID: other.ID, Action: steward.ActionRequestCancelled, From: steward.RequestApproved, To: steward.RequestCancelled}, steward.ECONFLICT,
			"is pending, not approved"},
		"no such request":   {steward.RequestChange{ID: 1 << 40, Action: steward.ActionRequestExpired, From: steward.RequestPending, To: steward.RequestExpired}, steward.ENOTFOUND, ""},
		"created":           {steward.RequestChange{ID: other.ID, Action: steward.ActionRequestCreated, From: steward.RequestPending, To: steward.RequestPending}, steward.EINVALID, ""},
		"not a request's":   {steward.RequestChange{ID: other.ID, Action: steward.ActionJITGranted, From: steward.RequestPending, To: steward.RequestExpired}, steward.EINVALID, ""},
		"no action":         {steward.RequestChange{ID: other.ID, From: steward.RequestPending, To: steward.RequestExpired}, steward.EINVALID, ""},
		"unknown state":     {steward.RequestChange{ID: other.ID, Action: steward.ActionRequestExpired, From: steward.RequestPending, To: "gone"}, steward.EINVALID, ""},
		"approver required": {steward.RequestChange{ID: other.ID, Action: steward.ActionRequestDenied, From: steward.RequestPending, To: steward.RequestDenied, Approval: &steward.RequestApproval{Reason: "no"}}, steward.EINVALID, ""},
	} {
		got, err := s.ChangeRequest(ctx(), tc.c)
		if steward.ErrorCode(err) != tc.code || got != nil || !strings.Contains(steward.ErrorMessage(err), tc.text) {
			t.Errorf("%s: ChangeRequest = %+v, %v; want %s %q", name, got, err, tc.code, tc.text)
		}
	}
	if n := eventCount(t, s); n != before {
		t.Errorf("refused changes wrote %d events", n-before)
	}
	if got := mustRequest(t, s, r.ID); !reflect.DeepEqual(got, final) {
		t.Errorf("a refused change moved the request:\n%+v\nwas\n%+v", got, final)
	}
	if got := mustRequest(t, s, other.ID); !reflect.DeepEqual(*got, stored(*other)) {
		t.Errorf("a refused change moved the other request: %+v", got)
	}

	// Expiry closes a request too.
	clock.Advance(time.Minute)
	got, err := s.ChangeRequest(ctx(), changeOf(other, steward.RequestChange{Action: steward.ActionRequestExpired, From: steward.RequestPending, To: steward.RequestExpired, Reason: "Nobody decided it."}))
	if err != nil || got.State != steward.RequestExpired || got.ClosedAt == nil || !got.ClosedAt.Equal(clock.Now()) || got.Reason != "Nobody decided it." {
		t.Errorf("expired: %+v, %v", got, err)
	}
}

// changeOf is c for request r.
func changeOf(r *steward.AccessRequest, c steward.RequestChange) steward.RequestChange {
	c.ID = r.ID
	return c
}

func testRequestChangeRace(t *testing.T, s steward.Store, clock *Clock) {
	// Many approvers and the clock move one pending request at once: one
	// wins; every other gets ECONFLICT and writes nothing.
	const racers = 8
	r := newRequest(t, s, clock, "ana@example.test", "svc-a", "pg-write", steward.RequestPending, time.Hour, 2*time.Hour)
	before := eventCount(t, s)
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			c := changeOf(r, steward.RequestChange{Action: steward.ActionRequestDenied, From: steward.RequestPending, To: steward.RequestDenied,
				Approval: &steward.RequestApproval{Approver: fmt.Sprintf("p%d@example.test", i), Set: steward.ApproverSet{Kind: steward.ApproverSecurity}, Reason: "no"}})
			if i%2 == 1 {
				c = changeOf(r, steward.RequestChange{Action: steward.ActionRequestExpired, From: steward.RequestPending, To: steward.RequestExpired, Reason: "late"})
			}
			_, errs[i] = s.ChangeRequest(ctx(), c)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch steward.ErrorCode(err) {
		case "":
			won++
		case steward.ECONFLICT:
		default:
			t.Errorf("racer %d: %v", i, err)
		}
	}
	got := mustRequest(t, s, r.ID)
	if won != 1 || got.State == steward.RequestPending || len(got.Approvals) > 1 {
		t.Errorf("%d changes won, want 1; the request is %s with %d approvals", won, got.State, len(got.Approvals))
	}
	if n := eventCount(t, s) - before; n != 1 {
		t.Errorf("%d events, want 1", n)
	}

	// Approvals that keep it pending all count: none is lost to another
	// written at the same time.
	r2 := newRequest(t, s, clock, "ana@example.test", "svc-b", "pg-write", steward.RequestPending, time.Hour, 2*time.Hour)
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = s.ChangeRequest(ctx(), changeOf(r2, steward.RequestChange{Action: steward.ActionRequestApproved, From: steward.RequestPending, To: steward.RequestPending,
				Approval: &steward.RequestApproval{Approver: fmt.Sprintf("p%d@example.test", i), Set: steward.ApproverSet{Kind: steward.ApproverSecurity}, Approve: true, Reason: "ok"}}))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("approval %d: %v", i, err)
		}
	}
	if got := mustRequest(t, s, r2.ID); got.Approved() != racers {
		t.Errorf("%d approvals kept of %d: %+v", got.Approved(), racers, got.Approvals)
	}
}

var errBoom = errors.New("boom")

func testRequestAtomic(t *testing.T, s steward.Store, clock *Clock) {
	uow, ok := s.(steward.UnitOfWork)
	if !ok {
		t.Skip("the store has no units of work")
	}
	before := eventCount(t, s)
	r := fullRequest(clock.Now())
	var made int64
	err := uow.Atomically(ctx(), func(ctx context.Context) error {
		if err := s.CreateRequest(ctx, r); err != nil {
			return err
		}
		made = r.ID
		// Inside the unit, reads see its writes.
		if got, err := s.Request(ctx, r.ID); err != nil || got.State != steward.RequestPending {
			t.Errorf("read in the unit: %+v, %v", got, err)
		}
		if _, err := s.ChangeRequest(ctx, changeOf(r, steward.RequestChange{Action: steward.ActionRequestCancelled, From: steward.RequestPending, To: steward.RequestCancelled})); err != nil {
			return err
		}
		if err := s.RecordUnmatchedDemand(ctx, &steward.UnmatchedDemand{Requester: "ana@example.test", Target: r.Target}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) || made == 0 {
		t.Fatalf("Atomically = %v (request %d)", err, made)
	}
	_, err = s.Request(ctx(), made)
	wantCode(t, err, steward.ENOTFOUND)
	if n := eventCount(t, s) - before; n != 0 {
		t.Errorf("a failed unit left %d events", n)
	}
	if page, err := s.UnmatchedDemands(ctx(), steward.ListOptions{}); err != nil || len(page.Items) != 0 {
		t.Errorf("a failed unit left unmatched demand %+v, %v", page, err)
	}

	// A change that fails inside a unit undoes only itself: the unit's
	// other writes commit, with their events, and the failed change's
	// event is nowhere.
	r = newRequest(t, s, clock, "ana@example.test", "svc-a", "pg-write", steward.RequestPending, time.Hour, 2*time.Hour)
	before = eventCount(t, s)
	var conflict error
	err = uow.Atomically(ctx(), func(ctx context.Context) error {
		// No t.Fatal in here: it would leave the unit open, and the store
		// with it.
		if _, err := s.ChangeRequest(ctx, changeOf(r, steward.RequestChange{Action: steward.ActionRequestEscalated, From: steward.RequestPending, To: steward.RequestPending,
			Level: 1, Reason: "late"})); err != nil {
			return err
		}
		_, conflict = s.ChangeRequest(ctx, changeOf(r, steward.RequestChange{Action: steward.ActionRequestFulfilled, From: steward.RequestApproved, To: steward.RequestFulfilled}))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, conflict, steward.ECONFLICT)
	if got := mustRequest(t, s, r.ID); got.State != steward.RequestPending || got.Level != 1 || got.Reason != "late" {
		t.Errorf("after the unit: %+v", got)
	}
	ev := requestEvents(t, s, steward.ObjectRequest, r.ID)
	if n := eventCount(t, s) - before; n != 1 || ev[len(ev)-1].Action != steward.ActionRequestEscalated {
		t.Errorf("%d events after the unit, the last %s; want the escalation only", n, ev[len(ev)-1].Action)
	}
}

func testUnmatchedDemand(t *testing.T, s steward.Store, clock *Clock) {
	zone := time.FixedZone("X", 3*60*60)
	var made []steward.UnmatchedDemand
	for i := range 3 {
		u := &steward.UnmatchedDemand{Requester: fmt.Sprintf("p%d@example.test", i), Team: "payments", Identity: "svc-billing",
			Target: steward.AccessTarget{System: "billing-db", Name: "role:write", Privileged: true, Sensitivity: steward.LevelHigh}, Justification: map[string]string{"why": "x"}}
		if i == 1 {
			u.At, u.Team, u.Justification = clock.Now().In(zone).Add(5*time.Nanosecond), "", nil
		}
		if err := s.RecordUnmatchedDemand(approverCtx(u.Requester), u); err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.At.Location() != time.UTC || (i != 1 && !u.At.Equal(clock.Now())) || u.At.Nanosecond()%1000 != 0 {
			t.Errorf("recorded %+v", u)
		}
		ev := requestEvents(t, s, steward.ObjectDemand, u.ID)
		if len(ev) != 1 || ev[0].Action != steward.ActionDemandRecorded || ev[0].Actor != "person:"+u.Requester || !reflect.DeepEqual(*payloadOf[steward.UnmatchedDemand](t, ev[0]), *u) {
			t.Errorf("events %+v", ev)
		}
		made = append(made, *u)
		clock.Advance(time.Second)
	}
	slices.Reverse(made)
	for _, limit := range []int{1, 2, 10} {
		got := AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.UnmatchedDemand], error) {
			return s.UnmatchedDemands(ctx(), o)
		}, limit)
		if !reflect.DeepEqual(got, made) {
			t.Errorf("pages of %d:\n%+v\nwant\n%+v", limit, got, made)
		}
	}
	before := eventCount(t, s)
	wantCode(t, s.RecordUnmatchedDemand(ctx(), &steward.UnmatchedDemand{Identity: "svc"}), steward.EINVALID)
	_, err := s.UnmatchedDemands(ctx(), steward.ListOptions{After: "nope"})
	wantCode(t, err, steward.EINVALID)
	if eventCount(t, s) != before {
		t.Error("a refused demand wrote an event")
	}
}
