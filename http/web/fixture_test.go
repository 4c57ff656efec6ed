package web

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// now is the fixed time every test runs at, so that ages and "days ago"
// are exact.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) *time.Time {
	t := now.Add(-time.Duration(n) * 24 * time.Hour)
	return &t
}

func ptr[T any](v T) *T { return &v }

// fixture is a small organisation in a real SQLite store, signed in with an
// admin token.
type fixture struct {
	Store    steward.Store
	Token    string // raw API token of "alice"
	Handler  http.Handler
	Fillers  int   // identities beyond the named ones, for paging
	Total    int   // every identity in the store
	ownerID  int64 // Ada Lovelace, active
	leftID   int64 // Charles Babbage, departed
	sysProd  int64 // aws-prod-payments
	sysStage int64 // k8s-staging
	teamPay  int64 // payments-platform
	teamLed  int64 // ledger: managed by Ada, one active member
	graceID  int64 // Grace Hopper, active, of ledger
}

// Identity ids in the fixture.
const (
	idDeployer = 1 // payments-api-deployer: owned by Ada, stale key, admin grant
	idLegacy   = 2 // legacy-batch-key: owned by Charles, who has left
	idOrphan   = 3 // orphan-webhook-token: no owner, disabled, never used
	idLedger   = 4 // ledger-export-bot: no owner, team ledger: the oldest open gap
)

