// Package jobs works Steward's durable jobs on River: the workers, the
// periodic schedule (connector syncs, the gap refresh) and their metrics.
//
// A job is inserted by the store (steward.JobQueue) in the transaction of the
// change it follows from, so it exists if and only if the change does. This
// package works it afterwards, on whichever replica fetches it first, after
// a restart too: the River client here reads River's tables in the store's
// database through the driver the store gives it (sqlstore.DB.RiverDriver).
// Only 'steward serve' runs one.
//
// Periodic runs are inserted by the one client that River elects leader
// among those on a database, each with a key unique to its period, so that
// with several replicas each period's run happens once.
//
// The package imports the domain and River, never another adapter: what a
// scheduled run does is a function, and where notices go an interface, that
// cmd/steward wires to the store and the connectors.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/stewardhq/steward"
)

// Queues. Scheduled runs (a sync can take minutes) have their own, so that
// they never hold the slots of short jobs like notices.
const (
	QueueDefault   = river.QueueDefault
	QueueScheduled = "scheduled"
)

// Config configures a Runner. Zero values take the defaults given.
type Config struct {
	// Driver is River's driver on the store's database
	// (sqlstore.DB.RiverDriver). Required.
	Driver riverdriver.Driver[*sql.Tx]
	// Inbox receives the notices that jobs write. Required.
	Inbox Inbox
	// Scheduled are the runs made every period: each connector with a
	// schedule, and the gap refresh. Default: none.
	Scheduled []Scheduled
	// Lock takes a lock named after a scheduled run before it runs, so that
	// a run that outlasts its period never overlaps the next one, on any
	// replica (the store's TryLock: an advisory lock on PostgreSQL). A run
	// that finds it taken is skipped and counted "elsewhere". Default: no
	// lock.
	Lock func(ctx context.Context, name string) (release func(), ok bool, err error)
	// Workers is how many jobs of the default queue are worked at once.
	// Default: 50.
	Workers int
	// PollInterval is how often the client looks for jobs nobody told it
	// about (River is told of new jobs by LISTEN on PostgreSQL and by its
	// notification table on SQLite). Default: River's, 1 s.
	PollInterval time.Duration
	// FetchCooldown is the least time between two fetches of a queue: with
	// Workers it bounds the jobs a replica works per second (Workers per
	// cooldown at most). Default: 10 ms. (River's defaults, 10 workers and
	// 100 ms, held a replica to 99 jobs/s on either engine: see
	// bench/RESULTS.md.)
	FetchCooldown time.Duration
	// ID names this client among those on the database. Default: River's,
	// from the host name and the time.
	ID string
	// Logger receives River's and the workers' logs. Default: discard.
	Logger *slog.Logger
	// Fulfil fulfils an approved access request (steward.FulfilRequest),
	// the attempt-th time, from 1 (request.Workflow.Fulfil). An error is
	// retried with River's backoff, up to FulfilAttempts tries. Default:
	// no fulfilment worker; such jobs wait for a runner that has one.
	Fulfil func(ctx context.Context, requestID int64, attempt int) error
	// FulfilAttempts is how many times a fulfilment is tried: Fulfil
	// records the last one's failure on the request. Default: 5.
	FulfilAttempts int
}

// Inbox is what the notice worker needs of the store.
type Inbox interface {
	DeliverNotices(ctx context.Context, jobID int64, notices []steward.Notice) (int, error)
}

// Scheduled is a run made every period.
type Scheduled struct {
	// Name is the run's name ("sync:pg-prod", "refresh-gaps"): its
	// arguments, its lock and the job label of its metrics. Unique.
	Name string
	// Every is the period: at least a second.
	Every time.Duration
	// Run does the work. It is cancelled when the runner stops; a run
	// that returns an error is counted failed and waits for the next
	// period rather than being retried.
	Run func(ctx context.Context) error
}

// ScheduledRun is the job of one scheduled run, by its name.
type ScheduledRun struct {
	Name string `json:"name"`
}

// Kind implements river.JobArgs.
func (ScheduledRun) Kind() string { return "scheduled_run" }

// Runner works jobs: a River client with Steward's workers.
type Runner struct {
	client *river.Client[*sql.Tx]
	logger *slog.Logger
	runs   *prometheus.CounterVec // scheduled runs by job and outcome: ok, failed, elsewhere
	took   *prometheus.GaugeVec   // the last scheduled run's duration, by job
	worked *prometheus.CounterVec // every job worked, by kind and outcome: ok, failed
}

