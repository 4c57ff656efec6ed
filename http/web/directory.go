package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// The directory: pages for people, teams and systems, so that every name a
// page shows leads somewhere that says who or what it is and what it owns.

func (s *server) directoryRoutes(mux *http.ServeMux) {
	mux.Handle("GET /people", s.session(s.people))
	mux.Handle("GET /people/{id}", s.session(s.person))
	mux.Handle("GET /teams", s.session(s.teams))
	mux.Handle("GET /teams/{name}", s.session(s.team))
	mux.Handle("GET /systems/{name}", s.session(s.system))
	mux.Handle("GET /suggest", s.session(s.suggest))
}

// Links to directory pages. People are linked by id (their names are not
// unique); teams and systems by their unique names, which read well in a URL.
func personURL(id int64) string    { return "/people/" + strconv.FormatInt(id, 10) }
func teamURL(name string) string   { return "/teams/" + url.PathEscape(name) }
func systemURL(name string) string { return "/systems/" + url.PathEscape(name) }

// directoryPerPage is the page size of the lists on directory pages.
const directoryPerPage = steward.DefaultLimit

// personRow is one person in a list.
type personRow struct {
	URL      string
	Name     string
	Email    string
	Title    string
	Team     string
	TeamURL  string
	Status   string
	Departed timeText
}

func (s *server) personRow(p *steward.Person, teams map[int64]string) personRow {
	row := personRow{URL: personURL(p.ID), Name: p.Name, Email: p.Email, Title: p.Title, Status: string(p.Status),
		Departed: s.timeText(p.DepartedAt, "")}
	if p.TeamID != nil {
		row.Team = teams[*p.TeamID]
		if row.Team != "" {
			row.TeamURL = teamURL(row.Team)
		}
	}
	return row
}

// peoplePage is the data of the people list.
type peoplePage struct {
	pageBase
	Q           string
	Status      string
	Statuses    []option
	Error       string
	Rows        []personRow
	Searched    bool
	FirstURL    string
	NextURL     string
	OnFirstPage bool
}

// people finds people by name, email or external id. A search that names one
// person opens their page, so that choosing from the type-ahead and
// pressing Enter lands on the person.
func (s *server) people(w http.ResponseWriter, r *http.Request) {
	get := func(k string) string { return strings.TrimSpace(r.URL.Query().Get(k)) }
	q, status, after := get("q"), get("status"), get("after")
	link := func(after string) string {
		return queryURL("/people", [][2]string{{"q", q}, {"status", status}, {"after", after}})
	}
	if canonical := link(after); r.URL.RawQuery != "" && r.URL.RequestURI() != canonical {
		http.Redirect(w, r, canonical, http.StatusSeeOther)
		return
	}
	p := peoplePage{
		pageBase: s.base(r, "People", "/people"), Q: q, Status: status,
		Statuses: enumOptions([]steward.PersonStatus{steward.PersonActive, steward.PersonDeparted}, status),
		FirstURL: link(""), OnFirstPage: after == "",
	}
	f := steward.PersonFilter{Query: q, Status: steward.PersonStatus(status), ListOptions: steward.ListOptions{After: after, Limit: directoryPerPage}}
	page, err := s.store.People(r.Context(), f)
	if steward.IsCode(err, steward.EINVALID) {
		p.Error = steward.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, "people", p)
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	if q != "" && after == "" {
		if one := onePerson(page, q); one != nil {
			http.Redirect(w, r, personURL(one.ID), http.StatusSeeOther)
			return
		}
	}
	teams, err := s.teamNames(r.Context(), page.Items)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p.Searched = true
	for i := range page.Items {
		p.Rows = append(p.Rows, s.personRow(&page.Items[i], teams))
	}
	if page.Next != "" {
		p.NextURL = link(page.Next)
	}
	s.render(w, r, http.StatusOK, "people", p)
}

