package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// jitFixture is a system with identities and privileged roles to grant
// just in time.
type jitFixture struct {
	sys   *steward.System
	ids   []*steward.Identity
	roles []*steward.Entitlement
}

func newJITFixture(t *testing.T, s steward.Store, identities, roles int) *jitFixture {
	t.Helper()
	f := &jitFixture{sys: MustSystem(t, s, nil)}
	for i := range identities {
		f.ids = append(f.ids, MustIdentity(t, s, f.sys.ID, func(x *steward.Identity) { x.ExternalID = fmt.Sprintf("svc%d", i) }))
	}
	for i := range roles {
		f.roles = append(f.roles, MustEntitlement(t, s, f.sys.ID, func(e *steward.Entitlement) {
			e.Name, e.Privileged = fmt.Sprintf("role:admin%d", i), true
		}))
	}
	return f
}

// grant records one JIT grant of identity i and role r expiring after d.
func (f *jitFixture) grant(t *testing.T, s steward.Store, clock *Clock, i, r int, d time.Duration) *steward.JITGrant {
	t.Helper()
	g := &steward.JITGrant{IdentityID: f.ids[i].ID, EntitlementID: f.roles[r].ID, ExpiresAt: clock.Now().Add(d), GrantedBy: "person:ada", RequestID: ptr(int64(7))}
	if err := s.RecordJITGrant(ctx(), g); err != nil {
		t.Fatalf("RecordJITGrant: %v", err)
	}
	return g
}

// inventoryGrant returns the inventory's grant of identity and
// entitlement, nil if there is none.
func inventoryGrant(t *testing.T, s steward.Store, identity, entitlement int64) *steward.GrantView {
	t.Helper()
	page, err := s.Grants(ctx(), steward.GrantFilter{IdentityID: identity, EntitlementID: entitlement})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) == 0 {
		return nil
	}
	return &page.Items[0]
}

