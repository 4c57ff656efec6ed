package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
)

// The expiry engine revokes JIT grants in their systems when they expire.
//
// Its schedule is the grants' own indexed due time (steward.JITExpiry), not a
// River job per grant: one claim takes every grant due, a thousand at a
// time, in one transaction, and one more records their revocations with
// their events; the next batch is claimed and revoked while the last is
// recorded (see Pass). bench/expiry measures both ways. On a 2-vCPU machine, 100,000
// expiries arriving at 20,000/s: a River job per grant that only revoked
// (recording nothing) worked 1,657/s on SQLite and 3,679/s on PostgreSQL,
// p99 lag 55 s and 22 s; the batched claims, recording each revocation with
// its event, 14,320/s and 11,780/s, p99 lag 2.0 s and 3.4 s.
//
// Nothing is lost across a restart: what expired while no engine ran is
// due, and the first pass after start revokes it. With several replicas on
// one PostgreSQL, claims skip the rows another replica holds (FOR UPDATE
// SKIP LOCKED) and each claim carries a lease: a revocation is recorded
// only under the lease that claimed it, so each expiry is recorded once. A
// replica that dies mid-claim leaves its grants due again when the lease
// ends; the next engine revokes them again, which a Revoker takes as no
// error.

// ExpiryConfig configures an Expiry. Zero values take the defaults given.
type ExpiryConfig struct {
	// Store keeps the grants and their schedule. Required.
	Store steward.JITExpiry
	// Targets returns what revokes grants in a system, by the system's id:
	// the connector configured for it. An error (no connector can revoke
	// there) is the grant's revocation failing, retried with backoff and
	// visible, never dropped. Required.
	Targets func(ctx context.Context, systemID int64) (steward.Revoker, error)
	// Stats counts the grants by state for /metrics (the store's
	// JITStats), read at most every StatsEvery. Default: no gauges.
	Stats func(ctx context.Context) (*steward.JITStats, error)
	// Warning is how long before expiry the warning event goes out; a
	// negative one sends none. Default: steward.DefaultExpiryWarning.
	Warning time.Duration
	// Batch is how many due grants one claim takes. Default: 4000: with
	// two batches in flight, 1000 held SQLite to 13,000 revocations/s
	// (lag p99 27 s) where 4000 kept up with 20,000 expiries a second
	// (lag p99 0.74 s), in turns on one machine; PostgreSQL was the same
	// at either (bench/RESULTS.md).
	Batch int
	// Concurrency is how many revocations of a claim run at once. Default: 16.
	Concurrency int
	// RevokeTimeout bounds one call to a target. Default: 30 s.
	RevokeTimeout time.Duration
	// Lease is how long a claim is held before another engine may take its
	// grants: longer than a batch's revocations take. Default: 5 minutes.
	Lease time.Duration
	// MaxIdle is the longest the engine sleeps without looking, for grants
	// that another replica recorded (Wake tells this one of its own).
	// Default: 1 s.
	MaxIdle time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Logger receives the engine's log. Default: discard.
	Logger *slog.Logger
}

// Expiry is the expiry engine: Run it in 'steward serve'.
type Expiry struct {
	cfg     ExpiryConfig
	wake    chan struct{}
	revoked *prometheus.CounterVec
	lag     prometheus.Histogram
	gauges  *jitGauges
}

