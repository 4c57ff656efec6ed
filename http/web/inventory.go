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
// names, which resolveNames turns into the filter's ids.
func (q inventoryQuery) Filter() (steward.IdentityFilter, error) {
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
	if f.CredentialOlderThan, err = days("credential age", q.CredOlder); err != nil {
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
	Systems      []suggestion // every system, for the system field's list
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
	if err == nil {
		f.Visible, err = s.visibility(r.Context())
	}
	if err == nil && sys != nil {
		p.Sync, err = s.systemSync(r.Context(), sys)
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
	f, err := q.Filter()
	if err == nil {
		_, err = s.resolveNames(r.Context(), q, &f)
	}
	if err == nil {
		f.Visible, err = s.visibility(r.Context())
	}
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
	if iv.OldestCredentialAt != nil {
		age := s.clock.Now().Sub(*iv.OldestCredentialAt)
		row.CredentialAge, row.CredentialAt, row.Stale = steward.HumanAge(*iv.OldestCredentialAt, s.clock.Now()), s.timeText(iv.OldestCredentialAt, ""), age > staleCredentialAge
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
	if !may(ctx, steward.PermEvidenceRead) {
		return nil, nil // sync runs are evidence: nothing to show this principal
	}
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
