package sqlstore_test

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

func busyCtx() context.Context { return steward.WithActor(context.Background(), "test:busy") }

// TestWriteWaitBounded: a write that cannot get its turn within the
// store's bound (Options.WriteWait) fails with EUNAVAILABLE and changes
// nothing, on both engines, instead of waiting without end or failing with
// the engine's own error (which the API answered 500). Here a unit of work
// holds the turn: on SQLite the one writer, on PostgreSQL the audit chain's
// head row, which every write with an event takes.
func TestWriteWaitBounded(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		sqlstore.SetWriteWait(db, 200*time.Millisecond)
		held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- db.Atomically(busyCtx(), func(ctx context.Context) error {
				if err := db.CreateTeam(ctx, &steward.Team{Name: "holder", DisplayName: "Holder"}); err != nil {
					return err
				}
				close(held)
				select { // a write that waits without end must not hang the test
				case <-release:
				case <-time.After(30 * time.Second):
				}
				return nil
			})
		}()
		select {
		case <-held:
		case err := <-done:
			t.Fatalf("the unit that holds the turn: %v", err)
		}
		err := db.CreateTeam(busyCtx(), &steward.Team{Name: "waiter", DisplayName: "Waiter"})
		close(release)
		if !steward.IsCode(err, steward.EUNAVAILABLE) {
			t.Errorf("a write that did not get its turn: %v, want code %s", err, steward.EUNAVAILABLE)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := db.TeamByName(busyCtx(), "waiter"); !steward.IsCode(err, steward.ENOTFOUND) {
			t.Errorf("the refused write left its team: %v", err)
		}
		if err := db.CreateTeam(busyCtx(), &steward.Team{Name: "waiter", DisplayName: "Waiter"}); err != nil {
			t.Errorf("the same write once the turn is free: %v", err)
		}
	})
}

// sourceOf is a source that yields recs and calls during (if not nil)
// after the first record, on every read of it.
func sourceOf(during func(read int), recs ...steward.Record) steward.Source {
	reads := 0
	return steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			reads++
			for i, r := range recs {
				if !yield(r, nil) {
					return
				}
				if i == 0 && during != nil {
					during(reads)
				}
			}
		}
	})
}

func identityRec(ext, name string) steward.Record {
	return steward.Record{Pos: "t:" + ext, Identity: &steward.SourceIdentity{ExternalID: ext, Name: name, Kind: steward.KindServiceAccount}}
}

