package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
)

// The OpenID provider of these tests is zitadel's example OP
// (github.com/zitadel/oidc/v3/example/server): a real provider with
// discovery, signed ID tokens, PKCE, a userinfo endpoint and a login form,
// started on a loopback port for each test. Its in-memory storage is used
// as it is, with its users replaced by opUsers and a groups claim added.

// opUser is a person at the test provider.
type opUser struct {
	storage.User
	Groups []string
}

// opPassword is every test user's password at the provider.
const opPassword = "correct horse"

// opUsers are the provider's people. ada, grace and charles are in the web
// fixture's directory (charles has left); mallory is not. (The example OP
// omits email_verified when it is false, so an unverified address is
// tested on MapClaims and parseClaims, not here.)
var opUsers = []opUser{
	{storage.User{ID: "sub-ada", Username: "ada", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.test", EmailVerified: true}, []string{"engineering", "steward-admins"}},
	{storage.User{ID: "grace", Username: "grace", FirstName: "Grace", LastName: "Hopper", Email: "Grace@Example.test", EmailVerified: true}, []string{"engineering"}},
	{storage.User{ID: "sub-charles", Username: "charles", FirstName: "Charles", LastName: "Babbage", Email: "charles@example.test", EmailVerified: true}, nil},
	{storage.User{ID: "sub-mallory", Username: "mallory", FirstName: "Mallory", LastName: "Mayhem", Email: "mallory@example.test", EmailVerified: true}, []string{"audit"}},
}

// opDirectory is the example storage's UserStore over opUsers.
type opDirectory map[string]*storage.User

func (d opDirectory) GetUserByID(id string) *storage.User { return d[id] }
func (d opDirectory) GetUserByUsername(name string) *storage.User {
	for _, u := range d {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (d opDirectory) ExampleClientID() string { return storage.ServiceUserID }

// opStorage is the example storage with a groups claim in the userinfo
// answer, as providers that map groups release it.
type opStorage struct {
	*storage.Storage
	groups map[string][]string
}

func (s opStorage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	if g := s.groups[subject]; g != nil {
		info.AppendClaims("groups", g)
	}
	return nil
}

// opClientID and opClientSecret are Steward's client at the provider.
const (
	opClientID     = "steward"
	opClientSecret = "s3cret-of-the-client"
)

// sso is a Steward UI with OIDC sign-in through a test provider, served on
// a loopback port.
type sso struct {
	*fixture
	URL    string // Steward's
	Issuer string // the provider's: http://localhost:PORT/, another site than Steward's 127.0.0.1
	cfg    OIDC
}

// MustSSO starts the test provider and a Steward UI on the web fixture that
// signs in through it; mod may change the UI's OIDC settings.
func MustSSO(tb testing.TB, mod func(*OIDC)) *sso {
	tb.Helper()
	f := MustFixture(tb)
	var mu sync.Mutex
	var h http.Handler = http.NotFoundHandler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hh := h
		mu.Unlock()
		hh.ServeHTTP(w, r)
	}))
	tb.Cleanup(ts.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	issuer := fmt.Sprintf("http://localhost:%d/", ln.Addr().(*net.TCPAddr).Port)
	users, groups := opDirectory{}, map[string][]string{}
	for _, u := range opUsers {
		u.Password = opPassword
		users[u.ID] = &u.User
		groups[u.ID] = u.Groups
	}
	clients := map[string]*storage.Client{opClientID: storage.WebClient(opClientID, opClientSecret, ts.URL+CallbackPath)}
	st := opStorage{Storage: storage.NewStorageWithClients(users, clients), groups: groups}
	op := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false)}
	go op.Serve(ln)
	tb.Cleanup(func() { op.Close() })

	s := &sso{fixture: f, URL: ts.URL, Issuer: issuer, cfg: OIDC{
		Issuer: issuer, ClientID: opClientID, ClientSecret: opClientSecret, RedirectURL: ts.URL + CallbackPath,
		Mapping: steward.ClaimMapping{GroupsClaim: "groups", Roles: map[steward.Role][]string{
			steward.RoleAdmin: {"steward-admins"}, steward.RoleAuditor: {"audit"}}},
		Contact: "the identity team (#iam-help)",
	}}
	if mod != nil {
		mod(&s.cfg)
	}
	cfg := s.cfg
	s.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}, OIDC: &cfg}).Handler()
	mu.Lock()
	h = s.Handler
	mu.Unlock()
	return s
}

