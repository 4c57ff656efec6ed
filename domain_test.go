package steward_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func validIdentity() steward.Identity {
	return steward.Identity{SystemID: 1, ExternalID: "arn:aws:iam::1:user/x", Name: "x", Kind: steward.KindAPIKey,
		Environment: steward.EnvProd, Criticality: steward.LevelHigh, Status: steward.IdentityActive, CreatedAt: &t0}
}

func TestIdentityValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		mod  func(*steward.Identity)
		want string // substring of the message; "" for valid
	}{
		"valid":            {func(*steward.Identity) {}, ""},
		"no system":        {func(i *steward.Identity) { i.SystemID = 0 }, "system_id"},
		"no name":          {func(i *steward.Identity) { i.Name = "  " }, "name is required"},
		"long name":        {func(i *steward.Identity) { i.Name = strings.Repeat("n", 513) }, "limit is 512"},
		"unknown kind":     {func(i *steward.Identity) { i.Kind = "robot" }, `kind "robot" is not known`},
		"missing kind":     {func(i *steward.Identity) { i.Kind = "" }, "kind is required"},
		"bad environment":  {func(i *steward.Identity) { i.Environment = "qa" }, "environment"},
		"bad criticality":  {func(i *steward.Identity) { i.Criticality = "extreme" }, "criticality"},
		"bad status":       {func(i *steward.Identity) { i.Status = "zombie" }, "status"},
		"control char":     {func(i *steward.Identity) { i.ExternalID = "a\nb" }, "control character"},
		"bad utf8":         {func(i *steward.Identity) { i.Name = "\xff" }, "UTF-8"},
		"used before born": {func(i *steward.Identity) { i.LastUsedAt = ptr(t0.Add(-time.Hour)) }, "last used before"},
		"created unknown":  {func(i *steward.Identity) { i.CreatedAt, i.LastUsedAt = nil, ptr(t0.Add(-time.Hour)) }, ""},
		"too many labels": {func(i *steward.Identity) {
			i.Labels = map[string]string{}
			for n := 0; n < 65; n++ {
				i.Labels[fmt.Sprint(n)] = "v"
			}
		}, "at most 64"},
		"empty label key": {func(i *steward.Identity) { i.Labels = map[string]string{"": "v"} }, "label key"},
	} {
		t.Run(name, func(t *testing.T) {
			i := validIdentity()
			tc.mod(&i)
			err := i.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid identity: %v", err)
				}
				return
			}
			if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tc.want) {
				t.Fatalf("err = %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}

func TestOtherValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		v    interface{ Validate() error }
		want string
	}{
		"team ok":              {&steward.Team{Name: "payments"}, ""},
		"team upper":           {&steward.Team{Name: "Payments"}, "lower-case"},
		"person ok":            {&steward.Person{ExternalID: "u1", Name: "A", Status: steward.PersonActive}, ""},
		"person bad email":     {&steward.Person{ExternalID: "u1", Name: "A", Email: "nope", Status: steward.PersonActive}, "email"},
		"departed needs date":  {&steward.Person{ExternalID: "u1", Name: "A", Status: steward.PersonDeparted}, "departed_at"},
		"own manager":          {&steward.Person{ID: 3, ExternalID: "u1", Name: "A", Status: steward.PersonActive, ManagerID: ptr(int64(3))}, "own manager"},
		"system ok":            {&steward.System{Name: "aws-prod", Kind: steward.SystemAWS}, ""},
		"system kind":          {&steward.System{Name: "x", Kind: "zos"}, "system kind"},
		"credential ok":        {&steward.Credential{IdentityID: 1, Kind: steward.CredToken, Status: steward.CredentialActive, Fingerprint: strings.Repeat("a", 64)}, ""},
		"credential disabled":  {&steward.Credential{IdentityID: 1, Kind: steward.CredToken, Status: steward.CredentialDisabled}, ""},
		"credential status":    {&steward.Credential{IdentityID: 1, Kind: steward.CredToken, Status: "revoked"}, `credential status "revoked" is not known`},
		"credential no status": {&steward.Credential{IdentityID: 1, Kind: steward.CredToken}, "credential status is required"},
		"credential secret":    {&steward.Credential{IdentityID: 1, Kind: steward.CredToken, Status: steward.CredentialActive, Fingerprint: "hunter2"}, "never send the secret"},
		"credential dates":     {&steward.Credential{IdentityID: 1, Kind: steward.CredToken, Status: steward.CredentialActive, CreatedAt: &t0, ExpiresAt: ptr(t0.Add(-1))}, "expires before"},
		"entitlement ok":       {&steward.Entitlement{SystemID: 1, Name: "admin", Sensitivity: steward.LevelHigh}, ""},
		"entitlement level":    {&steward.Entitlement{SystemID: 1, Name: "admin", Sensitivity: "huge"}, "sensitivity"},
		"grant ok":             {&steward.Grant{IdentityID: 1, EntitlementID: 2, Type: steward.GrantStanding}, ""},
		"jit needs expiry":     {&steward.Grant{IdentityID: 1, EntitlementID: 2, Type: steward.GrantJIT}, "must have expires_at"},
		"exception expiry":     {&steward.Grant{IdentityID: 1, EntitlementID: 2, Type: steward.GrantException}, "must have expires_at"},
		"expiry order":         {&steward.Grant{IdentityID: 1, EntitlementID: 2, Type: steward.GrantJIT, GrantedAt: t0, ExpiresAt: &t0}, "after granted_at"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.v.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("unexpected %v", err)
			} else if tc.want != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tc.want)) {
				t.Fatalf("err = %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}

// TestCredentialAge: the age runs from the last rotation, else from the
// creation; a credential whose source gives neither has no known age (it
// used to be aged from the time Steward imported it).
func TestCredentialAge(t *testing.T) {
	t.Parallel()
	now := t0.Add(100 * 24 * time.Hour)
	rotated := t0.Add(90 * 24 * time.Hour)
	for name, tc := range map[string]struct {
		c     steward.Credential
		age   time.Duration
		known bool
	}{
		"rotated":                  {steward.Credential{CreatedAt: &t0, LastRotatedAt: &rotated}, 10 * 24 * time.Hour, true},
		"created":                  {steward.Credential{CreatedAt: &t0}, 100 * 24 * time.Hour, true},
		"rotated, created unknown": {steward.Credential{LastRotatedAt: &rotated}, 10 * 24 * time.Hour, true},
		"unknown":                  {steward.Credential{}, 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			if age, known := tc.c.Age(now); age != tc.age || known != tc.known {
				t.Errorf("Age = %v, %v; want %v, %v", age, known, tc.age, tc.known)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	e := steward.Errorf(steward.ENOTFOUND, "identity %d does not exist.", 4)
	wrapped := fmt.Errorf("loading: %w", e)
	if steward.ErrorCode(wrapped) != steward.ENOTFOUND || steward.ErrorMessage(wrapped) != "identity 4 does not exist." {
		t.Fatalf("wrapped: %q %q", steward.ErrorCode(wrapped), steward.ErrorMessage(wrapped))
	}
	if !errors.Is(wrapped, &steward.Error{Code: steward.ENOTFOUND}) {
		t.Fatal("errors.Is by code failed")
	}
	internal := errors.New("pq: connection reset by peer at 10.0.0.5")
	if steward.ErrorCode(internal) != steward.EINTERNAL || strings.Contains(steward.ErrorMessage(internal), "10.0.0.5") {
		t.Fatal("internal detail leaked into the user message")
	}
	if steward.ErrorCode(nil) != "" || steward.ErrorMessage(nil) != "" {
		t.Fatal("nil error has a code")
	}
}

func TestListOptions(t *testing.T) {
	t.Parallel()
	after, limit, err := steward.ListOptions{After: steward.Cursor(1234), Limit: 10}.Normalize()
	if err != nil || after != 1234 || limit != 10 {
		t.Fatalf("round trip: %d %d %v", after, limit, err)
	}
	if _, limit, _ := (steward.ListOptions{}).Normalize(); limit != steward.DefaultLimit {
		t.Fatalf("default limit %d", limit)
	}
	for _, bad := range []steward.ListOptions{{Limit: -1}, {Limit: steward.MaxLimit + 1}, {After: "%%%"}, {After: "aGVsbG8"}, {After: "azE6LTE"}} {
		if _, _, err := bad.Normalize(); steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("%+v: err = %v, want EINVALID", bad, err)
		}
	}
}

// FuzzCursor feeds arbitrary cursors: each is refused with EINVALID or
// decodes to a non-negative id that encodes back to a cursor for that id.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", steward.Cursor(0), steward.Cursor(99), "azE6", "azE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		after, _, err := steward.ListOptions{After: s}.Normalize()
		if err != nil {
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("cursor %q: %v", s, err)
			}
			return
		}
		if after < 0 {
			t.Fatalf("cursor %q decoded to %d", s, after)
		}
		again, _, err := steward.ListOptions{After: steward.Cursor(after)}.Normalize()
		if err != nil || again != after {
			t.Fatalf("cursor %d does not round-trip: %d %v", after, again, err)
		}
	})
}

