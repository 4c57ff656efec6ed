package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
)

// Who may use what in the web UI. Every page is open to every signed-in
// principal unless its route is guarded (routes in web.go); this file is
// the only place that compares roles, and the routes say which list each
// guarded page needs.
var (
	// admins may change things: owners, attestations, and the pages that
	// administer Steward itself (tokens, imports).
	admins = []steward.Role{steward.RoleAdmin}
	// readers may read the administration pages but change nothing:
	// admins, auditors, and the viewer tokens of before roles.
	readers = []steward.Role{steward.RoleAdmin, steward.RoleAuditor, steward.RoleViewer}
)

// allowed reports whether p acts in one of roles.
func allowed(p steward.Principal, roles []steward.Role) bool { return slices.Contains(roles, p.Role) }

// guard runs next for a signed-in principal whose role is in roles. It
// shows anyone else who is signed in a 403 page that says what they tried,
// as whom, and whom to ask; and sends the rest to sign in, as session does.
func (s *server) guard(roles []steward.Role, what string, next http.HandlerFunc) http.Handler {
	return s.session(func(w http.ResponseWriter, r *http.Request) {
		p, _ := steward.PrincipalFrom(r.Context())
		if allowed(p, roles) {
			next(w, r)
			return
		}
		names := make([]string, len(roles))
		for i, role := range roles {
			names[i] = string(role)
		}
		heading, who := "Admins only", "an admin"
		if len(roles) > 1 {
			heading, who = "Not for the "+string(p.Role)+" role", "a principal in one of the roles "+strings.Join(names, ", ")
		}
		s.logger.InfoContext(r.Context(), "web page refused for its role", "path", r.URL.Path, "actor", p.Actor(), "role", p.Role)
		s.renderError(w, r, nil, http.StatusForbidden, heading,
			"Only "+who+" may "+what+"; you are signed in as "+signedInAs(p)+". Ask a Steward admin to do it for you, or to give you a role that may.")
	})
}

// signedInAs names a principal as the pages do: the person's e-mail
// address, or the token's name, with the role.
func signedInAs(p steward.Principal) string {
	if p.Kind == steward.PrincipalPerson {
		return p.Name + " (" + string(p.Role) + ")"
	}
	return string(p.Kind) + " “" + p.Name + "” (" + string(p.Role) + ")"
}
