package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// FlashCookie is the name of the cookie that carries what a form did to the
// page its redirect leads to. It lives for one page view.
const FlashCookie = "steward_flash"

// maxFlash bounds a flash message, so that a long identity name cannot make
// the cookie bigger than browsers keep.
const maxFlash = 600

// setFlash remembers msg for the next page. Post/redirect/get keeps a
// reload from sending the form again, and the cookie carries the outcome
// across the redirect without putting it in the URL, where a bookmark would
// repeat it.
func (s *server) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	if len(msg) > maxFlash {
		cut := maxFlash
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	http.SetCookie(w, s.cookie(r, FlashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), 60))
}

// readFlash returns the flash message the request carries, or "". The text
// is only ever shown through html/template, so a forged cookie can change
// the words on the page of the person who forged it and nothing else.
func readFlash(r *http.Request) string {
	c, err := r.Cookie(FlashCookie)
	if err != nil {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > maxFlash+len("…") || !utf8.Valid(b) {
		return ""
	}
	return string(b)
}

// clearFlash expires the flash cookie once a page has shown it.
func (s *server) clearFlash(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(FlashCookie); err != nil {
		return
	}
	http.SetCookie(w, s.cookie(r, FlashCookie, "", -1))
}

// identityID reads the {id} of an identity path, or shows a 400 page.
func (s *server) identityID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, nil, http.StatusBadRequest, "Bad identity id",
			"“"+raw+"” is not an identity id; ids are positive whole numbers. Find the identity in the inventory instead.")
		return 0, false
	}
	return id, true
}

// readForm parses a small urlencoded form body.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return steward.Errorf(steward.EINVALID, "The form could not be read; reload the page and try again.")
	}
	return nil
}

// setOwner assigns an identity's owner and team explicitly, or with
// "clear" hands it back to ownership rules and source tags. It serves both
// the identity page's owner form and the ownership page's one-click assign,
// and goes back to the page the form names.
func (s *server) setOwner(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identityID(w, r)
	if !ok {
		return
	}
	cur, err := s.store.Identity(r.Context(), id)
	if err != nil {
		s.ownerFormFailed(w, r, id, err, ownerForm{}) // "There is no identity …"
		return
	}
	rels, err := s.relationships(r.Context(), cur)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	} else if !s.authorize(w, r, steward.PermOwnerSet, "change the owner of "+cur.Name, rels...) {
		return
	}
	if err := readForm(w, r); err != nil {
		s.ownerFormFailed(w, r, id, err, ownerForm{})
		return
	}
	form := ownerForm{Owner: strings.TrimSpace(r.PostForm.Get("owner")), Team: strings.TrimSpace(r.PostForm.Get("team"))}
	var a steward.OwnerAssignment
	clear := r.PostForm.Get("clear") != ""
	if !clear {
		// An empty owner field means nobody; an empty team leaves the
		// team to the store, which gives an owner their own team.
		if form.Owner != "" {
			p, err := s.findPerson(r.Context(), "Owner", form.Owner)
			if err != nil {
				s.ownerFormFailed(w, r, id, err, form)
				return
			}
			a.OwnerID = &p.ID
		}
		if form.Team != "" {
			t, err := s.findTeam(r.Context(), "Team", form.Team)
			if err != nil {
				s.ownerFormFailed(w, r, id, err, form)
				return
			}
			a.TeamID = &t.ID
		}
	}
	if err := s.checkAssignment(r.Context(), a); err != nil {
		s.ownerFormFailed(w, r, id, err, form)
		return
	}
	iv, err := s.store.SetOwner(r.Context(), id, a)
	if err != nil {
		s.ownerFormFailed(w, r, id, err, form)
		return
	}
	switch {
	case clear:
		s.setFlash(w, r, "Cleared the owner and team of "+iv.Name+": ownership rules and source tags decide them at the next sync.")
	case iv.OwnerID == nil:
		s.setFlash(w, r, iv.Name+" now has no owner"+teamWords(iv)+". It stays an ownership gap until someone is assigned.")
	default:
		s.setFlash(w, r, "Assigned "+iv.Name+" to "+ownerName(iv)+teamWords(iv)+".")
	}
	s.back(w, r, id)
}

