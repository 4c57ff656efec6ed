// Command writelatency measures what a long import does to the API's writes
// on SQLite (issue 11): a real Steward HTTP server on the database, with
// writers setting identities' owners through the real client a few times a
// second from several goroutines, while another process imports a large
// system into the same file: first its first load, then a re-sync with
// -change of it changed; then the same re-sync through the server's own
// import API. For each phase it reports the writes' latency (p50, p95, p99,
// max), how many were answered 503 (the store busy beyond the server's
// --write-wait) and how many 500 (must be none), beside a phase with no
// import, the load average, and the longest steps of the import, which
// hold the write lock. It prints Markdown for bench/RESULTS.md.
//
//	go run ./bench/writelatency -db /tmp/wl.db -dir /tmp/wl
//	go run ./bench/writelatency -identities 20000 -grants 100000 -entitlements 2000   # seconds
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/bench/internal/export"
	"github.com/stewardhq/steward/bench/internal/machine"
	"github.com/stewardhq/steward/client"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/importer"
	"github.com/stewardhq/steward/store/sqlstore"
)

// The child process: the import, as steward import would run it beside the
// server. It is this program again, told by the environment.
const (
	childEnv  = "STEWARD_WRITELATENCY_CHILD" // the database file
	childFile = "STEWARD_WRITELATENCY_FILE"  // the JSONL file to import
	childLog  = "STEWARD_WRITELATENCY_LOG"   // where its store logs each step
)

// systemName is the system the benchmark imports; apiSystem holds the
// identities whose owners the writers set.
const (
	systemName = "bench-import"
	apiSystem  = "bench-api"
	apiIDs     = 1000
)

