// Command inventory is Steward's inventory benchmark (issue 2). It loads a
// synthetic organisation of a million identities and five million grants
// through the store's own BulkLoad, beside the raw insert speed of the same
// engine in the same run, then times filtered list pages at the first page
// and deep pages, and gets by id, through the steward.Store API. It prints
// Markdown for bench/RESULTS.md on stdout and progress on stderr.
//
//	go run ./bench/inventory                                  # temp SQLite file
//	go run ./bench/inventory -db /tmp/bench.db
//	go run ./bench/inventory -db 'postgres://user@host:5432/bench?sslmode=disable'
//
// The database must be empty (or new). Figures are reported, never judged:
// the aims from the issue are printed next to them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/bench/internal/engine"
	"github.com/stewardhq/steward/store/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	err := m.ParseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err == nil {
		err = m.Run(ctx)
	}
	if e := m.Close(); err == nil {
		err = e
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(1)
	}
}

// Config is what one benchmark run does. Each field says its default.
type Config struct {
	// DB is a SQLite file path or a postgres:// URL of an empty database.
	// Default: a new SQLite file in a temp dir, removed at the end.
	DB string
	// Sizes of the synthetic organisation. Defaults: 1,000,000 identities,
	// 5,000,000 grants, 20,000 people, 400 teams, 200 systems, 20,000
	// entitlements.
	Sizes
	// Samples is the number of timed calls per query and page. Default: 200.
	Samples int
	// Budget caps the time spent sampling one query at one page; a slow
	// query reports fewer samples instead of stalling the run. Default: 30s.
	Budget time.Duration
	// Seed makes the organisation and the query arguments. Default: 1.
	Seed uint64
	// Batch is the number of rows per BulkLoad call. Default: 25,000.
	Batch int
	// Raw is the number of rows of each shape in the raw insert measurement.
	// Default: 1,000,000.
	Raw int
	// Keep keeps the default temp SQLite file. Default: false.
	Keep bool
	// Credentials is the share of non-human identities that have a
	// credential, loaded with them (15% of those have two). Default: 0.7.
	// 0 loads none, as runs before issue 10 did.
	Credentials float64
	// Export times a CSV export of the whole inventory. Default: true.
	Export bool
	// Reuse skips the raw insert and the load when -db already holds the
	// organisation of these sizes and seed (a run with -db kept it), and
	// only times the queries: for re-timing a query after a fix.
	Reuse bool
	// Probes, when set, times only the probes whose name matches it.
	Probes string
}

// Main runs the benchmark: ParseFlags, then Run, then Close.
type Main struct {
	Config Config
	Stdout io.Writer // the Markdown report
	Stderr io.Writer // progress

	args   []string
	logger *slog.Logger
	db     *sqlstore.DB
	eng    *engine.DB // the same database, for the engine's own figures
	tmp    string     // temp dir of the default SQLite file
}

// NewMain returns a Main with the default Config.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{
		Config: Config{
			Sizes:   Sizes{Identities: 1_000_000, Grants: 5_000_000, People: 20_000, Teams: 400, Systems: 200, Entitlements: 20_000},
			Samples: 200, Budget: 30 * time.Second, Seed: 1, Batch: 25_000, Raw: 1_000_000,
			Credentials: 0.7, Export: true,
		},
		Stdout: stdout, Stderr: stderr,
		logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
}

