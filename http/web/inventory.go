package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// inventoryQuery is the inventory page's state as the URL carries it. Values
// are kept as typed, so that a bad one is shown back in the form beside its
// error message.
type inventoryQuery struct {
	Q, Kind, Env, Status, System, Team, Owner, Gap, Limit, After string
}

func readInventoryQuery(v url.Values) inventoryQuery {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return inventoryQuery{
		Q: get("q"), Kind: get("kind"), Env: get("env"), Status: get("status"),
		System: get("system"), Team: get("team"), Owner: get("owner"), Gap: get("gap"),
		Limit: get("limit"), After: get("after"),
	}
}

// URL returns the inventory link for q on the page after cursor after ("" for
// the first page). Empty fields are left out so that links stay short, and
// the order is fixed so that the same view always has the same URL.
func (q inventoryQuery) URL(after string) string {
	return queryURL("/inventory", [][2]string{
		{"q", q.Q}, {"kind", q.Kind}, {"env", q.Env}, {"status", q.Status},
		{"system", q.System}, {"team", q.Team}, {"owner", q.Owner}, {"gap", q.Gap},
		{"limit", q.Limit}, {"after", after},
	})
}

// Filter converts q to a store filter, or returns EINVALID naming the first
// bad field in words a person can act on. The system, team and owner are
// names, which resolveNames turns into the filter's ids.
func (q inventoryQuery) Filter() (steward.IdentityFilter, error) {
	f := steward.IdentityFilter{
		Query:       q.Q,
		Kind:        steward.IdentityKind(q.Kind),
		Environment: steward.Environment(q.Env),
		Status:      steward.IdentityStatus(q.Status),
		Gap:         steward.GapKind(q.Gap),
		ListOptions: steward.ListOptions{After: q.After},
	}
	var err error
	if f.Limit, err = parseLimit(q.Limit); err != nil {
		return f, err
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	if _, _, err := f.ListOptions.Normalize(); err != nil {
		return f, err
	}
	return f, nil
}

// resolveNames sets f's system, team and owner from the names q has, and
// returns the system (nil for none). It returns EINVALID for a name that
// names nothing, or several people.
func (s *server) resolveNames(ctx context.Context, q inventoryQuery, f *steward.IdentityFilter) (*steward.System, error) {
	var sys *steward.System
	if q.System != "" {
		var err error
		if sys, err = s.findSystem(ctx, "System", q.System); err != nil {
			return nil, err
		}
		f.SystemID = sys.ID
	}
	if q.Team != "" {
		t, err := s.findTeam(ctx, "Team", q.Team)
		if err != nil {
			return nil, err
		}
		f.TeamID = t.ID
	}
	if q.Owner != "" {
		p, err := s.findPerson(ctx, "Owner", q.Owner)
		if err != nil {
			return nil, err
		}
		f.OwnerID = p.ID
	}
	return sys, nil
}

// identityRow is one line of the inventory table.
type identityRow struct {
	ID            int64
	URL           string
	Name          string
	ExternalID    string
	Kind          string
	System        string
	SystemURL     string
	Environment   string
	Owner         string
	OwnerURL      string
	Unowned       bool
	OwnerDeparted bool
	TeamInactive  bool // an open "team inactive" gap: no one in the team is active
	Team          string
	TeamURL       string
	Status        string
	LastUsed      timeText
}

// inventoryPage is the data of the inventory template.
type inventoryPage struct {
	pageBase
	Query        inventoryQuery
	Kinds        []option
	Environments []option
	Statuses     []option
	Gaps         []option
	Systems      []suggestion // every system, for the system field's list
	Error        string
	Rows         []identityRow
	Searched     bool        // the store was asked; false when the filter was bad
	Sync         *systemSync // how fresh the chosen system's inventory is
	FirstURL     string
	NextURL      string
	OnFirstPage  bool
	ClearURL     string
}

// inventory lists identities with the URL's filters, one keyset page at a
// time. A bad filter shows the form again with the reason and status 400.
func (s *server) inventory(w http.ResponseWriter, r *http.Request) {
	q := readInventoryQuery(r.URL.Query())
	// A GET form sends every field, empty or not. Redirect to the short
	// canonical URL so that the address bar shows a link worth sharing, and
	// the same view always has the same URL.
	if canonical := q.URL(q.After); r.URL.RawQuery != "" && r.URL.RequestURI() != canonical {
		http.Redirect(w, r, canonical, http.StatusSeeOther)
		return
	}
	p := inventoryPage{
		pageBase:     s.base(r, "Inventory", "/inventory"),
		Query:        q,
		Kinds:        enumOptions(steward.IdentityKinds, q.Kind),
		Environments: enumOptions(steward.Environments, q.Env),
		Statuses:     enumOptions(steward.IdentityStatuses, q.Status),
		Gaps:         enumOptions(steward.GapKinds, q.Gap),
		FirstURL:     q.URL(""),
		OnFirstPage:  q.After == "",
		ClearURL:     "/inventory",
	}
	var err error
	if p.Systems, err = s.systemChoices(r.Context()); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}

	status := http.StatusOK
	f, err := q.Filter()
	var sys *steward.System
	if err == nil {
		sys, err = s.resolveNames(r.Context(), q, &f)
	}
	if err == nil && sys != nil {
		p.Sync, err = s.systemSync(r.Context(), sys)
	}
	var page *steward.Page[steward.IdentityView]
	if err == nil {
		page, err = s.store.Identities(r.Context(), f)
	}
	if steward.IsCode(err, steward.EINVALID) {
		status, p.Error = http.StatusBadRequest, steward.ErrorMessage(err)
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	} else {
		// Whether the owning team is inactive is not on the identity; the
		// open gap tasks say it.
		inactive, err := s.pageGaps(r.Context(), f, steward.GapTeamInactive, page.Items)
		if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		p.Searched = true
		for _, iv := range page.Items {
			row := s.identityRow(q, iv)
			row.TeamInactive = inactive[iv.ID]
			p.Rows = append(p.Rows, row)
		}
		if page.Next != "" {
			p.NextURL = q.URL(page.Next)
		}
	}
	s.render(w, r, status, "inventory", p)
}

