package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stewardhq/steward"
)

// errStop ends a Read whose consumer stopped early; it is never yielded.
var errStop = errors.New("postgres: the reader stopped")

// Read streams the cluster's identities, then entitlements, then grants, so
// that every record is listed before a grant names it. Each database is read
// in one REPEATABLE READ snapshot, so that a grant never names a record the
// same snapshot did not list. Role names, memberships and database
// privileges are held in memory (a cluster has thousands of roles, not
// millions); tables and their privileges are streamed. A role whose name
// Steward cannot store (control characters) is reported as EINVALID at
// "pg_roles:<name>" and skipped. Other errors end the stream: EUNAVAILABLE
// when the server cannot be reached, ENOTFOUND when a database named in
// Config.Databases does not exist.
func (c *Connector) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return func(yield func(steward.Record, error) bool) {
		r := &reader{c: c, yield: yield, conns: map[string]pgx.Tx{}}
		err := r.run(ctx)
		r.close(ctx)
		if err != nil && !errors.Is(err, errStop) {
			yield(steward.Record{}, err)
		}
	}
}

// loginRole is what a grant needs to know of an identity after it was emitted.
type loginRole struct {
	name                                                string
	super, createRole, bypassRLS, replication, createDB bool
}

// dbPriv is one privilege on a database held by one role.
type dbPriv struct{ db, priv, role string }

// reader is the state of one Read.
type reader struct {
	c     *Connector
	yield func(steward.Record, error) bool
	main  pgx.Tx
	conns map[string]pgx.Tx // snapshot per database, the main one included

	mainDB      string
	markerOID   uint32
	authid      bool                      // pg_authid readable: password presence known
	dbs         []database                // databases in scope, by name
	identities  []loginRole               // emitted identities, by name
	isIdentity  map[string]bool           // emitted identity names
	isRoleEnt   map[string]bool           // emitted "role:" entitlement role names
	dbPrivs     []dbPriv                  // by db, privilege, role
	tableCounts map[string]map[string]int // role → "db\x00PRIV" → number of tables
}

type database struct{ name, owner string }

func (r *reader) emit(rec steward.Record) error {
	if !r.yield(rec, nil) {
		return errStop
	}
	return nil
}

// bad reports a record that cannot be read; the stream goes on.
func (r *reader) bad(pos, format string, args ...any) error {
	if !r.yield(steward.Record{}, steward.AtPos(pos, steward.Errorf(steward.EINVALID, format, args...))) {
		return errStop
	}
	return nil
}

func (r *reader) close(ctx context.Context) {
	for _, tx := range r.conns {
		_ = tx.Rollback(ctx) // read-only: nothing to keep
		_ = tx.Conn().Close(ctx)
	}
}

// snapshot opens a read-only REPEATABLE READ transaction on database db.
func (r *reader) snapshot(ctx context.Context, db string) (pgx.Tx, error) {
	if tx, ok := r.conns[db]; ok {
		return tx, nil
	}
	conn, err := r.c.connect(ctx, db)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		_ = conn.Close(ctx)
		return nil, classify(err, "starting a read-only snapshot")
	}
	if db == "" {
		if err := tx.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
			return nil, classify(err, "reading the current database")
		}
		r.mainDB = db
	}
	r.conns[db] = tx
	return tx, nil
}

