package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/http/web"
	"github.com/stewardhq/steward/internal/edge"
)

// edgeStack is the whole handler stack serve runs, the web UI included,
// over a real SQLite store: Server.Handler, which the tests call directly so
// that they can set the peer address and the Host a browser would send.
type edgeStack struct {
	srv   *stewardhttp.Server
	h     http.Handler
	admin string // an admin API token
	logs  *syncBuffer
}

func newEdgeStack(t *testing.T, configure func(*stewardhttp.Server, *web.UI)) *edgeStack {
	t.Helper()
	store := MustOpenStore(t)
	logs := &syncBuffer{}
	ui := &web.UI{Store: store}
	srv := &stewardhttp.Server{Store: store, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if configure != nil {
		configure(srv, ui)
	}
	srv.UI = ui.Handler()
	return &edgeStack{srv: srv, h: srv.Handler(), admin: MustCreateToken(t, store, "admin", steward.RoleAdmin), logs: logs}
}

// edgeRequest is one request as it arrives: from which peer, for which
// host, with which headers.
type edgeRequest struct {
	method, target string
	host, remote   string // default: 127.0.0.1:8080 and 192.0.2.1:1234
	header         map[string]string
	body           string // a form, when set
}

func (s *edgeStack) do(r edgeRequest) *http.Response {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(method, r.target, body)
	req.Host, req.RemoteAddr = "127.0.0.1:8080", "192.0.2.1:1234"
	if r.host != "" {
		req.Host = r.host
	}
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w.Result()
}

func errorCode(t *testing.T, res *http.Response) string {
	t.Helper()
	var e stewardhttp.ErrorResponse
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatalf("status %d: body is not a JSON error: %v", res.StatusCode, err)
	}
	return e.Error.Code + ": " + e.Error.Message
}

// TestHostCheck: a DNS-rebinding page reaches Steward under its own name,
// and the browser sends that name as Host. Before the check, every route
// answered whatever the Host; now each one refuses a foreign host with 421
// and a message that says which host Steward answers to.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	open := newEdgeStack(t, func(s *stewardhttp.Server, _ *web.UI) {
		s.MetricsOpen = true
		s.Edge.Hosts = []string{"steward.internal"}
	})
	public := newEdgeStack(t, func(s *stewardhttp.Server, _ *web.UI) {
		s.MetricsOpen = true
		s.Edge.PublicURL = &url.URL{Scheme: "https", Host: "steward.example.com"}
		s.Edge.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	for _, tt := range []struct {
		name  string
		stack *edgeStack
		req   edgeRequest
		want  int
	}{
		{"API at a rebound name", open, edgeRequest{target: "/api/v1/identities", host: "evil.example:8080"}, 421},
		{"web UI at a rebound name", open, edgeRequest{target: "/signin", host: "evil.example:8080"}, 421},
		{"sign-in post at a rebound name", open, edgeRequest{method: "POST", target: "/signin", host: "evil.example", body: "token=x"}, 421},
		{"metrics at a rebound name", open, edgeRequest{target: "/metrics", host: "evil.example"}, 421},
		{"health at a rebound name", open, edgeRequest{target: "/healthz", host: "evil.example"}, 421},
		{"API at localhost", open, edgeRequest{target: "/api/v1/identities", host: "localhost:8080"}, 200},
		{"web UI at localhost", open, edgeRequest{target: "/signin", host: "LOCALHOST.:8080"}, 200},
		{"web UI at 127.0.0.1", open, edgeRequest{target: "/signin", host: "127.0.0.1:8080"}, 200},
		{"web UI at [::1]", open, edgeRequest{target: "/signin", host: "[::1]:8080"}, 200},
		{"web UI at the listen host", open, edgeRequest{target: "/signin", host: "steward.internal:8080"}, 200},
		{"health probe by pod IP", open, edgeRequest{target: "/healthz", host: "10.42.3.17:8080"}, 200},
		{"metrics scrape by pod IP", open, edgeRequest{target: "/metrics", host: "10.42.3.17:8080"}, 200},
		{"API at the public host", public, edgeRequest{target: "/api/v1/identities", host: "Steward.Example.com"}, 200},
		{"web UI at the public host", public, edgeRequest{target: "/signin", host: "steward.example.com:443"}, 200},
		{"web UI at another name", public, edgeRequest{target: "/signin", host: "steward.example.com.evil.example"}, 421},
		{"a trusted proxy forwards a rebound name", public, edgeRequest{target: "/signin", remote: "10.0.0.2:5555",
			header: map[string]string{"X-Forwarded-Host": "evil.example"}}, 421},
		{"an untrusted client cannot pass as the public host", public, edgeRequest{target: "/signin", host: "evil.example",
			header: map[string]string{"X-Forwarded-Host": "steward.example.com"}}, 421},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if strings.HasPrefix(tt.req.target, "/api/") {
				tt.req.header = map[string]string{"Authorization": "Bearer " + tt.stack.admin}
			}
			res := tt.stack.do(tt.req)
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want == 421 {
				msg := errorCode(t, res)
				if !strings.HasPrefix(msg, steward.EMISDIRECTED+":") || !strings.Contains(msg, "DNS rebinding") {
					t.Errorf("error = %q, want code misdirected and why", msg)
				}
				if tt.stack == public && !strings.Contains(msg, "https://steward.example.com") {
					t.Errorf("error = %q, want the public URL", msg)
				}
			}
		})
	}
}

