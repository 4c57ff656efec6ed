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
//
// One object's history is ObjectID, which only links set (an identity's
// History link, an event's object): people never type it. What they type
// is Name, the object's name, which the page resolves and exchanges for
// the id before it lists anything.
type auditQuery struct {
	Action, Actor, Since, Object, ObjectID, Name, Limit, After string
}

func readAuditQuery(v url.Values) auditQuery {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return auditQuery{Action: get("action"), Actor: get("actor"), Since: get("since"), Object: get("object"),
		ObjectID: get("object_id"), Name: get("name"), Limit: get("limit"), After: get("after")}
}

// URL returns the audit link for q on the page after cursor after.
func (q auditQuery) URL(after string) string {
	return queryURL("/audit", [][2]string{{"action", q.Action}, {"actor", q.Actor}, {"since", q.Since}, {"object", q.Object},
		{"object_id", q.ObjectID}, {"name", q.Name}, {"limit", q.Limit}, {"after", after}})
}

// historyURL is the audit page listing the events of one object: the
// History link of the pages of identities, people, teams and systems.
func historyURL(typ string, id int64) string {
	return auditQuery{Object: typ, ObjectID: strconv.FormatInt(id, 10)}.URL("")
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
	if q.Name != "" {
		// The handler resolves a name before it filters; one left here
		// came with an object a link set.
		return f, steward.Errorf(steward.EINVALID, "name an object, or follow its history link, not both.")
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
	Via       string // the token or session the actor came through
	Action    string
	Object    string // what the event is about, by name where Steward knows it
	ObjectURL string // its page, or the history of the object here
	Detail    string
	Data      string // the event's data as stored, for the tooltip
}

// auditPage is the data of the audit template.
type auditPage struct {
	pageBase
	Query   auditQuery
	Actions []option
	Objects []option
	// Chip names the one object whose history the page shows ("identity
	// svc-etl on aws-prod") in place of the object fields; ClearObjectURL
	// is the page with every other filter kept and the object dropped.
	Chip           string
	ClearObjectURL string
	// Suggest is what the name field's type-ahead looks up for the chosen
	// kind of object: person, team or system, or "" for none.
	Suggest     string
	Error       string
	Choices     []choice // what a name that named several objects could mean
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
	if slices.Contains([]string{steward.ObjectPerson, steward.ObjectTeam, steward.ObjectSystem}, q.Object) {
		p.Suggest = q.Object
	}
	ctx := r.Context()
	if q.Name != "" && q.ObjectID == "" {
		// A typed name becomes the object's history link, the one URL of
		// that view, as if its link had been followed.
		id, choices, err := s.findObject(ctx, q.Object, q.Name)
		if steward.IsCode(err, steward.EINVALID) {
			p.Error, p.Choices = steward.ErrorMessage(err), choices
			s.render(w, r, http.StatusBadRequest, "audit", p)
			return
		} else if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		q.ObjectID, q.Name = id, ""
		http.Redirect(w, r, q.URL(""), http.StatusSeeOther)
		return
	}
	if canonical := q.URL(q.After); r.URL.RawQuery != "" && r.URL.RequestURI() != canonical {
		http.Redirect(w, r, canonical, http.StatusSeeOther)
		return
	}
	status := http.StatusOK
	f, err := q.Filter(s)
	names := &objectNames{s: s, ctx: ctx, names: map[string]string{}}
	if err == nil && q.ObjectID != "" {
		all := q
		all.Object, all.ObjectID = "", ""
		p.ClearObjectURL = all.URL("")
		p.Chip, err = s.objectChip(names, q.Object, q.ObjectID)
	}
	var page *steward.Page[steward.Event]
	if err == nil {
		page, err = s.store.Events(ctx, f)
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
	case steward.ObjectEntitlement:
		var e *steward.Entitlement
		if e, err = n.s.store.Entitlement(n.ctx, id); err == nil {
			name = e.Name
		}
	case steward.ObjectToken:
		// Few tokens: read them once for the page.
		var tokens []steward.Token
		if tokens, err = n.s.store.Tokens(n.ctx); err == nil {
			for _, t := range tokens {
				n.names[typ+":"+strconv.FormatInt(t.ID, 10)] = t.Name
				if t.ID == id {
					name = t.Name
				}
			}
		}
	}
	if steward.IsCode(err, steward.ENOTFOUND) {
		err = nil
	}
	n.names[key] = name
	return name, err
}

// choice is one of the objects a name could mean, linked to its history.
type choice struct{ Label, URL string }

// maxChoices bounds the objects an ambiguous name lists.
const maxChoices = 10

// findObject resolves a name typed in the audit page's Name field, of the
// kind chosen beside it, to the object's id as its events record it. It
// returns EINVALID, saying what to type or follow instead, when the name
// names nothing, or several objects (then with each as a choice).
//
// People, teams and systems are found as every other field finds them
// (findPerson, findTeam, findSystem); an identity by its exact name; a
// token or an entitlement by its name. The objects Steward gives no name
// (a credential, a grant, a task) are reached by their links.
func (s *server) findObject(ctx context.Context, kind, name string) (string, []choice, error) {
	const field = "Name"
	var id int64
	switch kind {
	case "":
		return "", nil, steward.Errorf(steward.EINVALID, "Choose the kind of object “%s” is: an identity, a person, a team, a system, an entitlement or a token.", name)
	case steward.ObjectPerson:
		p, err := s.findPerson(ctx, field, name)
		if err != nil {
			return "", nil, err
		}
		id = p.ID
	case steward.ObjectTeam:
		t, err := s.findTeam(ctx, field, name)
		if err != nil {
			return "", nil, err
		}
		id = t.ID
	case steward.ObjectSystem:
		sys, err := s.findSystem(ctx, field, name)
		if err != nil {
			return "", nil, err
		}
		id = sys.ID
	case steward.ObjectIdentity:
		return objectRef(s.findIdentityObject(ctx, field, name))
	case steward.ObjectEntitlement:
		return objectRef(s.findEntitlementObject(ctx, field, name))
	case steward.ObjectToken:
		return objectRef(s.findTokenObject(ctx, field, name))
	case steward.ObjectPeople, steward.ObjectSchema:
		// Their events name them by name already: a people source, a
		// migration.
		return name, nil, nil
	case steward.ObjectInventory, steward.ObjectOwnershipRules:
		return "", nil, steward.Errorf(steward.EINVALID, "There is one %s: choose it with no name.", label(kind))
	default:
		return "", nil, steward.Errorf(steward.EINVALID, "A %s has no name to type: follow the link to its history from an event below, or open its identity's History.", label(kind))
	}
	return strconv.FormatInt(id, 10), nil, nil
}

// objectRef is what findObject answers for an object found by id.
func objectRef(id int64, choices []choice, err error) (string, []choice, error) {
	if err != nil {
		return "", choices, err
	}
	return strconv.FormatInt(id, 10), nil, nil
}

// findIdentityObject finds an identity by its exact name; a name on several
// systems gives each as a choice.
func (s *server) findIdentityObject(ctx context.Context, field, name string) (int64, []choice, error) {
	var id int64
	page, err := s.store.Identities(ctx, steward.IdentityFilter{Name: name, ListOptions: steward.ListOptions{Limit: maxChoices + 1}})
	if err != nil {
		return 0, nil, err
	}
	switch len(page.Items) {
	case 0:
		return 0, nil, steward.Errorf(steward.EINVALID, "%s: no identity is named “%s”. Find it in the inventory and follow the History link on its page.", field, name)
	case 1:
		id = page.Items[0].ID
	default:
		var choices []choice
		for _, v := range page.Items[:min(len(page.Items), maxChoices)] {
			choices = append(choices, choice{Label: v.Name + " on " + v.SystemName, URL: historyURL(steward.ObjectIdentity, v.ID)})
		}
		many := strconv.Itoa(len(page.Items))
		if page.Next != "" || len(page.Items) > maxChoices {
			many = "More than " + strconv.Itoa(maxChoices)
		}
		return 0, choices, steward.Errorf(steward.EINVALID, "%s identities are named “%s”, on different systems: choose one.", many, name)
	}
	return id, nil, nil
}

// findEntitlementObject finds an entitlement by its name, any case; a name
// on several systems gives each as a choice.
func (s *server) findEntitlementObject(ctx context.Context, field, name string) (int64, []choice, error) {
	var id int64
	var choices []choice
	f := steward.EntitlementFilter{Query: name, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	names := &objectNames{s: s, ctx: ctx, names: map[string]string{}}
	for len(choices) <= maxChoices {
		page, err := s.store.Entitlements(ctx, f)
		if err != nil {
			return 0, nil, err
		}
		for _, e := range page.Items {
			if !strings.EqualFold(e.Name, name) {
				continue
			}
			sys, err := names.name(steward.ObjectSystem, e.SystemID)
			if err != nil {
				return 0, nil, err
			}
			id = e.ID
			choices = append(choices, choice{Label: e.Name + " on " + sys, URL: historyURL(steward.ObjectEntitlement, e.ID)})
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	switch {
	case len(choices) == 0:
		return 0, nil, steward.Errorf(steward.EINVALID, "%s: no entitlement is named “%s”.", field, name)
	case len(choices) > 1:
		return 0, choices[:min(len(choices), maxChoices)], steward.Errorf(steward.EINVALID, "Several entitlements are named “%s”, on different systems: choose one.", name)
	}
	return id, nil, nil
}

// findTokenObject finds an API token by its name, any case.
func (s *server) findTokenObject(ctx context.Context, field, name string) (int64, []choice, error) {
	var id int64
	tokens, err := s.store.Tokens(ctx)
	if err != nil {
		return 0, nil, err
	}
	for _, t := range tokens {
		if strings.EqualFold(t.Name, name) {
			id = t.ID
		}
	}
	if id == 0 {
		return 0, nil, steward.Errorf(steward.EINVALID, "%s: no API token is named “%s”; 'steward token list' lists them.", field, name)
	}
	return id, nil, nil
}

// objectChip names the object whose history the page shows as a person
// knows it: "identity svc-etl on aws-prod", "team payments". One without a
// name of its own (a credential, a task), or that Steward no longer has,
// is named as its oldest event names it.
func (s *server) objectChip(n *objectNames, typ, rawID string) (string, error) {
	id, _ := strconv.ParseInt(rawID, 10, 64)
	switch typ {
	case steward.ObjectIdentity:
		v, err := s.store.Identity(n.ctx, id)
		if err == nil {
			return "identity " + v.Name + " on " + v.SystemName, nil
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return "", err
		}
	case steward.ObjectEntitlement:
		e, err := s.store.Entitlement(n.ctx, id)
		if err == nil {
			sys, err := n.name(steward.ObjectSystem, e.SystemID)
			return "entitlement " + e.Name + " on " + sys, err
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return "", err
		}
	case steward.ObjectPerson, steward.ObjectTeam, steward.ObjectSystem, steward.ObjectToken:
		name, err := n.name(typ, id)
		if err != nil {
			return "", err
		}
		if name != "" {
			return label(typ) + " " + name, nil
		}
	case steward.ObjectOwnershipRules:
		return "the ownership rules", nil
	case steward.ObjectCatalog:
		return "catalog version " + rawID, nil
	case steward.ObjectPeople:
		return "people source " + rawID, nil
	case steward.ObjectSchema:
		return "schema migration " + rawID, nil
	}
	first, err := s.store.Events(n.ctx, steward.EventFilter{ObjectType: typ, ObjectID: rawID, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil {
		return "", err
	}
	if len(first.Items) == 1 {
		row, err := s.eventRow(first.Items[0], n)
		return row.Object, err
	}
	return label(typ) + " " + rawID, nil
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
	row := eventRow{Seq: e.Seq, Time: s.timeText(&e.Time, "unknown"), Actor: e.Actor, Via: e.Via, Action: string(e.Action),
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
	case steward.ObjectEntitlement, steward.ObjectToken:
		if row.Object, err = names.labelled(e.ObjectType, id); err != nil {
			return row, err
		}
	case steward.ObjectOwnershipRules:
		row.Object = "ownership rules"
	case steward.ObjectCatalog:
		row.Object = "catalog version " + e.ObjectID
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

// detail says in a line what an event records: with the names of the
// people and teams it refers to where it refers to them, else from its data
// alone.
func (s *server) detail(payload any, e steward.Event, names *objectNames) (string, error) {
	switch payload.(type) {
	case *steward.OwnerChanged, *steward.IdentityAttested:
		return s.detailNamed(payload, names)
	}
	return detailPlain(payload, e), nil
}

// detailNamed says what an owner change or an attestation records, naming
// the people and teams by their names.
func (s *server) detailNamed(payload any, names *objectNames) (string, error) {
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
	}
	return "", nil
}

// detailPlain says what any other event records, from its data alone; an
// action the page does not know shows the start of its data.
func detailPlain(payload any, e steward.Event) string {
	switch p := payload.(type) {
	case *steward.IdentityChanged:
		return changed(p.Changes, p.Source)
	case *steward.PersonChanged:
		if p.Reason != "" {
			return p.Reason
		}
		return changed(p.Changes, p.Source)
	case *steward.CredentialChanged:
		return changed(p.Changes, "")
	case *steward.EntitlementChanged:
		return changed(p.Changes, "")
	case *steward.GrantChanged:
		return changed(p.Changes, "")
	case *steward.Removed:
		return p.Reason
	case *steward.CredentialRemoved:
		return p.Reason
	case *steward.EntitlementRemoved:
		return p.Reason
	case *steward.GrantRemoved:
		return p.Entitlement + ": " + p.Reason
	case *steward.GrantCreated:
		if p.Entitlement != "" {
			return p.Entitlement + viaSource(p.Source)
		}
		return fmt.Sprintf("entitlement %d, %s%s", p.EntitlementID, p.Type, viaSource(p.GrantedVia))
	case *steward.IdentityCreated:
		return fmt.Sprintf("%s %s%s", label(p.Kind), p.ExternalID, viaSource(p.Source))
	case *steward.EntitlementCreated:
		if p.Privileged {
			return p.Name + " (privileged)"
		}
		return p.Name
	case *steward.TeamCreated:
		return p.Name + viaSource(p.Source)
	case *steward.PersonCreated:
		return p.ExternalID + viaSource(p.Source)
	case *steward.SystemCreated:
		return fmt.Sprintf("%s (%s)", p.Name, p.Kind)
	case *steward.SystemSynced:
		return syncWords(p.Source, p.Result)
	case *steward.PeopleSynced:
		return syncWords(p.Source, p.Result)
	case *steward.InventoryLoaded:
		return fmt.Sprintf("%s: %d rows, %d gaps opened", p.Source, sum(p.Rows), p.GapsOpened)
	case *steward.RulesApplied:
		names := make([]string, len(p.Rules))
		for i, r := range p.Rules {
			names[i] = r.Name
		}
		return fmt.Sprintf("%d rules: %s", len(p.Rules), strings.Join(names, ", "))
	case *steward.TaskOpened:
		return fmt.Sprintf("%s gap, due %s", label(p.Gap), p.DueAt.UTC().Format("2006-01-02"))
	case *steward.TaskClosed:
		return fmt.Sprintf("%s gap: %s", label(p.Gap), p.Reason)
	case *steward.TokenCreated:
		return fmt.Sprintf("%s (%s)", p.Name, p.Role)
	case *steward.SessionCreated:
		return "signed in to the web UI"
	case *steward.SessionDeleted:
		return "signed out"
	case *steward.SchemaMigrated:
		return p.Migration
	}
	return cut(string(e.Data), 120)
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