// SignIn signs in through the provider with a plain HTTP client, as a
// browser would: Steward's redirect, the provider's login form, the way
// back. It returns the last answer, its body and the session cookie ("" if
// none was set).
func (s *sso) SignIn(tb testing.TB, username string) (*http.Response, string, string) {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(s.URL + "/signin/oidc?next=/inventory")
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	id := res.Request.URL.Query().Get("authRequestID")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Request.URL.String(), s.Issuer+"login/username") || id == "" {
		tb.Fatalf("the provider's login page: %d at %s:\n%s", res.StatusCode, res.Request.URL, body)
	}
	res, err = c.PostForm(s.Issuer+"login/username", url.Values{"id": {id}, "username": {username}, "password": {opPassword}})
	if err != nil {
		tb.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	u, _ := url.Parse(s.URL)
	session := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == SessionCookie {
			session = ck.Value
		}
	}
	return res, string(body), session
}

func TestSSOSignIn(t *testing.T) {
	t.Parallel()
	s := MustSSO(t, nil)

	t.Run("admin by group", func(t *testing.T) {
		res, body, session := s.SignIn(t, "ada")
		if res.StatusCode != http.StatusOK || session == "" || !strings.Contains(body, `http-equiv="refresh"`) {
			t.Fatalf("sign-in: %d, session %q:\n%s", res.StatusCode, session, body)
		}
		p, err := s.Store.SessionPrincipal(context.Background(), session)
		if err != nil || p.Kind != steward.PrincipalPerson || p.Name != "ada@example.test" || p.PersonID != s.ownerID || p.Role != steward.RoleAdmin {
			t.Fatalf("session principal = %+v, %v", p, err)
		}
		_, page := s.Do(t, http.MethodGet, "/inventory", session, nil)
		if !strings.Contains(page, "Signed in as <strong>ada@example.test</strong> (<span class=\"role\">admin</span>)") {
			t.Errorf("the header does not name the person and role:\n%s", page)
		}
		res, page = s.Do(t, http.MethodGet, "/admin/tokens", session, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(page, "<td class=\"name\">alice</td>") {
			t.Errorf("an admin's token page: %d:\n%s", res.StatusCode, page)
		}
		ev := s.lastEvent(t, steward.ActionPersonSignedIn)
		pl, _ := ev.Payload()
		if in := pl.(*steward.PersonSignedIn); ev.Actor != "person:ada@example.test" || in.Role != steward.RoleAdmin || in.Subject != "sub-ada" ||
			in.Issuer != s.Issuer || !strings.Contains(in.Reason, "steward-admins") {
			t.Errorf("sign-in event = %+v %+v", ev, in)
		}
	})

	t.Run("member, whose e-mail differs in case", func(t *testing.T) {
		res, _, session := s.SignIn(t, "grace")
		p, err := s.Store.SessionPrincipal(context.Background(), session)
		if res.StatusCode != http.StatusOK || err != nil || p.PersonID != s.graceID || p.Role != steward.RoleMember {
			t.Fatalf("grace: %d, %+v, %v", res.StatusCode, p, err)
		}
		// Every guarded route refuses a member with a page that says why.
		for _, tc := range []struct{ method, path string }{
			{http.MethodGet, "/admin/tokens"},
			{http.MethodPost, "/identities/1/owner"},
			{http.MethodPost, "/identities/1/attest"},
		} {
			res, page := s.Do(t, tc.method, tc.path, session, url.Values{"owner": {"grace@example.test"}, "person": {"grace@example.test"}})
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "grace@example.test (member)") || !strings.Contains(page, "Ask a Steward admin") {
				t.Errorf("%s %s as a member: %d:\n%s", tc.method, tc.path, res.StatusCode, page)
			}
		}
		if iv := s.MustIdentity(t, 1); iv.OwnerID == nil || *iv.OwnerID != s.ownerID {
			t.Error("a member's refused POST changed the owner")
		}
		// Sign-out ends the session in the store: the cookie is dead.
		res, _ = s.Do(t, http.MethodPost, "/signout", session, nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", res.StatusCode)
		}
		if _, err := s.Store.SessionPrincipal(context.Background(), session); steward.ErrorCode(err) != steward.EUNAUTHORIZED {
			t.Fatalf("after sign-out the session gives %v", err)
		}
		if res, _ := s.Do(t, http.MethodGet, "/inventory", session, nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
			t.Errorf("the old cookie after sign-out: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if ev := s.lastEvent(t, steward.ActionPersonSignedOut); ev.ObjectID != fmt.Sprint(s.graceID) {
			t.Errorf("sign-out event = %+v", ev)
		}
	})

	for name, tc := range map[string]struct {
		user   string
		status int
		says   []string
	}{
		"unknown":  {"mallory", http.StatusForbidden, []string{"Steward does not know you yet", "mallory@example.test (subject sub-mallory)", "No person in Steward", "the identity team (#iam-help)"}},
		"departed": {"charles", http.StatusForbidden, []string{"charles@example.test", "departed"}},
	} {
		t.Run(name, func(t *testing.T) {
			res, body, session := s.SignIn(t, tc.user)
			if res.StatusCode != tc.status || session != "" {
				t.Fatalf("status %d, session %q; want %d and none:\n%s", res.StatusCode, session, tc.status, body)
			}
			for _, w := range tc.says {
				if !strings.Contains(body, strings.ReplaceAll(w, "'", "&#39;")) {
					t.Errorf("the refusal page does not say %q:\n%s", w, body)
				}
			}
		})
	}
	if _, err := s.Store.PersonBySignIn(context.Background(), steward.ClaimEmail, "mallory@example.test"); steward.ErrorCode(err) != steward.ENOTFOUND {
		t.Errorf("an unknown subject was created without jit_people: %v", err)
	}
}

func TestSSOJustInTime(t *testing.T) {
	t.Parallel()
	s := MustSSO(t, func(c *OIDC) { c.JITPeople = true })
	res, body, session := s.SignIn(t, "mallory")
	if res.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("just-in-time sign-in: %d:\n%s", res.StatusCode, body)
	}
	p, err := s.Store.PersonBySignIn(context.Background(), steward.ClaimEmail, "mallory@example.test")
	if err != nil || p.Name != "Mallory Mayhem" || p.ExternalID != "mallory@example.test" || p.Status != steward.PersonActive {
		t.Fatalf("created person = %+v, %v", p, err)
	}
	pr, err := s.Store.SessionPrincipal(context.Background(), session)
	if err != nil || pr.PersonID != p.ID || pr.Role != steward.RoleAuditor {
		t.Fatalf("session = %+v, %v", pr, err)
	}
	ev := s.lastEvent(t, steward.ActionPersonCreated)
	if ev.ObjectID != fmt.Sprint(p.ID) || ev.Actor != "automation:steward" || ev.Via != "oidc-sign-in" {
		t.Errorf("person.created event = %+v", ev)
	}
	// The second sign-in finds them: nobody is created twice.
	if res, body, _ := s.SignIn(t, "mallory"); res.StatusCode != http.StatusOK {
		t.Fatalf("second sign-in: %d:\n%s", res.StatusCode, body)
	}
	// A person who left is not brought back by just-in-time creation.
	if res, body, _ := s.SignIn(t, "charles"); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "departed") {
		t.Errorf("a departed person with jit_people: %d:\n%s", res.StatusCode, body)
	}
}

