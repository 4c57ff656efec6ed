// Command importsync is Steward's reconciliation benchmark (issue 3). It
// writes a JSONL export of one system with -identities identities and
// -grants grants, imports it through the real importer and
// Store.SyncSystem, then re-syncs the same set with -change of it changed
// (renamed, removed, added identities; removed and added grants), once
// more unchanged, once more after a grant and a credential created through
// the API, and once comparing every record. Beside it, in the same run, it measures the raw insert
// speed of the same engine. It prints Markdown for bench/RESULTS.md.
//
//	go run ./bench/importsync -db /tmp/sync.db
//	go run ./bench/importsync -db 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable'
//
// Peak RSS is read from /proc/self/status (VmHWM) and reset between phases
// through /proc/self/clear_refs, so each phase reports its own peak.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/bench/internal/engine"
	"github.com/stewardhq/steward/bench/internal/export"
	"github.com/stewardhq/steward/bench/internal/machine"
	"github.com/stewardhq/steward/importer"
	"github.com/stewardhq/steward/store/sqlstore"
)

func main() {
	dsn := flag.String("db", "", "SQLite file or postgres:// URL of an empty database (default: a temp SQLite file)")
	identities := flag.Int("identities", 1_000_000, "identities in the export")
	grants := flag.Int("grants", 5_000_000, "grants in the export")
	entitlements := flag.Int("entitlements", 20_000, "entitlements in the export")
	change := flag.Float64("change", 0.01, "fraction of identities and grants changed for the re-sync")
	dir := flag.String("dir", "", "where to write the JSONL files (default: a temp dir)")
	seed := flag.Uint64("seed", 1, "random seed")
	verbose := flag.Bool("v", false, "log the store's slow statements")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the sync phases to this file")
	memprofile := flag.String("memprofile", "", "write a heap profile taken near the peak of each sync phase's Go heap to this file, suffixed .1, .2, …")
	firstOnly := flag.Bool("first", false, "stop after the first load (for profiling it)")
	again := flag.Int("again", 0, "reuse -db and -dir of an earlier run: only re-sync, alternating the two files this many times (for profiling)")
	verify := flag.Bool("verify", true, "with -again: end with a Full sync that must find nothing to change")
	flag.Parse()
	log.SetFlags(0)
	if *again > 0 {
		resyncAgain(*dsn, *dir, *again, *cpuprofile, *memprofile, *verbose, *verify)
		return
	}
	if *dir == "" {
		*dir = must(os.MkdirTemp("", "steward-importsync-"))
		defer os.RemoveAll(*dir)
	}
	if *dsn == "" {
		*dsn = filepath.Join(*dir, "bench.db")
	}
	ctx := steward.WithActor(context.Background(), "bench:importsync")
	g := export.Gen{Identities: *identities, Grants: *grants, Entitlements: *entitlements, Seed: *seed}
	base, changed := filepath.Join(*dir, "base.jsonl"), filepath.Join(*dir, "changed.jsonl")
	start := time.Now()
	nBase := must(g.Write(base, 0))
	nChanged := must(g.Write(changed, *change))
	log.Printf("wrote %d + %d records in %s", nBase, nChanged, time.Since(start).Round(time.Millisecond))

	opts := sqlstore.Options{}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	db := must(sqlstore.Open(*dsn, opts))
	defer db.Close()
	eng := must(engine.Open(*dsn))
	defer func() { eng.Close() }() // #nosec G104 -- a benchmark's yardstick connection at exit; its figures are printed already
	check(db.Migrate(ctx))
	raw := rawInsert(ctx, eng, 1_000_000)
	log.Printf("raw insert: %.0f rows/s", raw)
	keyed := keyedInsert(ctx, eng, 200_000)
	log.Printf("keyed raw insert: %.0f rows/s", keyed)
	// The engine's connection keeps the page cache (64 MiB on SQLite) that
	// the raw inserts filled: a new one, for the checkpoints between
	// phases, so that the phases' peak RSS is the store's and not the
	// yardstick's as well.
	check(eng.Close())
	eng = must(engine.Open(*dsn))
	// What reading and parsing alone cost, without the store: the floor
	// under any import of this file.
	t0 := time.Now()
	parsed := 0
	for _, err := range must(importer.Open(importer.FormatJSONL, base, importer.Options{})).Read(ctx) {
		check(err)
		parsed++
	}
	parseTook := time.Since(t0)
	log.Printf("parse only: %d records in %s", parsed, parseTook.Round(time.Millisecond))

	// The people the export names as owners (person-0 … person-19999), so
	// that owners resolve as they would from a directory: one identity in
	// ten names nobody and is an ownership gap.
	people := make([]steward.Person, 20000)
	for i := range people {
		people[i] = steward.Person{ID: int64(i + 1), ExternalID: fmt.Sprintf("person-%d", i), Name: fmt.Sprintf("Person %d", i),
			Status: steward.PersonActive, CreatedAt: time.Now().UTC()}
	}
	check(db.BulkLoad(ctx, &steward.Bulk{People: people, Source: "bench"}))
	sys := &steward.System{Name: "bench-import", Kind: steward.SystemOther}
	check(db.CreateSystem(ctx, sys))
	type phase struct {
		name    string
		file    string
		res     *steward.SyncResult
		took    time.Duration
		ckpt    time.Duration // SQLite's log checkpoint after it, which the store runs in the background
		peakRSS int64
	}
	var phases []phase
	if *cpuprofile != "" {
		f := must(os.Create(*cpuprofile)) // #nosec G304 -- a benchmark's -cpuprofile flag
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	// The last phase compares every record (SyncOptions.Full) with what the
	// digest-driven re-syncs left: it must find nothing to change, or they
	// missed something.
	for _, p := range []struct {
		name, file string
		full       bool
		before     func()
	}{
		{"import (first load)", base, false, nil},
		{"re-sync, " + fmt.Sprint(*change*100) + "% changed", changed, false, nil},
		{"re-sync, unchanged", changed, false, nil},
		{"re-sync, unchanged, after a grant and a credential created through the API", changed, false, func() { writeByHand(ctx, db, sys.ID) }},
		{"re-sync, unchanged, every record compared (Full)", changed, true, nil},
	} {
		if p.before != nil {
			p.before()
		}
		resetPeak()
		src := must(importer.Open(importer.FormatJSONL, p.file, importer.Options{}))
		mem := watchMem(profileFile(*memprofile, len(phases)+1))
		t0 := time.Now()
		res := must(db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "bench", Full: p.full}))
		took := time.Since(t0)
		peakGo := mem.end()
		t1 := time.Now()
		check(eng.Checkpoint(ctx)) // finish it before the next phase
		phases = append(phases, phase{p.name, p.file, res, took, time.Since(t1), peakRSS()})
		log.Printf("%s: %s, peak RSS %d MiB (Go's %d MiB), %+v", p.name, took.Round(time.Millisecond), peakRSS()>>20, peakGo>>20, *res)
		if p.before != nil && (res.GrantsRemoved != 1 || res.CredentialsChanged != 1) {
			log.Fatalf("the re-sync after writes through the API did not take them away: %+v", *res)
		}
		if p.full && res.Events != 0 {
			log.Fatalf("comparing every record found changes the digest-driven re-syncs missed: %+v", *res)
		}
		if *firstOnly {
			break
		}
	}
	if n, err := db.VerifyAudit(ctx); err != nil {
		log.Fatalf("audit chain after the runs: %v", err)
	} else {
		log.Printf("audit chain intact: %d events", n)
	}

	host, _ := os.Hostname()
	fmt.Printf("### Reconciliation: %s, %d identities, %d grants, %d entitlements\n\n", db.Dialect(), *identities, *grants, *entitlements)
	fmt.Printf("Machine: %s, %d cores, %s. Date: %s. %s. %s.\n\n", host, runtime.NumCPU(), machine.CPUModel(), time.Now().UTC().Format("2006-01-02"), runtime.Version(), eng.Version(ctx))
	fmt.Printf("Command: `go run ./bench/importsync -db <%s> -identities %d -grants %d -entitlements %d -change %g`\n\n", db.Dialect(), *identities, *grants, *entitlements, *change)
	fmt.Printf("Raw insert speed of the same engine in the same run (%s): **%.0f rows/s**\n\n", rawMethod(eng), raw)
	fmt.Printf("Keyed raw insert speed, the same way into two tables of the load's shape with their primary and unique keys (1 identity row to 5 grant rows; no secondary index, no foreign key): **%.0f rows/s**\n\n", keyed)
	fmt.Printf("Reading and parsing the first file alone, without the store (the JSONL importer, %d workers): %.2f s, %.0f records/s (%.0f%% of raw insert speed)\n\n",
		runtime.GOMAXPROCS(0), parseTook.Seconds(), float64(parsed)/parseTook.Seconds(), 100*float64(parsed)/parseTook.Seconds()/raw)
	fmt.Println("| phase | records | time | records/s | share of raw insert speed | share of keyed raw | events | peak RSS | then, log checkpoint (background) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range phases {
		rate := float64(p.res.Records) / p.took.Seconds()
		fmt.Printf("| %s | %d | %.2f s | %.0f | %.0f%% | %.0f%% | %d | %d MiB | %.2f s |\n", p.name, p.res.Records, p.took.Seconds(), rate, 100*rate/raw, 100*rate/keyed,
			p.res.Events, p.peakRSS>>20, p.ckpt.Seconds())
	}
	if len(phases) < 2 {
		return
	}
	r := phases[1].res
	fmt.Printf("\nRe-sync changes: %d identities created, %d updated, %d removed; %d grants created, %d removed; %d gaps opened, %d closed.\n",
		r.IdentitiesCreated, r.IdentitiesUpdated, r.IdentitiesRemoved, r.GrantsCreated, r.GrantsRemoved, r.GapsOpened, r.GapsClosed)
}