func main() {
	log.SetFlags(0)
	if os.Getenv(childEnv) != "" {
		if err := child(); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// child imports one file into the database, as steward import does, and
// prints how long the sync took (in seconds) on its last line.
func child() error {
	ctx := steward.WithActor(context.Background(), "bench:import")
	logf, err := os.Create(os.Getenv(childLog)) // #nosec G304 G703 -- the log file the benchmark's parent process names for its child
	if err != nil {
		return err
	}
	defer logf.Close()
	db, err := sqlstore.Open(os.Getenv(childEnv), sqlstore.Options{Logger: slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		return err
	}
	defer db.Close()
	sys, err := db.SystemByName(ctx, systemName)
	if err != nil {
		return err
	}
	src, err := importer.Open(importer.FormatJSONL, os.Getenv(childFile), importer.Options{})
	if err != nil {
		return err
	}
	t0 := time.Now()
	res, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "bench"})
	if err != nil {
		return err
	}
	fmt.Printf("%d records, %d events\n%.3f\n", res.Records, res.Events, time.Since(t0).Seconds())
	return nil
}

// phase is one stretch of the run and the writes made during it.
type phase struct {
	name     string
	took     time.Duration // the import's own time (SyncSystem), 0 for none
	wall     time.Duration // the phase's
	lat      []time.Duration
	ok, n503 int
	n500     int
	other    int
	errs     map[string]int
	load     [2]string // load average (1, 5 min) at the end
	steps    []step    // the import's longest steps
}

// step is one step of an import, from its store's log.
type step struct {
	name string
	took time.Duration
}

type bench struct {
	url, token string
	cl         *client.ClientWithResponses
	people     []int64
	ids        []int64

	mu  sync.Mutex
	cur *phase
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("writelatency", flag.ContinueOnError)
	dsn := fs.String("db", "", "SQLite file of a new database (default: a temp file)")
	dir := fs.String("dir", "", "where to write the JSONL files (default: a temp dir)")
	identities := fs.Int("identities", 1_000_000, "identities in the export")
	grants := fs.Int("grants", 5_000_000, "grants in the export")
	entitlements := fs.Int("entitlements", 20_000, "entitlements in the export")
	change := fs.Float64("change", 0.01, "fraction of identities and grants changed for the re-sync")
	writers := fs.Int("writers", 4, "goroutines that write through the API")
	rate := fs.Float64("rate", 2, "writes a second per writer")
	wait := fs.Duration("write-wait", sqlstore.DefaultWriteWait, "the server's --write-wait")
	idle := fs.Duration("idle", 10*time.Second, "length of the phase without an import")
	viaAPI := fs.Bool("api-import", true, "also re-sync through the server's import API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "steward-writelatency-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if *dsn == "" {
		*dsn = filepath.Join(*dir, "bench.db")
	}
	if sqlstore.IsPostgres(*dsn) {
		return errors.New("writelatency measures SQLite, whose one writer an import shares with the server")
	}
	ctx = steward.WithActor(ctx, "bench:writelatency")
	g := export.Gen{Identities: *identities, Grants: *grants, Entitlements: *entitlements, Seed: 1}
	base, changed := filepath.Join(*dir, "base.jsonl"), filepath.Join(*dir, "changed.jsonl")
	t0 := time.Now()
	if _, err := g.Write(base, 0); err != nil {
		return err
	}
	if _, err := g.Write(changed, *change); err != nil {
		return err
	}
	log.Printf("wrote the exports in %s", time.Since(t0).Round(time.Millisecond))

	db, err := sqlstore.Open(*dsn, sqlstore.Options{WriteWait: *wait})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	b := &bench{}
	if err := b.seed(ctx, db); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &stewardhttp.Server{Store: db, Importer: func(f string, r io.Reader, n string) (steward.Source, error) {
		return importer.New(f, r, n, importer.Options{Now: time.Now()})
	}}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()
	b.url = "http://" + ln.Addr().String()
	if b.cl, err = client.New(b.url, b.token, nil); err != nil {
		return err
	}

	wctx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	var wg sync.WaitGroup
	for w := range *writers {
		wg.Add(1)
		go func() { defer wg.Done(); b.write(wctx, w, *rate) }()
	}
	var phases []*phase
	start := func(name string) *phase {
		p := &phase{name: name, errs: map[string]int{}}
		b.mu.Lock()
		b.cur = p
		b.mu.Unlock()
		phases = append(phases, p)
		log.Printf("phase: %s", name)
		return p
	}
	end := func(p *phase, began time.Time) {
		b.mu.Lock()
		b.cur = nil
		b.mu.Unlock()
		p.wall = time.Since(began)
		p.load = loadAvg()
		log.Printf("  %s: %d writes, p99 %s, max %s, %d × 503, %d × 500", p.name, len(p.lat), pct(p.lat, 99), pct(p.lat, 100), p.n503, p.n500)
	}

	p := start("no import")
	began := time.Now()
	time.Sleep(*idle)
	end(p, began)
	for _, ph := range []struct{ name, file string }{
		{fmt.Sprintf("first load of %d identities, %d grants (steward import, another process)", *identities, *grants), base},
		{fmt.Sprintf("re-sync, %g%% changed (steward import, another process)", *change*100), changed},
	} {
		p := start(ph.name)
		began := time.Now()
		logPath := filepath.Join(*dir, fmt.Sprintf("import-%d.log", len(phases)))
		if p.took, err = importIn(ctx, *dsn, ph.file, logPath); err != nil {
			stopWriters()
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		end(p, began)
		p.steps = longestSteps(logPath, 4)
	}
	if *viaAPI {
		p := start(fmt.Sprintf("re-sync back, %g%% changed (POST /api/v1/systems/{id}/import, the same server)", *change*100))
		began := time.Now()
		if p.took, err = b.importAPI(ctx, db, base); err != nil {
			stopWriters()
			return err
		}
		end(p, began)
	}
	stopWriters()
	wg.Wait()
	report(out, phases, *writers, *rate, *wait, *identities, *grants, *entitlements, *change)
	for _, p := range phases {
		if p.n500 > 0 {
			return fmt.Errorf("%s: %d writes answered 500", p.name, p.n500)
		}
	}
	return nil
}

// seed loads the people the export names as owners, the system to import
// into, and a small system whose identities the writers give owners, and
// makes the writers' admin token.
func (b *bench) seed(ctx context.Context, db *sqlstore.DB) error {
	people := make([]steward.Person, 20000)
	for i := range people {
		people[i] = steward.Person{ID: int64(i + 1), ExternalID: fmt.Sprintf("person-%d", i), Name: fmt.Sprintf("Person %d", i),
			Status: steward.PersonActive, CreatedAt: time.Now().UTC()}
	}
	if err := db.BulkLoad(ctx, &steward.Bulk{People: people, Source: "bench"}); err != nil {
		return err
	}
	for i := range 100 {
		b.people = append(b.people, people[i].ID)
	}
	if err := db.CreateSystem(ctx, &steward.System{Name: systemName, Kind: steward.SystemOther}); err != nil {
		return err
	}
	api := &steward.System{Name: apiSystem, Kind: steward.SystemOther}
	if err := db.CreateSystem(ctx, api); err != nil {
		return err
	}
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			for i := range apiIDs {
				r := steward.Record{Pos: "seed:" + strconv.Itoa(i), Identity: &steward.SourceIdentity{ExternalID: fmt.Sprintf("api-%d", i), Kind: steward.KindAPIKey}}
				if !yield(r, nil) {
					return
				}
			}
		}
	})
	if _, err := db.SyncSystem(ctx, api.ID, src, steward.SyncOptions{Source: "bench"}); err != nil {
		return err
	}
	for after := ""; ; {
		p, err := db.Identities(ctx, steward.IdentityFilter{SystemID: api.ID, ListOptions: steward.ListOptions{After: after, Limit: steward.MaxLimit}})
		if err != nil {
			return err
		}
		for _, i := range p.Items {
			b.ids = append(b.ids, i.ID)
		}
		if after = p.Next; after == "" {
			break
		}
	}
	// The writers act as a person with a personal admin token, as an
	// operator's script would.
	writer := &steward.Person{ExternalID: "bench-writer", Name: "Bench Writer", Email: "bench-writer@example.test", Status: steward.PersonActive}
	if err := db.CreatePerson(ctx, writer); err != nil {
		return err
	}
	exp := time.Now().Add(steward.DefaultPersonalTokenTTL)
	var err error
	b.token, err = db.CreateToken(ctx, &steward.Token{Name: "bench-writer", Role: steward.RoleAdmin, Kind: steward.PrincipalPerson, PersonID: &writer.ID, ExpiresAt: &exp})
	return err
}

