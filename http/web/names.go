package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
)

// People work by names: every field that picks a person, a team or a system
// takes what a person knows (an email, an external id, a name, a team or system
// name) and the page resolves it here. A number in such a field is a name
// like any other; ids appear only in links.

// personKey is what a form or URL names a person by: the email people know
// them by, or the external id (their id in the directory) when there is no email.
func personKey(p *steward.Person) string {
	if p.Email != "" {
		return p.Email
	}
	return p.ExternalID
}

// personLabel is how a picker describes a person beside their key.
func personLabel(p *steward.Person, teams map[int64]string) string {
	l := p.Name
	if p.TeamID != nil {
		if name := teams[*p.TeamID]; name != "" {
			l += " · " + name
		}
	}
	if p.Status == steward.PersonDeparted {
		l += " · departed"
	}
	return l
}

// maxNameScan bounds how many people a resolution reads: the store's
// search is a substring match, so a short name can match many. Past it the
// page asks for a more precise name instead of reading on.
const maxNameScan = 20 * steward.MaxLimit

// findPerson resolves what a person typed in field (an email, an external
// id or a full name, any case) to the one person it names. It returns
// EINVALID, in words that say what to type instead, when v names nobody or
// several people.
//
// An email or external id, what the pickers fill in, is the store's own
// lookup by key (steward.Names.PersonByKey), as the API and the CLI find
// people. Unlike steward.FindPerson a number is not taken for an id: in a
// form it is a name like any other. A full name, and an email several
// people share, are found by reading the people whose text matches, so
// that a name two people share is refused with both listed.
func (s *server) findPerson(ctx context.Context, field, v string) (*steward.Person, error) {
	v = strings.TrimSpace(v)
	if p, err := s.store.PersonByKey(ctx, v); err == nil {
		return p, nil
	} else if !steward.IsCode(err, steward.ENOTFOUND) && !steward.IsCode(err, steward.EINVALID) {
		return nil, err
	}
	key := steward.NormalizeOwnerKey(v)
	var byExt, byEmail, byName []steward.Person
	f := steward.PersonFilter{Query: v, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	for read := 0; ; {
		page, err := s.store.People(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			switch {
			case steward.NormalizeOwnerKey(p.ExternalID) == key:
				byExt = append(byExt, p)
			case p.Email != "" && steward.NormalizeOwnerKey(p.Email) == key:
				byEmail = append(byEmail, p)
			case strings.EqualFold(strings.TrimSpace(p.Name), v):
				byName = append(byName, p)
			}
		}
		read += len(page.Items)
		if page.Next == "" {
			break
		}
		if read >= maxNameScan {
			if len(byExt)+len(byEmail)+len(byName) == 0 {
				return nil, steward.Errorf(steward.EINVALID, "%s “%s” matches too many people to read; type their email or full name.", field, v)
			}
			break
		}
		f.After = page.Next
	}
	// External ids are unique; an email or a name may be shared.
	for _, found := range [][]steward.Person{byExt, byEmail, byName} {
		switch len(found) {
		case 0:
			continue
		case 1:
			return &found[0], nil
		}
		var alts []string
		for _, p := range found[:min(len(found), 5)] {
			alts = append(alts, p.Name+" ("+p.ExternalID+")")
		}
		return nil, steward.Errorf(steward.EINVALID, "%s “%s” names %d people: %s. Type the external id of the one you mean.", field, v, len(found), strings.Join(alts, ", "))
	}
	return nil, steward.Errorf(steward.EINVALID, "%s: no person has the email, external id or name “%s”. Type part of a name and choose from the list.", field, v)
}

// findTeam resolves a team name (any case) to its team, or returns EINVALID
// naming the field. The name as typed is the store's lookup
// (steward.Names.TeamByName); another case, or a display name, is found by
// reading the teams whose text matches. A number is a name, not an id.
func (s *server) findTeam(ctx context.Context, field, v string) (*steward.Team, error) {
	v = strings.TrimSpace(v)
	if t, err := s.store.TeamByName(ctx, v); err == nil {
		return t, nil
	} else if !steward.IsCode(err, steward.ENOTFOUND) {
		return nil, err
	}
	f := steward.TeamFilter{Query: v, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	var byDisplay []steward.Team
	for {
		page, err := s.store.Teams(ctx, f)
		if steward.IsCode(err, steward.EINVALID) {
			return nil, steward.Errorf(steward.EINVALID, "%s: %s", field, steward.ErrorMessage(err))
		} else if err != nil {
			return nil, err
		}
		for i := range page.Items {
			if strings.EqualFold(page.Items[i].Name, v) {
				return &page.Items[i], nil
			}
			if strings.EqualFold(page.Items[i].DisplayName, v) {
				byDisplay = append(byDisplay, page.Items[i])
			}
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	// Team names are unique slugs; a display name ("Payments Platform") may
	// be what a person remembers, and is taken when it names one team.
	if len(byDisplay) == 1 {
		return &byDisplay[0], nil
	}
	return nil, steward.Errorf(steward.EINVALID, "%s: no team is named “%s”. Type part of its name and choose from the list.", field, v)
}

// findSystem resolves a system name (any case: names are lower-case slugs)
// to its system, or returns EINVALID naming the field. A number is a name,
// not an id.
func (s *server) findSystem(ctx context.Context, field, v string) (*steward.System, error) {
	v = strings.TrimSpace(v)
	sys, err := s.store.SystemByName(ctx, strings.ToLower(v))
	if steward.IsCode(err, steward.ENOTFOUND) {
		return nil, steward.Errorf(steward.EINVALID, "%s: no system is named “%s”. Type part of its name and choose from the list.", field, v)
	}
	return sys, err
}

// suggestion is one choice of a type-ahead list: the value the field takes
// and words that say who or what it is.
type suggestion struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// maxSuggestions is how many choices a type-ahead list shows: enough to
// find someone by a first name, few enough to read.
const maxSuggestions = 12

// suggestRead is how many matches the store is asked for before ranking:
// the store returns matches in id order, and the best (a name that starts
// with what was typed) may come late.
const suggestRead = 200

// suggest answers a picker's type-ahead: GET /suggest?what=person|owner|team|system|identity|entitlement&q=…
// returns the best few matches as JSON. It is read by picker.js; without
// JavaScript the fields still take a typed name.
func (s *server) suggest(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	what := r.URL.Query().Get("what")
	var out []suggestion
	var err error
	switch what {
	case "person", "owner":
		out, err = s.suggestPeople(r.Context(), q, what == "owner")
	case "team":
		out, err = s.suggestTeams(r.Context(), q)
	case "system":
		out, err = s.suggestSystems(r.Context(), q)
	case "identity":
		out, err = s.suggestIdentities(r.Context(), q)
	case "entitlement":
		out, err = s.suggestEntitlements(r.Context(), q)
	default:
		err = steward.Errorf(steward.EINVALID, "what must be person, owner, team, system, identity or entitlement.")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		status := errorStatus(err)
		if status >= 500 {
			s.logError(r, err)
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": steward.ErrorCode(err), "message": steward.ErrorMessage(err)}}) // #nosec G104 -- the status is sent; a failed write means the client has gone
		return
	}
	if out == nil {
		out = []suggestion{}
	}
	json.NewEncoder(w).Encode(out) // #nosec G104 -- a failed write means the client has gone; nothing to undo
}

// rank orders matches for a type-ahead: a value that starts with what was
// typed first, then one with a word that does, then the rest; ties by
// label.
func rank[T any](items []T, q string, texts func(T) []string, label func(T) string) []T {
	q = strings.ToLower(q)
	score := func(it T) int {
		best := 3
		for _, t := range texts(it) {
			t = strings.ToLower(t)
			switch {
			case strings.HasPrefix(t, q):
				return 0
			case strings.Contains(t, " "+q), strings.Contains(t, "."+q), strings.Contains(t, "-"+q), strings.Contains(t, "@"+q):
				best = min(best, 1)
			}
		}
		return best
	}
	slices.SortStableFunc(items, func(a, b T) int {
		return cmp.Or(cmp.Compare(score(a), score(b)), strings.Compare(label(a), label(b)))
	})
	return items
}

// suggestPeople lists people matching q. For an owner picker, active people
// come first: a departed owner opens a gap instead of closing one.
func (s *server) suggestPeople(ctx context.Context, q string, owner bool) ([]suggestion, error) {
	if q == "" {
		return nil, nil
	}
	page, err := s.store.People(ctx, steward.PersonFilter{Query: q, ListOptions: steward.ListOptions{Limit: suggestRead}})
	if err != nil {
		return nil, err
	}
	people := rank(page.Items, q, func(p steward.Person) []string { return []string{p.Name, p.Email, p.ExternalID} },
		func(p steward.Person) string { return p.Name })
	if owner {
		slices.SortStableFunc(people, func(a, b steward.Person) int {
			return cmp.Compare(boolInt(a.Status != steward.PersonActive), boolInt(b.Status != steward.PersonActive))
		})
	}
	teams, err := s.teamNames(ctx, people)
	if err != nil {
		return nil, err
	}
	var out []suggestion
	for i := range people[:min(len(people), maxSuggestions)] {
		out = append(out, suggestion{Value: personKey(&people[i]), Label: personLabel(&people[i], teams)})
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// teamNames returns the names of the teams of people, by id.
func (s *server) teamNames(ctx context.Context, people []steward.Person) (map[int64]string, error) {
	out := map[int64]string{}
	for _, p := range people {
		if p.TeamID == nil {
			continue
		}
		if _, ok := out[*p.TeamID]; ok {
			continue
		}
		t, err := s.store.Team(ctx, *p.TeamID)
		if steward.IsCode(err, steward.ENOTFOUND) {
			out[*p.TeamID] = ""
			continue
		} else if err != nil {
			return nil, err
		}
		out[t.ID] = t.Name
	}
	return out, nil
}

func (s *server) suggestTeams(ctx context.Context, q string) ([]suggestion, error) {
	if q == "" {
		return nil, nil
	}
	page, err := s.store.Teams(ctx, steward.TeamFilter{Query: q, ListOptions: steward.ListOptions{Limit: suggestRead}})
	if err != nil {
		return nil, err
	}
	teams := rank(page.Items, q, func(t steward.Team) []string { return []string{t.Name, t.DisplayName} },
		func(t steward.Team) string { return t.Name })
	var out []suggestion
	for _, t := range teams[:min(len(teams), maxSuggestions)] {
		out = append(out, suggestion{Value: t.Name, Label: t.DisplayName})
	}
	return out, nil
}

func (s *server) suggestSystems(ctx context.Context, q string) ([]suggestion, error) {
	if q == "" {
		return nil, nil
	}
	page, err := s.store.Systems(ctx, steward.SystemFilter{Query: q, ListOptions: steward.ListOptions{Limit: suggestRead}})
	if err != nil {
		return nil, err
	}
	systems := rank(page.Items, q, func(x steward.System) []string { return []string{x.Name} },
		func(x steward.System) string { return x.Name })
	var out []suggestion
	for _, x := range systems[:min(len(systems), maxSuggestions)] {
		out = append(out, suggestion{Value: x.Name, Label: label(x.Kind)})
	}
	return out, nil
}

// suggestIdentities lists the identities named like q that the signed-in
// principal may see (the request form's identity field), each labelled with
// its system, which a name on several systems needs.
func (s *server) suggestIdentities(ctx context.Context, q string) ([]suggestion, error) {
	if q == "" {
		return nil, nil
	}
	vis, err := s.visibility(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.store.Identities(ctx, steward.IdentityFilter{Query: q, Visible: vis, ListOptions: steward.ListOptions{Limit: suggestRead}})
	if err != nil {
		return nil, err
	}
	ids := rank(page.Items, q, func(x steward.IdentityView) []string { return []string{x.Name} },
		func(x steward.IdentityView) string { return x.Name + " " + x.SystemName })
	var out []suggestion
	for _, x := range ids[:min(len(ids), maxSuggestions)] {
		out = append(out, suggestion{Value: x.Name, Label: x.SystemName + " · " + label(x.Kind)})
	}
	return out, nil
}

// suggestEntitlements lists the entitlements named like q (the request
// form's entitlement field), each labelled with its system.
func (s *server) suggestEntitlements(ctx context.Context, q string) ([]suggestion, error) {
	if q == "" {
		return nil, nil
	}
	page, err := s.store.Entitlements(ctx, steward.EntitlementFilter{Query: q, ListOptions: steward.ListOptions{Limit: suggestRead}})
	if err != nil {
		return nil, err
	}
	ents := rank(page.Items, q, func(e steward.Entitlement) []string { return []string{e.Name} },
		func(e steward.Entitlement) string { return e.Name })
	systems := map[int64]string{}
	var out []suggestion
	for _, e := range ents[:min(len(ents), maxSuggestions)] {
		name, ok := systems[e.SystemID]
		if !ok {
			sys, err := s.store.System(ctx, e.SystemID)
			if err != nil && !steward.IsCode(err, steward.ENOTFOUND) {
				return nil, err
			}
			if sys != nil {
				name = sys.Name
			}
			systems[e.SystemID] = name
		}
		l := name
		if e.Privileged {
			l += " · privileged"
		}
		out = append(out, suggestion{Value: e.Name, Label: l})
	}
	return out, nil
}
