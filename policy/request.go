package policy

import (
	"math/bits"
	"regexp"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/stewardhq/steward"
)

// The attributes of Steward's Cedar schema (schema.cedarschema), in the
// order of the value functions below.
var (
	personAttrs      = []string{"email", "name", "title", "team", "manager", "active"}
	entitlementAttrs = []string{"name", "system", "role", "privileged", "sensitivity", "sensitivity_rank", "owner_team"}
	contextAttrs     = []string{"model", "kind", "duration_minutes", "identity"}
	identityAttrs    = []string{"name", "system", "kind", "environment", "criticality", "owner", "team", "active", "new"}
)

// reads is which attributes a model's policies can read, one bit per
// attribute of each list above. Building the request's records is most of
// what a decision costs (cedar-go hashes every value of a record as it is
// made), so a decision builds only what its model's policies can read.
type reads struct{ person, entitlement, context, identity uint64 }

// all reads every attribute.
var all = reads{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}

var word = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// readsOf returns what policy text can read. A Cedar policy reads an
// entity's attribute only by naming it (.team, ["team"], has team), so an
// attribute whose name is no word of the text is never read. A record can
// also be used whole (context == {...}, context.identity == {...}): when
// context or identity is a word not followed by a dot, the record keeps
// every attribute. Words of comments, annotations and strings only add
// attributes, which changes nothing but the cost.
func readsOf(text string) reads {
	words := map[string]bool{}
	var r reads
	for _, loc := range word.FindAllStringIndex(text, -1) {
		w := text[loc[0]:loc[1]]
		words[w] = true
		if w == "context" || w == "identity" {
			j := loc[1]
			for j < len(text) && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
				j++
			}
			if j == len(text) || text[j] != '.' {
				if w == "context" {
					r.context, r.identity = all.context, all.identity
				} else {
					r.identity = all.identity
				}
			}
		}
	}
	mask := func(names []string) uint64 {
		var m uint64
		for i, n := range names {
			if words[n] {
				m |= 1 << i
			}
		}
		return m
	}
	r.person |= mask(personAttrs)
	r.entitlement |= mask(entitlementAttrs)
	r.context |= mask(contextAttrs)
	r.identity |= mask(identityAttrs)
	if r.identity != 0 {
		r.context |= 1 << 3 // the identity record lives in the context
	}
	return r
}

// record makes the record of the attributes of names that m selects, each
// valued by value(i).
func record(m uint64, names []string, value func(i int) types.Value) types.Record {
	m &= 1<<len(names) - 1
	if m == 0 {
		return types.Record{}
	}
	rm := make(types.RecordMap, bits.OnesCount64(m))
	for i, n := range names {
		if m&(1<<i) != 0 {
			rm[types.String(n)] = value(i)
		}
	}
	return types.NewRecord(rm)
}

// entities are the two entities a decision reads: the requester and what
// is asked for. A decision needs no other: the identity is in the context,
// and a team is an ancestor of the requester.
type entities struct{ principal, resource types.Entity }

func (e *entities) Get(uid types.EntityUID) (types.Entity, bool) {
	switch uid {
	case e.principal.UID:
		return e.principal, true
	case e.resource.UID:
		return e.resource, true
	}
	return types.Entity{}, false
}

// Request builds the Cedar request and entities of q for a model of kind k,
// in Steward's schema, with every attribute.
func Request(q *steward.AccessQuestion, k steward.ModelKind) (cedar.Request, types.EntityGetter) {
	return request(q, k, all)
}

// request is Request with only the attributes rd says.
func request(q *steward.AccessQuestion, k steward.ModelKind, rd reads) (cedar.Request, types.EntityGetter) {
	r := &q.Requester
	var parents types.EntityUIDSet
	if r.Team != "" {
		parents = types.NewEntityUIDSet(types.NewEntityUID(TypeTeam, types.String(r.Team)))
	}
	principal := types.Entity{
		UID:     types.NewEntityUID(TypePerson, types.String(r.Email)),
		Parents: parents,
		Attributes: record(rd.person, personAttrs, func(i int) types.Value {
			switch i {
			case 0:
				return types.String(r.Email)
			case 1:
				return types.String(r.Name)
			case 2:
				return types.String(r.Title)
			case 3:
				return types.String(r.Team)
			case 4:
				return types.String(r.Manager)
			}
			return types.Boolean(r.Active)
		}),
	}
	t := &q.Target
	id := t.System + "/" + t.Name
	if t.Role != "" {
		id = "role:" + t.Role
	}
	resource := types.Entity{
		UID: types.NewEntityUID(TypeEntitlement, types.String(id)),
		Attributes: record(rd.entitlement, entitlementAttrs, func(i int) types.Value {
			switch i {
			case 0:
				return types.String(t.Name)
			case 1:
				return types.String(t.System)
			case 2:
				return types.Boolean(t.Role != "")
			case 3:
				return types.Boolean(t.Privileged)
			case 4:
				return types.String(t.Sensitivity)
			case 5:
				return types.Long(max(steward.LevelRank(t.Sensitivity), 0))
			}
			return types.String(t.OwnerTeam)
		}),
	}
	in := &q.Identity
	ctx := record(rd.context, contextAttrs, func(i int) types.Value {
		switch i {
		case 0:
			return types.String(q.Model)
		case 1:
			return types.String(k)
		case 2:
			return types.Long(int64(q.Duration) / 60e9)
		}
		return record(rd.identity, identityAttrs, func(i int) types.Value {
			switch i {
			case 0:
				return types.String(in.Name)
			case 1:
				return types.String(in.System)
			case 2:
				return types.String(in.Kind)
			case 3:
				return types.String(in.Environment)
			case 4:
				return types.String(in.Criticality)
			case 5:
				return types.String(in.Owner)
			case 6:
				return types.String(in.Team)
			case 7:
				return types.Boolean(in.Active)
			}
			return types.Boolean(in.New)
		})
	})
	return cedar.Request{Principal: principal.UID, Action: ActionRequest, Resource: resource.UID, Context: ctx},
		&entities{principal, resource}
}
