package sqlstore_test

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestServerTuning reads the test server's settings through the store and
// checks them against what the server shows on a connection of its own
// ("128MB" as text, parsed here): a unit read wrong would be off by 8,192.
func TestServerTuning(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		got, err := db.ServerTuning(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect() == "sqlite" {
			if got != nil {
				t.Fatalf("SQLite has no server settings, got %+v", got)
			}
			return
		}
		raw, err := sql.Open("pgx", testenv.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var shown, huge string
		if err := raw.QueryRowContext(ctx, `SELECT current_setting('shared_buffers'), current_setting('huge_pages')`).Scan(&shown, &huge); err != nil {
			t.Fatal(err)
		}
		if want := sizeSetting(t, shown); got.SharedBuffers != want {
			t.Errorf("shared_buffers %q read as %d bytes, want %d", shown, got.SharedBuffers, want)
		}
		if got.HugePages != huge {
			t.Errorf("huge_pages %q, want %q", got.HugePages, huge)
		}
		// A migrated schema's empty tables still have their indexes' first
		// pages; the count is of this test's schema alone, not the database.
		if got.TablesSize <= 0 || got.TablesSize > 64<<20 {
			t.Errorf("Steward's tables take %d bytes in a fresh schema", got.TablesSize)
		}
	})
}

// sizeSetting parses a PostgreSQL memory setting as SHOW prints it.
func sizeSetting(t *testing.T, s string) int64 {
	t.Helper()
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("setting %q: %v", s, err)
			}
			return n * u.n
		}
	}
	t.Fatalf("setting %q has no unit", s)
	return 0
}

func TestServerTuningAdvice(t *testing.T) {
	t.Parallel()
	const mib, gib = int64(1) << 20, int64(1) << 30
	for _, c := range []struct {
		name string
		t    sqlstore.ServerTuning
		want []string // words of each piece of advice, in order
	}{
		{"small inventory on the defaults", sqlstore.ServerTuning{SharedBuffers: 128 * mib, HugePages: "try", TablesSize: 900 * mib}, nil},
		{"a million on the defaults", sqlstore.ServerTuning{SharedBuffers: 128 * mib, HugePages: "try", TablesSize: 2300 * mib},
			[]string{"shared_buffers (128 MiB) is under a quarter of Steward's tables (2.2 GiB)"}},
		{"a quarter exactly", sqlstore.ServerTuning{SharedBuffers: 1 * gib, HugePages: "try", TablesSize: 4 * gib}, nil},
		{"large buffers, huge pages off", sqlstore.ServerTuning{SharedBuffers: 4 * gib, HugePages: "off", TablesSize: 3 * gib},
			[]string{"4 GiB of shared_buffers without huge pages"}},
		{"try, and the server says it got none", sqlstore.ServerTuning{SharedBuffers: 2 * gib, HugePages: "try", HugePagesUsed: "off", TablesSize: 3 * gib},
			[]string{"without huge pages"}},
		{"try, and the server does not say", sqlstore.ServerTuning{SharedBuffers: 2 * gib, HugePages: "try", TablesSize: 3 * gib}, nil},
		{"huge pages on", sqlstore.ServerTuning{SharedBuffers: 4 * gib, HugePages: "on", HugePagesUsed: "on", TablesSize: 3 * gib}, nil},
		{"small buffers and no huge pages", sqlstore.ServerTuning{SharedBuffers: 128 * mib, HugePages: "off", TablesSize: 3 * gib},
			[]string{"under a quarter"}}, // no huge pages matter little for 128 MiB
		{"both", sqlstore.ServerTuning{SharedBuffers: 1 * gib, HugePages: "off", TablesSize: 10 * gib},
			[]string{"(1 GiB) is under a quarter of Steward's tables (10 GiB)", "1 GiB of shared_buffers without huge pages"}},
	} {
		got := c.t.Advice()
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s: advice %q, want one each containing %q", c.name, got, c.want)
		}
	}
}
