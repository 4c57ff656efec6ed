// Package web is Steward's browser interface: server-rendered pages for the
// people who open Steward every day. Pages are html/template files embedded in
// the binary with one small stylesheet and one small script (type-ahead for
// the name fields, which work without it); there is no CDN and no front-end
// build, so the UI works offline and from a single binary.
//
// The handler owns every path except those of the REST API and the probes
// (/api/, /healthz, /readyz, /metrics, /openapi.json), which the http package
// serves on the same server.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/edge"
)

// SessionCookie is the name of the cookie that carries a web session secret.
const SessionCookie = "steward_session"

// SessionTTL is how long a web session lasts after sign-in. Twelve hours
// covers a working day without asking people to sign in twice, and is short
// enough that a forgotten browser does not stay signed in overnight.
const SessionTTL = 12 * time.Hour

// UI serves the web interface. Set the fields, then call Handler once.
type UI struct {
	// Store is where the pages read from and where sessions live. Required.
	Store Store
	// Logger receives internal errors. Default: discard.
	Logger *slog.Logger
	// Clock tells the time for "last used 3 days ago" and credential ages.
	// Default: steward.SystemClock.
	Clock steward.Clock
	// Secure sets the Secure flag on every cookie of the UI. Without it a
	// cookie is Secure only on a request that reached Steward over HTTPS,
	// as the edge in front of the UI decided (edge.HTTPS): a plain-HTTP
	// quick start on localhost can sign in. The command sets it from an
	// https public URL or --cookie-secure. Default: off.
	Secure bool
	// OIDC turns on sign-in through an OpenID provider ("Sign in with SSO"
	// on the sign-in page). Default: nil, token sign-in only.
	OIDC *OIDC
	// MembersSeeAll shows every identity to every member, as the API's
	// Server.MembersSeeAll does (members_see_all); set both alike. Default:
	// off, a member sees the identities they own and their team's.
	MembersSeeAll bool
	// Requests is the request workflow (request.Workflow): the request
	// form, the approver's inbox and the request pages. Default: none;
	// the Requests pages say this server does not serve requests.
	Requests steward.RequestWorkflow
}

