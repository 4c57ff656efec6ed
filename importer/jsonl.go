package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"runtime"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/stewardhq/steward"
)

// JSONL reads Steward's own schema for any system without an importer of
// its own: one JSON object per line, {"identity": {...}}, {"entitlement":
// {...}} or {"grant": {...}}, with the json fields of steward.SourceIdentity,
// SourceEntitlement and SourceGrant. Unknown fields are rejected (a typo
// must not drop data silently), blank lines are skipped, and a line may be
// up to MaxRecordBytes. See docs/import-formats.md.
type JSONL struct{ in input }

// Read streams one record per non-blank line. Each record's Sum is the
// xxHash64 of its line, without surrounding white space.
func (s *JSONL) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.ReadSkipping(ctx, nil)
}

// ReadSkipping is Read, except that a line whose Sum known says may be
// skipped is not decoded: its record comes with only Sum set. known is asked
// once per batch of lines.
func (s *JSONL) ReadSkipping(ctx context.Context, known steward.KnownFunc) iter.Seq2[steward.Record, error] {
	return s.in.stream(ctx, func(r io.Reader, emit func(steward.Record, error) bool) error {
		return s.read(r, known, emit)
	})
}

// JSONL lines are decoded in parallel, in batches, by GOMAXPROCS workers,
// and yielded in file order: decoding is most of an import's work, and the
// caller (the reconciler) writes to the store meanwhile. Memory stays
// bounded by the batches in flight.
const (
	jsonlBatchLines = 512
	jsonlBatchBytes = 512 << 10
)

// jsonlBatch is a run of consecutive lines, copied out of the reader.
type jsonlBatch struct {
	buf   []byte
	lines []jsonlLine
	fatal error // a read error after these lines, which ends the stream
}

type jsonlLine struct {
	n          int // line number
	start, end int // the line's bytes in buf
	tooLong    bool
}

// jsonlResult is what one batch decodes to.
type jsonlResult struct {
	records []steward.Record // a zero Record where errs has an error
	errs    []error
	fatal   error
}

type jsonlJob struct {
	batch *jsonlBatch
	res   chan<- jsonlResult
}

func (s *JSONL) read(r io.Reader, known steward.KnownFunc, emit func(steward.Record, error) bool) error {
	workers := max(1, runtime.GOMAXPROCS(0))
	done := make(chan struct{})
	jobs := make(chan jsonlJob)
	order := make(chan chan jsonlResult, 2*workers) // results in file order
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		s.split(r, jobs, order, done)
	}()
	for range workers {
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.res <- s.decode(j.batch, known) // buffered: never blocks
			}
		}()
	}
	// Stopping early must not leave a goroutine reading r after the caller
	// closes it.
	defer func() {
		close(done)
		wg.Wait()
	}()
	for res := range order {
		out := <-res
		for i, rec := range out.records {
			if !emit(rec, out.errs[i]) {
				return nil
			}
		}
		if out.fatal != nil {
			return out.fatal
		}
	}
	return nil
}

// split reads r into batches of lines and hands each to a worker, keeping
// the order of batches in order.
func (s *JSONL) split(r io.Reader, jobs chan<- jsonlJob, order chan<- chan jsonlResult, done <-chan struct{}) {
	lr := lineReader{br: newBufReader(r)}
	send := func(b *jsonlBatch) bool {
		res := make(chan jsonlResult, 1)
		select {
		case order <- res:
		case <-done:
			return false
		}
		select {
		case jobs <- jsonlJob{b, res}:
			return true
		case <-done:
			return false
		}
	}
	b := &jsonlBatch{}
	for n := 1; ; n++ {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			break
		} else if err != nil {
			b.fatal = s.in.ioError(err)
			break
		}
		start := len(b.buf)
		b.buf = append(b.buf, line...)
		b.lines = append(b.lines, jsonlLine{n: n, start: start, end: len(b.buf), tooLong: tooLong})
		if len(b.lines) >= jsonlBatchLines || len(b.buf) >= jsonlBatchBytes {
			if !send(b) {
				return
			}
			b = &jsonlBatch{}
		}
	}
	if len(b.lines) > 0 || b.fatal != nil {
		send(b)
	}
}

