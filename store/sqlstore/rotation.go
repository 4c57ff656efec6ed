package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/stewardhq/steward"
)

// RecordRotation records a rotation that Steward performed in a system
// (steward.Target.RotateCredential): the credential gets the rotation's
// time as its last rotation and the rotation's expiry, with a
// credential.rotated event, in one transaction. An identity that had no
// credential of that name (a role that had no password) gets one, issued
// at the rotation.
//
// The credential's version is cleared: the source's next read shows the
// new secret's version for the first time, and that is not a rotation by
// someone else. A sync keeps the recorded rotation time where its source
// gives none.
func (d *DB) RecordRotation(ctx context.Context, systemID int64, identity string, r *steward.RotationResult) (*steward.Credential, error) {
	if r == nil || r.RotatedAt.IsZero() {
		return nil, steward.Errorf(steward.EINVALID, "a rotation needs the time it happened.")
	} else if err := r.Kind.Validate(); err != nil {
		return nil, err
	} else if r.ExpiresAt != nil && r.ExpiresAt.Before(r.RotatedAt) {
		return nil, steward.Errorf(steward.EINVALID, "a rotated credential cannot expire before it was rotated.")
	}
	for _, f := range []struct{ name, v string }{{"identity", identity}, {"credential", r.Credential}} {
		if f.v == "" || len(f.v) > 1024 {
			return nil, steward.Errorf(steward.EINVALID, "a rotation needs the %s's external id.", f.name)
		}
	}
	rotated := r.RotatedAt.UTC().Truncate(time.Microsecond) // what the store keeps
	var out steward.Credential
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		var identityID int64
		err := tx.QueryRowContext(ctx, d.q(`SELECT id FROM identities WHERE system_id = ? AND external_id = ?`), systemID, identity).Scan(&identityID)
		if errors.Is(err, sql.ErrNoRows) {
			return steward.Errorf(steward.ENOTFOUND, "system %d has no identity %q; sync it before recording a rotation.", systemID, identity)
		} else if err != nil {
			return err
		}
		old, err := scanCredential(tx.QueryRowContext(ctx, d.q(`SELECT `+credentialColumns+` FROM credentials WHERE identity_id = ? AND external_id = ?`),
			identityID, r.Credential))
		created := errors.Is(err, sql.ErrNoRows)
		if err != nil && !created {
			return err
		}
		diff := fieldDiff{}
		if created {
			// Steward issued this secret itself: its creation is known.
			out = steward.Credential{IdentityID: identityID, ExternalID: r.Credential, Kind: r.Kind, Status: steward.CredentialActive,
				CreatedAt: &rotated, LastRotatedAt: &rotated, ExpiresAt: r.ExpiresAt}
			if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO credentials (identity_id, external_id, kind, status, created_at, last_rotated_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), identityID, r.Credential, string(r.Kind), string(out.Status),
				micro(rotated), micro(rotated), microPtr(r.ExpiresAt)).Scan(&out.ID); err != nil {
				return err
			}
			diff.add("created_at", nil, rotated)
		} else {
			out = old
			out.LastRotatedAt, out.ExpiresAt = &rotated, r.ExpiresAt
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE credentials SET last_rotated_at = ?, expires_at = ?, version = '' WHERE id = ?`),
				micro(rotated), microPtr(r.ExpiresAt), out.ID); err != nil {
				return err
			}
		}
		diff.add("last_rotated_at", old.LastRotatedAt, rotated)
		diff.add("expires_at", old.ExpiresAt, r.ExpiresAt)
		if err := d.refreshCredentialAge(ctx, tx, oneIdentity(identityID)); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionCredentialRotated, steward.ObjectCredential, idStr(out.ID), steward.CredentialChanged{
			IdentityID: identityID, Changes: steward.Changes(diff), By: "steward", Sink: r.Sink, Created: created})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableIdentity records that Steward disabled an identity in its system
// (steward.InventoryWriter).
func (d *DB) DisableIdentity(ctx context.Context, id int64, source string) (bool, error) {
	if source == "" || len(source) > 256 {
		return false, steward.Errorf(steward.EINVALID, "disabling an identity needs its source, up to 256 bytes.")
	}
	changed := false
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		changed = false
		var status string
		err := tx.QueryRowContext(ctx, d.q(`SELECT status FROM identities WHERE id = ?`), id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return steward.Errorf(steward.ENOTFOUND, "identity %d does not exist.", id)
		} else if err != nil {
			return err
		}
		if status != string(steward.IdentityActive) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE identities SET status = 'disabled', updated_at = ? WHERE id = ?`), micro(d.now()), id); err != nil {
			return err
		}
		changed = true
		if err := d.appendEvent(ctx, tx, steward.ActionIdentityDisabled, steward.ObjectIdentity, idStr(id), steward.IdentityChanged{
			Changes: steward.Changes{"status": {steward.IdentityActive, steward.IdentityDisabled}}, Source: source}); err != nil {
			return err
		}
		ev := &eventSink{d: d, c: tx}
		if _, err := d.refreshGaps(ctx, tx, ev, oneIdentity(id)); err != nil {
			return err
		}
		return ev.flush(ctx)
	})
	return changed, err
}
