package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward"
)

// As a target the connector changes only what a role can do by itself:
// role membership, its password, its LOGIN attribute, its existence. Table,
// database and attribute entitlements answer ENOTIMPL: grant those to a
// NOLOGIN role and grant membership of that role instead, so that access
// stays reviewable as one entitlement. The connecting role needs CREATEROLE
// (and SUPERUSER to act on superuser roles).

// Grant makes identity a member of the role named by entitlement
// ("role:<name>"). Errors: ENOTFOUND (no such login role or role, or one
// outside include_roles/exclude_roles), ENOTIMPL (another kind of
// entitlement), EFORBIDDEN (Steward's role may not), ECONFLICT (the grant
// would make a membership loop), EUNAVAILABLE.
func (c *Connector) Grant(ctx context.Context, identity, entitlement string) error {
	conn, release, role, err := c.membership(ctx, identity, entitlement)
	if err != nil {
		return err
	}
	defer release()
	// Granting a membership held already only raises a NOTICE.
	if _, err := conn.Exec(ctx, "GRANT "+ident(role)+" TO "+ident(identity)); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
		return classify(err, fmt.Sprintf("granting role %q to %q", role, identity))
	}
	c.logger.Info("postgres: granted role membership", "identity", identity, "role", role)
	return nil
}

// Revoke ends identity's direct membership of the role named by entitlement,
// whoever granted it. Errors as Grant, except that a membership that stands
// is never ENOTFOUND: one of a role or identity Steward does not manage
// (outside include_roles/exclude_roles, an identity that cannot log in) is
// EFORBIDDEN. EFORBIDDEN also when a grant made by another role cannot be
// revoked by Steward's.
func (c *Connector) Revoke(ctx context.Context, identity, entitlement string) error {
	conn, release, role, err := c.membership(ctx, identity, entitlement)
	if steward.ErrorCode(err) == steward.ENOTFOUND {
		return c.unmanagedMembership(ctx, identity, entitlement, err)
	} else if err != nil {
		return err
	}
	defer release()
	what := fmt.Sprintf("revoking role %q from %q", role, identity)
	// Revoking what is not held only raises a WARNING.
	if _, err := conn.Exec(ctx, "REVOKE "+ident(role)+" FROM "+ident(identity)); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
		return classify(err, what)
	}
	// From PostgreSQL 16 each grantor's grant is its own membership, and a
	// plain REVOKE removes only Steward's: revoke the others by name.
	grantors, err := membershipGrantors(ctx, conn, identity, role)
	if err != nil {
		return classify(err, what)
	}
	for _, g := range grantors {
		if _, err := conn.Exec(ctx, "REVOKE "+ident(role)+" FROM "+ident(identity)+" GRANTED BY "+ident(g)); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
			return classify(err, what+" (granted by "+g+")")
		}
	}
	if grantors, err = membershipGrantors(ctx, conn, identity, role); err != nil {
		return classify(err, what)
	} else if len(grantors) > 0 {
		return steward.Errorf(steward.EFORBIDDEN, "postgres: %s: the membership granted by %s remains; Steward's role may not revoke it.", what, strings.Join(grantors, ", "))
	}
	c.logger.Info("postgres: revoked role membership", "identity", identity, "role", role)
	return nil
}

