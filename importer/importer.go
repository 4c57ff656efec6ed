// Package importer reads real export files — an AWS IAM credential report,
// kubectl's list of service accounts, gcloud's list of service account keys —
// and Steward's own JSONL and CSV schemas, each as a steward.Source.
//
// Every importer streams: it holds one row or one JSON item at a time (plus,
// for the export formats, the set of keys seen so far, to report duplicates),
// so a file of millions of lines is read in bounded memory; and no record is
// buffered past MaxRecordBytes, so one huge record cannot exhaust it. A row that cannot
// be read is yielded as an EINVALID error "file:line: reason" and the stream
// goes on, so that every bad row is reported at once; a file that is not of
// the format at all (wrong header, not JSON) gives one error and stops.
// Records that are yielded pass steward.Record.Normalize.
//
// The formats and how each maps onto Steward's identities are described in
// docs/import-formats.md.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// Format names, as given to New and to `steward import --format`.
const (
	FormatAWSCredentialReport   = "aws-credential-report" // #nosec G101 -- an import format's name, not a credential
	FormatK8sServiceAccounts    = "k8s-serviceaccounts"
	FormatGCPServiceAccountKeys = "gcp-sa-keys"
	FormatJSONL                 = "jsonl"
	FormatCSV                   = "csv"
)

// Formats returns the names of every format New accepts, in sorted order.
func Formats() []string {
	return []string{FormatAWSCredentialReport, FormatCSV, FormatGCPServiceAccountKeys, FormatJSONL, FormatK8sServiceAccounts}
}

// Options tunes how an export is read. The zero value is ready to use.
type Options struct {
	// Now is when the export is read. The export formats reject times of
	// creation and use more than a day after Now (a report cannot say a key
	// was used tomorrow; such a time is a column mix-up or a broken clock),
	// and gcp-sa-keys marks a key whose validBeforeTime has passed as
	// disabled. Default: the time New is called.
	Now time.Time
}

// futureSlack is how far past Options.Now a time of creation or use may be
// before it is rejected: clocks of the exporting system and of Steward differ.
const futureSlack = 24 * time.Hour

// MaxRecordBytes is the most one record of an export may take: a JSONL line,
// a CSV row (with every line of its quoted fields), one item of a JSON
// document (a service account of a Kubernetes List, a key of gcloud's list)
// or any other single JSON value of one. A longer record is reported as
// "FILE:LINE: … longer than 1048576 bytes" instead of being buffered, so
// that whatever the input, an import holds a few records at a time and its
// memory stays bounded (docs/sizing.md). A JSONL line or a CSV row over the
// limit is skipped and reading goes on; in a JSON document the decoder
// cannot find the end of an over-long value without reading it, so reading
// stops there. Real records are a few kilobytes: 1 MiB leaves room for an
// identity with 64 labels of 1 KiB each and its credentials.
const MaxRecordBytes = 1 << 20

// New returns a source that reads r in the given format. name is the file
// name used in positions ("report.csv:12"). A source can be read again (as
// connectortest.CheckSource does) when r is an io.Seeker: each read seeks
// back to where r was when New was called; otherwise a second read fails.
// Reads of one source must not overlap. New returns EINVALID for an unknown
// format, naming the known ones.
func New(format string, r io.Reader, name string, opt Options) (steward.Source, error) {
	return newSource(format, readerInput(r), name, opt)
}

// Open returns a source that reads the file at path in the given format,
// opening it afresh at each read, so that reads may overlap. Positions name
// the path as given. Open returns EINVALID for an unknown format and
// ENOTFOUND if there is no such file.
func Open(format, path string, opt Options) (steward.Source, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, steward.Errorf(steward.ENOTFOUND, "file %s does not exist.", path)
	} else if err != nil {
		return nil, fmt.Errorf("importer: %w", err)
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) } // #nosec G304 -- the file steward import names; the API passes a reader, never a path
	return newSource(format, open, path, opt)
}

func newSource(format string, open opener, name string, opt Options) (steward.Source, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	in := input{name: name, open: open, opt: opt}
	switch format {
	case FormatAWSCredentialReport:
		return &AWSCredentialReport{in}, nil
	case FormatK8sServiceAccounts:
		return &K8sServiceAccounts{in}, nil
	case FormatGCPServiceAccountKeys:
		return &GCPServiceAccountKeys{in}, nil
	case FormatJSONL:
		return &JSONL{in}, nil
	case FormatCSV:
		return &CSV{in}, nil
	}
	return nil, steward.Errorf(steward.EINVALID, "import format %q is not known; one of: %s.", format, strings.Join(Formats(), ", "))
}

// opener opens the export for one read.
type opener func() (io.ReadCloser, error)

