package http_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// gapIdentities returns the identity ids of a page of gaps, in order.
func gapIdentities(tb testing.TB, r *response) []int64 {
	tb.Helper()
	var page steward.Page[steward.GapView]
	r.Decode(tb, &page)
	out := []int64{}
	for _, g := range page.Items {
		out = append(out, g.IdentityID)
	}
	return out
}

func TestSetOwner(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	owner := func(id int64) string { return fmt.Sprintf("/api/v1/identities/%d/owner", id) }

	t.Run("assign heals the gap", func(t *testing.T) {
		r := ts.Put(owner(s.orphan.ID), fmt.Sprintf(`{"owner_id": %d, "team_id": %d}`, s.alice.ID, s.platform.ID))
		if r.Status != 200 {
			t.Fatalf("status = %d: %s", r.Status, r.Body)
		}
		var v steward.IdentityView
		r.Decode(t, &v)
		if v.ID != s.orphan.ID || v.OwnerName != "Alice Archer" || v.TeamName != "platform" || v.OwnerSource != steward.OwnerExplicit {
			t.Errorf("view = %+v", v)
		}
		if got := gapIdentities(t, ts.Get("/api/v1/gaps?gap=unowned")); slices.Contains(got, s.orphan.ID) {
			t.Errorf("unowned gaps = %v, still has the assigned identity", got)
		}
		var events steward.Page[steward.Event]
		ts.Get(fmt.Sprintf("/api/v1/events?action=identity.owner_changed&object_id=%d", s.orphan.ID)).Decode(t, &events)
		if len(events.Items) != 1 || events.Items[0].Actor != "person:admin@tokens.test" || events.Items[0].Via != "token:admin" {
			t.Errorf("events = %+v, want one owner_changed by the admin's person via token:admin", events.Items)
		}
	})
	t.Run("team only", func(t *testing.T) {
		r := ts.Put(owner(s.orphan.ID), fmt.Sprintf(`{"owner_id": null, "team_id": %d}`, s.platform.ID))
		var v steward.IdentityView
		r.Decode(t, &v)
		if r.Status != 200 || v.OwnerID != nil || v.TeamID == nil || *v.TeamID != s.platform.ID {
			t.Errorf("status %d, view = %+v", r.Status, v)
		}
	})
	t.Run("both null hands back to rules", func(t *testing.T) {
		r := ts.Put(owner(s.orphan.ID), `{"owner_id": null, "team_id": null}`)
		var v steward.IdentityView
		r.Decode(t, &v)
		if r.Status != 200 || v.OwnerID != nil || v.TeamID != nil || v.OwnerSource != steward.OwnerNone {
			t.Errorf("status %d, view = %+v", r.Status, v)
		}
		if got := gapIdentities(t, ts.Get("/api/v1/gaps?gap=unowned")); !slices.Contains(got, s.orphan.ID) {
			t.Errorf("unowned gaps = %v, want the cleared identity back", got)
		}
	})

	for _, tt := range []struct {
		name   string
		req    request
		status int
		msg    string
	}{
		{"auditor", request{Token: ts.Viewer, Target: owner(s.ci.ID), Body: `{"owner_id": null, "team_id": null}`}, 403, "writes nothing"},
		{"field left out", request{Target: owner(s.ci.ID), Body: fmt.Sprintf(`{"owner_id": %d}`, s.alice.ID), OutsideDocument: true}, 400, "team_id"},
		{"empty object", request{Target: owner(s.ci.ID), Body: `{}`, OutsideDocument: true}, 400, "owner_id"},
		{"unknown field", request{Target: owner(s.ci.ID), Body: `{"owner_id": null, "team_id": null, "owner": "alice"}`, OutsideDocument: true}, 400, `"owner"`},
		{"zero id", request{Target: owner(s.ci.ID), Body: `{"owner_id": 0, "team_id": null}`, OutsideDocument: true}, 400, "owner_id"},
		{"unknown person", request{Target: owner(s.ci.ID), Body: `{"owner_id": 999999, "team_id": null}`}, 404, "999999"},
		{"unknown team", request{Target: owner(s.ci.ID), Body: `{"owner_id": null, "team_id": 999999}`}, 404, "999999"},
		{"unknown identity", request{Target: owner(999999), Body: `{"owner_id": null, "team_id": null}`}, 404, "999999"},
		{"bad path id", request{Target: "/api/v1/identities/x/owner", Body: `{"owner_id": null, "team_id": null}`, OutsideDocument: true}, 400, "id"},
		{"query string", request{Target: owner(s.ci.ID) + "?force=true", Body: `{"owner_id": null, "team_id": null}`, OutsideDocument: true}, 400, "query"},
		{"not JSON", request{Target: owner(s.ci.ID), Body: `owner=1`, Header: map[string]string{"Content-Type": "text/plain"}, OutsideDocument: true}, 400, "Content-Type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Method = "PUT"
			if tt.req.Token == "" {
				tt.req.Token = ts.Admin
			}
			r := ts.Do(tt.req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if e := r.Error(t); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.msg)
			}
		})
	}
	t.Run("refused changes nothing", func(t *testing.T) {
		var v steward.IdentityView
		ts.Get(fmt.Sprintf("/api/v1/identities/%d", s.ci.ID)).Decode(t, &v)
		if v.OwnerID == nil || *v.OwnerID != s.bob.ID {
			t.Errorf("ci owner = %v, want bob still", v.OwnerID)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		r := ts.Get(owner(s.ci.ID))
		if r.Status != 405 || r.Header.Get("Allow") != "PUT" {
			t.Errorf("GET: status %d, Allow %q", r.Status, r.Header.Get("Allow"))
		}
	})
}

