package web

import (
	"context"
	"encoding/json"
	gohtml "html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// esc escapes s as html/template writes text.
func esc(s string) string { return gohtml.EscapeString(s) }

// mustContain fails t for each of wants that body lacks.
func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// mustGet fetches target and fails unless it answers status.
func (f *fixture) mustGet(t *testing.T, target, session string, status int) (*http.Response, string) {
	t.Helper()
	res, body := f.Do(t, http.MethodGet, target, session, nil)
	if res.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d; body:\n%s", target, res.StatusCode, status, body)
	}
	return res, body
}

func TestPeoplePage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)

	_, body := f.mustGet(t, "/people", session, http.StatusOK)
	mustContain(t, "people list", body,
		`<a href="/people" aria-current="page">People</a>`,
		`<label for="f-q">Name, email or external id</label>`, `data-suggest="person"`,
		`<a href="/people/1">Ada Lovelace</a>`, `<a href="/people/2">Charles Babbage</a>`, `<a href="/people/3">Grace Hopper</a>`,
		`<a class="quiet" href="/teams/ledger">ledger</a>`, "departed",
	)

	redirects := []struct{ name, query, want string }{
		{"the only match opens", "q=grace", "/people/3"},
		{"an email chosen from the list opens", "q=ada%40example.test", "/people/1"},
		{"an external id opens", "q=CHARLES", "/people/2"},
		{"canonical URL", "q=&status=", "/people"},
	}
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _ := f.mustGet(t, "/people?"+tt.query, session, http.StatusSeeOther)
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("redirect to %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("several matches list", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/people?q=example.test", session, http.StatusOK)
		if n := strings.Count(body, `<td class="name"><a href="/people/`); n != 3 {
			t.Errorf("%d people listed, want 3", n)
		}
	})
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		// Narrowed to the departed, "example" names only Charles.
		if res, _ := f.mustGet(t, "/people?q=example&status=departed", session, http.StatusSeeOther); res.Header.Get("Location") != "/people/2" {
			t.Errorf("redirect to %q, want /people/2", res.Header.Get("Location"))
		}
		_, body := f.mustGet(t, "/people?status=departed", session, http.StatusOK)
		if !strings.Contains(body, "Charles Babbage") || strings.Contains(body, "Grace Hopper") {
			t.Errorf("departed people: %s", body)
		}
	})
	t.Run("bad status", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/people?status=gone", session, http.StatusBadRequest)
		mustContain(t, "page", body, `id="filter-error"`, "gone")
	})
}

func TestPersonPage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	ctx := steward.WithActor(context.Background(), "system:test")
	// Ada's own login on the AWS account, with the read-only role.
	login := &steward.Identity{SystemID: f.sysProd, ExternalID: "arn:aws:iam::123456789012:user/ada", Name: "ada", Kind: steward.KindHuman,
		Environment: steward.EnvProd, Criticality: steward.LevelMedium, OwnerID: &f.ownerID, TeamID: &f.teamPay, Status: steward.IdentityActive,
		CreatedAt: daysAgo(700), LastUsedAt: daysAgo(2)}
	if err := f.Store.CreateIdentity(ctx, login); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.CreateGrant(ctx, &steward.Grant{IdentityID: login.ID, EntitlementID: 2, Type: steward.GrantStanding, GrantedAt: *daysAgo(600), GrantedVia: "sync:aws-prod-payments"}); err != nil {
		t.Fatal(err)
	}

	t.Run("active owner", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/people/1", session, http.StatusOK)
		mustContain(t, "Ada's page", body,
			"<h1>Ada Lovelace</h1>",
			`<a href="mailto:ada@example.test">ada@example.test</a>`, "<code>ada</code>",
			`<dt>Team</dt><dd><a href="/teams/payments-platform">payments-platform</a> <span class="muted">(Payments Platform)</span></dd>`,
			`<dd id="reports"><a href="/people/2">Charles Babbage</a>, <a href="/people/3">Grace Hopper</a></dd>`,
			// what she owns, with the gaps among them: the fillers' team has nobody
			`<table class="grid" id="owns">`, `<a href="/identities/1">payments-api-deployer</a>`, `<a href="/identities/101">batch-worker-001</a>`,
			`<a class="badge badge-warn" href="/inventory?owner=ada%40example.test&amp;gap=team_inactive">team inactive</a>`,
			`<a href="/inventory?owner=ada%40example.test">Open in the inventory</a>`,
			// what she holds: her login and its grant
			`<a href="/identities/`+strconv.FormatInt(login.ID, 10)+`">ada</a>`, "ReadOnlyAccess",
		)
		owns := body[strings.Index(body, `id="owns"`):strings.Index(body, `id="holds-section"`)]
		if strings.Contains(owns, `>ada</a>`) {
			t.Error("her own login is listed among what she owns; it is what she holds")
		}
		if strings.Contains(owns, "owner departed") {
			t.Error("an active person's identities have no departed-owner gap")
		}
	})

	t.Run("departed owner", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/people/2", session, http.StatusOK)
		mustContain(t, "Charles's page", body,
			`<span class="badge badge-bad">departed <time datetime="2026-02-21T12:00:00Z" title="2026-02-21 12:00 UTC">3 months ago</time></span>`,
			`<dt>Manager</dt><dd><a href="/people/1">Ada Lovelace</a></dd>`,
			`<a href="/identities/2">legacy-batch-key</a>`,
			`<a class="badge badge-bad" href="/ownership?gap=owner_departed">owner departed</a>`,
			`href="/inventory?owner=charles%40example.test&amp;gap=owner_departed"`,
			`id="no-accounts">Steward links no account to Charles Babbage`,
		)
	})

	t.Run("paging what they own", func(t *testing.T) {
		t.Parallel()
		ids := func(body string) []string {
			var out []string
			for _, m := range regexp.MustCompile(`<td class="name"><a href="/identities/(\d+)">`).FindAllStringSubmatch(body[strings.Index(body, `id="owns"`):strings.Index(body, `id="holds-section"`)], -1) {
				out = append(out, m[1])
			}
			return out
		}
		// Ada owns identity 1 and two fillers in three: 39 in all, on
		// one page; Grace owns nothing.
		_, body := f.mustGet(t, "/people/1", session, http.StatusOK)
		if got := ids(body); len(got) != 39 || got[0] != "1" {
			t.Errorf("owned = %v, want 39 starting with 1", got)
		}
		_, body = f.mustGet(t, "/people/3", session, http.StatusOK)
		mustContain(t, "Grace's page", body, "They own no non-human identity.", "None of them has an open ownership gap.")
		_, body = f.mustGet(t, "/people/1?owns_after="+steward.Cursor(120), session, http.StatusOK)
		// Filler 121 (i=21) is unowned: the next of Ada's is 122.
		if got := ids(body); len(got) == 0 || got[0] != "122" {
			t.Errorf("after cursor 120: owned = %v, want from 122", got)
		}
		mustContain(t, "a later page", body, `<a href="/people/1">First page</a>`)
	})

	bad := []struct {
		path   string
		status int
		want   string
	}{
		{"/people/999", http.StatusNotFound, "There is no person 999"},
		{"/people/ada", http.StatusNotFound, "There is no person at “ada”"},
		{"/people/1?owns_after=bm9wZQ", http.StatusBadRequest, "cursor"},
	}
	for _, tt := range bad {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			_, body := f.mustGet(t, tt.path, session, tt.status)
			mustContain(t, "page", body, esc(tt.want))
		})
	}
}

