package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
)

// testMetricsToken is the metrics token of the tests that scrape.
const testMetricsToken = "metrics-token-for-tests-0123456789"

func withMetricsToken(s *stewardhttp.Server) { s.MetricsToken = testMetricsToken }

func TestMetrics(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, withMetricsToken)
	owner := ts.F.Person()
	ts.F.Identity(func(i *steward.Identity) { i.Kind = steward.KindAPIKey; i.OwnerID = &owner.ID })
	ts.F.Identity(func(i *steward.Identity) { i.Kind = steward.KindAPIKey })
	unowned := ts.F.Identity()
	ts.Get(fmt.Sprintf("/api/v1/identities/%d", unowned.ID))

	scrape := func() string {
		t.Helper()
		r := ts.Do(request{Target: "/metrics", Token: testMetricsToken})
		if r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		return string(r.Body)
	}
	body := scrape()
	for _, want := range []string{
		`steward_identities{kind="api_key",status="active"} 2`,
		`steward_identities{kind="service_account",status="active"} 1`,
		`steward_identities{kind="bot",status="removed"} 0`,
		`steward_ownership_gaps{kind="unowned"} 2`,
		`steward_ownership_gaps{kind="owner_departed"} 0`,
		`steward_people 3`, // with the people of the admin and auditor tokens
		`steward_systems 1`,
		`steward_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/identities/{id}"} 1`,
		`go_goroutines `,
		`process_`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, fmt.Sprintf(`route="/api/v1/identities/%d"`, unowned.ID)) {
		t.Error("a raw path became a route label")
	}

	// Stats are cached: a new identity shows only once StatsMaxAge passes.
	ts.F.Identity(func(i *steward.Identity) { i.Kind = steward.KindAPIKey })
	if body := scrape(); !strings.Contains(body, `steward_identities{kind="api_key",status="active"} 2`) {
		t.Error("stats were not cached")
	}
	ts.Clock.Add(31 * time.Second)
	if body := scrape(); !strings.Contains(body, `steward_identities{kind="api_key",status="active"} 3`) {
		t.Error("stats were not refreshed after 30s")
	}

	// The last successful sync of each source into each system.
	sys := ts.F.System()
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			yield(steward.Record{Identity: &steward.SourceIdentity{ExternalID: "bot-1", Kind: steward.KindBot}}, nil)
		}
	})
	if _, err := ts.Store.SyncSystem(steward.WithActor(context.Background(), "test"), sys.ID, src, steward.SyncOptions{Source: "connector:pg-prod", Environment: steward.EnvProd}); err != nil {
		t.Fatal(err)
	}
	broken := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			yield(steward.Record{}, errors.New("connection refused"))
		}
	})
	if _, err := ts.Store.SyncSystem(steward.WithActor(context.Background(), "test"), sys.ID, broken, steward.SyncOptions{Source: "connector:pg-prod"}); err == nil {
		t.Fatal("a sync whose source failed succeeded")
	}
	ts.Clock.Add(31 * time.Second)
	body = scrape()
	for _, want := range []string{
		fmt.Sprintf(`steward_sync_last_success_timestamp_seconds{source="connector:pg-prod",system=%q} `, sys.Name),
		`steward_sync_last_success_duration_seconds{source="connector:pg-prod"`,
		fmt.Sprintf(`steward_sync_last_failure_timestamp_seconds{source="connector:pg-prod",system=%q} `, sys.Name),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
}

func TestMetricsMethodLabel(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, func(s *stewardhttp.Server) { s.MetricsOpen = true })
	ts.Do(request{Method: "BREW", Target: "/api/v1/teams"})
	ts.Do(request{Target: "/api/v1/no/such/route/12345"})
	body := string(ts.Do(request{Target: "/metrics"}).Body)
	if strings.Contains(body, `method="BREW"`) || !strings.Contains(body, `method="OTHER"`) {
		t.Error("an unknown method became its own label value")
	}
	if strings.Contains(body, "12345") || !strings.Contains(body, `route="/api/"`) {
		t.Error("an unmatched path became its own label value")
	}
}

// TestServe runs the server on a real listener and cancels it with a
// request in flight: the request finishes and Serve returns nil.
func TestServe(t *testing.T) {
	t.Parallel()
	store := MustOpenStore(t)
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &stewardhttp.Server{
		Store: store,
		UI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			io.WriteString(w, "finished")
		}),
		ShutdownTimeout: 5 * time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request got %q", body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestListenAndServeBadAddr(t *testing.T) {
	t.Parallel()
	srv := &stewardhttp.Server{Store: MustOpenStore(t), Addr: "256.0.0.1:bad"}
	if err := srv.ListenAndServe(context.Background()); err == nil {
		t.Error("want an error for a bad address")
	}
}
