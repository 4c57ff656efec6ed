package steward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestMapClaims(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	groups := steward.ClaimMapping{GroupsClaim: "groups", Roles: map[steward.Role][]string{
		steward.RoleAdmin:   {"steward-admins", "platform-leads"},
		steward.RoleAuditor: {"audit"},
		steward.RoleMember:  {"engineering"},
	}}
	bySubject := groups
	bySubject.Person = steward.ClaimSubject
	ada := steward.Claims{Subject: "248289761001", Email: " Ada@Example.TEST ", EmailVerified: &yes}
	with := func(c steward.Claims, gs ...string) steward.Claims { c.Groups = gs; return c }
	for name, tc := range map[string]struct {
		m      steward.ClaimMapping
		c      steward.Claims
		by     steward.PersonClaim
		key    string
		role   steward.Role
		reason string // a word the reason must hold
		err    string // a word the refusal must hold; "" for none
	}{
		"email by default, member by default":          {steward.ClaimMapping{}, ada, steward.ClaimEmail, "ada@example.test", steward.RoleMember, "default", ""},
		"groups ignored without a groups claim":        {steward.ClaimMapping{}, with(ada, "steward-admins"), steward.ClaimEmail, "ada@example.test", steward.RoleMember, "default", ""},
		"admin group":                                  {groups, with(ada, "engineering", "platform-leads"), steward.ClaimEmail, "ada@example.test", steward.RoleAdmin, "platform-leads", ""},
		"the strongest role wins":                      {groups, with(ada, "audit", "steward-admins", "engineering"), steward.ClaimEmail, "ada@example.test", steward.RoleAdmin, "steward-admins", ""},
		"auditor":                                      {groups, with(ada, "audit", "engineering"), steward.ClaimEmail, "ada@example.test", steward.RoleAuditor, "audit", ""},
		"mapped member group":                          {groups, with(ada, "engineering"), steward.ClaimEmail, "ada@example.test", steward.RoleMember, "engineering", ""},
		"no mapped group":                              {groups, with(ada, "sales"), steward.ClaimEmail, "ada@example.test", steward.RoleMember, "default", ""},
		"group names are exact":                        {groups, with(ada, "Steward-Admins", "steward-admins-old"), steward.ClaimEmail, "ada@example.test", steward.RoleMember, "default", ""},
		"no groups at all":                             {groups, ada, steward.ClaimEmail, "ada@example.test", steward.RoleMember, "default", ""},
		"verification not said":                        {groups, steward.Claims{Subject: "s", Email: "bob@example.test"}, steward.ClaimEmail, "bob@example.test", steward.RoleMember, "", ""},
		"by subject, exactly":                          {bySubject, with(steward.Claims{Subject: "Ada-7"}, "audit"), steward.ClaimSubject, "Ada-7", steward.RoleAuditor, "audit", ""},
		"by subject, an unverified email is no matter": {bySubject, steward.Claims{Subject: "u1", Email: "x@example.test", EmailVerified: &no}, steward.ClaimSubject, "u1", steward.RoleMember, "", ""},
		"no subject":                                   {groups, steward.Claims{Email: "ada@example.test"}, "", "", "", "", "subject"},
		"no email":                                     {groups, steward.Claims{Subject: "s"}, "", "", "", "", "email scope"},
		"blank email":                                  {groups, steward.Claims{Subject: "s", Email: "  "}, "", "", "", "", "email scope"},
		"unverified email":                             {groups, steward.Claims{Subject: "s", Email: "eve@example.test", EmailVerified: &no}, "", "", "", "", "not verified"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := steward.MapClaims(tc.m, tc.c)
			if tc.err != "" {
				if steward.ErrorCode(err) != steward.EFORBIDDEN || !strings.Contains(steward.ErrorMessage(err), tc.err) {
					t.Fatalf("MapClaims = %+v, %v; want a refusal about %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.By != tc.by || got.Key != tc.key || got.Role != tc.role || !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("MapClaims = %+v; want by %s key %q role %s, reason with %q", got, tc.by, tc.key, tc.role, tc.reason)
			}
		})
	}
}

func TestClaimMappingValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		m   steward.ClaimMapping
		err string
	}{
		"defaults":         {steward.ClaimMapping{}, ""},
		"subject":          {steward.ClaimMapping{Person: steward.ClaimSubject}, ""},
		"groups":           {steward.ClaimMapping{GroupsClaim: "groups", Roles: map[steward.Role][]string{steward.RoleAuditor: {"audit"}}}, ""},
		"unknown claim":    {steward.ClaimMapping{Person: "nickname"}, "person claim"},
		"roles, no claim":  {steward.ClaimMapping{Roles: map[steward.Role][]string{steward.RoleAdmin: {"a"}}}, "groups_claim"},
		"a role not given": {steward.ClaimMapping{GroupsClaim: "groups", Roles: map[steward.Role][]string{steward.Role("viewer"): {"a"}}}, "viewer"},
		"an empty group":   {steward.ClaimMapping{GroupsClaim: "groups", Roles: map[steward.Role][]string{steward.RoleAdmin: {" "}}}, "empty"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.m.WithDefaults().Validate()
			if tc.err == "" && err != nil || tc.err != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tc.err)) {
				t.Fatalf("Validate = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestSignInPerson(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	for name, tc := range map[string]struct {
		in   steward.SignIn
		c    steward.Claims
		want steward.Person
	}{
		"by email": {steward.SignIn{By: steward.ClaimEmail, Key: "ada@example.test"}, steward.Claims{Subject: "s1", Email: "Ada@example.test", Name: " Ada Lovelace "},
			steward.Person{ExternalID: "ada@example.test", Email: "ada@example.test", Name: "Ada Lovelace", Status: steward.PersonActive}},
		"by subject, verified address": {steward.SignIn{By: steward.ClaimSubject, Key: "s1"}, steward.Claims{Subject: "s1", Email: "Bob@example.test", EmailVerified: &yes},
			steward.Person{ExternalID: "s1", Email: "bob@example.test", Name: "s1", Status: steward.PersonActive}},
		"by subject, unverified address": {steward.SignIn{By: steward.ClaimSubject, Key: "s1"}, steward.Claims{Subject: "s1", Email: "eve@example.test", EmailVerified: &no, Name: "Eve"},
			steward.Person{ExternalID: "s1", Name: "Eve", Status: steward.PersonActive}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := steward.SignInPerson(tc.in, tc.c); got != tc.want {
				t.Fatalf("SignInPerson = %+v, want %+v", got, tc.want)
			} else if err := got.Validate(); err != nil {
				t.Fatalf("the new person is not valid: %v", err)
			}
		})
	}
}

