package http

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// serveGet returns a handler that fetches one object by its {id}.
func serveGet[T any](get func(context.Context, int64) (T, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		} else if err := noQuery(r); err != nil {
			return err
		}
		v, err := get(r.Context(), id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	}
}

// noQuery refuses a query string on a route that takes none, for the same
// reason lists refuse unknown parameters: a typo should not pass unnoticed.
func noQuery(r *http.Request) error {
	if r.URL.RawQuery != "" {
		return steward.Errorf(steward.EINVALID, "This route takes no query parameters; /openapi.json lists what each route takes.")
	}
	return nil
}

// decodeCreate reads the body of a create request into v.
func decodeCreate(w http.ResponseWriter, r *http.Request, v any) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return decodeJSON(w, r, v)
}

// writeCreated answers a create with 201, the new object and its URL.
func writeCreated(w http.ResponseWriter, collection string, id int64, v any) error {
	w.Header().Set("Location", collection+"/"+strconv.FormatInt(id, 10))
	return writeJSON(w, http.StatusCreated, v)
}

// refID checks an optional reference in a request body: absent, or a
// positive id. A zero or negative id can name nothing, and is refused here
// rather than looked up.
func refID(name string, id *int64) error {
	if id != nil && *id <= 0 {
		return steward.Errorf(steward.EINVALID, "%s must be a positive integer.", name)
	}
	return nil
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "q")
	if err != nil {
		return err
	}
	f := steward.TeamFilter{Query: q.text("q"), ListOptions: q.page()}
	return listPage(w, r, q, f, s.Store.Teams)
}

func (s *Server) listPeople(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "team", "team_id", "manager", "manager_id", "status", "q")
	if err != nil {
		return err
	}
	ctx := r.Context()
	f := steward.PersonFilter{
		TeamID:      q.ref(ctx, s.Store, "team", "team_id", findTeam),
		ManagerID:   q.ref(ctx, s.Store, "manager", "manager_id", findPerson),
		Status:      enumParam(q, "status", steward.PersonStatus.Validate),
		Query:       q.text("q"),
		ListOptions: q.page(),
	}
	return listPage(w, r, q, f, s.Store.People)
}

func (s *Server) listSystems(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "kind", "q")
	if err != nil {
		return err
	}
	f := steward.SystemFilter{
		Kind:        enumParam(q, "kind", steward.SystemKind.Validate),
		Query:       q.text("q"),
		ListOptions: q.page(),
	}
	return listPage(w, r, q, f, s.Store.Systems)
}

// identityFilterParams are the filters of the identity list, its count and
// its export.
var identityFilterParams = []string{"kind", "system", "system_id", "owner", "owner_id", "team", "team_id", "environment", "status",
	"gap", "q", "name", "external_id", "credential_older_than", "unused_for", "never_used"}

// identityFilter reads identityFilterParams. The system, owner and team
// take names (or ids); system_id, owner_id and team_id, ids only.
func (s *Server) identityFilter(r *http.Request, q *listQuery) steward.IdentityFilter {
	ctx := r.Context()
	never := q.boolPtr("never_used")
	return steward.IdentityFilter{
		Kind:                enumParam(q, "kind", steward.IdentityKind.Validate),
		SystemID:            q.ref(ctx, s.Store, "system", "system_id", findSystem),
		OwnerID:             q.ref(ctx, s.Store, "owner", "owner_id", findPerson),
		TeamID:              q.ref(ctx, s.Store, "team", "team_id", findTeam),
		Environment:         enumParam(q, "environment", steward.Environment.Validate),
		Status:              enumParam(q, "status", steward.IdentityStatus.Validate),
		Gap:                 enumParam(q, "gap", steward.GapKind.Validate),
		Query:               q.text("q"),
		Name:                q.text("name"),
		ExternalID:          q.text("external_id"),
		CredentialOlderThan: q.days("credential_older_than"),
		UnusedFor:           q.days("unused_for"),
		NeverUsed:           never != nil && *never,
		Visible:             s.visibility(r, q),
	}
}

