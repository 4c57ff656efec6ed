package http_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/importer"
)

// uploadRecords and uploadLabels make the upload of TestImportMemory: 20,000
// identities of about 10 KB each (ten labels of 1,000 bytes), 200 MB in all.
const (
	uploadRecords = 20_000
	uploadLabels  = 10
)

// importHeapBound is how far the server's heap may grow while it takes
// TestImportMemory's upload: the upload is spooled to a file and streamed
// through the importer, so what it holds is the sync's (a few batches of
// at most 2 MiB of records and rows, the keys of 20,000 identities, and
// their garbage: about 75 MiB at the peak of a first import, 13 MiB of a
// re-import), not the body. A server that held the body would grow by
// 200 MB more.
const importHeapBound = 96 << 20

// uploadBody writes the upload as it is read, one identity per line, the
// same lines on every read: the test holds no 200 MB itself.
type uploadBody struct {
	next int // the next record
	line []byte
	off  int
	h    *heapPeak
}

func (u *uploadBody) Read(p []byte) (int, error) {
	if u.off == len(u.line) {
		if u.next == uploadRecords {
			return 0, io.EOF
		}
		var b strings.Builder
		fmt.Fprintf(&b, `{"identity": {"external_id": "upload-%06d", "kind": "bot", "labels": {`, u.next)
		for l := range uploadLabels {
			if l > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, `"l%d": "%s"`, l, strings.Repeat(string(rune('a'+l)), 1000))
		}
		b.WriteString("}}}\n")
		u.line, u.off = []byte(b.String()), 0
		u.next++
	}
	n := copy(p, u.line[u.off:])
	u.off += n
	u.h.count(n)
	return n, nil
}

// heapPeak samples the heap every MiB that passes it, on the client's side
// as the body is sent and on the server's as the importer reads the spooled
// upload: peak is the largest HeapAlloc seen. Sampling where the bytes
// flow, rather than on a timer, measures the same way on every run.
type heapPeak struct {
	mu         sync.Mutex // the client sends in its goroutine, the server reads in another
	read, next int64
	peak       uint64
}

func (h *heapPeak) count(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.read += int64(n)
	if h.read >= h.next {
		h.sampleLocked()
		h.next = h.read + 1<<20
	}
}

func (h *heapPeak) sample() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sampleLocked()
}

func (h *heapPeak) sampleLocked() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
}

// result returns the bytes counted and the peak.
func (h *heapPeak) result() (int64, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.read, h.peak
}

type sampledReader struct {
	r io.Reader
	h *heapPeak
}

func (s sampledReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.count(n)
	return n, err
}

// TestImportMemory uploads 200 MB of small records, first into an empty
// system and then again (the re-import skips what it read before), and
// measures the heap of the test binary, server and client, while each runs:
// it may grow by at most importHeapBound (docs/sizing.md). Not parallel:
// the heap is the whole binary's, and the parallel tests wait for this one.
func TestImportMemory(t *testing.T) {
	h := &heapPeak{}
	ts := MustStartServer(t, func(s *stewardhttp.Server) {
		s.Importer = func(format string, body io.Reader, name string) (steward.Source, error) {
			return importer.New(format, sampledReader{body, h}, name, importer.Options{Now: time.Now()})
		}
	})
	sys := ts.F.System()
	for _, run := range []string{"first import", "re-import"} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		h.mu.Lock()
		h.read, h.next, h.peak = 0, 0, 0
		h.mu.Unlock()
		req, err := http.NewRequest("POST", ts.HTTP.URL+importTarget(sys.ID, "format=jsonl"), &uploadBody{h: h})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+ts.Admin)
		resp, err := ts.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var res steward.SyncResult
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: status %d, %v", run, resp.StatusCode, err)
		}
		h.sample()
		read, peak := h.result()
		if res.Records != uploadRecords {
			t.Fatalf("%s: %d records; want %d", run, res.Records, uploadRecords)
		}
		if read < 2*uploadRecords*uploadLabels*1000 { // sent, then read by the importer
			t.Fatalf("%s: %d bytes passed the samplers; want the upload twice", run, read)
		}
		grown := int64(peak) - int64(before.HeapAlloc)
		t.Logf("%s: %d MiB uploaded, the heap grew by %d MiB", run, read/2>>20, grown>>20)
		if grown > importHeapBound {
			t.Errorf("%s: the heap grew by %d MiB taking a %d MiB upload; want at most %d MiB", run, grown>>20, read/2>>20, importHeapBound>>20)
		}
	}
}