// onePerson returns the person a search names: the only match, or the one
// whose email or external id is exactly what was typed (a choice from the
// type-ahead). Nil when the search names several.
func onePerson(page *steward.Page[steward.Person], q string) *steward.Person {
	if len(page.Items) == 1 && page.Next == "" {
		return &page.Items[0]
	}
	key := steward.NormalizeOwnerKey(q)
	var found *steward.Person
	for i, p := range page.Items {
		if steward.NormalizeOwnerKey(p.ExternalID) == key || p.Email != "" && steward.NormalizeOwnerKey(p.Email) == key {
			if found != nil {
				return nil
			}
			found = &page.Items[i]
		}
	}
	return found
}

// identityItem is one identity in a directory page's list.
type identityItem struct {
	URL           string
	Name          string
	Kind          string
	System        string
	SystemURL     string
	Environment   string
	Status        string
	Owner         string
	OwnerURL      string
	Unowned       bool
	OwnerDeparted bool
	Team          string
	TeamURL       string
	LastUsed      timeText
	Gaps          []gapBadge
}

func (s *server) identityItem(iv *steward.IdentityView, gaps map[steward.GapKind]map[int64]bool) identityItem {
	it := identityItem{
		URL: "/identities/" + strconv.FormatInt(iv.ID, 10), Name: iv.Name, Kind: label(iv.Kind),
		System: iv.SystemName, SystemURL: systemURL(iv.SystemName), Environment: string(iv.Environment),
		Status: string(iv.Status), Owner: iv.OwnerName, Unowned: iv.OwnerID == nil, Team: iv.TeamName,
		LastUsed: s.timeText(iv.LastUsedAt, "never"),
	}
	if iv.OwnerID != nil {
		it.OwnerURL = personURL(*iv.OwnerID)
		it.OwnerDeparted = iv.OwnerStatus == steward.PersonDeparted
	}
	if iv.TeamName != "" {
		it.TeamURL = teamURL(iv.TeamName)
	}
	for _, g := range steward.GapKinds {
		if gaps[g][iv.ID] {
			it.Gaps = append(it.Gaps, gapBadge{Label: label(g), Class: gapClass(g), URL: "/ownership?gap=" + string(g)})
		}
	}
	return it
}

// identityList is one page of identities on a directory page, with the
// open gaps among them.
type identityList struct {
	Items    []identityItem
	NextURL  string
	FirstURL string
	Later    bool // not the first page
}

// identityTable is what the "identity-table" template shows: a list with
// its element id, caption and words for an empty list; OwnerCol shows the
// owner column instead of the team.
type identityTable struct {
	ID, Caption, Empty string
	List               identityList
	OwnerCol           bool
}

// listIdentities reads one page of f (its cursor from the URL parameter
// param) with the open gaps of each identity on it; keep, when set, drops
// the identities it rejects from the page.
func (s *server) listIdentities(ctx context.Context, r *http.Request, f steward.IdentityFilter, param string, keep func(*steward.IdentityView) bool) (identityList, error) {
	var out identityList
	f.After, f.Limit = r.URL.Query().Get(param), directoryPerPage
	out.Later = f.After != ""
	vis, err := s.visibility(ctx)
	if err != nil {
		return out, err
	}
	f.Visible = vis
	page, err := s.store.Identities(ctx, f)
	if err != nil {
		return out, err
	}
	gaps := map[steward.GapKind]map[int64]bool{}
	for _, g := range steward.GapKinds {
		if g == steward.GapUnowned && f.OwnerID != 0 {
			continue // an owned identity is never unowned
		}
		if gaps[g], err = s.pageGaps(ctx, f, g, page.Items); err != nil {
			return out, err
		}
	}
	for i := range page.Items {
		if keep == nil || keep(&page.Items[i]) {
			out.Items = append(out.Items, s.identityItem(&page.Items[i], gaps))
		}
	}
	self := *r.URL
	v := self.Query()
	v.Del(param)
	self.RawQuery = v.Encode()
	out.FirstURL = self.String()
	if page.Next != "" {
		v.Set(param, page.Next)
		self.RawQuery = v.Encode()
		out.NextURL = self.String()
	}
	return out, nil
}

