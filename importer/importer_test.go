package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stewardhq/steward"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testNow is when the fixtures were "exported".
var testNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// fixtures maps each format to its hand-written export in testdata.
var fixtures = map[string]string{
	FormatAWSCredentialReport:   "testdata/credential-report.csv",
	FormatK8sServiceAccounts:    "testdata/serviceaccounts.json",
	FormatGCPServiceAccountKeys: "testdata/sa-keys.json",
	FormatJSONL:                 "testdata/steward.jsonl",
	FormatCSV:                   "testdata/identities.csv",
}

// MustOpen returns a source over a file of testdata.
func MustOpen(tb testing.TB, format, path string) steward.Source {
	tb.Helper()
	src, err := Open(format, path, Options{Now: testNow})
	if err != nil {
		tb.Fatalf("Open(%s, %s): %v", format, path, err)
	}
	return src
}

// MustSource returns a source over text, named "input" in positions.
func MustSource(tb testing.TB, format, text string) steward.Source {
	tb.Helper()
	src, err := New(format, strings.NewReader(text), "input", Options{Now: testNow})
	if err != nil {
		tb.Fatalf("New(%s): %v", format, err)
	}
	return src
}

// collect reads src once, returning its records and its errors.
func collect(tb testing.TB, src steward.Source) ([]steward.Record, []error) {
	tb.Helper()
	var recs []steward.Record
	var errs []error
	for r, err := range src.Read(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}

// positioned is a record with its position, as the golden files hold it.
type positioned struct {
	Pos    string         `json:"pos"`
	Record steward.Record `json:"record"`
}

// checkGolden compares the records with testdata/golden/NAME.json, or
// rewrites it with -update.
func checkGolden(t *testing.T, name string, recs []steward.Record) {
	t.Helper()
	out := make([]positioned, len(recs))
	for i, r := range recs {
		out[i] = positioned{r.Pos, r}
	}
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("records differ from %s (run go test -update and review the diff):\n%s", path, got)
	}
}

// byID indexes the identities of recs by external id.
func byID(recs []steward.Record) map[string]*steward.SourceIdentity {
	out := map[string]*steward.SourceIdentity{}
	for _, r := range recs {
		if r.Identity != nil {
			out[r.Identity.ExternalID] = r.Identity
		}
	}
	return out
}

