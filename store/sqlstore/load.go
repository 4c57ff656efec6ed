package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward"
)

// A first load is the first whole sync of a system that holds no inventory:
// no record has a row to be compared with, so nothing needs staging. Each
// record goes straight into the live tables under an id the load gives out
// itself, and the checks a staged sync makes in SQL (a key listed twice, a
// grant that names nobody) are made in memory as the records stream by.
// Staging the records, indexing the stage, resolving grants to ids by joins
// and reading the digest's refs back were half of a first load's time
// (bench/RESULTS.md).
//
// It keeps, while it runs, each identity's and entitlement's key and id, the
// pair of every grant (to find one listed twice) and each record's digest
// entry: about 250 MB at a million identities and five million grants, the
// size of the system, as a re-sync's digest is.
//
// A grant read before its identity or entitlement (a source that lists
// grants first) is staged and resolved at the end in SQL, so that memory
// does not hold the records themselves whatever their order.
//
// On SQLite a first load runs with foreign key checks off (bulkTxFK): every
// reference it writes is to a row it wrote itself or read in the same
// transaction (the system, people and teams of owner resolution), and
// checking two parents per grant was a third of the grants' insert time.
// The tests run SQLite's foreign_key_check after loads. On PostgreSQL the
// grants' foreign keys are checked once, when added back (laterIndexes).
type firstLoad struct {
	d        *DB
	c        *sql.Conn
	sys      *steward.System
	res      *steward.SyncResult
	bad      *problems
	now      int64
	via      string
	identity keyIDs // external id → id
	ent      keyIDs // name → id
	pairs    pairSet
	fresh    []digestEntry
	fits     bool
	rows     loadFlush // rows waiting for their insert, per table
	size     int       // rowBytes of rows
	flushes  chan<- loadFlush
	ctx      context.Context // the load's, for the builder's own queries
	done     <-chan struct{}
	spilled  int                            // grants staged for the end
	took     [len(loadTables)]time.Duration // per table, for the debug log
	later    [len(loadTables)]laterIndexes  // identities and grants
	locked   bool                           // PostgreSQL: the inventory tables are locked for the drops
}

// keyIDs gives out ids for the rows of one table and remembers them by key.
// An index into ids stands for a row in the grants' pair set: dense, so
// that a pair fits 64 bits whatever the ids.
type keyIDs struct {
	table string
	index map[string]uint32
	ids   []int64
	next  int64   // SQLite: the next id
	seq   string  // PostgreSQL: the table's sequence
	pool  []int64 // PostgreSQL: ids taken from it
}

// The tables a first load writes, in the order of loadTables.
const (
	loadEntitlements = iota
	loadIdentities
	loadCredentials
	loadGrants
	loadSpilled
	loadLinks
)

var loadTables = [...]struct {
	name string
	cols []string
}{
	{"entitlements", []string{"id", "system_id", "name", "description", "privileged", "sensitivity", "created_at", "content_hash"}},
	{"identities", []string{"id", "system_id", "external_id", "name", "kind", "environment", "criticality", "status", "labels", "owner_hint", "team_hint",
		"created_at", "last_used_at", "updated_at", "content_hash", "owner_id", "team_id", "owner_source", "owner_by", "team_by", "owner_rule", "oldest_credential_at"}},
	{"credentials", []string{"identity_id", "external_id", "kind", "status", "version", "created_at", "last_rotated_at", "last_used_at", "expires_at", "content_hash"}},
	{"grants", []string{"identity_id", "entitlement_id", "type", "granted_at", "expires_at", "granted_via", "content_hash"}},
	{"stage_grants", stageCols["stage_grants"]},
	{"stage_links", stageCols["stage_links"]}, // written to identity_links by a join at the end
}

// loadRec is one record as the reading goroutine hands it over: checked,
// summed and with its owner resolved, or a problem to report.
type loadRec struct {
	rec     steward.Record
	sum     uint64
	hash    string
	owner   string // normalised owner tag
	to      steward.OwnerDecision
	problem string
}

