package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// noTeam is the group key of identities without a team: no team name can
// start with a space.
const noTeam = " none"

// ownershipQuery is the ownership page's state as the URL carries it, kept
// as typed like the inventory's. Team is a team's name; NoTeam ("1") asks
// for the identities without a team instead.
type ownershipQuery struct {
	Gap, Team, NoTeam, Limit, After string
}

func readOwnershipQuery(v url.Values) ownershipQuery {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return ownershipQuery{Gap: get("gap"), Team: get("team"), NoTeam: get("noteam"), Limit: get("limit"), After: get("after")}
}

// URL returns the ownership link for q on the page after cursor after.
func (q ownershipQuery) URL(after string) string {
	return queryURL("/ownership", [][2]string{{"gap", q.Gap}, {"team", q.Team}, {"noteam", q.NoTeam}, {"limit", q.Limit}, {"after", after}})
}

// Filter converts q to a store filter, or returns EINVALID naming the first
// bad field. The team is a name, which the page resolves into the filter.
func (q ownershipQuery) Filter() (steward.GapFilter, error) {
	f := steward.GapFilter{Gap: steward.GapKind(q.Gap), ListOptions: steward.ListOptions{After: q.After}}
	var err error
	if f.Gap != "" {
		if err := f.Gap.Validate(); err != nil {
			return f, err
		}
	}
	switch {
	case q.NoTeam != "" && q.NoTeam != "1":
		return f, steward.Errorf(steward.EINVALID, "noteam must be 1 (identities without a team) or left out.")
	case q.NoTeam != "" && q.Team != "":
		return f, steward.Errorf(steward.EINVALID, "Choose a team or “without a team”, not both.")
	case q.NoTeam != "":
		f.TeamID = -1
	}
	if f.Limit, err = parseLimit(q.Limit); err != nil {
		return f, err
	}
	if _, _, err := f.ListOptions.Normalize(); err != nil {
		return f, err
	}
	return f, nil
}

// gapCount is one gap kind's total at the top of the page.
type gapCount struct {
	Label   string
	Count   int64
	URL     string
	Class   string
	Current bool
}

// gapRow is one open gap as the ownership page lists it.
type gapRow struct {
	TaskID      int64
	IdentityURL string
	Identity    string
	Kind        string
	System      string
	SystemURL   string
	Gap         string
	GapClass    string
	Owner       string
	OwnerURL    string
	Opened      timeText
	Due         timeText
	Overdue     bool
	Assign      *assignAction // nil when a person must choose
	ChooseURL   string
}

// assignAction is the one-click assign form of a gap row.
type assignAction struct {
	Action string
	Owner  string // the person's external id
	Team   string // the team's name
	Next   string
	Person string
	Label  string
}

// gapGroup is the gaps of one team on the page, in task order.
type gapGroup struct {
	Key     string // the team's name, or noTeam (a name no team can have)
	Team    string // "" for identities without a team
	TeamURL string // the team's page
	OnlyURL string // this page narrowed to the group's team
	Rows    []gapRow
}

// ownershipPage is the data of the ownership template.
type ownershipPage struct {
	pageBase
	Query       ownershipQuery
	Counts      []gapCount
	Gaps        []option
	Error       string
	Groups      []gapGroup
	Shown       int
	Searched    bool
	Filtered    bool
	FirstURL    string
	NextURL     string
	OnFirstPage bool
}

