package http

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/stewardhq/steward"
)

// catalogCache holds the decider of the catalog version last compiled, so
// that a decision does not compile the catalog again.
type catalogCache struct {
	mu      sync.Mutex
	digest  string
	decider steward.AccessDecider
	catalog *steward.Catalog
}

// getCatalog answers the catalog in force: its version, who applied it
// when, its text exactly as applied and the catalog as Steward reads it.
func (s *Server) getCatalog(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	v, err := s.Store.CatalogInForce(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// catalogApplied is PUT /api/v1/catalog's answer.
type catalogApplied struct {
	Changed bool                    `json:"changed"` // false: the text in force was applied again
	Version *steward.CatalogVersion `json:"version"`
	Changes []steward.CatalogChange `json:"changes"`
}

// putCatalog applies a catalog's YAML text (Content-Type application/yaml):
// every problem with its line and column, and nothing applied, or the new
// version in force with what changed. The same text again changes nothing.
func (s *Server) putCatalog(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if s.CompileCatalog == nil {
		return steward.Errorf(steward.ENOTIMPL, "This server cannot compile catalogs.")
	}
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCatalogBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return steward.Errorf(steward.ETOOLARGE, "The catalog is over the limit of %d bytes.", tooLarge.Limit)
		}
		return steward.Errorf(steward.EINVALID, "Request body could not be read.")
	}
	c, _, err := s.CompileCatalog(src)
	if err != nil {
		return err
	}
	var prev *steward.Catalog
	if cur, err := s.Store.CatalogInForce(r.Context()); err == nil {
		prev = cur.Catalog
	} else if !steward.IsCode(err, steward.ENOTFOUND) {
		return err
	}
	v, changed, err := s.Store.ApplyCatalog(r.Context(), src, c)
	if err != nil {
		return err
	}
	out := catalogApplied{Changed: changed, Version: v, Changes: []steward.CatalogChange{}}
	if changed {
		if ch := steward.DiffCatalogs(prev, c); ch != nil {
			out.Changes = ch
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// maxCatalogBytes bounds a catalog's text.
const maxCatalogBytes = 4 << 20

// decideRequest is POST /api/v1/decide's body: the question, by names.
type decideRequest struct {
	As            string            `json:"as"` // e-mail address; the caller's own person when empty
	Model         string            `json:"model"`
	Identity      string            `json:"identity"`
	System        string            `json:"system"`
	Entitlement   string            `json:"entitlement"`
	Role          string            `json:"role"`
	Duration      string            `json:"duration"`
	Justification map[string]string `json:"justification"`
}

// decide explains what the catalog in force decides for a question,
// creating nothing. A member asks only as themselves; an admin or auditor
// may ask as anyone ("why can't they?").
func (s *Server) decide(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in decideRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	if in.As == "" {
		if p.Kind != steward.PrincipalPerson {
			return steward.Errorf(steward.EINVALID, "as is required: %s is not a person.", p.Actor())
		}
		in.As = p.Name
	} else if p.Role == steward.RoleMember && in.As != p.Name {
		return steward.Errorf(steward.EFORBIDDEN, "A member may not ask what the catalog decides for someone else, only for themselves; an admin or auditor may.")
	}
	ref := steward.AccessRef{Model: in.Model, Requester: in.As, Identity: in.Identity, System: in.System,
		Entitlement: in.Entitlement, Role: in.Role, Justification: in.Justification}
	if in.Duration != "" {
		d, err := steward.ParseDuration(in.Duration)
		if err != nil {
			return err
		}
		ref.Duration = d
	}
	c, decider, err := s.catalogDecider(r)
	if err != nil {
		return err
	}
	q, err := steward.AskAccess(r.Context(), s.Store, c, ref)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, decider.Decide(q))
}

// catalogDecider returns the catalog in force and its decider, compiled
// once per version.
func (s *Server) catalogDecider(r *http.Request) (*steward.Catalog, steward.AccessDecider, error) {
	if s.CompileCatalog == nil {
		return nil, nil, steward.Errorf(steward.ENOTIMPL, "This server cannot compile catalogs.")
	}
	digest, err := s.Store.CatalogDigest(r.Context())
	if err != nil {
		return nil, nil, err
	}
	s.catalogs.mu.Lock()
	defer s.catalogs.mu.Unlock()
	if s.catalogs.digest == digest {
		return s.catalogs.catalog, s.catalogs.decider, nil
	}
	v, err := s.Store.CatalogInForce(r.Context())
	if err != nil {
		return nil, nil, err
	}
	if s.catalogs.digest != v.Digest {
		c, d, err := s.CompileCatalog([]byte(v.Source))
		if err != nil {
			return nil, nil, err
		}
		s.catalogs.digest, s.catalogs.catalog, s.catalogs.decider = v.Digest, c, d
	}
	return s.catalogs.catalog, s.catalogs.decider, nil
}