// systemEmpty reports whether a system has no identities and no
// entitlements (and so no credentials or grants).
func (d *DB) systemEmpty(ctx context.Context, q querier, systemID int64) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, d.q(`SELECT (SELECT count(*) FROM (SELECT 1 FROM identities WHERE system_id = ? LIMIT 1) a)
		+ (SELECT count(*) FROM (SELECT 1 FROM entitlements WHERE system_id = ? LIMIT 1) b)`), systemID, systemID).Scan(&n)
	return n == 0, err
}

// loadFirst writes the records of a first load into the live tables and
// returns the entries of the system's new digest. Problems go to bad; once
// there is one, nothing more is written (the run will be rolled back) but
// every record is still read and checked, so that all are reported.
func (d *DB) loadFirst(ctx context.Context, c *sql.Conn, sys *steward.System, records iter.Seq2[steward.Record, error], o steward.SyncOptions,
	res *steward.SyncResult, bad *problems, resolver *ownerResolver) (fresh []digestEntry, fits bool, err error) {
	l, err := d.newFirstLoad(ctx, c, sys, o, res, bad)
	if err != nil {
		return nil, false, err
	}
	if err := l.stream(ctx, records, o.Environment, resolver); err != nil {
		return nil, false, err
	}
	if err := l.spilledGrants(ctx); err != nil {
		return nil, false, err
	}
	// The digest's entries are sorted while the indexes are built (the
	// digest is written sorted): a second off the writer's critical path.
	sorted := make(chan struct{})
	go func() {
		defer close(sorted)
		slices.SortFunc(l.fresh, func(a, b digestEntry) int { return cmp.Compare(a.sum, b.sum) })
	}()
	defer func() { <-sorted }() // never hand out the slice while it is being sorted
	if err := l.finish(ctx); err != nil {
		return nil, false, err
	}
	return l.fresh, l.fits, nil
}

// newFirstLoad prepares a first load: where the identities' and grants'
// indexes wait (laterIndexes) and where each table's ids begin.
func (d *DB) newFirstLoad(ctx context.Context, c *sql.Conn, sys *steward.System, o steward.SyncOptions, res *steward.SyncResult, bad *problems) (*firstLoad, error) {
	l := &firstLoad{d: d, c: c, sys: sys, res: res, bad: bad, now: micro(d.now()), via: syncVia(o),
		identity: keyIDs{table: "identities", index: map[string]uint32{}},
		ent:      keyIDs{table: "entitlements", index: map[string]uint32{}},
		fits:     true}
	for _, t := range []int{loadIdentities, loadGrants} {
		if err := l.later[t].init(ctx, l, loadTables[t].name); err != nil {
			return nil, err
		}
	}
	for _, k := range []*keyIDs{&l.identity, &l.ent} {
		q := `SELECT COALESCE(MAX(id), 0) + 1 FROM ` + k.table
		dst := any(&k.next)
		if d.pg {
			// The builder takes ids from it by name (see takeIDs).
			q, dst = `SELECT pg_get_serial_sequence('`+k.table+`', 'id')`, &k.seq
		}
		if err := c.QueryRowContext(ctx, q).Scan(dst); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// stream runs the load's pipeline over the records, in three goroutines:
// the reader normalises and hashes records (readLoad), the builder checks
// them and turns them into rows with ids (builder), and this one writes the
// rows. On SQLite the writer is the bottleneck; it does nothing else. A
// failure in any of them stops those before it; the first to fail in
// pipeline order from the writer back is the one returned.
func (l *firstLoad) stream(ctx context.Context, records iter.Seq2[steward.Record, error], env steward.Environment, resolver *ownerResolver) error {
	batches := make(chan []loadRec, 4)
	flushes := make(chan loadFlush, 2)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done) }) }
	l.ctx, l.flushes, l.done = ctx, flushes, done
	var fatal, buildErr error
	go func() {
		defer close(batches) // after fatal is set: the builder reads it once batches end
		fatal = readLoad(records, env, l.sys, resolver, batches, done)
	}()
	go func() {
		defer close(flushes)
		buildErr = l.builder(batches, stop)
		if buildErr == nil && fatal == nil {
			buildErr = l.flush(0)
		}
	}()
	var err error
	for f := range flushes {
		if err == nil {
			if err = l.write(ctx, f); err != nil {
				stop() // the builder stops; drain what it already sent
			}
		}
	}
	switch {
	case err != nil:
		return err
	case fatal != nil:
		return fatal
	}
	return buildErr
}

