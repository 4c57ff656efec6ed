package edge

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestResolve(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	public := mustURL(t, "https://steward.example.com")
	for _, tt := range []struct {
		name       string
		cfg        Config
		remote     string
		host       string
		tls        bool
		header     map[string][]string
		wantHost   string
		wantHTTPS  bool
		wantClient string
	}{
		{name: "plain", remote: "192.0.2.1:1234", host: "localhost:8080", wantHost: "localhost", wantClient: "192.0.2.1"},
		{name: "TLS", remote: "192.0.2.1:1234", host: "steward.example.com", tls: true, wantHost: "steward.example.com", wantHTTPS: true, wantClient: "192.0.2.1"},
		{name: "forwarded headers from an untrusted peer are ignored", cfg: Config{TrustedProxies: proxies}, remote: "192.0.2.1:1234", host: "localhost",
			header:   map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Host": {"evil.example"}},
			wantHost: "localhost", wantClient: "192.0.2.1"},
		{name: "no proxy is trusted by default", remote: "10.1.2.3:1234", host: "localhost",
			header:   map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.9"}},
			wantHost: "localhost", wantClient: "10.1.2.3"},
		{name: "a trusted proxy says https", cfg: Config{TrustedProxies: proxies}, remote: "10.1.2.3:1234", host: "steward.internal",
			header:   map[string][]string{"X-Forwarded-Proto": {"HTTPS"}, "X-Forwarded-For": {"203.0.113.9"}},
			wantHost: "steward.internal", wantHTTPS: true, wantClient: "203.0.113.9"},
		{name: "a trusted proxy says http", cfg: Config{TrustedProxies: proxies}, remote: "10.1.2.3:1234", host: "steward.internal",
			header:   map[string][]string{"X-Forwarded-Proto": {"http"}},
			wantHost: "steward.internal", wantClient: "10.1.2.3"},
		{name: "a chain of trusted proxies", cfg: Config{TrustedProxies: proxies}, remote: "10.1.2.3:1234", host: "x",
			header:   map[string][]string{"X-Forwarded-For": {"198.51.100.7, 203.0.113.9", "10.9.9.9"}},
			wantHost: "x", wantClient: "203.0.113.9"},
		{name: "a spoofed first hop stays behind the real client", cfg: Config{TrustedProxies: proxies}, remote: "10.1.2.3:1234", host: "x",
			header:   map[string][]string{"X-Forwarded-For": {"10.0.0.1, 203.0.113.9"}},
			wantHost: "x", wantClient: "203.0.113.9"},
		{name: "garbage in X-Forwarded-For ends the walk", cfg: Config{TrustedProxies: proxies}, remote: "10.1.2.3:1234", host: "x",
			header:   map[string][]string{"X-Forwarded-For": {"203.0.113.9, unknown"}},
			wantHost: "x", wantClient: "10.1.2.3"},
		{name: "addresses with ports and IPv6", cfg: Config{TrustedProxies: proxies}, remote: "[fd00::5]:443", host: "[::1]:8080",
			header:   map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:5555"}},
			wantHost: "::1", wantClient: "2001:db8::7"},
		{name: "IPv4 mapped into IPv6 matches IPv4 networks", cfg: Config{TrustedProxies: proxies}, remote: "[::ffff:10.1.2.3]:1234", host: "x",
			header:   map[string][]string{"X-Forwarded-For": {"203.0.113.9"}},
			wantHost: "x", wantClient: "203.0.113.9"},
		{name: "a trusted proxy names the host", cfg: Config{TrustedProxies: proxies}, remote: "10.1.2.3:1234", host: "steward:8080",
			header:   map[string][]string{"X-Forwarded-Host": {"Steward.Example.com."}},
			wantHost: "steward.example.com", wantClient: "10.1.2.3"},
		{name: "an https public URL makes its host HTTPS", cfg: Config{PublicURL: public}, remote: "192.0.2.1:1234", host: "STEWARD.example.com:443",
			wantHost: "steward.example.com", wantHTTPS: true, wantClient: "192.0.2.1"},
		{name: "but not another host", cfg: Config{PublicURL: public}, remote: "192.0.2.1:1234", host: "127.0.0.1:8080",
			wantHost: "127.0.0.1", wantClient: "192.0.2.1"},
		{name: "an http public URL", cfg: Config{PublicURL: mustURL(t, "http://steward.example.com")}, remote: "192.0.2.1:1234", host: "steward.example.com",
			wantHost: "steward.example.com", wantClient: "192.0.2.1"},
		{name: "a peer address that does not parse", cfg: Config{TrustedProxies: proxies}, remote: "@", host: "x",
			header:   map[string][]string{"X-Forwarded-Proto": {"https"}},
			wantHost: "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr, r.Host, r.TLS = tt.remote, tt.host, nil
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tt.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got := tt.cfg.Resolve(r)
			if got.Host != tt.wantHost || got.HTTPS != tt.wantHTTPS {
				t.Errorf("host, https = %q, %v; want %q, %v", got.Host, got.HTTPS, tt.wantHost, tt.wantHTTPS)
			}
			client := ""
			if got.Client.IsValid() {
				client = got.Client.String()
			}
			if client != tt.wantClient {
				t.Errorf("client = %q, want %q", client, tt.wantClient)
			}
		})
	}
}

