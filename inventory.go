package steward

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Team is a group of people who can own identities.
type Team struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"` // unique slug, e.g. "payments-platform"
	DisplayName string    `json:"display_name"`
	ManagerID   *int64    `json:"manager_id,omitempty"` // a Person
	CreatedAt   time.Time `json:"created_at"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// Validate returns EINVALID describing the first problem with t.
func (t *Team) Validate() error {
	if !slugRE.MatchString(t.Name) {
		return Errorf(EINVALID, "team name %q must be 1-128 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.", t.Name)
	}
	return checkText("team display name", t.DisplayName, 256, false)
}

// Person is a human in the organisation: an employee or contractor who may
// own identities, approve requests and answer reviews.
type Person struct {
	ID         int64        `json:"id"`
	ExternalID string       `json:"external_id"` // id in the people source (LDAP uid, HR id); unique
	Name       string       `json:"name"`
	Email      string       `json:"email"`
	Title      string       `json:"title,omitempty"`
	TeamID     *int64       `json:"team_id,omitempty"`
	ManagerID  *int64       `json:"manager_id,omitempty"`
	Status     PersonStatus `json:"status"`
	DepartedAt *time.Time   `json:"departed_at,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
}

// Validate returns EINVALID describing the first problem with p.
func (p *Person) Validate() error {
	if err := checkText("person external id", p.ExternalID, 256, true); err != nil {
		return err
	} else if err := checkText("person name", p.Name, 256, true); err != nil {
		return err
	} else if p.Email != "" && (!strings.Contains(p.Email, "@") || len(p.Email) > 320) {
		return Errorf(EINVALID, "person email %q is not an address.", p.Email)
	} else if err := p.Status.Validate(); err != nil {
		return err
	} else if p.Status == PersonDeparted && p.DepartedAt == nil {
		return Errorf(EINVALID, "a departed person needs departed_at.")
	} else if p.ManagerID != nil && p.ID != 0 && *p.ManagerID == p.ID {
		return Errorf(EINVALID, "a person cannot be their own manager.")
	}
	return nil
}

// System is a connected source or target: an AWS account, a Kubernetes
// cluster, a GitHub organisation, a database, a Vault.
type System struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"` // unique slug, e.g. "aws-prod-payments"
	Kind        SystemKind `json:"kind"`
	Description string     `json:"description,omitempty"`
	OwnerTeamID *int64     `json:"owner_team_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Validate returns EINVALID describing the first problem with s.
func (s *System) Validate() error {
	if !slugRE.MatchString(s.Name) {
		return Errorf(EINVALID, "system name %q must be 1-128 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.", s.Name)
	} else if err := s.Kind.Validate(); err != nil {
		return err
	}
	return checkText("system description", s.Description, 2048, false)
}

// Identity is one account on one system: a person's login or a non-human
// identity such as a service account, an API key or a certificate. OwnerID and
// TeamID are optional because real estates have unowned identities; their
// absence is an ownership gap, not an error.
type Identity struct {
	ID          int64             `json:"id"`
	SystemID    int64             `json:"system_id"`
	ExternalID  string            `json:"external_id"` // unique within the system
	Name        string            `json:"name"`
	Kind        IdentityKind      `json:"kind"`
	Environment Environment       `json:"environment"`
	Criticality Level             `json:"criticality"`
	OwnerID     *int64            `json:"owner_id,omitempty"` // a Person
	TeamID      *int64            `json:"team_id,omitempty"`
	Status      IdentityStatus    `json:"status"`
	Labels      map[string]string `json:"labels,omitempty"`
	// CreatedAt is when the identity was created in its system, as its
	// source says; nil when the source does not say (a PostgreSQL role, a
	// CSV row without the column). Steward never fills it with a time of
	// its own: when it first recorded the identity is in the audit log.
	CreatedAt  *time.Time `json:"created_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// Set by Steward, not by writers:
	OwnerSource OwnerSource `json:"owner_source,omitempty"` // where OwnerID/TeamID came from
	OwnerReason OwnerReason `json:"owner_reason,omitzero"`  // why: which rule, which tag, or by hand
	RemovedAt   *time.Time  `json:"removed_at,omitempty"`   // when a sync last saw it gone
	AttestedAt  *time.Time  `json:"attested_at,omitempty"`  // when its owner last confirmed it
	AttestedBy  *int64      `json:"attested_by,omitempty"`
	// OldestCredentialAt is when the identity's oldest credential was last
	// rotated, or created if it never was: how long its longest-standing
	// secret has been in place. Nil when it has no credential, or none
	// whose time is known. Expired credentials count: they are still there
	// to be cleaned up.
	OldestCredentialAt *time.Time `json:"oldest_credential_at,omitempty"`
}

