package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/stewardhq/steward"
)

// lastUsedGranularity bounds how often authentication writes last_used_at:
// a write on every API request would queue every reader behind SQLite's one
// writer for a figure nobody needs to the second.
const lastUsedGranularity = time.Minute

const tokenColumns = `t.id, t.name, t.role, t.created_at, t.expires_at, t.last_used_at, t.revoked_at`

func scanToken(r scanner) (steward.Token, error) {
	var t steward.Token
	var created int64
	var expires, used, revoked sql.NullInt64
	err := r.Scan(&t.ID, &t.Name, &t.Role, &created, &expires, &used, &revoked)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMicro(created), fromNullMicro(expires), fromNullMicro(used), fromNullMicro(revoked)
	return t, err
}

// CreateToken stores a new token's hash and returns the secret once.
func (d *DB) CreateToken(ctx context.Context, t *steward.Token) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	t.CreatedAt = d.now()
	if t.ExpiresAt != nil && !t.ExpiresAt.After(t.CreatedAt) {
		return "", steward.Errorf(steward.EINVALID, "token expiry must be in the future.")
	}
	raw, hash := steward.NewSecret(steward.TokenPrefix)
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO tokens (name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			t.Name, string(t.Role), hash, micro(t.CreatedAt), microPtr(t.ExpiresAt)).Scan(&t.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "A token named %q exists already; revoke it or choose another name.", t.Name)
		} else if err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionTokenCreated, steward.ObjectToken, idStr(t.ID), steward.TokenCreated{Name: t.Name, Role: t.Role, ExpiresAt: t.ExpiresAt})
	})
	if err != nil {
		return "", err
	}
	return raw, nil
}

var errUnauthorized = steward.Errorf(steward.EUNAUTHORIZED, "The token is unknown, revoked or expired.")

// Authenticate returns the token for a raw secret.
func (d *DB) Authenticate(ctx context.Context, raw string) (*steward.Token, error) {
	if !steward.WellFormedSecret(steward.TokenPrefix, raw) {
		return nil, errUnauthorized
	}
	t, err := scanToken(d.read.QueryRowContext(ctx, d.q(`SELECT `+tokenColumns+` FROM tokens t WHERE t.hash = ?`), steward.HashSecret(raw)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthorized
	} else if err != nil {
		return nil, err
	}
	now := d.now()
	if !t.Usable(now) {
		return nil, errUnauthorized
	}
	if (t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > lastUsedGranularity) && d.touchDue(t.ID, now) {
		// Telemetry, not a state change: no audit event, and a failure here
		// must not refuse a valid token. Nor may it wait: on SQLite a sync
		// holds the one writer for its whole transaction (half a minute for
		// a large first import), and every request would wait with it. So
		// the write gets a moment, and is tried again a minute later.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchWait)
		_, err := d.write.ExecContext(wctx, d.q(`UPDATE tokens SET last_used_at = ? WHERE id = ?`), micro(now), t.ID)
		cancel()
		if err != nil {
			d.logger.Debug("token use not recorded (tried again in a minute)", "token", t.Name, "err", err)
		} else {
			t.LastUsedAt = &now
		}
	}
	return &t, nil
}

// touchWait is how long authentication waits for the writer to record a
// token's use before it gives up until the next minute.
const touchWait = 50 * time.Millisecond

// touchDue reports whether a token's use is to be written now: not when a
// write was tried within lastUsedGranularity, even one that failed.
func (d *DB) touchDue(id int64, now time.Time) bool {
	d.touchMu.Lock()
	defer d.touchMu.Unlock()
	if last, ok := d.touched[id]; ok && now.Sub(last) <= lastUsedGranularity && !now.Before(last) {
		return false
	}
	if d.touched == nil {
		d.touched = map[int64]time.Time{}
	}
	d.touched[id] = now
	return true
}

// Tokens lists tokens in creation order.
func (d *DB) Tokens(ctx context.Context) ([]steward.Token, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens t ORDER BY t.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []steward.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token and ends its sessions.
func (d *DB) RevokeToken(ctx context.Context, id int64) error {
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), micro(d.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if err := d.exists(ctx, tx, "tokens", id, "token"); err != nil {
				return err
			}
			return nil // revoked already
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE token_id = ?`), id); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionTokenRevoked, steward.ObjectToken, idStr(id), steward.TokenRevoked{})
	})
}

// CreateSession starts a web session for a token.
func (d *DB) CreateSession(ctx context.Context, tokenID int64, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", steward.Errorf(steward.EINVALID, "session lifetime must be positive.")
	}
	raw, hash := steward.NewSecret(steward.SessionPrefix)
	now := d.now()
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := d.exists(ctx, tx, "tokens", tokenID, "token"); err != nil {
			return err
		}
		// Expired sessions are swept here rather than by a job: sign-ins
		// are rare enough, and the table stays small.
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE expires_at < ?`), micro(now)); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO sessions (token_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id`),
			tokenID, hash, micro(now), micro(now.Add(ttl))).Scan(&id); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionSessionCreated, steward.ObjectToken, idStr(tokenID), steward.SessionCreated{Session: id, ExpiresAt: now.Add(ttl)})
	})
	if err != nil {
		return "", err
	}
	return raw, nil
}

// SessionToken returns the token behind a live session.
func (d *DB) SessionToken(ctx context.Context, raw string) (*steward.Token, error) {
	if !steward.WellFormedSecret(steward.SessionPrefix, raw) {
		return nil, errUnauthorized
	}
	var expires int64
	row := d.read.QueryRowContext(ctx, d.q(`SELECT `+tokenColumns+`, s.expires_at FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.hash = ?`), steward.HashSecret(raw))
	var t steward.Token
	var created int64
	var texp, used, revoked sql.NullInt64
	err := row.Scan(&t.ID, &t.Name, &t.Role, &created, &texp, &used, &revoked, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthorized
	} else if err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMicro(created), fromNullMicro(texp), fromNullMicro(used), fromNullMicro(revoked)
	now := d.now()
	if !t.Usable(now) || !now.Before(fromMicro(expires)) {
		return nil, errUnauthorized
	}
	return &t, nil
}

// DeleteSession ends a session.
func (d *DB) DeleteSession(ctx context.Context, raw string) error {
	if !steward.WellFormedSecret(steward.SessionPrefix, raw) {
		return nil
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		var id, tokenID int64
		err := tx.QueryRowContext(ctx, d.q(`SELECT id, token_id FROM sessions WHERE hash = ?`), steward.HashSecret(raw)).Scan(&id, &tokenID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE id = ?`), id); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionSessionDeleted, steward.ObjectToken, idStr(tokenID), steward.SessionDeleted{Session: id})
	})
}
