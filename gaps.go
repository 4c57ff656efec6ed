package steward

// GapFacts is what the ownership gap conditions look at for one identity.
type GapFacts struct {
	Kind    IdentityKind
	Status  IdentityStatus
	OwnerID *int64
	// OwnerStatus is the status of the person OwnerID names.
	OwnerStatus PersonStatus
	TeamID      *int64
	// TeamActiveMembers counts the active people of the team TeamID names.
	TeamActiveMembers int
}

// GapFinding is one ownership gap an identity has, and why.
type GapFinding struct {
	Gap    GapKind `json:"gap"`
	Reason string  `json:"reason"`
}

// GapDecision is the ownership gaps of one identity, with their reasons, or
// why it cannot have any.
type GapDecision struct {
	// Exempt says why the identity cannot have a gap (a person's own login,
	// an identity that is not active); empty when the conditions apply.
	Exempt string
	// Gaps holds each condition that holds, in the order of GapKinds.
	Gaps []GapFinding
}

// Has reports whether the decision holds a gap of kind g.
func (d GapDecision) Has(g GapKind) bool {
	for _, f := range d.Gaps {
		if f.Gap == g {
			return true
		}
	}
	return false
}

// OwnershipGaps decides which ownership gaps an identity has. Only an active
// non-human identity can have one: a person's own login is owned by that
// person by definition, and a disabled or removed identity can do nothing
// that needs an owner to answer for it. Then each condition stands on its
// own, so that an identity can have two gaps at once:
//
//   - unowned: it has no owner;
//   - owner_departed: its owner has left;
//   - team_inactive: it has a team, and the team has no active member.
//
// An identity with no team but an active owner has no gap: the owner
// answers for it.
func OwnershipGaps(f *GapFacts) GapDecision {
	var d GapDecision
	switch {
	case f.Kind == KindHuman:
		d.Exempt = "a person's own login is owned by that person"
		return d
	case f.Status != IdentityActive:
		d.Exempt = "only an active identity can have an ownership gap; this one is " + string(f.Status)
		return d
	}
	if f.OwnerID == nil {
		d.Gaps = append(d.Gaps, GapFinding{GapUnowned, "it has no owner: no assignment, tag or rule names a known person"})
	} else if f.OwnerStatus == PersonDeparted {
		d.Gaps = append(d.Gaps, GapFinding{GapOwnerDeparted, "its owner has left the organisation"})
	}
	if f.TeamID != nil && f.TeamActiveMembers == 0 {
		d.Gaps = append(d.Gaps, GapFinding{GapTeamInactive, "its team has no active member"})
	}
	return d
}
