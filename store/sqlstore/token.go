package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// lastUsedGranularity bounds how often authentication writes last_used_at:
// a write on every API request would queue every reader behind SQLite's one
// writer for a figure nobody needs to the second.
const lastUsedGranularity = time.Minute

// tokenColumns are a token's columns and its principal's name and state,
// from tokenFrom.
const tokenColumns = `t.id, t.name, t.role, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
	t.person_id, t.identity_id, COALESCE(NULLIF(p.email, ''), p.external_id, i.name, ''), COALESCE(p.status, ''), i.owner_id` // #nosec G101 -- column names, not a token

// tokenFrom joins a token to its person or identity.
const tokenFrom = ` FROM tokens t LEFT JOIN people p ON p.id = t.person_id LEFT JOIN identities i ON i.id = t.identity_id` // #nosec G101 -- a FROM clause, not a token

func scanToken(r scanner, more ...any) (steward.Token, error) {
	var t steward.Token
	var created int64
	var expires, used, revoked, person, identity, owner sql.NullInt64
	var status string
	err := r.Scan(append([]any{&t.ID, &t.Name, &t.Role, &created, &expires, &used, &revoked,
		&person, &identity, &t.Principal, &status, &owner}, more...)...)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMicro(created), fromNullMicro(expires), fromNullMicro(used), fromNullMicro(revoked)
	t.PersonID, t.IdentityID, t.OwnerID = fromNullID(person), fromNullID(identity), fromNullID(owner)
	t.Kind = steward.PrincipalAutomation
	if t.PersonID != nil {
		t.Kind, t.PersonActive = steward.PrincipalPerson, status == string(steward.PersonActive)
	}
	return t, err
}

// CreateToken stores a new token's hash and returns the secret once. An
// automation token's identity is registered in the same transaction.
func (d *DB) CreateToken(ctx context.Context, t *steward.Token) (string, error) {
	t.CreatedAt = d.now()
	if t.Kind == steward.PrincipalPerson && t.ExpiresAt == nil {
		exp := t.CreatedAt.Add(steward.DefaultPersonalTokenTTL)
		t.ExpiresAt = &exp
	}
	if err := t.Validate(t.CreatedAt); err != nil {
		return "", err
	}
	if t.Kind == steward.PrincipalAutomation {
		t.PersonID = nil
	} else {
		t.IdentityID, t.OwnerID = nil, nil
	}
	raw, hash := steward.NewSecret(steward.TokenPrefix)
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		if t.PersonID != nil {
			var email, ext, status string
			err := tx.QueryRowContext(ctx, d.q(`SELECT email, external_id, status FROM people WHERE id = ?`), *t.PersonID).Scan(&email, &ext, &status)
			if errors.Is(err, sql.ErrNoRows) {
				return steward.Errorf(steward.ENOTFOUND, "person %d does not exist.", *t.PersonID)
			} else if err != nil {
				return err
			} else if status != string(steward.PersonActive) {
				return steward.Errorf(steward.EINVALID, "%s has departed: a departed person gets no token.", cmp.Or(email, ext))
			}
			t.Principal, t.PersonActive = cmp.Or(email, ext), true
		}
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO tokens (name, role, hash, created_at, expires_at, person_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			t.Name, string(t.Role), hash, micro(t.CreatedAt), microPtr(t.ExpiresAt), idPtr(t.PersonID)).Scan(&t.ID)
		if isUnique(err) {
			return steward.Errorf(steward.ECONFLICT, "A token named %q exists already; revoke it or choose another name.", t.Name)
		} else if err != nil {
			return err
		}
		if t.Kind == steward.PrincipalAutomation {
			if err := d.registerAutomation(ctx, tx, t); err != nil {
				return err
			}
			t.Principal = t.Name
		}
		return d.appendEvent(ctx, tx, steward.ActionTokenCreated, steward.ObjectToken, idStr(t.ID), steward.TokenCreated{
			Name: t.Name, Role: t.Role, ExpiresAt: t.ExpiresAt, Kind: t.Kind, Person: personOf(t), IdentityID: t.IdentityID})
	})
	if err != nil {
		return "", err
	}
	return raw, nil
}

// personOf returns the person a personal token names, for its event.
func personOf(t *steward.Token) string {
	if t.Kind == steward.PrincipalPerson {
		return t.Principal
	}
	return ""
}

