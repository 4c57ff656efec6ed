package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// demoHistory is how far back the demo's request history starts.
const demoHistory = 12 * 24 * time.Hour

// demoTarget is the demo organisation's systems, which exist only in its
// inventory: granting, revoking and making identities there succeed and
// change nothing outside Steward. serve --demo uses it for every system no configured
// connector changes, so that the demo's requests are fulfilled and its JIT
// grants revoked at expiry as a real system's would be.
type demoTarget struct{}

func (demoTarget) Grant(context.Context, string, string) error  { return nil }
func (demoTarget) Revoke(context.Context, string, string) error { return nil }
func (demoTarget) RotateCredential(_ context.Context, identity string) (*steward.RotationResult, error) {
	return nil, steward.Errorf(steward.ENOTIMPL, "the demo's systems do not rotate credentials (%s)", identity)
}
func (demoTarget) Disable(context.Context, string) error        { return nil }
func (demoTarget) Delete(context.Context, string) error         { return nil }
func (demoTarget) CreateIdentity(context.Context, string) error { return nil }

// withDemoTargets answers with demoTarget for a system no configured
// connector changes.
func withDemoTargets(t func(context.Context, string) (steward.Target, error)) func(context.Context, string) (steward.Target, error) {
	return func(ctx context.Context, system string) (steward.Target, error) {
		got, err := t(ctx, system)
		if steward.ErrorCode(err) == steward.ENOTIMPL {
			return demoTarget{}, nil
		}
		return got, err
	}
}

type demoClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *demoClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *demoClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// seedRequests makes the demo organisation's request history through the
// request workflow, on a clock that runs from demoHistory ago to now:
// people of the teams that own identities ask for access to their
// identities' systems (routine roles, JIT elevation, a boundary's refusal,
// something no model serves), approvers approve or deny some, the clock
// escalates what waits past its tier's decision level and expires what
// nobody decided in a week, and what is approved is fulfilled in the
// demo's systems. It returns the requests by state.
func seedRequests(ctx context.Context, db *sqlstore.DB, seed uint64, now time.Time, logger *slog.Logger) (map[steward.RequestState]int, error) {
	clk := &demoClock{t: now.Add(-demoHistory)}
	flow, err := request.New(request.Config{Store: db, Compile: compileCatalog, Now: clk.Now, Logger: logger,
		Targets: func(context.Context, string) (steward.Target, error) { return demoTarget{}, nil }})
	if err != nil {
		return nil, err
	}
	cat, _, err := flow.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 12)) // #nosec G404 -- the demo's story, reproducible from its seed
	asks, err := demoAsks(ctx, db, cat, rng)
	if err != nil {
		return nil, err
	}
	as := func(email string) context.Context {
		return steward.WithPrincipal(ctx, steward.Principal{Kind: steward.PrincipalPerson, Name: email, Role: steward.RoleMember, Via: steward.ActorFrom(ctx)})
	}
	step := demoHistory / time.Duration(len(asks)+1)
	var made []*steward.AccessRequest
	seen := map[steward.Outcome]int{}
	decided := 0
	for i, a := range asks {
		clk.set(now.Add(-demoHistory + time.Duration(i)*step + time.Duration(rng.Int64N(int64(step/2)))))
		if _, err := flow.Tick(ctx, steward.MaxLimit); err != nil {
			return nil, err
		}
		// Most refusals and unmatched asks are kept out: a few of each
		// tell the story.
		_, d, err := flow.Preview(as(a.requester), a.ref)
		if err != nil {
			continue
		}
		if key := d.Outcome; key == steward.OutcomeRefused || key == "" {
			if seen[key] >= 5 {
				continue
			}
			seen[key]++
		}
		res, err := flow.Create(as(a.requester), a.ref)
		if err != nil {
			logger.Debug("demo request not made", "requester", a.requester, "identity", a.ref.Identity, "entitlement", a.ref.Entitlement, "error", err)
			continue
		}
		if res.Request == nil {
			continue // unmatched demand, recorded
		}
		r := res.Request
		made = append(made, r)
		switch r.State {
		case steward.RequestApproved:
			if err := flow.Fulfil(ctx, r.ID, 1); err != nil {
				return nil, err
			}
		case steward.RequestPending:
			// Most are decided within hours; two in five wait, and some of
			// those breach their decision level or expire.
			if rng.IntN(5) < 2 {
				continue
			}
			decided++
			deny := decided%3 == 0
			clk.set(clk.Now().Add(time.Duration(30+rng.IntN(5*60)) * time.Minute))
			if err := demoDecide(ctx, db, flow, cat, r, deny, as); err != nil {
				return nil, err
			}
		}
	}
	clk.set(now)
	if _, err := flow.Tick(ctx, steward.MaxLimit); err != nil {
		return nil, err
	}
	out := map[steward.RequestState]int{}
	for _, r := range made {
		got, err := db.Request(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		out[got.State]++
	}
	return out, nil
}

