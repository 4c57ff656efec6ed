// Command requests measures routine access requests end to end over HTTP
// (issue 12): POST /api/v1/requests to a real server in process, each one
// the catalog's decision (AskAccess and Cedar), the request written with its
// request.created event and its request.fulfil job enqueued, in one
// transaction. The demo organisation is seeded into a fresh store with the
// example catalog; the asks are routine ones the catalog approves by policy
// (found beforehand with Workflow.Preview), each sent with its person's
// token. Fulfilment jobs are enqueued, not worked: no runner takes them.
//
// Two phases: a closed loop (-concurrency clients as fast as answers come)
// for the sustained rate, and an open loop at -rate for the latency at the
// aim's rate (measured from when each request was due, so that a server
// falling behind shows in the latency). Beside them, the limit: one-row
// write transactions per second on the same engine, from as many clients.
// It prints Markdown for bench/RESULTS.md.
//
// Afterwards it checks that the store holds exactly one request, one
// request.created event and one request.fulfil job per 201 (failing
// otherwise). Each phase reports its CPU time per request (cpu.go), which
// holds on a machine others share; -cpuprofile profiles the closed loop,
// to name what a miss costs (go tool pprof -top).
//
//	go build -ldflags "-X main.commit=$(git rev-parse --short HEAD)" -o /tmp/requests ./bench/requests   # the report names the commit
//	/tmp/requests -cpuprofile /tmp/requests.prof                 # SQLite in a temp file, the demo's size
//	/tmp/requests -db 'postgres://postgres@127.0.0.1:5432/reqbench?sslmode=disable'   # an empty database
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/bench/internal/engine"
	"github.com/stewardhq/steward/bench/internal/machine"
	"github.com/stewardhq/steward/demo"
	"github.com/stewardhq/steward/examples"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

