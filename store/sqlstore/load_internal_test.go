package sqlstore

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// TestPairSet: the set agrees with a Go map through its growths, on keys
// with repeats, zero and the largest pair included.
func TestPairSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var p pairSet
	want := map[uint64]bool{}
	keys := []uint64{0, 1 << 32, 0xFFFFFFFE_FFFFFFFE}
	for range 200_000 {
		keys = append(keys, uint64(rng.IntN(3000))<<32|uint64(rng.IntN(40)))
	}
	for i, k := range keys {
		if got := p.add(k); got != !want[k] {
			t.Fatalf("key %d (%#x): add = %v, want %v", i, k, got, !want[k])
		}
		want[k] = true
	}
	if p.n != len(want) {
		t.Fatalf("%d keys held, want %d", p.n, len(want))
	}
}

// TestGrantDigest: the hand-written content hash of a grant is the one
// digest makes through encoding/json, which rows already stored carry.
func TestGrantDigest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -7*3600-1800), time.FixedZone("", 5*3600)}
	at := func() *time.Time {
		if rng.IntN(3) == 0 {
			return nil
		}
		t := time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(2)*rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		return &t
	}
	far := time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC) // json.Marshal refuses it
	cases := []*steward.SourceGrant{{Type: steward.GrantStanding}, {Type: "a<b&\"c\"\u00e9"}, {Type: steward.GrantJIT, ExpiresAt: &far}}
	for range 2000 {
		cases = append(cases, &steward.SourceGrant{Type: []steward.GrantType{steward.GrantStanding, steward.GrantJIT, ""}[rng.IntN(3)],
			GrantedAt: at(), ExpiresAt: at()})
	}
	for _, g := range cases {
		if got, want := grantDigest(g), digest([]any{g.Type, g.GrantedAt, g.ExpiresAt}); got != want {
			t.Fatalf("%+v: %s, want %s", g, got, want)
		}
	}
}

// TestIdentityPagesStopEarly: on SQLite, a page of identities is read in
// the order of the index that drives it, so that the query stops after a
// page. Ordered by x.id where the search index or the gap tasks drive, SQLite
// sorted every match first: 0.2 s for a common word at a million identities.
func TestIdentityPagesStopEarly(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "steward.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]steward.IdentityFilter{
		"search and few gaps": {Query: "payments", Gap: steward.GapOwnerDeparted},
		"everything":          {},
		"kind":                {Kind: steward.KindBot},
		"search":              {Query: "payments"},
		"short search":        {Query: "pa"},
		"gap":                 {Gap: steward.GapUnowned},
		"search and gap":      {Query: "payments", Gap: steward.GapUnowned},
		"search, kind, owner": {Query: "payments", Kind: steward.KindBot, OwnerID: 7},
		"gap and team":        {Gap: steward.GapTeamInactive, TeamID: 3},
	} {
		inner, args := db.identitiesQuery(f, 100, 50, strings.Contains(name, "few gaps"), false)
		rows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+inner, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
		rows.Close()
		if strings.Contains(plan.String(), "TEMP B-TREE") {
			t.Errorf("%s: the page sorts every match:\n%s", name, plan.String())
		}
	}
}
