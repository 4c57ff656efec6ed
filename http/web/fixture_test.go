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
}

// Identity ids in the fixture.
const (
	idDeployer = 1 // payments-api-deployer: owned by Ada, stale key, admin grant
	idLegacy   = 2 // legacy-batch-key: owned by Charles, who has left
	idOrphan   = 3 // orphan-webhook-token: no owner, disabled, never used
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
	f := &fixture{Store: MustOpenStore(tb), Fillers: 57, ownerID: 1, leftID: 2, sysProd: 1, sysStage: 2, teamPay: 1}
	ctx := steward.WithActor(context.Background(), "system:test")
	b := &steward.Bulk{
		Source: "web test fixture",
		Teams: []steward.Team{
			{ID: 1, Name: "payments-platform", DisplayName: "Payments Platform", CreatedAt: *daysAgo(900)},
			{ID: 2, Name: "data-infra", DisplayName: "Data Infrastructure", CreatedAt: *daysAgo(900)},
		},
		People: []steward.Person{
			{ID: 1, ExternalID: "ada", Name: "Ada Lovelace", Email: "ada@example.test", TeamID: ptr[int64](1), Status: steward.PersonActive, CreatedAt: *daysAgo(800)},
			{ID: 2, ExternalID: "charles", Name: "Charles Babbage", Email: "charles@example.test", TeamID: ptr[int64](1), Status: steward.PersonDeparted, DepartedAt: daysAgo(100), CreatedAt: *daysAgo(800)},
		},
		Systems: []steward.System{
			{ID: 1, Name: "aws-prod-payments", Kind: steward.SystemAWS, OwnerTeamID: ptr[int64](1), CreatedAt: *daysAgo(700)},
			{ID: 2, Name: "k8s-staging", Kind: steward.SystemKubernetes, OwnerTeamID: ptr[int64](2), CreatedAt: *daysAgo(700)},
		},
		Identities: []steward.Identity{
			{ID: idDeployer, SystemID: 1, ExternalID: "arn:aws:iam::123456789012:user/payments-api-deployer", Name: "payments-api-deployer",
				Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelHigh,
				OwnerID: ptr[int64](1), TeamID: ptr[int64](1), Status: steward.IdentityActive,
				Labels:    map[string]string{"app": "payments-api", "managed-by": "terraform"},
				CreatedAt: *daysAgo(600), LastUsedAt: daysAgo(3), UpdatedAt: *daysAgo(3)},
			{ID: idLegacy, SystemID: 1, ExternalID: "AKIALEGACYBATCH", Name: "legacy-batch-key",
				Kind: steward.KindAPIKey, Environment: steward.EnvProd, Criticality: steward.LevelMedium,
				OwnerID: ptr[int64](2), TeamID: ptr[int64](1), Status: steward.IdentityActive,
				CreatedAt: *daysAgo(650), LastUsedAt: daysAgo(412), UpdatedAt: *daysAgo(412)},
			{ID: idOrphan, SystemID: 2, ExternalID: "webhook-token-7", Name: "orphan-webhook-token",
				Kind: steward.KindToken, Environment: steward.EnvStaging, Criticality: steward.LevelLow,
				Status: steward.IdentityDisabled, CreatedAt: *daysAgo(200), UpdatedAt: *daysAgo(200)},
		},
		Credentials: []steward.Credential{
			{ID: 1, IdentityID: idDeployer, Kind: steward.CredAccessKey, CreatedAt: *daysAgo(400), LastUsedAt: daysAgo(3),
				Fingerprint: strings.Repeat("ab", 32)},
			{ID: 2, IdentityID: idDeployer, Kind: steward.CredToken, CreatedAt: *daysAgo(30), ExpiresAt: ptr(now.Add(60 * 24 * time.Hour))},
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
			CreatedAt: *daysAgo(300), LastUsedAt: daysAgo(i % 40), UpdatedAt: *daysAgo(10)}
		if i%3 != 0 {
			ident.OwnerID = ptr[int64](1)
		}
		b.Identities = append(b.Identities, ident)
	}
	f.Total = len(b.Identities)
	if err := f.Store.BulkLoad(ctx, b); err != nil {
		tb.Fatalf("load fixture: %v", err)
	}
	raw, err := f.Store.CreateToken(ctx, &steward.Token{Name: "alice", Role: steward.RoleAdmin})
	if err != nil {
		tb.Fatalf("create token: %v", err)
	}
	f.Token = raw
	f.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}}).Handler()
	return f
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
	res, body := f.Do(tb, http.MethodPost, "/signin", "", url.Values{"token": {f.Token}})
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
	rowLinkRE  = regexp.MustCompile(`<td><a href="/identities/(\d+)">`)
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
