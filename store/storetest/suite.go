package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func testTeams(t *testing.T, s steward.Store, _ *Clock) {
	mgr := MustPerson(t, s, nil)
	team := MustTeam(t, s, func(x *steward.Team) { x.Name = "payments"; x.DisplayName = "Payments"; x.ManagerID = &mgr.ID })
	got, err := s.Team(ctx(), team.ID)
	if err != nil {
		t.Fatal(err)
	} else if got.Name != "payments" || got.DisplayName != "Payments" || got.ManagerID == nil || *got.ManagerID != mgr.ID || !got.CreatedAt.Equal(Epoch) {
		t.Fatalf("team = %+v", got)
	}
	wantCode(t, s.CreateTeam(ctx(), &steward.Team{Name: "payments"}), steward.ECONFLICT)
	wantCode(t, s.CreateTeam(ctx(), &steward.Team{Name: "Bad Name"}), steward.EINVALID)
	wantCode(t, s.CreateTeam(ctx(), &steward.Team{Name: "orphans", ManagerID: ptr(int64(999999))}), steward.ENOTFOUND)
	_, err = s.Team(ctx(), 999999)
	wantCode(t, err, steward.ENOTFOUND)
	MustTeam(t, s, func(x *steward.Team) { x.Name = "checkout"; x.DisplayName = "Checkout" })
	page, err := s.Teams(ctx(), steward.TeamFilter{Query: "PAY"})
	if err != nil {
		t.Fatal(err)
	} else if len(page.Items) != 1 || page.Items[0].ID != team.ID {
		t.Fatalf("teams q=PAY: %+v", page.Items)
	}
}

func testPeople(t *testing.T, s steward.Store, clock *Clock) {
	team := MustTeam(t, s, nil)
	boss := MustPerson(t, s, func(p *steward.Person) { p.TeamID = &team.ID; p.Name = "Grace Hopper" })
	left := clock.Now().Add(-24 * time.Hour)
	p := MustPerson(t, s, func(p *steward.Person) {
		p.TeamID, p.ManagerID, p.Status, p.DepartedAt, p.Title = &team.ID, &boss.ID, steward.PersonDeparted, &left, "Engineer"
	})
	got, err := s.Person(ctx(), p.ID)
	if err != nil {
		t.Fatal(err)
	} else if got.Status != steward.PersonDeparted || got.DepartedAt == nil || !got.DepartedAt.Equal(left) || *got.ManagerID != boss.ID || got.Title != "Engineer" {
		t.Fatalf("person = %+v", got)
	}
	wantCode(t, s.CreatePerson(ctx(), &steward.Person{ExternalID: p.ExternalID, Name: "Dup", Status: steward.PersonActive}), steward.ECONFLICT)
	wantCode(t, s.CreatePerson(ctx(), &steward.Person{ExternalID: "x1", Name: "", Status: steward.PersonActive}), steward.EINVALID)
	wantCode(t, s.CreatePerson(ctx(), &steward.Person{ExternalID: "x2", Name: "Gone", Status: steward.PersonDeparted}), steward.EINVALID)
	wantCode(t, s.CreatePerson(ctx(), &steward.Person{ExternalID: "x3", Name: "Lost", TeamID: ptr(int64(424242))}), steward.ENOTFOUND)

	for name, tc := range map[string]struct {
		f    steward.PersonFilter
		want []int64
	}{
		"team":     {steward.PersonFilter{TeamID: team.ID}, []int64{boss.ID, p.ID}},
		"manager":  {steward.PersonFilter{ManagerID: boss.ID}, []int64{p.ID}},
		"departed": {steward.PersonFilter{Status: steward.PersonDeparted}, []int64{p.ID}},
		"query":    {steward.PersonFilter{Query: "hopper"}, []int64{boss.ID}},
	} {
		t.Run(name, func(t *testing.T) {
			page, err := s.People(ctx(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Items, func(p steward.Person) int64 { return p.ID }); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
	_, err = s.People(ctx(), steward.PersonFilter{Status: "retired"})
	wantCode(t, err, steward.EINVALID)
}

func testSystems(t *testing.T, s steward.Store, _ *Clock) {
	team := MustTeam(t, s, nil)
	sys := MustSystem(t, s, func(x *steward.System) {
		x.Name, x.Kind, x.Description, x.OwnerTeamID = "k8s-prod-eu", steward.SystemKubernetes, "EU production cluster", &team.ID
	})
	MustSystem(t, s, func(x *steward.System) { x.Name, x.Kind = "github-acme", steward.SystemGitHub })
	if byName, err := s.SystemByName(ctx(), "k8s-prod-eu"); err != nil || byName.ID != sys.ID {
		t.Fatalf("by name: %+v %v", byName, err)
	}
	_, err := s.SystemByName(ctx(), "nope")
	wantCode(t, err, steward.ENOTFOUND)
	got, err := s.System(ctx(), sys.ID)
	if err != nil {
		t.Fatal(err)
	} else if got.Kind != steward.SystemKubernetes || got.Description != "EU production cluster" || *got.OwnerTeamID != team.ID {
		t.Fatalf("system = %+v", got)
	}
	wantCode(t, s.CreateSystem(ctx(), &steward.System{Name: "k8s-prod-eu", Kind: steward.SystemKubernetes}), steward.ECONFLICT)
	wantCode(t, s.CreateSystem(ctx(), &steward.System{Name: "mainframe", Kind: "zos"}), steward.EINVALID)
	page, err := s.Systems(ctx(), steward.SystemFilter{Kind: steward.SystemKubernetes})
	if err != nil {
		t.Fatal(err)
	} else if len(page.Items) != 1 || page.Items[0].ID != sys.ID {
		t.Fatalf("systems kind=kubernetes: %+v", page.Items)
	}
	_, err = s.Systems(ctx(), steward.SystemFilter{Kind: "zos"})
	wantCode(t, err, steward.EINVALID)
}

func testIdentities(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, func(x *steward.System) { x.Name = "aws-prod" })
	team := MustTeam(t, s, func(x *steward.Team) { x.Name = "data-platform" })
	owner := MustPerson(t, s, func(p *steward.Person) { p.Name = "Ada Lovelace" })
	used := clock.Now().Add(-time.Hour)
	created := clock.Now().Add(-400 * 24 * time.Hour)
	i := MustIdentity(t, s, sys.ID, func(i *steward.Identity) {
		i.Name, i.ExternalID, i.Kind = "etl-loader", "arn:aws:iam::123456789012:user/etl-loader", steward.KindServiceAccount
		i.OwnerID, i.TeamID, i.LastUsedAt, i.CreatedAt = &owner.ID, &team.ID, &used, &created
		i.Labels = map[string]string{"app": "etl", "managed-by": "terraform"}
	})
	got, err := s.Identity(ctx(), i.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "etl-loader" || got.SystemName != "aws-prod" || got.OwnerName != "Ada Lovelace" || got.OwnerStatus != steward.PersonActive ||
		got.TeamName != "data-platform" || got.Labels["managed-by"] != "terraform" || got.CreatedAt == nil || !got.CreatedAt.Equal(created) ||
		got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) || !got.UpdatedAt.Equal(Epoch) || got.Status != steward.IdentityActive {
		t.Fatalf("identity = %+v", got)
	}
	wantCode(t, s.CreateIdentity(ctx(), &steward.Identity{SystemID: sys.ID, ExternalID: i.ExternalID, Name: "dup", Kind: steward.KindAPIKey,
		Environment: steward.EnvProd, Criticality: steward.LevelLow}), steward.ECONFLICT)
	for name, bad := range map[string]steward.Identity{
		"no system":   {ExternalID: "a", Name: "a", Kind: steward.KindBot, Environment: steward.EnvDev, Criticality: steward.LevelLow},
		"bad kind":    {SystemID: sys.ID, ExternalID: "b", Name: "b", Kind: "robot", Environment: steward.EnvDev, Criticality: steward.LevelLow},
		"bad env":     {SystemID: sys.ID, ExternalID: "c", Name: "c", Kind: steward.KindBot, Environment: "qa", Criticality: steward.LevelLow},
		"control chr": {SystemID: sys.ID, ExternalID: "d", Name: "d\x00", Kind: steward.KindBot, Environment: steward.EnvDev, Criticality: steward.LevelLow},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, s.CreateIdentity(ctx(), &bad), steward.EINVALID) })
	}
	wantCode(t, s.CreateIdentity(ctx(), &steward.Identity{SystemID: 987654, ExternalID: "e", Name: "e", Kind: steward.KindBot, Environment: steward.EnvDev, Criticality: steward.LevelLow}), steward.ENOTFOUND)
	wantCode(t, s.CreateIdentity(ctx(), &steward.Identity{SystemID: sys.ID, OwnerID: ptr(int64(987654)), ExternalID: "f", Name: "f", Kind: steward.KindBot, Environment: steward.EnvDev, Criticality: steward.LevelLow}), steward.ENOTFOUND)
	_, err = s.Identity(ctx(), 987654)
	wantCode(t, err, steward.ENOTFOUND)
}