// MustOpenStore opens and migrates a SQLite store in a temp dir.
func MustOpenStore(tb testing.TB) steward.Store {
	tb.Helper()
	db, err := sqlstore.Open(filepath.Join(tb.TempDir(), "steward.db"), sqlstore.Options{
		Clock:  steward.FixedClock{T: now},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

// MustFixture loads the fixture organisation and builds a UI on it.
func MustFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{Store: MustOpenStore(tb), Fillers: 57, ownerID: 1, leftID: 2, sysProd: 1, sysStage: 2, teamPay: 1, teamLed: 3, graceID: 3}
	ctx := steward.WithActor(context.Background(), "system:test")
	b := &steward.Bulk{
		Source: "web test fixture",
		Teams: []steward.Team{
			{ID: 1, Name: "payments-platform", DisplayName: "Payments Platform", CreatedAt: *daysAgo(900)},
			{ID: 2, Name: "data-infra", DisplayName: "Data Infrastructure", CreatedAt: *daysAgo(900)},
			{ID: 3, Name: "ledger", DisplayName: "Ledger", ManagerID: ptr[int64](1), CreatedAt: *daysAgo(500)},
		},
		People: []steward.Person{
			{ID: 1, ExternalID: "ada", Name: "Ada Lovelace", Email: "ada@example.test", TeamID: ptr[int64](1), Status: steward.PersonActive, CreatedAt: *daysAgo(800)},
			{ID: 2, ExternalID: "charles", Name: "Charles Babbage", Email: "charles@example.test", TeamID: ptr[int64](1), ManagerID: ptr[int64](1), Status: steward.PersonDeparted, DepartedAt: daysAgo(100), CreatedAt: *daysAgo(800)},
			{ID: 3, ExternalID: "grace", Name: "Grace Hopper", Email: "grace@example.test", TeamID: ptr[int64](3), ManagerID: ptr[int64](1), Status: steward.PersonActive, CreatedAt: *daysAgo(500)},
		},
		Systems: []steward.System{
			{ID: 1, Name: "aws-prod-payments", Kind: steward.SystemAWS, OwnerTeamID: ptr[int64](1), CreatedAt: *daysAgo(700)},
			{ID: 2, Name: "k8s-staging", Kind: steward.SystemKubernetes, OwnerTeamID: ptr[int64](2), CreatedAt: *daysAgo(700)},
			{ID: 3, Name: "gcp-analytics", Kind: steward.SystemGCP, OwnerTeamID: ptr[int64](3), CreatedAt: *daysAgo(500)},
		},
		Identities: []steward.Identity{
			{ID: idDeployer, SystemID: 1, ExternalID: "arn:aws:iam::123456789012:user/payments-api-deployer", Name: "payments-api-deployer",
				Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelHigh,
				OwnerID: ptr[int64](1), TeamID: ptr[int64](1), Status: steward.IdentityActive,
				Labels:    map[string]string{"app": "payments-api", "managed-by": "terraform"},
				CreatedAt: daysAgo(600), LastUsedAt: daysAgo(3), UpdatedAt: *daysAgo(3)},
			{ID: idLegacy, SystemID: 1, ExternalID: "AKIALEGACYBATCH", Name: "legacy-batch-key",
				Kind: steward.KindAPIKey, Environment: steward.EnvProd, Criticality: steward.LevelMedium,
				OwnerID: ptr[int64](2), TeamID: ptr[int64](1), Status: steward.IdentityActive,
				CreatedAt: daysAgo(650), LastUsedAt: daysAgo(412), UpdatedAt: *daysAgo(412)},
			{ID: idOrphan, SystemID: 2, ExternalID: "webhook-token-7", Name: "orphan-webhook-token",
				Kind: steward.KindToken, Environment: steward.EnvStaging, Criticality: steward.LevelLow,
				Status: steward.IdentityDisabled, UpdatedAt: *daysAgo(200)}, // its system does not say when it was created
			{ID: idLedger, SystemID: 3, ExternalID: "ledger-export@analytics.iam.gserviceaccount.com", Name: "ledger-export-bot",
				Kind: steward.KindServiceAccount, Environment: steward.EnvDev, Criticality: steward.LevelMedium,
				TeamID: ptr[int64](3), Status: steward.IdentityActive,
				CreatedAt: daysAgo(120), LastUsedAt: daysAgo(1), UpdatedAt: *daysAgo(1)},
		},
		Credentials: []steward.Credential{
			{ID: 1, IdentityID: idDeployer, Kind: steward.CredAccessKey, CreatedAt: daysAgo(400), LastUsedAt: daysAgo(3),
				Fingerprint: strings.Repeat("ab", 32)},
			{ID: 2, IdentityID: idDeployer, Kind: steward.CredToken, CreatedAt: daysAgo(30), ExpiresAt: ptr(now.Add(60 * 24 * time.Hour))},
			// A key made inactive, whose system gives no creation time.
			{ID: 3, IdentityID: idLedger, ExternalID: "old-key", Kind: steward.CredPrivateKey, Status: steward.CredentialDisabled},
		},
		Entitlements: []steward.Entitlement{
			{ID: 1, SystemID: 1, Name: "AdministratorAccess", Privileged: true, Sensitivity: steward.LevelCritical, CreatedAt: *daysAgo(700)},
			{ID: 2, SystemID: 1, Name: "ReadOnlyAccess", Sensitivity: steward.LevelLow, CreatedAt: *daysAgo(700)},
		},
		Grants: []steward.Grant{
			{ID: 1, IdentityID: idDeployer, EntitlementID: 1, Type: steward.GrantStanding, GrantedAt: *daysAgo(590), GrantedVia: "sync:aws-prod-payments"},
			{ID: 2, IdentityID: idDeployer, EntitlementID: 2, Type: steward.GrantJIT, GrantedAt: now.Add(-time.Hour), ExpiresAt: ptr(now.Add(time.Hour)), GrantedVia: "request:42"},
			{ID: 3, IdentityID: idLegacy, EntitlementID: 2, Type: steward.GrantStanding, GrantedAt: *daysAgo(600), GrantedVia: "sync:aws-prod-payments"},
		},
	}
	// Fillers make the inventory long enough to page through: staging
	// workloads on the Kubernetes cluster, every third one unowned.
	for i := range f.Fillers {
		id := int64(100 + i)
		ident := steward.Identity{ID: id, SystemID: 2, ExternalID: fmt.Sprintf("system:serviceaccount:batch:worker-%03d", i),
			Name: fmt.Sprintf("batch-worker-%03d", i), Kind: steward.KindWorkload, Environment: steward.EnvStaging,
			Criticality: steward.LevelLow, TeamID: ptr[int64](2), Status: steward.IdentityActive,
			CreatedAt: daysAgo(300), LastUsedAt: daysAgo(i % 40), UpdatedAt: *daysAgo(10)}
		if i%3 != 0 {
			ident.OwnerID = ptr[int64](1)
		}
		b.Identities = append(b.Identities, ident)
	}
	f.Total = len(b.Identities)
	if err := f.Store.BulkLoad(ctx, b); err != nil {
		tb.Fatalf("load fixture: %v", err)
	}
	// The bulk load opened the gap tasks, in identity order per gap kind:
	// ledger-export-bot's "unowned" is task 1. The fillers' team,
	// data-infra, has nobody in it, so each filler is "team inactive" too,
	// and every third one "unowned".
	f.Token = f.MustToken(tb, "alice", steward.RoleAdmin)
	f.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}}).Handler()
	return f
}

// MustToken creates a personal API token of Ada (person 1, who owns most of
// the fixture) and returns its secret.
func (f *fixture) MustToken(tb testing.TB, name string, role steward.Role) string {
	tb.Helper()
	return f.MustTokenFor(tb, name, role, f.ownerID)
}

