package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// small is a quick organisation for tests that do not measure proportions.
var small = Config{People: 200, NHI: 8000}

// MustGenerate runs Generate and fails tb on error.
func MustGenerate(tb testing.TB, cfg Config, emit func(*steward.Bulk) error) {
	tb.Helper()
	if err := Generate(cfg, emit); err != nil {
		tb.Fatalf("Generate(%+v): %v", cfg, err)
	}
}

// digest returns one hash per table of every row Generate emits, in order,
// and one of the gap history the last batch carries. Rows are hashed one by
// one, so that batch boundaries do not matter.
func digest(tb testing.TB, cfg Config) [8]string {
	tb.Helper()
	var hs [8]hash.Hash
	var encs [8]*json.Encoder
	for i := range hs {
		hs[i] = sha256.New()
		encs[i] = json.NewEncoder(hs[i])
	}
	MustGenerate(tb, cfg, func(b *steward.Bulk) error {
		encodeRows(tb, encs[0], b.Teams)
		encodeRows(tb, encs[1], b.People)
		encodeRows(tb, encs[2], b.Systems)
		encodeRows(tb, encs[3], b.Identities)
		encodeRows(tb, encs[4], b.Credentials)
		encodeRows(tb, encs[5], b.Entitlements)
		encodeRows(tb, encs[6], b.Grants)
		encodeRows(tb, encs[7], b.GapStarts)
		return nil
	})
	var out [8]string
	for i, h := range hs {
		out[i] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

func encodeRows[T any](tb testing.TB, enc *json.Encoder, rows []T) {
	tb.Helper()
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	base := digest(t, small)
	tests := []struct {
		name string
		cfg  Config
		same bool
	}{
		{"same seed", small, true},
		{"seed 0 is seed 1", Config{People: 200, NHI: 8000, Seed: 0}, true},
		{"explicit default now", Config{People: 200, NHI: 8000, Seed: 1, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"now in another zone and with nanoseconds", Config{People: 200, NHI: 8000, Now: time.Date(2026, 1, 1, 1, 0, 0, 999, time.FixedZone("CET", 3600))}, true},
		{"different seed", Config{People: 200, NHI: 8000, Seed: 2}, false},
		{"different now", Config{People: 200, NHI: 8000, Now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := digest(t, tt.cfg)
			if tt.same && got != base {
				t.Errorf("digest differs from the base run:\n got %v\nwant %v", got, base)
			}
			if !tt.same {
				for i := range got {
					if got[i] == base[i] && i != 2 { // systems do not depend on the seed's names
						t.Errorf("table %d is the same as the base run's", i)
					}
				}
			}
		})
	}
	t.Run("batch size does not change rows", func(t *testing.T) {
		t.Parallel()
		a := digest(t, small)
		b := digest(t, Config{People: 200, NHI: 8000, BatchSize: 777})
		if a != b {
			t.Errorf("rows differ between batch sizes:\n%v\n%v", a, b)
		}
	})
}

// TestGenerateGolden pins the output of one small configuration. It fails
// when a change alters the generated organisation, which is fine if meant:
// update the digest, and know that demo databases of the same seed differ
// from before. It also catches output that differs between platforms.
func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	d := digest(t, Config{People: 50, NHI: 500})
	sum := sha256.Sum256([]byte(strings.Join(d[:], "")))
	got := hex.EncodeToString(sum[:])
	const want = "ca48cd8e74e5d343b23f83641e48590d1c7f3fece7aa2d4d66e0c21030fee5d3" // owners decided by a tag name it; an owner alone brings their team
	if got != want {
		t.Errorf("digest(People 50, NHI 500) = %s; want %s", got, want)
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"too few people", Config{People: 9}},
		{"negative people", Config{People: -1}},
		{"negative nhi", Config{NHI: -5}},
		{"negative batch size", Config{BatchSize: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			err := Generate(tt.cfg, func(*steward.Bulk) error { called = true; return nil })
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Errorf("Generate(%+v) = %v; want EINVALID", tt.cfg, err)
			}
			if called {
				t.Error("emit was called for a bad config")
			}
		})
	}
}

func TestGenerateStopsOnEmitError(t *testing.T) {
	t.Parallel()
	stop := steward.Errorf(steward.EUNAVAILABLE, "store is down")
	n := 0
	err := Generate(Config{People: 200, NHI: 8000, BatchSize: 1000}, func(*steward.Bulk) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || steward.ErrorCode(err) != steward.EUNAVAILABLE {
		t.Errorf("Generate = %v; want the emit error wrapped", err)
	}
	if n != 3 {
		t.Errorf("emit called %d times; want it to stop after the failing third", n)
	}
}

// TestGenerateSmallestOrganisation checks that the smallest allowed
// organisation is still well formed.
func TestGenerateSmallestOrganisation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{People: 10, NHI: 1}, {People: 11, NHI: 100, BatchSize: 1}, {People: 73, NHI: 3000}} {
		t.Run(fmt.Sprintf("people %d nhi %d", cfg.People, cfg.NHI), func(t *testing.T) {
			t.Parallel()
			c := newChecker(t, cfg)
			MustGenerate(t, cfg, c.batch)
			c.finish()
			if c.people != int64(cfg.People) || c.nhi != cfg.NHI {
				t.Errorf("got %d people and %d NHIs; want %d and %d", c.people, c.nhi, cfg.People, cfg.NHI)
			}
		})
	}
}

