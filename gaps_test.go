package steward_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestOwnershipGaps is the table of the three gap conditions and who is
// exempt from them.
func TestOwnershipGaps(t *testing.T) {
	t.Parallel()
	const (
		unowned  = steward.GapUnowned
		departed = steward.GapOwnerDeparted
		inactive = steward.GapTeamInactive
	)
	active, gone := steward.PersonActive, steward.PersonDeparted
	nhi := func(owner *int64, ownerStatus steward.PersonStatus, team *int64, members int) steward.GapFacts {
		return steward.GapFacts{Kind: steward.KindServiceAccount, Status: steward.IdentityActive,
			OwnerID: owner, OwnerStatus: ownerStatus, TeamID: team, TeamActiveMembers: members}
	}
	with := func(f steward.GapFacts, change func(*steward.GapFacts)) steward.GapFacts { change(&f); return f }
	for name, tc := range map[string]struct {
		facts  steward.GapFacts
		gaps   []steward.GapKind
		exempt string
	}{
		"owned, team with members":           {nhi(id(1), active, id(10), 3), nil, ""},
		"owned, no team":                     {nhi(id(1), active, nil, 0), nil, ""},
		"unowned, no team":                   {nhi(nil, "", nil, 0), []steward.GapKind{unowned}, ""},
		"unowned, live team":                 {nhi(nil, "", id(10), 1), []steward.GapKind{unowned}, ""},
		"unowned, empty team":                {nhi(nil, "", id(10), 0), []steward.GapKind{unowned, inactive}, ""},
		"owner departed, no team":            {nhi(id(1), gone, nil, 0), []steward.GapKind{departed}, ""},
		"owner departed, live team":          {nhi(id(1), gone, id(10), 2), []steward.GapKind{departed}, ""},
		"owner departed, team all gone":      {nhi(id(1), gone, id(10), 0), []steward.GapKind{departed, inactive}, ""},
		"active owner, team all gone":        {nhi(id(1), active, id(10), 0), []steward.GapKind{inactive}, ""},
		"one active member is enough":        {nhi(id(1), active, id(10), 1), nil, ""},
		"each kind of non-human":             {with(nhi(nil, "", nil, 0), func(f *steward.GapFacts) { f.Kind = steward.KindCertificate }), []steward.GapKind{unowned}, ""},
		"a bot":                              {with(nhi(id(1), gone, nil, 0), func(f *steward.GapFacts) { f.Kind = steward.KindBot }), []steward.GapKind{departed}, ""},
		"a person's login is exempt":         {with(nhi(nil, "", id(10), 0), func(f *steward.GapFacts) { f.Kind = steward.KindHuman }), nil, "person's own login"},
		"a person's login, owner departed":   {with(nhi(id(1), gone, nil, 0), func(f *steward.GapFacts) { f.Kind = steward.KindHuman }), nil, "person's own login"},
		"disabled is exempt":                 {with(nhi(nil, "", nil, 0), func(f *steward.GapFacts) { f.Status = steward.IdentityDisabled }), nil, "disabled"},
		"removed is exempt":                  {with(nhi(id(1), gone, id(10), 0), func(f *steward.GapFacts) { f.Status = steward.IdentityRemoved }), nil, "removed"},
		"owner status unknown is not gone":   {nhi(id(1), "", nil, 0), nil, ""},
		"members counted only with a team":   {nhi(id(1), active, nil, 5), nil, ""},
		"departed owner is not also unowned": {nhi(id(1), gone, id(10), 4), []steward.GapKind{departed}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := steward.OwnershipGaps(&tc.facts)
			var got []steward.GapKind
			for _, g := range d.Gaps {
				got = append(got, g.Gap)
				if g.Reason == "" {
					t.Errorf("gap %s has no reason", g.Gap)
				}
				if !d.Has(g.Gap) {
					t.Errorf("Has(%s) = false", g.Gap)
				}
			}
			if !slices.Equal(got, tc.gaps) {
				t.Errorf("gaps = %v, want %v", got, tc.gaps)
			}
			if tc.exempt == "" && d.Exempt != "" || !strings.Contains(d.Exempt, tc.exempt) {
				t.Errorf("exempt = %q, want %q", d.Exempt, tc.exempt)
			}
			for _, g := range steward.GapKinds {
				if d.Has(g) != slices.Contains(tc.gaps, g) {
					t.Errorf("Has(%s) = %v", g, d.Has(g))
				}
			}
		})
	}
}
