package sqlstore_test

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// loadRecords makes the records of a system with n identities: owners by
// tag (a person, someone unknown, nobody) and by rule, labels, credentials,
// privileged entitlements, standing and expiring grants. order is how the
// records come: "grouped" (entitlements, then each identity with its
// grants, as the bench writes them), "grantsFirst" (every grant before any
// identity or entitlement) or "shuffled".
func loadRecords(n int, owners []string, order string, seed uint64) []steward.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	t0 := storetest.Epoch.Add(-90 * 24 * time.Hour)
	at := func(days int) *time.Time { t := t0.Add(time.Duration(days) * 24 * time.Hour); return &t }
	var ents, ids, grants []steward.Record
	for e := range 7 {
		ents = append(ents, steward.Record{Entitlement: &steward.SourceEntitlement{Name: fmt.Sprint("role:", e), Privileged: e == 0,
			Description: fmt.Sprint("role number ", e)}})
	}
	kinds := []steward.IdentityKind{steward.KindServiceAccount, steward.KindAPIKey, steward.KindBot}
	var grouped []steward.Record
	grouped = append(grouped, ents...)
	for i := range n {
		si := &steward.SourceIdentity{ExternalID: fmt.Sprint("svc-", i), Name: fmt.Sprintf("service %d", i), Kind: kinds[i%len(kinds)],
			Owner: owners[i%len(owners)], Labels: map[string]string{"app": fmt.Sprint("app", i%4)}}
		if i%5 == 0 {
			si.Environment, si.Criticality, si.CreatedAt, si.LastUsedAt = steward.EnvStaging, steward.LevelHigh, at(i%30), at(60+i%20)
		}
		if i%3 == 0 {
			si.Credentials = []steward.SourceCredential{{ExternalID: "key-1", Kind: steward.CredAccessKey, CreatedAt: at(1), LastRotatedAt: at(10)},
				{ExternalID: "key-2", Kind: steward.CredAccessKey, LastUsedAt: at(80), ExpiresAt: at(400)}}
			if i%7 == 0 {
				si.Credentials[1].Status, si.Credentials[1].Version = steward.CredentialDisabled, fmt.Sprint("v", i)
			}
		}
		if i%4 == 0 {
			// Links to roles of another system, known or not (see each).
			si.Links = []steward.SourceLink{{Kind: steward.LinkAssumes, To: fmt.Sprint("arn:aws:iam::1:role/r", i/4%8)}}
		}
		r := steward.Record{Identity: si}
		ids = append(ids, r)
		grouped = append(grouped, r)
		for _, e := range rng.Perm(len(ents))[:rng.IntN(4)] {
			sg := &steward.SourceGrant{Identity: si.ExternalID, Entitlement: ents[e].Entitlement.Name}
			if rng.IntN(4) == 0 {
				sg.Type, sg.GrantedAt, sg.ExpiresAt = steward.GrantJIT, at(85), at(95)
			}
			g := steward.Record{Grant: sg}
			grants = append(grants, g)
			grouped = append(grouped, g)
		}
	}
	switch order {
	case "grantsFirst":
		return slices.Concat(grants, ids, ents)
	case "shuffled":
		rng.Shuffle(len(grouped), func(i, j int) { grouped[i], grouped[j] = grouped[j], grouped[i] })
	}
	return grouped
}

// positioned numbers records as lines of f.jsonl, copying what Normalize
// fills in, so that one slice can be read twice.
func positioned(recs []steward.Record) steward.Source {
	return steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			for i, r := range recs {
				switch {
				case r.Identity != nil:
					c := *r.Identity
					c.Credentials = slices.Clone(c.Credentials)
					c.Links = slices.Clone(c.Links)
					r.Identity = &c
				case r.Entitlement != nil:
					c := *r.Entitlement
					r.Entitlement = &c
				case r.Grant != nil:
					c := *r.Grant
					r.Grant = &c
				}
				r.Pos = fmt.Sprintf("f.jsonl:%d", i+1)
				if !yield(r, nil) {
					return
				}
			}
		}
	})
}