func testIdentityFilters(t *testing.T, s steward.Store, _ *Clock) {
	aws := MustSystem(t, s, nil)
	k8s := MustSystem(t, s, func(x *steward.System) { x.Kind = steward.SystemKubernetes })
	team := MustTeam(t, s, nil)
	owner := MustPerson(t, s, nil)
	a := MustIdentity(t, s, aws.ID, func(i *steward.Identity) { i.Kind = steward.KindAPIKey; i.OwnerID = &owner.ID })
	b := MustIdentity(t, s, k8s.ID, func(i *steward.Identity) { i.Environment = steward.EnvDev; i.TeamID = &team.ID })
	c := MustIdentity(t, s, k8s.ID, func(i *steward.Identity) {
		i.Status = steward.IdentityDisabled
		i.Kind = steward.KindWorkload
		i.TeamID = &team.ID
	})
	for name, tc := range map[string]struct {
		f    steward.IdentityFilter
		want []int64
	}{
		"all":         {steward.IdentityFilter{}, []int64{a.ID, b.ID, c.ID}},
		"kind":        {steward.IdentityFilter{Kind: steward.KindAPIKey}, []int64{a.ID}},
		"system":      {steward.IdentityFilter{SystemID: k8s.ID}, []int64{b.ID, c.ID}},
		"owner":       {steward.IdentityFilter{OwnerID: owner.ID}, []int64{a.ID}},
		"team":        {steward.IdentityFilter{TeamID: team.ID}, []int64{b.ID, c.ID}},
		"environment": {steward.IdentityFilter{Environment: steward.EnvDev}, []int64{b.ID}},
		"status":      {steward.IdentityFilter{Status: steward.IdentityDisabled}, []int64{c.ID}},
		"combined":    {steward.IdentityFilter{SystemID: k8s.ID, Status: steward.IdentityActive}, []int64{b.ID}},
		"no match":    {steward.IdentityFilter{SystemID: aws.ID, TeamID: team.ID}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			page, err := s.Identities(ctx(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Items, func(i steward.IdentityView) int64 { return i.ID }); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			} else if page.Next != "" {
				t.Fatalf("next = %q on a short page", page.Next)
			}
		})
	}
	for name, f := range map[string]steward.IdentityFilter{
		"bad kind":   {Kind: "robot"},
		"bad env":    {Environment: "qa"},
		"bad status": {Status: "zombie"},
		"bad cursor": {ListOptions: steward.ListOptions{After: "!!"}},
		"bad limit":  {ListOptions: steward.ListOptions{Limit: steward.MaxLimit + 1}},
		"neg limit":  {ListOptions: steward.ListOptions{Limit: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Identities(ctx(), f)
			wantCode(t, err, steward.EINVALID)
		})
	}
}

func testPaging(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	other := MustSystem(t, s, nil)
	var want []int64
	for n := 0; n < 23; n++ {
		want = append(want, MustIdentity(t, s, sys.ID, nil).ID)
		MustIdentity(t, s, other.ID, nil) // interleaved rows the filter skips
	}
	var got []int64
	f := steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 5}}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := s.Identities(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 5 {
			t.Fatalf("page of %d rows, limit 5", len(page.Items))
		}
		got = append(got, ids(page.Items, func(i steward.IdentityView) int64 { return i.ID })...)
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("walked %v, want %v", got, want)
	}
	// Exactly a full last page: no empty extra page.
	page, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: sys.ID, ListOptions: steward.ListOptions{Limit: 23}})
	if err != nil {
		t.Fatal(err)
	} else if len(page.Items) != 23 || page.Next != "" {
		t.Fatalf("limit=23: %d rows, next %q", len(page.Items), page.Next)
	}
}

