package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/edge"
)

// Server serves Steward over HTTP. Set its fields, then call Handler, Serve
// or ListenAndServe; the fields must not change after the first of those
// calls.
type Server struct {
	// Store is where everything is kept. Required.
	Store Store

	// Logger receives one line per request and the detail of internal
	// errors. Default: discard.
	Logger *slog.Logger

	// Clock tells the time for the metrics cache. Default: steward.SystemClock.
	Clock steward.Clock

	// Addr is the TCP address ListenAndServe listens on.
	// Default: "127.0.0.1:8080".
	Addr string

	// UI, if not nil, serves every path that no route of the server claims:
	// "/" and below, except /api/ and the open endpoints. It is mounted
	// as-is and does its own authentication. Default: none; such paths get
	// a JSON 404.
	UI http.Handler

	// StatsMaxAge is how long /metrics reuses one Store.InventoryStats
	// before asking again. Default: 30s.
	StatsMaxAge time.Duration

	// Collectors are more metrics for /metrics, such as the command's
	// scheduled jobs. Default: none.
	Collectors []prometheus.Collector

	// ShutdownTimeout bounds how long requests in flight may take to finish
	// once the context given to Serve is cancelled. Default: 10s.
	ShutdownTimeout time.Duration

	// Importer reads an uploaded export file of the given format as a
	// Source whose positions name the stream name ("upload:12"). It is a
	// function rather than an import of the importer package so that
	// adapters stay independent of each other; the command wires it.
	// Default: none; POST /api/v1/systems/{id}/import answers 501.
	Importer func(format string, body io.Reader, name string) (steward.Source, error)

	// CompileCatalog compiles a service catalog's text (the policy
	// package's Compile, wired by the command, so that adapters stay
	// independent of each other). Default: none; PUT /api/v1/catalog and
	// POST /api/v1/decide answer 501.
	CompileCatalog steward.CatalogCompiler

	// Requests is the request workflow (request.Workflow, wired by the
	// command). Default: none; the request routes answer 501.
	Requests steward.RequestWorkflow

	// MaxImportBytes bounds the body of an import. The body is streamed
	// into the reconciliation, never held whole, so the bound is about how
	// long one upload may hold the store, not about memory. Default: 1 GiB.
	MaxImportBytes int64

	// MembersSeeAll lets every member list and read every identity, not
	// only those they own or of their team (configuration
	// members_see_all). Default: false.
	MembersSeeAll bool

	// Edge is what the server believes about how requests reach it: the
	// public URL, more host names to answer to, and the trusted reverse
	// proxies. Every request whose host is not Steward's own is refused
	// with 421, against DNS rebinding; see edge.Config.HostAllowed.
	// Default: the zero edge.Config (localhost and IP addresses only, no
	// trusted proxy).
	Edge edge.Config

	// MetricsToken, when set, is the bearer token a scrape of /metrics
	// must send. Default: none.
	MetricsToken string

	// MetricsOpen serves /metrics without a token when MetricsToken is
	// empty; for a listener that only a private network reaches.
	// Default: false, so that /metrics refuses every scrape until a token
	// is set or it is opened.
	MetricsOpen bool

	// MetricsElsewhere takes /metrics off Handler (it answers 404 there):
	// they are served by MetricsHandler, on a listener of their own.
	// Default: false.
	MetricsElsewhere bool

	once           sync.Once
	handler        http.Handler
	metricsOnly    http.Handler
	logger         *slog.Logger
	metrics        *metrics
	maxImportBytes int64
	catalogs       catalogCache

	// allowMux matches a path against every route's pattern regardless of
	// method, and allowed lists the methods of each pattern, so that a
	// request with the wrong method gets 405 with an Allow header rather
	// than 404.
	allowMux *http.ServeMux
	allowed  map[string][]string
}

// Store is what the API server asks of the store: the roles it plays for
// the routes, and no more (it does not bulk-load, issue tokens, verify the
// audit chain or sync people). *sqlstore.DB is one.
type Store interface {
	steward.InventoryReader
	steward.InventoryCreator
	steward.Authenticator
	steward.AuditReader
	// The personal token routes: a person lists, creates and revokes
	// their own.
	CreateToken(ctx context.Context, t *steward.Token) (string, error)
	PersonTokens(ctx context.Context, personID int64) ([]steward.Token, error)
	TokenByName(ctx context.Context, name string) (*steward.Token, error)
	RevokeToken(ctx context.Context, id int64) error
	steward.OwnerAssigner
	steward.OwnershipRuleStore
	steward.GapReader
	steward.SystemSyncer
	steward.SyncRunReader
	steward.CatalogStore
	JITGrants(ctx context.Context, f steward.JITGrantFilter) (*steward.Page[steward.JITGrant], error)
	JITGrant(ctx context.Context, id int64) (*steward.JITGrant, error)
	Notices(ctx context.Context, f steward.NoticeFilter) (*steward.Page[steward.Notice], error)
	steward.Pinger
}

