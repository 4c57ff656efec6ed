package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/internal/testenv"
)

// TestBrowserSecureCookie signs in, in real Chromium, to the whole server
// (the API server with the UI inside it) over HTTPS at its public URL, and
// reads the session cookie as the browser stored it: Secure, HttpOnly and
// SameSite=Strict, with no --cookie-secure. Before the public URL decided
// it, the browser stored the cookie without Secure.
func TestBrowserSecureCookie(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustFixture(t)
	srv := &stewardhttp.Server{Store: f.Store, UI: f.Handler}
	// The public URL is the test server's, known once it listens; the
	// handler is built at the first request, after that.
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Handler().ServeHTTP(w, r)
	}))
	ts.StartTLS()
	defer ts.Close()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv.Edge.PublicURL = u

	// The test server's certificate is its own; Chromium is told to accept
	// it rather than to trust a new CA on the machine.
	ctx := newBrowserSized(t, 1366, 900, chromedp.Flag("ignore-certificate-errors", true))
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), f.Token)); err != nil {
		t.Fatalf("open sign-in: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("identities"))); err != nil {
		t.Fatalf("after sign-in: %v", err)
	}
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{ts.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range res.Cookies {
		if c.Name == SessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("Chromium stored no %s cookie: %+v", SessionCookie, res.Cookies)
	}
	if !session.Secure || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Errorf("session cookie Secure=%v HttpOnly=%v SameSite=%q; want Secure, HttpOnly, Strict", session.Secure, session.HTTPOnly, session.SameSite)
	}
}
