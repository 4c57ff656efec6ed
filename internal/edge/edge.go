// Package edge decides what Steward's HTTP server may believe about how a
// request reached it: the host name the client asked for, whether the
// browser's connection is HTTPS, and the client's address. It believes the
// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host headers only from
// the reverse proxies the configuration names, because anyone else can send
// them.
//
// The http package applies it to every request (the API, the web UI and
// /metrics); the web UI reads the result with HTTPS to mark its cookies
// Secure.
package edge

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// HSTS is the Strict-Transport-Security value sent on every response to a
// request that came over HTTPS: a year, for this host only. It leaves out
// includeSubDomains because Steward does not know whether every sibling
// host under its name serves HTTPS.
const HSTS = "max-age=31536000"

// Config is what the edge is told. The zero value trusts no proxy and knows
// no public URL: it accepts localhost and IP addresses as hosts only.
type Config struct {
	// PublicURL is the URL people and clients reach Steward at, such as
	// https://steward.example.com. Its host name is accepted in the Host
	// header, and when its scheme is https a request for that host counts
	// as HTTPS even if a proxy that is not trusted terminated TLS.
	// Default: none.
	PublicURL *url.URL

	// Hosts are more host names to accept: the host names of the listen
	// addresses and any the configuration allows. Default: none.
	Hosts []string

	// TrustedProxies are the networks of the reverse proxies whose
	// X-Forwarded-* headers are believed. Default: none, so that the
	// headers are ignored.
	TrustedProxies []netip.Prefix
}

// Request is what the edge learned about one request.
type Request struct {
	// Host is the host name the client asked for: from Host, or from
	// X-Forwarded-Host when a trusted proxy sent one. Lower case, without
	// port, brackets or a trailing dot.
	Host string
	// HTTPS tells whether the client reached Steward over HTTPS: TLS on
	// this connection, a trusted proxy saying so, or a request for the
	// host of an https public URL.
	HTTPS bool
	// Client is the client's address: the peer, or, when the peer is a
	// trusted proxy, the nearest address in X-Forwarded-For that is not a
	// trusted proxy. Invalid if the peer address cannot be read.
	Client netip.Addr
}

// Resolve reads r as the edge sees it. It never fails: a header that does
// not parse is not believed.
func (c *Config) Resolve(r *http.Request) Request {
	peer := ParseAddr(r.RemoteAddr)
	trusted := c.trusts(peer)
	req := Request{Host: NormalizeHost(r.Host), Client: peer}
	if trusted {
		req.Client = c.client(peer, r.Header.Values("X-Forwarded-For"))
		if h := firstValue(r.Header.Values("X-Forwarded-Host")); h != "" {
			req.Host = NormalizeHost(h)
		}
	}
	switch {
	case r.TLS != nil:
		req.HTTPS = true
	case trusted && strings.EqualFold(firstValue(r.Header.Values("X-Forwarded-Proto")), "https"):
		req.HTTPS = true
	case c.PublicURL != nil && c.PublicURL.Scheme == "https" && req.Host == NormalizeHost(c.PublicURL.Host):
		req.HTTPS = true
	}
	return req
}

// HostAllowed reports whether Steward answers to host (as Request.Host
// gives it). A DNS-rebinding page reaches Steward under a name its author
// controls, and the browser sends that name as Host: so any name that is
// not Steward's own is refused. An IP address, localhost and an empty Host
// (HTTP/1.0) cannot be such a name, so they are always accepted; that is
// also what lets probes and scrapers address a pod by its IP.
func (c *Config) HostAllowed(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if c.PublicURL != nil && host == NormalizeHost(c.PublicURL.Host) {
		return true
	}
	for _, h := range c.Hosts {
		if host == NormalizeHost(h) {
			return true
		}
	}
	return false
}

// trusts reports whether a is the address of a trusted proxy.
func (c *Config) trusts(a netip.Addr) bool {
	return a.IsValid() && slices.ContainsFunc(c.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(a) })
}

// client walks X-Forwarded-For from the right, the end the proxies
// appended to: each trusted proxy vouches for the address before it, and
// the first address that is not a trusted proxy is the client. An entry
// that does not parse ends the walk, so that a client cannot hide behind
// garbage.
func (c *Config) client(peer netip.Addr, xff []string) netip.Addr {
	var hops []string
	for _, v := range xff {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0 && c.trusts(client); i-- {
		a := ParseAddr(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			break
		}
		client = a
	}
	return client
}

// firstValue returns the first comma-separated value of a header: the one
// the proxy nearest the client wrote.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(values[0], ",")
	return strings.TrimSpace(v)
}

// ParseAddr reads an address as RemoteAddr and X-Forwarded-For write it:
// "192.0.2.1:1234", "[2001:db8::1]:443", "192.0.2.1" or "2001:db8::1". An
// IPv4 address mapped into IPv6 is returned as IPv4, so that it matches
// IPv4 networks. It returns the zero Addr when s is none of these.
func ParseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// NormalizeHost returns the host name of a Host header or URL host: lower
// case, without the port, the brackets of an IPv6 address or trailing dots.
// What it makes of a malformed host matters little: that is no host
// HostAllowed accepts.
func NormalizeHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	} else if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return strings.ToLower(strings.TrimRight(h, "."))
}

type requestKey struct{}

// WithRequest returns a context that carries what the edge learned.
func WithRequest(ctx context.Context, req Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// FromContext returns what the edge learned about the request of ctx, and
// false when no edge has seen it.
func FromContext(ctx context.Context) (Request, bool) {
	req, ok := ctx.Value(requestKey{}).(Request)
	return req, ok
}

// HTTPS reports whether r reached Steward over HTTPS, as the edge decided;
// for a request the edge has not seen (a handler served on its own), whether
// it came over TLS.
func HTTPS(r *http.Request) bool {
	if req, ok := FromContext(r.Context()); ok {
		return req.HTTPS
	}
	return r.TLS != nil
}
