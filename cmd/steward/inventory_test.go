package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportDigestMaxAge: --digest-max-age reaches the store. With a limit
// every digest has passed, a re-import compares every record, and says so;
// with the default it does not. A negative limit is refused.
func TestImportDigestMaxAge(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "age.db")
	file := "../../importer/testdata/steward.jsonl"
	imp := func(extra ...string) (int, string) {
		t.Helper()
		code, out, stderr := run(t, append([]string{"import", "--db", db, "--format", "jsonl", "--system", "vault", file, "-o", "json"}, extra...)...)
		if code != 0 && len(extra) == 0 {
			t.Fatalf("import: exit %d\n%s%s", code, out, stderr)
		}
		return code, stderr
	}
	imp()
	if _, stderr := imp(); strings.Contains(stderr, "comparing every record") {
		t.Fatalf("a fresh digest was not trusted:\n%s", stderr)
	}
	if code, stderr := imp("--digest-max-age", "1ns"); code != 0 || !strings.Contains(stderr, "comparing every record") {
		t.Fatalf("an expired digest was trusted: exit %d\n%s", code, stderr)
	}
	if code, stderr := imp("--digest-max-age", "-1h"); code != ExitInvalid || !strings.Contains(stderr, "digest-max-age") {
		t.Fatalf("a negative limit: exit %d\n%s", code, stderr)
	}
}

