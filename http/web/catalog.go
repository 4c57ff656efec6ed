package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// catalogPage is the published service catalog, read-only: each model with
// its tier, who may request it, how it is approved and its service levels;
// the tiers, the boundaries and the roles.
type catalogPage struct {
	pageBase
	None      bool // no catalog has been applied
	Version   int64
	AppliedAt string
	AppliedBy string
	Models    []catalogModelRow
	Tiers     []catalogTierRow
	Bounds    []steward.Boundary
	Roles     []catalogRoleRow
}

type catalogModelRow struct {
	Name, Description, Kind, Tier, Serves, Approval, Duration, Justification string
	Decision, Fulfilment                                                     string
	Policy                                                                   string
}

type catalogTierRow struct {
	Name, Description                                           string
	Decision, Fulfilment, Exception, JML, Rotation, Offboarding string
}

type catalogRoleRow struct {
	Name, Description string
	Entitlements      []string
}

func levelText(d steward.Duration) string {
	if d == 0 {
		return "—"
	}
	return d.String()
}

// catalog shows the catalog in force to every signed-in person.
func (s *server) catalog(w http.ResponseWriter, r *http.Request) {
	p := catalogPage{pageBase: s.base(r, "Catalog", "/catalog")}
	v, err := s.store.CatalogInForce(r.Context())
	if steward.IsCode(err, steward.ENOTFOUND) {
		p.None = true
		s.render(w, r, http.StatusOK, "catalog", p)
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	c := v.Catalog
	p.Version, p.AppliedAt, p.AppliedBy = v.Version, v.AppliedAt.Format("2006-01-02 15:04 MST"), v.AppliedBy
	for _, m := range c.Models {
		row := catalogModelRow{Name: m.Name, Description: m.Description, Kind: string(m.Kind), Tier: m.Tier,
			Serves: selectorText(m.Kind, m.Requestable), Policy: strings.TrimSpace(m.WhoMayRequest)}
		if t := c.Tier(m.Tier); t != nil {
			row.Decision, row.Fulfilment = levelText(t.ServiceLevels.Decision), levelText(t.ServiceLevels.Fulfilment)
		}
		if m.Approval.Automatic {
			row.Approval = "Automatic when policy permits"
		} else {
			row.Approval = strings.Join(m.Approval.Approvers, ", then ")
			if n := max(m.Approval.Approvals, 1); n > 1 {
				row.Approval = strconv.Itoa(n) + " approvals: " + row.Approval
			}
		}
		if m.Duration != nil {
			row.Duration = m.Duration.Default.String() + " (at most " + m.Duration.Maximum.String() + ")"
		}
		var js []string
		for _, j := range m.Justification {
			js = append(js, j.Name)
		}
		row.Justification = strings.Join(js, ", ")
		p.Models = append(p.Models, row)
	}
	for _, t := range c.Tiers {
		l := t.ServiceLevels
		p.Tiers = append(p.Tiers, catalogTierRow{t.Name, t.Description, levelText(l.Decision), levelText(l.Fulfilment),
			levelText(l.ExceptionReview), levelText(l.JoinerMoverLeaver), levelText(l.Rotation), levelText(l.Offboarding)})
	}
	p.Bounds = c.Boundaries
	for _, ro := range c.Roles {
		row := catalogRoleRow{Name: ro.Name, Description: ro.Description}
		for _, e := range ro.Entitlements {
			row.Entitlements = append(row.Entitlements, e.System+" / "+e.Name)
		}
		p.Roles = append(p.Roles, row)
	}
	s.render(w, r, http.StatusOK, "catalog", p)
}

// selectorText says what a model serves, in words: the selector's own
// description, or what an empty one means for the model's kind.
func selectorText(k steward.ModelKind, s steward.Selector) string {
	if d := s.Describe(); d != "everything" {
		return d
	}
	switch k {
	case steward.ModelNewIdentity, steward.ModelDecommission:
		return "any system"
	}
	return "any entitlement"
}