// registerAutomation registers the identity of automation token t in
// Steward's own system, created on first use: an identity named after the
// token, of kind token, owned by t.OwnerID (nil for a token from before
// principals: an ownership gap), with the token as its credential. The
// identity and credential are disabled when the token can no longer be
// used. Everything is written on q with its events; t.IdentityID is set.
func (d *DB) registerAutomation(ctx context.Context, q querier, t *steward.Token) error {
	systemID, err := d.selfSystem(ctx, q)
	if err != nil {
		return err
	}
	to, err := d.assignOwner(ctx, q, t.OwnerID, nil, "owner")
	if err != nil {
		return err
	}
	if t.OwnerID == nil {
		to = steward.OwnerDecision{Source: steward.OwnerNone}
	}
	status, cstatus := steward.IdentityActive, steward.CredentialActive
	if !t.Usable(d.now()) {
		status, cstatus = steward.IdentityDisabled, steward.CredentialDisabled
	}
	crit := steward.LevelMedium
	if t.Role == steward.RoleAdmin {
		crit = steward.LevelHigh // it may change everything Steward knows
	}
	created := t.CreatedAt
	i := &steward.Identity{SystemID: systemID, ExternalID: t.Name, Name: t.Name, Kind: steward.KindToken,
		Environment: steward.EnvProd, Criticality: crit, Status: status, Labels: map[string]string{"role": string(t.Role)},
		CreatedAt: &created, LastUsedAt: t.LastUsedAt, UpdatedAt: d.now(),
		OwnerID: to.OwnerID, TeamID: to.TeamID, OwnerSource: to.Source, OwnerReason: to.Reason()}
	if err := d.insertOwnIdentity(ctx, q, i, to); isUnique(err) {
		return steward.Errorf(steward.ECONFLICT, "Steward's own inventory already has an identity named %q; choose another token name.", t.Name)
	} else if err != nil {
		return err
	}
	c := &steward.Credential{IdentityID: i.ID, ExternalID: t.Name, Kind: steward.CredToken, Status: cstatus,
		CreatedAt: &created, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt}
	if err := q.QueryRowContext(ctx, d.q(`INSERT INTO credentials (identity_id, external_id, kind, status, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		c.IdentityID, c.ExternalID, string(c.Kind), string(c.Status), microPtr(c.CreatedAt), microPtr(c.LastUsedAt), microPtr(c.ExpiresAt)).Scan(&c.ID); err != nil {
		return err
	}
	if err := d.appendEvent(ctx, q, steward.ActionCredentialCreated, steward.ObjectCredential, idStr(c.ID), credentialCreated(c)); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, d.q(`UPDATE tokens SET identity_id = ? WHERE id = ?`), i.ID, t.ID); err != nil {
		return err
	}
	t.IdentityID = &i.ID
	return d.settleOwnIdentity(ctx, q, i.ID, i.SystemID)
}

// insertOwnIdentity inserts identity i of Steward's own system, owned as to
// says, with its event, and sets i.ID. It returns the database's error for
// a name taken (isUnique).
func (d *DB) insertOwnIdentity(ctx context.Context, q querier, i *steward.Identity, to steward.OwnerDecision) error {
	err := q.QueryRowContext(ctx, d.q(`INSERT INTO identities (system_id, external_id, name, kind, environment, criticality, status, labels,
		created_at, last_used_at, updated_at, `+ownerCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		append([]any{i.SystemID, i.ExternalID, i.Name, string(i.Kind), string(i.Environment), string(i.Criticality),
			string(i.Status), labelsJSON(i.Labels), microPtr(i.CreatedAt), microPtr(i.LastUsedAt), micro(i.UpdatedAt)}, ownerVals(&to)...)...).Scan(&i.ID)
	if err != nil {
		return err
	}
	return d.appendEvent(ctx, q, steward.ActionIdentityCreated, steward.ObjectIdentity, idStr(i.ID), identityCreated(i))
}

// settleOwnIdentity brings what is derived from a new identity of
// Steward's own system up to date: the system's digest, the identity's
// credential age and its ownership gaps, with their events.
func (d *DB) settleOwnIdentity(ctx context.Context, q querier, id, systemID int64) error {
	if err := d.markDirty(ctx, q, systemID, false, identityRef(id)); err != nil {
		return err
	}
	if err := d.refreshCredentialAge(ctx, q, oneIdentity(id)); err != nil {
		return err
	}
	ev := &eventSink{d: d, c: q}
	if _, err := d.refreshGaps(ctx, q, ev, oneIdentity(id)); err != nil {
		return err
	}
	return ev.flush(ctx)
}

// RegisterSteward registers Steward's own automation identity, if it is
// not registered yet, owned by owner, and returns the principal Steward
// acts as. See steward.SelfRegistrar.
func (d *DB) RegisterSteward(ctx context.Context, owner *int64) (*steward.Principal, error) {
	p, err := d.registerSteward(ctx, owner)
	if isUnique(err) {
		// Another replica registered it meanwhile: now it is there.
		p, err = d.registerSteward(ctx, owner)
	}
	return p, err
}

func (d *DB) registerSteward(ctx context.Context, owner *int64) (*steward.Principal, error) {
	p := steward.SelfPrincipal("")
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		systemID, err := d.selfSystem(ctx, tx)
		if err != nil {
			return err
		}
		var kind string
		err = tx.QueryRowContext(ctx, d.q(`SELECT id, kind FROM identities WHERE system_id = ? AND external_id = ?`),
			systemID, steward.SelfIdentityName).Scan(&p.IdentityID, &kind)
		if err == nil && kind != string(steward.KindServiceAccount) {
			return steward.Errorf(steward.ECONFLICT, "Steward's own inventory has a %s named %q, an automation token's, which holds the name Steward acts under: its events would seem that token's. Revoke it and make its replacement under another name.", kind, steward.SelfIdentityName)
		} else if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		to, err := d.assignOwner(ctx, tx, owner, nil, "owner")
		if err != nil {
			return err
		}
		if owner == nil {
			to = steward.OwnerDecision{Source: steward.OwnerNone}
		}
		i := &steward.Identity{SystemID: systemID, ExternalID: steward.SelfIdentityName, Name: steward.SelfIdentityName,
			Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelHigh, Status: steward.IdentityActive,
			Labels: map[string]string{"role": string(steward.RoleAdmin)}, UpdatedAt: d.now(),
			OwnerID: to.OwnerID, TeamID: to.TeamID, OwnerSource: to.Source, OwnerReason: to.Reason()}
		if err := d.insertOwnIdentity(ctx, tx, i, to); err != nil {
			return err
		}
		p.IdentityID = i.ID
		return d.settleOwnIdentity(ctx, tx, i.ID, systemID)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// selfSystem returns the id of Steward's own system, creating it with its
// event if it does not exist yet.
func (d *DB) selfSystem(ctx context.Context, q querier) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, d.q(`SELECT id FROM systems WHERE name = ?`), steward.SelfSystemName).Scan(&id)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	s := &steward.System{Name: steward.SelfSystemName, Kind: steward.SystemOther, CreatedAt: d.now(),
		Description: "Steward itself: each automation identity here is an API token of Steward's, owned like any other identity."}
	if err := q.QueryRowContext(ctx, d.q(`INSERT INTO systems (name, kind, description, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
		s.Name, string(s.Kind), s.Description, micro(s.CreatedAt)).Scan(&s.ID); err != nil {
		return 0, err
	}
	return s.ID, d.appendEvent(ctx, q, steward.ActionSystemCreated, steward.ObjectSystem, idStr(s.ID), steward.SystemCreated(*s))
}

// migratePrincipals gives every token made before schema 14 an automation
// identity without an owner.
func (d *DB) migratePrincipals(ctx context.Context, c *sql.Conn) error {
	rows, err := c.QueryContext(ctx, `SELECT `+tokenColumns+tokenFrom+` WHERE t.person_id IS NULL AND t.identity_id IS NULL ORDER BY t.id`)
	if err != nil {
		return err
	}
	var tokens []steward.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			rows.Close() // #nosec G104 -- the Scan error is the one to report; Close only hands the connection back
			return err
		}
		tokens = append(tokens, t)
	}
	if err := cmpErr(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for i := range tokens {
		if err := d.registerAutomation(ctx, c, &tokens[i]); err != nil {
			return fmt.Errorf("token %s: %w", tokens[i].Name, err)
		}
	}
	return nil
}

var errUnauthorized = steward.Errorf(steward.EUNAUTHORIZED, "The token is unknown, revoked or expired.")

// Authenticate returns the principal acting with a raw token secret.
func (d *DB) Authenticate(ctx context.Context, raw string) (*steward.Principal, error) {
	t, err := d.AuthenticateToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	p := t.AsPrincipal()
	return &p, nil
}

// AuthenticateToken returns the token for a raw secret.
func (d *DB) AuthenticateToken(ctx context.Context, raw string) (*steward.Token, error) {
	if !steward.WellFormedSecret(steward.TokenPrefix, raw) {
		return nil, errUnauthorized
	}
	t, err := scanToken(d.queryRow(ctx, d.read, `SELECT `+tokenColumns+tokenFrom+` WHERE t.hash = ?`, steward.HashSecret(raw)))
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
		// the write gets a moment, and is tried again a minute later. An
		// automation token's identity and credential are used with it.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchWait)
		err := d.touch(wctx, &t, now)
		cancel()
		if err != nil {
			d.logger.Debug("token use not recorded (tried again in a minute)", "token", t.Name, "err", err)
		} else {
			t.LastUsedAt = &now
		}
	}
	return &t, nil
}

// touch records that t was used at now, on the token and, for an
// automation token, on its identity and credential.
func (d *DB) touch(ctx context.Context, t *steward.Token, now time.Time) error {
	if t.IdentityID == nil {
		_, err := d.write.ExecContext(ctx, d.q(`UPDATE tokens SET last_used_at = ? WHERE id = ?`), micro(now), t.ID)
		return err
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE tokens SET last_used_at = ? WHERE id = ?`, []any{micro(now), t.ID}},
		{`UPDATE identities SET last_used_at = ? WHERE id = ?`, []any{micro(now), *t.IdentityID}},
		{`UPDATE credentials SET last_used_at = ? WHERE identity_id = ? AND external_id = ?`, []any{micro(now), *t.IdentityID, t.Name}},
	} {
		if _, err := tx.ExecContext(ctx, d.q(q.sql), q.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
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
	return d.tokens(ctx, ``)
}

// PersonTokens lists one person's personal tokens in creation order.
func (d *DB) PersonTokens(ctx context.Context, personID int64) ([]steward.Token, error) {
	return d.tokens(ctx, ` WHERE t.person_id = ?`, personID)
}

func (d *DB) tokens(ctx context.Context, where string, args ...any) ([]steward.Token, error) {
	rows, err := d.read.QueryContext(ctx, d.q(`SELECT `+tokenColumns+tokenFrom+where+` ORDER BY t.id`), args...)
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

// TokenByName returns the token with a name.
func (d *DB) TokenByName(ctx context.Context, name string) (*steward.Token, error) {
	t, err := scanToken(d.read.QueryRowContext(ctx, d.q(`SELECT `+tokenColumns+tokenFrom+` WHERE t.name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "No API token is named %q.", name)
	} else if err != nil {
		return nil, err
	}
	return &t, nil
}

