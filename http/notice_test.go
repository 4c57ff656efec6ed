package http_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestNoticesAPI: a member reads their own notices and nobody else's; an
// admin or auditor reads everyone's, or one person's, and the unsent ones.
func TestNoticesAPI(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	ana := ts.F.Person(func(p *steward.Person) { p.Name, p.Email = "Ana", "ana@example.test" })
	cy := ts.F.Person(func(p *steward.Person) { p.Name, p.Email = "Cy", "cy@example.test" })
	anaTok := MustCreatePersonalToken(t, ts.Store, "ana", steward.RoleMember, ana.ID)
	ctx := steward.WithPrincipal(context.Background(), steward.SelfPrincipal("job:test"))
	tell := func(job int64, people ...int64) {
		var ns []steward.Notice
		for _, p := range people {
			ns = append(ns, steward.Notice{PersonID: p, Kind: steward.KindJITExpiryWarning, Subject: "Your JIT access ends soon",
				Body: "It expires in 15m.", ObjectType: steward.ObjectJITGrant, ObjectID: "7"})
		}
		if _, err := ts.Store.DeliverNotices(ctx, job, ns); err != nil {
			t.Fatal(err)
		}
	}
	tell(1, ana.ID, cy.ID)
	tell(2, cy.ID)
	list := func(tok, query string, want int) []steward.Notice {
		t.Helper()
		res := ts.Do(request{Target: "/api/v1/notices" + query, Token: tok})
		var page steward.Page[steward.Notice]
		if res.Status != 200 {
			t.Fatalf("notices%s: %d %s", query, res.Status, res.Body)
		}
		if res.Decode(t, &page); len(page.Items) != want {
			t.Errorf("notices%s: %d, want %d: %s", query, len(page.Items), want, res.Body)
		}
		return page.Items
	}
	if got := list(anaTok, "", 1); len(got) == 1 && (got[0].PersonID != ana.ID || got[0].Subject != "Your JIT access ends soon") {
		t.Errorf("ana's notice: %+v", got[0])
	}
	list(anaTok, "?person=ANA@example.test", 1)
	if res := ts.Do(request{Target: "/api/v1/notices?person=cy@example.test", Token: anaTok}); res.Status != 403 ||
		!strings.Contains(res.Error(t).Message, "a member reads their own") {
		t.Errorf("a member reading another's notices: %d %s", res.Status, res.Body)
	}
	list(ts.Admin, "", 3)
	list(ts.Viewer, "?person=cy@example.test", 2)
	list(ts.Admin, "?person=cy@example.test&limit=1", 1)
	list(ts.Admin, "?unsent=true", 3)
	list(ts.Admin, "?unsent=false", 3)
	for q, outside := range map[string]bool{"?unsent=maybe": true, "?person=nobody@example.test": false, "?limit=0": true, "?owner=x": true} {
		if res := ts.Do(request{Target: "/api/v1/notices" + q, Token: ts.Admin, OutsideDocument: outside}); res.Status != 400 || res.Error(t).Code != "invalid" {
			t.Errorf("notices%s: %d %s", q, res.Status, res.Body)
		}
	}
}