// Validate returns EINVALID describing the first problem with i.
func (i *Identity) Validate() error {
	if i.SystemID <= 0 {
		return Errorf(EINVALID, "identity needs a system_id.")
	} else if err := checkText("identity external id", i.ExternalID, 1024, true); err != nil {
		return err
	} else if err := checkText("identity name", i.Name, 512, true); err != nil {
		return err
	} else if err := i.Kind.Validate(); err != nil {
		return err
	} else if err := i.Environment.Validate(); err != nil {
		return err
	} else if err := oneOf("criticality", i.Criticality, Levels); err != nil {
		return err
	} else if err := i.Status.Validate(); err != nil {
		return err
	} else if len(i.Labels) > 64 {
		return Errorf(EINVALID, "identity has %d labels; at most 64 are kept.", len(i.Labels))
	}
	for k, v := range i.Labels {
		if err := checkText("label key", k, 256, true); err != nil {
			return err
		} else if err := checkText("label "+k, v, 1024, false); err != nil {
			return err
		}
	}
	if i.LastUsedAt != nil && i.CreatedAt != nil && i.LastUsedAt.Before(i.CreatedAt.Add(-time.Minute)) {
		return Errorf(EINVALID, "identity %q was last used before it was created.", i.Name)
	}
	return nil
}