// schemaOf lists the indexes and triggers of the inventory tables.
func schemaOf(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	q := `SELECT name || ': ' || sql FROM sqlite_master WHERE tbl_name IN ('identities', 'grants') AND type IN ('index', 'trigger') AND sql IS NOT NULL`
	if sqlstore.OnPostgres(db) {
		q = `SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN ('identities', 'grants')
			UNION ALL SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN ('identities'::regclass, 'grants'::regclass)`
	}
	rows, err := sqlstore.RawSQL(db).Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestFirstLoadMatchesStaged: a first load written straight into the live
// tables leaves what staging the same records would: the same inventory,
// owners, gaps, counts and digest (the re-sync after it and a Full sync
// agree), in any order of records, with the indexes built after the load
// (a low floor) and the search index filled for the rows written without
// its trigger.
func TestFirstLoadMatchesStaged(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sqlstore.SetLaterFloor(db, 40)
		person := storetest.MustPerson(t, db, nil)
		team := storetest.MustTeam(t, db, nil)
		if _, err := db.ApplyOwnershipRules(ctx, []steward.OwnershipRule{{Name: "bots", Match: steward.RuleMatch{Kinds: []steward.IdentityKind{steward.KindBot}}, Team: team.Name}}); err != nil {
			t.Fatal(err)
		}
		owners := []string{person.Email, "someone-unknown@example.com", ""}
		// Half the roles the records' links name are in another system.
		roles := storetest.MustSystem(t, db, nil)
		for r := range 4 {
			storetest.MustIdentity(t, db, roles.ID, func(i *steward.Identity) {
				i.ExternalID = fmt.Sprint("arn:aws:iam::1:role/r", 2*r)
				i.Name = i.ExternalID
			})
		}
		schema := schemaOf(t, db)
		for _, order := range []string{"grouped", "grantsFirst", "shuffled"} {
			recs := loadRecords(120, owners, order, 3)
			next := loadRecords(125, owners, order, 4) // other grants, five more identities
			var dumps [2]string
			var results [2][3]steward.SyncResult
			for k, staged := range []bool{true, false} {
				sqlstore.StageFirstLoads(db, staged)
				sys := storetest.MustSystem(t, db, nil)
				for step, src := range []steward.Source{positioned(recs), positioned(next)} {
					res, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "t"})
					if err != nil {
						t.Fatalf("%s, staged=%v, sync %d: %v", order, staged, step, err)
					}
					results[k][step] = *res
				}
				res, err := db.SyncSystem(ctx, sys.ID, positioned(next), steward.SyncOptions{Source: "t", Full: true})
				if err != nil {
					t.Fatal(err)
				}
				if res.Events != 0 {
					t.Errorf("%s, staged=%v: a Full sync after the load found changes: %+v", order, staged, res)
				}
				results[k][2] = *res
				dumps[k] = storetest.DumpSystem(t, db, sys.ID)
				gaps, err := db.Gaps(ctx, steward.GapFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, g := range gaps.Items {
					if g.SystemName == sys.Name {
						n++
						dumps[k] += fmt.Sprintf("gap %s %s due %v\n", g.Gap, g.IdentityName, g.DueAt)
					}
				}
				if n == 0 {
					t.Fatalf("%s: no gaps opened; the records name unknown owners", order)
				}
				// A name written while the search trigger was dropped is found.
				page, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, Query: "service 118"})
				if err != nil || len(page.Items) != 1 {
					t.Fatalf("%s, staged=%v: search for a loaded name: %v, %v", order, staged, page, err)
				}
			}
			if results[0] != results[1] {
				t.Errorf("%s: staged reported %+v\nloaded reported %+v", order, results[0], results[1])
			}
			if dumps[0] != dumps[1] {
				t.Errorf("%s: staged holds\n%s\nloaded holds\n%s", order, dumps[0], dumps[1])
			}
			if !strings.Contains(dumps[1], "credential key-2") || !strings.Contains(dumps[1], "grant role:0") ||
				!strings.Contains(dumps[1], "status=disabled") || !strings.Contains(dumps[1], "link assumes arn:aws:iam::1:role/r4 -> arn:aws:iam::1:role/r4") ||
				!strings.Contains(dumps[1], "link assumes arn:aws:iam::1:role/r3 -> pending") {
				t.Fatalf("%s: the load holds too little:\n%s", order, dumps[1])
			}
		}
		if after := schemaOf(t, db); !slices.Equal(after, schema) {
			t.Errorf("indexes and triggers after first loads:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(schema, "\n"))
		}
		if !sqlstore.OnPostgres(db) {
			// Loaded without foreign key checks: every reference must hold,
			// and the checks must be back on.
			rows, err := sqlstore.RawSQL(db).Query(`PRAGMA foreign_key_check`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var table, parent string
				var rowid, fk any
				if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
					t.Fatal(err)
				}
				t.Errorf("%s row %v refers to a missing %s", table, rowid, parent)
			}
			rows.Close()
			var on int
			if err := sqlstore.RawSQL(db).QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
				t.Fatalf("foreign keys after a load: %d, %v", on, err)
			}
			// The search index holds every name, and merges its segments again.
			if _, err := sqlstore.RawSQL(db).Exec(`INSERT INTO identities_fts (identities_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
				t.Fatalf("search index after loads: %v", err)
			}
			var auto int
			if err := sqlstore.RawSQL(db).QueryRow(`SELECT v FROM identities_fts_config WHERE k = 'automerge'`).Scan(&auto); err != nil || auto != 4 {
				t.Fatalf("search index automerge after loads: %d, %v", auto, err)
			}
			// A system written to between the look before the transaction
			// and the transaction is synced as any other.
			sys := storetest.MustSystem(t, db, nil)
			storetest.MustIdentity(t, db, sys.ID, nil)
			if notEmpty, err := sqlstore.SyncAsFirstLoad(ctx, db, sys.ID, positioned(loadRecords(3, owners, "grouped", 1))); !notEmpty {
				t.Fatalf("a load into a system no longer empty: %v", err)
			}
			if err := sqlstore.RawSQL(db).QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
				t.Fatalf("foreign keys after a refused load: %d, %v", on, err)
			}
		}
		// Ids given out by the load are not given again.
		sys := storetest.MustSystem(t, db, nil)
		i := storetest.MustIdentity(t, db, sys.ID, nil)
		e := storetest.MustEntitlement(t, db, sys.ID, nil)
		storetest.MustGrant(t, db, i.ID, e.ID, nil)
	})
}

// TestFirstLoadBadRecords: a first load with bad records fails as a staged
// one does: every problem named by its line, nothing written, the indexes
// dropped on the way back in place.
func TestFirstLoadBadRecords(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sqlstore.SetLaterFloor(db, 10)
		schema := schemaOf(t, db)
		good := loadRecords(60, []string{""}, "grouped", 5)
		ident := func(ext string) steward.Record {
			return steward.Record{Identity: &steward.SourceIdentity{ExternalID: ext, Kind: steward.KindBot}}
		}
		grant := func(i, e string) steward.Record {
			return steward.Record{Grant: &steward.SourceGrant{Identity: i, Entitlement: e}}
		}
		cases := []struct {
			name string
			recs []steward.Record
		}{
			{"identity twice", append(slices.Clone(good), ident("svc-3"))},
			{"entitlement twice", append(slices.Clone(good), steward.Record{Entitlement: &steward.SourceEntitlement{Name: "role:2"}})},
			{"grant twice", append(slices.Clone(good), grant("svc-0", "role:6"), grant("svc-0", "role:6"))},
			{"grant before, twice", slices.Concat([]steward.Record{grant("late", "role:1"), grant("late", "role:1")}, good, []steward.Record{ident("late")})},
			{"grant before and after", slices.Concat([]steward.Record{grant("late", "role:1")}, good, []steward.Record{ident("late"), grant("late", "role:1")})},
			{"unknown identity", append(slices.Clone(good), grant("ghost", "role:1"))},
			{"unknown entitlement", append(slices.Clone(good), grant("svc-1", "role:nope"))},
			{"unknown, first", slices.Concat([]steward.Record{grant("ghost", "role:1")}, good)},
			{"invalid", slices.Concat(good[:30], []steward.Record{{Identity: &steward.SourceIdentity{ExternalID: "x", Kind: "robot"}}, {}}, good[30:])},
			{"skipped", append(slices.Clone(good), steward.Record{Sum: 42})},
		}
		line := regexp.MustCompile(`f\.jsonl:\d+`)
		for _, c := range cases {
			var msgs [2][]string
			for k, staged := range []bool{true, false} {
				sqlstore.StageFirstLoads(db, staged)
				sys := storetest.MustSystem(t, db, nil)
				_, err := db.SyncSystem(ctx, sys.ID, positioned(c.recs), steward.SyncOptions{Source: "t"})
				if steward.ErrorCode(err) != steward.EINVALID {
					t.Fatalf("%s, staged=%v: %v, want EINVALID", c.name, staged, err)
				}
				msgs[k] = line.FindAllString(steward.ErrorMessage(err), -1)
				slices.Sort(msgs[k])
				if len(msgs[k]) == 0 {
					t.Fatalf("%s: names no line: %v", c.name, err)
				}
				if dump := storetest.DumpSystem(t, db, sys.ID); dump != "" {
					t.Fatalf("%s, staged=%v: a refused load wrote\n%s", c.name, staged, dump)
				}
			}
			// A key listed twice is named at one of its lines: the staged
			// sync names the first, the load the one that repeats it.
			if !strings.Contains(c.name, "twice") && !strings.Contains(c.name, "before and after") && !slices.Equal(msgs[0], msgs[1]) {
				t.Errorf("%s: staged names %v, the load %v", c.name, msgs[0], msgs[1])
			}
		}
		if after := schemaOf(t, db); !slices.Equal(after, schema) {
			t.Errorf("indexes and triggers after refused loads:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(schema, "\n"))
		}
	})
}

// TestFirstLoadLocksOnPostgres: what docs/import-formats.md says of a large
// first load on PostgreSQL. Once it has dropped the indexes, a read of the
// inventory waits for its commit, and so does a sync of another system,
// which then goes through.
func TestFirstLoadLocksOnPostgres(t *testing.T) {
	t.Parallel()
	db := MustOpenPostgres(t, storetest.NewClock(storetest.Epoch))
	ctx := steward.WithActor(context.Background(), "test")
	o := steward.SyncOptions{Source: "t"}
	sqlstore.SetLaterFloor(db, 10)
	other := storetest.MustSystem(t, db, nil)
	if _, err := db.SyncSystem(ctx, other.ID, positioned(loadRecords(5, []string{""}, "grouped", 1)), o); err != nil {
		t.Fatal(err)
	}
	sys := storetest.MustSystem(t, db, nil)
	recs := loadRecords(12_000, []string{""}, "grouped", 2)
	release := make(chan struct{})
	src := steward.SourceFunc(func(ctx context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			n := 0
			for r, err := range positioned(recs).Read(ctx) {
				if n++; n == len(recs)/2 {
					<-release // the first batches are written by now
				}
				if !yield(r, err) {
					return
				}
			}
		}
	})
	loaded := make(chan error, 1)
	go func() {
		_, err := db.SyncSystem(ctx, sys.ID, src, o)
		loaded <- err
	}()
	for {
		var n int
		if err := sqlstore.RawSQL(db).QueryRow(`SELECT count(*) FROM pg_locks WHERE relation = 'identities'::regclass
			AND mode = 'AccessExclusiveLock' AND granted AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-loaded:
			t.Fatalf("the load ended (%v) without locking identities", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := db.Identities(rctx, steward.IdentityFilter{SystemID: other.ID})
	cancel()
	if rctx.Err() == nil {
		t.Fatalf("a read of identities went through during the load: %v", err)
	}
	synced := make(chan error, 1)
	go func() {
		_, err := db.SyncSystem(ctx, other.ID, positioned(loadRecords(6, []string{""}, "grouped", 1)), o)
		synced <- err
	}()
	select {
	case err := <-synced:
		t.Fatalf("a sync of another system went through during the load: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-loaded; err != nil {
		t.Fatalf("the load: %v", err)
	}
	if err := <-synced; err != nil {
		t.Fatalf("the sync that waited for it: %v", err)
	}
	page, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("after the load: %v, %v", page, err)
	}
}

// TestFirstLoadRandomProblems: random small sources, in random order, with
// random problems put in (keys twice, grants naming nobody, records that do
// not validate, stream errors). A first load and a staged sync of the same
// records must agree: both refuse, naming a line of every problem and
// writing nothing, or both accept and hold the same inventory.
func TestFirstLoadRandomProblems(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sqlstore.SetLaterFloor(db, 8)
		rng := rand.New(rand.NewPCG(11, 12))
		refused := 0
		for round := range 40 {
			recs := loadRecords(5+rng.IntN(20), []string{"", "nobody@example.com"}, []string{"grouped", "grantsFirst", "shuffled"}[rng.IntN(3)], uint64(round))
			var problems []steward.Record
			for range rng.IntN(3) {
				switch rng.IntN(5) {
				case 0: // a record listed twice (identity, entitlement or grant)
					problems = append(problems, recs[rng.IntN(len(recs))])
				case 1:
					problems = append(problems, steward.Record{Grant: &steward.SourceGrant{Identity: "ghost", Entitlement: "role:1"}})
				case 2:
					problems = append(problems, steward.Record{Grant: &steward.SourceGrant{Identity: "svc-0", Entitlement: "role:ghost"}})
				case 3:
					problems = append(problems, steward.Record{Identity: &steward.SourceIdentity{ExternalID: "odd", Kind: "robot"}})
				case 4:
					problems = append(problems, steward.Record{}) // holds nothing
				}
			}
			for _, p := range problems {
				recs = slices.Insert(recs, rng.IntN(len(recs)+1), p)
			}
			// The lines of each problem: for a record listed twice, both.
			wantLines := make([][]int, len(problems))
			for k, p := range problems {
				for i, r := range recs {
					if sameRecord(r, p) {
						wantLines[k] = append(wantLines[k], i+1)
					}
				}
			}
			if len(problems) > 0 {
				refused++
			}
			var dumps [2]string
			var failed [2]bool
			for k, staged := range []bool{true, false} {
				sqlstore.StageFirstLoads(db, staged)
				sys := storetest.MustSystem(t, db, nil)
				_, err := db.SyncSystem(ctx, sys.ID, positioned(recs), steward.SyncOptions{Source: "t"})
				dumps[k] = storetest.DumpSystem(t, db, sys.ID)
				if err == nil {
					continue
				}
				failed[k] = true
				if steward.ErrorCode(err) != steward.EINVALID {
					t.Fatalf("round %d, staged=%v: %v", round, staged, err)
				}
				if dumps[k] != "" {
					t.Fatalf("round %d, staged=%v: a refused sync wrote\n%s", round, staged, dumps[k])
				}
				msg := steward.ErrorMessage(err)
				for i, ls := range wantLines {
					named := false
					for _, l := range ls {
						named = named || regexp.MustCompile(fmt.Sprintf(`f\.jsonl:%d\b`, l)).MatchString(msg)
					}
					if !named {
						t.Errorf("round %d, staged=%v: problem %d (lines %v) not named:\n%s", round, staged, i, ls, msg)
					}
				}
			}
			if failed[0] != failed[1] || (len(problems) > 0) != failed[0] {
				t.Fatalf("round %d: %d problems; staged failed %v, load failed %v", round, len(problems), failed[0], failed[1])
			}
			if dumps[0] != dumps[1] {
				t.Fatalf("round %d: staged holds\n%s\nthe load holds\n%s", round, dumps[0], dumps[1])
			}
		}
		if refused < 10 || refused > 30 {
			t.Fatalf("%d of 40 rounds had problems: the mix tests too little of one side", refused)
		}
		sqlstore.StageFirstLoads(db, false)
	})
}

