package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
)

// TestMemberSeesWhatTheAPIShows signs a member in to the web UI and asks
// the API, served on the same store, the same questions with the same
// token: the inventory, its export and the directory pages list the
// identities the API lists them, an identity the API refuses (403) the UI
// refuses too, and the evidence the API keeps from members (gaps, grants,
// the audit log) the UI does not show. With members_see_all both show
// every identity.
func TestMemberSeesWhatTheAPIShows(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	// Grace is of the team ledger and owns nothing: she sees ledger's
	// ledger-export-bot and nothing of Ada's.
	token := f.MustTokenFor(t, "grace", steward.RoleMember, f.graceID)
	// Ada's own login, a human identity of her team: her person page lists
	// it among her accounts, which Grace may not see either.
	login := &steward.Identity{SystemID: f.sysProd, ExternalID: "arn:aws:iam::123456789012:user/ada", Name: "ada", Kind: steward.KindHuman,
		Environment: steward.EnvProd, Criticality: steward.LevelMedium, OwnerID: &f.ownerID, TeamID: &f.teamPay, Status: steward.IdentityActive}
	if err := f.Store.CreateIdentity(steward.WithActor(context.Background(), "system:test"), login); err != nil {
		t.Fatal(err)
	}
	loginLink := `href="/identities/` + strconv.FormatInt(login.ID, 10) + `"`

	for _, seeAll := range []bool{false, true} {
		t.Run("members_see_all="+strconv.FormatBool(seeAll), func(t *testing.T) {
			f := *f
			f.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}, MembersSeeAll: seeAll}).Handler()
			api := httptest.NewServer((&stewardhttp.Server{Store: f.Store, MembersSeeAll: seeAll}).Handler())
			defer api.Close()
			session := f.MustSignInWith(t, token)

			// The API's list, every page of it.
			var apiIDs []string
			for after := ""; ; {
				var page steward.Page[steward.IdentityView]
				if code := apiGet(t, api.URL+"/api/v1/identities?limit=500&after="+after, token, &page); code != 200 {
					t.Fatalf("API identities: %d", code)
				}
				for _, iv := range page.Items {
					apiIDs = append(apiIDs, strconv.FormatInt(iv.ID, 10))
				}
				if after = page.Next; after == "" {
					break
				}
			}
			want := []string{strconv.Itoa(idLedger)}
			if seeAll {
				want = nil
				for _, id := range []int{idDeployer, idLegacy, idOrphan, idLedger} {
					want = append(want, strconv.Itoa(id))
				}
				for i := range f.Fillers {
					want = append(want, strconv.Itoa(100+i))
				}
				want = append(want, strconv.FormatInt(login.ID, 10))
			}
			if !slices.Equal(apiIDs, want) {
				t.Fatalf("the API lists %v; want %v", apiIDs, want)
			}

			// The inventory, page after page, lists the same.
			var webIDs []string
			for target := "/inventory?limit=500"; target != ""; {
				res, body := f.Do(t, http.MethodGet, target, session, nil)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("inventory: %d\n%s", res.StatusCode, body)
				}
				webIDs = append(webIDs, rowIDs(body)...)
				target = nextLink(body)
			}
			if !slices.Equal(webIDs, apiIDs) {
				t.Errorf("the inventory lists %v; the API %v", webIDs, apiIDs)
			}
			// And its count says so.
			res, body := f.Do(t, http.MethodGet, "/inventory", session, nil)
			if total := strconv.Itoa(len(want)) + " identit"; res.StatusCode != 200 || !strings.Contains(body, `<span id="total">`+total) {
				t.Errorf("inventory total: want %q in\n%.3000s", total, body)
			}

			// The export.
			res, body = f.Do(t, http.MethodGet, "/inventory.csv", session, nil)
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if res.StatusCode != 200 || err != nil || len(rows) != len(want)+1 {
				t.Errorf("inventory.csv: %d, %v, %d rows; want %d and a header\n%.2000s", res.StatusCode, err, len(rows), len(want), body)
			}

			// An identity: the UI answers as the API does.
			for _, id := range []int{idDeployer, idLedger, idLegacy} {
				path := "/identities/" + strconv.Itoa(id)
				apiCode := apiGet(t, api.URL+"/api/v1"+path, token, nil)
				res, body := f.Do(t, http.MethodGet, path, session, nil)
				if res.StatusCode != apiCode {
					t.Errorf("%s: the UI answers %d, the API %d\n%.2000s", path, res.StatusCode, apiCode, body)
				}
				if mine := id == idLedger; !seeAll && (apiCode == 200) != mine {
					t.Errorf("%s: the API answers %d to a member", path, apiCode)
				}
			}

			// The directory: Ada's page and her team's list only what the
			// member may see of them; ledger's lists its identity.
			deployer := "payments-api-deployer"
			for _, page := range []string{"/people/1", "/teams/payments-platform"} {
				res, body := f.Do(t, http.MethodGet, page, session, nil)
				if res.StatusCode != 200 || strings.Contains(body, deployer) != seeAll {
					t.Errorf("%s: %d, shows %s: %v; want %v", page, res.StatusCode, deployer, strings.Contains(body, deployer), seeAll)
				}
				if strings.Contains(body, loginLink) != seeAll {
					t.Errorf("%s shows Ada's login: %v; want %v", page, strings.Contains(body, loginLink), seeAll)
				}
			}
			res, body = f.Do(t, http.MethodGet, "/teams/ledger", session, nil)
			if res.StatusCode != 200 || !strings.Contains(body, "ledger-export-bot") {
				t.Errorf("/teams/ledger: %d, without its identity\n%.3000s", res.StatusCode, body)
			}

			// Evidence is for auditors and admins, in the UI as in the API.
			if strings.Contains(body, `id="gaps-section"`) || strings.Contains(body, `id="history"`) {
				t.Errorf("/teams/ledger shows a member its gaps or audit history")
			}
			res, body = f.Do(t, http.MethodGet, "/identities/"+strconv.Itoa(idLedger), session, nil)
			if res.StatusCode != 200 || !strings.Contains(body, `id="grants-hidden"`) {
				t.Errorf("the identity page shows a member its grants: %d", res.StatusCode)
			}
			for _, page := range []struct{ web, api string }{{"/ownership", "/api/v1/gaps"}, {"/audit", "/api/v1/events"}} {
				apiCode := apiGet(t, api.URL+page.api, token, nil)
				res, body := f.Do(t, http.MethodGet, page.web, session, nil)
				if apiCode != 403 || res.StatusCode != apiCode {
					t.Errorf("%s: the UI answers %d, the API (%s) %d\n%.1000s", page.web, res.StatusCode, page.api, apiCode, body)
				}
				if strings.Contains(body, `href="`+page.web+`"`) {
					t.Errorf("%s: the navigation links a member to it", page.web)
				}
			}
		})
	}

	// An admin sees all of it: the evidence is there for them.
	admin := f.MustSignIn(t)
	for _, page := range []string{"/ownership", "/audit", "/identities/" + strconv.Itoa(idDeployer)} {
		res, body := f.Do(t, http.MethodGet, page, admin, nil)
		if res.StatusCode != 200 || (strings.HasPrefix(page, "/identities/") && !strings.Contains(body, "AdministratorAccess")) {
			t.Errorf("admin %s: %d", page, res.StatusCode)
		}
	}
}

// apiGet calls the API with a bearer token, decodes a 200's body into out
// (when set) and returns the status.
func apiGet(t *testing.T, target, token string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
	}
	return res.StatusCode
}