// TestImport imports the importer's real-format fixtures, checks that a
// second import changes nothing and that a broken line names itself and
// changes nothing.
func TestImport(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "import.db")
	for _, tc := range []struct{ format, system, file string }{
		{"aws-credential-report", "aws-prod", "../../importer/testdata/credential-report.csv"},
		{"k8s-serviceaccounts", "k8s-prod", "../../importer/testdata/serviceaccounts.json"},
		{"gcp-sa-keys", "gcp-data", "../../importer/testdata/sa-keys.json"},
		{"jsonl", "vault-prod", "../../importer/testdata/steward.jsonl"},
		{"csv", "misc", "../../importer/testdata/identities.csv"},
	} {
		code, out, stderr := run(t, "import", "--db", db, "--format", tc.format, "--system", tc.system, tc.file, "-o", "json")
		if code != 0 || !strings.Contains(out, `"identities_created"`) {
			t.Fatalf("import %s: exit %d\n%s%s", tc.format, code, out, stderr)
		}
		code, out, stderr = run(t, "import", "--db", db, "--format", tc.format, "--system", tc.system, tc.file, "-o", "json")
		if code != 0 || !strings.Contains(out, `"events": 0`) {
			t.Fatalf("second import of %s changed something: exit %d\n%s%s", tc.format, code, out, stderr)
		}
	}
	s, err := sqlstore.Open(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sys, err := s.SystemByName(context.Background(), "aws-prod")
	if err != nil || sys.Kind != steward.SystemAWS {
		t.Fatalf("aws-prod = %+v %v", sys, err)
	}
	before, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	broken := writeFile(t, "broken.jsonl", `{"identity": {"external_id": "a", "kind": "bot"}}
{"identity": {"external_id": "b", "kind": "robot"}}
not json
`)
	code, _, stderr := run(t, "import", "--db", db, "--format", "jsonl", "--system", "vault-prod", broken)
	if code != ExitInvalid || !strings.Contains(stderr, "broken.jsonl:2") || !strings.Contains(stderr, "broken.jsonl:3") || !strings.Contains(stderr, "nothing was changed") {
		t.Fatalf("broken import: exit %d\n%s", code, stderr)
	}
	if after, err := s.VerifyAudit(context.Background()); err != nil || after != before {
		t.Fatalf("a refused import wrote %d events (%v)", after-before, err)
	}
	code, _, stderr = run(t, "import", "--db", db, "--format", "xml", "--system", "x", broken)
	if code != ExitInvalid || !strings.Contains(stderr, "aws-credential-report") {
		t.Fatalf("unknown format: exit %d %s", code, stderr)
	}
	code, _, _ = run(t, "import", "--db", db, "--format", "jsonl", "--system", "x", "/nonexistent.jsonl")
	if code != ExitNotFound {
		t.Fatalf("missing file: exit %d", code)
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "apply.db")
	if code, _, stderr := run(t, "demo", "--db", db, "--people", "30", "--nhi", "400"); code != 0 {
		t.Fatal(stderr)
	}
	rules := writeFile(t, "rules.yaml", `kind: OwnershipRules
rules:
  - name: everything-else
    match:
      names: ["*"]
      kinds: [api_key, token, secret, certificate, workload, bot, service_account]
    team: platform-sre
`)
	code, out, stderr := run(t, "apply", "--db", db, "-f", rules, "--dry-run")
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("dry run: %d %s %s", code, out, stderr)
	}
	code, out, stderr = run(t, "apply", "--db", db, "-f", rules)
	if code != 0 || !strings.Contains(out, "1 rule(s) in force") {
		t.Fatalf("apply: %d %s %s", code, out, stderr)
	}
	for name, bad := range map[string]string{
		"typo":       "kind: OwnershipRules\nrules:\n  - name: a\n    mach: {names: ['*']}\n    team: t\n",
		"no kind":    "rules: []\n",
		"other kind": "kind: Tiers\n",
		"bad rule":   "kind: OwnershipRules\nrules:\n  - name: a\n    team: t\n",
		"not yaml":   "kind: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, "apply", "--db", db, "-f", writeFile(t, "bad.yaml", bad))
			if code != ExitInvalid {
				t.Fatalf("exit %d: %s", code, stderr)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fromFile := filepath.Join(dir, "from-file.db")
	cfg := writeFile(t, "steward.yaml", "db: "+fromFile+"\nlog_format: json\n")
	code, _, stderr := run(t, "--config", cfg, "migrate")
	if code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(fromFile); err != nil {
		t.Fatalf("the file's db setting was not used: %v", err)
	}
	if !strings.HasPrefix(strings.TrimSpace(stderr), "{") {
		t.Fatalf("log_format from the file not used: %q", stderr)
	}
	fromFlag := filepath.Join(dir, "from-flag.db")
	if code, _, stderr := run(t, "--config", cfg, "migrate", "--db", fromFlag); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(fromFlag); err != nil {
		t.Fatalf("a flag did not override the file: %v", err)
	}
	code, _, stderr = run(t, "--config", writeFile(t, "typo.yaml", "dbb: x\n"), "migrate")
	if code != ExitInvalid || !strings.Contains(stderr, "dbb") {
		t.Fatalf("unknown setting: exit %d %q", code, stderr)
	}
	code, _, stderr = run(t, "--config", writeFile(t, "c.yaml", "connectors:\n  - name: x\n    type: oracle\n"), "sync")
	if code != ExitInvalid || !strings.Contains(stderr, "oracle") {
		t.Fatalf("unknown connector type: exit %d %q", code, stderr)
	}
}

// TestSyncPostgres runs 'steward sync' with a postgres connector against the
// real test server: a role appears as an identity, and after it is dropped a
// second sync marks it removed.
func TestSyncPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	prefix := fmt.Sprintf("clitest_%d_", rand.Int64N(1e9))
	for _, stmt := range []string{
		`CREATE ROLE ` + prefix + `readers NOLOGIN`,
		`CREATE ROLE ` + prefix + `etl LOGIN PASSWORD 'x-not-read' VALID UNTIL '2030-01-01'`,
		`GRANT ` + prefix + `readers TO ` + prefix + `etl`,
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		admin.Exec(`DROP ROLE IF EXISTS ` + prefix + `etl`)
		admin.Exec(`DROP ROLE IF EXISTS ` + prefix + `readers`)
	})
	cfg := writeFile(t, "steward.yaml", fmt.Sprintf(`connectors:
  - name: pg-test
    type: postgres
    system: pg-test
    environment: staging
    postgres:
      dsn: %q
      include_roles: ["%s*"]
`, dsn, prefix))
	db := filepath.Join(t.TempDir(), "sync.db")
	code, out, stderr := run(t, "--config", cfg, "sync", "--db", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"identities_created": 1`) || !strings.Contains(out, `"grants_created": 1`) {
		t.Fatalf("first sync: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = run(t, "--config", cfg, "sync", "pg-test", "--db", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"events": 0`) {
		t.Fatalf("second sync changed something: %s", out)
	}
	if _, err := admin.Exec(`DROP ROLE ` + prefix + `etl`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "--config", cfg, "sync", "--db", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"identities_removed": 1`) {
		t.Fatalf("sync after drop: %s", out)
	}
	code, _, stderr = run(t, "--config", cfg, "sync", "nope", "--db", db)
	if code != ExitNotFound {
		t.Fatalf("unknown connector: exit %d %s", code, stderr)
	}
	// steward sync is a local command: its events name the person who ran
	// it, not the connector (scheduled syncs of serve act as the connector).
	for _, ev := range allEvents(t, db) {
		if !strings.HasPrefix(ev.Actor, localAdminPrefix) {
			t.Errorf("event %d %s: actor %q, want the local administrator", ev.Seq, ev.Action, ev.Actor)
		}
	}
}

// TestRotatePostgres: 'steward rotate' gives a role a new password through
// the connector, against the real test server, and records the rotation:
// the credential's last rotation is set with a credential.rotated event,
// and the next sync, which reads no rotation time from PostgreSQL, keeps it
// and writes nothing. A password changed by hand afterwards is noticed by
// the sync after (its salt changed) as a rotation whose time is unknown.
func TestRotatePostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	prefix := fmt.Sprintf("clirot_%d_", rand.Int64N(1e9))
	role := prefix + "etl"
	if _, err := admin.Exec(`CREATE ROLE ` + role + ` LOGIN PASSWORD 'before-rotation'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP ROLE IF EXISTS ` + role) })
	sink := t.TempDir()
	if err := os.Chmod(sink, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "steward.yaml", fmt.Sprintf(`connectors:
  - name: pg-rot
    type: postgres
    schedule: 0
    postgres:
      dsn: %q
      include_roles: ["%s*"]
      rotation_sink: file:%s
      password_valid_days: 30
`, dsn, prefix, sink))
	db := filepath.Join(t.TempDir(), "rotate.db")
	if code, out, stderr := run(t, "--config", cfg, "rotate", "pg-rot", role, "--db", db); code != ExitNotFound {
		t.Fatalf("rotate before any sync: exit %d, want %d\n%s%s", code, ExitNotFound, out, stderr)
	}
	if code, out, stderr := run(t, "--config", cfg, "sync", "--db", db, "-o", "json"); code != 0 {
		t.Fatalf("first sync: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr := run(t, "--config", cfg, "rotate", "pg-rot", role, "--db", db, "-o", "json")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, stderr)
	}
	var cred steward.Credential
	if err := json.Unmarshal([]byte(out), &cred); err != nil || cred.LastRotatedAt == nil || cred.ExpiresAt == nil {
		t.Fatalf("rotate printed %s (%v); want the credential with its rotation and expiry", out, err)
	}
	if b, err := os.ReadFile(filepath.Join(sink, role)); err != nil || len(b) < 16 || strings.Contains(out, strings.TrimSpace(string(b))) {
		t.Fatalf("the sink holds %q (%v); want the new password there and nowhere in the output", b, err)
	}
	code, out, stderr = run(t, "--config", cfg, "sync", "--db", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"credentials_rotated": 0`) || !strings.Contains(out, `"events": 0`) {
		t.Fatalf("the sync after the rotation: exit %d\n%s%s", code, out, stderr)
	}
	store, err := sqlstore.Open(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	creds, err := store.Credentials(context.Background(), cred.IdentityID)
	if err != nil || len(creds) != 1 || creds[0].LastRotatedAt == nil || !creds[0].LastRotatedAt.Equal(*cred.LastRotatedAt) {
		t.Fatalf("after the sync: %+v, %v; want the recorded rotation kept", creds, err)
	}
	events, err := store.Events(context.Background(), steward.EventFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	rotated := 0
	for _, ev := range events.Items {
		// The rotation's own event, not a sync's (which acts as the
		// connector).
		if ev.Action == "credential.rotated" && ev.Actor != "connector:pg-rot" {
			rotated++
		}
	}
	if rotated != 1 {
		t.Errorf("%d credential.rotated events by the rotate command, want 1", rotated)
	}
	// Someone sets the password by hand.
	if _, err := admin.Exec(`ALTER ROLE ` + role + ` PASSWORD 'by-hand'`); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, "--config", cfg, "sync", "--db", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"credentials_rotated": 1`) {
		t.Fatalf("the sync after a change by hand: exit %d\n%s%s", code, out, stderr)
	}
}

// TestImportLinksAcrossSystems: a cluster's service account that assumes an
// IAM role (IRSA) is linked to the role's identity once an import of the
// AWS account brings it, whichever system is imported first.
func TestImportLinksAcrossSystems(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "links.db")
	const role = "arn:aws:iam::123456789012:role/payments-api"
	roles := writeFile(t, "roles.jsonl", `{"identity": {"external_id": "`+role+`", "name": "payments-api", "kind": "service_account"}}`+"\n")
	if code, out, stderr := run(t, "import", "--db", db, "--format", "k8s-serviceaccounts", "--system", "k8s-prod", "../../importer/testdata/serviceaccounts.json"); code != 0 {
		t.Fatalf("k8s import: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr := run(t, "import", "--db", db, "--format", "jsonl", "--system", "aws-prod", "--system-kind", "aws", roles, "-o", "json")
	if code != 0 || !strings.Contains(out, `"links_changed": 1`) {
		t.Fatalf("roles import: exit %d\n%s%s", code, out, stderr)
	}
	s, err := sqlstore.Open(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	page, err := s.Identities(ctx, steward.IdentityFilter{Query: "payments-prod:payments-api"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("the service account: %+v, %v", page, err)
	}
	links, err := s.IdentityLinks(ctx, page.Items[0].ID)
	if err != nil || len(links) != 1 || links[0].ToRef != role || links[0].ToID == nil || links[0].ToSystem != "aws-prod" {
		t.Fatalf("links of the service account: %+v, %v", links, err)
	}
	if back, err := s.IdentityLinks(ctx, *links[0].ToID); err != nil || len(back) != 1 || back[0].FromSystem != "k8s-prod" {
		t.Errorf("links of the role: %+v, %v", back, err)
	}
}

// TestMigrateAdvisesPostgres runs 'steward migrate' on a schema of the test
// server: it logs the server's settings that matter at scale (a fresh
// schema is too small for any advice), and on SQLite it logs none.
func TestMigrateAdvisesPostgres(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, "migrate", "--db", sqlstoretest.FreshSchemaDSN(t), "--log-format", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	if !strings.Contains(stderr, `"msg":"postgresql settings","shared_buffers_mib":`) || strings.Contains(stderr, `"level":"WARN","msg":"PostgreSQL's`) {
		t.Fatalf("migrate on PostgreSQL: %s", stderr)
	}
	code, _, stderr = run(t, "migrate", "--db", filepath.Join(t.TempDir(), "s.db"))
	if code != 0 || strings.Contains(stderr, "postgresql settings") {
		t.Fatalf("migrate on SQLite: exit %d %s", code, stderr)
	}
}