// demoDecide has r's approvers approve it, until it needs no more, or one
// deny it, each the first person of an eligible approver set.
func demoDecide(ctx context.Context, db *sqlstore.DB, flow *request.Workflow, cat *steward.Catalog, r *steward.AccessRequest, deny bool,
	as func(string) context.Context) error {
	for range max(r.Decision.Approvals, 1) {
		cur, err := db.Request(ctx, r.ID)
		if err != nil {
			return err
		}
		if cur.State != steward.RequestPending {
			return nil
		}
		who, err := demoApprover(ctx, db, cat, cur)
		if err != nil || who == "" {
			return err
		}
		if deny {
			_, err = flow.Deny(as(who), r.ID, "Not without a change ticket; ask again with one.")
		} else {
			_, err = flow.Approve(as(who), r.ID, "Checked against the change plan.")
		}
		if err != nil && steward.ErrorCode(err) != steward.EFORBIDDEN {
			return err
		}
		if deny {
			return nil
		}
		if cur, err = db.Request(ctx, r.ID); err == nil && cur.State == steward.RequestApproved {
			return flow.Fulfil(ctx, r.ID, 1)
		}
	}
	return nil
}

// demoApprover returns the e-mail address of an active person who may act
// on pending r now and has not yet: from the teams and people its
// approver sets name.
func demoApprover(ctx context.Context, db *sqlstore.DB, cat *steward.Catalog, r *steward.AccessRequest) (string, error) {
	var teams []string
	var people []string
	for _, s := range r.EligibleSets() {
		switch s.Kind {
		case steward.ApproverResourceOwner:
			teams = append(teams, r.Target.OwnerTeam)
			for _, e := range r.Target.Entitlements {
				teams = append(teams, e.OwnerTeam)
			}
		case steward.ApproverSecurity:
			teams = append(teams, cat.SecurityTeam)
		case steward.ApproverTeam:
			teams = append(teams, s.Team)
		case steward.ApproverIdentityOwner:
			people = append(people, r.Question.Identity.Owner)
		case steward.ApproverRequesterManager:
			people = append(people, r.Question.Requester.Manager)
		}
	}
	all, err := db.Teams(ctx, steward.TeamFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		return "", err
	}
	for _, t := range all.Items {
		if !slices.Contains(teams, t.Name) {
			continue
		}
		page, err := db.People(ctx, steward.PersonFilter{TeamID: t.ID, Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 20}})
		if err != nil {
			return "", err
		}
		for _, p := range page.Items {
			people = append(people, p.Email)
		}
	}
	for _, email := range people {
		if email == "" || strings.EqualFold(email, r.Requester) || slices.ContainsFunc(r.Approvals, func(a steward.RequestApproval) bool { return strings.EqualFold(a.Approver, email) }) {
			continue
		}
		team := ""
		if p, err := db.PersonByKey(ctx, email); err == nil && p.TeamID != nil {
			if t, err := db.Team(ctx, *p.TeamID); err == nil {
				team = t.Name
			}
		}
		if len(r.ApproverSets(email, team, cat.SecurityTeam)) > 0 {
			return email, nil
		}
	}
	return "", nil
}

// demoAsk is one request of the demo's story.
type demoAsk struct {
	requester string
	ref       steward.AccessRef
}