// TestGenerateDefaultOrganisation generates the default organisation once
// and checks every row and the proportions the demo promises.
func TestGenerateDefaultOrganisation(t *testing.T) {
	t.Parallel()
	c := newChecker(t, Config{})
	MustGenerate(t, Config{}, c.batch)
	c.finish()

	share := func(n, of int) float64 { return float64(n) / float64(of) }
	tests := []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"people", float64(c.people), 2000, 2000},
		{"non-human identities", float64(c.nhi), 80000, 80000},
		{"non-human identities per person", share(c.nhi, int(c.people)), 39, 41},
		{"people who left", share(c.departed, int(c.people)), 0.025, 0.04},
		{"unowned NHIs", share(c.unowned, c.nhi), 0.08, 0.12},
		{"NHIs owned by people who left", share(c.ownerDeparted, c.nhi), 0.01, 0.08},
		{"NHIs of a team with no active member", share(c.teamInactive, c.nhi), 0.002, 0.06},
		{"NHIs never used", share(c.neverUsed, c.nhi), 0.10, 0.20},
		{"NHIs last used 180+ days ago", share(c.staleUsed, c.nhi), 0.05, 0.25},
		{"NHIs used in the last 3 days", share(c.recentlyUsed, c.nhi), 0.35, 0.60},
		{"NHIs with labels", share(c.labelled, c.nhi), 0.6, 0.8},
		{"NHIs managed by terraform", share(c.terraform, c.nhi), 0.3, 0.5},
		{"NHIs created over 5 years ago", share(c.olderThan5y, c.nhi), 0.1, 0.5},
		{"NHIs created within the last year", share(c.youngerThan1y, c.nhi), 0.2, 0.45},
		{"grants per NHI", share(c.nhiGrants, c.nhi), 4, 6},
		{"credentials older than a year, never rotated", share(c.oldUnrotated, int(c.credentials)), 0.1, 0.6},
		{"access keys older than a year, never rotated", share(c.oldUnrotatedKeys, c.accessKeys), 0.2, 0.6},
		{"privileged grants", share(c.privileged, int(c.grants)), 0.03, 0.15},
		{"privileged standing grants", share(c.privilegedStanding, int(c.grants)), 0.01, 0.08},
		{"time-bound grants", share(c.timeBound, int(c.grants)), 0.05, 0.2},
		{"time-bound grants expiring in the future", share(c.futureExpiry, c.timeBound), 0.9, 1},
		{"time-bound grants expiring within 61 days", share(c.expiryWithin61d, c.timeBound), 1, 1},
		{"human identities per active person", share(c.humansOfActive, int(c.people)-c.departed), 2, 3},
		{"teams whose members all left", float64(c.deadTeams()), 1, 3},
		// The history: gaps opened over months, most overdue, some not yet.
		{"gaps overdue", share(c.gapsOverdue, len(c.starts)), 0.6, 0.97},
		{"gaps opened in the last 30 days", share(c.gapsRecent, len(c.starts)), 0.05, 0.4},
		{"gaps opened over 90 days ago", share(c.gapsOld, len(c.starts)), 0.3, 0.8},
		{"months in which gaps opened", float64(c.gapMonths), 8, 11},
		// Owners a tag set, where the labels are that tag; the rest explicit.
		{"owned NHIs whose owner a tag set", share(c.ownerFromTag, c.ownedNHI), 0.25, 0.6},
		{"NHIs explicitly assigned", share(c.explicit, c.nhi), 0.3, 0.75},
		{"unowned NHIs whose team a tag set", share(c.teamFromTag, c.unowned), 0.5, 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("%s: %.4g", tt.name, tt.got)
			if tt.got < tt.lo || tt.got > tt.hi {
				t.Errorf("%s = %.4g; want between %g and %g", tt.name, tt.got, tt.lo, tt.hi)
			}
		})
	}
	t.Run("every kind, environment, level and grant type occurs", func(t *testing.T) {
		for _, k := range steward.IdentityKinds {
			if c.kinds[k] == 0 {
				t.Errorf("no identity of kind %s", k)
			}
		}
		for _, e := range steward.Environments {
			if c.envs[e] == 0 {
				t.Errorf("no identity in %s", e)
			}
		}
		for _, l := range steward.Levels {
			if c.levels[l] == 0 {
				t.Errorf("no identity of criticality %s", l)
			}
		}
		for _, gt := range steward.GrantTypes {
			if c.grantTypes[gt] == 0 {
				t.Errorf("no %s grant", gt)
			}
		}
		for _, k := range []steward.SystemKind{steward.SystemAWS, steward.SystemGCP, steward.SystemKubernetes,
			steward.SystemGitHub, steward.SystemPostgres, steward.SystemVault, steward.SystemOkta, steward.SystemLDAP} {
			if c.systemKinds[k] == 0 {
				t.Errorf("no %s system", k)
			}
		}
		t.Logf("kinds %v", c.kinds)
	})
	t.Run("admin entitlements are granted standing", func(t *testing.T) {
		for _, name := range []string{"AdministratorAccess", "clusterrole:cluster-admin", "org:owner", "SUPERUSER", "policy:root", "roles/owner"} {
			if c.standingAdmin[name] == 0 {
				t.Errorf("no standing grant of %s", name)
			}
		}
	})
	t.Run("names look like a real estate", func(t *testing.T) {
		for _, want := range wantNames {
			if !c.found[want] {
				t.Errorf("no identity name or external id contains %q", want)
			}
		}
	})
	t.Run("batches stay bounded", func(t *testing.T) {
		if c.maxBatch > DefaultBatchSize+100 {
			t.Errorf("largest batch has %d rows; want about %d", c.maxBatch, DefaultBatchSize)
		}
	})
}