func TestAttest(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	attest := func(id int64) string { return fmt.Sprintf("/api/v1/identities/%d/attest", id) }
	bob := MustCreatePersonalToken(t, ts.Store, "bob", steward.RoleMember, s.bob.ID)

	t.Run("by the owner", func(t *testing.T) {
		before := time.Now().Add(-time.Minute)
		r := ts.Do(request{Method: "POST", Target: attest(s.ci.ID), Token: bob, Body: `{"note": "still deploys payments"}`})
		if r.Status != 200 {
			t.Fatalf("status = %d: %s", r.Status, r.Body)
		}
		var v steward.IdentityView
		r.Decode(t, &v)
		if v.AttestedBy == nil || *v.AttestedBy != s.bob.ID || v.AttestedAt == nil || v.AttestedAt.Before(before) {
			t.Errorf("attested_by = %v, attested_at = %v", v.AttestedBy, v.AttestedAt)
		}
		// The get answers the same, through the same schema.
		var got steward.IdentityView
		ts.Get(fmt.Sprintf("/api/v1/identities/%d", s.ci.ID)).Decode(t, &got)
		if got.AttestedAt == nil || !got.AttestedAt.Equal(*v.AttestedAt) {
			t.Errorf("get: attested_at = %v, want %v", got.AttestedAt, v.AttestedAt)
		}
		var events steward.Page[steward.Event]
		ts.Get(fmt.Sprintf("/api/v1/events?action=identity.attested&object_id=%d", s.ci.ID)).Decode(t, &events)
		if len(events.Items) != 1 || !strings.Contains(string(events.Items[0].Data), "still deploys payments") {
			t.Errorf("events = %+v, want one with the note", events.Items)
		}
	})
	for _, tt := range []struct {
		name   string
		req    request
		status int
		msg    string
	}{
		{"an admin, not the owner", request{Target: attest(s.ci.ID), Body: `{}`}, 403, "not even an admin"},
		{"no owner", request{Token: bob, Target: attest(s.orphan.ID), Body: `{}`}, 403, "Only the identity's owner"},
		{"a person named in the body", request{Token: bob, Target: attest(s.ci.ID), Body: fmt.Sprintf(`{"person_id": %d}`, s.bob.ID), OutsideDocument: true}, 400, "person_id"},
		{"note too long", request{Token: bob, Target: attest(s.ci.ID), Body: fmt.Sprintf(`{"note": %q}`, strings.Repeat("n", 3000)), OutsideDocument: true}, 400, "note"},
		{"unknown field", request{Token: bob, Target: attest(s.ci.ID), Body: `{"until": "2030-01-01"}`, OutsideDocument: true}, 400, `"until"`},
		{"unknown identity", request{Token: bob, Target: attest(999999), Body: `{}`}, 404, "999999"},
		{"auditor", request{Token: ts.Viewer, Target: attest(s.ci.ID), Body: `{}`}, 403, "writes nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Method = "POST"
			if tt.req.Token == "" {
				tt.req.Token = ts.Admin
			}
			r := ts.Do(tt.req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if e := r.Error(t); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.msg)
			}
		})
	}
}

