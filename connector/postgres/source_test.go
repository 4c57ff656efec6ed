package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

// sourceFixture sets up the roles, database and tables TestSource reads:
//
//	etl     LOGIN, password valid until 2031, connection limit 5, a comment;
//	        member of readers and pg_write_server_files; CREATE on the
//	        database; SELECT, UPDATE on app.orders; SELECT on app."odd.name"
//	admin   LOGIN SUPERUSER CREATEROLE BYPASSRLS REPLICATION CREATEDB, no password
//	owner   LOGIN, owns the database, member of nested
//	readers NOLOGIN, SELECT on both tables
//	admins  NOLOGIN CREATEROLE;  nested NOLOGIN, member of admins
//	app     NOLOGIN, nothing
func sourceFixture(t *testing.T) *fixture {
	f := newFixture(t)
	r := func(name string) string { return ident(f.role(name)) }
	f.exec(
		"CREATE ROLE "+r("etl")+" LOGIN PASSWORD 'etl-pw' VALID UNTIL '2031-02-03 04:05:06+00' CONNECTION LIMIT 5",
		"COMMENT ON ROLE "+r("etl")+" IS E'owner: alice@example.com\\nteam: data'",
		"CREATE ROLE "+r("admin")+" LOGIN SUPERUSER CREATEROLE BYPASSRLS REPLICATION CREATEDB",
		"CREATE ROLE "+r("readers")+" NOLOGIN",
		"CREATE ROLE "+r("admins")+" NOLOGIN CREATEROLE",
		"CREATE ROLE "+r("nested")+" NOLOGIN IN ROLE "+r("admins"),
		"CREATE ROLE "+r("app")+" NOLOGIN",
		"GRANT "+r("readers")+", pg_write_server_files TO "+r("etl"),
		"GRANT "+r("nested")+" TO "+r("owner"),
		"GRANT CREATE ON DATABASE "+ident(f.db)+" TO "+r("etl"),
	)
	f.execDB(
		"CREATE SCHEMA app",
		"CREATE TABLE app.orders (id int)",
		`CREATE TABLE app."odd.name" (id int)`,
		"GRANT SELECT, UPDATE ON app.orders TO "+r("etl"),
		`GRANT SELECT ON app."odd.name" TO `+r("etl"),
		`GRANT SELECT ON app.orders, app."odd.name" TO `+r("readers"),
	)
	return f
}

// TestSourceCriticality: a superuser is critical, as the AWS root user is;
// CREATEROLE, BYPASSRLS and REPLICATION make a role high; other roles keep
// the sync's default. A disabled superuser is still critical: enabling it
// again takes one ALTER ROLE.
func TestSourceCriticality(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := func(name string) string { return ident(f.role(name)) }
	f.exec(
		"CREATE ROLE "+r("root")+" LOGIN SUPERUSER",
		"CREATE ROLE "+r("maker")+" LOGIN CREATEROLE",
		"CREATE ROLE "+r("guard")+" LOGIN BYPASSRLS",
		"CREATE ROLE "+r("repl")+" LOGIN REPLICATION",
		"CREATE ROLE "+r("plain")+" LOGIN CREATEDB",
		"CREATE ROLE "+r("oldroot")+" NOLOGIN SUPERUSER",
		"CREATE ROLE "+r("disabled")+" NOLOGIN",
		"GRANT "+r("disabled")+" TO "+r("oldroot"),
	)
	ix := read(t, f.connector(f.config(), Options{}))
	for name, want := range map[string]steward.Level{
		"root": steward.LevelCritical, "oldroot": steward.LevelCritical,
		"maker": steward.LevelHigh, "guard": steward.LevelHigh, "repl": steward.LevelHigh,
		"plain": steward.LevelMedium, "owner": steward.LevelMedium,
	} {
		i := ix.identities[f.role(name)]
		if i == nil {
			t.Errorf("%s was not read", name)
			continue
		}
		if err := i.Normalize(steward.EnvProd); err != nil {
			t.Fatal(err)
		}
		if i.Criticality != want {
			t.Errorf("%s: criticality %s, want %s", name, i.Criticality, want)
		}
	}
}

