// Package connectortest is the conformance suite every connector passes:
// sources (importers, the PostgreSQL connector), people sources (LDAP) and
// targets. A connector's own tests set up a real system (or a real export
// file), then call these checks on it.
package connectortest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stewardhq/steward"
)

// CheckSource reads src twice and checks what every source promises: each
// record holds exactly one item and normalises without error, identities and
// entitlements are unique by key, every grant names an identity and an
// entitlement of the same stream, two reads give the same records, and a
// reader that stops early stops the stream. It returns the records of the
// first read for the connector's own assertions.
func CheckSource(t *testing.T, src steward.Source, defaultEnv steward.Environment) []steward.Record {
	t.Helper()
	ctx := context.Background()
	first := readAll(t, src, ctx, defaultEnv)
	identities := map[string]bool{}
	entitlements := map[string]bool{}
	for _, r := range first {
		switch {
		case r.Identity != nil:
			if identities[r.Identity.ExternalID] {
				t.Errorf("%s: identity %q appears twice", r.Pos, r.Identity.ExternalID)
			}
			identities[r.Identity.ExternalID] = true
		case r.Entitlement != nil:
			if entitlements[r.Entitlement.Name] {
				t.Errorf("%s: entitlement %q appears twice", r.Pos, r.Entitlement.Name)
			}
			entitlements[r.Entitlement.Name] = true
		}
	}
	grants := map[[2]string]bool{}
	for _, r := range first {
		if g := r.Grant; g != nil {
			if !identities[g.Identity] {
				t.Errorf("%s: grant names identity %q, which the source did not list", r.Pos, g.Identity)
			}
			if !entitlements[g.Entitlement] {
				t.Errorf("%s: grant names entitlement %q, which the source did not list", r.Pos, g.Entitlement)
			}
			k := [2]string{g.Identity, g.Entitlement}
			if grants[k] {
				t.Errorf("%s: grant %v appears twice", r.Pos, k)
			}
			grants[k] = true
		}
	}
	second := readAll(t, src, ctx, defaultEnv)
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if string(a) != string(b) {
		t.Errorf("two reads of the source differ (%d and %d records)", len(first), len(second))
	}
	if len(first) > 1 {
		n := 0
		for _, err := range src.Read(ctx) {
			if err != nil {
				t.Fatalf("early stop: %v", err)
			}
			n++
			break
		}
		if n != 1 {
			t.Errorf("stopping after one record read %d", n)
		}
	}
	return first
}

func readAll(t *testing.T, src steward.Source, ctx context.Context, defaultEnv steward.Environment) []steward.Record {
	t.Helper()
	var out []steward.Record
	for r, err := range src.Read(ctx) {
		if err != nil {
			t.Fatalf("reading the source: %v", err)
		}
		if err := r.Normalize(defaultEnv); err != nil {
			t.Errorf("%s: record does not normalise: %v", r.Pos, err)
		}
		out = append(out, r)
	}
	return out
}

// CheckBadInput reads src, which is built over input with bad records, and
// checks that every error is EINVALID and names a position, and that the
// positions of all bad records in wantPos are reported.
func CheckBadInput(t *testing.T, src steward.Source, wantPos ...string) {
	t.Helper()
	got := map[string]bool{}
	for _, err := range src.Read(context.Background()) {
		if err == nil {
			continue
		}
		if steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("bad input gave %v, want EINVALID", err)
			continue
		}
		msg := steward.ErrorMessage(err)
		for _, p := range wantPos {
			if len(msg) > len(p) && msg[:len(p)+1] == p+":" {
				got[p] = true
			}
		}
	}
	for _, p := range wantPos {
		if !got[p] {
			t.Errorf("no error reported at %s", p)
		}
	}
}

// CheckPeople reads a people source and checks that every person normalises,
// external ids are unique and every manager is a person of the stream. It
// returns the people for the connector's own assertions.
func CheckPeople(t *testing.T, src steward.PeopleSource) []steward.SourcePerson {
	t.Helper()
	var out []steward.SourcePerson
	seen := map[string]bool{}
	for p, err := range src.People(context.Background()) {
		if err != nil {
			t.Fatalf("reading people: %v", err)
		}
		if err := p.Normalize(); err != nil {
			t.Errorf("person %q does not normalise: %v", p.ExternalID, err)
		}
		if seen[p.ExternalID] {
			t.Errorf("person %q appears twice", p.ExternalID)
		}
		seen[p.ExternalID] = true
		out = append(out, p)
	}
	for _, p := range out {
		if p.Manager != "" && !seen[p.Manager] {
			t.Errorf("person %q has manager %q, who is not in the source", p.ExternalID, p.Manager)
		}
	}
	return out
}
