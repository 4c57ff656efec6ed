package web

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// The request path in the web UI: a form driven by the catalog that shows
// what will happen before it is submitted, the approver's inbox, and a page
// per request with its decision, its timeline and, for JIT access, the
// grant with its countdown. The workflow (UI.Requests) decides; these
// pages call it as the signed-in person.

// requestsPage lists the requests waiting for the signed-in person and
// their own (everyone's for an admin or auditor who asks).
type requestsPage struct {
	pageBase
	CanAsk  bool
	Inbox   []requestRow
	Mine    []requestRow
	All     bool // the list is everyone's
	Reader  bool // may list everyone's
	State   string
	States  []steward.RequestState
	Refusal string // why the inbox or list could not be read
}

// requestRow is one request in a list.
type requestRow struct {
	ID                         int64
	State, Requester, Identity string
	What, Model, Tier, Created string
	DecideBy                   string
	Breached                   bool
	Waiting                    string // whose approval it waits for
	URL                        string
}

func (s *server) requestRow(r *steward.AccessRequest) requestRow {
	now := s.clock.Now()
	row := requestRow{ID: r.ID, State: string(r.State), Requester: r.Requester, Identity: r.Identity, What: r.Target.String(),
		Model: r.Decision.Model, Tier: r.Decision.Tier, Created: r.CreatedAt.UTC().Format("2006-01-02 15:04"),
		URL: "/requests/" + strconv.FormatInt(r.ID, 10)}
	if r.State == steward.RequestPending {
		if !r.DecideBy.IsZero() {
			row.DecideBy = r.DecideBy.UTC().Format("2006-01-02 15:04")
		}
		row.Breached = steward.Breached(r.FirstDecideBy, nil, now)
		var sets []string
		for _, s := range r.EligibleSets() {
			sets = append(sets, s.String())
		}
		row.Waiting = strings.Join(sets, ", ")
	}
	return row
}

// requests shows the inbox and the list.
func (s *server) requests(w http.ResponseWriter, r *http.Request) {
	p := requestsPage{pageBase: s.base(r, "Requests", "/requests"), CanAsk: may(r.Context(), steward.PermRequestAct),
		Reader: may(r.Context(), steward.PermEvidenceRead), States: steward.RequestStates}
	ctx := r.Context()
	if p.CanAsk {
		inbox, err := s.flow.Inbox(ctx)
		if err != nil {
			p.Refusal = steward.ErrorMessage(err)
		}
		for i := range inbox {
			p.Inbox = append(p.Inbox, s.requestRow(&inbox[i]))
		}
	}
	f := steward.RequestFilter{ListOptions: steward.ListOptions{Limit: 200}}
	p.State = r.URL.Query().Get("state")
	if p.State != "" {
		f.State = steward.RequestState(p.State)
		if err := f.State.Validate(); err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
	}
	p.All = p.Reader && r.URL.Query().Get("all") == "1"
	if !p.All {
		f.Requester = principalFrom(ctx).Name
	}
	page, err := s.flow.List(ctx, f)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	for i := range page.Items {
		p.Mine = append(p.Mine, s.requestRow(&page.Items[i]))
	}
	s.render(w, r, http.StatusOK, "requests", p)
}

// requestForm is the request form as submitted, and what checking it said.
type requestForm struct {
	Identity, System, Entitlement, Role, Model, Duration string
	Justification                                        map[string]string
}

// newRequestPage is the form, with the decision when it was checked.
type newRequestPage struct {
	pageBase
	Form      requestForm
	Models    []string
	Fields    []justField // every justification field the catalog's models ask for
	Checked   bool
	Decision  *steward.AccessDecision
	Unmatched bool
	Error     string
}

type justField struct{ Name, Description, Value string }

// newRequest shows the request form.
func (s *server) newRequest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.renderRequestForm(w, r, http.StatusOK, requestForm{Identity: q.Get("identity"), System: q.Get("system"),
		Entitlement: q.Get("entitlement"), Role: q.Get("role"), Model: q.Get("model")}, nil, false, "")
}

func (s *server) renderRequestForm(w http.ResponseWriter, r *http.Request, status int, f requestForm, d *steward.AccessDecision, checked bool, msg string) {
	p := newRequestPage{pageBase: s.base(r, "Request access", "/requests"), Form: f, Decision: d, Checked: checked, Error: msg}
	p.Unmatched = checked && d == nil && msg == ""
	if v, err := s.store.CatalogInForce(r.Context()); err == nil {
		seen := map[string]bool{}
		for _, m := range v.Catalog.Models {
			if m.Kind == steward.ModelRoutine || m.Kind == steward.ModelJIT {
				p.Models = append(p.Models, m.Name)
			}
			for _, j := range m.Justification {
				if !seen[j.Name] {
					seen[j.Name] = true
					p.Fields = append(p.Fields, justField{Name: j.Name, Description: j.Description, Value: f.Justification[j.Name]})
				}
			}
		}
		sort.Slice(p.Fields, func(i, j int) bool { return p.Fields[i].Name < p.Fields[j].Name })
	}
	s.render(w, r, status, "requestnew", p)
}