// TestImportBesideAnotherProcess: steward import holds SQLite's write lock
// only while it applies what it staged. A write by another process on the
// same file (here another store on it, with its own connections, as a
// running server has) while the import reads its source goes through at
// once; it used to wait for the whole import and fail with SQLITE_BUSY.
func TestImportBesideAnotherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "steward.db")
	open := func(wait time.Duration) *sqlstore.DB {
		db, err := sqlstore.Open(path, sqlstore.Options{WriteWait: wait})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(busyCtx()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	imp := open(0)
	server := open(2 * time.Second)
	sys := storetest.MustSystem(t, imp, nil)
	if _, err := imp.SyncSystem(busyCtx(), sys.ID, sourceOf(nil, identityRec("a", "a"), identityRec("b", "b")), steward.SyncOptions{Source: "t"}); err != nil {
		t.Fatal(err)
	}
	var wrote error
	src := sourceOf(func(int) {
		wrote = server.CreateTeam(busyCtx(), &steward.Team{Name: "meanwhile", DisplayName: "Meanwhile"})
	}, identityRec("a", "renamed"), identityRec("c", "c"))
	res, err := imp.SyncSystem(busyCtx(), sys.ID, src, steward.SyncOptions{Source: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if wrote != nil {
		t.Fatalf("another process's write while the import read its file: %v", wrote)
	}
	if res.IdentitiesCreated != 1 || res.IdentitiesUpdated != 1 || res.IdentitiesRemoved != 1 {
		t.Errorf("import result %+v, want one identity created, updated and removed", *res)
	}
	if _, err := imp.TeamByName(busyCtx(), "meanwhile"); err != nil {
		t.Errorf("the other process's write: %v", err)
	}
}

// TestSyncStartsOverAfterAnotherSync: on SQLite a sync stages its records
// before it takes the write lock, skipping those its system's digest
// vouches for. When another sync of the same system commits in between,
// those may have changed: the sync starts over, and the inventory ends as
// its own records say, which a sync comparing every record confirms.
func TestSyncStartsOverAfterAnotherSync(t *testing.T) {
	t.Parallel()
	db := MustOpenSQLite(t, storetest.NewClock(storetest.Epoch))
	sys := storetest.MustSystem(t, db, nil)
	if _, err := db.SyncSystem(busyCtx(), sys.ID, sourceOf(nil, identityRec("a", "a"), identityRec("b", "b")), steward.SyncOptions{Source: "t"}); err != nil {
		t.Fatal(err)
	}
	reads := 0
	outer := []steward.Record{identityRec("a", "outer"), identityRec("b", "b")}
	src := sourceOf(func(read int) {
		reads = read
		if read > 1 {
			return
		}
		// Bounded: a sync that held the lock while it read would keep
		// this one waiting.
		ctx, cancel := context.WithTimeout(busyCtx(), 30*time.Second)
		defer cancel()
		if _, err := db.SyncSystem(ctx, sys.ID, sourceOf(nil, identityRec("a", "inner"), identityRec("b", "b changed"), identityRec("d", "d")), steward.SyncOptions{Source: "t"}); err != nil {
			t.Errorf("a sync of the same system while another stages: %v", err)
		}
	}, outer...)
	if _, err := db.SyncSystem(busyCtx(), sys.ID, src, steward.SyncOptions{Source: "t"}); err != nil {
		t.Fatal(err)
	}
	if reads != 2 {
		t.Errorf("the source was read %d times, want 2: the sync did not start over", reads)
	}
	page, err := db.Identities(busyCtx(), steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, i := range page.Items {
		got[i.ExternalID] = i.Name + "/" + string(i.Status)
	}
	want := map[string]string{"a": "outer/active", "b": "b/active", "d": "d/removed"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("identity %s is %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	res, err := db.SyncSystem(busyCtx(), sys.ID, sourceOf(nil, outer...), steward.SyncOptions{Source: "t", Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 0 {
		t.Errorf("comparing every record found %d changes left: %+v", res.Events, *res)
	}
}

// TestWALShrinks: SQLite's write-ahead log grows by what a large write
// writes, and SQLite never makes the file smaller by itself. The store's
// checkpointer cuts it back under its limit after a large write, while the
// store stays open, here after a write that does not pass through the
// store's own methods (as River's do not), which the checkpointer's tick
// covers.
func TestWALShrinks(t *testing.T) {
	t.Parallel()
	db := MustOpenSQLite(t, steward.SystemClock{})
	const limit = 1 << 20
	sqlstore.SetWALLimit(db, limit)
	raw := sqlstore.RawSQL(db)
	if _, err := raw.Exec(`CREATE TABLE bulk (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
		INSERT INTO bulk SELECT randomblob(2000) FROM n`); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(sqlstore.WALFile(db))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if s := size(); s <= limit {
		t.Fatalf("the write left a log of %d bytes, not over the limit of %d: the test proves nothing", s, limit)
	}
	// The checkpointer ticks every second; a minute is far more than it
	// needs on any machine.
	for deadline := time.Now().Add(time.Minute); size() > limit; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log is still %d bytes a minute after the write, over the limit of %d", size(), limit)
		}
	}
	var n int
	if err := db.Ping(busyCtx()); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM bulk`).Scan(&n); err != nil || n != 4000 {
		t.Fatalf("after the log was cut back: %d rows, %v", n, err)
	}
}