// Store is what the web UI asks of the store: it reads the inventory,
// assigns and confirms owners, and keeps sessions. *sqlstore.DB is one.
type Store interface {
	steward.InventoryReader
	steward.OwnerAssigner
	steward.GapReader
	steward.SyncRunReader
	steward.Authenticator
	steward.SessionStore
	steward.SignInDirectory
	steward.AuditReader
	// CatalogInForce returns the published service catalog: ENOTFOUND
	// when none was applied.
	CatalogInForce(ctx context.Context) (*steward.CatalogVersion, error)
	// Tokens lists the API tokens, so that the audit page names a token's
	// events by the token's name.
	Tokens(ctx context.Context) ([]steward.Token, error)
	// JITGrant shows the grant a request made, with its expiry.
	JITGrant(ctx context.Context, id int64) (*steward.JITGrant, error)
	// Notices shows a person what Steward told them.
	Notices(ctx context.Context, f steward.NoticeFilter) (*steward.Page[steward.Notice], error)
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Handler returns the web UI's handler. It panics if Store is nil, if OIDC
// is set and not valid (check it with OIDC.Validate first) or if an
// embedded template does not parse, all of which are programming errors
// that the package tests catch.
func (u *UI) Handler() http.Handler {
	if u.Store == nil {
		panic("web: UI.Store is required")
	}
	s := &server{store: u.Store, logger: u.Logger, clock: u.Clock, secure: u.Secure, membersSeeAll: u.MembersSeeAll, flow: u.Requests}
	if u.OIDC != nil {
		if err := u.OIDC.Validate(); err != nil {
			panic("web: " + err.Error())
		}
		s.rp = &relyingParty{cfg: *u.OIDC}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = steward.SystemClock{}
	}
	// One version for every asset: a build that changes any of them links
	// new URLs, so that a cached old copy is never used with new pages.
	h := sha256.New()
	for _, name := range []string{"static/style.css", "static/picker.js"} {
		b, err := fs.ReadFile(staticFS, name)
		if err != nil {
			panic(fmt.Sprintf("web: %v", err))
		}
		h.Write(b)
	}
	s.assetVersion = hex.EncodeToString(h.Sum(nil)[:6])
	s.pages = parsePages()
	return s.routes()
}

// server is the handler built from a UI. It is separate from UI so that the
// parsed templates and defaults never leak into the exported configuration.
type server struct {
	store  Store
	logger *slog.Logger
	clock  steward.Clock
	secure bool
	// membersSeeAll: UI.MembersSeeAll.
	membersSeeAll bool
	rp            *relyingParty           // nil without OIDC sign-in
	flow          steward.RequestWorkflow // nil: no request pages
	assetVersion  string
	pages         map[string]*template.Template
}

// apiPaths are served by the http package on the same server. The UI
// answers them with a plain 404 instead of a sign-in redirect, so that an
// API client that reaches the UI by mistake is not sent an HTML form.
var apiPaths = []string{"/healthz", "/readyz", "/metrics", "/openapi.json"}

func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") || slices.Contains(apiPaths, p)
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/", s.static)
	mux.HandleFunc("GET /favicon.ico", s.favicon)
	mux.HandleFunc("GET /signin", s.signinForm)
	mux.HandleFunc("POST /signin", s.signin)
	mux.HandleFunc("POST /signout", s.signout)
	mux.HandleFunc("GET /signin/oidc", s.oidcStart)
	mux.HandleFunc("GET /signin/oidc/callback", s.oidcCallback)
	mux.Handle("GET /{$}", s.session(s.inventory))
	mux.Handle("GET /inventory", s.session(s.inventory))
	// The inventory, its export and an identity's page show a member the
	// identities the API does (visibility, readable in access.go).
	mux.Handle("GET /inventory.csv", s.session(s.exportCSV))
	mux.Handle("GET /identities/{id}", s.session(s.identity))
	// Setting an owner and attesting depend on how the principal stands to
	// the identity: the handlers ask authorize (access.go).
	mux.Handle("POST /identities/{id}/owner", s.session(s.setOwner))
	mux.Handle("POST /identities/{id}/attest", s.session(s.attest))
	mux.Handle("GET /admin/tokens", s.guard(steward.PermEvidenceRead, "see the API tokens", s.tokens))
	// The ownership gaps and the audit log are evidence, which the API
	// shows only to auditors and admins.
	mux.Handle("GET /ownership", s.guard(steward.PermEvidenceRead, "see the ownership gaps", s.ownership))
	mux.Handle("GET /audit", s.guard(steward.PermEvidenceRead, "read the audit log", s.audit))
	mux.Handle("GET /catalog", s.session(s.catalog))
	mux.Handle("GET /notices", s.guard(steward.PermNoticeRead, "read notices", s.notices))
	s.requestRoutes(mux)
	s.directoryRoutes(mux)
	for _, n := range navSections {
		if !n.Live {
			mux.Handle("GET "+n.Path, s.session(s.coming))
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if isAPIPath(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		s.session(s.notFound).ServeHTTP(w, r)
	})

	// CSRF: the session cookie is SameSite=Strict, so a browser never sends
	// it on a request that another site starts; and CrossOriginProtection
	// refuses any cross-origin POST by its Sec-Fetch-Site header or, in
	// browsers without it, by comparing Origin with Host. Together they
	// cover sign-in, sign-out and every later form without per-form tokens.
	// Requests with neither header come from non-browser clients, which do
	// not carry a victim's cookies, so they are let through. Revisit with
	// synchroniser tokens if the UI ever must support pre-2023 browsers.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, nil, http.StatusForbidden, "Cross-site request refused",
			"This form was sent from another site, so Steward did not act on it. Open Steward directly and try again.")
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders sets headers every page needs. The content security policy
// allows only Steward's own stylesheet, script and forms, and lets the
// script ask only Steward: an injected inline script could not run, nor send
// anything elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// static serves the embedded stylesheet, script and icon. A request carrying the
// current content hash (?v=) may be cached for a year, because a new build
// with a changed file links a new hash.
func (s *server) static(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	b, err := fs.ReadFile(staticFS, name) // fs.FS refuses ".." and absolute names
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	if r.URL.Query().Get("v") == s.assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(b) // #nosec G104 G705 -- an embedded static file, not input; a failed write means the client has gone
}

// favicon answers the browser's automatic icon request so that it neither
// redirects to sign-in nor fills logs with 404s.
func (s *server) favicon(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/static/favicon.svg"
	s.static(w, r2)
}

// principalFrom returns who is signed in; a zero principal, whose empty
// role may do nothing, when nobody is.
func principalFrom(ctx context.Context) steward.Principal {
	p, _ := steward.PrincipalFrom(ctx)
	return p
}

// session runs next only for a request with a live session, and sends
// everyone else to the sign-in page, remembering where they were going.
func (s *server) session(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionPrincipal(r)
		if steward.IsCode(err, steward.EUNAUTHORIZED) {
			if _, cerr := r.Cookie(SessionCookie); cerr == nil {
				s.clearCookie(w, r) // expired or revoked: do not send it again
			}
			target := "/signin"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		} else if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		next(w, r.WithContext(steward.WithPrincipal(r.Context(), *p)))
	})
}