// accountRow is one of a person's own accounts with what it may do.
type accountRow struct {
	identityItem
	Grants     []grantRow
	MoreGrants bool
}

// accountGrants bounds the grants shown per account on a person's page;
// the account's own page lists them all.
const accountGrants = 20

// gapLink is one kind of open gap among what a person owns, linking to the
// identities that have it.
type gapLink struct {
	Label string
	Class string
	URL   string
}

// personPage is the data of a person's page.
type personPage struct {
	pageBase
	Person       steward.Person
	Status       string
	Departed     timeText
	Created      timeText
	Team         string
	TeamURL      string
	TeamName     string // display name
	Manager      string
	ManagerURL   string
	Reports      []personRow
	MoreReports  bool
	ReportsURL   string
	Accounts     []accountRow
	MoreAccounts string
	OwnsTable    identityTable
	OwnsAllURL   string
	GapLinks     []gapLink
	HistoryURL   string // the person's events on the audit page
}

// person shows who a person is, the accounts they hold and the identities
// they own, with the gaps among them.
func (s *server) person(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, nil, http.StatusNotFound, "Person not found",
			"There is no person at “"+raw+"”. Find people by name on the People page.")
		return
	}
	ctx := r.Context()
	p, err := s.store.Person(ctx, id)
	if steward.IsCode(err, steward.ENOTFOUND) {
		s.renderError(w, r, nil, http.StatusNotFound, "Person not found",
			"There is no person "+raw+". Find people by name on the People page.")
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	pg := personPage{
		pageBase:   s.base(r, p.Name, "/people"),
		Person:     *p,
		Status:     string(p.Status),
		Departed:   s.timeText(p.DepartedAt, ""),
		Created:    s.timeText(&p.CreatedAt, "unknown"),
		HistoryURL: historyURL(steward.ObjectPerson, p.ID),
	}
	if err := s.fillPerson(ctx, r, p, &pg); err != nil {
		s.renderError(w, r, err, 0, "", "") // a bad page cursor is a 400
		return
	}
	s.render(w, r, http.StatusOK, "person", pg)
}

