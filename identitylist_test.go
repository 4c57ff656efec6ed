package steward_test

import (
	"context"
	"testing"

	"github.com/stewardhq/steward"
)

func TestRoundEstimate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, atLeast, want int64 }{
		{50, 0, 50},
		{123456, 10001, 120000},
		{125000, 10001, 130000},
		{9000, 10001, 11000},  // the sample says less than was counted: never below the count
		{10001, 10001, 11000}, // rounding down would go below what was counted
		{987654321, 10001, 990000000},
	} {
		if got := steward.RoundEstimate(tc.n, tc.atLeast); got != tc.want {
			t.Errorf("RoundEstimate(%d, %d) = %d, want %d", tc.n, tc.atLeast, got, tc.want)
		}
	}
}

func TestIdentitySort(t *testing.T) {
	t.Parallel()
	for _, s := range steward.IdentitySorts {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s, err)
		}
		if s.Reverse().Reverse() != s || s.Reverse().Key() != s.Key() || s.Reverse().Desc() == s.Desc() {
			t.Errorf("%s: reverse %s", s, s.Reverse())
		}
	}
	if err := steward.IdentitySort("size").Validate(); !steward.IsCode(err, steward.EINVALID) {
		t.Errorf("unknown sort: %v", err)
	}
}

func TestSortCursor(t *testing.T) {
	t.Parallel()
	for _, c := range []steward.SortCursor{
		{Sort: steward.SortByName, Key: "a:b:c", ID: 7},
		{Sort: steward.SortByCreatedDesc, Unknown: true, ID: 99},
		{Sort: steward.SortByCredentialAge, Key: "-1234", ID: 1},
	} {
		got, err := steward.DecodeSortCursor(c.Sort, c.Encode())
		if err != nil || got != c {
			t.Errorf("%+v: got %+v, %v", c, got, err)
		}
		if _, err := steward.DecodeSortCursor(c.Sort.Reverse(), c.Encode()); !steward.IsCode(err, steward.EINVALID) {
			t.Errorf("%+v read as %s: %v", c, c.Sort.Reverse(), err)
		}
	}
	for _, bad := range []string{"", "!!", steward.Cursor(5), "czE6bmFtZQ"} {
		if _, err := steward.DecodeSortCursor(steward.SortByName, bad); !steward.IsCode(err, steward.EINVALID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// A list in id order keeps taking the plain cursors.
	f := steward.IdentityFilter{ListOptions: steward.ListOptions{After: steward.Cursor(41)}}
	if c, limit, err := f.Position(); err != nil || c == nil || c.ID != 41 || limit != steward.DefaultLimit {
		t.Errorf("id order: %+v %d %v", c, limit, err)
	}
	f.Sort = steward.SortByName
	if _, _, err := f.Position(); !steward.IsCode(err, steward.EINVALID) {
		t.Errorf("an id cursor for a sorted list: %v", err)
	}
}

func TestIdentityFilterDays(t *testing.T) {
	t.Parallel()
	for _, f := range []steward.IdentityFilter{
		{CredentialOlderThan: -1},
		{UnusedFor: steward.MaxDays + 1},
		{UnusedFor: 30, NeverUsed: true},
		{Sort: "size"},
	} {
		if err := f.Validate(); !steward.IsCode(err, steward.EINVALID) {
			t.Errorf("%+v: %v", f, err)
		}
	}
}

// names is a fixed directory for FindTeam, FindPerson and FindSystem: a
// stand-in for a store, whose own lookups the conformance suite tests.
type names struct{}

func (names) Team(_ context.Context, id int64) (*steward.Team, error) {
	if id == 42 {
		return &steward.Team{ID: 42, Name: "by-id"}, nil
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "team %d does not exist.", id)
}

func (names) TeamByName(_ context.Context, name string) (*steward.Team, error) {
	switch name {
	case "payments":
		return &steward.Team{ID: 1, Name: name}, nil
	case "42": // a team whose name looks like another's id
		return &steward.Team{ID: 2, Name: name}, nil
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "no team %q", name)
}

func (names) Person(_ context.Context, id int64) (*steward.Person, error) {
	return nil, steward.Errorf(steward.ENOTFOUND, "person %d does not exist.", id)
}

func (names) PersonByKey(_ context.Context, key string) (*steward.Person, error) {
	return nil, steward.Errorf(steward.ENOTFOUND, "nobody %q", key)
}

func (names) System(_ context.Context, id int64) (*steward.System, error) {
	return &steward.System{ID: id, Name: "sys"}, nil
}

func (names) SystemByName(_ context.Context, name string) (*steward.System, error) {
	return nil, steward.Errorf(steward.ENOTFOUND, "no system %q", name)
}

func TestFindByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if team, err := steward.FindTeam(ctx, names{}, " payments "); err != nil || team.ID != 1 {
		t.Errorf("by name: %+v %v", team, err)
	}
	if team, err := steward.FindTeam(ctx, names{}, "42"); err != nil || team.ID != 2 {
		t.Errorf("a name that looks like an id names the team: %+v %v", team, err)
	}
	if sys, err := steward.FindSystem(ctx, names{}, "7"); err != nil || sys.ID != 7 {
		t.Errorf("by id: %+v %v", sys, err)
	}
	_, err := steward.FindPerson(ctx, names{}, "alice@example.com")
	if !steward.IsCode(err, steward.ENOTFOUND) || steward.ErrorMessage(err) != `No person has the e-mail address or external id "alice@example.com".` {
		t.Errorf("unknown person: %v", err)
	}
	_, err = steward.FindPerson(ctx, names{}, "12")
	if !steward.IsCode(err, steward.ENOTFOUND) {
		t.Errorf("unknown person id: %v", err)
	}
	if _, err := steward.FindTeam(ctx, names{}, ""); !steward.IsCode(err, steward.EINVALID) {
		t.Errorf("empty: %v", err)
	}
}

// FuzzSortCursor feeds arbitrary cursors to a sorted list: each is refused
// with EINVALID, or decodes to a position of that sort that encodes back to
// the same cursor.
func FuzzSortCursor(f *testing.F) {
	for _, s := range []string{"", steward.Cursor(5), steward.SortCursor{Sort: steward.SortByName, Key: "a:b", ID: 3}.Encode(),
		steward.SortCursor{Sort: steward.SortByName, Unknown: true, ID: 9}.Encode(), "czE6bmFtZTprOi0xOng", "=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := steward.DecodeSortCursor(steward.SortByName, s)
		if err != nil {
			if !steward.IsCode(err, steward.EINVALID) {
				t.Fatalf("cursor %q: %v", s, err)
			}
			return
		}
		if c.Sort != steward.SortByName || c.ID < 0 {
			t.Fatalf("cursor %q decoded to %+v", s, c)
		}
		again, err := steward.DecodeSortCursor(steward.SortByName, c.Encode())
		if err != nil || again != c {
			t.Fatalf("cursor %+v does not round-trip: %+v %v", c, again, err)
		}
	})
}
