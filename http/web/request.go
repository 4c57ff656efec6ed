package web

import (
	"cmp"
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// The request path in the web UI: a form driven by the catalog that shows
// what will happen before it is submitted, the approver's inbox, the
// requester's list, and a page per request with its decision, its timeline
// and, for JIT access, the grant with its countdown. The workflow
// (UI.Requests) decides; these pages call it as the signed-in person, and
// what it refuses (a requester approving their own request, someone who
// is not an approver) is refused here with its words.

// requestRow is one request in a list.
type requestRow struct {
	ID                          int64
	State, Requester, Identity  string
	System, What, Model, Tier   string
	Asked                       timeText // when it was made: its age
	DecideBy                    timeText // when the current approver level's decision level runs out
	HasDecideBy, Breached, Late bool     // Late: pending past DecideBy now
	Level                       int      // the approver level reached, from 1
	Waiting                     string   // whose approval it waits for
	URL                         string
}

func requestURL(id int64) string { return "/requests/" + strconv.FormatInt(id, 10) }

func (s *server) requestRow(r *steward.AccessRequest) requestRow {
	now := s.clock.Now()
	row := requestRow{ID: r.ID, State: string(r.State), Requester: r.Requester, Identity: r.Identity, System: r.Question.Identity.System,
		What: r.Target.String(), Model: r.Decision.Model, Tier: r.Decision.Tier, Asked: s.timeText(&r.CreatedAt, "unknown"),
		Level: r.Level + 1, URL: requestURL(r.ID)}
	if r.State == steward.RequestPending {
		if !r.DecideBy.IsZero() {
			row.HasDecideBy = true
			row.DecideBy = s.timeText(&r.DecideBy, "")
			row.Late = !now.Before(r.DecideBy)
		}
		row.Breached = steward.Breached(r.FirstDecideBy, nil, now)
		var sets []string
		for _, s := range r.EligibleSets() {
			sets = append(sets, s.String())
		}
		row.Waiting = strings.Join(sets, " or ")
	}
	return row
}

// requestsPage is "My requests": the signed-in person's requests, or,
// for an admin or auditor who asks, everyone's, by state.
type requestsPage struct {
	pageBase
	CanAsk  bool
	Waiting int // requests in the signed-in person's inbox
	Rows    []requestRow
	All     bool // the list is everyone's
	Reader  bool // may list everyone's
	State   string
	States  []option
	Next    string // the next page's URL
}

// requestListSize is how many requests a page of the list shows.
const requestListSize = 50

// requests shows the signed-in person's requests (everyone's for an
// admin or auditor who asks).
func (s *server) requests(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	p := requestsPage{pageBase: s.base(r, "My requests", "/requests"), CanAsk: may(ctx, steward.PermRequestAct),
		Reader: may(ctx, steward.PermEvidenceRead), State: q.Get("state")}
	f := steward.RequestFilter{ListOptions: steward.ListOptions{Limit: requestListSize, After: q.Get("after")}}
	if p.State != "" {
		f.State = steward.RequestState(p.State)
		if err := f.State.Validate(); err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
	}
	p.States = enumOptions(steward.RequestStates, p.State)
	p.All = p.Reader && q.Get("all") == "1"
	all := ""
	if p.All {
		p.Title, all = "All requests", "1"
	} else {
		f.Requester = principalFrom(ctx).Name
	}
	page, err := s.flow.List(ctx, f)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	for i := range page.Items {
		p.Rows = append(p.Rows, s.requestRow(&page.Items[i]))
	}
	if page.Next != "" {
		p.Next = queryURL("/requests", [][2]string{{"state", p.State}, {"all", all}, {"after", page.Next}})
	}
	if p.CanAsk {
		if inbox, err := s.flow.Inbox(ctx); err == nil {
			p.Waiting = len(inbox)
		}
	}
	s.render(w, r, http.StatusOK, "requests", p)
}

// inboxPage is the approver's inbox: what the signed-in person may decide
// now, oldest first, each with a form to approve or deny it.
type inboxPage struct {
	pageBase
	Rows []requestRow
}

// inbox shows the requests waiting for the signed-in person.
func (s *server) inbox(w http.ResponseWriter, r *http.Request) {
	p := inboxPage{pageBase: s.base(r, "Inbox", "/requests/inbox")}
	inbox, err := s.flow.Inbox(r.Context())
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	for i := range inbox {
		p.Rows = append(p.Rows, s.requestRow(&inbox[i]))
	}
	s.render(w, r, http.StatusOK, "inbox", p)
}

// requestForm is the request form as submitted.
type requestForm struct {
	Identity, System, Entitlement, Role, Model, Duration string
	Justification                                        map[string]string
}

// newRequestPage is the request form, with what checking it said.
type newRequestPage struct {
	pageBase
	Form          requestForm
	Systems       []string // the systems the identity's name is on, when several
	Models        []option
	Roles         []option
	Fields        []justField // the justification the chosen model asks for, or every model's
	ForModel      string      // the model Fields are for; "" for every model's
	FieldsFor     string      // the model a check found, whose justification the form asks for
	NoCatalog     bool
	Checked       bool
	Decision      *steward.AccessDecision
	Unmatched     bool   // checked, and no model serves it
	What          string // what was asked for, in words, once checked
	Refusals      []steward.Reason
	Fulfilment    string // the tier's fulfilment level, for an approved one
	DecisionLevel string // the tier's decision level, for a pending one
	Error         string
}

// justField is one justification field of the form.
type justField struct {
	Name, Description, Pattern, Value string
	Required                          bool
	Models                            string // the models that ask for it, when the form is for none
}

// newRequest shows the request form, filled from the query (the catalog's
// and an identity's pages link to it with what they know).
func (s *server) newRequest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.renderRequestForm(w, r, http.StatusOK, newRequestPage{Form: requestForm{Identity: q.Get("identity"), System: q.Get("system"),
		Entitlement: q.Get("entitlement"), Role: q.Get("role"), Model: q.Get("model"), Duration: q.Get("duration")}})
}

