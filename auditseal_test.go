package steward_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// mustKey returns the audit key of a secret made of one repeated byte.
func mustKey(t testing.TB, b byte) steward.AuditKey {
	t.Helper()
	k, err := steward.NewAuditKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeys(t testing.TB, keys ...steward.AuditKey) *steward.AuditKeys {
	t.Helper()
	ks, err := steward.NewAuditKeys(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// sealFrom seals the events of c from index i on with k, as a Steward
// that got the key after event i was written.
func sealFrom(c []steward.Event, i int, k steward.AuditKey) []steward.Event {
	for j := i; j < len(c); j++ {
		c[j].KeyID, c[j].MAC = k.ID, k.Seal(c[j].Hash)
	}
	return c
}

// rehash recomputes every hash of c from the first on, as a writer of the
// database who edited a row and wants the SHA-256 chain to hold, leaving
// the seals as they were.
func rehash(c []steward.Event) []steward.Event {
	prev := steward.GenesisHash
	for i := range c {
		c[i].PrevHash = prev
		c[i].Hash = c[i].ComputeHash()
		prev = c[i].Hash
	}
	return c
}

func headOf(ev []steward.Event) steward.ChainHead {
	if len(ev) == 0 {
		return steward.ChainHead{Hash: steward.GenesisHash}
	}
	return steward.ChainHead{Seq: ev[len(ev)-1].Seq, Hash: ev[len(ev)-1].Hash}
}

// sealedHead is the head of ev as a Steward with keys records it: sealed
// with the key that sealed the newest event, if it is sealed.
func sealedHead(ev []steward.Event, keys ...steward.AuditKey) steward.ChainHead {
	h := headOf(ev)
	for _, k := range keys {
		if len(ev) > 0 && ev[len(ev)-1].KeyID == k.ID {
			h.KeyID, h.MAC = k.ID, k.SealHead(h.Seq, h.Hash)
		}
	}
	return h
}

func TestParseAuditKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := strings.Repeat("ab", 32), strings.Repeat("cd", 40)
	for name, tc := range map[string]struct {
		text string
		ids  int    // keys expected; 0: refused
		want string // in the error
	}{
		"one":              {k1 + "\n", 1, ""},
		"comments, blanks": {"# made today\n\n  " + k1 + "  \n# old:\n" + k2, 2, ""},
		"empty":            {"# nothing\n", 0, "holds no key"},
		"not hex":          {"# x\nzz" + k1[2:], 0, "line 2 is not hex"},
		"short":            {strings.Repeat("ab", 16), 0, "32 to 256 bytes"},
		"twice":            {k1 + "\n" + k1, 0, "given twice"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ks, err := steward.ParseAuditKeys(tc.text)
			if tc.ids == 0 {
				if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want EINVALID with %q", err, tc.want)
				}
				if strings.Contains(err.Error(), k1[4:]) {
					t.Fatalf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil || len(ks.IDs()) != tc.ids {
				t.Fatalf("keys %v, err %v", ks, err)
			}
			secret, _ := hex.DecodeString(k1)
			want, _ := steward.NewAuditKey(secret)
			if ks.Current().ID != want.ID || len(want.ID) != 16 || strings.Contains(k1, want.ID) {
				t.Fatalf("current key %s, want %s (a fingerprint, not the secret)", ks.Current().ID, want.ID)
			}
		})
	}
}

func TestGenerateAuditKey(t *testing.T) {
	t.Parallel()
	k, text, err := steward.GenerateAuditKey(t0)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := steward.ParseAuditKeys(text)
	if err != nil || ks.Current().ID != k.ID {
		t.Fatalf("the generated file reads back as %v, %v; want key %s", ks, err, k.ID)
	}
	k2, _, _ := steward.GenerateAuditKey(t0)
	if k2.ID == k.ID {
		t.Fatal("two generated keys are alike")
	}
}

// TestVerifyChainSeals: with the key, a chain rewritten by a writer of the
// database is caught however they went about it; without it, only the
// SHA-256 chain is checked and the report says the seals were not.
func TestVerifyChainSeals(t *testing.T) {
	t.Parallel()
	k, k2, wrong := mustKey(t, 1), mustKey(t, 2), mustKey(t, 9)
	// Events 1 and 2 predate the key; 3 to 6 are sealed.
	good := func() []steward.Event { return sealFrom(chain(6), 2, k) }
	for name, tc := range map[string]struct {
		events  func() []steward.Event
		keys    *steward.AuditKeys
		wantSeq int64  // 0: intact
		reason  string // in the ChainError
	}{
		"intact":          {good, mustKeys(t, k), 0, ""},
		"intact, no key":  {good, nil, 0, ""},
		"older key given": {good, mustKeys(t, k2, k), 0, ""},
		"rotated": {func() []steward.Event { return sealFrom(good(), 4, k2) },
			mustKeys(t, k2, k), 0, ""},
		"rotated, old key missing": {func() []steward.Event { return sealFrom(good(), 4, k2) },
			mustKeys(t, k2), 3, "not among the keys given"},
		"rewritten, hashes recomputed": {func() []steward.Event {
			c := good()
			c[3].Actor = "mallory"
			return rehash(c)
		}, mustKeys(t, k), 4, "seal does not match"},
		// The whole chain rehashed from event 1: the seals of 3 on no
		// longer match though only event 1 changed.
		"rewritten from the start": {func() []steward.Event {
			c := good()
			c[0].Data = []byte(`{"forged":true}`)
			return rehash(c)
		}, mustKeys(t, k), 3, "seal does not match"},
		"rewritten, seals stripped": {func() []steward.Event {
			c := rehash(chain(6))
			c[4].Actor = "mallory"
			return rehash(c)
		}, mustKeys(t, k), 6, "no event is sealed"},
		"tail seals stripped": {func() []steward.Event {
			c := good()
			c[4].Actor = "mallory"
			c = rehash(c)
			c[4].KeyID, c[4].MAC, c[5].KeyID, c[5].MAC = "", "", "", ""
			return c
		}, mustKeys(t, k), 5, "not sealed though events before it are"},
		"resealed with another key": {func() []steward.Event {
			c := good()
			c[2].Actor = "mallory"
			return sealFrom(rehash(c), 2, wrong)
		}, mustKeys(t, k), 3, "not among the keys given"},
		"resealed with another key under the right id": {func() []steward.Event {
			c := good()
			c[2].Actor = "mallory"
			c = sealFrom(rehash(c), 2, wrong)
			for i := range c[2:] {
				c[2+i].KeyID = k.ID
			}
			return c
		}, mustKeys(t, k), 3, "seal does not match"},
		"malformed seal": {func() []steward.Event { c := good(); c[3].MAC = "zz"; return c }, nil, 4, "malformed"},
		// The head below is sealed for the chain given; these cut the
		// chain after sealing its head, as a writer of the database would.
		"deleted from the end, head moved back": {func() []steward.Event { return good() }, mustKeys(t, k), 5, "head row's seal does not match"},
		"head seal stripped":                    {func() []steward.Event { return good() }, mustKeys(t, k), 6, "head row is not"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev := tc.events()
			head := sealedHead(ev, k, k2, wrong)
			switch name {
			case "deleted from the end, head moved back":
				ev = ev[:5]
				head.Seq, head.Hash = 5, ev[4].Hash
			case "head seal stripped":
				head.KeyID, head.MAC = "", ""
			}
			r, err := steward.VerifyChainWith(seqOf(ev), head, steward.ChainCheck{Keys: tc.keys})
			if tc.wantSeq != 0 {
				var ce *steward.ChainError
				if !errors.As(err, &ce) || ce.Seq != tc.wantSeq || !strings.Contains(ce.Reason, tc.reason) {
					t.Fatalf("err = %v, want a ChainError at %d saying %q", err, tc.wantSeq, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checked := int64(4)
			if tc.keys == nil {
				checked = 0
			}
			if r.Events != 6 || r.Unsealed != 2 || r.Sealed != 4 || r.SealsChecked != checked || r.KeyIDs[0] != k.ID || r.Head.Seq != 6 || r.Head.Hash != ev[5].Hash {
				t.Fatalf("report %+v", r)
			}
		})
	}
}

func mustSigner(t testing.TB) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()
	priv, pub := mustSigner(t)
	_, other := mustSigner(t)
	c := chain(5)
	cp := steward.SignCheckpoint(priv, 3, c[2].Hash, c[2].Time, t0.Add(time.Hour))
	file := cp.Marshal()
	got, err := steward.ParseCheckpoint(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify([]ed25519.PublicKey{other, pub}); err != nil {
		t.Fatalf("a checkpoint read back does not verify: %v", err)
	}
	if err := got.Verify([]ed25519.PublicKey{other}); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), cp.Signer) {
		t.Fatalf("verify without the signer's key: %v", err)
	}

	// Any field changed in the file fails the signature.
	for name, edit := range map[string]func(*steward.Checkpoint){
		"seq":        func(c *steward.Checkpoint) { c.Seq = 2 },
		"hash":       func(c *steward.Checkpoint) { c.Hash = strings.Repeat("0", 64) },
		"event time": func(c *steward.Checkpoint) { c.EventTime = c.EventTime.Add(time.Second) },
		"signed at":  func(c *steward.Checkpoint) { c.SignedAt = c.SignedAt.Add(-time.Hour) },
	} {
		t.Run("tampered "+name, func(t *testing.T) {
			t.Parallel()
			bad, err := steward.ParseCheckpoint(file)
			if err != nil {
				t.Fatal(err)
			}
			edit(bad)
			again, err := steward.ParseCheckpoint(bad.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if err := again.Verify([]ed25519.PublicKey{pub}); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), "altered") {
				t.Fatalf("a checkpoint with its %s changed: %v", name, err)
			}
		})
	}

	// The chain it names: intact, rewritten before it, cut short of it.
	check := steward.ChainCheck{Checkpoint: got}
	if _, err := steward.VerifyChainWith(seqOf(c), headOf(c), check); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
	forged := chain(5)
	forged[1].Actor = "mallory"
	forged = rehash(forged)
	var ce *steward.ChainError
	if _, err := steward.VerifyChainWith(seqOf(forged), headOf(forged), check); !errors.As(err, &ce) || ce.Seq != 3 || !strings.Contains(ce.Reason, "rewritten") {
		t.Fatalf("a chain rehashed before the checkpoint: %v", err)
	}
	short := chain(2)
	if _, err := steward.VerifyChainWith(seqOf(short), headOf(short), check); !errors.As(err, &ce) || ce.Seq != 3 || !strings.Contains(ce.Reason, "deleted") {
		t.Fatalf("a chain that ends before the checkpoint: %v", err)
	}
	// A rewrite after the checkpoint is not the checkpoint's to see.
	after := chain(5)
	after[4].Actor = "mallory"
	after = rehash(after)
	if _, err := steward.VerifyChainWith(seqOf(after), headOf(after), check); err != nil {
		t.Fatalf("a rewrite after the checkpoint failed it: %v", err)
	}
}

func TestCheckpointParseErrors(t *testing.T) {
	t.Parallel()
	priv, _ := mustSigner(t)
	good := string(steward.SignCheckpoint(priv, 7, strings.Repeat("ab", 32), t0, t0).Marshal())
	for name, tc := range map[string]struct{ text, want string }{
		"not json":       {"seq 7", "not a checkpoint"},
		"unknown field":  {strings.Replace(good, `"seq"`, `"extra": 1, "seq"`, 1), "not a checkpoint"},
		"two":            {good + good, "text after"},
		"format":         {strings.Replace(good, "checkpoint.v1", "checkpoint.v9", 1), "format"},
		"seq":            {strings.Replace(good, `"seq": 7`, `"seq": 0`, 1), "seq 0"},
		"hash":           {strings.Replace(good, "abab", "ABAB", 1), "hash"},
		"signature":      {strings.Replace(good, `"signature": "`, `"signature": "AA`, 1), "signature"},
		"too large":      {good + strings.Repeat(" ", steward.MaxCheckpointBytes), "more than"},
		"no signed time": {strings.Replace(good, `"signed_at": "2026-01-02T03:04:05Z"`, `"signed_at": "0001-01-01T00:00:00Z"`, 1), "required"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := steward.ParseCheckpoint([]byte(tc.text)); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want EINVALID with %q", err, tc.want)
			}
		})
	}
}

