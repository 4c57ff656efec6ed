// Command expiry is Steward's JIT expiry benchmark: how late, how fast and
// in how much memory the expiry engine (jobs.Expiry) revokes JIT grants, on
// SQLite or PostgreSQL. It prints Markdown for bench/RESULTS.md.
//
//	go run ./bench/expiry -db /tmp/expiry.db
//	go run ./bench/expiry -db 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable'
//
// The phases:
//
//  1. load: -grants active JIT grants (identities × privileged roles of one
//     system), recorded through Store.RecordJITGrant in batches, each with
//     its jit_grant.granted event, expiries spread evenly over -spread.
//  2. run: the engine, on a clock that starts at the first expiry, revokes
//     them through a recording target as they fall due. Measured: the lag of
//     every revocation (revoked at − expires at, as stored and audited),
//     revocations per second over the run, and the process's memory against
//     the number of grants still pending, sampled every second.
//  3. restart: -restart more grants that all expired while no engine ran;
//     a new store handle and a new engine start, and the time until the
//     last is revoked is measured: the backlog's revocation rate.
//
// The target records and answers at once: the figures are Steward's side
// of a revocation (claim, audit, record), not a real system's. With
// -pg-target the grants are real role memberships in a PostgreSQL server,
// revoked by Steward's PostgreSQL connector (see pgtarget.go):
//
//	go run ./bench/expiry -db /tmp/expiry.db -pg-target 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//
// 10,000 grants by default there (100 LOGIN roles × 100 NOLOGIN roles,
// expiries arriving at 20,000/s as in the default run), no restart phase;
// the memberships left after the run are counted with pg_has_role.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/bench/internal/engine"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store/sqlstore"
)

