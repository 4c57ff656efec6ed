package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunsSmall runs the benchmark at a tiny size: it finds routine asks
// the catalog approves, answers them 201 over HTTP, and the store holds a
// request, an event and a job for each.
func TestRunsSmall(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-people", "40", "-nhi", "400", "-asks", "20", "-concurrency", "4",
		"-duration", "300ms", "-warmup", "0s", "-rate", "50"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"closed loop, 4 clients", "open loop at 50/s", "one-row write transactions", "| this process ms |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