// pageGaps returns which of items, a page of the inventory under filter f,
// have an open ownership gap of kind g. The page holds the first identities
// after f's cursor, so the same filter narrowed to the gap and read from the
// same cursor finds, up to the page's last id, exactly the page's identities
// with the gap: usually in one query of at most a page.
func (s *server) pageGaps(ctx context.Context, f steward.IdentityFilter, g steward.GapKind, items []steward.IdentityView) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(items) == 0 {
		return out, nil
	}
	onPage := map[int64]bool{}
	for _, iv := range items {
		onPage[iv.ID] = true
		if f.Gap == g {
			out[iv.ID] = true
		}
	}
	if f.Gap == g {
		return out, nil
	}
	last := items[len(items)-1].ID
	// Narrowing to g replaces another gap filter, so the narrowed list may
	// hold identities that are not on the page; it is read until it passes
	// the page's last id.
	f.Gap = g
	for {
		page, err := s.store.Identities(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, iv := range page.Items {
			if iv.ID > last {
				return out, nil
			}
			if onPage[iv.ID] {
				out[iv.ID] = true
			}
		}
		if page.Next == "" {
			return out, nil
		}
		f.After = page.Next
	}
}

// identityRow builds a table line. The system, owner and team cells link to
// their pages, which say who or what they are and what else they own.
func (s *server) identityRow(q inventoryQuery, iv steward.IdentityView) identityRow {
	row := identityRow{
		ID:          iv.ID,
		URL:         "/identities/" + strconv.FormatInt(iv.ID, 10),
		Name:        iv.Name,
		ExternalID:  iv.ExternalID,
		Kind:        label(iv.Kind),
		System:      iv.SystemName,
		Environment: string(iv.Environment),
		Owner:       iv.OwnerName,
		Unowned:     iv.OwnerID == nil,
		Team:        iv.TeamName,
		Status:      string(iv.Status),
		LastUsed:    s.timeText(iv.LastUsedAt, "never"),
	}
	row.SystemURL = systemURL(iv.SystemName)
	if iv.OwnerID != nil {
		row.OwnerDeparted = iv.OwnerStatus == steward.PersonDeparted
		row.OwnerURL = personURL(*iv.OwnerID)
	}
	if iv.TeamName != "" {
		row.TeamURL = teamURL(iv.TeamName)
	}
	return row
}

// listAll bounds the systems sent with a page as the system field's
// choices: the store's page maximum. Beyond it the type-ahead still finds
// every system by name.
const listAll = steward.MaxLimit

// systemChoices lists every system for the system field's type-ahead
// list: systems are few enough (up to listAll) to send with the page.
func (s *server) systemChoices(ctx context.Context) ([]suggestion, error) {
	page, err := s.store.Systems(ctx, steward.SystemFilter{ListOptions: steward.ListOptions{Limit: listAll}})
	if err != nil {
		return nil, err
	}
	out := make([]suggestion, 0, len(page.Items))
	for _, sys := range page.Items {
		out = append(out, suggestion{Value: sys.Name, Label: label(sys.Kind)})
	}
	return out, nil
}

// systemSync is how fresh one system's inventory is: its last sync or
// import, and when that failed, its last success.
type systemSync struct {
	System      string
	SystemURL   string
	Never       bool // no run yet: its identities came through the API or a bulk load
	Last        timeText
	LastSource  string
	LastOutcome string // steward.SyncRun.Outcome
	Failed      bool
	Success     timeText // the last success, when the last run failed
	HasSuccess  bool
}

// systemSync reads the runs of one system.
func (s *server) systemSync(ctx context.Context, sys *steward.System) (*systemSync, error) {
	systemID := sys.ID
	out := &systemSync{System: sys.Name, SystemURL: systemURL(sys.Name)}
	last, err := s.store.SyncRuns(ctx, steward.SyncRunFilter{SystemID: systemID, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(last.Items) == 0 {
		out.Never = true
		return out, nil
	}
	run := last.Items[0]
	out.Last, out.LastSource, out.LastOutcome = s.timeText(&run.FinishedAt, ""), run.Source, run.Outcome()
	if out.Failed = run.Result == nil; out.Failed {
		ok, err := s.store.SyncRuns(ctx, steward.SyncRunFilter{SystemID: systemID, Failed: new(false), ListOptions: steward.ListOptions{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if out.HasSuccess = len(ok.Items) > 0; out.HasSuccess {
			out.Success = s.timeText(&ok.Items[0].FinishedAt, "")
		}
	}
	return out, nil
}
