package importer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

func TestJSONL(t *testing.T) {
	t.Parallel()
	src := MustOpen(t, FormatJSONL, fixtures[FormatJSONL])
	connectortest.CheckSource(t, src, steward.EnvDev)
	recs, errs := collect(t, src)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	checkGolden(t, FormatJSONL, recs)
	var identities, entitlements, grants int
	for _, r := range recs {
		switch {
		case r.Identity != nil:
			identities++
		case r.Entitlement != nil:
			entitlements++
		case r.Grant != nil:
			grants++
		}
	}
	if identities != 3 || entitlements != 3 || grants != 3 {
		t.Errorf("got %d identities, %d entitlements, %d grants; want 3 of each", identities, entitlements, grants)
	}
	if recs[3].Pos != fixtures[FormatJSONL]+":5" {
		t.Errorf("the first identity is at %s; the blank line 4 counts", recs[3].Pos)
	}
	if id := recs[4].Identity; id.Environment != "" || id.Name != "" || id.Criticality != "" {
		t.Errorf("defaults were filled in %+v; they are the sync's to fill", id)
	}
}

func TestJSONLBadInput(t *testing.T) {
	t.Parallel()
	long := `{"identity": {"external_id": "long", "kind": "bot", "labels": {"x": "` + strings.Repeat("a", MaxRecordBytes) + `"}}}`
	lines := []string{
		`{"identity": {"external_id": "ok", "kind": "bot"}}`,                  // 1
		`{"identity": {"external_id": "typo", "kind": "bot", "ownr": "ana"}}`, // 2: unknown field
		`{"identity": {"external_id": "x", "kind": "robot"}}`,                 // 3: unknown kind
		`{"identity": {"external_id": "x", "kind": "bot"`,                     // 4: not closed
		`["identity"]`, // 5
		`{"identity": {"external_id": "x", "kind": "bot"}, "grant": {"identity": "x", "entitlement": "e"}}`, // 6: two items
		`{}`,  // 7
		``,    // 8: blank, skipped
		`   `, // 9: blank, skipped
		`{"grant": {"identity": "x", "entitlement": "e", "type": "jit"}}`,              // 10: jit with no expiry
		`{"identity": {"external_id": "x", "kind": "bot", "created_at": "yesterday"}}`, // 11
		long, // 12
		`{"identity": {"external_id": "x", "kind": "bot"}} {"entitlement": {"name": "e"}}`, // 13
		`{"identity": {"external_id": 42, "kind": "bot"}}`,                                 // 14
		`{"identity": {"external_id": "x", "kind": "bot", "status": "removed"}}`,           // 15
		`{"entitlement": {"name": "e", "sensitivity": "extreme"}}`,                         // 16
		"{\"identity\": {\"external_id\": \"tab\\there\", \"kind\": \"bot\"}}",             // 17: control character
		`{"entitlement": {"name": "last", "privileged": true}}`,                            // 18, no newline at the end
	}
	src := MustSource(t, FormatJSONL, strings.Join(lines, "\r\n"))
	want := []string{"input:2", "input:3", "input:4", "input:5", "input:6", "input:7", "input:10", "input:11", "input:12", "input:13", "input:14", "input:15", "input:16", "input:17"}
	connectortest.CheckBadInput(t, src, want...)
	recs, errs := collect(t, src)
	mustBeInvalid(t, errs, want...)
	for i, w := range []string{`unknown field "ownr"`, `kind "robot"`, "not closed", "not a JSON object", "exactly one", "holds 0", "expires_at", "yesterday", "longer than", "unexpected data", "identity.external_id is a JSON number", "removed", "extreme", "control character"} {
		if !strings.Contains(steward.ErrorMessage(errs[i]), w) {
			t.Errorf("error %q does not say %q", steward.ErrorMessage(errs[i]), w)
		}
	}
	if len(recs) != 2 || recs[0].Pos != "input:1" || recs[1].Pos != "input:18" {
		t.Errorf("records %+v, want lines 1 and 18", recs)
	}
}