// readLoad reads the stream and sends its records to batches, each read
// for the load (readForLoad) or as the problem to report, until the stream
// ends, fails (its error is returned) or done is closed.
func readLoad(records iter.Seq2[steward.Record, error], env steward.Environment, sys *steward.System, resolver *ownerResolver,
	batches chan<- []loadRec, done <-chan struct{}) error {
	buf := make([]loadRec, 0, stageBatch)
	size := 0 // recordBytes of buf
	send := func() bool {
		select {
		case batches <- buf:
			buf, size = make([]loadRec, 0, stageBatch), 0
			return true
		case <-done:
			return false
		}
	}
	for r, err := range records {
		var lr loadRec
		switch {
		case err != nil:
			if steward.ErrorCode(err) != steward.EINVALID {
				return err
			}
			lr.problem = steward.ErrorMessage(err)
		case r.Skipped():
			lr.problem = r.Pos + ": the source left this record unread."
		default:
			lr = readForLoad(r, env, sys, resolver)
		}
		buf, size = append(buf, lr), size+recordBytes(&lr.rec)
		if (len(buf) == cap(buf) || size >= maxBatchBytes) && !send() {
			return nil
		}
	}
	if len(buf) > 0 {
		send()
	}
	return nil
}

// builder takes every batch the reader sends, adding each to the load
// until one fails; then it stops the reader and drains what it already
// sent.
func (l *firstLoad) builder(batches <-chan []loadRec, stop func()) error {
	var err error
	for batch := range batches {
		if err == nil {
			if err = l.add(batch); err != nil {
				stop() // the reader stops; drain what it already sent
			}
		}
	}
	return err
}

// finish builds the indexes the load dropped and, on PostgreSQL, refreshes
// the statistics of what it wrote, so that the gap refresh and the next
// sync are planned with the rows just written (see analyzeWritten).
// Neither is done once there is a problem: the run will be rolled back.
func (l *firstLoad) finish(ctx context.Context) error {
	d := l.d
	if l.bad.n == 0 {
		for _, t := range []int{loadIdentities, loadGrants} {
			if err := l.later[t].build(ctx, l); err != nil {
				return err
			}
		}
	}
	d.logger.Debug("first load inserts", "entitlements", l.took[loadEntitlements], "identities", l.took[loadIdentities],
		"credentials", l.took[loadCredentials], "grants", l.took[loadGrants], "staged grants", l.took[loadSpilled])
	if l.bad.n == 0 && d.pg {
		for _, t := range []struct {
			table string
			rows  int
		}{{"identities", l.res.IdentitiesCreated}, {"credentials", l.res.CredentialsChanged}, {"grants", l.res.GrantsCreated}} {
			if err := d.analyzeWritten(ctx, l.c, t.table, t.rows); err != nil {
				return err
			}
		}
	}
	return nil
}

// readForLoad normalises one record and works out what its rows need:
// the sum, the content hash and, for an identity, its owner and team.
func readForLoad(r steward.Record, env steward.Environment, sys *steward.System, resolver *ownerResolver) loadRec {
	if err := r.Normalize(env); err != nil {
		return loadRec{problem: steward.ErrorMessage(steward.AtPos(r.Pos, err))}
	}
	lr := loadRec{rec: r, sum: r.Sum}
	if lr.sum == 0 {
		lr.sum = recordSum(r)
	}
	switch {
	case r.Identity != nil:
		i := r.Identity
		lr.owner = steward.NormalizeOwnerKey(i.Owner)
		lr.hash = identityDigest(i, lr.owner)
		lr.to = resolver.resolveIdentity(sys, i, lr.owner)
	case r.Entitlement != nil:
		lr.hash = entitlementDigest(r.Entitlement)
	case r.Grant != nil:
		lr.hash = grantDigest(r.Grant)
	}
	return lr
}

