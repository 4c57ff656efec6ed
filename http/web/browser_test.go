package web

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stewardhq/steward/internal/testenv"
)

// chromiumPath is where Debian's chromium package installs the browser;
// .ci/run installs it there.
const chromiumPath = "/usr/bin/chromium"

// screenshotDirEnv names a directory to keep the screenshots in, for
// a person to look at; by default it goes to the test's temp dir and is
// deleted with it.
const screenshotDirEnv = "STEWARD_SCREENSHOT_DIR"

// TestBrowserJourney walks the UI in a real headless Chromium the way a
// person does: sign in by pasting a token, search the inventory for an
// identity, open it, read its owner and grants, then close the oldest
// ownership gap with one click.
func TestBrowserJourney(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustFixture(t)
	ts := httptest.NewServer(f.Handler)
	defer ts.Close()

	ctx := newBrowser(t)
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
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
	// submit clicks sel and waits for the page it leads to, so that the next
	// query cannot read the old page.
	submit := func(step, sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	// Without a session the inventory sends the browser to the sign-in form.
	do("open inventory", chromedp.Navigate(ts.URL+"/inventory"), chromedp.WaitVisible(chromedp.ID("token")))
	if got := location(); !strings.HasPrefix(got, "/signin?next=") {
		t.Fatalf("without a session the browser is at %q, want the sign-in page", got)
	}

	// A wrong token shows the form again with the reason.
	do("type a wrong token", chromedp.SendKeys(chromedp.ID("token"), "stw_"+strings.Repeat("x", 43)))
	submit("submit the wrong token", `form[action="/signin"] button[type=submit]`)
	if got := text("#signin-error"); !strings.Contains(got, "not valid") {
		t.Errorf("wrong token message = %q", got)
	}

	// The right token, typed, leads back to the inventory.
	do("type the token", chromedp.SendKeys(chromedp.ID("token"), f.Token))
	submit("sign in", `form[action="/signin"] button[type=submit]`)
	do("wait for the inventory", chromedp.WaitVisible(chromedp.ID("identities")))
	if got := location(); got != "/inventory" {
		t.Errorf("after sign-in the browser is at %q, want /inventory", got)
	}
	if got := text("header .who"); !strings.Contains(got, "alice") || !strings.Contains(got, "admin") {
		t.Errorf("header = %q, want the token's name and role", got)
	}
	// The session cookie is invisible to scripts (HttpOnly).
	if cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || strings.Contains(cookies, SessionCookie) {
		t.Errorf("document.cookie = %q (err %v); the session cookie must be HttpOnly", cookies, err)
	}
	shot(t, ctx, "inventory.png")

	// Search by name, then open the one result.
	do("search", chromedp.SendKeys(chromedp.ID("f-q"), "payments-api-deployer"))
	submit("apply the search", `.filters button[type=submit]`)
	if got := location(); got != "/inventory?q=payments-api-deployer" {
		t.Errorf("search URL = %q; every view must be linkable", got)
	}
	rows, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#identities tbody tr")))
	if err != nil || len(rows) != 1 {
		t.Fatalf("search shows %d rows (err %v), want 1", len(rows), err)
	}
	submit("open the identity", `#identities a[href="/identities/1"]`)

	if got := text("h1"); got != "payments-api-deployer" {
		t.Errorf("identity page heading = %q", got)
	}
	if got := text("#owner"); !strings.Contains(got, "Ada Lovelace") || !strings.Contains(got, "active") {
		t.Errorf("owner = %q, want Ada Lovelace, active", got)
	}
	if got := text("#grants"); !strings.Contains(got, "AdministratorAccess") || !strings.Contains(got, "privileged") {
		t.Errorf("grants = %q, want AdministratorAccess marked privileged", got)
	}
	if got := text("#credentials"); !strings.Contains(got, "over a year") {
		t.Errorf("credentials = %q, want the 400-day-old key flagged", got)
	}

	// The ownership page lists the oldest gap first, ledger's unowned
	// export bot, with its team's manager as the one-click owner.
	submit("open ownership", `nav.side a[href="/ownership"]`)
	if got := location(); got != "/ownership" {
		t.Errorf("ownership is at %q", got)
	}
	if got := text("#team-ledger"); !strings.Contains(got, "ledger-export-bot") || !strings.Contains(got, "Assign to Ada Lovelace") {
		t.Fatalf("ledger group = %q, want ledger-export-bot with a one-click assign", got)
	}
	shot(t, ctx, "ownership.png")
	submit("assign to Ada", `#team-ledger form.assign button[type=submit]`)
	if got := location(); got != "/ownership" {
		t.Errorf("after assigning the browser is at %q, want the same ownership view", got)
	}
	if got := text("#flash"); !strings.Contains(got, "Assigned ledger-export-bot to Ada Lovelace") {
		t.Errorf("flash = %q", got)
	}
	gone, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#team-ledger') === null && !document.querySelector('#gaps').innerText.includes('ledger-export-bot')`))
	if err != nil || !gone {
		t.Errorf("ledger-export-bot is still listed (err %v)", err)
	}

	// Signing out ends the session: the inventory asks for sign-in again.
	submit("sign out", `form[action="/signout"] button`)
	do("reopen inventory", chromedp.Navigate(ts.URL+"/inventory"), chromedp.WaitVisible(chromedp.ID("token")))
}

// newBrowser starts a headless Chromium with its own profile directory and
// returns a tab context that ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return newBrowserSized(t, 1366, 900)
}

