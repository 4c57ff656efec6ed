// Command jobs is Steward's job queue benchmark: how many durable jobs a
// second the store inserts and a replica works, on SQLite or PostgreSQL,
// beside the engine's raw insert speed measured in the same run. It prints
// Markdown for bench/RESULTS.md.
//
//	go run ./bench/jobs -db /tmp/jobs.db
//	go run ./bench/jobs -db 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable'
//
// The phases, each on -jobs jobs:
//
//  1. raw: the jobs' rows (kind, JSON args, queue, state, two times) copied
//     into a scratch table in one transaction, by the path bulk loads use
//     (COPY on PostgreSQL): the engine's limit.
//  2. insert, one transaction: Store.Enqueue with every job at once, as a
//     unit of work that queues many (River's InsertManyFastTx).
//  3. insert, a transaction each: Store.Enqueue once per job, as changes
//     that each queue their own job do.
//  4. work, no-op: a River client on the store's driver, with the queue
//     settings of jobs.Runner, works the jobs of phase 2 with a worker that
//     does nothing: the queue's own ceiling.
//  5. work, owner notices: jobs.Runner itself works -jobs owner_assigned
//     jobs, each writing a notice with its audit event in one unit of work
//     (the shape of a job that acts and records what it did).
//
// A job counts as worked once River has recorded it completed.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/riverqueue/river"

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

// noop is the benchmark's job: it does nothing, so that working it
// measures the queue alone.
type noop struct {
	N int `json:"n"`
}

func (noop) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noop]
}

func (noopWorker) Work(context.Context, *river.Job[noop]) error { return nil }

// figures are one run's results.
type figures struct {
	dialect                       string
	n                             int
	raw, batch, each, noop, owner float64 // per second
	eachN                         int
	workers                       int
	cooldown                      time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	dsn := fs.String("db", "", "SQLite file or postgres:// URL of an empty database (default: a temp SQLite file)")
	n := fs.Int("jobs", 100_000, "jobs per phase")
	eachN := fs.Int("each", 0, "jobs inserted a transaction each (default: -jobs)")
	workers := fs.Int("workers", 0, "jobs a replica works at once (jobs.Config.Workers; default: its default)")
	cooldown := fs.Duration("cooldown", 0, "least time between two fetches (jobs.Config.FetchCooldown; default: River's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *eachN == 0 {
		*eachN = *n
	}
	if *dsn == "" {
		dir, err := os.MkdirTemp("", "steward-bench-jobs-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dsn = filepath.Join(dir, "jobs.db")
	}
	ctx = steward.WithActor(ctx, "bench:jobs")
	db, err := sqlstore.Open(*dsn, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	// The engine's own pool: the raw insert yardstick and the counts of
	// River's table are asked of the database, not of Steward.
	eng, err := engine.Open(*dsn)
	if err != nil {
		return err
	}
	defer eng.Close()
	if count(ctx, eng, `SELECT count(*) FROM river_job`) > 0 {
		return fmt.Errorf("%s has jobs already: give an empty database", *dsn)
	}
	f := figures{dialect: db.Dialect(), n: *n, eachN: *eachN, workers: *workers, cooldown: *cooldown}

	f.raw, err = rawInsert(ctx, eng, *n)
	if err != nil {
		return err
	}
	log.Printf("raw insert: %.0f rows/s", f.raw)

	batch := make([]steward.JobArgs, *n)
	for i := range batch {
		batch[i] = noop{N: i}
	}
	t0 := time.Now()
	if err := db.Enqueue(ctx, batch...); err != nil {
		return err
	}
	f.batch = rate(*n, t0)
	log.Printf("insert, one transaction: %.0f jobs/s", f.batch)

	// Queued for the notice phase: they wait for a worker of their kind.
	owner := &steward.Person{ExternalID: "bench-owner", Name: "Bench Owner", Status: steward.PersonActive}
	if err := db.CreatePerson(ctx, owner); err != nil {
		return err
	}
	t0 = time.Now()
	for i := range *eachN {
		j := steward.OwnerAssigned{IdentityID: int64(i + 1), IdentityName: fmt.Sprintf("svc-%d", i), SystemName: "bench",
			OwnerID: &owner.ID, OwnerName: owner.Name, By: "bench:jobs", At: t0}
		if err := db.Enqueue(ctx, j); err != nil {
			return err
		}
	}
	f.each = rate(*eachN, t0)
	log.Printf("insert, a transaction each: %.0f jobs/s", f.each)

	if f.noop, err = workNoop(ctx, db, eng, *n, *workers, *cooldown); err != nil {
		return err
	}
	log.Printf("work, no-op: %.0f jobs/s", f.noop)
	if f.owner, err = workNotices(ctx, db, eng, *eachN, *workers, *cooldown); err != nil {
		return err
	}
	log.Printf("work, owner notices: %.0f jobs/s", f.owner)
	report(out, f)
	return nil
}

// rawInsert copies n job-shaped rows into a scratch table in one
// transaction and returns rows per second.
func rawInsert(ctx context.Context, sdb *engine.DB, n int) (float64, error) {
	_, _ = sdb.ExecContext(ctx, `DROP TABLE IF EXISTS bench_raw_jobs`)
	if _, err := sdb.ExecContext(ctx, `CREATE TABLE bench_raw_jobs (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, args TEXT NOT NULL,
		queue TEXT NOT NULL, state TEXT NOT NULL, scheduled_at BIGINT NOT NULL, created_at BIGINT NOT NULL)`); err != nil {
		return 0, err
	}
	defer sdb.ExecContext(context.WithoutCancel(ctx), `DROP TABLE bench_raw_jobs`)
	now := time.Now().UnixMicro()
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), "bench_noop", fmt.Sprintf(`{"n":%d}`, i), "default", "available", now, now}
	}
	t0 := time.Now()
	if err := sdb.Insert(ctx, "bench_raw_jobs", []string{"id", "kind", "args", "queue", "state", "scheduled_at", "created_at"}, rows); err != nil {
		return 0, err
	}
	return rate(n, t0), nil
}

