package sqlstore_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/importer"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// countingSkipper yields fixed records with sums of its own and counts the
// ones the store lets it skip.
type countingSkipper struct {
	recs    []steward.Record
	skipped int
}

func (s *countingSkipper) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.ReadSkipping(ctx, nil)
}

func (s *countingSkipper) ReadSkipping(_ context.Context, known steward.KnownFunc) iter.Seq2[steward.Record, error] {
	s.skipped = 0
	return func(yield func(steward.Record, error) bool) {
		sums := make([]uint64, len(s.recs))
		for i, r := range s.recs {
			sums[i] = uint64(i)*0x9E3779B97F4A7C15 | 1 // distinct per record
			if r.Identity != nil && r.Identity.Name == "changed" {
				sums[i] ^= 2
			}
		}
		skip := make([]bool, len(sums))
		if known != nil {
			known(sums, skip)
		}
		for i, r := range s.recs {
			sum := sums[i]
			if skip[i] {
				s.skipped++
				r = steward.Record{}
			} else if r.Identity != nil {
				i := *r.Identity // the store fills defaults in
				r.Identity = &i
			}
			r.Sum, r.Pos = sum, fmt.Sprint("rec:", i+1)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// TestSyncDigestChunks: a digest spread over many rows reads back whole, a
// re-sync skips every unchanged record and only those, and Full skips none.
func TestSyncDigestChunks(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		sqlstore.SetDigestChunk(db, 1) // 23 rows: more than one INSERT (digestRowsPerInsert)
		sys := &steward.System{Name: "chunky", Kind: steward.SystemPostgres}
		if err := db.CreateSystem(context.Background(), sys); err != nil {
			t.Fatal(err)
		}
		src := &countingSkipper{}
		for e := range 3 {
			src.recs = append(src.recs, steward.Record{Entitlement: &steward.SourceEntitlement{Name: fmt.Sprint("role", e)}})
		}
		for i := range 10 {
			src.recs = append(src.recs, steward.Record{Identity: &steward.SourceIdentity{ExternalID: fmt.Sprint("svc", i), Name: "svc", Kind: steward.KindServiceAccount}})
			src.recs = append(src.recs, steward.Record{Grant: &steward.SourceGrant{Identity: fmt.Sprint("svc", i), Entitlement: fmt.Sprint("role", i%3)}})
		}
		sync := func(o steward.SyncOptions) *steward.SyncResult {
			t.Helper()
			o.Source = "test"
			res, err := db.SyncSystem(steward.WithActor(context.Background(), "test"), sys.ID, src, o)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := sync(steward.SyncOptions{}); res.IdentitiesCreated != 10 || src.skipped != 0 {
			t.Fatalf("first load: %+v, skipped %d", res, src.skipped)
		}
		if res := sync(steward.SyncOptions{}); res.Events != 0 || src.skipped != len(src.recs) {
			t.Fatalf("unchanged re-sync: %+v, skipped %d of %d", res, src.skipped, len(src.recs))
		}
		src.recs[3].Identity.Name = "changed"
		if res := sync(steward.SyncOptions{}); res.IdentitiesUpdated != 1 || src.skipped != len(src.recs)-1 {
			t.Fatalf("one changed: %+v, skipped %d of %d", res, src.skipped, len(src.recs))
		}
		if res := sync(steward.SyncOptions{Full: true}); res.Events != 0 || src.skipped != 0 {
			t.Fatalf("full: %+v, skipped %d", res, src.skipped)
		}
		// Another default environment: the sums were taken under the old one.
		if res := sync(steward.SyncOptions{Environment: steward.EnvDev}); src.skipped != 0 || res.IdentitiesUpdated != 10 {
			t.Fatalf("new environment: %+v, skipped %d", res, src.skipped)
		}
		if sync(steward.SyncOptions{Environment: steward.EnvDev}); src.skipped != len(src.recs) {
			t.Fatalf("skipped %d of %d after the environment change", src.skipped, len(src.recs))
		}
	})
}

// TestDigestMaxAge: a digest is trusted for DigestMaxAge after the last
// sync that compared every record, then the next sync compares every record
// and trusts the new digest again. A sync that skipped records and rewrote
// the digest whole (more than an eighth changed) does not restart the clock,
// nor does one that wrote only a delta; the age is the base's, read from
// its first row.
func TestDigestMaxAge(t *testing.T) {
	t.Parallel()
	eachClocked(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := steward.WithActor(context.Background(), "test")
		sqlstore.SetDigestChunk(db, 5) // a base of several rows, the last short
		sys := storetest.MustSystem(t, db, nil)
		src := &countingSkipper{}
		for i := range 16 {
			src.recs = append(src.recs, steward.Record{Identity: &steward.SourceIdentity{ExternalID: fmt.Sprint("svc", i), Name: "svc", Kind: steward.KindBot}})
		}
		sync := func(step string, wantSkipped int) {
			t.Helper()
			res, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"})
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if src.skipped != wantSkipped {
				t.Fatalf("%s: skipped %d records, want %d (%+v)", step, src.skipped, wantSkipped, res)
			}
		}
		sync("first load", 0)
		clock.Advance(sqlstore.DefaultDigestMaxAge - time.Hour)
		sync("within the limit", 16)
		// Four of sixteen changed: more than an eighth, so the digest is
		// rewritten whole, from skipped entries too.
		for i := range 4 {
			src.recs[i].Identity.Name = "changed"
		}
		sync("a quarter changed", 12)
		// One more: a delta (its rows carry no time of their own) on the
		// base, whose rows, several, keep the base's time.
		src.recs[4].Identity.Name = "changed"
		sync("one more changed", 15)
		sync("the delta read back", 16)
		clock.Advance(2 * time.Hour)
		sync("past the limit since the last full comparison", 0)
		clock.Advance(sqlstore.DefaultDigestMaxAge - time.Hour)
		sync("within the limit of the new digest", 16)
	})
}

// TestCheckpoint: the SQLite writer leaves the log to the checkpointer, and
// Checkpoint copies all of it into the database.
func TestCheckpoint(t *testing.T) {
	t.Parallel()
	db := MustOpenSQLite(t, nil)
	ctx := steward.WithActor(context.Background(), "test")
	for i := range 20 {
		if err := db.CreateSystem(ctx, &steward.System{Name: fmt.Sprint("ckpt-", i), Kind: steward.SystemOther}); err != nil {
			t.Fatal(err)
		}
	}
	var auto int
	if err := sqlstore.RawSQL(db).QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d, %v; want 0 (the checkpointer's job)", auto, err)
	}
	if err := sqlstore.Checkpoint(ctx, db); err != nil {
		t.Fatal(err)
	}
	var busy, log, done int
	if err := sqlstore.RawSQL(db).QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
		t.Fatal(err)
	}
	if busy != 0 || log != done {
		t.Fatalf("after Checkpoint: busy %d, %d frames in the log, %d checkpointed", busy, log, done)
	}
}

