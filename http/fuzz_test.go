package http_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
)

// FuzzAPI throws arbitrary methods, paths, query strings and bodies at the
// handler with a valid admin token. Whatever a client sends, the answer is
// never a 5xx: every bad input is the client's error, and says so.
func FuzzAPI(f *testing.F) {
	for _, seed := range []struct{ method, path, query, body string }{
		{"GET", "/api/v1/identities", "kind=bot&limit=3", ""},
		{"GET", "/api/v1/identities", "after=azE6NQ&system_id=1", ""},
		{"GET", "/api/v1/identities", "after=%FF&q=%00", ""},
		{"GET", "/api/v1/people", "team_id=99999999999999999999", ""},
		{"GET", "/api/v1/people", "team=payments&manager=a%40b", ""},
		{"GET", "/api/v1/identities", "sort=-credential_age&after=czE6LWNyZWRlbnRpYWxfYWdlOms6MTp4", ""},
		{"GET", "/api/v1/identities", "owner=%00&system=x&team=1&unused_for=9e9&never_used=true", ""},
		{"GET", "/api/v1/identities/count", "credential_older_than=365&q=a", ""},
		{"GET", "/api/v1/identities.csv", "sort=name&external_id=x&system_id=1", ""},
		{"GET", "/api/v1/entitlements", "privileged=maybe", ""},
		{"GET", "/api/v1/grants", "type=jit&identity_id=-1", ""},
		{"GET", "/api/v1/events", "actor=token:x&object_id=1", ""},
		{"GET", "/api/v1/identities/1", "", ""},
		{"GET", "/api/v1/identities/-1/credentials", "", ""},
		{"GET", "/api/v1/teams/0x1", "", ""},
		{"POST", "/api/v1/teams", "", `{"name":"t"}`},
		{"POST", "/api/v1/people", "", `{"external_id":"e","name":"n","team_id":1,"status":"departed"}`},
		{"POST", "/api/v1/systems", "", `{"name":"s","kind":"aws"}`},
		{"POST", "/api/v1/identities", "", `{"system_id":1,"external_id":"x","name":"x","kind":"bot","environment":"dev","criticality":"low","labels":{"":"x"}}`},
		{"POST", "/api/v1/identities/1/credentials", "", `{"kind":"token","expires_at":"2000-01-01T00:00:00Z"}`},
		{"POST", "/api/v1/entitlements", "", `{"system_id":1,"name":"e","sensitivity":"high"}`},
		{"POST", "/api/v1/grants", "", `{"identity_id":1,"entitlement_id":1,"type":"standing","expires_at":"1970-01-01T00:00:00Z"}`},
		{"POST", "/api/v1/grants", "", `{"identity_id":1e400}`},
		{"PUT", "/api/v1/teams", "", `{`},
		{"PUT", "/api/v1/identities/1/owner", "", `{"owner_id":null,"team_id":99}`},
		{"POST", "/api/v1/identities/1/attest", "", `{"person_id":1,"note":"\u0000"}`},
		{"GET", "/api/v1/gaps", "team_id=-1&gap=unowned", ""},
		{"GET", "/api/v1/sync-runs", "source=import:jsonl&failed=true&system_id=1", ""},
		{"PUT", "/api/v1/ownership-rules", "", `{"rules":[{"name":"r","match":{"labels":{"a":"["}},"team":"t"}]}`},
		{"POST", "/api/v1/systems/1/import", "format=jsonl", `{"identity":{"external_id":"x","kind":"bot"}}` + "\n{"},
		{"POST", "/api/v1/systems/1/import", "format=aws-credential-report&partial=true", "user,arn\n"},
		{"GET", "/api/v1/../metrics", "", ""},
		{"GET", "/", "", ""},
		{"POST", "/api/v1/requests", "", `{"identity":"x","entitlement":"e","duration":"99999999999d","justification":{"":"\u0000"}}`},
		{"POST", "/api/v1/requests", "", `{"model":"m","role":"r","system":"s","identity":"x"}`},
		{"GET", "/api/v1/requests", "state=pending&requester=%00&identity=x&model=m&after=zz", ""},
		{"POST", "/api/v1/requests/1/approve", "", `{"reason":""}`},
		{"POST", "/api/v1/requests/1/extend", "", `{"duration":"-1h"}`},
		{"GET", "/api/v1/jit-grants", "identity=x&system=y&state=expired", ""},
		{"GET", "/api/v1/requests/inbox", "", ""},
		{"GET", "/api/v1/requests/9223372036854775807", "", ""},
		{"POST", "/api/v1/requests/1/deny", "", `{"reason":"no","extra":1}`},
		{"POST", "/api/v1/requests/1/cancel", "", `{"reason":"\ud800"}`},
		{"POST", "/api/v1/requests/1/extend", "", `{"duration":"1h","justification":{"ticket":1}}`},
		{"GET", "/api/v1/unmatched-demand", "after=%FF&limit=0", ""},
		{"GET", "/api/v1/jit-grants/1", "", ""},
		{"GET", "/api/v1/jit-grants/-1", "x=1", ""},
		{"GET", "/api/v1/notices", "person=%00&unsent=maybe", ""},
		{"GET", "/api/v1/notices", "person=ana@example.test&unsent=true&limit=1&after=x", ""},
	} {
		f.Add(seed.method, seed.path, seed.query, []byte(seed.body))
	}
	store := MustOpenStore(f)
	fx := newFixtures(f, store)
	// A person, so that the request routes (people ask and decide) are
	// reached too.
	dba := fx.Team(func(x *steward.Team) { x.Name = "dba" })
	admin := MustCreatePersonalToken(f, store, "fuzz", steward.RoleAdmin, fx.Person(func(p *steward.Person) { p.TeamID = &dba.ID }).ID)
	asker := MustCreatePersonalToken(f, store, "asker", steward.RoleMember, fx.Person().ID)
	for range 3 {
		i := fx.Identity()
		e := fx.Entitlement()
		fx.Grant(i.ID, e.ID)
	}
	srv := &stewardhttp.Server{Store: store}
	srv.Edge.Hosts = []string{"steward.test"} // the requests' host: else every one is refused as misdirected
	withImporter(srv)
	withRequests(srv)
	h := srv.Handler()
	// The catalog and pending requests of someone else, which the admin
	// (of team dba, their approvers) may decide: the acts on requests
	// reach the workflow's checks, not only its 404.
	pg := fx.System(func(s *steward.System) { s.Name = "pg-fuzz" })
	fx.Identity(func(i *steward.Identity) { i.SystemID, i.Name = pg.ID, "svc-fuzz" })
	fx.Entitlement(func(e *steward.Entitlement) { e.SystemID, e.Name, e.Privileged = pg.ID, "role:admin", true })
	setup := func(method, path, token, contentType, body string) {
		req := httptest.NewRequest(method, "http://steward.test"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			f.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	setup("PUT", "/api/v1/catalog", admin, "application/yaml", requestCatalog)
	for range 3 {
		setup("POST", "/api/v1/requests", asker, "application/json", `{"identity": "svc-fuzz", "entitlement": "role:admin", "duration": "1h"}`)
	}

	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		req, err := http.NewRequest(method, "http://steward.test/", bytes.NewReader(body))
		if err != nil {
			t.Skip() // not a request a client could send
		}
		if !strings.HasPrefix(path, "/") {
			path = "/api/v1/" + path
		}
		req.URL.Path, req.URL.RawQuery = path, query
		req.RequestURI = req.URL.RequestURI()
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// A hung request would otherwise stall the fuzzer silently.
			buf := make([]byte, 1<<20)
			t.Fatalf("%s %s?%s %q hung:\n%s", method, path, query, body, buf[:runtime.Stack(buf, true)])
		}
		if rec.Code >= 500 {
			t.Errorf("%s %s?%s %q → %d: %s", method, path, query, body, rec.Code, rec.Body)
		}
	})
}
