package steward

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// AuditKey is a secret that seals audit events: each event written with a
// key carries an HMAC-SHA-256 of its hash under the key (Event.MAC) and the
// key's id (Event.KeyID). The key is kept outside the database, so that
// someone who can write the database can still recompute the SHA-256
// chain but not the seals: a rewritten chain is caught by whoever holds the
// key (VerifyChainWith).
type AuditKey struct {
	// ID is a short fingerprint of the secret, never the secret: the first
	// 16 hex digits of a SHA-256 over it. Events record it, so that a
	// verifier knows which key sealed each one.
	ID     string
	secret []byte
}

// MinAuditKeyBytes is the shortest audit key secret accepted: 256 bits.
const MinAuditKeyBytes = 32

// maxAuditKeyBytes bounds one key line, so that a wrong file given as the
// key (a database, a log) is refused rather than read whole into a key.
const maxAuditKeyBytes = 256

// NewAuditKey makes a key of secret, which must be at least
// MinAuditKeyBytes long (EINVALID otherwise).
func NewAuditKey(secret []byte) (AuditKey, error) {
	if len(secret) < MinAuditKeyBytes || len(secret) > maxAuditKeyBytes {
		return AuditKey{}, Errorf(EINVALID, "an audit key must be %d to %d bytes (%d to %d hex digits); this one has %d bytes.",
			MinAuditKeyBytes, maxAuditKeyBytes, 2*MinAuditKeyBytes, 2*maxAuditKeyBytes, len(secret))
	}
	sum := sha256.Sum256(append([]byte("steward.audit.key-id.v1\x00"), secret...))
	return AuditKey{ID: hex.EncodeToString(sum[:8]), secret: append([]byte(nil), secret...)}, nil
}

// Seal returns the seal of an event whose hash is hash: the hex
// HMAC-SHA-256 under k of a domain tag and the hash. The hash covers every
// field of the event and the one before it, so the seal covers them too.
func (k AuditKey) Seal(hash string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("steward.event.mac.v1\x00"))
	m.Write([]byte(hash))
	return hex.EncodeToString(m.Sum(nil))
}

// SealHead returns the seal of the chain's head row (ChainHead): the hex
// HMAC-SHA-256 under k of another domain tag, seq and hash. It differs
// from the seal of the newest event, so that a writer who deletes events
// from the end cannot make the head's seal out of an event's.
func (k AuditKey) SealHead(seq int64, hash string) string {
	m := hmac.New(sha256.New, k.secret)
	fmt.Fprintf(m, "steward.audit.head.v1\x00%d\x00%s", seq, hash)
	return hex.EncodeToString(m.Sum(nil))
}

// checkSeal reports whether mac is the seal of hash under k, in constant
// time.
func (k AuditKey) checkSeal(hash, mac string) bool { return sameHex(k.Seal(hash), mac) }

// sameHex compares two hex seals in constant time.
func sameHex(a, b string) bool {
	x, err1 := hex.DecodeString(a)
	y, err2 := hex.DecodeString(b)
	return err1 == nil && err2 == nil && hmac.Equal(x, y)
}

// AuditKeys are the audit keys a Steward knows: the first seals new
// events, the others (older keys, after a rotation) only verify the events
// they sealed.
type AuditKeys struct {
	keys []AuditKey
}

// NewAuditKeys returns the keys, the first the current one. It returns
// EINVALID for none or for one given twice.
func NewAuditKeys(keys ...AuditKey) (*AuditKeys, error) {
	if len(keys) == 0 {
		return nil, Errorf(EINVALID, "no audit key given.")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.ID] {
			return nil, Errorf(EINVALID, "audit key %s is given twice.", k.ID)
		}
		seen[k.ID] = true
	}
	return &AuditKeys{keys: keys}, nil
}

// Current returns the key that seals new events.
func (ks *AuditKeys) Current() AuditKey { return ks.keys[0] }

// Key returns the key with id, and false if it is not among ks.
func (ks *AuditKeys) Key(id string) (AuditKey, bool) {
	for _, k := range ks.keys {
		if k.ID == id {
			return k, true
		}
	}
	return AuditKey{}, false
}

// IDs lists the keys' ids, the current one first.
func (ks *AuditKeys) IDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = k.ID
	}
	return ids
}

// ParseAuditKeys reads an audit key file (or the STEWARD_AUDIT_KEY
// variable): one key per line as hex digits, the current key first and
// older ones after it; blank lines and lines starting with # are ignored.
// A secret never appears in an error: a bad line is named by its number.
func ParseAuditKeys(text string) (*AuditKeys, error) {
	var keys []AuditKey
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		secret, err := hex.DecodeString(line)
		if err != nil {
			return nil, Errorf(EINVALID, "audit key line %d is not hex digits (one key per line, # for comments).", i+1)
		}
		k, err := NewAuditKey(secret)
		if err != nil {
			return nil, Errorf(EINVALID, "audit key line %d: %s", i+1, ErrorMessage(err))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, Errorf(EINVALID, "the audit key holds no key: one line of %d hex digits is one key (steward audit key generates one).", 2*MinAuditKeyBytes)
	}
	return NewAuditKeys(keys...)
}

// GenerateAuditKey returns a new random key and the text of a key file
// that holds it, with comments that say what it is.
func GenerateAuditKey(now time.Time) (AuditKey, string, error) {
	secret := make([]byte, MinAuditKeyBytes)
	if _, err := rand.Read(secret); err != nil {
		return AuditKey{}, "", err
	}
	k, err := NewAuditKey(secret)
	if err != nil {
		return AuditKey{}, "", err
	}
	text := fmt.Sprintf(`# Steward audit key: it seals every audit event (HMAC-SHA-256). Keep it
# secret and away from the database; anyone who holds it and can write the
# database can forge history. One key per line: the first seals new events,
# the ones below it verify the events they sealed (docs/audit.md).
# key %s, made %s
%s
`, k.ID, now.UTC().Format(time.RFC3339), hex.EncodeToString(secret))
	return k, text, nil
}
