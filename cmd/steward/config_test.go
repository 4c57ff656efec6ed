package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// TestConfigSchedule: schedule takes a duration with its unit, and 0 (as
// docs/configuration.md says) for "by hand only"; a number without a unit
// is refused with what to write instead.
func TestConfigSchedule(t *testing.T) {
	t.Parallel()
	conf := func(schedule string) string {
		return "connectors:\n  - name: corp\n    type: ldap\n    schedule: " + schedule + "\n    ldap:\n      url: ldap://h\n      base_dn: dc=x\n"
	}
	for _, tc := range []struct {
		schedule string
		want     time.Duration
		err      string
	}{
		{"0", 0, ""},
		{"0s", 0, ""},
		{`"0"`, 0, ""},
		{"15m", 15 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"30", 0, "schedule 30 has no unit"},
		{"-1h", 0, "schedule must be 0 (by hand) or at least 1m"},
		{"30s", 0, "schedule must be 0 (by hand) or at least 1m"},
		{"soon", 0, "schedule"},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			cfg, err := parseConfig("steward.yaml", []byte(conf(tc.schedule)))
			if tc.err != "" {
				if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("schedule %s: got %v, want EINVALID saying %q", tc.schedule, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("schedule %s refused: %v", tc.schedule, err)
			}
			if got := cfg.Connectors[0].Schedule; got != tc.want {
				t.Errorf("schedule %s read as %v, want %v", tc.schedule, got, tc.want)
			}
		})
	}
}