// createRequest checks the form (what would happen) or submits it.
func (s *server) createRequest(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		s.renderRequestForm(w, r, http.StatusBadRequest, requestForm{}, nil, false, steward.ErrorMessage(err))
		return
	}
	pf := r.PostForm
	f := requestForm{Identity: strings.TrimSpace(pf.Get("identity")), System: strings.TrimSpace(pf.Get("system")),
		Entitlement: strings.TrimSpace(pf.Get("entitlement")), Role: strings.TrimSpace(pf.Get("role")),
		Model: strings.TrimSpace(pf.Get("model")), Duration: strings.TrimSpace(pf.Get("duration")), Justification: map[string]string{}}
	for k, v := range pf {
		if name, ok := strings.CutPrefix(k, "j."); ok && strings.TrimSpace(v[0]) != "" {
			f.Justification[name] = strings.TrimSpace(v[0])
		}
	}
	ref := steward.AccessRef{Model: f.Model, Identity: f.Identity, System: f.System, Entitlement: f.Entitlement, Role: f.Role, Justification: f.Justification}
	if f.Duration != "" {
		d, err := steward.ParseDuration(f.Duration)
		if err != nil {
			s.renderRequestForm(w, r, http.StatusBadRequest, f, nil, false, steward.ErrorMessage(err))
			return
		}
		ref.Duration = d
	}
	if pf.Get("action") == "check" {
		q, d, err := s.flow.Preview(r.Context(), ref)
		if err != nil {
			s.renderRequestForm(w, r, steward.HTTPStatus(steward.ErrorCode(err)), f, nil, false, steward.ErrorMessage(err))
			return
		}
		if q.Model == "" {
			s.renderRequestForm(w, r, http.StatusOK, f, nil, true, "")
			return
		}
		f.Model = q.Model
		s.renderRequestForm(w, r, http.StatusOK, f, &d, true, "")
		return
	}
	res, err := s.flow.Create(r.Context(), ref)
	if err != nil {
		s.renderRequestForm(w, r, steward.HTTPStatus(steward.ErrorCode(err)), f, nil, false, steward.ErrorMessage(err))
		return
	}
	if res.Unmatched != nil {
		s.setFlash(w, r, "No catalog model serves "+res.Unmatched.Target.String()+": your request is recorded as unmatched demand for the catalog's owners.")
		http.Redirect(w, r, "/requests", http.StatusSeeOther)
		return
	}
	s.setFlash(w, r, "Request "+strconv.FormatInt(res.Request.ID, 10)+" is "+string(res.Request.State)+".")
	http.Redirect(w, r, "/requests/"+strconv.FormatInt(res.Request.ID, 10), http.StatusSeeOther)
}

// requestPage is one request.
type requestPage struct {
	pageBase
	R          *steward.AccessRequest
	Row        requestRow
	Approvers  []steward.ApproverNeed
	Timeline   []timelineEntry
	CanDecide  bool
	IsMine     bool
	CanCancel  bool
	CanExtend  bool
	Grant      *steward.JITGrant
	GrantState string
	Expires    string // RFC 3339, for the countdown
	Left       string // the time left when the page was made
}

type timelineEntry struct{ At, What string }

func (s *server) requestID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, nil, http.StatusBadRequest, "Bad request number",
			"“"+raw+"” is not a request number; find the request on the Requests page instead.")
		return 0, false
	}
	return id, true
}