// Route is one entry of the route table: a method, a ServeMux pattern and
// the permission it needs. The table is the one place routes are declared;
// tests check it against the OpenAPI document and the authorization
// matrix (testdata/authz.tsv).
type Route struct {
	Method  string // "GET", "POST", "PUT" or "DELETE"
	Pattern string // "/api/v1/identities/{id}"
	Auth    bool   // whether the route needs Authorization: Bearer
	// Perm is what the principal must be allowed (steward.Authorize) to
	// be let through at all; empty for an open route. A route whose
	// permission depends on the object (identity.read, identity.set_owner,
	// identity.attest) lets through whoever could have it, and its handler
	// decides again with the principal's relationship to the object.
	Perm steward.Permission
}

// handlerFunc is a route's handler. Returning an error writes it as a JSON
// error response, so handlers never write errors themselves.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type route struct {
	Route
	serve handlerFunc
}

// open marks a route served without a token.
const open steward.Permission = ""

// Permissions of the route table, short.
const (
	whoami    = steward.PermWhoami
	directory = steward.PermDirectoryRead
	identity  = steward.PermIdentityRead
	evidence  = steward.PermEvidenceRead
	write     = steward.PermInventoryWrite
	setOwner  = steward.PermOwnerSet
	attest    = steward.PermAttest
	selfToken = steward.PermTokenSelf
	reqRead   = steward.PermRequestRead
	reqAct    = steward.PermRequestAct
	notices   = steward.PermNoticeRead
)

// routes is the route table. Every route Steward serves is here and nowhere
// else, in the Go 1.22 pattern syntax the OpenAPI document also uses.
func (s *Server) routes() []route {
	r := func(method, pattern string, perm steward.Permission, serve handlerFunc) route {
		return route{Route{method, pattern, perm != open, perm}, serve}
	}
	return []route{
		r("GET", "/healthz", open, s.healthz),
		r("GET", "/readyz", open, s.readyz),
		r("GET", "/metrics", open, s.serveMetrics),
		r("GET", "/openapi.json", open, serveOpenAPI),

		r("GET", "/api/v1/whoami", whoami, s.whoami),
		r("GET", "/api/v1/tokens", selfToken, s.listTokens),
		r("POST", "/api/v1/tokens", selfToken, s.createToken),
		r("DELETE", "/api/v1/tokens/{name}", selfToken, s.revokeToken),

		r("GET", "/api/v1/teams", directory, s.listTeams),
		r("POST", "/api/v1/teams", write, s.createTeam),
		r("GET", "/api/v1/teams/{id}", directory, serveGet(s.Store.Team)),

		r("GET", "/api/v1/people", directory, s.listPeople),
		r("POST", "/api/v1/people", write, s.createPerson),
		r("GET", "/api/v1/people/{id}", directory, serveGet(s.Store.Person)),

		r("GET", "/api/v1/systems", directory, s.listSystems),
		r("POST", "/api/v1/systems", write, s.createSystem),
		r("GET", "/api/v1/systems/{id}", directory, serveGet(s.Store.System)),
		r("POST", "/api/v1/systems/{id}/import", write, s.importSystem),

		r("GET", "/api/v1/identities", identity, s.listIdentities),
		r("GET", "/api/v1/identities/count", identity, s.countIdentities),
		r("GET", "/api/v1/identities.csv", identity, s.exportIdentities),
		r("POST", "/api/v1/identities", write, s.createIdentity),
		r("GET", "/api/v1/identities/{id}", identity, s.getIdentity),
		r("GET", "/api/v1/identities/{id}/credentials", identity, s.listCredentials),
		r("POST", "/api/v1/identities/{id}/credentials", write, s.createCredential),
		r("GET", "/api/v1/identities/{id}/links", identity, s.listLinks),
		r("PUT", "/api/v1/identities/{id}/owner", setOwner, s.setOwner),
		r("POST", "/api/v1/identities/{id}/attest", attest, s.attest),

		r("GET", "/api/v1/entitlements", directory, s.listEntitlements),
		r("POST", "/api/v1/entitlements", write, s.createEntitlement),
		r("GET", "/api/v1/entitlements/{id}", directory, serveGet(s.Store.Entitlement)),

		r("GET", "/api/v1/grants", evidence, s.listGrants),
		r("POST", "/api/v1/grants", write, s.createGrant),

		r("GET", "/api/v1/sync-runs", evidence, s.listSyncRuns),
		r("GET", "/api/v1/gaps", evidence, s.listGaps),
		r("GET", "/api/v1/ownership-rules", evidence, s.ownershipRules),
		r("PUT", "/api/v1/ownership-rules", write, s.applyOwnershipRules),

		r("GET", "/api/v1/events", evidence, s.listEvents),

		r("GET", "/api/v1/catalog", directory, s.getCatalog),
		r("PUT", "/api/v1/catalog", write, s.putCatalog),
		r("POST", "/api/v1/decide", directory, s.decide),

		r("POST", "/api/v1/requests", reqAct, s.createRequest),
		r("GET", "/api/v1/requests", reqRead, s.listRequests),
		r("GET", "/api/v1/requests/inbox", reqAct, s.inbox),
		r("GET", "/api/v1/requests/{id}", reqRead, s.getRequest),
		r("POST", "/api/v1/requests/{id}/approve", reqAct, s.actOnRequest(func(f steward.RequestWorkflow) actFn { return f.Approve })),
		r("POST", "/api/v1/requests/{id}/deny", reqAct, s.actOnRequest(func(f steward.RequestWorkflow) actFn { return f.Deny })),
		r("POST", "/api/v1/requests/{id}/cancel", reqAct, s.actOnRequest(func(f steward.RequestWorkflow) actFn { return f.Cancel })),
		r("POST", "/api/v1/requests/{id}/extend", reqAct, s.extendRequest),
		r("GET", "/api/v1/unmatched-demand", evidence, s.listUnmatched),
		r("GET", "/api/v1/jit-grants", evidence, s.listJITGrants),
		r("GET", "/api/v1/jit-grants/{id}", evidence, s.getJITGrant),

		r("GET", "/api/v1/notices", notices, s.listNotices),
	}
}

