package http_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestBusyStoreAnswers503: while another process holds SQLite's write lock
// (a long steward import beside the server, here another store on the same
// file), an API write waits for its turn up to the store's bound and is
// then answered 503 with Retry-After and code unavailable, never 500, and
// changes nothing; once the lock is free the same write goes through.
func TestBusyStoreAnswers503(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "steward.db")
	open := func(o sqlstore.Options) *sqlstore.DB {
		db, err := sqlstore.Open(path, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	ts := startServerOn(t, open(sqlstore.Options{Clock: steward.SystemClock{}, WriteWait: 200 * time.Millisecond}))
	other := open(sqlstore.Options{}) // the other process

	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- other.Atomically(steward.WithActor(context.Background(), "test:import"), func(ctx context.Context) error {
			if err := other.CreateTeam(ctx, &steward.Team{Name: "imported", DisplayName: "Imported"}); err != nil {
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
	<-held
	r := ts.Post("/api/v1/teams", `{"name":"late","display_name":"Late"}`)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("a write while another process holds the write lock: status %d, want 503: %s", r.Status, r.Body)
	}
	if got := r.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	if code := r.Error(t).Code; code != steward.EUNAVAILABLE {
		t.Errorf("code %q, want %q", code, steward.EUNAVAILABLE)
	}
	if !strings.Contains(string(r.Body), "busy") || !strings.Contains(string(r.Body), "nothing was changed") {
		t.Errorf("the message does not say the store is busy and nothing changed: %s", r.Body)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.TeamByName(context.Background(), "late"); !steward.IsCode(err, steward.ENOTFOUND) {
		t.Errorf("the refused write left a team behind: %v", err)
	}
	if r := ts.Post("/api/v1/teams", `{"name":"late","display_name":"Late"}`); r.Status != http.StatusCreated {
		t.Errorf("the same write once the lock is free: status %d: %s", r.Status, r.Body)
	}
}