// New makes a Runner; Start starts it.
func New(cfg Config) (*Runner, error) {
	if cfg.Driver == nil || cfg.Inbox == nil {
		return nil, errors.New("jobs: a driver and an inbox are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 50
	}
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = 10 * time.Millisecond
	}
	r := &Runner{logger: cfg.Logger,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steward_scheduled_runs_total",
			Help: "Runs of scheduled jobs (sync:CONNECTOR, refresh-gaps) that this replica worked, by outcome: ok, failed, or elsewhere (the job's previous run still holds its lock)."},
			[]string{"job", "outcome"}),
		took: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steward_scheduled_last_run_seconds",
			Help: "How long the last run of each scheduled job on this replica took."}, []string{"job"}),
		worked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steward_jobs_worked_total",
			Help: "Jobs this replica worked, by kind and outcome: ok, or failed (retried later, unless it was the last attempt)."},
			[]string{"kind", "outcome"}),
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &noticeWorker[steward.OwnerAssigned]{inbox: cfg.Inbox, logger: cfg.Logger})
	river.AddWorker(workers, &noticeWorker[steward.JITExpiryWarning]{inbox: cfg.Inbox, logger: cfg.Logger})
	sw := &scheduledWorker{r: r, runs: map[string]Scheduled{}, lock: cfg.Lock}
	river.AddWorker(workers, sw)
	if cfg.Fulfil != nil {
		if cfg.FulfilAttempts <= 0 {
			cfg.FulfilAttempts = 5
		}
		river.AddWorker(workers, &fulfilWorker{fulfil: cfg.Fulfil, attempts: cfg.FulfilAttempts})
	}
	var periodic []*river.PeriodicJob
	for _, s := range cfg.Scheduled {
		if s.Name == "" || s.Run == nil || s.Every < time.Second {
			return nil, fmt.Errorf("jobs: scheduled run %q needs a name, a function and a period of at least a second", s.Name)
		} else if _, dup := sw.runs[s.Name]; dup {
			return nil, fmt.Errorf("jobs: scheduled run %q is given twice", s.Name)
		}
		sw.runs[s.Name] = s
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(s.Every),
			func() (river.JobArgs, *river.InsertOpts) {
				// One run per period: a leader elected anew (a replica
				// restarted, another took over) runs a period's job on
				// start only if nobody ran it yet. A failed run waits for
				// the next period, as a ticker would.
				return ScheduledRun{Name: s.Name}, &river.InsertOpts{Queue: QueueScheduled, MaxAttempts: 1,
					UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: s.Every}}
			}, &river.PeriodicJobOpts{ID: s.Name, RunOnStart: true}))
	}
	client, err := river.NewClient(cfg.Driver, &river.Config{
		ID: cfg.ID,
		// River reports at Info how many jobs each queue worked, every few
		// seconds; its warnings and errors are what an operator needs.
		Logger:            slog.New(warnings{cfg.Logger.Handler()}),
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     cfg.FetchCooldown,
		Queues: map[string]river.QueueConfig{
			QueueDefault:   {MaxWorkers: cfg.Workers},
			QueueScheduled: {MaxWorkers: max(1, len(cfg.Scheduled))},
		},
		Workers:      workers,
		PeriodicJobs: periodic,
		Middleware:   []rivertype.Middleware{&countWorked{worked: r.worked}},
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	r.client = client
	return r, nil
}

// Start starts working jobs, and scheduling runs when elected leader. It
// returns an error if River's tables are missing or the database cannot be
// reached.
func (r *Runner) Start(ctx context.Context) error {
	// Stopping is Stop's: the client must not stop by itself when the
	// context it started with ends, before the caller has stopped taking
	// requests that queue jobs.
	if err := r.client.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	r.logger.Info("working jobs", "client", r.client.ID())
	return nil
}

// Stop stops fetching jobs and cancels those still running, and returns when
// they have returned or ctx ends. A cancelled job writes nothing (its unit
// of work rolls back): a notice is worked again after the next start; a
// scheduled run waits for its next period.
func (r *Runner) Stop(ctx context.Context) error {
	return r.client.StopAndCancel(ctx)
}

// Collectors are the runner's metrics, for /metrics.
func (r *Runner) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.runs, r.took, r.worked}
}

// noticeJob is a job whose work is to tell people something: an owner
// change, a JIT grant's coming expiry. What each is told is the domain's
// (Notices); the worker only delivers it.
type noticeJob interface {
	river.JobArgs
	Notices() []steward.Notice
}

// noticeWorker writes the notices of one kind of job to the inbox.
type noticeWorker[T noticeJob] struct {
	river.WorkerDefaults[T]
	inbox  Inbox
	logger *slog.Logger
}