// Routes returns the route table.
func (s *Server) Routes() []Route {
	s.once.Do(s.init)
	var out []Route
	for _, rt := range s.routes() {
		out = append(out, rt.Route)
	}
	return out
}

// Fallback patterns: what the mux matches when no route does. They are
// route labels too, so that unmatched paths share one metrics series.
const (
	apiFallback  = "/api/"
	rootFallback = "/"
)

// Handler returns the server's http.Handler. It panics if Store is nil.
func (s *Server) Handler() http.Handler {
	s.once.Do(s.init)
	return s.handler
}

func (s *Server) init() {
	if s.Store == nil {
		panic("http.Server: Store is required")
	}
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	clock := s.Clock
	if clock == nil {
		clock = steward.SystemClock{}
	}
	s.maxImportBytes = s.MaxImportBytes
	if s.maxImportBytes <= 0 {
		s.maxImportBytes = defaultMaxImportBytes
	}
	maxAge := s.StatsMaxAge
	if maxAge <= 0 {
		maxAge = 30 * time.Second
	}
	s.metrics = newMetrics(s.Store, clock, maxAge, s.logger, s.Collectors...)

	mux := http.NewServeMux()
	s.allowMux = http.NewServeMux()
	s.allowed = map[string][]string{}
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
		if _, ok := s.allowed[rt.Pattern]; !ok {
			s.allowMux.Handle(rt.Pattern, http.NotFoundHandler()) // only matched, never served
		}
		s.allowed[rt.Pattern] = append(s.allowed[rt.Pattern], rt.Method)
		if rt.Method == "GET" {
			s.allowed[rt.Pattern] = append(s.allowed[rt.Pattern], "HEAD") // ServeMux serves HEAD with GET
		}
	}
	mux.Handle(apiFallback, s.fallback(apiFallback, nil))
	mux.Handle(rootFallback, s.fallback(rootFallback, s.UI))
	s.handler = s.observe(s.checkEdge(mux))
	s.metricsOnly = s.newMetricsHandler()
}

