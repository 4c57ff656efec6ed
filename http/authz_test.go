package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
)

// matrixCallers are the columns of testdata/authz.tsv after the request.
var matrixCallers = []string{"anonymous", "bad-token", "member", "auditor", "admin", "automation"}

// matrixRow is one line of testdata/authz.tsv.
type matrixRow struct {
	line                    int
	method, pattern, target string
	body                    string // "" for none
	want                    map[string]string
}

// readMatrix reads testdata/authz.tsv.
func readMatrix(t *testing.T) []matrixRow {
	t.Helper()
	f, err := os.Open("testdata/authz.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []matrixRow
	sc := bufio.NewScanner(f)
	header := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if !header {
			if want := append([]string{"method", "pattern", "target", "body"}, matrixCallers...); !slices.Equal(cols, want) {
				t.Fatalf("authz.tsv:%d: header %q, want %q", n, cols, want)
			}
			header = true
			continue
		}
		if len(cols) != 4+len(matrixCallers) {
			t.Fatalf("authz.tsv:%d: %d columns, want %d", n, len(cols), 4+len(matrixCallers))
		}
		r := matrixRow{line: n, method: cols[0], pattern: cols[1], target: cols[2], body: cols[3], want: map[string]string{}}
		if r.body == "-" {
			r.body = ""
		}
		for i, c := range matrixCallers {
			w := cols[4+i]
			if _, err := strconv.Atoi(w); err != nil && w != "2xx" {
				t.Fatalf("authz.tsv:%d: outcome %q for %s: write 2xx or a status", n, w, c)
			}
			r.want[c] = w
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// documentRoutes returns "METHOD /path" for every operation of openapi.json.
func documentRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestAuthorizationMatrix calls every route of the OpenAPI document as
// every kind of caller, on a real server over a real store with real
// tokens, and requires the outcome testdata/authz.tsv writes down. A route
// added to the document without a row fails here.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	rows := readMatrix(t)
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.method+" "+r.pattern] = true
	}
	documented := documentRoutes(t)
	for _, route := range documented {
		if !covered[route] {
			t.Errorf("%s is in openapi.json but has no row in testdata/authz.tsv: write down who may call it", route)
		}
	}
	for route := range covered {
		if !slices.Contains(documented, route) {
			t.Errorf("testdata/authz.tsv has a row for %s, which openapi.json does not have", route)
		}
	}

	ts := MustStartServer(t, withImporter, withRequests)
	ctx := steward.WithActor(context.Background(), "system:fixture")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	team := &steward.Team{Name: "core"}
	must("team", ts.Store.CreateTeam(ctx, team))
	other := &steward.Team{Name: "elsewhere"}
	must("team", ts.Store.CreateTeam(ctx, other))
	person := func(name string, team *int64) *steward.Person {
		p := &steward.Person{ExternalID: name, Name: name, Email: name + "@example.test", TeamID: team, Status: steward.PersonActive}
		must("person "+name, ts.Store.CreatePerson(ctx, p))
		return p
	}
	mo, ida, ada := person("mo", &team.ID), person("ida", nil), person("ada", &other.ID)
	tokens := map[string]string{
		"bad-token": steward.TokenPrefix + strings.Repeat("A", 43),
		"member":    MustCreatePersonalToken(t, ts.Store, "mo", steward.RoleMember, mo.ID),
		"auditor":   MustCreatePersonalToken(t, ts.Store, "ida", steward.RoleAuditor, ida.ID),
		"admin":     MustCreatePersonalToken(t, ts.Store, "ada", steward.RoleAdmin, ada.ID),
	}
	for _, c := range []string{"member", "auditor", "admin"} {
		MustCreatePersonalToken(t, ts.Store, "old-"+c, steward.RoleMember, map[string]int64{"member": mo.ID, "auditor": ida.ID, "admin": ada.ID}[c])
	}
	bot := &steward.Token{Name: "ci-bot", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &ada.ID}
	raw, err := ts.Store.CreateToken(ctx, bot)
	must("automation token", err)
	tokens["automation"] = raw
	sys := &steward.System{Name: "aws", Kind: steward.SystemAWS}
	must("system", ts.Store.CreateSystem(ctx, sys))
	identity := func(name string, owner, team *int64) *steward.Identity {
		i := &steward.Identity{SystemID: sys.ID, ExternalID: name, Name: name, Kind: steward.KindServiceAccount,
			Environment: steward.EnvProd, Criticality: steward.LevelLow, OwnerID: owner, TeamID: team}
		must("identity "+name, ts.Store.CreateIdentity(ctx, i))
		return i
	}
	mine, theirs := identity("mine", &mo.ID, &team.ID), identity("theirs", &ada.ID, &other.ID)
	ids := map[string]int64{"team": team.ID, "member": mo.ID, "admin": ada.ID, "system": sys.ID, "mine": mine.ID, "theirs": theirs.ID}
	for _, name := range append([]string{"entitlement"}, prefixed("grant-", matrixCallers)...) {
		e := &steward.Entitlement{SystemID: sys.ID, Name: name, Sensitivity: steward.LevelLow}
		must("entitlement", ts.Store.CreateEntitlement(ctx, e))
		ids[name] = e.ID
	}
	// A JIT grant of the admin's identity, for the JIT grant routes.
	jitEnt := &steward.Entitlement{SystemID: sys.ID, Name: "jit-entitlement", Sensitivity: steward.LevelHigh}
	must("entitlement", ts.Store.CreateEntitlement(ctx, jitEnt))
	jit := &steward.JITGrant{IdentityID: theirs.ID, EntitlementID: jitEnt.ID, ExpiresAt: time.Now().Add(time.Hour), GrantedBy: "person:ada@example.test"}
	must("JIT grant", ts.Store.RecordJITGrant(ctx, jit))
	ids["jit"] = jit.ID
	fill := func(s, caller string) string {
		s = strings.ReplaceAll(s, "{role}", caller)
		for k, v := range ids {
			s = strings.ReplaceAll(s, "{"+k+"}", strconv.FormatInt(v, 10))
		}
		return s
	}

	bearer := map[string]bool{}
	for _, rt := range ts.Server.Routes() {
		bearer[rt.Method+" "+rt.Pattern] = rt.Auth
	}
	// Rows run in order, each for every caller, so that a row's writes
	// are the next row's world.
	for _, row := range rows {
		for _, caller := range matrixCallers {
			req := request{Method: row.method, Target: fill(row.target, caller), Token: tokens[caller], Body: fill(row.body, caller),
				// The document requires a token on these: a request without one is outside it.
				OutsideDocument: caller == "anonymous" && bearer[row.method+" "+row.pattern]}
			if row.pattern == "/api/v1/systems/{id}/import" {
				req.Body, req.Reader = "", strings.NewReader(fill(row.body, caller))
			}
			if row.method == "PUT" && row.pattern == "/api/v1/catalog" {
				req.Header = map[string]string{"Content-Type": "application/yaml"}
			}
			res := ts.Do(req)
			want := row.want[caller]
			ok := strconv.Itoa(res.Status) == want || (want == "2xx" && res.Status >= 200 && res.Status < 300)
			if !ok {
				t.Errorf("authz.tsv:%d: %s %s as %s: status %d, want %s: %s", row.line, req.Method, req.Target, caller, res.Status, want, truncate(string(res.Body)))
			}
			if res.Status == http.StatusForbidden && !strings.Contains(string(res.Body), "may not") && !strings.Contains(string(res.Body), "Only") && !strings.Contains(string(res.Body), "is closed") {
				t.Errorf("authz.tsv:%d: %s %s as %s: a 403 that does not say why: %s", row.line, req.Method, req.Target, caller, res.Body)
			}
		}
	}
}

