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
	{"Catalog", "/catalog", false},
	{"Requests", "/requests", false},
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
	Title  string
	Token  *steward.Token // nil when nobody is signed in
	Admin  bool           // the token may change things; viewers only read
	Nav    []navItem
	CSSURL string
	Flash  string // what the last form did, shown once after its redirect
}

// base returns the layout data for a page; active is the path of the
// navigation entry to highlight.
func (s *server) base(r *http.Request, title, active string) pageBase {
	b := pageBase{Title: title, Token: tokenFrom(r.Context()), CSSURL: "/static/style.css?v=" + s.cssVersion, Flash: readFlash(r)}
	b.Admin = b.Token != nil && b.Token.Role == steward.RoleAdmin
	for _, n := range navSections {
		b.Nav = append(b.Nav, navItem{navSection: n, Active: n.Path == active})
	}
	return b
}

// parsePages parses each page with the layout it is shown in. Each entry
// is executed by its "page" template.
func parsePages() map[string]*template.Template {
	pages := map[string][]string{
		"signin":    {"templates/head.html", "templates/signin.html"},
		"inventory": {"templates/head.html", "templates/layout.html", "templates/inventory.html", "templates/time.html"},
		"identity":  {"templates/head.html", "templates/layout.html", "templates/identity.html", "templates/time.html"},
		"ownership": {"templates/head.html", "templates/layout.html", "templates/ownership.html", "templates/time.html"},
		"audit":     {"templates/head.html", "templates/layout.html", "templates/audit.html", "templates/time.html"},
		"error":     {"templates/head.html", "templates/layout.html", "templates/error.html"},
		"coming":    {"templates/head.html", "templates/layout.html", "templates/coming.html"},
	}
	out := make(map[string]*template.Template, len(pages))
	for name, files := range pages {
		out[name] = template.Must(template.New(name).ParseFS(templateFS, files...))
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
// the exact UTC time for the tooltip and the datetime attribute.
type timeText struct {
	Rel   string // "412 days ago", "in 3 days", "never"
	Exact string // "2025-01-02 15:04 UTC", "" for never
	Date  string // "2025-01-02", for dense table cells
	ISO   string // RFC 3339 for <time datetime>
}

func (s *server) timeText(t *time.Time, never string) timeText {
	if t == nil || t.IsZero() {
		return timeText{Rel: never}
	}
	return timeText{
		Rel:   relative(s.clock.Now(), *t),
		Exact: exact(*t),
		Date:  t.UTC().Format(time.DateOnly),
		ISO:   t.UTC().Format(time.RFC3339),
	}
}

func exact(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// relative says how far t is from now in the largest whole unit, in days
// beyond one day because ages of credentials and idle identities are
// compared against day-based policies ("older than 365 days").
func relative(now, t time.Time) string {
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
	}
	var n int64
	var unit string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "minute"
	case d < 24*time.Hour:
		n, unit = int64(d/time.Hour), "hour"
	default:
		n, unit = int64(d/(24*time.Hour)), "day"
	}
	if n != 1 {
		unit += "s"
	}
	if suffix == "" {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s%s", n, unit, suffix)
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
