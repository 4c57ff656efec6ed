// Package policy reads the service catalog (YAML), compiles its request
// models' who_may_request rules to one Cedar policy set validated against
// Steward's Cedar schema, and decides requests in process with their
// reasons.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stewardhq/steward"
)

// KindCatalog is the kind a catalog document declares (`kind: Catalog`).
const KindCatalog = "Catalog"

// MaxSource is the largest catalog accepted, in bytes.
const MaxSource = 4 << 20

// Diagnostic is one problem of a catalog file, where it is: line and column
// start at 1 (0 when the problem is the file's as a whole).
type Diagnostic struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path,omitempty"` // models[2].tier
	Message string `json:"message"`
}

func (d Diagnostic) String() string {
	if d.Line == 0 {
		return d.Message
	}
	return fmt.Sprintf("%d:%d: %s", d.Line, d.Column, d.Message)
}

// Diagnostics is every problem of a catalog file, in the file's order.
type Diagnostics []Diagnostic

// Err returns nil for no problems, else EINVALID listing every one with
// its line and column, prefixed by the file's name.
func (ds Diagnostics) Err(name string) error {
	if len(ds) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s has %d problem(s); nothing was applied:", name, len(ds))
	for _, d := range ds {
		b.WriteString("\n  " + name + ":" + d.String())
	}
	return steward.Errorf(steward.EINVALID, "%s", b.String())
}

// position is where a value was in the file.
type position struct{ line, column int }