func (r *reader) run(ctx context.Context) error {
	main, err := r.snapshot(ctx, "")
	if err != nil {
		return err
	}
	r.main = main
	var marker *uint32
	err = main.QueryRow(ctx, `SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT'),
		(SELECT oid FROM pg_roles WHERE rolname = $1)`, r.c.cfg.disabledRole()).Scan(&r.authid, &marker)
	if err != nil {
		return classify(err, "reading what Steward may see")
	}
	if marker != nil {
		r.markerOID = *marker
	}
	if !r.authid {
		r.c.logger.Warn("postgres: pg_authid is not readable (not a superuser); every login role is reported with a password credential of unknown presence")
	}
	steps := []func(context.Context) error{
		r.databases, r.identityRecords, r.loadPrivileges,
		r.attributeEntitlements, r.roleEntitlements, r.databaseEntitlements,
		r.membershipGrants, r.attributeGrants, r.databaseGrants,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	for _, db := range r.dbs {
		if err := r.tableRecords(ctx, db.name); err != nil {
			return err
		}
	}
	return nil
}

// databases resolves Config.Databases against the cluster.
func (r *reader) databases(ctx context.Context) error {
	patterns := r.c.cfg.Databases
	if len(patterns) == 0 {
		patterns = []string{r.mainDB}
	}
	rows, err := r.main.Query(ctx, `SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
		WHERE NOT d.datistemplate AND d.datallowconn ORDER BY d.datname COLLATE "C"`)
	if err != nil {
		return classify(err, "listing databases")
	}
	matched := map[string]bool{}
	for rows.Next() {
		var d database
		if err := rows.Scan(&d.name, &d.owner); err != nil {
			rows.Close()
			return classify(err, "listing databases")
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, d.name); ok {
				matched[p] = true
				if validName(d.name) {
					r.dbs = append(r.dbs, d)
				}
				break
			}
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "listing databases")
	}
	for _, p := range patterns {
		// A database that vanished must not read as "all its grants were
		// revoked"; only a pattern may match nothing.
		if !matched[p] && !strings.ContainsAny(p, `*?[\`) {
			return steward.Errorf(steward.ENOTFOUND, "postgres: database %q does not exist or does not allow connections.", p)
		}
	}
	return nil
}

// validName reports whether Steward can store name: valid UTF-8 without
// control characters (PostgreSQL allows both in quoted names).
func validName(name string) bool {
	if !utf8.ValidString(name) || name == "" {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// identityRecords emits one identity per login role in scope (and per role
// Steward disabled), with its password as its credential.
func (r *reader) identityRecords(ctx context.Context) error {
	rows, err := r.main.Query(ctx, loginRolesQuery(r.authid), r.markerOID)
	if err != nil {
		return classify(err, "listing login roles")
	}
	defer rows.Close()
	r.isIdentity = map[string]bool{}
	for rows.Next() {
		var lr loginRoleRow
		if err := rows.Scan(&lr.name, &lr.login, &lr.super, &lr.createRole, &lr.bypassRLS, &lr.replication, &lr.createDB,
			&lr.connLimit, &lr.validUntil, &lr.hasPassword, &lr.version, &lr.comment); err != nil {
			return classify(err, "reading a login role")
		}
		pos := "pg_roles:" + lr.name
		if !r.c.cfg.inScope(lr.name) {
			continue
		}
		if !validName(lr.name) {
			if err := r.bad(fmt.Sprintf("pg_roles:%q", lr.name), "role name %q holds a control character or invalid UTF-8; Steward skips it.", lr.name); err != nil {
				return err
			}
			continue
		}
		if err := r.emit(steward.Record{Identity: r.roleIdentity(&lr), Pos: pos}); err != nil {
			return err
		}
		r.isIdentity[lr.name] = true
		r.identities = append(r.identities, lr.loginRole)
	}
	return classify(rows.Err(), "listing login roles")
}

// loginRolesQuery selects the login roles and those marked disabled ($1),
// as loginRoleRow scans them. Whether a role has a password, and its
// version, can be read only with pg_authid (authid); otherwise they are
// unknown (NULL, and an empty version).
func loginRolesQuery(authid bool) string {
	password, version := `NULL::bool`, `''` // #nosec G101 -- SQL for whether a role has a password, not a password
	if authid {
		password = `(SELECT a.rolpassword IS NOT NULL FROM pg_authid a WHERE a.oid = r.oid)` // #nosec G101 -- SQL that reads only whether a role has a password
		// The password's version: a hash of the SCRAM verifier's salt
		// (SCRAM-SHA-256$<iterations>:<salt>$<keys>), which a new password
		// always changes. The salt is no secret (the server shows it to any
		// client that starts a login as the role) and the verifier never
		// leaves the server. An MD5 password has no salt: no version.
		version = `(SELECT CASE WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN
			encode(sha256(convert_to('steward:scram-salt:' || split_part(split_part(a.rolpassword, '$', 2), ':', 2), 'UTF8')), 'hex')
			ELSE '' END FROM pg_authid a WHERE a.oid = r.oid)`
	}
	return `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolbypassrls,
		r.rolreplication, r.rolcreatedb, r.rolconnlimit, r.rolvaliduntil, ` + password + `, coalesce(` + version + `, ''),
		coalesce(shobj_description(r.oid, 'pg_authid'), '')
		FROM pg_roles r
		WHERE r.rolcanlogin OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid AND m.roleid = $1)
		ORDER BY r.rolname COLLATE "C"`
}

// loginRoleRow is one row of loginRolesQuery.
type loginRoleRow struct {
	loginRole
	login       bool
	connLimit   int32
	validUntil  pgtype.Timestamptz
	hasPassword *bool // nil: not known (no pg_authid)
	version     string
	comment     string
}

// roleIdentity is a login role as an identity: its attributes as labels,
// disabled when it cannot log in, graded by roleCriticality, and with its
// password, when it has one or that is not known, as its credential.
func (r *reader) roleIdentity(lr *loginRoleRow) *steward.SourceIdentity {
	si := &steward.SourceIdentity{
		ExternalID:  lr.name,
		Kind:        steward.KindServiceAccount,
		Environment: r.c.cfg.Environment,
		Status:      steward.IdentityActive,
		Labels: map[string]string{
			"superuser":        strconv.FormatBool(lr.super),
			"createrole":       strconv.FormatBool(lr.createRole),
			"bypassrls":        strconv.FormatBool(lr.bypassRLS),
			"replication":      strconv.FormatBool(lr.replication),
			"createdb":         strconv.FormatBool(lr.createDB),
			"connection_limit": "unlimited",
		},
	}
	if !lr.login {
		si.Status = steward.IdentityDisabled
	}
	si.Criticality = roleCriticality(lr.loginRole)
	if lr.connLimit >= 0 {
		si.Labels["connection_limit"] = strconv.Itoa(int(lr.connLimit))
	}
	if lr.comment != "" {
		si.Labels["comment"] = truncate(printable(lr.comment), 1024)
	}
	switch {
	case lr.hasPassword == nil:
		si.Labels["password"] = "unknown"
	case *lr.hasPassword:
		si.Labels["password"] = "set"
	default:
		si.Labels["password"] = "none"
	}
	if lr.hasPassword == nil || *lr.hasPassword {
		si.Credentials = []steward.SourceCredential{{ExternalID: "password", Kind: steward.CredPassword, ExpiresAt: expiry(lr.validUntil),
			Version: lr.version}}
	}
	return si
}

// roleCriticality grades a login role by the attributes it holds itself,
// as the AWS importer grades the root user. A superuser bypasses every
// permission check and can run programs as the server's operating system
// user: critical. CREATEROLE can create, alter and grant roles (before
// PostgreSQL 16, membership of any role but a superuser's), BYPASSRLS reads
// past every row-level security policy and REPLICATION can stream every
// row of the cluster: high. Others take the sync's default ("").
func roleCriticality(lr loginRole) steward.Level {
	switch {
	case lr.super:
		return steward.LevelCritical
	case lr.createRole, lr.bypassRLS, lr.replication:
		return steward.LevelHigh
	}
	return ""
}

// expiry turns rolvaliduntil into a credential expiry: NULL and 'infinity'
// never expire; '-infinity' expired at the Unix epoch.
func expiry(t pgtype.Timestamptz) *time.Time {
	switch {
	case !t.Valid || t.InfinityModifier == pgtype.Infinity:
		return nil
	case t.InfinityModifier == pgtype.NegativeInfinity:
		e := time.Unix(0, 0).UTC()
		return &e
	}
	e := t.Time.UTC()
	return &e
}

// printable replaces control characters (a comment's newlines) with spaces.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, s)
}

// loadPrivileges reads database privileges and, per database, how many table
// privileges each role holds, for entitlement descriptions and grants.
func (r *reader) loadPrivileges(ctx context.Context) error {
	names := make([]string, len(r.dbs))
	for i, d := range r.dbs {
		names[i] = d.name
	}
	// DISTINCT: two grantors may grant the same privilege.
	rows, err := r.main.Query(ctx, `SELECT DISTINCT d.datname COLLATE "C", a.privilege_type COLLATE "C", g.rolname COLLATE "C"
		FROM pg_database d
		CROSS JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
		JOIN pg_roles g ON g.oid = a.grantee
		WHERE d.datname = ANY($1)
		ORDER BY 1, 2, 3`, names)
	if err != nil {
		return classify(err, "reading database privileges")
	}
	var p dbPriv
	_, err = pgx.ForEachRow(rows, []any{&p.db, &p.priv, &p.role}, func() error {
		r.dbPrivs = append(r.dbPrivs, p)
		return nil
	})
	if err != nil {
		return classify(err, "reading database privileges")
	}
	r.tableCounts = map[string]map[string]int{}
	for _, d := range r.dbs {
		tx, err := r.snapshot(ctx, d.name)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT g.rolname, a.privilege_type, count(DISTINCT c.oid)
			FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
			JOIN pg_roles g ON g.oid = a.grantee
			WHERE `+tableFilter+` GROUP BY 1, 2`)
		if err != nil {
			return classify(err, "counting table privileges in "+d.name)
		}
		var role, priv string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&role, &priv, &n}, func() error {
			if r.tableCounts[role] == nil {
				r.tableCounts[role] = map[string]int{}
			}
			r.tableCounts[role][d.name+"\x00"+priv] = n
			return nil
		})
		if err != nil {
			return classify(err, "counting table privileges in "+d.name)
		}
	}
	return nil
}

