package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

// engine opens a migrated store, and the same database again (after a
// restart, say).
type engine struct {
	name string
	open func(t *testing.T) (first *sqlstore.DB, reopen func() *sqlstore.DB)
}

var engines = []engine{
	{"sqlite", func(t *testing.T) (*sqlstore.DB, func() *sqlstore.DB) {
		return openAt(t, filepath.Join(t.TempDir(), "steward.db"))
	}},
	{"postgres", func(t *testing.T) (*sqlstore.DB, func() *sqlstore.DB) {
		return openAt(t, sqlstoretest.FreshSchemaDSN(t))
	}},
}

func openAt(t *testing.T, dsn string) (*sqlstore.DB, func() *sqlstore.DB) {
	t.Helper()
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(dsn, sqlstore.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	return open(), open
}

func each(t *testing.T, fn func(t *testing.T, e engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

// start starts a runner on db and stops it when the test ends.
func start(t *testing.T, db *sqlstore.DB, cfg jobs.Config) *jobs.Runner {
	t.Helper()
	driver, err := db.RiverDriver()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Driver, cfg.Inbox, cfg.PollInterval = driver, db, 100*time.Millisecond
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := jobs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return r
}

// eventually waits for cond, failing the test if it does not hold within a
// generous bound (the bound is not what is tested: the machine may be busy).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func notices(t *testing.T, db *sqlstore.DB, person int64) []steward.Notice {
	t.Helper()
	page, err := db.Notices(context.Background(), steward.NoticeFilter{PersonID: person})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// TestJobSurvivesRestart: an owner notice queued while no runner runs, by a
// process that then stops, is worked by the next one to start.
func TestJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		ctx := steward.WithActor(context.Background(), "token:alice")
		db, reopen := e.open(t)
		sys := storetest.MustSystem(t, db, nil)
		bob, carol := storetest.MustPerson(t, db, nil), storetest.MustPerson(t, db, nil)
		id := storetest.MustIdentity(t, db, sys.ID, func(i *steward.Identity) { i.OwnerID = &bob.ID })
		if _, err := db.SetOwner(ctx, id.ID, steward.OwnerAssignment{OwnerID: &carol.ID}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		db = reopen()
		r := start(t, db, jobs.Config{})
		eventually(t, "the notices", func() bool { return len(notices(t, db, carol.ID)) == 1 && len(notices(t, db, bob.ID)) == 1 })
		n := notices(t, db, carol.ID)[0]
		if n.ObjectID != fmt.Sprint(id.ID) || n.JobID == 0 {
			t.Fatalf("notice %+v", n)
		}
		eventually(t, "the job counted", func() bool {
			return metric(t, r, "steward_jobs_worked_total", "kind", steward.KindOwnerAssigned, "outcome", "ok") == 1
		})
	})
}

// metric returns the value of the runner's metric name with the given
// label pairs, 0 if it has none yet.
func metric(t *testing.T, r interface{ Collectors() []prometheus.Collector }, name string, labels ...string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// TestScheduledRuns: a scheduled run is made every period, counted by its
// outcome; a run whose previous one still holds its lock is skipped.
func TestScheduledRuns(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		db, _ := e.open(t)
		const name = "sync:pg-prod"
		// Another replica is running it when this one starts.
		release, ok, err := db.TryLock(context.Background(), name)
		if err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		var calls atomic.Int32
		r := start(t, db, jobs.Config{Lock: db.TryLock, Scheduled: []jobs.Scheduled{{Name: name, Every: time.Second,
			Run: func(ctx context.Context) error {
				if calls.Add(1) == 1 {
					return errors.New("connection refused")
				}
				return nil
			}}}})
		eventually(t, "a run skipped while the lock is held", func() bool {
			return metric(t, r, "steward_scheduled_runs_total", "job", name, "outcome", "elsewhere") >= 1
		})
		if calls.Load() != 0 {
			t.Fatalf("the run was made %d times while another held its lock", calls.Load())
		}
		release()
		eventually(t, "a failed run and then one that succeeded", func() bool {
			return metric(t, r, "steward_scheduled_runs_total", "job", name, "outcome", "failed") == 1 &&
				metric(t, r, "steward_scheduled_runs_total", "job", name, "outcome", "ok") >= 1
		})
		if metric(t, r, "steward_scheduled_last_run_seconds", "job", name) <= 0 {
			t.Error("the last run's duration is not kept")
		}
	})
}

// TestSharedWriter: on SQLite River works jobs on the store's one writer
// connection while the store writes on it too, from several goroutines, and
// each job is inserted in the transaction of the change it follows: every
// notice arrives and nothing logs an error (a second writer connection would
// make the two fight over SQLite's lock instead of queueing for it).
func TestSharedWriter(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e engine) {
		ctx := steward.WithActor(context.Background(), "token:alice")
		db, _ := e.open(t)
		errs := &errorLog{}
		start(t, db, jobs.Config{Logger: slog.New(errs)})
		sys := storetest.MustSystem(t, db, nil)
		const writers, changes = 4, 25
		people := make([]*steward.Person, writers*2)
		for i := range people {
			people[i] = storetest.MustPerson(t, db, nil)
		}
		var wg sync.WaitGroup
		for w := range writers {
			id := storetest.MustIdentity(t, db, sys.ID, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range changes {
					owner := people[2*w+c%2]
					if _, err := db.SetOwner(ctx, id.ID, steward.OwnerAssignment{OwnerID: &owner.ID}); err != nil {
						t.Error(err)
						return
					}
					// Another write, with no job.
					if err := db.CreateTeam(ctx, &steward.Team{Name: fmt.Sprintf("team-%d-%d", w, c)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		// Each writer's first change tells one person, every later one two.
		want := writers * (1 + 2*(changes-1))
		eventually(t, "every notice", func() bool {
			page, err := db.Notices(ctx, steward.NoticeFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Items) == want
		})
		if msgs := errs.errors(); len(msgs) > 0 {
			t.Fatalf("errors logged: %q", msgs)
		}
		if _, err := db.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// errorLog is a slog handler that keeps the messages of errors.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	h.msgs = append(h.msgs, msg)
	return nil
}
func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLog) WithGroup(string) slog.Handler      { return h }
func (h *errorLog) errors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}
