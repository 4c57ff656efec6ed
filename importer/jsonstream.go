package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stewardhq/steward"
)

// lineCounter counts the lines of what a json.Decoder reads, so that an item
// can be named by the line it starts on. It remembers only the newlines the
// decoder has read ahead of the last question, which is bounded by the
// decoder's buffer: one item and a little more.
type lineCounter struct {
	r       io.Reader
	off     int64   // bytes read so far
	pending []int64 // offsets of newlines not yet counted
	counted int     // newlines before the last offset asked about
	limit   int64   // read no further than this offset; 0: no limit
}

// errValueTooLong is what lineCounter's Read says at its limit: the value
// being decoded is longer than MaxRecordBytes.
var errValueTooLong = errors.New("importer: a JSON value is over the record limit")

func (lc *lineCounter) Read(p []byte) (int, error) {
	if lc.limit > 0 {
		room := lc.limit - lc.off
		if room <= 0 {
			return 0, errValueTooLong
		}
		if int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := lc.r.Read(p)
	if err != nil && err != io.EOF {
		err = readError{err}
	}
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		lc.pending = append(lc.pending, lc.off+int64(i+j))
		i += j + 1
	}
	lc.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off. Offsets must be asked
// about in increasing order.
func (lc *lineCounter) lineAt(off int64) int {
	k := 0
	for k < len(lc.pending) && lc.pending[k] < off {
		k++
	}
	lc.counted += k
	lc.pending = lc.pending[k:]
	return lc.counted + 1
}

// readError marks a failure of the underlying reader, so that it is told
// apart from the decoder's complaints about the JSON.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// jsonStream is a token-level reader of a large JSON document: the outer
// structure is walked token by token and each item is decoded on its own, so
// that only one item is in memory at a time. No token or item may be longer
// than MaxRecordBytes: json.Decoder buffers a value whole before decoding
// it, so before each read the stream lets the decoder read only that far
// past where it stands, and a longer value ends the stream with an error
// at its line (the decoder keeps a failed read's error, so nothing can be
// read past it).
type jsonStream struct {
	in  *input
	lc  *lineCounter
	dec *json.Decoder

	valueLine int // the line of the value being read, for errValueTooLong
}

func newJSONStream(in *input, r io.Reader) *jsonStream {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	dec.UseNumber() // a number token too large for a float64 is still a token
	return &jsonStream{in: in, lc: lc, dec: dec}
}

// nextLine returns the line where the next value starts: the decoder stands
// after the previous token, so the whitespace and the comma still ahead of
// it in the buffer are skipped, counting their newlines.
func (js *jsonStream) nextLine() int {
	line := js.lc.lineAt(js.dec.InputOffset())
	br, ok := js.dec.Buffered().(io.ByteReader)
	if !ok {
		return line
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			return line
		}
		switch c {
		case '\n':
			line++
		case ' ', '\t', '\r', ',', ':':
		default:
			return line
		}
	}
}

// allow lets the decoder read the next value, of up to MaxRecordBytes with
// the space and comma before it, and no more.
func (js *jsonStream) allow() {
	js.lc.limit = js.dec.InputOffset() + MaxRecordBytes
	js.valueLine = js.nextLine()
}

// more reports whether the array or object being read has another element.
func (js *jsonStream) more() bool {
	js.allow()
	return js.dec.More()
}

// token reads the next token; a syntax error or an early end is structural
// and ends the stream.
func (js *jsonStream) token() (json.Token, error) {
	js.allow()
	t, err := js.dec.Token()
	if err != nil && err != io.EOF {
		return nil, js.fatal(err)
	}
	return t, err
}

// next reads the next token where the document cannot end yet.
func (js *jsonStream) next() (json.Token, error) {
	t, err := js.token()
	if err == io.EOF {
		return nil, js.fatal(io.ErrUnexpectedEOF)
	}
	return t, err
}

// fatal turns an error of the decoder into the error that ends the stream:
// EINVALID at the line of a syntax error, or an I/O error.
func (js *jsonStream) fatal(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, errValueTooLong):
		return js.in.bad(js.valueLine, "%s The file is not read further.", tooLong("the JSON value that starts here"))
	case errors.As(err, &se):
		return js.in.bad(js.syntaxErrorLine(), "not valid JSON: %s.", strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return js.in.bad(js.lc.lineAt(js.lc.off), "the JSON ends early: the file is cut short.")
	case steward.ErrorCode(err) == steward.EINVALID:
		return err
	}
	var re readError
	if errors.As(err, &re) {
		return js.in.ioError(re.err)
	}
	return js.in.bad(js.lc.lineAt(js.dec.InputOffset()), "not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// syntaxErrorLine finds the line of a syntax error. The decoder's
// SyntaxError.Offset counts only the bytes it scanned as values, not those
// read as tokens, so it is no position in the file. But a failed read leaves
// the decoder standing at the start of the broken value with the value still
// buffered: scanning that again from its start gives the error's offset
// within it. An error outside a value (a missing comma) is where the decoder
// stands.
func (js *jsonStream) syntaxErrorLine() int {
	start := js.dec.InputOffset()
	rest, _ := io.ReadAll(js.dec.Buffered())
	skipped := 0
	for skipped < len(rest) && bytes.IndexByte([]byte(" \t\r\n,:"), rest[skipped]) >= 0 {
		skipped++
	}
	var se *json.SyntaxError
	err := json.NewDecoder(bytes.NewReader(rest[skipped:])).Decode(&struct{}{})
	if errors.As(err, &se) && se.Offset > 0 {
		return js.lc.lineAt(start + int64(skipped) + se.Offset - 1)
	}
	return js.lc.lineAt(start)
}

// decode reads the next value into v. A value of the wrong shape (a number
// where a string belongs) is a bad item and the stream can go on past it;
// anything else is fatal.
func (js *jsonStream) decode(v any) (bad error, fatal error) {
	js.allow()
	err := js.dec.Decode(v)
	if err == nil {
		return nil, nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the item"
		}
		return steward.Errorf(steward.EINVALID, "%s is a JSON %s; want %s.", field, te.Value, jsonKind(te.Type.Kind().String())), nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, js.fatal(err)
}

// jsonKind names a Go kind as a JSON reader would think of it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "ptr":
		return "a value"
	}
	return "a number"
}

// skip reads past the next value, whatever it is, token by token so that a
// large value is not held.
func (js *jsonStream) skip() error {
	depth := 0
	for {
		t, err := js.next()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			js.lc.lineAt(js.dec.InputOffset()) // forget the newlines skipped
			return nil
		}
	}
}

// expectDelim reads the next token and returns EINVALID naming what was
// wanted unless it is the delimiter d.
func (js *jsonStream) expectDelim(d json.Delim, what string) error {
	line := js.nextLine()
	t, err := js.token()
	if err == io.EOF {
		return js.in.bad(line, "the file ends where %s should be.", what)
	} else if err != nil {
		return err
	}
	if got, ok := t.(json.Delim); !ok || got != d {
		return js.in.bad(line, "want %s; found %s.", what, describeToken(t))
	}
	return nil
}

// describeToken names a JSON token for an error message.
func describeToken(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("the string %q", v)
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("the number %v", t)
}
