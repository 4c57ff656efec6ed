package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of ending
// the test, so that Require's choice can be observed. It embeds the real TB
// only to satisfy the interface's unexported method.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestRequire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		available, strict bool
		wantSkip, wantErr bool
	}{
		{name: "available", available: true},
		{name: "available strict", available: true, strict: true},
		{name: "missing skips", wantSkip: true},
		{name: "missing strict fails", strict: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{TB: t}
			require(r, "chromium", tt.available, "not installed", tt.strict)
			if got := r.skipped != ""; got != tt.wantSkip {
				t.Errorf("skipped = %q, want skip %v", r.skipped, tt.wantSkip)
			}
			if got := r.failed != ""; got != tt.wantErr {
				t.Errorf("failed = %q, want failure %v", r.failed, tt.wantErr)
			}
			for _, msg := range []string{r.skipped, r.failed} {
				if msg != "" && (!strings.Contains(msg, "chromium") || !strings.Contains(msg, "not installed")) {
					t.Errorf("message %q should name the dependency and why", msg)
				}
			}
		})
	}
}

// TestStrictReadsEnvironment cannot run in parallel: it sets the variable.
func TestStrictReadsEnvironment(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{{"1", true}, {"", false}, {"0", false}, {"true", false}} {
		t.Run("value="+tt.value, func(t *testing.T) {
			t.Setenv(StrictEnv, tt.value)
			if got := Strict(); got != tt.want {
				t.Errorf("Strict() with %s=%q = %v, want %v", StrictEnv, tt.value, got, tt.want)
			}
		})
	}
}
