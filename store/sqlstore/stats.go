package sqlstore

import (
	"context"

	"github.com/stewardhq/steward"
)

// InventoryStats counts identities by kind and status, ownership gaps over
// active non-human identities, and the other tables. Each count uses an
// index; at a million identities it still scans them once, so callers that
// poll (metrics) cache it.
func (d *DB) InventoryStats(ctx context.Context) (*steward.InventoryStats, error) {
	s := &steward.InventoryStats{Identities: []steward.IdentityCount{}, Gaps: map[steward.GapKind]int64{}}
	rows, err := d.read.QueryContext(ctx, `SELECT kind, status, count(*) FROM identities GROUP BY kind, status ORDER BY kind, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c steward.IdentityCount
		if err := rows.Scan(&c.Kind, &c.Status, &c.Count); err != nil {
			return nil, err
		}
		s.Identities = append(s.Identities, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	const nhi = `x.status = 'active' AND x.kind <> 'human'`
	counts := []struct {
		dst   *int64
		query string
	}{
		{new(int64), `SELECT count(*) FROM identities x WHERE x.owner_id IS NULL AND ` + nhi},
		{new(int64), `SELECT count(*) FROM identities x JOIN people p ON p.id = x.owner_id WHERE p.status = 'departed' AND ` + nhi},
		{new(int64), `SELECT count(*) FROM identities x WHERE x.team_id IN (SELECT t.id FROM teams t WHERE NOT EXISTS
			(SELECT 1 FROM people p WHERE p.team_id = t.id AND p.status = 'active')) AND ` + nhi},
		{&s.People, `SELECT count(*) FROM people`},
		{&s.Teams, `SELECT count(*) FROM teams`},
		{&s.Systems, `SELECT count(*) FROM systems`},
		{&s.Entitlements, `SELECT count(*) FROM entitlements`},
		{&s.Grants, `SELECT count(*) FROM grants`},
	}
	for _, c := range counts {
		if err := d.read.QueryRowContext(ctx, c.query).Scan(c.dst); err != nil {
			return nil, err
		}
	}
	s.Gaps[steward.GapUnowned] = *counts[0].dst
	s.Gaps[steward.GapOwnerDeparted] = *counts[1].dst
	s.Gaps[steward.GapTeamInactive] = *counts[2].dst
	return s, nil
}
