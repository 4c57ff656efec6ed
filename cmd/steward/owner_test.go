package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// demoServer is serve --demo running in-process for a test.
type demoServer struct {
	base, token, db string
}

// startDemoServer runs serve --demo on a tiny organisation on a free port
// and stops it gracefully when the test ends.
func startDemoServer(t *testing.T) *demoServer {
	t.Helper()
	db := filepath.Join(t.TempDir(), "serve.db")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--demo", "--db", db, "--addr", "127.0.0.1:0", "--demo-people", "30", "--demo-nhi", "300"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d after cancel: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of cancel")
		}
	})
	urlRE := regexp.MustCompile(`running at (http://\S+)`)
	tokRE := regexp.MustCompile(`(stw_[A-Za-z0-9_-]{43})`)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			return &demoServer{base: m[1], token: tokRE.FindString(stdout.String()), db: db}
		}
		select {
		case code := <-done:
			done <- code // for the cleanup
			t.Fatalf("serve exited %d early: %s", code, stderr.String())
		default:
		}
	}
	t.Fatalf("serve printed no URL:\n%s\n%s", stdout.String(), stderr.String())
	return nil
}

// call makes one API call with the server's admin token and decodes the
// JSON answer into out, failing the test unless the status is want.
func (s *demoServer) call(t *testing.T, method, path, contentType string, body io.Reader, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// TestOwnerCommands drives set-owner, attest and gaps against serve --demo.
func TestOwnerCommands(t *testing.T) {
	t.Parallel()
	s := startDemoServer(t)
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", s.base, "--token", s.token)...)
	}

	// gaps lists the demo's gaps; take an unowned identity from it.
	code, out, errOut := cli("gaps", "--gap", "unowned")
	if code != 0 || !strings.Contains(out, "SUGGESTED OWNER") || !strings.Contains(out, "unowned") {
		t.Fatalf("gaps: exit %d\n%s%s", code, out, errOut)
	}
	var gaps steward.Page[steward.GapView]
	code, out, errOut = cli("gaps", "--gap", "unowned", "--limit", "1", "-o", "json")
	if code != 0 {
		t.Fatalf("gaps -o json: exit %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &gaps); err != nil || len(gaps.Items) != 1 || gaps.Next == "" {
		t.Fatalf("gaps -o json: %v\n%s", err, out)
	}
	id := fmt.Sprint(gaps.Items[0].IdentityID)
	if code, _, errOut := cli("gaps", "--without-team", "--limit", "3"); code != 0 {
		t.Fatalf("gaps without a team: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("gaps", "--gap", "lonely"); code != ExitInvalid || !strings.Contains(errOut, "lonely") {
		t.Fatalf("gaps --gap lonely: exit %d %s", code, errOut)
	}

	var people steward.Page[steward.Person]
	s.call(t, "GET", "/api/v1/people?status=active&limit=2", "", nil, 200, &people)
	if len(people.Items) != 2 {
		t.Fatalf("people = %+v", people.Items)
	}
	owner, other := people.Items[0], people.Items[1]

	code, out, errOut = cli("identities", "set-owner", id, "--owner-id", fmt.Sprint(owner.ID))
	if code != 0 || !strings.Contains(out, owner.Name+" (set by hand)") || (owner.TeamID != nil && !strings.Contains(out, "(the owner's team)")) {
		t.Fatalf("set-owner: exit %d\n%s%s", code, out, errOut)
	}

	// The change is in the audit log, and audit list finds it by action,
	// object and time.
	var events steward.Page[steward.Event]
	code, out, errOut = cli("audit", "list", "--action", "identity.owner_changed", "--object", "identity:"+id, "--since", "1h", "-o", "json")
	if err := json.Unmarshal([]byte(out), &events); code != 0 || err != nil || len(events.Items) != 1 {
		t.Fatalf("audit list -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if p, err := events.Items[0].Payload(); err != nil || *p.(*steward.OwnerChanged).OwnerID != owner.ID {
		t.Fatalf("owner change event: %s %v", events.Items[0].Data, err)
	}
	code, out, errOut = cli("audit", "list", "--object", "identity:"+id)
	gap := gaps.Items[0]
	if code != 0 || !strings.Contains(out, "SEQ") || !strings.Contains(out, "identity.owner_changed") ||
		!strings.Contains(out, "identity "+gap.IdentityName+" on "+gap.SystemName) {
		t.Fatalf("audit list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli("audit", "list", "--action", "identity.owner_changed", "--since", "2999-01-01")
	if code != 0 || strings.Contains(out, "identity.owner_changed") {
		t.Fatalf("audit list --since the future: exit %d\n%s", code, out)
	}
	if code, _, errOut := cli("audit", "list", "--action", "identity.exploded"); code != ExitInvalid || !strings.Contains(errOut, "identity.owner_changed") {
		t.Fatalf("audit list with an unknown action: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("audit", "list", "--since", "last tuesday"); code != ExitInvalid || !strings.Contains(errOut, "--since") {
		t.Fatalf("audit list with a bad --since: exit %d %s", code, errOut)
	}
	var v steward.IdentityView
	code, out, _ = cli("identities", "get", id, "-o", "json")
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.OwnerID == nil || *v.OwnerID != owner.ID || v.OwnerSource != steward.OwnerExplicit {
		t.Fatalf("get after set-owner: exit %d, %+v %v", code, v, err)
	}
	var still steward.Page[steward.GapView]
	s.call(t, "GET", "/api/v1/gaps?gap=unowned&limit=1", "", nil, 200, &still)
	if len(still.Items) > 0 && fmt.Sprint(still.Items[0].IdentityID) == id {
		t.Error("the assigned identity is still the oldest unowned gap")
	}

	// The demo's token is the first active person's own: whoami says so.
	code, out, errOut = cli("whoami")
	if code != 0 || !regexpLine(out, `Name:\s+`+regexp.QuoteMeta(owner.Email)) || !regexpLine(out, `Kind:\s+person`) ||
		!regexpLine(out, `Role:\s+admin`) || !regexpLine(out, `Via:\s+token:demo-admin-\d+`) {
		t.Fatalf("whoami: exit %d\n%s%s", code, out, errOut)
	}
	// An admin who is not the owner does not attest for them.
	if code, _, errOut := cli("identities", "set-owner", id, "--owner-id", fmt.Sprint(other.ID)); code != 0 {
		t.Fatalf("set-owner: exit %d %s", code, errOut)
	}
	code, _, errOut = cli("identities", "attest", id)
	if code != ExitUnauthorized || !strings.Contains(errOut, "not even an admin") {
		t.Fatalf("attest of another's identity: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli("identities", "set-owner", id, "--owner-id", fmt.Sprint(owner.ID)); code != 0 {
		t.Fatalf("set-owner: exit %d %s", code, errOut)
	}
	code, out, errOut = cli("identities", "attest", id, "--note", "still used by the nightly export")
	if code != 0 || !strings.Contains(out, "Attested:") || !strings.Contains(out, fmt.Sprintf("by %s (%s)", owner.Name, owner.Email)) {
		t.Fatalf("attest by the owner: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = cli("identities", "set-owner", id, "--clear", "-o", "json")
	v = steward.IdentityView{}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.OwnerID != nil || v.OwnerSource != steward.OwnerNone {
		t.Fatalf("set-owner --clear: exit %d, %+v %v %s", code, v, err, errOut)
	}

	for name, args := range map[string][]string{
		"no assignment":    {"identities", "set-owner", id},
		"clear and assign": {"identities", "set-owner", id, "--clear", "--team-id", "1"},
	} {
		if code, _, errOut := cli(args...); code != ExitInvalid {
			t.Errorf("%s: exit %d, want %d: %s", name, code, ExitInvalid, errOut)
		}
	}
	if code, _, _ := cli("identities", "set-owner", "99999999", "--clear"); code != ExitNotFound {
		t.Errorf("set-owner of a missing identity: exit %d", code)
	}
	if code, _, errOut := cli("identities", "set-owner", "x", "--clear"); code != ExitNotFound || !strings.Contains(errOut, `No identity is named "x"`) {
		t.Errorf("set-owner of an identity nobody named: exit %d %s", code, errOut)
	}
	code, viewer, errOut := run(t, "token", "create", "--db", s.db, "--name", "reader", "--role", "auditor", "--for", other.Email)
	if code != 0 {
		t.Fatalf("token create: exit %d %s", code, errOut)
	}
	code, _, errOut = run(t, "identities", "set-owner", id, "--clear", "--server", s.base, "--token", strings.TrimSpace(viewer))
	if code != ExitUnauthorized || !strings.Contains(errOut, "writes nothing") {
		t.Errorf("set-owner with a viewer token: exit %d %s", code, errOut)
	}
}

// TestServeImports checks that serve wires the importer into the API: an
// upload is reconciled, and a broken one names its line.
func TestServeImports(t *testing.T) {
	t.Parallel()
	s := startDemoServer(t)
	var sys steward.System
	s.call(t, "POST", "/api/v1/systems", "application/json", strings.NewReader(`{"name": "uploaded", "kind": "vault"}`), 201, &sys)
	target := fmt.Sprintf("/api/v1/systems/%d/import?format=jsonl", sys.ID)
	body := `{"identity": {"external_id": "approle-ci", "kind": "workload", "owner": "nobody@example.com"}}` + "\n"
	var res steward.SyncResult
	s.call(t, "POST", target, "application/x-ndjson", strings.NewReader(body), 200, &res)
	if res.IdentitiesCreated != 1 {
		t.Errorf("import = %+v", res)
	}
	s.call(t, "POST", target, "", strings.NewReader(body), 200, &res)
	if res.Events != 0 {
		t.Errorf("second import = %+v, want no events", res)
	}
	var e struct{ Error steward.Error }
	s.call(t, "POST", target, "", strings.NewReader(body+"{\n"), 400, &e)
	if !strings.Contains(e.Error.Message, "upload:2") {
		t.Errorf("broken import: %+v", e.Error)
	}

	// sync-runs lists the three, newest first; the failed one with why.
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", s.base, "--token", s.token)...)
	}
	system := fmt.Sprint(sys.ID)
	// The upload gave no creation time: it is unknown, not the upload's.
	var ids steward.Page[steward.IdentityView]
	s.call(t, "GET", "/api/v1/identities?system_id="+system, "", nil, 200, &ids)
	if len(ids.Items) != 1 || ids.Items[0].CreatedAt != nil {
		t.Fatalf("uploaded identities: %+v", ids.Items)
	}
	if code, out, errOut := cli("identities", "get", fmt.Sprint(ids.Items[0].ID)); code != 0 || !regexp.MustCompile(`Created:\s+unknown\n`).MatchString(out) {
		t.Errorf("identities get: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := cli("sync-runs", "--system-id", system)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "RUN") ||
		!strings.Contains(lines[1], "failed: ") || !strings.Contains(lines[1], "upload:2") ||
		!strings.Contains(lines[2], "ok: 1 record, nothing changed") ||
		!strings.Contains(lines[3], "ok: 1 record; identities 1 created") || !strings.Contains(lines[3], system+" uploaded") {
		t.Fatalf("sync-runs: exit %d\n%s%s", code, out, errOut)
	}
	var failed steward.Page[steward.SyncRun]
	code, out, errOut = cli("sync-runs", "--system-id", system, "--failed", "-o", "json")
	if err := json.Unmarshal([]byte(out), &failed); code != 0 || err != nil || len(failed.Items) != 1 || failed.Items[0].Result != nil ||
		!strings.Contains(failed.Items[0].Error, "upload:2") {
		t.Fatalf("sync-runs --failed -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	code, out, errOut = cli("sync-runs", "--system-id", system, "--succeeded", "--limit", "1")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(errOut, "next page: --after ") {
		t.Fatalf("sync-runs --succeeded --limit 1: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := cli("sync-runs", "--failed", "--succeeded"); code != ExitInvalid {
		t.Errorf("sync-runs --failed --succeeded: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("sync-runs", "-o", "yaml"); code != ExitInvalid || !strings.Contains(errOut, "want table or json") {
		t.Errorf("sync-runs -o yaml: exit %d %s", code, errOut)
	}
}

// TestTokenPersonal runs the personal token commands against serve --demo
// with the demo's admin token: a person makes, lists and revokes their own
// tokens through the API, in their role unless an admin asks for another,
// and cannot touch anyone else's; an automation token has none.
func TestTokenPersonal(t *testing.T) {
	t.Parallel()
	s := startDemoServer(t)
	api := func(token string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", s.base, "--token", token)...)
	}
	code, out, stderr := api(s.token, "whoami", "-o", "json")
	var admin steward.Principal
	if err := json.Unmarshal([]byte(out), &admin); code != 0 || err != nil || admin.Kind != steward.PrincipalPerson {
		t.Fatalf("whoami: exit %d, %v\n%s%s", code, err, out, stderr)
	}

	// Made: only the secret on stdout; it acts as the same person.
	code, out, stderr = api(s.token, "token", "personal", "create", "--name", "laptop", "--expires-in", "168h")
	if code != 0 || !regexp.MustCompile(`^stw_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("create: exit %d, stdout %q\n%s", code, out, stderr)
	}
	laptop := strings.TrimSpace(out)
	code, out, _ = api(laptop, "whoami", "-o", "json")
	var p steward.Principal
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || p.Name != admin.Name || p.Role != steward.RoleAdmin || p.Via != "token:laptop" {
		t.Fatalf("whoami with the new token: exit %d, %+v, %v", code, p, err)
	}
	// An admin may make themselves a token of another role; a member may
	// not go above theirs.
	code, out, stderr = api(s.token, "token", "personal", "create", "--name", "as-member", "--role", "member", "-o", "json")
	var made struct {
		Token  struct{ Role, Name string }
		Secret string
	}
	if err := json.Unmarshal([]byte(out), &made); code != 0 || err != nil || made.Token.Role != "member" || made.Secret == "" {
		t.Fatalf("create --role member -o json: exit %d, %v\n%s%s", code, err, out, stderr)
	}
	if code, _, stderr := api(made.Secret, "token", "personal", "create", "--name", "up", "--role", "admin"); code != ExitUnauthorized {
		t.Errorf("a member asking for an admin token: exit %d, %s", code, stderr)
	}
	if code, _, stderr := api(s.token, "token", "personal", "create", "--name", "laptop"); code != ExitConflict {
		t.Errorf("a name taken: exit %d, %s", code, stderr)
	}
	if code, _, stderr := api(s.token, "token", "personal", "create", "--name", "long", "--expires-in", "2400h"); code != ExitInvalid {
		t.Errorf("beyond 90 days: exit %d, %s", code, stderr)
	}

	// Listed, by whichever of their tokens, never with a secret.
	code, out, stderr = api(made.Secret, "token", "personal", "list")
	if code != 0 || !regexp.MustCompile(`(?m)^laptop\s+admin\s`).MatchString(out) || !regexp.MustCompile(`(?m)^as-member\s+member\s`).MatchString(out) ||
		!strings.Contains(out, "demo-admin-") || strings.Contains(out, "stw_") {
		t.Fatalf("list: exit %d\n%s%s", code, out, stderr)
	}

	// Someone else's token is not found; an automation token has none.
	if code, _, stderr := run(t, "token", "create", "--db", s.db, "--name", "other", "--for", "other@example.com", "--create-person", "Other Person"); code != 0 {
		t.Fatalf("another person's token: %s", stderr)
	}
	code, ci, stderr := run(t, "token", "create", "--db", s.db, "--name", "ci", "--owner", admin.Name)
	if code != 0 {
		t.Fatalf("an automation token: %s", stderr)
	}
	if code, _, stderr := api(strings.TrimSpace(ci), "token", "personal", "list"); code != ExitUnauthorized || !strings.Contains(stderr, "not a person") {
		t.Errorf("an automation token's list: exit %d, %s", code, stderr)
	}
	if code, _, stderr := api(s.token, "token", "personal", "revoke", "other"); code != ExitNotFound {
		t.Errorf("revoke another's token: exit %d, %s", code, stderr)
	}
	code, out, _ = run(t, "token", "list", "--db", s.db)
	if code != 0 || !regexp.MustCompile(`(?m)^\d+\s+other\s.*\s-\s*$`).MatchString(out) {
		t.Errorf("the other person's token was revoked, or is not listed:\n%s", out)
	}

	// Revoked: refused from then on, and listed as revoked.
	if code, _, stderr := api(s.token, "token", "personal", "revoke", "laptop"); code != 0 || !strings.Contains(stderr, "revoked laptop") {
		t.Fatalf("revoke: exit %d, %s", code, stderr)
	}
	if code, _, _ := api(laptop, "whoami"); code != ExitUnauthorized {
		t.Errorf("a revoked token: exit %d", code)
	}
	code, out, _ = api(s.token, "token", "personal", "list", "-o", "json")
	var list struct{ Items []steward.Token }
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("list -o json: exit %d, %v", code, err)
	}
	for _, tok := range list.Items {
		if (tok.Name == "laptop") != (tok.RevokedAt != nil) {
			t.Errorf("token %s revoked at %v", tok.Name, tok.RevokedAt)
		}
	}
	if code, _, _ := api(s.token, "token", "personal", "revoke", "nosuch"); code != ExitNotFound {
		t.Errorf("revoke an unknown token: exit %d", code)
	}
}