// writeByHand creates, through the store's API, a grant the files do not
// list and a credential of an identity that the files list without it: the
// next re-sync must take both away again, comparing only their rows.
func writeByHand(ctx context.Context, db *sqlstore.DB, systemID int64) {
	ids := must(db.Identities(ctx, steward.IdentityFilter{SystemID: systemID, Status: steward.IdentityActive,
		ListOptions: steward.ListOptions{Limit: 1}}))
	if len(ids.Items) == 0 {
		log.Fatal("writeByHand: the system has no active identity")
	}
	identityID := ids.Items[0].ID
	held := map[int64]bool{}
	for after := ""; ; {
		p := must(db.Grants(ctx, steward.GrantFilter{IdentityID: identityID, ListOptions: steward.ListOptions{After: after, Limit: steward.MaxLimit}}))
		for _, g := range p.Items {
			held[g.EntitlementID] = true
		}
		if after = p.Next; after == "" {
			break
		}
	}
	var entID int64
	for after := ""; entID == 0; {
		p := must(db.Entitlements(ctx, steward.EntitlementFilter{SystemID: systemID, ListOptions: steward.ListOptions{After: after, Limit: steward.MaxLimit}}))
		for _, e := range p.Items {
			if !held[e.ID] {
				entID = e.ID
				break
			}
		}
		if after = p.Next; after == "" && entID == 0 {
			log.Fatal("writeByHand: the identity holds every entitlement of the system")
		}
	}
	check(db.CreateGrant(ctx, &steward.Grant{IdentityID: identityID, EntitlementID: entID, Type: steward.GrantStanding, GrantedVia: "by hand"}))
	check(db.CreateCredential(ctx, &steward.Credential{IdentityID: identityID, ExternalID: "by-hand", Kind: steward.CredPassword}))
}

