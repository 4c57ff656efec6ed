package steward

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Token is an API token. Only the SHA-256 of its secret is stored: a token is
// 32 random bytes, so a fast hash is enough and a stolen database yields no
// usable token.
//
// Every token belongs to a principal. A personal token (Kind
// PrincipalPerson) is a person's own, made by them or for them by a local
// administrator, and always expires (see PersonalTokenTTL). An automation
// token (Kind PrincipalAutomation) is the credential of a non-human
// identity of Steward's own inventory, registered when the token is made,
// with an owner like any other identity.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Kind is PrincipalPerson or PrincipalAutomation.
	Kind PrincipalKind `json:"kind"`
	// PersonID is the person of a personal token.
	PersonID *int64 `json:"person_id,omitempty"`
	// IdentityID is the automation identity of an automation token; the
	// store registers it.
	IdentityID *int64 `json:"identity_id,omitempty"`
	// OwnerID is the owner of an automation token's identity: required
	// to create one, read back from the identity (nil for a token from
	// before principals, which is an ownership gap until someone owns it).
	OwnerID *int64 `json:"owner_id,omitempty"`
	// Principal is the name the token acts under: the person's e-mail
	// address or the automation identity's name. Set by the store.
	Principal string `json:"principal,omitempty"`
	// PersonActive is false when a personal token's person has departed:
	// such a token no longer authenticates. Set by the store.
	PersonActive bool `json:"-"`
}

// Personal token lifetimes: a personal token always expires, so that a
// token forgotten by someone who moves on does not outlive their need.
const (
	// DefaultPersonalTokenTTL is a personal token's lifetime when none is
	// asked for.
	DefaultPersonalTokenTTL = 30 * 24 * time.Hour
	// MaxPersonalTokenTTL is the longest lifetime a personal token may
	// have.
	MaxPersonalTokenTTL = 90 * 24 * time.Hour
)

// Validate returns EINVALID describing the first problem with t as it is
// about to be created at now: its name, role and principal, and, for a
// personal token, an expiry within MaxPersonalTokenTTL.
func (t *Token) Validate(now time.Time) error {
	if !slugRE.MatchString(t.Name) {
		return Errorf(EINVALID, "token name %q must be 1-128 lower-case letters, digits, '.', '_' or '-'.", t.Name)
	} else if err := t.Role.Validate(); err != nil {
		return err
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return Errorf(EINVALID, "token expiry must be in the future.")
	}
	switch t.Kind {
	case PrincipalPerson:
		if t.PersonID == nil {
			return Errorf(EINVALID, "a personal token needs its person.")
		} else if t.ExpiresAt == nil {
			return Errorf(EINVALID, "a personal token must expire, within %s.", formatDays(MaxPersonalTokenTTL))
		} else if t.ExpiresAt.Sub(now) > MaxPersonalTokenTTL {
			return Errorf(EINVALID, "a personal token may live at most %s; ask for less.", formatDays(MaxPersonalTokenTTL))
		}
	case PrincipalAutomation:
		if t.OwnerID == nil {
			return Errorf(EINVALID, "an automation token needs an owner: the person who answers for the automation that uses it.")
		}
	default:
		return Errorf(EINVALID, "a token belongs to a person (a personal token) or to an automation identity; kind %q is neither.", string(t.Kind))
	}
	return nil
}

// formatDays writes a whole number of days, "90 days".
func formatDays(d time.Duration) string {
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

// Usable reports whether t may authenticate at now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt)) &&
		(t.Kind != PrincipalPerson || t.PersonActive)
}

// Via is what a request made with t came through, as audit events record it.
func (t *Token) Via() string { return "token:" + t.Name }

// AsPrincipal returns who acts with t.
func (t *Token) AsPrincipal() Principal {
	p := Principal{Kind: t.Kind, Name: t.Principal, Role: t.Role, Via: t.Via()}
	if t.PersonID != nil {
		p.PersonID = *t.PersonID
	}
	if t.IdentityID != nil {
		p.IdentityID = *t.IdentityID
	}
	return p
}

// TokenPrefix starts every API token so that secret scanners can spot one.
const TokenPrefix = "stw_"

// SessionPrefix starts every web session cookie value.
const SessionPrefix = "sts_"

// NewSecret returns a new random secret with the given prefix and the hash
// under which it is stored.
func NewSecret(prefix string) (raw, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	raw = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return raw, HashSecret(raw)
}

// HashSecret returns the stored form of a token or session secret.
func HashSecret(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// WellFormedSecret reports whether raw looks like a secret with prefix, so
// that garbage is refused before a store lookup.
func WellFormedSecret(prefix, raw string) bool {
	return strings.HasPrefix(raw, prefix) && len(raw) == len(prefix)+43
}

// Fingerprint returns the keyed fingerprint of a credential value: hex
// HMAC-SHA-256 under key. With the key kept outside the database, a stored
// fingerprint cannot be brute-forced back to a weak secret, yet a value found
// in a leak can be matched to its credential.
func Fingerprint(key, value []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil))
}
