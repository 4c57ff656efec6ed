// Package testenv decides what a test does when a real server it needs
// (PostgreSQL, Chromium, OpenLDAP) is missing: skip on a developer's machine,
// fail in CI, where STEWARD_TEST_STRICT=1 says that everything must run.
package testenv

import (
	"os"
	"testing"
)

// Strict reports whether missing test dependencies are failures.
func Strict() bool { return os.Getenv("STEWARD_TEST_STRICT") == "1" }

// Require skips the test, or fails it under STEWARD_TEST_STRICT=1, when the
// named dependency is not available. why tells the reader how to provide it.
func Require(t testing.TB, name string, available bool, why string) {
	t.Helper()
	if available {
		return
	}
	if Strict() {
		t.Fatalf("%s is required (STEWARD_TEST_STRICT=1) but missing: %s", name, why)
	}
	t.Skipf("%s is missing, skipping: %s", name, why)
}

// PostgresDSN returns the DSN of the test PostgreSQL server from
// STEWARD_TEST_POSTGRES, skipping or failing the test (see Require) when it
// is unset. Tests create their own schema or database inside it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("STEWARD_TEST_POSTGRES")
	Require(t, "PostgreSQL", dsn != "", "set STEWARD_TEST_POSTGRES=postgres://… or run 'make test', which starts a throwaway server when PostgreSQL is installed")
	return dsn
}
