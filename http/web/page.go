package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// navSection is one entry of the left navigation.
type navSection struct {
	Label string
	Path  string
	Live  bool // built; the others show a "coming" tag and a placeholder page
}

// navSections is the navigation in the order DESIGN.md lists it. Sections
// link to their future paths now, so that bookmarks made today keep working.
var navSections = []navSection{
	{"Dashboard", "/dashboard", false},
	{"Inventory", "/inventory", true},
	{"Ownership", "/ownership", true},
	{"People", "/people", true},
	{"Teams", "/teams", true},
	{"Catalog", "/catalog", true},
	{"Request access", "/requests/new", true},
	{"Inbox", "/requests/inbox", true},
	{"My requests", "/requests", true},
	{"Notices", "/notices", true},
	{"Exceptions", "/exceptions", false},
	{"Reviews", "/reviews", false},
	{"Backlog", "/backlog", false},
	{"Audit", "/audit", true},
}

// navItem is a navSection as one page shows it.
type navItem struct {
	navSection
	Active bool
}

// pageBase is what the layout needs from every page.
type pageBase struct {
	Title string
	// Principal is who is signed in, nil for nobody.
	Principal *steward.Principal
	// ViaToken names the API token a session was started with, "" for a
	// sign-in through the OpenID provider.
	ViaToken string
	Admin    bool // the principal may change the inventory (steward.PermInventoryWrite)
	Reader   bool // may read the administration pages (API tokens): steward.PermEvidenceRead
	Nav      []navItem
	CSSURL   string
	JSURL    string
	Flash    string // what the last form did, shown once after its redirect
}

// base returns the layout data for a page; active is the path of the
// navigation entry to highlight.
func (s *server) base(r *http.Request, title, active string) pageBase {
	b := pageBase{Title: title, CSSURL: "/static/style.css?v=" + s.assetVersion,
		JSURL: "/static/picker.js?v=" + s.assetVersion, Flash: readFlash(r)}
	if p, ok := steward.PrincipalFrom(r.Context()); ok {
		b.Principal = &p
		if name, ok := strings.CutPrefix(p.Via, "token:"); ok {
			b.ViaToken = name
		}
		b.Admin = may(r.Context(), steward.PermInventoryWrite)
		b.Reader = may(r.Context(), steward.PermEvidenceRead)
	}
	for _, n := range navSections {
		if evidencePages[n.Path] && !b.Reader {
			continue // guarded: a member would find a 403 there
		}
		if n.Path == "/notices" && !may(r.Context(), steward.PermNoticeRead) {
			continue
		}
		if act, ok := requestPages[n.Path]; ok && (s.flow == nil || act && !may(r.Context(), steward.PermRequestAct)) {
			continue // this server serves no requests, or this principal asks and decides none
		}
		b.Nav = append(b.Nav, navItem{navSection: n, Active: n.Path == active})
	}
	return b
}

// evidencePages are the sections that show evidence (steward.PermEvidenceRead):
// their routes are guarded, and the navigation leaves them out for whoever
// may not read them.
var evidencePages = map[string]bool{"/ownership": true, "/audit": true}

// requestPages are the sections of the request path, shown only where the
// server serves requests (UI.Requests); true marks those that ask or
// decide (steward.PermRequestAct), which an auditor, who writes nothing,
// is not shown.
var requestPages = map[string]bool{"/requests/new": true, "/requests/inbox": true, "/requests": false}