// workNoop works the n no-op jobs with a River client configured as
// jobs.Runner configures its default queue.
func workNoop(ctx context.Context, db *sqlstore.DB, eng *engine.DB, n, workers int, cooldown time.Duration) (float64, error) {
	driver, err := db.RiverDriver()
	if err != nil {
		return 0, err
	}
	w := river.NewWorkers()
	river.AddWorker(w, noopWorker{})
	if workers == 0 {
		workers = 50 // jobs.Config's defaults
	}
	if cooldown == 0 {
		cooldown = 10 * time.Millisecond
	}
	client, err := river.NewClient(driver, &river.Config{Logger: slog.New(slog.DiscardHandler), FetchCooldown: cooldown,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}}, Workers: w,
		// The owner notices wait in the same queue for the next phase.
		FetchOnlyKnownKinds: true})
	if err != nil {
		return 0, err
	}
	return timeWork(ctx, eng, n, "bench_noop", client.Start, client.Stop)
}

// workNotices works the n owner notices with jobs.Runner.
func workNotices(ctx context.Context, db *sqlstore.DB, eng *engine.DB, n, workers int, cooldown time.Duration) (float64, error) {
	driver, err := db.RiverDriver()
	if err != nil {
		return 0, err
	}
	r, err := jobs.New(jobs.Config{Driver: driver, Inbox: db, Workers: workers, FetchCooldown: cooldown, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	return timeWork(ctx, eng, n, steward.KindOwnerAssigned, r.Start, r.Stop)
}

// timeWork starts a client, waits until n jobs of kind are completed, stops
// it and returns jobs per second.
func timeWork(ctx context.Context, eng *engine.DB, n int, kind string, start, stop func(context.Context) error) (float64, error) {
	done := func() int {
		return count(ctx, eng, `SELECT count(*) FROM river_job WHERE kind = '`+kind+`' AND state = 'completed'`)
	}
	before := done()
	t0 := time.Now()
	if err := start(ctx); err != nil {
		return 0, err
	}
	defer stop(ctx)
	last, lastAt := before, time.Now()
	for {
		got := done()
		if got-before >= n {
			break
		}
		if got != last {
			last, lastAt = got, time.Now()
		} else if time.Since(lastAt) > 2*time.Minute {
			return 0, fmt.Errorf("%s: no job completed in two minutes (%d of %d)", kind, got-before, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rate(n, t0), nil
}

func count(ctx context.Context, eng *engine.DB, query string) int {
	var n int
	if err := eng.QueryRowContext(ctx, query).Scan(&n); err != nil && err != sql.ErrNoRows {
		log.Fatalf("%s: %v", query, err)
	}
	return n
}

func rate(n int, since time.Time) float64 { return float64(n) / time.Since(since).Seconds() }

func report(w io.Writer, f figures) {
	workers, cooldown := "50 (default)", "10 ms (default)"
	if f.workers > 0 {
		workers = fmt.Sprint(f.workers)
	}
	if f.cooldown > 0 {
		cooldown = f.cooldown.String()
	}
	host, _ := os.Hostname()
	fmt.Fprintf(w, "### %s, %s jobs (%s, Go %s, %d CPUs, workers %s, fetch cooldown %s)\n\n",
		f.dialect, thousands(f.n), host, strings.TrimPrefix(runtime.Version(), "go"), runtime.NumCPU(), workers, cooldown)
	fmt.Fprintf(w, "| phase | per second |\n|---|--:|\n")
	fmt.Fprintf(w, "| raw insert of %s job-shaped rows, one transaction (the engine's limit) | %s |\n", thousands(f.n), thousands(int(f.raw)))
	fmt.Fprintf(w, "| Enqueue, %s jobs in one transaction | %s |\n", thousands(f.n), thousands(int(f.batch)))
	fmt.Fprintf(w, "| Enqueue, %s jobs a transaction each | %s |\n", thousands(f.eachN), thousands(int(f.each)))
	fmt.Fprintf(w, "| worked, no-op worker (%s) | %s |\n", thousands(f.n), thousands(int(f.noop)))
	fmt.Fprintf(w, "| worked, owner notice with its audit event (%s) | %s |\n", thousands(f.eachN), thousands(int(f.owner)))
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