func TestCheckSignIn(t *testing.T) {
	t.Parallel()
	if err := steward.CheckSignIn(&steward.Person{Name: "Ada", Status: steward.PersonActive}); err != nil {
		t.Fatalf("an active person is refused: %v", err)
	}
	left := time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)
	err := steward.CheckSignIn(&steward.Person{Name: "Charles", Status: steward.PersonDeparted, DepartedAt: &left})
	if steward.ErrorCode(err) != steward.EFORBIDDEN || !strings.Contains(steward.ErrorMessage(err), "Charles") || !strings.Contains(steward.ErrorMessage(err), "2026-02-03") {
		t.Fatalf("a departed person: %v", err)
	}
}

func TestPersonPrincipal(t *testing.T) {
	t.Parallel()
	hash := steward.HashSecret("sts_x")
	p := steward.PersonPrincipal(&steward.Person{ID: 7, ExternalID: "ada", Email: "ada@example.test"}, steward.RoleAuditor, hash)
	if p.Actor() != "person:ada@example.test" || p.PersonID != 7 || p.Role != steward.RoleAuditor || p.Via != "session:"+hash[:8] {
		t.Fatalf("principal = %+v", p)
	}
	if p := steward.PersonPrincipal(&steward.Person{ID: 8, ExternalID: "s-42"}, steward.RoleMember, hash); p.Name != "s-42" {
		t.Fatalf("a person without an address is named %q, want their external id", p.Name)
	}
}