func membershipGrantors(ctx context.Context, conn *pgx.Conn, member, role string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT g.rolname FROM pg_auth_members m
		JOIN pg_roles u ON u.oid = m.member JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles g ON g.oid = m.grantor
		WHERE u.rolname = $1 AND r.rolname = $2 ORDER BY 1`, member, role)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// unmanagedMembership is Revoke's answer when membership found no identity
// or role Steward manages (notFound). A caller takes ENOTFOUND as nothing
// left to revoke (the expiry engine records the JIT grant revoked), which
// is true only if no such membership stands: if one does, outside what
// Steward manages, the revocation is refused, so that it stays visible and
// is tried again once the configuration or the role is put right.
func (c *Connector) unmanagedMembership(ctx context.Context, identity, entitlement string, notFound error) error {
	role, ok := strings.CutPrefix(entitlement, "role:")
	if !ok || role == "" {
		return notFound
	}
	conn, err := c.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	grantors, err := membershipGrantors(ctx, conn, identity, role)
	if err != nil {
		return classify(err, fmt.Sprintf("looking up %q's membership of role %q", identity, role))
	} else if len(grantors) == 0 {
		return notFound
	}
	return steward.Errorf(steward.EFORBIDDEN, "postgres: %q is a member of role %q, but Steward will not revoke it: %s",
		identity, role, steward.ErrorMessage(notFound))
}

// roleOf returns the role an entitlement names. Entitlements of other kinds
// exist but cannot be granted here (ENOTIMPL); anything else is not an
// entitlement of this system (ENOTFOUND).
func roleOf(entitlement string) (string, error) {
	if role, ok := strings.CutPrefix(entitlement, "role:"); ok && role != "" {
		return role, nil
	}
	for _, kind := range []string{"attr:", "owner:", "database:", "table:"} {
		if strings.HasPrefix(entitlement, kind) {
			return "", steward.Errorf(steward.ENOTIMPL, "postgres: Steward grants and revokes only role membership (\"role:<name>\"), not %q; grant it to a NOLOGIN role and grant that role's membership instead.", entitlement)
		}
	}
	return "", steward.Errorf(steward.ENOTFOUND, "postgres: %q is not an entitlement of PostgreSQL; role memberships are named \"role:<name>\".", entitlement)
}

// roleState is what the target needs to know of an identity's role.
type roleState struct {
	login, disabled, self bool
}

// lookupIdentity returns the state of the login role named identity, or
// ENOTFOUND if there is none that Steward manages.
func (c *Connector) lookupIdentity(ctx context.Context, conn *pgx.Conn, identity string) (roleState, error) {
	var st roleState
	err := conn.QueryRow(ctx, `SELECT r.rolcanlogin,
			EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles d ON d.oid = m.roleid WHERE m.member = r.oid AND d.rolname = $2),
			r.rolname = session_user
		FROM pg_roles r WHERE r.rolname = $1`, identity, c.cfg.disabledRole()).Scan(&st.login, &st.disabled, &st.self)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return st, steward.Errorf(steward.ENOTFOUND, "postgres: there is no role %q.", identity)
	case err != nil:
		return st, classify(err, "looking up role "+identity)
	case !c.cfg.inScope(identity):
		return st, steward.Errorf(steward.ENOTFOUND, "postgres: role %q is outside include_roles/exclude_roles; Steward does not manage it.", identity)
	case !st.login && !st.disabled:
		return st, steward.Errorf(steward.ENOTFOUND, "postgres: role %q cannot log in: it is an entitlement (\"role:%s\"), not an identity.", identity, identity)
	}
	return st, nil
}

// lookupRole returns ENOTFOUND unless role exists, is in scope and can be granted.
func (c *Connector) lookupRole(ctx context.Context, conn *pgx.Conn, role string) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return classify(err, "looking up role "+role)
	}
	switch {
	case !exists:
		return steward.Errorf(steward.ENOTFOUND, "postgres: there is no role %q.", role)
	case !c.cfg.inScope(role):
		return steward.Errorf(steward.ENOTFOUND, "postgres: role %q is outside include_roles/exclude_roles; Steward does not manage it.", role)
	case role == c.cfg.disabledRole():
		return steward.Errorf(steward.ENOTFOUND, "postgres: role %q marks disabled roles; use Disable instead of granting it.", role)
	case role == "pg_database_owner":
		return steward.Errorf(steward.ENOTFOUND, "postgres: pg_database_owner cannot be granted; its member is always the database's owner.")
	}
	return nil
}

// RotateCredential gives identity a new random password and sends it to the
// configured sink, never to Steward. PostgreSQL receives only the password's
// SCRAM-SHA-256 verifier. The order keeps the value from ever being lost: a
// file is written (0600) before the password changes and moved into place
// after, and removed if the change fails; stdout is printed inside the
// transaction that changes the password, which commits only if the print
// succeeded. VALID UNTIL becomes now + password_valid_days, or 'infinity'.
// Errors: ENOTFOUND, ENOTIMPL (no rotation_sink), EINVALID (the sink
// directory is unsafe), EFORBIDDEN, EUNAVAILABLE (the server, or a file
// write; the message says where the new value is if its fate is unknown).
func (c *Connector) RotateCredential(ctx context.Context, identity string) (*steward.RotationResult, error) {
	if !c.sink.Stdout && c.sink.Dir == "" {
		return nil, steward.Errorf(steward.ENOTIMPL, "postgres: password rotation needs a rotation_sink (\"stdout\" or \"file:/dir\") in the connector's configuration.")
	}
	conn, err := c.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := c.lookupIdentity(ctx, conn, identity); err != nil {
		return nil, err
	}
	rot, err := c.newRotation(identity)
	if err != nil {
		return nil, err
	}
	if err := c.writeSinkFile(rot); err != nil {
		return nil, err
	}
	if err := c.setPassword(ctx, conn, rot); err != nil {
		return nil, err
	}
	if err := c.placeSinkFile(rot); err != nil {
		return nil, err
	}
	c.logger.Info("postgres: rotated password", "identity", identity, "sink", rot.res.Sink)
	return rot.res, nil
}

// rotation is one password rotation: the new value, the statement that
// sets it, and where the value goes.
type rotation struct {
	identity, password string
	stmt               string // ALTER ROLE with the verifier and expiry
	what               string // "rotating the password of …", for errors
	final, tmp         string // the sink file, and the file it is written to first
	res                *steward.RotationResult
}

// newRotation draws a new password and builds the statement that sets its
// verifier, valid until now + password_valid_days or for ever.
func (c *Connector) newRotation(identity string) (*rotation, error) {
	password, err := newPassword(rand.Reader, c.cfg.passwordLength())
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("postgres: drawing a salt: %w", err)
	}
	verifier, err := scramVerifier(password, salt, scramIterations)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now().UTC().Truncate(time.Microsecond) // PostgreSQL's precision
	res := &steward.RotationResult{Credential: "password", Kind: steward.CredPassword, RotatedAt: now, Sink: "stdout"}
	validUntil := "infinity"
	if d := c.cfg.PasswordValidDays; d > 0 {
		e := now.AddDate(0, 0, d)
		res.ExpiresAt = &e
		validUntil = e.Format(time.RFC3339Nano)
	}
	// ALTER ROLE takes no bind parameters, so both values are literals; they
	// are built from base64, digits and ":$.+-TZ" only, which is checked
	// rather than trusted.
	if strings.ContainsAny(verifier+validUntil, `'\`) {
		return nil, fmt.Errorf("postgres: refusing to send a password verifier that needs quoting")
	}
	return &rotation{identity: identity, password: password, res: res,
		stmt: "ALTER ROLE " + ident(identity) + " PASSWORD " + literal(verifier) + " VALID UNTIL " + literal(validUntil),
		what: fmt.Sprintf("rotating the password of %q", identity)}, nil
}

