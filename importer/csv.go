package importer

import (
	"context"
	"encoding/binary"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/stewardhq/steward"
)

// CSV reads Steward's own CSV schema for identities: a header row naming
// the columns, in any order, then one identity per row. external_id and
// kind are required; label:KEY columns become labels. See
// docs/import-formats.md.
type CSV struct{ in input }

// csvColumns are the columns CSV knows besides label:KEY.
var csvColumns = []string{"external_id", "name", "kind", "environment", "criticality", "status", "owner", "team", "created_at", "last_used_at"}

// csvLabelPrefix starts a label column's name.
const csvLabelPrefix = "label:"

// Read streams one identity per row.
func (s *CSV) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.in.stream(ctx, s.read)
}

func (s *CSV) read(r io.Reader, emit func(steward.Record, error) bool) error {
	rows := newCSVRows(&s.in, r, 0)
	header, _, bad, err := rows.next()
	if err == io.EOF {
		return s.in.bad(1, "the file is empty; want a header row naming the columns, such as external_id,kind,name.")
	} else if err != nil {
		return err
	} else if bad != nil {
		return bad
	}
	cols, labels, err := csvHeader(header)
	if err != nil {
		return steward.AtPos(s.in.pos(1), err)
	}
	sum := newCSVSum(header) // before the next row reuses header's slice
	rows.cr.FieldsPerRecord = len(header)
	for {
		rec, line, bad, err := rows.next()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if bad != nil {
			if !emit(steward.Record{}, bad) {
				return nil
			}
			continue
		}
		r, err := csvIdentity(rec, cols, labels)
		if err != nil {
			if !emit(steward.Record{}, steward.AtPos(s.in.pos(line), err)) {
				return nil
			}
			continue
		}
		r.Pos, r.Sum = s.in.pos(line), sum.of(rec)
		if !emit(r, nil) {
			return nil
		}
	}
}

// csvSum is a row's Record.Sum: the xxHash64 of the header's and the row's
// fields, each followed by a unit separator. The header is in it because it
// gives the fields their meaning. Without it the store would sum each
// parsed record as JSON: a third of an unchanged million-row re-import.
type csvSum struct {
	d      *xxhash.Digest
	header [8]byte
}

func newCSVSum(header []string) *csvSum {
	c := &csvSum{d: xxhash.New()}
	for _, h := range header {
		c.d.WriteString(h) // #nosec G104 -- xxhash.Digest writes never fail
		c.d.Write(unitSep) // #nosec G104 -- xxhash.Digest writes never fail
	}
	binary.LittleEndian.PutUint64(c.header[:], c.d.Sum64())
	return c
}

var unitSep = []byte{0x1f}

func (c *csvSum) of(fields []string) uint64 {
	c.d.Reset()
	c.d.Write(c.header[:]) // #nosec G104 -- xxhash.Digest writes never fail
	for _, f := range fields {
		c.d.WriteString(f) // #nosec G104 -- xxhash.Digest writes never fail
		c.d.Write(unitSep) // #nosec G104 -- xxhash.Digest writes never fail
	}
	return max(1, c.d.Sum64()) // 0 says "no sum"
}

// csvHeader maps each known column to its index (-1 if absent) and each
// label column's index to its key.
func csvHeader(header []string) (cols map[string]int, labels map[int]string, err error) {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a byte order mark added by a spreadsheet
	}
	cols = make(map[string]int, len(csvColumns))
	for _, c := range csvColumns {
		cols[c] = -1
	}
	labels = map[int]string{}
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if seen[name] {
			return nil, nil, steward.Errorf(steward.EINVALID, "the header names column %q twice.", name)
		}
		seen[name] = true
		switch {
		case strings.HasPrefix(name, csvLabelPrefix):
			key := strings.TrimPrefix(name, csvLabelPrefix)
			if key == "" {
				return nil, nil, steward.Errorf(steward.EINVALID, "column %d is %q: a label column names its key, as in label:team.", i+1, name)
			}
			labels[i] = key
		case slices.Contains(csvColumns, name):
			cols[name] = i
		default:
			return nil, nil, steward.Errorf(steward.EINVALID, "column %q is not known; columns are %s and label:KEY.", name, strings.Join(csvColumns, ", "))
		}
	}
	for _, c := range []string{"external_id", "kind"} {
		if cols[c] < 0 {
			return nil, nil, steward.Errorf(steward.EINVALID, "the header has no %s column, which is required.", c)
		}
	}
	return cols, labels, nil
}

// csvIdentity reads one row. Empty cells take the sync's defaults.
func csvIdentity(rec []string, cols map[string]int, labels map[int]string) (steward.Record, error) {
	get := func(c string) string {
		if i := cols[c]; i >= 0 {
			return rec[i]
		}
		return ""
	}
	id := &steward.SourceIdentity{
		ExternalID:  get("external_id"),
		Name:        get("name"),
		Kind:        steward.IdentityKind(get("kind")),
		Environment: steward.Environment(get("environment")),
		Criticality: steward.Level(get("criticality")),
		Status:      steward.IdentityStatus(get("status")),
		Owner:       get("owner"),
		Team:        get("team"),
	}
	for _, c := range []struct {
		name string
		dst  **time.Time
	}{{"created_at", &id.CreatedAt}, {"last_used_at", &id.LastUsedAt}} {
		if v := get(c.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return steward.Record{}, steward.Errorf(steward.EINVALID, "%s: %s.", c.name, steward.ErrorMessage(err))
			}
			*c.dst = &t
		}
	}
	for i, key := range labels {
		if v := rec[i]; v != "" {
			if id.Labels == nil {
				id.Labels = map[string]string{}
			}
			id.Labels[key] = v
		}
	}
	r := steward.Record{Identity: id}
	return r, valid(r)
}
