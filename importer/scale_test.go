package importer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/stewardhq/steward"
)

// generatedJSONL writes n lines of Steward's JSONL on the fly, never
// holding more than one line: a stand-in for an export of millions of
// identities that does not need the disk. Every fifth line is a grant.
type generatedJSONL struct {
	n, i int
	line []byte
	rest []byte
}

func (g *generatedJSONL) Read(p []byte) (int, error) {
	for len(g.rest) == 0 {
		if g.i == g.n {
			return 0, io.EOF
		}
		g.line = appendJSONLLine(g.line[:0], g.i)
		g.rest = g.line
		g.i++
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

// appendJSONLLine appends line i: an identity with labels and a
// credential, or, every fifth line, a grant to the identity before it.
func appendJSONLLine(b []byte, i int) []byte {
	if i%5 == 4 {
		b = append(b, `{"grant": {"identity": "svc-`...)
		b = strconv.AppendInt(b, int64(i-1), 10)
		b = append(b, `", "entitlement": "role-`...)
		b = strconv.AppendInt(b, int64(i%97), 10)
		return append(b, "\"}}\n"...)
	}
	b = append(b, `{"identity": {"external_id": "svc-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `", "name": "service `...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `", "kind": "service_account", "environment": "prod", "labels": {"team": "team-`...)
	b = strconv.AppendInt(b, int64(i%211), 10)
	b = append(b, `", "app": "app-`...)
	b = strconv.AppendInt(b, int64(i%1009), 10)
	b = append(b, `"}, "created_at": "2024-01-02T03:04:05Z", "last_used_at": "2025-05-01T00:00:00Z", "credentials": [{"external_id": "k1", "kind": "access_key", "created_at": "2024-01-02T03:04:05Z"}]}}`...)
	return append(b, '\n')
}

// jsonlLines returns the first n lines appendJSONLLine writes.
func jsonlLines(n int) []byte {
	var data []byte
	for i := range n {
		data = appendJSONLLine(data, i)
	}
	return data
}

// TestJSONLMillions reads a million lines (100,000 with -short) and checks
// that the heap stays small: the importer holds one line at a time.
func TestJSONLMillions(t *testing.T) {
	t.Parallel()
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	src, err := New(FormatJSONL, &generatedJSONL{n: n}, "generated.jsonl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	const heapLimit = 64 << 20
	var peak uint64
	var ms runtime.MemStats
	count := 0
	for r, err := range src.Read(context.Background()) {
		if err != nil {
			t.Fatalf("record %d: %v", count, err)
		}
		count++
		if count%(n/10) == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			if want := fmt.Sprintf("generated.jsonl:%d", count); r.Pos != want {
				t.Fatalf("record at %s, want %s", r.Pos, want)
			}
		}
	}
	if count != n {
		t.Fatalf("read %d records, want %d", count, n)
	}
	t.Logf("%d records, peak heap in use %d KiB", count, peak>>10)
	if peak > heapLimit {
		t.Errorf("peak heap in use %d MiB; want under %d MiB while streaming", peak>>20, heapLimit>>20)
	}
}

// BenchmarkJSONL measures how fast JSONL is read and checked, in records
// per second, over 10,000 lines held in memory.
func BenchmarkJSONL(b *testing.B) {
	data := jsonlLines(10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		src, err := New(FormatJSONL, bytes.NewReader(data), "bench.jsonl", Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range src.Read(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			records++
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

var _ steward.Source = (*JSONL)(nil)

// BenchmarkJSONLSkipping measures a re-sync's read of an unchanged export:
// every line is hashed and its sum looked up, none is parsed. In lines per
// second over 100,000 short lines (the share of a re-sync that is only the
// reader's).
func BenchmarkJSONLSkipping(b *testing.B) {
	data := jsonlLines(100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	skipAll := func(_ []uint64, skip []bool) {
		for i := range skip {
			skip[i] = true
		}
	}
	records := 0
	for b.Loop() {
		src, err := New(FormatJSONL, bytes.NewReader(data), "bench.jsonl", Options{})
		if err != nil {
			b.Fatal(err)
		}
		for r, err := range src.(steward.Skipper).ReadSkipping(context.Background(), skipAll) {
			if err != nil || !r.Skipped() {
				b.Fatalf("record %+v, error %v: every line should come back skipped", r, err)
			}
			records++
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
