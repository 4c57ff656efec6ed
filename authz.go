package steward

import "slices"

// Permission is what a principal asks to do. Each API route declares one
// (the route table in http/server.go); Authorize decides.
type Permission string

// Permissions.
const (
	// PermWhoami: say who the principal is. Every principal may.
	PermWhoami Permission = "whoami"
	// PermDirectoryRead: read teams, people, systems and entitlements.
	PermDirectoryRead Permission = "directory.read"
	// PermIdentityRead: read an identity, its credentials and links. A
	// member needs a relationship to it (RelOwner, RelTeam) or the
	// configuration's leave (RelEveryone); lists show a member only those.
	PermIdentityRead Permission = "identity.read"
	// PermEvidenceRead: read the audit log, ownership gaps, grants, sync
	// runs and ownership rules: evidence for auditors.
	PermEvidenceRead Permission = "evidence.read"
	// PermInventoryWrite: create teams, people, systems, identities,
	// credentials, entitlements and grants, import, apply ownership rules.
	PermInventoryWrite Permission = "inventory.write"
	// PermOwnerSet: set an identity's owner and team. A member needs
	// RelOwner or RelTeam both to the identity and to the new assignment.
	PermOwnerSet Permission = "identity.set_owner"
	// PermAttest: confirm, as its owner, that an identity is still needed.
	// Only the owner, a person, with RelOwner.
	PermAttest Permission = "identity.attest"
	// PermTokenSelf: list, create and revoke one's own personal tokens.
	// Only a person.
	PermTokenSelf Permission = "token.self"
	// PermRequestRead: read access requests. A member reads their own and
	// those they may decide (the request workflow filters); admin and
	// auditor read all.
	PermRequestRead Permission = "request.read"
	// PermRequestAct: ask for access and act on requests: approve or deny
	// as an eligible approver, cancel one's own, ask to extend. Only a
	// person, and not an auditor, who writes nothing. Who may approve
	// which request is the catalog's to say (approver sets), never a role:
	// the request workflow decides it, with separation of duties.
	PermRequestAct Permission = "request.act"
	// PermNoticeRead: read the notices Steward wrote to people (an owner
	// change, a JIT grant's coming expiry). A member reads their own; admin
	// and auditor read anyone's, as a mailer outside Steward would to send
	// them.
	PermNoticeRead Permission = "notice.read"
)

// Permissions lists every Permission.
var Permissions = []Permission{PermWhoami, PermDirectoryRead, PermIdentityRead, PermEvidenceRead,
	PermInventoryWrite, PermOwnerSet, PermAttest, PermTokenSelf, PermRequestRead, PermRequestAct, PermNoticeRead}

// Validate returns EINVALID unless p is a known permission.
func (p Permission) Validate() error { return oneOf("permission", p, Permissions) }

// Relationship is how a principal stands to the object of a request. The
// caller establishes it from the catalog (who owns the identity, which team
// it is of); Authorize only weighs it.
type Relationship string

// Relationships.
const (
	// RelOwner: the principal's person owns the object (for an owner
	// assignment: assigns it to themselves).
	RelOwner Relationship = "owner"
	// RelTeam: the object is of the principal's person's team (for an
	// owner assignment: assigns it within that team).
	RelTeam Relationship = "team"
	// RelEveryone: the configuration shows every identity to every member
	// (members_see_all).
	RelEveryone Relationship = "everyone"
)

// Decision is Authorize's answer, with the reason in words for the person
// refused (and for the log of one allowed).
type Decision struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
}

// Err returns nil for an allowed decision and EFORBIDDEN with the reason
// otherwise.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return Errorf(EFORBIDDEN, "%s", d.Reason)
}

func allow(reason string) Decision { return Decision{Allowed: true, Reason: reason} }
func deny(reason string) Decision  { return Decision{Reason: reason} }