// tableFilter selects the relations whose privileges are read: tables,
// partitioned tables, views, materialized views and foreign tables outside
// the system schemas (users cannot create schemas named pg_*).
const tableFilter = `c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'`

// attribute is a role attribute reported as an entitlement.
type attribute struct {
	name        string
	privileged  bool
	sensitivity steward.Level
	description string
	held        func(loginRole) bool
}

func attributes() []attribute {
	return []attribute{
		{"SUPERUSER", true, steward.LevelCritical, "Bypasses every permission check, can read and change all data and run programs on the server.",
			func(l loginRole) bool { return l.super }},
		{"CREATEROLE", true, steward.LevelHigh, "Can create, alter and drop roles and grant their membership: a path to most privileges.",
			func(l loginRole) bool { return l.createRole }},
		{"BYPASSRLS", true, steward.LevelHigh, "Bypasses every row-level security policy.",
			func(l loginRole) bool { return l.bypassRLS }},
		{"REPLICATION", true, steward.LevelHigh, "Can stream the whole cluster's data through replication connections.",
			func(l loginRole) bool { return l.replication }},
		{"CREATEDB", false, steward.LevelMedium, "Can create databases (and owns the ones it creates).",
			func(l loginRole) bool { return l.createDB }},
	}
}

func (r *reader) attributeEntitlements(ctx context.Context) error {
	for _, a := range attributes() {
		se := &steward.SourceEntitlement{Name: "attr:" + a.name, Description: "Role attribute " + a.name + ". " + a.description,
			Privileged: a.privileged, Sensitivity: a.sensitivity}
		if err := r.emit(steward.Record{Entitlement: se, Pos: "pg_roles"}); err != nil {
			return err
		}
	}
	return nil
}

