package steward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestJITGrantValidate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ok := steward.JITGrant{IdentityID: 1, EntitlementID: 2, GrantedAt: t0, ExpiresAt: t0.Add(4 * time.Hour)}
	for name, c := range map[string]struct {
		mod  func(*steward.JITGrant)
		want string // part of the message; "" for valid
	}{
		"valid":            {func(*steward.JITGrant) {}, ""},
		"no grant time":    {func(g *steward.JITGrant) { g.GrantedAt = time.Time{} }, ""},
		"no identity":      {func(g *steward.JITGrant) { g.IdentityID = 0 }, "identity_id"},
		"no expiry":        {func(g *steward.JITGrant) { g.ExpiresAt = time.Time{} }, "time-bound access has an end"},
		"expires at grant": {func(g *steward.JITGrant) { g.ExpiresAt = t0 }, "expire after"},
		"too long":         {func(g *steward.JITGrant) { g.ExpiresAt = t0.Add(steward.MaxJITDuration + time.Second) }, "at most 90 days"},
		"longest":          {func(g *steward.JITGrant) { g.ExpiresAt = t0.Add(steward.MaxJITDuration) }, ""},
		"bad request":      {func(g *steward.JITGrant) { g.RequestID = new(int64(-1)) }, "request_id"},
		"bad granted_by":   {func(g *steward.JITGrant) { g.GrantedBy = "x\x00" }, "control character"},
	} {
		t.Run(name, func(t *testing.T) {
			g := ok
			c.mod(&g)
			err := g.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case c.want != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), c.want)):
				t.Errorf("Validate = %v, want EINVALID with %q", err, c.want)
			}
		})
	}
}

func TestJITGrantState(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	retry := exp.Add(time.Minute)
	revoked := exp.Add(300 * time.Millisecond)
	for name, c := range map[string]struct {
		g         steward.JITGrant
		at        time.Time
		state     steward.JITState
		due       bool
		warn15min bool
	}{
		"active, far":        {steward.JITGrant{Status: steward.JITActive, ExpiresAt: exp}, exp.Add(-time.Hour), steward.JITActive, false, false},
		"active, in warning": {steward.JITGrant{Status: steward.JITActive, ExpiresAt: exp}, exp.Add(-10 * time.Minute), steward.JITActive, false, true},
		"warning starts":     {steward.JITGrant{Status: steward.JITActive, ExpiresAt: exp}, exp.Add(-15 * time.Minute), steward.JITActive, false, true},
		"warned already":     {steward.JITGrant{Status: steward.JITActive, ExpiresAt: exp, WarnedAt: &exp}, exp.Add(-time.Minute), steward.JITActive, false, false},
		"at expiry":          {steward.JITGrant{Status: steward.JITActive, ExpiresAt: exp}, exp, steward.JITExpired, true, false},
		"past expiry":        {steward.JITGrant{Status: steward.JITActive, ExpiresAt: exp}, exp.Add(time.Hour), steward.JITExpired, true, false},
		"failing, waiting":   {steward.JITGrant{Status: steward.JITFailing, ExpiresAt: exp, NextAttemptAt: &retry}, retry.Add(-time.Second), steward.JITFailing, false, false},
		"failing, retry due": {steward.JITGrant{Status: steward.JITFailing, ExpiresAt: exp, NextAttemptAt: &retry}, retry, steward.JITFailing, true, false},
		"revoked":            {steward.JITGrant{Status: steward.JITRevoked, ExpiresAt: exp, RevokedAt: &revoked}, exp.Add(time.Hour), steward.JITRevoked, false, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := c.g.State(c.at); got != c.state {
				t.Errorf("State = %s, want %s", got, c.state)
			}
			if got := c.g.RevocationDue(c.at); got != c.due {
				t.Errorf("RevocationDue = %v, want %v", got, c.due)
			}
			if got := c.g.WarningDue(c.at, 15*time.Minute); got != c.warn15min {
				t.Errorf("WarningDue = %v, want %v", got, c.warn15min)
			}
			if c.g.WarningDue(c.at, 0) {
				t.Error("a warning of zero warned")
			}
		})
	}
	g := steward.JITGrant{ExpiresAt: exp}
	if _, ok := g.Lag(); ok {
		t.Error("lag of an unrevoked grant")
	}
	g.RevokedAt = &revoked
	if lag, ok := g.Lag(); !ok || lag != 300*time.Millisecond {
		t.Errorf("Lag = %v, %v", lag, ok)
	}
	for _, s := range steward.JITStates {
		if s.Validate() != nil {
			t.Errorf("%s does not validate", s)
		}
	}
	if steward.JITState("gone").Validate() == nil {
		t.Error("an unknown state validated")
	}
}

func TestRevocationBackoff(t *testing.T) {
	t.Parallel()
	for attempts, want := range map[int]time.Duration{
		0: 5 * time.Second, 1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 8: 640 * time.Second,
		9: 15 * time.Minute, 10: 15 * time.Minute, 1000: 15 * time.Minute,
	} {
		if got := steward.RevocationBackoff(attempts); got != want {
			t.Errorf("RevocationBackoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}

func TestRevocationDone(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		nil: true,
		steward.Errorf(steward.ENOTFOUND, "no such role"):    true,
		steward.Errorf(steward.EUNAVAILABLE, "down"):         false,
		steward.Errorf(steward.EFORBIDDEN, "not allowed"):    false,
		steward.Errorf(steward.EINTERNAL, "something broke"): false,
	} {
		if got := steward.RevocationDone(err); got != want {
			t.Errorf("RevocationDone(%v) = %v, want %v", err, got, want)
		}
	}
}
