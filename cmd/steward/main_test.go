package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stewardhq/steward"
)

// run runs the CLI in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenCreatePrintsOnlyTheToken(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "s.db")
	code, out, stderr := run(t, "token", "create", "--db", db, "--name", "bootstrap", "--role", "admin", "--for", "boot@example.com", "--create-person", "Boot Strap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`^stw_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("stdout = %q, want the token alone", out)
	}
	code, _, stderr = run(t, "token", "create", "--db", db, "--name", "bootstrap", "--role", "admin", "--owner", "boot@example.com")
	if code != ExitConflict || !strings.Contains(stderr, "exists already") {
		t.Fatalf("duplicate name: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "token", "create", "--db", db, "--name", "x", "--role", "root", "--for", "boot@example.com")
	if code != ExitInvalid || !strings.Contains(stderr, "role") {
		t.Fatalf("bad role: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "token", "create", "--db", db, "--name", "x")
	if code != ExitInvalid || !strings.Contains(stderr, "--owner") {
		t.Fatalf("no principal: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "token", "create", "--db", db, "--name", "x", "--owner", "nobody@example.com")
	if code != ExitNotFound {
		t.Fatalf("unknown owner: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "token", "create", "--db", db, "--name", "ci", "--owner", "boot@example.com")
	if code != 0 {
		t.Fatalf("automation token: exit %d, %q", code, stderr)
	}
	code, _, _ = run(t, "token", "create", "--db", db)
	if code != ExitInvalid {
		t.Fatalf("missing --name: exit %d", code)
	}
	code, out, _ = run(t, "token", "list", "--db", db)
	if code != 0 || !regexp.MustCompile(`bootstrap\s+admin\s+person\s+boot@example.com\s+-`).MatchString(out) ||
		!regexp.MustCompile(`ci\s+member\s+automation\s+ci\s+boot@example.com`).MatchString(out) || strings.Contains(out, "stw_") {
		t.Fatalf("token list: exit %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"unknown command": {"frobnicate"},
		"unknown flag":    {"migrate", "--nope"},
		"bad log format":  {"--log-format", "xml", "version"},
		"extra argument":  {"version", "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, args...)
			if code == 0 || stderr == "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
		})
	}
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "steward ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// TestAuditVerifyCatchesTampering seeds a demo, verifies it, edits one event
// row with plain SQL and checks that verify names that event.
func TestAuditVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "demo.db")
	if code, _, stderr := run(t, "demo", "--db", db, "--people", "40", "--nhi", "600", "--seed", "3"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "token", "create", "--db", db, "--name", "a", "--for", "a@example.com", "--create-person", "A"); code != 0 {
		t.Fatalf("token: %s", stderr)
	}
	code, out, stderr := run(t, "audit", "verify", "--db", db)
	if code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify intact: exit %d\n%s%s", code, out, stderr)
	}
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE events SET data = '{"forged":true}' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	code, _, stderr = run(t, "audit", "verify", "--db", db)
	if code != ExitAuditBroken || !strings.Contains(stderr, "event 2") {
		t.Fatalf("verify after tampering: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "demo", "--db", db)
	if code != ExitConflict {
		t.Fatalf("demo into a non-empty database: exit %d %q", code, stderr)
	}
}

// syncBuffer is a bytes.Buffer safe to read while serve writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeDemo is the quick start end to end: serve --demo on a new file,
// then health, the API with the printed token, metrics, the CLI client, a
// graceful stop, and an audit log whose every event names a person or an
// owned automation identity.
func TestServeDemo(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "serve.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--demo", "--db", db, "--addr", "127.0.0.1:0", "--demo-people", "200", "--demo-nhi", "1500"}, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`running at (http://\S+)`)
	tokRE := regexp.MustCompile(`(stw_[A-Za-z0-9_-]{43})`)
	var base, token string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base, token = m[1], tokRE.FindString(stdout.String())
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d early: %s", code, stderr.String())
		default:
		}
	}
	if base == "" || token == "" {
		t.Fatalf("serve printed no URL and token:\n%s\n%s", stdout.String(), stderr.String())
	}
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, body := get("/api/v1/identities?limit=10", ""); code != 401 || !strings.Contains(body, `"unauthorized"`) {
		t.Fatalf("no token: %d %s", code, body)
	}
	code, body := get("/api/v1/identities?limit=10", token)
	var page struct {
		Items []json.RawMessage `json:"items"`
		Next  string            `json:"next"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || len(page.Items) != 10 || page.Next == "" {
		t.Fatalf("identities: %d, %d items, next %q, %v", code, len(page.Items), page.Next, err)
	}
	if code, body := get("/metrics", ""); code != 200 || !strings.Contains(body, "steward_identities{") || !strings.Contains(body, "steward_ownership_gaps{") {
		t.Fatalf("/metrics: %d\n%.2000s", code, body)
	}
	// The gap refresh runs as serve starts; its run is counted.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := get("/metrics", "")
		if strings.Contains(body, `steward_scheduled_runs_total{job="refresh-gaps",outcome="ok"} 1`) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("/metrics does not count the scheduled gap refresh:\n%s", body)
		}
	}
	c, out, errOut := run(t, "identities", "list", "--server", base, "--token", token, "--limit", "5", "--kind", "api_key")
	if c != 0 || strings.Count(out, "api_key") != 5 || !strings.Contains(errOut, "--after") {
		t.Fatalf("identities list: exit %d\n%s\n%s", c, out, errOut)
	}
	c, out, _ = run(t, "identities", "list", "--server", base, "--token", token, "--limit", "3", "--gap", "unowned", "-o", "json")
	var gapped steward.Page[steward.IdentityView]
	if err := json.Unmarshal([]byte(out), &gapped); c != 0 || err != nil || len(gapped.Items) != 3 {
		t.Fatalf("identities list --gap unowned: exit %d, %v\n%s", c, err, out)
	}
	for _, i := range gapped.Items {
		if i.OwnerID != nil {
			t.Fatalf("identities list --gap unowned listed %d, owned by %d", i.ID, *i.OwnerID)
		}
	}
	c, out, _ = run(t, "identities", "get", "1", "--server", base, "--token", token, "-o", "json")
	if c != 0 || !strings.Contains(out, `"id": 1`) {
		t.Fatalf("identities get: exit %d\n%s", c, out)
	}
	c, _, errOut = run(t, "identities", "get", "99999999", "--server", base, "--token", token)
	if c != ExitNotFound {
		t.Fatalf("identities get missing: exit %d %s", c, errOut)
	}
	c, _, _ = run(t, "identities", "list", "--server", base, "--token", "stw_wrong")
	if c != ExitUnauthorized {
		t.Fatalf("bad token: exit %d", c)
	}
	// Requests wait in the demo: serve names an approver they wait on, whose
	// token shows them in the inbox.
	var pending steward.Page[steward.AccessRequest]
	if code, body := get("/api/v1/requests?state=pending", token); code != 200 || json.Unmarshal([]byte(body), &pending) != nil {
		t.Fatalf("pending requests: %d %s", code, body)
	}
	if len(pending.Items) == 0 {
		t.Fatal("the demo has no pending request: its inbox story is gone")
	}
	m := regexp.MustCompile(`whom (\d+) pending request\(s\) wait on, with this member token:\s+(stw_\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("%d requests are pending, and serve names no approver:\n%s", len(pending.Items), stdout.String())
	}
	var inbox steward.Page[steward.AccessRequest]
	if code, body := get("/api/v1/requests/inbox", m[2]); code != 200 || json.Unmarshal([]byte(body), &inbox) != nil || fmt.Sprint(len(inbox.Items)) != m[1] {
		t.Errorf("the approver's inbox: %d %s; serve said %s wait", code, body, m[1])
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancel")
	}
	// Its migration, the seeding, the sign-in token and the scheduled gap
	// refresh each name a person of the demo or Steward itself.
	checkEventsNamePrincipals(t, db)
}

// TestExitCodes holds the CLI to the domain's one error table: every code
// exits with its row's code, through the same function every command uses.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, c := range steward.ErrorTable {
		if got := exitCode(steward.Errorf(c.Code, "x")); got != c.ExitCode {
			t.Errorf("%s: exit %d, want %d", c.Code, got, c.ExitCode)
		}
	}
	if got := exitCode(fmt.Errorf("wrapped: %w", &steward.ChainError{Seq: 2})); got != ExitAuditBroken {
		t.Errorf("broken chain: exit %d, want %d", got, ExitAuditBroken)
	}
	if got := exitCode(nil); got != ExitOK {
		t.Errorf("nil: exit %d", got)
	}
}