// TestSourcePasswordVersion: a password's version (a hash of its SCRAM
// salt) stays the same from read to read and changes when the password is
// set again, even to the same value, which is how a sync notices a
// rotation PostgreSQL gives no time for. The verifier itself is never
// read. An MD5 password, and a connector that may not read pg_authid, give
// no version.
func TestSourcePasswordVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	etl := f.loginRole("etl", "")
	ops := f.loginRole("ops", "CREATEROLE")
	f.exec("SET password_encryption = 'md5'", "CREATE ROLE "+ident(f.role("old"))+" LOGIN PASSWORD 'old-pw'", "RESET password_encryption")
	version := func(cfg Config, role string) string {
		t.Helper()
		i := read(t, f.connector(cfg, Options{})).identities[role]
		if i == nil || len(i.Credentials) != 1 {
			t.Fatalf("%s: %+v", role, i)
		}
		return i.Credentials[0].Version
	}
	v1 := version(f.config(), etl)
	if len(v1) != 64 || strings.Trim(v1, "0123456789abcdef") != "" {
		t.Fatalf("version %q, want 64 hex digits", v1)
	}
	if v := version(f.config(), etl); v != v1 {
		t.Errorf("read again: version %q, want %q", v, v1)
	}
	f.exec("ALTER ROLE " + ident(etl) + " PASSWORD " + literal(f.password(etl)))
	if v := version(f.config(), etl); v == v1 || v == "" {
		t.Errorf("after the password was set again: version %q, was %q", v, v1)
	}
	if v := version(f.config(), f.role("old")); v != "" {
		t.Errorf("an MD5 password: version %q, want none", v)
	}
	if v := version(f.configAs(ops), etl); v != "" {
		t.Errorf("read without pg_authid: version %q, want none", v)
	}
}

