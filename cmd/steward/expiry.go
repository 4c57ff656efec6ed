package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store/sqlstore"
)

// newExpiry makes the JIT expiry engine serve runs: grants are revoked
// through the postgres connector whose system they are of. A grant of a
// system no connector can change fails its revocation, visibly and
// retried, until one is configured.
func newExpiry(db *sqlstore.DB, cfg *fileConfig, logger *slog.Logger, warning time.Duration) (*jobs.Expiry, error) {
	var mu sync.Mutex
	made := map[string]*postgres.Connector{} // by connector name
	targets := func(ctx context.Context, systemID int64) (steward.Revoker, error) {
		sys, err := db.System(ctx, systemID)
		if err != nil {
			return nil, err
		}
		if cfg != nil {
			for i := range cfg.Connectors {
				c := &cfg.Connectors[i]
				if c.System != sys.Name || c.Type != "postgres" || c.Postgres == nil {
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
		return nil, steward.Errorf(steward.ENOTIMPL, "no postgres connector in the configuration is for system %s: Steward cannot revoke there.", sys.Name)
	}
	if warning == 0 {
		warning = -1 // none
	}
	return jobs.NewExpiry(jobs.ExpiryConfig{Store: db, Targets: targets, Stats: db.JITStats, Warning: warning,
		Logger: logger.With("component", "expiry")})
}