// renderRequestForm shows the form p.Form with what the catalog in force
// offers: its models, its roles, and the justification fields of the
// chosen model (all models' when none is chosen).
func (s *server) renderRequestForm(w http.ResponseWriter, r *http.Request, status int, p newRequestPage) {
	p.pageBase = s.base(r, "Request access", "/requests/new")
	if p.Form.Identity != "" && p.Form.System == "" {
		// The systems an identity of that name is on: the choices when
		// the name alone is ambiguous.
		vis, err := s.visibility(r.Context())
		if err == nil {
			if page, err := s.store.Identities(r.Context(), steward.IdentityFilter{Name: p.Form.Identity, Visible: vis,
				ListOptions: steward.ListOptions{Limit: maxSuggestions}}); err == nil && len(page.Items) > 1 {
				for _, x := range page.Items {
					p.Systems = append(p.Systems, x.SystemName)
				}
			}
		}
	}
	v, err := s.store.CatalogInForce(r.Context())
	switch {
	case steward.IsCode(err, steward.ENOTFOUND):
		p.NoCatalog = true
	case err != nil:
		s.renderError(w, r, err, 0, "", "")
		return
	default:
		c := v.Catalog
		p.Models = append(p.Models, option{Value: "", Label: "let Steward find it", Selected: p.Form.Model == ""})
		for _, m := range c.Models {
			label := m.Name + " (" + string(m.Kind) + ", tier " + m.Tier + ")"
			switch m.Kind {
			case steward.ModelNewIdentity:
				label = m.Name + " (a new identity: name it and its system, no entitlement; tier " + m.Tier + ")"
			case steward.ModelDecommission:
				label = m.Name + " (retire the identity: no entitlement; tier " + m.Tier + ")"
			}
			p.Models = append(p.Models, option{Value: m.Name, Label: label, Selected: m.Name == p.Form.Model})
		}
		p.Roles = append(p.Roles, option{Value: "", Label: "none: an entitlement", Selected: p.Form.Role == ""})
		for _, ro := range c.Roles {
			p.Roles = append(p.Roles, option{Value: ro.Name, Label: ro.Name, Selected: ro.Name == p.Form.Role})
		}
		p.Fields, p.ForModel = justFields(c, cmp.Or(p.Form.Model, p.FieldsFor), p.Form.Justification)
	}
	s.render(w, r, status, "requestnew", p)
}

