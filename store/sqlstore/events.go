package sqlstore

import "github.com/stewardhq/steward"

// The payloads of objects created through the API: the whole object, as
// their events have always recorded it.

func teamCreated(t *steward.Team) steward.TeamCreated {
	return steward.TeamCreated{ID: t.ID, Name: t.Name, DisplayName: t.DisplayName, ManagerID: t.ManagerID, CreatedAt: t.CreatedAt}
}

func personCreated(p *steward.Person) steward.PersonCreated {
	return steward.PersonCreated{ID: p.ID, ExternalID: p.ExternalID, Name: p.Name, Email: p.Email, Title: p.Title, TeamID: p.TeamID,
		ManagerID: p.ManagerID, Status: p.Status, DepartedAt: p.DepartedAt, CreatedAt: p.CreatedAt}
}

func identityCreated(i *steward.Identity) steward.IdentityCreated {
	return steward.IdentityCreated{ID: i.ID, SystemID: i.SystemID, ExternalID: i.ExternalID, Name: i.Name, Kind: i.Kind,
		Environment: i.Environment, Criticality: i.Criticality, OwnerID: i.OwnerID, TeamID: i.TeamID, Status: i.Status,
		Labels: i.Labels, CreatedAt: i.CreatedAt, LastUsedAt: i.LastUsedAt, UpdatedAt: i.UpdatedAt, OwnerSource: i.OwnerSource}
}

func credentialCreated(c *steward.Credential) steward.CredentialCreated {
	return steward.CredentialCreated{ID: c.ID, IdentityID: c.IdentityID, ExternalID: c.ExternalID, Kind: c.Kind, Status: c.Status, CreatedAt: c.CreatedAt,
		LastRotatedAt: c.LastRotatedAt, LastUsedAt: c.LastUsedAt, ExpiresAt: c.ExpiresAt, Fingerprint: c.Fingerprint}
}

func entitlementCreated(e *steward.Entitlement) steward.EntitlementCreated {
	return steward.EntitlementCreated{ID: e.ID, SystemID: e.SystemID, Name: e.Name, Description: e.Description, Privileged: e.Privileged,
		Sensitivity: e.Sensitivity, CreatedAt: e.CreatedAt}
}

func grantCreated(g *steward.Grant) steward.GrantCreated {
	return steward.GrantCreated{ID: g.ID, IdentityID: g.IdentityID, EntitlementID: g.EntitlementID, Type: g.Type, GrantedAt: g.GrantedAt,
		ExpiresAt: g.ExpiresAt, GrantedVia: g.GrantedVia}
}
