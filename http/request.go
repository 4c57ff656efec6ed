package http

import (
	"context"
	"net/http"

	"github.com/stewardhq/steward"
)

// The request path over HTTP: asking for access through the catalog,
// approvers' inboxes and decisions, cancelling, extending, and the JIT
// grants requests made. The workflow (Server.Requests) decides and
// records; these handlers parse, call it as the signed-in principal and
// answer.

// requests returns the workflow, or ENOTIMPL when this server has none.
func (s *Server) requests() (steward.RequestWorkflow, error) {
	if s.Requests == nil {
		return nil, steward.Errorf(steward.ENOTIMPL, "This server does not serve access requests.")
	}
	return s.Requests, nil
}

// requestInput is the body of POST /api/v1/requests: what is asked for,
// by name. The requester is the signed-in person, never a field.
type requestInput struct {
	Model         string            `json:"model"`
	Identity      string            `json:"identity"`
	System        string            `json:"system"`
	Entitlement   string            `json:"entitlement"`
	Role          string            `json:"role"`
	Duration      string            `json:"duration"`
	Justification map[string]string `json:"justification"`
}

// parseDuration reads an optional duration ("2h", "1d").
func parseDuration(s string) (steward.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return steward.ParseDuration(s)
}

// createRequest asks for access: 201 with the request made (approved,
// pending or refused, with the decision's reasons), or 200 with the
// unmatched demand recorded when no model serves what was asked.
func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	flow, err := s.requests()
	if err != nil {
		return err
	}
	var in requestInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	d, err := parseDuration(in.Duration)
	if err != nil {
		return err
	}
	res, err := flow.Create(r.Context(), steward.AccessRef{Model: in.Model, Identity: in.Identity, System: in.System,
		Entitlement: in.Entitlement, Role: in.Role, Duration: d, Justification: in.Justification})
	if err != nil {
		return err
	}
	if res.Request == nil {
		return writeJSON(w, http.StatusOK, res)
	}
	return writeJSON(w, http.StatusCreated, res)
}

// listRequests lists requests, newest first: a member's own, anyone's for
// an admin or auditor.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "requester", "state", "identity", "model")
	if err != nil {
		return err
	}
	flow, err := s.requests()
	if err != nil {
		return err
	}
	f := steward.RequestFilter{Requester: q.text("requester"), Identity: q.text("identity"), Model: q.text("model"),
		State: enumParam(q, "state", steward.RequestState.Validate), ListOptions: q.page()}
	return listPage(w, r, q, f, flow.List)
}

// getRequest answers one request with its decision and timeline.
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	flow, err := s.requests()
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	req, err := flow.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, req)
}

// inbox lists the pending requests the signed-in person may decide now.
func (s *Server) inbox(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	flow, err := s.requests()
	if err != nil {
		return err
	}
	items, err := flow.Inbox(r.Context())
	if err != nil {
		return err
	}
	return writePage(w, &steward.Page[steward.AccessRequest]{Items: items})
}

// reasonInput is the body of approve, deny and cancel.
type reasonInput struct {
	Reason string `json:"reason"`
}

// actFn is one of the workflow's acts on a request by its id, with a reason.
type actFn func(ctx context.Context, id int64, reason string) (*steward.AccessRequest, error)

// actOnRequest serves approve, deny and cancel: the act act picks.
func (s *Server) actOnRequest(act func(steward.RequestWorkflow) actFn) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := noQuery(r); err != nil {
			return err
		}
		flow, err := s.requests()
		if err != nil {
			return err
		}
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var in reasonInput
		if err := decodeJSON(w, r, &in); err != nil {
			return err
		}
		req, err := act(flow)(r.Context(), id, in.Reason)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, req)
	}
}

// extendInput is the body of POST /api/v1/requests/{id}/extend.
type extendInput struct {
	Duration      string            `json:"duration"`
	Justification map[string]string `json:"justification"`
}

// extendRequest asks to extend the JIT grant request {id} made: a new
// request of the same model, decided again.
func (s *Server) extendRequest(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	flow, err := s.requests()
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in extendInput
	body, err := decodeJSONBody(w, r, &in)
	if err != nil {
		return err
	}
	if err := requireFields(body, "duration"); err != nil {
		return err
	}
	d, err := parseDuration(in.Duration)
	if err != nil {
		return err
	}
	res, err := flow.Extend(r.Context(), id, d, in.Justification)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, res)
}

// listUnmatched lists what people asked for that no model serves.
func (s *Server) listUnmatched(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r)
	if err != nil {
		return err
	}
	flow, err := s.requests()
	if err != nil {
		return err
	}
	return listPage(w, r, q, q.page(), flow.Unmatched)
}

// listJITGrants lists JIT grants, by the identity's name and state.
func (s *Server) listJITGrants(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "identity", "system", "state")
	if err != nil {
		return err
	}
	f := steward.JITGrantFilter{State: enumParam(q, "state", steward.JITState.Validate), ListOptions: q.page()}
	if name := q.text("identity"); name != "" && q.err == nil {
		var sys *steward.System
		if system := q.text("system"); system != "" {
			if sys, err = s.Store.SystemByName(r.Context(), system); err != nil {
				return err
			}
		}
		iv, err := steward.IdentityNamed(r.Context(), s.Store, sys, name)
		if err != nil {
			return err
		}
		f.IdentityID = iv.ID
	} else if q.text("system") != "" && q.err == nil {
		return steward.Errorf(steward.EINVALID, "system names the identity's system; give identity too.")
	}
	return listPage(w, r, q, f, s.Store.JITGrants)
}

// getJITGrant answers one JIT grant, by the number a fulfilled request
// names.
func (s *Server) getJITGrant(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	g, err := s.Store.JITGrant(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}