// sessionPrincipal returns who acts through the request's session cookie,
// or EUNAUTHORIZED when there is no usable session.
func (s *server) sessionPrincipal(r *http.Request) (*steward.Principal, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || !steward.WellFormedSecret(steward.SessionPrefix, c.Value) {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "Sign in to continue.")
	}
	p, err := s.store.SessionPrincipal(r.Context(), c.Value)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return p, nil
}

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, raw string) {
	http.SetCookie(w, s.cookie(r, SessionCookie, raw, int(SessionTTL/time.Second)))
}

func (s *server) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookie(r, SessionCookie, "", -1))
}

// cookie returns a cookie of the UI with the attributes every one of them
// has: for the whole site, invisible to scripts, never sent on a request
// another site starts, and Secure whenever the browser reached Steward over
// HTTPS (directly, through a trusted proxy, or at an https public URL) or
// UI.Secure says so. Every cookie the UI sets is made here.
func (s *server) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	// #nosec G124 -- HttpOnly and SameSite=Strict always; Secure over HTTPS, since a browser on plain http (serve --demo on localhost) would not send it back
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secure || edge.HTTPS(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 instead of half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.logError(r, fmt.Errorf("web: no page template %q", page))
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "page", data); err != nil {
		s.logError(r, fmt.Errorf("web: render %s: %w", page, err))
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	if page != "signin" {
		// Every page but sign-in shows the flash in its layout; this view
		// has shown it.
		s.clearFlash(w, r)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show inventory that a shared machine's next user must not find
	// in the browser cache.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) // #nosec G104 -- a failed write means the client has gone; nothing to undo
}

// retryAfterSeconds is the Retry-After of a 503 page, as the API's.
const retryAfterSeconds = 5

// errorPage is the data of the error template.
type errorPage struct {
	pageBase
	Status  int
	Heading string
	Message string
}

// renderError shows an error page. With err set, status, heading and message
// come from the error's code, and internal detail is logged, never shown.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, err error, status int, heading, message string) {
	if err != nil {
		status = errorStatus(err)
		message = steward.ErrorMessage(err)
		if status >= 500 {
			s.logError(r, err)
		}
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable {
		// The store is busy with another write (a long import) or cannot
		// be reached: nothing was changed, and the page says to come back.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		if heading == "" {
			heading = "Steward is busy"
		}
	}
	if heading == "" {
		heading = http.StatusText(status)
	}
	if message == "" {
		message = "Something went wrong on Steward's side. It has been logged; try again in a moment."
	}
	s.render(w, r, status, "error", errorPage{
		pageBase: s.base(r, heading, ""),
		Status:   status,
		Heading:  heading,
		Message:  message,
	})
}

func (s *server) logError(r *http.Request, err error) {
	s.logger.ErrorContext(r.Context(), "web request failed",
		"method", r.Method, "path", r.URL.Path, "err", err)
}

// errorStatus maps an error's code to the page status through the one error
// table in the domain, so that the UI and the API answer a cause alike.
func errorStatus(err error) int { return steward.HTTPStatus(steward.ErrorCode(err)) }

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, nil, http.StatusNotFound, "Page not found",
		"There is no page at "+r.URL.Path+". Use the navigation to find your way.")
}

// comingPage is the data of the page for sections not yet built.
type comingPage struct {
	pageBase
	Section string
}

func (s *server) coming(w http.ResponseWriter, r *http.Request) {
	for _, n := range navSections {
		if n.Path == r.URL.Path {
			s.render(w, r, http.StatusOK, "coming", comingPage{pageBase: s.base(r, n.Label, n.Path), Section: n.Label})
			return
		}
	}
	s.notFound(w, r)
}