// FuzzParseCheckpoint: the parser of a checkpoint file never panics, and
// what it accepts writes back to a file it reads alike, signing the same
// bytes.
func FuzzParseCheckpoint(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	good := steward.SignCheckpoint(priv, 42, strings.Repeat("0f", 32), t0, t0.Add(time.Minute)).Marshal()
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"steward.audit.checkpoint.v1","seq":-1}`))
	f.Add(bytes.Replace(good, []byte(`"seq": 42`), []byte(`"seq": 1e99`), 1))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := steward.ParseCheckpoint(b)
		if err != nil {
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		again, err := steward.ParseCheckpoint(cp.Marshal())
		if err != nil || !bytes.Equal(again.SignedBytes(), cp.SignedBytes()) || again.Signature != cp.Signature {
			t.Fatalf("accepted %q but not its own rewrite: %v", b, err)
		}
		_ = cp.Verify([]ed25519.PublicKey{priv.Public().(ed25519.PublicKey)})
	})
}

// FuzzParseAuditKeys: the parser of an audit key file never panics, and a
// key it accepts has a 16-digit fingerprint for its id.
func FuzzParseAuditKeys(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("# c\n" + strings.Repeat("ab", 32) + "\n" + strings.Repeat("cd", 33))
	f.Add("zz\n\n#")
	f.Fuzz(func(t *testing.T, text string) {
		ks, err := steward.ParseAuditKeys(text)
		if err != nil {
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for _, id := range ks.IDs() {
			if _, err := hex.DecodeString(id); err != nil || len(id) != 16 {
				t.Fatalf("key id %q of %q", id, text)
			}
		}
	})
}