// justFields returns the justification fields model asks for, filled from
// values, all required; or, for no model (or one the catalog lacks), every
// request model's, each naming the models that ask for it. A free "reason"
// is offered too unless a model asks for one itself: approvers read it.
func justFields(c *steward.Catalog, model string, values map[string]string) ([]justField, string) {
	var out []justField
	if m := c.Model(model); m != nil {
		for _, j := range m.Justification {
			out = append(out, justField{Name: j.Name, Description: j.Description, Pattern: j.Pattern, Value: values[j.Name], Required: true})
		}
	} else {
		model = ""
		byName := map[string]int{}
		for _, m := range c.Models {
			if m.Kind != steward.ModelRoutine && m.Kind != steward.ModelJIT {
				continue
			}
			for _, j := range m.Justification {
				if i, ok := byName[j.Name]; ok {
					out[i].Models += ", " + m.Name
					continue
				}
				byName[j.Name] = len(out)
				out = append(out, justField{Name: j.Name, Description: j.Description, Value: values[j.Name], Models: m.Name})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	}
	if !slices.ContainsFunc(out, func(f justField) bool { return f.Name == "reason" }) {
		out = append(out, justField{Name: "reason", Description: "why you need it, for the approvers", Value: values["reason"]})
	}
	return out, model
}

// readRequestForm reads the request form's fields.
func readRequestForm(r *http.Request) requestForm {
	pf := r.PostForm
	f := requestForm{Identity: strings.TrimSpace(pf.Get("identity")), System: strings.TrimSpace(pf.Get("system")),
		Entitlement: strings.TrimSpace(pf.Get("entitlement")), Role: strings.TrimSpace(pf.Get("role")),
		Model: strings.TrimSpace(pf.Get("model")), Duration: strings.TrimSpace(pf.Get("duration")), Justification: map[string]string{}}
	for k, v := range pf {
		if name, ok := strings.CutPrefix(k, "j."); ok && name != "" && strings.TrimSpace(v[0]) != "" {
			f.Justification[name] = strings.TrimSpace(v[0])
		}
	}
	return f
}

// identityModel reports whether model, in the catalog in force, asks for
// an identity itself (new-identity, decommission) rather than access.
func (s *server) identityModel(ctx context.Context, model string) bool {
	if model == "" {
		return false
	}
	v, err := s.store.CatalogInForce(ctx)
	if err != nil {
		return false // the workflow says what is wrong with the catalog
	}
	m := v.Catalog.Model(model)
	return m != nil && (m.Kind == steward.ModelNewIdentity || m.Kind == steward.ModelDecommission)
}

// createRequest checks the form (what would happen, recording nothing) or
// submits it: to the new request's page, or, when no model serves what
// was asked, to the page that says it was recorded as unmatched demand.
func (s *server) createRequest(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		s.renderRequestForm(w, r, http.StatusBadRequest, newRequestPage{Error: steward.ErrorMessage(err)})
		return
	}
	f := readRequestForm(r)
	failed := func(err error) {
		status := errorStatus(err)
		if status >= 500 {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		s.renderRequestForm(w, r, status, newRequestPage{Form: f, Error: steward.ErrorMessage(err)})
	}
	ref := steward.AccessRef{Model: f.Model, Identity: f.Identity, System: f.System, Entitlement: f.Entitlement, Role: f.Role, Justification: f.Justification}
	if f.Entitlement != "" && f.Role != "" {
		failed(steward.Errorf(steward.EINVALID, "Ask for an entitlement or a catalog role, not both: clear one of them."))
		return
	}
	if f.Entitlement == "" && f.Role == "" && !s.identityModel(r.Context(), f.Model) {
		failed(steward.Errorf(steward.EINVALID, "Name the entitlement you need (or choose a catalog role, or a model that makes or retires an identity)."))
		return
	}
	if f.Duration != "" {
		d, err := steward.ParseDuration(f.Duration)
		if err != nil {
			failed(err)
			return
		}
		ref.Duration = d
	}
	if r.PostForm.Get("action") == "check" {
		q, d, err := s.flow.Preview(r.Context(), ref)
		if err != nil {
			failed(err)
			return
		}
		p := newRequestPage{Form: f, Checked: true, What: q.Target.String()}
		if q.Model == "" {
			p.Unmatched = true
		} else {
			// The model stays as chosen: submitting decides as the check
			// did, and finds the same model. The form asks for the
			// justification of the model found, unless Steward found
			// only refusals, when another model may be the one meant.
			p.Decision, p.Refusals = &d, d.Refusals()
			if f.Model != "" || d.Outcome != steward.OutcomeRefused {
				p.FieldsFor = q.Model
			}
			if d.ServiceLevels != nil {
				p.Fulfilment, p.DecisionLevel = levelText(d.ServiceLevels.Fulfilment), levelText(d.ServiceLevels.Decision)
			}
		}
		s.renderRequestForm(w, r, http.StatusOK, p)
		return
	}
	res, err := s.flow.Create(r.Context(), ref)
	if err != nil {
		failed(err)
		return
	}
	if u := res.Unmatched; u != nil {
		s.setFlash(w, r, "Recorded: "+u.Target.String()+" for identity "+u.Identity+", asked by "+u.Requester+" at "+exact(u.At)+".")
		http.Redirect(w, r, "/requests/unmatched", http.StatusSeeOther)
		return
	}
	s.setFlash(w, r, "Request "+strconv.FormatInt(res.Request.ID, 10)+" is "+string(res.Request.State)+".")
	http.Redirect(w, r, requestURL(res.Request.ID), http.StatusSeeOther)
}

// unmatched says that a request no model serves was recorded as unmatched
// demand; the flash says what was recorded.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "requestunmatched", s.base(r, "Recorded as unmatched demand", "/requests/new"))
}

// requestPage is one request.
type requestPage struct {
	pageBase
	R          *steward.AccessRequest
	Row        requestRow
	Refusals   []steward.Reason
	Why        string // why it ended, or why it escalated last
	Approvers  []approverRow
	Timeline   []timelineEntry
	CanDecide  bool
	IsMine     bool
	CanCancel  bool
	CanExtend  bool
	Extends    string // the page of the request whose grant this one extends
	Grant      *steward.JITGrant
	GrantState string
	GrantError string   // what the target said to the last revocation that failed
	GrantEnds  timeText // its expiry, or when it was revoked
	Expires    string   // RFC 3339, for the countdown
	Left       string   // the time left when the page was made
	Fields     []justField
}

// approverRow is one approver set the request waits on, or waited on.
type approverRow struct {
	Set, Why string
	Level    int
	Reached  bool // the request's escalation has reached it: its members may act
}

// timelineEntry is one step of a request's life.
type timelineEntry struct {
	At   timeText
	Who  string
	What string
	Bad  bool // a refusal, a denial, a failure
}

func (s *server) requestID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, nil, http.StatusBadRequest, "Bad request number",
			"“"+raw+"” is not a request number; find the request under My requests or in your Inbox instead.")
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
	act := may(ctx, steward.PermRequestAct)
	p := requestPage{pageBase: s.base(r, "Request "+strconv.FormatInt(id, 10), "/requests"), R: req, Row: s.requestRow(req),
		Refusals: req.Decision.Refusals(), IsMine: strings.EqualFold(me.Name, req.Requester), Why: req.Reason}
	if req.State == steward.RequestDenied {
		for _, a := range req.Approvals {
			if !a.Approve {
				p.Why = "Denied by " + a.Approver + " as " + a.Set.String() + ": " + quoted(a.Reason)
			}
		}
	}
	for i, a := range req.Decision.Approvers {
		p.Approvers = append(p.Approvers, approverRow{Set: a.Set.String(), Why: a.Why, Level: i + 1, Reached: i <= req.Level})
	}
	if req.State == steward.RequestPending && act && !p.IsMine {
		if inbox, err := s.flow.Inbox(ctx); err == nil {
			p.CanDecide = slices.ContainsFunc(inbox, func(x steward.AccessRequest) bool { return x.ID == id })
		}
	}
	p.CanCancel = act && steward.MayCancel(req, me.Name, me.Role == steward.RoleAdmin) == nil
	if req.Extends != nil {
		if g, err := s.store.JITGrant(ctx, *req.Extends); err == nil && g.RequestID != nil {
			p.Extends = requestURL(*g.RequestID)
		}
	}
	if req.JITGrantID != nil {
		g, err := s.store.JITGrant(ctx, *req.JITGrantID)
		if err != nil && !steward.IsCode(err, steward.ENOTFOUND) {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		if g != nil {
			now := s.clock.Now()
			st := g.State(now)
			p.Grant, p.GrantState, p.GrantError = g, label(st), errorText(g.LastError)
			p.GrantEnds = s.timeText(&g.ExpiresAt, "")
			if st == steward.JITRevoked && g.RevokedAt != nil {
				p.GrantEnds = s.timeText(g.RevokedAt, "")
			}
			if st == steward.JITActive {
				p.Expires = g.ExpiresAt.UTC().Format(time.RFC3339)
				p.Left = g.ExpiresAt.Sub(now).Round(time.Second).String()
				p.CanExtend = act && p.IsMine
				if p.CanExtend {
					if v, err := s.store.CatalogInForce(ctx); err == nil {
						p.Fields, _ = justFields(v.Catalog, req.Decision.Model, req.Justification)
					}
				}
			}
		}
	}
	if p.Timeline, err = s.timeline(ctx, req); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	s.render(w, r, http.StatusOK, "request", p)
}