// writeSinkFile writes the new password, for a file sink, to a temporary
// file beside its final place, before the password changes.
func (c *Connector) writeSinkFile(rot *rotation) error {
	if c.sink.Dir == "" {
		return nil
	}
	if err := checkSinkDir(c.sink.Dir); err != nil {
		return err
	}
	rot.final = filepath.Join(c.sink.Dir, sinkFileName(rot.identity))
	rot.res.Sink = "file:" + rot.final
	var err error
	rot.tmp, err = writeSinkTemp(rot.final, rot.password)
	return err
}

// setPassword changes the password in a transaction that, for the stdout
// sink, prints it before committing. A change that fails removes the
// temporary file; a commit that fails says where the value is, if its fate
// is unknown.
func (c *Connector) setPassword(ctx context.Context, conn *pgx.Conn, rot *rotation) error {
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, rot.stmt)
		if err == nil && c.sink.Stdout {
			c.outMu.Lock()
			_, err = fmt.Fprintf(c.stdout, "%s\t%s\n", rot.identity, rot.password)
			c.outMu.Unlock()
			if err != nil {
				err = fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: %s: printing the new password failed, so it was not set.", rot.what), err)
			}
		}
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}
	if err != nil {
		if rot.tmp != "" {
			_ = os.Remove(rot.tmp)
		}
		return classify(err, rot.what)
	}
	if err := tx.Commit(ctx); err != nil {
		return rot.commitFailed(err)
	}
	return nil
}