func (s *server) fillPerson(ctx context.Context, r *http.Request, p *steward.Person, pg *personPage) error {
	if p.TeamID != nil {
		t, err := s.store.Team(ctx, *p.TeamID)
		if err == nil {
			pg.Team, pg.TeamURL, pg.TeamName = t.Name, teamURL(t.Name), t.DisplayName
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return err
		}
	}
	if p.ManagerID != nil {
		m, err := s.store.Person(ctx, *p.ManagerID)
		if err == nil {
			pg.Manager, pg.ManagerURL = m.Name, personURL(m.ID)
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return err
		}
	}
	reports, err := s.store.People(ctx, steward.PersonFilter{ManagerID: p.ID, ListOptions: steward.ListOptions{Limit: directoryPerPage}})
	if err != nil {
		return err
	}
	teams, err := s.teamNames(ctx, reports.Items)
	if err != nil {
		return err
	}
	for i := range reports.Items {
		pg.Reports = append(pg.Reports, s.personRow(&reports.Items[i], teams))
	}
	pg.MoreReports = reports.Next != ""

	// A person's own accounts are the human identities they own: Steward
	// links a login to a person through its owner, which a directory or
	// identity provider names (the account is the person's own).
	vis, err := s.visibility(ctx)
	if err != nil {
		return err
	}
	accounts, err := s.store.Identities(ctx, steward.IdentityFilter{OwnerID: p.ID, Kind: steward.KindHuman, Visible: vis, ListOptions: steward.ListOptions{Limit: directoryPerPage}})
	if err != nil {
		return err
	}
	evidence := may(ctx, steward.PermEvidenceRead) // grants are evidence
	if accounts.Next != "" {
		pg.MoreAccounts = queryURL("/inventory", [][2]string{{"kind", string(steward.KindHuman)}, {"owner", personKey(p)}})
	}
	systems := map[int64]string{}
	for i := range accounts.Items {
		iv := &accounts.Items[i]
		systems[iv.SystemID] = iv.SystemName
		row := accountRow{identityItem: s.identityItem(iv, nil)}
		if !evidence {
			pg.Accounts = append(pg.Accounts, row)
			continue
		}
		grants, err := s.store.Grants(ctx, steward.GrantFilter{IdentityID: iv.ID, ListOptions: steward.ListOptions{Limit: accountGrants}})
		if err != nil {
			return err
		}
		for _, g := range grants.Items {
			row.Grants = append(row.Grants, s.grantRow(ctx, g, systems))
		}
		row.MoreGrants = grants.Next != ""
		pg.Accounts = append(pg.Accounts, row)
	}

	// What they own: every other identity whose owner they are. Their own
	// accounts are left out of this list, which may make a page shorter
	// by those few; paging goes on by cursor all the same.
	owns, err := s.listIdentities(ctx, r, steward.IdentityFilter{OwnerID: p.ID}, "owns_after",
		func(iv *steward.IdentityView) bool { return iv.Kind != steward.KindHuman })
	if err != nil {
		return err
	}
	pg.OwnsTable = identityTable{ID: "owns", Caption: "Owned identities", List: owns, Empty: "They own no non-human identity."}
	if owns.Later || owns.NextURL != "" {
		pg.OwnsTable.Empty = "Only their own accounts are on this page; the next may hold more."
	}
	pg.OwnsAllURL = queryURL("/inventory", [][2]string{{"owner", personKey(p)}})
	for _, g := range []steward.GapKind{steward.GapOwnerDeparted, steward.GapTeamInactive} {
		any, err := s.store.Identities(ctx, steward.IdentityFilter{OwnerID: p.ID, Gap: g, Visible: vis, ListOptions: steward.ListOptions{Limit: 1}})
		if err != nil {
			return err
		}
		if len(any.Items) > 0 {
			pg.GapLinks = append(pg.GapLinks, gapLink{Label: label(g), Class: gapClass(g),
				URL: queryURL("/inventory", [][2]string{{"owner", personKey(p)}, {"gap", string(g)}})})
		}
	}
	return nil
}

// grantRow builds a grant line; systems caches system names by id.
func (s *server) grantRow(ctx context.Context, g steward.GrantView, systems map[int64]string) grantRow {
	name, ok := systems[g.SystemID]
	if !ok {
		if sys, err := s.store.System(ctx, g.SystemID); err == nil {
			name = sys.Name
		} else {
			name = "system " + strconv.FormatInt(g.SystemID, 10)
		}
		systems[g.SystemID] = name
	}
	now := s.clock.Now()
	return grantRow{
		Entitlement: g.EntitlementName,
		System:      name,
		SystemURL:   systemURL(name),
		Type:        label(g.Type),
		Privileged:  g.Privileged,
		Granted:     s.timeText(&g.GrantedAt, "unknown"),
		Expires:     s.timeText(g.ExpiresAt, "no expiry"),
		Expired:     g.ExpiresAt != nil && !g.ExpiresAt.After(now),
		Via:         g.GrantedVia,
	}
}

// teamRow is one team in the teams list.
type teamRow struct {
	URL        string
	Name       string
	Display    string
	Manager    string
	ManagerURL string
}

// teamsPage is the data of the teams list.
type teamsPage struct {
	pageBase
	Q           string
	Error       string
	Rows        []teamRow
	Searched    bool
	FirstURL    string
	NextURL     string
	OnFirstPage bool
}

