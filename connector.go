package steward

import (
	"context"
	"iter"
	"time"
)

// A connector links Steward to a real system. As a Source it tells Steward
// what the system holds now; as a Target it changes the system. Sources
// stream, so that a system with millions of identities is read in bounded
// memory; reconciliation (SyncStore) turns a stream into upserts, removals
// and audit events.

// SourceIdentity is one identity as a source reports it.
type SourceIdentity struct {
	ExternalID  string             `json:"external_id"`           // unique within the system; the reconciliation key
	Name        string             `json:"name"`                  // display name; defaults to ExternalID
	Kind        IdentityKind       `json:"kind"`                  // required
	Environment Environment        `json:"environment,omitempty"` // default: the sync's default environment
	Criticality Level              `json:"criticality,omitempty"` // default: medium
	Status      IdentityStatus     `json:"status,omitempty"`      // active (default) or disabled
	Labels      map[string]string  `json:"labels,omitempty"`      // tags, labels, annotations: input to ownership rules
	Owner       string             `json:"owner,omitempty"`       // owner hint: a person's external id or email
	Team        string             `json:"team,omitempty"`        // team hint: a team name
	CreatedAt   *time.Time         `json:"created_at,omitempty"`
	LastUsedAt  *time.Time         `json:"last_used_at,omitempty"`
	Credentials []SourceCredential `json:"credentials,omitempty"`
	Links       []SourceLink       `json:"links,omitempty"` // identities of other systems it acts as
}

// SourceLink is a link a source reports from its identity to an identity of
// another system, named by the external id it has there (an AWS role ARN).
// That identity need not be in Steward yet: the link waits for it.
type SourceLink struct {
	Kind LinkKind `json:"kind"`
	To   string   `json:"to"`
}

// maxLinks bounds the links of one identity.
const maxLinks = 64

// SourceCredential is the metadata of one credential as a source reports
// it. There is no field for the secret: sources never read one.
type SourceCredential struct {
	ExternalID    string           `json:"external_id"` // unique within the identity: a key id or slot
	Kind          CredentialKind   `json:"kind"`
	Status        CredentialStatus `json:"status,omitempty"` // active (default) or disabled
	CreatedAt     *time.Time       `json:"created_at,omitempty"`
	LastRotatedAt *time.Time       `json:"last_rotated_at,omitempty"`
	LastUsedAt    *time.Time       `json:"last_used_at,omitempty"`
	ExpiresAt     *time.Time       `json:"expires_at,omitempty"`
	// Version is an opaque value that changes whenever the secret does and
	// tells nothing about it (PostgreSQL: a hash of the password
	// verifier's salt). A sync that reads another one than it read last
	// notices a rotation, even one the source gives no time for. Empty:
	// the source cannot tell.
	Version string `json:"version,omitempty"`
}

// SourceEntitlement is one permission or role as a source reports it.
type SourceEntitlement struct {
	Name        string `json:"name"` // unique within the system
	Description string `json:"description,omitempty"`
	Privileged  bool   `json:"privileged"`
	Sensitivity Level  `json:"sensitivity,omitempty"` // default: high if privileged, else low
}