func mustJIT(t *testing.T, s steward.Store, id int64) *steward.JITGrant {
	t.Helper()
	g, err := s.JITGrant(ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func claim(t *testing.T, s steward.Store, now time.Time, limit int) *steward.RevocationClaim {
	t.Helper()
	c, err := s.ClaimRevocations(ctx(), now, limit, time.Minute)
	if err != nil {
		t.Fatalf("ClaimRevocations: %v", err)
	}
	return c
}

func testJITRecord(t *testing.T, s steward.Store, clock *Clock) {
	f := newJITFixture(t, s, 2, 2)
	before := eventCount(t, s)
	g := f.grant(t, s, clock, 0, 0, time.Hour)
	if g.ID == 0 || g.SystemID != f.sys.ID || g.Identity != "svc0" || g.Entitlement != "role:admin0" || g.Status != steward.JITActive || !g.GrantedAt.Equal(clock.Now()) {
		t.Fatalf("recorded %+v", g)
	}
	got := mustJIT(t, s, g.ID)
	if got.State(clock.Now()) != steward.JITActive || !got.ExpiresAt.Equal(g.ExpiresAt) || got.RequestID == nil || *got.RequestID != 7 || got.GrantedBy != "person:ada" {
		t.Errorf("read back %+v", got)
	}
	inv := inventoryGrant(t, s, g.IdentityID, g.EntitlementID)
	if inv == nil || inv.Type != steward.GrantJIT || inv.ExpiresAt == nil || !inv.ExpiresAt.Equal(g.ExpiresAt) {
		t.Errorf("inventory grant %+v", inv)
	}
	if n := countActions(t, s, before)[string(steward.ActionJITGranted)]; n != 1 {
		t.Errorf("%d jit_grant.granted events", n)
	}

	// Refusals, each changing nothing.
	other := MustSystem(t, s, nil)
	foreign := MustEntitlement(t, s, other.ID, nil)
	before = eventCount(t, s)
	for name, c := range map[string]struct {
		g    steward.JITGrant
		code string
	}{
		"open already":     {steward.JITGrant{IdentityID: f.ids[0].ID, EntitlementID: f.roles[0].ID, ExpiresAt: clock.Now().Add(time.Hour)}, steward.ECONFLICT},
		"no expiry":        {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[0].ID}, steward.EINVALID},
		"expires before":   {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[0].ID, ExpiresAt: clock.Now().Add(-time.Hour)}, steward.EINVALID},
		"too long":         {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[0].ID, ExpiresAt: clock.Now().Add(steward.MaxJITDuration + time.Hour)}, steward.EINVALID},
		"no identity":      {steward.JITGrant{IdentityID: 1 << 40, EntitlementID: f.roles[0].ID, ExpiresAt: clock.Now().Add(time.Hour)}, steward.ENOTFOUND},
		"other system":     {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: foreign.ID, ExpiresAt: clock.Now().Add(time.Hour)}, steward.EINVALID},
		"control in by":    {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[1].ID, ExpiresAt: clock.Now().Add(time.Hour), GrantedBy: "a\nb"}, steward.EINVALID},
		"request id <= 0":  {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[1].ID, ExpiresAt: clock.Now().Add(time.Hour), RequestID: ptr(int64(0))}, steward.EINVALID},
		"twice in a batch": {steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[1].ID, ExpiresAt: clock.Now().Add(time.Hour)}, steward.ECONFLICT},
	} {
		t.Run(name, func(t *testing.T) {
			g := c.g
			gs := []*steward.JITGrant{&g}
			if name == "twice in a batch" {
				g2 := c.g
				gs = append(gs, &g2)
			}
			wantCode(t, s.RecordJITGrant(ctx(), gs...), c.code)
		})
	}
	// A batch is recorded whole or not at all.
	ok := &steward.JITGrant{IdentityID: f.ids[1].ID, EntitlementID: f.roles[1].ID, ExpiresAt: clock.Now().Add(time.Hour)}
	dup := &steward.JITGrant{IdentityID: f.ids[0].ID, EntitlementID: f.roles[0].ID, ExpiresAt: clock.Now().Add(time.Hour)}
	wantCode(t, s.RecordJITGrant(ctx(), ok, dup), steward.ECONFLICT)
	if inventoryGrant(t, s, ok.IdentityID, ok.EntitlementID) != nil || eventCount(t, s) != before {
		t.Error("a refused batch left a grant or an event")
	}
	page, err := s.JITGrants(ctx(), steward.JITGrantFilter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("JITGrants = %+v, %v", page, err)
	}

	// A grant the identity held standing becomes jit: a sync may have seen
	// the membership a moment before it was recorded.
	MustGrant(t, s, f.ids[1].ID, f.roles[1].ID, nil)
	g2 := f.grant(t, s, clock, 1, 1, 2*time.Hour)
	if inv := inventoryGrant(t, s, g2.IdentityID, g2.EntitlementID); inv == nil || inv.Type != steward.GrantJIT || !inv.ExpiresAt.Equal(g2.ExpiresAt) {
		t.Errorf("standing grant made JIT: %+v", inv)
	}
	_, err = s.JITGrant(ctx(), 1<<40)
	wantCode(t, err, steward.ENOTFOUND)
}

