package steward

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Token is an API token. Only the SHA-256 of its secret is stored: a token is
// 32 random bytes, so a fast hash is enough and a stolen database yields no
// usable token.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Validate returns EINVALID describing the first problem with t.
func (t *Token) Validate() error {
	if !slugRE.MatchString(t.Name) {
		return Errorf(EINVALID, "token name %q must be 1-128 lower-case letters, digits, '.', '_' or '-'.", t.Name)
	}
	return t.Role.Validate()
}

// Usable reports whether t may authenticate at now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
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