func TestTeamPages(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/teams", session, http.StatusOK)
		mustContain(t, "teams", body, `<a href="/teams" aria-current="page">Teams</a>`,
			`<a href="/teams/ledger">ledger</a>`, `<a class="quiet" href="/people/1">Ada Lovelace</a>`)
		res, _ := f.mustGet(t, "/teams?q=ledger", session, http.StatusSeeOther)
		if got := res.Header.Get("Location"); got != "/teams/ledger" {
			t.Errorf("a search naming one team goes to %q", got)
		}
	})

	t.Run("a team with a gap", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/teams/ledger", session, http.StatusOK)
		mustContain(t, "ledger", body,
			`<h1>ledger <span class="muted">Ledger</span></h1>`,
			`<dt>Manager</dt><dd><a href="/people/1">Ada Lovelace</a></dd>`,
			`<dt>Active</dt><dd>yes</dd>`,
			`<a href="/systems/gcp-analytics">gcp-analytics</a>`,
			// its gaps, with the same one-click assign as the Ownership page
			`<table class="grid" id="team-gaps">`, `<a href="/identities/4">ledger-export-bot</a>`,
			`name="owner" value="ada"`, `name="team" value="ledger"`, `name="next" value="/teams/ledger"`,
			`<a href="/ownership?team=ledger" id="all-gaps">`,
			// its members and what it owns
			`<a href="/people/3">Grace Hopper</a>`,
			`<table class="grid" id="owns">`,
		)
	})

	t.Run("an inactive team", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/teams/data-infra", session, http.StatusOK)
		mustContain(t, "data-infra", body,
			`<span class="badge badge-warn">team inactive</span>`, "Nobody is in this team.",
			// 57 fillers' gaps: the oldest ten, then a link to all of them
			`all of them on the Ownership page`, `rel="next">More</a>`,
		)
		if n := strings.Count(body, `data-task="`); n != teamGaps {
			t.Errorf("%d gaps shown, want %d", n, teamGaps)
		}
		next := regexp.MustCompile(`<a href="([^"]+)" rel="next">More</a>`).FindStringSubmatch(body)
		if next == nil || !strings.HasPrefix(next[1], "/teams/data-infra?owns_after=") {
			t.Fatalf("the owned list should page with owns_after; got %v", next)
		}
	})

	redirects := []struct{ path, want string }{
		{"/teams/Ledger", "/teams/ledger"},
		{"/teams/Payments%20Platform", "/teams/payments-platform"},
	}
	for _, tt := range redirects {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			res, _ := f.mustGet(t, tt.path, session, http.StatusSeeOther)
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("redirect to %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		_, body := f.mustGet(t, "/teams/nope", session, http.StatusNotFound)
		mustContain(t, "page", body, esc("There is no team named “nope”"))
	})
}