// add takes one batch of records in stream order (the builder).
func (l *firstLoad) add(batch []loadRec) error {
	for i := range batch {
		lr := &batch[i]
		if lr.problem != "" {
			l.bad.add(lr.problem)
			continue
		}
		l.res.Records++
		r := lr.rec
		switch {
		case r.Identity != nil:
			if err := l.addIdentity(lr); err != nil {
				return err
			}
		case r.Entitlement != nil:
			e := r.Entitlement
			if _, ok := l.ent.index[e.Name]; ok {
				l.bad.add(r.Pos + ": entitlement " + e.Name + " is listed more than once")
				continue
			}
			id, err := l.ent.add(l, e.Name)
			if err != nil {
				return err
			}
			l.res.EntitlementsChanged++
			l.fresh = append(l.fresh, digestEntry{lr.sum, entitlementRef(id)})
			l.row(loadEntitlements, id, l.sys.ID, e.Name, e.Description, e.Privileged, string(e.Sensitivity), l.now, lr.hash)
		case r.Grant != nil:
			l.addGrant(lr)
		}
		if err := l.flush(l.d.loadBatch()); err != nil {
			return err
		}
	}
	return nil
}

// idBlock is how many ids a PostgreSQL first load takes from a sequence at
// once.
const idBlock = 50_000

// loadBatch is how many rows of a table a first load hands its writer at
// once. On PostgreSQL each is one COPY, and each COPY costs round trips and
// waits for the server to finish its last row before the next begins.
func (d *DB) loadBatch() int {
	if d.loadRows > 0 {
		return d.loadRows
	}
	if d.pg {
		return 20_000
	}
	return stageBatch
}

func (l *firstLoad) addIdentity(lr *loadRec) error {
	i := lr.rec.Identity
	if _, ok := l.identity.index[i.ExternalID]; ok {
		l.bad.add(lr.rec.Pos + ": identity " + i.ExternalID + " is listed more than once")
		return nil
	}
	id, err := l.identity.add(l, i.ExternalID)
	if err != nil {
		return err
	}
	l.res.IdentitiesCreated++
	if lr.to.OwnerID != nil || lr.to.TeamID != nil {
		l.res.OwnersChanged++
	}
	l.fresh = append(l.fresh, digestEntry{lr.sum, identityRef(id)})
	// The identity's credential age: its oldest active credential's last
	// rotation, or creation when never rotated (oldestOf); a time the
	// source does not give counts for neither.
	var credCreated, credRotated []any
	for _, cr := range i.Credentials {
		if credentialStatus(&cr) == steward.CredentialActive {
			credCreated, credRotated = append(credCreated, microPtr(cr.CreatedAt)), append(credRotated, microPtr(cr.LastRotatedAt))
		}
	}
	// A creation time the source does not give stays unknown (NULL).
	l.row(loadIdentities, id, l.sys.ID, i.ExternalID, i.Name, string(i.Kind), string(i.Environment), string(i.Criticality), string(i.Status),
		labelsJSON(i.Labels), lr.owner, i.Team, microPtr(i.CreatedAt), microPtr(i.LastUsedAt), l.now, lr.hash,
		idPtr(lr.to.OwnerID), idPtr(lr.to.TeamID), string(lr.to.Source), string(lr.to.OwnerBy), string(lr.to.TeamBy), lr.to.Rule,
		oldestOf(credCreated, credRotated))
	for _, cr := range i.Credentials {
		l.res.CredentialsChanged++
		l.row(loadCredentials, id, cr.ExternalID, string(cr.Kind), string(credentialStatus(&cr)), cr.Version, microPtr(cr.CreatedAt),
			microPtr(cr.LastRotatedAt), microPtr(cr.LastUsedAt), microPtr(cr.ExpiresAt), credentialDigest(&cr))
	}
	for _, k := range i.Links {
		l.row(loadLinks, i.ExternalID, string(k.Kind), k.To)
	}
	return nil
}