func TestSSOBySubject(t *testing.T) {
	t.Parallel()
	s := MustSSO(t, func(c *OIDC) { c.Mapping.Person = steward.ClaimSubject })
	// grace's subject at the provider is her external id in the directory.
	res, body, session := s.SignIn(t, "grace")
	if p, err := s.Store.SessionPrincipal(context.Background(), session); res.StatusCode != http.StatusOK || err != nil || p.PersonID != s.graceID {
		t.Fatalf("grace by subject: %d, %+v, %v:\n%s", res.StatusCode, p, err, body)
	}
	// ada's subject is not her external id: her e-mail address does not
	// stand in for it.
	if res, body, _ := s.SignIn(t, "ada"); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "external id sub-ada") {
		t.Errorf("ada by subject: %d:\n%s", res.StatusCode, body)
	}
}

// TestSSOCallbackRefusals sends the callback what an attacker or a stale
// tab would: each is refused with a page, and no session starts.
func TestSSOCallbackRefusals(t *testing.T) {
	t.Parallel()
	s := MustSSO(t, nil)
	flowCookie := func(state string) *http.Cookie {
		b, _ := json.Marshal(flow{State: state, Nonce: "n", Verifier: "v", Next: "/"})
		return &http.Cookie{Name: FlowCookie, Value: base64.RawURLEncoding.EncodeToString(b)}
	}
	for name, tc := range map[string]struct {
		query  string
		cookie *http.Cookie
		status int
		says   string
	}{
		"no flow cookie": {"code=c&state=s", nil, http.StatusBadRequest, "not started in this browser"},
		"garbage cookie": {"code=c&state=s", &http.Cookie{Name: FlowCookie, Value: "%%%"}, http.StatusBadRequest, "not started in this browser"},
		"another state":  {"code=c&state=theirs", flowCookie("mine"), http.StatusBadRequest, "does not belong"},
		"provider error": {"error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E&state=mine", flowCookie("mine"), http.StatusUnauthorized, "access_denied (&lt;b&gt;nope&lt;/b&gt;)"},
		"a made-up code": {"code=forged&state=mine", flowCookie("mine"), http.StatusUnauthorized, "could not be verified"},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, CallbackPath+"?"+tc.query, nil)
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			res, body := serve(s.Handler, r)
			if res.StatusCode != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("status %d, want %d saying %q:\n%s", res.StatusCode, tc.status, tc.says, body)
			}
			for _, c := range res.Cookies() {
				if c.Name == SessionCookie && c.MaxAge >= 0 {
					t.Fatal("a refused callback set a session cookie")
				}
			}
		})
	}
}

