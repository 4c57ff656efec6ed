package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clock steward.Clock) steward.Store {
		return MustOpenSQLite(t, clock)
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	testenv.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T, clock steward.Clock) steward.Store {
		return MustOpenPostgres(t, clock)
	})
}

// MustOpenSQLite and MustOpenPostgres are the shared test openers.
var (
	MustOpenSQLite   = sqlstoretest.MustOpenSQLite
	MustOpenPostgres = sqlstoretest.MustOpenPostgres
)

// each runs fn against SQLite and, when available, PostgreSQL.
func each(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	eachClocked(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) { fn(t, db) })
}

// eachClocked is each, with the clock the store reads, for tests that move
// time on.
func eachClocked(t *testing.T, fn func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock)) {
	for _, e := range []struct {
		name string
		open func(testing.TB, steward.Clock) *sqlstore.DB
	}{{"sqlite", MustOpenSQLite}, {"postgres", MustOpenPostgres}} {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			clock := storetest.NewClock(storetest.Epoch)
			fn(t, e.open(t, clock), clock)
		})
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(context.Background())
		if err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		// Migrations are numbered by branch as they are written, so the
		// newest number need not be their count: count the files.
		files, err := os.ReadDir(filepath.Join("migrations", db.Dialect()))
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.VerifyAudit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// One schema.migrated per migration, each version once, the newest
		// last. (Versions may skip a number: branches take theirs.)
		page, err := db.Events(context.Background(), steward.EventFilter{Action: steward.ActionSchemaMigrated, ListOptions: steward.ListOptions{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range page.Items {
			if seen[e.ObjectID] {
				t.Fatalf("migration %s recorded twice", e.ObjectID)
			}
			seen[e.ObjectID] = true
		}
		// The last is River's tables' (object "river"), after Steward's.
		if int64(len(page.Items)) != n || len(page.Items) != len(files)+1 || page.Items[len(page.Items)-2].ObjectID != strconv.Itoa(v) ||
			page.Items[len(page.Items)-1].ObjectID != "river" {
			t.Fatalf("after migrating twice: %d events, %d of them schema.migrated, the last two for %s and %s; want one per migration file (%d) up to %d, then River's",
				n, len(page.Items), page.Items[len(page.Items)-2].ObjectID, page.Items[len(page.Items)-1].ObjectID, len(files), v)
		}
	})
}