func (l *firstLoad) addGrant(lr *loadRec) {
	g := lr.rec.Grant
	ii, okI := l.identity.index[g.Identity]
	ei, okE := l.ent.index[g.Entitlement]
	if !okI || !okE {
		// Not read yet, or never listed: the end tells which.
		l.spilled++
		l.row(loadSpilled, g.Identity, g.Entitlement, string(g.Type), microPtr(g.GrantedAt), microPtr(g.ExpiresAt), lr.hash, lr.rec.Pos, int64(lr.sum)) // #nosec G115 -- a 64-bit hash kept in a BIGINT column: the bits are kept, the sign means nothing
		return
	}
	if !l.pair(ii, ei) {
		l.bad.add(lr.rec.Pos + ": grant of " + g.Entitlement + " to " + g.Identity + " is listed more than once")
		return
	}
	identityID, entID := l.identity.ids[ii], l.ent.ids[ei]
	ref, ok := grantRef(identityID, entID)
	l.fits = l.fits && ok
	l.fresh = append(l.fresh, digestEntry{lr.sum, ref})
	l.res.GrantsCreated++
	granted := l.now
	if g.GrantedAt != nil {
		granted = micro(*g.GrantedAt)
	}
	l.row(loadGrants, identityID, entID, string(g.Type), granted, microPtr(g.ExpiresAt), l.via, lr.hash)
}

// pair records a grant's (identity, entitlement) pair; false if it was
// there already.
func (l *firstLoad) pair(identity, ent uint32) bool {
	return l.pairs.add(uint64(identity)<<32 | uint64(ent))
}

// pairSet is a set of 64-bit keys in one open-addressed table: 8 bytes a
// slot at most 3/4 full, about half the memory of a Go map of as many keys
// (5 million grants: 64 MB).
type pairSet struct {
	slots []uint64 // key+1; 0 is empty
	n     int
}

// add adds key; false if it was there already.
func (p *pairSet) add(key uint64) bool {
	if 4*(p.n+1) > 3*len(p.slots) {
		old := p.slots
		p.slots, p.n = make([]uint64, max(1024, 2*len(old))), 0
		for _, k := range old {
			if k != 0 {
				p.add(k - 1)
			}
		}
	}
	mask := uint64(len(p.slots) - 1) // #nosec G115 -- slots has 1024 or more entries (a power of two), made just above
	for i := (key * 0x9E3779B97F4A7C15) >> 32 & mask; ; i = (i + 1) & mask {
		switch p.slots[i] {
		case 0:
			p.slots[i] = key + 1
			p.n++
			return true
		case key + 1:
			return false
		}
	}
}

// row queues one row for table's next insert. After the first problem the
// run will be rolled back: rows are dropped rather than written, but for
// the staged grants, which are still to be checked.
func (l *firstLoad) row(table int, vals ...any) {
	if l.bad.n == 0 || table == loadSpilled {
		l.rows[table] = append(l.rows[table], vals)
		l.size += rowBytes(vals)
	}
}

// loadFlush is the rows of each table that the builder hands the writer.
type loadFlush [len(loadTables)][][]any

// flush hands the queued rows of every table to the writer once one holds
// at least least of them (0: any), or they hold maxBatchBytes.
func (l *firstLoad) flush(least int) error {
	full := l.size >= maxBatchBytes
	for t := range l.rows {
		full = full || len(l.rows[t]) > 0 && len(l.rows[t]) >= least
	}
	if !full {
		return nil
	}
	select {
	case l.flushes <- l.rows:
		l.rows, l.size = loadFlush{}, 0
		return nil
	case <-l.done:
		return errLoadStopped
	}
}

// errLoadStopped ends the builder when the writer has failed.
var errLoadStopped = errors.New("first load stopped")

// write inserts one flush's rows. Parents go before children (the order of
// loadTables), so that no row is written before a row it refers to: SQLite
// (with the checks on) would look for the orphans of each parent row it
// inserts after one, and without an index on the reference read the table
// each time.
func (l *firstLoad) write(ctx context.Context, f loadFlush) error {
	for t, rows := range f {
		if len(rows) == 0 {
			continue
		}
		if err := l.later[t].written(ctx, l, rows); err != nil {
			return err
		}
		start := time.Now()
		if err := l.d.copyRows(ctx, l.c, loadTables[t].name, loadTables[t].cols, rows); err != nil {
			return err
		}
		l.took[t] += time.Since(start)
	}
	return nil
}

// takeIDs takes a block of ids from the sequence of table (PostgreSQL), as
// inserts without an id would: other writers may take ids from it meanwhile.
// The builder takes them on a connection of its own (a sequence is outside
// transactions), so that it never waits for the writer's COPY to end.
func (d *DB) takeIDs(ctx context.Context, seq string) ([]int64, error) {
	var ids []int64
	err := d.eachRow(ctx, d.write, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, []any{seq, idBlock},
		func(rows *sql.Rows) error {
			var id int64
			err := rows.Scan(&id)
			ids = append(ids, id)
			return err
		})
	if err == nil && len(ids) == 0 {
		err = fmt.Errorf("no ids from the sequence %s", seq)
	}
	return ids, err
}