// Authorize decides whether p may do perm to an object it stands to in
// rels. Roles give: admin everything but attesting for someone else;
// auditor every read and no write; member the directory, and the
// identities it owns or of its team, to read, to set owners within its
// team and, as owner, to attest. A personal token's person may manage
// their own tokens whatever their role. Attestation is the owner's own
// statement, so not even an admin may make it for them.
func Authorize(p Principal, perm Permission, rels ...Relationship) Decision {
	has := func(r Relationship) bool { return slices.Contains(rels, r) }
	if err := p.Role.Validate(); err != nil {
		return deny("Role " + quoteRole(p.Role) + " is not known; it may do nothing.")
	} else if err := perm.Validate(); err != nil {
		return deny("Permission " + string(perm) + " is not known.")
	}
	switch perm {
	case PermWhoami:
		return allow("Every principal may ask who it is.")
	case PermTokenSelf:
		if p.Kind != PrincipalPerson {
			return deny("Only a person has personal tokens; " + p.Actor() + " is not a person. An admin makes automation tokens with `steward token create --owner`.")
		}
		return allow("A person manages their own personal tokens.")
	case PermAttest:
		switch {
		case p.Role == RoleAuditor:
			return deny("Role auditor reads everything and writes nothing; an attestation is a write.")
		case p.Kind != PrincipalPerson:
			return deny("An attestation is a person's statement; " + p.Actor() + " is not a person. The owner signs in and attests.")
		case !has(RelOwner):
			return deny("Only the identity's owner may attest it, not even an admin: an attestation is the owner's own statement that it is theirs and still needed.")
		}
		return allow("The owner attests their own identity.")
	case PermRequestAct:
		switch {
		case p.Role == RoleAuditor:
			return deny("Role auditor reads everything and writes nothing; asking for access or deciding a request is a write.")
		case p.Kind != PrincipalPerson:
			return deny("Access is asked for and decided by people; " + p.Actor() + " is not a person.")
		}
		return allow("A person asks for access, and decides the requests the catalog makes them an approver of.")
	case PermRequestRead:
		return allow("Every principal reads the requests it may see: a member their own and those they may decide.")
	case PermNoticeRead:
		if p.Role == RoleMember && p.Kind != PrincipalPerson {
			return deny("Notices are written to people; " + p.Actor() + " is not a person, and a member reads only their own.")
		}
		return allow("A person reads their own notices; an admin or auditor anyone's.")
	}
	switch p.Role {
	case RoleAdmin:
		return allow("Role admin may do this.")
	case RoleAuditor:
		if perm == PermInventoryWrite || perm == PermOwnerSet {
			return deny("Role auditor reads everything and writes nothing.")
		}
		return allow("Role auditor reads everything.")
	}
	// RoleMember.
	switch perm {
	case PermDirectoryRead:
		return allow("Every member sees the directory.")
	case PermIdentityRead:
		switch {
		case has(RelOwner):
			return allow("A member sees the identities they own.")
		case has(RelTeam):
			return allow("A member sees their team's identities.")
		case has(RelEveryone):
			return allow("The configuration shows every identity to members (members_see_all).")
		}
		return deny("A member sees only the identities they own and their team's; this one is neither.")
	case PermOwnerSet:
		if has(RelOwner) || has(RelTeam) {
			return allow("A member sets owners within their team.")
		}
		return deny("A member sets owners only of the identities they own or their team's, and only within their team; ask an admin or the owning team.")
	case PermEvidenceRead:
		return deny("Role member does not read the audit log, ownership gaps, grants, sync runs or ownership rules; an auditor or admin does.")
	}
	return deny("Role member may not change the inventory; an admin does (or an automation token of role admin).")
}

func quoteRole(r Role) string { return "\"" + string(r) + "\"" }

// RelationshipsTo returns how p stands to an object owned by owner and of
// team, when p's person is of team myTeam (0: none): RelOwner when its
// person owns it, RelTeam when it is of that team. A principal that is not
// a person has neither.
func RelationshipsTo(p Principal, myTeam int64, owner, team *int64) []Relationship {
	var rels []Relationship
	if p.PersonID == 0 {
		return rels
	}
	if owner != nil && *owner == p.PersonID {
		rels = append(rels, RelOwner)
	}
	if team != nil && myTeam != 0 && *team == myTeam {
		rels = append(rels, RelTeam)
	}
	return rels
}

// Everyone returns the relationship the configuration gives every member
// to every identity: RelEveryone when membersSeeAll (members_see_all),
// else none. Callers add it to the principal's own relationships.
func Everyone(membersSeeAll bool) []Relationship {
	if membersSeeAll {
		return []Relationship{RelEveryone}
	}
	return nil
}

// IdentityVisibility returns which identities p may list and read, when
// p's person is of team myTeam (0: none): nil for every identity, when
// Authorize allows p PermIdentityRead whatever it stands to (an admin, an
// auditor, an automation principal, a member under members_see_all), else
// those p's person owns or of its team (IdentityFilter.Visible). It is the
// one rule the API's lists and the web UI's pages apply.
func IdentityVisibility(p Principal, myTeam int64, membersSeeAll bool) *Visibility {
	if Authorize(p, PermIdentityRead, Everyone(membersSeeAll)...).Allowed {
		return nil
	}
	return &Visibility{PersonID: p.PersonID, TeamID: myTeam}
}

// AssignmentRelationships returns how p stands to the owner assignment a,
// when p's person is of team myTeam (0: none) and ownerTeam is the team of
// the owner a names: RelOwner when it names p's person and no team (their
// own follows), RelTeam when everything it names is of p's team. Clearing both hands the
// identity back to rules and tags, and is within anyone's reach who may
// change the identity (RelTeam).
func AssignmentRelationships(p Principal, myTeam int64, a OwnerAssignment, ownerTeam *int64) []Relationship {
	if p.PersonID == 0 {
		return nil
	}
	if a.OwnerID == nil && a.TeamID == nil {
		return []Relationship{RelTeam}
	}
	self := a.OwnerID != nil && *a.OwnerID == p.PersonID
	teamOK := a.TeamID == nil || (myTeam != 0 && *a.TeamID == myTeam)
	ownerOK := a.OwnerID == nil || self || (myTeam != 0 && ownerTeam != nil && *ownerTeam == myTeam)
	var rels []Relationship
	if !teamOK || !ownerOK {
		return rels
	}
	if self && a.TeamID == nil {
		rels = append(rels, RelOwner) // to themselves, with their own team
	}
	if myTeam != 0 {
		rels = append(rels, RelTeam)
	}
	return rels
}
