package storetest

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// estate is a generated organisation: what the test told the store, kept
// on the test's side so that the expected owners are worked out from the
// inputs and not read back from the store.
type estate struct {
	t      *testing.T
	s      steward.Store
	rng    *rand.Rand
	tag    string // makes names unique in the test binary
	people []steward.SourcePerson
	teams  []string // every team name the estate may use, some never created
	rules  []steward.OwnershipRule
	sys    []*steward.System
	// identity records by system, and the explicit assignments made since.
	records  map[int64][]steward.SourceIdentity
	explicit map[int64]steward.OwnerAssignment // identity id → what was set by hand
}

// testRulesAgree generates estates (people who join, move and leave, teams
// with and without active members, owner and team tags that name someone,
// no one or nobody known, rules that name people and teams or not, explicit
// owners) and requires, after every step, that each identity's owner, team,
// owner source and reason are what steward.ResolveOwner decides from the
// inputs, and that the open gap tasks are what steward.OwnershipGaps
// decides (checkGaps): the store's SQL and incremental re-resolution agree
// with the domain's rules.
func testRulesAgree(t *testing.T, s steward.Store, clock *Clock) {
	// Each seed is a new estate in the same store, with rules of its own.
	for seed := range uint64(3) {
		e := &estate{t: t, s: s, rng: rand.New(rand.NewPCG(20260301, seed)), tag: fmt.Sprint("r", next()), // #nosec G404 -- a test's reproducible random estate
			records: map[int64][]steward.SourceIdentity{}, explicit: map[int64]steward.OwnerAssignment{}}
		e.run(clock)
	}
}

