package steward

import (
	"slices"
	"strings"
)

// PersonClaim says which claim of an OpenID provider names the Person who
// signs in.
type PersonClaim string

// Person claims.
const (
	// ClaimEmail matches the provider's email claim with a person's e-mail
	// address, without regard to case. The provider must not say that the
	// address is unverified (email_verified: false).
	ClaimEmail PersonClaim = "email"
	// ClaimSubject matches the provider's subject (sub) with a person's
	// external id, exactly: for a directory whose ids the provider shares.
	ClaimSubject PersonClaim = "subject"
)

// PersonClaims lists every PersonClaim.
var PersonClaims = []PersonClaim{ClaimEmail, ClaimSubject}

// Validate returns EINVALID unless c is a known claim.
func (c PersonClaim) Validate() error { return oneOf("person claim", c, PersonClaims) }

// ClaimMapping says how the claims of a person signed in through an OpenID
// provider become a Person of the directory and a Role.
type ClaimMapping struct {
	// Person is the claim that names the person. Default: ClaimEmail.
	Person PersonClaim
	// GroupsClaim is the claim that lists the person's groups ("groups").
	// Empty: groups are not read, and everyone gets DefaultRole.
	GroupsClaim string
	// Roles lists, for each of admin, auditor and member, the groups whose
	// members get that role. A person in groups of several roles gets the
	// strongest; a person in none is a member.
	Roles map[Role][]string
}

// signInRoles are the roles a mapping may give, strongest first.
var signInRoles = []Role{RoleAdmin, RoleAuditor, RoleMember}

// WithDefaults returns m with its defaults filled in.
func (m ClaimMapping) WithDefaults() ClaimMapping {
	if m.Person == "" {
		m.Person = ClaimEmail
	}
	return m
}

// Validate returns EINVALID describing the first problem with m (after
// WithDefaults).
func (m ClaimMapping) Validate() error {
	if err := m.Person.Validate(); err != nil {
		return err
	}
	if len(m.Roles) > 0 && m.GroupsClaim == "" {
		return Errorf(EINVALID, "roles map groups to roles, but no groups_claim says where the groups are.")
	}
	for role, groups := range m.Roles {
		if !slices.Contains(signInRoles, role) {
			return Errorf(EINVALID, "role %q is not one sign-in gives; one of: admin, auditor, member.", role)
		}
		for _, g := range groups {
			if strings.TrimSpace(g) == "" {
				return Errorf(EINVALID, "the groups of role %s include an empty name.", role)
			}
		}
	}
	return nil
}

// Claims are what an OpenID provider says about the person who signed in:
// its ID token's claims and its userinfo answer, taken together.
type Claims struct {
	Issuer  string
	Subject string
	Email   string
	// EmailVerified is the provider's email_verified, nil if it did not say.
	EmailVerified *bool
	// Name is the person's full name (name), or their preferred user name.
	Name string
	// Groups is the mapping's groups claim, empty when it is absent.
	Groups []string
}

// Who returns how the refusal page and the logs name the person: their
// e-mail address and the provider's subject.
func (c Claims) Who() string {
	if c.Email != "" {
		return c.Email + " (subject " + c.Subject + ")"
	}
	return "subject " + c.Subject
}

// SignIn is what a ClaimMapping makes of Claims: the person to look up and
// the role they sign in with, with the reason for the role.
type SignIn struct {
	// By and Key say how to find the person: the e-mail address (lower
	// case) or the external id.
	By  PersonClaim
	Key string
	// Role is the strongest role the person's groups map to, or
	// RoleMember.
	Role Role
	// Reason says why the person has Role, in words for the audit log and
	// the header's tooltip.
	Reason string
}