// commitFailed is the error of a commit that failed: the server refused it
// (the password was not set; its file is removed), or the connection broke
// and the change may or may not have taken effect.
func (rot *rotation) commitFailed(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && rot.tmp != "":
		_ = os.Remove(rot.tmp)
	case errors.As(err, &pe):
		return fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: %s: the password printed was not set: %s.", rot.what, pe.Message), err)
	case rot.tmp != "":
		return fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: %s: the connection failed while committing; if the change took effect, the new password is in %s.", rot.what, rot.tmp), err)
	default:
		return fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: %s: the connection failed while committing; the password printed may or may not be in effect.", rot.what), err)
	}
	return classify(err, rot.what)
}

// placeSinkFile moves the new password's file into place once the password
// is set.
func (c *Connector) placeSinkFile(rot *rotation) error {
	if rot.tmp == "" {
		return nil
	}
	if err := os.Rename(rot.tmp, rot.final); err != nil {
		return fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: %s: the new password is set and is in %s; moving it to %s failed.", rot.what, rot.tmp, rot.final), err)
	}
	if err := syncDir(c.sink.Dir); err != nil {
		c.logger.Warn("postgres: syncing the rotation sink directory failed", "dir", c.sink.Dir, "err", err)
	}
	return nil
}

// literal quotes s as an SQL string literal. Callers pass only values they
// built and checked; standard_conforming_strings makes backslashes plain.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Disable makes identity NOLOGIN and a member of Config.DisabledRole (created
// if missing), in one transaction, so that the source goes on reporting it
// as a disabled identity with its grants. Sessions already open go on until
// they end. Disabling twice is not an error. Errors: ENOTFOUND, EFORBIDDEN
// (Steward's own role, or not allowed), EUNAVAILABLE.
func (c *Connector) Disable(ctx context.Context, identity string) error {
	conn, err := c.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	st, err := c.lookupIdentity(ctx, conn, identity)
	if err != nil {
		return err
	}
	if st.self {
		return steward.Errorf(steward.EFORBIDDEN, "postgres: Steward connects as %q; it will not disable its own role.", identity)
	}
	if err := c.ensureDisabledRole(ctx, conn); err != nil {
		return err
	}
	what := fmt.Sprintf("disabling role %q", identity)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "ALTER ROLE "+ident(identity)+" NOLOGIN"); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
			return err
		}
		_, err := tx.Exec(ctx, "GRANT "+ident(c.cfg.disabledRole())+" TO "+ident(identity)) // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
		return err
	})
	if err != nil {
		return classify(err, what)
	}
	c.logger.Info("postgres: disabled role", "identity", identity)
	return nil
}

