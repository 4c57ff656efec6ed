package main

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/internal/edge"
)

// metricsTokenEnv holds the metrics token itself, for platforms that hand
// secrets over in the environment; metrics_token_file is the other way. The
// token has no flag, so that it never shows in a process list.
const metricsTokenEnv = "STEWARD_METRICS_TOKEN"

// minMetricsToken is the shortest metrics token accepted: anything shorter
// is a password someone typed, not a random secret.
const minMetricsToken = 16

// Metrics access modes of --metrics.
const (
	metricsToken = "token"
	metricsOpen  = "open"
)

// edgeFlags are serve's settings for how requests reach it: the public URL,
// the host names and proxies it trusts, the cookie flag, and who may read
// /metrics.
type edgeFlags struct {
	publicURL        string
	trustedProxies   []string
	allowedHosts     []string
	cookieSecure     bool
	metrics          string
	metricsListen    string
	metricsTokenFile string
}

func addEdgeFlags(cmd *cobra.Command, f *edgeFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.publicURL, "public-url", "", "the URL people and clients reach Steward at, e.g. https://steward.example.com; its host is accepted in requests and https makes cookies Secure and turns on HSTS")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxies", nil, "networks (CIDR) of the reverse proxies whose X-Forwarded-For, -Proto and -Host headers are believed; default none")
	fl.StringSliceVar(&f.allowedHosts, "allowed-hosts", nil, "more host names Steward answers to, besides the public URL's, localhost, IP addresses and the listen address")
	fl.BoolVar(&f.cookieSecure, "cookie-secure", false, "mark the web UI's cookies Secure on every request; implied by an https --public-url, and per request by HTTPS")
	fl.StringVar(&f.metrics, "metrics", metricsToken, "who may read /metrics: token (a scrape sends the metrics token; without one /metrics is closed) or open (anyone who reaches it); serve --demo on localhost defaults to open")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "serve /metrics on this address only (e.g. 0.0.0.0:9090), not on --addr")
	fl.StringVar(&f.metricsTokenFile, "metrics-token-file", "", "file holding the bearer token a scrape of /metrics must send (or set "+metricsTokenEnv+")")
}

// edgeSettings are the checked edgeFlags, ready to apply.
type edgeSettings struct {
	edge             edge.Config
	cookieSecure     bool
	metricsToken     string
	metricsOpen      bool
	metricsElsewhere bool
}

// apply configures the server; cookieSecure is for web.UI.Secure.
func (s *edgeSettings) apply(srv *stewardhttp.Server) {
	srv.Edge = s.edge
	srv.MetricsToken, srv.MetricsOpen, srv.MetricsElsewhere = s.metricsToken, s.metricsOpen, s.metricsElsewhere
}

// check checks the flags before anything starts. addr is the main listen
// address; demo says whether serve --demo runs, whose metrics stay open on
// localhost unless --metrics says otherwise.
func (f *edgeFlags) check(cmd *cobra.Command, e *env, addr string, demo bool) (*edgeSettings, error) {
	cfg, err := f.edgeConfig(addr)
	if err != nil {
		return nil, err
	}
	s := &edgeSettings{edge: cfg, cookieSecure: f.cookieSecure || (cfg.PublicURL != nil && cfg.PublicURL.Scheme == "https")}
	for _, p := range cfg.TrustedProxies {
		if p.Bits() == 0 {
			e.logger.Warn("trusted_proxies includes every address: any client can claim any address and scheme", "network", p.String())
		}
	}

	mode := f.metrics
	if demo && !cmd.Flags().Changed("metrics") && isLoopback(addr) && (f.metricsListen == "" || isLoopback(f.metricsListen)) {
		mode = metricsOpen // the demo's scraper is whoever runs it
	}
	token, err := f.metricsTokenValue()
	if err != nil {
		return nil, err
	}
	switch mode {
	case metricsToken:
		s.metricsToken = token
		if token == "" {
			e.logger.Warn("/metrics is closed: set metrics_token_file or " + metricsTokenEnv + " for the scraper, or --metrics open on a private network")
		}
	case metricsOpen:
		if token != "" {
			return nil, steward.Errorf(steward.EINVALID, "--metrics open and a metrics token exclude each other: drop one.")
		}
		s.metricsOpen = true
	default:
		return nil, steward.Errorf(steward.EINVALID, "--metrics %q is not known; one of: token, open.", f.metrics)
	}
	s.metricsElsewhere = f.metricsListen != ""
	return s, nil
}

// edgeConfig checks the public URL, the proxies and the host names.
func (f *edgeFlags) edgeConfig(addr string) (edge.Config, error) {
	var cfg edge.Config
	if f.publicURL != "" {
		u, err := parsePublicURL(f.publicURL)
		if err != nil {
			return cfg, err
		}
		cfg.PublicURL = u
	}
	for _, s := range f.trustedProxies {
		p, err := parseNetwork(s)
		if err != nil {
			return cfg, err
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	for _, h := range f.allowedHosts {
		h = strings.TrimSpace(h)
		if h == "" || strings.ContainsAny(h, "/ @?#*") {
			return cfg, steward.Errorf(steward.EINVALID, "allowed_hosts: %q is not a host name (no scheme, path or wildcard: steward.internal).", h)
		}
		cfg.Hosts = append(cfg.Hosts, h)
	}
	for _, a := range []string{addr, f.metricsListen} {
		if host, _, err := net.SplitHostPort(a); err == nil && host != "" {
			cfg.Hosts = append(cfg.Hosts, host)
		}
	}
	return cfg, nil
}

// parsePublicURL accepts an absolute http or https URL of a host, without
// a path: Steward is served at the root of its host.
func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, steward.Errorf(steward.EINVALID, "public_url %q must be an http or https URL with a host, such as https://steward.example.com.", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, steward.Errorf(steward.EINVALID, "public_url %q must be only a scheme and host (and port): Steward is served at the root of its host.", u.Redacted())
	}
	u.Path = ""
	return u, nil
}

// parseNetwork reads a network in CIDR notation, or one address.
func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	return netip.Prefix{}, steward.Errorf(steward.EINVALID, "trusted_proxies: %q is not a network such as 10.0.0.0/8 or an address such as 10.1.2.3.", s)
}

// metricsTokenValue reads the metrics token from its file or the
// environment, or returns "" when neither is set.
func (f *edgeFlags) metricsTokenValue() (string, error) {
	env, inEnv := os.LookupEnv(metricsTokenEnv)
	var token string
	switch {
	case f.metricsTokenFile != "" && inEnv:
		return "", steward.Errorf(steward.EINVALID, "both metrics_token_file and %s are set: keep one.", metricsTokenEnv)
	case f.metricsTokenFile != "":
		b, err := os.ReadFile(f.metricsTokenFile) // #nosec G304 -- the file --metrics-token-file names
		if err != nil {
			return "", steward.Errorf(steward.EINVALID, "cannot read metrics_token_file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	case inEnv:
		token = strings.TrimSpace(env)
	default:
		return "", nil
	}
	if len(token) < minMetricsToken {
		return "", steward.Errorf(steward.EINVALID, "the metrics token is shorter than %d characters; make a random one, e.g. with 'openssl rand -hex 32'.", minMetricsToken)
	}
	return token, nil
}

// isLoopback reports whether a listen address is on the loopback interface
// only, so that nobody but this machine reaches it.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
