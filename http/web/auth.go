package web

import (
	"net/http"
	"strings"

	"github.com/stewardhq/steward"
)

// maxFormBytes bounds a sign-in form: a token is 47 bytes, so anything near
// this size is not a sign-in attempt.
const maxFormBytes = 16 << 10

// signinPage is the data of the sign-in template.
type signinPage struct {
	pageBase
	Next    string
	Message string // why the last attempt failed; empty on first view
	SSO     bool   // OIDC sign-in is configured: offer "Sign in with SSO"
}

// signinForm shows the sign-in form, or goes straight on for someone who
// already has a live session.
func (s *server) signinForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := s.sessionPrincipal(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther) // #nosec G710 -- safeNext admits only a path of this site
		return
	}
	s.render(w, r, http.StatusOK, "signin", signinPage{pageBase: s.base(r, "Sign in", ""), Next: next, SSO: s.rp != nil})
}

// signin exchanges a pasted API token for a session. The cookie carries only
// the new session's secret: the token itself never leaves the form post, so
// a stolen cookie dies with the session and cannot be used on the API.
func (s *server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.signinFailed(w, r, http.StatusBadRequest, "The form could not be read. Paste the token and try again.")
		return
	}
	raw := strings.TrimSpace(r.PostForm.Get("token"))
	if raw == "" {
		s.signinFailed(w, r, http.StatusUnauthorized, "Paste an API token to sign in.")
		return
	} else if !steward.WellFormedSecret(steward.TokenPrefix, raw) {
		s.signinFailed(w, r, http.StatusUnauthorized, "That is not a Steward API token. Tokens start with "+steward.TokenPrefix+" and are 47 characters long; create one with `steward token create`.")
		return
	}
	tok, err := s.store.AuthenticateToken(r.Context(), raw)
	if steward.IsCode(err, steward.EUNAUTHORIZED) {
		s.signinFailed(w, r, http.StatusUnauthorized, "That token is not valid: it is unknown, revoked or expired. Check that you pasted all of it, or ask an admin for a new one.")
		return
	} else if err != nil {
		s.logError(r, err)
		s.signinFailed(w, r, errorStatus(err), "Steward could not check the token just now. Try again in a moment.")
		return
	}
	ctx := steward.WithPrincipal(r.Context(), tok.AsPrincipal())
	session, err := s.store.CreateSession(ctx, tok.ID, SessionTTL)
	if err != nil {
		s.logError(r, err)
		s.signinFailed(w, r, errorStatus(err), "Steward could not start a session just now. Try again in a moment.")
		return
	}
	s.setCookie(w, r, session)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther) // #nosec G710 -- safeNext admits only a path of this site
}

func (s *server) signinFailed(w http.ResponseWriter, r *http.Request, status int, msg string) {
	// Refused sign-ins are logged, without the token, so that guessing
	// shows up in the logs.
	s.logger.InfoContext(r.Context(), "web sign-in refused", "status", status, "remote", r.RemoteAddr)
	s.render(w, r, status, "signin", signinPage{
		pageBase: s.base(r, "Sign in", ""),
		Next:     safeNext(r.PostForm.Get("next")),
		Message:  msg,
		SSO:      s.rp != nil,
	})
}

// signout ends the session in the store, not just in the browser, so that a
// copied cookie stops working too.
func (s *server) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if err := s.store.DeleteSession(r.Context(), c.Value); err != nil {
			s.renderError(w, r, err, 0, "Sign-out failed", "")
			return
		}
	}
	s.clearCookie(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