// sameRecord reports whether two records say the same (pointers compared
// by what they point to).
func sameRecord(a, b steward.Record) bool {
	switch {
	case a.Identity != nil || b.Identity != nil:
		return a.Identity != nil && b.Identity != nil && a.Identity.ExternalID == b.Identity.ExternalID && a.Identity.Kind == b.Identity.Kind
	case a.Entitlement != nil || b.Entitlement != nil:
		return a.Entitlement != nil && b.Entitlement != nil && a.Entitlement.Name == b.Entitlement.Name
	case a.Grant != nil || b.Grant != nil:
		return a.Grant != nil && b.Grant != nil && *a.Grant == *b.Grant
	}
	return true // both hold nothing
}

// TestFirstLoadLocksWithoutDeadlock: a transaction that read identities
// before a large first load reached its index drops, and then writes
// entitlements (as a sync of another system does: it checks its records
// against identities, then writes), must not deadlock with the load. The
// load takes its locks only when it can have all three at once, and loads
// on with its indexes in place until then.
func TestFirstLoadLocksWithoutDeadlock(t *testing.T) {
	t.Parallel()
	db := MustOpenPostgres(t, storetest.NewClock(storetest.Epoch))
	ctx := steward.WithActor(context.Background(), "test")
	sqlstore.SetLaterFloor(db, 10)
	other := storetest.MustSystem(t, db, nil)
	sys := storetest.MustSystem(t, db, nil)
	recs := loadRecords(3000, []string{""}, "grouped", 3)
	start := make(chan struct{})
	src := steward.SourceFunc(func(ctx context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			<-start
			for r, err := range positioned(recs).Read(ctx) {
				if !yield(r, err) {
					return
				}
			}
		}
	})
	// The other transaction reads identities first.
	tx, err := sqlstore.RawSQL(db).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identities WHERE system_id = $1`, other.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	loaded := make(chan error, 1)
	go func() {
		_, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "t"})
		loaded <- err
	}()
	close(start)
	// Wait until the load has written past its threshold: it either waits
	// for identities (a deadlock in the making) or loads on.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting, rows int
		if err := sqlstore.RawSQL(db).QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE relation = 'identities'::regclass AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if err := sqlstore.RawSQL(db).QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'copy "grants"%'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 || rows > 0 || time.Now().After(deadline) {
			break
		}
		select {
		case err := <-loaded:
			loaded <- err
			deadline = time.Now()
		case <-time.After(5 * time.Millisecond):
		}
	}
	// Now the other transaction writes entitlements, and commits.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := tx.ExecContext(wctx, `INSERT INTO entitlements (system_id, name, description, privileged, sensitivity, created_at) VALUES ($1, 'late', '', false, 'low', 0)`, other.ID); err != nil {
		t.Fatalf("the other transaction's write: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("the other transaction's commit: %v", err)
	}
	if err := <-loaded; err != nil {
		t.Fatalf("the load: %v", err)
	}
	page, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("after the load: %v, %v", page, err)
	}
}

// TestRepeatNamedAtItsLine: a key listed twice is named at the line that
// repeats it, in a first load and in a staged sync alike (the staged one
// took the lexicographic least position, which named line 2 of 2 and 3).
func TestRepeatNamedAtItsLine(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		bot := func(ext string) steward.Record {
			return steward.Record{Identity: &steward.SourceIdentity{ExternalID: ext, Kind: steward.KindBot}}
		}
		recs := []steward.Record{bot("a"), bot("b"), bot("b")} // lines 1, 2, 3
		for i := 4; i <= 12; i++ {
			recs = append(recs, bot(fmt.Sprint("filler-", i)))
		}
		recs = append(recs, bot("c"), bot("d"), bot("c")) // lines 13, 14, 15
		for name, staged := range map[string]bool{"first load": false, "staged": true} {
			sys := storetest.MustSystem(t, db, nil)
			if staged {
				if _, err := db.SyncSystem(ctx, sys.ID, positioned([]steward.Record{bot("z")}), steward.SyncOptions{Source: "t"}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := db.SyncSystem(ctx, sys.ID, positioned(recs), steward.SyncOptions{Source: "t"})
			msg := steward.ErrorMessage(err)
			for _, want := range []string{"f.jsonl:3: identity b is listed more than once", "f.jsonl:15: identity c is listed more than once"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: %q does not say %q", name, msg, want)
				}
			}
		}
	})
}

// TestAPIWriteDuringSync: on PostgreSQL a write through the API can land
// while a whole sync of the same system runs (SQLite has one writer). The
// sync read the digest before the write and rewrites it whole after; the
// write's row must still be compared by the sync after. (When API writes
// deleted the digest, the rewrite put back a digest without the row, and
// the next sync never looked at it.)
func TestAPIWriteDuringSync(t *testing.T) {
	t.Parallel()
	db := MustOpenPostgres(t, storetest.NewClock(storetest.Epoch))
	ctx := steward.WithActor(context.Background(), "test")
	sys := storetest.MustSystem(t, db, nil)
	base := loadRecords(40, []string{""}, "grouped", 5)
	renamed := slices.Clone(base)
	n := 0
	for i, r := range renamed {
		if r.Identity != nil && n < 10 { // a quarter: the digest is rewritten whole
			c := *r.Identity
			c.Name += " renamed"
			renamed[i].Identity = &c
			n++
		}
	}
	for _, recs := range [][]steward.Record{base, base} {
		if _, err := db.SyncSystem(ctx, sys.ID, positioned(recs), steward.SyncOptions{Source: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	// A grant the source does not list, of an entitlement it does.
	held := map[string]bool{}
	for _, r := range base {
		if r.Grant != nil && r.Grant.Identity == "svc-0" {
			held[r.Grant.Entitlement] = true
		}
	}
	name := "role:0"
	for e := 0; held[name]; e++ {
		name = fmt.Sprint("role:", e)
	}
	idPage, err := db.Identities(ctx, steward.IdentityFilter{SystemID: sys.ID, Query: "svc-0", ListOptions: steward.ListOptions{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	entPage, err := db.Entitlements(ctx, steward.EntitlementFilter{SystemID: sys.ID, Query: name, ListOptions: steward.ListOptions{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var identityID, entID int64
	for _, i := range idPage.Items {
		if i.ExternalID == "svc-0" {
			identityID = i.ID
		}
	}
	for _, e := range entPage.Items {
		if e.Name == name {
			entID = e.ID
		}
	}
	if identityID == 0 || entID == 0 {
		t.Fatalf("svc-0 %d, %s %d", identityID, name, entID)
	}
	half, wrote := make(chan struct{}), make(chan struct{})
	src := steward.SourceFunc(func(ctx context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			i := 0
			for r, err := range positioned(renamed).Read(ctx) {
				if i++; i == len(renamed)/2 {
					close(half)
					<-wrote
				}
				if !yield(r, err) {
					return
				}
			}
		}
	})
	synced := make(chan error, 1)
	go func() {
		_, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "t"})
		synced <- err
	}()
	<-half
	g := storetest.MustGrant(t, db, identityID, entID, nil)
	close(wrote)
	if err := <-synced; err != nil {
		t.Fatalf("the sync the grant landed in: %v", err)
	}
	res, err := db.SyncSystem(ctx, sys.ID, positioned(renamed), steward.SyncOptions{Source: "t"})
	if err != nil {
		t.Fatal(err)
	}
	left, err := db.Grants(ctx, steward.GrantFilter{IdentityID: identityID, EntitlementID: entID})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 0 || res.GrantsRemoved != 1 {
		t.Fatalf("the next sync left the grant %d by hand (%d of them) and reported %+v", g.ID, len(left.Items), res)
	}
}
