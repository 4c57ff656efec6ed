package steward

import (
	"context"
	"time"
)

// UnitOfWork runs several writes as one transaction. Every store method that
// changes state is one unit of work by itself (the change and its audit
// events commit together); Atomically makes one of several, so that a
// workflow can write a change, its events and the jobs that follow from it
// all at once or not at all:
//
//	err := uow.Atomically(ctx, func(ctx context.Context) error {
//		if _, err := store.SetOwner(ctx, id, a); err != nil { // joins the transaction
//			return err
//		}
//		return queue.Enqueue(ctx, FollowUp{IdentityID: id}) // in the same transaction
//	})
//
// The transaction travels in the context that fn receives: every store
// method called with that context joins it, each inside a savepoint, so
// that a method that fails undoes only itself and fn may go on. A method
// called with another context runs on its own, and on SQLite, which has one
// writer, it waits until the unit ends: fn must pass on the context it was
// given, and use it from one goroutine.
type UnitOfWork interface {
	// Atomically runs fn in one transaction and commits it if fn returns nil
	// and ctx is not done; otherwise nothing fn wrote stays. It returns fn's
	// error, the context's, or the store's (EUNAVAILABLE, ECONFLICT).
	// Called inside another unit, it runs as a part of it that fails alone.
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// JobArgs are the arguments of a durable job: a plain struct, encoded as
// JSON, whose Kind names the worker that runs it. The method set is River's
// JobArgs, so that the jobs package can work them without a translation.
type JobArgs interface {
	// Kind names the job's worker: lower-case words joined by '_' or '.'.
	Kind() string
}

// ScheduledJobArgs are JobArgs that must not run before a given time: a
// grant's expiry, a review's deadline.
type ScheduledJobArgs interface {
	JobArgs
	// RunAt is the earliest time the job may run.
	RunAt() time.Time
}

// JobQueue takes durable jobs. A job enqueued inside Atomically is written in
// that transaction: it exists if and only if the unit commits, and it is
// worked after the commit, by any replica, even after a restart.
type JobQueue interface {
	// Enqueue adds jobs in ctx's unit of work, or in a transaction of its
	// own outside one. EINVALID for a job without a kind.
	Enqueue(ctx context.Context, jobs ...JobArgs) error
}