// request shows one request.
func (s *server) request(w http.ResponseWriter, r *http.Request) {
	id, ok := s.requestID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	req, err := s.flow.Get(ctx, id)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	me := principalFrom(ctx)
	p := requestPage{pageBase: s.base(r, "Request "+strconv.FormatInt(id, 10), "/requests"), R: req, Row: s.requestRow(req),
		Approvers: req.Decision.Approvers, IsMine: strings.EqualFold(me.Name, req.Requester)}
	if req.State == steward.RequestPending && may(ctx, steward.PermRequestAct) && !p.IsMine {
		if inbox, err := s.flow.Inbox(ctx); err == nil {
			p.CanDecide = slices.ContainsFunc(inbox, func(x steward.AccessRequest) bool { return x.ID == id })
		}
	}
	p.CanCancel = !req.State.Final() && (p.IsMine || me.Role == steward.RoleAdmin) && may(ctx, steward.PermRequestAct)
	p.Timeline = append(p.Timeline, timelineEntry{req.CreatedAt.UTC().Format(time.DateTime), "Asked by " + req.Requester + "; the catalog said " + string(req.Decision.Outcome) + "."})
	for _, a := range req.Approvals {
		verb := "Approved"
		if !a.Approve {
			verb = "Denied"
		}
		p.Timeline = append(p.Timeline, timelineEntry{a.At.UTC().Format(time.DateTime), verb + " by " + a.Approver + " (" + a.Set.String() + "): " + a.Reason})
	}
	if req.Level > 0 {
		p.Timeline = append(p.Timeline, timelineEntry{"", "Escalated to approver level " + strconv.Itoa(req.Level+1) + "."})
	}
	if req.Attempts > 0 {
		what := "Fulfilment tried " + strconv.Itoa(req.Attempts) + " time(s)"
		if req.LastError != "" {
			what += "; the last error: " + req.LastError
		}
		p.Timeline = append(p.Timeline, timelineEntry{req.UpdatedAt.UTC().Format(time.DateTime), what + "."})
	}
	if req.ClosedAt != nil {
		end := "Ended " + string(req.State)
		if req.Reason != "" {
			end += ": " + req.Reason
		}
		p.Timeline = append(p.Timeline, timelineEntry{req.ClosedAt.UTC().Format(time.DateTime), end})
	}
	if req.JITGrantID != nil {
		if g, err := s.store.JITGrant(ctx, *req.JITGrantID); err == nil {
			now := s.clock.Now()
			p.Grant, p.GrantState = g, string(g.State(now))
			p.Expires = g.ExpiresAt.UTC().Format(time.RFC3339)
			if g.State(now) == steward.JITActive {
				p.Left = g.ExpiresAt.Sub(now).Round(time.Second).String()
				p.CanExtend = may(ctx, steward.PermRequestAct)
			}
		}
	}
	s.render(w, r, http.StatusOK, "request", p)
}

// actOnRequest serves the approve, deny and cancel forms.
func (s *server) actOnRequest(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.requestID(w, r)
		if !ok {
			return
		}
		if err := readForm(w, r); err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		reason := r.PostForm.Get("reason")
		var err error
		var req *steward.AccessRequest
		switch verb {
		case "approve":
			req, err = s.flow.Approve(r.Context(), id, reason)
		case "deny":
			req, err = s.flow.Deny(r.Context(), id, reason)
		default:
			req, err = s.flow.Cancel(r.Context(), id, reason)
		}
		if err != nil {
			s.renderError(w, r, err, 0, "Request "+strconv.FormatInt(id, 10)+" was not "+pastTense(verb), "")
			return
		}
		s.setFlash(w, r, "Request "+strconv.FormatInt(id, 10)+" is "+string(req.State)+".")
		http.Redirect(w, r, "/requests/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	}
}

func pastTense(verb string) string {
	switch verb {
	case "approve":
		return "approved"
	case "deny":
		return "denied"
	}
	return "cancelled"
}

// extendRequest asks for more time on the JIT grant a request made.
func (s *server) extendRequest(w http.ResponseWriter, r *http.Request) {
	id, ok := s.requestID(w, r)
	if !ok {
		return
	}
	if err := readForm(w, r); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	d, err := steward.ParseDuration(strings.TrimSpace(r.PostForm.Get("duration")))
	if err != nil {
		s.renderError(w, r, err, 0, "The extension was not asked for", "")
		return
	}
	var just map[string]string
	if t := strings.TrimSpace(r.PostForm.Get("reason")); t != "" {
		just = map[string]string{"reason": t}
	}
	res, err := s.flow.Extend(r.Context(), id, d, just)
	if err != nil {
		s.renderError(w, r, err, 0, "The extension was not asked for", "")
		return
	}
	s.setFlash(w, r, "Extension request "+strconv.FormatInt(res.Request.ID, 10)+" is "+string(res.Request.State)+".")
	http.Redirect(w, r, "/requests/"+strconv.FormatInt(res.Request.ID, 10), http.StatusSeeOther)
}

// requestRoutes adds the request pages: each needs a session, and a server
// without a workflow says it serves none.
func (s *server) requestRoutes(mux *http.ServeMux) {
	h := func(next http.HandlerFunc) http.Handler {
		return s.session(func(w http.ResponseWriter, r *http.Request) {
			if s.flow == nil {
				s.renderError(w, r, nil, http.StatusNotImplemented, "No access requests here",
					"This Steward server does not serve access requests.")
				return
			}
			next(w, r)
		})
	}
	mux.Handle("GET /requests", h(s.requests))
	mux.Handle("GET /requests/new", h(s.newRequest))
	mux.Handle("POST /requests/new", h(s.createRequest))
	mux.Handle("GET /requests/{id}", h(s.request))
	mux.Handle("POST /requests/{id}/approve", h(s.actOnRequest("approve")))
	mux.Handle("POST /requests/{id}/deny", h(s.actOnRequest("deny")))
	mux.Handle("POST /requests/{id}/cancel", h(s.actOnRequest("cancel")))
	mux.Handle("POST /requests/{id}/extend", h(s.extendRequest))
}