// builtinPrivileged lists the predefined roles whose members can read or
// write all data or reach the server's files and programs; PostgreSQL's
// documentation warns they come close to superuser.
const builtinPrivileged = `ARRAY['pg_read_all_data', 'pg_write_all_data', 'pg_read_server_files',
	'pg_write_server_files', 'pg_execute_server_program']`

// roleEntitlements emits "role:<name>" for every NOLOGIN role and every
// login role with members; privileged when the role, or a role it is
// (transitively) a member of, is privileged by itself.
func (r *reader) roleEntitlements(ctx context.Context) error {
	rows, err := r.main.Query(ctx, `WITH RECURSIVE up(member, role) AS (
			SELECT m.member, m.roleid FROM pg_auth_members m
			UNION
			SELECT u.member, m.roleid FROM up u JOIN pg_auth_members m ON m.member = u.role
		), strong AS (
			SELECT s.oid FROM pg_roles s
			WHERE s.rolsuper OR s.rolcreaterole OR s.rolbypassrls OR s.rolreplication
				OR s.rolname = ANY(`+builtinPrivileged+`)
				OR EXISTS (SELECT 1 FROM pg_database d WHERE d.datdba = s.oid AND NOT d.datistemplate)
		)
		SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolbypassrls, r.rolreplication, r.rolcreatedb,
			EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid AND m.roleid = $1) AS disabled,
			EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid) AS has_members,
			r.oid IN (SELECT oid FROM strong) AS strong,
			ARRAY(SELECT DISTINCT p.rolname COLLATE "C" FROM up JOIN pg_roles p ON p.oid = up.role
				WHERE up.member = r.oid AND up.role IN (SELECT oid FROM strong) ORDER BY 1) AS via,
			ARRAY(SELECT DISTINCT p.rolname COLLATE "C" FROM pg_auth_members m JOIN pg_roles p ON p.oid = m.roleid
				WHERE m.member = r.oid AND m.roleid <> $1 ORDER BY 1) AS parents,
			ARRAY(SELECT d.datname COLLATE "C" FROM pg_database d WHERE d.datdba = r.oid AND NOT d.datistemplate ORDER BY 1) AS owns,
			coalesce(shobj_description(r.oid, 'pg_authid'), '')
		FROM pg_roles r
		WHERE r.rolname <> 'pg_database_owner' AND r.oid <> $1
		ORDER BY r.rolname COLLATE "C"`, r.markerOID)
	if err != nil {
		return classify(err, "listing roles")
	}
	defer rows.Close()
	r.isRoleEnt = map[string]bool{}
	for rows.Next() {
		var ri roleInfo
		if err := rows.Scan(&ri.name, &ri.login, &ri.super, &ri.createRole, &ri.bypassRLS, &ri.replication, &ri.createDB,
			&ri.disabled, &ri.hasMembers, &ri.strong, &ri.via, &ri.parents, &ri.owns, &ri.comment); err != nil {
			return classify(err, "reading a role")
		}
		identity := ri.login || ri.disabled
		if !r.c.cfg.inScope(ri.name) || (identity && !ri.hasMembers) {
			continue
		}
		if !validName(ri.name) {
			if identity {
				continue // reported with the identities
			}
			if err := r.bad(fmt.Sprintf("pg_roles:%q", ri.name), "role name %q holds a control character or invalid UTF-8; Steward skips it.", ri.name); err != nil {
				return err
			}
			continue
		}
		se := &steward.SourceEntitlement{
			Name:        "role:" + ri.name,
			Description: r.describeRole(ri),
			Privileged:  ri.strong || len(ri.via) > 0,
		}
		if err := r.emit(steward.Record{Entitlement: se, Pos: "pg_roles:" + ri.name}); err != nil {
			return err
		}
		r.isRoleEnt[ri.name] = true
	}
	return classify(rows.Err(), "listing roles")
}