// add gives key the next id of k's table (the builder).
func (k *keyIDs) add(l *firstLoad, key string) (int64, error) {
	var id int64
	if l.d.pg {
		if len(k.pool) == 0 {
			pool, err := l.d.takeIDs(l.ctx, k.seq)
			if err != nil {
				return 0, err
			}
			k.pool = pool
		}
		id, k.pool = k.pool[0], k.pool[1:]
	} else {
		id = k.next
		k.next++
	}
	k.index[key] = uint32(len(k.ids)) // #nosec G115 -- a first load holds every key in memory (docs/sizing.md): it runs out of memory long before 2^32 keys
	k.ids = append(k.ids, id)
	return id, nil
}

// spilledGrants resolves the grants read before their identity or
// entitlement: each must name ones the load holds now, and not repeat a
// pair. Then they are inserted by a join, as a staged sync does.
func (l *firstLoad) spilledGrants(ctx context.Context) error {
	if l.spilled == 0 {
		return nil
	}
	d, c, sid := l.d, l.c, l.sys.ID
	if err := d.indexStage(ctx, c, "stage_grants"); err != nil {
		return err
	}
	err := d.eachRow(ctx, c, `SELECT identity_ext, entitlement, pos FROM stage_grants`, nil, func(rows *sql.Rows) error {
		var identity, ent, pos string
		if err := rows.Scan(&identity, &ent, &pos); err != nil {
			return err
		}
		ii, okI := l.identity.index[identity]
		ei, okE := l.ent.index[ent]
		switch {
		case !okI:
			l.bad.add(pos + ": grant names identity " + identity + ", which is not listed")
		case !okE:
			l.bad.add(pos + ": grant names entitlement " + ent + ", which is not listed")
		case !l.pair(ii, ei):
			l.bad.add(pos + ": grant of " + ent + " to " + identity + " is listed more than once")
		}
		return nil
	})
	if err != nil || l.bad.n > 0 {
		return err
	}
	from := `FROM stage_grants s CROSS JOIN identities x CROSS JOIN entitlements e
		WHERE x.system_id = ? AND x.external_id = s.identity_ext AND e.system_id = ? AND e.name = s.entitlement`
	n, err := c.ExecContext(ctx, d.q(`INSERT INTO grants (identity_id, entitlement_id, type, granted_at, expires_at, granted_via, content_hash)
		SELECT x.id, e.id, s.type, COALESCE(s.granted_at, ?), s.expires_at, ?, s.hash `+from), l.now, l.via, sid, sid)
	if err != nil {
		return err
	}
	if got, err := n.RowsAffected(); err != nil {
		return err
	} else if got != int64(l.spilled) {
		return fmt.Errorf("first load: %d of %d staged grants resolved", got, l.spilled)
	}
	l.res.GrantsCreated += l.spilled
	return d.eachRow(ctx, c, `SELECT s.rsum, x.id, e.id `+from, []any{sid, sid}, func(rows *sql.Rows) error {
		var sum, a, b int64
		if err := rows.Scan(&sum, &a, &b); err != nil {
			return err
		}
		ref, ok := grantRef(a, b)
		l.fits = l.fits && ok
		l.fresh = append(l.fresh, digestEntry{uint64(sum), ref}) // #nosec G115 -- a 64-bit hash read back from a BIGINT column: the bits are kept, the sign means nothing
		return nil
	})
}

// syncVia is how grants a sync writes say where they came from.
func syncVia(o steward.SyncOptions) string {
	if o.Source != "" {
		return "sync:" + o.Source
	}
	return "sync"
}

