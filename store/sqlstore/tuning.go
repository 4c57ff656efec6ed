package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ServerTuning is what a PostgreSQL server's settings and the size of
// Steward's tables say about how the server will keep up at scale
// (docs/sizing.md, "PostgreSQL settings").
type ServerTuning struct {
	SharedBuffers int64  // bytes
	HugePages     string // the setting: on, off or try
	HugePagesUsed string // on or off where the server tells (PostgreSQL 17 and later), else ""
	TablesSize    int64  // bytes Steward's tables take, with their indexes
}

// ServerTuning reads the settings of a PostgreSQL store's server; nil on
// SQLite, which has none that matter here.
func (d *DB) ServerTuning(ctx context.Context) (*ServerTuning, error) {
	if !d.pg {
		return nil, nil
	}
	var t ServerTuning
	err := d.read.QueryRowContext(ctx, `SELECT
		(SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings WHERE name = 'shared_buffers'),
		current_setting('huge_pages'),
		COALESCE(current_setting('huge_pages_status', true), ''),
		(SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r')`).
		Scan(&t.SharedBuffers, &t.HugePages, &t.HugePagesUsed, &t.TablesSize)
	if err != nil {
		return nil, fmt.Errorf("reading the server's settings: %w", err)
	}
	return &t, nil
}

// Advice says, in sentences an operator can act on, which of the settings
// will slow Steward down at the size its tables have reached; none for a
// small inventory, where the defaults serve.
//
//   - shared_buffers under a quarter of the tables (once they pass 1 GiB):
//     syncs and lists read through the operating system's cache and push
//     each other's pages out.
//   - huge pages off for a shared_buffers of 1 GiB or more: every new
//     connection maps shared memory into its page tables 4 KiB at a time as
//     it first touches each buffer, about a second of a 1% re-sync of a
//     million identities (bench/RESULTS.md). With huge_pages = try before
//     PostgreSQL 17 the server does not say whether it got them, and there
//     is no advice.
func (t ServerTuning) Advice() []string {
	var out []string
	if t.TablesSize > 1<<30 && t.SharedBuffers < t.TablesSize/4 {
		out = append(out, fmt.Sprintf("PostgreSQL's shared_buffers (%s) is under a quarter of Steward's tables (%s): "+
			"set it to a quarter of the server's memory, up to their size (docs/sizing.md, PostgreSQL settings)", bytesText(t.SharedBuffers), bytesText(t.TablesSize)))
	}
	if t.SharedBuffers >= 1<<30 && (t.HugePages == "off" || t.HugePagesUsed == "off") {
		out = append(out, fmt.Sprintf("PostgreSQL runs its %s of shared_buffers without huge pages: each new connection's first statements "+
			"pay to map them, about a second of a large sync; reserve huge pages and set huge_pages = on (docs/sizing.md, PostgreSQL settings)", bytesText(t.SharedBuffers)))
	}
	return out
}

// bytesText renders n bytes in the largest binary unit that keeps a whole
// number before the point, to a tenth: 128 MiB, 2.3 GiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + []string{"KiB", "MiB", "GiB", "TiB"}[i]
}
