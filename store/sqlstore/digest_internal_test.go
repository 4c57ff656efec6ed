package sqlstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestDigestFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 5, 64, 100000} {
		sums := make([]uint64, n)
		for i := range sums {
			sums[i] = rng.Uint64() | 1
		}
		slices.Sort(sums)
		sums = slices.Compact(sums)
		refs := make([]uint64, len(sums))
		g := newSyncDigest(sums, refs)
		for i, s := range sums {
			if g.find(s) != i {
				t.Fatalf("n=%d: find(%x) = %d, want %d", n, s, g.find(s), i)
			}
			if g.find(s+1) >= 0 && !slices.Contains(sums, s+1) {
				t.Fatalf("n=%d: found %x, which is not there", n, s+1)
			}
		}
		one := func(sum uint64) bool {
			skip := []bool{false}
			g.skip([]uint64{sum}, skip)
			return skip[0]
		}
		if g.find(0) >= 0 || one(0) {
			t.Fatal("found a sum that is not there")
		}
		if found, again := g.see(sums[0]); !found || again {
			t.Fatalf("first see = %v, %v", found, again)
		}
		if found, again := g.see(sums[0]); !found || !again {
			t.Fatalf("second see = %v, %v", found, again)
		}
		if !g.wasSeen(0) || (len(sums) > 1 && g.wasSeen(1)) {
			t.Fatal("seen bits wrong")
		}
		if one(sums[0]) {
			t.Fatal("skip let a record through that the stream brought already")
		}
		last := sums[len(sums)-1]
		if len(sums) > 1 && (!one(last) || one(last) || g.seenCount() != 2) {
			t.Fatal("skip must let the first of a known sum through, and only the first")
		}
	}
	// A batch: present, absent and repeated sums, in groups of any size.
	sums := make([]uint64, 1000)
	for i := range sums {
		sums[i] = rng.Uint64() | 1
	}
	slices.Sort(sums)
	sums = slices.Compact(sums)
	g := newSyncDigest(sums, make([]uint64, len(sums)))
	var ask []uint64
	want := map[int]bool{}
	for i := range 37 {
		switch i % 3 {
		case 0:
			ask = append(ask, sums[i*7])
			want[len(ask)-1] = true
		case 1:
			ask = append(ask, sums[i*7]+1) // not there (sums are odd)
		case 2:
			ask = append(ask, sums[(i-2)*7]) // asked again: not a second time
		}
	}
	skip := make([]bool, len(ask))
	g.skip(ask, skip)
	for i := range ask {
		if skip[i] != want[i] {
			t.Fatalf("batch answer %d = %v, want %v", i, skip[i], want[i])
		}
	}
	var none *syncDigest
	if none.find(1) >= 0 {
		t.Fatal("a nil digest holds nothing")
	}
}

func TestRefs(t *testing.T) {
	r := identityRef(1<<40 + 5)
	if refKind(r) != refIdentity || refID(r) != 1<<40+5 {
		t.Fatal("identity ref does not round-trip")
	}
	g, ok := grantRef(refHalfMask, 7)
	if a, b := refPair(g); !ok || refKind(g) != refGrant || a != refHalfMask || b != 7 {
		t.Fatal("grant ref does not round-trip")
	}
	if _, ok := grantRef(refHalfMask+1, 1); ok {
		t.Fatal("a grant ref must refuse an id over 31 bits")
	}
}

// TestIsBusy: what rolled back for want of its turn is busy (503, try
// again), never an internal error.
func TestIsBusy(t *testing.T) {
	for code, want := range map[string]bool{"55P03": true, "40P01": true, "40001": true, "23505": false, "42P01": false} {
		err := fmt.Errorf("change request: %w", &pgconn.PgError{Code: code})
		if got := isBusy(err); got != want {
			t.Errorf("isBusy(%s) = %v, want %v", code, got, want)
		}
	}
	if isBusy(errors.New("other")) {
		t.Error("a plain error is busy")
	}
}
