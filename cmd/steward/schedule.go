package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// gapRefreshEvery is how often serve recomputes every gap task. Each write,
// bulk loads included, refreshes the gaps it touches; the full pass is the
// safety net for rows written to the database by other means, and it warns
// when it finds anything to do.
const gapRefreshEvery = time.Hour

// requestClockEvery is how often pending requests are checked for a
// decision level run out (escalate) or a life run out (expire).
const requestClockEvery = 30 * time.Second

// runnerOptions are the settings of serve's job runner that tests change.
type runnerOptions struct {
	id           string        // the River client's id; default River's
	pollInterval time.Duration // default River's
}

// newRunner makes the job runner serve starts: River's client on the
// store's database, with the workers of package jobs, each connector with a
// schedule and the gap refresh as periodic runs (made once per period
// whatever the number of replicas), and the store's TryLock so that a run
// that outlasts its period does not overlap the next.
func newRunner(db *sqlstore.DB, cfg *fileConfig, logger *slog.Logger, o runnerOptions, flow *request.Workflow) (*jobs.Runner, error) {
	driver, err := db.RiverDriver()
	if err != nil {
		return nil, err
	}
	var scheduled []jobs.Scheduled
	if cfg != nil {
		for i := range cfg.Connectors {
			c := &cfg.Connectors[i]
			if c.Schedule <= 0 {
				continue
			}
			scheduled = append(scheduled, jobs.Scheduled{Name: "sync:" + c.Name, Every: c.Schedule, Run: func(ctx context.Context) error {
				res, err := runConnector(ctx, db, c, logger, false)
				if err == nil {
					logger.Info("sync finished", "connector", c.Name, "records", res.Records, "events", res.Events,
						"identities_created", res.IdentitiesCreated, "identities_removed", res.IdentitiesRemoved, "gaps_opened", res.GapsOpened)
				}
				return err
			}})
		}
	}
	scheduled = append(scheduled, jobs.Scheduled{Name: "refresh-gaps", Every: gapRefreshEvery, Run: func(ctx context.Context) error {
		res, err := db.RefreshGaps(steward.WithPrincipal(ctx, steward.SelfPrincipal("job:refresh-gaps")))
		if err == nil && res.GapsOpened+res.GapsClosed > 0 {
			logger.Warn("gap refresh found gap tasks out of line with the inventory, and mended them", "opened", res.GapsOpened, "closed", res.GapsClosed)
		}
		return err
	}})
	var fulfil func(context.Context, int64, int) error
	attempts := 0
	if flow != nil {
		// Pending requests escalate and expire on the leader's clock, once
		// per period whatever the number of replicas.
		scheduled = append(scheduled, jobs.Scheduled{Name: "request-clock", Every: requestClockEvery, Run: func(ctx context.Context) error {
			n, err := flow.Tick(ctx, steward.MaxLimit)
			if n > 0 {
				logger.Info("pending requests escalated or expired", "requests", n)
			}
			return err
		}})
		fulfil, attempts = flow.Fulfil, flow.MaxAttempts()
	}
	return jobs.New(jobs.Config{Driver: driver, Inbox: db, Scheduled: scheduled, Lock: db.TryLock,
		ID: o.id, PollInterval: o.pollInterval, Logger: logger.With("component", "jobs"),
		Fulfil: fulfil, FulfilAttempts: attempts})
}
