package http

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

// healthz answers 200 while the process runs. It does not touch the store:
// a liveness probe that fails with the database would restart healthy
// replicas during a database outage.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": steward.Version})
}

// readyz answers 200 when the store can be reached and 503 when it cannot,
// so that a load balancer sends traffic elsewhere.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "store not ready", slog.String("error", err.Error()))
		return steward.Errorf(steward.EUNAVAILABLE, "The store cannot be reached.")
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// openAPIDocument is the hand-written OpenAPI 3.1 description of every
// route; tests hold it and the route table to each other.
//
//go:embed openapi.json
var openAPIDocument []byte

// serveOpenAPI serves the OpenAPI document, without authentication so that
// clients can be generated from it.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDocument)
	return nil
}