// ensureDisabledRole creates the marker role of disabled identities.
func (c *Connector) ensureDisabledRole(ctx context.Context, conn *pgx.Conn) error {
	name := c.cfg.disabledRole()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return classify(err, "looking up role "+name)
	}
	if exists {
		return nil
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE ROLE "+ident(name)+" NOLOGIN"); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
			return err
		}
		_, err := tx.Exec(ctx, "COMMENT ON ROLE "+ident(name)+" IS "+literal("Members were disabled (NOLOGIN) by Steward. The role grants nothing.")) // #nosec G202 -- the role name is quoted by ident, the comment is a constant; PostgreSQL takes no bind parameters here
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42710" {
		return nil // created by a concurrent Disable
	}
	return classify(err, "creating role "+name)
}

// Delete drops identity's role. Steward never drops or reassigns what the
// role owns: while it owns objects or holds privileges in any database, the
// answer is ECONFLICT naming them (REASSIGN OWNED and DROP OWNED, run by a
// person in each database, clear them). Errors: ENOTFOUND, ECONFLICT,
// EFORBIDDEN (Steward's own role, or not allowed), EUNAVAILABLE.
func (c *Connector) Delete(ctx context.Context, identity string) error {
	conn, err := c.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	st, err := c.lookupIdentity(ctx, conn, identity)
	if err != nil {
		return err
	}
	if st.self {
		return steward.Errorf(steward.EFORBIDDEN, "postgres: Steward connects as %q; it will not drop its own role.", identity)
	}
	if _, err := conn.Exec(ctx, "DROP ROLE "+ident(identity)); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
		return classify(err, fmt.Sprintf("dropping role %q", identity))
	}
	c.logger.Info("postgres: dropped role", "identity", identity)
	return nil
}

// membership checks a Grant or Revoke: the entitlement names a role
// ("role:<name>"), and both the login role and the role exist in scope. It
// returns a pooled session for the change and what hands it back.
func (c *Connector) membership(ctx context.Context, identity, entitlement string) (*pgx.Conn, func(), string, error) {
	role, err := roleOf(entitlement)
	if err != nil {
		return nil, nil, "", err
	}
	conn, release, err := c.session(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	if _, err := c.lookupIdentity(ctx, conn, identity); err != nil {
		release()
		return nil, nil, "", err
	}
	if err := c.lookupRole(ctx, conn, role); err != nil {
		release()
		return nil, nil, "", err
	}
	return conn, release, role, nil
}

// CreateIdentity makes identity a login role with no password: it cannot
// sign in until a rotation gives it one, which goes to the rotation sink,
// never to Steward (steward.IdentityCreator). Errors: EINVALID (a name
// outside include_roles/exclude_roles, which Steward would not then
// manage, or not a valid role name), ECONFLICT (a role of that name
// exists), EFORBIDDEN, EUNAVAILABLE.
func (c *Connector) CreateIdentity(ctx context.Context, identity string) error {
	switch {
	case identity == "" || len(identity) > 63 || strings.ContainsRune(identity, 0):
		return steward.Errorf(steward.EINVALID, "postgres: %q is not a role name PostgreSQL keeps (1 to 63 bytes).", identity)
	case strings.HasPrefix(identity, "pg_"):
		return steward.Errorf(steward.EINVALID, "postgres: role names beginning pg_ are PostgreSQL's own.")
	case !c.cfg.inScope(identity):
		return steward.Errorf(steward.EINVALID, "postgres: role %q is outside include_roles/exclude_roles: Steward would not manage the identity it made.", identity)
	}
	conn, release, err := c.session(ctx)
	if err != nil {
		return err
	}
	defer release()
	if _, err := conn.Exec(ctx, "CREATE ROLE "+ident(identity)+" LOGIN"); err != nil { // #nosec G202 -- every name is quoted by ident (pgx.Identifier.Sanitize), so no name can end its identifier; PostgreSQL takes no bind parameters here
		return classify(err, fmt.Sprintf("creating role %q", identity))
	}
	c.logger.Info("postgres: created login role", "identity", identity)
	return nil
}

var _ steward.IdentityCreator = (*Connector)(nil)