func TestSource(t *testing.T) {
	t.Parallel()
	f := sourceFixture(t)
	cfg := f.config()
	cfg.IncludeRoles = append(cfg.IncludeRoles, "pg_*")
	src := f.connector(cfg, Options{})
	ix := indexOf(connectortest.CheckSource(t, src, steward.EnvProd))
	p := f.prefix

	t.Run("identities", func(t *testing.T) {
		var names []string
		for _, r := range ix.records {
			if r.Identity != nil {
				names = append(names, r.Identity.ExternalID)
			}
		}
		if want := []string{p + "admin", p + "etl", p + "owner"}; !slices.Equal(names, want) {
			t.Fatalf("identities %v, want %v (login roles only, by name)", names, want)
		}
		etl := ix.identities[p+"etl"]
		if etl.Kind != steward.KindServiceAccount || etl.Status != steward.IdentityActive || etl.Environment != steward.EnvStaging {
			t.Errorf("etl = %+v", etl)
		}
		wantLabels := map[string]string{"superuser": "false", "createrole": "false", "bypassrls": "false", "replication": "false",
			"createdb": "false", "connection_limit": "5", "password": "set", "comment": "owner: alice@example.com team: data"}
		for k, v := range wantLabels {
			if etl.Labels[k] != v {
				t.Errorf("etl label %s = %q, want %q", k, etl.Labels[k], v)
			}
		}
		wantExp := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
		if len(etl.Credentials) != 1 || etl.Credentials[0].ExternalID != "password" || etl.Credentials[0].Kind != steward.CredPassword ||
			etl.Credentials[0].ExpiresAt == nil || !etl.Credentials[0].ExpiresAt.Equal(wantExp) {
			t.Errorf("etl credentials %+v, want one password expiring %s (rolvaliduntil)", etl.Credentials, wantExp)
		}
		admin := ix.identities[p+"admin"]
		if admin.Labels["superuser"] != "true" || admin.Labels["password"] != "none" || admin.Labels["connection_limit"] != "unlimited" {
			t.Errorf("admin labels %v", admin.Labels)
		}
		if len(admin.Credentials) != 0 {
			t.Errorf("admin has no password but credentials %+v", admin.Credentials)
		}
		if c := ix.identities[p+"owner"].Credentials; len(c) != 1 || c[0].ExpiresAt != nil {
			t.Errorf("owner credentials %+v, want one password without expiry", c)
		}
	})

	t.Run("entitlements", func(t *testing.T) {
		tests := []struct {
			name        string
			privileged  bool
			sensitivity steward.Level
			describes   string
		}{
			{"attr:SUPERUSER", true, steward.LevelCritical, "Bypasses every permission check"},
			{"attr:CREATEROLE", true, steward.LevelHigh, ""},
			{"attr:BYPASSRLS", true, steward.LevelHigh, ""},
			{"attr:REPLICATION", true, steward.LevelHigh, ""},
			{"attr:CREATEDB", false, steward.LevelMedium, ""},
			{"role:" + p + "readers", false, "", "Table privileges in " + f.db + ": SELECT on 2 tables."},
			{"role:" + p + "admins", true, "", "Attributes: CREATEROLE."},
			{"role:" + p + "nested", true, "", "Privileged through: " + p + "admins."},
			{"role:" + p + "app", false, "", "NOLOGIN role."},
			{"role:pg_write_server_files", true, "", "Predefined PostgreSQL role."},
			{"role:pg_read_all_data", true, "", ""},
			{"role:pg_monitor", false, "", ""},
			{"owner:database:" + f.db, true, "", "Owner of database"},
			{"database:" + f.db + ":CONNECT", false, steward.LevelLow, ""},
			{"database:" + f.db + ":CREATE", false, steward.LevelMedium, ""},
			{"database:" + f.db + ":TEMPORARY", false, steward.LevelLow, ""},
			{"table:" + f.db + ".app.orders:SELECT", false, steward.LevelLow, ""},
			{"table:" + f.db + ".app.orders:UPDATE", false, steward.LevelMedium, ""},
			{"table:" + f.db + `.app."odd.name":SELECT`, false, steward.LevelLow, `app."odd.name"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := ix.entitlements[tt.name]
				if e == nil {
					t.Fatalf("missing; have %v", keys(ix.entitlements))
				}
				if e.Privileged != tt.privileged {
					t.Errorf("privileged = %v, want %v", e.Privileged, tt.privileged)
				}
				if tt.sensitivity != "" && e.Sensitivity != tt.sensitivity {
					t.Errorf("sensitivity = %s, want %s", e.Sensitivity, tt.sensitivity)
				}
				if !strings.Contains(e.Description, tt.describes) {
					t.Errorf("description %q does not say %q", e.Description, tt.describes)
				}
			})
		}
		for name := range ix.entitlements {
			switch {
			case name == "role:pg_database_owner":
				t.Errorf("pg_database_owner cannot be granted, yet it is listed")
			case strings.HasPrefix(name, "role:"+p+"etl"), strings.HasPrefix(name, "role:"+p+"owner"):
				t.Errorf("%s: a login role without members is not an entitlement", name)
			case strings.HasPrefix(name, "table:") && !strings.HasPrefix(name, "table:"+f.db+".app."):
				t.Errorf("%s: only tables an identity holds privileges on are listed", name)
			}
		}
	})

	t.Run("grants", func(t *testing.T) {
		var got []string
		for g := range ix.grants {
			got = append(got, g)
		}
		slices.Sort(got)
		want := []string{
			p + "admin attr:BYPASSRLS", p + "admin attr:CREATEDB", p + "admin attr:CREATEROLE",
			p + "admin attr:REPLICATION", p + "admin attr:SUPERUSER",
			p + "etl database:" + f.db + ":CREATE",
			p + "etl role:" + p + "readers",
			p + "etl role:pg_write_server_files",
			p + "etl table:" + f.db + `.app."odd.name":SELECT`,
			p + "etl table:" + f.db + ".app.orders:SELECT",
			p + "etl table:" + f.db + ".app.orders:UPDATE",
			p + "owner database:" + f.db + ":CONNECT", p + "owner database:" + f.db + ":CREATE",
			p + "owner database:" + f.db + ":TEMPORARY",
			p + "owner owner:database:" + f.db,
			p + "owner role:" + p + "nested",
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("grants:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("each record listed before a grant names it", func(t *testing.T) {
		seen := map[string]bool{}
		for _, r := range ix.records {
			switch {
			case r.Identity != nil:
				seen["i "+r.Identity.ExternalID] = true
			case r.Entitlement != nil:
				seen["e "+r.Entitlement.Name] = true
			case r.Grant != nil:
				if !seen["i "+r.Grant.Identity] || !seen["e "+r.Grant.Entitlement] {
					t.Errorf("%s: grant %s → %s comes before what it names", r.Pos, r.Grant.Identity, r.Grant.Entitlement)
				}
			}
		}
	})
}

// Without SUPERUSER, pg_authid is closed: whether a role has a password is
// unknown, so every login role gets a password credential and says so.
func TestSourceWithoutSuperuser(t *testing.T) {
	t.Parallel()
	f := sourceFixture(t)
	cfg := f.configAs(f.loginRole("auditor", ""))
	var logs bytes.Buffer
	src := f.connector(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ix := indexOf(connectortest.CheckSource(t, src, steward.EnvProd))
	for _, name := range []string{"admin", "etl", "owner", "auditor"} {
		id := ix.identities[f.role(name)]
		if id == nil {
			t.Fatalf("%s is missing", name)
		}
		if id.Labels["password"] != "unknown" || len(id.Credentials) != 1 {
			t.Errorf("%s: password label %q, credentials %+v; want unknown and one credential", name, id.Labels["password"], id.Credentials)
		}
	}
	if c := ix.identities[f.role("etl")].Credentials; c[0].ExpiresAt == nil {
		t.Errorf("rolvaliduntil is readable without superuser, yet etl's credential has no expiry")
	}
	if !strings.Contains(logs.String(), "pg_authid is not readable") {
		t.Errorf("the log does not say why password presence is unknown: %s", logs.String())
	}
	if !ix.grants[f.role("etl")+" table:"+f.db+".app.orders:UPDATE"] {
		t.Errorf("table privileges are readable by anyone, yet missing")
	}
}

// A role name Steward cannot store is reported at its position and skipped;
// the rest of the stream goes on.
func TestSourceBadRoleName(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := f.role("bad\nname")
	f.exec("CREATE ROLE "+ident(bad)+" LOGIN", "CREATE ROLE "+ident(f.role("good"))+" LOGIN")
	src := f.connector(f.config(), Options{})
	connectortest.CheckBadInput(t, src, `pg_roles:"`+f.prefix+`bad\nname"`)
	var good bool
	for r, err := range src.Read(context.Background()) {
		if err == nil && r.Identity != nil {
			good = good || r.Identity.ExternalID == f.role("good")
			if r.Identity.ExternalID == bad {
				t.Errorf("the bad role was listed")
			}
		}
	}
	if !good {
		t.Errorf("the stream stopped at the bad role")
	}
}

func TestSourceDatabases(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	t.Run("missing database ends the stream", func(t *testing.T) {
		cfg := f.config()
		cfg.Databases = []string{f.prefix + "nope"}
		var errs []error
		for _, err := range f.connector(cfg, Options{}).Read(context.Background()) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) != 1 || steward.ErrorCode(errs[0]) != steward.ENOTFOUND {
			t.Errorf("got %v, want one ENOTFOUND", errs)
		}
	})
	t.Run("pattern matching nothing is fine", func(t *testing.T) {
		cfg := f.config()
		cfg.Databases = []string{f.prefix + "nope*"}
		ix := read(t, f.connector(cfg, Options{}))
		if ix.identities[f.role("owner")] == nil {
			t.Errorf("owner missing")
		}
		for name := range ix.entitlements {
			if strings.Contains(name, ":database:") || strings.HasPrefix(name, "database:") {
				t.Errorf("%s listed, but no database is in scope", name)
			}
		}
	})
	t.Run("default is the connected database", func(t *testing.T) {
		cfg := f.config()
		cfg.DSN = f.url(f.db, "")
		cfg.Databases = nil
		ix := read(t, f.connector(cfg, Options{}))
		if !ix.grants[f.role("owner")+" owner:database:"+f.db] {
			t.Errorf("the connected database's owner is not read")
		}
	})
	t.Run("unreachable server is EUNAVAILABLE", func(t *testing.T) {
		cfg := Config{DSN: "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}
		for _, err := range f.connector(cfg, Options{}).Read(context.Background()) {
			if steward.ErrorCode(err) != steward.EUNAVAILABLE {
				t.Errorf("got %v, want EUNAVAILABLE", err)
			}
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
