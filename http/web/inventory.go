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
	// Sort is the order (steward.IdentitySort); CredOlder and Unused are
	// day counts; Never is "true" for never-used identities only.
	Sort, CredOlder, Unused, Never string
}

func readInventoryQuery(v url.Values) inventoryQuery {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return inventoryQuery{
		Q: get("q"), Kind: get("kind"), Env: get("env"), Status: get("status"),
		System: get("system"), Team: get("team"), Owner: get("owner"), Gap: get("gap"),
		Limit: get("limit"), After: get("after"),
		Sort: get("sort"), CredOlder: get("credential_older_than"), Unused: get("unused_for"), Never: get("never_used"),
	}
}

// URL returns the inventory link for q on the page after cursor after ("" for
// the first page). Empty fields are left out so that links stay short, and
// the order is fixed so that the same view always has the same URL.
func (q inventoryQuery) URL(after string) string { return q.at("/inventory", after) }

// CSVURL returns the link of the export of q's list: every page, in its
// order.
func (q inventoryQuery) CSVURL() string {
	q.Limit = ""
	return q.at("/inventory.csv", "")
}

// SortURL returns the first page of q in order sort.
func (q inventoryQuery) SortURL(sort steward.IdentitySort) string {
	q.Sort = string(sort)
	return q.URL("")
}

func (q inventoryQuery) at(path, after string) string {
	never := ""
	if q.Never == "true" || q.Never == "on" {
		never = "true" // a checkbox sends "on"
	}
	return queryURL(path, [][2]string{
		{"q", q.Q}, {"kind", q.Kind}, {"env", q.Env}, {"status", q.Status},
		{"system", q.System}, {"team", q.Team}, {"owner", q.Owner}, {"gap", q.Gap},
		{"credential_older_than", q.CredOlder}, {"unused_for", q.Unused}, {"never_used", never},
		{"sort", q.Sort}, {"limit", q.Limit}, {"after", after},
	})
}

