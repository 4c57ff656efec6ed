package steward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

var (
	rt0      = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	ownerSet = steward.ApproverSet{Kind: steward.ApproverIdentityOwner}
	secSet   = steward.ApproverSet{Kind: steward.ApproverSecurity}
)

// pendingRequest is a request by ana that needs approvals from the
// identity's owner, escalating to security, under a tier with a 4h
// decision level.
func pendingRequest(approvals int) *steward.AccessRequest {
	sl := steward.ServiceLevels{Decision: steward.Duration(4 * time.Hour)}
	d := steward.AccessDecision{Outcome: steward.OutcomePending, Model: "pg-prod-read", Tier: "privileged", ServiceLevels: &sl,
		Approvals: approvals,
		Approvers: []steward.ApproverNeed{{Set: ownerSet, Why: "bo owns identity svc-billing"}, {Set: secSet, Why: "team security"}}}
	q := &steward.AccessQuestion{Model: "pg-prod-read", Requester: steward.Requester{Email: "ana@example.com", Active: true},
		Identity: steward.IdentityFacts{Name: "svc-billing"}}
	r := steward.NewAccessRequest(q, d, rt0)
	r.ID = 7
	return r
}

func TestNewAccessRequest(t *testing.T) {
	r := pendingRequest(1)
	if r.State != steward.RequestPending || !r.DecideBy.Equal(rt0.Add(4*time.Hour)) {
		t.Fatalf("pending: state %s, decide by %s", r.State, r.DecideBy)
	}
	// Two approver levels with a 4h level: 12h, less than the floor of 7 days.
	if want := rt0.Add(steward.MinRequestLife); !r.ExpiresAt.Equal(want) {
		t.Fatalf("expires %s, want %s", r.ExpiresAt, want)
	}
	q := &steward.AccessQuestion{Requester: steward.Requester{Email: "ana@example.com"}}
	refused := steward.NewAccessRequest(q, steward.AccessDecision{Outcome: steward.OutcomeRefused, Reasons: []steward.Reason{
		{Rule: "model", Ok: true, Text: "Model m."}, {Rule: "boundary", Ok: false, Text: "Boundary b: no. Instead: yes."}}}, rt0)
	if refused.State != steward.RequestRefused || refused.ClosedAt == nil || refused.Reason != "Boundary b: no. Instead: yes." {
		t.Fatalf("refused: %+v", refused)
	}
	auto := steward.NewAccessRequest(q, steward.AccessDecision{Outcome: steward.OutcomeApproved}, rt0)
	if auto.State != steward.RequestApproved || auto.ClosedAt != nil {
		t.Fatalf("automatic: %+v", auto)
	}
	// A long decision level stretches the life past the floor.
	sl := steward.ServiceLevels{Decision: steward.Duration(72 * time.Hour)}
	_, exp := steward.RequestDeadlines(&steward.AccessDecision{ServiceLevels: &sl, Approvers: make([]steward.ApproverNeed, 3)}, rt0)
	if want := rt0.Add(4 * 72 * time.Hour); !exp.Equal(want) {
		t.Fatalf("expires %s, want %s", exp, want)
	}
}

