package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// credentialTime is when an active credential was last rotated, or created
// if it never was; false when neither is known or the key is disabled (it
// waits to be removed, not rotated).
func credentialTime(c steward.Credential) (time.Time, bool) {
	switch {
	case c.Status == steward.CredentialDisabled:
		return time.Time{}, false
	case c.LastRotatedAt != nil:
		return *c.LastRotatedAt, true
	case c.CreatedAt != nil:
		return *c.CreatedAt, true
	}
	return time.Time{}, false
}

// checkCredentialAges requires every identity's OldestCredentialAt to be
// what its credentials say: the earliest of their last rotations (or
// creations), nil without a credential whose time is known. checkGaps calls
// it, so that every write the gap checks follow is checked for it too.
func checkCredentialAges(t *testing.T, s steward.Store, step string) {
	t.Helper()
	for _, x := range AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.IdentityView], error) {
		return s.Identities(ctx(), steward.IdentityFilter{ListOptions: o})
	}, steward.MaxLimit) {
		creds, err := s.Credentials(ctx(), x.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want *time.Time
		for _, c := range creds {
			if at, ok := credentialTime(c); ok && (want == nil || at.Before(*want)) {
				want = &at
			}
		}
		if (want == nil) != (x.OldestCredentialAt == nil) || want != nil && !want.Equal(*x.OldestCredentialAt) {
			t.Fatalf("after %s: identity %d (%s) has oldest_credential_at %v; its %d credentials say %v", step, x.ID, x.Name, deref(x.OldestCredentialAt), len(creds), deref(want))
		}
	}
}

// orderModel is an identity as the order test made it, with what its sort
// keys and filters read.
type orderModel struct {
	steward.IdentityView
	credAt *time.Time
}

// IdentityOrder is the conformance test of sorted identity lists, for a
// store's own tests to run again with its plans forced one way or another.
func IdentityOrder(t *testing.T, s steward.Store, clock *Clock) { testIdentityOrder(t, s, clock) }