func TestGaps(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	f := ts.F
	left := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	dave := f.Person(func(p *steward.Person) {
		p.Name, p.TeamID, p.ManagerID = "Dave Dunn", &s.platform.ID, &s.alice.ID
		p.Status, p.DepartedAt = steward.PersonDeparted, &left
	})
	gone := f.Identity(func(i *steward.Identity) { i.Name, i.OwnerID, i.TeamID = "left-behind", &dave.ID, &s.platform.ID })
	// payments has only Carol, who left: nobody answers for its identities.
	inactive := f.Identity(func(i *steward.Identity) { i.Name, i.OwnerID, i.TeamID = "payments-batch", &s.bob.ID, &s.payments.ID })

	for _, tt := range []struct {
		name   string
		target string
		want   []int64
	}{
		{"all, oldest first", "/api/v1/gaps", []int64{s.orphan.ID, gone.ID, inactive.ID}},
		{"unowned", "/api/v1/gaps?gap=unowned", []int64{s.orphan.ID}},
		{"owner departed", "/api/v1/gaps?gap=owner_departed", []int64{gone.ID}},
		{"team inactive", "/api/v1/gaps?gap=team_inactive", []int64{inactive.ID}},
		{"without a team", "/api/v1/gaps?team_id=-1", []int64{s.orphan.ID}},
		{"of a team", fmt.Sprintf("/api/v1/gaps?team_id=%d", s.payments.ID), []int64{inactive.ID}},
		{"combined", fmt.Sprintf("/api/v1/gaps?team_id=%d&gap=unowned", s.platform.ID), []int64{}},
		{"empty values do not filter", "/api/v1/gaps?gap=&team_id=", []int64{s.orphan.ID, gone.ID, inactive.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Empty values are a leniency of the server (HTML forms send
			// them) that the document does not describe.
			r := ts.Do(request{Target: tt.target, Token: ts.Admin, OutsideDocument: tt.name == "empty values do not filter"})
			if r.Status != 200 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			if got := gapIdentities(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("identities = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("what it takes to close", func(t *testing.T) {
		t.Parallel()
		var page steward.Page[steward.GapView]
		ts.Get("/api/v1/gaps?gap=owner_departed").Decode(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("gaps = %+v", page.Items)
		}
		g := page.Items[0]
		if g.Kind != steward.TaskKindOwnershipGap || g.Status != steward.TaskOpen || g.IdentityName != "left-behind" ||
			g.SystemName != "default-system" || g.OwnerName != "Dave Dunn" || g.TeamName != "platform" ||
			g.SuggestedOwnerID == nil || *g.SuggestedOwnerID != s.alice.ID || g.SuggestedOwner != "Alice Archer" {
			t.Errorf("gap = %+v", g)
		}
		if d := g.DueAt.Sub(g.OpenedAt); d != steward.GapDue[steward.GapOwnerDeparted] {
			t.Errorf("due %v after opening, want %v", d, steward.GapDue[steward.GapOwnerDeparted])
		}
	})
	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		all := ids(t, ts.Get("/api/v1/gaps"))
		if got := walk(t, ts, "/api/v1/gaps", 1); !slices.Equal(got, all) || len(got) != 3 {
			t.Errorf("task ids by pages of 1 = %v, want %v", got, all)
		}
	})
	for _, tt := range []struct{ name, query, msg string }{
		{"bad gap kind", "gap=lonely", "lonely"},
		{"team zero", "team_id=0", "-1"},
		{"team below -1", "team_id=-2", "-1"},
		{"team not a number", "team_id=platform", "team_id"},
		{"unknown parameter", "owner_id=1", `"owner_id"`},
		{"bad limit", "limit=0", "limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ts.Do(request{Target: "/api/v1/gaps?" + tt.query, Token: ts.Admin, OutsideDocument: true})
			if r.Status != 400 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			if e := r.Error(t); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.msg)
			}
		})
	}
	t.Run("viewer reads", func(t *testing.T) {
		t.Parallel()
		if r := ts.Do(request{Target: "/api/v1/gaps", Token: ts.Viewer}); r.Status != 200 {
			t.Errorf("status = %d", r.Status)
		}
	})
}

