package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runStdin runs the CLI in-process with body on standard input, through a
// pipe as a shell gives it: a pipe cannot seek back.
func runStdin(t *testing.T, body string, args ...string) (int, string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		_, _ = w.WriteString(body)
		w.Close()
	}()
	var out, errb bytes.Buffer
	code := runIO(context.Background(), args, r, &out, &errb)
	return code, out.String(), errb.String()
}

// TestImportStdinReadTwice: an import from standard input that must read
// its source a second time (a skipped line turned out wrong, so the store
// compares every record again) reads it from a spool, and names the line
// at fault, as an import of a file does. Before, the second read of the
// pipe failed. The spool is removed afterwards.
func TestImportStdinReadTwice(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the spool goes here; it must not stay
	db := filepath.Join(t.TempDir(), "stdin.db")
	first := `{"entitlement": {"name": "db:read"}}
{"identity": {"external_id": "svc-a", "kind": "service_account"}}
{"identity": {"external_id": "svc-b", "kind": "service_account"}}
{"grant": {"identity": "svc-b", "entitlement": "db:read"}}
`
	if code, out, stderr := runStdin(t, first, "import", "--db", db, "--format", "jsonl", "--system", "vault", "-", "-o", "json"); code != 0 {
		t.Fatalf("first import: exit %d\n%s%s", code, out, stderr)
	}
	// svc-b goes, its grant line stays as it was: the digest skips the
	// grant, finds its identity gone, and the store reads everything again.
	second := strings.Replace(first, `{"identity": {"external_id": "svc-b", "kind": "service_account"}}`+"\n", "", 1)
	code, out, stderr := runStdin(t, second, "import", "--db", db, "--format", "jsonl", "--system", "vault", "-", "-o", "json")
	if code != ExitInvalid || !strings.Contains(stderr, "stdin:3: grant names identity svc-b, which is not listed") {
		t.Fatalf("second import: exit %d, want %d naming stdin:3\n%s%s", code, ExitInvalid, out, stderr)
	}
	third := strings.Replace(second, `{"grant": {"identity": "svc-b", "entitlement": "db:read"}}`+"\n", "", 1)
	if code, out, stderr := runStdin(t, third, "import", "--db", db, "--format", "jsonl", "--system", "vault", "-", "-o", "json"); code != 0 || !strings.Contains(out, `"identities_removed": 1`) {
		t.Fatalf("third import: exit %d\n%s%s", code, out, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "steward-*")); len(left) > 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}