func (e *estate) run(clock *Clock) {
	t, s := e.t, e.s
	for i := range 9 {
		e.teams = append(e.teams, fmt.Sprintf("%s-team-%d", e.tag, i))
	}
	// Teams 0-5 are named by people; 6 is created empty through the API;
	// 7 and 8 are named by tags and rules but never exist (until step 4).
	if err := s.CreateTeam(ctx(), &steward.Team{Name: e.teams[6]}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		p := steward.SourcePerson{ExternalID: fmt.Sprintf("%s-p%d", e.tag, i), Name: fmt.Sprintf("Person %d", i),
			Email: fmt.Sprintf("%s.p%d@example.test", e.tag, i), Status: steward.PersonActive}
		if i%7 != 0 { // every seventh person has no team
			p.Team = e.teams[e.rng.IntN(6)]
		}
		e.people = append(e.people, p)
	}
	e.syncPeople()
	e.rules = e.genRules()
	if _, err := s.ApplyOwnershipRules(ctx(), e.rules); err != nil {
		t.Fatal(err)
	}
	for i, kind := range []steward.SystemKind{steward.SystemKubernetes, steward.SystemAWS} {
		e.sys = append(e.sys, MustSystem(t, s, func(x *steward.System) { x.Name = fmt.Sprintf("%s-sys-%d", e.tag, i); x.Kind = kind }))
	}
	for _, sys := range e.sys {
		var ids []steward.SourceIdentity
		for i := range 120 {
			ids = append(ids, e.genIdentity(fmt.Sprintf("%s-%s-%d", sys.Name, e.pick("svc", "ci", "pay", "ml"), i)))
		}
		e.records[sys.ID] = ids
		e.sync(sys)
	}
	e.check("first loads")

	// 1. Owners set by hand: owner only, team only, both, and cleared.
	all := e.identities()
	for range 30 {
		x := all[e.rng.IntN(len(all))]
		var a steward.OwnerAssignment
		switch e.rng.IntN(4) {
		case 0:
			a.OwnerID = &e.personIDs()[e.rng.IntN(len(e.people))]
		case 1:
			a.TeamID = e.teamID()
		case 2:
			a.OwnerID, a.TeamID = &e.personIDs()[e.rng.IntN(len(e.people))], e.teamID()
		}
		if _, err := s.SetOwner(ctx(), x.ID, a); err != nil {
			t.Fatal(err)
		}
		if a.OwnerID == nil && a.TeamID == nil {
			delete(e.explicit, x.ID)
		} else {
			e.explicit[x.ID] = a
		}
	}
	// Clearing hands an identity back to tags and rules at its next
	// re-resolution: a rules change is one.
	e.rules = e.genRules()
	if _, err := s.ApplyOwnershipRules(ctx(), e.rules); err != nil {
		t.Fatal(err)
	}
	e.check("explicit owners and new rules")

	// 2. People leave, move team, and come back; a team loses everyone.
	for i := range e.people {
		p := &e.people[i]
		switch {
		case p.Team == e.teams[0]:
			p.Status, p.DepartedAt = steward.PersonDeparted, ptr(clock.Now())
		case e.rng.IntN(6) == 0:
			p.Status, p.DepartedAt = steward.PersonDeparted, ptr(clock.Now())
		case e.rng.IntN(5) == 0:
			p.Team = e.teams[e.rng.IntN(6)]
		case e.rng.IntN(9) == 0:
			p.Team = ""
		}
	}
	clock.Advance(time.Hour)
	e.syncPeople()
	e.check("departures and moves")

	// 3. A system re-syncs with changed tags, statuses and kinds.
	for _, sys := range e.sys {
		ids := e.records[sys.ID]
		for i := range ids {
			if e.rng.IntN(3) == 0 {
				ids[i] = e.genIdentity(ids[i].ExternalID)
			}
		}
		clock.Advance(time.Minute)
		e.sync(sys)
	}
	e.check("re-syncs")

	// 4. The teams that tags and rules named before they existed appear, a
	// new person joins whom tags and rules already named, and a departed
	// person returns.
	if err := s.CreateTeam(ctx(), &steward.Team{Name: e.teams[7]}); err != nil {
		t.Fatal(err)
	}
	e.check("a team a rule named")
	if err := s.CreatePerson(ctx(), &steward.Person{ExternalID: e.tag + "-apilate", Name: "API Late", Status: steward.PersonActive,
		TeamID: e.teamID()}); err != nil {
		t.Fatal(err)
	}
	e.check("a person a rule named")
	e.people = append(e.people, steward.SourcePerson{ExternalID: e.tag + "-late", Name: "Late", Email: e.tag + ".late@example.test",
		Team: e.teams[8], Status: steward.PersonActive})
	for i := range e.people {
		if e.people[i].Status == steward.PersonDeparted && e.rng.IntN(3) == 0 {
			e.people[i].Status, e.people[i].DepartedAt = steward.PersonActive, nil
		}
	}
	e.syncPeople()
	e.check("new teams and a late joiner")
}

func (e *estate) pick(xs ...string) string { return xs[e.rng.IntN(len(xs))] }

// ownerTag is an owner tag as a source may write it: a person's e-mail or
// external id (in any case, with spaces), someone unknown, or nothing.
func (e *estate) ownerTag() string {
	p := e.people[e.rng.IntN(len(e.people))]
	switch e.rng.IntN(6) {
	case 0:
		return p.Email
	case 1:
		return " " + p.ExternalID
	case 2:
		return strings.ToUpper(e.tag + ".late@example.test") // nobody until step 4
	case 3:
		return e.tag + ".stranger@example.test"
	}
	return ""
}

func (e *estate) genIdentity(ext string) steward.SourceIdentity {
	kinds := []steward.IdentityKind{steward.KindServiceAccount, steward.KindAPIKey, steward.KindToken, steward.KindWorkload, steward.KindBot, steward.KindHuman}
	i := steward.SourceIdentity{ExternalID: ext, Kind: kinds[e.rng.IntN(len(kinds))], Owner: e.ownerTag(),
		Environment: []steward.Environment{steward.EnvProd, steward.EnvStaging, steward.EnvDev}[e.rng.IntN(3)]}
	if e.rng.IntN(8) == 0 {
		i.Status = steward.IdentityDisabled
	}
	if e.rng.IntN(3) == 0 {
		i.Team = e.teams[e.rng.IntN(len(e.teams))]
	}
	if n := e.rng.IntN(3); n > 0 {
		i.Labels = map[string]string{"namespace": e.pick("payments", "ml", "platform")}
		if n == 2 {
			i.Labels["cost-center"] = e.pick("CC-10", "CC-20")
		}
	}
	return i
}