// ParseFlags reads the command line into m.Config and checks it.
func (m *Main) ParseFlags(args []string) error {
	c := &m.Config
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&c.DB, "db", c.DB, "SQLite file or postgres:// URL of an empty database (default: a temp SQLite file)")
	fs.IntVar(&c.Identities, "identities", c.Identities, "identities to load")
	fs.IntVar(&c.Grants, "grants", c.Grants, "grants to load")
	fs.IntVar(&c.People, "people", c.People, "people")
	fs.IntVar(&c.Teams, "teams", c.Teams, "teams")
	fs.IntVar(&c.Systems, "systems", c.Systems, "systems")
	fs.IntVar(&c.Entitlements, "entitlements", c.Entitlements, "entitlements")
	fs.IntVar(&c.Samples, "samples", c.Samples, "timed calls per query and page")
	fs.DurationVar(&c.Budget, "budget", c.Budget, "most time spent sampling one query at one page")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the synthetic organisation and of the query arguments")
	fs.IntVar(&c.Batch, "batch", c.Batch, "rows per BulkLoad call")
	fs.IntVar(&c.Raw, "raw", c.Raw, "rows of each shape for the raw insert speed")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "keep the default temp SQLite file")
	fs.Float64Var(&c.Credentials, "credentials", c.Credentials, "share of non-human identities with a credential, loaded with them (0: none)")
	fs.BoolVar(&c.Export, "export", c.Export, "time a CSV export of the whole inventory")
	fs.BoolVar(&c.Reuse, "reuse", c.Reuse, "the database at -db holds this organisation already (same sizes and -seed): skip the load, time the queries")
	fs.StringVar(&c.Probes, "probes", c.Probes, "time only the queries whose name matches this regular expression")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m.args = args
	switch {
	case c.Credentials < 0 || c.Credentials > 1:
		return steward.Errorf(steward.EINVALID, "-credentials is a share, from 0 to 1.")
	case c.Identities < 1 || c.Grants < 0 || c.Samples < 1 || c.Batch < 1 || c.Raw < 1:
		return steward.Errorf(steward.EINVALID, "-identities, -samples, -batch and -raw must be positive, -grants not negative.")
	case c.Teams < 1 || c.People < c.Teams:
		return steward.Errorf(steward.EINVALID, "need at least one team and at least as many people as teams (each team's manager is a person).")
	case c.Systems < 1 || c.Entitlements < c.Systems*2:
		return steward.Errorf(steward.EINVALID, "need at least one system and two entitlements per system.")
	case c.Reuse && c.DB == "":
		return steward.Errorf(steward.EINVALID, "-reuse needs -db: the database a run with -db left.")
	}
	if c.Probes != "" {
		if _, err := regexp.Compile(c.Probes); err != nil {
			return steward.Errorf(steward.EINVALID, "-probes: %v", err)
		}
	}
	return nil
}

// Run opens the store, measures, loads and times, and writes the report.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	ctx = steward.WithActor(ctx, "bench:inventory")
	rep := &Report{Config: c, Command: m.command(), Machine: machine(), Date: time.Now().UTC()}
	if c.DB == "" {
		dir, err := os.MkdirTemp("", "steward-bench-")
		if err != nil {
			return err
		}
		m.tmp, c.DB = dir, filepath.Join(dir, "bench.db")
		m.logger.Info("using a temp SQLite file", "path", c.DB, "keep", c.Keep)
	}
	db, err := sqlstore.Open(c.DB, sqlstore.Options{Logger: m.logger})
	if err != nil {
		return err
	}
	m.db = db
	if m.eng, err = engine.Open(c.DB); err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if p, err := db.Identities(ctx, steward.IdentityFilter{ListOptions: steward.ListOptions{Limit: 1}}); err != nil {
		return err
	} else if len(p.Items) > 0 && !c.Reuse {
		return steward.Errorf(steward.EINVALID, "the database at -db holds identities already; point -db at an empty database (or give -reuse to time the queries on it again).")
	} else if len(p.Items) == 0 && c.Reuse {
		return steward.Errorf(steward.EINVALID, "-reuse: the database at -db holds no identities; load it first with a run without -reuse.")
	}
	rep.Dialect = db.Dialect()
	rep.Engine = m.eng.Version(ctx)

	var org *Org
	if c.Reuse {
		org = m.replay(rep)
		rep.Reused = true
	} else {
		if err := m.raw(ctx, rep); err != nil {
			return err
		}
		if org, err = m.load(ctx, rep); err != nil {
			return err
		}
		start := time.Now()
		if err := db.Optimize(ctx); err != nil {
			return fmt.Errorf("optimize: %w", err)
		}
		rep.Optimize = time.Since(start)
		m.logger.Info("optimized", "took", rep.Optimize)
	}
	if rep.SizeBytes, err = m.eng.Size(ctx); err != nil {
		return fmt.Errorf("database size: %w", err)
	}
	if err := m.probe(ctx, rep, org); err != nil {
		return err
	}
	if c.Export {
		if err := m.export(ctx, rep); err != nil {
			return err
		}
	}
	rep.PeakRSS = peakRSS()
	return rep.Markdown(m.Stdout)
}

// Close closes the store and removes the default temp file unless -keep.
func (m *Main) Close() error {
	var err error
	if m.eng != nil {
		err = m.eng.Close()
	}
	if m.db != nil {
		if e := m.db.Close(); err == nil {
			err = e
		}
	}
	if m.tmp != "" && !m.Config.Keep {
		if e := os.RemoveAll(m.tmp); err == nil {
			err = e
		}
	}
	return err
}