// TestTamper edits, inserts and deletes audit rows behind the store's back
// and checks that VerifyAudit names the first bad event. Seq numbers in the
// cases count from the last migration event: B+1 … B+4 are four team
// creations, B+4 the newest.
func TestTamper(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		sql     string // %[1]d is B
		wantSeq int64  // relative to B
		reason  string
	}{
		"edit data":      {`UPDATE events SET data = '{"name":"forged"}' WHERE seq = %[1]d + 2`, 2, "edited"},
		"edit actor":     {`UPDATE events SET actor = 'someone-else' WHERE seq = %[1]d + 3`, 3, "edited"},
		"delete middle":  {`DELETE FROM events WHERE seq = %[1]d + 1`, 2, "deleted"},
		"delete last":    {`DELETE FROM events WHERE seq = %[1]d + 4`, 4, "deleted from the end"},
		"insert garbage": {`INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash) SELECT seq + 1, time, actor, action, object_type, object_id, data, hash, hash FROM events WHERE seq = %[1]d + 4`, 5, "edited"},
		// A forger who recomputes the hash of the row they append is still
		// caught: the head row was not moved.
		"append rehashed": {forgedAppend, 5, "appended"},
		"renumber":        {`UPDATE events SET seq = %[1]d + 9 WHERE seq = %[1]d + 4`, 9, "deleted"},
		"replace hashes":  {`UPDATE events SET hash = '` + strings.Repeat("a", 64) + `' WHERE seq = %[1]d + 1`, 1, "edited"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			each(t, func(t *testing.T, db *sqlstore.DB) {
				ctx := steward.WithActor(context.Background(), "test")
				base, err := db.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for n := 0; n < 4; n++ {
					storetest.MustTeam(t, db, nil)
				}
				if _, err := db.VerifyAudit(ctx); err != nil {
					t.Fatalf("intact chain: %v", err)
				}
				if tc.sql == forgedAppend {
					appendForged(t, db, base+5)
				} else if _, err := sqlstore.RawSQL(db).Exec(fmt.Sprintf(tc.sql, base)); err != nil {
					t.Fatal(err)
				}
				_, err = db.VerifyAudit(ctx)
				var ce *steward.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("VerifyAudit after %q = %v, want a ChainError", tc.sql, err)
				}
				// Renumbering B+4 to B+9 is seen at B+9 as a gap after B+3,
				// which the chain reports at the first missing event.
				want := base + tc.wantSeq
				if name == "renumber" {
					want = base + 9
				}
				if ce.Seq != want || !strings.Contains(ce.Reason, tc.reason) {
					t.Fatalf("ChainError{%d, %q}, want seq %d and %q", ce.Seq, ce.Reason, want, tc.reason)
				}
			})
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := sqlstore.Open("", sqlstore.Options{}); steward.ErrorCode(err) != steward.EINVALID {
		t.Fatalf("empty dsn: %v", err)
	}
	db, err := sqlstore.Open(filepath.Join(t.TempDir(), "missing-dir", "x.db"), sqlstore.Options{})
	if err == nil {
		defer db.Close()
		if err := db.Ping(context.Background()); steward.ErrorCode(err) != steward.EUNAVAILABLE {
			t.Fatalf("ping of an unopenable file: %v", err)
		}
	}
}

const forgedAppend = "forged append"

// appendForged inserts a well-formed event seq that chains to the newest.
func appendForged(t *testing.T, db *sqlstore.DB, seq int64) {
	t.Helper()
	var prev string
	if err := sqlstore.RawSQL(db).QueryRow(fmt.Sprintf(`SELECT hash FROM events WHERE seq = %d`, seq-1)).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	e := steward.Event{Seq: seq, Time: storetest.Epoch, Actor: "token:admin", Action: "grant.created", ObjectType: "grant", ObjectID: "1", Data: []byte(`{}`), PrevHash: prev}
	e.Hash = e.ComputeHash()
	q := fmt.Sprintf(`INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash) VALUES (%d, ?, 'token:admin', 'grant.created', 'grant', '1', '{}', ?, ?)`, seq)
	if db.Dialect() == "postgres" {
		q = fmt.Sprintf(`INSERT INTO events (seq, time, actor, action, object_type, object_id, data, prev_hash, hash) VALUES (%d, $1, 'token:admin', 'grant.created', 'grant', '1', '{}', $2, $3)`, seq)
	}
	if _, err := sqlstore.RawSQL(db).Exec(q, e.Time.UnixMicro(), e.PrevHash, e.Hash); err != nil {
		t.Fatal(err)
	}
}

