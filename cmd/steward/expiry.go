package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// targets returns the connector that changes a system, by the system's
// name: the postgres connector of the configuration whose system it is,
// made once and shared by the expiry engine and request fulfilment. A
// system no connector can change answers ENOTIMPL, which fails a
// revocation (visibly, retried) or a request's fulfilment (with the text).
// closeAll closes the connectors made (their pooled sessions), for when
// nothing will use them again.
func targets(cfg *fileConfig, logger *slog.Logger) (get func(ctx context.Context, system string) (steward.Target, error), closeAll func()) {
	var mu sync.Mutex
	made := map[string]*postgres.Connector{} // by connector name
	get = func(ctx context.Context, system string) (steward.Target, error) {
		if cfg != nil {
			for i := range cfg.Connectors {
				c := &cfg.Connectors[i]
				if c.System != system || c.Type != "postgres" || c.Postgres == nil {
					continue
				}
				mu.Lock()
				defer mu.Unlock()
				if t := made[c.Name]; t != nil {
					return t, nil
				}
				t, err := postgres.New(*c.Postgres, postgres.Options{Logger: logger})
				if err != nil {
					return nil, err
				}
				made[c.Name] = t
				return t, nil
			}
		}
		return nil, steward.Errorf(steward.ENOTIMPL, "no postgres connector in the configuration is for system %s: Steward cannot change access there.", system)
	}
	closeAll = func() {
		mu.Lock()
		defer mu.Unlock()
		for name, t := range made {
			t.Close()
			delete(made, name)
		}
	}
	return get, closeAll
}

// newExpiry makes the JIT expiry engine serve runs: grants are revoked
// through the postgres connector whose system they are of. A grant of a
// system no connector can change fails its revocation, visibly and
// retried, until one is configured.
func newExpiry(db *sqlstore.DB, t func(context.Context, string) (steward.Target, error), logger *slog.Logger, warning time.Duration) (*jobs.Expiry, error) {
	bySystem := func(ctx context.Context, systemID int64) (steward.Revoker, error) {
		sys, err := db.System(ctx, systemID)
		if err != nil {
			return nil, err
		}
		return t(ctx, sys.Name)
	}
	if warning == 0 {
		warning = -1 // none
	}
	return jobs.NewExpiry(jobs.ExpiryConfig{Store: db, Targets: bySystem, Stats: db.JITStats, Warning: warning,
		Logger: logger.With("component", "expiry")})
}

// newWorkflow makes the request workflow: decisions by the catalog in
// force, fulfilment through the configured connectors.
func newWorkflow(db *sqlstore.DB, t func(context.Context, string) (steward.Target, error), logger *slog.Logger) (*request.Workflow, error) {
	return request.New(request.Config{Store: db, Compile: compileCatalog, Targets: t, Logger: logger.With("component", "requests")})
}