// testIdentityOrder pages through the inventory in every sort, under many
// filters, at several page sizes, and requires the pages put together to
// equal the same identities filtered and sorted in Go, and the count to
// equal their number.
func testIdentityOrder(t *testing.T, s steward.Store, clock *Clock) {
	now := clock.Now()
	day := 24 * time.Hour
	sysA := MustSystem(t, s, func(x *steward.System) { x.Name = "order-a" })
	sysB := MustSystem(t, s, func(x *steward.System) { x.Name = "order-b" })
	team := MustTeam(t, s, nil)
	owner := MustPerson(t, s, func(p *steward.Person) { p.TeamID = &team.ID })
	// Names repeat, so that ties fall to the id; they are lower-case
	// letters and digits, which every collation orders alike.
	words := []string{"deploy", "backup", "etl", "ci", "billing", "deploy", "zeta"}
	var model []orderModel
	for i := range 40 {
		created := now.Add(-60*day - time.Duration(i%9)*30*day)
		x := MustIdentity(t, s, map[bool]int64{true: sysA.ID, false: sysB.ID}[i%3 != 0], func(x *steward.Identity) {
			x.Name = fmt.Sprintf("%s%d", words[i%len(words)], i%4)
			x.Kind = []steward.IdentityKind{steward.KindServiceAccount, steward.KindAPIKey}[i%2]
			x.CreatedAt = &created
			if i%7 == 3 {
				x.CreatedAt = nil // the source did not say: sorts after every known time
			}
			if i%4 != 0 {
				used := now.Add(-time.Duration(i%6) * 10 * day)
				x.LastUsedAt = &used
			}
			if i%5 != 0 {
				x.OwnerID, x.TeamID = &owner.ID, &team.ID
			}
			if i%8 == 5 {
				// Found by a search of the external id alone, in any case.
				x.ExternalID = fmt.Sprintf("arn:aws:iam::1:role/Runner-%d", i)
			}
		})
		m := orderModel{}
		m.Identity, m.SystemName = *x, "order-a"
		if x.SystemID == sysB.ID {
			m.SystemName = "order-b"
		}
		// None, one, or two credentials, one of them rotated since; some
		// share their time with another identity's.
		for k := range i % 3 {
			c := &steward.Credential{IdentityID: x.ID, Kind: steward.CredAccessKey, ExternalID: fmt.Sprint("key-", k),
				CreatedAt: ptrTime(created.Add(time.Duration(k) * day))}
			if k == 1 {
				rotated := now.Add(-time.Duration(i%7) * 40 * day)
				c.LastRotatedAt = &rotated
			}
			if err := s.CreateCredential(ctx(), c); err != nil {
				t.Fatal(err)
			}
			at, _ := credentialTime(*c)
			if m.credAt == nil || at.Before(*m.credAt) {
				m.credAt = &at
			}
		}
		model = append(model, m)
	}
	checkCredentialAges(t, s, "creating credentials")

	type filter struct {
		f     steward.IdentityFilter
		match func(m orderModel) bool
	}
	older := func(p *time.Time, days int) bool { return p != nil && p.Before(now.Add(-time.Duration(days)*day)) }
	has := func(q string) func(m orderModel) bool {
		return func(m orderModel) bool {
			return strings.Contains(strings.ToLower(m.Name), q) || strings.Contains(strings.ToLower(m.ExternalID), q)
		}
	}
	filters := map[string]filter{
		"everything":             {steward.IdentityFilter{}, func(orderModel) bool { return true }},
		"system":                 {steward.IdentityFilter{SystemID: sysA.ID}, func(m orderModel) bool { return m.SystemID == sysA.ID }},
		"team":                   {steward.IdentityFilter{TeamID: team.ID}, func(m orderModel) bool { return m.TeamID != nil }},
		"kind":                   {steward.IdentityFilter{Kind: steward.KindAPIKey}, func(m orderModel) bool { return m.Kind == steward.KindAPIKey }},
		"name":                   {steward.IdentityFilter{Name: "deploy1"}, func(m orderModel) bool { return m.Name == "deploy1" }},
		"short search":           {steward.IdentityFilter{Query: "ci"}, has("ci")},
		"search":                 {steward.IdentityFilter{Query: "DEPLOY"}, has("deploy")},
		"search, external id":    {steward.IdentityFilter{Query: "rUNNER"}, has("runner")},
		"search, name and id":    {steward.IdentityFilter{Query: "Y1ARN:"}, has("y1arn:")}, // no match spans the two
		"unowned":                {steward.IdentityFilter{Gap: steward.GapUnowned}, func(m orderModel) bool { return m.OwnerID == nil }},
		"credential older":       {steward.IdentityFilter{CredentialOlderThan: 100}, func(m orderModel) bool { return older(m.credAt, 100) }},
		"unused for":             {steward.IdentityFilter{UnusedFor: 25}, func(m orderModel) bool { return older(m.LastUsedAt, 25) }},
		"never used":             {steward.IdentityFilter{NeverUsed: true}, func(m orderModel) bool { return m.LastUsedAt == nil }},
		"system, old credential": {steward.IdentityFilter{SystemID: sysB.ID, CredentialOlderThan: 100}, func(m orderModel) bool { return m.SystemID == sysB.ID && older(m.credAt, 100) }},
		"kind, never used":       {steward.IdentityFilter{Kind: steward.KindServiceAccount, NeverUsed: true}, func(m orderModel) bool { return m.Kind == steward.KindServiceAccount && m.LastUsedAt == nil }},
		"search, unowned":        {steward.IdentityFilter{Query: "deploy", Gap: steward.GapUnowned}, func(m orderModel) bool { return has("deploy")(m) && m.OwnerID == nil }},
		"unused, old credential": {steward.IdentityFilter{UnusedFor: 5, CredentialOlderThan: 50}, func(m orderModel) bool { return older(m.LastUsedAt, 5) && older(m.credAt, 50) }},
		"nothing":                {steward.IdentityFilter{Name: "nobody"}, func(orderModel) bool { return false }},
	}
	// key returns m's value of a sort key, as a comparable string (times
	// as fixed-width numbers), and false when it is unknown.
	key := func(sort steward.IdentitySort, m orderModel) (string, bool) {
		at := func(p *time.Time) (string, bool) {
			if p == nil {
				return "", false
			}
			return fmt.Sprintf("%020d", p.UnixMicro()), true
		}
		switch sort.Key() {
		case steward.SortByName:
			return m.Name, true
		case steward.SortByCreated:
			return at(m.CreatedAt)
		case steward.SortByLastUsed:
			return at(m.LastUsedAt)
		case steward.SortByCredentialAge:
			return at(m.credAt)
		}
		return "", true
	}
	for _, sort := range append([]steward.IdentitySort{steward.SortByID}, steward.IdentitySorts...) {
		for name, fl := range filters {
			var want []int64
			var selected []orderModel
			for _, m := range model {
				if fl.match(m) {
					selected = append(selected, m)
				}
			}
			slices.SortFunc(selected, func(a, b orderModel) int {
				ka, okA := key(sort, a)
				kb, okB := key(sort, b)
				if okA != okB { // the unknown last, whatever the direction
					if okA {
						return -1
					}
					return 1
				}
				c := cmp.Or(strings.Compare(ka, kb), cmp.Compare(a.ID, b.ID))
				if sort.Desc() {
					c = -c
				}
				return c
			})
			for _, m := range selected {
				want = append(want, m.ID)
			}
			for _, limit := range []int{1, 3, steward.MaxLimit} {
				f := fl.f
				f.Sort = sort
				got := ids(AllPages(t, func(o steward.ListOptions) (*steward.Page[steward.IdentityView], error) {
					f.ListOptions = o
					return s.Identities(ctx(), f)
				}, limit), func(x steward.IdentityView) int64 { return x.ID })
				if !slices.Equal(got, want) {
					t.Errorf("sort %q, %s, pages of %d:\n got %v\nwant %v", sort, name, limit, got, want)
				}
			}
			if sort == steward.SortByID {
				n, err := s.CountIdentities(ctx(), fl.f)
				if err != nil {
					t.Fatal(err)
				} else if n.N != int64(len(want)) || n.Estimated {
					t.Errorf("%s: count %+v, want %d exactly", name, n, len(want))
				}
			}
		}
	}

	// A cursor belongs to its order: another order, or another direction,
	// refuses it rather than skipping rows.
	page, err := s.Identities(ctx(), steward.IdentityFilter{Sort: steward.SortByName, ListOptions: steward.ListOptions{Limit: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sort := range []steward.IdentitySort{steward.SortByNameDesc, steward.SortByCreated, steward.SortByID} {
		_, err := s.Identities(ctx(), steward.IdentityFilter{Sort: sort, ListOptions: steward.ListOptions{After: page.Next}})
		wantCode(t, err, steward.EINVALID)
	}
	_, err = s.Identities(ctx(), steward.IdentityFilter{Sort: "size"})
	wantCode(t, err, steward.EINVALID)
	for _, f := range []steward.IdentityFilter{{UnusedFor: 10, NeverUsed: true}, {CredentialOlderThan: -3}, {ExternalID: "ext-1"}} {
		_, err := s.Identities(ctx(), f)
		wantCode(t, err, steward.EINVALID)
		_, err = s.CountIdentities(ctx(), f)
		wantCode(t, err, steward.EINVALID)
	}
}

// testLookupsByName finds teams and people by what people call them.
func testLookupsByName(t *testing.T, s steward.Store, _ *Clock) {
	team := MustTeam(t, s, func(x *steward.Team) { x.Name = "payments" })
	ada := MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "ada", "Ada@Example.com" })
	if got, err := s.TeamByName(ctx(), "payments"); err != nil || got.ID != team.ID {
		t.Fatalf("team by name: %+v %v", got, err)
	}
	_, err := s.TeamByName(ctx(), "paymnts")
	wantCode(t, err, steward.ENOTFOUND)
	for _, key := range []string{"ada", "Ada@Example.com", "ada@example.com", "ADA"} {
		if got, err := s.PersonByKey(ctx(), key); err != nil || got.ID != ada.ID {
			t.Fatalf("person by %q: %+v %v", key, got, err)
		}
	}
	_, err = s.PersonByKey(ctx(), "grace@example.com")
	wantCode(t, err, steward.ENOTFOUND)
	// Two people share an address (a shared mailbox): it names neither,
	// but each is found by external id.
	MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "ops1", "ops@example.com" })
	ops2 := MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "ops2", "ops@example.com" })
	_, err = s.PersonByKey(ctx(), "ops@example.com")
	wantCode(t, err, steward.EINVALID)
	if got, err := s.PersonByKey(ctx(), "ops2"); err != nil || got.ID != ops2.ID {
		t.Fatalf("person by external id: %+v %v", got, err)
	}
	// One person's external id may be another's address: the external id
	// wins, being unique.
	other := MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "lin@example.com", "lin2@example.com" })
	MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "lin", "lin@example.com" })
	if got, err := s.PersonByKey(ctx(), "lin@example.com"); err != nil || got.ID != other.ID {
		t.Fatalf("an external id that is another's address: %+v %v", got, err)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
