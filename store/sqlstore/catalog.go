package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/stewardhq/steward"
)

// catalogIn reads the catalog version in force through q: ENOTFOUND when
// none was ever applied.
func (d *DB) catalogIn(ctx context.Context, q querier) (*steward.CatalogVersion, error) {
	v := &steward.CatalogVersion{}
	var body string
	var at int64
	err := d.queryRow(ctx, q, `SELECT version, source, digest, body, applied_at, applied_by FROM catalog_versions ORDER BY version DESC LIMIT 1`).
		Scan(&v.Version, &v.Source, &v.Digest, &body, &at, &v.AppliedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "No catalog has been applied yet; apply one with `steward apply -f catalog.yaml`.")
	} else if err != nil {
		return nil, err
	}
	v.AppliedAt = fromMicro(at)
	v.Catalog = &steward.Catalog{}
	if err := json.Unmarshal([]byte(body), v.Catalog); err != nil {
		return nil, err
	}
	return v, nil
}

// CatalogInForce returns the latest applied catalog: ENOTFOUND when none
// was ever applied.
func (d *DB) CatalogInForce(ctx context.Context) (*steward.CatalogVersion, error) {
	return d.catalogIn(ctx, d.reader(ctx))
}

// CatalogDigest returns the digest of the catalog in force, reading
// nothing else: ENOTFOUND when none was ever applied.
func (d *DB) CatalogDigest(ctx context.Context) (string, error) {
	var digest string
	err := d.queryRow(ctx, d.reader(ctx), `SELECT digest FROM catalog_versions ORDER BY version DESC LIMIT 1`).Scan(&digest)
	if errors.Is(err, sql.ErrNoRows) {
		return "", steward.Errorf(steward.ENOTFOUND, "No catalog has been applied yet; apply one with `steward apply -f catalog.yaml`.")
	}
	return digest, err
}

// ApplyCatalog stores source as a new version with its catalog.applied
// event in one transaction, unless source is the text in force already.
func (d *DB) ApplyCatalog(ctx context.Context, source []byte, c *steward.Catalog) (*steward.CatalogVersion, bool, error) {
	if ps := steward.ValidateCatalog(c); len(ps) > 0 {
		return nil, false, steward.Errorf(steward.EINVALID, "The catalog is not valid: %s", ps[0])
	}
	sum := sha256.Sum256(source)
	digest := hex.EncodeToString(sum[:])
	body, err := json.Marshal(c)
	if err != nil {
		return nil, false, err
	}
	var out *steward.CatalogVersion
	changed := false
	err = d.writeTx(ctx, func(tx *sql.Tx) error {
		cur, err := d.catalogIn(ctx, tx)
		if steward.IsCode(err, steward.ENOTFOUND) {
			cur = nil // the first catalog
		} else if err != nil {
			return err
		}
		if cur != nil && cur.Digest == digest && cur.Source == string(source) {
			out = cur
			return nil // the same text again: nothing changes, no event
		}
		var prev *steward.Catalog
		next := int64(1)
		if cur != nil {
			prev, next = cur.Catalog, cur.Version+1
		}
		// Read back what is stored, so that the version returned is the
		// catalog as every later reader will see it.
		stored := &steward.Catalog{}
		if err := json.Unmarshal(body, stored); err != nil {
			return err
		}
		out = &steward.CatalogVersion{Version: next, Source: string(source), Digest: digest, Catalog: stored,
			AppliedAt: d.now(), AppliedBy: steward.ActorFrom(ctx)}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO catalog_versions (version, source, digest, body, applied_at, applied_by) VALUES (?, ?, ?, ?, ?, ?)`),
			out.Version, out.Source, out.Digest, string(body), micro(out.AppliedAt), out.AppliedBy); err != nil {
			if isUnique(err) {
				return steward.Errorf(steward.ECONFLICT, "Another catalog was applied at the same time; apply again.")
			}
			return err
		}
		changed = true
		changes := steward.DiffCatalogs(prev, stored)
		if changes == nil {
			changes = []steward.CatalogChange{}
		}
		return d.appendEvent(ctx, tx, steward.ActionCatalogApplied, steward.ObjectCatalog, idStr(out.Version),
			steward.CatalogApplied{Version: out.Version, Digest: digest, Models: len(stored.Models), Changes: changes})
	})
	if err != nil {
		return nil, false, err
	}
	return out, changed, nil
}