// teams lists teams, found by name; a search that names one team opens it.
func (s *server) teams(w http.ResponseWriter, r *http.Request) {
	q, after := strings.TrimSpace(r.URL.Query().Get("q")), strings.TrimSpace(r.URL.Query().Get("after"))
	link := func(after string) string { return queryURL("/teams", [][2]string{{"q", q}, {"after", after}}) }
	if canonical := link(after); r.URL.RawQuery != "" && r.URL.RequestURI() != canonical {
		http.Redirect(w, r, canonical, http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	p := teamsPage{pageBase: s.base(r, "Teams", "/teams"), Q: q, FirstURL: link(""), OnFirstPage: after == ""}
	page, err := s.store.Teams(ctx, steward.TeamFilter{Query: q, ListOptions: steward.ListOptions{After: after, Limit: directoryPerPage}})
	if steward.IsCode(err, steward.EINVALID) {
		p.Error = steward.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, "teams", p)
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	if q != "" && after == "" {
		for _, t := range page.Items {
			if strings.EqualFold(t.Name, q) || len(page.Items) == 1 && page.Next == "" {
				http.Redirect(w, r, teamURL(t.Name), http.StatusSeeOther)
				return
			}
		}
	}
	p.Searched = true
	for _, t := range page.Items {
		row := teamRow{URL: teamURL(t.Name), Name: t.Name, Display: t.DisplayName}
		if t.ManagerID != nil {
			if m, err := s.store.Person(ctx, *t.ManagerID); err == nil {
				row.Manager, row.ManagerURL = m.Name, personURL(m.ID)
			} else if !steward.IsCode(err, steward.ENOTFOUND) {
				s.renderError(w, r, err, 0, "", "")
				return
			}
		}
		p.Rows = append(p.Rows, row)
	}
	if page.Next != "" {
		p.NextURL = link(page.Next)
	}
	s.render(w, r, http.StatusOK, "teams", p)
}

// teamPage is the data of a team's page.
type teamPage struct {
	pageBase
	Team         steward.Team
	Created      timeText
	Manager      string
	ManagerURL   string
	ManagerGone  bool
	Members      []personRow
	MembersNext  string
	MembersFirst string
	MembersLater bool
	Active       bool // someone in the team is active
	Systems      []teamSystem
	OwnsTable    identityTable
	OwnsAllURL   string
	Gaps         []gapRow
	MoreGaps     bool
	GapsURL      string
	HistoryURL   string // the team's events on the audit page
}

// teamSystem is a system the team runs.
type teamSystem struct{ Name, URL, Kind string }

// team shows a team: who is in it, what it runs and owns, and its open
// ownership gaps, the oldest first as on the Ownership page.
func (s *server) team(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ctx := r.Context()
	t, err := s.findTeam(ctx, "team", name)
	if steward.IsCode(err, steward.EINVALID) {
		s.renderError(w, r, nil, http.StatusNotFound, "Team not found",
			"There is no team named “"+name+"”. Find teams by name on the Teams page.")
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	if t.Name != name {
		// A display name or another case: the page lives at the team's name.
		target := teamURL(t.Name)
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusSeeOther) // #nosec G710 -- a path of this site: /teams/ and a team's name from the store
		return
	}
	p := teamPage{pageBase: s.base(r, t.Name, "/teams"), Team: *t, Created: s.timeText(&t.CreatedAt, "unknown"),
		HistoryURL: historyURL(steward.ObjectTeam, t.ID)}
	if err := s.fillTeam(ctx, r, t, &p); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	s.render(w, r, http.StatusOK, "team", p)
}

func (s *server) fillTeam(ctx context.Context, r *http.Request, t *steward.Team, p *teamPage) error {
	if t.ManagerID != nil {
		m, err := s.store.Person(ctx, *t.ManagerID)
		if err == nil {
			p.Manager, p.ManagerURL, p.ManagerGone = m.Name, personURL(m.ID), m.Status == steward.PersonDeparted
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return err
		}
	}
	after := r.URL.Query().Get("members_after")
	members, err := s.store.People(ctx, steward.PersonFilter{TeamID: t.ID, ListOptions: steward.ListOptions{After: after, Limit: directoryPerPage}})
	if err != nil {
		return err
	}
	names := map[int64]string{t.ID: t.Name}
	for i := range members.Items {
		p.Members = append(p.Members, s.personRow(&members.Items[i], names))
	}
	self := teamURL(t.Name)
	p.MembersLater, p.MembersFirst = after != "", self+"#members"
	if members.Next != "" {
		p.MembersNext = self + "?members_after=" + url.QueryEscape(members.Next) + "#members"
	}
	active, err := s.store.People(ctx, steward.PersonFilter{TeamID: t.ID, Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil {
		return err
	}
	p.Active = len(active.Items) > 0

	systems, err := s.store.Systems(ctx, steward.SystemFilter{ListOptions: steward.ListOptions{Limit: listAll}})
	if err != nil {
		return err
	}
	for _, sys := range systems.Items {
		if sys.OwnerTeamID != nil && *sys.OwnerTeamID == t.ID {
			p.Systems = append(p.Systems, teamSystem{Name: sys.Name, URL: systemURL(sys.Name), Kind: label(sys.Kind)})
		}
	}

	owns, err := s.listIdentities(ctx, r, steward.IdentityFilter{TeamID: t.ID}, "owns_after", nil)
	if err != nil {
		return err
	}
	p.OwnsTable = identityTable{ID: "owns", Caption: "Identities of " + t.Name, List: owns, OwnerCol: true, Empty: "The team owns no identity."}
	p.OwnsAllURL = queryURL("/inventory", [][2]string{{"team", t.Name}})

	// The oldest open gaps, as the Ownership page lists them, with the
	// same one-click assign; the rest are one link away. Gaps are
	// evidence, for those who may read it.
	if !may(ctx, steward.PermEvidenceRead) {
		return nil
	}
	p.GapsURL = ownershipQuery{Team: t.Name}.URL("")
	gaps, err := s.store.Gaps(ctx, steward.GapFilter{TeamID: t.ID, ListOptions: steward.ListOptions{Limit: teamGaps}})
	if err != nil {
		return err
	}
	people := map[int64]*steward.Person{}
	for _, g := range gaps.Items {
		row, err := s.gapRow(ctx, g, self, people, names)
		if err != nil {
			return err
		}
		p.Gaps = append(p.Gaps, row)
	}
	p.MoreGaps = gaps.Next != ""
	return nil
}

// teamGaps is how many open gaps a team's page shows; the Ownership page
// filtered by the team lists them all.
const teamGaps = 10

// systemPage is the data of a system's page.
type systemPage struct {
	pageBase
	System       steward.System
	Kind         string
	Created      timeText
	Team         string
	TeamURL      string
	Sync         *systemSync
	InventoryURL string
	HistoryURL   string // the system's events (syncs, imports) on the audit page
}

// system shows what Steward knows of one system: what it is, who runs it,
// how fresh its inventory is, and links to its identities.
func (s *server) system(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ctx := r.Context()
	sys, err := s.findSystem(ctx, "system", name)
	if steward.IsCode(err, steward.EINVALID) {
		s.renderError(w, r, nil, http.StatusNotFound, "System not found",
			"There is no system named “"+name+"”. Find systems in the inventory's system filter.")
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p := systemPage{
		pageBase: s.base(r, sys.Name, "/inventory"), System: *sys, Kind: label(sys.Kind),
		Created:      s.timeText(&sys.CreatedAt, "unknown"),
		InventoryURL: queryURL("/inventory", [][2]string{{"system", sys.Name}}),
		HistoryURL:   historyURL(steward.ObjectSystem, sys.ID),
	}
	if sys.OwnerTeamID != nil {
		t, err := s.store.Team(ctx, *sys.OwnerTeamID)
		if err == nil {
			p.Team, p.TeamURL = t.Name, teamURL(t.Name)
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			s.renderError(w, r, err, 0, "", "")
			return
		}
	}
	if p.Sync, err = s.systemSync(ctx, sys); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	s.render(w, r, http.StatusOK, "system", p)
}
