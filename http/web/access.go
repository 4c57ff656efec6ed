package web

import (
	"context"
	"net/http"

	"github.com/stewardhq/steward"
)

// Who may use what in the web UI. steward.Authorize decides, from the
// principal's role and how it stands to the object; this file is the only
// place in the web UI that asks it. A route that needs a permission whatever
// the object is guarded (routes in web.go); a handler whose answer depends
// on the object (an identity's owner, its team) asks authorize with the
// principal's relationships to it.

// guard runs next for a signed-in principal whom steward.Authorize allows
// perm. It shows anyone else who is signed in a 403 page that says what
// they tried, as whom, why not, and whom to ask; and sends the rest to sign
// in, as session does.
func (s *server) guard(perm steward.Permission, what string, next http.HandlerFunc) http.Handler {
	return s.session(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		d := steward.Authorize(p, perm)
		if d.Allowed {
			next(w, r)
			return
		}
		s.logger.InfoContext(r.Context(), "web page refused for its role", "path", r.URL.Path, "actor", p.Actor(), "role", p.Role)
		s.renderError(w, r, nil, http.StatusForbidden, "Not for the "+string(p.Role)+" role",
			"You may not "+what+": "+d.Reason+" You are signed in as "+signedInAs(p)+". Ask a Steward admin to do it for you, or to give you a role that may.")
	})
}

// may reports whether the signed-in principal may do perm whatever the
// object, for the layout's links and buttons.
func may(ctx context.Context, perm steward.Permission) bool {
	p, ok := steward.PrincipalFrom(ctx)
	return ok && steward.Authorize(p, perm).Allowed
}

// authorize lets through a principal whom steward.Authorize allows perm,
// standing to the object in rels, and shows everyone else a 403 page that
// says what they tried, why not, and how to get it done.
func (s *server) authorize(w http.ResponseWriter, r *http.Request, perm steward.Permission, what string, rels ...steward.Relationship) bool {
	p := principalFrom(r.Context())
	d := steward.Authorize(p, perm, rels...)
	if d.Allowed {
		return true
	}
	s.logger.InfoContext(r.Context(), "web action refused", "path", r.URL.Path, "actor", p.Actor(), "role", p.Role)
	s.renderError(w, r, nil, http.StatusForbidden, "Not allowed",
		"You may not "+what+": "+d.Reason+" You are signed in as "+signedInAs(p)+". Ask a Steward admin to do it for you, or to give you a role that may.")
	return false
}

// relationships returns how the signed-in principal stands to an identity:
// its owner, of its team (steward.RelationshipsTo), with what the
// configuration gives every member (steward.Everyone), as the API does.
func (s *server) relationships(ctx context.Context, iv *steward.IdentityView) ([]steward.Relationship, error) {
	p := principalFrom(ctx)
	mine, err := s.personTeam(ctx, p)
	if err != nil {
		return nil, err
	}
	return append(steward.Everyone(s.membersSeeAll), steward.RelationshipsTo(p, mine, iv.OwnerID, iv.TeamID)...), nil
}

// visibility returns the identities the signed-in principal may list:
// nil for all, else those its person owns or of its team
// (steward.IdentityVisibility, the rule the API's lists apply). Every list
// of identities a page shows sets it on its filter.
func (s *server) visibility(ctx context.Context) (*steward.Visibility, error) {
	p := principalFrom(ctx)
	mine, err := s.personTeam(ctx, p)
	if err != nil {
		return nil, err
	}
	return steward.IdentityVisibility(p, mine, s.membersSeeAll), nil
}

// readable returns EFORBIDDEN, with the reason and whom the page was asked
// by, unless the signed-in principal may read the identity iv, as the API's
// GET /api/v1/identities/{id} decides.
func (s *server) readable(ctx context.Context, iv *steward.IdentityView) error {
	rels, err := s.relationships(ctx, iv)
	if err != nil {
		return err
	}
	p := principalFrom(ctx)
	if d := steward.Authorize(p, steward.PermIdentityRead, rels...); !d.Allowed {
		s.logger.InfoContext(ctx, "web identity refused", "identity", iv.ID, "actor", p.Actor(), "role", p.Role)
		return steward.Errorf(steward.EFORBIDDEN, "You may not see identity %s: %s You are signed in as %s. Ask its owner or an admin.", iv.Name, d.Reason, signedInAs(p))
	}
	return nil
}

// personTeam returns the team of the principal's person, 0 for none.
func (s *server) personTeam(ctx context.Context, p steward.Principal) (int64, error) {
	if p.PersonID == 0 {
		return 0, nil
	}
	person, err := s.store.Person(ctx, p.PersonID)
	if err != nil || person.TeamID == nil {
		return 0, err
	}
	return *person.TeamID, nil
}

// signedInAs names a principal as the pages do: the person's e-mail
// address, or the automation identity's name, with the role and what it
// came through (its token or its session).
func signedInAs(p steward.Principal) string {
	if p.Kind == "" {
		return "nobody"
	}
	who := string(p.Kind) + " “" + p.Name + "” (" + string(p.Role) + ")"
	if p.Kind == steward.PrincipalPerson {
		who = p.Name + " (" + string(p.Role) + ")"
	}
	if p.Via != "" {
		who += " through " + p.Via
	}
	return who
}