// MustTokenFor creates a personal API token of a person and returns its
// secret.
func (f *fixture) MustTokenFor(tb testing.TB, name string, role steward.Role, personID int64) string {
	tb.Helper()
	exp := now.Add(steward.DefaultPersonalTokenTTL)
	raw, err := f.Store.CreateToken(steward.WithActor(context.Background(), "system:test"),
		&steward.Token{Name: name, Role: role, Kind: steward.PrincipalPerson, PersonID: &personID, ExpiresAt: &exp})
	if err != nil {
		tb.Fatalf("create token %s: %v", name, err)
	}
	return raw
}

// Do sends one request to the fixture's handler with the given session
// cookie ("" for none) and form body (nil for none), and returns the response
// with its body read.
func (f *fixture) Do(tb testing.TB, method, target, session string, form url.Values) (*http.Response, string) {
	tb.Helper()
	r := newRequest(method, target, session)
	if form != nil {
		r.Body = io.NopCloser(strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return serve(f.Handler, r)
}

// newRequest returns a request carrying a session cookie ("" for none).
func newRequest(method, target, session string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	if session != "" {
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: session})
	}
	return r
}

// serve runs r through h and returns the response with its body read.
func serve(h http.Handler, r *http.Request) (*http.Response, string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// MustSignIn signs in with the fixture's token and returns the session
// cookie's value.
func (f *fixture) MustSignIn(tb testing.TB) string {
	tb.Helper()
	return f.MustSignInWith(tb, f.Token)
}

// MustSignInWith signs in with the raw token and returns the session
// cookie's value.
func (f *fixture) MustSignInWith(tb testing.TB, token string) string {
	tb.Helper()
	res, body := f.Do(tb, http.MethodPost, "/signin", "", url.Values{"token": {token}})
	if res.StatusCode != http.StatusSeeOther {
		tb.Fatalf("sign in: status %d, body:\n%s", res.StatusCode, body)
	}
	for _, c := range res.Cookies() {
		if c.Name == SessionCookie {
			return c.Value
		}
	}
	tb.Fatalf("sign in set no %s cookie", SessionCookie)
	return ""
}

var (
	rowLinkRE  = regexp.MustCompile(`<td class="name"><a href="/identities/(\d+)">`)
	nextLinkRE = regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page</a>`)
)

// rowIDs returns the identity ids of the inventory table's rows, in order.
func rowIDs(body string) []string {
	var ids []string
	for _, m := range rowLinkRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// nextLink returns the target of the "Next page" link, or "".
func nextLink(body string) string {
	if m := nextLinkRE.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// Follow sends the GET that a 303 response leads to, with the session and
// the cookies the response set (the flash), as a browser would.
func (f *fixture) Follow(tb testing.TB, res *http.Response, session string) (*http.Response, string) {
	tb.Helper()
	if res.StatusCode != http.StatusSeeOther {
		tb.Fatalf("status = %d, want a 303 to follow", res.StatusCode)
	}
	r := newRequest(http.MethodGet, res.Header.Get("Location"), session)
	for _, c := range res.Cookies() {
		if c.MaxAge >= 0 {
			r.AddCookie(c)
		}
	}
	return serve(f.Handler, r)
}

// MustGaps returns every open gap the store lists under filter g.
func (f *fixture) MustGaps(tb testing.TB, g steward.GapFilter) []steward.GapView {
	tb.Helper()
	g.Limit = steward.MaxLimit
	page, err := f.Store.Gaps(context.Background(), g)
	if err != nil {
		tb.Fatalf("gaps: %v", err)
	}
	return page.Items
}

// MustIdentity returns one identity from the store.
func (f *fixture) MustIdentity(tb testing.TB, id int64) *steward.IdentityView {
	tb.Helper()
	iv, err := f.Store.Identity(context.Background(), id)
	if err != nil {
		tb.Fatalf("identity %d: %v", id, err)
	}
	return iv
}

var taskRE = regexp.MustCompile(`<tr(?: class="row-overdue")? data-task="(\d+)">\s*<td class="name"><a href="/identities/(\d+)">`)

// gapRows returns the identity ids of the ownership table's rows, in order.
func gapRows(body string) []string {
	var ids []string
	for _, m := range taskRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[2])
	}
	return ids
}

// taskIDs returns the task ids of the ownership table's rows, in order.
func taskIDs(body string) []int {
	var ids []int
	for _, m := range taskRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		ids = append(ids, n)
	}
	return ids
}