// ownership lists open ownership gaps, oldest first, grouped by the
// identity's team, each with what closes it: one click when Steward can
// suggest an owner, a link to choose one otherwise.
func (s *server) ownership(w http.ResponseWriter, r *http.Request) {
	q := readOwnershipQuery(r.URL.Query())
	if canonical := q.URL(q.After); r.URL.RawQuery != "" && r.URL.RequestURI() != canonical {
		http.Redirect(w, r, canonical, http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	p := ownershipPage{
		pageBase:    s.base(r, "Ownership", "/ownership"),
		Query:       q,
		Gaps:        enumOptions(steward.GapKinds, q.Gap),
		Filtered:    q.Gap != "" || q.Team != "" || q.NoTeam != "",
		FirstURL:    q.URL(""),
		OnFirstPage: q.After == "",
	}
	stats, err := s.store.InventoryStats(ctx)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	for _, g := range steward.GapKinds {
		p.Counts = append(p.Counts, gapCount{
			Label: label(g), Count: stats.Gaps[g], Class: gapClass(g),
			URL: ownershipQuery{Gap: string(g)}.URL(""), Current: q.Gap == string(g),
		})
	}
	page, err := s.gapPage(ctx, q)
	if steward.IsCode(err, steward.EINVALID) {
		p.Error = steward.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, "ownership", p)
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p.Searched = true
	p.Shown = len(page.Items)
	if page.Next != "" {
		p.NextURL = q.URL(page.Next)
	}
	if err := s.groupGaps(ctx, q, page.Items, &p); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	s.render(w, r, http.StatusOK, "ownership", p)
}

// gapPage reads the page of gaps q asks for, its team found by name.
// EINVALID for a bad filter or a team that does not exist.
func (s *server) gapPage(ctx context.Context, q ownershipQuery) (*steward.Page[steward.GapView], error) {
	f, err := q.Filter()
	if err != nil {
		return nil, err
	}
	if q.Team != "" {
		t, err := s.findTeam(ctx, "Team", q.Team)
		if err != nil {
			return nil, err
		}
		f.TeamID = t.ID
	}
	return s.store.Gaps(ctx, f)
}

// groupGaps puts the page's gaps into groups by team, in the order of each
// group's oldest gap on the page, so the most overdue work stays at the top.
func (s *server) groupGaps(ctx context.Context, q ownershipQuery, gaps []steward.GapView, p *ownershipPage) error {
	teamNames := map[int64]string{}
	people := map[int64]*steward.Person{}
	groups := map[string]int{}
	self := q.URL(q.After)
	for _, g := range gaps {
		row, err := s.gapRow(ctx, g, self, people, teamNames)
		if err != nil {
			return err
		}
		key, name := noTeam, ""
		if g.TeamID != nil {
			key, name = g.TeamName, g.TeamName
		}
		i, ok := groups[key]
		if !ok {
			i = len(p.Groups)
			groups[key] = i
			n := q
			n.Team, n.NoTeam = name, ""
			if name == "" {
				n.NoTeam = "1"
			}
			grp := gapGroup{Key: key, Team: name, OnlyURL: n.URL("")}
			if name != "" {
				grp.TeamURL = teamURL(name)
			}
			p.Groups = append(p.Groups, grp)
		}
		p.Groups[i].Rows = append(p.Groups[i].Rows, row)
	}
	return nil
}

// gapRow builds one line of the gap list; people and teamNames cache the
// suggested owners and team names the page has looked up.
func (s *server) gapRow(ctx context.Context, g steward.GapView, self string, people map[int64]*steward.Person, teamNames map[int64]string) (gapRow, error) {
	id := strconv.FormatInt(g.IdentityID, 10)
	now := s.clock.Now()
	row := gapRow{
		TaskID:      g.ID,
		IdentityURL: "/identities/" + id,
		Identity:    g.IdentityName,
		Kind:        label(g.IdentityKind),
		System:      g.SystemName,
		SystemURL:   systemURL(g.SystemName),
		Gap:         label(g.Gap),
		GapClass:    gapClass(g.Gap),
		Owner:       g.OwnerName,
		Opened:      s.timeText(&g.OpenedAt, "unknown"),
		Due:         s.timeText(&g.DueAt, "no due date"),
		Overdue:     !g.DueAt.IsZero() && g.DueAt.Before(now),
		ChooseURL:   "/identities/" + id + "#ownership",
	}
	if g.OwnerID != nil {
		row.OwnerURL = personURL(*g.OwnerID)
		if row.Owner == "" {
			row.Owner = "person " + strconv.FormatInt(*g.OwnerID, 10)
		}
	}
	if g.SuggestedOwnerID == nil {
		return row, nil
	}
	sid := *g.SuggestedOwnerID
	person, ok := people[sid]
	if !ok {
		var err error
		person, err = s.store.Person(ctx, sid)
		if steward.IsCode(err, steward.ENOTFOUND) {
			person = nil
		} else if err != nil {
			return row, err
		}
		people[sid] = person
	}
	// Offer one click only when it closes the gap: a departed suggestion
	// would open an "owner departed" gap instead.
	if person == nil || person.Status != steward.PersonActive {
		return row, nil
	}
	// The form names the person by their external id, which is unique,
	// and the team by its name: the fields a person fills in by hand.
	a := &assignAction{
		Action: "/identities/" + id + "/owner",
		Owner:  person.ExternalID,
		Next:   self,
		Person: person.Name,
		Label:  "Assign to " + person.Name,
	}
	team := g.TeamID
	if g.Gap == steward.GapTeamInactive {
		// A new owner alone leaves the team inactive. Moving the identity
		// to the suggested person's own team closes the gap, since that
		// team has at least one active member: them.
		if person.TeamID == nil || g.TeamID != nil && *person.TeamID == *g.TeamID {
			return row, nil
		}
		team = person.TeamID
		name, err := s.teamName(ctx, *team, teamNames)
		if err != nil {
			return row, err
		}
		if name == "" {
			return row, nil // the team is gone: a person chooses
		}
		a.Label += " (" + name + ")"
	}
	if team != nil {
		name, err := s.teamName(ctx, *team, teamNames)
		if err != nil {
			return row, err
		}
		a.Team = name
	}
	row.Assign = a
	return row, nil
}

// teamName returns the name of team id, "" if there is none, from cache or
// else the store.
func (s *server) teamName(ctx context.Context, id int64, cache map[int64]string) (string, error) {
	if name, ok := cache[id]; ok {
		return name, nil
	}
	t, err := s.store.Team(ctx, id)
	if steward.IsCode(err, steward.ENOTFOUND) {
		cache[id] = ""
		return "", nil
	} else if err != nil {
		return "", err
	}
	cache[id] = t.Name
	return t.Name, nil
}
