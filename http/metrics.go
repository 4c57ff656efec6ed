package http

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stewardhq/steward"
)

// metrics is the server's own Prometheus registry. It is not the global
// default registry, so that two servers in one process (tests) do not
// collide and nothing registered elsewhere leaks into /metrics.
type metrics struct {
	handler         http.Handler
	requestDuration *prometheus.HistogramVec
}

func newMetrics(store steward.StatsReader, clock steward.Clock, maxAge time.Duration, logger *slog.Logger, more ...prometheus.Collector) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "steward_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by method, route pattern and status code.",
			// Finer than the default buckets at the low end: a get by id
			// should take under 5 ms and a list page under 50 ms.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "code"}),
	}
	reg.MustRegister(
		m.requestDuration,
		newInventoryCollector(store, clock, maxAge, logger),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(more...)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A store that cannot be reached should not hide the process
		// metrics that help find out why.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
	})
	return m
}

// inventoryCollector exports Store.InventoryStats as gauges. The stats are
// cached for maxAge: at 1,000,000 identities the GROUP BY behind them takes
// long enough that running it on every scrape, from every Prometheus
// replica, would load the database for numbers that barely move.
type inventoryCollector struct {
	store  steward.StatsReader
	clock  steward.Clock
	maxAge time.Duration
	logger *slog.Logger

	mu      sync.Mutex // held while fetching, so concurrent scrapes share one query
	stats   *steward.InventoryStats
	fetched time.Time

	identities, gaps                             *prometheus.Desc
	people, teams, systems, entitlements, grants *prometheus.Desc
	syncFinished, syncTook, syncFailed           *prometheus.Desc
}

func newInventoryCollector(store steward.StatsReader, clock steward.Clock, maxAge time.Duration, logger *slog.Logger) *inventoryCollector {
	return &inventoryCollector{
		store: store, clock: clock, maxAge: maxAge, logger: logger,
		identities:   prometheus.NewDesc("steward_identities", "Identities in the inventory, by kind and status.", []string{"kind", "status"}, nil),
		gaps:         prometheus.NewDesc("steward_ownership_gaps", "Active non-human identities with an ownership gap, by kind of gap.", []string{"kind"}, nil),
		people:       prometheus.NewDesc("steward_people", "People in the inventory.", nil, nil),
		teams:        prometheus.NewDesc("steward_teams", "Teams in the inventory.", nil, nil),
		systems:      prometheus.NewDesc("steward_systems", "Connected systems.", nil, nil),
		entitlements: prometheus.NewDesc("steward_entitlements", "Entitlements on connected systems.", nil, nil),
		grants:       prometheus.NewDesc("steward_grants", "Grants of entitlements to identities.", nil, nil),
		syncFinished: prometheus.NewDesc("steward_sync_last_success_timestamp_seconds",
			"When the last successful sync or import of each source into each system finished (system empty for people syncs).", []string{"source", "system"}, nil),
		syncTook: prometheus.NewDesc("steward_sync_last_success_duration_seconds",
			"How long that sync or import took.", []string{"source", "system"}, nil),
		syncFailed: prometheus.NewDesc("steward_sync_last_failure_timestamp_seconds",
			"When the last failed sync or import of each source into each system ended (absent if none failed).", []string{"source", "system"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *inventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.identities, c.gaps, c.people, c.teams, c.systems, c.entitlements, c.grants, c.syncFinished, c.syncTook, c.syncFailed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Every kind×status and every gap
// kind is exported, zero when absent, so that a series does not vanish when
// its count drops to zero.
func (c *inventoryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.current()
	if st == nil {
		return
	}
	counts := map[[2]string]int64{}
	for _, ic := range st.Identities {
		counts[[2]string{string(ic.Kind), string(ic.Status)}] += ic.Count
	}
	for _, k := range steward.IdentityKinds {
		for _, s := range steward.IdentityStatuses {
			n := counts[[2]string{string(k), string(s)}]
			ch <- prometheus.MustNewConstMetric(c.identities, prometheus.GaugeValue, float64(n), string(k), string(s))
		}
	}
	for _, g := range steward.GapKinds {
		ch <- prometheus.MustNewConstMetric(c.gaps, prometheus.GaugeValue, float64(st.Gaps[g]), string(g))
	}
	for d, n := range map[*prometheus.Desc]int64{c.people: st.People, c.teams: st.Teams, c.systems: st.Systems,
		c.entitlements: st.Entitlements, c.grants: st.Grants} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n))
	}
	for _, f := range st.Syncs {
		if f.FinishedAt != nil {
			ch <- prometheus.MustNewConstMetric(c.syncFinished, prometheus.GaugeValue, float64(f.FinishedAt.UnixMilli())/1000, f.Source, f.System)
			ch <- prometheus.MustNewConstMetric(c.syncTook, prometheus.GaugeValue, f.FinishedAt.Sub(*f.StartedAt).Seconds(), f.Source, f.System)
		}
		if f.FailedAt != nil {
			ch <- prometheus.MustNewConstMetric(c.syncFailed, prometheus.GaugeValue, float64(f.FailedAt.UnixMilli())/1000, f.Source, f.System)
		}
	}
}

// current returns the cached stats, fetching them when older than maxAge.
// When the store fails it logs and keeps serving the last good stats, if
// any: a scrape during a database blip should not zero every gauge.
func (c *inventoryCollector) current() *steward.InventoryStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.stats != nil && now.Sub(c.fetched) < c.maxAge && !now.Before(c.fetched) {
		return c.stats
	}
	// Collect has no request context; bound the query ourselves.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.store.InventoryStats(ctx)
	if err != nil {
		c.logger.LogAttrs(ctx, slog.LevelError, "inventory stats for metrics", slog.String("error", err.Error()))
		return c.stats
	}
	c.stats, c.fetched = st, now
	return st
}
