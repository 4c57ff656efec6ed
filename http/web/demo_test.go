package web

import (
	"context"
	"net/url"
	"strconv"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/demo"
)

// MustDemoFixture seeds a small demo organisation at the tests' now and
// builds a UI on it, signed in with an admin token.
func MustDemoFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{Store: MustOpenStore(tb)}
	ctx := steward.WithActor(context.Background(), "system:test")
	if _, err := demo.Seed(ctx, f.Store, demo.Config{People: 150, NHI: 4000, Now: now}); err != nil {
		tb.Fatalf("seed demo: %v", err)
	}
	people, err := f.Store.People(ctx, steward.PersonFilter{Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(people.Items) == 0 {
		tb.Fatalf("the demo's first active person: %v", err)
	}
	f.ownerID = people.Items[0].ID // the admin signs in as them
	f.Token = f.MustToken(tb, "alice", steward.RoleAdmin)
	f.Handler = (&UI{Store: f.Store, Clock: steward.FixedClock{T: now}}).Handler()
	return f
}

// Pages returns a path of every kind of page, chosen from the demo so that
// each shows a full table: the busiest owner, a team with gaps, an identity
// with credentials and grants, the inventory by credential age, the audit
// log.
func (f *fixture) Pages(tb testing.TB) []string {
	tb.Helper()
	ctx := context.Background()
	gaps, err := f.Store.Gaps(ctx, steward.GapFilter{ListOptions: steward.ListOptions{Limit: 100}})
	if err != nil {
		tb.Fatalf("demo gaps: %v", err)
	}
	team := ""
	for _, g := range gaps.Items {
		if g.TeamID != nil {
			team = g.TeamName
			break
		}
	}
	if team == "" {
		tb.Fatal("no demo gap has a team")
	}
	keys, err := f.Store.Identities(ctx, steward.IdentityFilter{Kind: steward.KindAPIKey, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(keys.Items) == 0 || keys.Items[0].OwnerID == nil {
		tb.Fatalf("demo api keys: %v", err)
	}
	owner := *keys.Items[0].OwnerID
	system := keys.Items[0].SystemName
	return []string{
		"/inventory",
		"/inventory?limit=500",
		"/inventory?kind=secret&limit=200",
		"/inventory?sort=-credential_age&limit=200",
		"/ownership",
		"/ownership?limit=300",
		"/identities/" + strconv.FormatInt(keys.Items[0].ID, 10),
		"/people",
		"/people/" + strconv.FormatInt(owner, 10),
		"/teams",
		"/teams/" + url.PathEscape(team),
		"/systems/" + url.PathEscape(system),
		"/audit",
	}
}