// SourceGrant is one identity holding one entitlement as a source reports it.
type SourceGrant struct {
	Identity    string     `json:"identity"`       // the identity's external id
	Entitlement string     `json:"entitlement"`    // the entitlement's name
	Type        GrantType  `json:"type,omitempty"` // default: standing
	GrantedAt   *time.Time `json:"granted_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Record is one item of a source's stream: exactly one of Identity,
// Entitlement and Grant is set, unless the record is a skipped one (see
// Skipper). Pos says where it came from ("report.csv:12",
// "pg_roles:etl_writer") for error messages.
type Record struct {
	Identity    *SourceIdentity    `json:"identity,omitempty"`
	Entitlement *SourceEntitlement `json:"entitlement,omitempty"`
	Grant       *SourceGrant       `json:"grant,omitempty"`
	Pos         string             `json:"-"`
	// Sum, when a source sets it, is a 64-bit hash of the record exactly as
	// the source gave it (the JSONL importer: xxHash64 of the line). Two
	// records with the same Sum say the same thing. Zero: the store computes
	// one from the parsed record.
	Sum uint64 `json:"-"`
}

// Skipped reports whether r is a record a Skipper left unparsed: only its
// Sum is set.
func (r Record) Skipped() bool {
	return r.Identity == nil && r.Entitlement == nil && r.Grant == nil && r.Sum != 0
}

// Source reads what one system holds now.
type Source interface {
	// Read streams every record of the system. A record that cannot be read
	// is yielded as an error (an *Error with EINVALID whose message starts
	// with the position); the stream may go on after it, so that every bad
	// record is reported at once. Other errors end the stream.
	Read(ctx context.Context) iter.Seq2[Record, error]
}

// A Skipper is a Source that can tell, before parsing a record, whether the
// store already holds it as it is. The store keeps the Sum of every record
// of a system's last whole sync; on the next one, a record whose Sum known
// says may be skipped is yielded unparsed, with only Sum set (Skipped).
// A re-sync of a large, mostly unchanged snapshot then parses and compares
// only what changed.
type Skipper interface {
	Source
	ReadSkipping(ctx context.Context, known KnownFunc) iter.Seq2[Record, error]
}

// A KnownFunc sets skip[i] when the record whose sum is sums[i] may be left
// unread, and marks it brought back: a source that asks must then yield it,
// as a Skipped record. Sources ask for many sums at once (a batch of lines):
// the lookups wait on memory, and together they overlap. Safe for
// concurrent use.
type KnownFunc func(sums []uint64, skip []bool)

// SourceFunc makes a Source of a function.
type SourceFunc func(ctx context.Context) iter.Seq2[Record, error]

// Read calls f.
func (f SourceFunc) Read(ctx context.Context) iter.Seq2[Record, error] { return f(ctx) }

// SourcePerson is one person as a people source (LDAP, SCIM, HR) reports it.
type SourcePerson struct {
	ExternalID string       `json:"external_id"` // uid, employee number: the reconciliation key
	Name       string       `json:"name"`
	Email      string       `json:"email,omitempty"`
	Title      string       `json:"title,omitempty"`
	Team       string       `json:"team,omitempty"`    // team name (a slug); created if new
	Manager    string       `json:"manager,omitempty"` // the manager's ExternalID
	Status     PersonStatus `json:"status"`
	DepartedAt *time.Time   `json:"departed_at,omitempty"`
}

// PeopleSource reads the people of the organisation: where owners come from.
type PeopleSource interface {
	// People streams every person, active and departed. Errors as Source.Read.
	People(ctx context.Context) iter.Seq2[SourcePerson, error]
}

// Target changes a real system. Identities and entitlements are named by
// their external id and name in that system. Each method returns ENOTFOUND
// if the system has no such identity or entitlement, ENOTIMPL if the system
// cannot do it, and EUNAVAILABLE if it cannot be reached.
type Target interface {
	// Grant gives the identity the entitlement; granting twice is not an error.
	Grant(ctx context.Context, identity, entitlement string) error
	// Revoke takes the entitlement away; revoking what is not held is not an error.
	Revoke(ctx context.Context, identity, entitlement string) error
	// RotateCredential replaces the identity's secret. The new value goes to
	// the connector's configured sink and never back to Steward; the result
	// carries only metadata.
	RotateCredential(ctx context.Context, identity string) (*RotationResult, error)
	// Disable stops the identity from authenticating, keeping it.
	Disable(ctx context.Context, identity string) error
	// Delete removes the identity from the system.
	Delete(ctx context.Context, identity string) error
}

// IdentityCreator is what a Target may also do: make a new identity in its
// system, so that a new-identity request is fulfilled there and the
// identity is owned from its first day. Making one that exists already is
// ECONFLICT; the new identity has no secret until a rotation gives it one
// (to the connector's sink, never to Steward).
type IdentityCreator interface {
	CreateIdentity(ctx context.Context, identity string) error
}

// RotationResult is what Steward learns of a rotation: when, until when, and
// where the new value went. Never the value.
type RotationResult struct {
	// Credential is the external id of the credential rotated ("password")
	// and Kind its kind, as the connector's source reports them.
	Credential string         `json:"credential"`
	Kind       CredentialKind `json:"kind"`
	RotatedAt  time.Time      `json:"rotated_at"`
	ExpiresAt  *time.Time     `json:"expires_at,omitempty"`
	Sink       string         `json:"sink"` // "file:/run/secrets/etl", "stdout"
}

// Normalize fills the defaults of si (name, criticality, status, environment
// from defaultEnv) and validates it, returning EINVALID naming the problem.
func (si *SourceIdentity) Normalize(defaultEnv Environment) error {
	if si.Name == "" {
		si.Name = si.ExternalID
	}
	if si.Criticality == "" {
		si.Criticality = LevelMedium
	}
	if si.Status == "" {
		si.Status = IdentityActive
	}
	if si.Environment == "" {
		si.Environment = defaultEnv
	}
	if si.Status == IdentityRemoved {
		return Errorf(EINVALID, "identity %q: a source reports what exists; removed is set by Steward when it disappears.", si.ExternalID)
	}
	i := Identity{SystemID: 1, ExternalID: si.ExternalID, Name: si.Name, Kind: si.Kind, Environment: si.Environment,
		Criticality: si.Criticality, Status: si.Status, Labels: si.Labels, CreatedAt: si.CreatedAt, LastUsedAt: si.LastUsedAt}
	if err := i.Validate(); err != nil {
		return err
	}
	if err := checkText("owner", si.Owner, 320, false); err != nil {
		return err
	} else if err := checkText("team", si.Team, 128, false); err != nil {
		return err
	}
	seen := make(map[string]bool, len(si.Credentials))
	for k := range si.Credentials {
		c := &si.Credentials[k]
		if err := checkText("credential external id", c.ExternalID, 512, true); err != nil {
			return err
		} else if seen[c.ExternalID] {
			return Errorf(EINVALID, "identity %q lists credential %q twice.", si.ExternalID, c.ExternalID)
		}
		seen[c.ExternalID] = true
		if err := c.Kind.Validate(); err != nil {
			return err
		}
		// An empty status means active; it is left empty, so that what a
		// record says (and so its sum, see Record.Sum) does not change for
		// sources that never say.
		if c.Status != "" {
			if err := c.Status.Validate(); err != nil {
				return err
			}
		}
		if err := checkText("credential version", c.Version, 128, false); err != nil {
			return err
		}
		if c.CreatedAt != nil && c.ExpiresAt != nil && c.ExpiresAt.Before(*c.CreatedAt) {
			return Errorf(EINVALID, "credential %q expires before it was created.", c.ExternalID)
		}
	}
	if len(si.Links) > maxLinks {
		return Errorf(EINVALID, "identity %q has %d links; at most %d are kept.", si.ExternalID, len(si.Links), maxLinks)
	}
	links := make(map[SourceLink]bool, len(si.Links))
	for _, l := range si.Links {
		if err := l.Kind.Validate(); err != nil {
			return err
		} else if err := checkText("link target", l.To, 1024, true); err != nil {
			return err
		} else if links[l] {
			return Errorf(EINVALID, "identity %q lists the link %s %q twice.", si.ExternalID, l.Kind, l.To)
		}
		links[l] = true
	}
	return nil
}

// Normalize fills the default sensitivity of se and validates it.
func (se *SourceEntitlement) Normalize() error {
	if se.Sensitivity == "" {
		se.Sensitivity = LevelLow
		if se.Privileged {
			se.Sensitivity = LevelHigh
		}
	}
	e := Entitlement{SystemID: 1, Name: se.Name, Description: se.Description, Privileged: se.Privileged, Sensitivity: se.Sensitivity}
	return e.Validate()
}

// Normalize fills the default type of sg and validates it.
func (sg *SourceGrant) Normalize() error {
	if sg.Type == "" {
		sg.Type = GrantStanding
	}
	if err := checkText("grant identity", sg.Identity, 1024, true); err != nil {
		return err
	} else if err := checkText("grant entitlement", sg.Entitlement, 512, true); err != nil {
		return err
	}
	g := Grant{IdentityID: 1, EntitlementID: 1, Type: sg.Type, ExpiresAt: sg.ExpiresAt}
	if sg.GrantedAt != nil {
		g.GrantedAt = *sg.GrantedAt
	}
	return g.Validate()
}

// Normalize validates r: exactly one item set, and that item valid.
func (r *Record) Normalize(defaultEnv Environment) error {
	n := 0
	var err error
	if r.Identity != nil {
		n++
		err = r.Identity.Normalize(defaultEnv)
	}
	if r.Entitlement != nil {
		n++
		err = r.Entitlement.Normalize()
	}
	if r.Grant != nil {
		n++
		err = r.Grant.Normalize()
	}
	if n != 1 {
		return Errorf(EINVALID, "a record holds exactly one of identity, entitlement and grant; this one holds %d.", n)
	}
	return err
}

// Normalize validates sp, defaulting the status to active.
func (sp *SourcePerson) Normalize() error {
	if sp.Status == "" {
		sp.Status = PersonActive
	}
	p := Person{ExternalID: sp.ExternalID, Name: sp.Name, Email: sp.Email, Title: sp.Title, Status: sp.Status, DepartedAt: sp.DepartedAt}
	if p.Status == PersonDeparted && p.DepartedAt == nil {
		p.DepartedAt = &time.Time{} // a source may not know when; the sync stamps it
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if sp.Team != "" && !slugRE.MatchString(sp.Team) {
		return Errorf(EINVALID, "person %q: team %q must be a slug (lower-case letters, digits, '.', '_', '-').", sp.ExternalID, sp.Team)
	}
	return checkText("manager", sp.Manager, 256, false)
}

// AtPos prefixes an error's message with a position such as "file.csv:12",
// keeping its code, so that a user learns where a bad record is.
func AtPos(pos string, err error) error {
	if err == nil || pos == "" {
		return err
	}
	return &Error{Code: ErrorCode(err), Message: pos + ": " + ErrorMessage(err)}
}
