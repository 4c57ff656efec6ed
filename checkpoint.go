package steward

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strconv"
	"time"
)

// CheckpointFormat names the version of a checkpoint file and of the bytes
// it signs.
const CheckpointFormat = "steward.audit.checkpoint.v1"

// MaxCheckpointBytes bounds a checkpoint file: a real one is under 400
// bytes.
const MaxCheckpointBytes = 4096

// Checkpoint is a signed statement of the audit chain's head: "event Seq,
// written at EventTime, has hash Hash". Kept away from the database (a
// ticket, a WORM bucket, another team's repository), it lets anyone with
// the public key notice that history up to Seq was rewritten, even by
// someone who can write the database and recompute every hash
// (VerifyChainWith).
type Checkpoint struct {
	Format    string    `json:"format"` // CheckpointFormat
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	EventTime time.Time `json:"event_time"`
	SignedAt  time.Time `json:"signed_at"`
	// Signer is the id of the signing key's public key (SigningKeyID).
	Signer string `json:"signer"`
	// Signature is the ed25519 signature of SignedBytes, base64.
	Signature string `json:"signature"`
}

// SignedBytes are the bytes the signature covers: every field but the
// signature, one per line, times in UTC at microseconds (which the stores
// keep). They do not depend on how the JSON file is laid out.
func (c *Checkpoint) SignedBytes() []byte {
	return fmt.Appendf(nil, "%s\nseq %d\nhash %s\nevent_time %s\nsigned_at %s\nsigner %s\n", CheckpointFormat, c.Seq, c.Hash,
		c.EventTime.UTC().Format(checkpointTime), c.SignedAt.UTC().Format(checkpointTime), c.Signer)
}

const checkpointTime = "2006-01-02T15:04:05.000000Z"

// SignCheckpoint returns a checkpoint of the event with seq, hash and
// time, signed by key at now.
func SignCheckpoint(key ed25519.PrivateKey, seq int64, hash string, eventTime, now time.Time) *Checkpoint {
	c := &Checkpoint{Format: CheckpointFormat, Seq: seq, Hash: hash, EventTime: eventTime.UTC().Truncate(time.Microsecond),
		SignedAt: now.UTC().Truncate(time.Microsecond), Signer: SigningKeyID(key.Public().(ed25519.PublicKey))}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.SignedBytes()))
	return c
}

// Marshal returns the checkpoint file's text.
func (c *Checkpoint) Marshal() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// ParseCheckpoint reads a checkpoint file. It checks the form of every
// field, not the signature (Verify does); EINVALID names what is wrong.
func ParseCheckpoint(b []byte) (*Checkpoint, error) {
	if len(b) > MaxCheckpointBytes {
		return nil, Errorf(EINVALID, "checkpoint: the file has %d bytes, more than a checkpoint's %d: is it the right file?", len(b), MaxCheckpointBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Checkpoint
	if err := dec.Decode(&c); err != nil {
		return nil, Errorf(EINVALID, "checkpoint: not a checkpoint file (%v).", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(EINVALID, "checkpoint: text after the checkpoint.")
	}
	switch {
	case c.Format != CheckpointFormat:
		return nil, Errorf(EINVALID, "checkpoint: format %q is not %s.", truncateText(c.Format, 64), CheckpointFormat)
	case c.Seq < 1:
		return nil, Errorf(EINVALID, "checkpoint: seq %d is not an event's.", c.Seq)
	case !isHexLen(c.Hash, sha256.Size):
		return nil, Errorf(EINVALID, "checkpoint: hash is not 64 lower-case hex digits.")
	case !isHexLen(c.Signer, 8):
		return nil, Errorf(EINVALID, "checkpoint: signer is not a key id (16 lower-case hex digits).")
	case c.EventTime.IsZero() || c.SignedAt.IsZero():
		return nil, Errorf(EINVALID, "checkpoint: event_time and signed_at are required.")
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, Errorf(EINVALID, "checkpoint: signature is not %d bytes of base64.", ed25519.SignatureSize)
	}
	return &c, nil
}

// isHexLen reports whether s is n bytes in lower-case hex.
func isHexLen(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// Verify checks the checkpoint's signature with the public key among keys
// whose id it names. It returns EINVALID when no key has that id or the
// signature does not verify: the file was altered, or signed by another
// key.
func (c *Checkpoint) Verify(keys []ed25519.PublicKey) error {
	for _, k := range keys {
		if SigningKeyID(k) != c.Signer {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(c.Signature)
		if err != nil || !ed25519.Verify(k, c.SignedBytes(), sig) {
			return Errorf(EINVALID, "checkpoint of event %d: the signature does not verify with public key %s: the file was altered.", c.Seq, c.Signer)
		}
		return nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = SigningKeyID(k)
	}
	return Errorf(EINVALID, "checkpoint of event %d is signed by key %s, and the public keys given are %v: give that key's public key file.", c.Seq, c.Signer, ids)
}

// SigningKeyID is the short fingerprint of a checkpoint signing key: the
// first 16 hex digits of the SHA-256 of the public key.
func SigningKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateSigningKey returns a new ed25519 key pair as PEM: the private
// key in PKCS #8, the public key in PKIX (the forms openssl reads).
func GenerateSigningKey() (private, public []byte, id string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), SigningKeyID(pub), nil
}

// ParseSigningKey reads an ed25519 private key in PEM (PKCS #8).
func ParseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, Errorf(EINVALID, "signing key: not a PEM \"PRIVATE KEY\" (steward audit anchor --init makes one).")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, Errorf(EINVALID, "signing key: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, Errorf(EINVALID, "signing key: an ed25519 key is needed, this is a %T.", k)
	}
	return priv, nil
}

// ParsePublicKey reads an ed25519 public key in PEM (PKIX).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, Errorf(EINVALID, "public key: not a PEM \"PUBLIC KEY\" (steward audit anchor --init writes one next to the signing key).")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, Errorf(EINVALID, "public key: %v", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, Errorf(EINVALID, "public key: an ed25519 key is needed, this is a %T.", k)
	}
	return pub, nil
}

// String describes the checkpoint for people.
func (c *Checkpoint) String() string {
	return "checkpoint of event " + strconv.FormatInt(c.Seq, 10) + " signed " + c.SignedAt.UTC().Format(time.RFC3339) + " by key " + c.Signer
}