// TestTrigramIndexesServeSearchOnly: on PostgreSQL the trigram indexes
// serve the free-text search and cannot be taken to find one external id
// (each such lookup read most of the table).
func TestTrigramIndexesServeSearchOnly(t *testing.T) {
	t.Parallel()
	db := MustOpenPostgres(t, nil)
	ctx := context.Background()
	conn, err := sqlstore.RawSQL(db).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Rows and statistics, so that the plans are costed as in use, rather
	// than sequential scans turned off: then a full scan of any index (that
	// of the name sort) passed for a search.
	for _, q := range []string{
		`INSERT INTO systems (name, kind, created_at) VALUES ('aws', 'aws', 0)`,
		`INSERT INTO identities (system_id, external_id, name, kind, environment, criticality, status, created_at, updated_at)
			SELECT (SELECT id FROM systems), 'svc-' || n, 'svc-' || n, 'service_account', 'prod', 'low', 'active', n, n FROM generate_series(1, 50000) n`,
		`ANALYZE identities`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	plan := func(q string) string {
		rows, err := conn.QueryContext(ctx, `EXPLAIN `+q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		return b.String()
	}
	if p := plan(`SELECT id FROM identities WHERE external_id = 'svc-1'`); strings.Contains(p, "_trgm") {
		t.Fatalf("an equality lookup can use a trigram index:\n%s", p)
	}
	if p := plan(`SELECT id FROM identities WHERE lower(name) LIKE lower('%etl%')`); !strings.Contains(p, "identities_name_trgm") {
		t.Fatalf("the search does not use the trigram index:\n%s", p)
	}
}

// TestSkippedWithoutDigest: a source that yields unread records when it was
// not asked to (no digest, or Read) fails the sync rather than losing rows.
func TestSkippedWithoutDigest(t *testing.T) {
	t.Parallel()
	db := MustOpenSQLite(t, nil)
	ctx := steward.WithActor(context.Background(), "test")
	sys := &steward.System{Name: "liar", Kind: steward.SystemOther}
	if err := db.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			yield(steward.Record{Sum: 42, Pos: "x:1"}, nil)
		}
	})
	_, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{})
	if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), "x:1") {
		t.Fatalf("err = %v, want EINVALID naming x:1", err)
	}
}

