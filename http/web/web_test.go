package web

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestPagesRedirectWithoutSession(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	tests := []struct {
		name, path, session, want string
	}{
		{"root", "/", "", "/signin"},
		{"inventory keeps its query", "/inventory?q=pay&kind=api_key", "", "/signin?next=" + url.QueryEscape("/inventory?q=pay&kind=api_key")},
		{"identity", "/identities/1", "", "/signin?next=" + url.QueryEscape("/identities/1")},
		{"coming section", "/audit", "", "/signin?next=" + url.QueryEscape("/audit")},
		{"unknown page", "/no/such/page", "", "/signin?next=" + url.QueryEscape("/no/such/page")},
		{"garbage cookie", "/inventory", "not-a-session", "/signin?next=" + url.QueryEscape("/inventory")},
		{"well-formed unknown session", "/inventory", steward.SessionPrefix + strings.Repeat("A", 43), "/signin?next=" + url.QueryEscape("/inventory")},
		{"raw API token as cookie", "/inventory", "TOKEN", "/signin?next=" + url.QueryEscape("/inventory")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			session := tt.session
			if session == "TOKEN" {
				session = f.Token // the API token is not a session
			}
			res, _ := f.Do(t, http.MethodGet, tt.path, session, nil)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("status = %d, want 303", res.StatusCode)
			}
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIPathsAreNotTheUIs(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	for _, p := range []string{"/api/v1/identities", "/api", "/healthz", "/readyz", "/metrics", "/openapi.json"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, p, "", nil)
			if res.StatusCode != http.StatusNotFound || strings.Contains(body, "<form") {
				t.Errorf("status = %d, want a plain 404 and no sign-in form; body:\n%s", res.StatusCode, body)
			}
		})
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantText   string
	}{
		{"empty", "", http.StatusUnauthorized, "Paste an API token"},
		{"not a token", "hunter2", http.StatusUnauthorized, "not a Steward API token"},
		{"unknown token", steward.TokenPrefix + strings.Repeat("x", 43), http.StatusUnauthorized, "not valid"},
		{"session secret is not a token", steward.SessionPrefix + strings.Repeat("x", 43), http.StatusUnauthorized, "not a Steward API token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodPost, "/signin", "", url.Values{"token": {tt.token}})
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if !strings.Contains(body, tt.wantText) || !strings.Contains(body, `<form method="post" action="/signin"`) {
				t.Errorf("body should show the form again with %q:\n%s", tt.wantText, body)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("a failed sign-in set cookies: %v", res.Cookies())
			}
		})
	}

	t.Run("good token", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodPost, "/signin", "", url.Values{"token": {"  " + f.Token + "\n"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Fatalf("status = %d, Location = %q, want 303 to /; body:\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
		cookies := res.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies = %v, want one", cookies)
		}
		c := cookies[0]
		if c.Name != SessionCookie {
			t.Errorf("cookie name = %q, want %q", c.Name, SessionCookie)
		}
		if !c.HttpOnly {
			t.Error("cookie is not HttpOnly")
		}
		if c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie SameSite = %v, want Strict", c.SameSite)
		}
		if c.Path != "/" {
			t.Errorf("cookie Path = %q, want /", c.Path)
		}
		if c.Secure {
			t.Error("cookie is Secure although UI.Secure is off")
		}
		if c.MaxAge != int(SessionTTL/time.Second) {
			t.Errorf("cookie MaxAge = %d, want %d", c.MaxAge, int(SessionTTL/time.Second))
		}
		if strings.Contains(c.Value, f.Token) || !steward.WellFormedSecret(steward.SessionPrefix, c.Value) {
			t.Errorf("cookie value %q must be a session secret, never the token", c.Value)
		}
		res, body = f.Do(t, http.MethodGet, "/", c.Value, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "alice") || !strings.Contains(body, "admin") {
			t.Errorf("with the session, / = %d and should name the token and role:\n%s", res.StatusCode, body)
		}
	})

	t.Run("goes on to next", func(t *testing.T) {
		t.Parallel()
		res, _ := f.Do(t, http.MethodPost, "/signin", "", url.Values{"token": {f.Token}, "next": {"/identities/2?x=1"}})
		if got := res.Header.Get("Location"); got != "/identities/2?x=1" {
			t.Errorf("Location = %q, want the next page", got)
		}
	})

	t.Run("already signed in", func(t *testing.T) {
		t.Parallel()
		session := f.MustSignIn(t)
		res, _ := f.Do(t, http.MethodGet, "/signin?next=/audit", session, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/audit" {
			t.Errorf("status = %d, Location = %q, want 303 to /audit", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("form", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodGet, "/signin?next=/inventory", "", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", res.StatusCode)
		}
		for _, want := range []string{`<label for="token">`, `id="token"`, `name="next" value="/inventory"`} {
			if !strings.Contains(body, want) {
				t.Errorf("form lacks %q", want)
			}
		}
	})
}

func TestSecureCookie(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	f.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}, Secure: true}).Handler()
	res, _ := f.Do(t, http.MethodPost, "/signin", "", url.Values{"token": {f.Token}})
	if c := res.Cookies(); len(c) != 1 || !c[0].Secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("cookies = %+v, want one Secure, HttpOnly, SameSite=Strict cookie", c)
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/inventory?q=a", "/inventory?q=a"},
		{"/identities/7", "/identities/7"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"inventory", "/"},
		{"/signin", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := safeNext(tt.in); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site other origin", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, http.StatusSeeOther},
		{"no browser headers", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			session := f.MustSignIn(t)
			r, body := func() (*http.Response, string) {
				req := newRequest(http.MethodPost, "/signout", session)
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				return serve(f.Handler, req)
			}()
			if r.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body:\n%s", r.StatusCode, tt.want, body)
			}
			// A refused sign-out leaves the session alive.
			res, _ := f.Do(t, http.MethodGet, "/inventory", session, nil)
			alive := res.StatusCode == http.StatusOK
			if alive != (tt.want == http.StatusForbidden) {
				t.Errorf("after the POST, session alive = %v", alive)
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	res, _ := f.Do(t, http.MethodPost, "/signout", session, url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
		t.Fatalf("sign-out: status %d to %q, want 303 to /signin", res.StatusCode, res.Header.Get("Location"))
	}
	if c := res.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out should expire the cookie, got %+v", c)
	}
	res, _ = f.Do(t, http.MethodGet, "/inventory", session, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("the old session still opens the inventory: status %d", res.StatusCode)
	}
}