// parser decodes a YAML node tree into the domain's catalog types by their
// yaml tags, collecting every problem rather than stopping at the first,
// and remembering where each path was so that the domain's validation
// problems can be given a line and column too.
type parser struct {
	diags Diagnostics
	pos   map[string]position
	nodes map[string]*yaml.Node
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Line: n.Line, Column: n.Column, Path: path, Message: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeFor[steward.Duration]()

func (p *parser) decode(n *yaml.Node, v reflect.Value, path string) {
	p.pos[path] = position{n.Line, n.Column}
	p.nodes[path] = n
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		p.errorf(n, path, "anchors and aliases are not allowed in a catalog: write each value out.")
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // nothing written: the zero value, which validation judges
	}
	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, path, "%s: want a duration like 15m, 4h or 2d.", field(path))
			return
		}
		d, err := steward.ParseDuration(n.Value)
		if err != nil {
			p.errorf(n, path, "%s: %s", field(path), steward.ErrorMessage(err))
			return
		}
		v.Set(reflect.ValueOf(d))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		p.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, path, "%s: want a mapping (key: value lines), not %s.", field(path), nodeKind(n))
			return
		}
		fields := yamlFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := k.Value
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			if k.Kind != yaml.ScalarNode {
				p.errorf(k, path, "a key must be a plain name.")
				continue
			}
			if seen[key] {
				p.errorf(k, sub, "%s is given twice.", key)
				continue
			}
			seen[key] = true
			idx, ok := fields[key]
			if !ok {
				if path == "" && key == "kind" {
					continue // the document's kind, read by Parse
				}
				p.errorf(k, sub, "%s is not a field here; known: %s.", key, strings.Join(sortedKeys(fields), ", "))
				continue
			}
			p.decode(val, v.Field(idx), sub)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.errorf(n, path, "%s: want a list, not %s.", field(path), nodeKind(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			p.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, path, "%s: want a text value, not %s.", field(path), nodeKind(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			p.errorf(n, path, "%s: want true or false, not %q.", field(path), n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || i < 0 || i > 1000 {
			p.errorf(n, path, "%s: want a whole number from 0 to 1000, not %q.", field(path), n.Value)
			return
		}
		v.SetInt(int64(i))
	default:
		p.errorf(n, path, "%s cannot be read (a fault in Steward).", field(path))
	}
}

func field(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	if path == "" {
		return "the document"
	}
	return path
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "this"
}

func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Parse reads a catalog document: YAML with `kind: Catalog`. It returns
// every problem of the file — YAML syntax, unknown or mistyped fields, the
// domain's validation (steward.ValidateCatalog) — each with its line and
// column. It does not compile the Cedar policies: Compile does.
func Parse(src []byte) (*steward.Catalog, Diagnostics) {
	c, _, ds := parse(src)
	if len(ds) > 0 {
		return nil, ds
	}
	return c, nil
}

// parse is Parse, except that the catalog is returned with the problems
// whenever the document is a mapping, as far as it could be read, so that
// Compile can check its Cedar too: a file gets every problem at once.
func parse(src []byte) (*steward.Catalog, *parser, Diagnostics) {
	if len(src) > MaxSource {
		return nil, nil, Diagnostics{{Message: fmt.Sprintf("the catalog is %d bytes; at most %d are accepted.", len(src), MaxSource)}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil, Diagnostics{{Message: "the file is empty; a catalog starts with kind: Catalog."}}
	} else if err != nil {
		return nil, nil, Diagnostics{yamlDiagnostic(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, Diagnostics{{Line: extra.Line, Column: extra.Column, Message: "a catalog file holds one YAML document; this is a second."}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, nil, Diagnostics{{Message: "the file holds no YAML document."}}
	}
	root := doc.Content[0]
	p := &parser{pos: map[string]position{}, nodes: map[string]*yaml.Node{}}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "a catalog is a mapping that starts with kind: Catalog.")
		return nil, p, p.diags
	}
	kind := ""
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "kind" {
			kind = root.Content[i+1].Value
			if kind != KindCatalog {
				p.errorf(root.Content[i+1], "kind", "kind %q is not a catalog; write kind: Catalog.", kind)
			}
		}
	}
	if kind == "" {
		p.errorf(root, "kind", "a catalog starts with kind: Catalog.")
	}
	if len(p.diags) > 0 {
		return nil, p, p.diags // another kind of document: nothing more to say of it as a catalog
	}
	c := &steward.Catalog{}
	p.decode(root, reflect.ValueOf(c).Elem(), "")
	// The domain's validation runs on what could be read. A value that
	// could not be read was left at zero, so a problem of the domain's at
	// its path, under it or above it would only repeat the reading's, and
	// is left out.
	unread := make([]string, 0, len(p.diags))
	for _, d := range p.diags {
		unread = append(unread, d.Path)
	}
	for _, pr := range steward.ValidateCatalog(c) {
		if slices.ContainsFunc(unread, func(u string) bool { return related(u, pr.Path) }) {
			continue
		}
		pos := p.at(pr.Path)
		p.diags = append(p.diags, Diagnostic{Line: pos.line, Column: pos.column, Path: pr.Path, Message: pr.Message})
	}
	sortDiags(p.diags)
	return c, p, p.diags
}

// related reports whether two paths are the same value or one holds the
// other ("models[2]" holds "models[2].tier").
func related(a, b string) bool {
	under := func(x, y string) bool {
		return strings.HasPrefix(x, y) && (len(x) == len(y) || x[len(y)] == '.' || x[len(y)] == '[')
	}
	return under(a, b) || under(b, a)
}

// at returns the position of path or, when the file did not write it (a
// missing field), of its nearest written parent.
func (p *parser) at(path string) position {
	for {
		if pos, ok := p.pos[path]; ok {
			return pos
		}
		i := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if i < 0 {
			return p.pos[""]
		}
		path = path[:i]
	}
}

func sortDiags(ds Diagnostics) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
}

// yamlDiagnostic turns a YAML syntax error ("yaml: line 3: ...") into a
// diagnostic at its line. The YAML library counts lines from 1 for the
// errors of its scanner but from 0 for those of its parser (and then
// leaves line 0 out), so a parser's problem is moved one line on.
func yamlDiagnostic(err error) Diagnostic {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				if yamlParserProblems[text] {
					line++
				}
				return Diagnostic{Line: line, Column: 1, Message: "YAML: " + text}
			}
		}
	}
	if yamlParserProblems[msg] {
		return Diagnostic{Line: 1, Column: 1, Message: "YAML: " + msg}
	}
	return Diagnostic{Message: "YAML: " + msg}
}

// yamlParserProblems are the problems go.yaml.in/yaml/v3's parser (not its
// scanner) reports, whose line it counts from 0.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}