// Filter converts q to a store filter, or returns EINVALID naming the first
// bad field in words a person can act on. The system, team and owner are
// names (an owner by e-mail address or external id) or ids.
func (q inventoryQuery) Filter(ctx context.Context, names steward.Names) (steward.IdentityFilter, error) {
	f := steward.IdentityFilter{
		Query:       q.Q,
		Kind:        steward.IdentityKind(q.Kind),
		Environment: steward.Environment(q.Env),
		Status:      steward.IdentityStatus(q.Status),
		Gap:         steward.GapKind(q.Gap),
		Sort:        steward.IdentitySort(q.Sort),
		NeverUsed:   q.Never == "true" || q.Never == "on",
		ListOptions: steward.ListOptions{After: q.After},
	}
	var err error
	if f.SystemID, err = ref(ctx, names, q.System, steward.FindSystem, func(s *steward.System) int64 { return s.ID }); err != nil {
		return f, err
	} else if f.TeamID, err = ref(ctx, names, q.Team, steward.FindTeam, func(t *steward.Team) int64 { return t.ID }); err != nil {
		return f, err
	} else if f.OwnerID, err = ref(ctx, names, q.Owner, steward.FindPerson, func(p *steward.Person) int64 { return p.ID }); err != nil {
		return f, err
	} else if f.CredentialOlderThan, err = days("credential age", q.CredOlder); err != nil {
		return f, err
	} else if f.UnusedFor, err = days("unused for", q.Unused); err != nil {
		return f, err
	}
	if f.Limit, err = parseLimit(q.Limit); err != nil {
		return f, err
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	if _, _, err := f.Position(); err != nil {
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

// ref finds what an optional name-or-id field names; "" means no filter,
// and a name that names nothing is the field's error.
func ref[T any](ctx context.Context, names steward.Names, v string, find func(context.Context, steward.Names, string) (*T, error), id func(*T) int64) (int64, error) {
	if v == "" {
		return 0, nil
	}
	x, err := find(ctx, names, v)
	if steward.IsCode(err, steward.ENOTFOUND) {
		return 0, steward.Errorf(steward.EINVALID, "%s", steward.ErrorMessage(err))
	} else if err != nil {
		return 0, err
	}
	return id(x), nil
}

// days parses an optional number of days; "" means no filter.
func days(field, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > steward.MaxDays {
		return 0, steward.Errorf(steward.EINVALID, "%s %q must be a whole number of days from 1 to %d.", field, v, steward.MaxDays)
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
	CredentialAge string   // "3 years 2 months"; "" without a credential of known age
	CredentialAt  timeText // when it was last rotated or created
	Stale         bool     // older than staleCredentialAge
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
	Total        string // "1,234" or "about 130,000"
	Estimated    bool
	CSVURL       string
	Orders       []option // the sort select
	OrderWords   string   // the caption's "ordered by …"
	SortLinks    map[string]sortLink
}

// sortLink is a sortable column's header: the link that sorts by it (or
// reverses the order when it is the one in force) and its aria-sort.
type sortLink struct {
	URL      string
	AriaSort string // "ascending", "descending" or "none"
	Arrow    string
}

// sortWords says each order in words, for the select and the caption.
var sortWords = []struct {
	sort  steward.IdentitySort
	words string
}{
	{steward.SortByID, "id (the order they were added)"},
	{steward.SortByName, "name, A to Z"},
	{steward.SortByNameDesc, "name, Z to A"},
	{steward.SortByCreated, "created, oldest first"},
	{steward.SortByCreatedDesc, "created, newest first"},
	{steward.SortByLastUsed, "last used, longest idle first"},
	{steward.SortByLastUsedDesc, "last used, most recent first"},
	{steward.SortByCredentialAge, "credential age, oldest first"},
	{steward.SortByCredentialAgeDesc, "credential age, newest first"},
}

// sortLinks are the headers of the sortable columns: a first click sorts
// A to Z or oldest first, a second reverses.
func sortLinks(q inventoryQuery) map[string]sortLink {
	out := map[string]sortLink{}
	for col, key := range map[string]steward.IdentitySort{"name": steward.SortByName, "last_used": steward.SortByLastUsed,
		"credential_age": steward.SortByCredentialAge} {
		cur := steward.IdentitySort(q.Sort)
		l := sortLink{URL: q.SortURL(key), AriaSort: "none"}
		switch cur {
		case key:
			l.URL, l.AriaSort, l.Arrow = q.SortURL(key.Reverse()), "ascending", "▲"
		case key.Reverse():
			l.AriaSort, l.Arrow = "descending", "▼"
		}
		out[col] = l
	}
	return out
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
		CSVURL:       q.CSVURL(),
		SortLinks:    sortLinks(q),
	}
	for _, o := range sortWords {
		p.Orders = append(p.Orders, option{Value: string(o.sort), Label: o.words, Selected: string(o.sort) == q.Sort})
		if string(o.sort) == q.Sort {
			p.OrderWords = o.words
		}
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

	status := http.StatusOK
	f, err := q.Filter(r.Context(), s.store)
	if f.SystemID != 0 {
		var serr error
		if p.Sync, serr = s.systemSync(r.Context(), strconv.FormatInt(f.SystemID, 10), p.Systems); serr != nil {
			s.renderError(w, r, serr, 0, "", "")
			return
		}
	}
	var page *steward.Page[steward.IdentityView]
	var total *steward.Count
	if err == nil {
		page, err = s.store.Identities(r.Context(), f)
	}
	if err == nil {
		total, err = s.store.CountIdentities(r.Context(), f)
	}
	if steward.IsCode(err, steward.EINVALID) {
		status, p.Error = http.StatusBadRequest, steward.ErrorMessage(err)
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	} else {
		// Whether the owning team is inactive is not on the identity; the
		// open gap tasks say it.
		inactive, err := s.teamInactive(r.Context(), f, page.Items)
		if err != nil {
			s.renderError(w, r, err, 0, "", "")
			return
		}
		p.Searched = true
		p.Total, p.Estimated = steward.GroupThousands(total.N), total.Estimated
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

// teamInactive returns which of items, a page of the inventory under f,
// have an open team_inactive gap. A page in id order asks the gap list
// alongside (pageGaps); a sorted one asks for each identity, in one index
// seek each.
func (s *server) teamInactive(ctx context.Context, f steward.IdentityFilter, items []steward.IdentityView) (map[int64]bool, error) {
	if f.Sort == steward.SortByID {
		return s.pageGaps(ctx, f, steward.GapTeamInactive, items)
	}
	out := map[int64]bool{}
	for _, iv := range items {
		if iv.TeamID == nil {
			continue
		}
		page, err := s.store.Identities(ctx, steward.IdentityFilter{Gap: steward.GapTeamInactive, ListOptions: steward.ListOptions{After: steward.Cursor(iv.ID - 1), Limit: 1}})
		if err != nil {
			return nil, err
		}
		out[iv.ID] = len(page.Items) == 1 && page.Items[0].ID == iv.ID
	}
	return out, nil
}

// exportCSV streams the inventory's filtered list, every page in its
// order, as CSV (steward.ExportIdentities). A bad filter shows the
// inventory page with its reason instead.
func (s *server) exportCSV(w http.ResponseWriter, r *http.Request) {
	q := readInventoryQuery(r.URL.Query())
	f, err := q.Filter(r.Context(), s.store)
	if err == nil {
		out := &lazyCSV{w: w}
		var n int
		n, err = steward.ExportIdentities(r.Context(), s.store.Identities, f, out, func() { _ = http.NewResponseController(w).Flush() })
		if err != nil && out.started {
			s.logger.ErrorContext(r.Context(), "inventory export failed midway", "rows", n, "error", err)
			panic(http.ErrAbortHandler) // a broken download, not a short file
		}
	}
	if steward.IsCode(err, steward.EINVALID) {
		http.Redirect(w, r, q.URL(""), http.StatusSeeOther) // the page says what is wrong
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
	}
}

// lazyCSV sets the CSV headers at the first write, so that an export that
// fails before any row can still show an error page.
type lazyCSV struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyCSV) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		h := l.w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="identities.csv"`)
		h.Set("X-Content-Type-Options", "nosniff")
	}
	return l.w.Write(p)
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
	if iv.OldestCredentialAt != nil {
		age := s.clock.Now().Sub(*iv.OldestCredentialAt)
		row.CredentialAge, row.CredentialAt, row.Stale = steward.HumanAge(*iv.OldestCredentialAt, s.clock.Now()), s.timeText(iv.OldestCredentialAt, ""), age > staleCredentialAge
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
		sel := v == current || sys.Name == current // a link may name it
		found = found || sel
		opts = append(opts, option{Value: v, Label: sys.Name, Selected: sel})
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
		sel := v == current || t.Name == current // a link may name it
		found = found || sel
		// The slug, as the table and the CLI show it, so that the filter
		// and the column read alike.
		opts = append(opts, option{Value: v, Label: t.Name, Selected: sel})
	}
	if !found {
		// Keep an id from a link selected even when it is not in the list,
		// so that the form shows what the page is filtered by.
		opts = append(opts, option{Value: current, Label: "team " + current, Selected: true})
	}
	return opts
}