// roleInfo is a role as roleEntitlements reads it.
type roleInfo struct {
	name                                                       string
	login, super, createRole, bypassRLS, replication, createDB bool
	disabled, hasMembers, strong                               bool
	via, parents, owns                                         []string
	comment                                                    string
}

// describeRole summarises what membership of a role gives, so that a
// reviewer can judge the entitlement without opening psql.
func (r *reader) describeRole(ri roleInfo) string {
	var b strings.Builder
	switch {
	case strings.HasPrefix(ri.name, "pg_"):
		b.WriteString("Predefined PostgreSQL role.")
	case ri.login:
		b.WriteString("Login role that other roles are members of.")
	default:
		b.WriteString("NOLOGIN role.")
	}
	var attrs []string
	for _, a := range []struct {
		on   bool
		name string
	}{{ri.super, "SUPERUSER"}, {ri.createRole, "CREATEROLE"}, {ri.bypassRLS, "BYPASSRLS"}, {ri.replication, "REPLICATION"}, {ri.createDB, "CREATEDB"}} {
		if a.on {
			attrs = append(attrs, a.name)
		}
	}
	list := func(label string, items []string) {
		if len(items) > 0 {
			b.WriteString(" " + label + ": " + strings.Join(items, ", ") + ".")
		}
	}
	list("Attributes", attrs)
	list("Member of", ri.parents)
	list("Privileged through", ri.via)
	list("Owns databases", ri.owns)
	var dbp []string
	for _, p := range r.dbPrivs {
		if p.role == ri.name {
			dbp = append(dbp, p.db+" "+p.priv)
		}
	}
	list("Database privileges", dbp)
	if counts := r.tableCounts[ri.name]; len(counts) > 0 {
		for _, d := range r.dbs {
			var parts []string
			for _, priv := range tablePrivileges {
				if n := counts[d.name+"\x00"+priv]; n > 0 {
					parts = append(parts, fmt.Sprintf("%s on %d %s", priv, n, plural(n, "table")))
				}
			}
			list("Table privileges in "+d.name, parts)
		}
	}
	if ri.comment != "" {
		b.WriteString(" Comment: " + printable(ri.comment))
	}
	return truncate(b.String(), 2048)
}