func TestInventoryFilters(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	fillers := func(pred func(i int) bool) []string {
		var ids []string
		for i := range f.Fillers {
			if pred(i) {
				ids = append(ids, strconv.Itoa(100+i))
			}
		}
		return ids
	}
	all := func(int) bool { return true }
	tests := []struct {
		name  string
		query string
		want  []string // identity ids on the first page, in order
		texts []string // text the page must show
	}{
		{"search by name", "q=payments-api", []string{"1"}, []string{"payments-api-deployer", "Ada Lovelace", "3 days ago"}},
		{"search is case-insensitive", "q=LEGACY", []string{"2"}, []string{"owner departed", "1 year 1 month ago"}},
		{"search by external id", "q=webhook-token-7", []string{"3"}, []string{"unowned", "never", "disabled"}},
		{"kind", "kind=api_key", []string{"2"}, nil},
		{"environment", "env=prod", []string{"1", "2"}, nil},
		{"status", "status=disabled", []string{"3"}, nil},
		{"system", "system=aws-prod-payments", []string{"1", "2"}, []string{`name="system" value="aws-prod-payments"`, `<option value="aws-prod-payments" label="aws"></option>`}},
		{"team", "team=payments-platform", []string{"1", "2"}, []string{`name="team" value="payments-platform"`}},
		{"team by display name", "team=Payments+Platform", []string{"1", "2"}, nil},
		{"owner by email", "owner=charles%40example.test", []string{"2"}, []string{`name="owner" value="charles@example.test"`}},
		{"owner by login", "owner=charles", []string{"2"}, nil},
		{"owner by name", "owner=Charles+Babbage", []string{"2"}, nil},
		{"combined", "kind=workload&env=staging&limit=5", fillers(all)[:5], nil},
		{"no match", "q=nothing-is-called-this", nil, []string{"No identities match"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, "/inventory?"+tt.query, session, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body:\n%s", res.StatusCode, body)
			}
			if got := rowIDs(body); !slices.Equal(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
			for _, s := range tt.texts {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
		})
	}
}

func TestInventoryCanonicalURL(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	tests := []struct{ name, target, want string }{
		{"empty fields dropped", "/inventory?q=&kind=&env=prod&status=&system=&team=&owner=", "/inventory?env=prod"},
		{"all empty", "/inventory?q=&kind=", "/inventory"},
		{"fixed order", "/inventory?owner=ada&q=pay", "/inventory?q=pay&owner=ada"},
		{"root with a query", "/?q=pay", "/inventory?q=pay"},
		{"spaces trimmed", "/inventory?q=+pay+", "/inventory?q=pay"},
		{"unknown parameters dropped", "/inventory?utm=x&kind=bot", "/inventory?kind=bot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _ := f.Do(t, http.MethodGet, tt.target, session, nil)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tt.want {
				t.Fatalf("status %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), tt.want)
			}
			if res, _ := f.Do(t, http.MethodGet, tt.want, session, nil); res.StatusCode != http.StatusOK {
				t.Errorf("the canonical URL answers %d, want 200", res.StatusCode)
			}
		})
	}
}

