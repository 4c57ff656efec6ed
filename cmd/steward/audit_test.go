package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
)

// TestAuditAnchorAndVerify runs the audit commands as an operator would: a
// signing key, events sealed with the key made next to the database, a
// checkpoint, verify with both; then a writer of the database rewrites the
// log with every hash recomputed, which verify catches with the key, and
// with the checkpoint alone once the key is gone.
func TestAuditAnchorAndVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, signing, cp := filepath.Join(dir, "s.db"), filepath.Join(dir, "signing.pem"), filepath.Join(dir, "checkpoint.json")
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, stderr := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
		}
		return out
	}
	mustRun("token", "create", "--db", db, "--name", "first", "--role", "admin", "--for", "ada@example.test", "--create-person", "Ada Lovelace")
	info, err := os.Stat(db + ".audit-key")
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the audit key made next to the database: %v %v", info, err)
	}
	if out := mustRun("audit", "anchor", "--init", "--signing-key", signing); !strings.Contains(out, signing+".pub") {
		t.Fatalf("anchor --init says %q", out)
	}
	if code, _, stderr := run(t, "audit", "anchor", "--init", "--signing-key", signing); code != ExitConflict || !strings.Contains(stderr, "exists already") {
		t.Fatalf("anchor --init over a key: exit %d %q", code, stderr)
	}
	if code, _, stderr := run(t, "audit", "anchor", "--db", db); code != ExitInvalid || !strings.Contains(stderr, "--signing-key") {
		t.Fatalf("anchor without a key: exit %d %q", code, stderr)
	}
	mustRun("audit", "anchor", "--db", db, "--signing-key", signing, "--out", cp)
	mustRun("token", "create", "--db", db, "--name", "second", "--role", "admin", "--for", "ada@example.test") // after the checkpoint

	out := mustRun("audit", "verify", "--db", db, "--checkpoint", cp, "--public-key", signing+".pub")
	if !strings.Contains(out, "intact") || !strings.Contains(out, "every seal checked") || !strings.Contains(out, "checkpoint of event") {
		t.Fatalf("verify:\n%s", out)
	}

	// A checkpoint file edited by hand is refused, and so is one checked
	// with another signer's public key.
	b, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(dir, "forged.json")
	if err := os.WriteFile(forged, []byte(strings.Replace(string(b), `"seq": `, `"seq": 1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "audit", "verify", "--db", db, "--checkpoint", forged, "--public-key", signing+".pub"); code != ExitInvalid || !strings.Contains(stderr, "altered") {
		t.Fatalf("verify with an edited checkpoint: exit %d %q", code, stderr)
	}
	other := filepath.Join(dir, "other.pem")
	mustRun("audit", "anchor", "--init", "--signing-key", other)
	if code, _, stderr := run(t, "audit", "verify", "--db", db, "--checkpoint", cp, "--public-key", other+".pub"); code != ExitInvalid || !strings.Contains(stderr, "signed by key") {
		t.Fatalf("verify with another public key: exit %d %q", code, stderr)
	}
	if code, _, _ := run(t, "audit", "verify", "--db", db, "--checkpoint", cp); code != ExitInvalid {
		t.Fatalf("--checkpoint without --public-key: exit %d", code)
	}

	// A writer of the database rewrites the first token's event and
	// recomputes every hash after it.
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	sqlstoretest.RewriteChain(t, raw, false, func(e *steward.Event) {
		if e.Action == steward.ActionTokenCreated {
			e.Actor = "local-admin:someone-else"
		}
	}, nil)
	raw.Close()
	code, _, stderr := run(t, "audit", "verify", "--db", db)
	if code != ExitAuditBroken || !strings.Contains(stderr, "seal does not match") {
		t.Fatalf("verify with the key after a rewrite: exit %d %q", code, stderr)
	}
	// Without the key, verify alone passes it and says what it did not
	// check; with the checkpoint it is caught.
	if err := os.Rename(db+".audit-key", filepath.Join(dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "audit", "verify", "--db", db)
	if code != 0 || !strings.Contains(stderr, "were not checked") {
		t.Fatalf("verify without the key: exit %d %q", code, stderr)
	}
	code, _, stderr = run(t, "audit", "verify", "--db", db, "--checkpoint", cp, "--public-key", signing+".pub")
	if code != ExitAuditBroken || !strings.Contains(stderr, "history up to it was rewritten") {
		t.Fatalf("verify --checkpoint without the key after a rewrite: exit %d %q", code, stderr)
	}
	// Nor does anchor sign a chain it finds broken.
	if err := os.Rename(filepath.Join(dir, "elsewhere"), db+".audit-key"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, "audit", "anchor", "--db", db, "--signing-key", signing); code != ExitAuditBroken {
		t.Fatalf("anchor of a broken chain: exit %d", code)
	}
}

// TestAuditKeyRotation: a key file made by keygen, rotated, verifies the
// events of both keys; a writer without the key is refused.
func TestAuditKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, key := filepath.Join(dir, "s.db"), filepath.Join(dir, "audit-key")
	for _, args := range [][]string{
		{"audit", "keygen", key},
		{"token", "create", "--db", db, "--audit-key-file", key, "--name", "a", "--for", "ada@example.test", "--create-person", "Ada Lovelace"},
		{"audit", "keygen", "--rotate", key},
		{"token", "create", "--db", db, "--audit-key-file", key, "--name", "b", "--for", "ada@example.test"},
	} {
		if code, out, stderr := run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	if _, err := os.Stat(db + ".audit-key"); err == nil {
		t.Fatal("a key was made next to the database though --audit-key-file was given")
	}
	code, out, stderr := run(t, "audit", "verify", "--db", db, "--audit-key-file", key)
	if code != 0 || !strings.Contains(out, "every seal checked (audit keys ") || !strings.Contains(out, ", ") {
		t.Fatalf("verify after a rotation: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := run(t, "audit", "keygen", key); code != ExitConflict {
		t.Fatalf("keygen over a key file: exit %d %q", code, stderr)
	}
	// Without the key file, no key is made next to a database whose log is
	// sealed: the write is refused.
	code, _, stderr = run(t, "token", "create", "--db", db, "--audit-key-file", filepath.Join(dir, "missing"), "--name", "c", "--for", "ada@example.test")
	if code != ExitInvalid || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("a missing key file: exit %d %q", code, stderr)
	}
}

// TestAuditKeyFromEnvironment: STEWARD_AUDIT_KEY holds the key itself; it
// and a key file together are refused. Not parallel: it sets the
// environment.
func TestAuditKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	t.Setenv("STEWARD_AUDIT_KEY", strings.Repeat("5a", 32))
	if code, _, stderr := run(t, "token", "create", "--db", db, "--name", "a", "--for", "ada@example.test", "--create-person", "Ada Lovelace"); code != 0 {
		t.Fatalf("token create: %s", stderr)
	}
	if _, err := os.Stat(db + ".audit-key"); err == nil {
		t.Fatal("a key file was made though STEWARD_AUDIT_KEY was set")
	}
	if code, out, stderr := run(t, "audit", "verify", "--db", db); code != 0 || !strings.Contains(out, "every seal checked") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := run(t, "audit", "verify", "--db", db, "--audit-key-file", filepath.Join(dir, "k")); code != ExitInvalid || !strings.Contains(stderr, "one way") {
		t.Fatalf("both: exit %d %q", code, stderr)
	}
	t.Setenv("STEWARD_AUDIT_KEY", "not a key")
	if code, _, stderr := run(t, "audit", "verify", "--db", db); code != ExitInvalid || !strings.Contains(stderr, "STEWARD_AUDIT_KEY") || strings.Contains(stderr, "not a key") {
		t.Fatalf("a bad key: exit %d %q", code, stderr)
	}
}
