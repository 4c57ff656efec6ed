package steward

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one entry of the audit chain. Every state change writes one in the
// same transaction as the change. Each event carries the hash of the one
// before it, so a row altered, inserted or deleted behind Steward's back
// breaks the chain at that row (see VerifyChain).
type Event struct {
	Seq   int64     `json:"seq"` // 1, 2, 3, … without gaps
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"` // "person:ada@example.com", "automation:ci-bot", "local-admin:alice", "system:scheduler"
	// Via is what the actor came through: "token:NAME", "session:…",
	// "cli"; empty for Steward's own jobs and for events from before it
	// was recorded.
	Via        string          `json:"via,omitempty"`
	Action     Action          `json:"action"`      // "identity.created"
	ObjectType string          `json:"object_type"` // "identity"
	ObjectID   string          `json:"object_id"`
	Data       json.RawMessage `json:"data,omitempty"`
	PrevHash   string          `json:"prev_hash"` // hex; GenesisHash for Seq 1
	Hash       string          `json:"hash"`      // hex SHA-256 of the fields above
	// KeyID and MAC are the event's seal: the id of the audit key that
	// sealed it and the HMAC of Hash under that key (AuditKey.Seal), or
	// both empty for an event written without a key (before Steward had
	// one). They are not in the API: a seal means something only to
	// whoever holds the key, who verifies from the database.
	KeyID string `json:"-"`
	MAC   string `json:"-"`
}

// GenesisHash is the PrevHash of the first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the hex SHA-256 over the event's fields and PrevHash,
// each length-prefixed so that no two different events hash alike; Via is
// hashed only when set. Time is
// taken at microsecond precision, which every store keeps.
func (e *Event) ComputeHash() string {
	h := sha256.New()
	var buf [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(b))) // #nosec G115 -- a length is never negative
		h.Write(buf[:])
		h.Write(b)
	}
	num := func(n int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(n)) // #nosec G115 -- the hash takes n's 64 bits; two's complement is one-to-one, so no two values hash alike
		h.Write(buf[:])
	}
	field([]byte("steward.event.v1"))
	field([]byte(e.PrevHash))
	num(e.Seq)
	num(e.Time.UnixMicro())
	field([]byte(e.Actor))
	field([]byte(string(e.Action)))
	field([]byte(e.ObjectType))
	field([]byte(e.ObjectID))
	field(e.Data)
	if e.Via != "" {
		// Only when set, so that events written before Via hash as they did.
		field([]byte("via"))
		field([]byte(e.Via))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ChainHead is what the store records of the newest event, so that events
// deleted from the end of the chain are noticed too.
type ChainHead struct {
	Seq  int64
	Hash string
	// KeyID and MAC seal the head (AuditKey.SealHead) when the newest
	// event is sealed, so that events deleted from the end with the head
	// moved back are caught with the key.
	KeyID, MAC string
}

// ChainError names the first event at which an audit chain is broken.
type ChainError struct {
	Seq    int64  // the first bad event's sequence number
	Reason string // what is wrong, in words
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// VerifyChain walks events in sequence order and returns how many it checked,
// or a *ChainError naming the first event that was altered, inserted or
// deleted, or an error from the store that produced the sequence. It checks
// the SHA-256 chain only; VerifyChainWith checks seals and a checkpoint too.
func VerifyChain(events iter.Seq2[Event, error], head ChainHead) (int64, error) {
	r, err := VerifyChainWith(events, head, ChainCheck{})
	return r.Events, err
}

// ChainCheck is what VerifyChainWith checks besides the SHA-256 chain.
type ChainCheck struct {
	// Keys, when set, check the seal of every sealed event, and require
	// that the chain has sealed events and that none after the first is
	// unsealed. Nil checks no seal: a writer of the database could have
	// rewritten the whole chain.
	Keys *AuditKeys
	// Checkpoint, when set, must name an event of the chain by its hash. Its
	// signature is checked before (Checkpoint.Verify), not here.
	Checkpoint *Checkpoint
}

// ChainReport says what VerifyChainWith checked.
type ChainReport struct {
	Events int64 // events checked
	// Unsealed is the number of events written without a key, all of them
	// at the start of the chain (before Steward had a key).
	Unsealed int64
	// Sealed is the number of sealed events; SealsChecked how many of their
	// seals were checked (all of them when keys were given, else none).
	Sealed, SealsChecked int64
	// KeyIDs are the ids of the keys that sealed events, in the order of
	// their first use.
	KeyIDs []string
	// Head is the newest event, its Data left out; zero for an empty chain.
	Head Event
}

// VerifyChainWith is VerifyChain that also checks the events' seals with
// the keys of c and the checkpoint of c. A *ChainError names the first
// event that fails; a rewrite of the whole chain with recomputed SHA-256
// hashes fails at its first sealed event with the keys, and at the
// checkpoint's event without them.
func VerifyChainWith(events iter.Seq2[Event, error], head ChainHead, c ChainCheck) (ChainReport, error) {
	var r ChainReport
	prev, want := GenesisHash, int64(1)
	for e, err := range events {
		if err != nil {
			return r, err
		}
		switch {
		case e.Seq < want:
			return r, &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("sequence number repeats or goes back (expected %d): a row was inserted", want)}
		case e.Seq > want:
			return r, &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("events %d to %d are missing: rows were deleted", want, e.Seq-1)}
		case e.PrevHash != prev:
			return r, &ChainError{Seq: e.Seq, Reason: "prev_hash does not match the event before it: a row was inserted, replaced or reordered"}
		case e.ComputeHash() != e.Hash:
			return r, &ChainError{Seq: e.Seq, Reason: "hash does not match the event's contents: the row was edited"}
		}
		if err := checkSeal(&r, &e, c.Keys); err != nil {
			return r, err
		}
		if c.Checkpoint != nil && e.Seq == c.Checkpoint.Seq && e.Hash != c.Checkpoint.Hash {
			return r, &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("its hash differs from the one signed in the %s: history up to it was rewritten", c.Checkpoint)}
		}
		prev, want = e.Hash, want+1
		r.Events++
		r.Head = e
		r.Head.Data = nil
	}
	n := r.Events
	if head.Seq != want-1 {
		if head.Seq > want-1 {
			return r, &ChainError{Seq: want, Reason: fmt.Sprintf("the chain ends at event %d but the head records event %d: rows were deleted from the end", want-1, head.Seq)}
		}
		return r, &ChainError{Seq: head.Seq + 1, Reason: fmt.Sprintf("the head records event %d but the chain goes on to %d: rows were appended behind Steward's back", head.Seq, want-1)}
	} else if head.Hash != prev && n > 0 {
		return r, &ChainError{Seq: head.Seq, Reason: "the newest event's hash differs from the one the head records: the row was replaced"}
	}
	if c.Checkpoint != nil && c.Checkpoint.Seq > n {
		return r, &ChainError{Seq: n + 1, Reason: fmt.Sprintf("the chain ends at event %d, before the event of the %s: rows were deleted", n, c.Checkpoint)}
	}
	if c.Keys != nil && n > 0 && r.Sealed == 0 {
		return r, &ChainError{Seq: n, Reason: "an audit key was given but no event is sealed: the chain was written without a key, or rewritten by someone without it (see docs/audit.md)"}
	}
	if c.Keys != nil && r.Head.MAC != "" {
		if err := checkHeadSeal(head, c.Keys); err != nil {
			return r, err
		}
	}
	return r, nil
}