// write sets owners through the API at rate writes a second until ctx ends,
// and records each write's latency and outcome in the current phase.
func (b *bench) write(ctx context.Context, w int, rate float64) {
	r := rand.New(rand.NewPCG(uint64(w), 7)) // #nosec G404 G115 -- a benchmark's load, reproducible, seeded by the worker's number (0 or more)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		id, owner := b.ids[r.IntN(len(b.ids))], b.people[r.IntN(len(b.people))]
		t0 := time.Now()
		res, err := b.cl.SetIdentityOwnerWithResponse(context.WithoutCancel(ctx), id, client.OwnerAssignment{OwnerId: &owner})
		took := time.Since(t0)
		b.mu.Lock()
		if p := b.cur; p != nil {
			p.lat = append(p.lat, took)
			switch {
			case err != nil:
				p.other++
				p.errs[err.Error()]++
			case res.StatusCode() == http.StatusOK:
				p.ok++
			case res.StatusCode() == http.StatusServiceUnavailable:
				p.n503++
			case res.StatusCode() == http.StatusInternalServerError:
				p.n500++
			default:
				p.other++
				p.errs[res.Status()+": "+strings.TrimSpace(string(res.Body))]++
			}
		}
		b.mu.Unlock()
	}
}

// importIn runs the import of file in a child process and returns the time
// its sync took.
func importIn(ctx context.Context, dsn, file, logPath string) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, self) // #nosec G204 -- the benchmark's own executable (os.Executable), run as its child
	cmd.Env = append(os.Environ(), childEnv+"="+dsn, childFile+"="+file, childLog+"="+logPath)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("the import process: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	log.Printf("  import: %s", lines[0])
	secs, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	return time.Duration(secs * float64(time.Second)), err
}