// mustBeInvalid fails unless every error is EINVALID and they are want in
// number, each message starting with the position in wantPos order.
func mustBeInvalid(t *testing.T, errs []error, wantPos ...string) {
	t.Helper()
	if len(errs) != len(wantPos) {
		t.Fatalf("got %d errors %v, want %d at %v", len(errs), errs, len(wantPos), wantPos)
	}
	for i, err := range errs {
		if steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("error %v is not EINVALID", err)
		} else if msg := steward.ErrorMessage(err); !strings.HasPrefix(msg, wantPos[i]+": ") {
			t.Errorf("error %q is not at %s", msg, wantPos[i])
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("unknown format lists the known ones", func(t *testing.T) {
		t.Parallel()
		_, err := New("xlsx", strings.NewReader(""), "f", Options{})
		if steward.ErrorCode(err) != steward.EINVALID {
			t.Fatalf("got %v, want EINVALID", err)
		}
		for _, f := range Formats() {
			if !strings.Contains(steward.ErrorMessage(err), f) {
				t.Errorf("message %q does not name format %s", steward.ErrorMessage(err), f)
			}
		}
	})
	t.Run("every format has a fixture", func(t *testing.T) {
		t.Parallel()
		for _, f := range Formats() {
			if fixtures[f] == "" {
				t.Errorf("format %s has no fixture", f)
			}
		}
	})
	t.Run("a reader that cannot seek is read once", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile(fixtures[FormatJSONL])
		if err != nil {
			t.Fatal(err)
		}
		src, err := New(FormatJSONL, io.MultiReader(bytes.NewReader(data)), "once.jsonl", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if recs, errs := collect(t, src); len(errs) != 0 || len(recs) == 0 {
			t.Fatalf("first read: %d records, errors %v", len(recs), errs)
		}
		_, errs := collect(t, src)
		if len(errs) != 1 || steward.ErrorCode(errs[0]) != steward.EINTERNAL {
			t.Fatalf("second read gave %v, want one internal error", errs)
		}
	})
	t.Run("a pipe (standard input) is read once", func(t *testing.T) {
		t.Parallel()
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		go func() {
			pw.WriteString(`{"identity": {"external_id": "a", "kind": "bot"}}` + "\n")
			pw.Close()
		}()
		src, err := New(FormatJSONL, pr, "-", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if recs, errs := collect(t, src); len(errs) != 0 || len(recs) != 1 || recs[0].Pos != "-:1" {
			t.Fatalf("got %v %v", recs, errs)
		}
	})
	t.Run("a seekable reader is read from where it stood", func(t *testing.T) {
		t.Parallel()
		r := strings.NewReader("ignored\n" + `{"identity": {"external_id": "a", "kind": "bot"}}` + "\n")
		if _, err := r.Seek(8, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		src, err := New(FormatJSONL, r, "part.jsonl", Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			recs, errs := collect(t, src)
			if len(errs) != 0 || len(recs) != 1 || recs[0].Pos != "part.jsonl:1" {
				t.Fatalf("got %v %v", recs, errs)
			}
		}
	})
	t.Run("overlapping reads of one reader are refused", func(t *testing.T) {
		t.Parallel()
		src := MustSource(t, FormatJSONL, "{\"identity\": {\"external_id\": \"a\", \"kind\": \"bot\"}}\n{\"identity\": {\"external_id\": \"b\", \"kind\": \"bot\"}}\n")
		for _, err := range src.Read(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			_, errs := collect(t, src)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), "already being read") {
				t.Fatalf("inner read gave %v", errs)
			}
			break
		}
		if _, errs := collect(t, src); len(errs) != 0 {
			t.Fatalf("a read after the first ended gave %v", errs)
		}
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := Open(FormatCSV, filepath.Join(t.TempDir(), "nope.csv"), Options{})
		if steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Fatalf("got %v, want ENOTFOUND", err)
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		t.Parallel()
		_, err := Open("yaml", fixtures[FormatCSV], Options{})
		if steward.ErrorCode(err) != steward.EINVALID {
			t.Fatalf("got %v, want EINVALID", err)
		}
	})
	t.Run("canceled context ends the stream", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		var last error
		for _, err := range MustOpen(t, FormatAWSCredentialReport, fixtures[FormatAWSCredentialReport]).Read(ctx) {
			if err != nil {
				last = err
				continue
			}
			n++
			cancel()
		}
		if n != 1 || !errors.Is(last, context.Canceled) {
			t.Fatalf("read %d records, last error %v; want 1 and context.Canceled", n, last)
		}
	})
}

func TestReadFailure(t *testing.T) {
	t.Parallel()
	broken := errors.New("disk on fire")
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(fixtures[format])
			if err != nil {
				t.Fatal(err)
			}
			r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(broken))
			src, err := New(format, r, "half", Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			_, errs := collect(t, src)
			if len(errs) != 1 || !errors.Is(errs[0], broken) || steward.ErrorCode(errs[0]) != steward.EINTERNAL {
				t.Errorf("got errors %v; want the read error alone, internal", errs)
			}
		})
	}
}

func TestEnvironmentIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want steward.Environment
	}{
		{"payments-prod", steward.EnvProd},
		{"Production", steward.EnvProd},
		{"acme-stg-eu", steward.EnvStaging},
		{"staging", steward.EnvStaging},
		{"team_dev", steward.EnvDev},
		{"development", steward.EnvDev},
		{"product", ""},
		{"devops", ""},
		{"prod-to-dev-sync", ""}, // ambiguous
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := environmentIn(tc.in); got != tc.want {
				t.Errorf("environmentIn(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLabelValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 600) // 1,200 bytes
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "payments", "payments"},
		{"newlines become spaces", "a\nb\tc", "a b c"},
		{"cut on a character boundary", long, strings.Repeat("é", 512)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := labelValue(tc.in); got != tc.want {
				t.Errorf("labelValue = %q, want %q", got, tc.want)
			}
		})
	}
}