func ownerName(iv *steward.IdentityView) string {
	if iv.OwnerName != "" {
		return iv.OwnerName
	}
	return "person " + strconv.FormatInt(*iv.OwnerID, 10)
}

func teamWords(iv *steward.IdentityView) string {
	why := ""
	if iv.OwnerReason.TeamBy == steward.BasisOwnerTeam {
		why = " (the owner's team)"
	}
	switch {
	case iv.TeamName != "":
		return ", team " + iv.TeamName + why
	case iv.TeamID != nil:
		return ", team " + strconv.FormatInt(*iv.TeamID, 10) + why
	}
	return ", no team"
}

// attest records the signed-in owner's confirmation that an identity is
// theirs and still needed. Only the owner may (steward.Authorize).
func (s *server) attest(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identityID(w, r)
	if !ok {
		return
	}
	cur, err := s.store.Identity(r.Context(), id)
	if err != nil {
		s.ownerFormFailed(w, r, id, err, ownerForm{}) // "There is no identity …"
		return
	}
	rels, err := s.relationships(r.Context(), cur)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	} else if !s.authorize(w, r, steward.PermAttest, "attest "+cur.Name, rels...) {
		return
	}
	if err := readForm(w, r); err != nil {
		s.ownerFormFailed(w, r, id, err, ownerForm{})
		return
	}
	form := ownerForm{AttestNote: r.PostForm.Get("note"), Attesting: true}
	iv, err := s.store.Attest(r.Context(), id, steward.Attestation{PersonID: principalFrom(r.Context()).PersonID, Note: form.AttestNote})
	if err != nil {
		s.ownerFormFailed(w, r, id, err, form)
		return
	}
	when := s.clock.Now().UTC().Format(time.DateOnly)
	if iv.AttestedAt != nil {
		when = iv.AttestedAt.UTC().Format(time.DateOnly)
	}
	s.setFlash(w, r, ownerName(iv)+" attested "+iv.Name+" on "+when+": theirs and still needed.")
	s.back(w, r, id)
}

// checkAssignment refuses an owner assignment the signed-in principal may
// not make: a member assigns only within their team, or to themselves
// (steward.AssignmentRelationships).
func (s *server) checkAssignment(ctx context.Context, a steward.OwnerAssignment) error {
	p := principalFrom(ctx)
	mine, err := s.personTeam(ctx, p)
	if err != nil {
		return err
	}
	var ownerTeam *int64
	if a.OwnerID != nil {
		owner, err := s.store.Person(ctx, *a.OwnerID)
		if err != nil {
			return err
		}
		ownerTeam = owner.TeamID
	}
	return steward.Authorize(p, steward.PermOwnerSet, steward.AssignmentRelationships(p, mine, a, ownerTeam)...).Err()
}

// back redirects to the page the form came from (its "next" field, a path
// on this site) or else to the identity's page.
func (s *server) back(w http.ResponseWriter, r *http.Request, id int64) {
	next := "/identities/" + strconv.FormatInt(id, 10)
	if n := r.PostForm.Get("next"); n != "" {
		next = safeNext(n)
	}
	http.Redirect(w, r, next, http.StatusSeeOther) // #nosec G710 -- an identity's path or safeNext's, a path of this site
}

// ownerFormFailed shows the identity page again with the reason a form was
// refused, what was typed, and a 4xx status. Internal errors get the plain
// error page, their detail logged.
func (s *server) ownerFormFailed(w http.ResponseWriter, r *http.Request, id int64, err error, form ownerForm) {
	status := errorStatus(err)
	if status >= 500 {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	form.Error = steward.ErrorMessage(err)
	s.showIdentity(w, r, id, status, form)
}
