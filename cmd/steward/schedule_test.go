package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
)

// TestReplicasSyncOncePerPeriod runs two 'steward serve' in this process on
// one PostgreSQL, the way two replicas run: each with its own store, pools
// and River client, and the same configuration, whose postgres connector
// (the test server itself) is scheduled every second. Each period's sync is
// made once: every sync run recorded is the one run of one period's job (or
// the job was skipped, since the previous sync still held its lock).
func TestReplicasSyncOncePerPeriod(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	prefix := fmt.Sprintf("replicas_%d_", rand.Int64N(1e9))
	if _, err := admin.Exec(`CREATE ROLE ` + prefix + `app NOLOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP ROLE IF EXISTS ` + prefix + `app`) })
	cfg, err := parseConfig("steward.yaml", fmt.Appendf(nil, `connectors:
  - name: pg-replicas
    type: postgres
    schedule: 1m
    postgres:
      dsn: %q
      include_roles: ["%s*"]
`, dsn, prefix))
	if err != nil {
		t.Fatal(err)
	}
	// A period a test can wait for; the configuration allows a minute at
	// least.
	const period = time.Second
	cfg.Connectors[0].Schedule = period
	db := sqlstoretest.FreshSchemaDSN(t)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	logs := make([]*syncBuffer, 2)
	exited := make(chan string, 2)
	for i, id := range []string{"replica-a", "replica-b"} {
		logs[i] = &syncBuffer{}
		e := &env{stdout: logs[i], stderr: logs[i], config: cfg, logger: slog.New(slog.NewTextHandler(logs[i], nil)),
			runner: runnerOptions{id: id, pollInterval: 200 * time.Millisecond}}
		cmd := newServeCmd(e)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs([]string{"--db", db, "--addr", "127.0.0.1:0"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.ExecuteContext(ctx); err != nil {
				t.Errorf("%s: %v\n%s", id, err, logs[i])
			}
			exited <- id
		}()
	}

	store, err := sqlstore.Open(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Both replicas migrate the new schema as they start, one after the
	// other; until then it has no tables.
	okRuns := func() []steward.SyncRun {
		ok := false
		page, err := store.SyncRuns(context.Background(), steward.SyncRunFilter{Source: "connector:pg-replicas", Failed: &ok})
		if err != nil {
			return nil
		}
		return page.Items
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(okRuns()) < 4 {
		select {
		case id := <-exited:
			t.Fatalf("%s stopped before the test ended:\n%s%s", id, logs[0], logs[1])
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for four syncs:\n%s%s", logs[0], logs[1])
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()

	runs := okRuns()
	jobs := scheduledJobs(t, db, "sync:pg-replicas")
	periods := map[time.Time]int{}
	completed := 0
	for _, j := range jobs {
		periods[j.at.Truncate(period)]++
		if j.state == "completed" {
			completed++
		}
	}
	for p, n := range periods {
		if n > 1 {
			t.Errorf("the period from %s has %d sync jobs, want one", p, n)
		}
	}
	// A period's job either syncs, or is skipped when the previous
	// period's sync still holds the connector's lock (a busy machine). The
	// replicas stop as soon as the fourth sync is recorded: a job whose
	// sync had committed but that had not returned is cancelled and left
	// to run again (attempted, not completed), so it may add one sync.
	skipped := strings.Count(logs[0].String()+logs[1].String(), "scheduled run skipped")
	interrupted := 0
	for _, j := range jobs {
		if j.state != "completed" && j.by != "" {
			interrupted++
		}
	}
	if n := len(runs) + skipped; n < completed || n > completed+interrupted {
		t.Errorf("%d syncs recorded and %d skipped, for %d sync jobs done (one per period) and %d interrupted: %+v", len(runs), skipped, completed, interrupted, jobs)
	}
	t.Logf("%d periods, %d syncs, %d skipped, worked by %v", len(periods), len(runs), skipped, workedBy(jobs))
}

type scheduledJob struct {
	at    time.Time // the period's instant: River's scheduled_at
	state string
	by    string // the clients that attempted it
}

// scheduledJobs returns River's jobs for the scheduled run name.
func scheduledJobs(t *testing.T, dsn, name string) []scheduledJob {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT scheduled_at, state, COALESCE(array_to_string(attempted_by, ','), '') FROM river_job
		WHERE kind = 'scheduled_run' AND args->>'name' = $1 ORDER BY id`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []scheduledJob
	for rows.Next() {
		var j scheduledJob
		if err := rows.Scan(&j.at, &j.state, &j.by); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func workedBy(jobs []scheduledJob) map[string]int {
	by := map[string]int{}
	for _, j := range jobs {
		by[j.by]++
	}
	return by
}
