package policy

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
	"go.yaml.in/yaml/v3"

	"github.com/stewardhq/steward"
)

// Schema is the Cedar schema who_may_request policies are validated
// against: the entity types, attributes and the one action a policy can
// name.
//
//go:embed schema.cedarschema
var Schema string

// Entity types and the action of Steward's Cedar schema.
const (
	TypePerson      = types.EntityType("Person")
	TypeTeam        = types.EntityType("Team")
	TypeEntitlement = types.EntityType("Entitlement")
)

// ActionRequest is the one action: a request under a model.
var ActionRequest = types.NewEntityUID("Action", "request")

var validator = sync.OnceValues(func() (*validate.Validator, error) {
	var s schema.Schema
	s.SetFilename("schema.cedarschema")
	if err := s.UnmarshalCedar([]byte(Schema)); err != nil {
		return nil, err
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, err
	}
	return validate.New(r, validate.WithStrict()), nil
})

// Compiled is an applied-ready catalog: the domain catalog, the text it was
// read from, and its request models' policies compiled to one Cedar policy
// set, each policy annotated with its model and rule. It is read-only and
// safe for concurrent decisions.
type Compiled struct {
	Catalog *steward.Catalog
	Source  []byte
	set     *cedar.PolicySet
	models  map[string]*compiledModel
}

// compiledModel is one model's slice of the policy set: a decision under a
// model evaluates only its own policies.
type compiledModel struct {
	model    *steward.RequestModel
	policies cedar.PolicyMap
	refs     map[cedar.PolicyID]steward.PolicyRef
	reads    reads // the attributes its policies can read
}

// Compile parses src (Parse), then compiles every model's who_may_request
// text to Cedar and validates each policy against Schema: a syntax error, an
// unknown attribute, entity type or action, or a type error is a
// diagnostic at its line in src. It returns every problem at once; a
// catalog with any is not compiled.
func Compile(src []byte) (*Compiled, Diagnostics) {
	c, p, ds := parse(src)
	if c == nil {
		return nil, ds
	}
	v, err := validator()
	if err != nil {
		return nil, Diagnostics{{Message: "Steward's Cedar schema does not load (a fault in Steward): " + err.Error()}}
	}
	out := &Compiled{Catalog: c, Source: slices.Clone(src), set: cedar.NewPolicySet(), models: make(map[string]*compiledModel, len(c.Models))}
	for i := range c.Models {
		m := &c.Models[i]
		path := fmt.Sprintf("models[%d].who_may_request", i)
		n := p.nodes[path]
		if n == nil || strings.TrimSpace(m.WhoMayRequest) == "" || slices.ContainsFunc(p.diags, func(d Diagnostic) bool { return d.Path == path }) {
			continue // not written, or not readable: already a problem of its own
		}
		cm := &compiledModel{model: m, policies: cedar.PolicyMap{}, refs: map[cedar.PolicyID]steward.PolicyRef{}, reads: readsOf(m.WhoMayRequest)}
		out.models[m.Name] = cm
		list, err := cedar.NewPolicyListFromBytes(m.Name, []byte(m.WhoMayRequest))
		if err != nil {
			line, col := cedarPos(err.Error(), n, src)
			p.diags = append(p.diags, Diagnostic{Line: line, Column: col, Path: path, Message: "Cedar: " + strings.TrimPrefix(err.Error(), "parser error: ")})
			continue
		}
		if len(list) == 0 {
			p.errorf(n, path, "who_may_request holds no Cedar policy.")
			continue
		}
		rules := map[string]bool{}
		for j, pol := range list {
			pos := pol.Position()
			line, col := mapPos(n, src, pos.Line, pos.Column)
			rule := string(pol.Annotations()["id"])
			if rule == "" {
				rule = "rule " + strconv.Itoa(j+1)
			} else if rules[rule] {
				p.diags = append(p.diags, Diagnostic{Line: line, Column: col, Path: path, Message: fmt.Sprintf("@id(%q) is used twice in model %s.", rule, m.Name)})
			}
			rules[rule] = true
			id := cedar.PolicyID(fmt.Sprintf("%s.%d", m.Name, j))
			if err := v.Policy(string(id), (*xast.Policy)(pol.AST())); err != nil {
				// The validator's errors carry no position: each is placed
				// at what it names (an attribute, an entity type) when
				// the policy's text shows it, else at the policy.
				end := len(m.WhoMayRequest)
				if j+1 < len(list) {
					end = list[j+1].Position().Offset
				}
				for _, e := range splitErrors(err) {
					eline, ecol := line, col
					if off, ok := locate(m.WhoMayRequest, pos.Offset, end, e); ok {
						tl, tc := textPos(m.WhoMayRequest, off)
						eline, ecol = mapPos(n, src, tl, tc)
					}
					p.diags = append(p.diags, Diagnostic{Line: eline, Column: ecol, Path: path, Message: fmt.Sprintf("Cedar policy %s of model %s does not fit Steward's schema: %s", strconv.Quote(rule), m.Name, e)})
				}
				continue
			}
			effect := "permit"
			if pol.Effect() == cedar.Forbid {
				effect = "forbid"
			}
			cm.policies[id] = pol
			out.set.Add(id, pol)
			cm.refs[id] = steward.PolicyRef{ID: string(id), Effect: effect, Model: m.Name, Rule: rule, Position: fmt.Sprintf("%d:%d", line, col)}
		}
	}
	sortDiags(p.diags)
	if len(p.diags) > 0 {
		return nil, p.diags
	}
	return out, nil
}