func testTextSearch(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	a := MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.Name = "svc-Payments-settlement"; i.ExternalID = "x-1" })
	b := MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.Name = "ci-deploy"; i.ExternalID = "AKIAPAYMENTS01" })
	c := MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.Name = "100%_literal"; i.ExternalID = "x-3" })
	MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.Name = "100x-literal"; i.ExternalID = "x-4" })
	for q, want := range map[string][]int64{
		"payments": {a.ID, b.ID},
		"SETTLE":   {a.ID},
		"%_":       {c.ID}, // wildcards are literal
		"0%_l":     {c.ID},
		"nothing":  nil,
	} {
		t.Run(q, func(t *testing.T) {
			page, err := s.Identities(ctx(), steward.IdentityFilter{Query: q})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Items, func(i steward.IdentityView) int64 { return i.ID }); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("q=%q: %v, want %v", q, got, want)
			}
		})
	}
	_, err := s.Identities(ctx(), steward.IdentityFilter{Query: strings.Repeat("x", 300)})
	wantCode(t, err, steward.EINVALID)
}

func testCredentials(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	i := MustIdentity(t, s, sys.ID, nil)
	rotated := clock.Now().Add(-500 * 24 * time.Hour)
	exp := clock.Now().Add(30 * 24 * time.Hour)
	fp := steward.Fingerprint([]byte("key"), []byte("value"))
	c := &steward.Credential{IdentityID: i.ID, Kind: steward.CredAccessKey, CreatedAt: ptr(rotated.Add(-time.Hour)), LastRotatedAt: &rotated, ExpiresAt: &exp, Fingerprint: fp}
	if err := s.CreateCredential(ctx(), c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Credentials(ctx(), i.ID)
	if err != nil {
		t.Fatal(err)
	} else if len(got) != 1 || got[0].Fingerprint != fp || !got[0].LastRotatedAt.Equal(rotated) || !got[0].ExpiresAt.Equal(exp) {
		t.Fatalf("credentials = %+v", got)
	} else if age, known := got[0].Age(clock.Now()); age != 500*24*time.Hour || !known {
		t.Fatalf("age = %v (known %v)", age, known)
	} else if got[0].Status != steward.CredentialActive {
		t.Fatalf("status = %q, want active by default", got[0].Status)
	}
	wantCode(t, s.CreateCredential(ctx(), &steward.Credential{IdentityID: i.ID, Kind: steward.CredPassword, Fingerprint: "hunter2"}), steward.EINVALID)
	wantCode(t, s.CreateCredential(ctx(), &steward.Credential{IdentityID: 777777, Kind: steward.CredPassword}), steward.ENOTFOUND)
	none, err := s.Credentials(ctx(), 777777)
	if err != nil || len(none) != 0 {
		t.Fatalf("credentials of unknown identity = %v, %v", none, err)
	}
}

func testEntitlements(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	admin := MustEntitlement(t, s, sys.ID, func(e *steward.Entitlement) {
		e.Name, e.Privileged, e.Sensitivity, e.Description = "AdministratorAccess", true, steward.LevelCritical, "Full access"
	})
	ro := MustEntitlement(t, s, sys.ID, func(e *steward.Entitlement) { e.Name = "ReadOnlyAccess" })
	got, err := s.Entitlement(ctx(), admin.ID)
	if err != nil {
		t.Fatal(err)
	} else if !got.Privileged || got.Sensitivity != steward.LevelCritical || got.Description != "Full access" {
		t.Fatalf("entitlement = %+v", got)
	}
	wantCode(t, s.CreateEntitlement(ctx(), &steward.Entitlement{SystemID: sys.ID, Name: "AdministratorAccess", Sensitivity: steward.LevelLow}), steward.ECONFLICT)
	wantCode(t, s.CreateEntitlement(ctx(), &steward.Entitlement{SystemID: 55555, Name: "x", Sensitivity: steward.LevelLow}), steward.ENOTFOUND)
	if byName, err := s.EntitlementByName(ctx(), sys.ID, "ReadOnlyAccess"); err != nil || byName.ID != ro.ID || byName.Name != "ReadOnlyAccess" {
		t.Fatalf("EntitlementByName = %+v, %v; want %d", byName, err, ro.ID)
	}
	for _, name := range []string{"readonlyaccess", "ReadOnly", "ReadOnlyAccess ", ""} { // exactly the name, case included
		_, err := s.EntitlementByName(ctx(), sys.ID, name)
		wantCode(t, err, steward.ENOTFOUND)
	}
	_, err = s.EntitlementByName(ctx(), sys.ID+1000, "ReadOnlyAccess")
	wantCode(t, err, steward.ENOTFOUND)
	for name, tc := range map[string]struct {
		f    steward.EntitlementFilter
		want []int64
	}{
		"privileged":   {steward.EntitlementFilter{Privileged: ptr(true)}, []int64{admin.ID}},
		"unprivileged": {steward.EntitlementFilter{Privileged: ptr(false)}, []int64{ro.ID}},
		"system":       {steward.EntitlementFilter{SystemID: sys.ID}, []int64{admin.ID, ro.ID}},
		"query":        {steward.EntitlementFilter{Query: "readonly"}, []int64{ro.ID}},
	} {
		t.Run(name, func(t *testing.T) {
			page, err := s.Entitlements(ctx(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Items, func(e steward.Entitlement) int64 { return e.ID }); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func testGrants(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	i := MustIdentity(t, s, sys.ID, nil)
	j := MustIdentity(t, s, sys.ID, nil)
	admin := MustEntitlement(t, s, sys.ID, func(e *steward.Entitlement) { e.Privileged = true; e.Name = "admin" })
	ro := MustEntitlement(t, s, sys.ID, nil)
	exp := clock.Now().Add(4 * time.Hour)
	g1 := MustGrant(t, s, i.ID, admin.ID, func(g *steward.Grant) { g.Type, g.ExpiresAt, g.GrantedVia = steward.GrantJIT, &exp, "request:1" })
	g2 := MustGrant(t, s, i.ID, ro.ID, nil)
	g3 := MustGrant(t, s, j.ID, ro.ID, nil)
	wantCode(t, s.CreateGrant(ctx(), &steward.Grant{IdentityID: i.ID, EntitlementID: ro.ID, Type: steward.GrantStanding}), steward.ECONFLICT)
	wantCode(t, s.CreateGrant(ctx(), &steward.Grant{IdentityID: j.ID, EntitlementID: admin.ID, Type: steward.GrantJIT}), steward.EINVALID)
	wantCode(t, s.CreateGrant(ctx(), &steward.Grant{IdentityID: 31337, EntitlementID: admin.ID, Type: steward.GrantStanding}), steward.ENOTFOUND)
	wantCode(t, s.CreateGrant(ctx(), &steward.Grant{IdentityID: j.ID, EntitlementID: 31337, Type: steward.GrantStanding}), steward.ENOTFOUND)
	page, err := s.Grants(ctx(), steward.GrantFilter{IdentityID: i.ID})
	if err != nil {
		t.Fatal(err)
	} else if len(page.Items) != 2 || page.Items[0].ID != g1.ID || !page.Items[0].Privileged || page.Items[0].EntitlementName != "admin" ||
		page.Items[0].SystemID != sys.ID || page.Items[0].GrantedVia != "request:1" || !page.Items[0].ExpiresAt.Equal(exp) || page.Items[1].ID != g2.ID {
		t.Fatalf("grants of identity = %+v", page.Items)
	}
	for name, tc := range map[string]struct {
		f    steward.GrantFilter
		want []int64
	}{
		"entitlement": {steward.GrantFilter{EntitlementID: ro.ID}, []int64{g2.ID, g3.ID}},
		"type":        {steward.GrantFilter{Type: steward.GrantJIT}, []int64{g1.ID}},
		"both":        {steward.GrantFilter{IdentityID: j.ID, EntitlementID: ro.ID}, []int64{g3.ID}},
	} {
		t.Run(name, func(t *testing.T) {
			page, err := s.Grants(ctx(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Items, func(g steward.GrantView) int64 { return g.ID }); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
	_, err = s.Grants(ctx(), steward.GrantFilter{Type: "forever"})
	wantCode(t, err, steward.EINVALID)
}

// bulkFixture returns a small consistent batch with ids from base.
func bulkFixture(base int64, now time.Time) *steward.Bulk {
	mgr := base + 1
	team := base + 1
	exp := now.Add(48 * time.Hour)
	return &steward.Bulk{
		Source:       "storetest",
		Teams:        []steward.Team{{ID: team, Name: fmt.Sprintf("bulk-team-%d", base), ManagerID: &mgr, CreatedAt: now}},
		People:       []steward.Person{{ID: mgr, ExternalID: fmt.Sprintf("bulk-%d", base), Name: "Bulk Boss", TeamID: &team, Status: steward.PersonActive, CreatedAt: now}},
		Systems:      []steward.System{{ID: base + 1, Name: fmt.Sprintf("bulk-sys-%d", base), Kind: steward.SystemVault, CreatedAt: now}},
		Identities:   []steward.Identity{{ID: base + 1, SystemID: base + 1, ExternalID: "tok-1", Name: "vault-token-1", Kind: steward.KindToken, Environment: steward.EnvProd, Criticality: steward.LevelHigh, OwnerID: &mgr, TeamID: &team, Status: steward.IdentityActive, CreatedAt: &now}, {ID: base + 2, SystemID: base + 1, ExternalID: "tok-2", Name: "vault-token-2", Kind: steward.KindToken, Environment: steward.EnvDev, Criticality: steward.LevelLow, Status: steward.IdentityActive, CreatedAt: &now}},
		Credentials:  []steward.Credential{{ID: base + 1, IdentityID: base + 1, Kind: steward.CredToken, CreatedAt: &now, ExpiresAt: &exp}},
		Entitlements: []steward.Entitlement{{ID: base + 1, SystemID: base + 1, Name: "root", Privileged: true, Sensitivity: steward.LevelCritical, CreatedAt: now}},
		Grants:       []steward.Grant{{ID: base + 1, IdentityID: base + 1, EntitlementID: base + 1, Type: steward.GrantException, GrantedAt: now, ExpiresAt: &exp, GrantedVia: "bulk"}},
	}
}

func testBulkLoad(t *testing.T, s steward.Store, clock *Clock) {
	before := eventCount(t, s)
	if err := s.BulkLoad(ctx(), bulkFixture(1000, clock.Now())); err != nil {
		t.Fatal(err)
	}
	if n := eventCount(t, s); n != before+1 {
		t.Fatalf("bulk load wrote %d events, want 1", n-before)
	}
	got, err := s.Identity(ctx(), 1001)
	if err != nil {
		t.Fatal(err)
	} else if got.OwnerName != "Bulk Boss" || got.SystemName != "bulk-sys-1000" {
		t.Fatalf("bulk identity = %+v", got)
	}
	// Later single inserts do not collide with the loaded ids.
	sys := MustSystem(t, s, nil)
	if sys.ID <= 1001 {
		t.Fatalf("system created after bulk load got id %d, which bulk ids may shadow", sys.ID)
	}
	i := MustIdentity(t, s, sys.ID, nil)
	MustGrant(t, s, i.ID, 1001, nil)
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, "testBulkLoad")
}

func testBulkAtomic(t *testing.T, s steward.Store, clock *Clock) {
	before := eventCount(t, s)
	for name, tc := range map[string]struct {
		mod  func(b *steward.Bulk)
		code string
	}{
		"invalid row":  {func(b *steward.Bulk) { b.Identities[1].Kind = "robot" }, steward.EINVALID},
		"missing id":   {func(b *steward.Bulk) { b.Grants[0].ID = 0 }, steward.EINVALID},
		"duplicate id": {func(b *steward.Bulk) { b.Identities[1].ID = b.Identities[0].ID }, steward.ECONFLICT},
		"dangling ref": {func(b *steward.Bulk) { b.Grants[0].EntitlementID = 99999 }, steward.ENOTFOUND},
	} {
		t.Run(name, func(t *testing.T) {
			b := bulkFixture(2000, clock.Now())
			tc.mod(b)
			wantCode(t, s.BulkLoad(ctx(), b), tc.code)
			page, err := s.Identities(ctx(), steward.IdentityFilter{})
			if err != nil {
				t.Fatal(err)
			} else if len(page.Items) != 0 {
				t.Fatalf("a failed bulk load left %d identities", len(page.Items))
			}
			teams, err := s.Teams(ctx(), steward.TeamFilter{})
			if err != nil {
				t.Fatal(err)
			} else if len(teams.Items) != 0 {
				t.Fatalf("a failed bulk load left %d teams", len(teams.Items))
			}
		})
	}
	if n := eventCount(t, s); n != before {
		t.Fatalf("failed bulk loads wrote %d events", n-before)
	}
}

func testStats(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	live := MustTeam(t, s, nil)
	dead := MustTeam(t, s, nil)
	left := clock.Now()
	active := MustPerson(t, s, func(p *steward.Person) { p.TeamID = &live.ID })
	gone := MustPerson(t, s, func(p *steward.Person) { p.TeamID = &dead.ID; p.Status = steward.PersonDeparted; p.DepartedAt = &left })
	MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.OwnerID = &active.ID; i.TeamID = &live.ID }) // owned, fine
	MustIdentity(t, s, sys.ID, nil)                                                                       // unowned
	MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.Status = steward.IdentityRemoved })          // unowned but removed: no gap
	MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.Kind = steward.KindHuman })                  // humans are not NHI gaps
	MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.OwnerID = &gone.ID; i.TeamID = &live.ID })   // owner departed
	MustIdentity(t, s, sys.ID, func(i *steward.Identity) { i.OwnerID = &active.ID; i.TeamID = &dead.ID; i.Kind = steward.KindAPIKey })
	st, err := s.InventoryStats(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if st.Gaps[steward.GapUnowned] != 1 || st.Gaps[steward.GapOwnerDeparted] != 1 || st.Gaps[steward.GapTeamInactive] != 1 {
		t.Fatalf("gaps = %v", st.Gaps)
	}
	if st.People != 2 || st.Teams != 2 || st.Systems != 1 {
		t.Fatalf("stats = %+v", st)
	}
	counts := map[string]int64{}
	for _, c := range st.Identities {
		counts[string(c.Kind)+"/"+string(c.Status)] = c.Count
	}
	if counts["service_account/active"] != 3 || counts["service_account/removed"] != 1 || counts["human/active"] != 1 || counts["api_key/active"] != 1 {
		t.Fatalf("identity counts = %v", counts)
	}
	checkGaps(t, s, "testStats")
}

// mustPersonalToken makes a personal token of person, expiring in a day.
func mustPersonalToken(t *testing.T, s steward.Store, clock *Clock, name string, role steward.Role, person int64) (*steward.Token, string) {
	t.Helper()
	exp := clock.Now().Add(24 * time.Hour)
	tok := &steward.Token{Name: name, Role: role, Kind: steward.PrincipalPerson, PersonID: &person, ExpiresAt: &exp}
	raw, err := s.CreateToken(ctx(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return tok, raw
}

// testRegisterSteward: Steward's own identity is registered once, in its
// own system, unowned (an ownership gap) when no owner is given, and a
// token cannot take its name.
func testRegisterSteward(t *testing.T, s steward.Store, clock *Clock) {
	team := MustTeam(t, s, nil)
	ada := MustPerson(t, s, func(p *steward.Person) { p.Email = "ada@example.test"; p.TeamID = &team.ID })
	nobody := int64(1 << 40)
	_, err := s.RegisterSteward(ctx(), &nobody)
	wantCode(t, err, steward.ENOTFOUND)
	p, err := s.RegisterSteward(ctx(), nil)
	if err != nil {
		t.Fatal(err)
	} else if p.Kind != steward.PrincipalAutomation || p.Name != steward.SelfIdentityName || p.IdentityID == 0 || p.Actor() != "automation:steward" {
		t.Fatalf("principal = %+v", *p)
	}
	self, err := s.SystemByName(ctx(), steward.SelfSystemName)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := s.Identity(ctx(), p.IdentityID)
	if err != nil {
		t.Fatal(err)
	} else if iv.SystemID != self.ID || iv.ExternalID != steward.SelfIdentityName || iv.Kind != steward.KindServiceAccount || iv.OwnerID != nil ||
		iv.Status != steward.IdentityActive {
		t.Fatalf("Steward's identity = %+v; want an active, unowned service account of system %d", iv, self.ID)
	}
	gapped, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: self.ID, Gap: steward.GapUnowned, ListOptions: steward.ListOptions{Limit: 10}})
	if err != nil || len(gapped.Items) != 1 || gapped.Items[0].ID != p.IdentityID {
		t.Fatalf("unowned gaps of Steward's system: %+v, %v; want Steward's identity", gapped, err)
	}
	// Registered already: left as it is, whoever is named now.
	again, err := s.RegisterSteward(ctx(), &ada.ID)
	if err != nil || *again != *p {
		t.Fatalf("again: %+v, %v; want %+v", again, err, *p)
	}
	if iv, err := s.Identity(ctx(), p.IdentityID); err != nil || iv.OwnerID != nil {
		t.Fatalf("a second registration changed the owner: %+v, %v", iv, err)
	}
	_, err = s.CreateToken(ctx(), &steward.Token{Name: steward.SelfIdentityName, Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &ada.ID})
	wantCode(t, err, steward.ECONFLICT)
}

// testRegisterStewardOwned: registered with an owner, Steward's identity
// has them and their team, and no gap; where an automation token took its
// name first, registering is refused.
func testRegisterStewardOwned(t *testing.T, s steward.Store, clock *Clock) {
	team := MustTeam(t, s, nil)
	ada := MustPerson(t, s, func(p *steward.Person) { p.Email = "ada@example.test"; p.TeamID = &team.ID })
	p, err := s.RegisterSteward(ctx(), &ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := s.Identity(ctx(), p.IdentityID)
	if err != nil || iv.OwnerID == nil || *iv.OwnerID != ada.ID || iv.TeamID == nil || *iv.TeamID != team.ID {
		t.Fatalf("Steward's identity = %+v, %v; want owned by %d of team %d", iv, err, ada.ID, team.ID)
	}
	gapped, err := s.Identities(ctx(), steward.IdentityFilter{SystemID: iv.SystemID, Gap: steward.GapUnowned, ListOptions: steward.ListOptions{Limit: 10}})
	if err != nil || len(gapped.Items) != 0 {
		t.Fatalf("unowned gaps of Steward's system: %+v, %v; want none", gapped, err)
	}
}

// testRegisterStewardTaken: an automation token named like Steward's own
// identity, from before it had one, keeps the name, and registering
// Steward is refused with a way out.
func testRegisterStewardTaken(t *testing.T, s steward.Store, clock *Clock) {
	ada := MustPerson(t, s, nil)
	if _, err := s.CreateToken(ctx(), &steward.Token{Name: steward.SelfIdentityName, Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &ada.ID}); err != nil {
		t.Fatal(err)
	}
	_, err := s.RegisterSteward(ctx(), &ada.ID)
	wantCode(t, err, steward.ECONFLICT)
}

// testTokens: a personal token acts as its person, an automation token as
// the identity of Steward's own inventory it registers, with its owner;
// both are refused once expired or revoked, and a personal token once its
// person has left.
func testTokens(t *testing.T, s steward.Store, clock *Clock) {
	team := MustTeam(t, s, nil)
	ada := MustPerson(t, s, func(p *steward.Person) { p.Email = "ada@example.test"; p.TeamID = &team.ID })
	tok := &steward.Token{Name: "ci-bot", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &ada.ID}
	raw, err := s.CreateToken(ctx(), tok)
	if err != nil {
		t.Fatal(err)
	} else if !strings.HasPrefix(raw, steward.TokenPrefix) || tok.ID == 0 || tok.IdentityID == nil {
		t.Fatalf("token %q id %d identity %v", raw, tok.ID, tok.IdentityID)
	}
	p, err := s.Authenticate(ctx(), raw)
	if err != nil {
		t.Fatal(err)
	} else if want := (steward.Principal{Kind: steward.PrincipalAutomation, Name: "ci-bot", IdentityID: *tok.IdentityID, Role: steward.RoleAdmin, Via: "token:ci-bot"}); *p != want {
		t.Fatalf("principal = %+v, want %+v", *p, want)
	}
	if list, err := s.Tokens(ctx()); err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(clock.Now()) ||
		list[0].OwnerID == nil || *list[0].OwnerID != ada.ID || list[0].Principal != "ci-bot" {
		t.Fatalf("the token's use or owner was not recorded: %+v %v", list, err)
	}
	// Steward eats its own food: the token is an identity with an owner,
	// and its credential, used when the token is.
	self, err := s.SystemByName(ctx(), steward.SelfSystemName)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := s.Identity(ctx(), *tok.IdentityID)
	if err != nil {
		t.Fatal(err)
	} else if iv.SystemID != self.ID || iv.Name != "ci-bot" || iv.Kind != steward.KindToken || iv.OwnerID == nil || *iv.OwnerID != ada.ID ||
		iv.TeamID == nil || *iv.TeamID != team.ID || iv.LastUsedAt == nil || iv.Status != steward.IdentityActive {
		t.Fatalf("the token's identity = %+v", iv)
	}
	creds, err := s.Credentials(ctx(), iv.ID)
	if err != nil || len(creds) != 1 || creds[0].Kind != steward.CredToken || creds[0].CreatedAt == nil || !creds[0].CreatedAt.Equal(tok.CreatedAt) ||
		creds[0].LastUsedAt == nil || !creds[0].LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("the token's credential = %+v, %v", creds, err)
	}
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "ci-bot", Role: steward.RoleAuditor, Kind: steward.PrincipalAutomation, OwnerID: &ada.ID})
	wantCode(t, err, steward.ECONFLICT)
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "x", Role: "root", Kind: steward.PrincipalAutomation, OwnerID: &ada.ID})
	wantCode(t, err, steward.EINVALID)
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "unowned", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation})
	wantCode(t, err, steward.EINVALID)
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "nobody", Role: steward.RoleAdmin})
	wantCode(t, err, steward.EINVALID)
	for name, bad := range map[string]string{
		"empty": "", "garbage": "hello", "wrong secret": raw[:len(raw)-2] + "AA", "session as token": strings.Replace(raw, steward.TokenPrefix, steward.SessionPrefix, 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Authenticate(ctx(), bad)
			wantCode(t, err, steward.EUNAUTHORIZED)
		})
	}
	// A personal token acts as its person, and expires: by default after
	// DefaultPersonalTokenTTL, never after MaxPersonalTokenTTL.
	tooLong := clock.Now().Add(steward.MaxPersonalTokenTTL + time.Hour)
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "forever", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &ada.ID, ExpiresAt: &tooLong})
	wantCode(t, err, steward.EINVALID)
	dflt := &steward.Token{Name: "default", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &ada.ID}
	if _, err := s.CreateToken(ctx(), dflt); err != nil || dflt.ExpiresAt == nil || !dflt.ExpiresAt.Equal(clock.Now().Add(steward.DefaultPersonalTokenTTL)) {
		t.Fatalf("a personal token without an expiry: %+v, %v", dflt, err)
	}
	if err := s.RevokeToken(ctx(), dflt.ID); err != nil {
		t.Fatal(err)
	}
	short, shortRaw := mustPersonalToken(t, s, clock, "short", steward.RoleAuditor, ada.ID)
	p, err = s.Authenticate(ctx(), shortRaw)
	if err != nil {
		t.Fatal(err)
	} else if want := (steward.Principal{Kind: steward.PrincipalPerson, Name: "ada@example.test", PersonID: ada.ID, Role: steward.RoleAuditor, Via: "token:short"}); *p != want {
		t.Fatalf("principal = %+v, want %+v", *p, want)
	}
	if mine, err := s.PersonTokens(ctx(), ada.ID); err != nil || len(mine) != 2 || mine[1].ID != short.ID || mine[1].Kind != steward.PrincipalPerson {
		t.Fatalf("ada's tokens = %+v, %v", mine, err)
	}
	// Expiry follows the store's clock.
	clock.Advance(25 * time.Hour)
	_, err = s.Authenticate(ctx(), shortRaw)
	wantCode(t, err, steward.EUNAUTHORIZED)
	// Revocation; an automation token's identity and credential go with it.
	if err := s.RevokeToken(ctx(), tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx(), raw)
	wantCode(t, err, steward.EUNAUTHORIZED)
	wantCode(t, s.RevokeToken(ctx(), 424242), steward.ENOTFOUND)
	if iv, err := s.Identity(ctx(), *tok.IdentityID); err != nil || iv.Status != steward.IdentityDisabled {
		t.Fatalf("the revoked token's identity = %+v, %v", iv, err)
	}
	if creds, err := s.Credentials(ctx(), *tok.IdentityID); err != nil || len(creds) != 1 || creds[0].Status != steward.CredentialDisabled {
		t.Fatalf("the revoked token's credential = %+v, %v", creds, err)
	}
	list, err := s.Tokens(ctx())
	if err != nil {
		t.Fatal(err)
	} else if len(list) != 3 || list[0].RevokedAt == nil || list[2].Name != "short" {
		t.Fatalf("tokens = %+v", list)
	}
	if got, err := s.TokenByName(ctx(), "short"); err != nil || got.ID != short.ID {
		t.Fatalf("token by name = %+v, %v", got, err)
	}
	_, err = s.TokenByName(ctx(), "nope")
	wantCode(t, err, steward.ENOTFOUND)
	// A departed person's tokens stop working, and they get no new one.
	bob := MustPerson(t, s, nil)
	_, bobRaw := mustPersonalToken(t, s, clock, "bob", steward.RoleMember, bob.ID)
	if _, err := s.Authenticate(ctx(), bobRaw); err != nil {
		t.Fatal(err)
	}
	gone := MustPerson(t, s, func(p *steward.Person) { p.Status = steward.PersonDeparted; p.DepartedAt = ptr(clock.Now()) })
	exp := clock.Now().Add(time.Hour)
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "gone", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &gone.ID, ExpiresAt: &exp})
	wantCode(t, err, steward.EINVALID)
	missing := int64(424242)
	_, err = s.CreateToken(ctx(), &steward.Token{Name: "ghost", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &missing, ExpiresAt: &exp})
	wantCode(t, err, steward.ENOTFOUND)
	// Every event written in the principal's name records what it came
	// through, and the chain still verifies.
	pctx := steward.WithPrincipal(context.Background(), *p)
	team2 := &steward.Team{Name: "via-test"}
	if err := s.CreateTeam(pctx, team2); err != nil {
		t.Fatal(err)
	}
	page, err := s.Events(ctx(), steward.EventFilter{ObjectType: steward.ObjectTeam, ObjectID: strconv.FormatInt(team2.ID, 10)})
	if err != nil || len(page.Items) != 1 || page.Items[0].Actor != "person:ada@example.test" || page.Items[0].Via != "token:short" {
		t.Fatalf("the team's event = %+v, %v", page, err)
	}
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}