// laterIndexes builds a table's secondary indexes after a first load
// instead of keeping them up to date row by row, once the load is most of
// the table: both engines build an index from sorted keys several times
// faster than they insert into one (bench/RESULTS.md). The indexes are
// dropped and created again inside the load's transaction, so a failed
// load rolls the drop back with the rest.
//
// On SQLite, readers keep the old schema and its indexes until the commit.
// For identities the trigger that feeds the search index goes too, and the
// load adds the names it wrote meanwhile in one statement.
//
// On PostgreSQL the grants' foreign keys go too, and are checked once for
// the whole table when they are added back, instead of once per row at the
// commit (10 million lookups and row locks for 5 million grants). The
// price: from the drop to the commit, identities, grants and entitlements
// are locked against readers as well as writers. Since the load must first
// outgrow what the table held, that is a deployment's first large import,
// not a new system in a full one. (The identities' own foreign keys stay:
// dropping one would lock the people, teams or systems it refers to.)
type laterIndexes struct {
	table   string
	after   int64 // rows to write before dropping: the table's size, at least laterFloor
	n       int64 // rows written so far
	dropped bool
	objs    []schemaObj // what to create again, in order
	ftsFrom int64       // SQLite identities: the first id written without the search trigger
}

// schemaObj is an index, trigger or foreign key dropped for a load: how to
// drop it and how to create it again.
type schemaObj struct{ name, drop, create string }

// laterFloor is the smallest load whose indexes are built after it: below,
// dropping and creating them costs more than it saves.
const laterFloor = 50_000

// searchTrigger feeds identities_fts (SQLite, migration 0003).
const searchTrigger = "identities_fts_insert"

