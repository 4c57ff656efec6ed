package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// The other schedule the issue asks to measure: a River job per grant,
// scheduled at its expiry. Its worker only revokes through the recording
// target and records nothing, so that what is measured is River's own part
// (its scheduler making the job available, a fetch, a completion): the
// most a job per grant could do. Recording the revocation with its event
// would add a unit of work per job (bench/jobs: 790-914 jobs/s worked with
// one audit event each).

// expiryJob is a grant's revocation as a River job, run at its expiry.
type expiryJob struct {
	Grant int64     `json:"grant"`
	At    time.Time `json:"at"`
}

func (expiryJob) Kind() string       { return "bench_jit_expiry" }
func (j expiryJob) RunAt() time.Time { return j.At }

type expiryWorker struct {
	river.WorkerDefaults[expiryJob]
	target *recordingTarget
	mu     sync.Mutex
	lags   []time.Duration
}

func (w *expiryWorker) Work(ctx context.Context, job *river.Job[expiryJob]) error {
	if err := w.target.Revoke(ctx, "svc", "role"); err != nil {
		return err
	}
	lag := time.Since(job.Args.At)
	w.mu.Lock()
	w.lags = append(w.lags, lag)
	w.mu.Unlock()
	return nil
}

// riverRun enqueues n jobs whose run times are spread over spread from a
// few seconds after the enqueue, works them with a River client configured
// as jobs.Runner configures its default queue, and reports lag and rate.
func riverRun(ctx context.Context, db *sqlstore.DB, n int, spread time.Duration) (string, error) {
	start := time.Now().Add(time.Second + time.Duration(n)*60*time.Microsecond) // after the enqueue (about 33,000 jobs/s)
	step := spread / time.Duration(max(n, 1))
	const per = 10_000
	batch := make([]steward.JobArgs, 0, per)
	for i := range n {
		batch = append(batch, expiryJob{Grant: int64(i + 1), At: start.Add(time.Duration(i) * step)})
		if len(batch) == per || i == n-1 {
			if err := db.Enqueue(ctx, batch...); err != nil {
				return "", err
			}
			batch = batch[:0]
		}
	}
	if d := time.Until(start); d < 0 {
		return "", fmt.Errorf("river: the enqueue outlasted its margin by %s; give fewer jobs", -d)
	}
	driver, err := db.RiverDriver()
	if err != nil {
		return "", err
	}
	w := &expiryWorker{target: &recordingTarget{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := river.NewClient(driver, &river.Config{Logger: slog.New(slog.DiscardHandler), FetchCooldown: 10 * time.Millisecond,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 50}}, Workers: workers, FetchOnlyKnownKinds: true})
	if err != nil {
		return "", err
	}
	if err := client.Start(ctx); err != nil {
		return "", err
	}
	defer client.Stop(context.WithoutCancel(ctx))
	for w.target.n.Load() < int64(n) {
		time.Sleep(20 * time.Millisecond)
		if time.Since(start) > spread+10*time.Minute {
			return "", fmt.Errorf("river: %d of %d after %s", w.target.n.Load(), n, time.Since(start))
		}
	}
	took := time.Since(start)
	w.mu.Lock()
	lags := slices.Clone(w.lags)
	w.mu.Unlock()
	slices.Sort(lags)
	log.Printf("river: %d in %s", n, took)
	return fmt.Sprintf("| River job per grant (revoke only, nothing recorded): %s over %s, all done after | %.1f s (%s/s) |\n"+
		"| River job per grant: lag p50 / p99 / max | %s / %s / %s |\n",
		thousands(n), spread, took.Seconds(), thousands(int(float64(n)/took.Seconds())), ms(pct(lags, 50)), ms(pct(lags, 99)), ms(lags[len(lags)-1])), nil
}
