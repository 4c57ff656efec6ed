package importer

import (
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

// JSONL is read in blocks, decoded in parallel by GOMAXPROCS workers, and
// yielded in file order: decoding is most of an import's work, and the
// caller (the reconciler) writes to the store meanwhile. The reading
// goroutine only cuts each block after its last newline and counts its
// lines; the workers find the lines. A re-sync skips almost every line, so
// that goroutine's share would otherwise bound the whole read: copying line
// by line out of a buffered reader, it took 0.8 s of a 6 s re-sync of six
// million lines. Memory stays bounded by the blocks in flight.
const jsonlBlock = 256 << 10

// jsonlBlocks hands the blocks of one read back to its reading goroutine
// once decoded: a fresh block is zeroed before use, which cost a re-sync
// 0.2 s for its 500 MB. Records copy what they keep of a line.
type jsonlBlocks chan []byte

// get returns a block that starts with tail and has room for jsonlBlock
// bytes more.
func (f jsonlBlocks) get(tail []byte) []byte {
	var b []byte
	if len(tail) <= jsonlBlock {
		select {
		case b = <-f:
		default:
			b = make([]byte, 0, 2*jsonlBlock)
		}
	} else {
		b = make([]byte, 0, len(tail)+jsonlBlock) // a long line: kept out of the pool
	}
	return append(b, tail...)
}

// put gives a decoded batch's block back.
func (f jsonlBlocks) put(b []byte) {
	if cap(b) != 2*jsonlBlock {
		return
	}
	select {
	case f <- b[:0]:
	default:
	}
}

// jsonlBatch is a run of whole lines, or one over-long line read past.
type jsonlBatch struct {
	buf     []byte // whole lines, each ending in a newline but perhaps the stream's last
	block   []byte // what buf was read into, for the next read once decoded
	first   int    // the number of buf's first line
	tooLong bool   // the batch is line first, longer than MaxRecordBytes and not kept
	fatal   error  // a read error after these lines, which ends the stream
}

// jsonlLine is one line of a batch that is not blank: its number, and its
// bytes in the batch without surrounding white space.
type jsonlLine struct {
	n, start, end int
	tooLong       bool
}

// jsonlResult is what one batch decodes to: an item per line that is not
// blank, in order. A skipped item is its sum alone; every other has a
// record or an error, in recs and errs, so that the lines a re-sync skips
// cost a sum each and no record.
type jsonlResult struct {
	sums  []uint64         // the items' sums (0 for a line too long to have one)
	skip  []bool           // the item was skipped (known)
	recs  []steward.Record // the items not skipped, in order; a zero Record where errs has an error
	errs  []error          // nil when no item has one; else recs' errors
	fatal error
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
	free := make(jsonlBlocks, 2*workers+2)
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		s.split(r, free, jobs, order, done)
	}()
	for range workers {
		go func() {
			defer wg.Done()
			var lines []jsonlLine // reused from batch to batch
			for j := range jobs {
				var res jsonlResult
				res, lines = s.decode(j.batch, known, lines)
				free.put(j.batch.block)
				j.res <- res // buffered: never blocks
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
		j := 0
		for k, sum := range out.sums {
			if out.skip[k] {
				if !emit(steward.Record{Sum: sum}, nil) {
					return nil
				}
				continue
			}
			var err error
			if out.errs != nil {
				err = out.errs[j]
			}
			if !emit(out.recs[j], err) {
				return nil
			}
			j++
		}
		if out.fatal != nil {
			return out.fatal
		}
	}
	return nil
}

// split reads r in blocks, cuts each after its last newline (the rest of
// the block starts the next) and hands the whole lines to a worker, keeping
// the order of batches in order. A line longer than MaxRecordBytes is read
// past without being kept, and comes as a batch of its own.
func (s *JSONL) split(r io.Reader, free jsonlBlocks, jobs chan<- jsonlJob, order chan<- chan jsonlResult, done <-chan struct{}) {
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
	line := 1
	var tail []byte // the start of a line the last block did not end
	long := false   // reading past an over-long line to its end
	for eof := false; !eof; {
		block := free.get(tail)
		n, err := io.ReadFull(r, block[len(tail):len(tail)+jsonlBlock])
		buf := block[:len(tail)+n]
		var fatal error
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
		case err != nil:
			eof, fatal = true, s.in.ioError(err)
		}
		if long {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 && !eof {
				free.put(block)
				continue
			}
			if !send(&jsonlBatch{first: line, tooLong: true}) {
				return
			}
			line, long = line+1, false
			buf = buf[i+1:] // i is -1 at the end of the stream: nothing is left
		}
		cut := len(buf) // at the end, the last line needs no newline
		if !eof || fatal != nil {
			cut = bytes.LastIndexByte(buf, '\n') + 1 // a read that failed ends with no line it cut short
		}
		whole := buf[:cut]
		// The unfinished line is copied out: the block is the worker's.
		if tail = append(tail[:0], buf[cut:]...); len(tail) > MaxRecordBytes+1 { // +1: a \r before the newline
			long, tail = true, tail[:0]
		}
		if len(whole) == 0 && fatal == nil {
			free.put(block)
			continue
		}
		first := line
		line += bytes.Count(whole, []byte{'\n'})
		if !send(&jsonlBatch{buf: whole, block: block, first: first, fatal: fatal}) {
			return
		}
	}
}

// lines finds the lines of b that are not blank, trimmed, into lines.
// tooLong reports whether one is longer than MaxRecordBytes.
func (b *jsonlBatch) lines(lines []jsonlLine) (_ []jsonlLine, tooLong bool) {
	if b.tooLong {
		return append(lines, jsonlLine{n: b.first, tooLong: true}), true
	}
	for n, at := b.first, 0; at < len(b.buf); n++ {
		end, next := len(b.buf), len(b.buf)
		if i := bytes.IndexByte(b.buf[at:], '\n'); i >= 0 {
			end, next = at+i, at+i+1
		}
		raw := b.buf[at:end]
		at = next
		if len(raw) > MaxRecordBytes+1 {
			lines, tooLong = append(lines, jsonlLine{n: n, tooLong: true}), true
			continue
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 {
			start := end - len(raw) + cap(raw) - cap(t) // t's offset in raw: both end where buf does
			lines = append(lines, jsonlLine{n: n, start: start, end: start + len(t)})
		}
	}
	return lines, tooLong
}

// decode reads the records of one batch; blank lines give nothing, and
// lines known gives true are not parsed. lines is scratch space, returned
// for the next batch.
func (s *JSONL) decode(b *jsonlBatch, known steward.KnownFunc, lines []jsonlLine) (jsonlResult, []jsonlLine) {
	lines, long := b.lines(lines[:0])
	out := jsonlResult{fatal: b.fatal, sums: make([]uint64, len(lines)), skip: make([]bool, len(lines))}
	for i, l := range lines {
		if !l.tooLong {
			out.sums[i] = xxhash.Sum64(b.buf[l.start:l.end])
		}
	}
	switch {
	case known == nil:
	case !long:
		known(out.sums, out.skip) // all at once
	default: // only the lines that have a sum
		var sums []uint64
		var at []int
		for i, l := range lines {
			if !l.tooLong {
				sums, at = append(sums, out.sums[i]), append(at, i)
			}
		}
		skip := make([]bool, len(sums))
		known(sums, skip)
		for k, i := range at {
			out.skip[i] = skip[k]
		}
	}
	parsed := 0
	for _, skipped := range out.skip {
		if !skipped {
			parsed++
		}
	}
	out.recs = make([]steward.Record, 0, parsed)
	fail := func(err error) {
		if out.errs == nil {
			out.errs = make([]error, parsed)
		}
		out.errs[len(out.recs)] = err
		out.recs = append(out.recs, steward.Record{})
	}
	var body bytes.Reader
	for i, l := range lines {
		switch {
		case out.skip[i]:
			continue
		case l.tooLong:
			fail(s.in.bad(l.n, "%s", tooLong("the line")))
			continue
		}
		line := b.buf[l.start:l.end]
		rec, ok := fastRecord(line)
		var err error
		if !ok {
			rec, err = slowRecord(&body, line)
		}
		if err == nil {
			err = valid(rec)
		}
		if err != nil {
			fail(steward.AtPos(s.in.pos(l.n), err))
			continue
		}
		rec.Pos, rec.Sum = s.in.pos(l.n), out.sums[i]
		out.recs = append(out.recs, rec)
	}
	return out, lines
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
