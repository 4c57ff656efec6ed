package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// TestServeRevokesJITExpiredWhileStopped: JIT grants that expire while
// Steward is stopped are handled within seconds of 'steward serve'
// starting: the one of a system whose postgres connector is configured is
// revoked in the real PostgreSQL, the one of a system no connector can
// change is left failing (expired, unrevoked, retried), never revoked.
func TestServeRevokesJITExpiredWhileStopped(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPostgresRoles(t, "servejit", "etl LOGIN", "admin NOLOGIN")
	server, login, role := pg.DSN, pg.Name("etl"), pg.Name("admin")
	prefix := pg.Prefix
	pg.Exec(`GRANT ` + role + ` TO ` + login)
	member := func() bool { return pg.Member(login, role) }
	cfg, err := parseConfig("steward.yaml", fmt.Appendf(nil, `connectors:
  - name: pg-jit
    type: postgres
    postgres:
      dsn: %q
      include_roles: ["%s*"]
`, server, prefix))
	if err != nil {
		t.Fatal(err)
	}

	// Before the start: the grants are recorded, and expire.
	dsn := filepath.Join(t.TempDir(), "steward.db")
	ctx := steward.WithActor(context.Background(), "test:serve")
	db, err := sqlstore.Open(dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var grants []*steward.JITGrant
	for _, sys := range []struct{ name, identity, entitlement string }{{"pg-jit", login, "role:" + role}, {"elsewhere", "svc", "role:admin"}} {
		s := storetest.MustSystem(t, db, func(s *steward.System) { s.Name = sys.name })
		id := storetest.MustIdentity(t, db, s.ID, func(x *steward.Identity) { x.ExternalID = sys.identity })
		ent := storetest.MustEntitlement(t, db, s.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = sys.entitlement, true })
		grants = append(grants, &steward.JITGrant{IdentityID: id.ID, EntitlementID: ent.ID, ExpiresAt: time.Now().Add(300 * time.Millisecond)})
	}
	if err := db.RecordJITGrant(ctx, grants...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(grants[1].ExpiresAt.Add(200 * time.Millisecond)))
	if !member() {
		t.Fatal("the membership went before Steward started")
	}

	var logs syncBuffer
	e := &env{stdout: &logs, stderr: &logs, config: cfg, logger: slog.New(slog.NewTextHandler(&logs, nil))}
	cmd := newServeCmd(e)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"--db", dsn, "--addr", "127.0.0.1:0"})
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- cmd.ExecuteContext(sctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, &logs)
		}
	}()

	read := func(g *steward.JITGrant) *steward.JITGrant {
		got, err := db.JITGrant(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for time.Since(started) < time.Minute {
		if read(grants[0]).Status == steward.JITRevoked && read(grants[1]).Status == steward.JITFailing {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, &logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	took := time.Since(started)
	revoked, failing := read(grants[0]), read(grants[1])
	if revoked.Status != steward.JITRevoked || failing.Status != steward.JITFailing {
		t.Fatalf("after %s: %+v and %+v\n%s", took, revoked, failing, &logs)
	}
	if took > 10*time.Second {
		t.Errorf("the expired grants were handled %s after the start, want within seconds", took)
	}
	if member() {
		t.Errorf("%s is still a member of %s after its JIT grant was revoked", login, role)
	}
	if lag, ok := revoked.Lag(); !ok || lag <= 0 {
		t.Errorf("lag %v, %v", lag, ok)
	}
	if failing.RevokedAt != nil || failing.Attempts < 1 || failing.NextAttemptAt == nil || !strings.Contains(failing.LastError, "no postgres connector") {
		t.Errorf("the grant of a system no connector can change: %+v", failing)
	}
	t.Logf("handled %s after the start", took)
}
