package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"iter"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
)

// TestBrowserSortsAndExports walks the inventory in a real headless
// Chromium: sort by credential age with the column's header, oldest first
// and then newest first, narrow to credentials older than a year, read the
// total, and export that list as CSV through the page's link.
func TestBrowserSortsAndExports(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustFixture(t)
	// Two more identities with credentials, one older and one younger than
	// the deployer's 400-day-old key.
	ctx0 := steward.WithActor(context.Background(), "system:test")
	for _, c := range []steward.Credential{
		{IdentityID: 110, Kind: steward.CredToken, CreatedAt: daysAgo(800)}, // batch-worker-010
		{IdentityID: 120, Kind: steward.CredToken, CreatedAt: daysAgo(100)}, // batch-worker-020
	} {
		if err := f.Store.CreateCredential(ctx0, &c); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(f.Handler)
	defer ts.Close()
	ctx := newBrowser(t)
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	submit := func(step, sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		u, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("location: %v", err)
		}
		return strings.TrimPrefix(u, ts.URL)
	}
	names := func() []string {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#identities tbody tr td:first-child a')].map(a => a.textContent)`))
		if err != nil {
			t.Fatalf("names: %v", err)
		}
		return n
	}

	do("open sign-in", chromedp.Navigate(ts.URL+"/inventory"), chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), f.Token))
	submit("sign in", `form[action="/signin"] button[type=submit]`)
	do("wait for the inventory", chromedp.WaitVisible(chromedp.ID("identities")))
	if got, want := text("#total"), steward.GroupThousands(int64(f.Total))+" identities match"; got != want {
		t.Errorf("total = %q, want %q", got, want)
	}

	// The credential age header sorts oldest first; a second click newest
	// first. Identities without a credential follow, in either order.
	submit("sort by credential age", "#sort-credential-age")
	if got := location(); got != "/inventory?sort=credential_age" {
		t.Errorf("sorted URL = %q", got)
	}
	if got := names(); len(got) < 4 || !slices.Equal(got[:4], []string{"batch-worker-010", "payments-api-deployer", "batch-worker-020", "legacy-batch-key"}) {
		t.Errorf("oldest credential first: %v", got[:min(len(got), 6)])
	}
	if got := text("#identities caption"); !strings.Contains(got, "credential age, oldest first") {
		t.Errorf("caption = %q", got)
	}
	if got := text("#identities tbody tr:first-child .cred-age"); !strings.Contains(got, "2 years 2 months") || !strings.Contains(got, "over a year") {
		t.Errorf("the oldest credential's age = %q", got)
	}
	shot(t, ctx, "inventory-credential-age.png")
	submit("reverse the order", "#sort-credential-age")
	// The rest, without a credential, follow in id order, newest first too.
	if got := names(); len(got) < 4 || !slices.Equal(got[:4], []string{"batch-worker-020", "payments-api-deployer", "batch-worker-010", "batch-worker-056"}) {
		t.Errorf("newest credential first: %v", got[:min(len(got), 6)])
	}
	if got := location(); got != "/inventory?sort=-credential_age" {
		t.Errorf("reversed URL = %q", got)
	}

	// Only credentials older than a year, still newest first.
	do("type the age", chromedp.SendKeys(chromedp.ID("f-cred"), "365"))
	submit("apply", `.filters button[type=submit]`)
	if got := location(); got != "/inventory?credential_older_than=365&sort=-credential_age" {
		t.Errorf("filtered URL = %q", got)
	}
	if got := names(); !slices.Equal(got, []string{"payments-api-deployer", "batch-worker-010"}) {
		t.Errorf("credentials older than a year: %v", got)
	}
	if got := text("#total"); got != "2 identities match" {
		t.Errorf("total = %q", got)
	}

	// The export link keeps the filters and the order, and the file has
	// every row of the list.
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#export-csv').getAttribute('href')`))
	if err != nil || href != "/inventory.csv?credential_older_than=365&sort=-credential_age" {
		t.Fatalf("export link = %q (err %v)", href, err)
	}
	// The page's policy lets no script fetch; the browser downloads the
	// file as a person's click does.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true)}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	events, stop := iter.Pull2(chromedp.BrowserEvents(ctx, browser.DownloadProgress))
	defer stop()
	do("click export", chromedp.Click(chromedp.ID("export-csv")))
	var file string
	for file == "" {
		ev, err, ok := events()
		if !ok || err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			file = filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			t.Fatal("the download was cancelled")
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	csvText := string(b)
	rows, err := csv.NewReader(bytes.NewReader([]byte(csvText))).ReadAll()
	if err != nil || len(rows) != 3 || !slices.Equal(rows[0], steward.IdentityCSVHeader) || rows[1][1] != "payments-api-deployer" || rows[2][1] != "batch-worker-010" {
		t.Fatalf("export = %v (err %v)", rows, err)
	}
}