// Credential is the metadata of one secret that an identity authenticates
// with. Steward never stores the value: only its kind, its dates and a keyed
// fingerprint (see Fingerprint) that lets a leaked value be matched without
// being kept.
type Credential struct {
	ID         int64          `json:"id"`
	IdentityID int64          `json:"identity_id"`
	ExternalID string         `json:"external_id,omitempty"` // key id or slot in its system; unique per identity when set
	Kind       CredentialKind `json:"kind"`
	// Status says whether the credential can authenticate: a disabled key
	// (GCP disabled, AWS Inactive) is kept, and can be enabled again.
	// Default: active.
	Status CredentialStatus `json:"status"`
	// CreatedAt is when it was issued, as its source says; nil when the
	// source does not say. Never a time of Steward's own.
	CreatedAt     *time.Time `json:"created_at,omitempty"`
	LastRotatedAt *time.Time `json:"last_rotated_at,omitempty"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	Fingerprint   string     `json:"fingerprint,omitempty"` // hex HMAC-SHA-256
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate returns EINVALID describing the first problem with c.
func (c *Credential) Validate() error {
	if c.IdentityID <= 0 {
		return Errorf(EINVALID, "credential needs an identity_id.")
	} else if err := c.Kind.Validate(); err != nil {
		return err
	} else if err := c.Status.Validate(); err != nil {
		return err
	} else if err := checkText("credential external id", c.ExternalID, 512, false); err != nil {
		return err
	} else if c.Fingerprint != "" && !fingerprintRE.MatchString(c.Fingerprint) {
		return Errorf(EINVALID, "credential fingerprint must be 64 lower-case hex digits (HMAC-SHA-256); never send the secret itself.")
	} else if c.ExpiresAt != nil && c.CreatedAt != nil && c.ExpiresAt.Before(*c.CreatedAt) {
		return Errorf(EINVALID, "credential expires before it was created.")
	}
	return nil
}

// Age returns how long ago the credential was last rotated, or created if it
// never was. known is false when neither time is known: the age of a
// credential whose source gives no dates is unknown, not zero.
func (c *Credential) Age(now time.Time) (age time.Duration, known bool) {
	switch {
	case c.LastRotatedAt != nil:
		return now.Sub(*c.LastRotatedAt), true
	case c.CreatedAt != nil:
		return now.Sub(*c.CreatedAt), true
	}
	return 0, false
}

// IdentityLink ties one identity to another: a Kubernetes service account
// that assumes an AWS IAM role, say. Its source names the other identity by
// the external id it has in its own system (ToRef, the role's ARN); ToID is
// set once an identity with that external id is in the inventory of another
// system, and until then the link is pending. Syncs of the source keep
// links, as they keep credentials.
type IdentityLink struct {
	ID        int64     `json:"id"`
	FromID    int64     `json:"from_id"`
	Kind      LinkKind  `json:"kind"`
	ToRef     string    `json:"to_ref"`
	ToID      *int64    `json:"to_id,omitempty"` // nil: no identity with ToRef is known yet
	CreatedAt time.Time `json:"created_at"`      // when Steward recorded the link
}

// IdentityLinkView is a link with the names of both ends, for a reader of
// either identity.
type IdentityLinkView struct {
	IdentityLink
	FromName   string         `json:"from_name"`
	FromSystem string         `json:"from_system"`
	ToName     string         `json:"to_name,omitempty"`
	ToSystem   string         `json:"to_system,omitempty"`
	ToStatus   IdentityStatus `json:"to_status,omitempty"`
}

// Entitlement is a permission or role on a system that a grant gives to an
// identity.
type Entitlement struct {
	ID          int64     `json:"id"`
	SystemID    int64     `json:"system_id"`
	Name        string    `json:"name"` // unique within the system
	Description string    `json:"description,omitempty"`
	Privileged  bool      `json:"privileged"`
	Sensitivity Level     `json:"sensitivity"`
	CreatedAt   time.Time `json:"created_at"`
}

// Validate returns EINVALID describing the first problem with e.
func (e *Entitlement) Validate() error {
	if e.SystemID <= 0 {
		return Errorf(EINVALID, "entitlement needs a system_id.")
	} else if err := checkText("entitlement name", e.Name, 512, true); err != nil {
		return err
	} else if err := checkText("entitlement description", e.Description, 2048, false); err != nil {
		return err
	}
	return oneOf("sensitivity", e.Sensitivity, Levels)
}

// Grant gives one identity one entitlement. JIT and exception grants are
// time-bound and must expire; standing grants may.
type Grant struct {
	ID            int64      `json:"id"`
	IdentityID    int64      `json:"identity_id"`
	EntitlementID int64      `json:"entitlement_id"`
	Type          GrantType  `json:"type"`
	GrantedAt     time.Time  `json:"granted_at"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	GrantedVia    string     `json:"granted_via"` // "sync:aws-prod", "request:42", "demo"
}

// Validate returns EINVALID describing the first problem with g.
func (g *Grant) Validate() error {
	if g.IdentityID <= 0 || g.EntitlementID <= 0 {
		return Errorf(EINVALID, "grant needs an identity_id and an entitlement_id.")
	} else if err := g.Type.Validate(); err != nil {
		return err
	} else if g.Type != GrantStanding && g.ExpiresAt == nil {
		return Errorf(EINVALID, "a %s grant must have expires_at: time-bound access has an end.", g.Type)
	} else if g.ExpiresAt != nil && !g.GrantedAt.IsZero() && !g.ExpiresAt.After(g.GrantedAt) {
		return Errorf(EINVALID, "grant expires_at must be after granted_at.")
	}
	return checkText("grant granted_via", g.GrantedVia, 256, false)
}

// checkText validates a free-text field: valid UTF-8, no control characters,
// within max bytes, and present when required.
func checkText(field, v string, max int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return Errorf(EINVALID, "%s is required.", field)
	} else if len(v) > max {
		return Errorf(EINVALID, "%s is %d bytes; the limit is %d.", field, len(v), max)
	} else if !utf8.ValidString(v) {
		return Errorf(EINVALID, "%s is not valid UTF-8.", field)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return Errorf(EINVALID, "%s contains a control character.", field)
		}
	}
	return nil
}
