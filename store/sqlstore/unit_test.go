package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// errBoom is the error a unit of work fails with in tests.
var errBoom = errors.New("boom")

// testJob is a job of the tests' own kind.
type testJob struct {
	N int `json:"n"`
}

func (testJob) Kind() string { return "test_job" }

// ownerFixture is an identity with an owner, and a second person to move
// it to.
type ownerFixture struct {
	identity    *steward.Identity
	owner, next *steward.Person
}

func newOwnerFixture(t *testing.T, db *sqlstore.DB) ownerFixture {
	t.Helper()
	sys := storetest.MustSystem(t, db, nil)
	f := ownerFixture{owner: storetest.MustPerson(t, db, nil), next: storetest.MustPerson(t, db, nil)}
	f.identity = storetest.MustIdentity(t, db, sys.ID, func(i *steward.Identity) { i.OwnerID = &f.owner.ID })
	return f
}

// state is what a change to the fixture leaves behind: the identity's
// owner, its owner-change events, the owner notices queued for it and the
// test jobs queued.
type state struct {
	owner       int64
	ownerEvents int
	notices     int
	testJobs    int
}

func (f ownerFixture) state(t *testing.T, db *sqlstore.DB) state {
	t.Helper()
	ctx := context.Background()
	v, err := db.Identity(ctx, f.identity.ID)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := db.Events(ctx, steward.EventFilter{Action: "identity.owner_changed", ObjectID: fmt.Sprint(f.identity.ID)})
	if err != nil {
		t.Fatal(err)
	}
	notices, err := sqlstore.QueuedJobs(ctx, db, steward.KindOwnerAssigned)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := sqlstore.QueuedJobs(ctx, db, testJob{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	s := state{ownerEvents: len(ev.Items), testJobs: len(jobs)}
	for _, n := range notices {
		var j steward.OwnerAssigned
		if err := json.Unmarshal([]byte(n), &j); err != nil {
			t.Fatal(err)
		}
		if j.IdentityID == f.identity.ID {
			s.notices++
		}
	}
	if v.OwnerID != nil {
		s.owner = *v.OwnerID
	}
	return s
}

// TestSetOwnerQueuesNotice: setting an owner queues, with the change and its
// event, the job that tells the new owner and the previous one, carrying
// their names; an assignment that changes no person queues none.
func TestSetOwnerQueuesNotice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "token:alice")
		f := newOwnerFixture(t, db)
		if _, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{OwnerID: &f.next.ID}); err != nil {
			t.Fatal(err)
		}
		jobs, err := sqlstore.QueuedJobs(ctx, db, steward.KindOwnerAssigned)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs %v, %v; want one", jobs, err)
		}
		var j steward.OwnerAssigned
		if err := json.Unmarshal([]byte(jobs[0]), &j); err != nil {
			t.Fatal(err)
		}
		if j.IdentityID != f.identity.ID || j.IdentityName != f.identity.Name || j.SystemName == "" ||
			*j.OwnerID != f.next.ID || j.OwnerName != f.next.Name ||
			*j.PreviousOwnerID != f.owner.ID || j.PreviousOwnerName != f.owner.Name || j.By != "token:alice" {
			t.Fatalf("job %+v", j)
		}
		// The same owner again, and a team change alone, tell nobody.
		team := storetest.MustTeam(t, db, nil)
		for _, a := range []steward.OwnerAssignment{{OwnerID: &f.next.ID}, {OwnerID: &f.next.ID, TeamID: &team.ID}} {
			if _, err := db.SetOwner(ctx, f.identity.ID, a); err != nil {
				t.Fatal(err)
			}
		}
		// Handing it back to the rules tells the owner it had.
		if _, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{}); err != nil {
			t.Fatal(err)
		}
		if s := f.state(t, db); s.notices != 2 || s.ownerEvents != 4 {
			t.Fatalf("after four assignments, two of which changed the owner: %+v", s)
		}
	})
}