// TestJSONLResyncMatchesFull drives the real JSONL importer (a Skipper)
// through a series of files, each a change of the one before and some a
// return to an earlier one, and checks after each that a sync comparing
// every record (Full) finds nothing left to change.
func TestJSONLResyncMatchesFull(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sys := &steward.System{Name: "jsonl", Kind: steward.SystemOther}
		if err := db.CreateSystem(ctx, sys); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		// Version v of the export: 400 identities, of which those with
		// i%47 == v%47 are renamed, i%53 == v%53 absent, and i%59 == v%59
		// hold another role: each version changes a few percent, so the
		// digest is written as a delta beside its base.
		write := func(v int) string {
			var b strings.Builder
			for e := range 6 {
				fmt.Fprintf(&b, `{"entitlement": {"name": "role%d", "privileged": %v}}`+"\n", e, e == 0)
			}
			for i := range 400 {
				if i%53 == v%53 {
					continue
				}
				name := fmt.Sprint("svc ", i)
				if i%47 == v%47 {
					name += " (renamed)"
				}
				role := i % 5
				if i%59 == v%59 {
					role = (i + 1) % 5
				}
				fmt.Fprintf(&b, `{"identity": {"external_id": "svc-%d", "name": %q, "kind": "service_account", "labels": {"app": "a%d"}}}`+"\n", i, name, i%4)
				for _, e := range []int{role, 5} {
					fmt.Fprintf(&b, `{"grant": {"identity": "svc-%d", "entitlement": "role%d"}}`+"\n", i, e)
				}
			}
			path := filepath.Join(dir, fmt.Sprintf("v%d.jsonl", v))
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}
		sync := func(path string, full bool) *steward.SyncResult {
			t.Helper()
			src, err := importer.Open(importer.FormatJSONL, path, importer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test", Full: full})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// First with a Full check after every version (a delta one step
		// deep each time, since Full writes the digest whole), then with one
		// only at the end (deltas piled on one base, lines returning to
		// what an earlier version said).
		for _, checkEach := range []bool{true, false} {
			changes, path := 0, ""
			for _, v := range []int{0, 1, 2, 1, 3, 0, 0, 4, 2} {
				path = write(v)
				changes += sync(path, false).Events
				if checkEach {
					if res := sync(path, true); res.Events != 0 {
						t.Fatalf("after version %d, comparing every record found changes: %+v", v, res)
					}
				}
			}
			if res := sync(path, true); res.Events != 0 {
				t.Fatalf("at the end, comparing every record found changes: %+v", res)
			}
			if changes == 0 {
				t.Fatal("the versions changed nothing: the test tests nothing")
			}
		}
	})
}

