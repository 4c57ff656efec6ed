package web

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// staleCredentialAge is the age past which a credential is highlighted: a
// secret unrotated for more than a year is the OWASP NHI7 "long-lived
// secret" risk.
const staleCredentialAge = 365 * 24 * time.Hour

// grantsPerPage bounds the grants shown on an identity page. Most identities
// hold a handful; an over-privileged one pages with a link.
const grantsPerPage = 200

// credentialRow is one credential as the identity page shows it.
type credentialRow struct {
	Kind        string
	Disabled    bool // it cannot authenticate; kept as evidence
	Created     timeText
	LastRotated timeText
	LastUsed    timeText
	Age         string // "45 days", "1 year 2 months"
	AgeKnown    bool   // false when neither its creation nor a rotation is known
	Stale       bool
	Expires     timeText
	Expired     bool
	Fingerprint string
}

// grantRow is one grant as the identity page shows it.
type grantRow struct {
	Entitlement string
	System      string
	SystemURL   string
	Type        string
	Privileged  bool
	Granted     timeText
	Expires     timeText
	Expired     bool
	Via         string
}

// linkRow is one link of the identity to another, seen from this end.
type linkRow struct {
	Kind    string // "assumes" or "assumed by"
	Name    string // the other identity, or the reference it is known by
	URL     string // its page; empty while the link is pending
	System  string
	Status  string // the other identity's status, when it is known
	Pending bool
}

// labelRow is one identity label.
type labelRow struct{ Key, Value string }

// identityPage is the data of the identity template.
type identityPage struct {
	pageBase
	Identity      steward.IdentityView
	Kind          string
	SystemURL     string
	Criticality   string
	Owner         string
	OwnerURL      string
	OwnerEmail    string
	OwnerStatus   string
	Unowned       bool
	OwnerDeparted bool
	Team          string
	TeamURL       string
	Created       timeText
	Updated       timeText
	LastUsed      timeText
	Labels        []labelRow
	Credentials   []credentialRow
	Links         []linkRow
	Grants        []grantRow
	MoreGrantsURL string
	GrantsFrom    bool // this is not the first page of grants
	FirstGrants   string

	// Ownership panel.
	SelfURL       string
	OwnerSource   string // in words
	Attested      timeText
	AttestedBy    string
	AttestedByURL string
	OpenGaps      []gapBadge
	LikelyOwners  []suggestion // the owner field's list before anything is typed
	PeopleHint    string
	Form          ownerForm
	CanSetOwner   bool // the signed-in principal may change the owner
	CanAttest     bool // the signed-in principal owns the identity and may attest it
}

// ownerForm is what the owner and attest forms send, kept to show back
// beside the reason when they are refused. People and teams are named as a
// person types them: an email, an external id or a name; a team's name.
type ownerForm struct {
	Error      string
	Owner      string
	Team       string
	AttestNote string
	Attesting  bool // the error belongs to the attest form
}

// gapBadge is one open ownership gap as a badge linking to its work list.
type gapBadge struct {
	Label string
	Class string
	URL   string
}

// ownerSourceWords says where an owner came from, in the words of the
// ownership docs: for an identity recorded before Steward kept the reason.
var ownerSourceWords = map[steward.OwnerSource]string{
	steward.OwnerExplicit: "explicit: assigned in Steward",
	steward.OwnerFromTag:  "source: the system's owner tag",
	steward.OwnerFromRule: "rule: an ownership rule matched",
	steward.OwnerNone:     "none",
}

// identity shows everything Steward knows about one identity: who owns it,
// what secrets it authenticates with and how old they are, and what it may
// do.
func (s *server) identity(w http.ResponseWriter, r *http.Request) {
	if id, ok := s.identityID(w, r); ok {
		s.showIdentity(w, r, id, http.StatusOK, ownerForm{})
	}
}