// rawInsert measures the engine's raw insert speed: rows of a similar width
// into a scratch table without secondary indexes, one transaction, by the
// path the store's bulk load takes (engine.Insert), on a connection of the
// benchmark's own.
func rawInsert(ctx context.Context, db *engine.DB, n int) float64 {
	_, _ = db.ExecContext(ctx, `DROP TABLE IF EXISTS bench_raw`)
	check1(db.ExecContext(ctx, `CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, a TEXT, b TEXT, c TEXT, d BIGINT, e BIGINT, f TEXT)`))
	defer db.ExecContext(ctx, `DROP TABLE bench_raw`)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), fmt.Sprintf("svc-%d", i), "service_account", "prod", int64(i), int64(i * 2), "app"}
	}
	t0 := time.Now()
	check(db.Insert(ctx, "bench_raw", []string{"id", "a", "b", "c", "d", "e", "f"}, rows))
	return float64(n) / time.Since(t0).Seconds()
}

// keyedInsert measures a second yardstick, closer to what a load must do:
// n identity rows and 5n grant rows of the inventory's shape, one
// transaction a table, the same way as rawInsert, into scratch tables that keep
// the inventory's primary and unique keys (but no secondary index and no
// foreign key). Returns rows/s over both.
func keyedInsert(ctx context.Context, db *engine.DB, n int) float64 {
	tables := map[string]string{
		"bench_keyed_identities": `(id BIGINT PRIMARY KEY, system_id BIGINT NOT NULL, external_id TEXT NOT NULL, name TEXT NOT NULL,
			kind TEXT NOT NULL, environment TEXT NOT NULL, criticality TEXT NOT NULL, owner_id BIGINT, status TEXT NOT NULL,
			labels TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, content_hash TEXT NOT NULL, UNIQUE (system_id, external_id))`,
		"bench_keyed_grants": `(id BIGINT PRIMARY KEY, identity_id BIGINT NOT NULL, entitlement_id BIGINT NOT NULL, type TEXT NOT NULL,
			granted_at BIGINT NOT NULL, granted_via TEXT NOT NULL, content_hash TEXT NOT NULL, UNIQUE (identity_id, entitlement_id))`,
	}
	for name, cols := range tables {
		_, _ = db.ExecContext(ctx, `DROP TABLE IF EXISTS `+name)   // #nosec G202 -- a benchmark's own table names
		check1(db.ExecContext(ctx, `CREATE TABLE `+name+` `+cols)) // #nosec G202 -- a benchmark's own table names
		defer db.ExecContext(ctx, `DROP TABLE `+name)              // #nosec G202 -- a benchmark's own table names
	}
	hash := strings.Repeat("0123456789abcdef", 2)
	ids := make([][]any, n)
	for i := range ids {
		ids[i] = []any{int64(i + 1), int64(1), fmt.Sprintf("svc-%d", i), fmt.Sprintf("svc-%d", i), "service_account", "prod", "medium",
			int64(i%20000 + 1), "active", `{"app":"payments"}`, int64(i), int64(i), hash}
	}
	grants := make([][]any, 0, 5*n)
	for i := range 5 * n {
		grants = append(grants, []any{int64(i + 1), int64(i/5 + 1), int64((i*7919)%20000 + 1), "standing", int64(i), "sync:bench", hash})
	}
	t0 := time.Now()
	check(db.Insert(ctx, "bench_keyed_identities", []string{"id", "system_id", "external_id", "name", "kind", "environment", "criticality",
		"owner_id", "status", "labels", "created_at", "updated_at", "content_hash"}, ids))
	check(db.Insert(ctx, "bench_keyed_grants", []string{"id", "identity_id", "entitlement_id", "type", "granted_at", "granted_via", "content_hash"}, grants))
	return float64(6*n) / time.Since(t0).Seconds()
}