// genRules makes rules that match on every kind of condition and name
// people and teams who exist, who do not yet, and who never will.
func (e *estate) genRules() []steward.OwnershipRule {
	var rules []steward.OwnershipRule
	for i := range 7 {
		r := steward.OwnershipRule{Name: fmt.Sprintf("%s-rule-%d-%d", e.tag, i, e.rng.IntN(1000))}
		switch i % 6 {
		case 0:
			r.Match.Namespaces = []string{e.pick("payments", "ml", "platform")}
		case 1:
			r.Match.Names = []string{"*-" + e.pick("svc", "ci", "pay", "ml") + "-*"}
		case 2:
			r.Match.Kinds = []steward.IdentityKind{steward.KindToken, steward.KindBot}
			r.Match.Environments = []steward.Environment{steward.EnvProd}
		case 3:
			r.Match.SystemKinds = []steward.SystemKind{steward.SystemAWS}
		case 4:
			r.Match.Labels = map[string]string{"cost-center": "CC-1*"}
		case 5:
			r.Match.Systems = []string{e.tag + "-sys-0"}
			r.Match.ExternalIDs = []string{"*1?"}
		}
		if e.rng.IntN(3) > 0 {
			r.Owner = e.pick(e.people[e.rng.IntN(len(e.people))].Email, e.people[e.rng.IntN(len(e.people))].ExternalID,
				e.tag+".late@example.test", e.tag+".nobody@example.test")
		}
		if r.Owner == "" || e.rng.IntN(2) == 0 {
			r.Team = e.teams[e.rng.IntN(len(e.teams))]
		}
		switch i {
		case 0: // a known owner, and a team that appears only in step 4
			r.Owner, r.Team = e.people[e.rng.IntN(len(e.people))].Email, e.teams[7]
		case 3: // the late joiner, and their team, both unknown until step 4
			r.Owner, r.Team = e.tag+".late@example.test", e.teams[8]
		case 5: // someone created through the API in step 4
			r.Owner = strings.ToUpper(e.tag + "-apilate")
		}
		rules = append(rules, r)
	}
	return rules
}

func (e *estate) syncPeople() {
	e.t.Helper()
	people := slices.Clone(e.people)
	seq := iter.Seq2[steward.SourcePerson, error](func(yield func(steward.SourcePerson, error) bool) {
		for _, p := range people {
			if !yield(p, nil) {
				return
			}
		}
	})
	if _, err := e.s.SyncPeople(ctx(), e.tag+"-hr", seq); err != nil {
		e.t.Fatal(err)
	}
}

