package steward_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// TestAuthorize is the role × permission × relationship table: what each
// kind of principal may do, and that a refusal says why.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	admin := steward.Principal{Kind: steward.PrincipalPerson, Name: "ada@example.test", PersonID: 1, Role: steward.RoleAdmin, Via: "token:ada"}
	auditor := steward.Principal{Kind: steward.PrincipalPerson, Name: "ida@example.test", PersonID: 2, Role: steward.RoleAuditor, Via: "token:ida"}
	member := steward.Principal{Kind: steward.PrincipalPerson, Name: "mo@example.test", PersonID: 3, Role: steward.RoleMember, Via: "token:mo"}
	bot := steward.Principal{Kind: steward.PrincipalAutomation, Name: "ci", IdentityID: 9, Role: steward.RoleAdmin, Via: "token:ci"}
	botMember := steward.Principal{Kind: steward.PrincipalAutomation, Name: "ci-read", IdentityID: 10, Role: steward.RoleMember, Via: "token:ci-read"}
	nobody := steward.Principal{}
	owner, team, everyone := steward.RelOwner, steward.RelTeam, steward.RelEveryone
	for _, tc := range []struct {
		name string
		p    steward.Principal
		perm steward.Permission
		rels []steward.Relationship
		want bool
		why  string // part of the reason
	}{
		{"admin writes", admin, steward.PermInventoryWrite, nil, true, "admin"},
		{"admin reads evidence", admin, steward.PermEvidenceRead, nil, true, "admin"},
		{"admin sets any owner", admin, steward.PermOwnerSet, nil, true, "admin"},
		{"admin reads any identity", admin, steward.PermIdentityRead, nil, true, "admin"},
		{"admin does not attest for the owner", admin, steward.PermAttest, []steward.Relationship{team}, false, "not even an admin"},
		{"admin attests what they own", admin, steward.PermAttest, []steward.Relationship{owner}, true, "owner"},
		{"admin manages own tokens", admin, steward.PermTokenSelf, nil, true, "own"},
		{"auditor reads evidence", auditor, steward.PermEvidenceRead, nil, true, "reads everything"},
		{"auditor reads any identity", auditor, steward.PermIdentityRead, nil, true, "reads everything"},
		{"auditor reads the directory", auditor, steward.PermDirectoryRead, nil, true, "reads everything"},
		{"auditor writes nothing", auditor, steward.PermInventoryWrite, nil, false, "writes nothing"},
		{"auditor sets no owner", auditor, steward.PermOwnerSet, []steward.Relationship{owner, team}, false, "writes nothing"},
		{"auditor attests nothing, even owned", auditor, steward.PermAttest, []steward.Relationship{owner}, false, "writes nothing"},
		{"auditor manages own tokens", auditor, steward.PermTokenSelf, nil, true, "own"},
		{"member reads the directory", member, steward.PermDirectoryRead, nil, true, "directory"},
		{"member reads what they own", member, steward.PermIdentityRead, []steward.Relationship{owner}, true, "own"},
		{"member reads their team's", member, steward.PermIdentityRead, []steward.Relationship{team}, true, "team"},
		{"member does not read others'", member, steward.PermIdentityRead, nil, false, "neither"},
		{"member reads all when configured", member, steward.PermIdentityRead, []steward.Relationship{everyone}, true, "members_see_all"},
		{"member sets owner of own", member, steward.PermOwnerSet, []steward.Relationship{owner}, true, "within their team"},
		{"member sets owner of team's", member, steward.PermOwnerSet, []steward.Relationship{team}, true, "within their team"},
		{"member sets no owner of others'", member, steward.PermOwnerSet, nil, false, "ask an admin"},
		{"configuration lets see, not set", member, steward.PermOwnerSet, []steward.Relationship{everyone}, false, "ask an admin"},
		{"member attests own", member, steward.PermAttest, []steward.Relationship{owner}, true, "owner"},
		{"member attests not team's", member, steward.PermAttest, []steward.Relationship{team}, false, "Only the identity's owner"},
		{"member reads no evidence", member, steward.PermEvidenceRead, nil, false, "auditor or admin"},
		{"member writes no inventory", member, steward.PermInventoryWrite, []steward.Relationship{owner, team}, false, "may not change the inventory"},
		{"member manages own tokens", member, steward.PermTokenSelf, nil, true, "own"},
		{"everyone asks whoami", member, steward.PermWhoami, nil, true, "who it is"},
		{"automation admin writes", bot, steward.PermInventoryWrite, nil, true, "admin"},
		{"automation has no personal tokens", bot, steward.PermTokenSelf, nil, false, "not a person"},
		{"member asks for access", member, steward.PermRequestAct, nil, true, "asks for access"},
		{"admin asks for access", admin, steward.PermRequestAct, nil, true, "asks for access"},
		{"auditor does not ask", auditor, steward.PermRequestAct, nil, false, "writes nothing"},
		{"automation does not ask", bot, steward.PermRequestAct, nil, false, "not a person"},
		{"member reads requests", member, steward.PermRequestRead, nil, true, "their own"},
		{"automation never attests", bot, steward.PermAttest, []steward.Relationship{owner}, false, "not a person"},
		{"automation member sees the directory", botMember, steward.PermDirectoryRead, nil, true, "directory"},
		{"automation member sees no identity", botMember, steward.PermIdentityRead, nil, false, "neither"},
		{"no role may do nothing", nobody, steward.PermWhoami, nil, false, "not known"},
		{"unknown role", steward.Principal{Kind: steward.PrincipalPerson, Role: "root"}, steward.PermDirectoryRead, nil, false, "not known"},
		{"unknown permission", admin, "delete.everything", nil, false, "not known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := steward.Authorize(tc.p, tc.perm, tc.rels...)
			if d.Allowed != tc.want || !strings.Contains(d.Reason, tc.why) {
				t.Errorf("Authorize(%s, %s, %v) = %+v; want allowed %v with a reason containing %q", tc.p.Role, tc.perm, tc.rels, d, tc.want, tc.why)
			}
			if err := d.Err(); (err == nil) != tc.want || (err != nil && steward.ErrorCode(err) != steward.EFORBIDDEN) {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

// TestRelationships: how a principal stands to an identity and to an owner
// assignment, from the catalog's facts.
func TestRelationships(t *testing.T) {
	t.Parallel()
	me := steward.Principal{Kind: steward.PrincipalPerson, PersonID: 3, Role: steward.RoleMember}
	bot := steward.Principal{Kind: steward.PrincipalAutomation, IdentityID: 9, Role: steward.RoleMember}
	id := func(n int64) *int64 { return &n }
	const myTeam = 7
	for _, tc := range []struct {
		name        string
		p           steward.Principal
		owner, team *int64
		want        []steward.Relationship
	}{
		{"own, team's", me, id(3), id(myTeam), []steward.Relationship{steward.RelOwner, steward.RelTeam}},
		{"own, other team", me, id(3), id(8), []steward.Relationship{steward.RelOwner}},
		{"team's", me, id(4), id(myTeam), []steward.Relationship{steward.RelTeam}},
		{"neither", me, id(4), id(8), nil},
		{"unowned, no team", me, nil, nil, nil},
		{"automation has none", bot, id(0), id(myTeam), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := steward.RelationshipsTo(tc.p, myTeam, tc.owner, tc.team); !slices.Equal(got, tc.want) {
				t.Errorf("RelationshipsTo = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name      string
		myTeam    int64
		a         steward.OwnerAssignment
		ownerTeam *int64
		allowed   bool
	}{
		{"to myself", myTeam, steward.OwnerAssignment{OwnerID: id(3)}, id(myTeam), true},
		{"to myself without a team", 0, steward.OwnerAssignment{OwnerID: id(3)}, nil, true},
		{"to a teammate", myTeam, steward.OwnerAssignment{OwnerID: id(4)}, id(myTeam), true},
		{"to my team", myTeam, steward.OwnerAssignment{TeamID: id(myTeam)}, nil, true},
		{"to a teammate and my team", myTeam, steward.OwnerAssignment{OwnerID: id(4), TeamID: id(myTeam)}, id(myTeam), true},
		{"back to the rules", myTeam, steward.OwnerAssignment{}, nil, true},
		{"to someone of another team", myTeam, steward.OwnerAssignment{OwnerID: id(5)}, id(8), false},
		{"to someone without a team", myTeam, steward.OwnerAssignment{OwnerID: id(5)}, nil, false},
		{"to another team", myTeam, steward.OwnerAssignment{TeamID: id(8)}, nil, false},
		{"myself to another team", myTeam, steward.OwnerAssignment{OwnerID: id(3), TeamID: id(8)}, id(myTeam), false},
		{"a teammate when I have no team", 0, steward.OwnerAssignment{OwnerID: id(4)}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rels := steward.AssignmentRelationships(me, tc.myTeam, tc.a, tc.ownerTeam)
			if got := steward.Authorize(me, steward.PermOwnerSet, rels...).Allowed; got != tc.allowed {
				t.Errorf("relationships %v: allowed %v, want %v", rels, got, tc.allowed)
			}
		})
	}
	if rels := steward.AssignmentRelationships(bot, myTeam, steward.OwnerAssignment{}, nil); rels != nil {
		t.Errorf("an automation principal stands to no assignment; got %v", rels)
	}
}

// TestTokenValidate: every token belongs to a principal; a personal token
// expires within the maximum.
func TestTokenValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	person, owner := int64(1), int64(2)
	in := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for name, tc := range map[string]struct {
		tok  steward.Token
		want string
	}{
		"personal":           {steward.Token{Name: "ada", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &person, ExpiresAt: in(steward.DefaultPersonalTokenTTL)}, ""},
		"personal, longest":  {steward.Token{Name: "ada", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &person, ExpiresAt: in(steward.MaxPersonalTokenTTL)}, ""},
		"personal, too long": {steward.Token{Name: "ada", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &person, ExpiresAt: in(steward.MaxPersonalTokenTTL + time.Second)}, "at most 90 days"},
		"personal, forever":  {steward.Token{Name: "ada", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &person}, "must expire"},
		"personal, nobody":   {steward.Token{Name: "ada", Role: steward.RoleMember, Kind: steward.PrincipalPerson, ExpiresAt: in(time.Hour)}, "needs its person"},
		"expired":            {steward.Token{Name: "ada", Role: steward.RoleMember, Kind: steward.PrincipalPerson, PersonID: &person, ExpiresAt: in(-time.Hour)}, "in the future"},
		"automation":         {steward.Token{Name: "ci", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &owner}, ""},
		"automation, owner":  {steward.Token{Name: "ci", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation}, "needs an owner"},
		"no principal":       {steward.Token{Name: "ci", Role: steward.RoleAdmin}, "neither"},
		"role":               {steward.Token{Name: "ci", Role: "viewer", Kind: steward.PrincipalAutomation, OwnerID: &owner}, "role"},
		"name":               {steward.Token{Name: "CI Bot", Role: steward.RoleAdmin, Kind: steward.PrincipalAutomation, OwnerID: &owner}, "token name"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.tok.Validate(now)
			if tc.want == "" && err != nil {
				t.Fatalf("unexpected %v", err)
			} else if tc.want != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tc.want)) {
				t.Fatalf("err = %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}