func TestOwnershipRules(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	const path = "/api/v1/ownership-rules"
	rules := fmt.Sprintf(`{"rules": [
		{"name": "k8s-bots", "match": {"systems": ["k8s-*"], "kinds": ["bot"]}, "team": "platform", "owner": %q},
		{"name": "ci", "match": {"names": ["ci-*"], "labels": {"repo": "pay*"}}, "team": "payments"}
	]}`, s.alice.Email)

	if r := ts.Get(path); r.Status != 200 || string(r.Body) != "{\"rules\":[]}\n" {
		t.Fatalf("no rules: status %d: %s", r.Status, r.Body)
	}
	r := ts.Put(path, rules)
	if r.Status != 200 {
		t.Fatalf("apply: status %d: %s", r.Status, r.Body)
	}
	var res steward.SyncResult
	r.Decode(t, &res)
	if res.OwnersChanged != 1 || res.GapsClosed != 1 || res.Events == 0 {
		t.Errorf("apply = %+v, want the orphan owned and its gap closed", res)
	}
	var v steward.IdentityView
	ts.Get(fmt.Sprintf("/api/v1/identities/%d", s.orphan.ID)).Decode(t, &v)
	if v.OwnerName != "Alice Archer" || v.TeamName != "platform" || v.OwnerSource != steward.OwnerFromRule {
		t.Errorf("orphan = %+v, want owned by Alice through a rule", v)
	}
	// ci-deployer has a named owner created with it; the rule does not
	// take it away.
	ts.Get(fmt.Sprintf("/api/v1/identities/%d", s.ci.ID)).Decode(t, &v)
	if v.OwnerName != "Bob Baker" {
		t.Errorf("ci-deployer owner = %q, want Bob Baker kept", v.OwnerName)
	}

	var got struct {
		Rules []steward.OwnershipRule `json:"rules"`
	}
	ts.Get(path).Decode(t, &got)
	if len(got.Rules) != 2 || got.Rules[0].Name != "k8s-bots" || got.Rules[1].Match.Labels["repo"] != "pay*" {
		t.Errorf("rules = %+v", got.Rules)
	}

	r = ts.Put(path, rules)
	res = steward.SyncResult{}
	r.Decode(t, &res)
	if r.Status != 200 || res.Events != 0 || res.OwnersChanged != 0 {
		t.Errorf("the same rules again: status %d, %+v, want no change", r.Status, res)
	}

	for _, tt := range []struct {
		name   string
		req    request
		status int
		msg    string
	}{
		{"unknown match field", request{Body: `{"rules": [{"name": "a", "match": {"namespace": ["x"]}, "team": "platform"}]}`, OutsideDocument: true}, 400, `"namespace"`},
		{"unknown rule field", request{Body: `{"rules": [{"name": "a", "match": {"names": ["x"]}, "teams": "platform"}]}`, OutsideDocument: true}, 400, `"teams"`},
		{"unknown top field", request{Body: `{"rules": [], "dry_run": true}`, OutsideDocument: true}, 400, `"dry_run"`},
		{"rules left out", request{Body: `{}`, OutsideDocument: true}, 400, "rules"},
		{"rules null", request{Body: `{"rules": null}`, OutsideDocument: true}, 400, "[]"},
		{"matches everything", request{Body: `{"rules": [{"name": "all", "match": {}, "team": "platform"}]}`}, 400, "matches everything"},
		{"bad kind", request{Body: `{"rules": [{"name": "a", "match": {"kinds": ["robot"]}, "team": "platform"}]}`, OutsideDocument: true}, 400, "robot"},
		{"name twice", request{Body: `{"rules": [{"name": "a", "match": {"names": ["x"]}, "team": "platform"}, {"name": "a", "match": {"names": ["y"]}, "team": "platform"}]}`}, 400, "twice"},
		{"bad pattern", request{Body: `{"rules": [{"name": "a", "match": {"names": ["[x"]}, "team": "platform"}]}`}, 400, "malformed"},
		{"not an array", request{Body: `{"rules": {"name": "a"}}`, OutsideDocument: true}, 400, "rules"},
		{"auditor", request{Token: ts.Viewer, Body: `{"rules": []}`}, 403, "writes nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Method, tt.req.Target = "PUT", path
			if tt.req.Token == "" {
				tt.req.Token = ts.Admin
			}
			r := ts.Do(tt.req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if e := r.Error(t); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.msg)
			}
		})
	}
	t.Run("refused rules change nothing", func(t *testing.T) {
		ts.Get(path).Decode(t, &got)
		if len(got.Rules) != 2 {
			t.Errorf("rules = %+v", got.Rules)
		}
	})
	t.Run("explicit beats rules", func(t *testing.T) {
		if r := ts.Put(fmt.Sprintf("/api/v1/identities/%d/owner", s.orphan.ID), fmt.Sprintf(`{"owner_id": %d, "team_id": null}`, s.bob.ID)); r.Status != 200 {
			t.Fatalf("set owner: %d %s", r.Status, r.Body)
		}
		if r := ts.Put(path, `{"rules": []}`); r.Status != 200 {
			t.Fatalf("remove rules: %d %s", r.Status, r.Body)
		}
		ts.Get(fmt.Sprintf("/api/v1/identities/%d", s.orphan.ID)).Decode(t, &v)
		if v.OwnerName != "Bob Baker" || v.OwnerSource != steward.OwnerExplicit {
			t.Errorf("orphan = %+v, want Bob kept explicitly", v)
		}
		if r := ts.Get(path); string(r.Body) != "{\"rules\":[]}\n" {
			t.Errorf("rules after [] = %s", r.Body)
		}
	})
	t.Run("get takes no query", func(t *testing.T) {
		if r := ts.Do(request{Target: path + "?limit=5", Token: ts.Admin, OutsideDocument: true}); r.Status != 400 {
			t.Errorf("status = %d", r.Status)
		}
	})
}

