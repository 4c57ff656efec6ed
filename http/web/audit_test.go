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

var eventRowRE = regexp.MustCompile(`<tr data-seq="(\d+)">\s*<td class="num">\d+</td>\s*<td>.*?</td>\s*<td>([^<]*)</td>\s*<td class="via">([^<]*)</td>\s*<td><code>([^<]+)</code></td>\s*<td><a href="([^"]+)">([^<]+)</a></td>\s*<td class="prose" title="[^"]*">([^<]*)</td>`)

// auditRow is one row of the audit table as the page shows it.
type auditRow struct{ seq, actor, via, action, url, object, detail string }

func auditRows(body string) []auditRow {
	var out []auditRow
	for _, m := range eventRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, auditRow{m[1], m[2], m[3], m[4], html.UnescapeString(m[5]), html.UnescapeString(m[6]), html.UnescapeString(m[7])})
	}
	return out
}

func TestAuditPage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	// Changes through the UI (Ada, via token:alice) and the store (system:test).
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
	if owner.url != "/identities/4" || owner.object != "identity ledger-export-bot" || owner.actor != "person:ada@example.test" || owner.via != "token:alice" ||
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
		{"actor", "actor=person%3Aada%40example.test", func(r auditRow) bool { return r.actor == "person:ada@example.test" && r.via == "token:alice" }, 2},
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

// TestAuditObject: one object's history is set by following a link and
// shown as a chip that names the object; where a person types an object,
// they type its name, never an id.
func TestAuditObject(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	ctx := steward.WithActor(context.Background(), "system:test")
	// A second ledger-export-bot, on another system: that name alone names
	// two identities.
	twin := &steward.Identity{SystemID: f.sysProd, ExternalID: "ledger-export-bot", Name: "ledger-export-bot",
		Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive}
	if err := f.Store.CreateIdentity(ctx, twin); err != nil {
		t.Fatal(err)
	}
	twinHistory := "/audit?object=identity&object_id=" + strconv.FormatInt(twin.ID, 10)
	// The twin has no owner: its gap's task, which has no name, is named
	// by its first event, which names the identity.
	opened, err := f.Store.Events(ctx, steward.EventFilter{Action: steward.ActionTaskOpened, NewestFirst: true, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(opened.Items) != 1 {
		t.Fatalf("the twin's gap opened no task: %v", err)
	}
	task := opened.Items[0].ObjectID

	t.Run("history links", func(t *testing.T) {
		for page, want := range map[string]string{
			"/identities/4":          "/audit?object=identity&object_id=4",
			"/people/3":              "/audit?object=person&object_id=3",
			"/teams/ledger":          "/audit?object=team&object_id=3",
			"/systems/gcp-analytics": "/audit?object=system&object_id=3",
		} {
			_, body := f.mustGet(t, page, session, http.StatusOK)
			if !strings.Contains(body, `<a id="history" href="`+html.EscapeString(want)+`">`) {
				t.Errorf("%s does not link to its history %s", page, want)
			}
		}
	})

	chipRE := regexp.MustCompile(`<p class="filter-chip" id="object-chip">([^<]*) <a href="([^"]*)" id="clear-object"`)
	t.Run("the chip names the object", func(t *testing.T) {
		for query, want := range map[string]string{
			"object=task&object_id=" + task:  "History of task " + task + " of identity ledger-export-bot",
			"object=identity&object_id=4":    "History of identity ledger-export-bot on gcp-analytics",
			"object=person&object_id=3":      "History of person Grace Hopper",
			"object=team&object_id=3":        "History of team ledger",
			"object=system&object_id=3":      "History of system gcp-analytics",
			"object=entitlement&object_id=1": "History of entitlement AdministratorAccess on aws-prod-payments",
			"object=token&object_id=1":       "History of token alice",
			"object=identity&object_id=999":  "History of identity 999", // one Steward never had
		} {
			_, body := f.mustGet(t, "/audit?"+query, session, http.StatusOK)
			m := chipRE.FindStringSubmatch(body)
			if m == nil || html.UnescapeString(m[1]) != want {
				t.Errorf("%s: chip %q, want %q", query, m, want)
			}
			if strings.Contains(body, `id="f-name"`) || strings.Contains(body, `id="f-object"`) {
				t.Errorf("%s: the chip shows beside the object fields", query)
			}
		}
		// Its link clears the object and keeps the other filters; Apply
		// keeps the object.
		_, body := f.mustGet(t, "/audit?action=identity.owner_changed&object=identity&object_id=4", session, http.StatusOK)
		if m := chipRE.FindStringSubmatch(body); m == nil || html.UnescapeString(m[2]) != "/audit?action=identity.owner_changed" {
			t.Errorf("clear link %q", m)
		}
		mustContain(t, "the form", body, `<input type="hidden" name="object" value="identity">`, `<input type="hidden" name="object_id" value="4">`)
	})

	t.Run("a typed name", func(t *testing.T) {
		for query, want := range map[string]string{
			"object=identity&name=orphan-webhook-token":             "/audit?object=identity&object_id=3",
			"object=person&name=grace%40example.test":               "/audit?object=person&object_id=3",
			"object=person&name=Grace+Hopper":                       "/audit?object=person&object_id=3",
			"object=person&name=grace":                              "/audit?object=person&object_id=3",
			"object=team&name=Ledger":                               "/audit?object=team&object_id=3",
			"object=team&name=Payments+Platform":                    "/audit?object=team&object_id=1",
			"object=system&name=gcp-analytics":                      "/audit?object=system&object_id=3",
			"object=entitlement&name=ReadOnlyAccess":                "/audit?object=entitlement&object_id=2",
			"object=token&name=alice":                               "/audit?object=token&object_id=1",
			"object=people&name=ldap":                               "/audit?object=people&object_id=ldap",
			"action=identity.owner_changed&object=team&name=ledger": "/audit?action=identity.owner_changed&object=team&object_id=3",
		} {
			res, _ := f.Do(t, http.MethodGet, "/audit?"+query, session, nil)
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != want {
				t.Errorf("%s: %d to %q, want 303 to %q", query, res.StatusCode, loc, want)
			}
		}
	})

	t.Run("a name that names nothing, or several", func(t *testing.T) {
		for query, msg := range map[string]string{
			"name=ledger":                            "Choose the kind of object “ledger” is",
			"object=team&name=nobody":                "no team is named “nobody”",
			"object=person&name=nobody":              "no person has the email, external id or name “nobody”",
			"object=identity&name=nobody":            "no identity is named “nobody”",
			"object=credential&name=old-key":         "A credential has no name to type",
			"object=identity&object_id=4&name=x":     "not both",
			"object=identity&name=ledger-export-bot": "2 identities are named “ledger-export-bot”",
		} {
			res, body := f.Do(t, http.MethodGet, "/audit?"+query, session, nil)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), msg) {
				t.Errorf("%s: status %d, want 400 saying %q", query, res.StatusCode, msg)
			}
		}
		// What was typed stays in the field, to correct.
		_, body := f.Do(t, http.MethodGet, "/audit?object=team&name=nobody", session, nil)
		mustContain(t, "the refused name", body, `name="name" value="nobody"`, `<option value="team" selected>`)
		// Each identity the name could mean is a link to its history.
		_, body = f.Do(t, http.MethodGet, "/audit?object=identity&name=ledger-export-bot", session, nil)
		mustContain(t, "the choices", html.UnescapeString(body),
			`<a href="/audit?object=identity&object_id=4">ledger-export-bot on gcp-analytics</a>`,
			`<a href="`+twinHistory+`">ledger-export-bot on aws-prod-payments</a>`)
	})
}