func TestActOnRequest(t *testing.T) {
	type act struct {
		who     steward.Approver
		approve bool
		reason  string
	}
	bo := steward.Approver{Email: "bo@example.com", Sets: []steward.ApproverSet{ownerSet}}
	cy := steward.Approver{Email: "cy@example.com", Sets: []steward.ApproverSet{secSet, ownerSet}}
	sec := steward.Approver{Email: "sec@example.com", Sets: []steward.ApproverSet{secSet}}
	for _, tc := range []struct {
		name      string
		approvals int
		level     int
		state     steward.RequestState
		acts      []act
		want      steward.RequestState // after the last act
		code      string               // of the last act's error
		msg       string
	}{
		{name: "owner approves", approvals: 1, acts: []act{{bo, true, "ticket OPS-1"}}, want: steward.RequestApproved},
		{name: "owner denies", approvals: 1, acts: []act{{bo, false, "not needed"}}, want: steward.RequestDenied},
		{name: "requester approves own", approvals: 1, acts: []act{{steward.Approver{Email: "ana@example.com", Sets: []steward.ApproverSet{ownerSet, secSet}}, true, "mine"}},
			code: steward.EFORBIDDEN, msg: "never decides their own request"},
		{name: "requester, other case", approvals: 1, acts: []act{{steward.Approver{Email: "ANA@example.com", Sets: []steward.ApproverSet{ownerSet}}, true, "mine"}},
			code: steward.EFORBIDDEN, msg: "never decides"},
		{name: "one person, two approvals", approvals: 2, acts: []act{{cy, true, "ok"}, {cy, true, "ok again"}},
			code: steward.EFORBIDDEN, msg: "different people"},
		{name: "two people, two approvals", approvals: 2, acts: []act{{bo, true, "ok"}, {cy, true, "ok"}}, want: steward.RequestApproved},
		{name: "first of two", approvals: 2, acts: []act{{bo, true, "ok"}}, want: steward.RequestPending},
		{name: "not yet escalated", approvals: 1, acts: []act{{sec, true, "ok"}}, code: steward.EFORBIDDEN, msg: "waits for identity-owner (bo owns identity svc-billing)"},
		{name: "escalated", approvals: 1, level: 1, acts: []act{{sec, true, "ok"}}, want: steward.RequestApproved},
		{name: "no reason", approvals: 1, acts: []act{{bo, true, "  "}}, code: steward.EINVALID, msg: "Give a reason"},
		{name: "not pending", approvals: 1, state: steward.RequestApproved, acts: []act{{bo, true, "ok"}}, code: steward.ECONFLICT},
		{name: "denied after one approval", approvals: 2, acts: []act{{bo, true, "ok"}, {cy, false, "no"}}, want: steward.RequestDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pendingRequest(tc.approvals)
			r.Level = tc.level
			if tc.state != "" {
				r.State = tc.state
			}
			for i, a := range tc.acts {
				rec, st, err := steward.ActOnRequest(r, a.who, a.approve, a.reason, rt0.Add(time.Minute))
				if i < len(tc.acts)-1 {
					if err != nil {
						t.Fatalf("act %d: %v", i, err)
					}
					r.Approvals, r.State = append(r.Approvals, rec), st
					continue
				}
				if tc.code != "" {
					if steward.ErrorCode(err) != tc.code || !strings.Contains(steward.ErrorMessage(err), tc.msg) {
						t.Fatalf("got %v (%s), want %s containing %q", err, steward.ErrorCode(err), tc.code, tc.msg)
					}
					if st != r.State {
						t.Fatalf("a refused act moved the state to %s", st)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if st != tc.want || rec.Approver != a.who.Email || rec.Approve != a.approve || !rec.At.Equal(rt0.Add(time.Minute)) {
					t.Fatalf("state %s, act %+v; want state %s", st, rec, tc.want)
				}
			}
		})
	}
}

func TestTickRequest(t *testing.T) {
	r := pendingRequest(1)
	if _, ok := steward.TickRequest(r, rt0.Add(4*time.Hour-time.Second)); ok {
		t.Fatal("escalated before the decision level ran out")
	}
	tick, ok := steward.TickRequest(r, rt0.Add(4*time.Hour))
	if !ok || tick.State != steward.RequestPending || tick.Level != 1 || !tick.DecideBy.Equal(rt0.Add(8*time.Hour)) ||
		!strings.Contains(tick.Reason, "escalated to security (team security)") {
		t.Fatalf("escalation: %+v %v", tick, ok)
	}
	r.Level, r.DecideBy = tick.Level, tick.DecideBy
	if _, ok := steward.TickRequest(r, rt0.Add(9*time.Hour)); ok {
		t.Fatal("escalated past the last approver set")
	}
	tick, ok = steward.TickRequest(r, r.ExpiresAt)
	if !ok || tick.State != steward.RequestExpired || !strings.Contains(tick.Reason, "expired") {
		t.Fatalf("expiry: %+v %v", tick, ok)
	}
	r.State = steward.RequestApproved
	if _, ok := steward.TickRequest(r, r.ExpiresAt.Add(time.Hour)); ok {
		t.Fatal("an approved request expired")
	}
}

func TestCancelRequest(t *testing.T) {
	r := pendingRequest(1)
	if err := steward.MayCancel(r, "bo@example.com", false); steward.ErrorCode(err) != steward.EFORBIDDEN {
		t.Fatalf("another person cancelled: %v", err)
	}
	if err := steward.MayCancel(r, "ana@example.com", false); err != nil {
		t.Fatal(err)
	}
	if err := steward.MayCancel(r, "admin@example.com", true); err != nil {
		t.Fatal(err)
	}
	r.State = steward.RequestFulfilled
	if err := steward.MayCancel(r, "ana@example.com", false); steward.ErrorCode(err) != steward.ECONFLICT {
		t.Fatalf("cancelled a fulfilled request: %v", err)
	}
}

func TestBreached(t *testing.T) {
	first := rt0.Add(4 * time.Hour)
	late, early := rt0.Add(5*time.Hour), rt0.Add(time.Hour)
	for _, tc := range []struct {
		first   time.Time
		decided *time.Time
		now     time.Time
		want    bool
	}{
		{first, &early, rt0.Add(10 * time.Hour), false},
		{first, &late, rt0.Add(10 * time.Hour), true},
		{first, nil, rt0.Add(3 * time.Hour), false},
		{first, nil, rt0.Add(5 * time.Hour), true},
		{time.Time{}, nil, rt0.Add(500 * time.Hour), false},
	} {
		if got := steward.Breached(tc.first, tc.decided, tc.now); got != tc.want {
			t.Errorf("Breached(%v, %v, %v) = %v", tc.first, tc.decided, tc.now, got)
		}
	}
}

func TestCandidateModels(t *testing.T) {
	yes := true
	c := &steward.Catalog{Models: []steward.RequestModel{
		{Name: "read", Kind: steward.ModelRoutine, Requestable: steward.Selector{Systems: []string{"pg-*"}, Names: []string{"read_*"}}},
		{Name: "admin-jit", Kind: steward.ModelJIT, Requestable: steward.Selector{Systems: []string{"pg-*"}, Privileged: &yes}},
		{Name: "retire", Kind: steward.ModelDecommission, Requestable: steward.Selector{Systems: []string{"pg-*"}}},
	}}
	names := func(ms []*steward.RequestModel) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(steward.CandidateModels(c, &steward.AccessTarget{System: "pg-prod", Name: "read_billing"})); got != "read" {
		t.Errorf("read: %q", got)
	}
	if got := names(steward.CandidateModels(c, &steward.AccessTarget{System: "pg-prod", Name: "superuser", Privileged: true})); got != "admin-jit" {
		t.Errorf("privileged: %q", got)
	}
	if got := names(steward.CandidateModels(c, &steward.AccessTarget{System: "ldap", Name: "read_x"})); got != "" {
		t.Errorf("unmatched: %q", got)
	}
}