func testJITExpiry(t *testing.T, s steward.Store, clock *Clock) {
	f := newJITFixture(t, s, 3, 1)
	t0 := clock.Now()
	g1 := f.grant(t, s, clock, 0, 0, time.Minute)
	g2 := f.grant(t, s, clock, 1, 0, 2*time.Minute)
	g3 := f.grant(t, s, clock, 2, 0, 3*time.Minute)

	if next, err := s.NextJITDue(ctx()); err != nil || next == nil || !next.Equal(g1.ExpiresAt) {
		t.Fatalf("NextJITDue = %v, %v; want %v", next, err, g1.ExpiresAt)
	}
	if c := claim(t, s, t0, 10); len(c.Grants) != 0 {
		t.Fatalf("claimed %d grants before any expired", len(c.Grants))
	}
	// Past the first two expiries: both are expired, pending revocation.
	clock.Advance(150 * time.Second)
	now := clock.Now()
	if st := mustJIT(t, s, g1.ID).State(now); st != steward.JITExpired {
		t.Errorf("state past expiry = %s", st)
	}
	stats, err := s.JITStats(ctx())
	if err != nil || stats.Active != 1 || stats.Expired != 2 || stats.Failing != 0 || stats.OldestOverdue == nil || !stats.OldestOverdue.Equal(g1.ExpiresAt) {
		t.Fatalf("stats %+v, %v", stats, err)
	}
	c := claim(t, s, now, 1)
	if len(c.Grants) != 1 || c.Grants[0].ID != g1.ID || c.Grants[0].Identity != "svc0" || c.Grants[0].Entitlement != "role:admin0" {
		t.Fatalf("first claim %+v: want the soonest due, g1", c.Grants)
	}
	c2 := claim(t, s, now, 10)
	if len(c2.Grants) != 1 || c2.Grants[0].ID != g2.ID {
		t.Fatalf("second claim %+v: want only g2 (g1 is leased)", c2.Grants)
	}

	// g1 revoked, g2 refused by the target.
	before := eventCount(t, s)
	revokedAt := now.Add(200 * time.Millisecond)
	n, err := s.FinishRevocations(ctx(), c.Lease, []steward.Revocation{{GrantID: g1.ID, At: revokedAt}})
	if err != nil || n != 1 {
		t.Fatalf("FinishRevocations = %d, %v", n, err)
	}
	retry := now.Add(steward.RevocationBackoff(1))
	if n, err := s.FinishRevocations(ctx(), c2.Lease, []steward.Revocation{{GrantID: g2.ID, At: now, Err: "postgres: unavailable", NextAttemptAt: retry}}); err != nil || n != 1 {
		t.Fatalf("FinishRevocations (failed) = %d, %v", n, err)
	}
	r1 := mustJIT(t, s, g1.ID)
	if lag, ok := r1.Lag(); r1.State(now) != steward.JITRevoked || !ok || lag != revokedAt.Sub(g1.ExpiresAt) || r1.Attempts != 1 {
		t.Errorf("revoked grant %+v", r1)
	}
	if inventoryGrant(t, s, g1.IdentityID, g1.EntitlementID) != nil {
		t.Error("the revoked grant is still in the inventory")
	}
	r2 := mustJIT(t, s, g2.ID)
	if r2.State(now) != steward.JITFailing || r2.RevokedAt != nil || r2.Attempts != 1 || r2.LastError != "postgres: unavailable" ||
		r2.NextAttemptAt == nil || !r2.NextAttemptAt.Equal(retry) {
		t.Errorf("failing grant %+v", r2)
	}
	if inventoryGrant(t, s, g2.IdentityID, g2.EntitlementID) == nil {
		t.Error("a grant whose revocation failed left the inventory: it is still held")
	}
	acts := countActions(t, s, before)
	if acts[string(steward.ActionJITRevoked)] != 1 || acts[string(steward.ActionJITRevocationFailed)] != 1 {
		t.Errorf("events %v", acts)
	}
	ev, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionJITRevoked})
	if err != nil || len(ev.Items) != 1 {
		t.Fatalf("revoked events %v, %v", ev, err)
	}
	p, err := ev.Items[0].Payload()
	if r, ok := p.(*steward.JITGrantRevoked); err != nil || !ok || r.LagMS != revokedAt.Sub(g1.ExpiresAt).Milliseconds() || ev.Items[0].ObjectID != fmt.Sprint(g1.ID) {
		t.Errorf("revoked event %+v %v", p, err)
	}
	stats, _ = s.JITStats(ctx())
	if stats.Failing != 1 || stats.Expired != 0 || stats.Active != 1 {
		t.Errorf("stats after %+v", stats)
	}
	// Finishing again, or under another lease, records nothing.
	if n, err := s.FinishRevocations(ctx(), c.Lease, []steward.Revocation{{GrantID: g1.ID, At: now}}); err != nil || n != 0 {
		t.Errorf("second finish = %d, %v", n, err)
	}
	if n, _ := s.FinishRevocations(ctx(), c.Lease^1, []steward.Revocation{{GrantID: g3.ID, At: now}}); n != 0 {
		t.Error("a revocation was recorded under a lease that did not claim it")
	}

	// The retry is due after its backoff, not before.
	if c := claim(t, s, now, 10); len(c.Grants) != 0 {
		t.Fatalf("claimed %d before the retry was due", len(c.Grants))
	}
	clock.Advance(steward.RevocationBackoff(1))
	c = claim(t, s, clock.Now(), 10)
	if len(c.Grants) != 1 || c.Grants[0].ID != g2.ID || c.Grants[0].Attempts != 1 {
		t.Fatalf("retry claim %+v", c.Grants)
	}
	// The engine that claimed it stops: when its lease ends, another
	// claims it, and the first one's outcome no longer counts.
	clock.Advance(time.Minute + time.Second)
	c3 := claim(t, s, clock.Now(), 10)
	if len(c3.Grants) != 2 {
		t.Fatalf("after the lease: claimed %d, want g2 again and g3", len(c3.Grants))
	}
	if n, _ := s.FinishRevocations(ctx(), c.Lease, []steward.Revocation{{GrantID: g2.ID, At: clock.Now()}}); n != 0 {
		t.Error("a lease that ended still recorded its revocation")
	}
	out := []steward.Revocation{}
	for _, g := range c3.Grants {
		out = append(out, steward.Revocation{GrantID: g.ID, At: clock.Now()})
	}
	if n, err := s.FinishRevocations(ctx(), c3.Lease, out); err != nil || n != 2 {
		t.Fatalf("finish = %d, %v", n, err)
	}
	if r := mustJIT(t, s, g2.ID); r.Status != steward.JITRevoked || r.Attempts != 2 || r.NextAttemptAt != nil {
		t.Errorf("g2 after its retry %+v", r)
	}
	if next, _ := s.NextJITDue(ctx()); next != nil {
		t.Errorf("something is still due: %v", next)
	}
	stats, _ = s.JITStats(ctx())
	if *stats != (steward.JITStats{}) {
		t.Errorf("stats when all are revoked %+v", stats)
	}
	for st, want := range map[steward.JITState]int{steward.JITRevoked: 3, steward.JITActive: 0, steward.JITFailing: 0} {
		page, err := s.JITGrants(ctx(), steward.JITGrantFilter{State: st})
		if err != nil || len(page.Items) != want {
			t.Errorf("JITGrants(%s) = %d, %v", st, len(page.Items), err)
		}
	}
	_, err = s.JITGrants(ctx(), steward.JITGrantFilter{State: "gone"})
	wantCode(t, err, steward.EINVALID)
	// Revoked, the access can be granted again.
	f.grant(t, s, clock, 0, 0, time.Hour)
}