func TestSystemPage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	_, body := f.mustGet(t, "/systems/aws-prod-payments", session, http.StatusOK)
	mustContain(t, "system page", body,
		"<h1>aws-prod-payments</h1>", "<dt>Kind</dt><dd>aws</dd>",
		`<dt>Run by</dt><dd><a href="/teams/payments-platform">payments-platform</a></dd>`,
		"No sync or import has run yet",
		`<a href="/inventory?system=aws-prod-payments" id="system-identities">`,
	)
	_, body = f.mustGet(t, "/systems/nope", session, http.StatusNotFound)
	mustContain(t, "page", body, esc("There is no system named “nope”"))
}

// TestNamesLinkToPages: wherever a person, team or system is named, the
// name links to its page.
func TestNamesLinkToPages(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	_, body := f.mustGet(t, "/inventory?q=payments-api", session, http.StatusOK)
	mustContain(t, "inventory", body,
		`<a class="quiet" href="/systems/aws-prod-payments">aws-prod-payments</a>`,
		`<a class="quiet" href="/people/1">Ada Lovelace</a>`,
		`<a class="quiet" href="/teams/payments-platform">payments-platform</a>`,
	)
	_, body = f.mustGet(t, "/identities/1", session, http.StatusOK)
	mustContain(t, "identity page", body, `<a href="/people/1">Ada Lovelace</a>`, `<a href="/teams/payments-platform">payments-platform</a>`,
		`<a class="quiet" href="/systems/aws-prod-payments">aws-prod-payments</a>`)
}

// TestNoFormAsksForAnID: people work by names. No form on any page asks
// for a number that only the database knows.
func TestNoFormAsksForAnID(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	for _, page := range []string{"/inventory", "/ownership", "/identities/1", "/identities/4", "/people", "/people/1", "/teams", "/teams/ledger",
		"/systems/aws-prod-payments", "/audit", "/audit?object=identity&object_id=4", "/audit?object=team"} {
		_, body := f.mustGet(t, page, session, http.StatusOK)
		noIDFields(t, page, body)
	}
}

var (
	fieldRE   = regexp.MustCompile(`<(?:input|select)[^>]*>`)
	idNameRE  = regexp.MustCompile(`name="[a-z_]*_?id"|inputmode="numeric"`)
	idLabelRE = regexp.MustCompile(`(?i)<label[^>]*>[^<]*\bid\b[^<]*</label>`)
	// A hidden field asks nothing: it carries what a link set (the object
	// whose history the audit page shows) through the next Apply.
	hiddenRE = regexp.MustCompile(`\btype="hidden"`)
)

// noIDFields fails t for each field of page's body that asks for an id.
func noIDFields(t *testing.T, page, body string) {
	t.Helper()
	for _, m := range fieldRE.FindAllString(body, -1) {
		if idNameRE.MatchString(m) && !hiddenRE.MatchString(m) {
			t.Errorf("%s: field %s asks for an id", page, m)
		}
	}
	for _, m := range idLabelRE.FindAllString(body, -1) {
		// An external id is the name a source gives; Steward's own
		// numbers are what no field may ask for.
		if !strings.Contains(strings.ToLower(m), "external id") {
			t.Errorf("%s: label %s asks for an id", page, m)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	get := func(t *testing.T, query string, status int) []suggestion {
		t.Helper()
		res, body := f.mustGet(t, "/suggest?"+query, session, status)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
		var out []suggestion
		if status == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		return out
	}
	values := func(s []suggestion) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.Value)
		}
		return out
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"person by first letters", "what=person&q=gra", []string{"grace@example.test"}},
		{"person by email domain, by name", "what=person&q=example.test", []string{"ada@example.test", "charles@example.test", "grace@example.test"}},
		{"owner: active people first", "what=owner&q=example.test", []string{"ada@example.test", "grace@example.test", "charles@example.test"}},
		{"a name that starts with the text comes first", "what=person&q=ha", []string{"charles@example.test"}},
		{"team", "what=team&q=led", []string{"ledger"}},
		{"team by display name", "what=team&q=Payments", []string{"payments-platform"}},
		{"system", "what=system&q=aws", []string{"aws-prod-payments"}},
		{"nothing typed", "what=person&q=", nil},
		{"no match", "what=team&q=zzz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := values(get(t, tt.query, http.StatusOK)); !slices.Equal(got, tt.want) {
				t.Errorf("values = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("labels say who", func(t *testing.T) {
		t.Parallel()
		got := get(t, "what=person&q=charles", http.StatusOK)
		if len(got) != 1 || got[0].Label != "Charles Babbage · payments-platform · departed" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		t.Parallel()
		get(t, "what=robot&q=a", http.StatusBadRequest)
	})
	t.Run("without a session", func(t *testing.T) {
		t.Parallel()
		res, _ := f.Do(t, http.MethodGet, "/suggest?what=person&q=a", "", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("status %d, want a redirect to sign in", res.StatusCode)
		}
	})
}