// demoAsks picks the demo's requests: for identities of systems whose
// names the example catalog's models select, a person of the identity's
// team asks for an entitlement of its system that it does not hold, one
// of each system's privileged and one of its others; and a few that meet
// a boundary or no model at all.
func demoAsks(ctx context.Context, db *sqlstore.DB, cat *steward.Catalog, rng *rand.Rand) ([]demoAsk, error) {
	systems, err := db.Systems(ctx, steward.SystemFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		return nil, err
	}
	var out []demoAsk
	for _, sys := range systems.Items {
		if sys.Name == steward.SelfSystemName {
			continue
		}
		ids, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, Status: steward.IdentityActive, ListOptions: steward.ListOptions{Limit: 200}})
		if err != nil {
			return nil, err
		}
		ents, err := db.Entitlements(ctx, steward.EntitlementFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
		if err != nil {
			return nil, err
		}
		if len(ents.Items) == 0 {
			continue
		}
		// Someone asks for standing superuser as routine access: the
		// catalog's boundary refuses it, saying what to do instead.
		if m := routineModel(cat); m != "" && len(ids.Items) > 0 {
			for _, e := range ents.Items {
				if !slices.ContainsFunc(cat.Boundaries, func(b steward.Boundary) bool {
					return b.Match.Matches(&steward.AccessTarget{System: sys.Name, Name: e.Name})
				}) {
					continue
				}
				iv := ids.Items[rng.IntN(len(ids.Items))]
				if iv.TeamID == nil {
					break
				}
				people, err := db.People(ctx, steward.PersonFilter{TeamID: *iv.TeamID, Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 1}})
				if err != nil {
					return nil, err
				}
				if len(people.Items) > 0 {
					out = append(out, demoAsk{requester: people.Items[0].Email, ref: steward.AccessRef{Model: m, Identity: iv.Name, System: sys.Name, Entitlement: e.Name,
						Justification: map[string]string{"reason": "The deploy keeps failing on permissions."}}})
				}
				break
			}
		}
		asked := 0
		for _, idx := range rng.Perm(len(ids.Items)) {
			iv := ids.Items[idx]
			if iv.TeamID == nil || asked >= 2 {
				continue
			}
			people, err := db.People(ctx, steward.PersonFilter{TeamID: *iv.TeamID, Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 10}})
			if err != nil {
				return nil, err
			}
			if len(people.Items) == 0 {
				continue
			}
			held, err := db.Grants(ctx, steward.GrantFilter{IdentityID: iv.ID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
			if err != nil {
				return nil, err
			}
			// Elevation is asked for by the team that runs the system.
			var runners []steward.Person
			if sys.OwnerTeamID != nil {
				page, err := db.People(ctx, steward.PersonFilter{TeamID: *sys.OwnerTeamID, Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 10}})
				if err != nil {
					return nil, err
				}
				runners = page.Items
			}
			for _, privileged := range []bool{asked%2 == 0, asked%2 != 0} {
				for _, j := range rng.Perm(len(ents.Items)) {
					e := ents.Items[j]
					if e.Privileged != privileged || slices.ContainsFunc(held.Items, func(g steward.GrantView) bool { return g.EntitlementID == e.ID }) {
						continue
					}
					p := people.Items[rng.IntN(len(people.Items))]
					if privileged && len(runners) > 0 {
						p = runners[rng.IntN(len(runners))]
					}
					ref := steward.AccessRef{Identity: iv.Name, System: sys.Name, Entitlement: e.Name,
						Justification: map[string]string{"ticket": fmt.Sprintf("CHG-%d", 1000+rng.IntN(9000)), "reason": "Needed for the work in the ticket."}}
					out = append(out, demoAsk{requester: p.Email, ref: ref})
					break
				}
			}
			asked++
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// routineModel is the name of the catalog's first routine model.
func routineModel(c *steward.Catalog) string {
	for _, m := range c.Models {
		if m.Kind == steward.ModelRoutine && len(m.Requestable.Roles) == 0 {
			return m.Name
		}
	}
	return ""
}