// newBrowserSized is newBrowser with a window of width × height pixels and
// any more options of the browser.
func newBrowserSized(t *testing.T, width, height int, more ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	dir, err := os.MkdirTemp("", "steward-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write to the profile for a moment
		// after the browser stops, so removal is retried.
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		// The test machine has no internet; background requests would only
		// fail and slow the browser down.
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(width, height),
	)
	opts = append(opts, more...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	return tabCtx
}

// shot saves a screenshot of the current page, checks it is a PNG image,
// and logs where it is.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Errorf("screenshot is not a plausible PNG (%d bytes)", len(png))
	}
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

// TestBrowserAudit walks the Audit page in a real headless Chromium: a
// change made in the UI appears at the top of the log, the identity's
// History link narrows the log to it (named, never numbered) and the form
// narrows it further, a team is typed by name, a bad filter says why, and
// an event's link opens the identity it is about.
func TestBrowserAudit(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustFixture(t)
	ts := httptest.NewServer(f.Handler)
	defer ts.Close()
	ctx := newBrowser(t)
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
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
	submit := func(step, sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	run("open sign-in", chromedp.Navigate(ts.URL+"/audit"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), f.Token))
	submit("sign in", `form[action="/signin"] button[type=submit]`)
	run("wait for the audit log", chromedp.WaitVisible(chromedp.ID("events")))
	if got := location(); got != "/audit" {
		t.Fatalf("after sign-in the browser is at %q, want /audit", got)
	}
	// The newest event is the sign-in itself, by the token, on the token.
	if got := text("#events tbody tr:first-child"); !strings.Contains(got, "session.created") || !strings.Contains(got, "token:alice") {
		t.Errorf("newest event = %q, want the sign-in", got)
	}

	// Assign ledger-export-bot's owner on its page; the log shows why.
	run("open the identity", chromedp.Navigate(ts.URL+"/identities/4"), chromedp.WaitVisible(chromedp.ID("owner-form")))
	run("name the owner", chromedp.SetValue(chromedp.ID("owner-name"), "grace@example.test"))
	run("empty the team", chromedp.Clear(chromedp.ID("team-name")))
	submit("set the owner", `#owner-form button[type=submit]`)
	if got := text("#owner-source"); got != "owner: set by hand; team: the owner's team" {
		t.Errorf("why this owner = %q", got)
	}
	submit("open audit", `nav.side a[href="/audit"]`)
	if got := text("#events tbody tr:first-child"); !strings.Contains(got, "task.closed") {
		t.Errorf("newest event = %q, want the gap closing", got)
	}
	if got := text("#events tbody tr:nth-child(2)"); !strings.Contains(got, "identity.owner_changed") ||
		!strings.Contains(got, "identity ledger-export-bot") || !strings.Contains(got, "owner Grace Hopper, team ledger") {
		t.Errorf("second event = %q, want the owner change in words", got)
	}

	// One identity's history comes from its page's History link, shown by
	// name; the form narrows it to owner changes and keeps the identity.
	run("open the identity again", chromedp.Navigate(ts.URL+"/identities/4"), chromedp.WaitVisible(chromedp.ID("history")))
	submit("follow its history", `#history`)
	if got := text("#object-chip"); !strings.HasPrefix(got, "History of identity ledger-export-bot on gcp-analytics") {
		t.Errorf("object chip = %q", got)
	}
	run("choose the filters", chromedp.SetValue(chromedp.ID("f-action"), "identity.owner_changed"),
		chromedp.SendKeys(chromedp.ID("f-since"), "7d"))
	submit("apply the filters", `.filters button[type=submit]`)
	if got := location(); got != "/audit?action=identity.owner_changed&since=7d&object=identity&object_id=4" {
		t.Errorf("filtered URL = %q; every view must be linkable", got)
	}
	rows, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#events tbody tr")))
	if err != nil || len(rows) != 1 {
		t.Fatalf("the filter shows %d rows (err %v), want the one owner change", len(rows), err)
	}
	shot(t, ctx, "audit.png")

	// The chip's Clear drops the object and keeps the rest; then a team is
	// typed by name, with the type-ahead of the kind chosen.
	submit("clear the object", `#clear-object`)
	if got := location(); got != "/audit?action=identity.owner_changed&since=7d" {
		t.Errorf("after Clear the browser is at %q", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const kind = document.getElementById("f-object");
		kind.value = "team";
		kind.dispatchEvent(new Event("change"));
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	run("type part of the team's name", chromedp.Focus(chromedp.ID("f-name")), chromedp.SendKeys(chromedp.ID("f-name"), "led"),
		chromedp.WaitReady(chromedp.CSS(`#f-name-list option[value="ledger"]`)))
	run("choose the team", chromedp.SetValue(chromedp.ID("f-name"), "ledger"))
	submit("apply the name", `.filters button[type=submit]`)
	if got := location(); got != "/audit?action=identity.owner_changed&since=7d&object=team&object_id=3" {
		t.Errorf("the typed team leads to %q", got)
	}
	if got := text("#object-chip"); !strings.HasPrefix(got, "History of team ledger") {
		t.Errorf("object chip = %q", got)
	}
	run("back to the owner change", chromedp.Navigate(ts.URL+"/audit?action=identity.owner_changed&object=identity&object_id=4"),
		chromedp.WaitVisible(chromedp.ID("events")))

	// The event links to its object.
	submit("open the event's object", `#events tbody a[href="/identities/4"]`)
	if got := text("h1"); got != "ledger-export-bot" {
		t.Errorf("the event's link opens %q", got)
	}

	// A filter that cannot be read says why, beside the form.
	run("bad since", chromedp.Navigate(ts.URL+"/audit?since=last+tuesday"), chromedp.WaitVisible(chromedp.ID("filter-error")))
	if got := text("#filter-error"); !strings.Contains(got, "not a time") {
		t.Errorf("filter error = %q", got)
	}
}

// TestTablesFitALaptop opens every page of a demo organisation in Chromium
// at 1366×768, a common laptop screen, and checks that no table is wider
// than its box: nothing is cut off or needs a sideways scroll. The demo's
// names are the real test: long service-account and secret names.
func TestTablesFitALaptop(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustDemoFixture(t)
	ts := httptest.NewServer(f.Handler)
	defer ts.Close()
	ctx := newBrowserSized(t, 1366, 768)
	signIn(t, ctx, ts.URL, f.Token)

	for _, p := range f.Pages(t) {
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Navigate(ts.URL+p))); err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		over, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
			const out = [];
			const doc = document.documentElement;
			if (doc.scrollWidth > doc.clientWidth) out.push("page " + doc.scrollWidth + " > " + doc.clientWidth);
			document.querySelectorAll(".table-wrap").forEach((w, i) => {
				if (w.scrollWidth > w.clientWidth) out.push((w.querySelector("table") || {}).id + "#" + i + " " + w.scrollWidth + " > " + w.clientWidth);
			});
			return out;
		})()`))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(over) > 0 {
			t.Errorf("%s overflows at 1366 px: %v", p, over)
		}
		shot(t, ctx, "fit"+strings.NewReplacer("/", "_", "?", "_", "=", "_", "&", "_", "%", "_").Replace(p)+".png")
	}
}

// signIn pastes token into the sign-in form and waits for the page after it.
func signIn(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// TestBrowserFindByName walks the by-name journeys in Chromium: find a
// person by typing part of a name and choosing from the type-ahead, see
// what they own and its gaps, open their team and see its open gaps, then
// hand an identity to someone found by name in the owner field.
func TestBrowserFindByName(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustFixture(t)
	ts := httptest.NewServer(f.Handler)
	defer ts.Close()
	ctx := newBrowser(t)
	signIn(t, ctx, ts.URL, f.Token)

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
	load := func(step string, action chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, action)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// typeAhead types into the field and waits until the server's
	// suggestions fill its list with one whose value is want; it returns
	// the labels offered.
	typeAhead := func(field, typed, want string) string {
		t.Helper()
		list := `#` + field + `-list option[value="` + want + `"]`
		if field == "owner-name" {
			list = `#owner-list option[value="` + want + `"]`
		}
		// picker.js marks the field once the server's answer is in its
		// list: what is listed then came from the server, not the page.
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID(field)), chromedp.SendKeys(chromedp.ID(field), typed),
			chromedp.WaitReady(chromedp.CSS(`#`+field+`[data-suggested]`)), chromedp.WaitReady(chromedp.CSS(list))); err != nil {
			t.Fatalf("type %q in #%s and wait for %s: %v", typed, field, want, err)
		}
		labels, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelector("#`+field+`").list.options].map(o => o.value + " " + o.label).join("; ")`))
		if err != nil {
			t.Fatal(err)
		}
		return labels
	}
	// choose does what choosing an option of a datalist does: the field
	// takes the option's value. (Headless Chromium draws no popup to
	// click.)
	choose := func(field, value string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID(field), value)); err != nil {
			t.Fatalf("choose %s in #%s: %v", value, field, err)
		}
	}

	// People, from the navigation; "lov" finds Ada Lovelace.
	load("open people", chromedp.Click(chromedp.CSS(`nav.side a[href="/people"]`)))
	if got := typeAhead("f-q", "lov", "ada@example.test"); !strings.Contains(got, "Ada Lovelace · payments-platform") {
		t.Errorf("suggestions for lov = %q", got)
	}
	choose("f-q", "ada@example.test")
	load("find Ada", chromedp.Submit(chromedp.ID("f-q")))
	if got := location(); got != "/people/1" {
		t.Fatalf("choosing Ada leads to %q, want her page", got)
	}
	shot(t, ctx, "person.png")

	// What she owns, and the gap among it: the fillers' team has nobody.
	if got := text("#owns"); !strings.Contains(got, "payments-api-deployer") || !strings.Contains(got, "batch-worker-001") || !strings.Contains(got, "team inactive") {
		t.Errorf("what Ada owns = %q", got)
	}
	if got := text("#owns-section p.help"); !strings.Contains(got, "Open gaps among them: team inactive") {
		t.Errorf("owns summary = %q", got)
	}

	// Her team, and its open gap: the departed Charles's key, one click
	// from going to her.
	load("open her team", chromedp.Click(chromedp.CSS(`#who a[href="/teams/payments-platform"]`)))
	if got := location(); got != "/teams/payments-platform" {
		t.Fatalf("team link leads to %q", got)
	}
	if got := text("#team-gaps"); !strings.Contains(got, "legacy-batch-key") || !strings.Contains(got, "owner departed") || !strings.Contains(got, "Assign to Ada Lovelace") {
		t.Errorf("team gaps = %q", got)
	}
	shot(t, ctx, "team.png")
	load("all the team's gaps", chromedp.Click(chromedp.ID("all-gaps")))
	if got := location(); got != "/ownership?team=payments-platform" {
		t.Errorf("all gaps lead to %q", got)
	}
	if got := text("#gaps"); !strings.Contains(got, "legacy-batch-key") {
		t.Errorf("ownership by team = %q", got)
	}

	// Hand ledger's unowned bot to Grace, found by typing in the owner
	// field.
	load("open the bot", chromedp.Navigate(ts.URL+"/identities/4"))
	if got := typeAhead("owner-name", "hop", "grace@example.test"); !strings.Contains(got, "Grace Hopper · ledger") {
		t.Errorf("owner suggestions for hop = %q", got)
	}
	choose("owner-name", "grace@example.test")
	load("set the owner", chromedp.Click(chromedp.CSS(`#owner-form button[type=submit]`)))
	if got := text("#flash"); !strings.Contains(got, "Assigned ledger-export-bot to Grace Hopper, team ledger.") {
		t.Errorf("flash = %q", got)
	}
	if got := text("#owner"); !strings.Contains(got, "Grace Hopper") {
		t.Errorf("owner = %q", got)
	}
}
