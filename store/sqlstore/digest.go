package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/stewardhq/steward"
)

// A sync digest is what a system's last whole sync read: for each record,
// its sum (a 64-bit hash of the record as the source gave it, Record.Sum)
// and the row it became. The next whole sync looks each record's sum up
// here: a record found is unchanged, and is neither staged nor compared (a
// Skipper source does not even parse it). What the digest holds and the
// stream did not bring back is what changed or went away, and only those
// rows are compared, by id. A 1% change to a million-identity snapshot then
// costs reading the file and the 1%, not a comparison of every row.
//
// The invariant that makes this right: a system's digest lists every live
// row of its inventory, as the last whole sync left it, but for the rows
// that writes outside a whole sync name in sync_dirty. An identity,
// credential, entitlement or grant created through the API names the row it
// wrote there (markDirty); the next whole sync compares those rows too, as
// if their records had changed. A partial sync and a bulk load write too
// much to name: they delete the digest and mark the whole system
// (forgetDigest), and the next whole sync compares every record and writes
// a new one.
//
// Memory: 16 bytes per record plus a 4-byte bucket index per 4 records,
// about 100 MB for 6 million records, held only during the sync.
type syncDigest struct {
	sums  []uint64 // sorted
	refs  []uint64 // refs[i] is the row sums[i] became (see identityRef)
	start []uint32 // start[b]: the first entry whose sum's top bits are b
	shift uint
	seen  []uint64 // a bit per entry: the stream brought it back
	added []uint64 // a bit per entry: it came from the delta's adds
	drops []uint64 // the delta's dropped base sums, sorted
	base  int      // entries in the base rows
	taken int64    // when the base was taken by comparing every record (Unix µs)
	dirty []uint64 // a bit per entry: written since outside a sync (nil: none)
	extra []uint64 // rows written outside a sync that no entry names
}

// digestVersion changes whenever what a sum covers or how a record becomes
// rows changes, so that digests taken before are not trusted.
const digestVersion = "v1"

// digestContext is what the sums of a run are taken under: the same bytes
// read under another default environment make other rows.
func digestContext(o steward.SyncOptions) string {
	return digestVersion + " env=" + string(o.Environment)
}

// digestChunk is how many entries one sync_digests row holds (64 KiB).
// Each row read is copied twice on its way, by SQLite and by its Go
// driver, into buffers of its size: rows of 16 MiB made both fresh memory
// each time, and a 1% re-sync of a million identities took 25,000 more page
// faults, 0.4-1.2 s more and 40-100 MiB more resident than with rows of 64
// KiB, which reuse their buffers. Rows of any size read back.
const digestChunk = 1 << 12

// Refs name a row in 64 bits: the top two bits are the kind; identities and
// entitlements carry their id, grants their identity's and entitlement's
// ids in 31 bits each (a system whose ids outgrow that gets no digest, and
// every sync of it compares every record).
const (
	refIdentity    = 1
	refEntitlement = 2
	refGrant       = 3
	refIDMask      = 1<<62 - 1
	refHalfMask    = 1<<31 - 1
)

func identityRef(id int64) uint64    { return refIdentity<<62 | uint64(id) }    // #nosec G115 -- a row id from the database: positive and far below 2^62
func entitlementRef(id int64) uint64 { return refEntitlement<<62 | uint64(id) } // #nosec G115 -- a row id from the database: positive and far below 2^62
func grantRef(identity, entitlement int64) (uint64, bool) {
	ok := identity > 0 && identity <= refHalfMask && entitlement > 0 && entitlement <= refHalfMask
	return refGrant<<62 | uint64(identity)<<31 | uint64(entitlement), ok // #nosec G115 -- ok says whether both fit 31 bits; a caller that gets false keeps no digest
}
func refKind(r uint64) int { return int(r >> 62) }         // #nosec G115 -- the top two bits: 0 to 3
func refID(r uint64) int64 { return int64(r & refIDMask) } // #nosec G115 -- masked to 62 bits
func refPair(r uint64) (identity, entitlement int64) {
	v := r & refIDMask
	return int64(v >> 31), int64(v & refHalfMask) // #nosec G115 -- v is masked to 62 bits: 31 bits each
}

