package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"strings"
	"testing"
)

// TestMain runs the import of a phase when the benchmark starts this test
// binary as its child process, as it starts itself when run.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := child(); err != nil {
			log.Fatal(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the benchmark at a tiny size: it checks that every phase
// runs to its end and is reported and that no write was answered 500,
// never how fast anything is.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-dir", t.TempDir(), "-identities", "2000", "-grants", "6000", "-entitlements", "200",
		"-writers", "2", "-rate", "20", "-idle", "200ms"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| no import |", "first load of 2000 identities", "re-sync, 1% changed (steward import, another process)",
		"re-sync back, 1% changed (POST /api/v1/systems/{id}/import"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