// showIdentity renders the identity page with status; form carries a
// refused form's values and reason, or is empty. It reads what the page
// shows, then builds the page section by section: the identity, its owner,
// its credentials, its links and a page of its grants.
func (s *server) showIdentity(w http.ResponseWriter, r *http.Request, id int64, status int, form ownerForm) {
	d, err := s.readIdentity(r, id)
	if steward.IsCode(err, steward.ENOTFOUND) {
		s.renderError(w, r, nil, http.StatusNotFound, "Identity not found",
			"There is no identity "+strconv.FormatInt(id, 10)+". It may never have existed; removed identities are kept, so check the link.")
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p := s.identityHeader(r, d, form)
	if err := s.identityOwner(r, d.iv, &p); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p.Credentials = s.credentialRows(d.creds)
	p.Links = linkRows(id, d.links)
	systems := map[int64]string{d.iv.SystemID: d.iv.SystemName}
	for _, g := range d.grants.Items {
		p.Grants = append(p.Grants, s.grantRow(r.Context(), g, systems))
	}
	if d.grants.Next != "" {
		p.MoreGrantsURL = p.SelfURL + "?grants_after=" + url.QueryEscape(d.grants.Next)
	}
	s.render(w, r, status, "identity", p)
}

// identityData is what the identity page reads from the store.
type identityData struct {
	iv          *steward.IdentityView
	grants      *steward.Page[steward.GrantView]
	grantsAfter string // the cursor of the page of grants shown; "" for the first
	creds       []steward.Credential
	links       []steward.IdentityLinkView
}

// readIdentity reads the identity, the page of its grants the request asks
// for, its credentials and its links. ENOTFOUND for an unknown identity.
func (s *server) readIdentity(r *http.Request, id int64) (*identityData, error) {
	ctx := r.Context()
	d := &identityData{grantsAfter: r.URL.Query().Get("grants_after")}
	var err error
	if d.iv, err = s.store.Identity(ctx, id); err != nil {
		return nil, err
	} else if err := s.readable(ctx, d.iv); err != nil {
		return nil, err
	}
	// Grants are evidence (steward.PermEvidenceRead), as in the API: a
	// member sees the identity without them.
	d.grants = &steward.Page[steward.GrantView]{}
	if may(ctx, steward.PermEvidenceRead) {
		if d.grants, err = s.store.Grants(ctx, steward.GrantFilter{
			IdentityID:  id,
			ListOptions: steward.ListOptions{After: d.grantsAfter, Limit: grantsPerPage},
		}); err != nil {
			return nil, err
		}
	}
	if d.creds, err = s.store.Credentials(ctx, id); err != nil {
		return nil, err
	}
	if d.links, err = s.store.IdentityLinks(ctx, id); err != nil {
		return nil, err
	}
	return d, nil
}

// identityHeader is the page's frame and the identity's own fields, its
// labels and why it has its owner.
func (s *server) identityHeader(r *http.Request, d *identityData, form ownerForm) identityPage {
	iv := d.iv
	self := "/identities/" + strconv.FormatInt(iv.ID, 10)
	p := identityPage{
		pageBase:    s.base(r, iv.Name, "/inventory"),
		Identity:    *iv,
		Kind:        label(iv.Kind),
		SystemURL:   systemURL(iv.SystemName),
		Criticality: string(iv.Criticality),
		Owner:       iv.OwnerName,
		Unowned:     iv.OwnerID == nil,
		Team:        iv.TeamName,
		Created:     s.timeText(iv.CreatedAt, "unknown"),
		Updated:     s.timeText(&iv.UpdatedAt, "unknown"),
		LastUsed:    s.timeText(iv.LastUsedAt, "never"),
		GrantsFrom:  d.grantsAfter != "",
		FirstGrants: self,
		SelfURL:     self,
		OwnerSource: ownerSourceWords[iv.OwnerSource],
		Attested:    s.timeText(iv.AttestedAt, "never"),
		Form:        form,
	}
	if why := ownerWhy(iv.OwnerReason); why != "" {
		p.OwnerSource = why
	} else if p.OwnerSource == "" {
		p.OwnerSource = string(iv.OwnerSource)
	}
	if iv.TeamName != "" {
		p.TeamURL = teamURL(iv.TeamName)
	}
	for _, k := range slices.Sorted(maps.Keys(iv.Labels)) {
		p.Labels = append(p.Labels, labelRow{k, iv.Labels[k]})
	}
	return p
}

// identityOwner fills in the owner (how to reach them, whether they left)
// and the ownership panel's forms.
func (s *server) identityOwner(r *http.Request, iv *steward.IdentityView, p *identityPage) error {
	if iv.OwnerID != nil {
		p.OwnerURL = personURL(*iv.OwnerID)
		p.OwnerStatus = string(iv.OwnerStatus)
		p.OwnerDeparted = iv.OwnerStatus == steward.PersonDeparted
		// The email is how a reader reaches the owner; a missing person row
		// is a store inconsistency not worth failing the page over.
		if person, err := s.store.Person(r.Context(), *iv.OwnerID); err == nil {
			p.OwnerEmail = person.Email
			if p.Owner == "" {
				p.Owner = person.Name
			}
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return err
		}
	}
	return s.ownershipPanel(r, iv, p)
}

// credentialRows describes each credential: its dates, its age in words
// (unknown when the source gives no time), and whether it is stale — a
// disabled key never is: it waits to be removed, not rotated.
func (s *server) credentialRows(creds []steward.Credential) []credentialRow {
	now := s.clock.Now()
	var out []credentialRow
	for _, c := range creds {
		age, known := c.Age(now)
		disabled := c.Status == steward.CredentialDisabled
		out = append(out, credentialRow{
			Kind:        label(c.Kind),
			Disabled:    disabled,
			Created:     s.timeText(c.CreatedAt, "unknown"),
			LastRotated: s.timeText(c.LastRotatedAt, "never"),
			LastUsed:    s.timeText(c.LastUsedAt, "never"),
			Age:         steward.HumanAge(now.Add(-age), now),
			AgeKnown:    known,
			Stale:       known && !disabled && age > staleCredentialAge,
			Expires:     s.timeText(c.ExpiresAt, "no expiry"),
			Expired:     c.ExpiresAt != nil && !c.ExpiresAt.After(now),
			Fingerprint: shortFingerprint(c.Fingerprint),
		})
	}
	return out
}

// linkRows describes the links of identity id from either end: what it
// assumes (pending while its target is not in the inventory), and who
// assumes it.
func linkRows(id int64, links []steward.IdentityLinkView) []linkRow {
	var out []linkRow
	for _, l := range links {
		row := linkRow{Kind: string(l.Kind), Name: l.ToRef, System: l.ToSystem, Status: string(l.ToStatus), Pending: l.ToID == nil}
		if l.ToID != nil {
			row.Name, row.URL = l.ToName, "/identities/"+strconv.FormatInt(*l.ToID, 10)
		}
		if l.FromID != id { // a link to this identity, seen from its other end
			row = linkRow{Kind: string(l.Kind) + " this", Name: l.FromName, System: l.FromSystem,
				URL: "/identities/" + strconv.FormatInt(l.FromID, 10)}
		}
		out = append(out, row)
	}
	return out
}

// shortFingerprint shows enough of a fingerprint to compare by eye.
func shortFingerprint(f string) string {
	if len(f) > 16 {
		return f[:16] + "…"
	}
	return f
}

// peopleChoices bounds the likely owners offered before anything is typed.
// A team rarely has more active members; anyone else is found by name.
const peopleChoices = 50

// ownershipPanel fills the identity page's ownership section: where the
// owner came from, the last attestation, the open gaps, and for admins what
// the owner and attest forms start with.
func (s *server) ownershipPanel(r *http.Request, iv *steward.IdentityView, p *identityPage) error {
	ctx := r.Context()
	var owner *steward.Person
	if iv.OwnerID != nil {
		o, err := s.store.Person(ctx, *iv.OwnerID)
		if err == nil {
			owner = o
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return err
		}
	}
	if iv.AttestedBy != nil {
		p.AttestedBy = "person " + strconv.FormatInt(*iv.AttestedBy, 10)
		p.AttestedByURL = personURL(*iv.AttestedBy)
		if person, err := s.store.Person(ctx, *iv.AttestedBy); err == nil {
			p.AttestedBy = person.Name
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return err
		}
	}
	var err error
	if p.OpenGaps, err = s.openGaps(ctx, iv.ID); err != nil {
		return err
	}
	rels, err := s.relationships(ctx, iv)
	if err != nil {
		return err
	}
	who := principalFrom(ctx)
	p.CanSetOwner = steward.Authorize(who, steward.PermOwnerSet, rels...).Allowed
	p.CanAttest = steward.Authorize(who, steward.PermAttest, rels...).Allowed
	if !p.CanSetOwner {
		return nil // the attest form needs nothing more
	}

	// A refused owner form shows what was typed; otherwise the current
	// owner and team. A team that came from the owner is left empty, which
	// the field says means the owner's team, so that setting the form again
	// keeps it following the owner.
	if p.Form.Error == "" || p.Form.Attesting {
		p.Form.Owner, p.Form.Team = "", iv.TeamName
		if iv.OwnerReason.TeamBy == steward.BasisOwnerTeam {
			p.Form.Team = ""
		}
		if owner != nil {
			p.Form.Owner = personKey(owner)
		}
	}
	p.LikelyOwners, p.PeopleHint, err = s.likelyOwners(ctx, iv, owner)
	return err
}

// likelyOwners returns the people the owner field lists before anything is
// typed, and a line that says who they are: the current owner, the team's
// manager and its active members.
func (s *server) likelyOwners(ctx context.Context, iv *steward.IdentityView, owner *steward.Person) ([]suggestion, string, error) {
	var people []steward.Person
	seen := map[int64]bool{}
	add := func(p *steward.Person) {
		if p != nil && !seen[p.ID] {
			seen[p.ID] = true
			people = append(people, *p)
		}
	}
	add(owner)
	hint := "Type part of a name, email or external id to find anyone."
	if iv.TeamID != nil {
		team, err := s.store.Team(ctx, *iv.TeamID)
		if err != nil && !steward.IsCode(err, steward.ENOTFOUND) {
			return nil, "", err
		}
		if team != nil && team.ManagerID != nil {
			m, err := s.store.Person(ctx, *team.ManagerID)
			if err == nil {
				add(m)
			} else if !steward.IsCode(err, steward.ENOTFOUND) {
				return nil, "", err
			}
		}
		page, err := s.store.People(ctx, steward.PersonFilter{TeamID: *iv.TeamID, Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: peopleChoices}})
		if err != nil {
			return nil, "", err
		}
		for i := range page.Items {
			add(&page.Items[i])
		}
		hint = "The list starts with the current owner, the team's manager and its active members; type part of a name, email or login to find anyone else."
	}
	teams, err := s.teamNames(ctx, people)
	if err != nil {
		return nil, "", err
	}
	out := make([]suggestion, 0, len(people))
	for i := range people {
		out = append(out, suggestion{Value: personKey(&people[i]), Label: personLabel(&people[i], teams)})
	}
	return out, hint, nil
}

