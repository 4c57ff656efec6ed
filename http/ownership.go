package http

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// setOwner assigns an identity's owner and team explicitly. The body must
// name both fields: PUT replaces the whole assignment, so a field left out
// by mistake would otherwise clear it. Both null hands the identity back to
// ownership rules and source tags.
func (s *Server) setOwner(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	} else if err := noQuery(r); err != nil {
		return err
	}
	var in steward.OwnerAssignment
	body, err := decodeJSONBody(w, r, &in)
	if err != nil {
		return err
	} else if err := requireFields(body, "owner_id", "team_id"); err != nil {
		return err
	} else if err := refID("owner_id", in.OwnerID); err != nil {
		return err
	} else if err := refID("team_id", in.TeamID); err != nil {
		return err
	}
	if _, err := s.identityFor(r, id, steward.PermOwnerSet); err != nil {
		return err
	} else if err := s.checkAssignment(r, in); err != nil {
		return err
	}
	v, err := s.Store.SetOwner(r.Context(), id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// attest records that the identity's owner, the acting person, confirms it
// is theirs and still needed. Only the owner may (see steward.Authorize).
func (s *Server) attest(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in steward.Attestation
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	}
	if _, err := s.identityFor(r, id, steward.PermAttest); err != nil {
		return err
	}
	in.PersonID = principalOf(r).PersonID
	v, err := s.Store.Attest(r.Context(), id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) listGaps(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "gap", "team", "team_id")
	if err != nil {
		return err
	}
	f := steward.GapFilter{
		Gap:         enumParam(q, "gap", steward.GapKind.Validate),
		TeamID:      q.teamOrNone("team_id"),
		ListOptions: q.page(),
	}
	if q.get("team") != "" {
		f.TeamID = q.ref(r.Context(), s.Store, "team", "team_id", findTeam)
	}
	return listPage(w, r, q, f, s.Store.Gaps)
}

// rulesDocument is the body of both ownership-rules routes: the rules in
// force, in the order they are tried. It is an object rather than a bare
// array so that it can grow fields.
type rulesDocument struct {
	Rules []steward.OwnershipRule `json:"rules"`
}

func (s *Server) ownershipRules(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rules, err := s.Store.OwnershipRules(r.Context())
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []steward.OwnershipRule{}
	}
	return writeJSON(w, http.StatusOK, rulesDocument{rules})
}

// applyOwnershipRules replaces the rules in force and re-resolves the owner
// of every identity not explicitly assigned. Decoding is strict down to the
// match conditions, so that a misspelt condition (namespace for
// namespaces) is refused instead of leaving a rule that matches more than
// meant.
func (s *Server) applyOwnershipRules(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in rulesDocument
	body, err := decodeJSONBody(w, r, &in)
	if err != nil {
		return err
	} else if err := requireFields(body, "rules"); err != nil {
		return err
	} else if in.Rules == nil {
		return steward.Errorf(steward.EINVALID, "rules must be an array; send [] to remove every rule.")
	}
	res, err := s.Store.ApplyOwnershipRules(r.Context(), in.Rules)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) listSyncRuns(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "source", "system", "system_id", "failed")
	if err != nil {
		return err
	}
	f := steward.SyncRunFilter{
		Source:      q.text("source"),
		SystemID:    q.ref(r.Context(), s.Store, "system", "system_id", findSystem),
		Failed:      q.boolPtr("failed"),
		ListOptions: q.page(),
	}
	return listPage(w, r, q, f, s.Store.SyncRuns)
}
