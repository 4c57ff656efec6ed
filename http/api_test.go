package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
)

// TestErrorStatus holds the API to the domain's one error table, and the
// document's list of error codes to the table's codes.
func TestErrorStatus(t *testing.T) {
	t.Parallel()
	var codes []string
	for _, c := range steward.ErrorTable {
		codes = append(codes, c.Code)
		if got := stewardhttp.ErrorStatus(c.Code); got != c.HTTPStatus {
			t.Errorf("ErrorStatus(%q) = %d, want %d", c.Code, got, c.HTTPStatus)
		}
		if got := stewardhttp.StatusErrorCode(c.HTTPStatus); got != c.Code {
			t.Errorf("StatusErrorCode(%d) = %q, want %q", c.HTTPStatus, got, c.Code)
		}
	}
	if got := stewardhttp.ErrorStatus("no-such-code"); got != 500 {
		t.Errorf("an unknown code answers %d, want 500", got)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	slices.Sort(codes)
	slices.Sort(documented)
	if !slices.Equal(codes, documented) {
		t.Errorf("openapi.json lists error codes %v; the error table has %v", documented, codes)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	revoked := MustCreateToken(t, ts.Store, "revoked", steward.RoleAdmin)
	tokens, err := ts.Store.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if tok.Name == "revoked" {
			if err := ts.Store.RevokeToken(context.Background(), tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	unknown, _ := steward.NewSecret(steward.TokenPrefix)
	team := `{"name":"auth-team"}`

	for _, tt := range []struct {
		name   string
		req    request
		status int
	}{
		{"no token", request{Target: "/api/v1/identities", OutsideDocument: true}, 401},
		{"not bearer", request{Target: "/api/v1/identities", Header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}, OutsideDocument: true}, 401},
		{"bearer without token", request{Target: "/api/v1/identities", Header: map[string]string{"Authorization": "Bearer "}}, 401},
		{"malformed token", request{Target: "/api/v1/identities", Token: "hunter2"}, 401},
		{"unknown token", request{Target: "/api/v1/identities", Token: unknown}, 401},
		{"revoked token", request{Target: "/api/v1/identities", Token: revoked}, 401},
		{"no token on create", request{Method: "POST", Target: "/api/v1/teams", Body: team, OutsideDocument: true}, 401},
		{"viewer reads", request{Target: "/api/v1/identities", Token: ts.Viewer}, 200},
		{"viewer creates", request{Method: "POST", Target: "/api/v1/teams", Token: ts.Viewer, Body: team}, 403},
		{"admin reads", request{Target: "/api/v1/identities", Token: ts.Admin}, 200},
		{"lower-case scheme", request{Target: "/api/v1/identities", Header: map[string]string{"Authorization": "bearer " + ts.Admin}}, 200},
		{"healthz is open", request{Target: "/healthz"}, 200},
		{"readyz is open", request{Target: "/readyz"}, 200},
		{"metrics are closed without a metrics token", request{Target: "/metrics"}, 403},
		{"openapi is open", request{Target: "/openapi.json"}, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.Do(tt.req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			switch tt.status {
			case 401:
				if e := r.Error(t); e.Code != steward.EUNAUTHORIZED {
					t.Errorf("code = %q", e.Code)
				}
				if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want Bearer", h)
				}
			case 403:
				if e := r.Error(t); e.Code != steward.EFORBIDDEN {
					t.Errorf("code = %q", e.Code)
				}
			}
		})
	}

	t.Run("admin creates and is the actor", func(t *testing.T) {
		r := ts.Post("/api/v1/teams", team)
		if r.Status != 201 {
			t.Fatalf("status = %d: %s", r.Status, r.Body)
		}
		var created steward.Team
		r.Decode(t, &created)
		r = ts.Get("/api/v1/events?object_type=team&object_id=" + strconv.FormatInt(created.ID, 10))
		var page steward.Page[steward.Event]
		r.Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].Actor != "person:admin@tokens.test" || page.Items[0].Via != "token:admin" {
			t.Errorf("events = %+v, want one by the admin token's person, via token:admin", page.Items)
		}
	})
	t.Run("token never logged", func(t *testing.T) {
		if logs := ts.Logs.String(); strings.Contains(logs, ts.Admin) || strings.Contains(logs, ts.Viewer) || strings.Contains(logs, "YWRtaW46") {
			t.Errorf("a secret reached the log:\n%s", logs)
		}
	})
}

// seeded is a small inventory with one of everything and enough variety
// for every filter to select something and leave something out.
type seeded struct {
	platform, payments *steward.Team
	alice, bob, carol  *steward.Person
	aws, k8s           *steward.System
	ci, key, human     *steward.Identity
	orphan             *steward.Identity // an active bot without owner: an ownership gap
	cred               *steward.Credential
	admin, read        *steward.Entitlement
	grant, jit         *steward.Grant
}

func seed(ts *testServer) *seeded {
	ts.tb.Helper()
	f := ts.F
	s := &seeded{}
	s.platform = f.Team(func(t *steward.Team) { t.Name = "platform" })
	s.payments = f.Team(func(t *steward.Team) { t.Name = "payments" })
	s.alice = f.Person(func(p *steward.Person) { p.Name = "Alice Archer"; p.TeamID = &s.platform.ID })
	s.bob = f.Person(func(p *steward.Person) {
		p.Name = "Bob Baker"
		p.TeamID, p.ManagerID = &s.platform.ID, &s.alice.ID
	})
	departed := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.carol = f.Person(func(p *steward.Person) {
		p.Name = "Carol Cole"
		p.TeamID, p.Status, p.DepartedAt = &s.payments.ID, steward.PersonDeparted, &departed
	})
	s.aws = f.System(func(x *steward.System) { x.Name = "aws-prod"; x.OwnerTeamID = &s.platform.ID })
	s.k8s = f.System(func(x *steward.System) { x.Name = "k8s-staging"; x.Kind = steward.SystemKubernetes })
	s.ci = f.Identity(func(i *steward.Identity) {
		i.Name, i.SystemID, i.OwnerID, i.TeamID = "ci-deployer", s.aws.ID, &s.bob.ID, &s.platform.ID
		i.Labels = map[string]string{"repo": "payments"}
	})
	s.key = f.Identity(func(i *steward.Identity) {
		i.Name, i.SystemID, i.Kind, i.Environment = "old-api-key", s.k8s.ID, steward.KindAPIKey, steward.EnvStaging
		i.OwnerID, i.Status = &s.carol.ID, steward.IdentityDisabled
	})
	s.human = f.Identity(func(i *steward.Identity) {
		i.Name, i.SystemID, i.Kind, i.OwnerID, i.TeamID = "alice", s.aws.ID, steward.KindHuman, &s.alice.ID, &s.platform.ID
	})
	s.orphan = f.Identity(func(i *steward.Identity) {
		i.Name, i.SystemID, i.Kind, i.Environment = "orphan-bot", s.k8s.ID, steward.KindBot, steward.EnvDev
	})
	s.cred = f.Credential(s.ci.ID, func(c *steward.Credential) {
		c.Fingerprint = steward.Fingerprint([]byte("k"), []byte("v"))
	})
	s.admin = f.Entitlement(func(e *steward.Entitlement) {
		e.Name, e.SystemID, e.Privileged, e.Sensitivity = "AdministratorAccess", s.aws.ID, true, steward.LevelCritical
	})
	s.read = f.Entitlement(func(e *steward.Entitlement) { e.Name, e.SystemID = "view", s.k8s.ID })
	s.grant = f.Grant(s.ci.ID, s.admin.ID)
	expires := time.Now().Add(time.Hour)
	s.jit = f.Grant(s.key.ID, s.read.ID, func(g *steward.Grant) { g.Type, g.ExpiresAt = steward.GrantJIT, &expires })
	return s
}

func TestGet(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	for _, tt := range []struct {
		collection string
		id         int64
	}{
		{"teams", s.platform.ID},
		{"people", s.bob.ID},
		{"systems", s.aws.ID},
		{"identities", s.ci.ID},
		{"entitlements", s.admin.ID},
	} {
		t.Run(tt.collection, func(t *testing.T) {
			t.Parallel()
			r := ts.Get(fmt.Sprintf("/api/v1/%s/%d", tt.collection, tt.id))
			if r.Status != 200 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			var got struct{ ID int64 }
			r.Decode(t, &got)
			if got.ID != tt.id {
				t.Errorf("id = %d, want %d", got.ID, tt.id)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}

			r = ts.Get(fmt.Sprintf("/api/v1/%s/%d", tt.collection, 1<<40))
			if r.Status != 404 || r.Error(t).Code != steward.ENOTFOUND {
				t.Errorf("missing: status = %d: %s", r.Status, r.Body)
			}
			for _, bad := range []string{"abc", "-1", "0", "1.5", "0x10", "99999999999999999999", "%20", "1e3"} {
				// The document's validator reads 1e3 as the integer 1000;
				// the server, like the generated client, does not.
				r := ts.Do(request{Target: fmt.Sprintf("/api/v1/%s/%s", tt.collection, bad), Token: ts.Admin, OutsideDocument: bad != "1e3"})
				if r.Status != 400 || r.Error(t).Code != steward.EINVALID {
					t.Errorf("id %q: status = %d, want 400: %s", bad, r.Status, r.Body)
				}
			}
		})
	}

	t.Run("identity view has names", func(t *testing.T) {
		t.Parallel()
		var v steward.IdentityView
		ts.Get(fmt.Sprintf("/api/v1/identities/%d", s.ci.ID)).Decode(t, &v)
		if v.SystemName != "aws-prod" || v.OwnerName != "Bob Baker" || v.TeamName != "platform" || v.Labels["repo"] != "payments" {
			t.Errorf("view = %+v", v)
		}
	})
	t.Run("credentials", func(t *testing.T) {
		t.Parallel()
		r := ts.Get(fmt.Sprintf("/api/v1/identities/%d/credentials", s.ci.ID))
		var page steward.Page[steward.Credential]
		r.Decode(t, &page)
		if r.Status != 200 || len(page.Items) != 1 || page.Items[0].ID != s.cred.ID || page.Items[0].Fingerprint != s.cred.Fingerprint {
			t.Errorf("status %d, credentials = %+v", r.Status, page.Items)
		}
		r = ts.Get(fmt.Sprintf("/api/v1/identities/%d/credentials", s.human.ID))
		if r.Status != 200 || string(r.Body) != "{\"items\":[]}\n" {
			t.Errorf("no credentials: status %d, body %s", r.Status, r.Body)
		}
		for target, status := range map[string]int{
			"/api/v1/identities/999999/credentials":                              404,
			"/api/v1/identities/x/credentials":                                   400,
			fmt.Sprintf("/api/v1/identities/%d/credentials?limit=5", s.ci.ID):    400,
			fmt.Sprintf("/api/v1/identities/%d/credentials?kind=token", s.ci.ID): 400,
		} {
			// Only the missing identity is a request the document allows.
			if r := ts.Do(request{Target: target, Token: ts.Admin, OutsideDocument: status != 404}); r.Status != status {
				t.Errorf("%s: status = %d, want %d: %s", target, r.Status, status, r.Body)
			}
		}
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, tt := range []struct {
		name   string
		target string
		want   []int64
	}{
		{"teams", "/api/v1/teams", []int64{s.platform.ID, s.payments.ID}},
		{"teams q", "/api/v1/teams?q=PAY", []int64{s.payments.ID}},
		{"people", "/api/v1/people", append(ts.TokenPeople(t), s.alice.ID, s.bob.ID, s.carol.ID)},
		{"people team_id", "/api/v1/people?team_id=" + id(s.platform.ID), []int64{s.alice.ID, s.bob.ID}},
		{"people manager_id", "/api/v1/people?manager_id=" + id(s.alice.ID), []int64{s.bob.ID}},
		{"people status", "/api/v1/people?status=departed", []int64{s.carol.ID}},
		{"people q", "/api/v1/people?q=baker", []int64{s.bob.ID}},
		{"systems", "/api/v1/systems", []int64{s.aws.ID, s.k8s.ID}},
		{"systems kind", "/api/v1/systems?kind=kubernetes", []int64{s.k8s.ID}},
		{"systems q", "/api/v1/systems?q=aws", []int64{s.aws.ID}},
		{"identities", "/api/v1/identities", []int64{s.ci.ID, s.key.ID, s.human.ID, s.orphan.ID}},
		{"identities kind", "/api/v1/identities?kind=api_key", []int64{s.key.ID}},
		{"identities system_id", "/api/v1/identities?system_id=" + id(s.aws.ID), []int64{s.ci.ID, s.human.ID}},
		{"identities owner_id", "/api/v1/identities?owner_id=" + id(s.bob.ID), []int64{s.ci.ID}},
		{"identities team_id", "/api/v1/identities?team_id=" + id(s.platform.ID), []int64{s.ci.ID, s.human.ID}},
		{"identities environment", "/api/v1/identities?environment=staging", []int64{s.key.ID}},
		{"identities status", "/api/v1/identities?status=disabled", []int64{s.key.ID}},
		{"identities q", "/api/v1/identities?q=deploy", []int64{s.ci.ID}},
		{"identities combined", "/api/v1/identities?system_id=" + id(s.aws.ID) + "&kind=human", []int64{s.human.ID}},
		{"identities empty filter value", "/api/v1/identities?kind=&q=", []int64{s.ci.ID, s.key.ID, s.human.ID, s.orphan.ID}},
		{"identities gap", "/api/v1/identities?gap=unowned", []int64{s.orphan.ID}},
		{"identities nothing", "/api/v1/identities?q=no-such-thing", []int64{}},
		{"entitlements", "/api/v1/entitlements", []int64{s.admin.ID, s.read.ID}},
		{"entitlements system_id", "/api/v1/entitlements?system_id=" + id(s.k8s.ID), []int64{s.read.ID}},
		{"entitlements privileged", "/api/v1/entitlements?privileged=true", []int64{s.admin.ID}},
		{"entitlements unprivileged", "/api/v1/entitlements?privileged=false", []int64{s.read.ID}},
		{"entitlements q", "/api/v1/entitlements?q=administrator", []int64{s.admin.ID}},
		{"grants", "/api/v1/grants", []int64{s.grant.ID, s.jit.ID}},
		{"grants identity_id", "/api/v1/grants?identity_id=" + id(s.ci.ID), []int64{s.grant.ID}},
		{"grants entitlement_id", "/api/v1/grants?entitlement_id=" + id(s.read.ID), []int64{s.jit.ID}},
		{"grants type", "/api/v1/grants?type=jit", []int64{s.jit.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// An empty value is a leniency of the server (HTML forms send
			// them) that the document does not describe.
			r := ts.Do(request{Target: tt.target, Token: ts.Admin, OutsideDocument: tt.name == "identities empty filter value"})
			if r.Status != 200 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			if got := ids(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("grant view", func(t *testing.T) {
		t.Parallel()
		var page steward.Page[steward.GrantView]
		ts.Get("/api/v1/grants?identity_id="+id(s.ci.ID)).Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].EntitlementName != "AdministratorAccess" || !page.Items[0].Privileged || page.Items[0].SystemID != s.aws.ID {
			t.Errorf("grants = %+v", page.Items)
		}
	})
	t.Run("events", func(t *testing.T) {
		t.Parallel()
		var page steward.Page[steward.Event]
		ts.Get("/api/v1/events?action=identity.created&object_id="+id(s.key.ID)).Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].ObjectType != "identity" || page.Items[0].Actor != "system:fixture" {
			t.Errorf("events = %+v", page.Items)
		}
		ts.Get("/api/v1/events?actor=system:fixture&object_type=grant").Decode(t, &page)
		if len(page.Items) != 2 {
			t.Errorf("grant events = %+v", page.Items)
		}
	})
}

// walk follows next cursors from target to the last page and returns every
// id in order, failing on a page over limit.
func walk(t *testing.T, ts *testServer, target string, limit int) []int64 {
	t.Helper()
	var all []int64
	after := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		u, _ := url.Parse(target)
		q := u.Query()
		q.Set("limit", strconv.Itoa(limit))
		if after != "" {
			q.Set("after", after)
		}
		u.RawQuery = q.Encode()
		r := ts.Get(u.String())
		if r.Status != 200 {
			t.Fatalf("%s: status %d: %s", u, r.Status, r.Body)
		}
		var page steward.Page[struct {
			ID  int64 `json:"id"`
			Seq int64 `json:"seq"`
		}]
		r.Decode(t, &page)
		if len(page.Items) > limit {
			t.Fatalf("page of %d items over limit %d", len(page.Items), limit)
		}
		for _, it := range page.Items {
			all = append(all, it.ID+it.Seq)
		}
		if page.Next == "" {
			return all
		}
		after = page.Next
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	var want, wantKeys []int64
	for i := range 23 {
		kind := steward.KindServiceAccount
		if i%3 == 0 {
			kind = steward.KindAPIKey
		}
		id := ts.F.Identity(func(x *steward.Identity) { x.Kind = kind }).ID
		want = append(want, id)
		if kind == steward.KindAPIKey {
			wantKeys = append(wantKeys, id)
		}
	}
	for _, tt := range []struct {
		name   string
		target string
		limit  int
		want   []int64
	}{
		{"one page", "/api/v1/identities", 1000, want},
		{"pages of 5", "/api/v1/identities", 5, want},
		{"pages of 1", "/api/v1/identities", 1, want},
		{"exact fit", "/api/v1/identities", 23, want},
		{"filtered", "/api/v1/identities?kind=api_key", 2, wantKeys},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := walk(t, ts, tt.target, tt.limit)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v (no duplicates, none missing, in id order)", got, tt.want)
			}
		})
	}
	t.Run("events", func(t *testing.T) {
		t.Parallel()
		got := walk(t, ts, "/api/v1/events?object_type=identity", 4)
		if len(got) != 23 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != 23 {
			t.Errorf("event seqs = %v", got)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		t.Parallel()
		r := ts.Get("/api/v1/events")
		if n := len(ids(t, r)); n == 0 || n > steward.DefaultLimit {
			t.Errorf("default page has %d events", n)
		}
	})
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	fp := steward.Fingerprint([]byte("key"), []byte("secret"))
	for _, tt := range []struct {
		collection string
		body       string
	}{
		{"teams", fmt.Sprintf(`{"name":"new-team","display_name":"New Team","manager_id":%d}`, s.alice.ID)},
		{"people", fmt.Sprintf(`{"external_id":"dave","name":"Dave Dunn","email":"dave@example.com","team_id":%d,"manager_id":%d}`, s.payments.ID, s.alice.ID)},
		{"systems", fmt.Sprintf(`{"name":"github-acme","kind":"github","description":"The GitHub org","owner_team_id":%d}`, s.platform.ID)},
		{"identities", fmt.Sprintf(`{"system_id":%d,"external_id":"arn:aws:iam::1:user/deploy","name":"deploy","kind":"service_account","environment":"prod","criticality":"high","owner_id":%d,"labels":{"a":"b"},"created_at":"2024-01-02T03:04:05Z"}`, s.aws.ID, s.bob.ID)},
		{fmt.Sprintf("identities/%d/credentials", s.human.ID), fmt.Sprintf(`{"kind":"ssh_key","external_id":"SHA256:abc","created_at":"2023-05-06T07:08:09Z","fingerprint":%q}`, fp)},
		{"entitlements", fmt.Sprintf(`{"system_id":%d,"name":"ReadOnly","sensitivity":"low"}`, s.aws.ID)},
		{"grants", fmt.Sprintf(`{"identity_id":%d,"entitlement_id":%d,"type":"exception","expires_at":"2099-01-01T00:00:00Z"}`, s.human.ID, s.admin.ID)},
	} {
		t.Run(tt.collection, func(t *testing.T) {
			r := ts.Post("/api/v1/"+tt.collection, tt.body)
			if r.Status != 201 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			var got struct {
				ID        int64     `json:"id"`
				CreatedAt time.Time `json:"created_at"`
			}
			r.Decode(t, &got)
			if got.ID <= 0 {
				t.Fatalf("no id: %s", r.Body)
			}
			loc := r.Header.Get("Location")
			if loc == "" {
				t.Fatalf("no Location")
			}
			if strings.HasSuffix(tt.collection, "credentials") {
				if got.CreatedAt.Year() != 2023 {
					t.Errorf("created_at = %v, want the one sent", got.CreatedAt)
				}
				return
			}
			if r := ts.Get(loc); r.Status != 200 || (tt.collection != "grants" && !strings.Contains(string(r.Body), fmt.Sprintf(`"id":%d`, got.ID))) {
				t.Errorf("GET %s: status %d: %s", loc, r.Status, r.Body)
			}
			// The same request again breaks a uniqueness rule.
			if r := ts.Post("/api/v1/"+tt.collection, tt.body); r.Status != 409 || r.Error(t).Code != steward.ECONFLICT {
				t.Errorf("again: status = %d, want 409: %s", r.Status, r.Body)
			}
		})
	}

	for _, tt := range []struct {
		name    string
		target  string
		body    string
		status  int
		outside bool // the document refuses the request too
	}{
		{"missing reference", "/api/v1/identities", `{"system_id":999999,"external_id":"x","name":"x","kind":"bot","environment":"dev","criticality":"low"}`, 404, false},
		{"missing identity", "/api/v1/identities/999999/credentials", `{"kind":"token"}`, 404, false},
		{"breaks a rule", "/api/v1/teams", `{"name":"Not A Slug"}`, 400, true},
		{"bad enum", "/api/v1/systems", `{"name":"x","kind":"mainframe"}`, 400, true},
		{"jit without expiry", "/api/v1/grants", fmt.Sprintf(`{"identity_id":%d,"entitlement_id":%d,"type":"jit"}`, s.human.ID, s.read.ID), 400, false},
		{"zero reference", "/api/v1/people", `{"external_id":"z","name":"Z","team_id":0}`, 400, true},
		{"negative reference", "/api/v1/teams", `{"name":"neg","manager_id":-4}`, 400, true},
		{"secret value sent", fmt.Sprintf("/api/v1/identities/%d/credentials", s.human.ID), `{"kind":"password","value":"hunter2"}`, 400, true},
		{"server-side field sent", "/api/v1/teams", `{"name":"with-id","id":7}`, 400, true},
		{"bad path id", "/api/v1/identities/abc/credentials", `{"kind":"token"}`, 400, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.Do(request{Method: "POST", Target: tt.target, Token: ts.Admin, Body: tt.body, OutsideDocument: tt.outside})
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			r.Error(t)
		})
	}
	t.Run("secret not logged", func(t *testing.T) {
		if strings.Contains(ts.Logs.String(), "hunter2") {
			t.Error("a request body reached the log")
		}
	})
}

// TestClientErrors sends every kind of bad request and checks that each is
// a 4xx JSON error with the right code, never a 500.
// TestUnknownTimesDisabledKeysLinks: an identity or credential created
// without a creation time has none in the API (the field is left out, as
// the document says), not the time of the call; a credential may be
// recorded disabled; an identity's links are listed (none here), checked
// against the document like every response.
func TestUnknownTimesDisabledKeysLinks(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	r := ts.Post("/api/v1/identities", fmt.Sprintf(`{"system_id":%d,"external_id":"pg-role","name":"pg-role","kind":"service_account","environment":"prod","criticality":"medium"}`, s.aws.ID))
	if r.Status != 201 || strings.Contains(string(r.Body), `"created_at"`) {
		t.Fatalf("identity without a creation time: %d %s", r.Status, r.Body)
	}
	var made struct {
		ID int64 `json:"id"`
	}
	r.Decode(t, &made)
	if r := ts.Get(fmt.Sprintf("/api/v1/identities/%d", made.ID)); r.Status != 200 || strings.Contains(string(r.Body), `"created_at"`) {
		t.Errorf("GET the identity: %d %s; want no created_at", r.Status, r.Body)
	}
	r = ts.Post(fmt.Sprintf("/api/v1/identities/%d/credentials", made.ID), `{"kind":"access_key","external_id":"key-2","status":"disabled"}`)
	if r.Status != 201 || strings.Contains(string(r.Body), `"created_at"`) || !strings.Contains(string(r.Body), `"status":"disabled"`) {
		t.Fatalf("disabled credential without a creation time: %d %s", r.Status, r.Body)
	}
	r = ts.Get(fmt.Sprintf("/api/v1/identities/%d/credentials", made.ID))
	if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"disabled"`) || strings.Contains(string(r.Body), `"created_at"`) {
		t.Errorf("GET the credentials: %d %s", r.Status, r.Body)
	}
	if r := ts.Do(request{Method: "POST", Target: fmt.Sprintf("/api/v1/identities/%d/credentials", made.ID), Token: ts.Admin, Body: `{"kind":"access_key","status":"revoked"}`, OutsideDocument: true}); r.Status != 400 {
		t.Errorf("a credential status that does not exist: %d %s", r.Status, r.Body)
	}
	if r := ts.Get(fmt.Sprintf("/api/v1/identities/%d/links", made.ID)); r.Status != 200 || string(r.Body) != `{"items":[]}`+"\n" {
		t.Errorf("GET links: %d %q", r.Status, r.Body)
	}
	if r := ts.Get("/api/v1/identities/99999999/links"); r.Status != 404 {
		t.Errorf("links of no identity: %d %s", r.Status, r.Body)
	}
	// A service account that assumes ci-deployer, and a role nobody holds.
	ci, err := ts.Store.Identity(context.Background(), s.ci.ID)
	if err != nil {
		t.Fatal(err)
	}
	sa := &steward.SourceIdentity{ExternalID: "system:serviceaccount:ci:runner", Kind: steward.KindServiceAccount,
		Links: []steward.SourceLink{{Kind: steward.LinkAssumes, To: ci.ExternalID}, {Kind: steward.LinkAssumes, To: "arn:aws:iam::1:role/none"}}}
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) { yield(steward.Record{Identity: sa, Pos: "t:1"}, nil) }
	})
	if _, err := ts.Store.SyncSystem(context.Background(), s.k8s.ID, src, steward.SyncOptions{Source: "test", Partial: true}); err != nil {
		t.Fatal(err)
	}
	r = ts.Get(fmt.Sprintf("/api/v1/identities/%d/links", s.ci.ID))
	if r.Status != 200 || !strings.Contains(string(r.Body), fmt.Sprintf(`"to_id":%d`, s.ci.ID)) || !strings.Contains(string(r.Body), `"from_name":"system:serviceaccount:ci:runner"`) {
		t.Errorf("links of the assumed identity: %d %s", r.Status, r.Body)
	}
	var links struct {
		Items []steward.IdentityLinkView `json:"items"`
	}
	r.Decode(t, &links)
	if len(links.Items) != 1 {
		t.Fatalf("links of the assumed identity: %s", r.Body)
	}
	r = ts.Get(fmt.Sprintf("/api/v1/identities/%d/links", links.Items[0].FromID))
	r.Decode(t, &links)
	if len(links.Items) != 2 || links.Items[1].ToID != nil || links.Items[1].ToRef != "arn:aws:iam::1:role/none" {
		t.Errorf("links of the service account: %s", r.Body)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	huge := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, tt := range []struct {
		name   string
		req    request
		status int
		code   string
		msg    string // a substring of the message
	}{
		{"malformed JSON", request{Method: "POST", Target: "/api/v1/teams", Body: "{\n  \"name\": x}", OutsideDocument: true}, 400, steward.EINVALID, "line 2, column 11"},
		{"truncated JSON", request{Method: "POST", Target: "/api/v1/teams", Body: `{"name":"a"`, OutsideDocument: true}, 400, steward.EINVALID, "ends"},
		{"unknown field", request{Method: "POST", Target: "/api/v1/teams", Body: `{"name":"a","colour":"red"}`, OutsideDocument: true}, 400, steward.EINVALID, `"colour"`},
		{"wrong type", request{Method: "POST", Target: "/api/v1/teams", Body: `{"name":"a","manager_id":"seven"}`, OutsideDocument: true}, 400, steward.EINVALID, "manager_id"},
		{"id overflow in body", request{Method: "POST", Target: "/api/v1/teams", Body: `{"name":"a","manager_id":99999999999999999999}`, OutsideDocument: true}, 400, steward.EINVALID, "manager_id"},
		{"bad time", request{Method: "POST", Target: "/api/v1/grants", Body: `{"identity_id":1,"entitlement_id":1,"type":"jit","expires_at":"tomorrow"}`, OutsideDocument: true}, 400, steward.EINVALID, "RFC 3339"},
		{"trailing data", request{Method: "POST", Target: "/api/v1/teams", Body: `{"name":"a"} {"name":"b"}`, OutsideDocument: true}, 400, steward.EINVALID, "after the JSON object"},
		{"array body", request{Method: "POST", Target: "/api/v1/teams", Body: `[{"name":"a"}]`, OutsideDocument: true}, 400, steward.EINVALID, "JSON object"},
		{"empty body", request{Method: "POST", Target: "/api/v1/teams", Header: map[string]string{"Content-Type": "application/json"}, OutsideDocument: true}, 400, steward.EINVALID, "empty"},
		{"not JSON content type", request{Method: "POST", Target: "/api/v1/teams", Body: `{"name":"a"}`, Header: map[string]string{"Content-Type": "text/plain"}, OutsideDocument: true}, 400, steward.EINVALID, "Content-Type"},
		{"2 MiB body", request{Method: "POST", Target: "/api/v1/teams", Body: huge, OutsideDocument: true}, 413, steward.ETOOLARGE, "limit"},
		{"unknown query parameter", request{Target: "/api/v1/identities?kidn=bot", OutsideDocument: true}, 400, steward.EINVALID, `"kidn"`},
		{"parameter given twice", request{Target: "/api/v1/identities?kind=bot&kind=token"}, 400, steward.EINVALID, "2 times"},
		{"bad enum filter", request{Target: "/api/v1/identities?kind=robot", OutsideDocument: true}, 400, steward.EINVALID, "robot"},
		{"bad id filter", request{Target: "/api/v1/identities?system_id=abc", OutsideDocument: true}, 400, steward.EINVALID, "system_id"},
		{"negative id filter", request{Target: "/api/v1/people?team_id=-2", OutsideDocument: true}, 400, steward.EINVALID, "team_id"},
		{"bad bool filter", request{Target: "/api/v1/entitlements?privileged=yes", OutsideDocument: true}, 400, steward.EINVALID, "true or false"},
		{"bad gap kind", request{Target: "/api/v1/identities?gap=lonely", OutsideDocument: true}, 400, steward.EINVALID, "lonely"},
		{"bad grant type", request{Target: "/api/v1/grants?type=forever", OutsideDocument: true}, 400, steward.EINVALID, "forever"},
		{"limit zero", request{Target: "/api/v1/teams?limit=0", OutsideDocument: true}, 400, steward.EINVALID, "limit"},
		{"limit too big", request{Target: "/api/v1/teams?limit=1001", OutsideDocument: true}, 400, steward.EINVALID, "limit"},
		{"limit not a number", request{Target: "/api/v1/teams?limit=ten", OutsideDocument: true}, 400, steward.EINVALID, "limit"},
		{"bad cursor", request{Target: "/api/v1/identities?after=bm90LWEtY3Vyc29y"}, 400, steward.EINVALID, "cursor"},
		{"garbage cursor", request{Target: "/api/v1/events?after=%FF%FE"}, 400, steward.EINVALID, "cursor"},
		{"malformed query", request{Target: "/api/v1/teams?q=%zz"}, 400, steward.EINVALID, "malformed"},
		{"query too long", request{Target: "/api/v1/identities?q=" + strings.Repeat("x", 300), OutsideDocument: true}, 400, steward.EINVALID, "256"},
		{"control character", request{Target: "/api/v1/identities?q=a%00b"}, 400, steward.EINVALID, "control"},
		{"invalid UTF-8", request{Target: "/api/v1/events?actor=%C3%28"}, 400, steward.EINVALID, "UTF-8"},
		{"unknown action", request{Target: "/api/v1/events?action=identity.exploded", OutsideDocument: true}, 400, steward.EINVALID, "identity.owner_changed"},
		{"since not a time", request{Target: "/api/v1/events?since=yesterday", OutsideDocument: true}, 400, steward.EINVALID, "RFC 3339"},
		{"unknown route", request{Target: "/api/v1/nothing-here"}, 404, steward.ENOTFOUND, "openapi.json"},
		{"unknown version", request{Target: "/api/v2/identities"}, 404, steward.ENOTFOUND, ""},
		{"trailing slash", request{Target: "/api/v1/identities/"}, 404, steward.ENOTFOUND, ""},
		{"unknown page without UI", request{Target: "/nothing-here"}, 404, steward.ENOTFOUND, ""},
		{"wrong method on list", request{Method: "DELETE", Target: "/api/v1/teams"}, 405, "method_not_allowed", "GET"},
		{"wrong method on item", request{Method: "PUT", Target: "/api/v1/identities/1"}, 405, "method_not_allowed", ""},
		{"wrong method on open route", request{Method: "POST", Target: "/healthz"}, 405, "method_not_allowed", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.req.Token == "" {
				tt.req.Token = ts.Admin
			}
			r := ts.Do(tt.req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			e := r.Error(t)
			if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("error = %+v, want code %s and message containing %q", e, tt.code, tt.msg)
			}
			if tt.status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	t.Run("allow header", func(t *testing.T) {
		t.Parallel()
		r := ts.Do(request{Method: "PATCH", Target: "/api/v1/identities/5/credentials", Token: ts.Admin})
		if got := r.Header.Get("Allow"); got != "GET, HEAD, POST" {
			t.Errorf("Allow = %q", got)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	if r := ts.Do(request{Target: "/healthz"}); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"ok"`) {
		t.Errorf("healthz: %d %s", r.Status, r.Body)
	}
	if r := ts.Do(request{Target: "/readyz"}); r.Status != 200 {
		t.Errorf("readyz: %d %s", r.Status, r.Body)
	}
	ts.Store.Close()
	r := ts.Do(request{Target: "/readyz"})
	if r.Status != 503 || r.Error(t).Code != steward.EUNAVAILABLE {
		t.Errorf("readyz on a closed store: %d %s", r.Status, r.Body)
	}
	if r := ts.Do(request{Target: "/healthz"}); r.Status != 200 {
		t.Errorf("healthz must not depend on the store: %d %s", r.Status, r.Body)
	}
}

func TestUI(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, func(s *stewardhttp.Server) {
		s.UI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/boom" {
				panic("the UI fell over")
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<p>ui %s %s</p>", r.Method, r.URL.Path)
		})
	})
	for _, tt := range []struct {
		name   string
		method string
		target string
		status int
		body   string
	}{
		{"root", "GET", "/", 200, "<p>ui GET /</p>"},
		{"page", "GET", "/identities/4", 200, "<p>ui GET /identities/4</p>"},
		{"form post", "POST", "/login", 200, "<p>ui POST /login</p>"},
		{"api stays JSON", "GET", "/api/v1/nothing", 404, `"not_found"`},
		{"open route method", "DELETE", "/metrics", 405, `"method_not_allowed"`},
		{"panic", "GET", "/boom", 500, `"internal"`},
		{"still up after panic", "GET", "/healthz", 200, `"ok"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.HTTP.URL+tt.target, nil)
			resp, err := ts.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b := make([]byte, 4096)
			n, _ := resp.Body.Read(b)
			if resp.StatusCode != tt.status || !strings.Contains(string(b[:n]), tt.body) {
				t.Errorf("%d %s, want %d with %s", resp.StatusCode, b[:n], tt.status, tt.body)
			}
		})
	}
	if logs := ts.Logs.String(); !strings.Contains(logs, "the UI fell over") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	if logs := ts.Logs.String(); strings.Contains(logs, `"message":"the UI fell over"`) {
		t.Error("panic detail leaked into a response-shaped log line")
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	i := ts.F.Identity()
	if r := ts.Do(request{Target: fmt.Sprintf("/api/v1/identities/%d?token=%s", i.ID, "stw_query_secret"), Token: ts.Admin, OutsideDocument: true}); r.Status != 400 {
		t.Errorf("query on a get: status %d, want 400", r.Status)
	}
	ts.Get(fmt.Sprintf("/api/v1/identities/%d", i.ID))
	logs := ts.Logs.String()
	want := `"msg":"http request","method":"GET","route":"/api/v1/identities/{id}","status":200,"duration":`
	if !strings.Contains(logs, want) || !strings.Contains(logs, `"actor":"person:admin@tokens.test"`) {
		t.Errorf("no request line like %s in:\n%s", want, logs)
	}
	if strings.Contains(logs, "stw_query_secret") || strings.Contains(logs, ts.Admin) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// TestEventsSince holds the since filter to the events' own times: what it
// returns is exactly the events at or after the time given.
func TestEventsSince(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	for i := range 3 {
		ts.Post("/api/v1/teams", fmt.Sprintf(`{"name":"since-%d"}`, i)).Decode(t, &steward.Team{})
	}
	var all steward.Page[steward.Event]
	ts.Get("/api/v1/events?limit=1000").Decode(t, &all)
	if len(all.Items) < 4 {
		t.Fatalf("only %d events", len(all.Items))
	}
	for _, from := range []time.Time{all.Items[0].Time, all.Items[len(all.Items)-2].Time, all.Items[len(all.Items)-1].Time.Add(time.Microsecond)} {
		var want []int64
		for _, e := range all.Items {
			if !e.Time.Before(from) {
				want = append(want, e.Seq)
			}
		}
		var page steward.Page[steward.Event]
		ts.Get("/api/v1/events?limit=1000&since="+url.QueryEscape(from.Format(time.RFC3339Nano))).Decode(t, &page)
		var got []int64
		for _, e := range page.Items {
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, want) {
			t.Errorf("since %s: seqs %v, want %v", from.Format(time.RFC3339Nano), got, want)
		}
	}
	var page steward.Page[steward.Event]
	ts.Get("/api/v1/events?action=team.created&since="+url.QueryEscape(all.Items[0].Time.Format(time.RFC3339))).Decode(t, &page)
	if len(page.Items) != 3 {
		t.Errorf("team.created since the start: %d events, want 3", len(page.Items))
	}
}