// TestMembersSeeTheirOwn: a member lists, counts and exports only the
// identities they own or of their team, unless the server is configured
// to show them all; an admin and an auditor see all.
func TestMembersSeeTheirOwn(t *testing.T) {
	t.Parallel()
	for _, seeAll := range []bool{false, true} {
		t.Run("members_see_all="+strconv.FormatBool(seeAll), func(t *testing.T) {
			t.Parallel()
			ts := MustStartServer(t, func(s *stewardhttp.Server) { s.MembersSeeAll = seeAll })
			ctx := steward.WithActor(context.Background(), "system:fixture")
			team, other := &steward.Team{Name: "core"}, &steward.Team{Name: "other"}
			for _, x := range []*steward.Team{team, other} {
				if err := ts.Store.CreateTeam(ctx, x); err != nil {
					t.Fatal(err)
				}
			}
			mo := &steward.Person{ExternalID: "mo", Name: "Mo", Email: "mo@example.test", TeamID: &team.ID, Status: steward.PersonActive}
			if err := ts.Store.CreatePerson(ctx, mo); err != nil {
				t.Fatal(err)
			}
			member := MustCreatePersonalToken(t, ts.Store, "mo", steward.RoleMember, mo.ID)
			sys := ts.F.System()
			for _, i := range []*steward.Identity{
				{ExternalID: "owned", OwnerID: &mo.ID},
				{ExternalID: "team-s", TeamID: &team.ID},
				{ExternalID: "other-team", TeamID: &other.ID},
				{ExternalID: "nobody-s"},
			} {
				i.SystemID, i.Name, i.Kind, i.Environment, i.Criticality = sys.ID, i.ExternalID, steward.KindBot, steward.EnvProd, steward.LevelLow
				if err := ts.Store.CreateIdentity(ctx, i); err != nil {
					t.Fatal(err)
				}
			}
			names := func(token string) []string {
				var page struct {
					Items []struct{ Name string }
				}
				ts.Do(request{Target: "/api/v1/identities", Token: token}).Decode(t, &page)
				var out []string
				for _, i := range page.Items {
					out = append(out, i.Name)
				}
				slices.Sort(out)
				return out
			}
			all := []string{"nobody-s", "other-team", "owned", "team-s"}
			want := []string{"owned", "team-s"}
			if seeAll {
				want = all
			}
			if got := names(member); !slices.Equal(got, want) {
				t.Errorf("the member lists %v, want %v", got, want)
			}
			for _, tok := range []string{ts.Admin, ts.Viewer} {
				if got := names(tok); !slices.Equal(got, all) {
					t.Errorf("an admin or auditor lists %v, want %v", got, all)
				}
			}
			var n struct{ Count int }
			ts.Do(request{Target: "/api/v1/identities/count", Token: member}).Decode(t, &n)
			if n.Count != len(want) {
				t.Errorf("the member counts %d, want %d", n.Count, len(want))
			}
			csv := string(ts.Do(request{Target: "/api/v1/identities.csv", Token: member}).Body)
			if strings.Contains(csv, "other-team") != seeAll || !strings.Contains(csv, "owned") {
				t.Errorf("the member's export:\n%s", csv)
			}
		})
	}
}

