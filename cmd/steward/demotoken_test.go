package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stewardhq/steward/demo"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestPrepareDemoTwice: serve --demo started again at once on its own
// database (a restart, a script) makes another sign-in token; the token's
// name once had the second in it, and the second start failed with "a
// token named … exists already".
func TestPrepareDemoTwice(t *testing.T) {
	t.Parallel()
	db, err := sqlstore.Open(filepath.Join(t.TempDir(), "demo.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard, logger: slog.New(slog.DiscardHandler)}
	dc := demo.Config{People: 40, NHI: 200}
	first, err := prepareDemo(ctx, e, db, dc)
	if err != nil {
		t.Fatal(err)
	}
	second, err := prepareDemo(ctx, e, db, dc)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	if first == "" || second == "" || first == second {
		t.Fatalf("tokens %q and %q: want two different ones", first, second)
	}
}