func main() {
	log.SetFlags(0)
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	db                string
	people, nhi, asks int
	concurrency       int
	duration, warmup  time.Duration
	rate              int
	cpuprofile        string
	args              []string // as given, for the report
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("requests", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.db, "db", "", "the store: a new SQLite file (default: a temp file) or a postgres:// DSN of an empty database")
	fs.IntVar(&c.people, "people", demo.DefaultPeople, "people in the demo organisation")
	fs.IntVar(&c.nhi, "nhi", demo.DefaultNHI, "non-human identities in the demo organisation")
	fs.IntVar(&c.asks, "asks", 500, "distinct routine asks the requests cycle through")
	fs.IntVar(&c.concurrency, "concurrency", 32, "clients")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "length of each timed phase")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "untimed requests before the closed loop")
	fs.IntVar(&c.rate, "rate", 2000, "requests a second in the open loop (0: no open loop)")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the closed loop to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dsn := c.db
	if dsn != "" && !sqlstore.IsPostgres(dsn) {
		if _, err := os.Stat(dsn); err == nil {
			return fmt.Errorf("%s exists: the benchmark seeds a new SQLite file", dsn)
		}
	}
	if dsn == "" {
		dir, err := os.MkdirTemp("", "steward-bench-requests-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dsn = filepath.Join(dir, "requests.db")
	}
	c.args = args
	ctx = steward.WithActor(ctx, "bench:requests")
	// Audit events sealed, as steward serve seals them on SQLite by
	// default (and on PostgreSQL with an audit key).
	key, _, err := steward.GenerateAuditKey(time.Now())
	if err != nil {
		return err
	}
	keys, err := steward.NewAuditKeys(key)
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(dsn, sqlstore.Options{Logger: slog.New(slog.DiscardHandler), AuditKeys: keys})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	log.Printf("seeding %d people, %d NHI", c.people, c.nhi)
	if _, err := demo.Seed(ctx, db, demo.Config{People: c.people, NHI: c.nhi, Now: time.Now()}); err != nil {
		return err
	}
	compile := func(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
		cat, ds := policy.Compile(src)
		if err := ds.Err("catalog"); err != nil {
			return nil, nil, err
		}
		return cat.Catalog, cat, nil
	}
	cat, _, err := compile(examples.Catalog)
	if err != nil {
		return err
	}
	if _, _, err := db.ApplyCatalog(ctx, examples.Catalog, cat); err != nil {
		return err
	}
	if err := db.Optimize(ctx); err != nil {
		return err
	}
	flow, err := request.New(request.Config{Store: db, Compile: compile,
		Targets: func(context.Context, string) (steward.Target, error) {
			return nil, steward.Errorf(steward.ENOTIMPL, "the benchmark works no fulfilment")
		}})
	if err != nil {
		return err
	}
	asks, err := findAsks(ctx, db, flow, c.asks)
	if err != nil {
		return err
	}
	log.Printf("%d routine asks the catalog approves, by %d people", len(asks), countPeople(asks))

	// The server as steward serve runs it (Server.Serve), with its access
	// log at info written as JSON, as --log-format json would, to nowhere:
	// formatting each request's log line is part of the cost.
	srv := &stewardhttp.Server{Store: db, CompileCatalog: compile, Requests: flow,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency * 4, MaxConnsPerHost: c.concurrency * 4}, Timeout: time.Minute}

	load := loadAvg()
	var phases []*phase
	var warm *phase
	if c.warmup > 0 {
		warm = closedLoop(ctx, client, base, asks, c.concurrency, c.warmup)
	}
	var prof *os.File
	if c.cpuprofile != "" {
		if prof, err = os.Create(c.cpuprofile); err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			return err
		}
	}
	dbname := ""
	if sqlstore.IsPostgres(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			dbname = strings.TrimPrefix(u.Path, "/")
		}
	}
	m := markCPU(dbname)
	phases = append(phases, closedLoop(ctx, client, base, asks, c.concurrency, c.duration))
	phases[0].cpu = markCPU(dbname).since(m, len(phases[0].lat))
	if prof != nil {
		pprof.StopCPUProfile()
		if err := prof.Close(); err != nil {
			return fmt.Errorf("the CPU profile: %w", err)
		}
	}
	if c.rate > 0 {
		m := markCPU(dbname)
		p := openLoop(ctx, client, base, asks, c.rate, c.duration)
		p.cpu = markCPU(dbname).since(m, len(p.lat))
		phases = append(phases, p)
	}
	// Every request answered 201 must be held once, with its event and its
	// job (a job only for an approved request: so every 201 was approved),
	// and nothing else: the warm-up's requests count too.
	made, err := verify(ctx, dsn)
	if err != nil {
		return err
	}
	var created, failed int64
	for _, p := range append([]*phase{warm}, phases...) {
		if p == nil {
			continue
		}
		created += p.codes[http.StatusCreated]
		failed += p.errors
	}
	if made.requests != created || made.events != created || made.jobs != created {
		return fmt.Errorf("the store does not hold what was answered: %d answered 201 (%d more got no answer); %d requests, %d request.created events, %d request.fulfil jobs",
			created, failed, made.requests, made.events, made.jobs)
	}
	loadEnd := loadAvg()
	ceiling, err := writeCeiling(ctx, dsn, c.concurrency, 5*time.Second)
	if err != nil {
		return err
	}
	report(out, c, ceiling.version, len(asks), countPeople(asks), phases, ceiling, made, created, load, loadEnd)
	return nil
}

// ask is one routine request and the token of the person who makes it.
type ask struct {
	person, token string
	body          []byte
}

func countPeople(asks []ask) int {
	seen := map[string]bool{}
	for _, a := range asks {
		seen[a.person] = true
	}
	return len(seen)
}

