package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/importer"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// TestRepeatsReportedAlike imports a file that lists keys more than once,
// through the real importers, into an empty system (a first load) and as
// the re-sync of a system that holds the same file without its repeats (a
// run that skips what its digest vouches for): both must name every line
// that repeats a key, in line order, the first 50 and how many more. A
// re-sync once named one line per key, or "this record is listed more than
// once" without the key.
func TestRepeatsReportedAlike(t *testing.T) {
	t.Parallel()
	jl := func(kind, body string) string { return `{"` + kind + `": {` + body + `}}` }
	id := func(ext, name string) string {
		return jl("identity", `"external_id": "`+ext+`", "kind": "bot", "name": "`+name+`"`)
	}
	ent := func(name, desc string) string {
		return jl("entitlement", `"name": "`+name+`", "description": "`+desc+`"`)
	}
	grant := jl("grant", `"identity": "b", "entitlement": "e", "type": "standing"`)
	var dup []string // line i+1 is dup[i]
	dup = append(dup, id("a", "A"), id("b", "B"), id("b", "B"), ent("e", "E"), grant, grant,
		id("c", "C"), id("c", "C changed"), id("d", "D changed"), id("d", "D"))
	for range 60 {
		dup = append(dup, id("a", "A")) // lines 11 to 70
	}
	dup = append(dup, ent("f", "F"), ent("f", "F changed"))
	clean := []string{id("a", "A"), id("b", "B"), ent("e", "E"), grant, id("c", "C"), id("d", "D"), ent("f", "F")}

	want := []string{"dup:3: identity b", "dup:6: grant of e to b", "dup:8: identity c", "dup:10: identity d"}
	for line := 11; len(want) < 50; line++ {
		want = append(want, fmt.Sprintf("dup:%d: identity a", line))
	}
	wantMsg := "65 record(s) cannot be used; nothing was changed:\n  " + strings.Join(want, " is listed more than once\n  ") +
		" is listed more than once\n  … and 15 more"

	csvDup := []string{"external_id,kind,name", "a,bot,A", "b,bot,B", "b,bot,B", "c,bot,C", "c,bot,C changed", "d,bot,D changed", "d,bot,D"}
	csvClean := []string{"external_id,kind,name", "a,bot,A", "b,bot,B", "c,bot,C", "d,bot,D"}
	csvWant := "3 record(s) cannot be used; nothing was changed:\n  dup:4: identity b is listed more than once\n" +
		"  dup:6: identity c is listed more than once\n  dup:8: identity d is listed more than once"

	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "test")
		for _, tc := range []struct {
			format     string
			dup, clean []string
			want       string
		}{
			{importer.FormatJSONL, dup, clean, wantMsg},
			{importer.FormatCSV, csvDup, csvClean, csvWant},
		} {
			sync := func(sys *steward.System, lines []string) error {
				src, err := importer.New(tc.format, strings.NewReader(strings.Join(lines, "\n")+"\n"), "dup", importer.Options{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{Source: "t"})
				return err
			}
			first := storetest.MustSystem(t, db, nil)
			firstErr := sync(first, tc.dup)
			again := storetest.MustSystem(t, db, nil)
			if err := sync(again, tc.clean); err != nil {
				t.Fatalf("%s: the file without repeats: %v", tc.format, err)
			}
			againErr := sync(again, tc.dup)
			if steward.ErrorCode(firstErr) != steward.EINVALID || steward.ErrorCode(againErr) != steward.EINVALID {
				t.Fatalf("%s: first load: %v; re-sync: %v; want both invalid", tc.format, firstErr, againErr)
			}
			if a, b := steward.ErrorMessage(firstErr), steward.ErrorMessage(againErr); a != b {
				t.Errorf("%s: a first load reports\n%s\n\nand a re-sync\n%s", tc.format, a, b)
			}
			if got := steward.ErrorMessage(firstErr); got != tc.want {
				t.Errorf("%s: the report is\n%s\n\nwant\n%s", tc.format, got, tc.want)
			}
		}
	})
}