// Timeout allows for a wait on SQLite's one writer, which a large sync
// holds for a minute or more.
func (w *noticeWorker[T]) Timeout(*river.Job[T]) time.Duration {
	return 10 * time.Minute
}

func (w *noticeWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	n, err := w.inbox.DeliverNotices(steward.WithPrincipal(ctx, steward.SelfPrincipal("job:"+job.Kind)), job.ID, job.Args.Notices())
	if err != nil {
		return permanent(err)
	}
	w.logger.Debug("notices delivered", "job", job.ID, "kind", job.Kind, "notices", n)
	return nil
}

// fulfilWorker fulfils approved access requests through their connectors.
type fulfilWorker struct {
	river.WorkerDefaults[steward.FulfilRequest]
	fulfil   func(ctx context.Context, requestID int64, attempt int) error
	attempts int
}

// Timeout allows for a wait on SQLite's one writer and a slow target.
func (w *fulfilWorker) Timeout(*river.Job[steward.FulfilRequest]) time.Duration {
	return 5 * time.Minute
}

// NextRetry backs off 2, 4, 8, 16 s... up to 5 min: a target that was down
// for a moment is tried again soon, one down for long is not hammered.
func (w *fulfilWorker) NextRetry(job *river.Job[steward.FulfilRequest]) time.Time {
	return time.Now().Add(min(time.Duration(1<<min(job.Attempt, 8))*time.Second, 5*time.Minute))
}

func (w *fulfilWorker) Work(ctx context.Context, job *river.Job[steward.FulfilRequest]) error {
	err := w.fulfil(ctx, job.Args.RequestID, job.Attempt)
	if err != nil && job.Attempt >= w.attempts {
		// Fulfil recorded the request failed on its last attempt; the
		// job has nothing left to do.
		return river.JobCancel(err)
	}
	return err
}

// permanent marks an error that another attempt cannot mend (a bad notice,
// a person who does not exist) so that River does not retry the job.
func permanent(err error) error {
	switch steward.ErrorCode(err) {
	case steward.EINVALID, steward.ENOTFOUND:
		return river.JobCancel(err)
	}
	return err
}

// scheduledWorker makes one scheduled run.
type scheduledWorker struct {
	river.WorkerDefaults[ScheduledRun]
	r    *Runner
	runs map[string]Scheduled
	lock func(ctx context.Context, name string) (release func(), ok bool, err error)
}

// Timeout: a run takes as long as it takes (a sync at a million identities,
// minutes); stopping the runner cancels it.
func (w *scheduledWorker) Timeout(*river.Job[ScheduledRun]) time.Duration { return -1 }

func (w *scheduledWorker) Work(ctx context.Context, job *river.Job[ScheduledRun]) error {
	name := job.Args.Name
	s, ok := w.runs[name]
	if !ok {
		// Another replica's configuration has a run this one lacks.
		return river.JobCancel(fmt.Errorf("scheduled run %q is not configured on this replica", name))
	}
	if w.lock != nil {
		release, ok, err := w.lock(ctx, name)
		if err != nil {
			w.r.runs.WithLabelValues(name, "failed").Inc()
			return fmt.Errorf("take the lock of %s: %w", name, err)
		} else if !ok {
			w.r.logger.Info("scheduled run skipped: its previous run still holds its lock", "job", name)
			w.r.runs.WithLabelValues(name, "elsewhere").Inc()
			return nil
		}
		defer release()
	}
	start := time.Now()
	err := s.Run(ctx)
	if ctx.Err() != nil {
		return ctx.Err() // stopping: neither a success nor a failure
	}
	took := time.Since(start)
	w.r.took.WithLabelValues(name).Set(took.Seconds())
	if err != nil {
		w.r.logger.Error("scheduled run failed", "job", name, "err", err, "took", took.Round(time.Millisecond))
		w.r.runs.WithLabelValues(name, "failed").Inc()
		return err
	}
	w.r.runs.WithLabelValues(name, "ok").Inc()
	return nil
}

// countWorked counts every job worked by kind and outcome.
type countWorked struct {
	river.MiddlewareDefaults
	worked *prometheus.CounterVec
}

func (m *countWorked) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	err := doInner(ctx)
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	m.worked.WithLabelValues(job.Kind, outcome).Inc()
	return err
}

// warnings passes on a handler's records of level Warn and above.
type warnings struct{ slog.Handler }

func (h warnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnings) WithAttrs(a []slog.Attr) slog.Handler { return warnings{h.Handler.WithAttrs(a)} }
func (h warnings) WithGroup(n string) slog.Handler      { return warnings{h.Handler.WithGroup(n)} }