func TestInventoryBadFilters(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	tests := []struct{ name, query, want string }{
		{"unknown kind", "kind=robot", "kind &#34;robot&#34; is not known"},
		{"unknown environment", "env=qa", "environment &#34;qa&#34; is not known"},
		{"unknown status", "status=gone", "status &#34;gone&#34; is not known"},
		{"unknown system", "system=aws", "System: no system is named “aws”"},
		{"a system id is not a name", "system=1", "no system is named “1”"},
		{"unknown team", "team=payments", "Team: no team is named “payments”"},
		{"a negative team", "team=-4", "Team: no team is named “-4”"},
		{"a team id is not a name", "team=424242", "Team: no team is named “424242”"},
		{"unknown owner", "owner=ada%40elsewhere.test", "Owner: no person has the email, external id or name “ada@elsewhere.test”"},
		{"an owner id is not a name", "owner=2", "no person has the email, external id or name “2”"},
		{"owner zero", "owner=0", "Owner: no person has the email, external id or name “0”"},
		{"owner overflow", "owner=99999999999999999999", "Owner: no person has the email, external id or name “99999999999999999999”"},
		{"unknown order", "sort=size", "sort &#34;size&#34; is not known"},
		{"a cursor of another order", "sort=name&after=" + steward.Cursor(3), "cursor is not one Steward gave out for this order"},
		{"credential age not a number", "credential_older_than=old", "credential age &#34;old&#34; must be a whole number of days"},
		{"unused for too long", "unused_for=99999", "unused for &#34;99999&#34; must be a whole number of days from 1 to 36500"},
		{"never used and unused for", "unused_for=30&never_used=true", "exclude each other"},
		{"limit zero", "limit=0", "limit &#34;0&#34; must be a whole number from 1 to 1000"},
		{"limit too big", "limit=5000", "limit"},
		{"bad cursor", "after=bm9wZQ", "cursor is not one Steward gave out"},
		{"query with control character", "q=%01", "control character"},
		{"query too long", "q=" + strings.Repeat("a", 300), "query is 300 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, "/inventory?"+tt.query, session, nil)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body:\n%s", res.StatusCode, body)
			}
			if !strings.Contains(body, `id="filter-error"`) || !strings.Contains(body, tt.want) {
				t.Errorf("page should explain %q in the error message; body:\n%s", tt.want, body)
			}
			if !strings.Contains(body, `<form method="get" action="/inventory"`) {
				t.Error("the filter form should stay on the page so that the user can fix the value")
			}
		})
	}
}

