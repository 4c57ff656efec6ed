package connectortest

import (
	"context"
	"testing"

	"github.com/stewardhq/steward"
)

// TargetFixture is what a connector's test set up in a real system for
// CheckTarget: a target and the source that reads the same system back, an
// identity and an entitlement that CheckTarget may grant and revoke, and
// optionally an identity it may disable and delete.
type TargetFixture struct {
	Source steward.Source
	Target steward.Target
	// Environment is the default environment records normalise with.
	// Default: prod.
	Environment steward.Environment
	// Identity is the external id of an identity the source lists.
	Identity string
	// Entitlement is the name of an entitlement the source lists, that the
	// target can grant and that Identity does not hold yet.
	Entitlement string
	// Disposable is an identity CheckTarget disables and then deletes.
	// Default: none, and those steps are skipped.
	Disposable string
	// MissingIdentity and MissingEntitlement name things the system does
	// not have. Default: "steward-connectortest-missing" and the
	// entitlement name with that suffix.
	MissingIdentity, MissingEntitlement string
}

// CheckTarget checks what every target promises, reading the effects back
// through the source: a grant shows up as a grant of the source, granting
// twice is not an error and leaves one grant, a revoke removes it and
// revoking twice is not an error; each method answers ENOTFOUND for an
// identity the system does not have (RotateCredential, Disable and Delete
// may answer ENOTIMPL instead if the system cannot do them at all) and Grant
// and Revoke answer ENOTFOUND for a missing entitlement; with a Disposable
// identity, Disable leaves it disabled or gone, and Delete removes it from
// the source and answers ENOTFOUND the second time. Every error must be a
// steward.Error, never an internal one.
func CheckTarget(t *testing.T, f TargetFixture) {
	t.Helper()
	c := &targetCheck{f: f.withDefaults(), ctx: context.Background()}
	t.Run("fixture", c.fixture)
	if t.Failed() {
		return
	}
	t.Run("grant", c.grant)
	t.Run("revoke", c.revoke)
	t.Run("not found", c.notFound)
	if f.Disposable == "" {
		return
	}
	t.Run("disable", c.disable)
	t.Run("delete", c.delete)
}

// withDefaults fills in the fixture's defaults.
func (f TargetFixture) withDefaults() TargetFixture {
	if f.Environment == "" {
		f.Environment = steward.EnvProd
	}
	if f.MissingIdentity == "" {
		f.MissingIdentity = "steward-connectortest-missing"
	}
	if f.MissingEntitlement == "" {
		f.MissingEntitlement = f.Entitlement + "-steward-connectortest-missing"
	}
	return f
}

// targetCheck is one CheckTarget run: each of its steps is a subtest.
type targetCheck struct {
	f   TargetFixture
	ctx context.Context
}

// grants counts how many times the source lists the fixture's grant.
func (c *targetCheck) grants(t *testing.T) int {
	t.Helper()
	n := 0
	for _, r := range readAll(t, c.f.Source, c.ctx, c.f.Environment) {
		if g := r.Grant; g != nil && g.Identity == c.f.Identity && g.Entitlement == c.f.Entitlement {
			n++
		}
	}
	return n
}

// fixture checks that the source lists the identity and the entitlement,
// and not the grant yet.
func (c *targetCheck) fixture(t *testing.T) {
	f := c.f
	s := snapshotOf(t, f.Source, f.Environment)
	if s.identities[f.Identity] == nil {
		t.Fatalf("the source does not list identity %q", f.Identity)
	}
	if !s.entitlements[f.Entitlement] {
		t.Fatalf("the source does not list entitlement %q", f.Entitlement)
	}
	if s.grants[[2]string{f.Identity, f.Entitlement}] {
		t.Fatalf("identity %q holds %q already; the fixture must start without the grant", f.Identity, f.Entitlement)
	}
}

// grant grants twice: the second grant must be a no-op.
func (c *targetCheck) grant(t *testing.T) {
	for i := range 2 {
		if err := c.f.Target.Grant(c.ctx, c.f.Identity, c.f.Entitlement); err != nil {
			t.Fatalf("grant %d: %v", i+1, err)
		}
		if n := c.grants(t); n != 1 {
			t.Fatalf("after grant %d the source lists the grant %d times, want once", i+1, n)
		}
	}
	CheckSource(t, c.f.Source, c.f.Environment)
}