// recordSum is the sum of a record whose source gave none: the hash of its
// parsed, normalised form.
func recordSum(r steward.Record) uint64 {
	b, _ := json.Marshal(r) // Pos and Sum are not marshalled
	return max(1, xxhash.Sum64(b))
}

// sumsOrNil is g's sums; nil for no digest.
func (g *syncDigest) sumsOrNil() []uint64 {
	if g == nil {
		return nil
	}
	return g.sums
}

// newSyncDigest indexes entries already sorted by sum.
func newSyncDigest(sums, refs []uint64) *syncDigest {
	// About 8-16 entries a bucket: the bucket index (4 bytes a bucket)
	// stays small enough to be cached, and a bucket's sums span a cache
	// line or two. Lookups are most of a re-sync's CPU.
	b := min(24, max(1, bits.Len(uint(len(sums)))-4))
	words := (len(sums) + 63) / 64
	g := &syncDigest{sums: sums, refs: refs, shift: uint(64 - b), start: make([]uint32, 1<<b+1), seen: make([]uint64, words), added: make([]uint64, words)}
	for _, s := range sums {
		g.start[s>>g.shift+1]++
	}
	for i := 1; i < len(g.start); i++ {
		g.start[i] += g.start[i-1]
	}
	return g
}

// find returns the index of sum's entry, or -1: none, or its row has been
// written outside a sync since (its record must be read and compared).
// Safe for concurrent use.
func (g *syncDigest) find(sum uint64) int {
	if g == nil {
		return -1
	}
	b := sum >> g.shift
	i := g.scan(sum, g.start[b], g.start[b+1])
	if i >= 0 && g.isDirty(i) {
		return -1
	}
	return i
}

func (g *syncDigest) isDirty(i int) bool { return g.dirty != nil && g.dirty[i/64]&(1<<(i%64)) != 0 }

// scan looks for sum among the sorted entries [from, to).
func (g *syncDigest) scan(sum uint64, from, to uint32) int {
	for i := from; i < to; i++ {
		switch s := g.sums[i]; {
		case s == sum:
			return int(i)
		case s > sum:
			return -1
		}
	}
	return -1
}

// skip is a Skipper's known (steward.KnownFunc): a record may be skipped
// when the digest holds its sum and the stream has not brought it back
// before; it is marked brought back. A record seen a second time is parsed,
// so that see reports it where it is. Safe for concurrent use (the JSONL
// importer calls it from its workers).
//
// Lookups land at random in tens of megabytes and wait on memory. They are
// done eight at a time, the first load of each before any is compared, so
// that the eight cache misses overlap instead of following one another.
func (g *syncDigest) skip(sums []uint64, skip []bool) {
	const group = 8
	for len(sums) > 0 {
		n := min(group, len(sums))
		var at, end [group]uint32
		var first [group]uint64
		for k := range n {
			b := sums[k] >> g.shift
			at[k], end[k] = g.start[b], g.start[b+1]
		}
		for k := range n {
			if at[k] < end[k] {
				first[k] = g.sums[at[k]]
			}
		}
		for k := range n {
			i, sum := -1, sums[k]
			if at[k] < end[k] && first[k] <= sum {
				i = g.scan(sum, at[k], end[k])
			}
			if i >= 0 && !g.isDirty(i) {
				bit := uint64(1) << (i % 64)
				skip[k] = atomic.OrUint64(&g.seen[i/64], bit)&bit == 0
			}
		}
		sums, skip = sums[n:], skip[n:]
	}
}

// seenCountOrZero is seenCount; 0 for no digest.
func (g *syncDigest) seenCountOrZero() int {
	if g == nil {
		return 0
	}
	return g.seenCount()
}

// seenCount counts the entries marked seen.
func (g *syncDigest) seenCount() int {
	n := 0
	for _, w := range g.seen {
		n += bits.OnesCount64(w)
	}
	return n
}

// see marks sum's entry as brought back; again reports that it already was
// (the same record twice in one stream).
func (g *syncDigest) see(sum uint64) (found, again bool) {
	i := g.find(sum)
	if i < 0 {
		return false, false
	}
	bit := uint64(1) << (i % 64)
	return true, atomic.OrUint64(&g.seen[i/64], bit)&bit != 0
}