// tablePrivileges are the privilege types aclexplode reports for relations,
// in the order descriptions list them.
var tablePrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// databaseEntitlements emits the ownership of every database in scope and
// each database privilege that an identity holds.
func (r *reader) databaseEntitlements(ctx context.Context) error {
	for _, d := range r.dbs {
		se := &steward.SourceEntitlement{Name: "owner:database:" + quotePart(d.name),
			Description: "Owner of database " + d.name + ": every privilege on it and on what it holds, and the right to drop it.",
			Privileged:  true}
		if err := r.emit(steward.Record{Entitlement: se, Pos: "pg_database:" + d.name}); err != nil {
			return err
		}
	}
	last := ""
	for _, p := range r.dbPrivs {
		name := databasePrivilege(p.db, p.priv)
		if !r.isIdentity[p.role] || name == last {
			continue
		}
		last = name
		se := &steward.SourceEntitlement{Name: name, Description: "Privilege " + p.priv + " on database " + p.db + ".",
			Sensitivity: steward.LevelLow}
		if p.priv == "CREATE" {
			se.Sensitivity = steward.LevelMedium // creates schemas, where objects then live
		}
		if err := r.emit(steward.Record{Entitlement: se, Pos: "pg_database:" + p.db}); err != nil {
			return err
		}
	}
	return nil
}

func databasePrivilege(db, priv string) string { return "database:" + quotePart(db) + ":" + priv }

