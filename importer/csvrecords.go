package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
)

// tooLong is the reason given for a record over MaxRecordBytes; what names
// the record ("the line", "the row", "the JSON value that starts here").
func tooLong(what string) string {
	return fmt.Sprintf("%s is longer than %d bytes (%d MiB), the most one record may be.", what, MaxRecordBytes, MaxRecordBytes>>20)
}

// csvRecords stands between an export and the csv.Reader that parses it, so
// that the parser never holds more than one bounded record: encoding/csv
// reads a record whole, however long, and a single 200 MB row would take
// about a gigabyte to parse. It finds where each record ends as csv.Reader
// does (a quoted field may span lines), passes on records of at most max
// bytes unchanged, and in place of a longer one passes on only its
// newlines, noting the line it starts on in tooLong. csv.Reader skips the
// blank lines, and its line numbers stay those of the file.
type csvRecords struct {
	br  *bufio.Reader
	max int

	line    int    // the line the next record starts on
	rec     []byte // the record being passed on
	off     int    // how much of rec is passed on
	blank   int    // newlines still to pass on for a record skipped
	err     error  // what ends the input, once rec and blank are passed on
	tooLong []int  // start lines of the records skipped, not yet reported
}

func newCSVRecords(r io.Reader, max int) *csvRecords {
	return &csvRecords{br: newBufReader(r), max: max, line: 1}
}

// Read passes on the input, record by record.
func (g *csvRecords) Read(p []byte) (int, error) {
	for g.off == len(g.rec) && g.blank == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.rec, g.off = g.rec[:0], 0
		g.next()
	}
	if g.blank > 0 {
		n := min(len(p), g.blank)
		for i := range n {
			p[i] = '\n'
		}
		g.blank -= n
		return n, nil
	}
	n := copy(p, g.rec[g.off:])
	g.off += n
	return n, nil
}

// reported drops the records skipped before line from tooLong and returns
// them: those to report before what csv.Reader returned at line.
func (g *csvRecords) reported(line int) []int {
	i := 0
	for i < len(g.tooLong) && g.tooLong[i] < line {
		i++
	}
	out := g.tooLong[:i:i]
	g.tooLong = g.tooLong[i:]
	return out
}

// States of the scan for the end of a record, after csv.Reader's parser
// (a comma, no lazy quotes, no leading-space trimming, no comments).
const (
	csvFieldStart = iota // at the start of a field
	csvUnquoted          // in a field without quotes
	csvQuoted            // in a quoted field, which may span lines
	csvQuote             // after a quote in a quoted field: escape or end?
	csvQuoteCR           // after a quote and a \r: \n ends the record
	csvBadLine           // after a misplaced quote: csv.Reader drops the rest of the line
	csvEnd               // the record has ended, at a newline
)

// next reads the next record into rec, or past it into blank when it is
// longer than max, or sets err at the end of the input.
func (g *csvRecords) next() {
	state, size, lines, skip := csvFieldStart, 0, 0, false
	for {
		chunk, err := g.br.ReadSlice('\n')
		if len(chunk) > 0 {
			if state == csvFieldStart && size == 0 && err == nil && !hasQuote(chunk) {
				state = csvEnd // a whole line without quotes: the common row
			} else {
				state = csvScan(state, chunk)
			}
			size += len(chunk)
			if chunk[len(chunk)-1] == '\n' {
				lines++
			}
			if !skip && size > g.max+2 { // +2: the newline, maybe after a \r
				skip = true
				g.rec = g.rec[:0]
			}
			if !skip {
				g.rec = append(g.rec, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			g.err = err // io.EOF too: the record ends with the input
		case state != csvEnd:
			continue // a newline inside a quoted field
		}
		break
	}
	if skip {
		g.tooLong = append(g.tooLong, g.line)
		g.blank = lines
	}
	g.line += lines
}

// hasQuote reports whether b holds a double quote.
func hasQuote(b []byte) bool { return bytes.IndexByte(b, '"') >= 0 }

// csvScan runs the scan for the end of a record over b, which holds at
// most one newline, at its end.
func csvScan(state int, b []byte) int {
	for _, c := range b {
		switch state {
		case csvFieldStart:
			switch c {
			case '"':
				state = csvQuoted
			case ',':
			case '\n':
				state = csvEnd
			default:
				state = csvUnquoted
			}
		case csvUnquoted:
			switch c {
			case ',':
				state = csvFieldStart
			case '\n':
				state = csvEnd
			case '"':
				state = csvBadLine // csv.ErrBareQuote
			}
		case csvQuoted:
			if c == '"' {
				state = csvQuote
			}
		case csvQuote:
			switch c {
			case '"':
				state = csvQuoted // an escaped quote
			case ',':
				state = csvFieldStart
			case '\n':
				state = csvEnd
			case '\r':
				state = csvQuoteCR
			default:
				state = csvBadLine // csv.ErrQuote
			}
		case csvQuoteCR:
			if c == '\n' {
				state = csvEnd
			} else {
				state = csvBadLine
			}
		case csvBadLine:
			if c == '\n' {
				state = csvEnd
			}
		}
	}
	return state
}

// csvRows reads the rows of a CSV export through csvRecords, in file order:
// each row, or the problem with it, a row too long in its place.
type csvRows struct {
	in *input
	g  *csvRecords
	cr *csv.Reader

	pending []int // lines of rows too long, to give before the row read ahead
	ahead   bool  // a row was read ahead: row, line, bad
	row     []string
	line    int
	bad     error
}

// newCSVRows reads r with fields fields per row (-1: any), reusing the
// slice of fields from row to row.
func newCSVRows(in *input, r io.Reader, fields int) *csvRows {
	g := newCSVRecords(r, MaxRecordBytes)
	cr := csv.NewReader(g)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = fields
	return &csvRows{in: in, g: g, cr: cr}
}

// next returns the next row and its line, or bad, an EINVALID problem with
// the row at line (it does not parse, or is too long), or err: io.EOF at
// the end of the input, or a failure to read it. The row is valid until
// the next call.
func (c *csvRows) next() (row []string, line int, bad, err error) {
	if len(c.pending) > 0 {
		line, c.pending = c.pending[0], c.pending[1:]
		return nil, line, c.in.bad(line, "%s", tooLong("the row")), nil
	}
	if c.ahead {
		c.ahead = false
		return c.row, c.line, c.bad, nil
	}
	row, err = c.cr.Read()
	var pe *csv.ParseError
	switch {
	case err == nil:
		line, _ = c.cr.FieldPos(0)
	case errors.As(err, &pe):
		line, bad, err = pe.StartLine, csvError(c.in, err), nil
		if line == 0 {
			line = pe.Line
		}
	case err == io.EOF:
		line = math.MaxInt
	default:
		return nil, 0, nil, c.in.ioError(err)
	}
	if skipped := c.g.reported(line); len(skipped) > 0 {
		c.pending = skipped
		if err == nil {
			c.ahead, c.row, c.line, c.bad = true, row, line, bad
		}
		return c.next()
	}
	return row, line, bad, err
}

// newBufReader buffers r for csvRecords.
func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }
