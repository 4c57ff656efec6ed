package web

import (
	"context"
	"fmt"
	"html"
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

// fillerIDs returns the ids of the fixture's fillers for which pred holds.
func (f *fixture) fillerIDs(pred func(i int) bool) []string {
	var ids []string
	for i := range f.Fillers {
		if pred(i) {
			ids = append(ids, strconv.Itoa(100+i))
		}
	}
	return ids
}

func TestOwnershipPage(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)

	t.Run("counts, groups and suggestions", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodGet, "/ownership", session, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d; body:\n%s", res.StatusCode, body)
		}
		for _, want := range []string{
			`<a href="/ownership" aria-current="page">Ownership</a>`,
			// one count per kind, each a link to its list
			`<a href="/ownership?gap=unowned" class="count">` + "\n    " + `<span class="count-n">20</span>`,
			`<a href="/ownership?gap=owner_departed" class="count">` + "\n    " + `<span class="count-n">1</span>`,
			`<a href="/ownership?gap=team_inactive" class="count">` + "\n    " + `<span class="count-n">57</span>`,
			// the unowned identity of ledger, whose manager is Ada: the form
			// names her by her external id and the team by its name
			`action="/identities/4/owner"`, `name="owner" value="ada"`, `name="team" value="ledger"`,
			`<input type="hidden" name="next" value="/ownership">`,
			`Assign to Ada Lovelace</button>`,
			// the departed Charles's manager is Ada too; the identity keeps its team
			`action="/identities/2/owner"`, `name="team" value="payments-platform"`,
			// names link to their pages
			`<a href="/teams/ledger">ledger</a>`, `<a class="quiet" href="/people/2">Charles Babbage</a>`,
			`<a class="quiet" href="/systems/gcp-analytics">gcp-analytics</a>`,
			// data-infra has neither a manager nor members: a person chooses
			`<a href="/identities/100#ownership">Choose an owner</a>`,
			"in 14 days", "in 7 days",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(body, "coming") && strings.Contains(body, `Ownership <span class="soon">`) {
			t.Error("Ownership is still marked coming in the navigation")
		}
		// Groups come in the order of their oldest gap: ledger's task 1,
		// then data-infra's unowned fillers, then payments-platform's
		// departed owner.
		i3, i2, i1 := strings.Index(body, `id="team-ledger"`), strings.Index(body, `id="team-data-infra"`), strings.Index(body, `id="team-payments-platform"`)
		if i3 < 0 || i2 < 0 || i1 < 0 || !(i3 < i2 && i2 < i1) {
			t.Errorf("group positions ledger=%d data-infra=%d payments=%d, want that order", i3, i2, i1)
		}
		if tasks := taskIDs(body); len(tasks) != steward.DefaultLimit || tasks[0] != 1 {
			t.Errorf("first page tasks = %v, want %d starting at task 1", tasks, steward.DefaultLimit)
		}
		if strings.Count(body, `<tbody class="group"`) != 3 {
			t.Errorf("want three team groups on the first page")
		}
		if strings.Contains(body, "row-overdue") {
			t.Error("nothing is overdue on the day the gaps opened")
		}
	})

	tests := []struct {
		name, query string
		want        []string // identity ids, in order
		texts       []string
	}{
		{"gap kind", "gap=owner_departed", []string{"2"}, []string{`<option value="owner_departed" selected>owner departed</option>`, "Charles Babbage", `aria-current="page"`}},
		{"team", "team=ledger", []string{"4"}, []string{`id="f-team" name="team" value="ledger"`}},
		{"team by display name", "team=Ledger", []string{"4"}, nil},
		{"no team", "noteam=1", nil, []string{`name="noteam" type="checkbox" value="1" checked>`, "No open gaps match these filters."}},
		{"gap and team", "gap=unowned&team=data-infra", f.fillerIDs(func(i int) bool { return i%3 == 0 }), nil},
		{"team inactive has no suggestion", "gap=team_inactive&limit=3", []string{"100", "101", "102"}, []string{"Choose an owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, "/ownership?"+tt.query, session, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; body:\n%s", res.StatusCode, body)
			}
			if got := gapRows(body); !slices.Equal(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
			for _, s := range tt.texts {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
		})
	}

	bad := []struct{ name, query, want string }{
		{"unknown gap", "gap=orphaned", "gap &#34;orphaned&#34; is not known"},
		{"unknown team", "team=ledgers", "Team: no team is named “ledgers”"},
		{"a team id is not a name", "team=3", "no team is named “3”"},
		{"team and no team", "team=ledger&noteam=1", "not both"},
		{"bad no team", "noteam=yes", "noteam must be 1"},
		{"limit", "limit=0", "limit &#34;0&#34; must be a whole number"},
		{"bad cursor", "after=bm9wZQ", "cursor is not one Steward gave out"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, "/ownership?"+tt.query, session, nil)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body:\n%s", res.StatusCode, body)
			}
			if !strings.Contains(body, `id="filter-error"`) || !strings.Contains(body, tt.want) {
				t.Errorf("page should explain %q; body:\n%s", tt.want, body)
			}
			if !strings.Contains(body, `<form method="get" action="/ownership"`) || !strings.Contains(body, `id="gap-counts"`) {
				t.Error("the counts and the filter form stay on the page")
			}
		})
	}

	t.Run("canonical URL", func(t *testing.T) {
		t.Parallel()
		res, _ := f.Do(t, http.MethodGet, "/ownership?gap=&team=ledger&limit=", session, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ownership?team=ledger" {
			t.Errorf("status %d to %q, want 303 to /ownership?team=ledger", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		var seen []int
		target := "/ownership?limit=9"
		for pages := 1; target != ""; pages++ {
			res, body := f.Do(t, http.MethodGet, target, session, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("page %d (%s): status %d", pages, target, res.StatusCode)
			}
			// Rows are grouped by team within a page; pages follow task order.
			tasks := taskIDs(body)
			if len(seen) > 0 && len(tasks) > 0 && slices.Min(tasks) < slices.Max(seen) {
				t.Errorf("page %d has tasks %v older than the last page's", pages, tasks)
			}
			seen = append(seen, tasks...)
			target = nextLink(body)
			if target != "" && !strings.HasPrefix(target, "/ownership?limit=9&after=") {
				t.Fatalf("next link %q should keep the limit", target)
			}
			if pages > 20 {
				t.Fatal("paging does not end")
			}
		}
		sorted := slices.Sorted(slices.Values(seen))
		if want := 20 + 1 + f.Fillers; len(seen) != want || len(slices.Compact(sorted)) != want {
			t.Errorf("paging saw %d tasks %v, want %d distinct, oldest first", len(seen), seen, want)
		}
	})

	t.Run("overdue", func(t *testing.T) {
		t.Parallel()
		// The UI's clock three weeks on: every gap is past due.
		g := *f
		g.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now.Add(21 * 24 * time.Hour)}}).Handler()
		_, body := g.Do(t, http.MethodGet, "/ownership?team=ledger", session, nil)
		if !strings.Contains(body, `<tr class="row-overdue" data-task="1">`) || !strings.Contains(body, `<span class="badge badge-bad">overdue</span>`) ||
			!strings.Contains(body, "7 days ago") {
			t.Errorf("the gap due two weeks after it opened should be highlighted overdue; body:\n%s", body)
		}
	})

	t.Run("viewer sees suggestions, not buttons", func(t *testing.T) {
		t.Parallel()
		viewer := f.MustSignInWith(t, f.MustToken(t, "vera", steward.RoleAuditor))
		res, body := f.Do(t, http.MethodGet, "/ownership?team=ledger", viewer, nil)
		if res.StatusCode != http.StatusOK || strings.Contains(body, `action="/identities/4/owner"`) ||
			!strings.Contains(body, "suggested: Ada Lovelace") {
			t.Errorf("status %d; a viewer should see the suggestion without a form; body:\n%s", res.StatusCode, body)
		}
	})
}

func TestOneClickAssign(t *testing.T) {
	t.Parallel()

	t.Run("unowned", func(t *testing.T) {
		t.Parallel()
		f := MustFixture(t)
		session := f.MustSignIn(t)
		_, body := f.Do(t, http.MethodGet, "/ownership?team=ledger", session, nil)
		if got := gapRows(body); !slices.Equal(got, []string{"4"}) {
			t.Fatalf("before: rows = %v, want ledger-export-bot", got)
		}
		// The form the page shows, as the browser sends it.
		res, body := f.Do(t, http.MethodPost, "/identities/4/owner", session, url.Values{
			"owner": {"ada"}, "team": {"ledger"}, "next": {"/ownership?team=ledger"},
		})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ownership?team=ledger" {
			t.Fatalf("status %d to %q, want 303 back to the same view; body:\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
		res, body = f.Follow(t, res, session)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("after: status %d", res.StatusCode)
		}
		if !strings.Contains(body, `<p class="flash" role="status" id="flash">Assigned ledger-export-bot to Ada Lovelace, team ledger.</p>`) {
			t.Errorf("page lacks the flash message; body:\n%s", body)
		}
		if c := res.Cookies(); len(c) != 1 || c[0].Name != FlashCookie || c[0].MaxAge >= 0 {
			t.Errorf("showing the flash should expire its cookie, got %+v", c)
		}
		if got := gapRows(body); len(got) != 0 {
			t.Errorf("after: rows = %v, want none", got)
		}
		if gaps := f.MustGaps(t, steward.GapFilter{TeamID: f.teamLed}); len(gaps) != 0 {
			t.Errorf("store still lists gaps of ledger: %+v", gaps)
		}
		iv := f.MustIdentity(t, idLedger)
		if iv.OwnerID == nil || *iv.OwnerID != f.ownerID || iv.OwnerSource != steward.OwnerExplicit {
			t.Errorf("identity owner = %v (%q), want Ada, explicit", iv.OwnerID, iv.OwnerSource)
		}
	})

	t.Run("team inactive moves to the owner's team", func(t *testing.T) {
		t.Parallel()
		f := MustFixture(t)
		session := f.MustSignIn(t)
		ctx := steward.WithActor(context.Background(), "system:test")
		// A team with a manager (Ada) and nobody in it, owning an identity
		// owned by Grace: only its team is a gap.
		ghost := &steward.Team{Name: "ghost", DisplayName: "Ghost", ManagerID: ptr(f.ownerID)}
		if err := f.Store.CreateTeam(ctx, ghost); err != nil {
			t.Fatal(err)
		}
		ident := &steward.Identity{SystemID: 3, ExternalID: "ghost-sa", Name: "ghost-sa", Kind: steward.KindServiceAccount,
			Environment: steward.EnvDev, Criticality: steward.LevelLow, OwnerID: ptr(f.graceID), TeamID: &ghost.ID, Status: steward.IdentityActive}
		if err := f.Store.CreateIdentity(ctx, ident); err != nil {
			t.Fatal(err)
		}
		view := "/ownership?team=ghost"
		_, body := f.Do(t, http.MethodGet, view, session, nil)
		if !strings.Contains(body, "Assign to Ada Lovelace (payments-platform)</button>") || !strings.Contains(body, `name="team" value="payments-platform"`) {
			t.Fatalf("want a one-click move to Ada and her team; body:\n%s", body)
		}
		res, _ := f.Do(t, http.MethodPost, "/identities/"+strconv.FormatInt(ident.ID, 10)+"/owner", session, url.Values{
			"owner": {"ada"}, "team": {"payments-platform"}, "next": {view},
		})
		if _, body := f.Follow(t, res, session); len(gapRows(body)) != 0 {
			t.Errorf("the gap is still listed; body:\n%s", body)
		}
		if gaps := f.MustGaps(t, steward.GapFilter{TeamID: ghost.ID}); len(gaps) != 0 {
			t.Errorf("store still lists gaps of ghost: %+v", gaps)
		}
	})

	t.Run("no team", func(t *testing.T) {
		t.Parallel()
		f := MustFixture(t)
		session := f.MustSignIn(t)
		ctx := steward.WithActor(context.Background(), "system:test")
		ident := &steward.Identity{SystemID: 3, ExternalID: "stray", Name: "stray-key", Kind: steward.KindAPIKey,
			Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive}
		if err := f.Store.CreateIdentity(ctx, ident); err != nil {
			t.Fatal(err)
		}
		_, body := f.Do(t, http.MethodGet, "/ownership?noteam=1", session, nil)
		if !strings.Contains(body, `<tbody class="group" id="no-team">`) || !strings.Contains(body, `No team <span class="muted small">· 1 on this page · <a href="/ownership?noteam=1">only these</a>`) ||
			!slices.Equal(gapRows(body), []string{strconv.FormatInt(ident.ID, 10)}) {
			t.Errorf("want stray-key alone in the No team group; body:\n%s", body)
		}
	})
}

func TestOwnerForm(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)

	_, body := f.Do(t, http.MethodGet, "/identities/4", session, nil)
	for _, want := range []string{
		`<form method="post" action="/identities/4/owner" class="inline-form" id="owner-form">`,
		// people and teams are typed by name, with a labelled type-ahead
		`<label for="owner-name">Owner</label>`,
		`<input id="owner-name" name="owner" value="" list="owner-list" data-suggest="owner"`,
		`<option value="ada@example.test" label="Ada Lovelace · payments-platform"></option>`, // the team's manager
		`<option value="grace@example.test" label="Grace Hopper · ledger"></option>`,          // its member
		`<label for="team-name">Team</label>`,
		`<input id="team-name" name="team" value="ledger" list="team-list" data-suggest="team"`,
		`<a class="badge badge-warn" href="/ownership?gap=unowned">unowned</a>`,
		"Clear (hand back to rules)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("identity page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="attest-form"`) {
		t.Error("an unowned identity has nobody to attest it")
	}
	if strings.Contains(body, "Charles Babbage") {
		t.Error("a departed person is offered as a likely owner")
	}

	// Grace takes it, named by her login: the gap closes and the page
	// says who and how.
	res, _ := f.Do(t, http.MethodPost, "/identities/4/owner", session, url.Values{"owner": {"grace"}, "team": {"ledger"}, "next": {"/identities/4"}})
	_, body = f.Follow(t, res, session)
	for _, want := range []string{
		"Assigned ledger-export-bot to Grace Hopper, team ledger.",
		`<dd id="owner-source">owner: set by hand; team: set by hand</dd>`,
		`<dd id="open-gaps"><span class="muted">none</span></dd>`,
		`name="owner" value="grace@example.test"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("after set-owner the page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="attest-form"`) {
		t.Error("the admin, Ada, is offered to attest Grace's identity: only Grace may")
	}
	if gaps := f.MustGaps(t, steward.GapFilter{TeamID: f.teamLed}); len(gaps) != 0 {
		t.Errorf("gaps remain: %+v", gaps)
	}

	// An owner alone brings the owner's team, and the page says so.
	res, _ = f.Do(t, http.MethodPost, "/identities/4/owner", session, url.Values{"owner": {"grace"}, "next": {"/identities/4"}})
	_, body = f.Follow(t, res, session)
	for _, want := range []string{
		"Assigned ledger-export-bot to Grace Hopper, team ledger (the owner&#39;s team).",
		`<dd id="owner-source">owner: set by hand; team: the owner&#39;s team</dd>`,
		// The team field is left empty, which keeps it following the owner.
		`<input id="team-name" name="team" value="" list="team-list"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("after set-owner without a team the page lacks %q", want)
		}
	}

	// By email and by full name, any case; an empty team is the owner's.
	ada, err := f.Store.Person(context.Background(), f.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"ADA@example.test", "ada lovelace"} {
		res, _ = f.Do(t, http.MethodPost, "/identities/4/owner", session, url.Values{"owner": {owner}, "team": {""}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("owner %q: status %d", owner, res.StatusCode)
		}
		if iv := f.MustIdentity(t, idLedger); iv.OwnerID == nil || *iv.OwnerID != f.ownerID || iv.TeamID == nil || ada.TeamID == nil || *iv.TeamID != *ada.TeamID {
			t.Errorf("owner %q: owner=%v team=%v, want Ada and her team %v", owner, iv.OwnerID, iv.TeamID, ada.TeamID)
		}
	}

	// Clearing hands it back to rules; with none, it is unowned again.
	res, _ = f.Do(t, http.MethodPost, "/identities/4/owner", session, url.Values{"clear": {"1"}, "owner": {"grace"}, "team": {"ledger"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/identities/4" {
		t.Fatalf("clear: status %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = f.Follow(t, res, session)
	for _, want := range []string{"Cleared the owner and team of ledger-export-bot", `<dd id="owner-source">none</dd>`, "No person is accountable", ">unowned</a>"} {
		if !strings.Contains(body, want) {
			t.Errorf("after clear the page lacks %q", want)
		}
	}
	iv := f.MustIdentity(t, idLedger)
	if iv.OwnerID != nil || iv.TeamID != nil || iv.OwnerSource != steward.OwnerNone {
		t.Errorf("after clear owner=%v team=%v source=%q, want all cleared", iv.OwnerID, iv.TeamID, iv.OwnerSource)
	}

	// Two people of one name: the name alone is not enough.
	ctx := steward.WithActor(context.Background(), "system:test")
	if err := f.Store.CreatePerson(ctx, &steward.Person{ExternalID: "ada2", Name: "Ada Lovelace", Email: "ada.l@example.test", Status: steward.PersonActive}); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name string
		form url.Values
		want string
	}{
		{"unknown person", url.Values{"owner": {"nobody@example.test"}}, "Owner: no person has the email, external id or name “nobody@example.test”"},
		{"a person id is not a name", url.Values{"owner": {"1"}}, "Owner: no person has the email, external id or name “1”"},
		{"a shared name", url.Values{"owner": {"Ada Lovelace"}}, "Owner “Ada Lovelace” names 2 people: Ada Lovelace (ada), Ada Lovelace (ada2)"},
		{"unknown team", url.Values{"owner": {"ada"}, "team": {"ledgers"}}, "Team: no team is named “ledgers”"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res, body := f.Do(t, http.MethodPost, "/identities/1/owner", session, tt.form)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body:\n%s", res.StatusCode, body)
			}
			if !strings.Contains(body, `<p class="alert" role="alert" id="owner-error">`+html.EscapeString(tt.want)) || !strings.Contains(body, `id="owner-form"`) {
				t.Errorf("the identity page should come back with %q beside the form; body:\n%s", tt.want, body)
			}
			if !strings.Contains(body, `name="owner" value="`+html.EscapeString(tt.form.Get("owner"))+`"`) {
				t.Error("the refused form should show what was typed")
			}
			if iv := f.MustIdentity(t, idDeployer); iv.OwnerID == nil || *iv.OwnerID != f.ownerID {
				t.Errorf("a refused form changed the owner to %v", iv.OwnerID)
			}
		})
	}

	pages := []struct {
		name, path string
		status     int
		want       string
	}{
		{"unknown identity", "/identities/9999/owner", http.StatusNotFound, "There is no identity 9999"},
		{"bad identity id", "/identities/abc/owner", http.StatusBadRequest, "is not an identity id"},
		{"attest unknown identity", "/identities/9999/attest", http.StatusNotFound, "There is no identity 9999"},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			res, body := f.Do(t, http.MethodPost, tt.path, session, url.Values{"owner": {"ada"}, "person": {"ada"}})
			if res.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("status %d, want %d with %q; body:\n%s", res.StatusCode, tt.status, tt.want, body)
			}
		})
	}
}

func TestAttest(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t) // Ada's own token: she owns identity 1

	_, body := f.Do(t, http.MethodGet, "/identities/1", session, nil)
	if strings.Contains(body, `name="person"`) || !strings.Contains(body, "Attest as Ada Lovelace</button>") {
		t.Errorf("the attest form should attest as the signed-in owner, without naming anyone; body:\n%s", body)
	}
	grace := f.MustSignInWith(t, f.MustTokenFor(t, "grace", steward.RoleAdmin, f.graceID))
	_, body = f.Do(t, http.MethodGet, "/identities/1", grace, nil)
	if strings.Contains(body, `id="attest-form"`) || !strings.Contains(body, `id="owner-form"`) {
		t.Errorf("an admin who is not the owner sets owners but does not attest; body:\n%s", body)
	}

	bad := []struct {
		name    string
		session string
		id      int
		form    url.Values
		status  int
		want    string
	}{
		{"an admin, not the owner", grace, idDeployer, url.Values{"note": {"mine now"}}, http.StatusForbidden, "not even an admin"},
		{"a person named in the form is ignored", grace, idDeployer, url.Values{"person": {"ada"}, "note": {"mine now"}}, http.StatusForbidden, "not even an admin"},
		{"unowned", session, idLedger, url.Values{}, http.StatusForbidden, "Only the identity's owner may attest it"},
		{"note too long", session, idDeployer, url.Values{"note": {strings.Repeat("n", 3000)}}, http.StatusBadRequest, "note is 3000 bytes"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res, body := f.Do(t, http.MethodPost, "/identities/"+strconv.Itoa(tt.id)+"/attest", tt.session, tt.form)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body:\n%s", res.StatusCode, tt.status, body)
			}
			if !strings.Contains(body, html.EscapeString(tt.want)) {
				t.Errorf("page should explain %q; body:\n%s", tt.want, body)
			}
		})
	}
	if iv := f.MustIdentity(t, idDeployer); iv.AttestedAt != nil {
		t.Fatalf("a refused attestation was recorded at %v", iv.AttestedAt)
	}

	res, body := f.Do(t, http.MethodPost, "/identities/1/attest", session, url.Values{"note": {"still deploys payments-api"}, "next": {"/identities/1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("attest: status %d; body:\n%s", res.StatusCode, body)
	}
	_, body = f.Follow(t, res, session)
	for _, want := range []string{
		"Ada Lovelace attested payments-api-deployer on 2026-06-01: theirs and still needed.",
		`<dd id="attested"><time datetime="2026-06-01T12:00:00Z">just now</time> <span class="muted small">2026-06-01 12:00 UTC</span> by <a href="/people/1">Ada Lovelace</a></dd>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("after attesting the page lacks %q", want)
		}
	}
	iv := f.MustIdentity(t, idDeployer)
	if iv.AttestedAt == nil || !iv.AttestedAt.Equal(now) || iv.AttestedBy == nil || *iv.AttestedBy != f.ownerID {
		t.Errorf("attested at %v by %v, want now by Ada", iv.AttestedAt, iv.AttestedBy)
	}
}

