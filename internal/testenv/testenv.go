// Package testenv decides what a test does when a real dependency it needs
// (Chromium, PostgreSQL, OpenLDAP) is missing from the machine: on a
// developer's machine it skips, so that `go test` works anywhere; in CI, where
// STEWARD_TEST_STRICT=1 is set, it fails, so that a missing dependency can
// never turn into a silently green build.
package testenv

import (
	"os"
	"testing"
)

// StrictEnv is the environment variable that makes a missing dependency a
// test failure instead of a skip. CI sets it to "1".
const StrictEnv = "STEWARD_TEST_STRICT"

// Strict reports whether missing test dependencies must fail the test.
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// Require returns if available is true. Otherwise it skips tb, or fails it
// when STEWARD_TEST_STRICT=1, naming the dependency and why it is missing:
//
//	_, err := os.Stat("/usr/bin/chromium")
//	testenv.Require(t, "chromium", err == nil, "/usr/bin/chromium: install the Debian package chromium")
func Require(tb testing.TB, name string, available bool, why string) {
	tb.Helper()
	require(tb, name, available, why, Strict())
}

func require(tb testing.TB, name string, available bool, why string, strict bool) {
	tb.Helper()
	if available {
		return
	}
	if strict {
		tb.Fatalf("%s is required but missing (%s=1): %s", name, StrictEnv, why)
		return
	}
	tb.Skipf("%s is missing, so this test is skipped (set %s=1 to fail instead): %s", name, StrictEnv, why)
}

// PostgresDSN returns the DSN of the test PostgreSQL server from
// STEWARD_TEST_POSTGRES, skipping or failing the test (see Require) when it
// is unset. Tests create their own schema or database inside it.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("STEWARD_TEST_POSTGRES")
	Require(tb, "PostgreSQL", dsn != "", "set STEWARD_TEST_POSTGRES=postgres://… or run 'make test', which starts a throwaway server when PostgreSQL is installed")
	return dsn
}