// importAPI uploads file to the server's import API and returns how long
// the request took.
func (b *bench) importAPI(ctx context.Context, db *sqlstore.DB, file string) (time.Duration, error) {
	sys, err := db.SystemByName(ctx, systemName)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(file) // #nosec G304 -- a file the benchmark names itself
	if err != nil {
		return 0, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/systems/%d/import?format=jsonl", b.url, sys.ID), f)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("import through the API: %s: %s", resp.Status, body)
	}
	return time.Since(t0), nil
}

// longestSteps reads an import's store log and returns its n longest
// steps: the sync's steps, the first load's index builds and search index.
func longestSteps(path string, n int) []step {
	f, err := os.Open(path) // #nosec G304 -- a file the benchmark names itself
	if err != nil {
		return nil
	}
	defer f.Close()
	var steps []step
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg  string `json:"msg"`
			Step string `json:"step"`
			Name string `json:"name"`
			Took any    `json:"took"` // a duration's text, or nanoseconds
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		var took time.Duration
		switch v := l.Took.(type) {
		case string:
			took, _ = time.ParseDuration(v)
		case float64:
			took = time.Duration(v)
		}
		switch l.Msg {
		case "sync step":
			steps = append(steps, step{"sync: " + l.Step, took})
		case "first load built":
			steps = append(steps, step{"first load: build " + l.Name, took})
		case "first load search index":
			steps = append(steps, step{"first load: search index", took})
		}
	}
	slices.SortFunc(steps, func(a, b step) int { return int(b.took - a.took) })
	return steps[:min(n, len(steps))]
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func loadAvg() [2]string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return [2]string{"?", "?"}
	}
	return [2]string{f[0], f[1]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

func report(out io.Writer, phases []*phase, writers int, rate float64, wait time.Duration, identities, grants, entitlements int, change float64) {
	host, _ := os.Hostname()
	fmt.Fprintf(out, "### API write latency during imports: SQLite, %d identities, %d grants, %d entitlements\n\n", identities, grants, entitlements)
	fmt.Fprintf(out, "Machine: %s, %d cores, %s. Date: %s. %s.\n\n", host, runtime.NumCPU(), machine.CPUModel(), time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version())
	fmt.Fprintf(out, "Command: `go run ./bench/writelatency -identities %d -grants %d -entitlements %d -change %g -writers %d -rate %g -write-wait %s`\n\n",
		identities, grants, entitlements, change, writers, rate, wait)
	fmt.Fprintf(out, "Writes: PUT /api/v1/identities/{id}/owner through the generated client, %d goroutines, %g a second each; the server's --write-wait %s.\n\n", writers, rate, wait)
	fmt.Fprintln(out, "| phase | import took | writes | ok | 503 | 500 | other | p50 ms | p95 ms | p99 ms | max ms | load avg 1/5 min at its end |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, p := range phases {
		took := "—"
		if p.took > 0 {
			took = fmt.Sprintf("%.1f s", p.took.Seconds())
		}
		fmt.Fprintf(out, "| %s | %s | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s / %s |\n", p.name, took, len(p.lat), p.ok, p.n503, p.n500, p.other,
			ms(pct(p.lat, 50)), ms(pct(p.lat, 95)), ms(pct(p.lat, 99)), ms(pct(p.lat, 100)), p.load[0], p.load[1])
	}
	for _, p := range phases {
		if len(p.steps) > 0 {
			var s []string
			for _, st := range p.steps {
				s = append(s, fmt.Sprintf("%s %.1f s", st.name, st.took.Seconds()))
			}
			fmt.Fprintf(out, "\nLongest steps of %q: %s.\n", p.name, strings.Join(s, "; "))
		}
		for e, n := range p.errs {
			fmt.Fprintf(out, "\n%s: %d × %s\n", p.name, n, e)
		}
	}
}