// timelineEvents bounds how many events of a request and of its grant the
// timeline reads: a request has a handful; a failing fulfilment or
// revocation a few more.
const timelineEvents = 500

// timeline is a request's life from the audit log: made, each approval and
// denial with who, when and why, escalations, each fulfilment try with the
// target's error, the end; and its JIT grant's: granted, extended, warned,
// each revocation try, revoked. The events are the request's own, which
// whoever may see the request may read.
func (s *server) timeline(ctx context.Context, req *steward.AccessRequest) ([]timelineEntry, error) {
	var events []steward.Event
	read := func(typ string, id int64) error {
		page, err := s.store.Events(ctx, steward.EventFilter{ObjectType: typ, ObjectID: strconv.FormatInt(id, 10),
			ListOptions: steward.ListOptions{Limit: timelineEvents}})
		if err != nil {
			return err
		}
		events = append(events, page.Items...)
		return nil
	}
	if err := read(steward.ObjectRequest, req.ID); err != nil {
		return nil, err
	}
	if req.JITGrantID != nil {
		if err := read(steward.ObjectJITGrant, *req.JITGrantID); err != nil {
			return nil, err
		}
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Seq < events[j].Seq })
	var out []timelineEntry
	for _, e := range events {
		if t, ok := s.timelineEntry(req, e); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// actorName is who an event's actor is, as the timeline says it: a person
// by e-mail address, Steward's own jobs as Steward.
func actorName(actor string) string {
	kind, name := steward.ParseActor(actor)
	switch {
	case kind == steward.PrincipalPerson:
		return name
	case kind == steward.PrincipalSystem, kind == steward.PrincipalAutomation && name == steward.SelfIdentityName:
		return "Steward"
	}
	return actor
}

func (s *server) timelineEntry(req *steward.AccessRequest, e steward.Event) (timelineEntry, bool) {
	t := timelineEntry{At: s.timeText(&e.Time, ""), Who: actorName(e.Actor)}
	payload, err := e.Payload()
	if err != nil {
		return t, false
	}
	switch p := payload.(type) {
	case *steward.RequestCreated:
		t.What = "Asked for " + p.Target.String() + " for identity " + p.Identity
		if p.Duration > 0 {
			t.What += " for " + p.Duration.String()
		}
		t.What += "; the catalog said " + string(p.Outcome) + " under model " + p.Model + "."
		t.Bad = p.Outcome == steward.OutcomeRefused
	case *steward.RequestChanged:
		switch e.Action {
		case steward.ActionRequestApproved, steward.ActionRequestDenied:
			if a := p.Approval; a != nil {
				verb := "Approved"
				if !a.Approve {
					verb, t.Bad = "Denied", true
				}
				t.Who = a.Approver
				t.What = verb + " as " + a.Set.String() + ": " + quoted(a.Reason)
				if a.Approve && p.To == steward.RequestApproved {
					t.What += " The request is approved; fulfilment is queued."
				} else if a.Approve {
					t.What += " It waits for more approvals."
				}
			}
		case steward.ActionRequestEscalated:
			t.What = "Escalated to approver level " + strconv.Itoa(p.Level+1) + ". " + p.Reason
		case steward.ActionRequestExpired:
			t.What, t.Bad = "Expired. "+p.Reason, true
		case steward.ActionRequestCancelled:
			t.What, t.Bad = "Cancelled: "+quoted(p.Reason), true
		case steward.ActionRequestFulfilmentFailed:
			t.What, t.Bad = "Fulfilment try "+strconv.Itoa(p.Attempts)+" failed: "+errorText(p.Error)+" It is tried again.", true
		case steward.ActionRequestFailed:
			t.What, t.Bad = "Fulfilment try "+strconv.Itoa(p.Attempts)+" failed for good: "+errorText(p.Error), true
		case steward.ActionRequestFulfilled:
			t.What = "Fulfilled: the access exists in " + orWhat(req.Question.Identity.System, "the target system") + "."
			if p.JITGrantID != nil {
				t.What = "Fulfilled: JIT grant " + strconv.FormatInt(*p.JITGrantID, 10) + " is in " + orWhat(req.Question.Identity.System, "the target system") + "."
			}
		default:
			t.What = string(e.Action) + "."
		}
	case *steward.JITGranted:
		t.What = "Granted until " + exact(p.ExpiresAt) + "."
	case *steward.JITExtended:
		t.What = "Extended from " + exact(p.OldExpiresAt) + " to " + exact(p.ExpiresAt) + "."
	case *steward.JITExpiryWarned:
		t.What = "Warned that it expires at " + exact(p.ExpiresAt) + "."
	case *steward.JITGrantRevoked:
		t.What = "Revoked in the target at expiry (" + lagText(time.Duration(p.LagMS)*time.Millisecond) + " after it)."
	case *steward.JITRevocationFailed:
		t.What, t.Bad = "Revocation try "+strconv.Itoa(p.Attempts)+" failed: "+errorText(p.Error)+" Tried again at "+exact(p.NextAttemptAt)+".", true
	default:
		t.What = string(e.Action) + "."
	}
	return t, true
}

// stewardErrorRE is how a steward.Error writes itself into a target's
// error text: Error() anywhere in it, or steward.FailureText's "code: " at
// its start. The code is for programs, the message for people.
var stewardErrorRE = regexp.MustCompile(`steward error: code=[a-z_]+ message=|^(?:` + codeAlternatives() + `): `)

func codeAlternatives() string {
	var codes []string
	for _, c := range steward.ErrorTable {
		codes = append(codes, regexp.QuoteMeta(c.Code))
	}
	return strings.Join(codes, "|")
}

// errorText is what a target said, as a person reads it: without the
// code a steward.Error puts before its message.
func errorText(s string) string { return stewardErrorRE.ReplaceAllString(s, "") }

// quoted is what a person wrote, in quotes, as a sentence: a full stop
// after it unless it ends with its own.
func quoted(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return "“" + s + "”"
	}
	return "“" + s + "”."
}

