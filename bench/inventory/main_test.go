package main

import (
	"bytes"
	"context"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// tiny is a run small enough for a unit test. The test checks that the
// benchmark works end to end, never how fast anything is.
var tiny = []string{"-identities", "600", "-grants", "2500", "-people", "60", "-teams", "6", "-systems", "5",
	"-entitlements", "50", "-samples", "3", "-raw", "700", "-batch", "250"}

// MustRun runs the benchmark with args and returns its report.
func MustRun(tb testing.TB, args ...string) string {
	tb.Helper()
	var out bytes.Buffer
	m := NewMain(&out, io.Discard)
	if err := m.ParseFlags(args); err != nil {
		tb.Fatal(err)
	}
	err := m.Run(context.Background())
	if e := m.Close(); err == nil {
		err = e
	}
	if err != nil {
		tb.Fatal(err)
	}
	return out.String()
}

func TestRun(t *testing.T) {
	t.Parallel()
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "bench.db") },
		"postgres": freshSchema,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := db(t)
			report := MustRun(t, append([]string{"-db", dsn}, tiny...)...)
			for _, want := range []string{"600 identities, 2,500 grants", "| BulkLoad: identities (rows: 600 identities and ", "| BulkLoad: grants | 2,500 |",
				"| get identity by id | — | 3 |", "InventoryStats", "database size on disk", "peak RSS",
				"| identities sort credential_age | 99% |", "| count (no filter) | first |", "CSV export of every identity (written nowhere) | 600 rows"} {
				if !strings.Contains(report, want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
			for _, p := range Probes(nil, nil, Sizes{}) {
				if !strings.Contains(report, "| "+p.Name+" |") {
					t.Errorf("report lacks probe %q", p.Name)
				}
			}
			// A second run into the same, now full, database refuses.
			m := NewMain(io.Discard, io.Discard)
			if err := m.ParseFlags(append([]string{"-db", dsn}, tiny...)); err != nil {
				t.Fatal(err)
			}
			err := m.Run(context.Background())
			m.Close()
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("run into a loaded database: %v, want EINVALID", err)
			}
		})
	}
}

// freshSchema returns a DSN for a new schema of the test PostgreSQL server,
// dropped when the test ends.
func freshSchema(t *testing.T) string { return sqlstoretest.FreshSchemaDSN(t) }

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		ok   bool
	}{
		"defaults":             {nil, true},
		"small":                {tiny, true},
		"no identities":        {[]string{"-identities", "0"}, false},
		"fewer people":         {[]string{"-people", "3", "-teams", "4"}, false},
		"too few entitlements": {[]string{"-systems", "10", "-entitlements", "15"}, false},
		"unknown flag":         {[]string{"-bogus"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := NewMain(io.Discard, io.Discard).ParseFlags(tc.args)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseFlags(%q) = %v, want ok=%v", tc.args, err, tc.ok)
			}
		})
	}
}

// drain returns every identity and grant an Org makes, in batches.
func drain(o *Org, batch int) ([]steward.Identity, []steward.Grant) {
	o.Reference()
	var ids []steward.Identity
	for b := o.Identities(batch); b != nil; b = o.Identities(batch) {
		ids = append(ids, b...)
	}
	var gs []steward.Grant
	for b := o.Grants(batch); b != nil; b = o.Grants(batch) {
		gs = append(gs, b...)
	}
	return ids, gs
}

func TestOrg(t *testing.T) {
	t.Parallel()
	sz := Sizes{Identities: 3000, Grants: 15000, People: 200, Teams: 10, Systems: 20, Entitlements: 400}
	ids, gs := drain(NewOrg(sz, 7), 500)

	t.Run("deterministic", func(t *testing.T) {
		t.Parallel()
		again, againGrants := drain(NewOrg(sz, 7), 333) // batch size does not matter
		if !reflect.DeepEqual(ids, again) || !reflect.DeepEqual(gs, againGrants) {
			t.Fatal("the same seed made different rows")
		}
		other, _ := drain(NewOrg(sz, 8), 500)
		if reflect.DeepEqual(ids, other) {
			t.Fatal("another seed made the same identities")
		}
	})
	t.Run("sizes", func(t *testing.T) {
		t.Parallel()
		if len(ids) != sz.Identities || len(gs) != sz.Grants {
			t.Fatalf("made %d identities and %d grants, want %d and %d", len(ids), len(gs), sz.Identities, sz.Grants)
		}
	})
	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		for i := range ids {
			if err := ids[i].Validate(); err != nil {
				t.Fatalf("identity %d: %v", ids[i].ID, err)
			}
		}
		for i := range gs {
			if err := gs[i].Validate(); err != nil {
				t.Fatalf("grant %d: %v", gs[i].ID, err)
			}
		}
	})
	t.Run("unique grants", func(t *testing.T) {
		t.Parallel()
		seen := map[[2]int64]bool{}
		for _, g := range gs {
			k := [2]int64{g.IdentityID, g.EntitlementID}
			if seen[k] {
				t.Fatalf("identity %d holds entitlement %d twice", k[0], k[1])
			}
			seen[k] = true
		}
	})
	t.Run("shape", func(t *testing.T) {
		t.Parallel()
		unowned, active := 0, 0
		for _, i := range ids {
			if i.OwnerID == nil {
				unowned++
			}
			if i.Status == steward.IdentityActive {
				active++
			}
		}
		if f := float64(unowned) / float64(len(ids)); f < 0.07 || f > 0.13 {
			t.Errorf("%.1f%% unowned, want about 10%%", 100*f)
		}
		if f := float64(active) / float64(len(ids)); f < 0.8 {
			t.Errorf("%.1f%% active, want most", 100*f)
		}
	})
	t.Run("rare fragment", func(t *testing.T) {
		t.Parallel()
		o := NewOrg(sz, 7)
		for _, id := range []int64{1, 1234, 3000} {
			frag, n := o.RareFragment(id), 0
			for _, i := range ids {
				if strings.Contains(i.ExternalID, frag) || strings.Contains(i.Name, frag) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("fragment %q of identity %d matches %d identities, want 1", frag, id, n)
			}
		}
	})
}

func TestDistribution(t *testing.T) {
	t.Parallel()
	var times []time.Duration
	for i := 100; i >= 1; i-- {
		times = append(times, time.Duration(i)*time.Millisecond)
	}
	got := Distribution(times)
	want := Result{N: 100, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("Distribution = %+v, want %+v", got, want)
	}
}
