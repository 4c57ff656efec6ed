package sqlstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward"
)

// randomSums returns up to n distinct sums, sorted, as a digest holds them.
func randomSums(rng *rand.Rand, n int) []uint64 {
	sums := make([]uint64, n)
	for i := range sums {
		sums[i] = rng.Uint64() | 1
	}
	slices.Sort(sums)
	return slices.Compact(sums)
}

func TestDigestFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 5, 64, 100000} {
		sums := randomSums(rng, n)
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
	sums := randomSums(rng, 1000)
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

// TestDigestMergeInPlace: the delta merged into base entries that sit
// after room for its adds, in the same arrays, gives what a merge into
// fresh arrays gives: adds before, among and after the base, a base entry
// dropped left out, one added again taken from the add.
func TestDigestMergeInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ base, adds, drops int }{{0, 3, 0}, {10, 0, 0}, {10, 4, 3}, {1000, 200, 150}, {1000, 1000, 1000}} {
		var base []digestEntry
		for range tc.base {
			base = append(base, digestEntry{rng.Uint64N(1 << 20), rng.Uint64()})
		}
		slices.SortFunc(base, func(a, b digestEntry) int { return cmp.Compare(a.sum, b.sum) })
		base = slices.CompactFunc(base, func(a, b digestEntry) bool { return a.sum == b.sum })
		m := &digestMerge{}
		want := map[uint64]uint64{}
		for _, e := range base {
			want[e.sum] = e.ref
		}
		for i := range tc.drops {
			if i < len(base) && rng.IntN(2) == 0 {
				s := base[rng.IntN(len(base))].sum
				m.drops = append(m.drops, s)
				delete(want, s)
			}
		}
		slices.Sort(m.drops)
		m.drops = slices.Compact(m.drops)
		added := map[uint64]bool{}
		for i := range tc.adds {
			e := digestEntry{rng.Uint64N(1 << 20), rng.Uint64()}
			if i%3 == 0 && len(base) > 0 { // added again: the add stands
				e.sum = base[rng.IntN(len(base))].sum
			}
			if _, live := want[e.sum]; added[e.sum] || (live && !slices.ContainsFunc(base, func(b digestEntry) bool { return b.sum == e.sum })) {
				continue // two adds of one sum are not a delta saveDelta writes
			}
			added[e.sum] = true
			m.adds = append(m.adds, e)
			want[e.sum] = e.ref
		}
		slices.SortFunc(m.adds, func(a, b digestEntry) int { return cmp.Compare(a.sum, b.sum) })
		room := len(m.adds)
		sums, refs := make([]uint64, room+len(base)), make([]uint64, room+len(base))
		for i, e := range base {
			sums[room+i], refs[room+i] = e.sum, e.ref
		}
		if !m.merge(sums, refs, room) {
			t.Fatalf("%+v: out of order", tc)
		}
		if len(m.sums) != len(want) {
			t.Fatalf("%+v: %d entries, want %d", tc, len(m.sums), len(want))
		}
		for i, s := range m.sums {
			if ref, ok := want[s]; !ok || ref != m.refs[i] || (i > 0 && s <= m.sums[i-1]) {
				t.Fatalf("%+v: entry %d (%x, %x) is not the merge's", tc, i, s, m.refs[i])
			}
		}
		for _, i := range m.fromAdds {
			if !slices.Contains(m.adds, digestEntry{m.sums[i], m.refs[i]}) {
				t.Fatalf("%+v: entry %d said to come from the adds does not", tc, i)
			}
		}
	}
}

// TestDigestReadTorn: a base row read on another connection that is not
// the size its digest's sizes said, or is gone, means another sync rewrote
// the digest in between; the sync starts over (errRestage) rather than
// trust half of each. A row as listed reads back whole, with its time.
func TestDigestReadTorn(t *testing.T) {
	t.Parallel()
	ctx := steward.WithActor(context.Background(), "test")
	db := openSQLite(t, ctx)
	sys := &steward.System{Name: "torn", Kind: steward.SystemPostgres}
	if err := db.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	entries := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 7), 8)
	if _, err := db.write.ExecContext(ctx, `INSERT INTO sync_digests (system_id, context, chunk, entries, taken_at) VALUES (?, 'c', 0, ?, 42)`, sys.ID, entries); err != nil {
		t.Fatal(err)
	}
	sums, refs := make([]uint64, 2), make([]uint64, 2)
	for _, par := range []querier{nil, db.read} {
		base := []digestRow{{chunk: 0, size: 16}}
		if err := db.readBase(ctx, db.read, par, sys.ID, "c", base, sums[:1], refs[:1]); err != nil || sums[0] != 7 || refs[0] != 8 || base[0].taken != 42 {
			t.Fatalf("par %v: read %v, %v, taken %d, error %v", par != nil, sums, refs, base[0].taken, err)
		}
		for name, rows := range map[string][]digestRow{
			"another size": {{chunk: 0, size: 32}},
			"gone":         {{chunk: 0, size: 16}, {chunk: 1, size: 16, at: 16}},
		} {
			if err := db.readBase(ctx, db.read, par, sys.ID, "c", rows, sums, refs); !errors.Is(err, errRestage) {
				t.Errorf("par %v, a row of %s: error %v, want errRestage", par != nil, name, err)
			}
		}
	}
}

// BenchmarkDigestSkip: a re-sync looks up every line's sum in a digest of
// six million entries, a batch of lines at a time, in no order the digest
// knows; ns/lookup is per sum.
func BenchmarkDigestSkip(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	sums := randomSums(rng, 6_000_000)
	g := newSyncDigest(sums, make([]uint64, len(sums)))
	lines := slices.Clone(sums)
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	const batch = 3000
	skip := make([]bool, batch)
	at := 0
	for b.Loop() {
		if at+batch > len(lines) {
			at = 0
			clear(g.seen)
		}
		g.skip(lines[at:at+batch], skip)
		at += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/lookup")
}

// TestDigestNotWhole: a digest with a row that is not a whole number of
// entries, even a delta row read before the base, is not used.
func TestDigestNotWhole(t *testing.T) {
	t.Parallel()
	ctx := steward.WithActor(context.Background(), "test")
	db := openSQLite(t, ctx)
	sys := &steward.System{Name: "whole", Kind: steward.SystemPostgres}
	if err := db.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	entry := func(sum uint64) []byte {
		return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, sum), 8)
	}
	taken := time.Now().UnixMicro()
	for chunk, sum := range []uint64{7, 9} {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO sync_digests (system_id, context, chunk, entries, taken_at) VALUES (?, 'c', ?, ?, ?)`, sys.ID, chunk, entry(sum), taken); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := db.loadDigest(ctx, db.read, nil, sys.ID, "c"); err != nil || g == nil || len(g.sums) != 2 {
		t.Fatalf("whole: digest %v, error %v", g, err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO sync_digests (system_id, context, chunk, entries, taken_at) VALUES (?, 'c', ?, ?, 0)`, sys.ID, digestDrops, entry(7)[:8]); err != nil {
		t.Fatal(err)
	}
	if g, err := db.loadDigest(ctx, db.read, nil, sys.ID, "c"); err != nil || g != nil {
		t.Fatalf("a delta row of half an entry: digest %v, error %v; want none", g, err)
	}
}
