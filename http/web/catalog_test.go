package web

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/policy"
)

// TestBrowserCatalog: a signed-in person opens the published catalog from
// the navigation and reads each model's tier, who may request it, how it is
// approved and its service levels, the tiers, the boundaries and the
// roles; before any catalog is applied the page says so.
func TestBrowserCatalog(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(chromiumPath)
	testenv.Require(t, "chromium", err == nil, chromiumPath+" not found: apt-get install chromium")

	f := MustDemoFixture(t)
	ts := httptest.NewServer(f.Handler)
	defer ts.Close()
	ctx := newBrowserSized(t, 1366, 768)
	signIn(t, ctx, ts.URL, f.Token)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	open := func() {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`nav.side a[href="/catalog"]`)))); err != nil {
			t.Fatalf("open the catalog: %v", err)
		}
	}
	open()
	if got := text("#no-catalog"); !strings.Contains(got, "No service catalog has been published yet") {
		t.Errorf("before any catalog: %q", got)
	}

	src, err := os.ReadFile("../../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, ds := policy.Compile(src)
	if err := ds.Err("catalog.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Store.ApplyCatalog(steward.WithActor(context.Background(), "system:test"), src, c.Catalog); err != nil {
		t.Fatal(err)
	}
	open()
	row := text("#model-pg-prod-elevation")
	for _, want := range []string{"pg-prod-elevation", "jit, privileged", "2 approvals: resource-owner, then security", "decision 4h; fulfilment 15m", "for 1h (at most 4h); ticket"} {
		if !strings.Contains(row, want) {
			t.Errorf("pg-prod-elevation row lacks %q: %q", want, row)
		}
	}
	if got := text("#model-read-only-access"); !strings.Contains(got, "Automatic when policy permits") || !strings.Contains(got, "not privileged; sensitivity low or below") {
		t.Errorf("read-only-access row: %q", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Click(chromedp.CSS(`#model-pg-prod-elevation summary`))); err != nil {
		t.Fatal(err)
	}
	if got := text("#model-pg-prod-elevation pre.policy"); !strings.Contains(got, `principal in Team::"database-reliability"`) {
		t.Errorf("policy shown: %q", got)
	}
	if got := text("#tier-privileged"); !strings.Contains(got, "4h") {
		t.Errorf("privileged tier: %q", got)
	}
	if got := text("#boundaries"); !strings.Contains(got, "no-standing-superuser") || !strings.Contains(got, "Instead: Request time-bound elevation") {
		t.Errorf("boundaries: %q", got)
	}
	if got := text("#roles"); !strings.Contains(got, "payments-developer") || !strings.Contains(got, "pg-payments-prod / app_ro") {
		t.Errorf("roles: %q", got)
	}
	over, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		document.querySelectorAll(".table-wrap").forEach((w, i) => {
			if (w.scrollWidth > w.clientWidth) out.push((w.querySelector("table") || {}).id + " " + w.scrollWidth + " > " + w.clientWidth);
		});
		return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(over) > 0 {
		t.Errorf("the catalog overflows at 1366 px: %v", over)
	}
	shot(t, ctx, "catalog.png")
}