func splitErrors(err error) []string {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range u.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

var cedarErrPos = regexp.MustCompile(`at (?:\S*:)?(\d+):(\d+)`)

// cedarPos finds the line and column a Cedar parse error names, in src.
func cedarPos(msg string, n *yaml.Node, src []byte) (int, int) {
	if m := cedarErrPos.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return mapPos(n, src, line, col)
	}
	return n.Line, n.Column
}

// mapPos maps a line and column of a who_may_request text to the file: a
// block scalar (| or >) starts on the line after its key, each line
// indented by the block's indentation (that of its first line that is not
// blank); any other scalar is taken as one line where its node is, after
// its opening quote if it has one.
func mapPos(n *yaml.Node, src []byte, line, col int) (int, int) {
	if n == nil {
		return 0, 0
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		first := n.Column - 1
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			first++
		}
		if line <= 1 {
			return n.Line, first + col
		}
		return n.Line + line - 1, col
	}
	lines := bytes.Split(src, []byte("\n"))
	indent := 0
	for i := n.Line; i < len(lines); i++ { // lines[n.Line] is the block's first line
		if l := bytes.TrimRight(lines[i], " \r"); len(l) > 0 {
			indent = len(l) - len(bytes.TrimLeft(l, " "))
			break
		}
	}
	return n.Line + line, indent + col
}

// textPos is the line and column (from 1, in characters) of byte offset
// off of text.
func textPos(text string, off int) (int, int) {
	before := text[:off]
	line := 1 + strings.Count(before, "\n")
	start := strings.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCountInString(before[start:]) + 1
}

var (
	errAttribute  = regexp.MustCompile("attribute `([^`]+)`")
	errEntityType = regexp.MustCompile("entity type `([^`]+)`")
)

// locate finds, in text[start:end] (one policy), the first place that a
// validation error names: the attribute it says is not found, or the
// entity type it does not recognise. It returns the byte offset in text.
func locate(text string, start, end int, err string) (int, bool) {
	if start < 0 || end > len(text) || start >= end {
		return 0, false
	}
	var pats []string
	if m := errAttribute.FindStringSubmatch(err); m != nil {
		a := regexp.QuoteMeta(m[1])
		pats = []string{`\.` + a + `\b`, `\[\s*"` + a + `"\s*\]`, `\bhas\s+"?` + a + `\b`}
	} else if m := errEntityType.FindStringSubmatch(err); m != nil && strings.Contains(err, "unrecognized") {
		pats = []string{`\b` + regexp.QuoteMeta(m[1]) + `\s*::`, `\bis\s+` + regexp.QuoteMeta(m[1]) + `\b`}
	}
	best := -1
	for _, pat := range pats {
		if loc := regexp.MustCompile(pat).FindStringIndex(text[start:end]); loc != nil && (best < 0 || loc[0] < best) {
			best = loc[0]
		}
	}
	if best < 0 {
		return 0, false
	}
	if text[start+best] == '.' {
		best++ // at the attribute's name, after its dot
	}
	return start + best, true
}

// PolicyText returns the compiled policy set as Cedar text, each policy
// under its id, for people and tools to read.
func (c *Compiled) PolicyText() string {
	ids := make([]string, 0)
	for id := range c.set.All() {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "// %s\n%s\n\n", id, c.set.Get(cedar.PolicyID(id)).MarshalCedar())
	}
	return b.String()
}

// Decide decides q under the compiled catalog: the model's Cedar policies
// evaluated in process on the facts q carries, then the domain's steps
// (steward.DecideAccess). It reads nothing and creates nothing.
func (c *Compiled) Decide(q *steward.AccessQuestion) steward.AccessDecision {
	cm := c.models[q.Model]
	if cm == nil {
		return steward.DecideAccess(c.Catalog, nil, q, steward.PolicyVerdict{})
	}
	return steward.DecideAccess(c.Catalog, cm.model, q, cm.verdict(q))
}

func (cm *compiledModel) verdict(q *steward.AccessQuestion) steward.PolicyVerdict {
	return cm.verdictOn(q, cm.reads)
}

// verdictOn is verdict with the request's records holding the attributes
// r says.
func (cm *compiledModel) verdictOn(q *steward.AccessQuestion, r reads) steward.PolicyVerdict {
	req, ents := request(q, cm.model.Kind, r)
	dec, diag := cedar.Authorize(cm.policies, ents, req)
	var v steward.PolicyVerdict
	v.Permitted = dec == cedar.Allow
	for _, r := range diag.Reasons {
		ref := cm.refs[r.PolicyID]
		if ref.Effect == "forbid" {
			v.Forbids = append(v.Forbids, ref)
		} else {
			v.Permits = append(v.Permits, ref)
		}
	}
	for _, e := range diag.Errors {
		ref := cm.refs[e.PolicyID]
		v.Errors = append(v.Errors, fmt.Sprintf("%s policy %s: %s", ref.Effect, ref.Rule, e.Message))
	}
	if len(v.Permits) > 1 {
		slices.SortFunc(v.Permits, func(a, b steward.PolicyRef) int { return strings.Compare(a.ID, b.ID) })
	}
	if len(v.Forbids) > 1 {
		slices.SortFunc(v.Forbids, func(a, b steward.PolicyRef) int { return strings.Compare(a.ID, b.ID) })
	}
	return v
}