// readerInput turns a reader into an opener: re-readable by seeking when r
// is an io.Seeker, once only otherwise. A lock held from open to Close stops
// two reads from interleaving on the one reader.
func readerInput(r io.Reader) opener {
	var mu sync.Mutex
	seeker, canSeek := r.(io.Seeker)
	var start int64
	if canSeek {
		// An *os.File may be a pipe (standard input), which cannot seek.
		var err error
		start, err = seeker.Seek(0, io.SeekCurrent)
		canSeek = err == nil
	}
	used := false
	return func() (io.ReadCloser, error) {
		if !mu.TryLock() {
			return nil, errors.New("importer: the source is already being read; reads of one source must not overlap")
		}
		if canSeek {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				mu.Unlock()
				return nil, fmt.Errorf("importer: rewinding: %w", err)
			}
		} else if used {
			mu.Unlock()
			return nil, errors.New("importer: the source was read already and its reader cannot seek; pass an io.ReadSeeker to read it again")
		}
		used = true
		return unlockCloser{r, &mu}, nil
	}
}

type unlockCloser struct {
	io.Reader
	mu *sync.Mutex
}

func (u unlockCloser) Close() error {
	u.mu.Unlock()
	return nil
}

// input is what every format's source holds: where its bytes come from and
// what to call them.
type input struct {
	name string
	open opener
	opt  Options
}

// pos is the position of line n of the input.
func (in *input) pos(line int) string { return fmt.Sprintf("%s:%d", in.name, line) }

// bad returns an EINVALID error at line n of the input.
func (in *input) bad(line int, format string, args ...any) error {
	return steward.AtPos(in.pos(line), steward.Errorf(steward.EINVALID, format, args...))
}

// ioError wraps a failure to read the input; it ends the stream.
func (in *input) ioError(err error) error {
	return fmt.Errorf("importer: reading %s: %w", in.name, err)
}

// stream runs body over a freshly opened input and adapts it to a Source's
// iterator: body calls emit for each record or error and stops when emit
// returns false. A canceled context ends the stream with its error.
func (in *input) stream(ctx context.Context, body func(rc io.Reader, emit func(steward.Record, error) bool) error) iter.Seq2[steward.Record, error] {
	return func(yield func(steward.Record, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(steward.Record{}, err)
			return
		}
		rc, err := in.open()
		if err != nil {
			yield(steward.Record{}, err)
			return
		}
		defer rc.Close()
		stopped := false
		emit := func(r steward.Record, err error) bool {
			if err == nil {
				if cerr := ctx.Err(); cerr != nil {
					r, err = steward.Record{}, cerr
					stopped = true
					yield(r, err)
					return false
				}
			}
			if !yield(r, err) {
				stopped = true
				return false
			}
			return true
		}
		if err := body(rc, emit); err != nil && !stopped {
			yield(steward.Record{}, err)
		}
	}
}

// valid checks r as the reconciler will, with Record.Normalize, on a copy,
// so that the record is yielded with its defaults unfilled: the environment
// in particular is the sync's to choose.
func valid(r steward.Record) error {
	c := r
	if r.Identity != nil {
		id := *r.Identity
		c.Identity = &id
	}
	if r.Entitlement != nil {
		e := *r.Entitlement
		c.Entitlement = &e
	}
	if r.Grant != nil {
		g := *r.Grant
		c.Grant = &g
	}
	return c.Normalize(steward.EnvProd)
}

// parseTime reads an RFC 3339 (ISO 8601 with offset) time, as every format
// here writes them, and returns it in UTC so that two reads compare equal
// whatever offset the export used.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, steward.Errorf(steward.EINVALID, "%q is not an ISO 8601 time such as 2023-04-05T10:20:30+00:00", s)
	}
	return t.UTC(), nil
}

// notFuture returns EINVALID if t, a time of creation or use, is more than
// futureSlack after now.
func notFuture(field string, t *time.Time, now time.Time) error {
	if t != nil && t.After(now.Add(futureSlack)) {
		return steward.Errorf(steward.EINVALID, "%s %s is in the future.", field, t.Format(time.RFC3339))
	}
	return nil
}

// latest returns the latest of the non-nil times, or nil.
func latest(ts ...*time.Time) *time.Time {
	var out *time.Time
	for _, t := range ts {
		if t != nil && (out == nil || t.After(*out)) {
			out = t
		}
	}
	return out
}

// environmentIn finds a deployment stage named by a word of s, such as the
// namespace "payments-prod" or the label value "Production". Two different
// stages in one string are ambiguous and give "", as does none.
func environmentIn(s string) steward.Environment {
	var found steward.Environment
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, w := range words {
		var e steward.Environment
		switch w {
		case "prod", "production", "prd":
			e = steward.EnvProd
		case "staging", "stage", "stg":
			e = steward.EnvStaging
		case "dev", "development":
			e = steward.EnvDev
		default:
			continue
		}
		if found != "" && found != e {
			return ""
		}
		found = e
	}
	return found
}

// labelValue makes an outside value fit a Steward label: control characters
// (annotations are often multi-line) become spaces and the value is cut to
// 1,024 bytes on a character boundary.
func labelValue(v string) string {
	const limit = 1024
	if strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		v = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, v)
	}
	if len(v) <= limit {
		return v
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}

// sortedKeys returns the keys of m in order, so that output built from a map
// is the same on every read.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