// auditCount is the number of events in the chain, which verifies too.
func auditCount(tb testing.TB, ts *testServer) int64 {
	tb.Helper()
	n, err := ts.Store.VerifyAudit(context.Background())
	if err != nil {
		tb.Fatalf("verify audit: %v", err)
	}
	return n
}

func TestSyncRuns(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	sys := ts.F.System()
	ctx := steward.WithActor(context.Background(), "test")
	one := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			yield(steward.Record{Identity: &steward.SourceIdentity{ExternalID: "bot-1", Kind: steward.KindBot}}, nil)
		}
	})
	broken := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			yield(steward.Record{}, errors.New("connection refused"))
		}
	})
	if _, err := ts.Store.SyncSystem(ctx, sys.ID, one, steward.SyncOptions{Source: "connector:pg-prod"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.SyncSystem(ctx, sys.ID, broken, steward.SyncOptions{Source: "connector:pg-prod"}); err == nil {
		t.Fatal("a sync whose source failed succeeded")
	}
	var page steward.Page[steward.SyncRun]
	r := ts.Do(request{Target: "/api/v1/sync-runs?source=connector:pg-prod", Token: ts.Viewer})
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	r.Decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].Error == "" || !strings.Contains(page.Items[0].Error, "connection refused") ||
		page.Items[1].Result == nil || page.Items[1].Result.IdentitiesCreated != 1 || page.Items[1].SystemName != sys.Name {
		t.Fatalf("runs = %+v", page.Items)
	}
	page = steward.Page[steward.SyncRun]{}
	ts.Get(fmt.Sprintf("/api/v1/sync-runs?system_id=%d&failed=false&limit=1", sys.ID)).Decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Error != "" || page.Next != "" {
		t.Fatalf("succeeded runs = %+v", page)
	}
	for target, want := range map[string]string{
		"/api/v1/sync-runs?failed=yes":    "true or false",
		"/api/v1/sync-runs?system_id=abc": "system_id",
		"/api/v1/sync-runs?kind=bot":      "Unknown query parameter",
	} {
		if r := ts.Do(request{Target: target, Token: ts.Admin, OutsideDocument: true}); r.Status != 400 || !strings.Contains(r.Error(t).Message, want) {
			t.Errorf("%s: %d %s", target, r.Status, r.Body)
		}
	}
}
