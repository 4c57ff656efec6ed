package demo

import (
	"math/rand/v2"
	"time"

	"github.com/stewardhq/steward"
)

// The demo's history: Steward was adopted some months before Config.Now,
// with the people directory, and each system was connected to it on a day
// of its own since. An ownership gap's task opened when Steward could first
// see the gap: the day its system was connected, or later, the day the gap
// began (an identity created without an owner, its owner leaving, the last
// member of its team leaving). So gaps are spread over months, the oldest
// are long overdue and the newest are not yet due, as in an estate that
// has run Steward for a while.

// adoptedAgo is how long before Now Steward was adopted: its first people
// sync. Its systems were connected one after another since, in an order of
// their own, about evenly spaced, the last connectedLast before Now.
const (
	adoptedAgo    = 300 * day
	connectedLast = 2 * day
)

// historyStream seeds the random source of the history from the
// organisation's seed. It is a stream of its own so that the history's
// draws do not change the organisation drawn from the main one.
const historyStream = 0x484953544f5259 // "HISTORY"

func newHistoryRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^historyStream, uint64(seed))) // #nosec G115 G404 -- a seed: its bits are what matters; the demo's history is drawn from it to be the same every time
}

// planHistory chooses when each system was connected to Steward and when
// each team lost its last active member.
func (g *generator) planHistory() {
	n := int64(len(g.systems))
	span := int64((adoptedAgo - connectedLast) / time.Second)
	order := g.hist.Perm(len(g.systems))
	for j, s := range g.systems {
		i := order[j]
		// Evenly spaced, give or take a few days.
		age := int64(adoptedAgo/time.Second) - span*int64(i)/max(n-1, 1)
		age += g.hist.Int64N(int64(5*day/time.Second)) - int64(2*day/time.Second)
		age = min(max(age, int64(connectedLast/time.Second)), int64(adoptedAgo/time.Second))
		s.connected = g.now.Add(-time.Duration(age) * time.Second)
		if s.connected.Before(s.created) {
			s.connected = s.created
		}
	}
	for _, t := range g.teams {
		var last time.Time
		for _, id := range t.members {
			p := g.people[id-1]
			if p.Status == steward.PersonActive {
				last = time.Time{}
				break
			}
			if p.DepartedAt.After(last) {
				last = *p.DepartedAt
			}
		}
		t.inactiveSince = last // zero while someone in the team is active
	}
}

// recordGaps notes when each ownership gap of a non-human identity began,
// for the last batch to open them with (steward.Bulk.GapStarts). It follows
// the store's gap conditions: only active identities have gaps.
func (g *generator) recordGaps(i *steward.Identity, s *system) {
	if i.Status != steward.IdentityActive {
		return
	}
	seen := later(s.connected, *i.CreatedAt)
	add := func(gap steward.GapKind, began time.Time) {
		at := later(seen, began)
		if at.After(g.now) {
			at = g.now
		}
		g.starts = append(g.starts, steward.GapStart{IdentityID: i.ID, Gap: gap, At: at})
	}
	if i.OwnerID == nil {
		add(steward.GapUnowned, seen)
	} else if p := g.people[*i.OwnerID-1]; p.Status == steward.PersonDeparted {
		add(steward.GapOwnerDeparted, *p.DepartedAt)
	}
	if i.TeamID != nil {
		if t := g.teams[*i.TeamID-1]; !t.inactiveSince.IsZero() {
			add(steward.GapTeamInactive, t.inactiveSince)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// provenance sets where a non-human identity's owner and team came from,
// and only says a tag decided them where its labels are such a tag: a
// "team" label names its team, and an "owner" label (the owner's email,
// added here to most identities whose team tag is right) names its owner.
// An owner or team that no tag names was assigned in Steward (explicit),
// and an owner assigned alone brought their own team.
// An unowned identity whose team tag names a team has that team, from the
// tag, as the store would resolve it. labelTeam is the team the "team"
// label names, nil for an unlabelled identity. Where a tag decided, the
// identity's reason names the tag, as a sync records it, so that the
// identity page says which tag and a later re-resolution (a rules change,
// a people sync) decides the same from it.
func (g *generator) provenance(i *steward.Identity, t, labelTeam *team) {
	switch {
	case labelTeam != nil && i.OwnerID == nil:
		i.TeamID = ptr(labelTeam.id)
		i.OwnerSource = steward.OwnerFromTag
		i.OwnerReason = steward.OwnerReason{TeamBy: steward.BasisTag, TeamTag: labelTeam.name}
	case labelTeam != nil && labelTeam == t && i.TeamID != nil && g.hist.IntN(100) < 60:
		email := g.people[*i.OwnerID-1].Email
		i.Labels["owner"] = email
		i.OwnerSource = steward.OwnerFromTag
		i.OwnerReason = steward.OwnerReason{OwnerBy: steward.BasisTag, OwnerTag: steward.NormalizeOwnerKey(email),
			TeamBy: steward.BasisTag, TeamTag: labelTeam.name}
	case i.OwnerID != nil && i.TeamID == nil:
		// An owner assigned without a team brings their own team, as
		// Steward's set-owner does (docs/ownership.md): the team follows
		// the owner.
		i.OwnerSource = steward.OwnerExplicit
		i.OwnerReason = steward.OwnerReason{OwnerBy: steward.BasisExplicit}
		if team := g.people[*i.OwnerID-1].TeamID; team != nil {
			i.TeamID = ptr(*team)
			i.OwnerReason.TeamBy = steward.BasisOwnerTeam
		}
	case i.OwnerID != nil || i.TeamID != nil:
		i.OwnerSource = steward.OwnerExplicit
	default:
		i.OwnerSource = steward.OwnerNone
	}
}
