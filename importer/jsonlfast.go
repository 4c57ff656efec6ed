package importer

import (
	"time"

	"github.com/stewardhq/steward"
)

// fastRecord decodes line (already trimmed of surrounding white space) when
// it is in the plain subset of the JSONL format that exports write: one
// object holding one of "identity", "entitlement" or "grant", whose keys are
// the exact json names of the fields, each at most once; strings of
// printable ASCII without escapes; true and false where a field is a bool;
// times as strings, parsed as encoding/json parses them. ok is false for
// anything else (null, numbers, escapes, non-ASCII, unknown or duplicate
// keys, keys in another case, a wrong type, trailing data), and the caller
// then decodes the line with encoding/json, which either produces the same
// record or explains the error.
//
// It exists for speed: at 6 million lines, encoding/json's reflection was
// the largest CPU cost of an import, about 4.5 µs a line. encoding/json
// stays the reference: whatever fastRecord accepts, slowRecord decodes to a
// record that is reflect.DeepEqual (FuzzFastRecord checks it), so valid and
// everything after see no difference.
func fastRecord(line []byte) (rec steward.Record, ok bool) {
	s := scanner{b: line}
	items := 0
	ok = s.object(recordFields, func(name string) bool {
		// encoding/json keeps every item of a line with several, which
		// valid then rejects; leave that, and its message, to it.
		if items++; items > 1 {
			return false
		}
		var read bool
		switch name {
		case "identity":
			rec.Identity, read = s.identity()
		case "entitlement":
			rec.Entitlement, read = s.entitlement()
		case "grant":
			rec.Grant, read = s.grant()
		}
		return read
	})
	if !ok || items != 1 || !s.end() {
		return steward.Record{}, false
	}
	return rec, true
}

// The json names of the fields of each object, as in their struct tags: the
// only keys fastRecord takes.
var (
	recordFields      = []string{"identity", "entitlement", "grant"}
	identityFields    = []string{"external_id", "name", "kind", "environment", "criticality", "status", "labels", "owner", "team", "created_at", "last_used_at", "credentials", "links"}
	credentialFields  = []string{"external_id", "kind", "status", "created_at", "last_rotated_at", "last_used_at", "expires_at", "version"}
	linkFields        = []string{"kind", "to"}
	entitlementFields = []string{"name", "description", "privileged", "sensitivity"}
	grantFields       = []string{"identity", "entitlement", "type", "granted_at", "expires_at"}
)

func (s *scanner) identity() (*steward.SourceIdentity, bool) {
	id := new(steward.SourceIdentity)
	ok := s.object(identityFields, func(name string) bool {
		switch name {
		case "external_id":
			return plain(s, &id.ExternalID)
		case "name":
			return plain(s, &id.Name)
		case "kind":
			return plain(s, &id.Kind)
		case "environment":
			return plain(s, &id.Environment)
		case "criticality":
			return plain(s, &id.Criticality)
		case "status":
			return plain(s, &id.Status)
		case "labels":
			return s.labels(&id.Labels)
		case "owner":
			return plain(s, &id.Owner)
		case "team":
			return plain(s, &id.Team)
		case "created_at":
			return s.timestamp(&id.CreatedAt)
		case "last_used_at":
			return s.timestamp(&id.LastUsedAt)
		case "credentials":
			return s.credentials(&id.Credentials)
		case "links":
			return s.links(&id.Links)
		}
		return false
	})
	return id, ok
}

func (s *scanner) credential(c *steward.SourceCredential) bool {
	return s.object(credentialFields, func(name string) bool {
		switch name {
		case "external_id":
			return plain(s, &c.ExternalID)
		case "kind":
			return plain(s, &c.Kind)
		case "status":
			return plain(s, &c.Status)
		case "version":
			return plain(s, &c.Version)
		case "created_at":
			return s.timestamp(&c.CreatedAt)
		case "last_rotated_at":
			return s.timestamp(&c.LastRotatedAt)
		case "last_used_at":
			return s.timestamp(&c.LastUsedAt)
		case "expires_at":
			return s.timestamp(&c.ExpiresAt)
		}
		return false
	})
}

func (s *scanner) entitlement() (*steward.SourceEntitlement, bool) {
	e := new(steward.SourceEntitlement)
	ok := s.object(entitlementFields, func(name string) bool {
		switch name {
		case "name":
			return plain(s, &e.Name)
		case "description":
			return plain(s, &e.Description)
		case "privileged":
			return s.boolean(&e.Privileged)
		case "sensitivity":
			return plain(s, &e.Sensitivity)
		}
		return false
	})
	return e, ok
}