// TestPersonalTokens: a person makes, lists and revokes their own tokens
// through the API; the new token acts as them; another's token is not
// theirs to revoke, nor a higher role theirs to take.
func TestPersonalTokens(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	var made struct {
		Token  steward.Token
		Secret string
	}
	res := ts.Do(request{Method: "POST", Target: "/api/v1/tokens", Token: ts.Viewer, Body: `{"name": "laptop"}`})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	res.Decode(t, &made)
	if made.Token.Role != steward.RoleAuditor || made.Token.ExpiresAt == nil || made.Token.ExpiresAt.After(time.Now().Add(steward.DefaultPersonalTokenTTL+time.Minute)) {
		t.Errorf("made %+v; want an auditor token expiring within the default", made.Token)
	}
	var who steward.Principal
	ts.Do(request{Target: "/api/v1/whoami", Token: made.Secret}).Decode(t, &who)
	if who.Kind != steward.PrincipalPerson || who.Name != "viewer@tokens.test" || who.Role != steward.RoleAuditor || who.Via != "token:laptop" {
		t.Errorf("whoami with the new token = %+v", who)
	}
	if res := ts.Do(request{Method: "POST", Target: "/api/v1/tokens", Token: ts.Viewer, Body: `{"name": "root", "role": "admin"}`}); res.Status != http.StatusForbidden {
		t.Errorf("an auditor made an admin token: %d %s", res.Status, res.Body)
	}
	far := time.Now().Add(steward.MaxPersonalTokenTTL + time.Hour).UTC().Format(time.RFC3339)
	if res := ts.Do(request{Method: "POST", Target: "/api/v1/tokens", Token: ts.Viewer, Body: `{"name": "long", "expires_at": "` + far + `"}`}); res.Status != http.StatusBadRequest {
		t.Errorf("a token beyond the maximum: %d %s", res.Status, res.Body)
	}
	var list struct{ Items []steward.Token }
	ts.Do(request{Target: "/api/v1/tokens", Token: ts.Viewer}).Decode(t, &list)
	if len(list.Items) != 2 || list.Items[1].Name != "laptop" {
		t.Errorf("tokens = %+v; want the viewer's own two", list.Items)
	}
	if res := ts.Do(request{Method: "DELETE", Target: "/api/v1/tokens/viewer", Token: ts.Admin}); res.Status != http.StatusNotFound {
		t.Errorf("the admin revoked another's personal token through the self-service route: %d", res.Status)
	}
	if res := ts.Do(request{Method: "DELETE", Target: "/api/v1/tokens/laptop", Token: ts.Viewer}); res.Status != http.StatusNoContent {
		t.Errorf("revoke: %d %s", res.Status, res.Body)
	}
	if res := ts.Do(request{Target: "/api/v1/whoami", Token: made.Secret}); res.Status != http.StatusUnauthorized {
		t.Errorf("the revoked token still works: %d", res.Status)
	}
}

// prefixed returns each of names with prefix before it.
func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}