// TestMetricsAccess: /metrics answered everyone. Now it answers only the
// scraper that sends the metrics token, or everyone when opened on
// purpose, or, when moved to a listener of its own, nobody on the main one.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	const token = "a-metrics-token-of-32-characters"
	closed := newEdgeStack(t, nil)
	tokened := newEdgeStack(t, func(s *stewardhttp.Server, _ *web.UI) { s.MetricsToken = token })
	opened := newEdgeStack(t, func(s *stewardhttp.Server, _ *web.UI) { s.MetricsOpen = true })
	elsewhere := newEdgeStack(t, func(s *stewardhttp.Server, _ *web.UI) { s.MetricsOpen, s.MetricsElsewhere = true, true })
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, tt := range []struct {
		name   string
		h      http.Handler
		header map[string]string
		target string
		want   int
		code   string
	}{
		{"closed by default", closed.h, nil, "/metrics", 403, steward.EFORBIDDEN},
		{"closed, even to an admin API token", closed.h, bearer(closed.admin), "/metrics", 403, steward.EFORBIDDEN},
		{"no token", tokened.h, nil, "/metrics", 401, steward.EUNAUTHORIZED},
		{"wrong token", tokened.h, bearer(token + "x"), "/metrics", 401, steward.EUNAUTHORIZED},
		{"an API token is not the metrics token", tokened.h, bearer(tokened.admin), "/metrics", 401, steward.EUNAUTHORIZED},
		{"basic auth", tokened.h, map[string]string{"Authorization": "Basic " + token}, "/metrics", 401, steward.EUNAUTHORIZED},
		{"the metrics token", tokened.h, bearer(token), "/metrics", 200, ""},
		{"the metrics token, lower-case scheme", tokened.h, map[string]string{"Authorization": "bearer " + token}, "/metrics", 200, ""},
		{"opened", opened.h, nil, "/metrics", 200, ""},
		{"moved: not on the main handler", elsewhere.h, nil, "/metrics", 404, steward.ENOTFOUND},
		{"moved: on the metrics handler", elsewhere.srv.MetricsHandler(), nil, "/metrics", 200, ""},
		{"moved: the metrics handler serves nothing else", elsewhere.srv.MetricsHandler(), bearer(elsewhere.admin), "/api/v1/identities", 404, steward.ENOTFOUND},
		{"moved: the metrics handler serves nothing else, not even the UI", elsewhere.srv.MetricsHandler(), nil, "/signin", 404, steward.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &edgeStack{h: tt.h}
			res := s.do(edgeRequest{target: tt.target, header: tt.header})
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want == 200 {
				b, _ := io.ReadAll(res.Body)
				if !strings.Contains(string(b), "steward_people ") {
					t.Errorf("no metrics in:\n%.500s", b)
				}
				return
			}
			if msg := errorCode(t, res); !strings.HasPrefix(msg, tt.code+":") {
				t.Errorf("error = %q, want code %s", msg, tt.code)
			}
			if tt.want == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// The metrics handler checks the host too.
	s := &edgeStack{h: elsewhere.srv.MetricsHandler()}
	if res := s.do(edgeRequest{target: "/metrics", host: "evil.example:9090"}); res.StatusCode != 421 {
		t.Errorf("metrics handler at a rebound name: status %d, want 421", res.StatusCode)
	}
}

// TestServeMetrics runs the metrics handler on a listener of its own.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	srv := &stewardhttp.Server{Store: MustOpenStore(t), MetricsOpen: true, MetricsElsewhere: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeMetrics(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "steward_identities{") {
		t.Errorf("metrics listener: %d\n%.500s", resp.StatusCode, b)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeMetrics = %v, want nil after cancel", err)
	}
}