func TestInventoryPaging(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	for _, limit := range []int{7, 20, 50, 1000} {
		t.Run("limit="+strconv.Itoa(limit), func(t *testing.T) {
			t.Parallel()
			var seen []string
			target := "/inventory?limit=" + strconv.Itoa(limit)
			for pages := 1; ; pages++ {
				res, body := f.Do(t, http.MethodGet, target, session, nil)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("page %d (%s): status %d", pages, target, res.StatusCode)
				}
				ids := rowIDs(body)
				if len(ids) > limit {
					t.Fatalf("page %d has %d rows, over the limit %d", pages, len(ids), limit)
				}
				seen = append(seen, ids...)
				if pages > 1 && !strings.Contains(body, `rel="first">First page</a>`) {
					t.Errorf("page %d has no First page link", pages)
				}
				if pages == 1 && strings.Contains(body, `>First page</a>`) {
					t.Error("the first page links to itself as First page")
				}
				next := nextLink(body)
				if next == "" {
					break
				}
				if !strings.Contains(next, "limit="+strconv.Itoa(limit)) || !strings.Contains(next, "after=") {
					t.Errorf("next link %q should keep the limit and carry a cursor", next)
				}
				target = next
				if pages > f.Total {
					t.Fatal("paging does not end")
				}
			}
			if len(seen) != f.Total {
				t.Errorf("paging saw %d identities, want %d", len(seen), f.Total)
			}
			if !slices.IsSortedFunc(seen, func(a, b string) int {
				x, _ := strconv.Atoi(a)
				y, _ := strconv.Atoi(b)
				return x - y
			}) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
				t.Errorf("pages repeat or reorder identities: %v", seen)
			}
		})
	}

	t.Run("filters survive paging", func(t *testing.T) {
		t.Parallel()
		_, body := f.Do(t, http.MethodGet, "/inventory?env=staging&owner=ada&limit=10", session, nil)
		next := nextLink(body)
		if !strings.HasPrefix(next, "/inventory?env=staging&owner=ada&limit=10&after=") {
			t.Fatalf("next link = %q, want the same filters and a cursor", next)
		}
		_, body = f.Do(t, http.MethodGet, next, session, nil)
		if !strings.Contains(body, `href="/inventory?env=staging&amp;owner=ada&amp;limit=10" rel="first"`) {
			t.Errorf("the First page link should drop only the cursor; body:\n%s", body)
		}
	})
}

