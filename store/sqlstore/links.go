package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/stewardhq/steward"
)

// Links between identities come with the identity that a source reports
// them on (a Kubernetes service account's IRSA annotation names the AWS
// role it assumes): a sync keeps them as it keeps credentials, from the
// staged records. The other end is named by its external id in its own
// system; it is resolved to an identity when one with that external id is
// in another system's inventory, either when the link is written or when a
// later sync of that other system brings the identity in. Both are driven
// by the links waiting (few) and probe identities by their unique (system,
// external id) index, so that neither reads a system's identities.

// links writes the links of the identities the run staged, and removes
// those the source no longer reports: of every identity of the system in a
// whole run, of the staged and lost ones in a delta run (every other
// identity's record came back unchanged), of none in a partial run.
func (r *syncRun) links(ctx context.Context) error {
	sid := r.sys.ID
	if !r.first && !r.o.Partial {
		type gone struct {
			id, from    int64
			kind, toRef string
		}
		from := `identity_links l JOIN identities x ON x.id = l.from_id WHERE`
		if r.delta {
			t, err := r.comparedIdentities(ctx)
			if err != nil {
				return err
			}
			from = t + ` t CROSS JOIN identities x CROSS JOIN identity_links l WHERE x.id = t.id AND l.from_id = x.id AND`
		}
		all, err := collect(ctx, r, `SELECT l.id, l.from_id, l.kind, l.to_ref FROM `+from+`
			x.system_id = ?
			AND NOT EXISTS (SELECT 1 FROM stage_links s WHERE s.identity_ext = x.external_id AND s.kind = l.kind AND s.to_ref = l.to_ref)
			ORDER BY l.id`, []any{sid}, func(rows *sql.Rows, g *gone) error {
			return rows.Scan(&g.id, &g.from, &g.kind, &g.toRef)
		})
		if err != nil {
			return err
		}
		ids := make([]int64, len(all))
		for i, g := range all {
			ids[i] = g.id
		}
		if err := r.execIDs(ctx, deleteLinks, ids); err != nil {
			return err
		}
		for _, g := range all {
			r.res.LinksChanged++
			r.touched[g.from] = true
			if err := r.ev.emit(ctx, steward.ActionIdentityUnlinked, steward.ObjectIdentity, g.from, steward.IdentityLinked{
				Kind: steward.LinkKind(g.kind), ToRef: g.toRef, Reason: "no longer reported by " + r.via()}); err != nil {
				return err
			}
		}
	}
	return r.d.insertLinks(ctx, r.c, r.ev, r.res, sid, r.now)
}

// insertLinks writes the staged links that the system's identities do not
// have yet, resolving each at once when another system holds its target.
// A link's target is the oldest identity with the external id it names in
// a system other than the link's own, not removed: a scalar subquery that
// probes each system's unique (system, external id) index.
func (d *DB) insertLinks(ctx context.Context, c *sql.Conn, ev *eventSink, res *steward.SyncResult, systemID int64, now time.Time) error {
	type added struct {
		id, from    int64
		kind, toRef string
		to          sql.NullInt64
	}
	var news []added
	err := d.eachRow(ctx, c, `INSERT INTO identity_links (from_id, kind, to_ref, to_id, created_at)
		SELECT x.id, s.kind, s.to_ref, (SELECT min(t.id) FROM systems sy CROSS JOIN identities t WHERE sy.id <> ? AND t.system_id = sy.id
			AND t.external_id = s.to_ref AND t.status <> 'removed'), ?
		FROM stage_links s CROSS JOIN identities x WHERE x.system_id = ? AND x.external_id = s.identity_ext
		AND NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.from_id = x.id AND l.kind = s.kind AND l.to_ref = s.to_ref)
		RETURNING id, from_id, kind, to_ref, to_id`, []any{systemID, micro(now), systemID}, func(rows *sql.Rows) error {
		var a added
		if err := rows.Scan(&a.id, &a.from, &a.kind, &a.toRef, &a.to); err != nil {
			return err
		}
		news = append(news, a)
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range news {
		res.LinksChanged++
		if err := ev.emit(ctx, steward.ActionIdentityLinked, steward.ObjectIdentity, a.from, steward.IdentityLinked{
			Kind: steward.LinkKind(a.kind), ToRef: a.toRef, ToID: fromNullID(a.to)}); err != nil {
			return err
		}
	}
	return nil
}

// resolveLinks points the waiting links of other systems at the identities
// of systemID that they name, now that a sync brought them in.
func (d *DB) resolveLinks(ctx context.Context, c *sql.Conn, ev *eventSink, res *steward.SyncResult, systemID int64) error {
	type resolved struct{ id, from, to int64 }
	var done []resolved
	err := d.eachRow(ctx, c, `UPDATE identity_links SET to_id = (SELECT t.id FROM identities t
			WHERE t.system_id = ? AND t.external_id = identity_links.to_ref AND t.status <> 'removed')
		WHERE to_id IS NULL
		AND EXISTS (SELECT 1 FROM identities t WHERE t.system_id = ? AND t.external_id = identity_links.to_ref AND t.status <> 'removed')
		AND NOT EXISTS (SELECT 1 FROM identities f WHERE f.id = identity_links.from_id AND f.system_id = ?)
		RETURNING id, from_id, to_id`, []any{systemID, systemID, systemID}, func(rows *sql.Rows) error {
		var r resolved
		if err := rows.Scan(&r.id, &r.from, &r.to); err != nil {
			return err
		}
		done = append(done, r)
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range done {
		res.LinksChanged++
		if err := ev.emit(ctx, steward.ActionIdentityLinkResolved, steward.ObjectIdentity, r.from, steward.LinkResolved{LinkID: r.id, ToID: r.to}); err != nil {
			return err
		}
	}
	return nil
}

// IdentityLinks returns the links from and to an identity, oldest first,
// with the names of both ends.
func (d *DB) IdentityLinks(ctx context.Context, identityID int64) ([]steward.IdentityLinkView, error) {
	rows, err := d.read.QueryContext(ctx, d.q(`SELECT l.id, l.from_id, l.kind, l.to_ref, l.to_id, l.created_at,
			f.name, fs.name, t.name, ts.name, t.status
		FROM identity_links l
		JOIN identities f ON f.id = l.from_id JOIN systems fs ON fs.id = f.system_id
		LEFT JOIN identities t ON t.id = l.to_id LEFT JOIN systems ts ON ts.id = t.system_id
		WHERE l.id IN (SELECT id FROM identity_links WHERE from_id = ? UNION SELECT id FROM identity_links WHERE to_id = ?)
		ORDER BY l.id LIMIT 1000`), identityID, identityID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []steward.IdentityLinkView{}
	for rows.Next() {
		var v steward.IdentityLinkView
		var to sql.NullInt64
		var created int64
		var toName, toSystem, toStatus sql.NullString
		if err := rows.Scan(&v.ID, &v.FromID, &v.Kind, &v.ToRef, &to, &created, &v.FromName, &v.FromSystem, &toName, &toSystem, &toStatus); err != nil {
			return nil, err
		}
		v.ToID, v.CreatedAt = fromNullID(to), fromMicro(created)
		v.ToName, v.ToSystem, v.ToStatus = toName.String, toSystem.String, steward.IdentityStatus(toStatus.String)
		out = append(out, v)
	}
	return out, rows.Err()
}