// decode reads the records of one batch; blank lines give nothing, and
// lines known gives true are not parsed.
func (s *JSONL) decode(b *jsonlBatch, known steward.KnownFunc) jsonlResult {
	out := jsonlResult{fatal: b.fatal}
	var body bytes.Reader
	// The sums of the lines that have one (not blank, not over-long), in
	// order, asked about all at once.
	sums := make([]uint64, 0, len(b.lines))
	for _, l := range b.lines {
		if line := bytes.TrimSpace(b.buf[l.start:l.end]); !l.tooLong && len(line) > 0 {
			sums = append(sums, xxhash.Sum64(line))
		}
	}
	skip := make([]bool, len(sums))
	if known != nil {
		known(sums, skip)
	}
	k := 0
	for _, l := range b.lines {
		if l.tooLong {
			out.records = append(out.records, steward.Record{})
			out.errs = append(out.errs, s.in.bad(l.n, "%s", tooLong("the line")))
			continue
		}
		line := bytes.TrimSpace(b.buf[l.start:l.end])
		if len(line) == 0 {
			continue
		}
		sum, skipped := sums[k], skip[k]
		k++
		if skipped {
			out.records = append(out.records, steward.Record{Sum: sum}) // no Pos: nothing is said of it
			out.errs = append(out.errs, nil)
			continue
		}
		rec, ok := fastRecord(line)
		var err error
		if !ok {
			rec, err = slowRecord(&body, line)
		}
		if err == nil {
			err = valid(rec)
		}
		if err != nil {
			out.records = append(out.records, steward.Record{})
			out.errs = append(out.errs, steward.AtPos(s.in.pos(l.n), err))
			continue
		}
		rec.Pos, rec.Sum = s.in.pos(l.n), sum
		out.records = append(out.records, rec)
		out.errs = append(out.errs, nil)
	}
	return out
}

// slowRecord decodes one line, trimmed and not blank, with encoding/json:
// the reference decoding of the format, and the one whose errors are worded
// for the user. body is reused from line to line.
func slowRecord(body *bytes.Reader, line []byte) (steward.Record, error) {
	if len(line) == 0 || line[0] != '{' {
		return steward.Record{}, steward.Errorf(steward.EINVALID, "the line is not a JSON object.")
	}
	body.Reset(line)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var rec steward.Record
	if err := dec.Decode(&rec); err != nil {
		return steward.Record{}, jsonlError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return steward.Record{}, steward.Errorf(steward.EINVALID, "unexpected data after the JSON object.")
	}
	return rec, nil
}

// jsonlError words a decoding error of one line for the user.
func jsonlError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return steward.Errorf(steward.EINVALID, "not valid JSON: %s (at byte %d).", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	case errors.As(err, &te):
		return steward.Errorf(steward.EINVALID, "%s is a JSON %s; want %s.", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return steward.Errorf(steward.EINVALID, "not valid JSON: the object is not closed.")
	}
	// Unknown fields and bad times: encoding/json's words are clear enough.
	return steward.Errorf(steward.EINVALID, "%s.", strings.TrimPrefix(err.Error(), "json: "))
}

// newBufReader buffers r for a lineReader: lines shorter than the buffer
// are returned without a copy.
func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

// lineReader reads lines of at most MaxRecordBytes bytes; a longer line is read
// past and reported, so that memory stays bounded whatever the input.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
}

// next returns the next line without its newline. The slice is valid until
// the next call.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if !tooLong {
			if len(lr.buf)+len(chunk) > MaxRecordBytes+2 { // +2: the newline, maybe after a \r
				tooLong = true
				lr.buf = lr.buf[:0]
			} else if err == nil && len(lr.buf) == 0 {
				return chunk[:len(chunk)-1], false, nil // the whole line was in the buffer: no copy
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && (len(lr.buf) > 0 || tooLong):
			return lr.buf, tooLong, nil // a last line without a newline
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimSuffix(lr.buf, []byte("\n")), tooLong, nil
	}
}