func rawMethod(db *engine.DB) string {
	if db.Dialect == "postgres" {
		return "COPY into a table without secondary indexes"
	}
	return "multi-row prepared INSERT in one transaction into a table without secondary indexes"
}

// resetPeak returns freed memory to the system and resets VmHWM to the
// current resident size, so that the next reading is the next phase's peak.
func resetPeak() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), "%d", &kb) // #nosec G104 -- a line the kernel writes; unreadable, the figure is 0
			return kb << 10
		}
	}
	return 0
}

// profileFile is the heap profile file of phase i, or "" for none.
func profileFile(base string, i int) string {
	if base == "" {
		return ""
	}
	return fmt.Sprintf("%s.%d", base, i)
}

func must[T any](v T, err error) T {
	check(err)
	return v
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func check1(_ sql.Result, err error) { check(err) }

// resyncAgain re-syncs an earlier run's system from its two files in turn:
// each run is a change of -change, without the first load before it.
func resyncAgain(dsn, dir string, n int, cpuprofile, memprofile string, verbose, verify bool) {
	ctx := steward.WithActor(context.Background(), "bench:importsync")
	opts := sqlstore.Options{}
	if verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	db := must(sqlstore.Open(dsn, opts))
	defer db.Close()
	eng := must(engine.Open(dsn))
	defer eng.Close()
	check(db.Migrate(ctx)) // as steward import does: the database may be from an older version
	sys := must(db.SystemByName(ctx, "bench-import"))
	log.Printf("engine: %s", eng.Version(ctx))
	if cpuprofile != "" {
		f := must(os.Create(cpuprofile)) // #nosec G304 -- a benchmark's -cpuprofile flag
		check(pprof.StartCPUProfile(f))
	}
	for i := range n {
		file := filepath.Join(dir, []string{"base.jsonl", "changed.jsonl"}[i%2])
		resetPeak()
		src := must(importer.Open(importer.FormatJSONL, file, importer.Options{}))
		mem := watchMem(profileFile(memprofile, i+1))
		u0 := usageNow()
		t0 := time.Now()
		res := must(db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "bench"}))
		u := usageNow()
		took := time.Since(t0)
		peakGo := mem.end()
		t1 := time.Now()
		check(eng.Checkpoint(ctx))
		log.Printf("%s: %s (CPU %s, of it system %s; %d minor page faults), %d events, peak RSS %d MiB (Go's %d MiB); checkpoint after it %s", filepath.Base(file), took.Round(time.Millisecond),
			(u.cpu - u0.cpu).Round(time.Millisecond), (u.sys - u0.sys).Round(time.Millisecond), u.faults-u0.faults, res.Events,
			peakRSS()>>20, peakGo>>20, time.Since(t1).Round(time.Millisecond))
	}
	pprof.StopCPUProfile() // the re-syncs only
	if !verify {
		return
	}
	// Files that return to an earlier state exercise the digest's delta;
	// comparing every record must then find nothing left to do.
	file := filepath.Join(dir, []string{"base.jsonl", "changed.jsonl"}[(n-1)%2])
	src := must(importer.Open(importer.FormatJSONL, file, importer.Options{}))
	if res := must(db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "bench", Full: true})); res.Events != 0 {
		log.Fatalf("comparing every record found changes the digest-driven re-syncs missed: %+v", *res)
	}
	log.Printf("a Full sync of %s after them found nothing to change", filepath.Base(file))
}
