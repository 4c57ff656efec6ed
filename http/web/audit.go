package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// auditQuery is the audit page's state as the URL carries it, kept as typed
// so that a bad value can be shown back beside the reason.
type auditQuery struct {
	Action, Actor, Since, Object, ObjectID, Limit, After string
}

func readAuditQuery(v url.Values) auditQuery {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return auditQuery{Action: get("action"), Actor: get("actor"), Since: get("since"), Object: get("object"),
		ObjectID: get("object_id"), Limit: get("limit"), After: get("after")}
}

// URL returns the audit link for q on the page after cursor after.
func (q auditQuery) URL(after string) string {
	return queryURL("/audit", [][2]string{{"action", q.Action}, {"actor", q.Actor}, {"since", q.Since}, {"object", q.Object},
		{"object_id", q.ObjectID}, {"limit", q.Limit}, {"after", after}})
}

// Filter converts q to a store filter, newest first, or returns EINVALID
// naming the first bad field.
func (q auditQuery) Filter(s *server) (steward.EventFilter, error) {
	f := steward.EventFilter{Action: steward.Action(q.Action), Actor: q.Actor, ObjectType: q.Object, ObjectID: q.ObjectID,
		NewestFirst: true, ListOptions: steward.ListOptions{After: q.After}}
	if err := f.Validate(); err != nil {
		return f, err
	}
	if q.Object != "" && !slices.Contains(steward.ObjectTypes, q.Object) {
		return f, steward.Errorf(steward.EINVALID, "object %q is not a kind of object Steward records; one of: %s.", q.Object, strings.Join(steward.ObjectTypes, ", "))
	}
	if q.ObjectID != "" && q.Object == "" {
		return f, steward.Errorf(steward.EINVALID, "choose the kind of object that id %q is of.", q.ObjectID)
	}
	if q.Since != "" {
		t, err := steward.ParseSince(q.Since, s.clock.Now())
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	var err error
	if f.Limit, err = parseLimit(q.Limit); err != nil {
		return f, err
	}
	if _, _, err := f.ListOptions.Normalize(); err != nil {
		return f, err
	}
	return f, nil
}

// eventRow is one audit event as the page lists it.
type eventRow struct {
	Seq       int64
	Time      timeText
	Actor     string
	Action    string
	Object    string // what the event is about, by name where Steward knows it
	ObjectURL string // its page, or the history of the object here
	Detail    string
	Data      string // the event's data as stored, for the tooltip
}

// auditPage is the data of the audit template.
type auditPage struct {
	pageBase
	Query       auditQuery
	Actions     []option
	Objects     []option
	Error       string
	Rows        []eventRow
	Searched    bool
	Filtered    bool
	FirstURL    string
	NextURL     string
	OnFirstPage bool
}

// audit lists the audit log newest first, filtered by action, actor, time
// and object, one keyset page at a time, each event linked to its object.
func (s *server) audit(w http.ResponseWriter, r *http.Request) {
	q := readAuditQuery(r.URL.Query())
	if canonical := q.URL(q.After); r.URL.RawQuery != "" && r.URL.RequestURI() != canonical {
		http.Redirect(w, r, canonical, http.StatusSeeOther)
		return
	}
	p := auditPage{
		pageBase:    s.base(r, "Audit", "/audit"),
		Query:       q,
		Actions:     enumOptions(steward.Actions, q.Action),
		Objects:     enumOptions(steward.ObjectTypes, q.Object),
		Filtered:    q.Action != "" || q.Actor != "" || q.Since != "" || q.Object != "",
		FirstURL:    q.URL(""),
		OnFirstPage: q.After == "",
	}
	// The select shows actions as stored (identity.owner_changed), not in
	// words: it is what the API, the CLI and the log say.
	for i := range p.Actions[1:] {
		p.Actions[i+1].Label = p.Actions[i+1].Value
	}
	status := http.StatusOK
	f, err := q.Filter(s)
	var page *steward.Page[steward.Event]
	if err == nil {
		page, err = s.store.Events(r.Context(), f)
	}
	if steward.IsCode(err, steward.EINVALID) {
		status, p.Error = http.StatusBadRequest, steward.ErrorMessage(err)
		s.render(w, r, status, "audit", p)
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p.Searched = true
	names := &objectNames{s: s, ctx: r.Context(), names: map[string]string{}}
	for _, e := range page.Items {
		row, err := s.eventRow(e, names)
		if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		p.Rows = append(p.Rows, row)
	}
	if page.Next != "" {
		p.NextURL = q.URL(page.Next)
	}
	s.render(w, r, status, "audit", p)
}

// objectNames looks up the names of the objects a page of events names,
// each once.
type objectNames struct {
	s     *server
	ctx   context.Context
	names map[string]string
}

// name returns the name of object typ id, or "" when Steward has no such
// object any more (events outlive what they describe) or no name for it.
func (n *objectNames) name(typ string, id int64) (string, error) {
	key := typ + ":" + strconv.FormatInt(id, 10)
	if v, ok := n.names[key]; ok {
		return v, nil
	}
	var name string
	var err error
	switch typ {
	case steward.ObjectIdentity:
		var v *steward.IdentityView
		if v, err = n.s.store.Identity(n.ctx, id); err == nil {
			name = v.Name
		}
	case steward.ObjectPerson:
		var p *steward.Person
		if p, err = n.s.store.Person(n.ctx, id); err == nil {
			name = p.Name
		}
	case steward.ObjectTeam:
		var t *steward.Team
		if t, err = n.s.store.Team(n.ctx, id); err == nil {
			name = t.Name
		}
	case steward.ObjectSystem:
		var sys *steward.System
		if sys, err = n.s.store.System(n.ctx, id); err == nil {
			name = sys.Name
		}
	}
	if steward.IsCode(err, steward.ENOTFOUND) {
		err = nil
	}
	n.names[key] = name
	return name, err
}

// labelled is "identity ci-deploy", or "identity 42" without a name.
func (n *objectNames) labelled(typ string, id int64) (string, error) {
	name, err := n.name(typ, id)
	if name == "" {
		name = strconv.FormatInt(id, 10)
	}
	return label(typ) + " " + name, err
}

// eventRow builds one line of the audit table: the object linked to its
// page where it has one (an identity, a person, a team or a system, which
// say what else they own), to the identity a credential, grant or task
// belongs to, and otherwise to the object's own history here.
func (s *server) eventRow(e steward.Event, names *objectNames) (eventRow, error) {
	row := eventRow{Seq: e.Seq, Time: s.timeText(&e.Time, "unknown"), Actor: e.Actor, Action: string(e.Action),
		Data: string(e.Data)}
	history := auditQuery{Object: e.ObjectType, ObjectID: e.ObjectID}.URL("")
	row.Object, row.ObjectURL = label(e.ObjectType)+" "+e.ObjectID, history
	if e.ObjectID == "" || e.ObjectID == "0" {
		row.Object = label(e.ObjectType)
	}
	payload, err := e.Payload()
	if err != nil {
		// Data that no longer fits its action's shape: show it as stored.
		row.Detail = cut(string(e.Data), 120)
		return row, nil
	}
	id, _ := strconv.ParseInt(e.ObjectID, 10, 64)
	var identity int64 // the identity the object belongs to, when it is not one
	switch e.ObjectType {
	case steward.ObjectIdentity:
		row.ObjectURL = "/identities/" + e.ObjectID
		if row.Object, err = names.labelled(e.ObjectType, id); err != nil {
			return row, err
		}
	case steward.ObjectPerson, steward.ObjectTeam, steward.ObjectSystem:
		// One Steward no longer has keeps the link to its history here.
		name, err := names.name(e.ObjectType, id)
		if err != nil {
			return row, err
		}
		switch {
		case name == "":
		case e.ObjectType == steward.ObjectPerson:
			row.ObjectURL = personURL(id)
		case e.ObjectType == steward.ObjectTeam:
			row.ObjectURL = teamURL(name)
		default:
			row.ObjectURL = systemURL(name)
		}
		if row.Object, err = names.labelled(e.ObjectType, id); err != nil {
			return row, err
		}
	case steward.ObjectOwnershipRules:
		row.Object = "ownership rules"
	}
	switch p := payload.(type) {
	case *steward.CredentialCreated:
		identity = p.IdentityID
	case *steward.CredentialChanged:
		identity = p.IdentityID
	case *steward.CredentialRemoved:
		identity = p.IdentityID
	case *steward.GrantCreated:
		identity = p.IdentityID
	case *steward.GrantRemoved:
		identity = p.IdentityID
	case *steward.TaskOpened:
		identity = p.IdentityID
	}
	if identity > 0 {
		owner, err := names.labelled(steward.ObjectIdentity, identity)
		if err != nil {
			return row, err
		}
		row.Object += " of " + owner
		row.ObjectURL = "/identities/" + strconv.FormatInt(identity, 10)
	}
	row.Detail, err = s.detail(payload, e, names)
	return row, err
}

// detail says in a line what an event records.
func (s *server) detail(payload any, e steward.Event, names *objectNames) (string, error) {
	person := func(id *int64) (string, error) {
		if id == nil {
			return "nobody", nil
		}
		n, err := names.name(steward.ObjectPerson, *id)
		if n == "" {
			n = "person " + strconv.FormatInt(*id, 10)
		}
		return n, err
	}
	team := func(id *int64) (string, error) {
		if id == nil {
			return "no team", nil
		}
		n, err := names.name(steward.ObjectTeam, *id)
		if n == "" {
			n = strconv.FormatInt(*id, 10)
		}
		return "team " + n, err
	}
	switch p := payload.(type) {
	case *steward.OwnerChanged:
		owner, err := person(p.OwnerID)
		if err != nil {
			return "", err
		}
		t, err := team(p.TeamID)
		if err != nil {
			return "", err
		}
		out := "owner " + owner + ", " + t
		if why := ownerWhy(steward.OwnerReason{OwnerBy: p.OwnerBy, TeamBy: p.TeamBy, Rule: p.Rule}); why != "" {
			out += " (" + why + ")"
		} else if p.OwnerSource != "" {
			out += " (" + string(p.OwnerSource) + ")"
		}
		if p.OldOwnerID != nil {
			was, err := person(p.OldOwnerID)
			if err != nil {
				return "", err
			}
			out += "; was " + was
		}
		return out, nil
	case *steward.IdentityAttested:
		who, err := person(&p.PersonID)
		if err != nil {
			return "", err
		}
		if p.Note != "" {
			return "by " + who + ": " + p.Note, nil
		}
		return "by " + who, nil
	case *steward.IdentityChanged:
		return changed(p.Changes, p.Source), nil
	case *steward.PersonChanged:
		if p.Reason != "" {
			return p.Reason, nil
		}
		return changed(p.Changes, p.Source), nil
	case *steward.CredentialChanged:
		return changed(p.Changes, ""), nil
	case *steward.EntitlementChanged:
		return changed(p.Changes, ""), nil
	case *steward.GrantChanged:
		return changed(p.Changes, ""), nil
	case *steward.Removed:
		return p.Reason, nil
	case *steward.CredentialRemoved:
		return p.Reason, nil
	case *steward.EntitlementRemoved:
		return p.Reason, nil
	case *steward.GrantRemoved:
		return p.Entitlement + ": " + p.Reason, nil
	case *steward.GrantCreated:
		if p.Entitlement != "" {
			return p.Entitlement + viaSource(p.Source), nil
		}
		return fmt.Sprintf("entitlement %d, %s%s", p.EntitlementID, p.Type, viaSource(p.GrantedVia)), nil
	case *steward.IdentityCreated:
		return fmt.Sprintf("%s %s%s", label(p.Kind), p.ExternalID, viaSource(p.Source)), nil
	case *steward.EntitlementCreated:
		if p.Privileged {
			return p.Name + " (privileged)", nil
		}
		return p.Name, nil
	case *steward.TeamCreated:
		return p.Name + viaSource(p.Source), nil
	case *steward.PersonCreated:
		return p.ExternalID + viaSource(p.Source), nil
	case *steward.SystemCreated:
		return fmt.Sprintf("%s (%s)", p.Name, p.Kind), nil
	case *steward.SystemSynced:
		return syncWords(p.Source, p.Result), nil
	case *steward.PeopleSynced:
		return syncWords(p.Source, p.Result), nil
	case *steward.InventoryLoaded:
		return fmt.Sprintf("%s: %d rows, %d gaps opened", p.Source, sum(p.Rows), p.GapsOpened), nil
	case *steward.RulesApplied:
		names := make([]string, len(p.Rules))
		for i, r := range p.Rules {
			names[i] = r.Name
		}
		return fmt.Sprintf("%d rules: %s", len(p.Rules), strings.Join(names, ", ")), nil
	case *steward.TaskOpened:
		return fmt.Sprintf("%s gap, due %s", label(p.Gap), p.DueAt.UTC().Format("2006-01-02")), nil
	case *steward.TaskClosed:
		return fmt.Sprintf("%s gap: %s", label(p.Gap), p.Reason), nil
	case *steward.TokenCreated:
		return fmt.Sprintf("%s (%s)", p.Name, p.Role), nil
	case *steward.SessionCreated:
		return "signed in to the web UI", nil
	case *steward.SessionDeleted:
		return "signed out", nil
	case *steward.SchemaMigrated:
		return p.Migration, nil
	}
	return cut(string(e.Data), 120), nil
}

// changed says which fields changed: "changed name, labels (connector:pg)".
func changed(c steward.Changes, source string) string {
	fields := make([]string, 0, len(c))
	for k := range c {
		fields = append(fields, label(k))
	}
	sort.Strings(fields)
	return "changed " + strings.Join(fields, ", ") + viaSource(source)
}

func viaSource(source string) string {
	if source == "" {
		return ""
	}
	return " (" + source + ")"
}

func syncWords(source string, r *steward.SyncResult) string {
	if r == nil {
		return source
	}
	if c := r.Changes(); c != "" {
		return source + ": " + c
	}
	return source + ": nothing changed"
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// cut shortens s to n runes for a table cell.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