// findAsks finds up to n routine asks that the catalog approves by policy:
// people asking for non-privileged entitlements for identities of their
// own team, and makes each person a token.
func findAsks(ctx context.Context, db *sqlstore.DB, flow *request.Workflow, n int) ([]ask, error) {
	people, err := db.People(ctx, steward.PersonFilter{Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		return nil, err
	}
	no := false
	tokens := map[string]string{}
	var out []ask
	for _, p := range people.Items {
		if len(out) >= n {
			break
		}
		if p.TeamID == nil {
			continue
		}
		pctx := steward.WithPrincipal(ctx, steward.Principal{Kind: steward.PrincipalPerson, Name: p.Email, PersonID: p.ID, Role: steward.RoleMember})
		ids, err := db.Identities(ctx, steward.IdentityFilter{TeamID: *p.TeamID, Status: steward.IdentityActive, ListOptions: steward.ListOptions{Limit: 5}})
		if err != nil {
			return nil, err
		}
		mine := 0
		for _, iv := range ids.Items {
			ents, err := db.Entitlements(ctx, steward.EntitlementFilter{SystemID: iv.SystemID, Privileged: &no, ListOptions: steward.ListOptions{Limit: 5}})
			if err != nil {
				return nil, err
			}
			for _, e := range ents.Items {
				ref := steward.AccessRef{Identity: iv.Name, System: iv.SystemName, Entitlement: e.Name}
				q, d, err := flow.Preview(pctx, ref)
				if err != nil || q.Model == "" || d.Outcome != steward.OutcomeApproved {
					continue
				}
				if tokens[p.Email] == "" {
					raw, err := db.CreateToken(ctx, &steward.Token{Name: "bench-" + strings.ToLower(p.ExternalID), Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &p.ID})
					if err != nil {
						return nil, err
					}
					tokens[p.Email] = raw
				}
				body, _ := json.Marshal(map[string]string{"identity": iv.Name, "system": iv.SystemName, "entitlement": e.Name})
				out = append(out, ask{person: p.Email, token: tokens[p.Email], body: body})
				if mine++; mine >= 10 || len(out) >= n {
					break
				}
			}
			if mine >= 10 || len(out) >= n {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no routine ask the catalog approves was found in the demo organisation")
	}
	return out, nil
}

// phase is one timed phase's outcome.
type phase struct {
	name    string
	took    time.Duration
	lat     []time.Duration
	codes   map[int]int64
	errors  int64
	offered int64 // open loop: requests due in the phase
	sent    int64 // open loop: requests sent
	late    int64 // open loop: requests sent more than 100 ms after they were due
	cpu     cpuUse
}

func post(ctx context.Context, client *http.Client, base string, a ask) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/requests", bytes.NewReader(a.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	if err := res.Body.Close(); err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// closedLoop runs n clients, each sending its next request when the last
// is answered, for d.
func closedLoop(ctx context.Context, client *http.Client, base string, asks []ask, n int, d time.Duration) *phase {
	p := &phase{name: fmt.Sprintf("closed loop, %d clients", n), codes: map[int]int64{}}
	var mu sync.Mutex
	var next atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var lat []time.Duration
			codes := map[int]int64{}
			var errs int64
			for time.Now().Before(deadline) {
				a := asks[int(next.Add(1))%len(asks)]
				t0 := time.Now()
				code, err := post(ctx, client, base, a)
				if err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
				codes[code]++
			}
			mu.Lock()
			defer mu.Unlock()
			p.lat = append(p.lat, lat...)
			for k, v := range codes {
				p.codes[k] += v
			}
			p.errors += errs
		})
	}
	wg.Wait()
	p.took = time.Since(start)
	return p
}

// openLoop offers rate requests a second for d, each at its due time
// whatever became of the others, and measures each from when it was due,
// so that a server falling behind shows in the latency rather than in a
// slower client. At most inFlight are outstanding: a request due while
// they all are waits for one to end (and is counted late if it is sent
// more than 100 ms after it was due); those still waiting at the end of d
// are not sent, and counted.
func openLoop(ctx context.Context, client *http.Client, base string, asks []ask, rate int, d time.Duration) *phase {
	const inFlight = 1024
	p := &phase{name: fmt.Sprintf("open loop at %d/s", rate), codes: map[int]int64{}, offered: int64(d.Seconds() * float64(rate))}
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	sem := make(chan struct{}, inFlight)
	timer := time.NewTimer(d)
	defer timer.Stop()
send:
	for i := range p.offered {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		select {
		case sem <- struct{}{}:
		case <-timer.C:
			break send
		}
		if time.Now().After(end) {
			<-sem
			break
		}
		p.sent++
		if time.Since(due) > 100*time.Millisecond {
			p.late++
		}
		wg.Go(func() {
			defer func() { <-sem }()
			code, err := post(ctx, client, base, asks[int(i)%len(asks)])
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				p.errors++
				return
			}
			p.lat = append(p.lat, took)
			p.codes[code]++
		})
	}
	wg.Wait()
	p.took = time.Since(start)
	return p
}