// MapClaims decides who signed in and in which role. It returns EFORBIDDEN
// when the claims cannot name a person: no subject, no e-mail address for
// a mapping by e-mail, or an address the provider says is unverified.
// It does not look the person up: the store does.
func MapClaims(m ClaimMapping, c Claims) (SignIn, error) {
	m = m.WithDefaults()
	if c.Subject == "" {
		return SignIn{}, Errorf(EFORBIDDEN, "The sign-in provider named no subject.")
	}
	s := SignIn{By: m.Person, Role: RoleMember, Reason: "in no group mapped to a role: member by default"}
	switch m.Person {
	case ClaimSubject:
		s.Key = c.Subject
	default:
		email := strings.ToLower(strings.TrimSpace(c.Email))
		if email == "" {
			return SignIn{}, Errorf(EFORBIDDEN, "The sign-in provider sent no e-mail address for subject %s, and Steward finds people by e-mail address. Ask the provider's administrators to release the email scope to Steward.", c.Subject)
		} else if c.EmailVerified != nil && !*c.EmailVerified {
			return SignIn{}, Errorf(EFORBIDDEN, "The sign-in provider says that the e-mail address %s is not verified, so it cannot name a person. Verify it with the provider and sign in again.", email)
		}
		s.Key = email
	}
	if m.GroupsClaim == "" {
		return s, nil
	}
	for _, role := range signInRoles {
		for _, g := range m.Roles[role] {
			if slices.Contains(c.Groups, g) {
				s.Role = role
				s.Reason = "member of group " + g + ", mapped to " + string(role)
				return s, nil
			}
		}
	}
	return s, nil
}

// SignInPerson returns the person that just-in-time creation makes of a
// subject the directory does not know: named by the provider, with the
// sign-in key as external id (the e-mail address or the subject), so that
// the next sign-in finds them.
func SignInPerson(s SignIn, c Claims) Person {
	p := Person{ExternalID: s.Key, Name: strings.TrimSpace(c.Name), Status: PersonActive}
	if s.By == ClaimEmail {
		p.Email = s.Key
	} else if c.EmailVerified == nil || *c.EmailVerified {
		p.Email = strings.ToLower(strings.TrimSpace(c.Email))
	}
	if p.Name == "" {
		p.Name = p.ExternalID
	}
	return p
}

// CheckSignIn returns EFORBIDDEN when p may not sign in: a person who has
// left keeps their record for the audit trail but not their access.
func CheckSignIn(p *Person) error {
	if p.Status == PersonDeparted {
		when := ""
		if p.DepartedAt != nil {
			when = " on " + p.DepartedAt.UTC().Format("2006-01-02")
		}
		return Errorf(EFORBIDDEN, "The directory lists %s as departed%s, and a person who has left cannot sign in.", p.Name, when)
	}
	return nil
}

// PersonSession is a web session of a person signed in through an OpenID
// provider: the person, the role MapClaims decided and why, and who the
// provider said signed in.
type PersonSession struct {
	PersonID int64
	Role     Role
	Reason   string
	Issuer   string
	Subject  string
}

// Validate returns EINVALID unless s names a person and a role sign-in
// gives.
func (s PersonSession) Validate() error {
	if s.PersonID <= 0 {
		return Errorf(EINVALID, "a person session needs a person.")
	} else if !slices.Contains(signInRoles, s.Role) {
		return Errorf(EINVALID, "role %q is not one sign-in gives; one of: admin, auditor, member.", s.Role)
	}
	return nil
}

// PersonPrincipal returns the principal of a person signed in with role
// through the session whose stored hash is sessionHash.
func PersonPrincipal(p *Person, role Role, sessionHash string) Principal {
	name := p.Email
	if name == "" {
		name = p.ExternalID
	}
	return Principal{Kind: PrincipalPerson, Name: name, PersonID: p.ID, Role: role, Via: SessionVia(sessionHash)}
}

// SessionVia is the Principal.Via of a web session: "session:" and the
// first 8 characters of the session's stored hash, never the secret.
func SessionVia(sessionHash string) string {
	if len(sessionHash) > 8 {
		sessionHash = sessionHash[:8]
	}
	return "session:" + sessionHash
}
