package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/stewardhq/steward"
)

// noticesShown bounds the notices page: a person's newest this many.
const noticesShown = 200

// noticeRow is one notice as the notices page shows it.
type noticeRow struct {
	ID            int64
	Subject, Body string
	About, URL    string // what it is about, and its page when it has one
	Written       timeText
	Sent          timeText
}

type noticesPage struct {
	pageBase
	Rows    []noticeRow
	More    bool // older notices than the page shows exist
	NoMatch bool
}

// notices shows the signed-in person what Steward told them, newest first:
// an identity now theirs, JIT access ending soon with a link to extend it.
func (s *server) notices(w http.ResponseWriter, r *http.Request) {
	p := noticesPage{pageBase: s.base(r, "Notices", "/notices")}
	who := principalFrom(r.Context())
	if who.Kind != steward.PrincipalPerson || who.PersonID == 0 {
		p.NoMatch = true
		s.render(w, r, http.StatusOK, "notices", p)
		return
	}
	page, err := s.store.Notices(r.Context(), steward.NoticeFilter{PersonID: who.PersonID, Newest: true, ListOptions: steward.ListOptions{Limit: noticesShown}})
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	all := page.Items
	p.More = page.Next != ""
	for i := range all {
		n := &all[i]
		row := noticeRow{ID: n.ID, Subject: n.Subject, Body: n.Body, Written: s.timeText(&n.CreatedAt, "unknown"),
			Sent: s.timeText(n.SentAt, "not yet"), About: n.ObjectType + " " + n.ObjectID}
		id, _ := strconv.ParseInt(n.ObjectID, 10, 64)
		switch n.ObjectType {
		case steward.ObjectIdentity:
			row.About, row.URL = "the identity", fmt.Sprintf("/identities/%d", id)
		case steward.ObjectJITGrant:
			row.About = "the JIT grant"
			if g, err := s.store.JITGrant(r.Context(), id); err == nil && g.RequestID != nil && s.flow != nil {
				row.About, row.URL = fmt.Sprintf("request %d", *g.RequestID), fmt.Sprintf("/requests/%d", *g.RequestID)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	s.render(w, r, http.StatusOK, "notices", p)
}