// parsePages parses each page with the layout it is shown in. Each entry
// is executed by its "page" template.
func parsePages() map[string]*template.Template {
	pages := map[string][]string{
		"signin":           {"templates/head.html", "templates/signin.html"},
		"inventory":        {"templates/head.html", "templates/layout.html", "templates/inventory.html", "templates/time.html"},
		"identity":         {"templates/head.html", "templates/layout.html", "templates/identity.html", "templates/time.html"},
		"ownership":        {"templates/head.html", "templates/layout.html", "templates/ownership.html", "templates/time.html"},
		"audit":            {"templates/head.html", "templates/layout.html", "templates/audit.html", "templates/time.html"},
		"people":           {"templates/head.html", "templates/layout.html", "templates/people.html", "templates/time.html"},
		"person":           {"templates/head.html", "templates/layout.html", "templates/person.html", "templates/lists.html", "templates/time.html"},
		"teams":            {"templates/head.html", "templates/layout.html", "templates/teams.html"},
		"catalog":          {"templates/head.html", "templates/layout.html", "templates/catalog.html"},
		"requests":         {"templates/head.html", "templates/layout.html", "templates/requests.html", "templates/time.html"},
		"inbox":            {"templates/head.html", "templates/layout.html", "templates/inbox.html", "templates/time.html"},
		"notices":          {"templates/head.html", "templates/layout.html", "templates/notices.html", "templates/time.html"},
		"requestnew":       {"templates/head.html", "templates/layout.html", "templates/requestnew.html"},
		"request":          {"templates/head.html", "templates/layout.html", "templates/request.html", "templates/time.html"},
		"requestunmatched": {"templates/head.html", "templates/layout.html", "templates/requestunmatched.html"},
		"team":             {"templates/head.html", "templates/layout.html", "templates/team.html", "templates/lists.html", "templates/time.html"},
		"system":           {"templates/head.html", "templates/layout.html", "templates/system.html", "templates/time.html"},
		"error":            {"templates/head.html", "templates/layout.html", "templates/error.html"},
		"coming":           {"templates/head.html", "templates/layout.html", "templates/coming.html"},
		"tokens":           {"templates/head.html", "templates/layout.html", "templates/tokens.html", "templates/time.html"},
		"refused":          {"templates/head.html", "templates/refused.html"},
		"continue":         {"templates/head.html", "templates/continue.html"},
	}
	out := make(map[string]*template.Template, len(pages))
	for name, files := range pages {
		out[name] = template.Must(template.New(name).Funcs(templateFuncs).ParseFS(templateFS, files...))
	}
	return out
}

// queryURL returns path with the non-empty pairs of kv as its query, in the
// order given, so that the same view always has the same, short URL.
func queryURL(path string, kv [][2]string) string {
	var b strings.Builder
	for _, p := range kv {
		if p[1] == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p[0] + "=" + url.QueryEscape(p[1]))
	}
	return path + b.String()
}

// parseLimit parses an optional page size; "" means the store's default.
func parseLimit(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > steward.MaxLimit {
		return 0, steward.Errorf(steward.EINVALID, "limit %q must be a whole number from 1 to %d.", v, steward.MaxLimit)
	}
	return n, nil
}

// label turns an enum value such as "service_account" into words.
func label[T ~string](v T) string { return strings.ReplaceAll(string(v), "_", " ") }

// option is one choice of a <select>.
type option struct {
	Value    string
	Label    string
	Selected bool
}

// enumOptions returns the choices for an enum filter, with current selected.
func enumOptions[T ~string](all []T, current string) []option {
	opts := []option{{Value: "", Label: "any", Selected: current == ""}}
	for _, v := range all {
		opts = append(opts, option{Value: string(v), Label: label(v), Selected: string(v) == current})
	}
	return opts
}

// timeText is a moment as the pages show it: relative words for a glance,
// the exact time with its zone for the tooltip and the datetime attribute.
// Pages show times in UTC: Steward serves people in many zones, and one
// zone, named, is never mistaken for the reader's own.
type timeText struct {
	Rel   string // "3 days ago", "1 year 2 months ago", "in 3 days", "never"
	Exact string // "2025-01-02 15:04 UTC", "" for never
	Date  string // "2025-01-02", for dense table cells
	ISO   string // RFC 3339 for <time datetime>
}

func (s *server) timeText(t *time.Time, never string) timeText {
	if t == nil || t.IsZero() {
		return timeText{Rel: never}
	}
	return timeText{
		Rel:   steward.RelativeTime(s.clock.Now(), *t),
		Exact: exact(*t),
		Date:  t.UTC().Format(time.DateOnly),
		ISO:   t.UTC().Format(time.RFC3339),
	}
}

func exact(t time.Time) string { return steward.FormatTime(t.UTC()) }

// templateFuncs are the helpers every page may use.
var templateFuncs = template.FuncMap{
	// thousands writes a count with its thousands grouped: 12,345.
	"thousands": func(n any) string {
		switch v := n.(type) {
		case int:
			return steward.GroupThousands(int64(v))
		case int64:
			return steward.GroupThousands(v)
		}
		return fmt.Sprint(n)
	},
}

// safeNext returns next if it is a path on this site, else "/". The sign-in
// page redirects to it, and anything else would make Steward an open
// redirector.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "/signin" {
		return "/"
	}
	return next
}