// RevokeToken revokes a token and ends its sessions; an automation token's
// identity and credential are disabled with it.
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
		if err := d.appendEvent(ctx, tx, steward.ActionTokenRevoked, steward.ObjectToken, idStr(id), steward.TokenRevoked{}); err != nil {
			return err
		}
		return d.disableAutomation(ctx, tx, id)
	})
}

// disableAutomation disables the identity and credential of a revoked
// automation token, with their events, so that it leaves the active
// inventory (and its ownership gaps) as it can no longer act.
func (d *DB) disableAutomation(ctx context.Context, tx *sql.Tx, tokenID int64) error {
	var identity sql.NullInt64
	var name string
	if err := tx.QueryRowContext(ctx, d.q(`SELECT identity_id, name FROM tokens WHERE id = ?`), tokenID).Scan(&identity, &name); err != nil || !identity.Valid {
		return err
	}
	var credID int64
	err := tx.QueryRowContext(ctx, d.q(`UPDATE credentials SET status = 'disabled' WHERE identity_id = ? AND external_id = ? AND status <> 'disabled' RETURNING id`),
		identity.Int64, name).Scan(&credID)
	if err == nil {
		if err := d.appendEvent(ctx, tx, steward.ActionCredentialDisabled, steward.ObjectCredential, idStr(credID), steward.CredentialChanged{
			IdentityID: identity.Int64, Changes: steward.Changes{"status": {steward.CredentialActive, steward.CredentialDisabled}}, Evidence: "token revoked"}); err != nil {
			return err
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	res, err := tx.ExecContext(ctx, d.q(`UPDATE identities SET status = 'disabled', updated_at = ? WHERE id = ? AND status = 'active'`), micro(d.now()), identity.Int64)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if err := d.appendEvent(ctx, tx, steward.ActionIdentityDisabled, steward.ObjectIdentity, idStr(identity.Int64), steward.IdentityChanged{
			Changes: steward.Changes{"status": {steward.IdentityActive, steward.IdentityDisabled}}, Source: "token revoked"}); err != nil {
			return err
		}
	}
	if err := d.refreshCredentialAge(ctx, tx, oneIdentity(identity.Int64)); err != nil {
		return err
	}
	ev := &eventSink{d: d, c: tx}
	if _, err := d.refreshGaps(ctx, tx, ev, oneIdentity(identity.Int64)); err != nil {
		return err
	}
	return ev.flush(ctx)
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
	t, err := scanToken(d.read.QueryRowContext(ctx, d.q(`SELECT `+tokenColumns+tokenFrom+` WHERE t.id = ?`), tokenID.Int64))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthorized
	} else if err != nil {
		return nil, err
	}
	if !t.Usable(now) {
		return nil, errUnauthorized
	}
	// A session started with an API token acts as the token's principal
	// (its person, or its automation identity) and keeps the token's Via,
	// "token:NAME", so that its audit events name the token it began with.
	pr := t.AsPrincipal()
	return &pr, nil
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
