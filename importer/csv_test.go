package importer

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

func TestCSV(t *testing.T) {
	t.Parallel()
	src := MustOpen(t, FormatCSV, fixtures[FormatCSV])
	connectortest.CheckSource(t, src, steward.EnvDev)
	recs, errs := collect(t, src)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	checkGolden(t, FormatCSV, recs)
	ids := byID(recs)
	for _, tc := range []struct {
		name, id string
		check    func(*steward.SourceIdentity) bool
	}{
		{"every column", "svc-billing", func(id *steward.SourceIdentity) bool {
			return id.Name == "Billing worker" && id.Kind == steward.KindServiceAccount && id.Environment == steward.EnvProd &&
				id.Criticality == steward.LevelHigh && id.Status == steward.IdentityActive && id.Owner == "ana@example.com" &&
				id.Team == "payments" && id.Labels["app"] == "billing" && id.Labels["cost-center"] == "CC-1042" &&
				id.LastUsedAt.Equal(time.Date(2025, 5, 30, 22, 15, 0, 0, time.UTC))
		}},
		{"empty cells take defaults", "svc-search", func(id *steward.SourceIdentity) bool {
			_, hasCost := id.Labels["cost-center"]
			return id.Name == "" && id.Criticality == "" && id.Status == "" && !hasCost &&
				id.CreatedAt.Equal(time.Date(2024, 6, 30, 22, 0, 0, 0, time.UTC))
		}},
		{"quoted cells", "key-partner-api", func(id *steward.SourceIdentity) bool {
			_, hasApp := id.Labels["app"]
			return id.Name == `Partner API key "acme"` && !hasApp && id.Labels["cost-center"] == "CC-1042"
		}},
		{"comma in a label", "bot-release", func(id *steward.SourceIdentity) bool {
			return id.Labels["app"] == "release, tagging" && id.Status == steward.IdentityDisabled
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if id := ids[tc.id]; id == nil || !tc.check(id) {
				t.Errorf("%s: %+v", tc.id, id)
			}
		})
	}
	if recs[3].Pos != fixtures[FormatCSV]+":5" {
		t.Errorf("the fourth row is at %s, want line 5", recs[3].Pos)
	}
}

func TestCSVBadInput(t *testing.T) {
	t.Parallel()
	t.Run("bad rows are each reported and the rest is read", func(t *testing.T) {
		t.Parallel()
		input := strings.Join([]string{
			"kind,external_id,label:team,last_used_at",
			"bot,ok,,",                              // 2
			"robot,x,,",                             // 3
			"bot,x,,last tuesday",                   // 4
			"bot,x",                                 // 5
			"bot,\"multi",                           // 6: a quoted cell over two lines: a newline in an id
			"line\",a,",                             // 7
			",nokind,,",                             // 8
			"bot,,,",                                // 9
			"bot,x\"y,,",                            // 10: bare quote
			"bot,ok2,platform,2025-05-31T00:00:00Z", // 11
		}, "\n") + "\n"
		src := MustSource(t, FormatCSV, input)
		want := []string{"input:3", "input:4", "input:5", "input:6", "input:8", "input:9", "input:10"}
		connectortest.CheckBadInput(t, src, want...)
		recs, errs := collect(t, src)
		mustBeInvalid(t, errs, want...)
		for i, w := range []string{`kind "robot"`, "last_used_at", "number of fields", "control character", "kind is required", "external id is required", `bare "`} {
			if !strings.Contains(steward.ErrorMessage(errs[i]), w) {
				t.Errorf("error %q does not say %q", steward.ErrorMessage(errs[i]), w)
			}
		}
		if len(recs) != 2 || recs[0].Pos != "input:2" || recs[1].Pos != "input:11" {
			t.Errorf("records %+v", recs)
		}
	})
	for _, tc := range []struct {
		name, input, want string
	}{
		{"empty", "", "empty"},
		{"no kind column", "external_id,name\nx,y\n", "no kind column"},
		{"no external_id column", "kind\nbot\n", "no external_id column"},
		{"unknown column", "external_id,kind,colour\n", `column "colour" is not known`},
		{"column twice", "external_id,kind,kind\n", "twice"},
		{"label without key", "external_id,kind,label:\n", "names its key"},
	} {
		t.Run("header "+tc.name, func(t *testing.T) {
			t.Parallel()
			recs, errs := collect(t, MustSource(t, FormatCSV, tc.input))
			if len(recs) != 0 {
				t.Errorf("records %+v", recs)
			}
			mustBeInvalid(t, errs, "input:1")
			if !strings.Contains(steward.ErrorMessage(errs[0]), tc.want) {
				t.Errorf("error %q does not say %q", steward.ErrorMessage(errs[0]), tc.want)
			}
		})
	}
}

// TestCSVSums: each row's Sum is of the row as written and of the header
// that gives it meaning, so that an unchanged re-import is not summed by
// the store as JSON, record by record.
func TestCSVSums(t *testing.T) {
	t.Parallel()
	sums := func(text string) []uint64 {
		t.Helper()
		path := t.TempDir() + "/ids.csv"
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		recs, errs := collect(t, MustOpen(t, FormatCSV, path))
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		var out []uint64
		for _, r := range recs {
			if r.Sum == 0 {
				t.Fatalf("%s has no sum", r.Pos)
			}
			out = append(out, r.Sum)
		}
		return out
	}
	base := sums("external_id,kind,name\na,bot,one\nb,bot,two\nc,bot,three\n")
	if again := sums("external_id,kind,name\na,bot,one\nb,bot,two\nc,bot,three\n"); !slices.Equal(again, base) {
		t.Errorf("the same file twice: %v, then %v", base, again)
	}
	if len(base) != 3 || base[0] == base[1] || base[1] == base[2] || base[0] == base[2] {
		t.Errorf("three rows, three sums: %v", base)
	}
	changed := sums("external_id,kind,name\na,bot,one\nb,bot,TWO\nc,bot,three\n")
	if changed[0] != base[0] || changed[1] == base[1] || changed[2] != base[2] {
		t.Errorf("one cell changed: %v, was %v", changed, base)
	}
	// The same cells under other column names mean something else.
	if other := sums("external_id,kind,team\na,bot,one\nb,bot,two\nc,bot,three\n"); other[0] == base[0] {
		t.Error("a row's sum does not depend on the header")
	}
	// A cell's bounds are in the sum: "ab","c" is not "a","bc".
	if a, b := sums("external_id,kind,name,team\nx,bot,ab,c\n"), sums("external_id,kind,name,team\nx,bot,a,bc\n"); a[0] == b[0] {
		t.Error("moving a character across a cell boundary keeps the sum")
	}
}
