package steward

import (
	"context"
	"strings"
)

// AccessRef names what an access question is about the way people do: a
// person by e-mail address, an identity and an entitlement by name, in a
// system by name, a catalog role by name. No ids.
type AccessRef struct {
	Model         string
	Requester     string // e-mail address or external id
	Identity      string // the identity to hold the access, or to be made (new-identity) or retired
	System        string // the system of the identity and the entitlement; may be left out when the identity's name is unique
	Entitlement   string
	Role          string // a catalog role instead of an entitlement
	Duration      Duration
	Justification map[string]string
}

// AskAccess builds the question ref asks under catalog c from what the
// inventory holds: the requester with their team and manager, the identity
// with its owner and team, the entitlement with its system's owning team.
// For a new-identity model the identity is the one to be made, owned by
// the requester in their team. It returns ENOTFOUND for a person, system,
// identity, entitlement or role that does not exist, and EINVALID when a
// name is ambiguous or missing.
func AskAccess(ctx context.Context, r InventoryReader, c *Catalog, ref AccessRef) (*AccessQuestion, error) {
	q := &AccessQuestion{Model: ref.Model, Duration: ref.Duration, Justification: ref.Justification}
	if ref.Requester == "" {
		return nil, Errorf(EINVALID, "Name the person who asks (an e-mail address).")
	}
	p, err := r.PersonByKey(ctx, ref.Requester)
	if err != nil {
		return nil, err
	}
	teamName := func(id *int64) string {
		if id == nil {
			return ""
		}
		if t, err := r.Team(ctx, *id); err == nil {
			return t.Name
		}
		return ""
	}
	q.Requester = Requester{Email: p.Email, Name: p.Name, Title: p.Title, Team: teamName(p.TeamID), Active: p.Status == PersonActive}
	if p.ManagerID != nil {
		if m, err := r.Person(ctx, *p.ManagerID); err == nil {
			q.Requester.Manager = m.Email
		}
	}

	var sys *System
	if ref.System != "" {
		if sys, err = r.SystemByName(ctx, ref.System); err != nil {
			return nil, err
		}
	}
	m := c.Model(ref.Model)
	newIdentity := m != nil && m.Kind == ModelNewIdentity
	switch {
	case ref.Identity == "":
		return nil, Errorf(EINVALID, "Name the identity that would hold the access (or be made, or retired).")
	case newIdentity:
		if sys == nil {
			return nil, Errorf(EINVALID, "Name the system the new identity %s is to be made in.", ref.Identity)
		}
		q.Identity = IdentityFacts{Name: ref.Identity, System: sys.Name, Owner: p.Email, Team: q.Requester.Team, Active: true, New: true}
	default:
		iv, err := IdentityNamed(ctx, r, sys, ref.Identity)
		if err != nil {
			return nil, err
		}
		q.Identity = IdentityFacts{Name: iv.Name, System: iv.SystemName, Kind: string(iv.Kind), Environment: string(iv.Environment),
			Criticality: string(iv.Criticality), Team: iv.TeamName, Active: iv.Status == IdentityActive}
		if iv.OwnerID != nil {
			if o, err := r.Person(ctx, *iv.OwnerID); err == nil {
				q.Identity.Owner = o.Email
			}
		}
		if sys == nil {
			if sys, err = r.System(ctx, iv.SystemID); err != nil {
				return nil, err
			}
		}
	}

	switch {
	case m != nil && (m.Kind == ModelNewIdentity || m.Kind == ModelDecommission):
		q.Target = AccessTarget{System: sys.Name, OwnerTeam: teamName(sys.OwnerTeamID)}
	case ref.Role != "":
		role := c.Role(ref.Role)
		if role == nil {
			return nil, Errorf(ENOTFOUND, "The catalog has no role %s.", ref.Role)
		}
		q.Target = AccessTarget{Role: role.Name, Sensitivity: LevelLow}
		for _, e := range role.Entitlements {
			// A role may name what is not yet in the inventory: it is
			// still judged by its system and name (a boundary's names).
			member := AccessTarget{System: e.System, Name: e.Name}
			if s, err := r.SystemByName(ctx, e.System); err == nil {
				member.OwnerTeam = teamName(s.OwnerTeamID)
				if ent, err := EntitlementNamed(ctx, r, s, e.Name); err == nil {
					member.Privileged, member.Sensitivity = ent.Privileged, ent.Sensitivity
				}
			}
			q.Target.Entitlements = append(q.Target.Entitlements, member)
			q.Target.Privileged = q.Target.Privileged || member.Privileged
			if LevelRank(member.Sensitivity) > LevelRank(q.Target.Sensitivity) {
				q.Target.Sensitivity = member.Sensitivity
			}
		}
	case ref.Entitlement != "":
		ent, err := EntitlementNamed(ctx, r, sys, ref.Entitlement)
		if err != nil {
			return nil, err
		}
		q.Target = AccessTarget{System: sys.Name, Name: ent.Name, Privileged: ent.Privileged, Sensitivity: ent.Sensitivity, OwnerTeam: teamName(sys.OwnerTeamID)}
	default:
		return nil, Errorf(EINVALID, "Name the entitlement (or the catalog role) asked for.")
	}
	return q, nil
}

func inSystem(s string) string {
	if s == "" {
		return ""
	}
	return " in " + s
}

// IdentityNamed finds the one identity named exactly name, in s when s is
// not nil: ENOTFOUND when there is none, EINVALID when the name is on
// several systems and s does not say which.
func IdentityNamed(ctx context.Context, r InventoryReader, s *System, name string) (*IdentityView, error) {
	f := IdentityFilter{Name: name, ListOptions: ListOptions{Limit: 2}}
	where := ""
	if s != nil {
		f.SystemID, where = s.ID, inSystem(s.Name)
	}
	page, err := r.Identities(ctx, f)
	if err != nil {
		return nil, err
	}
	switch len(page.Items) {
	case 0:
		return nil, Errorf(ENOTFOUND, "No identity is named %s%s.", name, where)
	case 1:
		return &page.Items[0], nil
	}
	return nil, Errorf(EINVALID, "Several identities are named %s; name the system too.", name)
}

// EntitlementNamed finds the entitlement of s named exactly name.
func EntitlementNamed(ctx context.Context, r InventoryReader, s *System, name string) (*Entitlement, error) {
	e, err := r.EntitlementByName(ctx, s.ID, name)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "System %s has no entitlement named %s.", s.Name, strings.TrimSpace(name))
	}
	return e, err
}
