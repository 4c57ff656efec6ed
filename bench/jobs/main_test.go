package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun runs the benchmark at a tiny size: it checks that every phase
// runs to its end and is reported, never how fast anything is.
func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-db", filepath.Join(t.TempDir(), "jobs.db"), "-jobs", "300", "-each", "50"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"raw insert of 300", "Enqueue, 300 jobs in one transaction", "Enqueue, 50 jobs a transaction each",
		"worked, no-op worker (300)", "worked, owner notice with its audit event (50)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
