package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// gapRefreshEvery is how often serve recomputes every gap task. Each write,
// bulk loads included, refreshes the gaps it touches; the full pass is the
// safety net for rows written to the database by other means, and it warns
// when it finds anything to do.
const gapRefreshEvery = time.Hour

// scheduler runs the connectors with a schedule, and the full gap refresh,
// until its context ends. Each job takes a lock named after it first, so
// that of several replicas on one PostgreSQL only one runs it at a time.
type scheduler struct {
	db     *sqlstore.DB
	logger *slog.Logger
	jobs   []job
	runs   *prometheus.CounterVec // by job and outcome: ok, failed, elsewhere
	took   *prometheus.GaugeVec   // the last run's duration, by job
}

// collectors are the scheduler's metrics, for /metrics.
func (s *scheduler) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.runs, s.took}
}

type job struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

func newScheduler(db *sqlstore.DB, cfg *fileConfig, logger *slog.Logger) *scheduler {
	s := &scheduler{db: db, logger: logger,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steward_scheduled_runs_total",
			Help: "Runs of serve's scheduled jobs (sync:CONNECTOR, refresh-gaps), by outcome: ok, failed, or elsewhere (another replica holds the job's lock)."},
			[]string{"job", "outcome"}),
		took: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steward_scheduled_last_run_seconds",
			Help: "How long the last run of each scheduled job took."}, []string{"job"}),
	}
	if cfg != nil {
		for i := range cfg.Connectors {
			c := &cfg.Connectors[i]
			if c.Schedule <= 0 {
				continue
			}
			s.jobs = append(s.jobs, job{name: "sync:" + c.Name, every: c.Schedule, run: func(ctx context.Context) error {
				res, err := runConnector(ctx, db, c, logger, false)
				if err == nil {
					logger.Info("sync finished", "connector", c.Name, "records", res.Records, "events", res.Events,
						"identities_created", res.IdentitiesCreated, "identities_removed", res.IdentitiesRemoved, "gaps_opened", res.GapsOpened)
				}
				return err
			}})
		}
	}
	s.jobs = append(s.jobs, job{name: "refresh-gaps", every: gapRefreshEvery, run: func(ctx context.Context) error {
		res, err := db.RefreshGaps(steward.WithActor(ctx, "system:scheduler"))
		if err == nil && res.GapsOpened+res.GapsClosed > 0 {
			logger.Warn("gap refresh found gap tasks out of line with the inventory, and mended them", "opened", res.GapsOpened, "closed", res.GapsClosed)
		}
		return err
	}})
	return s
}

// Run starts every job, each first at once and then on its period, and
// returns when ctx ends and the jobs in progress have stopped.
func (s *scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(j.every)
			defer t.Stop()
			for {
				s.runOnce(ctx, j)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}

func (s *scheduler) runOnce(ctx context.Context, j job) {
	release, ok, err := s.db.TryLock(ctx, j.name)
	if err != nil {
		s.logger.Warn("scheduled job: cannot take its lock", "job", j.name, "err", err)
		s.runs.WithLabelValues(j.name, "failed").Inc()
		return
	} else if !ok {
		s.logger.Debug("scheduled job runs elsewhere", "job", j.name)
		s.runs.WithLabelValues(j.name, "elsewhere").Inc()
		return
	}
	defer release()
	start := time.Now()
	err = j.run(ctx)
	if ctx.Err() != nil {
		return // stopping: neither a success nor a failure
	}
	s.took.WithLabelValues(j.name).Set(time.Since(start).Seconds())
	if err != nil {
		s.logger.Error("scheduled job failed", "job", j.name, "err", err, "took", time.Since(start).Round(time.Millisecond))
		s.runs.WithLabelValues(j.name, "failed").Inc()
		return
	}
	s.runs.WithLabelValues(j.name, "ok").Inc()
}
