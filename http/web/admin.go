package web

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// tokensPage is the data of the API tokens page.
type tokensPage struct {
	pageBase
	Rows []tokenRow
}

// tokenRow is one API token as the page lists it: never its secret.
type tokenRow struct {
	Name     string
	Role     steward.Role
	Created  timeText
	Expires  timeText
	LastUsed timeText
	Revoked  timeText
	Live     bool
}

// tokens lists the API tokens, for the administrators who issue and revoke
// them (with steward token create and revoke) and the auditors who check
// them.
func (s *server) tokens(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.Tokens(r.Context())
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p := tokensPage{pageBase: s.base(r, "API tokens", "")}
	now := s.clock.Now()
	for i := range list {
		t := &list[i]
		p.Rows = append(p.Rows, tokenRow{Name: t.Name, Role: t.Role, Created: s.timeText(&t.CreatedAt, ""),
			Expires: s.timeText(t.ExpiresAt, "never"), LastUsed: s.timeText(t.LastUsedAt, "never"),
			Revoked: s.timeText(t.RevokedAt, "—"), Live: t.Usable(now)})
	}
	s.render(w, r, http.StatusOK, "tokens", p)
}