// fallback serves requests no route matched: 405 when the path has routes
// for other methods, else the UI if there is one, else a JSON 404.
func (s *Server) fallback(label string, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoFrom(r.Context()).route = label
		if _, pattern := s.allowMux.Handler(r); pattern != "" {
			if methods, ok := s.allowed[pattern]; ok {
				w.Header().Set("Allow", strings.Join(methods, ", "))
				s.writeError(w, r, steward.Errorf(steward.EMETHOD, "%s is not allowed on %s; use %s.",
					truncate(r.Method, 32), pattern, strings.Join(methods, " or ")))
				return
			}
		}
		if ui != nil {
			ui.ServeHTTP(w, r)
			return
		}
		s.writeError(w, r, steward.Errorf(steward.ENOTFOUND, "No such route; /openapi.json lists every route."))
	})
}

// wrap turns a route's handler into an http.Handler: it names the route for
// logs and metrics, authenticates and authorizes when the route needs it,
// and writes a returned error as JSON.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoFrom(r.Context()).route = rt.Pattern
		if rt.Auth {
			// API responses describe the inventory; no cache should keep them.
			w.Header().Set("Cache-Control", "no-store")
			ctx, err := s.authenticate(r, rt.Perm)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(ctx)
		}
		if err := rt.serve(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticate checks the bearer token of r and that its principal could be
// allowed perm (steward.Authorize with every relationship; a handler whose
// object matters asks again with the real ones), and returns a context in
// which the principal acts.
func (s *Server) authenticate(r *http.Request, perm steward.Permission) (context.Context, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "This API needs a token: send Authorization: Bearer <token>.")
	}
	scheme, raw, ok := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "Authorization must be \"Bearer <token>\".")
	}
	if !steward.WellFormedSecret(steward.TokenPrefix, raw) {
		// Refused before a store lookup: garbage costs no query.
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "The token is not valid.")
	}
	p, err := s.Store.Authenticate(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	infoFrom(r.Context()).actor = p.Actor()
	if d := steward.Authorize(*p, perm, steward.RelOwner, steward.RelTeam, steward.RelEveryone); !d.Allowed {
		return nil, steward.Errorf(steward.EFORBIDDEN, "%s (%s, role %s) may not do this: %s", p.Actor(), p.Via, p.Role, d.Reason)
	}
	return steward.WithPrincipal(r.Context(), *p), nil
}

// requestInfo is what the inner handlers learn about a request that the
// outer middleware logs and measures.
type requestInfo struct {
	route  string // the matched pattern, never the raw path
	actor  string
	client string // the client's address, through trusted proxies
}

type requestInfoKey struct{}

// infoFrom returns the request's requestInfo. Outside observe it returns a
// throwaway one so that callers need not check.
func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{route: "unmatched"}
}

// quietRoutes are polled by probes and scrapers every few seconds; their
// request lines are logged at debug so that they do not drown the rest.
var quietRoutes = []string{"/healthz", "/readyz", "/metrics"}

// observe is the outermost middleware: it recovers panics as a JSON 500,
// logs one line per request and records the request duration histogram.
// Secrets never reach the log: it logs no header and no query string.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{route: "unmatched"}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v != nil && v != http.ErrAbortHandler {
				s.logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("method", r.Method), slog.String("route", info.route),
					slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if !rec.wrote {
					s.writeError(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requestDuration.WithLabelValues(methodLabel(r.Method), info.route, strconv.Itoa(status)).Observe(d.Seconds())
			level := slog.LevelInfo
			if slices.Contains(quietRoutes, info.route) && status < 400 {
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{slog.String("method", methodLabel(r.Method)), slog.String("route", info.route),
				slog.Int("status", status), slog.Duration("duration", d)}
			if info.actor != "" {
				attrs = append(attrs, slog.String("actor", info.actor))
			}
			if info.client != "" {
				attrs = append(attrs, slog.String("client", info.client))
			}
			s.logger.LogAttrs(r.Context(), level, "http request", attrs...)
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response; let it do so
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// methodLabel bounds the method label: a client may send any token as a
// method, and each would otherwise become a new metrics series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (to
// flush, for the UI).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ListenAndServe listens on Addr and serves until ctx is cancelled, then
// shuts down gracefully; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled. Then it stops accepting
// connections and waits up to ShutdownTimeout for requests in flight to
// finish before closing the rest. It returns nil after a clean shutdown.
// Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.Handler())
}

// ServeMetrics serves MetricsHandler on ln as Serve serves Handler: until
// ctx is cancelled, then shutting down gracefully. It closes ln.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.MetricsHandler())
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler: h,
		// Timeouts keep slow or stalled clients from holding connections
		// open forever; the write timeout leaves room for a large list page.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
