package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward/internal/testenv"
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
		"Memory against the number pending", "| 0 s | 600 |", "River job per grant: lag", "run: engine time in claims / revocations / records",
		"restart: engine time in claims"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunPGTarget runs the -pg-target mode at a tiny size against the test
// PostgreSQL server: the memberships are revoked through the connector,
// none is left, and the benchmark's roles are gone afterwards.
func TestRunPGTarget(t *testing.T) {
	t.Parallel()
	server := testenv.PostgresDSN(t)
	var out bytes.Buffer
	args := []string{"-db", filepath.Join(t.TempDir(), "expiry.db"), "-pg-target", server, "-grants", "60", "-identities", "6", "-batch", "16"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"60 JIT grants", "Steward's PostgreSQL connector", "6 LOGIN roles × 10 NOLOGIN roles", "all 60 revoked after",
		"| target: memberships standing before the run / left after it (pg_has_role) | 60 / 0 |", "| target: revocations that failed (each retried) | 0 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	m := regexp.MustCompile(`\((expirybench_[0-9]+_)\*\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the report names no role prefix:\n%s", out.String())
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var left int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)`, m[1]).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d roles %s* left after the run", left, m[1])
	}
}