// openGaps returns the identity's open ownership gaps from the gap tasks,
// the same work items the ownership page lists. The inventory filtered by
// gap kind and started just before the identity answers, for each kind, in
// one index seek whether the identity has it.
func (s *server) openGaps(ctx context.Context, id int64) ([]gapBadge, error) {
	var out []gapBadge
	for _, g := range steward.GapKinds {
		page, err := s.store.Identities(ctx, steward.IdentityFilter{Gap: g, ListOptions: steward.ListOptions{After: steward.Cursor(id - 1), Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(page.Items) == 1 && page.Items[0].ID == id {
			out = append(out, gapBadge{Label: label(g), Class: gapClass(g), URL: "/ownership?gap=" + string(g)})
		}
	}
	return out, nil
}

// gapClass is the badge style of a gap kind: a departed owner is the most
// urgent (nobody answers for the identity), the others are warnings.
func gapClass(g steward.GapKind) string {
	if g == steward.GapOwnerDeparted {
		return "badge-bad"
	}
	return "badge-warn"
}

// ownerWhy says why an identity has its owner and its team, in words:
// "owner: rule payments-k8s; team: the owner's team".
func ownerWhy(r steward.OwnerReason) string {
	var parts []string
	if w := r.OwnerWords(); w != "" {
		parts = append(parts, "owner: "+w)
	}
	if w := r.TeamWords(); w != "" {
		parts = append(parts, "team: "+w)
	}
	return strings.Join(parts, "; ")
}