func TestIdentityPage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)

	t.Run("owned identity", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodGet, "/identities/1", session, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d; body:\n%s", res.StatusCode, body)
		}
		for _, want := range []string{
			"<h1>payments-api-deployer</h1>",
			"arn:aws:iam::123456789012:user/payments-api-deployer",
			"service account", "aws-prod-payments", "prod", "high",
			`<a href="/people/1">Ada Lovelace</a>`, "ada@example.test",
			`<a href="/teams/payments-platform">payments-platform</a>`,
			`<dt>System</dt><dd><a href="/systems/aws-prod-payments">aws-prod-payments</a></dd>`,
			"managed-by", "terraform",
			// the 400-day-old access key is highlighted; the new token is not
			`<tr class="row-stale">`, ">1 year 1 month <span class=\"badge badge-warn\">over a year</span>", "<td>30 days</td>",
			"abababababababab…", "in 60 days",
			// both grants, the admin one marked privileged
			`AdministratorAccess <span class="badge badge-bad">privileged</span>`,
			"ReadOnlyAccess", "jit", "standing", "request:42", "in 1 hour",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("identity page lacks %q", want)
			}
		}
		if strings.Count(body, `class="row-stale"`) != 1 {
			t.Errorf("exactly one credential (over 365 days) should be highlighted")
		}
		if strings.Count(body, "privileged</span>") != 1 {
			t.Errorf("exactly one grant is privileged")
		}
	})

	t.Run("departed owner", func(t *testing.T) {
		t.Parallel()
		_, body := f.Do(t, http.MethodGet, "/identities/2", session, nil)
		for _, want := range []string{"Charles Babbage", "owner departed", "1 year 1 month ago", "no credentials"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})

	t.Run("unowned", func(t *testing.T) {
		t.Parallel()
		_, body := f.Do(t, http.MethodGet, "/identities/3", session, nil)
		for _, want := range []string{"unowned", "No person is accountable", "holds no grants", "never"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})

	t.Run("unknown times and a disabled key", func(t *testing.T) {
		t.Parallel()
		_, body := f.Do(t, http.MethodGet, "/identities/3", session, nil)
		if !strings.Contains(body, `<dt>Created</dt><dd><span class="muted">unknown</span>`) {
			t.Errorf("an identity whose system gives no creation time: the page does not say unknown:\n%s", body)
		}
		_, body = f.Do(t, http.MethodGet, "/identities/4", session, nil)
		for _, want := range []string{`<span class="status status-disabled">disabled</span>`, `<td><span class="muted">unknown</span></td>`} {
			if !strings.Contains(body, want) {
				t.Errorf("the disabled key of unknown age: page lacks %q", want)
			}
		}
		if strings.Contains(body, "row-stale") {
			t.Errorf("a disabled key of unknown age is highlighted as stale")
		}
	})

	tests := []struct {
		name, path string
		want       int
		text       string
	}{
		{"unknown id", "/identities/9999", http.StatusNotFound, "There is no identity 9999"},
		{"not a number", "/identities/abc", http.StatusBadRequest, "is not an identity id"},
		{"zero", "/identities/0", http.StatusBadRequest, "is not an identity id"},
		{"negative", "/identities/-1", http.StatusBadRequest, "is not an identity id"},
		{"overflow", "/identities/99999999999999999999", http.StatusBadRequest, "is not an identity id"},
		{"bad grants cursor", "/identities/1?grants_after=zzz", http.StatusBadRequest, "cursor"},
		{"no such page", "/identities/1/more", http.StatusNotFound, "Page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, tt.path, session, nil)
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body:\n%s", res.StatusCode, tt.want, body)
			}
			if !strings.Contains(body, tt.text) {
				t.Errorf("page lacks %q; body:\n%s", tt.text, body)
			}
			if !strings.Contains(body, `aria-label="Sections"`) {
				t.Error("error pages keep the navigation for a signed-in user")
			}
		})
	}
}