// sortedFilter reads the identity list's filters and its sort, and checks
// them whole (a cursor belongs to its sort).
func (s *Server) sortedFilter(r *http.Request, q *listQuery) steward.IdentityFilter {
	f := s.identityFilter(r, q)
	f.Sort = enumParam(q, "sort", steward.IdentitySort.Validate)
	if q.err == nil {
		if err := f.Validate(); err != nil {
			q.fail(err)
		}
	}
	return f
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, append(identityFilterParams, "sort")...)
	if err != nil {
		return err
	}
	f := s.sortedFilter(r, q)
	f.Limit, f.After = q.limit(), q.get("after")
	if q.err == nil {
		if _, _, err := f.Position(); err != nil {
			q.fail(err)
		}
	}
	return listPage(w, r, q, f, s.Store.Identities)
}

// countIdentities answers how many identities the list's filters select:
// exact up to the store's bound, estimated above it ("estimated": true).
func (s *Server) countIdentities(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, identityFilterParams...)
	if err != nil {
		return err
	}
	f := s.identityFilter(r, q)
	if q.err != nil {
		return q.err
	}
	n, err := s.Store.CountIdentities(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

// exportIdentities streams every identity the list's filters select, in
// its sort, as CSV: a page at a time, flushed as it goes, so that neither
// the server nor the client holds the whole list. A bad filter is a JSON
// 400 like the list's; a failure once rows have gone out aborts the
// response, so that a client sees a broken download rather than a short
// file.
func (s *Server) exportIdentities(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, append(identityFilterParams, "sort")...)
	if err != nil {
		return err
	}
	f := s.sortedFilter(r, q)
	if q.err != nil {
		return q.err
	}
	out := &lazyHeader{w: w, start: func() {
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="identities.csv"`)
		h.Set("X-Content-Type-Options", "nosniff")
	}}
	rc := http.NewResponseController(w)
	n, err := steward.ExportIdentities(r.Context(), s.Store.Identities, f, out, func() { _ = rc.Flush() })
	if err != nil && !out.written {
		return err
	} else if err != nil {
		s.logger.ErrorContext(r.Context(), "identity export failed midway", "rows", n, "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// lazyHeader sets the response's headers at its first write, so that an
// export that fails before writing anything can still answer with a JSON
// error.
type lazyHeader struct {
	w       http.ResponseWriter
	start   func()
	written bool
}

func (l *lazyHeader) Write(p []byte) (int, error) {
	if !l.written {
		l.written = true
		l.start()
	}
	return l.w.Write(p)
}

// listCredentials answers 404 for an identity that does not exist, where
// the store would answer an empty list, so that a wrong id is noticed.
func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if _, err := s.readableIdentity(r, id); err != nil {
		return err
	}
	creds, err := s.Store.Credentials(r.Context(), id)
	if err != nil {
		return err
	}
	return writePage(w, &steward.Page[steward.Credential]{Items: creds})
}

// listLinks lists the links from and to an identity: the identities of
// other systems it assumes, and those that assume it.
func (s *Server) listLinks(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if _, err := s.readableIdentity(r, id); err != nil {
		return err
	}
	links, err := s.Store.IdentityLinks(r.Context(), id)
	if err != nil {
		return err
	}
	return writePage(w, &steward.Page[steward.IdentityLinkView]{Items: links})
}

func (s *Server) listEntitlements(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "system_id", "privileged", "q")
	if err != nil {
		return err
	}
	f := steward.EntitlementFilter{
		SystemID:    q.id("system_id"),
		Privileged:  q.boolPtr("privileged"),
		Query:       q.text("q"),
		ListOptions: q.page(),
	}
	return listPage(w, r, q, f, s.Store.Entitlements)
}

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "identity_id", "entitlement_id", "type")
	if err != nil {
		return err
	}
	f := steward.GrantFilter{
		IdentityID:    q.id("identity_id"),
		EntitlementID: q.id("entitlement_id"),
		Type:          enumParam(q, "type", steward.GrantType.Validate),
		ListOptions:   q.page(),
	}
	return listPage(w, r, q, f, s.Store.Grants)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r, "action", "object_type", "object_id", "actor", "since")
	if err != nil {
		return err
	}
	f := steward.EventFilter{
		Action:      enumParam(q, "action", steward.Action.Validate),
		ObjectType:  q.text("object_type"),
		ObjectID:    q.text("object_id"),
		Actor:       q.text("actor"),
		Since:       q.time("since"),
		ListOptions: q.page(),
	}
	return listPage(w, r, q, f, s.Store.Events)
}

// The request bodies of the create routes hold only the fields a client
// may set. Ids and server-side timestamps (updated_at) are not among them,
// so a client that sends one learns so from the unknown-field error instead
// of having it silently replaced. Creation times are settable where the
// object existed in its own system before Steward learnt of it, because
// ages (of keys, of accounts) are what findings are about.

// deref returns *t, or the zero time for nil, which the store replaces
// with now.
func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

type teamInput struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	ManagerID   *int64 `json:"manager_id"`
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request) error {
	var in teamInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	} else if err := refID("manager_id", in.ManagerID); err != nil {
		return err
	}
	t := steward.Team{Name: in.Name, DisplayName: in.DisplayName, ManagerID: in.ManagerID}
	if err := s.Store.CreateTeam(r.Context(), &t); err != nil {
		return err
	}
	return writeCreated(w, "/api/v1/teams", t.ID, &t)
}

type personInput struct {
	ExternalID string               `json:"external_id"`
	Name       string               `json:"name"`
	Email      string               `json:"email"`
	Title      string               `json:"title"`
	TeamID     *int64               `json:"team_id"`
	ManagerID  *int64               `json:"manager_id"`
	Status     steward.PersonStatus `json:"status"` // default active
	DepartedAt *time.Time           `json:"departed_at"`
}

func (s *Server) createPerson(w http.ResponseWriter, r *http.Request) error {
	var in personInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	} else if err := refID("team_id", in.TeamID); err != nil {
		return err
	} else if err := refID("manager_id", in.ManagerID); err != nil {
		return err
	}
	if in.Status == "" {
		in.Status = steward.PersonActive
	}
	p := steward.Person{ExternalID: in.ExternalID, Name: in.Name, Email: in.Email, Title: in.Title,
		TeamID: in.TeamID, ManagerID: in.ManagerID, Status: in.Status, DepartedAt: in.DepartedAt}
	if err := s.Store.CreatePerson(r.Context(), &p); err != nil {
		return err
	}
	return writeCreated(w, "/api/v1/people", p.ID, &p)
}

type systemInput struct {
	Name        string             `json:"name"`
	Kind        steward.SystemKind `json:"kind"`
	Description string             `json:"description"`
	OwnerTeamID *int64             `json:"owner_team_id"`
}

func (s *Server) createSystem(w http.ResponseWriter, r *http.Request) error {
	var in systemInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	} else if err := refID("owner_team_id", in.OwnerTeamID); err != nil {
		return err
	}
	sys := steward.System{Name: in.Name, Kind: in.Kind, Description: in.Description, OwnerTeamID: in.OwnerTeamID}
	if err := s.Store.CreateSystem(r.Context(), &sys); err != nil {
		return err
	}
	return writeCreated(w, "/api/v1/systems", sys.ID, &sys)
}

type identityInput struct {
	SystemID    int64                  `json:"system_id"`
	ExternalID  string                 `json:"external_id"`
	Name        string                 `json:"name"`
	Kind        steward.IdentityKind   `json:"kind"`
	Environment steward.Environment    `json:"environment"`
	Criticality steward.Level          `json:"criticality"`
	OwnerID     *int64                 `json:"owner_id"`
	TeamID      *int64                 `json:"team_id"`
	Status      steward.IdentityStatus `json:"status"` // default active
	Labels      map[string]string      `json:"labels"`
	CreatedAt   *time.Time             `json:"created_at"` // in its system, if known; else it stays unknown
	LastUsedAt  *time.Time             `json:"last_used_at"`
}

func (s *Server) createIdentity(w http.ResponseWriter, r *http.Request) error {
	var in identityInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	} else if err := refID("owner_id", in.OwnerID); err != nil {
		return err
	} else if err := refID("team_id", in.TeamID); err != nil {
		return err
	}
	if in.Status == "" {
		in.Status = steward.IdentityActive
	}
	i := steward.Identity{SystemID: in.SystemID, ExternalID: in.ExternalID, Name: in.Name, Kind: in.Kind,
		Environment: in.Environment, Criticality: in.Criticality, OwnerID: in.OwnerID, TeamID: in.TeamID,
		Status: in.Status, Labels: in.Labels, CreatedAt: in.CreatedAt, LastUsedAt: in.LastUsedAt}
	if err := s.Store.CreateIdentity(r.Context(), &i); err != nil {
		return err
	}
	return writeCreated(w, "/api/v1/identities", i.ID, &i)
}

// credentialInput never has a value field: Steward keeps metadata and a
// keyed fingerprint only, and a client that sends a secret gets an
// unknown-field error rather than having it stored or logged.
type credentialInput struct {
	Kind          steward.CredentialKind   `json:"kind"`
	ExternalID    string                   `json:"external_id"`
	Status        steward.CredentialStatus `json:"status"`     // default active
	CreatedAt     *time.Time               `json:"created_at"` // when issued, if known; else it stays unknown
	LastRotatedAt *time.Time               `json:"last_rotated_at"`
	LastUsedAt    *time.Time               `json:"last_used_at"`
	ExpiresAt     *time.Time               `json:"expires_at"`
	Fingerprint   string                   `json:"fingerprint"`
}

func (s *Server) createCredential(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in credentialInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	}
	c := steward.Credential{IdentityID: id, Kind: in.Kind, ExternalID: in.ExternalID, Status: in.Status, CreatedAt: in.CreatedAt, LastRotatedAt: in.LastRotatedAt,
		LastUsedAt: in.LastUsedAt, ExpiresAt: in.ExpiresAt, Fingerprint: in.Fingerprint}
	if err := s.Store.CreateCredential(r.Context(), &c); err != nil {
		return err
	}
	return writeCreated(w, "/api/v1/identities/"+strconv.FormatInt(id, 10)+"/credentials", c.ID, &c)
}

type entitlementInput struct {
	SystemID    int64         `json:"system_id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Privileged  bool          `json:"privileged"`
	Sensitivity steward.Level `json:"sensitivity"`
}

func (s *Server) createEntitlement(w http.ResponseWriter, r *http.Request) error {
	var in entitlementInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	}
	e := steward.Entitlement{SystemID: in.SystemID, Name: in.Name, Description: in.Description,
		Privileged: in.Privileged, Sensitivity: in.Sensitivity}
	if err := s.Store.CreateEntitlement(r.Context(), &e); err != nil {
		return err
	}
	return writeCreated(w, "/api/v1/entitlements", e.ID, &e)
}

type grantInput struct {
	IdentityID    int64             `json:"identity_id"`
	EntitlementID int64             `json:"entitlement_id"`
	Type          steward.GrantType `json:"type"`
	GrantedAt     *time.Time        `json:"granted_at"` // in its system, if known; default now
	ExpiresAt     *time.Time        `json:"expires_at"`
	GrantedVia    string            `json:"granted_via"` // default "api"
}

func (s *Server) createGrant(w http.ResponseWriter, r *http.Request) error {
	var in grantInput
	if err := decodeCreate(w, r, &in); err != nil {
		return err
	}
	if in.GrantedVia == "" {
		in.GrantedVia = "api"
	}
	g := steward.Grant{IdentityID: in.IdentityID, EntitlementID: in.EntitlementID, Type: in.Type,
		GrantedAt: deref(in.GrantedAt), ExpiresAt: in.ExpiresAt, GrantedVia: in.GrantedVia}
	if err := s.Store.CreateGrant(r.Context(), &g); err != nil {
		return err
	}
	// Grants have no route of their own yet; the Location names the list
	// filtered to this grant's identity and entitlement.
	w.Header().Set("Location", "/api/v1/grants?identity_id="+strconv.FormatInt(g.IdentityID, 10)+
		"&entitlement_id="+strconv.FormatInt(g.EntitlementID, 10))
	return writeJSON(w, http.StatusCreated, &g)
}
