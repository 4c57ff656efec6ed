package storetest

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// testWriteDuringSync: a sync reads, parses and stages its records without
// holding the store's turn to write, so that a write made while the source
// is being read goes through at once, as an API request is served while
// steward import reads a large file. Here the source itself makes the
// write, halfway through its stream; the sync then applies every record as
// usual. (On SQLite, where one writer at a time writes, the sync took that
// turn before reading its first record, and the write waited for the whole
// sync.)
func testWriteDuringSync(t *testing.T, s steward.Store, _ *Clock) {
	sys := MustSystem(t, s, nil)
	if _, err := s.SyncSystem(ctx(), sys.ID, records(ident("a", nil), ident("b", nil)), steward.SyncOptions{Source: "t"}); err != nil {
		t.Fatal(err)
	}
	var wrote error
	reads := 0
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			reads++
			if !yield(steward.Record{Pos: "t:1", Identity: &steward.SourceIdentity{ExternalID: "a", Name: "renamed", Kind: steward.KindServiceAccount}}, nil) {
				return
			}
			if reads == 1 {
				// Bounded, so that a sync that holds the turn fails the
				// test rather than hang it.
				wctx, cancel := context.WithTimeout(ctx(), 30*time.Second)
				wrote = s.CreateTeam(wctx, &steward.Team{Name: "written-meanwhile", DisplayName: "Written meanwhile"})
				cancel()
			}
			if !yield(steward.Record{Pos: "t:2", Identity: &steward.SourceIdentity{ExternalID: "c", Kind: steward.KindBot}}, nil) {
				return
			}
		}
	})
	res, err := s.SyncSystem(ctx(), sys.ID, src, steward.SyncOptions{Source: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if wrote != nil {
		t.Fatalf("a write while the sync read its source: %v", wrote)
	}
	if _, err := s.TeamByName(ctx(), "written-meanwhile"); err != nil {
		t.Errorf("the write made during the sync: %v", err)
	}
	if res.IdentitiesCreated != 1 || res.IdentitiesUpdated != 1 || res.IdentitiesRemoved != 1 {
		t.Errorf("sync result %+v, want a created, updated and removed", *res)
	}
	if got := identityByExt(t, s, sys.ID, "a"); got.Name != "renamed" {
		t.Errorf("identity a is named %q, want renamed", got.Name)
	}
	identityByExt(t, s, sys.ID, "c")
}