// TestIdentityPageLinks: a Kubernetes service account that assumes the
// deployer (as IRSA names a role) shows the link on both pages, each
// linking to the other; a link whose target no system holds says so.
func TestIdentityPageLinks(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	ctx := steward.WithActor(context.Background(), "system:test")
	sys := &steward.System{Name: "k8s-prod", Kind: steward.SystemKubernetes}
	if err := f.Store.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	sa := &steward.SourceIdentity{ExternalID: "system:serviceaccount:payments:api", Name: "payments/api", Kind: steward.KindServiceAccount,
		Links: []steward.SourceLink{{Kind: steward.LinkAssumes, To: "arn:aws:iam::123456789012:user/payments-api-deployer"},
			{Kind: steward.LinkAssumes, To: "arn:aws:iam::123456789012:role/nowhere"}}}
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) { yield(steward.Record{Identity: sa, Pos: "t:1"}, nil) }
	})
	if _, err := f.Store.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	page, err := f.Store.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("the service account: %v, %v", page, err)
	}
	saID := page.Items[0].ID
	_, body := f.Do(t, http.MethodGet, fmt.Sprint("/identities/", saID), session, nil)
	for _, want := range []string{`<a href="/identities/1">payments-api-deployer</a>`, "aws-prod-payments",
		"<code>arn:aws:iam::123456789012:role/nowhere</code> <span class=\"badge\">pending</span>", "not in any system Steward knows yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("the service account's page lacks %q", want)
		}
	}
	_, body = f.Do(t, http.MethodGet, "/identities/1", session, nil)
	for _, want := range []string{"assumes this", fmt.Sprintf(`<a href="/identities/%d">payments/api</a>`, saID), "k8s-prod"} {
		if !strings.Contains(body, want) {
			t.Errorf("the deployer's page lacks %q", want)
		}
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	res, body := f.Do(t, http.MethodGet, "/", session, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", res.StatusCode)
	}
	for _, want := range []string{
		`<a class="skip" href="#main">Skip to main content</a>`,
		`<main id="main"`,
		`<a href="/inventory" aria-current="page">Inventory</a>`,
		`<a href="/dashboard">Dashboard <span class="soon">coming</span></a>`,
		`<a href="/audit">Audit</a>`, `<a href="/reviews">Reviews <span class="soon">coming</span></a>`,
		`<form method="post" action="/signout">`,
		`<label for="f-q">`, `<label for="f-kind">`, `<label for="f-env">`, `<label for="f-status">`,
		`<label for="f-system">`, `<label for="f-team">`, `<label for="f-owner">`,
		`<a href="/people">People</a>`, `<a href="/teams">Teams</a>`,
		`<script src="/static/picker.js?v=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		if res.Header.Get(h) == "" {
			t.Errorf("header %s is missing", h)
		}
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}

	t.Run("coming section", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodGet, "/reviews", session, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "not yet built") ||
			!strings.Contains(body, `aria-current="page">Reviews`) {
			t.Errorf("status %d; body:\n%s", res.StatusCode, body)
		}
	})

	t.Run("stylesheet without session", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodGet, "/static/style.css", "", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") ||
			!strings.Contains(body, ":focus-visible") {
			t.Errorf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})

	t.Run("favicon without session", func(t *testing.T) {
		t.Parallel()
		res, _ := f.Do(t, http.MethodGet, "/favicon.ico", "", nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
}

// TestTimeText: pages write moments with the root package's rules (ages in
// days up to 90 days, then years and months) and the exact time in UTC with
// its zone.
func TestTimeText(t *testing.T) {
	t.Parallel()
	s := &server{clock: steward.FixedClock{T: now}}
	day := 24 * time.Hour
	tests := []struct {
		at        *time.Time
		rel, full string
	}{
		{nil, "never", ""},
		{ptr(now.Add(-30 * time.Second)), "just now", "2026-06-01 11:59 UTC"},
		{ptr(now.Add(-3 * day)), "3 days ago", "2026-05-29 12:00 UTC"},
		{ptr(now.Add(-412*day - 5*time.Hour)), "1 year 1 month ago", "2025-04-15 07:00 UTC"},
		{ptr(now.Add(60 * day)), "in 60 days", "2026-07-31 12:00 UTC"},
		{ptr(time.Date(2026, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))), "just now", "2026-06-01 12:00 UTC"},
	}
	for _, tt := range tests {
		got := s.timeText(tt.at, "never")
		if got.Rel != tt.rel || got.Exact != tt.full {
			t.Errorf("timeText(%v) = %q, %q; want %q, %q", tt.at, got.Rel, got.Exact, tt.rel, tt.full)
		}
	}
}

// TestErrorPageStatus holds the web UI's pages to the domain's one error
// table.
func TestErrorPageStatus(t *testing.T) {
	t.Parallel()
	for _, c := range steward.ErrorTable {
		if got := errorStatus(steward.Errorf(c.Code, "x")); got != c.HTTPStatus {
			t.Errorf("%s: page status %d, want %d", c.Code, got, c.HTTPStatus)
		}
	}
	if got := errorStatus(errors.New("disk on fire")); got != 500 {
		t.Errorf("an internal error shows %d, want 500", got)
	}
}