// lagText is how late a revocation was: to the millisecond under a
// minute, to the second above.
func lagText(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func orWhat(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// actOnRequest serves the approve, deny and cancel forms, and goes back to
// the page the form names (the inbox) or to the request's.
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
		next := requestURL(id)
		if n := r.PostForm.Get("next"); n != "" {
			next = safeNext(n)
		}
		http.Redirect(w, r, next, http.StatusSeeOther) // #nosec G710 -- a request's path or safeNext's, a path of this site
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

// extendRequest asks for more time on the JIT grant a request made: a new
// request, decided again under the same model, with the justification it
// asks for.
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
	res, err := s.flow.Extend(r.Context(), id, d, readRequestForm(r).Justification)
	if err != nil {
		s.renderError(w, r, err, 0, "The extension was not asked for", "")
		return
	}
	s.setFlash(w, r, "Extension request "+strconv.FormatInt(res.Request.ID, 10)+" is "+string(res.Request.State)+".")
	http.Redirect(w, r, requestURL(res.Request.ID), http.StatusSeeOther) // #nosec G710 -- the new request's path on this site, made from its number
}

// requestRoutes adds the request pages. Reading needs a session; asking
// and deciding need steward.PermRequestAct, which an auditor, who writes
// nothing, lacks; a server without a workflow says it serves none.
func (s *server) requestRoutes(mux *http.ServeMux) {
	served := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if s.flow == nil {
				s.renderError(w, r, nil, http.StatusNotImplemented, "No access requests here",
					"This Steward server does not serve access requests: it was started without the request workflow.")
				return
			}
			next(w, r)
		}
	}
	read := func(next http.HandlerFunc) http.Handler {
		return s.guard(steward.PermRequestRead, "read access requests", served(next))
	}
	act := func(what string, next http.HandlerFunc) http.Handler {
		return s.guard(steward.PermRequestAct, what, served(next))
	}
	mux.Handle("GET /requests", read(s.requests))
	mux.Handle("GET /requests/new", act("ask for access", s.newRequest))
	mux.Handle("POST /requests/new", act("ask for access", s.createRequest))
	mux.Handle("GET /requests/unmatched", act("ask for access", s.unmatched))
	mux.Handle("GET /requests/inbox", act("decide access requests", s.inbox))
	mux.Handle("GET /requests/{id}", read(s.request))
	mux.Handle("POST /requests/{id}/approve", act("approve access requests", s.actOnRequest("approve")))
	mux.Handle("POST /requests/{id}/deny", act("deny access requests", s.actOnRequest("deny")))
	mux.Handle("POST /requests/{id}/cancel", act("cancel access requests", s.actOnRequest("cancel")))
	mux.Handle("POST /requests/{id}/extend", act("ask to extend access", s.extendRequest))
}
