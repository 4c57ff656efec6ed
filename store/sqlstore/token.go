package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
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

// CreatePersonSession starts a web session for a person signed in through
// the OpenID provider, in the role decided at sign-in.
func (d *DB) CreatePersonSession(ctx context.Context, ps steward.PersonSession, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", steward.Errorf(steward.EINVALID, "session lifetime must be positive.")
	} else if err := ps.Validate(); err != nil {
		return "", err
	}
	raw, hash := steward.NewSecret(steward.SessionPrefix)
	now := d.now()
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		p, err := scanPerson(tx.QueryRowContext(ctx, d.q(personSelect+` WHERE x.id = ?`), ps.PersonID))
		if errors.Is(err, sql.ErrNoRows) {
			return steward.Errorf(steward.ENOTFOUND, "person %d does not exist.", ps.PersonID)
		} else if err != nil {
			return err
		}
		if err := steward.CheckSignIn(&p); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE expires_at < ?`), micro(now)); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO sessions (person_id, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			ps.PersonID, string(ps.Role), hash, micro(now), micro(now.Add(ttl))).Scan(&id); err != nil {
			return err
		}
		// The person signs themself in: the event names them and the
		// session, whatever the caller's context said.
		ctx := steward.WithPrincipal(ctx, steward.PersonPrincipal(&p, ps.Role, hash))
		return d.appendEvent(ctx, tx, steward.ActionPersonSignedIn, steward.ObjectPerson, idStr(p.ID), steward.PersonSignedIn{
			Session: id, Role: ps.Role, Reason: ps.Reason, Issuer: ps.Issuer, Subject: ps.Subject, ExpiresAt: now.Add(ttl)})
	})
	if err != nil {
		return "", err
	}
	return raw, nil
}

// SessionPrincipal returns who acts in a live session: the person in the
// role of their sign-in, or the principal of the session's token.
func (d *DB) SessionPrincipal(ctx context.Context, raw string) (*steward.Principal, error) {
	if !steward.WellFormedSecret(steward.SessionPrefix, raw) {
		return nil, errUnauthorized
	}
	hash := steward.HashSecret(raw)
	var expires int64
	var tokenID, personID sql.NullInt64
	var role sql.NullString
	err := d.read.QueryRowContext(ctx, d.q(`SELECT token_id, person_id, role, expires_at FROM sessions WHERE hash = ?`), hash).Scan(&tokenID, &personID, &role, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthorized
	} else if err != nil {
		return nil, err
	}
	now := d.now()
	if !now.Before(fromMicro(expires)) {
		return nil, errUnauthorized
	}
	if personID.Valid {
		p, err := scanPerson(d.read.QueryRowContext(ctx, d.q(personSelect+` WHERE x.id = ?`), personID.Int64))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errUnauthorized
		} else if err != nil {
			return nil, err
		}
		if steward.CheckSignIn(&p) != nil {
			return nil, errUnauthorized // departed since they signed in
		}
		pr := steward.PersonPrincipal(&p, steward.Role(role.String), hash)
		return &pr, nil
	}
	t, err := scanToken(d.read.QueryRowContext(ctx, d.q(`SELECT `+tokenColumns+` FROM tokens t WHERE t.id = ?`), tokenID.Int64))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthorized
	} else if err != nil {
		return nil, err
	}
	if !t.Usable(now) {
		return nil, errUnauthorized
	}
	pr := tokenSessionPrincipal(&t, hash)
	return &pr, nil
}

// tokenSessionPrincipal is the principal of a session started with an API
// token. Tokens do not belong to a person or an automation identity yet, so
// it acts under the token's name, as "token:NAME", with the token's role.
func tokenSessionPrincipal(t *steward.Token, sessionHash string) steward.Principal {
	return steward.Principal{Kind: "token", Name: t.Name, Role: t.Role, Via: steward.SessionVia(sessionHash)}
}

// PersonBySignIn returns the person an OpenID provider's claim names.
func (d *DB) PersonBySignIn(ctx context.Context, by steward.PersonClaim, key string) (*steward.Person, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	cond := `x.external_id = ?`
	if by == steward.ClaimEmail {
		cond = `lower(x.email) = lower(?)`
	}
	rows, err := d.read.QueryContext(ctx, d.q(personSelect+` WHERE `+cond+` ORDER BY x.id LIMIT 3`), key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []steward.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, err
		}
		found = append(found, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		if by == steward.ClaimEmail {
			return nil, steward.Errorf(steward.ENOTFOUND, "No person has the e-mail address %q.", key)
		}
		return nil, steward.Errorf(steward.ENOTFOUND, "No person has the external id %q.", key)
	case 1:
		return &found[0], nil
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.ExternalID
	}
	return nil, steward.Errorf(steward.EINVALID, "Several people have the e-mail address %q (external ids %s), so it cannot name one.", key, strings.Join(names, ", "))
}

// DeleteSession ends a session.
func (d *DB) DeleteSession(ctx context.Context, raw string) error {
	if !steward.WellFormedSecret(steward.SessionPrefix, raw) {
		return nil
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		var id int64
		var tokenID, personID sql.NullInt64
		err := tx.QueryRowContext(ctx, d.q(`SELECT id, token_id, person_id FROM sessions WHERE hash = ?`), steward.HashSecret(raw)).Scan(&id, &tokenID, &personID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE id = ?`), id); err != nil {
			return err
		}
		if personID.Valid {
			return d.appendEvent(ctx, tx, steward.ActionPersonSignedOut, steward.ObjectPerson, idStr(personID.Int64), steward.SessionDeleted{Session: id})
		}
		return d.appendEvent(ctx, tx, steward.ActionSessionDeleted, steward.ObjectToken, idStr(tokenID.Int64), steward.SessionDeleted{Session: id})
	})
}