// testJITClaimsOnce has several engines claim at once: each grant is
// claimed by exactly one of them.
func testJITClaimsOnce(t *testing.T, s steward.Store, clock *Clock) {
	const engines, n = 4, 120
	f := newJITFixture(t, s, n, 1)
	f.expiredGrants(t, s, clock, n)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range engines {
		wg.Go(func() {
			for {
				c, err := s.ClaimRevocations(ctx(), clock.Now(), 7, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(c.Grants) == 0 {
					return
				}
				out := make([]steward.Revocation, len(c.Grants))
				for i, g := range c.Grants {
					out[i] = steward.Revocation{GrantID: g.ID, At: clock.Now()}
				}
				if k, err := s.FinishRevocations(ctx(), c.Lease, out); err != nil || k != len(out) {
					t.Errorf("finish = %d of %d, %v", k, len(out), err)
				}
				mu.Lock()
				for _, g := range c.Grants {
					seen[g.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d grants claimed, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("grant %d claimed %d times", id, k)
		}
	}
	ev, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionJITRevoked, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil || len(ev.Items) != n {
		t.Errorf("%d revoked events, want %d (%v)", len(ev.Items), n, err)
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

// testJITPipelined has each of two engines hold two claims at once, as the
// expiry engine's pipeline does (it claims the next batch before the last
// is recorded), and record a batch's failures together: no grant is in two
// claims, each outcome is recorded once with its own retry time and error,
// and the audit chain holds.
func testJITPipelined(t *testing.T, s steward.Store, clock *Clock) {
	const n = 40
	f := newJITFixture(t, s, n, 1)
	f.expiredGrants(t, s, clock, n)
	now := clock.Now()
	// Two engines, two claims each, before any is recorded.
	var claims []*steward.RevocationClaim
	for range 4 {
		claims = append(claims, claim(t, s, now, 10))
	}
	seen := map[int64]bool{}
	for _, c := range claims {
		if len(c.Grants) != 10 {
			t.Fatalf("claimed %d, want 10", len(c.Grants))
		}
		for _, g := range c.Grants {
			if seen[g.ID] {
				t.Fatalf("grant %d in two claims", g.ID)
			}
			seen[g.ID] = true
		}
	}
	// Recorded out of claim order: the second claim first, its grants all
	// refused, each with its own error and retry time; then the first,
	// half revoked, half refused; an outcome under another claim's lease
	// is ignored.
	before := eventCount(t, s)
	fail := func(g steward.JITGrant, i int) steward.Revocation {
		return steward.Revocation{GrantID: g.ID, At: now, Err: fmt.Sprintf("unavailable: try %d", i), NextAttemptAt: now.Add(time.Duration(i+1) * time.Minute)}
	}
	var out []steward.Revocation
	for i, g := range claims[1].Grants {
		out = append(out, fail(g, i))
	}
	out = append(out, steward.Revocation{GrantID: claims[2].Grants[0].ID, At: now})
	if k, err := s.FinishRevocations(ctx(), claims[1].Lease, out); err != nil || k != 10 {
		t.Fatalf("finish of the second claim = %d, %v; want 10", k, err)
	}
	out = out[:0]
	for i, g := range claims[0].Grants {
		if i%2 == 0 {
			out = append(out, steward.Revocation{GrantID: g.ID, At: now})
		} else {
			out = append(out, fail(g, i))
		}
	}
	if k, err := s.FinishRevocations(ctx(), claims[0].Lease, out); err != nil || k != 10 {
		t.Fatalf("finish of the first claim = %d, %v; want 10", k, err)
	}
	for i, g := range claims[1].Grants {
		r := mustJIT(t, s, g.ID)
		want := fail(g, i)
		if r.Status != steward.JITFailing || r.Attempts != 1 || r.LastError != want.Err || r.NextAttemptAt == nil || !r.NextAttemptAt.Equal(want.NextAttemptAt) {
			t.Errorf("refused grant %d: %+v, want error %q retried at %v", g.ID, r, want.Err, want.NextAttemptAt)
		}
	}
	if r := mustJIT(t, s, claims[2].Grants[0].ID); r.Status != steward.JITActive {
		t.Errorf("a grant of another claim was recorded: %+v", r)
	}
	acts := countActions(t, s, before)
	if acts[string(steward.ActionJITRevoked)] != 5 || acts[string(steward.ActionJITRevocationFailed)] != 15 {
		t.Errorf("events %v, want 5 revoked and 15 failed", acts)
	}
	for _, c := range claims[2:] {
		out = out[:0]
		for _, g := range c.Grants {
			out = append(out, steward.Revocation{GrantID: g.ID, At: now})
		}
		if k, err := s.FinishRevocations(ctx(), c.Lease, out); err != nil || k != 10 {
			t.Fatalf("finish = %d, %v; want 10", k, err)
		}
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

func testJITWarnAndExtend(t *testing.T, s steward.Store, clock *Clock) {
	f := newJITFixture(t, s, 2, 1)
	g1 := f.grant(t, s, clock, 0, 0, 10*time.Minute)
	g2 := f.grant(t, s, clock, 1, 0, 30*time.Minute)
	now := clock.Now()
	warn := 15 * time.Minute
	if !g1.WarningDue(now, warn) || g2.WarningDue(now, warn) {
		t.Fatal("the domain's warning rule disagrees with this test")
	}
	n, err := s.WarnExpiring(ctx(), now, now.Add(warn), 10)
	if err != nil || n != 1 {
		t.Fatalf("WarnExpiring = %d, %v; want g1 only", n, err)
	}
	if n, _ := s.WarnExpiring(ctx(), now, now.Add(warn), 10); n != 0 {
		t.Errorf("warned again: %d", n)
	}
	if w := mustJIT(t, s, g1.ID).WarnedAt; w == nil || !w.Equal(now) {
		t.Errorf("warned at %v", w)
	}
	ev, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionJITExpiryWarned})
	if err != nil || len(ev.Items) != 1 || ev.Items[0].ObjectID != fmt.Sprint(g1.ID) {
		t.Fatalf("warning events %+v, %v", ev, err)
	}

	// Extended, the warning goes out again before the new expiry.
	later := g1.ExpiresAt.Add(time.Hour)
	x, err := s.ExtendJITGrant(ctx(), g1.ID, later)
	if err != nil || !x.ExpiresAt.Equal(later) || x.WarnedAt != nil {
		t.Fatalf("ExtendJITGrant = %+v, %v", x, err)
	}
	if inv := inventoryGrant(t, s, g1.IdentityID, g1.EntitlementID); inv == nil || !inv.ExpiresAt.Equal(later) {
		t.Errorf("inventory grant after extension %+v", inv)
	}
	if next, _ := s.NextJITDue(ctx()); next == nil || !next.Equal(g2.ExpiresAt) {
		t.Errorf("next due %v, want g2's expiry now that g1's moved", next)
	}
	_, err = s.ExtendJITGrant(ctx(), g1.ID, now.Add(-time.Minute))
	wantCode(t, err, steward.EINVALID)
	_, err = s.ExtendJITGrant(ctx(), 1<<40, later)
	wantCode(t, err, steward.ENOTFOUND)
	clock.Advance(31 * time.Minute) // g2 expired
	_, err = s.ExtendJITGrant(ctx(), g2.ID, clock.Now().Add(time.Hour))
	wantCode(t, err, steward.ECONFLICT)
	// An expired grant is not warned: it is revoked.
	if n, _ := s.WarnExpiring(ctx(), clock.Now(), clock.Now().Add(warn), 10); n != 0 {
		t.Errorf("warned %d expired grants", n)
	}
}

// testJITAndSync: a system reports a JIT grant's membership as any other;
// while the JIT grant is open the sync keeps it jit with its expiry, and
// after its revocation the sync reports what the system holds.
func testJITAndSync(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	snap := []steward.Record{ent("role:admin", true), ident("etl", nil), ident("app", nil), grant("app", "role:admin")}
	if _, err := s.SyncSystem(ctx(), sys.ID, records(snap...), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	etl, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: sys.ID, ExternalID: "etl"})
	if err != nil || len(etl.Items) != 1 {
		t.Fatal(err)
	}
	ents, err := s.Entitlements(ctx(), steward.EntitlementFilter{SystemID: sys.ID})
	if err != nil || len(ents.Items) != 1 {
		t.Fatal(err)
	}
	g := &steward.JITGrant{IdentityID: etl.Items[0].ID, EntitlementID: ents.Items[0].ID, ExpiresAt: clock.Now().Add(time.Hour)}
	if err := s.RecordJITGrant(ctx(), g); err != nil {
		t.Fatal(err)
	}
	// The system now lists the membership, as standing: twice, so that the
	// second sync would skip the record its digest knows.
	withJIT := append(snap, grant("etl", "role:admin"))
	for i := range 2 {
		clock.Advance(time.Minute)
		if _, err := s.SyncSystem(ctx(), sys.ID, records(withJIT...), steward.SyncOptions{Source: "test"}); err != nil {
			t.Fatal(err)
		}
		inv := inventoryGrant(t, s, g.IdentityID, g.EntitlementID)
		if inv == nil || inv.Type != steward.GrantJIT || inv.ExpiresAt == nil || !inv.ExpiresAt.Equal(g.ExpiresAt) {
			t.Fatalf("sync %d made the JIT grant %+v", i+1, inv)
		}
	}
	// At expiry it is revoked: it leaves the inventory.
	clock.Advance(time.Hour)
	c := claim(t, s, clock.Now(), 10)
	if len(c.Grants) != 1 {
		t.Fatalf("claimed %d", len(c.Grants))
	}
	if _, err := s.FinishRevocations(ctx(), c.Lease, []steward.Revocation{{GrantID: g.ID, At: clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	if inventoryGrant(t, s, g.IdentityID, g.EntitlementID) != nil {
		t.Fatal("the revoked grant stayed in the inventory")
	}
	// The system still lists it (the revocation did not take, or someone
	// granted it again): the inventory shows what the system holds.
	if _, err := s.SyncSystem(ctx(), sys.ID, records(withJIT...), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if inv := inventoryGrant(t, s, g.IdentityID, g.EntitlementID); inv == nil || inv.Type != steward.GrantStanding || inv.ExpiresAt != nil {
		t.Errorf("a membership the system holds after the revocation: %+v", inv)
	}
}

// expiredGrants records n grants of the fixture's first role, one for each
// of its first n identities, expiring a second apart, and moves the clock
// an hour past them all.
func (f *jitFixture) expiredGrants(t *testing.T, s steward.Store, clock *Clock, n int) []*steward.JITGrant {
	t.Helper()
	batch := make([]*steward.JITGrant, n)
	for i := range batch {
		batch[i] = &steward.JITGrant{IdentityID: f.ids[i].ID, EntitlementID: f.roles[0].ID, ExpiresAt: clock.Now().Add(time.Duration(i+1) * time.Second)}
	}
	if err := s.RecordJITGrant(ctx(), batch...); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	return batch
}