func (e *estate) sync(sys *steward.System) {
	e.t.Helper()
	ids := e.records[sys.ID]
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			for i := range ids {
				x := ids[i]
				if !yield(steward.Record{Pos: fmt.Sprintf("estate:%d", i+1), Identity: &x}, nil) {
					return
				}
			}
		}
	})
	if _, err := e.s.SyncSystem(ctx(), sys.ID, src, steward.SyncOptions{Source: "test:estate"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *estate) identities() []steward.IdentityView {
	e.t.Helper()
	var out []steward.IdentityView
	for _, sys := range e.sys {
		out = append(out, AllPages(e.t, func(o steward.ListOptions) (*steward.Page[steward.IdentityView], error) {
			return e.s.Identities(ctx(), steward.IdentityFilter{SystemID: sys.ID, ListOptions: o})
		}, steward.MaxLimit)...)
	}
	return out
}

// directory is the steward.OwnerDirectory of what the store holds now.
func (e *estate) directory() *steward.OwnerDirectory {
	e.t.Helper()
	dir := &steward.OwnerDirectory{People: map[string]int64{}, PersonTeam: map[int64]int64{}, Teams: map[string]int64{}}
	for _, p := range AllPages(e.t, func(o steward.ListOptions) (*steward.Page[steward.Person], error) {
		return e.s.People(ctx(), steward.PersonFilter{ListOptions: o})
	}, steward.MaxLimit) {
		dir.People[steward.NormalizeOwnerKey(p.ExternalID)] = p.ID
		if p.Email != "" {
			dir.People[steward.NormalizeOwnerKey(p.Email)] = p.ID
		}
		if p.TeamID != nil {
			dir.PersonTeam[p.ID] = *p.TeamID
		}
	}
	for _, team := range AllPages(e.t, func(o steward.ListOptions) (*steward.Page[steward.Team], error) {
		return e.s.Teams(ctx(), steward.TeamFilter{ListOptions: o})
	}, steward.MaxLimit) {
		dir.Teams[team.Name] = team.ID
	}
	return dir
}

func (e *estate) personIDs() []int64 {
	dir := e.directory()
	out := make([]int64, len(e.people))
	for i, p := range e.people {
		out[i] = dir.People[steward.NormalizeOwnerKey(p.ExternalID)]
	}
	return out
}

// teamID returns one of the estate's teams that exists.
func (e *estate) teamID() *int64 {
	dir := e.directory()
	for {
		if id, ok := dir.Teams[e.teams[e.rng.IntN(len(e.teams))]]; ok {
			return &id
		}
	}
}

// check requires every identity's stored ownership to be the domain's
// decision from the estate's inputs, and the gap tasks to be the domain's
// gap conditions over the inventory.
func (e *estate) check(step string) {
	e.t.Helper()
	dir := e.directory()
	byExt := map[string]steward.SourceIdentity{}
	for _, sys := range e.sys {
		for _, i := range e.records[sys.ID] {
			byExt[sys.Name+"/"+i.ExternalID] = i
		}
	}
	sysOf := map[int64]*steward.System{}
	for _, sys := range e.sys {
		sysOf[sys.ID] = sys
	}
	bad := 0
	for _, x := range e.identities() {
		sys := sysOf[x.SystemID]
		src := byExt[sys.Name+"/"+x.ExternalID]
		facts := steward.OwnerFacts{OwnerTag: steward.NormalizeOwnerKey(src.Owner), TeamTag: src.Team,
			Subject: steward.RuleSubject{System: sys.Name, SystemKind: sys.Kind, Kind: src.Kind, Environment: src.Environment,
				Name: src.ExternalID, ExternalID: src.ExternalID, Labels: src.Labels}}
		if a, ok := e.explicit[x.ID]; ok {
			facts.Explicit, facts.ExplicitOwner, facts.ExplicitTeam = true, a.OwnerID, a.TeamID
		}
		want := steward.ResolveOwner(&facts, e.rules, dir)
		got := steward.OwnerDecision{OwnerID: x.OwnerID, TeamID: x.TeamID, Source: x.OwnerSource, OwnerBy: x.OwnerReason.OwnerBy,
			TeamBy: x.OwnerReason.TeamBy, Rule: x.OwnerReason.Rule, OwnerTag: x.OwnerReason.OwnerTag, TeamTag: x.OwnerReason.TeamTag}
		if fmt.Sprint(deref(got.OwnerID), deref(got.TeamID)) != fmt.Sprint(deref(want.OwnerID), deref(want.TeamID)) ||
			got.Source != want.Source || got.Reason() != want.Reason() {
			if bad++; bad <= 5 {
				e.t.Errorf("after %s: identity %s (explicit %v): store has owner %v team %v %q %+v; the rules decide owner %v team %v %q %+v",
					step, x.ExternalID, facts.Explicit, deref(got.OwnerID), deref(got.TeamID), got.Source, got.Reason(),
					deref(want.OwnerID), deref(want.TeamID), want.Source, want.Reason())
			}
		}
	}
	if bad > 0 {
		e.t.Fatalf("after %s: %d identities disagree with the rules", step, bad)
	}
	checkGaps(e.t, e.s, "estate: "+step)
}

// testSetOwnerTakesOwnersTeam holds SetOwner and CreateIdentity to the
// documented rule that an identity with an owner but no team gets its
// owner's team, says why, and follows the owner to a new team; a team set
// by hand stays.
func testSetOwnerTakesOwnersTeam(t *testing.T, s steward.Store, clock *Clock) {
	payments, ml := MustTeam(t, s, nil), MustTeam(t, s, nil)
	ada := MustPerson(t, s, func(p *steward.Person) { p.TeamID = &payments.ID })
	loner := MustPerson(t, s, nil)
	sys := MustSystem(t, s, nil)
	i := MustIdentity(t, s, sys.ID, nil)
	v, err := s.SetOwner(ctx(), i.ID, steward.OwnerAssignment{OwnerID: &ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := steward.OwnerReason{OwnerBy: steward.BasisExplicit, TeamBy: steward.BasisOwnerTeam}
	if v.TeamID == nil || *v.TeamID != payments.ID || v.OwnerSource != steward.OwnerExplicit || v.OwnerReason != want {
		t.Fatalf("set-owner without a team: team %v, source %q, reason %+v; want the owner's team %d, %+v", deref(v.TeamID), v.OwnerSource, v.OwnerReason, payments.ID, want)
	}
	page, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionIdentityOwnerChanged, ObjectType: steward.ObjectIdentity, ObjectID: fmt.Sprint(i.ID)})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("owner events = %+v, %v", page, err)
	}
	p, err := page.Items[0].Payload()
	if err != nil {
		t.Fatal(err)
	}
	if c := p.(*steward.OwnerChanged); c.TeamID == nil || *c.TeamID != payments.ID || c.TeamBy != steward.BasisOwnerTeam || c.OwnerBy != steward.BasisExplicit {
		t.Fatalf("owner event = %+v", c)
	}
	// The team follows the owner when they move (a people sync, here one
	// that lists ada in ml).
	mover := steward.SourcePerson{ExternalID: ada.ExternalID, Name: ada.Name, Email: ada.Email, Team: ml.Name, Status: steward.PersonActive}
	if _, err := s.SyncPeople(ctx(), "hr", func(yield func(steward.SourcePerson, error) bool) { yield(mover, nil) }); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Identity(ctx(), i.ID); v.TeamID == nil || *v.TeamID != ml.ID || v.OwnerID == nil || *v.OwnerID != ada.ID {
		t.Fatalf("after the owner moved to %d: owner %v team %v", ml.ID, deref(v.OwnerID), deref(v.TeamID))
	}
	// A team set by hand stays where it was put.
	if v, err = s.SetOwner(ctx(), i.ID, steward.OwnerAssignment{OwnerID: &ada.ID, TeamID: &payments.ID}); err != nil ||
		*v.TeamID != payments.ID || v.OwnerReason.TeamBy != steward.BasisExplicit {
		t.Fatalf("set-owner with a team: %+v %v", v, err)
	}
	// An owner in no team leaves the team empty.
	if v, err = s.SetOwner(ctx(), i.ID, steward.OwnerAssignment{OwnerID: &loner.ID}); err != nil || v.TeamID != nil || v.OwnerReason.TeamBy != "" {
		t.Fatalf("set-owner to someone in no team: %+v %v", v, err)
	}
	// Created through the API with an owner and no team: the same rule.
	j := MustIdentity(t, s, sys.ID, func(x *steward.Identity) { x.OwnerID = &ada.ID })
	if v, _ := s.Identity(ctx(), j.ID); v.TeamID == nil || *v.TeamID != ml.ID || v.OwnerReason != want {
		t.Fatalf("created with an owner only: team %v, reason %+v", deref(v.TeamID), v.OwnerReason)
	}
	checkGaps(t, s, "set-owner")
}