func testSessions(t *testing.T, s steward.Store, clock *Clock) {
	tok, _ := mustPersonalToken(t, s, clock, "alice", steward.RoleAuditor, MustPerson(t, s, nil).ID)
	raw, err := s.CreateSession(ctx(), tok.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionPrincipal(ctx(), raw)
	if want := tok.AsPrincipal(); err != nil || *got != want || got.Kind != steward.PrincipalPerson || got.Role != steward.RoleAuditor || got.Via != "token:alice" {
		t.Fatalf("session principal = %+v, %v; want the token's principal %+v", got, err, want)
	}
	if _, err := s.Authenticate(ctx(), raw); err == nil {
		t.Fatal("a session secret authenticated as an API token")
	}
	clock.Advance(61 * time.Minute)
	_, err = s.SessionPrincipal(ctx(), raw)
	wantCode(t, err, steward.EUNAUTHORIZED)

	raw2, err := s.CreateSession(ctx(), tok.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx(), raw2); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionPrincipal(ctx(), raw2)
	wantCode(t, err, steward.EUNAUTHORIZED)
	if err := s.DeleteSession(ctx(), raw2); err != nil {
		t.Fatalf("deleting an ended session: %v", err)
	}
	raw3, err := s.CreateSession(ctx(), tok.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx(), tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionPrincipal(ctx(), raw3)
	wantCode(t, err, steward.EUNAUTHORIZED)
	_, err = s.CreateSession(ctx(), 99999, time.Hour)
	wantCode(t, err, steward.ENOTFOUND)
}

// testPersonSessions checks the sessions of people signed in through the
// OpenID provider: the role decided at sign-in, the principal they act as,
// the events of sign-in and sign-out, and that a departure ends them.
func testPersonSessions(t *testing.T, s steward.Store, clock *Clock) {
	ada := MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email, p.Name = "ada", "Ada@Example.test", "Ada Lovelace" })
	in := steward.PersonSession{PersonID: ada.ID, Role: steward.RoleAuditor, Reason: "member of group audit, mapped to auditor", Issuer: "https://idp.example.test/", Subject: "sub-ada"}
	raw, err := s.CreatePersonSession(ctx(), in, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionPrincipal(ctx(), raw)
	want := steward.Principal{Kind: steward.PrincipalPerson, Name: "Ada@Example.test", PersonID: ada.ID, Role: steward.RoleAuditor, Via: steward.SessionVia(steward.HashSecret(raw))}
	if err != nil || *got != want || !strings.HasPrefix(got.Via, "session:") || len(got.Via) != len("session:")+8 {
		t.Fatalf("person session principal = %+v, %v; want %+v", got, err, want)
	}
	events, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionPersonSignedIn})
	if err != nil || len(events.Items) != 1 {
		t.Fatalf("sign-in events = %+v, %v", events, err)
	}
	e := events.Items[0]
	p, _ := e.Payload()
	if e.Actor != "person:Ada@Example.test" || e.ObjectType != steward.ObjectPerson || e.ObjectID != fmt.Sprint(ada.ID) ||
		p.(*steward.PersonSignedIn).Role != steward.RoleAuditor || p.(*steward.PersonSignedIn).Subject != "sub-ada" {
		t.Fatalf("sign-in event = %+v, payload %+v", e, p)
	}
	// Signing out ends the session in the store, with an event on the person.
	if err := s.DeleteSession(ctx(), raw); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionPrincipal(ctx(), raw)
	wantCode(t, err, steward.EUNAUTHORIZED)
	events, err = s.Events(ctx(), steward.EventFilter{Action: steward.ActionPersonSignedOut})
	if err != nil || len(events.Items) != 1 || events.Items[0].ObjectID != fmt.Sprint(ada.ID) {
		t.Fatalf("sign-out events = %+v, %v", events, err)
	}
	// Sessions expire.
	raw, err = s.CreatePersonSession(ctx(), in, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	_, err = s.SessionPrincipal(ctx(), raw)
	wantCode(t, err, steward.EUNAUTHORIZED)

	// Refusals: a role sign-in does not give, nobody, a person who left.
	for name, bad := range map[string]steward.PersonSession{
		"viewer":  {PersonID: ada.ID, Role: steward.Role("viewer")}, // a role of before principals
		"no role": {PersonID: ada.ID},
		"nobody":  {Role: steward.RoleMember},
	} {
		_, err := s.CreatePersonSession(ctx(), bad, time.Hour)
		if steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("%s: error %v, want invalid", name, err)
		}
	}
	_, err = s.CreatePersonSession(ctx(), steward.PersonSession{PersonID: 424242, Role: steward.RoleMember}, time.Hour)
	wantCode(t, err, steward.ENOTFOUND)
	left := clock.Now().Add(-time.Hour)
	gone := MustPerson(t, s, func(p *steward.Person) { p.Status, p.DepartedAt = steward.PersonDeparted, &left })
	_, err = s.CreatePersonSession(ctx(), steward.PersonSession{PersonID: gone.ID, Role: steward.RoleMember}, time.Hour)
	wantCode(t, err, steward.EFORBIDDEN)

	// A person who departs after signing in loses the session at once.
	if _, err := s.SyncPeople(ctx(), "ldap:sessions", people(steward.SourcePerson{ExternalID: "bob", Name: "Bob", Email: "bob@example.test"})); err != nil {
		t.Fatal(err)
	}
	bob, err := s.PersonBySignIn(ctx(), steward.ClaimSubject, "bob")
	if err != nil {
		t.Fatal(err)
	}
	raw, err = s.CreatePersonSession(ctx(), steward.PersonSession{PersonID: bob.ID, Role: steward.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionPrincipal(ctx(), raw); err != nil || got.Role != steward.RoleAdmin || got.Name != "bob@example.test" {
		t.Fatalf("bob's session = %+v, %v", got, err)
	}
	if _, err := s.SyncPeople(ctx(), "ldap:sessions", people(steward.SourcePerson{ExternalID: "bob", Name: "Bob", Email: "bob@example.test", Status: steward.PersonDeparted})); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionPrincipal(ctx(), raw)
	wantCode(t, err, steward.EUNAUTHORIZED)
	if _, err := s.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
}

// testPersonBySignIn checks how sign-in finds a person: by e-mail address
// without regard to case, by external id exactly, never one for the other.
func testPersonBySignIn(t *testing.T, s steward.Store, _ *Clock) {
	ada := MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "Ada-7", "Ada.Lovelace@Example.test" })
	MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "twin-1", "twins@example.test" })
	MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "twin-2", "Twins@example.test" })
	// An external id that looks like another person's address must not
	// sign that person in by e-mail.
	MustPerson(t, s, func(p *steward.Person) { p.ExternalID, p.Email = "grace@example.test", "" })
	for name, tc := range map[string]struct {
		by   steward.PersonClaim
		key  string
		want int64
		code string
	}{
		"email, any case":                 {steward.ClaimEmail, "ada.lovelace@example.test", ada.ID, ""},
		"email exactly":                   {steward.ClaimEmail, "Ada.Lovelace@Example.test", ada.ID, ""},
		"external id by email":            {steward.ClaimEmail, "Ada-7", 0, steward.ENOTFOUND},
		"external id that looks an email": {steward.ClaimEmail, "grace@example.test", 0, steward.ENOTFOUND},
		"subject exactly":                 {steward.ClaimSubject, "Ada-7", ada.ID, ""},
		"subject in another case":         {steward.ClaimSubject, "ada-7", 0, steward.ENOTFOUND},
		"email as subject":                {steward.ClaimSubject, "Ada.Lovelace@Example.test", 0, steward.ENOTFOUND},
		"shared address":                  {steward.ClaimEmail, "twins@example.test", 0, steward.EINVALID},
		"unknown claim":                   {"nickname", "ada", 0, steward.EINVALID},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := s.PersonBySignIn(ctx(), tc.by, tc.key)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil || p.ID != tc.want {
				t.Fatalf("person = %+v, %v; want id %d", p, err, tc.want)
			}
		})
	}
}

