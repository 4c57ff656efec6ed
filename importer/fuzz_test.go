package importer

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// fuzzFormat seeds a fuzz test with the format's fixture and extra inputs,
// then checks that no input panics or hangs, that every error is EINVALID
// at a position of the input (structural errors end the stream, which is
// the clean stop), that every record normalises, and that reading the same
// input again gives each record the same Sum (the digest's lookups rely on
// it).
func fuzzFormat(f *testing.F, format string, seeds ...string) {
	data, err := os.ReadFile(fixtures[format])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sums := func() []uint64 {
			src, err := New(format, bytes.NewReader(data), "fuzz", Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			var out []uint64
			for r, err := range src.Read(context.Background()) {
				if err == nil {
					out = append(out, r.Sum)
				}
			}
			return out
		}
		if a, b := sums(), sums(); !slices.Equal(a, b) {
			t.Fatalf("the same input read twice: sums %v, then %v", a, b)
		}
		src, err := New(format, bytes.NewReader(data), "fuzz", Options{Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		for r, err := range src.Read(context.Background()) {
			if err != nil {
				if steward.ErrorCode(err) != steward.EINVALID {
					t.Fatalf("error %v is not EINVALID", err)
				} else if msg := steward.ErrorMessage(err); !strings.HasPrefix(msg, "fuzz:") {
					t.Fatalf("error %q names no position", msg)
				}
				continue
			}
			if !strings.HasPrefix(r.Pos, "fuzz:") {
				t.Fatalf("record at %q", r.Pos)
			}
			if err := r.Normalize(steward.EnvDev); err != nil {
				t.Fatalf("%s: record does not normalise: %v", r.Pos, err)
			}
		}
	})
}

func FuzzAWSCredentialReport(f *testing.F) {
	fuzzFormat(f, FormatAWSCredentialReport,
		awsHeaderLine+"\n",
		awsHeaderLine+"\nx,arn:aws:iam::1:user/x,N/A,true,N/A,N/A,N/A,false,true,N/A,N/A,N/A,N/A,true,N/A,N/A,N/A,N/A,true,N/A,true,N/A\n",
		awsHeaderLine+"\n\"a\nb\",arn:aws:iam::1:user/x\n")
}

func FuzzK8s(f *testing.F) {
	fuzzFormat(f, FormatK8sServiceAccounts,
		`{"kind":"List","items":[{"kind":"ServiceAccount","metadata":{"name":"a","namespace":"b","labels":{"env":"prod"}}}]}`,
		`{"items":null,"kind":"List"}`,
		`{"kind":"List","items":[1,"x",{"kind":"ServiceAccount"}]}`)
}

func FuzzGCP(f *testing.F) {
	fuzzFormat(f, FormatGCPServiceAccountKeys,
		`[{"name":"projects/p/serviceAccounts/a@b/keys/k","keyType":"USER_MANAGED","validAfterTime":"2024-01-01T00:00:00Z"}][]`,
		`{"keys":[{"name":"projects/p/serviceAccounts/a@b/keys/k","keyType":"SYSTEM_MANAGED","validAfterTime":"2024-01-01T00:00:00Z","validBeforeTime":"2024-01-02T00:00:00Z"}]}`,
		`[1, null, "x"]`)
}

func FuzzJSONL(f *testing.F) {
	fuzzFormat(f, FormatJSONL,
		`{"identity":{"external_id":"a","kind":"bot","credentials":[{"external_id":"c","kind":"token"}]}}`+"\n\n"+`{"grant":{"identity":"a","entitlement":"e","type":"jit","expires_at":"2025-01-01T00:00:00Z"}}`,
		"{}\n[]\nnull\n")
}

func FuzzCSV(f *testing.F) {
	fuzzFormat(f, FormatCSV,
		"external_id,kind,label:a\nx,bot,1\n",
		"kind,external_id,created_at\nbot,\"a\"\"b\",2024-01-01T00:00:00Z\n")
}