func (g *syncDigest) wasSeen(i int) bool { return g.seen[i/64]&(1<<(i%64)) != 0 }

// digestEntry is one (sum, ref) pair of a digest being built.
type digestEntry struct{ sum, ref uint64 }

// A digest row holds its entries one after the other, 16 bytes each: the
// sum, then the ref, little-endian.

// entryAt reads the entry that starts at b[i].
func entryAt(b []byte, i int) digestEntry {
	return digestEntry{binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])}
}

// appendEntry appends e to a row.
func appendEntry(b []byte, e digestEntry) []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(b, e.sum), e.ref)
}

// A digest is written whole (its base, rows chunk >= 0, sorted) after a
// first or Full sync, and after a sync that changed more than an eighth of
// it. A sync that changed less writes only what changed since the base: the
// entries added (row digestAdds, sorted) and the sums of base entries
// dropped (row digestDrops, ref 0). Rewriting a million identities' digest
// takes seconds; a 1% change's delta, milliseconds.
const (
	digestAdds  = -1
	digestDrops = -2
)

// loadDigest reads a system's digest, base and delta merged, or nil when
// there is none, it was taken under another context, or it does not read
// back whole.
//
// The base rows are read straight into their place in the digest's arrays,
// after room for the delta's adds, and the delta is then merged in place.
// A base of a million identities' export is 96 MB, and most of its
// reading is the copying and the first touch of fresh memory
// (the pages of a 96 MB array cost 0.3 s on a virtual machine), so par,
// when not nil, reads the base rows on several connections at once. par
// must see what q sees: it is given only to a sync that reads outside its
// write transaction and makes sure, once it holds the write lock, that no
// sync of the system has committed since (systemSync.unchanged); a row
// read across another sync's commit then only costs a restart.
func (d *DB) loadDigest(ctx context.Context, q, par querier, systemID int64, context string) (*syncDigest, error) {
	// Only the rows' sizes first: length() of a blob reads its row's
	// header, not all of it. (taken_at, a column added after entries,
	// sits at the end of each row's overflow chain: it is read from the
	// first row alone below, and from each row with its entries.)
	var base []digestRow
	delta, whole, total := false, true, 0
	err := d.eachRow(ctx, q, `SELECT chunk, length(entries) FROM sync_digests WHERE system_id = ? AND context = ? ORDER BY chunk`,
		[]any{systemID, context}, func(rows *sql.Rows) error {
			var r digestRow
			if err := rows.Scan(&r.chunk, &r.size); err != nil {
				return err
			}
			whole = whole && r.size%16 == 0
			if r.chunk < 0 {
				delta = true
			} else {
				r.at, total = total, total+r.size
				base = append(base, r)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if len(base) == 0 || !whole {
		return nil, nil // none, a delta without its base, or not whole
	}
	// The base's time is in each of its rows (saveDigest): the first row's,
	// read alone, says whether to read the rest.
	var taken int64
	if err := q.QueryRowContext(ctx, d.q(`SELECT taken_at FROM sync_digests WHERE system_id = ? AND chunk = ?`), systemID, base[0].chunk).Scan(&taken); err != nil {
		return nil, err
	}
	if age := d.now().Sub(fromMicro(taken)); age > d.digestMaxAge {
		// Bounds how long a wrong skip could last: two records sharing a
		// 64-bit sum, or a digest gone astray, show at the next full
		// comparison.
		d.logger.Info("sync digest older than its limit; comparing every record", "system_id", systemID,
			"age", age.Round(time.Second), "limit", d.digestMaxAge)
		return nil, nil
	}
	m := &digestMerge{}
	if delta {
		if err := d.eachRow(ctx, q, `SELECT chunk, entries FROM sync_digests WHERE system_id = ? AND context = ? AND chunk < 0 ORDER BY chunk`,
			[]any{systemID, context}, m.delta); err != nil {
			return nil, err
		}
	}
	n := total / 16
	room := len(m.adds)
	sums, refs := make([]uint64, room+n), make([]uint64, room+n)
	if err := d.readBase(ctx, q, par, systemID, context, base, sums[room:], refs[room:]); err != nil {
		return nil, err
	}
	for _, r := range base {
		if r.taken != taken {
			return nil, errRestage // another base since the first row was read
		}
	}
	if !m.merge(sums, refs, room) || !slices.IsSorted(m.drops) {
		d.logger.Warn("sync digest out of order; the next sync compares every record", "system_id", systemID)
		return nil, nil
	}
	g := newSyncDigest(m.sums, m.refs)
	g.base, g.drops, g.taken = n, m.drops, taken
	for _, i := range m.fromAdds {
		g.added[i/64] |= 1 << (i % 64)
	}
	return g, nil
}

// digestRow is one base row of a digest: where its entries go, and its
// base's time once read.
type digestRow struct {
	chunk, size, at int // at: its first byte's place in the base
	taken           int64
}

// readBase reads the base rows into sums and refs: in one statement on q,
// or, given par, in as many runs of rows as it reads at once, a statement
// each. One statement for many rows lets PostgreSQL read a row out of its
// TOAST table while the one before is decoded here (a statement a row of
// 16 MiB took 1.8-2.6 s for six rows, one statement 1.0-1.7 s).
func (d *DB) readBase(ctx context.Context, q, par querier, systemID int64, context string, base []digestRow, sums, refs []uint64) error {
	if par == nil {
		return d.readRows(ctx, q, systemID, context, base, sums, refs)
	}
	var g errgroup.Group
	n := max(2, min(4, runtime.GOMAXPROCS(0)))
	per := (len(base) + n - 1) / n
	for run := range slices.Chunk(base, per) {
		g.Go(func() error { return d.readRows(ctx, par, systemID, context, run, sums, refs) })
	}
	return g.Wait()
}

// readRows reads a run of base rows, in order, into their places in sums
// and refs. A row that is gone, or another, or of another size by the time
// it is read was rewritten by another sync since the sizes were read: the
// sync must start over (errRestage).
func (d *DB) readRows(ctx context.Context, q querier, systemID int64, context string, run []digestRow, sums, refs []uint64) error {
	i := 0
	err := d.eachRow(ctx, q, `SELECT chunk, entries, taken_at FROM sync_digests WHERE system_id = ? AND context = ? AND chunk BETWEEN ? AND ? ORDER BY chunk`,
		[]any{systemID, context, run[0].chunk, run[len(run)-1].chunk}, func(rows *sql.Rows) error {
			var chunk int
			var b sql.RawBytes // read in place
			if i >= len(run) {
				return errRestage
			}
			r := &run[i]
			i++
			if err := rows.Scan(&chunk, &b, &r.taken); err != nil {
				return err
			}
			if chunk != r.chunk || len(b) != r.size {
				return errRestage
			}
			at := r.at / 16
			for k := 0; k+16 <= len(b); k += 16 {
				e := entryAt(b, k)
				sums[at], refs[at] = e.sum, e.ref
				at++
			}
			return nil
		})
	if err == nil && i < len(run) {
		return errRestage
	}
	return err
}

// digestMerge merges a digest's delta, its drops and adds, into its base
// entries, all in order of sum.
type digestMerge struct {
	drops    []uint64
	adds     []digestEntry
	sums     []uint64 // the merged entries' sums
	refs     []uint64 // and refs
	fromAdds []int    // the merged entries that came from adds
}

// delta reads one row of the delta.
func (m *digestMerge) delta(rows *sql.Rows) error {
	var chunk int
	var b sql.RawBytes
	if err := rows.Scan(&chunk, &b); err != nil {
		return err
	}
	for i := 0; i+16 <= len(b); i += 16 {
		e := entryAt(b, i)
		switch chunk {
		case digestDrops:
			m.drops = append(m.drops, e.sum)
		case digestAdds:
			m.adds = append(m.adds, e)
		}
	}
	return nil
}

// merge merges the adds and drops into the base entries, which start at
// sums[room] and refs[room], room being the number of adds: the merged
// entries are written from the start of the same arrays, never past the
// base entry read next. A base entry dropped since is left out; one added
// again since gives way to the add. false: the entries are out of order.
func (m *digestMerge) merge(sums, refs []uint64, room int) bool {
	w, ai, di := 0, 0, 0
	ordered := true
	out := func(sum, ref uint64, added bool) {
		if w > 0 && sum <= sums[w-1] {
			ordered = false
		}
		if added {
			m.fromAdds = append(m.fromAdds, w)
		}
		sums[w], refs[w] = sum, ref
		w++
	}
	for r := room; r < len(sums); r++ {
		sum, ref := sums[r], refs[r]
		for ; ai < len(m.adds) && m.adds[ai].sum < sum; ai++ {
			out(m.adds[ai].sum, m.adds[ai].ref, true)
		}
		for di < len(m.drops) && m.drops[di] < sum {
			di++
		}
		switch {
		case di < len(m.drops) && m.drops[di] == sum: // dropped since
		case ai < len(m.adds) && m.adds[ai].sum == sum: // added again since: the add stands
		default:
			out(sum, ref, false)
		}
	}
	for ; ai < len(m.adds); ai++ {
		out(m.adds[ai].sum, m.adds[ai].ref, true)
	}
	m.sums, m.refs = sums[:w], refs[:w]
	return ordered
}

// dropDigest deletes the digest of one system.
func (d *DB) dropDigest(ctx context.Context, q querier, systemID int64) error {
	_, err := q.ExecContext(ctx, d.q(`DELETE FROM sync_digests WHERE system_id = ?`), systemID)
	return err
}

// dropEveryDigest deletes the digests of every system.
func (d *DB) dropEveryDigest(ctx context.Context, q querier) error {
	_, err := q.ExecContext(ctx, `DELETE FROM sync_digests WHERE 1 = 1`)
	return err
}

// refWhole, in sync_dirty, marks a whole system: its next whole sync
// compares every record.
const refWhole = 0

// markDirty records that a write outside a whole sync wrote row ref of
// the system that the identity (ofIdentity) or system id names.
func (d *DB) markDirty(ctx context.Context, q querier, id int64, ofIdentity bool, ref uint64) error {
	query := `INSERT INTO sync_dirty (system_id, ref) VALUES (?, ?)`
	args := []any{id, int64(ref)} // #nosec G115 -- a ref kept in a BIGINT column: the bits are kept, the sign means nothing
	if ofIdentity {
		query = `INSERT INTO sync_dirty (system_id, ref) SELECT system_id, ? FROM identities WHERE id = ?`
		args = []any{int64(ref), id} // #nosec G115 -- a ref kept in a BIGINT column: the bits are kept, the sign means nothing
	}
	_, err := q.ExecContext(ctx, d.q(query), args...)
	return err
}

// forgetDigest is for a write to a system too large to name row by row: the
// digest goes, and the mark keeps a sync running meanwhile, which read it
// before, from writing it back.
func (d *DB) forgetDigest(ctx context.Context, q querier, systemID int64) error {
	if err := d.dropDigest(ctx, q, systemID); err != nil {
		return err
	}
	return d.markDirty(ctx, q, systemID, false, refWhole)
}

// dirtyRows is what sync_dirty held for a system when a sync read it.
type dirtyRows struct {
	ids   []int64  // its rows, to delete once the sync has compared them
	refs  []uint64 // what they name, without repeats
	whole bool     // a mark of the whole system
}

// readDirty reads the marks of a system's writes outside a whole sync.
func (d *DB) readDirty(ctx context.Context, q querier, systemID int64) (*dirtyRows, error) {
	dr := &dirtyRows{}
	seen := map[uint64]bool{}
	err := d.eachRow(ctx, q, `SELECT id, ref FROM sync_dirty WHERE system_id = ?`, []any{systemID}, func(rows *sql.Rows) error {
		var id, ref int64
		if err := rows.Scan(&id, &ref); err != nil {
			return err
		}
		dr.ids = append(dr.ids, id)
		switch r := uint64(ref); { // #nosec G115 -- a ref read back from a BIGINT column: the bits are kept, the sign means nothing
		case r == refWhole:
			dr.whole = true
		case !seen[r]:
			seen[r] = true
			dr.refs = append(dr.refs, r)
		}
		return nil
	})
	return dr, err
}

// apply marks g's entries of rows written outside a sync, so that their
// records are read and compared, and keeps the rows no entry names to be
// compared too. false: compare every record instead (a whole-system mark,
// or more marks than an eighth of the digest, where reading everything
// costs little more).
func (dr *dirtyRows) apply(g *syncDigest) bool {
	if dr.whole || len(dr.refs) > len(g.refs)/8 {
		return false
	}
	if len(dr.refs) == 0 {
		return true
	}
	want := make(map[uint64]bool, len(dr.refs))
	for _, r := range dr.refs {
		want[r] = false
	}
	g.dirty = make([]uint64, len(g.seen))
	for i, r := range g.refs {
		if _, ok := want[r]; ok {
			g.dirty[i/64] |= 1 << (i % 64)
			want[r] = true
		}
	}
	for _, r := range dr.refs { // in the order read: the same run to run
		if !want[r] {
			g.extra = append(g.extra, r)
		}
	}
	return true
}

// clearDirty deletes the marks a sync read, once it has compared what they
// name; marks written since stay for the next sync.
func (d *DB) clearDirty(ctx context.Context, q querier, dr *dirtyRows) error {
	for ids := dr.ids; len(ids) > 0; {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if _, err := q.ExecContext(ctx, d.q(`DELETE FROM sync_dirty WHERE id IN (?`+strings.Repeat(", ?", n-1)+`)`), args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// saveDigest replaces a system's digest with the entries next yields in
// order of sum. A digest that cannot be trusted (two records with one sum,
// a ref that does not fit) is not written; the next sync reads everything.
//
// taken is when the entries were last all compared with the inventory: now
// after a run that compared every record; the old base's time when a run
// that skipped records rewrites the base whole, so that DigestMaxAge bounds
// how long any entry goes without a full comparison.
func (d *DB) saveDigest(ctx context.Context, c *sql.Conn, systemID int64, context string, taken int64, n int, next func() (digestEntry, bool)) error {
	if err := d.dropDigest(ctx, c, systemID); err != nil {
		return err
	}
	per := digestChunk
	if d.digestChunk > 0 {
		per = d.digestChunk
	}
	// Rows go digestRowsPerInsert at a time to copyRows (COPY on
	// PostgreSQL): a statement a row of 64 KiB would be a round trip each,
	// 1,500 for a million identities' export.
	rows := make([][]any, 0, digestRowsPerInsert)
	bufs := make([][]byte, digestRowsPerInsert)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 16*min(n, per))
	}
	cols := []string{"system_id", "chunk", "context", "entries", "taken_at"}
	flush := func() error {
		if err := d.copyRows(ctx, c, "sync_digests", cols, rows); err != nil {
			return fmt.Errorf("save sync digest: %w", err)
		}
		for i := range rows {
			bufs[i] = bufs[i][:0] // the rows are written: their buffers are free again
		}
		rows = rows[:0]
		return nil
	}
	chunk, prev, first := 0, uint64(0), true
	for {
		e, ok := next()
		if !ok {
			break
		}
		if !first && e.sum <= prev {
			d.logger.Info("two records of one sync share a sum; no digest kept", "system_id", systemID)
			return d.dropDigest(ctx, c, systemID)
		}
		first, prev = false, e.sum
		if bufs[len(rows)] = appendEntry(bufs[len(rows)], e); len(bufs[len(rows)]) == 16*per {
			rows = append(rows, []any{systemID, chunk, context, bufs[len(rows)], taken})
			chunk++
			if len(rows) == len(bufs) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if len(bufs[len(rows)]) > 0 {
		rows = append(rows, []any{systemID, chunk, context, bufs[len(rows)], taken})
	}
	return flush()
}

// digestRowsPerInsert is how many rows of a digest saveDigest hands to
// copyRows at a time.
const digestRowsPerInsert = 16

// saveDelta replaces a system's delta rows, keeping its base.
func (d *DB) saveDelta(ctx context.Context, q querier, systemID int64, context string, adds []digestEntry, drops []uint64) error {
	if _, err := q.ExecContext(ctx, d.q(`DELETE FROM sync_digests WHERE system_id = ? AND chunk < 0`), systemID); err != nil {
		return err
	}
	for _, row := range []struct {
		chunk int
		n     int
		entry func(i int) digestEntry
	}{
		{digestAdds, len(adds), func(i int) digestEntry { return adds[i] }},
		{digestDrops, len(drops), func(i int) digestEntry { return digestEntry{sum: drops[i]} }},
	} {
		if row.n == 0 {
			continue
		}
		buf := make([]byte, 0, 16*row.n)
		for i := range row.n {
			buf = appendEntry(buf, row.entry(i))
		}
		if _, err := q.ExecContext(ctx, d.q(`INSERT INTO sync_digests (system_id, chunk, context, entries) VALUES (?, ?, ?, ?)`),
			systemID, row.chunk, context, buf); err != nil {
			return fmt.Errorf("save sync digest: %w", err)
		}
	}
	return nil
}

// unseenTables hold, for a run that skipped unchanged records, the rows its
// digest listed and its stream did not bring back: each changed or gone.
var unseenTables = []string{"unseen_identities", "unseen_entitlements", "unseen_grants"}

// writeUnseen fills the unseen tables from the digest after staging.
func (d *DB) writeUnseen(ctx context.Context, c *sql.Conn, dg *syncDigest) error {
	if err := d.createTemp(ctx, c, unseenTables...); err != nil {
		return err
	}
	rows := map[string][][]any{}
	unseen := func(yield func(uint64) bool) {
		for i, ref := range dg.refs {
			if !dg.wasSeen(i) && !yield(ref) {
				return
			}
		}
		for _, ref := range dg.extra { // written outside a sync, named by no entry
			if !yield(ref) {
				return
			}
		}
	}
	for ref := range unseen {
		switch refKind(ref) {
		case refIdentity:
			rows["unseen_identities"] = append(rows["unseen_identities"], []any{refID(ref)})
		case refEntitlement:
			rows["unseen_entitlements"] = append(rows["unseen_entitlements"], []any{refID(ref)})
		case refGrant:
			a, b := refPair(ref)
			rows["unseen_grants"] = append(rows["unseen_grants"], []any{a, b})
		}
	}
	cols := map[string][]string{"unseen_identities": {"id"}, "unseen_entitlements": {"id"}, "unseen_grants": {"identity_id", "entitlement_id"}}
	for _, t := range unseenTables {
		if err := d.copyRows(ctx, c, t, cols[t], rows[t]); err != nil {
			return err
		}
		if d.pg {
			if _, err := c.ExecContext(ctx, `ANALYZE `+t); err != nil { // #nosec G202 -- t is one of unseenTables: the store's own names, never input; values are bound as parameters
				return err
			}
		}
	}
	return nil
}

// checkSkipped finds the skipped records that the rest of the stream has
// made wrong: a grant, unchanged, whose identity or entitlement the source
// no longer lists. Their lines were not read, so the run is repeated in
// full, which names them.
func (d *DB) checkSkipped(ctx context.Context, c *sql.Conn, dg *syncDigest) error {
	goneIdentities, err := d.ids(ctx, c, `SELECT u.id FROM unseen_identities u CROSS JOIN identities x
		WHERE x.id = u.id AND NOT EXISTS (SELECT 1 FROM stage_identities s WHERE s.external_id = x.external_id)`)
	if err != nil {
		return err
	}
	goneEntitlements, err := d.ids(ctx, c, `SELECT u.id FROM unseen_entitlements u CROSS JOIN entitlements e
		WHERE e.id = u.id AND NOT EXISTS (SELECT 1 FROM stage_entitlements s WHERE s.name = e.name)`)
	if err != nil {
		return err
	}
	if len(goneIdentities)+len(goneEntitlements) == 0 {
		return nil
	}
	goneI, goneE := map[int64]bool{}, map[int64]bool{}
	for _, id := range goneIdentities {
		goneI[id] = true
	}
	for _, id := range goneEntitlements {
		goneE[id] = true
	}
	for i, ref := range dg.refs {
		if refKind(ref) != refGrant || !dg.wasSeen(i) {
			continue
		}
		if a, b := refPair(ref); goneI[a] || goneE[b] {
			return errCompareAll
		}
	}
	return nil
}

// renewDigest writes the system's digest after a whole sync: the entries
// the stream brought back unchanged, and the rows of what it staged.
//
// staged bounds how many records the run staged (for one allocation of the
// right size: at a first load of millions, growing the slice would leave as
// much again behind as garbage).
func (d *DB) renewDigest(ctx context.Context, c *sql.Conn, systemID int64, context string, dg *syncDigest, staged int) error {
	fresh, fits, err := d.stagedDigest(ctx, c, systemID, staged)
	if err != nil {
		return err
	}
	return d.saveRenewed(ctx, c, systemID, context, dg, fresh, fits)
}

// stagedDigest reads the entries of what a run staged: each staged record's
// sum and the row it became. fits is false when a row's ids do not fit a ref.
func (d *DB) stagedDigest(ctx context.Context, c *sql.Conn, systemID int64, staged int) (fresh []digestEntry, fits bool, err error) {
	fresh = make([]digestEntry, 0, staged)
	fits = true
	for _, q := range []struct {
		sql string
		ref func(a, b int64) (uint64, bool)
	}{
		{`SELECT s.rsum, x.id, 0 FROM stage_identities s CROSS JOIN identities x WHERE x.system_id = ? AND x.external_id = s.external_id`,
			func(a, _ int64) (uint64, bool) { return identityRef(a), true }},
		{`SELECT s.rsum, e.id, 0 FROM stage_entitlements s CROSS JOIN entitlements e WHERE e.system_id = ? AND e.name = s.name`,
			func(a, _ int64) (uint64, bool) { return entitlementRef(a), true }},
		{`SELECT rsum, identity_id, entitlement_id FROM resolved_grants WHERE ? > 0`, grantRef},
	} {
		err := d.eachRow(ctx, c, q.sql, []any{systemID}, func(rows *sql.Rows) error {
			var sum, a, b int64
			if err := rows.Scan(&sum, &a, &b); err != nil {
				return err
			}
			ref, ok := q.ref(a, b)
			fits = fits && ok
			fresh = append(fresh, digestEntry{uint64(sum), ref}) // #nosec G115 -- a 64-bit hash read back from a BIGINT column: the bits are kept, the sign means nothing
			return nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	return fresh, fits, nil
}

// saveRenewed writes the digest of a whole sync: dg's entries that the
// stream brought back (none without dg) and fresh, the entries of the
// records it read in full, in any order.
func (d *DB) saveRenewed(ctx context.Context, c *sql.Conn, systemID int64, context string, dg *syncDigest, fresh []digestEntry, fits bool) error {
	if !fits {
		d.logger.Info("ids too large for a sync digest; every sync of this system compares every record", "system_id", systemID)
		return d.dropDigest(ctx, c, systemID)
	}
	cmpEntry := func(a, b digestEntry) int { return cmp.Compare(a.sum, b.sum) }
	slices.SortFunc(fresh, cmpEntry)
	if dg != nil {
		// What changed since the base: the adds still seen and the fresh
		// ones; the base entries not seen, with those dropped before.
		var adds []digestEntry
		var drops []uint64
		kept := 0
		for i, sum := range dg.sums {
			switch seen, added := dg.wasSeen(i), dg.added[i/64]&(1<<(i%64)) != 0; {
			case seen:
				kept++
				if added {
					adds = append(adds, digestEntry{sum, dg.refs[i]})
				}
			case !added:
				drops = append(drops, sum)
			}
		}
		if len(fresh) == 0 && kept == len(dg.sums) {
			return nil // the same records as last time: the digest stands
		}
		adds = append(adds, fresh...)
		slices.SortFunc(adds, cmpEntry)
		drops = append(drops, dg.drops...)
		slices.Sort(drops)
		if len(adds)+len(drops) <= dg.base/8 {
			return d.saveDelta(ctx, c, systemID, context, adds, drops)
		}
	}
	// Write it whole: the entries seen (in order already) merged with the
	// fresh ones.
	i, j := 0, 0
	next := func() (digestEntry, bool) {
		for dg != nil && i < len(dg.sums) && !dg.wasSeen(i) {
			i++
		}
		haveOld := dg != nil && i < len(dg.sums)
		switch {
		case haveOld && (j >= len(fresh) || dg.sums[i] < fresh[j].sum):
			i++
			return digestEntry{dg.sums[i-1], dg.refs[i-1]}, true
		case j < len(fresh):
			j++
			return fresh[j-1], true
		}
		return digestEntry{}, false
	}
	taken := micro(d.now())
	if dg != nil {
		taken = dg.taken
	}
	return d.saveDigest(ctx, c, systemID, context, taken, len(fresh)+len(dg.sumsOrNil()), next)
}
