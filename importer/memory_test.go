package importer

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// hugeRecord is the size of the one large record TestHugeRecordMemory
// imports: what a probe of Steward once fed each importer, and which then
// took about a gigabyte to read.
const hugeRecord = 200 << 20

// heapBound is how far the heap may grow while an importer reads past a
// hugeRecord-byte record: a few records of MaxRecordBytes and their
// garbage, a small fraction of the record.
const heapBound = 32 << 20

// repeatReader yields n bytes of pattern repeated, made as they are read.
type repeatReader struct {
	block []byte // pattern repeated, a whole number of times
	at    int    // where in block the next byte is
	n     int64  // bytes left
}

func newRepeatReader(pattern string, n int64) *repeatReader {
	return &repeatReader{block: []byte(strings.Repeat(pattern, (64<<10)/len(pattern)+1)), n: n}
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	total := 0
	for len(p) > 0 {
		k := copy(p, r.block[r.at:])
		r.at = (r.at + k) % len(r.block)
		p, total = p[k:], total+k
	}
	r.n -= int64(total)
	return total, nil
}

// heapSampler passes its reader on and samples the heap every MiB read:
// peak is the largest HeapAlloc seen. Sampling where the importer reads,
// rather than on a timer, makes the measure the same on every run.
type heapSampler struct {
	r          io.Reader
	read, next int64
	peak       uint64
}

func (h *heapSampler) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.read += int64(n)
	if h.read >= h.next {
		h.sample()
		h.next = h.read + 1<<20
	}
	return n, err
}

func (h *heapSampler) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
}

// TestHugeRecordMemory imports, in every format, a file with one record of
// 200 MB among small ones, and measures the heap while it is read: it must
// stay well under the record's size, the record must be reported at its
// line as over MaxRecordBytes, and the records around it read (up to it,
// in the JSON documents, where reading stops). The file is made as it is
// read, so the test holds no 200 MB itself. Not parallel: the heap is the
// whole test binary's, and the parallel tests wait for this one.
func TestHugeRecordMemory(t *testing.T) {
	const awsRow = ",arn:aws:iam::123456789012:user/%s,2020-01-10T12:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	k8sItem := func(name string) string {
		return `{"kind":"ServiceAccount","metadata":{"name":"` + name + `","namespace":"ns"}}`
	}
	gcpKey := func(id string) string {
		return `{"name":"projects/p/serviceAccounts/a@p.iam.gserviceaccount.com/keys/` + id + `","keyType":"USER_MANAGED","validAfterTime":"2024-01-01T00:00:00Z"}`
	}
	for _, tc := range []struct {
		name, format     string
		head, fill, tail string
		badLine          int      // where the huge record is reported
		wantPos          []string // the lines of the records read
		fatal            bool     // reading stops at the huge record
	}{
		{name: "jsonl", format: FormatJSONL,
			head:    `{"identity":{"external_id":"ok1","kind":"bot"}}` + "\n" + `{"identity":{"external_id":"big","kind":"bot","name":"`,
			fill:    "x",
			tail:    `"}}` + "\n" + `{"identity":{"external_id":"ok2","kind":"bot"}}` + "\n",
			badLine: 2, wantPos: []string{"input:1", "input:3"}},
		{name: "csv", format: FormatCSV,
			head:    "external_id,kind,name\nok1,bot,a\nbig,bot,",
			fill:    "x",
			tail:    "\nok2,bot,b\n",
			badLine: 3, wantPos: []string{"input:2", "input:4"}},
		{name: "csv quoted lines", format: FormatCSV,
			head:    "external_id,kind,name\nok1,bot,a\nbig,bot,\"",
			fill:    "xxxxxxx\n",
			tail:    "\"\nok2,bot,b\n",
			badLine: 3, wantPos: []string{"input:2", fmt.Sprintf("input:%d", 4+hugeRecord/8)}},
		{name: "aws-credential-report", format: FormatAWSCredentialReport,
			head:    awsHeaderLine + "\n" + "ok1" + fmt.Sprintf(awsRow, "ok1") + "big",
			fill:    "x",
			tail:    fmt.Sprintf(awsRow, "big") + "ok2" + fmt.Sprintf(awsRow, "ok2"),
			badLine: 3, wantPos: []string{"input:2", "input:4"}},
		{name: "k8s-serviceaccounts item", format: FormatK8sServiceAccounts,
			head:    `{"apiVersion":"v1","kind":"List","items":[` + "\n" + k8sItem("ok1") + ",\n" + `{"kind":"ServiceAccount","metadata":{"name":"big","namespace":"ns","annotations":{"a":"`,
			fill:    "x",
			tail:    `"}}},` + "\n" + k8sItem("ok2") + "\n]}\n",
			badLine: 3, wantPos: []string{"input:2"}, fatal: true},
		{name: "k8s-serviceaccounts field", format: FormatK8sServiceAccounts,
			head:    `{"apiVersion":"v1",` + "\n" + `"metadata":{"note":"`,
			fill:    "x",
			tail:    `"},"kind":"List","items":[` + k8sItem("ok1") + "]}\n",
			badLine: 2, fatal: true},
		{name: "gcp-sa-keys", format: FormatGCPServiceAccountKeys,
			head:    "[\n" + gcpKey("k1") + ",\n" + gcpKey("k2") + ",\n" + `{"name":"`,
			fill:    "x",
			tail:    `"}` + "\n]\n",
			badLine: 4, fatal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &heapSampler{r: io.MultiReader(strings.NewReader(tc.head), newRepeatReader(tc.fill, hugeRecord), strings.NewReader(tc.tail))}
			src, err := New(tc.format, in, "input", Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var pos []string
			var problems []string
			for r, err := range src.Read(context.Background()) {
				if err != nil {
					if steward.ErrorCode(err) != steward.EINVALID {
						t.Fatalf("error %v is not EINVALID", err)
					}
					problems = append(problems, steward.ErrorMessage(err))
					continue
				}
				if len(pos) == 0 || pos[len(pos)-1] != r.Pos {
					pos = append(pos, r.Pos)
				}
			}
			in.sample()
			grown := int64(in.peak) - int64(before.HeapAlloc)
			t.Logf("read %d MiB; the heap grew by %d MiB", in.read>>20, grown>>20)
			if grown > heapBound {
				t.Errorf("the heap grew by %d MiB reading a %d MiB record; want at most %d MiB", grown>>20, hugeRecord>>20, heapBound>>20)
			}
			if !tc.fatal && in.read < hugeRecord {
				t.Errorf("read %d bytes of the file; want it read to its end", in.read)
			}
			want := fmt.Sprintf("input:%d: ", tc.badLine)
			if len(problems) != 1 || !strings.HasPrefix(problems[0], want) || !strings.Contains(problems[0], "longer than 1048576 bytes") {
				t.Errorf("problems %.300q; want one, %q… longer than 1048576 bytes", problems, want)
			}
			if tc.fatal && !strings.Contains(strings.Join(problems, ""), "not read further") {
				t.Errorf("problems %.300q do not say that reading stopped", problems)
			}
			if strings.Join(pos, " ") != strings.Join(tc.wantPos, " ") {
				t.Errorf("records at %q; want %q", pos, tc.wantPos)
			}
		})
	}
}