// TestSearchWithGapEitherWay: on SQLite a page that filters on a search and
// a gap kind is driven by the gap's tasks when they are few and by the
// search index otherwise; both ways give the same pages.
func TestSearchWithGapEitherWay(t *testing.T) {
	t.Parallel()
	db := sqlstoretest.MustOpenSQLite(t, nil)
	ctx := steward.WithActor(context.Background(), "test")
	sys := storetest.MustSystem(t, db, nil)
	empty := storetest.MustTeam(t, db, nil)
	live := storetest.MustTeam(t, db, nil)
	owner := storetest.MustPerson(t, db, func(p *steward.Person) { p.TeamID = &live.ID })
	// Non-ASCII letters too: SQLite's LIKE folds only ASCII, its search
	// index all of Unicode, and a page must not depend on which drives.
	words := []string{"payments", "Billing", "PAYROLL", "ledger", "Émile", "СЕРВИС"}
	for i := range 240 {
		storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) {
			x.Name = fmt.Sprintf("svc-%s-%d", words[i%len(words)], i)
			switch i % 5 {
			case 0: // unowned
			case 1, 2:
				x.OwnerID, x.TeamID = &owner.ID, &live.ID
			case 3:
				x.OwnerID, x.TeamID = &owner.ID, &empty.ID // team inactive
			case 4:
				x.TeamID = &empty.ID // both
			}
		})
	}
	pages := func(f steward.IdentityFilter) []int64 {
		var got []int64
		for _, x := range storetest.AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.IdentityView], error) {
			f.ListOptions = o
			return db.Identities(ctx, f)
		}, 7) {
			got = append(got, x.ID)
		}
		return got
	}
	for _, q := range []string{"payments", "pay", "BILLING", "svc", "-1", "nothing", "émile", "éM", "сервис", "Се"} {
		for _, gap := range steward.GapKinds {
			f := steward.IdentityFilter{Query: q, Gap: gap}
			sqlstore.SetFewGaps(db, 1) // the search index drives (the gap has tasks)
			byIndex := pages(f)
			sqlstore.SetFewGaps(db, 1000) // the tasks drive
			byTasks := pages(f)
			if fmt.Sprint(byIndex) != fmt.Sprint(byTasks) {
				t.Errorf("q=%q gap=%s: driven by the search index %v, by the tasks %v", q, gap, byIndex, byTasks)
			}
			if q == "svc" && gap == steward.GapUnowned && len(byTasks) != 96 {
				t.Errorf("q=svc gap=unowned: %d identities, want 96", len(byTasks))
			}
			if q != "nothing" && gap != steward.GapOwnerDeparted && len(byTasks) == 0 { // nobody has departed here
				t.Errorf("q=%q gap=%s: nothing found", q, gap)
			}
		}
	}
}

