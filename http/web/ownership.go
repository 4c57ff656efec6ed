package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// noTeam is the team filter value that selects identities without a team.
const noTeam = "none"

// ownershipQuery is the ownership page's state as the URL carries it, kept
// as typed like the inventory's.
type ownershipQuery struct {
	Gap, Team, Limit, After string
}

func readOwnershipQuery(v url.Values) ownershipQuery {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return ownershipQuery{Gap: get("gap"), Team: get("team"), Limit: get("limit"), After: get("after")}
}

// URL returns the ownership link for q on the page after cursor after.
func (q ownershipQuery) URL(after string) string {
	return queryURL("/ownership", [][2]string{{"gap", q.Gap}, {"team", q.Team}, {"limit", q.Limit}, {"after", after}})
}

// Filter converts q to a store filter, or returns EINVALID naming the first
// bad field.
func (q ownershipQuery) Filter() (steward.GapFilter, error) {
	f := steward.GapFilter{Gap: steward.GapKind(q.Gap), ListOptions: steward.ListOptions{After: q.After}}
	var err error
	if f.Gap != "" {
		if err := f.Gap.Validate(); err != nil {
			return f, err
		}
	}
	if q.Team == noTeam {
		f.TeamID = -1
	} else if f.TeamID, err = positiveID("team", q.Team); err != nil {
		return f, err
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
	Action  string
	OwnerID string
	TeamID  string
	Next    string
	Person  string
	Label   string
}

// gapGroup is the gaps of one team on the page, in task order.
type gapGroup struct {
	Key     string // the team id, or noTeam
	Team    string // "" for identities without a team
	TeamURL string
	Rows    []gapRow
}

// ownershipPage is the data of the ownership template.
type ownershipPage struct {
	pageBase
	Query       ownershipQuery
	Counts      []gapCount
	Gaps        []option
	Teams       []option
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
		Filtered:    q.Gap != "" || q.Team != "",
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
	teams, err := s.allTeams(ctx)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p.Teams = teamOptions(teams, q.Team, option{Value: "", Label: "any"}, option{Value: noTeam, Label: "no team"})
	teamNames := make(map[int64]string, len(teams))
	for _, t := range teams {
		teamNames[t.ID] = t.Name
	}

	status := http.StatusOK
	f, err := q.Filter()
	var page *steward.Page[steward.GapView]
	if err == nil {
		page, err = s.store.Gaps(ctx, f)
	}
	if steward.IsCode(err, steward.EINVALID) {
		status, p.Error = http.StatusBadRequest, steward.ErrorMessage(err)
		s.render(w, r, status, "ownership", p)
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
	people := map[int64]*steward.Person{}
	groups := map[string]int{}
	self := q.URL(q.After)
	for _, g := range page.Items {
		row, err := s.gapRow(ctx, g, self, people, teamNames)
		if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		key, name := noTeam, ""
		if g.TeamID != nil {
			key, name = strconv.FormatInt(*g.TeamID, 10), g.TeamName
			if name == "" {
				name = "team " + key
			}
		}
		i, ok := groups[key]
		if !ok {
			// Groups come in the order of their oldest gap on the page, so
			// the most overdue work stays at the top.
			i = len(p.Groups)
			groups[key] = i
			n := q
			n.Team = key
			p.Groups = append(p.Groups, gapGroup{Key: key, Team: name, TeamURL: n.URL("")})
		}
		p.Groups[i].Rows = append(p.Groups[i].Rows, row)
	}
	s.render(w, r, status, "ownership", p)
}

// gapRow builds one line of the gap list; people caches the suggested
// owners the page has looked up.
func (s *server) gapRow(ctx context.Context, g steward.GapView, self string, people map[int64]*steward.Person, teamNames map[int64]string) (gapRow, error) {
	id := strconv.FormatInt(g.IdentityID, 10)
	now := s.clock.Now()
	row := gapRow{
		TaskID:      g.ID,
		IdentityURL: "/identities/" + id,
		Identity:    g.IdentityName,
		Kind:        label(g.IdentityKind),
		System:      g.SystemName,
		Gap:         label(g.Gap),
		GapClass:    gapClass(g.Gap),
		Owner:       g.OwnerName,
		Opened:      s.timeText(&g.OpenedAt, "unknown"),
		Due:         s.timeText(&g.DueAt, "no due date"),
		Overdue:     !g.DueAt.IsZero() && g.DueAt.Before(now),
		ChooseURL:   "/identities/" + id + "#ownership",
	}
	if g.OwnerID != nil {
		row.OwnerURL = "/inventory?owner=" + strconv.FormatInt(*g.OwnerID, 10)
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
	a := &assignAction{
		Action:  "/identities/" + id + "/owner",
		OwnerID: strconv.FormatInt(sid, 10),
		Next:    self,
		Person:  person.Name,
		Label:   "Assign to " + person.Name,
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
		name := teamNames[*team]
		if name == "" {
			name = "team " + strconv.FormatInt(*team, 10)
		}
		a.Label += " (" + name + ")"
	}
	if team != nil {
		a.TeamID = strconv.FormatInt(*team, 10)
	}
	row.Assign = a
	return row, nil
}