// TestUnitOfWork: a change, its audit event and its job are committed
// together or not at all, whether the unit ends with an error or its
// context is cancelled after the job was enqueued.
func TestUnitOfWork(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		// The cases run one after the other: each compares what the
		// database holds before and after it.
		ctx := steward.WithActor(context.Background(), "test")
		t.Run("an error after the job was enqueued", func(t *testing.T) {
			f := newOwnerFixture(t, db)
			before := f.state(t, db)
			err := db.Atomically(ctx, func(ctx context.Context) error {
				v, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{OwnerID: &f.next.ID})
				if err != nil {
					return err
				}
				if *v.OwnerID != f.next.ID {
					t.Errorf("SetOwner inside the unit returned owner %d, want %d: reads inside a unit see its writes", *v.OwnerID, f.next.ID)
				}
				// Inside the unit all three exist, on its connection.
				if err := db.Enqueue(ctx, testJob{N: 1}); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Atomically = %v, want fn's error", err)
			}
			if after := f.state(t, db); after != before {
				t.Fatalf("after a unit that failed: %+v, want it as before: %+v", after, before)
			}
		})
		t.Run("a context cancelled after the job was enqueued", func(t *testing.T) {
			f := newOwnerFixture(t, db)
			before := f.state(t, db)
			cctx, cancel := context.WithCancel(ctx)
			err := db.Atomically(cctx, func(ctx context.Context) error {
				if _, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{OwnerID: &f.next.ID}); err != nil {
					return err
				}
				cancel()
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Atomically = %v, want context.Canceled", err)
			}
			if after := f.state(t, db); after != before {
				t.Fatalf("after a cancelled unit: %+v, want it as before: %+v", after, before)
			}
		})
		t.Run("committed", func(t *testing.T) {
			f := newOwnerFixture(t, db)
			before := f.state(t, db)
			err := db.Atomically(ctx, func(ctx context.Context) error {
				if _, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{OwnerID: &f.next.ID}); err != nil {
					return err
				}
				return db.Enqueue(ctx, testJob{N: 2})
			})
			if err != nil {
				t.Fatal(err)
			}
			want := state{owner: f.next.ID, ownerEvents: before.ownerEvents + 1, notices: before.notices + 1, testJobs: before.testJobs + 1}
			if after := f.state(t, db); after != want {
				t.Fatalf("after a unit that committed: %+v, want %+v", after, want)
			}
			if _, err := db.VerifyAudit(ctx); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a part that fails undoes only itself", func(t *testing.T) {
			f := newOwnerFixture(t, db)
			before := f.state(t, db)
			err := db.Atomically(ctx, func(ctx context.Context) error {
				if _, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{OwnerID: &f.next.ID}); err != nil {
					return err
				}
				// A second change that fails half-way (its team does not
				// exist, after its identity was read) is undone alone, and
				// so is an inner unit that fails after its job.
				missing := int64(1 << 40)
				if _, err := db.SetOwner(ctx, f.identity.ID, steward.OwnerAssignment{OwnerID: &f.owner.ID, TeamID: &missing}); steward.ErrorCode(err) != steward.ENOTFOUND {
					return fmt.Errorf("SetOwner with a missing team: %w", err)
				}
				if err := db.Atomically(ctx, func(ctx context.Context) error {
					if err := db.Enqueue(ctx, testJob{N: 3}); err != nil {
						return err
					}
					return errBoom
				}); !errors.Is(err, errBoom) {
					return fmt.Errorf("inner unit: %w", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			after := f.state(t, db)
			if after.owner != f.next.ID || after.ownerEvents != before.ownerEvents+1 || after.testJobs != before.testJobs {
				t.Fatalf("after a unit with a failed part: %+v (before %+v); want the first change alone", after, before)
			}
		})
	})
}

// TestUnitOfWorkBulk: the store methods that move many rows (a sync, with
// COPY on PostgreSQL and its first load on SQLite) join a unit too.
func TestUnitOfWorkBulk(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sys := storetest.MustSystem(t, db, nil)
		src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
			return func(yield func(steward.Record, error) bool) {
				for i := range 300 {
					id := &steward.SourceIdentity{ExternalID: fmt.Sprintf("svc-%d", i), Kind: steward.KindServiceAccount}
					if !yield(steward.Record{Identity: id, Pos: fmt.Sprint(i)}, nil) {
						return
					}
				}
			}
		})
		count := func() int {
			page, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Items)
		}
		events, err := db.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Atomically(ctx, func(ctx context.Context) error {
			if _, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"}); err != nil {
				return err
			}
			if n := count(); n != 0 {
				t.Errorf("a read outside the unit sees %d identities before it commits", n)
			}
			if err := db.Enqueue(ctx, testJob{N: 4}); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Atomically = %v", err)
		}
		jobs, err := sqlstore.QueuedJobs(ctx, db, testJob{}.Kind())
		if n, err2 := db.VerifyAudit(ctx); count() != 0 || len(jobs) != 0 || err != nil || err2 != nil || n != events {
			t.Fatalf("after a failed unit with a sync: %d identities, jobs %v, %d events (was %d); %v %v", count(), jobs, n, events, err, err2)
		}
		// The same sync, committed with its job.
		err = db.Atomically(ctx, func(ctx context.Context) error {
			if _, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"}); err != nil {
				return err
			}
			return db.Enqueue(ctx, testJob{N: 5})
		})
		jobs, _ = sqlstore.QueuedJobs(ctx, db, testJob{}.Kind())
		if err != nil || count() != 300 || len(jobs) != 1 {
			t.Fatalf("a committed unit with a sync: %v, %d identities, jobs %v", err, count(), jobs)
		}
	})
}

// scheduled is a job that must wait.
type scheduled struct {
	At time.Time `json:"at"`
}

func (scheduled) Kind() string       { return "test_scheduled" }
func (s scheduled) RunAt() time.Time { return s.At }

// TestEnqueueScheduled: a job with a RunAt is queued for that time.
func TestEnqueueScheduled(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Millisecond)
		if err := db.Enqueue(ctx, scheduled{At: at}); err != nil {
			t.Fatal(err)
		}
		got, err := sqlstore.JobSchedule(ctx, db, scheduled{}.Kind())
		if err != nil || len(got) != 1 || !got[0].Equal(at) {
			t.Fatalf("scheduled at %v, %v; want %v", got, err, at)
		}
		if err := db.Enqueue(ctx, testJob{}, nil); steward.ErrorCode(err) != steward.EINVALID {
			t.Fatalf("a nil job: %v, want EINVALID", err)
		}
	})
}
