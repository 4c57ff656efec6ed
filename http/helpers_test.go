package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/store/sqlstore"
)

// MustOpenStore opens a migrated SQLite store in a fresh file under the
// test's temp dir, closed when the test ends.
func MustOpenStore(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(filepath.Join(tb.TempDir(), "steward.db"), sqlstore.Options{Clock: steward.SystemClock{}})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

// MustCreateToken creates a personal API token of a new person named after
// it (NAME@tokens.test, without a team) and returns its secret.
func MustCreateToken(tb testing.TB, store steward.Store, name string, role steward.Role) string {
	tb.Helper()
	ctx := steward.WithActor(context.Background(), "system:fixture")
	p := &steward.Person{ExternalID: "token-" + name, Name: "Token " + name, Email: name + "@tokens.test", Status: steward.PersonActive}
	if err := store.CreatePerson(ctx, p); err != nil {
		tb.Fatalf("create the person of token %s: %v", name, err)
	}
	return MustCreatePersonalToken(tb, store, name, role, p.ID)
}

// MustCreatePersonalToken creates a personal API token of a person and
// returns its secret.
func MustCreatePersonalToken(tb testing.TB, store steward.Store, name string, role steward.Role, personID int64) string {
	tb.Helper()
	exp := time.Now().Add(steward.DefaultPersonalTokenTTL)
	raw, err := store.CreateToken(steward.WithActor(context.Background(), "system:fixture"),
		&steward.Token{Name: name, Role: role, Kind: steward.PrincipalPerson, PersonID: &personID, ExpiresAt: &exp})
	if err != nil {
		tb.Fatalf("create token %s: %v", name, err)
	}
	return raw
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testServer is a Server over a real SQLite store behind httptest, with an
// admin and an auditor token.
type testServer struct {
	tb     testing.TB
	Store  *sqlstore.DB
	Server *stewardhttp.Server
	HTTP   *httptest.Server
	Clock  *testClock
	Admin  string // admin token secret
	Viewer string // auditor token secret (named "viewer", the role it replaced)
	Logs   *syncBuffer
	F      *fixtures

	documented *http.ServeMux // the route table, to tell which responses the document describes
}

// TokenPeople returns the ids of the people the admin and auditor tokens
// belong to, made before any fixture.
func (ts *testServer) TokenPeople(tb testing.TB) []int64 {
	tb.Helper()
	var out []int64
	for _, name := range []string{"admin", "viewer"} {
		tok, err := ts.Store.TokenByName(context.Background(), name)
		if err != nil || tok.PersonID == nil {
			tb.Fatalf("token %s: %+v %v", name, tok, err)
		}
		out = append(out, *tok.PersonID)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverOption changes a Server before it starts.
type serverOption func(*stewardhttp.Server)

// MustStartServer starts a test server; opts adjust the Server first.
func MustStartServer(tb testing.TB, opts ...serverOption) *testServer {
	tb.Helper()
	return startServerOn(tb, MustOpenStore(tb), opts...)
}

// startServerOn is MustStartServer on a store the test opened itself.
func startServerOn(tb testing.TB, store *sqlstore.DB, opts ...serverOption) *testServer {
	tb.Helper()
	logs := &syncBuffer{}
	clock := &testClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	srv := &stewardhttp.Server{
		Store:  store,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  clock,
	}
	for _, o := range opts {
		o(srv)
	}
	ts := &testServer{
		tb: tb, Store: store, Server: srv, Clock: clock, Logs: logs,
		HTTP:   httptest.NewServer(srv.Handler()),
		Admin:  MustCreateToken(tb, store, "admin", steward.RoleAdmin),
		Viewer: MustCreateToken(tb, store, "viewer", steward.RoleAuditor),
		F:      newFixtures(tb, store),
	}
	tb.Cleanup(ts.HTTP.Close)
	ts.documented = http.NewServeMux()
	for _, r := range srv.Routes() {
		ts.documented.Handle(r.Method+" "+r.Pattern, http.NotFoundHandler())
	}
	return ts
}

// response is a finished response with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error decodes an error body, failing the test if it is not one.
func (r *response) Error(tb testing.TB) stewardhttp.ErrorDetail {
	tb.Helper()
	var e stewardhttp.ErrorResponse
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		tb.Fatalf("status %d: body is not a JSON error (%v): %s", r.Status, err, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("error Content-Type = %q, want application/json", ct)
	}
	return e.Error
}

// Decode decodes a JSON body into v.
func (r *response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// request describes one request of a test.
type request struct {
	Method string
	Target string // path and query
	Token  string // sent as Authorization: Bearer when not empty
	Body   string // sent as application/json when not empty
	Header map[string]string
	// Reader, when set, is sent as the body instead of Body, with no
	// Content-Type unless Header sets one and no Content-Length (chunked)
	// unless it is a *strings.Reader or similar the client can measure.
	Reader io.Reader
	// OutsideDocument marks a request that deliberately breaks the OpenAPI
	// document, to test how the server refuses it. Do checks every other
	// request against the document and fails the test if the document does
	// not allow it; a request marked here must be one the document refuses,
	// so that a mark cannot outlive the reason for it.
	OutsideDocument bool
}

// Do sends req. Every response to a documented route is checked against
// the OpenAPI document, so every test is also a test of the document.
func (ts *testServer) Do(req request) *response {
	ts.tb.Helper()
	// The body is read first so that the same bytes can be checked against
	// the document and sent. A reader the client could measure is sent with
	// its length; any other is sent chunked, as it would have been.
	var body []byte
	measured := true
	switch {
	case req.Reader != nil:
		switch req.Reader.(type) {
		case *strings.Reader, *bytes.Reader, *bytes.Buffer:
		default:
			measured = false
		}
		b, err := io.ReadAll(req.Reader)
		if err != nil {
			ts.tb.Fatalf("read request body: %v", err)
		}
		body = b
	case req.Body != "":
		body = []byte(req.Body)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	newRequest := func(measured bool) *http.Request {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
			if !measured {
				rd = io.MultiReader(rd)
			}
		}
		hr, err := http.NewRequest(method, ts.HTTP.URL+req.Target, rd)
		if err != nil {
			ts.tb.Fatalf("new request %s %s: %v", method, req.Target, err)
		}
		if req.Token != "" {
			hr.Header.Set("Authorization", "Bearer "+req.Token)
		}
		if req.Body != "" && req.Reader == nil {
			hr.Header.Set("Content-Type", "application/json")
		}
		for k, v := range req.Header {
			hr.Header.Set(k, v)
		}
		return hr
	}
	hr := newRequest(measured)
	documented := false
	if _, pattern := ts.documented.Handler(hr); pattern != "" && method != http.MethodHead {
		documented = true
		vr := newRequest(true)
		if body != nil && vr.Header.Get("Content-Type") == "" {
			// A body without a Content-Type may be taken as
			// application/octet-stream (RFC 9110, 8.3); the validator
			// would otherwise look for a media type named "".
			vr.Header.Set("Content-Type", "application/octet-stream")
		}
		checkRequest(ts.tb, vr, req.OutsideDocument)
	} else if req.OutsideDocument {
		ts.tb.Errorf("%s %s is marked OutsideDocument, but it is not a documented route: no mark is needed", method, req.Target)
	}
	resp, err := ts.HTTP.Client().Do(hr)
	if err != nil {
		ts.tb.Fatalf("%s %s: %v", method, req.Target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.tb.Fatalf("%s %s: read body: %v", method, req.Target, err)
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if r.Status >= 500 && r.Status != http.StatusServiceUnavailable && r.Status != http.StatusNotImplemented {
		ts.tb.Errorf("%s %s: status %d: %s", method, req.Target, r.Status, b)
	}
	if documented {
		checkAgainstDocument(ts.tb, hr, r)
	}
	return r
}

// Get is Do for a GET with the admin token.
func (ts *testServer) Get(target string) *response {
	ts.tb.Helper()
	return ts.Do(request{Target: target, Token: ts.Admin})
}

// Post is Do for a POST of a JSON body with the admin token.
func (ts *testServer) Post(target, body string) *response {
	ts.tb.Helper()
	return ts.Do(request{Method: http.MethodPost, Target: target, Token: ts.Admin, Body: body})
}

// Put is Do for a PUT of a JSON body with the admin token.
func (ts *testServer) Put(target, body string) *response {
	ts.tb.Helper()
	return ts.Do(request{Method: http.MethodPut, Target: target, Token: ts.Admin, Body: body})
}

// documentValidator is built once: compiling the document's schemas is the
// slow part. Validation is serialised because the tests run in parallel and
// the validator's thread safety is not documented.
var documentValidator = sync.OnceValues(func() (validator.Validator, error) {
	spec, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("parse openapi.json: %w", err)
	}
	v, errs := validator.NewValidator(doc,
		// Formats (date-time, int64) are assertions, not annotations: a
		// time the server cannot read is outside the document.
		config.WithFormatAssertions(),
		// Strict: a query parameter or header the document does not name
		// is an error, in requests and in responses, so that neither side
		// can grow one the document does not have. Bodies are left to the
		// schemas, whose objects are all closed (additionalProperties:
		// false) already; strict mode would also report the keys of the
		// free-form maps (labels, an event's data).
		config.WithStrictMode(),
		config.WithStrictIgnorePaths("$.body.**"),
		// Headers every response carries for the browser's sake.
		config.WithStrictIgnoredHeadersExtra("X-Content-Type-Options"),
		// A body on a route that takes none is an error too.
		config.WithRejectUndeclaredRequestBody(),
	)
	if len(errs) > 0 {
		return nil, fmt.Errorf("build validator: %v", errs)
	}
	return v, nil
})

var validateMu sync.Mutex

// checkRequest fails the test if the document does not allow req (its path,
// query and header parameters, security and body), or, when the test
// marked req as deliberately outside the document, if the document allows
// it after all.
func checkRequest(tb testing.TB, req *http.Request, outside bool) {
	tb.Helper()
	v, err := documentValidator()
	if err != nil {
		tb.Fatal(err)
	}
	validateMu.Lock()
	ok, errs := v.ValidateHttpRequestSync(req)
	validateMu.Unlock()
	switch {
	case ok && outside:
		tb.Errorf("%s %s is marked OutsideDocument, but openapi.json allows it: the document is looser than the server, or the mark is not needed",
			req.Method, truncate(req.URL.RequestURI()))
	case !ok && !outside:
		for _, e := range errs {
			tb.Errorf("request %s %s does not match openapi.json: %s", req.Method, truncate(req.URL.RequestURI()), truncate(e.Error()))
			for _, f := range e.SchemaValidationErrors {
				tb.Errorf("  %s", truncate(f.Error()))
			}
		}
	}
}

// checkAgainstDocument fails the test if the response does not match what
// the OpenAPI document says the route answers.
func checkAgainstDocument(tb testing.TB, req *http.Request, r *response) {
	tb.Helper()
	v, err := documentValidator()
	if err != nil {
		tb.Fatal(err)
	}
	resp := &http.Response{
		StatusCode: r.Status,
		Header:     r.Header,
		Body:       io.NopCloser(bytes.NewReader(r.Body)),
		Request:    req,
	}
	validateMu.Lock()
	ok, errs := v.ValidateHttpResponse(req, resp)
	validateMu.Unlock()
	if !ok {
		for _, e := range errs {
			tb.Errorf("%s %s → %d does not match openapi.json: %s", req.Method, req.URL.RequestURI(), r.Status, e.Error())
			for _, f := range e.SchemaValidationErrors {
				tb.Errorf("  %s", f.Error())
			}
		}
		tb.Errorf("body: %s", r.Body)
	}
}

// truncate cuts s to a length a test log can show: validation errors quote
// the values they refuse, and some tests send megabytes.
func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// fixtures creates inventory through the store's Create methods. Each
// factory fills every required field with a unique default; overrides
// change what a test cares about.
type fixtures struct {
	tb    testing.TB
	store steward.Store
	mu    sync.Mutex
	n     int
	sysMu sync.Mutex      // held while the default system is made: parallel tests ask at once
	sys   *steward.System // the default system of identities and entitlements
}

func newFixtures(tb testing.TB, store steward.Store) *fixtures {
	return &fixtures{tb: tb, store: store}
}

func (f *fixtures) next() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.n
}

func apply[T any](v *T, overrides []func(*T)) *T {
	for _, o := range overrides {
		o(v)
	}
	return v
}

func (f *fixtures) check(what string, err error) {
	f.tb.Helper()
	if err != nil {
		f.tb.Fatalf("create %s: %v", what, err)
	}
}

// ctx names the fixtures as the actor, so audit tests can tell them apart
// from API writes.
func (f *fixtures) ctx() context.Context {
	return steward.WithActor(context.Background(), "system:fixture")
}

func (f *fixtures) Team(overrides ...func(*steward.Team)) *steward.Team {
	f.tb.Helper()
	n := f.next()
	t := apply(&steward.Team{Name: fmt.Sprintf("team-%d", n), DisplayName: fmt.Sprintf("Team %d", n)}, overrides)
	f.check("team", f.store.CreateTeam(f.ctx(), t))
	return t
}

func (f *fixtures) Person(overrides ...func(*steward.Person)) *steward.Person {
	f.tb.Helper()
	n := f.next()
	p := apply(&steward.Person{ExternalID: fmt.Sprintf("u%d", n), Name: fmt.Sprintf("Person %d", n),
		Email: fmt.Sprintf("p%d@example.com", n), Status: steward.PersonActive}, overrides)
	f.check("person", f.store.CreatePerson(f.ctx(), p))
	return p
}

func (f *fixtures) System(overrides ...func(*steward.System)) *steward.System {
	f.tb.Helper()
	n := f.next()
	s := apply(&steward.System{Name: fmt.Sprintf("system-%d", n), Kind: steward.SystemAWS}, overrides)
	f.check("system", f.store.CreateSystem(f.ctx(), s))
	return s
}

// defaultSystem returns the system fixtures put identities and
// entitlements on unless told otherwise.
func (f *fixtures) defaultSystem() int64 {
	f.tb.Helper()
	f.sysMu.Lock()
	defer f.sysMu.Unlock()
	if f.sys == nil {
		f.sys = f.System(func(s *steward.System) { s.Name = "default-system" })
	}
	return f.sys.ID
}

func (f *fixtures) Identity(overrides ...func(*steward.Identity)) *steward.Identity {
	f.tb.Helper()
	n := f.next()
	i := apply(&steward.Identity{ExternalID: fmt.Sprintf("ext-%d", n), Name: fmt.Sprintf("svc-%d", n),
		Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelMedium,
		Status: steward.IdentityActive}, overrides)
	if i.SystemID == 0 {
		i.SystemID = f.defaultSystem()
	}
	f.check("identity", f.store.CreateIdentity(f.ctx(), i))
	return i
}

func (f *fixtures) Credential(identityID int64, overrides ...func(*steward.Credential)) *steward.Credential {
	f.tb.Helper()
	c := apply(&steward.Credential{IdentityID: identityID, Kind: steward.CredAccessKey}, overrides)
	f.check("credential", f.store.CreateCredential(f.ctx(), c))
	return c
}

func (f *fixtures) Entitlement(overrides ...func(*steward.Entitlement)) *steward.Entitlement {
	f.tb.Helper()
	n := f.next()
	e := apply(&steward.Entitlement{Name: fmt.Sprintf("role-%d", n), Sensitivity: steward.LevelLow}, overrides)
	if e.SystemID == 0 {
		e.SystemID = f.defaultSystem()
	}
	f.check("entitlement", f.store.CreateEntitlement(f.ctx(), e))
	return e
}

func (f *fixtures) Grant(identityID, entitlementID int64, overrides ...func(*steward.Grant)) *steward.Grant {
	f.tb.Helper()
	g := apply(&steward.Grant{IdentityID: identityID, EntitlementID: entitlementID, Type: steward.GrantStanding,
		GrantedVia: "fixture"}, overrides)
	f.check("grant", f.store.CreateGrant(f.ctx(), g))
	return g
}

// ids returns the ids of a list page's items.
func ids(tb testing.TB, r *response) []int64 {
	tb.Helper()
	var page struct {
		Items []struct {
			ID  int64 `json:"id"`
			Seq int64 `json:"seq"`
		} `json:"items"`
		Next string `json:"next"`
	}
	r.Decode(tb, &page)
	out := []int64{}
	for _, it := range page.Items {
		out = append(out, it.ID+it.Seq) // events have seq, everything else id
	}
	return out
}