// revoke revokes twice: revoking what is not held is not an error.
func (c *targetCheck) revoke(t *testing.T) {
	for i := range 2 {
		if err := c.f.Target.Revoke(c.ctx, c.f.Identity, c.f.Entitlement); err != nil {
			t.Fatalf("revoke %d: %v", i+1, err)
		}
		if n := c.grants(t); n != 0 {
			t.Fatalf("after revoke %d the source lists the grant %d times, want none", i+1, n)
		}
	}
}

// notFound calls every method with a missing identity or entitlement:
// each answers ENOTFOUND (or ENOTIMPL where allowed) and leaves no grant.
func (c *targetCheck) notFound(t *testing.T) {
	ctx, f := c.ctx, c.f
	cases := []struct {
		name    string
		call    func() error
		notImpl bool // ENOTIMPL is allowed too
	}{
		{"grant to missing identity", func() error { return f.Target.Grant(ctx, f.MissingIdentity, f.Entitlement) }, false},
		{"revoke from missing identity", func() error { return f.Target.Revoke(ctx, f.MissingIdentity, f.Entitlement) }, false},
		{"grant missing entitlement", func() error { return f.Target.Grant(ctx, f.Identity, f.MissingEntitlement) }, false},
		{"revoke missing entitlement", func() error { return f.Target.Revoke(ctx, f.Identity, f.MissingEntitlement) }, false},
		{"rotate missing identity", func() error { _, err := f.Target.RotateCredential(ctx, f.MissingIdentity); return err }, true},
		{"disable missing identity", func() error { return f.Target.Disable(ctx, f.MissingIdentity) }, true},
		{"delete missing identity", func() error { return f.Target.Delete(ctx, f.MissingIdentity) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			code := steward.ErrorCode(err)
			if code != steward.ENOTFOUND && !(tc.notImpl && code == steward.ENOTIMPL) {
				t.Errorf("got %v (code %q), want %s", err, code, steward.ENOTFOUND)
			}
		})
	}
	if n := c.grants(t); n != 0 {
		t.Errorf("failed calls left the grant behind (%d)", n)
	}
}

// disable disables the disposable identity twice; the source then reports
// it disabled, or not at all.
func (c *targetCheck) disable(t *testing.T) {
	f := c.f
	err := f.Target.Disable(c.ctx, f.Disposable)
	if steward.ErrorCode(err) == steward.ENOTIMPL {
		t.Skipf("the target cannot disable: %v", err)
	} else if err != nil {
		t.Fatalf("disable: %v", err)
	}
	if err := f.Target.Disable(c.ctx, f.Disposable); err != nil {
		t.Errorf("disabling twice: %v", err)
	}
	if id := snapshotOf(t, f.Source, f.Environment).identities[f.Disposable]; id != nil && id.Status != steward.IdentityDisabled {
		t.Errorf("after disable the source reports %q as %s", f.Disposable, id.Status)
	}
}

// delete deletes the disposable identity: the source no longer lists it,
// and deleting again answers ENOTFOUND.
func (c *targetCheck) delete(t *testing.T) {
	f := c.f
	err := f.Target.Delete(c.ctx, f.Disposable)
	if steward.ErrorCode(err) == steward.ENOTIMPL {
		t.Skipf("the target cannot delete: %v", err)
	} else if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if snapshotOf(t, f.Source, f.Environment).identities[f.Disposable] != nil {
		t.Errorf("after delete the source still lists %q", f.Disposable)
	}
	if err := f.Target.Delete(c.ctx, f.Disposable); steward.ErrorCode(err) != steward.ENOTFOUND {
		t.Errorf("deleting twice: got %v, want %s", err, steward.ENOTFOUND)
	}
}

// snapshot is one read of a source, indexed.
type snapshot struct {
	identities   map[string]*steward.SourceIdentity
	entitlements map[string]bool
	grants       map[[2]string]bool
}

func snapshotOf(t *testing.T, src steward.Source, env steward.Environment) snapshot {
	t.Helper()
	s := snapshot{identities: map[string]*steward.SourceIdentity{}, entitlements: map[string]bool{}, grants: map[[2]string]bool{}}
	for _, r := range readAll(t, src, context.Background(), env) {
		switch {
		case r.Identity != nil:
			s.identities[r.Identity.ExternalID] = r.Identity
		case r.Entitlement != nil:
			s.entitlements[r.Entitlement.Name] = true
		case r.Grant != nil:
			s.grants[[2]string{r.Grant.Identity, r.Grant.Entitlement}] = true
		}
	}
	return s
}
