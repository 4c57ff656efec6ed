package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/edge"
)

// TestConfigLists: trusted_proxies and allowed_hosts may be YAML lists; any
// other setting stays a single value.
func TestConfigLists(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig("steward.yaml", []byte("trusted_proxies: [10.0.0.0/8, \"fd00::/8\"]\nallowed_hosts:\n  - steward.internal\naddr: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Settings["trusted_proxies"]; got != "10.0.0.0/8,fd00::/8" {
		t.Errorf("trusted_proxies = %q", got)
	}
	if got := cfg.Settings["allowed_hosts"]; got != "steward.internal" {
		t.Errorf("allowed_hosts = %q", got)
	}
	for _, bad := range []string{"addr: [a, b]\n", "trusted_proxies: [\"10.0.0.0/8,10.1.0.0/16\"]\n", "trusted_proxies: [[10.0.0.0/8]]\n"} {
		if _, err := parseConfig("steward.yaml", []byte(bad)); steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("%q: err = %v, want EINVALID", bad, err)
		}
	}
}

// TestServeEdgeRefused: serve refuses edge settings that cannot work before
// it touches the database, naming the setting.
func TestServeEdgeRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(short, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--public-url", "ftp://steward.example.com"}, "public_url"},
		{[]string{"--public-url", "steward.example.com"}, "public_url"},
		{[]string{"--public-url", "https://steward.example.com/steward"}, "root of its host"},
		{[]string{"--public-url", "https://admin:pw@steward.example.com"}, "public_url"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, "trusted_proxies"},
		{[]string{"--trusted-proxies", "proxy.internal"}, "trusted_proxies"},
		{[]string{"--allowed-hosts", "https://steward.internal"}, "allowed_hosts"},
		{[]string{"--allowed-hosts", "*.example.com"}, "allowed_hosts"},
		{[]string{"--metrics", "public"}, "--metrics"},
		{[]string{"--metrics", "open", "--metrics-token-file", good}, "exclude each other"},
		{[]string{"--metrics-token-file", short}, "shorter than"},
		{[]string{"--metrics-token-file", filepath.Join(dir, "missing")}, "metrics_token_file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "steward.db")
			code, _, errOut := run(t, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tc.args...)...)
			if code != ExitInvalid || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d saying %q:\n%s", code, ExitInvalid, tc.want, errOut)
			}
			if _, err := os.Stat(db); err == nil {
				t.Error("serve created the database before checking its settings")
			}
		})
	}
}

// TestServeEdge runs serve from a configuration file with a public URL, a
// trusted proxy, and the metrics on a listener of their own behind a token.
func TestServeEdge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const token = "0123456789abcdef0123456789abcdef"
	tokenFile := filepath.Join(dir, "metrics-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "steward.yaml")
	if err := os.WriteFile(conf, []byte(`db: `+filepath.Join(dir, "steward.db")+`
addr: 127.0.0.1:0
public_url: https://steward.example.test
trusted_proxies:
  - 127.0.0.0/8
metrics_listen: 127.0.0.1:0
metrics_token_file: `+tokenFile+`
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"serve", "--config", conf}, &stdout, &stderr) }()
	mainRE := regexp.MustCompile(`msg="steward serving" url=(http://\S+)`)
	metricsRE := regexp.MustCompile(`msg="serving metrics" url=(http://\S+)`)
	var base, metrics string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && (base == "" || metrics == ""); time.Sleep(20 * time.Millisecond) {
		if m := mainRE.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		if m := metricsRE.FindStringSubmatch(stderr.String()); m != nil {
			metrics = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d early: %s", code, stderr.String())
		default:
		}
	}
	if base == "" || metrics == "" {
		t.Fatalf("serve logged no URLs:\n%s", stderr.String())
	}
	get := func(url, host string, header map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, url, host string
		header          map[string]string
		status          int
		hsts            bool
	}{
		{"metrics are not on the main listener", base + "/metrics", "", nil, 404, false},
		{"metrics listener without the token", metrics, "", nil, 401, false},
		{"metrics listener with the token", metrics, "", map[string]string{"Authorization": "Bearer " + token}, 200, false},
		{"metrics listener at a rebound name", metrics, "evil.example", map[string]string{"Authorization": "Bearer " + token}, 421, false},
		{"a rebound name", base + "/healthz", "evil.example", nil, 421, false},
		{"the public host", base + "/healthz", "steward.example.test", nil, 200, true},
		{"the trusted proxy says https", base + "/healthz", "", map[string]string{"X-Forwarded-Proto": "https"}, 200, true},
		{"plain HTTP at the listen address", base + "/healthz", "", nil, 200, false},
	} {
		resp := get(tc.url, tc.host, tc.header)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); (got == edge.HSTS) != tc.hsts {
			t.Errorf("%s: Strict-Transport-Security = %q", tc.name, got)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancel")
	}
}