// quotePart double-quotes a name part that would make an entitlement name
// ambiguous, as SQL quotes identifiers.
func quotePart(s string) string {
	if !strings.ContainsAny(s, `.:"`) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// membershipGrants emits each identity's direct role memberships. Inherited
// (nested) memberships are not grants: revoking them means revoking the
// direct one, which is what a review decides on.
func (r *reader) membershipGrants(ctx context.Context) error {
	rows, err := r.main.Query(ctx, `SELECT DISTINCT u.rolname COLLATE "C", g.rolname COLLATE "C"
		FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
		ORDER BY 1, 2`)
	if err != nil {
		return classify(err, "listing role memberships")
	}
	defer rows.Close()
	for rows.Next() {
		var member, role string
		if err := rows.Scan(&member, &role); err != nil {
			return classify(err, "reading a role membership")
		}
		if !r.isIdentity[member] || !r.isRoleEnt[role] {
			continue
		}
		g := &steward.SourceGrant{Identity: member, Entitlement: "role:" + role}
		if err := r.emit(steward.Record{Grant: g, Pos: "pg_auth_members:" + member + ":" + role}); err != nil {
			return err
		}
	}
	return classify(rows.Err(), "listing role memberships")
}

func (r *reader) attributeGrants(ctx context.Context) error {
	attrs := attributes()
	for _, l := range r.identities {
		for _, a := range attrs {
			if !a.held(l) {
				continue
			}
			g := &steward.SourceGrant{Identity: l.name, Entitlement: "attr:" + a.name}
			if err := r.emit(steward.Record{Grant: g, Pos: "pg_roles:" + l.name}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) databaseGrants(ctx context.Context) error {
	for _, d := range r.dbs {
		if !r.isIdentity[d.owner] {
			continue
		}
		g := &steward.SourceGrant{Identity: d.owner, Entitlement: "owner:database:" + quotePart(d.name)}
		if err := r.emit(steward.Record{Grant: g, Pos: "pg_database:" + d.name}); err != nil {
			return err
		}
	}
	for _, p := range r.dbPrivs {
		if !r.isIdentity[p.role] {
			continue
		}
		g := &steward.SourceGrant{Identity: p.role, Entitlement: databasePrivilege(p.db, p.priv)}
		if err := r.emit(steward.Record{Grant: g, Pos: "pg_database:" + p.db}); err != nil {
			return err
		}
	}
	return nil
}

// tableRecords streams the table privileges identities hold in database db:
// each entitlement just before its grants, so that nothing is buffered.
func (r *reader) tableRecords(ctx context.Context, db string) error {
	tx := r.conns[db]
	rows, err := tx.Query(ctx, `SELECT DISTINCT n.nspname COLLATE "C", c.relname COLLATE "C", a.privilege_type COLLATE "C", g.rolname COLLATE "C"
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
		JOIN pg_roles g ON g.oid = a.grantee
		WHERE `+tableFilter+`
		ORDER BY 1, 2, 3, 4`)
	if err != nil {
		return classify(err, "reading table privileges in "+db)
	}
	defer rows.Close()
	var lastEnt, lastBad string
	for rows.Next() {
		var schema, table, priv, role string
		if err := rows.Scan(&schema, &table, &priv, &role); err != nil {
			return classify(err, "reading a table privilege in "+db)
		}
		if !r.isIdentity[role] {
			continue
		}
		qualified := quotePart(db) + "." + quotePart(schema) + "." + quotePart(table)
		pos := "pg_class:" + qualified
		if !validName(schema) || !validName(table) {
			if qualified != lastBad {
				lastBad = qualified
				if err := r.bad(fmt.Sprintf("pg_class:%q", qualified), "table %q holds a control character or invalid UTF-8; Steward skips its privileges.", qualified); err != nil {
					return err
				}
			}
			continue
		}
		name := "table:" + qualified + ":" + priv
		if name != lastEnt {
			lastEnt = name
			se := &steward.SourceEntitlement{Name: name, Description: "Privilege " + priv + " on table " + qualified + ".",
				Sensitivity: steward.LevelLow}
			if slices.Contains([]string{"UPDATE", "DELETE", "TRUNCATE"}, priv) {
				se.Sensitivity = steward.LevelMedium // changes or destroys data
			}
			if err := r.emit(steward.Record{Entitlement: se, Pos: pos}); err != nil {
				return err
			}
		}
		g := &steward.SourceGrant{Identity: role, Entitlement: name}
		if err := r.emit(steward.Record{Grant: g, Pos: pos}); err != nil {
			return err
		}
	}
	return classify(rows.Err(), "reading table privileges in "+db)
}
