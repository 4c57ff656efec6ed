package web

import (
	"fmt"
	"net/http"
	"slices"
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
	// The store lists oldest first; a person's notices are few, so read
	// them all up to a bound and show the newest.
	var all []steward.Notice
	f := steward.NoticeFilter{PersonID: who.PersonID, ListOptions: steward.ListOptions{Limit: 500}}
	for {
		page, err := s.store.Notices(r.Context(), f)
		if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		all = append(all, page.Items...)
		if page.Next == "" || len(all) >= 10*noticesShown {
			break
		}
		f.After = page.Next
	}
	slices.Reverse(all)
	if len(all) > noticesShown {
		all, p.More = all[:noticesShown], true
	}
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