// checkHeadSeal checks the seal of the head row when the newest event is
// sealed.
func checkHeadSeal(head ChainHead, keys *AuditKeys) error {
	if head.MAC == "" {
		return &ChainError{Seq: head.Seq, Reason: "the newest event is sealed but the head row is not: events were deleted from the end and the head moved back"}
	}
	k, ok := keys.Key(head.KeyID)
	if !ok {
		return &ChainError{Seq: head.Seq, Reason: fmt.Sprintf("the head row is sealed with audit key %s, which is not among the keys given (%s)", head.KeyID, strings.Join(keys.IDs(), ", "))}
	}
	if !sameHex(k.SealHead(head.Seq, head.Hash), head.MAC) {
		return &ChainError{Seq: head.Seq, Reason: "the head row's seal does not match: events were deleted from the end and the head moved back"}
	}
	return nil
}

// checkSeal checks the seal of e with keys (or counts it unchecked without
// keys) and that no event after a sealed one is unsealed: stripping the
// seals is how a rewrite without the key would otherwise pass.
func checkSeal(r *ChainReport, e *Event, keys *AuditKeys) error {
	if e.KeyID == "" && e.MAC == "" {
		if r.Sealed > 0 {
			return &ChainError{Seq: e.Seq, Reason: "the event is not sealed though events before it are: its seal was stripped, the row rewritten by someone without the audit key"}
		}
		r.Unsealed++
		return nil
	}
	if !isHexLen(e.KeyID, 8) || !isHexLen(e.MAC, sha256.Size) {
		return &ChainError{Seq: e.Seq, Reason: "the event's seal is malformed: the row was edited"}
	}
	r.Sealed++
	if !slices.Contains(r.KeyIDs, e.KeyID) {
		r.KeyIDs = append(r.KeyIDs, e.KeyID)
	}
	if keys == nil {
		return nil
	}
	k, ok := keys.Key(e.KeyID)
	if !ok {
		return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("the event is sealed with audit key %s, which is not among the keys given (%s): give that key too, or the seal was forged with another key",
			e.KeyID, strings.Join(keys.IDs(), ", "))}
	}
	if !k.checkSeal(e.Hash, e.MAC) {
		return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("the seal does not match under audit key %s: the row was rewritten and its hash recomputed by someone without the key", e.KeyID)}
	}
	r.SealsChecked++
	return nil
}

// EventFilter selects audit events. Zero fields do not filter.
type EventFilter struct {
	Action     Action
	ObjectType string
	ObjectID   string
	Actor      string
	Since      time.Time // events at or after this time
	// NewestFirst lists in descending sequence order; the cursor then
	// continues to older events.
	NewestFirst bool
	ListOptions
}

// Validate returns EINVALID for an action Steward does not know, naming
// the ones it does.
func (f *EventFilter) Validate() error {
	if f.Action != "" {
		return f.Action.Validate()
	}
	return nil
}

// ParseSince reads a "since" that a person typed: an RFC 3339 time, a date
// (midnight UTC), or an age before now in Go's units or in days ("90m",
// "24h", "7d"). EINVALID says which forms it takes.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	age, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var n int
		if n, err = strconv.Atoi(days); err == nil && n > 1<<20 {
			err = strconv.ErrRange // beyond any audit log, and beyond a Duration
		}
		age = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || age < 0 {
		return time.Time{}, Errorf(EINVALID, "since %q is not a time (2025-01-31, 2025-01-31T12:00:00Z) or an age (90m, 24h, 7d).", truncateText(s, 64))
	}
	return now.Add(-age), nil
}

// truncateText cuts s to at most n bytes on a rune boundary, for quoting
// input back in a message.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
