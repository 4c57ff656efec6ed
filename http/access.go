package http

import (
	"context"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

// principalOf returns the principal acting on r, set by authenticate.
func principalOf(r *http.Request) steward.Principal {
	p, _ := steward.PrincipalFrom(r.Context())
	return p
}

// everyone returns the relationship the configuration gives every member to
// every identity: RelEveryone with MembersSeeAll, else none.
func (s *Server) everyone() []steward.Relationship {
	return steward.Everyone(s.MembersSeeAll)
}

// personTeam returns the team of the principal's person: 0 when it is not
// a person or the person has no team.
func (s *Server) personTeam(ctx context.Context, p steward.Principal) (int64, error) {
	if p.PersonID == 0 {
		return 0, nil
	}
	person, err := s.Store.Person(ctx, p.PersonID)
	if err != nil {
		return 0, err
	} else if person.TeamID == nil {
		return 0, nil
	}
	return *person.TeamID, nil
}

// relationships returns how p stands to an object owned by owner and of
// team (steward.RelationshipsTo), with what the configuration gives every
// member.
func (s *Server) relationships(ctx context.Context, p steward.Principal, owner, team *int64) ([]steward.Relationship, error) {
	mine, err := s.personTeam(ctx, p)
	if err != nil {
		return nil, err
	}
	return append(s.everyone(), steward.RelationshipsTo(p, mine, owner, team)...), nil
}

// visibility returns the identities the principal of r may list: nil for
// all, else those its person owns or of its team.
func (s *Server) visibility(r *http.Request, q *listQuery) *steward.Visibility {
	p := principalOf(r)
	team, err := s.personTeam(r.Context(), p)
	if err != nil {
		q.fail(err)
	}
	return steward.IdentityVisibility(p, team, s.MembersSeeAll)
}

// identityFor reads an identity and checks that the principal of r may do
// perm to it, by its relationship to the identity.
func (s *Server) identityFor(r *http.Request, id int64, perm steward.Permission) (*steward.IdentityView, error) {
	iv, err := s.Store.Identity(r.Context(), id)
	if err != nil {
		return nil, err
	}
	p := principalOf(r)
	rels, err := s.relationships(r.Context(), p, iv.OwnerID, iv.TeamID)
	if err != nil {
		return nil, err
	}
	if d := steward.Authorize(p, perm, rels...); !d.Allowed {
		return nil, steward.Errorf(steward.EFORBIDDEN, "%s may not do this to identity %s: %s", p.Actor(), iv.Name, d.Reason)
	}
	return iv, nil
}

// readableIdentity is identityFor reading.
func (s *Server) readableIdentity(r *http.Request, id int64) (*steward.IdentityView, error) {
	return s.identityFor(r, id, steward.PermIdentityRead)
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	} else if err := noQuery(r); err != nil {
		return err
	}
	iv, err := s.readableIdentity(r, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, iv)
}

// checkAssignment checks that the principal of r may give an identity the
// owner and team of a: a member only within their team, or to themselves
// (steward.AssignmentRelationships).
func (s *Server) checkAssignment(r *http.Request, a steward.OwnerAssignment) error {
	p := principalOf(r)
	mine, err := s.personTeam(r.Context(), p)
	if err != nil {
		return err
	}
	var ownerTeam *int64
	if a.OwnerID != nil {
		owner, err := s.Store.Person(r.Context(), *a.OwnerID)
		if err != nil {
			return err
		}
		ownerTeam = owner.TeamID
	}
	if d := steward.Authorize(p, steward.PermOwnerSet, steward.AssignmentRelationships(p, mine, a, ownerTeam)...); !d.Allowed {
		return steward.Errorf(steward.EFORBIDDEN, "%s may not make that assignment: %s", p.Actor(), d.Reason)
	}
	return nil
}

// whoami says who the token's principal is.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, principalOf(r))
}

// listTokens lists the personal tokens of the signed-in person.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	tokens, err := s.Store.PersonTokens(r.Context(), principalOf(r).PersonID)
	if err != nil {
		return err
	}
	return writePage(w, &steward.Page[steward.Token]{Items: tokens})
}

// tokenInput is the body of POST /api/v1/tokens.
type tokenInput struct {
	Name      string       `json:"name"`
	Role      steward.Role `json:"role"`
	ExpiresAt *time.Time   `json:"expires_at"`
}

// newToken is a token made through the API, with its secret, shown once.
type newToken struct {
	Token  steward.Token `json:"token"`
	Secret string        `json:"secret"`
}

// createToken makes a personal token for the signed-in person, in their
// own role unless an admin asks for less.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in tokenInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	if in.Role == "" {
		in.Role = p.Role
	} else if err := in.Role.Validate(); err != nil {
		return err
	} else if in.Role != p.Role && p.Role != steward.RoleAdmin {
		return steward.Errorf(steward.EFORBIDDEN, "Your token has role %s: a token you make has it too (an admin may make one of any role).", p.Role)
	}
	t := steward.Token{Name: in.Name, Role: in.Role, ExpiresAt: in.ExpiresAt, Kind: steward.PrincipalPerson, PersonID: &p.PersonID}
	raw, err := s.Store.CreateToken(r.Context(), &t)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tokens/"+t.Name)
	return writeJSON(w, http.StatusCreated, newToken{Token: t, Secret: raw})
}

// revokeToken revokes one of the signed-in person's personal tokens. Any
// other token is not found, so that the names of others' tokens do not
// leak.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	p := principalOf(r)
	name := r.PathValue("name")
	t, err := s.Store.TokenByName(r.Context(), name)
	if err == nil && (t.PersonID == nil || *t.PersonID != p.PersonID) {
		err = steward.Errorf(steward.ENOTFOUND, "You have no personal token named %q; GET /api/v1/tokens lists yours.", truncate(name, 128))
	}
	if steward.IsCode(err, steward.ENOTFOUND) {
		return steward.Errorf(steward.ENOTFOUND, "You have no personal token named %q; GET /api/v1/tokens lists yours.", truncate(name, 128))
	} else if err != nil {
		return err
	}
	if err := s.Store.RevokeToken(r.Context(), t.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