// TestSecureCookieAndHSTS signs in through the whole stack and reads the
// session cookie's Secure flag and the Strict-Transport-Security header.
// Before, the cookie was Secure only with --cookie-secure, whatever the
// public URL, and no response had HSTS. Now both follow how the browser
// reached Steward, believing X-Forwarded-Proto only from trusted proxies.
func TestSecureCookieAndHSTS(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		name       string
		configure  func(*stewardhttp.Server, *web.UI)
		req        edgeRequest
		wantSecure bool
		wantHSTS   bool
	}{
		{"plain HTTP on localhost", nil, edgeRequest{host: "localhost:8080"}, false, false},
		{"an https public URL", func(s *stewardhttp.Server, _ *web.UI) {
			s.Edge.PublicURL = &url.URL{Scheme: "https", Host: "steward.example.com"}
		}, edgeRequest{host: "steward.example.com"}, true, true},
		{"an http public URL", func(s *stewardhttp.Server, _ *web.UI) {
			s.Edge.PublicURL = &url.URL{Scheme: "http", Host: "steward.example.com"}
		}, edgeRequest{host: "steward.example.com"}, false, false},
		{"a trusted proxy says https", func(s *stewardhttp.Server, _ *web.UI) { s.Edge.TrustedProxies = proxies },
			edgeRequest{remote: "10.0.0.2:5555", header: map[string]string{"X-Forwarded-Proto": "https"}}, true, true},
		{"a trusted proxy says http", func(s *stewardhttp.Server, _ *web.UI) { s.Edge.TrustedProxies = proxies },
			edgeRequest{remote: "10.0.0.2:5555", header: map[string]string{"X-Forwarded-Proto": "http"}}, false, false},
		{"a client that is no trusted proxy says https", func(s *stewardhttp.Server, _ *web.UI) { s.Edge.TrustedProxies = proxies },
			edgeRequest{remote: "192.0.2.1:5555", header: map[string]string{"X-Forwarded-Proto": "https"}}, false, false},
		{"no proxy is trusted unless configured", nil,
			edgeRequest{remote: "10.0.0.2:5555", header: map[string]string{"X-Forwarded-Proto": "https"}}, false, false},
		{"TLS on the connection", nil, edgeRequest{target: "https://127.0.0.1:8443/signin"}, true, true},
		{"--cookie-secure on plain HTTP", func(_ *stewardhttp.Server, ui *web.UI) { ui.Secure = true }, edgeRequest{}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newEdgeStack(t, tt.configure)
			req := tt.req
			req.method, req.body = http.MethodPost, url.Values{"token": {s.admin}}.Encode()
			if req.target == "" {
				req.target = "/signin"
			}
			res := s.do(req)
			if res.StatusCode != http.StatusSeeOther {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("sign in: status %d\n%s", res.StatusCode, b)
			}
			var session *http.Cookie
			for _, c := range res.Cookies() {
				if c.Name == web.SessionCookie {
					session = c
				}
			}
			if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie = %+v, want HttpOnly and SameSite=Strict", session)
			}
			if session.Secure != tt.wantSecure {
				t.Errorf("session cookie Secure = %v, want %v", session.Secure, tt.wantSecure)
			}
			wantHSTS := ""
			if tt.wantHSTS {
				wantHSTS = edge.HSTS
			}
			if got := res.Header.Get("Strict-Transport-Security"); got != wantHSTS {
				t.Errorf("sign-in: Strict-Transport-Security = %q, want %q", got, wantHSTS)
			}

			// The API answers with the same HSTS.
			api := req
			api.method, api.body = "", ""
			api.target = strings.Replace(req.target, "/signin", "/api/v1/teams", 1)
			api.header = map[string]string{"Authorization": "Bearer " + s.admin}
			for k, v := range req.header {
				api.header[k] = v
			}
			res = s.do(api)
			if got := res.Header.Get("Strict-Transport-Security"); res.StatusCode != 200 || got != wantHSTS {
				t.Errorf("API: status %d, Strict-Transport-Security = %q, want %q", res.StatusCode, got, wantHSTS)
			}
		})
	}
}

// TestClientAddressInLogs: the request log names the client, which behind
// a trusted proxy is the address it forwarded; anyone else's
// X-Forwarded-For is ignored.
func TestClientAddressInLogs(t *testing.T) {
	t.Parallel()
	s := newEdgeStack(t, func(s *stewardhttp.Server, _ *web.UI) {
		s.Edge.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	xff := map[string]string{"X-Forwarded-For": "198.51.100.23, 10.0.0.9"}
	s.do(edgeRequest{target: "/healthz?via=proxy", remote: "10.0.0.2:5555", header: xff})
	s.do(edgeRequest{target: "/readyz", remote: "192.0.2.77:5555", header: xff})
	var clients []string
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var l struct {
			Msg, Route, Client string
		}
		if err := json.Unmarshal([]byte(line), &l); err == nil && l.Msg == "http request" {
			clients = append(clients, l.Route+" "+l.Client)
		}
	}
	if want := []string{"/healthz 198.51.100.23", "/readyz 192.0.2.77"}; strings.Join(clients, ";") != strings.Join(want, ";") {
		t.Errorf("logged clients %q, want %q", clients, want)
	}
}