// ceiling is the engine's one-row write transactions per second.
type ceiling struct {
	tps     float64
	conns   int    // the pool's connections
	version string // the engine and its version
}

// writeCeiling measures one-row write transactions per second (BEGIN;
// INSERT; COMMIT) from n clients for d, on the same database through a
// pool of its own with the store's settings (bench/internal/engine: on
// SQLite one writer connection with the writer's pragmas; on PostgreSQL as
// many connections as the store's pool, sqlstore's default MaxConns): the
// most a store that writes one transaction per request could answer.
func writeCeiling(ctx context.Context, dsn string, n int, d time.Duration) (*ceiling, error) {
	raw, err := engine.Open(dsn)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	c := &ceiling{conns: 1, version: raw.Version(ctx)}
	if raw.Dialect == "postgres" {
		c.conns = storePoolSize
		raw.SetMaxOpenConns(c.conns)
		raw.SetMaxIdleConns(c.conns)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE bench_ceiling (id BIGINT, v TEXT)`); err != nil {
		return nil, err
	}
	defer raw.ExecContext(context.WithoutCancel(ctx), `DROP TABLE bench_ceiling`) //nolint:errcheck // the benchmark's scratch table
	var count atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				tx, err := raw.BeginTx(ctx, nil)
				if err == nil {
					if _, err = tx.ExecContext(ctx, `INSERT INTO bench_ceiling (id, v) VALUES ($1, $2)`, w*1_000_000+i, "a request's worth of text"); err == nil {
						err = tx.Commit()
					} else {
						_ = tx.Rollback()
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok && e != nil {
		return nil, fmt.Errorf("ceiling: %w", e)
	}
	c.tps = float64(count.Load()) / time.Since(start).Seconds()
	return c, nil
}

// storePoolSize is sqlstore's default PostgreSQL pool (Options.MaxConns),
// which the benchmark's store uses.
const storePoolSize = 16

// stored is what the store holds after the run.
type stored struct{ requests, events, jobs int64 }

// verify counts, through a pool of its own, the requests, their
// request.created events and their request.fulfil jobs in the store.
func verify(ctx context.Context, dsn string) (*stored, error) {
	raw, err := engine.Open(dsn)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	var s stored
	for _, q := range []struct {
		sql string
		dst *int64
	}{
		{`SELECT count(*) FROM access_requests`, &s.requests},
		{`SELECT count(*) FROM events WHERE action = 'request.created'`, &s.events},
		{`SELECT count(*) FROM river_job WHERE kind = 'request.fulfil'`, &s.jobs},
	} {
		if err := raw.QueryRowContext(ctx, q.sql).Scan(q.dst); err != nil {
			return nil, fmt.Errorf("%s: %w", q.sql, err)
		}
	}
	return &s, nil
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	i := int(float64(len(lat)-1) * p)
	return lat[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func report(out io.Writer, c config, version string, asks, people int, phases []*phase, ceil *ceiling, made *stored, created int64, loadStart, loadEnd string) {
	host, _ := os.Hostname()
	fmt.Fprintf(out, "### Routine requests over HTTP: %s, the demo organisation (%d people, %d NHI), the example catalog\n\n", version, c.people, c.nhi)
	fmt.Fprintf(out, "Machine: %s, %d CPUs, %s, %s. Date: %s. Commit: %s. Load average (1, 5, 15 min) at the start / end of the timed phases: %s / %s.\n\n",
		host, runtime.NumCPU(), machine.CPUModel(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), revision(), loadStart, loadEnd)
	fmt.Fprintf(out, "Command: `requests %s` (built with `go build -ldflags \"-X main.commit=$(git rev-parse --short HEAD)\" -o requests ./bench/requests`).\n\n", strings.Join(redact(c.args), " "))
	fmt.Fprintf(out, "Each request: POST /api/v1/requests with a person's bearer token over keep-alive connections; the catalog's decision (AskAccess, Cedar); "+
		"the request, its request.created event (sealed with an audit key) and its request.fulfil job in one transaction. %d distinct routine asks by %d people, cycled through; "+
		"each was approved by policy when previewed. The fulfilment jobs are only enqueued: no worker runs, and the connectors are absent.\n\n", asks, people)
	fmt.Fprintln(out, "| phase | requests answered | requests/s | 201 | other status | no answer | p50 ms | p95 ms | p99 ms | max ms |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, p := range phases {
		slices.Sort(p.lat)
		var other int64
		for code, n := range p.codes {
			if code != http.StatusCreated {
				other += n
			}
		}
		name := p.name
		if p.offered > 0 {
			name += fmt.Sprintf(": %d offered, %d sent (%d over 100 ms after due), %d not sent by the end", p.offered, p.sent, p.late, p.offered-p.sent)
		}
		fmt.Fprintf(out, "| %s | %d | %.0f | %d | %d | %d | %s | %s | %s | %s |\n", name, len(p.lat), float64(len(p.lat))/p.took.Seconds(),
			p.codes[http.StatusCreated], other, p.errors, ms(pct(p.lat, 0.5)), ms(pct(p.lat, 0.95)), ms(pct(p.lat, 0.99)), ms(pct(p.lat, 1)))
	}
	for _, p := range phases {
		for code, n := range p.codes {
			if code != http.StatusCreated {
				fmt.Fprintf(out, "\n%s: %d answered %d.\n", p.name, n, code)
			}
		}
	}
	fmt.Fprintln(out, "\nThe open loop's latency is measured from when each request was due, not from when it was sent.")
	fmt.Fprintln(out, "\nCPU time per request answered (this process: the server and its clients; PostgreSQL's backends on the benchmark's database), and how busy the machine's CPUs were during the phase, others' work included:")
	fmt.Fprintln(out, "\n| phase | this process ms | PostgreSQL's backends ms | machine's CPUs busy |")
	fmt.Fprintln(out, "|---|--:|--:|--:|")
	for _, p := range phases {
		fmt.Fprintf(out, "| %s | %.2f | %.2f | %.0f%% |\n", p.name, p.cpu.self.Seconds()*1000, p.cpu.backends.Seconds()*1000, p.cpu.machineBusy*100)
	}
	fmt.Fprintf(out, "\nThe limit, measured in the same run after the requests: one-row write transactions (BEGIN; INSERT; COMMIT) from %d clients through %d connection(s) with the store's settings, on the same database: **%.0f/s**.\n\n",
		c.concurrency, ceil.conns, ceil.tps)
	fmt.Fprintf(out, "Held afterwards: %d requests, %d request.created events, %d request.fulfil jobs, for %d answers 201 (warm-up included): one of each per request.\n",
		made.requests, made.events, made.jobs, created)
}

// redact hides a PostgreSQL DSN's host, port and credentials.
func redact(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if sqlstore.IsPostgres(a) {
			if u, err := url.Parse(a); err == nil {
				out[i] = "postgres://…" + u.Path
			}
		}
	}
	return out
}

// commit is the commit the binary was built from, when the build says so
// (-ldflags "-X main.commit=..."; this machine's go env turns -buildvcs off).
var commit string

// revision is the commit the binary was built from: commit, else the
// build's VCS stamp with "+changes" if the tree had uncommitted changes.
func revision() string {
	if commit != "" {
		return commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+changes"
			}
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev == "" {
		return "unknown (built without a commit)"
	}
	return rev + dirty
}
