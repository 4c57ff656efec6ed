package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestAuditListByName: --object names one object as people know it
// (team:payments, person:alice@example.com, identity:NAME with or without
// --system), ids still work, and the table names objects rather than
// numbering them. Against serve --demo.
func TestAuditListByName(t *testing.T) {
	t.Parallel()
	s := startDemoServer(t)
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", s.base, "--token", s.token)...)
	}
	post := func(path string, in, out any) {
		t.Helper()
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		s.call(t, "POST", path, "application/json", strings.NewReader(string(b)), 201, out)
	}
	// The objects, made through the API so that each has its events.
	var team steward.Team
	post("/api/v1/teams", map[string]any{"name": "audit-names", "display_name": "Audit Names"}, &team)
	var person steward.Person
	post("/api/v1/people", map[string]any{"external_id": "E-4711", "name": "Ada Audit", "email": "ada.audit@example.com", "team_id": team.ID}, &person)
	var sysA, sysB steward.System
	post("/api/v1/systems", map[string]any{"name": "audit-a", "kind": "aws"}, &sysA)
	post("/api/v1/systems", map[string]any{"name": "audit-b", "kind": "gcp"}, &sysB)
	identity := func(sys steward.System, name string) steward.IdentityView {
		var v steward.IdentityView
		post("/api/v1/identities", map[string]any{"system_id": sys.ID, "external_id": name + "@" + sys.Name, "name": name,
			"kind": "service_account", "environment": "prod", "criticality": "low"}, &v)
		return v
	}
	lone := identity(sysA, "audit-lone")
	twinA, twinB := identity(sysA, "audit-twin"), identity(sysB, "audit-twin")
	if code, _, errOut := cli("identities", "set-owner", "audit-lone", "--owner", "ada.audit@example.com"); code != 0 {
		t.Fatalf("set-owner: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "token", "create", "--db", s.db, "--name", "audit-reader", "--role", "auditor", "--owner", "ada.audit@example.com"); code != 0 {
		t.Fatalf("token create: exit %d %s", code, errOut)
	}

	// events lists --object's events as JSON and checks each is about an
	// object of kind typ, and with want > 0 about that one.
	events := func(typ string, want int64, args ...string) []steward.Event {
		t.Helper()
		code, out, errOut := cli(append([]string{"audit", "list", "-o", "json"}, args...)...)
		var page steward.Page[steward.Event]
		if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil {
			t.Fatalf("audit list %v: exit %d, %v\n%s%s", args, code, err, out, errOut)
		}
		if len(page.Items) == 0 {
			t.Fatalf("audit list %v: no events", args)
		}
		for _, ev := range page.Items {
			if ev.ObjectType != typ || (want > 0 && ev.ObjectID != strconv.FormatInt(want, 10)) {
				t.Errorf("audit list %v lists an event of %s:%s, want %s:%d", args, ev.ObjectType, ev.ObjectID, typ, want)
			}
		}
		return page.Items
	}
	for _, tt := range []struct {
		typ  string
		want int64
		args []string
	}{
		{"team", team.ID, []string{"--object", "team:audit-names"}},
		{"team", team.ID, []string{"--object", "team:" + strconv.FormatInt(team.ID, 10)}},
		{"person", person.ID, []string{"--object", "person:ada.audit@example.com"}},
		{"person", person.ID, []string{"--object", "person:ADA.AUDIT@example.com"}},
		{"person", person.ID, []string{"--object", "person:E-4711"}},
		{"system", sysB.ID, []string{"--object", "system:audit-b"}},
		{"identity", lone.ID, []string{"--object", "identity:audit-lone"}},
		{"identity", twinB.ID, []string{"--object", "identity:audit-twin", "--system", "audit-b"}},
		{"identity", twinA.ID, []string{"--object", "identity:audit-twin@audit-a", "--system", "audit-a"}}, // by external id
		{"identity", twinA.ID, []string{"--object", "identity:" + strconv.FormatInt(twinA.ID, 10)}},
	} {
		events(tt.typ, tt.want, tt.args...)
	}
	owner := events("identity", lone.ID, "--object", "identity:audit-lone", "--action", "identity.owner_changed")
	if p, err := owner[0].Payload(); err != nil || *p.(*steward.OwnerChanged).OwnerID != person.ID {
		t.Errorf("owner change: %s %v", owner[0].Data, err)
	}
	created := events("token", 0, "--object", "token") // the kind alone: every token's events
	var reader int64
	for _, ev := range created {
		if strings.Contains(string(ev.Data), `"audit-reader"`) {
			reader, _ = strconv.ParseInt(ev.ObjectID, 10, 64)
		}
	}
	if reader == 0 {
		t.Fatal("no token.created event for audit-reader")
	}
	events("token", reader, "--object", "token:audit-reader")

	// The table names what each event is about.
	code, out, errOut := cli("audit", "list", "--object", "identity:audit-lone")
	if code != 0 || !strings.Contains(out, "identity audit-lone on audit-a") || strings.Contains(out, fmt.Sprintf("identity:%d", lone.ID)) {
		t.Errorf("audit list table: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli("audit", "list", "--object", "person:E-4711")
	if code != 0 || !strings.Contains(out, "person ada.audit@example.com") {
		t.Errorf("audit list table of a person: exit %d\n%s", code, out)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--object", "identity:audit-twin"}, ExitInvalid, "name the system with --system"},
		{[]string{"--object", "team:nobody-here"}, ExitNotFound, `No team is named "nobody-here"`},
		{[]string{"--object", "system:nowhere"}, ExitNotFound, `No system is named "nowhere"`},
		{[]string{"--object", "person:nobody@example.com"}, ExitNotFound, "nobody@example.com"},
		{[]string{"--object", "token:nobody"}, ExitNotFound, `No API token is named "nobody"`},
		{[]string{"--object", "gizmo:x"}, ExitInvalid, "not a kind of object"},
		{[]string{"--object", "credential:old-key"}, ExitInvalid, "has no name"},
		{[]string{"--object", "team:"}, ExitInvalid, "name the team"},
		{[]string{"--object", "team:audit-names", "--system", "audit-a"}, ExitInvalid, "--system"},
	} {
		if code, _, errOut := cli(append([]string{"audit", "list"}, tt.args...)...); code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("audit list %v: exit %d %q, want %d saying %q", tt.args, code, errOut, tt.code, tt.msg)
		}
	}
}

// TestTokenRevokeByName: a token is revoked by its name, as 'token list'
// shows it; a name is tried before an id, so a token named "1" is that
// token; an id still works.
func TestTokenRevokeByName(t *testing.T) {
	t.Parallel()
	db := t.TempDir() + "/s.db"
	for _, name := range []string{"ci-bot", "reader", "1"} {
		args := []string{"token", "create", "--db", db, "--name", name, "--for", "ops@example.com"}
		if name == "ci-bot" {
			args = append(args, "--create-person", "Ops")
		}
		if code, _, errOut := run(t, args...); code != 0 {
			t.Fatalf("token create %s: exit %d %s", name, code, errOut)
		}
	}
	revoked := func() map[string]bool {
		t.Helper()
		code, out, errOut := run(t, "token", "list", "--db", db)
		if code != 0 {
			t.Fatalf("token list: exit %d %s", code, errOut)
		}
		got := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := strings.Fields(line)
			got[f[1]] = f[len(f)-1] != "-"
		}
		return got
	}
	if code, _, errOut := run(t, "token", "revoke", "ci-bot", "--db", db); code != 0 {
		t.Fatalf("revoke by name: exit %d %s", code, errOut)
	}
	if got := revoked(); !got["ci-bot"] || got["reader"] || got["1"] {
		t.Fatalf("after revoking ci-bot: %v", got)
	}
	if code, _, errOut := run(t, "token", "revoke", "1", "--db", db); code != 0 {
		t.Fatalf("revoke the token named 1: exit %d %s", code, errOut)
	}
	if got := revoked(); !got["1"] || got["reader"] {
		t.Fatalf("revoke 1 revoked by id, not the token named 1: %v", got)
	}
	if code, _, errOut := run(t, "token", "revoke", "2", "--db", db); code != 0 { // reader's id
		t.Fatalf("revoke by id: exit %d %s", code, errOut)
	}
	if got := revoked(); !got["reader"] {
		t.Fatalf("revoke 2 did not revoke reader: %v", got)
	}
	for _, ref := range []string{"nobody", "99"} {
		if code, _, errOut := run(t, "token", "revoke", ref, "--db", db); code != ExitNotFound || !strings.Contains(errOut, "token list") {
			t.Errorf("revoke %s: exit %d %q, want %d pointing to token list", ref, code, errOut, ExitNotFound)
		}
	}
}