func TestHostAllowed(t *testing.T) {
	t.Parallel()
	none := Config{Hosts: []string{"steward.internal", "Box.LAN."}}
	public := Config{PublicURL: mustURL(t, "https://steward.example.com:8443")}
	for _, tt := range []struct {
		cfg  Config
		host string
		want bool
	}{
		{none, "localhost", true},
		{none, "127.0.0.1", true},
		{none, "::1", true},
		{none, "10.20.30.40", true}, // a probe by pod IP
		{none, "", true},
		{none, "steward.internal", true},
		{none, "box.lan", true},
		{none, "evil.example", false},
		{none, "localhost.evil.example", false},
		{none, "127.0.0.1.nip.io", false},
		{none, "steward.internal.evil.example", false},
		{public, "steward.example.com", true},
		{public, "evil.example", false},
		{public, "example.com", false},
		{public, "localhost", true},
		{public, "192.0.2.10", true},
	} {
		if got := tt.cfg.HostAllowed(tt.host); got != tt.want {
			t.Errorf("HostAllowed(%q) with %v = %v, want %v", tt.host, tt.cfg.Hosts, got, tt.want)
		}
	}
}

func TestHTTPSWithoutEdge(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "https://steward.example.com/", nil)
	if !HTTPS(r) {
		t.Error("a TLS request the edge has not seen is not HTTPS")
	}
	r = httptest.NewRequest("GET", "http://steward.example.com/", nil)
	if HTTPS(r) {
		t.Error("a plain request the edge has not seen is HTTPS")
	}
	r = r.WithContext(WithRequest(r.Context(), Request{HTTPS: true}))
	if !HTTPS(r) {
		t.Error("HTTPS ignores what the edge decided")
	}
}

// FuzzResolve feeds the edge what a client controls: the Host and the
// forwarded headers. It must not panic and must never believe the headers
// of an untrusted peer.
func FuzzResolve(f *testing.F) {
	f.Add("10.1.2.3:1234", "steward.example.com", "203.0.113.9, 10.0.0.1", "https", "evil.example")
	f.Add("192.0.2.1:1", "[::1]:80", "[2001:db8::1]:5,garbage", "HTTPS,http", "")
	f.Add("[fd00::1]:443", "LOCALHOST.", ",,,", "", "a,b")
	f.Add("@", "", "", "", "")
	cfg := Config{
		PublicURL:      &url.URL{Scheme: "https", Host: "steward.example.com"},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
	}
	f.Fuzz(func(t *testing.T, remote, host, xff, proto, xfh string) {
		r := &http.Request{RemoteAddr: remote, Host: host, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Forwarded-Proto", proto)
		r.Header.Set("X-Forwarded-Host", xfh)
		got := cfg.Resolve(r)
		if got.Host != strings.ToLower(got.Host) {
			t.Errorf("host %q is not lower case", got.Host)
		}
		_ = cfg.HostAllowed(got.Host)
		peer := ParseAddr(remote)
		if !cfg.trusts(peer) {
			if got.Client != peer {
				t.Errorf("untrusted peer %q: client %v from the headers", remote, got.Client)
			}
			if got.Host != NormalizeHost(host) {
				t.Errorf("untrusted peer %q: host %q from the headers", remote, got.Host)
			}
			if got.HTTPS && got.Host != "steward.example.com" {
				t.Errorf("untrusted peer %q: HTTPS from the headers", remote)
			}
		}
	})
}