func testAuditChain(t *testing.T, s steward.Store, clock *Clock) {
	sys := MustSystem(t, s, nil)
	clock.Advance(time.Second)
	i := MustIdentity(t, s, sys.ID, nil)
	n, err := s.VerifyAudit(ctx())
	if err != nil {
		t.Fatal(err)
	} else if n < 2 {
		t.Fatalf("verified %d events, want at least 2", n)
	}
	page, err := s.Events(ctx(), steward.EventFilter{ObjectType: "identity", ObjectID: fmt.Sprint(i.ID)})
	if err != nil {
		t.Fatal(err)
	} else if len(page.Items) != 1 {
		t.Fatalf("events of identity = %+v", page.Items)
	}
	e := page.Items[0]
	if e.Action != "identity.created" || e.Actor != "test:storetest" || !e.Time.Equal(Epoch.Add(time.Second)) || e.Hash != e.ComputeHash() || !strings.Contains(string(e.Data), i.Name) {
		t.Fatalf("event = %+v", e)
	}
	// A failed change writes no event.
	before := eventCount(t, s)
	wantCode(t, s.CreateSystem(ctx(), &steward.System{Name: sys.Name, Kind: steward.SystemAWS}), steward.ECONFLICT)
	if eventCount(t, s) != before {
		t.Fatal("a refused change wrote an audit event")
	}
}

