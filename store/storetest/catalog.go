package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func testCatalogValue(description string) *steward.Catalog {
	return &steward.Catalog{
		Tiers: []steward.Tier{{Name: "standard", ServiceLevels: steward.ServiceLevels{Decision: steward.Duration(4 * time.Hour)}}},
		Models: []steward.RequestModel{{
			Name: "read", Description: description, Tier: "standard", Kind: steward.ModelRoutine,
			WhoMayRequest: "permit (principal, action, resource);", Approval: steward.Approval{Automatic: true},
		}},
	}
}

func testCatalog(t *testing.T, s steward.Store, clock *Clock) {
	_, err := s.CatalogInForce(ctx())
	wantCode(t, err, steward.ENOTFOUND)
	_, err = s.CatalogDigest(ctx())
	wantCode(t, err, steward.ENOTFOUND)

	src1 := []byte("kind: Catalog\n# the first version, exactly as written\n")
	v1, changed, err := s.ApplyCatalog(ctx(), src1, testCatalogValue("first"))
	if err != nil {
		t.Fatal(err)
	} else if !changed || v1.Version != 1 || v1.AppliedBy != "test:storetest" || !v1.AppliedAt.Equal(Epoch) {
		t.Fatalf("first apply: changed %v, %+v", changed, v1)
	}
	if d, err := s.CatalogDigest(ctx()); err != nil || d != v1.Digest {
		t.Fatalf("digest in force %q, %v; want %q", d, err, v1.Digest)
	}
	clock.Advance(time.Minute)

	// The same text again changes nothing and writes no event.
	again, changed, err := s.ApplyCatalog(ctx(), src1, testCatalogValue("first"))
	if err != nil {
		t.Fatal(err)
	} else if changed || again.Version != 1 {
		t.Fatalf("same text again: changed %v, version %d", changed, again.Version)
	}
	events := func() []steward.Event {
		t.Helper()
		page, err := s.Events(ctx(), steward.EventFilter{Action: steward.ActionCatalogApplied})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	if n := len(events()); n != 1 {
		t.Fatalf("%d catalog.applied events after applying the same text twice, want 1", n)
	}

	src2 := []byte("kind: Catalog\n# the second\n")
	v2, changed, err := s.ApplyCatalog(ctx(), src2, testCatalogValue("second"))
	if err != nil {
		t.Fatal(err)
	} else if !changed || v2.Version != 2 {
		t.Fatalf("second apply: changed %v, %+v", changed, v2)
	}
	if d, err := s.CatalogDigest(ctx()); err != nil || d != v2.Digest || d == v1.Digest {
		t.Fatalf("digest after a new version %q, %v; want %q", d, err, v2.Digest)
	}
	got, err := s.CatalogInForce(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Source != string(src2) || got.Digest != v2.Digest || got.Catalog.Models[0].Description != "second" ||
		got.Catalog.Tiers[0].ServiceLevels.Decision != steward.Duration(4*time.Hour) || !got.AppliedAt.Equal(Epoch.Add(time.Minute)) {
		t.Fatalf("in force: %+v", got)
	}
	evs := events()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	last := evs[len(evs)-1]
	var p steward.CatalogApplied
	if err := json.Unmarshal(last.Data, &p); err != nil {
		t.Fatal(err)
	}
	if last.ObjectType != steward.ObjectCatalog || last.ObjectID != "2" || p.Version != 2 || len(p.Changes) != 1 || p.Changes[0].String() != "~ model read" {
		t.Fatalf("event %+v payload %+v", last, p)
	}

	// An invalid catalog is refused and changes nothing.
	bad := testCatalogValue("bad")
	bad.Models[0].Tier = "gold"
	_, _, err = s.ApplyCatalog(ctx(), []byte("kind: Catalog\n"), bad)
	wantCode(t, err, steward.EINVALID)
	if got, _ := s.CatalogInForce(ctx()); got.Version != 2 {
		t.Fatalf("after a refused apply the version is %d", got.Version)
	}
}