// raw measures the engine's insert speed into scratch tables shaped like
// identities and grants.
func (m *Main) raw(ctx context.Context, rep *Report) error {
	c := m.Config
	sz := c.Sizes
	sz.Identities, sz.Grants = c.Raw, c.Raw
	org := NewOrg(sz, c.Seed)
	org.Reference() // sets up the people and systems identities refer to
	chunk := min(c.Batch, 50_000)
	var err error
	rep.RawIdentities, err = rawInsert(ctx, m.eng.DB, rep.Dialect, rawIdentities, c.Raw, chunk, func(n int) [][]any {
		ids := org.Identities(n)
		rows := make([][]any, len(ids))
		for i := range ids {
			rows[i] = identityRow(&ids[i])
		}
		return rows
	})
	if err != nil {
		return err
	}
	m.logger.Info("raw insert, identity-shaped", "rows", rep.RawIdentities.Rows, "took", rep.RawIdentities.Elapsed, "rows/s", int(rep.RawIdentities.PerSecond()))
	rep.RawGrants, err = rawInsert(ctx, m.eng.DB, rep.Dialect, rawGrants, c.Raw, chunk, func(n int) [][]any {
		gs := org.Grants(n)
		rows := make([][]any, len(gs))
		for i := range gs {
			rows[i] = grantRow(&gs[i])
		}
		return rows
	})
	if err != nil {
		return err
	}
	m.logger.Info("raw insert, grant-shaped", "rows", rep.RawGrants.Rows, "took", rep.RawGrants.Elapsed, "rows/s", int(rep.RawGrants.PerSecond()))
	return nil
}

// load loads the organisation through BulkLoad in batches. Only the
// BulkLoad calls are timed; making the rows is not the store's cost.
func (m *Main) load(ctx context.Context, rep *Report) (*Org, error) {
	c := m.Config
	org := NewOrg(c.Sizes, c.Seed)
	wall := time.Now()
	bulk := func(b *steward.Bulk, tp *Throughput) error {
		start := time.Now()
		if err := m.db.BulkLoad(ctx, b); err != nil {
			return fmt.Errorf("bulk load (%s): %w", b.Source, err)
		}
		tp.Elapsed += time.Since(start)
		tp.Rows += b.Len()
		return nil
	}
	if err := bulk(org.Reference(), &rep.Reference); err != nil {
		return nil, err
	}
	m.logger.Info("reference data loaded", "rows", rep.Reference.Rows, "took", rep.Reference.Elapsed)
	for n := 0; ; n++ {
		batch := org.Identities(c.Batch)
		if batch == nil {
			break
		}
		b := &steward.Bulk{Identities: batch, Credentials: org.Credentials(batch, c.Credentials), Source: fmt.Sprintf("bench seed=%d identities", c.Seed)}
		rep.CredentialRows += len(b.Credentials)
		if err := bulk(b, &rep.Identities); err != nil {
			return nil, err
		}
		if n%10 == 9 {
			m.logger.Info("identities", "loaded", rep.Identities.Rows, "of", c.Identities, "rows/s", int(rep.Identities.PerSecond()))
		}
	}
	m.logger.Info("identities loaded", "rows", rep.Identities.Rows, "took", rep.Identities.Elapsed, "rows/s", int(rep.Identities.PerSecond()))
	for n := 0; ; n++ {
		batch := org.Grants(c.Batch)
		if batch == nil {
			break
		}
		if err := bulk(&steward.Bulk{Grants: batch, Source: fmt.Sprintf("bench seed=%d grants", c.Seed)}, &rep.Grants); err != nil {
			return nil, err
		}
		if n%20 == 19 {
			m.logger.Info("grants", "loaded", rep.Grants.Rows, "of", c.Grants, "rows/s", int(rep.Grants.PerSecond()))
		}
	}
	m.logger.Info("grants loaded", "rows", rep.Grants.Rows, "took", rep.Grants.Elapsed, "rows/s", int(rep.Grants.PerSecond()))
	rep.LoadWall = time.Since(wall)
	return org, nil
}

// replay makes the organisation again without loading it, so that the
// probes draw the same arguments as on the run that loaded the database.
func (m *Main) replay(rep *Report) *Org {
	c := m.Config
	org := NewOrg(c.Sizes, c.Seed)
	org.Reference()
	for {
		batch := org.Identities(c.Batch)
		if batch == nil {
			break
		}
		org.Credentials(batch, c.Credentials)
	}
	for {
		batch := org.Grants(c.Batch)
		if batch == nil {
			break
		}
		rep.Grants.Rows += len(batch)
	}
	m.logger.Info("reusing the loaded database", "db", c.DB)
	return org
}