// TestNewGrantsInKeyOrder: a re-sync inserts the grants it creates in
// order of (identity, entitlement), whatever order the source lists them
// in, with their events in that order, and a full comparison afterwards
// finds nothing to change.
func TestNewGrantsInKeyOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sys := storetest.MustSystem(t, db, nil)
		src := &countingSkipper{}
		for e := range 3 {
			src.recs = append(src.recs, steward.Record{Entitlement: &steward.SourceEntitlement{Name: fmt.Sprint("role", e)}})
		}
		for i := range 6 {
			src.recs = append(src.recs, steward.Record{Identity: &steward.SourceIdentity{ExternalID: fmt.Sprint("svc", i), Name: "svc", Kind: steward.KindBot}})
		}
		sync := func(o steward.SyncOptions) *steward.SyncResult {
			t.Helper()
			o.Source = "test"
			res, err := db.SyncSystem(ctx, sys.ID, src, o)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		sync(steward.SyncOptions{})
		// Grants listed last identity first, last entitlement first.
		for i := 5; i >= 0; i-- {
			for e := 2; e >= 0; e -= 1 + i%2 {
				src.recs = append(src.recs, steward.Record{Grant: &steward.SourceGrant{Identity: fmt.Sprint("svc", i), Entitlement: fmt.Sprint("role", e)}})
			}
		}
		want := len(src.recs) - 9
		if res := sync(steward.SyncOptions{}); res.GrantsCreated != want {
			t.Fatalf("re-sync created %d grants, want %d: %+v", res.GrantsCreated, want, res)
		}
		raw := sqlstore.RawSQL(db)
		rows, err := raw.QueryContext(ctx, `SELECT g.id, x.external_id, e.name FROM grants g JOIN identities x ON x.id = g.identity_id
			JOIN entitlements e ON e.id = g.entitlement_id ORDER BY g.id`)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		var ids []string
		for rows.Next() {
			var id int64
			var ident, ent string
			if err := rows.Scan(&id, &ident, &ent); err != nil {
				t.Fatal(err)
			}
			keys, ids = append(keys, ident+"/"+ent), append(ids, fmt.Sprint(id))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(keys) || len(keys) != want {
			t.Fatalf("grants by id: %v; want %d in order of identity, entitlement", keys, want)
		}
		var events []string
		rows, err = raw.QueryContext(ctx, `SELECT object_id FROM events WHERE action = 'grant.created' ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			events = append(events, id)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(events, ids) {
			t.Fatalf("grant.created events name %v; want the grants in order, %v", events, ids)
		}
		if res := sync(steward.SyncOptions{Full: true}); res.Events != 0 {
			t.Fatalf("a full comparison after the re-sync changed something: %+v", res)
		}
	})
}

// recordsSource yields fixed records, copies of them: the store fills
// defaults in. Not a Skipper: the store takes each record's sum itself.
type recordsSource struct{ recs []steward.Record }

func (s *recordsSource) Read(context.Context) iter.Seq2[steward.Record, error] {
	return func(yield func(steward.Record, error) bool) {
		for i, r := range s.recs {
			if r.Identity != nil {
				c := *r.Identity
				r.Identity = &c
			}
			r.Pos = fmt.Sprint("rec:", i+1)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// TestIdentityUpdatesInBatches: a re-sync writes each changed identity's
// new values, null or not, in text and integer columns, and leaves the
// others alone; on PostgreSQL, where those that set the same columns are
// written in batches, over several batches of each.
func TestIdentityUpdatesInBatches(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sys := storetest.MustSystem(t, db, nil)
		p := storetest.MustPerson(t, db, nil)
		const n = 2400 // each change more than one batch (sqlstore's identityUpdates)
		at := func(i int) *time.Time {
			c := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
			return &c
		}
		src := &recordsSource{}
		for i := range n {
			id := &steward.SourceIdentity{ExternalID: fmt.Sprint("svc", i), Name: fmt.Sprint("svc ", i), Kind: steward.KindBot,
				CreatedAt: at(i), Labels: map[string]string{"n": fmt.Sprint(i)}}
			if i%2 == 0 {
				id.Owner = p.ExternalID
			}
			src.recs = append(src.recs, steward.Record{Identity: id})
		}
		if _, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			switch id := src.recs[i].Identity; i % 4 {
			case 0: // renamed, and its owner gone: a column of nulls
				id.Name, id.Owner = fmt.Sprint("renamed ", i), ""
			case 1: // no labels, and an owner: a column of ids
				id.Labels, id.Owner = nil, p.ExternalID
			case 2: // another creation time, renamed
				id.CreatedAt, id.Name = at(10*i), fmt.Sprint("moved ", i)
			}
		}
		if _, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "test"}); err != nil {
			t.Fatal(err)
		}
		got := map[string]steward.IdentityView{}
		f := steward.IdentityFilter{SystemID: sys.ID}
		f.Limit = steward.MaxLimit
		for {
			page, err := db.Identities(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page.Items {
				got[x.ExternalID] = x
			}
			if page.Next == "" {
				break
			}
			f.After = page.Next
		}
		for i := range n {
			want := src.recs[i].Identity
			var owner int64
			if want.Owner != "" {
				owner = p.ID
			}
			x, ok := got[want.ExternalID]
			if x.OwnerID == nil {
				x.OwnerID = new(int64)
			}
			if !ok || x.Name != want.Name || !reflect.DeepEqual(x.Labels, want.Labels) || x.CreatedAt == nil || !x.CreatedAt.Equal(*want.CreatedAt) || *x.OwnerID != owner {
				t.Fatalf("svc%d: %q, created %v, labels %v, owner %d; want %q, %v, %v, %d", i, x.Name, x.CreatedAt, x.Labels, *x.OwnerID, want.Name, want.CreatedAt, want.Labels, owner)
			}
		}
	})
}