// TestJSONLLines: the reader's blocks cut no line in two, lines are
// numbered from 1 with blank lines counted, white space around a line is
// not part of it, and a line longer than MaxRecordBytes is reported at its
// number and read past, wherever the blocks fall.
func TestJSONLLines(t *testing.T) {
	t.Parallel()
	b := func(n int) string { return strings.Repeat("b", n) }
	for _, tc := range []struct {
		name  string
		input string
		want  []string // each line that is not blank, trimmed; "!" for one too long
		at    []int    // their numbers
	}{
		{"empty", "", nil, nil},
		{"one line without newline", "abc", []string{"abc"}, []int{1}},
		{"blank lines", "\n\nx\n", []string{"x"}, []int{3}},
		{"white space and CRLF", "  a \t\r\n\r\n b\r\n", []string{"a", "b"}, []int{1, 3}},
		{"a newline at the end of a block", b(jsonlBlock-1) + "\nz\n", []string{b(jsonlBlock - 1), "z"}, []int{1, 2}},
		{"a line across a block", "y\n" + b(jsonlBlock) + "\nz", []string{"y", b(jsonlBlock), "z"}, []int{1, 2, 3}},
		{"a line of three blocks", b(3*jsonlBlock+5) + "\n\nz\n", []string{b(3*jsonlBlock + 5), "z"}, []int{1, 3}},
		{"as long as may be", b(MaxRecordBytes) + "\r\nz", []string{b(MaxRecordBytes), "z"}, []int{1, 2}},
		{"too long, then a line", b(MaxRecordBytes+10) + "\nok\n", []string{"!", "ok"}, []int{1, 2}},
		{"too long at the end", "ok\n" + b(MaxRecordBytes+10), []string{"ok", "!"}, []int{1, 2}},
		{"too long, ending in a block", b(jsonlBlock/2) + "\n" + b(MaxRecordBytes+2) + "\nok", []string{b(jsonlBlock / 2), "!", "ok"}, []int{1, 2, 3}},
		{"two too long", b(2*MaxRecordBytes) + "\n" + b(MaxRecordBytes+3) + "\n\nok\n", []string{"!", "!", "ok"}, []int{1, 2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := MustSource(t, FormatJSONL, tc.input).(*JSONL)
			// Not one of these lines is JSON: each comes back as an error
			// at its number.
			var at []int
			var long []bool
			for _, err := range src.Read(context.Background()) {
				msg := steward.ErrorMessage(err)
				var n int
				if _, serr := fmt.Sscanf(msg, "input:%d:", &n); serr != nil {
					t.Fatalf("error %q has no line number", msg)
				}
				at, long = append(at, n), append(long, strings.Contains(msg, "longer than"))
			}
			if fmt.Sprint(at) != fmt.Sprint(tc.at) {
				t.Fatalf("lines at %v, want %v", at, tc.at)
			}
			// Skipped, each line that may be comes back as its sum: the
			// hash of the line, trimmed.
			var mu sync.Mutex
			var sums []uint64
			known := func(s []uint64, skip []bool) {
				mu.Lock()
				defer mu.Unlock()
				sums = append(sums, s...)
				for i := range skip {
					skip[i] = true
				}
			}
			var want []uint64
			for i, w := range tc.want {
				if long[i] != (w == "!") {
					t.Errorf("line %d reported too long: %v, want %v", tc.at[i], long[i], w == "!")
				}
				if w != "!" {
					want = append(want, xxhash.Sum64String(w))
				}
			}
			n := 0
			for r, err := range src.ReadSkipping(context.Background(), known) {
				if err == nil && r.Skipped() {
					n++
				}
			}
			slices.Sort(sums)
			slices.Sort(want)
			if !slices.Equal(sums, want) || n != len(want) {
				t.Errorf("%d lines skipped, sums %x; want %x", n, sums, want)
			}
		})
	}
}

// TestJSONLSkipping: each record's Sum is the hash of its line as written,
// and a line whose sum the store knows comes back unparsed, even a line
// that would not parse (the store only ever knows lines that did).
func TestJSONLSkipping(t *testing.T) {
	t.Parallel()
	lines := []string{
		`{"entitlement": {"name": "role:a", "privileged": false}}`,
		`  {"identity": {"external_id": "svc", "name": "svc", "kind": "service_account"}}  `,
		`{"grant": {"identity": "svc", "entitlement": "role:a"}}`,
	}
	src := MustSource(t, FormatJSONL, strings.Join(lines, "\n")+"\n")
	sk, ok := src.(steward.Skipper)
	if !ok {
		t.Fatal("the JSONL source is not a Skipper")
	}
	recs, errs := collect(t, src)
	if len(errs) != 0 || len(recs) != 3 {
		t.Fatalf("records %d, errors %v", len(recs), errs)
	}
	for i, r := range recs {
		if want := xxhash.Sum64String(strings.TrimSpace(lines[i])); r.Sum != want || r.Skipped() {
			t.Fatalf("record %d: sum %x, want %x (skipped %v)", i, r.Sum, want, r.Skipped())
		}
	}
	known := map[uint64]bool{recs[1].Sum: true}
	var got []steward.Record
	for r, err := range sk.ReadSkipping(context.Background(), func(sums []uint64, skip []bool) {
		for i, s := range sums {
			skip[i] = known[s]
		}
	}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 3 || !got[1].Skipped() || got[1].Sum != recs[1].Sum || got[0].Skipped() || got[2].Grant == nil {
		t.Fatalf("skipping the second line: %+v", got)
	}
}