func (s *scanner) grant() (*steward.SourceGrant, bool) {
	g := new(steward.SourceGrant)
	ok := s.object(grantFields, func(name string) bool {
		switch name {
		case "identity":
			return plain(s, &g.Identity)
		case "entitlement":
			return plain(s, &g.Entitlement)
		case "type":
			return plain(s, &g.Type)
		case "granted_at":
			return s.timestamp(&g.GrantedAt)
		case "expires_at":
			return s.timestamp(&g.ExpiresAt)
		}
		return false
	})
	return g, ok
}

// scanner is a cursor over one line. Each reader skips the white space
// before its token and returns false, leaving the cursor anywhere, at the
// first byte outside the plain subset.
type scanner struct {
	b []byte
	i int
}

// space skips JSON white space.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat reads the byte c.
func (s *scanner) eat(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a plain string: printable ASCII other than '"' and '\', so
// that its JSON text is its value. The result aliases the line.
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// plain reads a plain string into a string field or one of the string
// types of the schema (IdentityKind, Level...), as a copy: the line's
// buffer is reused.
func plain[T ~string](s *scanner, dst *T) bool {
	v, ok := s.str()
	*dst = T(v)
	return ok
}

// boolean reads true or false.
func (s *scanner) boolean(dst *bool) bool {
	s.space()
	switch rest := s.b[s.i:]; {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		*dst, s.i = true, s.i+4
	case len(rest) >= 5 && string(rest[:5]) == "false":
		*dst, s.i = false, s.i+5
	default:
		return false
	}
	return true
}

// timestamp reads a plain string with time.Time's UnmarshalJSON, which is what
// encoding/json calls with the same bytes.
func (s *scanner) timestamp(dst **time.Time) bool {
	s.space()
	start := s.i
	if _, ok := s.str(); !ok {
		return false
	}
	t := new(time.Time)
	if t.UnmarshalJSON(s.b[start:s.i]) != nil {
		return false
	}
	*dst = t
	return true
}

// object reads an object whose keys are among names, each at most once
// (encoding/json would also take other cases of a name, and let a repeated
// key win), calling value with the name to read each value.
func (s *scanner) object(names []string, value func(name string) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	var seen uint64 // bit i: names[i] was read
	for {
		key, ok := s.str()
		if !ok || !s.eat(':') {
			return false
		}
		i := 0
		for i < len(names) && string(key) != names[i] {
			i++
		}
		if i == len(names) || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		if !value(names[i]) {
			return false
		}
		if !s.eat(',') {
			return s.eat('}')
		}
	}
}

// labels reads an object of plain strings with distinct keys. {} gives an
// empty map, not nil, as in encoding/json.
func (s *scanner) labels(dst *map[string]string) bool {
	if !s.eat('{') {
		return false
	}
	m := map[string]string{}
	*dst = m
	if s.eat('}') {
		return true
	}
	for {
		k, ok := s.str()
		if !ok || !s.eat(':') {
			return false
		}
		v, ok := s.str()
		if !ok {
			return false
		}
		if _, dup := m[string(k)]; dup {
			return false
		}
		m[string(k)] = string(v)
		if !s.eat(',') {
			return s.eat('}')
		}
	}
}

// credentials reads an array of credential objects. [] gives an empty
// slice, not nil, as in encoding/json.
func (s *scanner) links(dst *[]steward.SourceLink) bool {
	if !s.eat('[') {
		return false
	}
	*dst = []steward.SourceLink{}
	if s.eat(']') {
		return true
	}
	for {
		var l steward.SourceLink
		ok := s.object(linkFields, func(name string) bool {
			switch name {
			case "kind":
				return plain(s, &l.Kind)
			case "to":
				return plain(s, &l.To)
			}
			return false
		})
		if !ok {
			return false
		}
		*dst = append(*dst, l)
		if !s.eat(',') {
			return s.eat(']')
		}
	}
}

func (s *scanner) credentials(dst *[]steward.SourceCredential) bool {
	if !s.eat('[') {
		return false
	}
	*dst = []steward.SourceCredential{}
	if s.eat(']') {
		return true
	}
	for {
		var c steward.SourceCredential
		if !s.credential(&c) {
			return false
		}
		*dst = append(*dst, c)
		if !s.eat(',') {
			return s.eat(']')
		}
	}
}