// NewExpiry makes an Expiry; Run starts it.
func NewExpiry(cfg ExpiryConfig) (*Expiry, error) {
	if cfg.Store == nil || cfg.Targets == nil {
		return nil, errors.New("jobs: the expiry engine needs a store and its targets")
	}
	if cfg.Warning == 0 {
		cfg.Warning = steward.DefaultExpiryWarning
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 4000
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.RevokeTimeout <= 0 {
		cfg.RevokeTimeout = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Expiry{cfg: cfg, wake: make(chan struct{}, 1),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steward_jit_revocations_total",
			Help: "JIT grant revocations tried at or after expiry, by outcome: revoked, failed (retried with backoff)."}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "steward_jit_revocation_lag_seconds",
			Help:    "How late each JIT grant was revoked: revoked at minus expires at.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600}}),
	}
	if cfg.Stats != nil {
		e.gauges = &jitGauges{stats: cfg.Stats, every: 15 * time.Second,
			count:   prometheus.NewDesc("steward_jit_grants", "Unrevoked JIT grants by state: active, expired (revocation pending), revocation_failing (alert on it).", []string{"state"}, nil),
			overdue: prometheus.NewDesc("steward_jit_oldest_overdue_seconds", "How long ago the longest-overdue unrevoked JIT grant expired; 0 if none is overdue.", nil, nil)}
	}
	return e, nil
}

// Collectors returns the engine's metrics, for /metrics.
func (e *Expiry) Collectors() []prometheus.Collector {
	out := []prometheus.Collector{e.revoked, e.lag}
	if e.gauges != nil {
		out = append(out, e.gauges)
	}
	return out
}

// Wake tells the engine to look now: a grant was recorded that may be due
// before it would look again.
func (e *Expiry) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run revokes grants as they fall due, and sends their warnings, until ctx
// ends. Store errors are logged and retried; it returns ctx's error.
func (e *Expiry) Run(ctx context.Context) error {
	ctx = steward.WithPrincipal(ctx, steward.SelfPrincipal("job:expiry")) // Steward acts as its own automation identity
	for {
		wait := e.cfg.MaxIdle
		if _, err := e.Pass(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.cfg.Logger.Warn("JIT expiry pass failed; trying again", "err", err)
		} else if next, err := e.cfg.Store.NextJITDue(ctx); err != nil {
			e.cfg.Logger.Warn("JIT expiry: reading the next due time failed", "err", err)
		} else if next != nil {
			// Not less than a few milliseconds: a due grant that a claim did
			// not get is held by another replica's claim in flight.
			wait = min(wait, max(next.Sub(e.cfg.Now()), 5*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-e.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// PassResult counts what one pass did.
type PassResult struct {
	Revoked, Failed, Warned int
}

// Pass sends the warnings that are due and revokes every grant due now,
// a batch at a time, until a claim comes back short. A batch whose record
// fails ends the pass with the error; it and the batch claimed after it
// are due again when their leases end.
func (e *Expiry) Pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	if e.cfg.Warning > 0 {
		for {
			now := e.cfg.Now()
			n, err := e.cfg.Store.WarnExpiring(ctx, now, now.Add(e.cfg.Warning), e.cfg.Batch)
			res.Warned += n
			if err != nil {
				return res, fmt.Errorf("expiry warnings: %w", err)
			} else if n < e.cfg.Batch {
				break
			}
		}
	}
	// A pipeline of two: this goroutine claims a batch and revokes it while
	// the one before is recorded by a second, so that the engine's two
	// transactions a batch overlap (on PostgreSQL they run at once; on
	// SQLite's one writer, the claim's and the record's Go side overlap the
	// other's statements). At most two batches are held: the one recorded
	// and the one waiting for its turn. Records stay in claim order.
	targets := map[int64]target{}
	type batch struct {
		c       *steward.RevocationClaim
		out     []steward.Revocation
		claimed time.Time
	}
	todo, failed := make(chan batch), make(chan struct{})
	var recErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := range todo {
			if err := e.finish(ctx, b.c.Lease, b.out, b.claimed); err != nil {
				// The claim stays until its lease ends; the grants are then due
				// again and revoked again, which is no error at the target.
				// So do the claims made after it, which are not recorded.
				recErr = fmt.Errorf("record revocations: %w", err)
				close(failed)
				return
			}
			e.account(&res, b.c, b.out)
		}
	})
	claimErr := func() error {
		defer close(todo)
		for {
			c, err := e.cfg.Store.ClaimRevocations(ctx, e.cfg.Now(), e.cfg.Batch, e.cfg.Lease)
			if err != nil {
				return fmt.Errorf("claim due revocations: %w", err)
			}
			if len(c.Grants) == 0 {
				return nil
			}
			claimed := time.Now()
			out := e.revoke(ctx, c.Grants, targets)
			select {
			case todo <- batch{c, out, claimed}:
			case <-failed:
				return nil
			}
			if len(c.Grants) < e.cfg.Batch {
				return nil
			}
		}
	}()
	wg.Wait()
	if recErr != nil {
		return res, recErr
	}
	return res, claimErr
}

// account counts a recorded batch's outcomes in res and the metrics.
func (e *Expiry) account(res *PassResult, c *steward.RevocationClaim, out []steward.Revocation) {
	for i, o := range out {
		if o.Err == "" {
			res.Revoked++
			e.revoked.WithLabelValues("revoked").Inc()
			e.lag.Observe(o.At.Sub(c.Grants[i].ExpiresAt).Seconds())
		} else {
			res.Failed++
			e.revoked.WithLabelValues("failed").Inc()
			e.cfg.Logger.Warn("JIT grant revocation failed; retrying with backoff", "grant", c.Grants[i].ID,
				"identity", c.Grants[i].Identity, "entitlement", c.Grants[i].Entitlement, "attempts", c.Grants[i].Attempts+1,
				"next_attempt_at", o.NextAttemptAt, "err", o.Err)
		}
	}
}

// finish records the outcomes of a claim made at claimed. The revocations
// are done in their systems: a store that fails to record them (SQLite's
// writer held by a long import past the write wait, a PostgreSQL failover)
// is tried again, a second apart, while half the lease is left, rather than
// leaving them to be revoked again, and recorded late, when the lease ends.
func (e *Expiry) finish(ctx context.Context, lease int64, out []steward.Revocation, claimed time.Time) error {
	for {
		_, err := e.cfg.Store.FinishRevocations(ctx, lease, out)
		if err == nil || ctx.Err() != nil || time.Since(claimed)+time.Second > e.cfg.Lease/2 {
			return err
		}
		e.cfg.Logger.Warn("JIT expiry: recording revocations failed; trying again", "grants", len(out), "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// target is a system's Revoker, or why there is none.
type target struct {
	r   steward.Revoker
	err error
}

// revoke revokes each grant through its system's target, Concurrency at a
// time, and returns the outcomes in the grants' order.
func (e *Expiry) revoke(ctx context.Context, grants []steward.JITGrant, targets map[int64]target) []steward.Revocation {
	for _, g := range grants {
		if _, ok := targets[g.SystemID]; !ok {
			r, err := e.cfg.Targets(ctx, g.SystemID)
			if err == nil && r == nil {
				err = steward.Errorf(steward.ENOTIMPL, "no connector revokes grants in system %d.", g.SystemID)
			}
			targets[g.SystemID] = target{r, err}
		}
	}
	out := make([]steward.Revocation, len(grants))
	one := func(i int) {
		g := &grants[i]
		t := targets[g.SystemID]
		err := t.err
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, e.cfg.RevokeTimeout)
			err = t.r.Revoke(rctx, g.Identity, g.Entitlement)
			cancel()
		}
		now := e.cfg.Now()
		out[i] = steward.Revocation{GrantID: g.ID, At: now}
		if !steward.RevocationDone(err) {
			out[i].Err = steward.ErrorCode(err) + ": " + steward.ErrorMessage(err)
			out[i].NextAttemptAt = now.Add(steward.RevocationBackoff(g.Attempts + 1))
		}
	}
	if e.cfg.Concurrency == 1 {
		for i := range grants {
			one(i)
		}
		return out
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(e.cfg.Concurrency, len(grants)) {
		wg.Go(func() {
			for i := range next {
				one(i)
			}
		})
	}
	for i := range grants {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// jitGauges reports the store's JIT grant counts, read at most every
// every, so that a scrape does not count a million rows each time.
type jitGauges struct {
	stats          func(ctx context.Context) (*steward.JITStats, error)
	every          time.Duration
	count, overdue *prometheus.Desc

	mu   sync.Mutex
	last *steward.JITStats
	at   time.Time
}

func (g *jitGauges) Describe(ch chan<- *prometheus.Desc) { ch <- g.count; ch <- g.overdue }

func (g *jitGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil || time.Since(g.at) > g.every {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := g.stats(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(g.count, err)
			return
		}
		g.last, g.at = s, time.Now()
	}
	s := g.last
	ch <- prometheus.MustNewConstMetric(g.count, prometheus.GaugeValue, float64(s.Active), string(steward.JITActive))
	ch <- prometheus.MustNewConstMetric(g.count, prometheus.GaugeValue, float64(s.Expired), string(steward.JITExpired))
	ch <- prometheus.MustNewConstMetric(g.count, prometheus.GaugeValue, float64(s.Failing), string(steward.JITFailing))
	overdue := 0.0
	if s.OldestOverdue != nil {
		overdue = time.Since(*s.OldestOverdue).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(g.overdue, prometheus.GaugeValue, overdue)
}
