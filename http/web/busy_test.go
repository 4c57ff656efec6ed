package web

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestBusyPage: while another process holds SQLite's write lock (a long
// steward import beside the server; here another store on the same file),
// a form that writes waits up to the store's bound and then shows a page
// that says Steward is busy and nothing was changed, with status 503 and
// Retry-After, not the internal error page.
func TestBusyPage(t *testing.T) {
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
	db := open(sqlstore.Options{Clock: steward.FixedClock{T: now}, WriteWait: 200 * time.Millisecond})
	ctx := steward.WithActor(context.Background(), "system:test")
	sys := &steward.System{Name: "aws-prod", Kind: steward.SystemAWS}
	if err := db.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	ident := &steward.Identity{SystemID: sys.ID, ExternalID: "stray", Name: "stray-key", Kind: steward.KindAPIKey,
		Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive}
	if err := db.CreateIdentity(ctx, ident); err != nil {
		t.Fatal(err)
	}
	ada := &steward.Person{ExternalID: "ada", Name: "Ada Lovelace", Email: "ada@example.test", Status: steward.PersonActive}
	if err := db.CreatePerson(ctx, ada); err != nil {
		t.Fatal(err)
	}
	f := &fixture{Store: db, Handler: (&UI{Store: db, Clock: steward.FixedClock{T: now}}).Handler(), ownerID: ada.ID}
	f.Token = f.MustToken(t, "alice", steward.RoleAdmin)
	session := f.MustSignIn(t)

	other := open(sqlstore.Options{})
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- other.Atomically(ctx, func(ctx context.Context) error {
			close(held)
			select { // a write that waits without end must not hang the test
			case <-release:
			case <-time.After(30 * time.Second):
			}
			return nil
		})
	}()
	<-held
	target := "/identities/" + strconv.FormatInt(ident.ID, 10) + "/owner"
	res, body := f.Do(t, http.MethodPost, target, session, url.Values{"owner": {"ada"}})
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body:\n%s", res.StatusCode, body)
	}
	if got := res.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	for _, want := range []string{"<h1>Steward is busy</h1>", "nothing was changed", "Try again in a few seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q; body:\n%s", want, body)
		}
	}
	if got, err := db.Identity(ctx, ident.ID); err != nil || got.OwnerID != nil {
		t.Errorf("the refused form changed the owner: %+v, %v", got, err)
	}
}