// TestAnalyzeIfBehind: on PostgreSQL a bulk load analyses a table it
// outgrew, and a later step analyses only when it wrote a large enough
// share of what the statistics count.
func TestAnalyzeIfBehind(t *testing.T) {
	t.Parallel()
	db := sqlstoretest.MustOpenPostgres(t, nil)
	ctx := steward.WithActor(context.Background(), "test")
	counted := func() float64 {
		var n float64
		if err := sqlstore.RawSQL(db).QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'teams'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := counted(); n > 0 {
		t.Fatalf("a new table counts %v rows", n)
	}
	b := &steward.Bulk{Source: "test"}
	for i := range 2000 {
		b.Teams = append(b.Teams, steward.Team{ID: int64(i + 1), Name: fmt.Sprint("team-", i), CreatedAt: time.Now()})
	}
	if err := db.BulkLoad(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := counted(); n != 2000 {
		t.Fatalf("after a bulk load of 2,000 teams the statistics count %v", n)
	}
	if _, err := sqlstore.RawSQL(db).ExecContext(ctx, `INSERT INTO teams (id, name, display_name, created_at) SELECT g, 'more-' || g, '', 0 FROM generate_series(3001, 3500) g`); err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.AnalyzeIfBehind(ctx, db, "teams", 150, 10); err != nil {
		t.Fatal(err)
	}
	if n := counted(); n != 2000 {
		t.Fatalf("150 rows written of 2,000 counted were analysed (%v)", n)
	}
	if err := sqlstore.AnalyzeIfBehind(ctx, db, "teams", 250, 10); err != nil {
		t.Fatal(err)
	}
	if n := counted(); n != 2500 {
		t.Fatalf("250 rows written of 2,000 counted: the statistics count %v, want 2,500", n)
	}
}

// TestAuthenticateDoesNotWaitForTheWriter: on SQLite a sync holds the one
// writer for its whole transaction; an API request must not wait for it to
// record its token's last use.
func TestAuthenticateDoesNotWaitForTheWriter(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(storetest.Epoch)
	db := sqlstoretest.MustOpenSQLite(t, clock)
	ctx := steward.WithActor(context.Background(), "test")
	exp := storetest.Epoch.Add(time.Hour)
	person := storetest.MustPerson(t, db, nil)
	raw, err := db.CreateToken(ctx, &steward.Token{Name: "api", Role: steward.RoleAuditor, Kind: steward.PrincipalPerson, PersonID: &person.ID, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	sys := storetest.MustSystem(t, db, nil)
	holding, release := make(chan struct{}), make(chan struct{})
	src := steward.SourceFunc(func(ctx context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			close(holding) // the sync's transaction has the writer by now
			<-release
			yield(steward.Record{Identity: &steward.SourceIdentity{ExternalID: "a", Kind: steward.KindBot}}, nil)
		}
	})
	synced := make(chan error, 1)
	go func() {
		_, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "t", Environment: steward.EnvProd})
		synced <- err
	}()
	<-holding
	authed := make(chan error, 1)
	go func() {
		_, err := db.Authenticate(ctx, raw)
		authed <- err
	}()
	select {
	case err := <-authed:
		if err != nil {
			t.Fatalf("authenticate during a sync: %v", err)
		}
	case <-time.After(20 * time.Second):
		close(release)
		t.Fatal("authenticate waited for the sync's transaction")
	}
	close(release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	// The use it could not record is recorded a minute later.
	clock.Advance(2 * time.Minute)
	if _, err := db.Authenticate(ctx, raw); err != nil {
		t.Fatal(err)
	}
	list, err := db.Tokens(ctx)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("tokens after: %+v %v", list, err)
	}
}

// TestRefreshGapsMends: the full gap pass (serve runs it hourly) finds and
// mends gap tasks put out of line behind the store's back: a task deleted,
// a task for a gap that is not there, a task with the wrong team.
func TestRefreshGapsMends(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		sys := storetest.MustSystem(t, db, nil)
		team := storetest.MustTeam(t, db, nil)
		other := storetest.MustTeam(t, db, nil)
		owner := storetest.MustPerson(t, db, func(p *steward.Person) { p.TeamID = &team.ID })
		var unowned, owned []int64
		for i := range 6 {
			x := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) {
				x.TeamID = &team.ID
				if i%2 == 0 {
					x.OwnerID = &owner.ID
				}
			})
			if i%2 == 0 {
				owned = append(owned, x.ID)
			} else {
				unowned = append(unowned, x.ID)
			}
		}
		if res, err := db.RefreshGaps(ctx); err != nil || res.GapsOpened+res.GapsClosed != 0 {
			t.Fatalf("refresh with nothing out of line: %+v %v", res, err)
		}
		for _, step := range []struct {
			name, sql   string
			arg         int64
			open, close int
		}{
			{"a task deleted", `DELETE FROM tasks WHERE identity_id = $1`, unowned[0], 1, 0},
			{"a task for a gap that is not there", `INSERT INTO tasks (kind, gap, identity_id, team_id, status, opened_at, due_at) VALUES ('ownership_gap', 'unowned', $1, ` + fmt.Sprint(team.ID) + `, 'open', 0, 0)`, owned[0], 0, 1},
			{"a task with another team", `UPDATE tasks SET team_id = ` + fmt.Sprint(other.ID) + ` WHERE identity_id = $1`, unowned[1], 0, 0},
		} {
			q := step.sql
			if !sqlstore.OnPostgres(db) {
				q = strings.ReplaceAll(q, "$1", "?")
			}
			if _, err := sqlstore.RawSQL(db).ExecContext(ctx, q, step.arg); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			res, err := db.RefreshGaps(ctx)
			if err != nil || res.GapsOpened != step.open || res.GapsClosed != step.close {
				t.Fatalf("%s: refresh = %+v %v, want %d opened, %d closed", step.name, res, err, step.open, step.close)
			}
			storetest.CheckGaps(t, db, step.name)
		}
	})
}
