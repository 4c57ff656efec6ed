package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stewardhq/steward/store/sqlstore"
)

// TestScheduledRunsCounted: each run of a scheduled job is counted by its
// outcome, and the last run's duration kept, for /metrics.
func TestScheduledRunsCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlstore.Open(filepath.Join(t.TempDir(), "s.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := newScheduler(db, nil, slog.New(slog.DiscardHandler))
	fail := true
	j := job{name: "sync:pg-prod", run: func(context.Context) error {
		if fail {
			return errors.New("connection refused")
		}
		return nil
	}}
	s.runOnce(ctx, j)
	fail = false
	s.runOnce(ctx, j)
	s.runOnce(ctx, j)
	release, ok, err := db.TryLock(ctx, j.name) // another replica has it
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	s.runOnce(ctx, j)
	release()
	for outcome, want := range map[string]float64{"ok": 2, "failed": 1, "elsewhere": 1} {
		if got := testutil.ToFloat64(s.runs.WithLabelValues(j.name, outcome)); got != want {
			t.Errorf("%s runs counted %v, want %v", outcome, got, want)
		}
	}
	if n := testutil.CollectAndCount(s.took); n != 1 {
		t.Errorf("durations of %d jobs kept, want 1", n)
	}
}
