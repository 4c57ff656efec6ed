package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRun runs the benchmark at a tiny size: it checks that every phase
// runs to its end and is reported, never how fast anything is.
func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	args := []string{"-db", filepath.Join(t.TempDir(), "expiry.db"), "-grants", "600", "-spread", (300 * time.Millisecond).String(),
		"-restart", "200", "-identities", "50", "-batch", "64", "-river", "200"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"600 JIT grants", "all 600 revoked after", "lag p50 / p99 / max", "restart: 200 expired while stopped",
		"Memory against the number pending", "| 0 s | 600 |", "River job per grant: lag"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
