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
// bad field in words a person can act on.
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
	if f.SystemID, err = positiveID("system", q.System); err != nil {
		return f, err
	} else if f.TeamID, err = positiveID("team", q.Team); err != nil {
		return f, err
	} else if f.OwnerID, err = positiveID("owner id", q.Owner); err != nil {
		return f, err
	}
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

// positiveID parses an optional id field; "" means no filter.
func positiveID(field, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, steward.Errorf(steward.EINVALID, "%s %q must be a positive whole number (an id).", field, v)
	}
	return n, nil
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
	Systems      []option
	Teams        []option
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
	if p.Systems, err = s.systemOptions(r, q.System); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	teams, err := s.allTeams(r.Context())
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	p.Teams = teamOptions(teams, q.Team, option{Value: "", Label: "any"})
	if p.Sync, err = s.systemSync(r.Context(), q.System, p.Systems); err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}

	status := http.StatusOK
	f, err := q.Filter()
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
// the inventory narrowed to them, keeping the other filters, so that "what
// else does this person own?" is one click.
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
	narrow := func(set func(*inventoryQuery)) string {
		n := q
		set(&n)
		return n.URL("")
	}
	if row.System == "" {
		row.System = "system " + strconv.FormatInt(iv.SystemID, 10)
	}
	row.SystemURL = narrow(func(n *inventoryQuery) { n.System = strconv.FormatInt(iv.SystemID, 10) })
	if iv.OwnerID != nil {
		row.OwnerDeparted = iv.OwnerStatus == steward.PersonDeparted
		row.OwnerURL = narrow(func(n *inventoryQuery) { n.Owner = strconv.FormatInt(*iv.OwnerID, 10) })
		if row.Owner == "" {
			row.Owner = "person " + strconv.FormatInt(*iv.OwnerID, 10)
		}
	}
	if iv.TeamID != nil {
		row.TeamURL = narrow(func(n *inventoryQuery) { n.Team = strconv.FormatInt(*iv.TeamID, 10) })
		if row.Team == "" {
			row.Team = "team " + strconv.FormatInt(*iv.TeamID, 10)
		}
	}
	return row
}

// listAll bounds the choices of the system and team selects. It is the
// store's page maximum; an estate with more systems than this needs a
// search field instead of a select, which the ownership issue brings.
const listAll = steward.MaxLimit

func (s *server) systemOptions(r *http.Request, current string) ([]option, error) {
	page, err := s.store.Systems(r.Context(), steward.SystemFilter{ListOptions: steward.ListOptions{Limit: listAll}})
	if err != nil {
		return nil, err
	}
	opts := []option{{Value: "", Label: "any", Selected: current == ""}}
	found := current == ""
	for _, sys := range page.Items {
		v := strconv.FormatInt(sys.ID, 10)
		found = found || v == current
		opts = append(opts, option{Value: v, Label: sys.Name, Selected: v == current})
	}
	if !found {
		// Keep an id from a link selected even when it is not in the list,
		// so that the form shows what the page is filtered by.
		opts = append(opts, option{Value: current, Label: "system " + current, Selected: true})
	}
	return opts, nil
}

// systemSync is how fresh one system's inventory is: its last sync or
// import, and when that failed, its last success.
type systemSync struct {
	System      string
	Never       bool // no run yet: its identities came through the API or a bulk load
	Last        timeText
	LastSource  string
	LastOutcome string // steward.SyncRun.Outcome
	Failed      bool
	Success     timeText // the last success, when the last run failed
	HasSuccess  bool
}

// systemSync reads the runs of the system the inventory is filtered by (id,
// as the URL has it); nil when it is not filtered by one.
func (s *server) systemSync(ctx context.Context, id string, systems []option) (*systemSync, error) {
	systemID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || systemID <= 0 {
		return nil, nil // none chosen; a bad one is the filter's to report
	}
	out := &systemSync{System: "system " + id}
	for _, o := range systems {
		if o.Value == id {
			out.System = o.Label
		}
	}
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

// allTeams returns the teams for a select, up to listAll.
func (s *server) allTeams(ctx context.Context) ([]steward.Team, error) {
	page, err := s.store.Teams(ctx, steward.TeamFilter{ListOptions: steward.ListOptions{Limit: listAll}})
	if err != nil {
		return nil, err
	}
	return page.Items, nil
}

// teamOptions returns the choices of a team select: the fixed head choices
// (such as "any"), then every team, with current selected.
func teamOptions(teams []steward.Team, current string, head ...option) []option {
	opts := make([]option, 0, len(head)+len(teams)+1)
	found := false
	for _, o := range head {
		o.Selected = o.Value == current
		found = found || o.Selected
		opts = append(opts, o)
	}
	for _, t := range teams {
		v := strconv.FormatInt(t.ID, 10)
		found = found || v == current
		// The slug, as the table and the CLI show it, so that the filter
		// and the column read alike.
		opts = append(opts, option{Value: v, Label: t.Name, Selected: v == current})
	}
	if !found {
		// Keep an id from a link selected even when it is not in the list,
		// so that the form shows what the page is filtered by.
		opts = append(opts, option{Value: current, Label: "team " + current, Selected: true})
	}
	return opts
}