func (li *laterIndexes) init(ctx context.Context, l *firstLoad, table string) error {
	li.table = table
	// The largest id bounds the rows (deleted ones count too: never early).
	if err := l.c.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM `+table).Scan(&li.after); err != nil { // #nosec G202 -- table is one of the tables the first load writes: the store's own names, never input; values are bound as parameters
		return err
	}
	li.after = max(li.after, laterFloor)
	if l.d.laterFloor > 0 {
		li.after = l.d.laterFloor
	}
	return nil
}

// laterObjects lists what a load drops from a table, in the order to drop
// it: secondary indexes (not those of a primary key or unique constraint)
// and, on SQLite, the search trigger; on PostgreSQL, foreign keys.
func (d *DB) laterObjects(ctx context.Context, c *sql.Conn, table string) ([]schemaObj, error) {
	query := `SELECT name, 'DROP ' || type || ' ' || name, sql FROM sqlite_master
		WHERE tbl_name = ? AND sql IS NOT NULL AND (type = 'index' OR name = ?) ORDER BY type, name`
	args := []any{table, searchTrigger}
	if d.pg {
		query = `SELECT indexname, 'DROP INDEX ' || quote_ident(indexname), indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = $1
			AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u'))
			UNION ALL
			SELECT conname, 'ALTER TABLE ' || $1 || ' DROP CONSTRAINT ' || quote_ident(conname),
				'ALTER TABLE ' || $1 || ' ADD CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'
			AND confrelid IN ('identities'::regclass, 'entitlements'::regclass)
			ORDER BY 1`
		args = []any{table}
	}
	var objs []schemaObj
	err := d.eachRow(ctx, c, query, args, func(rows *sql.Rows) error {
		var o schemaObj
		if err := rows.Scan(&o.name, &o.drop, &o.create); err != nil {
			return err
		}
		objs = append(objs, o)
		return nil
	})
	return objs, err
}

// written counts rows about to be inserted, and drops the indexes before
// they are if the load has become large enough.
func (li *laterIndexes) written(ctx context.Context, l *firstLoad, rows [][]any) error {
	if li.table == "" {
		return nil // not a table whose indexes wait
	}
	li.n += int64(len(rows))
	if li.n < li.after || li.dropped {
		return nil
	}
	if l.d.pg && !l.locked {
		// The drops lock each table they touch until the commit: take
		// the three at once, and only if nobody holds any of them.
		// Waiting for one while holding another deadlocks with a sync
		// that read identities and then writes entitlements; so the load
		// goes on with its indexes in place and asks again at its next
		// batch. (A sync that starts once the tables are locked waits
		// for the commit.)
		ok, err := l.lockTables(ctx)
		if err != nil {
			return err
		} else if !ok {
			l.d.logger.Debug("first load: the inventory tables are in use; keeping the indexes for now", "table", li.table, "rows", li.n)
			return nil
		}
		l.locked = true
	}
	objs, err := l.d.laterObjects(ctx, l.c, li.table)
	if err != nil {
		return err
	}
	li.objs, li.dropped = objs, true
	if err := l.checkPending(ctx); err != nil {
		return err
	}
	for _, o := range li.objs {
		if _, err := l.c.ExecContext(ctx, o.drop); err != nil {
			return err
		}
		if o.name == searchTrigger {
			li.ftsFrom = rows[0][0].(int64) // identities: the id column comes first
		}
	}
	l.d.logger.Debug("first load builds indexes after", "table", li.table, "rows", li.n, "objects", len(li.objs))
	return nil
}

// lockTables takes, on PostgreSQL, the three inventory tables a first
// load alters, all or none: it reports false, holding nothing more than
// before, when another transaction holds a lock on any of them.
func (l *firstLoad) lockTables(ctx context.Context) (bool, error) {
	if _, err := l.c.ExecContext(ctx, `SAVEPOINT load_lock`); err != nil {
		return false, err
	}
	_, err := l.c.ExecContext(ctx, `LOCK TABLE entitlements, identities, grants IN ACCESS EXCLUSIVE MODE NOWAIT`)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
		// Rolling back to the savepoint lets go of any of the three
		// already taken.
		_, err := l.c.ExecContext(ctx, `ROLLBACK TO SAVEPOINT load_lock`)
		return false, err
	} else if err != nil {
		return false, err
	}
	_, err = l.c.ExecContext(ctx, `RELEASE SAVEPOINT load_lock`)
	return err == nil, err
}

// build creates what written dropped.
func (li *laterIndexes) build(ctx context.Context, l *firstLoad) error {
	if !li.dropped {
		return nil
	}
	if err := l.checkPending(ctx); err != nil {
		return err
	}
	if li.ftsFrom > 0 {
		if err := l.fillSearch(ctx, li.ftsFrom); err != nil {
			return err
		}
	}
	for _, o := range li.objs {
		start := time.Now()
		if _, err := l.c.ExecContext(ctx, o.create); err != nil {
			return fmt.Errorf("create %s again: %w", o.name, err)
		}
		l.d.logger.Debug("first load built", "name", o.name, "took", time.Since(start))
	}
	return nil
}

// checkPending runs, on PostgreSQL, the deferred foreign key checks of the
// rows written so far: a table with checks pending cannot be altered or
// indexed. The checks stay deferred for what follows.
func (l *firstLoad) checkPending(ctx context.Context) error {
	if !l.d.pg {
		return nil
	}
	start := time.Now()
	if _, err := l.c.ExecContext(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		return err
	}
	_, err := l.c.ExecContext(ctx, `SET CONSTRAINTS ALL DEFERRED`)
	l.d.logger.Debug("first load: pending foreign key checks run", "took", time.Since(start))
	return err
}

// fillSearch adds the names of the identities the load wrote from id from
// on to the search index, in one statement. FTS5 merges its segments as
// they pile up (automerge, 4 by default); during the fill that merging is
// switched off, which takes a million identities' fill from 4.3 s to 3.4 s,
// and back on after, so that later writes merge the extra segments a few at
// a time. Until then a selective search reads more of them: 0.6-1.8 ms
// instead of 0.4-0.9 ms at a million identities.
func (l *firstLoad) fillSearch(ctx context.Context, from int64) error {
	start := time.Now()
	auto := 4 // FTS5's default, when the table has no setting of its own
	if err := l.c.QueryRowContext(ctx, `SELECT v FROM identities_fts_config WHERE k = 'automerge'`).Scan(&auto); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for _, step := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO identities_fts (identities_fts, rank) VALUES ('automerge', 0)`, nil},
		{`INSERT INTO identities_fts (rowid, name, external_id) SELECT id, name, external_id FROM identities WHERE system_id = ? AND id >= ?`, []any{l.sys.ID, from}},
		{`INSERT INTO identities_fts (identities_fts, rank) VALUES ('automerge', ?)`, []any{auto}},
	} {
		if _, err := l.c.ExecContext(ctx, step.query, step.args...); err != nil {
			return err
		}
	}
	l.d.logger.Debug("first load search index", "took", time.Since(start))
	return nil
}