// TestGenerateStreams generates the largest organisation Steward is designed
// for and checks that memory stays bounded: Generate must not keep
// identities, credentials or grants once their batch is emitted.
func TestGenerateStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a million identities; skipped with -short")
	}
	cfg := Config{People: 20000, NHI: 1_000_000}
	var sum Summary
	var peak uint64
	var ms runtime.MemStats
	MustGenerate(t, cfg, func(b *steward.Bulk) error {
		sum.Add(b)
		if sum.Batches%50 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	t.Logf("%+v; live heap at most %d MiB", sum, peak>>20)
	if sum.Identities < cfg.NHI+2*cfg.People {
		t.Errorf("generated %d identities; want at least %d", sum.Identities, cfg.NHI+2*cfg.People)
	}
	if peak > 64<<20 {
		t.Errorf("live heap reached %d MiB while generating; want it bounded by one batch", peak>>20)
	}
}

// TestWordLists checks the properties that make generated names unique
// without remembering them.
func TestWordLists(t *testing.T) {
	t.Parallel()
	hyphenPrefixFree := func(t *testing.T, what string, names []string) {
		t.Helper()
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Errorf("%s %q repeats", what, n)
			}
			seen[n] = true
		}
		for _, n := range names {
			for i := range len(n) {
				if n[i] == '-' && seen[n[:i]] {
					t.Errorf("%s %q starts with %s %q and a hyphen", what, n, what, n[:i])
				}
			}
		}
	}
	for _, people := range []int{10, 2000, 2052, 20000, 200000} {
		t.Run("team names for "+strconv.Itoa(people)+" people", func(t *testing.T) {
			var names []string
			for _, p := range planTeams((people + teamSize - 1) / teamSize) {
				names = append(names, p.name)
				if !strings.Contains(p.name, p.base) {
					t.Errorf("team %q does not contain its base %q", p.name, p.base)
				}
			}
			hyphenPrefixFree(t, "team", append(names, "leadership"))
		})
	}
	t.Run("services within a team", func(t *testing.T) {
		for _, d := range departments {
			for _, bt := range d.teams {
				hyphenPrefixFree(t, "service of "+bt.name, bt.apps)
				tm := &team{apps: bt.apps}
				seen := map[string]bool{}
				for c := range 3 * len(bt.apps) * len(components) {
					_, s := slug(tm, c)
					if seen[s] {
						t.Fatalf("team %s: slug %q repeats", bt.name, s)
					}
					seen[s] = true
				}
			}
		}
	})
	t.Run("components", func(t *testing.T) {
		hyphenPrefixFree(t, "component", components)
		for _, c := range components {
			if strings.ContainsAny(c, "-_/:0123456789") || steward.Environment(c).Validate() == nil {
				t.Errorf("component %q must be one word and not an environment", c)
			}
		}
	})
	t.Run("names fold to ASCII", func(t *testing.T) {
		for _, n := range append(append([]string{}, firstNames...), lastNames...) {
			f := fold(n)
			if f == "" || strings.Trim(f, "abcdefghijklmnopqrstuvwxyz") != "" {
				t.Errorf("fold(%q) = %q; want lower-case ASCII letters", n, f)
			}
		}
	})
}

func TestSummaryRows(t *testing.T) {
	t.Parallel()
	var s Summary
	s.Add(&steward.Bulk{Teams: make([]steward.Team, 1), People: make([]steward.Person, 2), Grants: make([]steward.Grant, 3)})
	if s.Rows() != 6 || s.Batches != 1 {
		t.Errorf("Summary %+v has %d rows; want 6 in 1 batch", s, s.Rows())
	}
}

func BenchmarkGenerate(b *testing.B) {
	var rows int
	for b.Loop() {
		var s Summary
		if err := Generate(Config{}, func(bk *steward.Bulk) error { s.Add(bk); return nil }); err != nil {
			b.Fatal(err)
		}
		rows += s.Rows()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