func main() {
	log.SetFlags(0)
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// recordingTarget is the benchmark's system: it counts what it is asked to
// revoke and answers at once. A stand-in, because no real system here
// revokes a million memberships in a minute; -pg-target revokes real ones.
type recordingTarget struct{ n atomic.Int64 }

func (r *recordingTarget) Revoke(context.Context, string, string) error {
	r.n.Add(1)
	return nil
}

func (r *recordingTarget) revoked() int64 { return r.n.Load() }

func (c *countingTarget) revoked() int64 { return c.done.Load() }

// target is what the run revokes through, and how many it has revoked.
type target interface {
	steward.Revoker
	revoked() int64
}

// sample is the process's memory at one moment of the run.
type sample struct {
	at        time.Duration
	pending   int64
	rss, heap uint64 // bytes: resident set, Go heap in use
}

// figures are one run's results.
type figures struct {
	dialect, version      string
	n, restartN           int
	spread                time.Duration
	batch, concurrency    int
	load                  float64 // grants recorded per second
	runTook               time.Duration
	lag                   []time.Duration // sorted
	samples               []sample
	peakRSS, startRSS     uint64
	restartTook           time.Duration
	restartLag            []time.Duration
	restartRSS            uint64
	loadAvgStart, loadAvg string
	river                 string // the River rows of the table, if measured
	split, restartSplit   string // the engine's time in claims / revocations / records
	// -pg-target only
	pg               *pgTarget
	pgBefore, pgLeft int   // granted memberships standing before the run, and left after it
	pgFailed         int64 // revocations the target refused or failed (each retried)
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("expiry", flag.ContinueOnError)
	dsn := fs.String("db", "", "SQLite file or postgres:// URL of an empty database (default: a temp SQLite file)")
	n := fs.Int("grants", 1_000_000, "active JIT grants whose expiry the run revokes")
	spread := fs.Duration("spread", 50*time.Second, "the expiries are spread evenly over this long")
	restartN := fs.Int("restart", 100_000, "grants that expire while no engine runs (0: no restart phase)")
	idents := fs.Int("identities", 1000, "identities the grants are spread over (roles: grants / identities)")
	batch := fs.Int("batch", 0, "grants one claim takes (jobs.ExpiryConfig.Batch; default: its default)")
	concurrency := fs.Int("concurrency", 0, "revocations of a claim at once (jobs.ExpiryConfig.Concurrency; default: its default)")
	riverN := fs.Int("river", 0, "also measure a River job per grant: this many jobs, spread over -spread (see river.go)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run phase (2) to this file")
	pgDSN := fs.String("pg-target", "", "revoke real role memberships in this PostgreSQL server (postgres:// URL of a role with CREATEROLE) through Steward's connector; "+
		"defaults then: -grants 10000, -identities 100, -spread of 20,000 expiries/s, -restart 0")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pgDSN != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["grants"] {
			*n = 10_000
		}
		if !set["identities"] {
			*idents = 100
		}
		if !set["spread"] {
			*spread = time.Duration(*n) * 50 * time.Microsecond
		}
		if set["restart"] && *restartN != 0 || *riverN != 0 {
			return fmt.Errorf("-pg-target measures the run alone: give neither -restart nor -river")
		}
		*restartN = 0
	}
	if *dsn == "" {
		dir, err := os.MkdirTemp("", "steward-bench-expiry-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dsn = filepath.Join(dir, "expiry.db")
	}
	ctx = steward.WithActor(ctx, "bench:expiry")
	db, err := sqlstore.Open(*dsn, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer func() { db.Close() }() // #nosec G104 -- the benchmark has its figures; an error closing the database changes none
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	eng, err := engine.Open(*dsn)
	if err != nil {
		return err
	}
	defer eng.Close()
	var have int
	if err := eng.QueryRowContext(ctx, `SELECT count(*) FROM jit_grants`).Scan(&have); err != nil || have > 0 {
		return fmt.Errorf("%s: give an empty database (%d JIT grants, %v)", *dsn, have, err)
	}
	f := &figures{dialect: db.Dialect(), version: eng.Version(ctx), n: *n, restartN: *restartN, spread: *spread, batch: *batch, concurrency: *concurrency}

	total := *n + *restartN
	sys := &steward.System{Name: "bench-expiry", Kind: steward.SystemPostgres}
	if err := db.CreateSystem(ctx, sys); err != nil {
		return err
	}
	roles := (total + *idents - 1) / *idents
	identName := func(i int) string { return fmt.Sprintf("svc%d", i) }
	roleName := func(i int) string { return fmt.Sprintf("admin%d", i) }
	var target target = &recordingTarget{}
	if *pgDSN != "" {
		if f.pg, err = newPGTarget(ctx, *pgDSN); err != nil {
			return err
		}
		defer func() {
			if err := f.pg.drop(); err != nil {
				log.Printf("-pg-target: %v", err)
			}
		}()
		identName, roleName = f.pg.login, f.pg.role
		t0 := time.Now()
		if f.pgBefore, err = f.pg.setup(ctx, *idents, roles, *n, func(i int) int { return i % *idents }, func(i int) int { return i / *idents }); err != nil {
			return fmt.Errorf("-pg-target: creating the roles and memberships: %w", err)
		} else if f.pgBefore != *n {
			return fmt.Errorf("-pg-target: %d of the %d memberships granted stand", f.pgBefore, *n)
		}
		log.Printf("-pg-target: %d login roles, %d roles, %d memberships (%s*) in %s", *idents, roles, *n, f.pg.prefix, time.Since(t0).Round(time.Millisecond))
		conn, err := f.pg.connector(*pgDSN)
		if err != nil {
			return err
		}
		target = &countingTarget{r: conn}
	}
	identIDs, roleIDs := make([]int64, *idents), make([]int64, roles)
	for i := range identIDs {
		x := &steward.Identity{SystemID: sys.ID, Name: identName(i), ExternalID: identName(i), Kind: steward.KindServiceAccount,
			Environment: steward.EnvProd, Criticality: steward.LevelMedium, Status: steward.IdentityActive}
		if err := db.CreateIdentity(ctx, x); err != nil {
			return err
		}
		identIDs[i] = x.ID
	}
	for i := range roleIDs {
		e := &steward.Entitlement{SystemID: sys.ID, Name: "role:" + roleName(i), Privileged: true, Sensitivity: steward.LevelHigh}
		if err := db.CreateEntitlement(ctx, e); err != nil {
			return err
		}
		roleIDs[i] = e.ID
	}
	// grant i: identity i mod idents, role i div idents.
	grantOf := func(i int, expires time.Time) *steward.JITGrant {
		return &steward.JITGrant{IdentityID: identIDs[i%*idents], EntitlementID: roleIDs[i / *idents], GrantedAt: expires.Add(-time.Hour),
			ExpiresAt: expires, GrantedBy: "bench:expiry"}
	}

	// 1. Load, expiries at v0 + i·spread/n on the run's clock.
	v0 := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	step := *spread / time.Duration(max(*n, 1))
	t0 := time.Now()
	if err := record(ctx, db, 0, *n, func(i int) *steward.JITGrant { return grantOf(i, v0.Add(time.Duration(i)*step)) }); err != nil {
		return err
	}
	f.load = float64(*n) / time.Since(t0).Seconds()
	log.Printf("load: %d grants at %.0f/s", *n, f.load)
	runtime.GC()

	// 2. Run, on a clock at v0 when the engine starts.
	f.loadAvgStart = loadAvg()
	start := time.Now()
	clock := func() time.Time { return v0.Add(time.Since(start)) }
	f.startRSS = rss()
	f.samples = append(f.samples, sample{0, int64(*n), f.startRSS, heap()})
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	stop, timed, err := runEngine(ctx, db, target, clock, *batch, *concurrency)
	if err != nil {
		return err
	}
	next := time.Now().Add(time.Second)
	for target.revoked() < int64(*n) {
		time.Sleep(10 * time.Millisecond)
		if r := rss(); r > f.peakRSS {
			f.peakRSS = r
		}
		if time.Now().After(next) {
			next = next.Add(time.Second)
			f.samples = append(f.samples, sample{time.Since(start), int64(*n) - target.revoked(), rss(), heap()})
		}
		if time.Since(start) > *spread+10*time.Minute {
			stop()
			return fmt.Errorf("run: %d of %d revoked after %s", target.revoked(), *n, time.Since(start))
		}
	}
	f.runTook = time.Since(start)
	f.loadAvg = loadAvg()
	err = recorded(ctx, eng, 0, *n)
	stop()
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	f.split = timed.split(time.Since(start))
	if err != nil {
		return err
	}
	if f.lag, err = lags(ctx, eng, 0, *n); err != nil {
		return err
	}
	if f.pg != nil {
		f.pgFailed = target.(*countingTarget).failed.Load()
		if f.pgLeft, err = f.pg.members(ctx); err != nil {
			return err
		}
		log.Printf("-pg-target: %d memberships left, %d revocations failed", f.pgLeft, f.pgFailed)
	}
	log.Printf("run: %d revoked in %s, lag p50 %s p99 %s max %s", *n, f.runTook, pct(f.lag, 50), pct(f.lag, 99), f.lag[len(f.lag)-1])

	// 3. Restart: grants that expired while no engine ran.
	if *restartN > 0 {
		var lastID int64
		if err := eng.QueryRowContext(ctx, `SELECT MAX(id) FROM jit_grants`).Scan(&lastID); err != nil {
			return err
		}
		now := clock()
		if err := record(ctx, db, *n, *restartN, func(i int) *steward.JITGrant {
			return grantOf(i, now.Add(-time.Minute+time.Duration(i-*n)*time.Minute/time.Duration(*restartN)))
		}); err != nil {
			return err
		}
		db.Close() // #nosec G104 -- the restart reopens the database just below; an error closing it shows there
		if db, err = sqlstore.Open(*dsn, sqlstore.Options{}); err != nil {
			return err
		}
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		runtime.GC()
		f.restartRSS = rss()
		before := target.revoked()
		rstart := time.Now()
		stop, timed, err := runEngine(ctx, db, target, clock, *batch, *concurrency)
		if err != nil {
			return err
		}
		for target.revoked() < before+int64(*restartN) {
			time.Sleep(5 * time.Millisecond)
			if time.Since(rstart) > 10*time.Minute {
				stop()
				return fmt.Errorf("restart: %d of %d revoked after 10 minutes", target.revoked()-before, *restartN)
			}
		}
		f.restartTook = time.Since(rstart)
		err = recorded(ctx, eng, lastID, *restartN)
		stop()
		f.restartSplit = timed.split(time.Since(rstart))
		if err != nil {
			return err
		}
		if f.restartLag, err = lags(ctx, eng, lastID, *restartN); err != nil {
			return err
		}
		log.Printf("restart: %d revoked in %s", *restartN, f.restartTook)
	}
	var hwm uint64
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for l := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				hwm = kb << 10
			}
		}
	}
	if *riverN > 0 {
		if f.river, err = riverRun(ctx, db, *riverN, *spread); err != nil {
			return err
		}
	}
	report(out, f, hwm)
	return nil
}

