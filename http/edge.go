package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/edge"
)

// checkEdge is the first handler a request meets after observe. It works
// out, through the trusted proxies, who the client is and whether it came
// over HTTPS; refuses with 421 a request for a host that is not Steward's,
// so that a DNS-rebinding page cannot read the API, the web UI or /metrics
// through a victim's browser; and sends HSTS with every answer to an HTTPS
// request.
func (s *Server) checkEdge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := s.Edge.Resolve(r)
		if req.Client.IsValid() {
			infoFrom(r.Context()).client = req.Client.String()
		}
		if !s.Edge.HostAllowed(req.Host) {
			s.writeError(w, r, s.misdirected(req.Host))
			return
		}
		if req.HTTPS {
			w.Header().Set("Strict-Transport-Security", edge.HSTS)
		}
		peer := edge.ParseAddr(r.RemoteAddr)
		r = r.WithContext(edge.WithRequest(r.Context(), req)) // a copy: r itself is not to be changed
		if req.Client.IsValid() && req.Client != peer {
			// A trusted proxy named the client: the handlers (the web UI's
			// logs, say) see the client, not the proxy.
			r.RemoteAddr = req.Client.String()
		}
		next.ServeHTTP(w, r)
	})
}

// misdirected is the error for a request to a host that is not Steward's.
func (s *Server) misdirected(host string) error {
	if u := s.Edge.PublicURL; u != nil {
		return steward.Errorf(steward.EMISDIRECTED,
			"This Steward answers at %s, not at %q. Requests under other host names are refused so that a web page cannot reach Steward through DNS rebinding; if %q is Steward's own, add it to allowed_hosts.",
			u.Redacted(), truncate(host, 100), truncate(host, 100))
	}
	return steward.Errorf(steward.EMISDIRECTED,
		"This Steward answers at localhost, its IP addresses and its listen address, not at %q. Requests under other host names are refused so that a web page cannot reach Steward through DNS rebinding; set public_url (--public-url) to the URL people use, or add the name to allowed_hosts.",
		truncate(host, 100))
}

// serveMetrics is the /metrics route of Handler: the metrics, unless they
// are served on a listener of their own.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.MetricsElsewhere {
		return steward.Errorf(steward.ENOTFOUND, "No such route; /openapi.json lists every route.")
	}
	return s.scrape(w, r)
}

// scrape serves the metrics to a scraper that may read them.
func (s *Server) scrape(w http.ResponseWriter, r *http.Request) error {
	if err := s.metricsAccess(r); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

// metricsAccess decides whether r may read the metrics: with a token set,
// it must send it; without, the metrics must be open.
func (s *Server) metricsAccess(r *http.Request) error {
	if s.MetricsToken == "" {
		if s.MetricsOpen {
			return nil
		}
		return steward.Errorf(steward.EFORBIDDEN,
			"/metrics is closed on this server: give the scraper a metrics token (metrics_token_file or STEWARD_METRICS_TOKEN), serve metrics on a listener of their own (--metrics-listen), or open them on a private network (--metrics open).")
	}
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return steward.Errorf(steward.EUNAUTHORIZED, "Scraping /metrics needs the metrics token: send Authorization: Bearer <token>.")
	}
	if !equalSecrets(strings.TrimSpace(raw), s.MetricsToken) {
		return steward.Errorf(steward.EUNAUTHORIZED, "The metrics token is not valid.")
	}
	return nil
}

// equalSecrets compares two secrets in time that depends on neither's
// content nor length: both are hashed to 32 bytes first.
func equalSecrets(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// MetricsHandler serves /metrics alone, for a listener of its own
// (MetricsElsewhere): the same access rules and host check as Handler, and
// a JSON 404 for every other path.
func (s *Server) MetricsHandler() http.Handler {
	s.once.Do(s.init)
	return s.metricsOnly
}

func (s *Server) newMetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoFrom(r.Context()).route = "/metrics"
		if err := s.scrape(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, steward.Errorf(steward.ENOTFOUND, "This listener serves /metrics only."))
	}))
	return s.observe(s.checkEdge(mux))
}
