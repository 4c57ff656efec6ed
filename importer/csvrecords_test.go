package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// csvParse reads every record of r as csv.Reader does for the importers
// (any number of fields), keyed by the line each starts on: its fields, or
// its error.
func csvParse(tb testing.TB, r io.Reader) map[int]string {
	tb.Helper()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	out := map[int]string{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			out[pe.StartLine] = "error: " + pe.Error()
		case err != nil:
			tb.Fatalf("csv: %v", err)
		default:
			line, _ := cr.FieldPos(0)
			out[line] = strings.Join(rec, "\x1f")
		}
	}
}

// checkCSVRecords reads data through csvRecords with a limit of max bytes
// and checks it against csv.Reader reading data itself: every record that
// passes parses as it would have, at the same line, and every record that
// does not is one reported too long, that was longer than max.
func checkCSVRecords(t *testing.T, data []byte, max int) (skipped []int) {
	t.Helper()
	whole := csvParse(t, bytes.NewReader(data))
	g := newCSVRecords(iotest.OneByteReader(bytes.NewReader(data)), max)
	passed := csvParse(t, g)
	skipped = g.reported(int(^uint(0) >> 1))
	for line, got := range passed {
		if want, ok := whole[line]; !ok || want != got {
			t.Fatalf("line %d through csvRecords: %q; read whole: %q", line, got, want)
		}
	}
	for _, line := range skipped {
		if _, ok := passed[line]; ok {
			t.Fatalf("line %d was reported too long and passed", line)
		}
		if _, ok := whole[line]; !ok {
			t.Fatalf("line %d was reported too long; csv.Reader starts no record there", line)
		}
	}
	for line := range whole {
		if _, ok := passed[line]; !ok && !slices.Contains(skipped, line) {
			t.Fatalf("the record at line %d was lost: neither passed nor reported", line)
		}
	}
	if max >= len(data) && len(skipped) > 0 {
		t.Fatalf("records at %v reported too long in %d bytes with a limit of %d", skipped, len(data), max)
	}
	return skipped
}

func TestCSVRecords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data string
		skipped    []int
	}{
		{"short rows", "a,b\nc,d\n", nil},
		{"a long row", "a,b\n" + strings.Repeat("x", 40) + ",y\nc,d\n", []int{2}},
		{"a long last row without a newline", "a,b\nc,d\n" + strings.Repeat("x", 40), []int{3}},
		{"a long quoted field over lines", "a,b\n\"" + strings.Repeat("x\n", 20) + "\",y\nc,d\n", []int{2}},
		{"short quoted fields over lines", "a,\"b\nc\"\n\"d\"\"\ne\",f\ng,h\n", nil},
		{"a bare quote ends the row at its line", "a,b\"" + strings.Repeat("x", 10) + "\nc,d\n", nil},
		{"a bad quote ends the row at its line", "\"a\"b\nc,d\n", nil},
		{"CRLF", "a,\"b\"\r\n\"" + strings.Repeat("y", 40) + "\"\r\nc,d\r\n", []int{2}},
		{"blank lines", "\n\na,b\n\n" + strings.Repeat("z", 40) + "\n\nc\n", []int{5}},
		{"an unclosed quote runs to the end", "a,b\n\"c\nd\n" + strings.Repeat("e", 40) + "\n", []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := checkCSVRecords(t, []byte(tc.data), 32)
			if !slices.Equal(got, tc.skipped) {
				t.Errorf("reported too long: %v; want %v", got, tc.skipped)
			}
		})
	}
}

// FuzzCSVRecords checks csvRecords against csv.Reader on any input: with a
// small limit, every row that passes parses as it would have at the same
// line, and every row held back was reported; with a limit over the input's
// size, nothing is held back.
func FuzzCSVRecords(f *testing.F) {
	for _, s := range []string{
		"a,b\nc,d\n",
		"a,\"b\nc\"\n\"d\"\"\ne\",f\n",
		"a,b\"x\nc\n",
		"\"a\"b\nc\n",
		"\"a\"\r\n\"b\"\r\r\nc\r",
		"\"unclosed\nx\ny",
		"x,\"" + strings.Repeat("long\n", 10) + "\"\nz\n",
	} {
		f.Add([]byte(s), uint8(8))
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint8) {
		checkCSVRecords(t, data, int(max))
		checkCSVRecords(t, data, len(data)+1)
	})
}