// record records grants from..from+n in batches, each one transaction.
func record(ctx context.Context, db *sqlstore.DB, from, n int, grant func(i int) *steward.JITGrant) error {
	const per = 10_000
	batch := make([]*steward.JITGrant, 0, per)
	for i := from; i < from+n; i++ {
		batch = append(batch, grant(i))
		if len(batch) == per || i == from+n-1 {
			if err := db.RecordJITGrant(ctx, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// runEngine starts an expiry engine on db and returns what stops it, and
// the store as the engine sees it, timed.
func runEngine(ctx context.Context, db *sqlstore.DB, target steward.Revoker, clock func() time.Time, batch, concurrency int) (func(), *timedStore, error) {
	timed := &timedStore{JITExpiry: db}
	x, err := jobs.NewExpiry(jobs.ExpiryConfig{Store: timed, Now: clock, Warning: -1, Batch: batch, Concurrency: concurrency,
		Targets: func(context.Context, int64) (steward.Revoker, error) { return timedTarget{target, timed}, nil }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = x.Run(rctx) }()
	return func() { cancel(); <-done }, timed, nil
}

// recorded waits until the store has recorded want revocations of grants
// after the one with id from. The engine records a batch after the target
// has revoked it: stopping the engine as soon as the target has seen the
// last revocation would cancel the last batch's record, and its lags.
func recorded(ctx context.Context, eng *engine.DB, from int64, want int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := eng.QueryRowContext(ctx, `SELECT count(*) FROM jit_grants WHERE state = 'revoked' AND id > `+strconv.FormatInt(from, 10)).Scan(&n); err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d revocations recorded a minute after the target made the last", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lags reads the lag of every revoked grant after the one with id from,
// as stored, sorted: want of them.
func lags(ctx context.Context, eng *engine.DB, from int64, want int) ([]time.Duration, error) {
	rows, err := eng.QueryContext(ctx, `SELECT revoked_at - expires_at FROM jit_grants WHERE state = 'revoked' AND id > `+strconv.FormatInt(from, 10))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	slices.Sort(out)
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) != want || want == 0 {
		return nil, fmt.Errorf("%d revoked grants recorded, want %d", len(out), want)
	}
	return out, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

// rss returns the process's resident set in bytes.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize()) // #nosec G115 -- the page size is positive and small
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func report(w io.Writer, f *figures, hwm uint64) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "### %s (%s), %s JIT grants over %s (%s, Go %s, %d CPUs, batch %s, concurrency %s)\n\n",
		f.dialect, f.version, thousands(f.n), f.spread, host, strings.TrimPrefix(runtime.Version(), "go"), runtime.NumCPU(),
		orDefault(f.batch, "1000"), orDefault(f.concurrency, "16"))
	if f.pg != nil {
		fmt.Fprintf(w, "Target: Steward's PostgreSQL connector (connector/postgres, up to 8 pooled sessions) on %s: %s LOGIN roles × %s NOLOGIN roles, %s memberships (%s*).\n\n",
			f.pg.version, thousands(len(f.pg.logins)), thousands(len(f.pg.roles)), thousands(f.n), f.pg.prefix)
	} else {
		fmt.Fprintf(w, "Target: a recording target that answers at once.\n\n")
	}
	fmt.Fprintf(w, "| figure | value |\n|---|--:|\n")
	fmt.Fprintf(w, "| load: RecordJITGrant, batches of 10,000, grants/s | %s |\n", thousands(int(f.load)))
	fmt.Fprintf(w, "| run: expiries arriving, per second | %s |\n", thousands(int(float64(f.n)/f.spread.Seconds())))
	fmt.Fprintf(w, "| run: all %s revoked after (from the first expiry) | %.1f s |\n", thousands(f.n), f.runTook.Seconds())
	fmt.Fprintf(w, "| run: revocations/s sustained (grants / time to the last) | %s |\n", thousands(int(float64(f.n)/f.runTook.Seconds())))
	fmt.Fprintf(w, "| run: lag p50 / p99 / max | %s / %s / %s |\n", ms(pct(f.lag, 50)), ms(pct(f.lag, 99)), ms(f.lag[len(f.lag)-1]))
	fmt.Fprintf(w, "| run: engine time in claims / revocations / records | %s |\n", f.split)
	if f.pg != nil {
		fmt.Fprintf(w, "| target: memberships standing before the run / left after it (pg_has_role) | %s / %s |\n", thousands(f.pgBefore), thousands(f.pgLeft))
		fmt.Fprintf(w, "| target: revocations that failed (each retried) | %s |\n", thousands(int(f.pgFailed)))
	}
	fmt.Fprintf(w, "| run: resident memory with %s pending (start) / peak during the run | %s / %s |\n", thousands(f.n), mib(f.startRSS), mib(f.peakRSS))
	if f.restartN > 0 {
		fmt.Fprintf(w, "| restart: %s expired while stopped, all revoked after start | %.2f s (%s/s) |\n", thousands(f.restartN),
			f.restartTook.Seconds(), thousands(int(float64(f.restartN)/f.restartTook.Seconds())))
		fmt.Fprintf(w, "| restart: lag p50 / max (the downtime included) | %s / %s |\n", ms(pct(f.restartLag, 50)), ms(f.restartLag[len(f.restartLag)-1]))
		fmt.Fprintf(w, "| restart: engine time in claims / revocations / records | %s |\n", f.restartSplit)
		fmt.Fprintf(w, "| restart: resident memory at start, %s pending | %s |\n", thousands(f.restartN), mib(f.restartRSS))
	}
	fmt.Fprintf(w, "| process peak resident memory (VmHWM, load included) | %s |\n", mib(hwm))
	fmt.Fprint(w, f.river)
	fmt.Fprintf(w, "| load average at the run's start / end | %s / %s |\n\n", f.loadAvgStart, f.loadAvg)
	fmt.Fprintf(w, "Memory against the number pending (every ~10%% of the run):\n\n| time | pending | resident | Go heap in use |\n|--:|--:|--:|--:|\n")
	every := max(1, len(f.samples)/10)
	for i, s := range f.samples {
		if i%every == 0 || i == len(f.samples)-1 {
			fmt.Fprintf(w, "| %.0f s | %s | %s | %s |\n", s.at.Seconds(), thousands(int(s.pending)), mib(s.rss), mib(s.heap))
		}
	}
	fmt.Fprintln(w)
}

func orDefault(v int, def string) string {
	if v == 0 {
		return def + " (default)"
	}
	return fmt.Sprint(v)
}

// thousands formats n with thousands separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
