package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun runs the benchmark at a tiny size: it checks that it runs to its
// end and reports, never how fast anything is.
func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-models", "30", "-people", "40", "-nhi", "300", "-questions", "50", "-decisions", "500"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Catalog decision, in process", "30 models", "| 500 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