// chain builds n valid events.
func chain(n int) []steward.Event {
	var out []steward.Event
	prev := steward.GenesisHash
	for s := int64(1); s <= int64(n); s++ {
		e := steward.Event{Seq: s, Time: t0.Add(time.Duration(s) * time.Second), Actor: "a", Action: "team.created",
			ObjectType: "team", ObjectID: fmt.Sprint(s), Data: json.RawMessage(`{"n":1}`), PrevHash: prev}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func seqOf(events []steward.Event) iter.Seq2[steward.Event, error] {
	return func(yield func(steward.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func TestVerifyChain(t *testing.T) {
	t.Parallel()
	head := func(ev []steward.Event) steward.ChainHead {
		if len(ev) == 0 {
			return steward.ChainHead{Seq: 0, Hash: steward.GenesisHash}
		}
		return steward.ChainHead{Seq: ev[len(ev)-1].Seq, Hash: ev[len(ev)-1].Hash}
	}
	good := chain(5)
	for name, tc := range map[string]struct {
		events  func() []steward.Event
		head    func([]steward.Event) steward.ChainHead
		wantSeq int64 // 0: intact
	}{
		"intact": {func() []steward.Event { return chain(5) }, head, 0},
		"empty":  {func() []steward.Event { return nil }, head, 0},
		"edited": {func() []steward.Event { c := chain(5); c[2].Actor = "mallory"; return c }, head, 3},
		"edited time": {func() []steward.Event {
			c := chain(5)
			c[1].Time = c[1].Time.Add(time.Microsecond)
			return c
		}, head, 2},
		"deleted":       {func() []steward.Event { c := chain(5); return append(c[:1:1], c[2:]...) }, head, 3},
		"deleted first": {func() []steward.Event { return chain(5)[1:] }, head, 2},
		"deleted last": {func() []steward.Event { return chain(5)[:4] },
			func([]steward.Event) steward.ChainHead { return head(good) }, 5},
		"rehashed insert": {func() []steward.Event {
			c := chain(5)
			e := c[4]
			e.Seq, e.PrevHash = 6, c[4].Hash
			e.Hash = e.ComputeHash()
			return append(c, e)
		}, func([]steward.Event) steward.ChainHead { return head(good) }, 6},
		"swapped": {func() []steward.Event { c := chain(5); c[1], c[2] = c[2], c[1]; return c }, head, 3},
	} {
		t.Run(name, func(t *testing.T) {
			ev := tc.events()
			n, err := steward.VerifyChain(seqOf(ev), tc.head(ev))
			var ce *steward.ChainError
			if tc.wantSeq == 0 {
				if err != nil || n != int64(len(ev)) {
					t.Fatalf("n=%d err=%v", n, err)
				}
				return
			}
			if !errors.As(err, &ce) || ce.Seq != tc.wantSeq {
				t.Fatalf("err = %v, want a ChainError at %d", err, tc.wantSeq)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	raw, hash := steward.NewSecret(steward.TokenPrefix)
	if !steward.WellFormedSecret(steward.TokenPrefix, raw) || steward.HashSecret(raw) != hash || strings.Contains(hash, raw[4:]) {
		t.Fatalf("secret %q hash %q", raw, hash)
	}
	raw2, _ := steward.NewSecret(steward.TokenPrefix)
	if raw2 == raw {
		t.Fatal("two secrets are equal")
	}
	if steward.WellFormedSecret(steward.SessionPrefix, raw) {
		t.Fatal("a token passes as a session")
	}
	a, b := steward.Fingerprint([]byte("k1"), []byte("v")), steward.Fingerprint([]byte("k2"), []byte("v"))
	if a == b || len(a) != 64 {
		t.Fatal("fingerprint is not keyed")
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-03-01":           time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		" 2026-03-01 ":         time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"2026-03-01T08:30:00Z": time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC),
		"90m":                  now.Add(-90 * time.Minute),
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"0d":                   now,
	} {
		if got, err := steward.ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3d", "-1h", "7x", "2026-13-01", "99999999999d", "d"} {
		if _, err := steward.ParseSince(bad, now); steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("ParseSince(%q) = %v, want EINVALID", bad, err)
		}
	}
}

// FuzzParseSince: any input is a time (not after now, for an age) or
// EINVALID; never a panic or another error.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"7d", "24h", "2026-03-01", "2026-03-01T08:30:00Z", "-1d", "9223372036854775807d", "1e9h", "\xff"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := steward.ParseSince(s, now)
		if err != nil {
			if steward.ErrorCode(err) != steward.EINVALID || !utf8.ValidString(steward.ErrorMessage(err)) && utf8.ValidString(s) {
				t.Fatalf("ParseSince(%q): %v", s, err)
			}
			return
		}
		_, terr := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		_, derr := time.Parse(time.DateOnly, strings.TrimSpace(s))
		if terr != nil && derr != nil && got.After(now) { // an age is never in the future
			t.Fatalf("ParseSince(%q) = %v, after now", s, got)
		}
	})
}