// TestSSOProviderDown: with the provider unreachable, the sign-in page
// still works with a token and SSO says what is wrong.
func TestSSOProviderDown(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String() + "/"
	ln.Close()
	h := (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}, OIDC: &OIDC{Issuer: gone, ClientID: "steward", RedirectURL: "http://127.0.0.1:1" + CallbackPath}}).Handler()
	res, body := serve(h, httptest.NewRequest(http.MethodGet, "/signin", nil))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="sso"`) || !strings.Contains(body, `id="token"`) {
		t.Fatalf("sign-in page: %d:\n%s", res.StatusCode, body)
	}
	res, body = serve(h, httptest.NewRequest(http.MethodGet, "/signin/oidc", nil))
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "cannot be reached") {
		t.Fatalf("SSO with the provider down: %d:\n%s", res.StatusCode, body)
	}
	// Without OIDC there is no SSO button and no SSO route.
	_, body = f.Do(t, http.MethodGet, "/signin", "", nil)
	if strings.Contains(body, `id="sso"`) {
		t.Error("the sign-in page offers SSO without OIDC")
	}
	if res, _ := f.Do(t, http.MethodGet, "/signin/oidc", "", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("/signin/oidc without OIDC: %d", res.StatusCode)
	}
}

// lastEvent returns the newest event of an action.
func (s *sso) lastEvent(tb testing.TB, a steward.Action) steward.Event {
	tb.Helper()
	page, err := s.Store.Events(context.Background(), steward.EventFilter{Action: a, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil || len(page.Items) == 0 {
		tb.Fatalf("no %s event: %v", a, err)
	}
	return page.Items[len(page.Items)-1]
}

// TestBrowserSSO walks sign-in through the OpenID provider in a real
// headless Chromium: the sign-in page's SSO button, the provider's own
// login form on another site, and back, signed in by name and role; a
// member's 403 on an admin page; sign-out that kills the cookie; an admin
// who sees the page; and an unknown person's refusal.
func TestBrowserSSO(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")
	s := MustSSO(t, nil)
	ctx := newBrowser(t)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	click := func(step, sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// signIn goes from Steward's sign-in page through the provider's login
	// form and waits for the element wait of the page it ends on.
	signIn := func(user, wait string) {
		t.Helper()
		do("open the sign-in page", chromedp.Navigate(s.URL+"/inventory"), chromedp.WaitVisible(chromedp.ID("sso")))
		click("click Sign in with SSO", "#sso")
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if !strings.HasPrefix(loc, s.Issuer+"login/username") {
			t.Fatalf("SSO led to %s, want the provider's login form", loc)
		}
		do("fill the provider's login form", chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), opPassword))
		do("log in at the provider", chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(wait)))
	}
	sessionCookie := func() string {
		t.Helper()
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Cookies {
			if c.Name == SessionCookie {
				return c.Value
			}
		}
		return ""
	}

	// A member signs in and lands where they were going, named with role.
	signIn("grace", "#identities")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != s.URL+"/inventory" {
		t.Errorf("after sign-in the browser is at %s, want /inventory", loc)
	}
	if got := text("#signed-in-as"); got != "Signed in as grace@example.test (member)" {
		t.Errorf("header = %q", got)
	}
	shot(t, ctx, "sso-member.png")
	old := sessionCookie()
	if old == "" {
		t.Fatal("no session cookie after SSO sign-in")
	}

	// An admin page: 403, saying who and why.
	do("open an admin page", chromedp.Navigate(s.URL+"/admin/tokens"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if got := text("main h1"); got != "Not for the member role" {
		t.Errorf("a member on /admin/tokens sees %q", got)
	}
	if got := text("main .alert"); !strings.Contains(got, "grace@example.test (member)") {
		t.Errorf("403 page says %q", got)
	}
	shot(t, ctx, "sso-member-403.png")

	// Sign out: the browser is at the sign-in page, and the old cookie,
	// sent by another client, no longer works.
	click("sign out", `form[action="/signout"] button`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasPrefix(loc, s.URL+"/signin") {
		t.Errorf("after sign-out the browser is at %s", loc)
	}
	if res, _ := s.Do(t, http.MethodGet, "/inventory", old, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the cookie of an ended session still opens the inventory: %d", res.StatusCode)
	}

	// An admin sees the admin page.
	signIn("ada", "#identities")
	if got := text("#signed-in-as"); got != "Signed in as ada@example.test (admin)" {
		t.Errorf("header = %q", got)
	}
	do("open the tokens page", chromedp.Navigate(s.URL+"/admin/tokens"), chromedp.WaitVisible(chromedp.ID("tokens")))
	if got := text("#tokens"); !strings.Contains(got, "alice") {
		t.Errorf("tokens page = %q", got)
	}
	click("sign out", `form[action="/signout"] button`)

	// Someone the directory does not know is refused, with whom to ask.
	signIn("mallory", "#refused-who")
	if got := text("main h1"); got != "Steward does not know you yet" {
		t.Errorf("refusal heading = %q", got)
	}
	if got := text("#refused-who"); !strings.Contains(got, "mallory@example.test") {
		t.Errorf("refusal names %q", got)
	}
	if got := text("#refused-ask"); !strings.Contains(got, "the identity team (#iam-help)") {
		t.Errorf("refusal says to ask %q", got)
	}
	shot(t, ctx, "sso-refused.png")
	if c := sessionCookie(); c != "" {
		t.Errorf("a refused person has a session cookie")
	}
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	for name, tc := range map[string]struct {
		id, info string
		groups   string
		want     steward.Claims
		err      string
	}{
		"id token alone": {`{"iss":"https://idp/","sub":"s1","email":"a@x.test","email_verified":true,"name":"Ada"}`, "", "",
			steward.Claims{Issuer: "https://idp/", Subject: "s1", Email: "a@x.test", EmailVerified: &yes, Name: "Ada"}, ""},
		"userinfo fills in": {`{"iss":"i","sub":"s1"}`, `{"sub":"s1","email":"a@x.test","email_verified":"false","preferred_username":"ada","groups":["g1","g2"]}`, "groups",
			steward.Claims{Issuer: "i", Subject: "s1", Email: "a@x.test", EmailVerified: &no, Name: "ada", Groups: []string{"g1", "g2"}}, ""},
		"the id token wins": {`{"sub":"s1","email":"signed@x.test"}`, `{"sub":"s1","email":"other@x.test"}`, "",
			steward.Claims{Subject: "s1", Email: "signed@x.test"}, ""},
		"one group as a string": {`{"sub":"s1","roles":"admins"}`, "", "roles", steward.Claims{Subject: "s1", Groups: []string{"admins"}}, ""},
		"groups not asked":      {`{"sub":"s1","groups":["g"]}`, "", "", steward.Claims{Subject: "s1"}, ""},
		"groups of numbers":     {`{"sub":"s1","groups":[1,2]}`, "", "groups", steward.Claims{Subject: "s1"}, ""},
		"a number for a name":   {`{"sub":"s1","email":42}`, "", "", steward.Claims{Subject: "s1"}, ""},
		"null claims":           {`{"sub":"s1","email":null}`, `{"sub":"s1","email":"u@x.test"}`, "", steward.Claims{Subject: "s1", Email: "u@x.test"}, ""},
		"another subject":       {`{"sub":"s1"}`, `{"sub":"s2","email":"x@x.test"}`, "", steward.Claims{}, "another subject"},
		"no subject":            {`{"email":"x@x.test"}`, "", "", steward.Claims{}, "no subject"},
		"not an object":         {`[1]`, "", "", steward.Claims{}, "not a JSON object"},
		"bad userinfo":          {`{"sub":"s1"}`, `"x"`, "", steward.Claims{}, "not a JSON object"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var info []byte
			if tc.info != "" {
				info = []byte(tc.info)
			}
			got, err := parseClaims([]byte(tc.id), info, tc.groups)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseClaims = %+v, %v; want an error about %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			verified := func(c steward.Claims) string {
				if c.EmailVerified == nil {
					return "unsaid"
				}
				return fmt.Sprint(*c.EmailVerified)
			}
			gotV, wantV := verified(got), verified(tc.want)
			got.EmailVerified, tc.want.EmailVerified = nil, nil
			if !reflect.DeepEqual(got, tc.want) || gotV != wantV {
				t.Fatalf("parseClaims = %+v (verified %s), want %+v (verified %s)", got, gotV, tc.want, wantV)
			}
		})
	}
}

// FuzzParseClaims feeds the claims parser what a provider (or anyone who
// runs one) may send: it never panics, and what it accepts names a subject
// and only strings as groups.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"sub":"s1","email":"a@x.test","groups":["g"]}`), []byte(`{"sub":"s1","email_verified":"true"}`))
	f.Add([]byte(`{"sub":"s1","groups":"g"}`), []byte(nil))
	f.Add([]byte(`{"sub":null}`), []byte(`{"sub":"s1"}`))
	f.Add([]byte(`{}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, id, info []byte) {
		c, err := parseClaims(id, info, "groups")
		if err != nil {
			return
		}
		if c.Subject == "" {
			t.Fatalf("accepted claims without a subject: %+v", c)
		}
		// What it accepts maps to a sign-in in a role sign-in gives, or to a
		// refusal the person can read.
		in, err := steward.MapClaims(steward.ClaimMapping{GroupsClaim: "groups", Roles: map[steward.Role][]string{steward.RoleAdmin: {"g"}}}, c)
		if err != nil {
			if steward.ErrorCode(err) != steward.EFORBIDDEN {
				t.Fatalf("MapClaims refused with %v", err)
			}
			return
		}
		if (in.Role != steward.RoleAdmin && in.Role != steward.RoleMember) || in.Key == "" {
			t.Fatalf("MapClaims = %+v", in)
		}
	})
}

func TestOIDCValidate(t *testing.T) {
	t.Parallel()
	good := OIDC{Issuer: "https://idp.example.com/", ClientID: "steward", RedirectURL: "https://steward.example.com" + CallbackPath}
	for name, tc := range map[string]struct {
		mod func(*OIDC)
		err string
	}{
		"good":             {func(*OIDC) {}, ""},
		"no issuer":        {func(c *OIDC) { c.Issuer = "" }, "issuer"},
		"issuer not a URL": {func(c *OIDC) { c.Issuer = "idp.example.com" }, "issuer"},
		"no client":        {func(c *OIDC) { c.ClientID = " " }, "client_id"},
		"no redirect":      {func(c *OIDC) { c.RedirectURL = "" }, "redirect_url"},
		"another path":     {func(c *OIDC) { c.RedirectURL = "https://steward.example.com/callback" }, CallbackPath},
		"a bad mapping":    {func(c *OIDC) { c.Mapping.Person = "nickname" }, "person claim"},
		"roles, no claim":  {func(c *OIDC) { c.Mapping.Roles = map[steward.Role][]string{steward.RoleAdmin: {"a"}} }, "groups_claim"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.mod(&c)
			err := c.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tc.err)) {
				t.Fatalf("Validate = %v, want %q", err, tc.err)
			}
		})
	}
}
