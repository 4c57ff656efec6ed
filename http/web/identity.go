package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// staleCredentialAge is the age past which a credential is highlighted: a
// secret unrotated for more than a year is the OWASP NHI7 "long-lived
// secret" risk.
const staleCredentialAge = 365 * 24 * time.Hour

// grantsPerPage bounds the grants shown on an identity page. Most identities
// hold a handful; an over-privileged one pages with a link.
const grantsPerPage = 200

// credentialRow is one credential as the identity page shows it.
type credentialRow struct {
	Kind        string
	Created     timeText
	LastRotated timeText
	LastUsed    timeText
	AgeDays     int64
	Stale       bool
	Expires     timeText
	Expired     bool
	Fingerprint string
}

// grantRow is one grant as the identity page shows it.
type grantRow struct {
	Entitlement string
	System      string
	Type        string
	Privileged  bool
	Granted     timeText
	Expires     timeText
	Expired     bool
	Via         string
}

// labelRow is one identity label.
type labelRow struct{ Key, Value string }

// identityPage is the data of the identity template.
type identityPage struct {
	pageBase
	Identity      steward.IdentityView
	Kind          string
	SystemURL     string
	Criticality   string
	Owner         string
	OwnerURL      string
	OwnerEmail    string
	OwnerStatus   string
	Unowned       bool
	OwnerDeparted bool
	Team          string
	TeamURL       string
	Created       timeText
	Updated       timeText
	LastUsed      timeText
	Labels        []labelRow
	Credentials   []credentialRow
	Grants        []grantRow
	MoreGrantsURL string
	GrantsFrom    bool // this is not the first page of grants
	FirstGrants   string
}

// identity shows everything Steward knows about one identity: who owns it,
// what secrets it authenticates with and how old they are, and what it may
// do.
func (s *server) identity(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, nil, http.StatusBadRequest, "Bad identity id",
			"“"+raw+"” is not an identity id; ids are positive whole numbers. Find the identity in the inventory instead.")
		return
	}
	ctx := r.Context()
	iv, err := s.store.Identity(ctx, id)
	if steward.IsCode(err, steward.ENOTFOUND) {
		s.renderError(w, r, nil, http.StatusNotFound, "Identity not found",
			"There is no identity "+raw+". It may never have existed; removed identities are kept, so check the link.")
		return
	} else if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	grantsAfter := r.URL.Query().Get("grants_after")
	grants, err := s.store.Grants(ctx, steward.GrantFilter{
		IdentityID:  id,
		ListOptions: steward.ListOptions{After: grantsAfter, Limit: grantsPerPage},
	})
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}
	creds, err := s.store.Credentials(ctx, id)
	if err != nil {
		s.renderError(w, r, err, 0, "", "")
		return
	}

	self := "/identities/" + raw
	p := identityPage{
		pageBase:    s.base(r, iv.Name, "/inventory"),
		Identity:    *iv,
		Kind:        label(iv.Kind),
		SystemURL:   "/inventory?system=" + strconv.FormatInt(iv.SystemID, 10),
		Criticality: string(iv.Criticality),
		Owner:       iv.OwnerName,
		Unowned:     iv.OwnerID == nil,
		Team:        iv.TeamName,
		Created:     s.timeText(&iv.CreatedAt, "unknown"),
		Updated:     s.timeText(&iv.UpdatedAt, "unknown"),
		LastUsed:    s.timeText(iv.LastUsedAt, "never"),
		GrantsFrom:  grantsAfter != "",
		FirstGrants: self,
	}
	if iv.OwnerID != nil {
		p.OwnerURL = "/inventory?owner=" + strconv.FormatInt(*iv.OwnerID, 10)
		p.OwnerStatus = string(iv.OwnerStatus)
		p.OwnerDeparted = iv.OwnerStatus == steward.PersonDeparted
		// The email is how a reader reaches the owner; a missing person row
		// is a store inconsistency not worth failing the page over.
		if person, err := s.store.Person(ctx, *iv.OwnerID); err == nil {
			p.OwnerEmail = person.Email
			if p.Owner == "" {
				p.Owner = person.Name
			}
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			s.renderError(w, r, err, 0, "", "")
			return
		}
	}
	if iv.TeamID != nil {
		p.TeamURL = "/inventory?team=" + strconv.FormatInt(*iv.TeamID, 10)
	}
	for _, k := range slices.Sorted(maps.Keys(iv.Labels)) {
		p.Labels = append(p.Labels, labelRow{k, iv.Labels[k]})
	}

	now := s.clock.Now()
	for _, c := range creds {
		age := c.Age(now)
		p.Credentials = append(p.Credentials, credentialRow{
			Kind:        label(c.Kind),
			Created:     s.timeText(&c.CreatedAt, "unknown"),
			LastRotated: s.timeText(c.LastRotatedAt, "never"),
			LastUsed:    s.timeText(c.LastUsedAt, "never"),
			AgeDays:     int64(age / (24 * time.Hour)),
			Stale:       age > staleCredentialAge,
			Expires:     s.timeText(c.ExpiresAt, "no expiry"),
			Expired:     c.ExpiresAt != nil && !c.ExpiresAt.After(now),
			Fingerprint: shortFingerprint(c.Fingerprint),
		})
	}

	systems := map[int64]string{iv.SystemID: iv.SystemName}
	for _, g := range grants.Items {
		name, ok := systems[g.SystemID]
		if !ok {
			if sys, err := s.store.System(ctx, g.SystemID); err == nil {
				name = sys.Name
			} else {
				name = "system " + strconv.FormatInt(g.SystemID, 10)
			}
			systems[g.SystemID] = name
		}
		p.Grants = append(p.Grants, grantRow{
			Entitlement: g.EntitlementName,
			System:      name,
			Type:        label(g.Type),
			Privileged:  g.Privileged,
			Granted:     s.timeText(&g.GrantedAt, "unknown"),
			Expires:     s.timeText(g.ExpiresAt, "no expiry"),
			Expired:     g.ExpiresAt != nil && !g.ExpiresAt.After(now),
			Via:         g.GrantedVia,
		})
	}
	if grants.Next != "" {
		p.MoreGrantsURL = self + "?grants_after=" + url.QueryEscape(grants.Next)
	}
	s.render(w, r, http.StatusOK, "identity", p)
}

// shortFingerprint shows enough of a fingerprint to compare by eye.
func shortFingerprint(f string) string {
	if len(f) > 16 {
		return f[:16] + "…"
	}
	return f
}
