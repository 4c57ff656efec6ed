package http

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// listNotices lists the notices Steward wrote to people, oldest first: a
// member's own, anyone's (or one person's, by person=) for an admin or
// auditor. unsent=true keeps those no mailer has sent.
func (s *Server) listNotices(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "person", "unsent")
	if err != nil {
		return err
	}
	p := principalOf(r)
	f := steward.NoticeFilter{ListOptions: q.page()}
	if u := q.boolPtr("unsent"); u != nil {
		f.Unsent = *u
	}
	if q.err != nil {
		return q.err
	}
	if name := q.get("person"); name != "" {
		who, err := steward.FindPerson(r.Context(), s.Store, name)
		switch {
		case steward.IsCode(err, steward.ENOTFOUND):
			return steward.Errorf(steward.EINVALID, "Query parameter person: %s", steward.ErrorMessage(err))
		case err != nil:
			return err
		case p.Role == steward.RoleMember && who.ID != p.PersonID:
			return steward.Errorf(steward.EFORBIDDEN, "Only an admin or auditor reads the notices of another person; a member reads their own (leave person out).")
		}
		f.PersonID = who.ID
	} else if p.Role == steward.RoleMember {
		f.PersonID = p.PersonID
	}
	return listPage(w, r, q, f, s.Store.Notices)
}
