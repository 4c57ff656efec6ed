package sqlstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// jitState is what a JIT write leaves behind: the grant's stored status,
// whether the inventory holds its access, and how many jit_grant events
// name it.
type jitState struct {
	status    steward.JITState
	inventory bool
	events    int
}

func jitStateOf(t *testing.T, db *sqlstore.DB, g *steward.JITGrant) jitState {
	t.Helper()
	ctx := context.Background()
	var s jitState
	if got, err := db.JITGrant(ctx, g.ID); err == nil {
		s.status = got.Status
	} else if steward.ErrorCode(err) != steward.ENOTFOUND {
		t.Fatal(err)
	}
	inv, err := db.Grants(ctx, steward.GrantFilter{IdentityID: g.IdentityID, EntitlementID: g.EntitlementID})
	if err != nil {
		t.Fatal(err)
	}
	s.inventory = len(inv.Items) > 0
	if g.ID != 0 {
		ev, err := db.Events(ctx, steward.EventFilter{ObjectType: steward.ObjectJITGrant, ObjectID: strconv.FormatInt(g.ID, 10)})
		if err != nil {
			t.Fatal(err)
		}
		s.events = len(ev.Items)
	}
	return s
}

// TestJITWritesInUnitOfWork: every JIT state change joins the caller's unit
// of work with its audit event, so that a unit that fails leaves neither the
// change nor its event (a request's approval, its fulfilment and its JIT
// grant commit together, or none does).
func TestJITWritesInUnitOfWork(t *testing.T) {
	t.Parallel()
	eachClocked(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := steward.WithActor(context.Background(), "test:jit")
		sys := storetest.MustSystem(t, db, nil)
		id := storetest.MustIdentity(t, db, sys.ID, nil)
		role := storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Privileged = true })
		g := &steward.JITGrant{IdentityID: id.ID, EntitlementID: role.ID, ExpiresAt: clock.Now().Add(time.Hour)}

		// Recorded in a unit that fails: nothing stays.
		err := db.Atomically(ctx, func(ctx context.Context) error {
			if err := db.RecordJITGrant(ctx, g); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Atomically = %v", err)
		}
		if s := jitStateOf(t, db, g); s != (jitState{}) {
			t.Fatalf("a failed unit left %+v", s)
		}
		g.ID = 0
		if err := db.RecordJITGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		want := jitState{steward.JITActive, true, 1}
		if s := jitStateOf(t, db, g); s != want {
			t.Fatalf("recorded: %+v, want %+v", s, want)
		}

		// Extended in a unit that fails: the expiry and the events stay.
		err = db.Atomically(ctx, func(ctx context.Context) error {
			if _, err := db.ExtendJITGrant(ctx, g.ID, g.ExpiresAt.Add(time.Hour)); err != nil {
				return err
			}
			return errBoom
		})
		if got, _ := db.JITGrant(ctx, g.ID); !errors.Is(err, errBoom) || !got.ExpiresAt.Equal(g.ExpiresAt) {
			t.Fatalf("Atomically = %v; expiry %v, want %v", err, got.ExpiresAt, g.ExpiresAt)
		}
		if s := jitStateOf(t, db, g); s != want {
			t.Fatalf("a failed extension left %+v", s)
		}

		// Revoked in a unit that fails: still active, in the inventory, no
		// revoked event.
		clock.Advance(2 * time.Hour)
		c, err := db.ClaimRevocations(ctx, clock.Now(), 10, time.Minute)
		if err != nil || len(c.Grants) != 1 {
			t.Fatalf("claim %+v, %v", c, err)
		}
		revoked := []steward.Revocation{{GrantID: g.ID, At: clock.Now()}}
		err = db.Atomically(ctx, func(ctx context.Context) error {
			if n, err := db.FinishRevocations(ctx, c.Lease, revoked); err != nil || n != 1 {
				t.Errorf("FinishRevocations in the unit = %d, %v", n, err)
			}
			return errBoom
		})
		if s := jitStateOf(t, db, g); !errors.Is(err, errBoom) || s != want {
			t.Fatalf("a failed revocation unit left %+v (%v)", s, err)
		}
		// The same lease records it afterwards, once, with its event.
		if n, err := db.FinishRevocations(ctx, c.Lease, revoked); err != nil || n != 1 {
			t.Fatalf("FinishRevocations = %d, %v", n, err)
		}
		if s := jitStateOf(t, db, g); s != (jitState{steward.JITRevoked, false, 2}) {
			t.Fatalf("revoked: %+v", s)
		}
	})
}