func TestViewerCannotChangeOwnership(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	viewer := f.MustSignInWith(t, f.MustToken(t, "vera", steward.RoleAuditor))
	for _, tt := range []struct {
		path string
		form url.Values
	}{
		{"/identities/4/owner", url.Values{"owner": {"ada"}, "team": {"ledger"}}},
		{"/identities/1/owner", url.Values{"clear": {"1"}}},
		{"/identities/1/attest", url.Values{"note": {"mine"}}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			res, body := f.Do(t, http.MethodPost, tt.path, viewer, tt.form)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Not allowed") || !strings.Contains(body, "writes nothing") || !strings.Contains(body, "vera") {
				t.Errorf("status %d, want a 403 page that names the viewer token; body:\n%s", res.StatusCode, body)
			}
		})
	}
	if iv := f.MustIdentity(t, idLedger); iv.OwnerID != nil {
		t.Error("a viewer's POST assigned an owner")
	}
	if iv := f.MustIdentity(t, idDeployer); iv.OwnerID == nil || iv.AttestedAt != nil {
		t.Error("a viewer's POST changed identity 1")
	}
	_, body := f.Do(t, http.MethodGet, "/identities/1", viewer, nil)
	if strings.Contains(body, `id="owner-form"`) || strings.Contains(body, `id="attest-form"`) || !strings.Contains(body, "Only an admin or a member of the owning team can change the owner") {
		t.Errorf("a viewer should see ownership without forms; body:\n%s", body)
	}

	t.Run("cross-site POST", func(t *testing.T) {
		admin := f.MustSignIn(t)
		r := newRequest(http.MethodPost, "/identities/4/owner", admin)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if res, _ := serve(f.Handler, r); res.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", res.StatusCode)
		}
	})
}