// probe times every Probe at its depths, then InventoryStats.
func (m *Main) probe(ctx context.Context, rep *Report, org *Org) error {
	c := m.Config
	maxID := map[string]int{"identities": c.Identities, "grants": rep.Grants.Rows}
	// Each probe draws its arguments from its own stream, so that SQLite and
	// PostgreSQL runs ask the same questions even when a slow probe stops
	// early on one of them.
	stream := uint64(100)
	only := regexp.MustCompile(c.Probes) // checked by ParseFlags
	for _, p := range Probes(m.db, org, c.Sizes) {
		depths := Depths[:1]
		if p.Deep {
			depths = Depths
		} else if p.Aim == AimGet {
			depths = []Depth{NoDepth}
		}
		if !only.MatchString(p.Name) {
			stream += uint64(len(depths)) // the others draw what they drew before
			continue
		}
		for _, d := range depths {
			after := ""
			switch {
			case d.Frac > 0 && p.Cursor != nil:
				after = p.Cursor(d.Frac)
			case d.Frac > 0:
				after = steward.Cursor(int64(d.Frac * float64(maxID[p.Table])))
			}
			stream++
			res, err := Sample(ctx, p, d, after, c.Samples, c.Budget, rand.New(rand.NewPCG(c.Seed, stream))) // #nosec G404 -- a benchmark's sample, reproducible from its seed
			if err != nil {
				return err
			}
			m.logger.Info("timed", "query", res.Name, "page", res.Page, "n", res.N, "p50", res.P50, "p95", res.P95, "max", res.Max)
			rep.Results = append(rep.Results, res)
		}
	}
	stats := Probe{Name: "InventoryStats (/metrics)", Run: func(ctx context.Context, _ *rand.Rand, _ string) (int, error) {
		_, err := m.db.InventoryStats(ctx)
		return 1, err
	}}
	res, err := Sample(ctx, stats, NoDepth, "", min(c.Samples, 10), c.Budget, rand.New(rand.NewPCG(c.Seed, 99))) // #nosec G404 -- a benchmark's sample, reproducible from its seed
	if err != nil {
		return err
	}
	m.logger.Info("timed", "query", res.Name, "n", res.N, "p50", res.P50, "max", res.Max)
	rep.Stats = res
	return nil
}

// export times a CSV export of the whole inventory in id order, written
// nowhere: the cost of reading and encoding every row, a page at a time.
func (m *Main) export(ctx context.Context, rep *Report) error {
	var peak runtime.MemStats
	start := time.Now()
	n, err := steward.ExportIdentities(ctx, m.db.Identities, steward.IdentityFilter{}, io.Discard, func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak.HeapInuse = max(peak.HeapInuse, ms.HeapInuse)
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	rep.Export = Throughput{Rows: n, Elapsed: time.Since(start)}
	rep.ExportHeap = int64(peak.HeapInuse) // #nosec G115 -- a heap size in bytes, far below 2^63
	m.logger.Info("exported", "rows", n, "took", rep.Export.Elapsed, "heap in use at most", bytesIEC(rep.ExportHeap))
	return nil
}

// command returns the command line, with any password in -db hidden.
func (m *Main) command() string {
	parts := []string{"go run ./bench/inventory"}
	for _, a := range m.args {
		if u, err := url.Parse(strings.TrimPrefix(a, "-db=")); err == nil && u.User != nil {
			a = strings.Replace(a, u.String(), u.Redacted(), 1)
		}
		if strings.ContainsAny(a, " &?'") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs     int
	Model    string
	RAMBytes int64
	OS, Arch string
	Go       string
}

func machine() Machine {
	mc := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version(), Model: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		mc.Model = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		mc.RAMBytes = kb * 1024
	}
	return mc
}

// peakRSS returns the process's peak resident set (VmHWM), 0 if unknown.
func peakRSS() int64 {
	kb, _ := strconv.ParseInt(strings.TrimSuffix(procField("/proc/self/status", "VmHWM"), " kB"), 10, 64)
	return kb * 1024
}

// procField returns the value of the first "key: value" line of a /proc
// file, "" if there is none.
func procField(path, key string) string {
	f, err := os.Open(path) // #nosec G304 -- a file the benchmark names itself
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