func testAuditEvents(t *testing.T, s steward.Store, clock *Clock) {
	for n := 0; n < 7; n++ {
		MustTeam(t, s, nil)
		clock.Advance(time.Minute)
	}
	var all []steward.Event
	f := steward.EventFilter{Action: "team.created", ListOptions: steward.ListOptions{Limit: 3}}
	for {
		page, err := s.Events(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	if len(all) != 7 {
		t.Fatalf("paged %d team events, want 7", len(all))
	}
	for k := 1; k < len(all); k++ {
		if all[k].Seq <= all[k-1].Seq {
			t.Fatalf("events out of order: %d then %d", all[k-1].Seq, all[k].Seq)
		}
	}
	_, err := s.Events(ctx(), steward.EventFilter{ListOptions: steward.ListOptions{After: "bm9wZQ"}})
	wantCode(t, err, steward.EINVALID)
	_, err = s.Events(ctx(), steward.EventFilter{Action: "team.exploded"})
	wantCode(t, err, steward.EINVALID)

	// Newest first: the same events the other way round, page by page.
	var back []steward.Event
	f = steward.EventFilter{Action: steward.ActionTeamCreated, NewestFirst: true, ListOptions: steward.ListOptions{Limit: 3}}
	for {
		page, err := s.Events(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, page.Items...)
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	slices.Reverse(back)
	if !slices.EqualFunc(all, back, func(a, b steward.Event) bool { return a.Seq == b.Seq }) {
		t.Fatalf("newest first, reversed: %d events, want the %d oldest first", len(back), len(all))
	}
	// Since: the events at or after a time, the one at it included.
	for _, k := range []int{1, 3, 6} { // each after a clock step: no other event shares its time
		page, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionTeamCreated, Since: all[k].Time})
		if err != nil || len(page.Items) != 7-k || page.Items[0].Seq != all[k].Seq {
			t.Fatalf("since event %d's time: %d events, %v", k, len(page.Items), err)
		}
		page, err = s.Events(ctx(), steward.EventFilter{Since: all[k].Time, NewestFirst: true, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
		if err != nil || page.Items[len(page.Items)-1].Seq != all[k].Seq {
			t.Fatalf("since event %d's time, newest first: %v", k, err)
		}
	}
}

// testConcurrentAudit writes from many goroutines at once; the chain must
// come out whole, with no sequence number used twice.
func testConcurrentAudit(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 8; n++ {
				i := &steward.Identity{SystemID: sys.ID, ExternalID: fmt.Sprintf("c-%d", next()), Name: "concurrent", Kind: steward.KindBot, Environment: steward.EnvDev, Criticality: steward.LevelLow}
				if err := s.CreateIdentity(ctx(), i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := s.VerifyAudit(ctx())
	var ce *steward.ChainError
	if errors.As(err, &ce) || err != nil {
		t.Fatalf("chain after concurrent writes: %v", err)
	} else if n < 65 {
		t.Fatalf("verified %d events, want at least 65", n)
	}
}

func eventCount(tb testing.TB, s steward.Store) int {
	tb.Helper()
	n := 0
	f := steward.EventFilter{ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	for {
		page, err := s.Events(ctx(), f)
		if err != nil {
			tb.Fatal(err)
		}
		n += len(page.Items)
		if page.Next == "" {
			return n
		}
		f.After = page.Next
	}
}

func ids[T any](items []T, id func(T) int64) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}