func TestInventoryGapFilter(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	every3 := func(i int) bool { return i%3 == 0 }
	all := func(int) bool { return true }
	tests := []struct {
		name, query string
		want        []string
		inactive    int // rows with the "team inactive" badge
	}{
		{"owner departed", "gap=owner_departed", []string{"2"}, 0},
		{"unowned", "gap=unowned", append([]string{"4"}, f.fillerIDs(every3)...), len(f.fillerIDs(every3))},
		{"team inactive", "gap=team_inactive&limit=5", f.fillerIDs(all)[:5], 5},
		{"with other filters", "team=data-infra&gap=unowned&limit=4", f.fillerIDs(every3)[:4], 4},
		{"badge without the filter", "team=data-infra&limit=6", f.fillerIDs(all)[:6], 6},
		{"no inactive team", "team=payments-platform", []string{"1", "2"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := f.Do(t, http.MethodGet, "/inventory?"+tt.query, session, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; body:\n%s", res.StatusCode, body)
			}
			if got := rowIDs(body); !slices.Equal(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
			if got := strings.Count(body, `<span class="badge badge-warn">team inactive</span>`); got != tt.inactive {
				t.Errorf("%d rows marked team inactive, want %d", got, tt.inactive)
			}
		})
	}
	t.Run("selected", func(t *testing.T) {
		t.Parallel()
		_, body := f.Do(t, http.MethodGet, "/inventory?gap=owner_departed", session, nil)
		if !strings.Contains(body, `<label for="f-gap">`) || !strings.Contains(body, `<option value="owner_departed" selected>owner departed</option>`) {
			t.Error("the gap select should show the filter")
		}
	})
	t.Run("unknown gap", func(t *testing.T) {
		t.Parallel()
		res, body := f.Do(t, http.MethodGet, "/inventory?gap=lost", session, nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "gap &#34;lost&#34; is not known") {
			t.Errorf("status %d; body:\n%s", res.StatusCode, body)
		}
	})
}

// TestInventorySystemSync: filtered by a system, the inventory says how
// fresh that system's rows are: never synced, last synced and with what
// outcome, or that the last sync failed, why, and when one last succeeded.
func TestInventorySystemSync(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	ctx := steward.WithActor(context.Background(), "system:test")
	page := func(query string) string {
		t.Helper()
		res, body := f.Do(t, http.MethodGet, "/inventory"+query, session, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", query, res.StatusCode)
		}
		return body
	}
	if body := page("?system=aws-prod-payments"); !strings.Contains(body, `id="system-sync">No sync or import of <a href="/systems/aws-prod-payments">aws-prod-payments</a> has run yet`) {
		t.Errorf("a system never synced:\n%s", body)
	}
	if body := page(""); strings.Contains(body, `id="system-sync"`) {
		t.Error("the unfiltered inventory speaks of one system's syncs")
	}
	sys := &steward.System{Name: "corp-vault", Kind: steward.SystemVault}
	if err := f.Store.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	source := func(recs ...steward.Record) steward.Source {
		return steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
			return func(yield func(steward.Record, error) bool) {
				for i, r := range recs {
					r.Pos = fmt.Sprintf("vault.jsonl:%d", i+1)
					if !yield(r, nil) {
						return
					}
				}
			}
		})
	}
	approle := func() steward.Record {
		return steward.Record{Identity: &steward.SourceIdentity{ExternalID: "approle-ci", Kind: steward.KindWorkload}}
	}
	if _, err := f.Store.SyncSystem(ctx, sys.ID, source(approle()), steward.SyncOptions{Source: "vault:corp"}); err != nil {
		t.Fatal(err)
	}
	q := "?system=corp-vault"
	body := page(q)
	for _, want := range []string{`id="system-sync"><a href="/systems/corp-vault">corp-vault</a> was last synced`, "just now", "by vault:corp: ok: 1 record; identities 1 created"} {
		if !strings.Contains(body, want) {
			t.Errorf("after a sync, the page lacks %q", want)
		}
	}
	if _, err := f.Store.SyncSystem(ctx, sys.ID, source(approle(), approle()), steward.SyncOptions{Source: "vault:corp"}); !steward.IsCode(err, steward.EINVALID) {
		t.Fatalf("a sync listing one identity twice: %v", err)
	}
	body = page(q)
	for _, want := range []string{`role="alert" id="system-sync">The last sync of <a href="/systems/corp-vault">corp-vault</a> (vault:corp,`, "failed: ",
		"vault.jsonl:2", "listed more than once", "as of the last one that succeeded"} {
		if !strings.Contains(body, want) {
			t.Errorf("after a failed sync, the page lacks %q:\n%s", want, body)
		}
	}
	if rows := rowIDs(body); len(rows) != 1 {
		t.Errorf("the failed sync changed the inventory: rows %v", rows)
	}
}
