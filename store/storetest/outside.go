package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// The tests of this file follow an outside check of the inventory (issue
// 10): times a source does not give, disabled keys, links between
// identities, and rotations.

// credentialOf returns the credential ext of the identity ext of a system.
func credentialOf(t *testing.T, s steward.Store, systemID int64, identity, ext string) steward.Credential {
	t.Helper()
	creds, err := s.Credentials(ctx(), identityByExt(t, s, systemID, identity).ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if c.ExternalID == ext {
			return c
		}
	}
	t.Fatalf("identity %s has no credential %s: %+v", identity, ext, creds)
	return steward.Credential{}
}

// sameTime reports whether got is want, both possibly unknown.
func sameTime(got, want *time.Time) bool {
	if got == nil || want == nil {
		return got == want
	}
	return got.Equal(*want)
}

// testUnknownTimes: an identity or credential whose source gives no
// creation time has none (it used to get the time of the sync), through a
// first load, a staged sync, the API and a bulk load. A time the source
// gives later fills it in as an update, not a rotation; one it stops giving
// is kept.
func testUnknownTimes(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	born := clock.Now().Add(-800 * 24 * time.Hour)
	issued := clock.Now().Add(-300 * 24 * time.Hour)
	snap := func(extra ...steward.Record) steward.Source {
		return records(append([]steward.Record{
			ident("known", func(i *steward.SourceIdentity) {
				i.CreatedAt = &born
				i.Credentials = []steward.SourceCredential{{ExternalID: "key", Kind: steward.CredAccessKey, CreatedAt: &issued}}
			}),
			ident("unknown", func(i *steward.SourceIdentity) {
				i.Credentials = []steward.SourceCredential{{ExternalID: "pw", Kind: steward.CredPassword}}
			}),
		}, extra...)...)
	}
	check := func(step string, want map[string]*time.Time, wantCred map[[2]string]*time.Time) {
		t.Helper()
		for ext, w := range want {
			if got := identityByExt(t, s, sys.ID, ext).CreatedAt; !sameTime(got, w) {
				t.Errorf("%s: identity %s created %v, want %v", step, ext, got, w)
			}
		}
		for k, w := range wantCred {
			c := credentialOf(t, s, sys.ID, k[0], k[1])
			if !sameTime(c.CreatedAt, w) {
				t.Errorf("%s: credential %s/%s created %v, want %v", step, k[0], k[1], c.CreatedAt, w)
			}
			if _, known := c.Age(clock.Now()); known != (w != nil) {
				t.Errorf("%s: credential %s/%s age known %v, want %v", step, k[0], k[1], known, w != nil)
			}
		}
	}
	if _, err := s.SyncSystem(ctx(), sys.ID, snap(), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	check("first load", map[string]*time.Time{"known": &born, "unknown": nil},
		map[[2]string]*time.Time{{"known", "key"}: &issued, {"unknown", "pw"}: nil})

	clock.Advance(time.Hour)
	later := ident("later", func(i *steward.SourceIdentity) {
		i.Credentials = []steward.SourceCredential{{ExternalID: "tok", Kind: steward.CredToken}}
	})
	if _, err := s.SyncSystem(ctx(), sys.ID, snap(later), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	check("staged sync", map[string]*time.Time{"known": &born, "unknown": nil, "later": nil},
		map[[2]string]*time.Time{{"later", "tok"}: nil, {"unknown", "pw"}: nil})

	// The source starts giving the times: an update, not a rotation.
	before := eventCount(t, s)
	told := clock.Now().Add(-50 * 24 * time.Hour)
	given := snap(ident("later", func(i *steward.SourceIdentity) {
		i.CreatedAt = &told
		i.Credentials = []steward.SourceCredential{{ExternalID: "tok", Kind: steward.CredToken, CreatedAt: &told}}
	}))
	res, err := s.SyncSystem(ctx(), sys.ID, given, steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if acts := countActions(t, s, before); res.CredentialsRotated != 0 || acts["credential.updated"] != 1 || acts["identity.updated"] != 1 || acts["credential.rotated"] != 0 {
		t.Errorf("times given later: %+v, events %v; want one identity and one credential updated, nothing rotated", res, acts)
	}
	check("times given", map[string]*time.Time{"later": &told}, map[[2]string]*time.Time{{"later", "tok"}: &told})
	// And stops giving them: what it said is kept.
	if _, err := s.SyncSystem(ctx(), sys.ID, snap(later), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	check("times no longer given", map[string]*time.Time{"later": &told}, map[[2]string]*time.Time{{"later", "tok"}: &told})

	// Through the API and a bulk load, as through a sync.
	api := MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.CreatedAt = nil })
	if got, err := s.Identity(ctx(), api.ID); err != nil || got.CreatedAt != nil {
		t.Errorf("identity created without a time: created %v, %v; want unknown", got.CreatedAt, err)
	}
	c := &steward.Credential{IdentityID: api.ID, Kind: steward.CredToken}
	if err := s.CreateCredential(ctx(), c); err != nil {
		t.Fatal(err)
	} else if c.CreatedAt != nil || c.Status != steward.CredentialActive {
		t.Errorf("credential created without a time: %+v; want unknown, active", c)
	}
	base := next() * 1000
	b := bulkFixture(base, clock.Now())
	b.Identities[1].CreatedAt = nil
	b.Credentials[0].CreatedAt = nil
	if err := s.BulkLoad(ctx(), b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Identity(ctx(), base+2); err != nil || got.CreatedAt != nil || got.UpdatedAt.IsZero() {
		t.Errorf("bulk identity without a time: %+v, %v; want unknown creation, an update time", got, err)
	}
	if got, err := s.Credentials(ctx(), base+1); err != nil || len(got) != 1 || got[0].CreatedAt != nil {
		t.Errorf("bulk credential without a time: %+v, %v", got, err)
	}
}

// testDisabledCredentials: a disabled key is a credential with status
// disabled, from the first sync on; a key disabled or enabled between syncs
// is a change with its own event.
func testDisabledCredentials(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	snap := func(k1 steward.CredentialStatus) steward.Source {
		return records(ident("deployer", func(i *steward.SourceIdentity) {
			i.Credentials = []steward.SourceCredential{
				{ExternalID: "k1", Kind: steward.CredPrivateKey, Status: k1},
				{ExternalID: "k2", Kind: steward.CredPrivateKey, Status: steward.CredentialDisabled},
			}
		}))
	}
	status := func(ext string) steward.CredentialStatus {
		t.Helper()
		return credentialOf(t, s, sys.ID, "deployer", ext).Status
	}
	if _, err := s.SyncSystem(ctx(), sys.ID, snap(""), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if status("k1") != steward.CredentialActive || status("k2") != steward.CredentialDisabled {
		t.Fatalf("first sync: k1 %s, k2 %s; want active, disabled", status("k1"), status("k2"))
	}
	for _, step := range []struct {
		to     steward.CredentialStatus
		action string
	}{{steward.CredentialDisabled, "credential.disabled"}, {steward.CredentialActive, "credential.enabled"}, {"", ""}} {
		before := eventCount(t, s)
		res, err := s.SyncSystem(ctx(), sys.ID, snap(step.to), steward.SyncOptions{Source: "test"})
		if err != nil {
			t.Fatal(err)
		}
		acts := countActions(t, s, before)
		want := steward.CredentialActive
		if step.to != "" {
			want = step.to
		}
		switch {
		case status("k1") != want:
			t.Errorf("k1 made %q: status %s", step.to, status("k1"))
		case step.action == "" && (res.Events != 0 || len(acts) != 0):
			t.Errorf("no change (empty status means active): %+v, events %v", res, acts)
		case step.action != "" && (acts[step.action] != 1 || res.CredentialsChanged != 1):
			t.Errorf("k1 made %s: %+v, events %v; want one %s", step.to, res, acts, step.action)
		}
	}
	i := identityByExt(t, s, sys.ID, "deployer")
	c := &steward.Credential{IdentityID: i.ID, ExternalID: "by-hand", Kind: steward.CredToken, Status: steward.CredentialDisabled}
	if err := s.CreateCredential(ctx(), c); err != nil || status("by-hand") != steward.CredentialDisabled {
		t.Errorf("a disabled credential through the API: %v, status %s", err, status("by-hand"))
	}
	wantCode(t, s.CreateCredential(ctx(), &steward.Credential{IdentityID: i.ID, Kind: steward.CredToken, Status: "revoked"}), steward.EINVALID)
}

// testLinks: a link a source reports waits for its target until another
// system's sync brings an identity with that external id, by a first load
// or a staged sync; it is then visible from both ends. Syncs of its own
// system keep it, and drop it when the source does.
func testLinks(t *testing.T, s steward.Store, _ *Clock) {
	k8s := MustSystem(t, s, func(x *steward.System) { x.Kind = steward.SystemKubernetes })
	aws := MustSystem(t, s, func(x *steward.System) { x.Kind = steward.SystemAWS })
	const app, late, gone = "arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:role/late", "arn:aws:iam::123456789012:role/gone"
	sa := func(targets ...string) steward.Record {
		return ident("system:serviceaccount:payments:api", func(i *steward.SourceIdentity) {
			for _, to := range targets {
				i.Links = append(i.Links, steward.SourceLink{Kind: steward.LinkAssumes, To: to})
			}
		})
	}
	linksOf := func(id int64) []steward.IdentityLinkView {
		t.Helper()
		links, err := s.IdentityLinks(ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		return links
	}
	target := func(links []steward.IdentityLinkView, ref string) *steward.IdentityLinkView {
		for i := range links {
			if links[i].ToRef == ref {
				return &links[i]
			}
		}
		return nil
	}
	// The service account first: its link waits.
	if _, err := s.SyncSystem(ctx(), k8s.ID, records(sa(app)), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	api := identityByExt(t, s, k8s.ID, "system:serviceaccount:payments:api")
	if l := target(linksOf(api.ID), app); l == nil || l.ToID != nil || l.Kind != steward.LinkAssumes || l.FromName != api.Name {
		t.Fatalf("links of the service account before the role is known: %+v", linksOf(api.ID))
	}
	// The AWS account's first load brings the role: the link resolves, with
	// its event.
	before := eventCount(t, s)
	res, err := s.SyncSystem(ctx(), aws.ID, records(ident(app, nil), ident("arn:aws:iam::123456789012:user/ci", nil)), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	role := identityByExt(t, s, aws.ID, app)
	l := target(linksOf(api.ID), app)
	if l == nil || l.ToID == nil || *l.ToID != role.ID || l.ToSystem != aws.Name || l.ToName != role.Name {
		t.Fatalf("after the role's system was loaded: %+v", linksOf(api.ID))
	}
	if acts := countActions(t, s, before); acts["identity.link_resolved"] != 1 || res.LinksChanged != 1 {
		t.Errorf("resolving: %+v, events %v; want one identity.link_resolved", res, acts)
	}
	if back := linksOf(role.ID); len(back) != 1 || back[0].FromID != api.ID || back[0].FromSystem != k8s.Name {
		t.Errorf("links seen from the role: %+v", back)
	}
	// A staged sync adds links: one to a role that is known (resolved at
	// once), one to a role that is not yet.
	before = eventCount(t, s)
	if _, err := s.SyncSystem(ctx(), k8s.ID, records(sa(app, late, gone)), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if acts := countActions(t, s, before); acts["identity.linked"] != 2 {
		t.Errorf("two links added: events %v", acts)
	}
	// The role turns up in a staged sync of the AWS account.
	if _, err := s.SyncSystem(ctx(), aws.ID, records(ident(app, nil), ident(late, nil)), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	lateRole := identityByExt(t, s, aws.ID, late)
	if l := target(linksOf(api.ID), late); l == nil || l.ToID == nil || *l.ToID != lateRole.ID {
		t.Errorf("the late role after its system's staged sync: %+v", linksOf(api.ID))
	}
	if l := target(linksOf(api.ID), gone); l == nil || l.ToID != nil {
		t.Errorf("a role no system holds: %+v", linksOf(api.ID))
	}
	// The source drops a link.
	before = eventCount(t, s)
	res, err = s.SyncSystem(ctx(), k8s.ID, records(sa(late)), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if acts := countActions(t, s, before); acts["identity.unlinked"] != 2 || res.LinksChanged != 2 || len(linksOf(api.ID)) != 1 {
		t.Errorf("two links dropped: %+v, events %v, links %+v", res, acts, linksOf(api.ID))
	}
	if back := linksOf(role.ID); len(back) != 0 {
		t.Errorf("the role still shows a dropped link: %+v", back)
	}
	// An unchanged sync changes no link.
	if res, err := s.SyncSystem(ctx(), k8s.ID, records(sa(late)), steward.SyncOptions{Source: "test"}); err != nil || res.LinksChanged != 0 || res.Events != 0 {
		t.Errorf("unchanged: %+v, %v", res, err)
	}
}

// testRecordRotation: a rotation Steward performed is recorded with its
// time and an event, and the next sync, whose source gives no rotation
// time, keeps it. A secret whose version changes between syncs was rotated
// by someone else: an event, and the rotation time becomes unknown.
func testRecordRotation(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, func(x *steward.System) { x.Kind = steward.SystemPostgres })
	expires := clock.Now().Add(90 * 24 * time.Hour)
	role := func(version string, exp *time.Time) steward.Source {
		return records(ident("etl", func(i *steward.SourceIdentity) {
			i.Credentials = []steward.SourceCredential{{ExternalID: "password", Kind: steward.CredPassword, Version: version, ExpiresAt: exp}}
		}), ident("reader", nil))
	}
	if _, err := s.SyncSystem(ctx(), sys.ID, role("v1", nil), steward.SyncOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	at := clock.Now()
	before := eventCount(t, s)
	c, err := s.RecordRotation(ctx(), sys.ID, "etl", &steward.RotationResult{Credential: "password", Kind: steward.CredPassword,
		RotatedAt: at, ExpiresAt: &expires, Sink: "stdout"})
	if err != nil {
		t.Fatal(err)
	}
	got := credentialOf(t, s, sys.ID, "etl", "password")
	if c.ID != got.ID || !sameTime(got.LastRotatedAt, &at) || !sameTime(got.ExpiresAt, &expires) {
		t.Fatalf("after the rotation: %+v", got)
	}
	if acts := countActions(t, s, before); acts["credential.rotated"] != 1 || len(acts) != 1 {
		t.Errorf("the rotation's events: %v", acts)
	}
	// The next sync reads the new secret's version for the first time and
	// the expiry Steward set; it keeps the recorded rotation.
	clock.Advance(time.Hour)
	res, err := s.SyncSystem(ctx(), sys.ID, role("v2", &expires), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := credentialOf(t, s, sys.ID, "etl", "password"); !sameTime(got.LastRotatedAt, &at) || res.CredentialsRotated != 0 || res.Events != 0 {
		t.Errorf("the sync after Steward's rotation: %+v, credential %+v; want the rotation kept, no event", res, got)
	}
	// Someone else rotates it: the version changes, the source gives no time.
	before = eventCount(t, s)
	res, err = s.SyncSystem(ctx(), sys.ID, role("v3", &expires), steward.SyncOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	got = credentialOf(t, s, sys.ID, "etl", "password")
	if acts := countActions(t, s, before); res.CredentialsRotated != 1 || acts["credential.rotated"] != 1 || got.LastRotatedAt != nil {
		t.Errorf("a rotation by someone else: %+v, events %v, credential %+v; want it noticed, its time unknown", res, acts, got)
	}
	// A role that had no password gets one, issued at the rotation.
	c, err = s.RecordRotation(ctx(), sys.ID, "reader", &steward.RotationResult{Credential: "password", Kind: steward.CredPassword, RotatedAt: at})
	if err != nil || !sameTime(c.CreatedAt, &at) || !sameTime(c.LastRotatedAt, &at) || c.Status != steward.CredentialActive {
		t.Errorf("a first password: %+v, %v", c, err)
	}
	_, err = s.RecordRotation(ctx(), sys.ID, "nobody", &steward.RotationResult{Credential: "password", Kind: steward.CredPassword, RotatedAt: at})
	wantCode(t, err, steward.ENOTFOUND)
	_, err = s.RecordRotation(ctx(), sys.ID, "etl", &steward.RotationResult{Credential: "password", Kind: steward.CredPassword})
	wantCode(t, err, steward.EINVALID)
}

// testDisableIdentity: an identity Steward disabled in its system shows
// disabled at once, with one event naming why; again, nothing changes.
func testDisableIdentity(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	i := MustIdentity(t, s, sys.ID, nil)
	changed, err := s.DisableIdentity(ctx(), i.ID, "request 7 (decommission)")
	if err != nil || !changed {
		t.Fatalf("DisableIdentity = %v, %v", changed, err)
	}
	iv, err := s.Identity(ctx(), i.ID)
	if err != nil || iv.Status != steward.IdentityDisabled {
		t.Fatalf("identity %+v, %v: want disabled", iv, err)
	}
	ev, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionIdentityDisabled, ObjectID: fmt.Sprint(i.ID)})
	if err != nil || len(ev.Items) != 1 || !strings.Contains(string(ev.Items[0].Data), `"source":"request 7 (decommission)"`) {
		t.Fatalf("events %+v, %v", ev, err)
	}
	if changed, err := s.DisableIdentity(ctx(), i.ID, "again"); err != nil || changed {
		t.Errorf("DisableIdentity again = %v, %v", changed, err)
	}
	if ev, _ := s.Events(ctx(), steward.EventFilter{Action: steward.ActionIdentityDisabled, ObjectID: fmt.Sprint(i.ID)}); len(ev.Items) != 1 {
		t.Errorf("%d identity.disabled events, want the one", len(ev.Items))
	}
	_, err = s.DisableIdentity(ctx(), 1<<40, "request 8")
	wantCode(t, err, steward.ENOTFOUND)
	_, err = s.DisableIdentity(ctx(), i.ID, "")
	wantCode(t, err, steward.EINVALID)
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}
