package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

var eventRowRE = regexp.MustCompile(`<tr data-seq="(\d+)">\s*<td class="num">\d+</td>\s*<td>.*?</td>\s*<td>([^<]*)</td>\s*<td><code>([^<]+)</code></td>\s*<td><a href="([^"]+)">([^<]+)</a></td>\s*<td class="prose" title="[^"]*">([^<]*)</td>`)

// auditRow is one row of the audit table as the page shows it.
type auditRow struct{ seq, actor, action, url, object, detail string }

func auditRows(body string) []auditRow {
	var out []auditRow
	for _, m := range eventRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, auditRow{m[1], m[2], m[3], html.UnescapeString(m[4]), html.UnescapeString(m[5]), html.UnescapeString(m[6])})
	}
	return out
}

func TestAuditPage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	// Changes through the UI (actor token:alice) and the store (system:test).
	res, _ := f.Do(t, http.MethodPost, "/identities/4/owner", session, url.Values{"owner": {"grace"}, "next": {"/identities/4"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set owner: %d", res.StatusCode)
	}
	ctx := steward.WithActor(context.Background(), "system:test")
	team := &steward.Team{Name: "audit-team"}
	if err := f.Store.CreateTeam(ctx, team); err != nil {
		t.Fatal(err)
	}

	res, body := f.Do(t, http.MethodGet, "/audit", session, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", res.StatusCode, body)
	}
	rows := auditRows(body)
	if len(rows) < 5 || !slices.IsSortedFunc(rows, func(a, b auditRow) int { return atoi(b.seq) - atoi(a.seq) }) {
		t.Fatalf("rows (newest first) = %+v", rows)
	}
	if rows[0].action != "team.created" || rows[0].object != "team audit-team" || rows[0].url != "/teams/audit-team" || rows[0].actor != "system:test" {
		t.Errorf("newest row = %+v", rows[0])
	}
	var owner auditRow
	for _, r := range rows {
		if r.action == "identity.owner_changed" {
			owner = r
		}
	}
	if owner.url != "/identities/4" || owner.object != "identity ledger-export-bot" || owner.actor != "token:alice" ||
		owner.detail != "owner Grace Hopper, team ledger (owner: set by hand; team: the owner's team)" {
		t.Errorf("owner change row = %+v", owner)
	}
	if _, page := f.Do(t, http.MethodGet, "/identities/4", session, nil); !strings.Contains(page, `<a id="history" href="/audit?object=identity&amp;object_id=4">`) {
		t.Error("the identity page does not link to its history")
	}
	if !strings.Contains(body, `<a href="/audit" aria-current="page">Audit</a>`) {
		t.Error("the navigation does not mark Audit")
	}

	for _, tt := range []struct {
		name, query string
		want        func(r auditRow) bool
		min         int
	}{
		{"action", "action=identity.owner_changed", func(r auditRow) bool { return r.action == "identity.owner_changed" }, 1},
		{"actor", "actor=token%3Aalice", func(r auditRow) bool { return r.actor == "token:alice" }, 2},
		{"object", "object=identity&object_id=4", func(r auditRow) bool { return r.url == "/identities/4" }, 1},
		{"object kind", "object=token", func(r auditRow) bool { return strings.HasPrefix(r.object, "token ") }, 2},
		{"since an age", "since=1h", func(r auditRow) bool { return true }, 5},
		{"task of an identity", "action=task.closed", func(r auditRow) bool { return strings.HasPrefix(r.url, "/audit?object=task") }, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, body := f.Do(t, http.MethodGet, "/audit?"+tt.query, session, nil)
			rows := auditRows(body)
			if res.StatusCode != http.StatusOK || len(rows) < tt.min {
				t.Fatalf("status %d, %d rows, want at least %d", res.StatusCode, len(rows), tt.min)
			}
			for _, r := range rows {
				if !tt.want(r) {
					t.Errorf("row %+v does not match %s", r, tt.query)
				}
			}
		})
	}

	// A filter that matches nothing says so; bad filters say why, with 400.
	if _, body := f.Do(t, http.MethodGet, "/audit?since=2999-01-01", session, nil); !strings.Contains(body, "No events match these filters.") {
		t.Error("a future since shows rows")
	}
	for query, msg := range map[string]string{
		"action=identity.exploded": "identity.owner_changed",
		"since=last+tuesday":       "is not a time",
		"object=gizmo":             "not a kind of object",
		"object_id=4":              "choose the kind of object",
		"limit=0":                  "limit",
	} {
		res, body := f.Do(t, http.MethodGet, "/audit?"+query, session, nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), msg) {
			t.Errorf("%s: status %d, want 400 saying %q", query, res.StatusCode, msg)
		}
	}

	// Pages go to older events without repeating one, and the form's empty
	// fields give way to the short URL.
	var seen []string
	target := "/audit?limit=3"
	for target != "" {
		_, body := f.Do(t, http.MethodGet, target, session, nil)
		for _, r := range auditRows(body) {
			if slices.Contains(seen, r.seq) {
				t.Fatalf("event %s on two pages", r.seq)
			}
			seen = append(seen, r.seq)
		}
		target = ""
		if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">Older</a>`).FindStringSubmatch(body); m != nil {
			target = html.UnescapeString(m[1])
		}
	}
	if len(seen) != len(rows) {
		t.Errorf("paged through %d events, the first page of 50 has %d", len(seen), len(rows))
	}
	res, _ = f.Do(t, http.MethodGet, "/audit?action=&actor=&since=&object=identity&object_id=4&limit=", session, nil)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/audit?object=identity&object_id=4" {
		t.Errorf("canonical redirect: %d to %q", res.StatusCode, loc)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