// TestIdentitiesGetNamesAndLinks: 'identities get' names who attested
// rather than numbering them, and shows the identity's links to other
// identities from either end, as the web identity page does.
func TestIdentitiesGetNamesAndLinks(t *testing.T) {
	t.Parallel()
	s := startDemoServer(t)
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", s.base, "--token", s.token)...)
	}
	// A cluster's service account that assumes an AWS role (IRSA), and
	// the role, loaded beside the demo.
	const role = "arn:aws:iam::123456789012:role/payments-api"
	roles := writeFile(t, "roles.jsonl", `{"identity": {"external_id": "`+role+`", "name": "payments-api-role", "kind": "service_account"}}`+"\n")
	if code, out, errOut := run(t, "import", "--db", s.db, "--format", "k8s-serviceaccounts", "--system", "k8s-links", "../../importer/testdata/serviceaccounts.json"); code != 0 {
		t.Fatalf("k8s import: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "import", "--db", s.db, "--format", "jsonl", "--system", "aws-links", "--system-kind", "aws", roles); code != 0 {
		t.Fatalf("roles import: exit %d\n%s%s", code, out, errOut)
	}
	const sa = "system:serviceaccount:payments-prod:payments-api"

	var people steward.Page[steward.Person]
	s.call(t, "GET", "/api/v1/people?status=active&limit=1", "", nil, 200, &people)
	owner := people.Items[0]
	if code, _, errOut := cli("identities", "set-owner", sa, "--system", "k8s-links", "--owner", owner.Email); code != 0 {
		t.Fatalf("set-owner: exit %d %s", code, errOut)
	}
	// The demo's token is that person's own: they attest as themselves.
	code, out, errOut := cli("identities", "attest", sa, "--system", "k8s-links")
	want := fmt.Sprintf("by %s (%s)", owner.Name, owner.Email)
	if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "by person ") {
		t.Fatalf("attest prints %q? exit %d\n%s%s", want, code, out, errOut)
	}

	code, out, errOut = cli("identities", "get", sa, "--system", "k8s-links")
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("get: the attester is not named %q: exit %d\n%s%s", want, code, out, errOut)
	}
	if !strings.Contains(out, "Linked identities (1):") || !regexpLine(out, `assumes\s+payments-api-role\s+aws-links`) {
		t.Errorf("get does not show the link to the role:\n%s", out)
	}
	code, out, errOut = cli("identities", "get", "payments-api-role")
	if code != 0 || !regexpLine(out, `assumes this\s+payments-prod/payments-api\s+k8s-links`) {
		t.Errorf("get of the role does not show who assumes it: exit %d\n%s%s", code, out, errOut)
	}
	var d struct {
		identityDetail
		Links []struct {
			Kind   string `json:"kind"`
			ToRef  string `json:"to_ref"`
			ToName string `json:"to_name"`
		} `json:"links"`
	}
	code, out, _ = cli("identities", "get", sa, "--system", "k8s-links", "-o", "json")
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || len(d.Links) != 1 || d.Links[0].ToRef != role || d.Links[0].ToName != "payments-api-role" {
		t.Errorf("get -o json links: exit %d %v %+v", code, err, d.Links)
	}
}

// regexpLine reports whether a line of out matches the expression.
func regexpLine(out, expr string) bool {
	re := regexp.MustCompile(expr)
	for _, line := range strings.Split(out, "\n") {
		if re.MatchString(line) {
			return true
		}
	}
	return false
}
