package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

func TestTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.exec(
		"CREATE ROLE "+ident(f.role("svc"))+" LOGIN",
		"CREATE ROLE "+ident(f.role("tmp"))+" LOGIN",
		"CREATE ROLE "+ident(f.role("group"))+" NOLOGIN",
	)
	c := f.connector(f.config(), Options{})
	connectortest.CheckTarget(t, connectortest.TargetFixture{
		Source:          c,
		Target:          c,
		Identity:        f.role("svc"),
		Entitlement:     "role:" + f.role("group"),
		Disposable:      f.role("tmp"),
		MissingIdentity: f.role("missing"),
	})
}

// Grant and Revoke change only role membership, of roles Steward manages;
// every refusal says why with the code a caller can act on.
func TestGrantRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.exec(
		"CREATE ROLE "+ident(f.role("svc"))+" LOGIN",
		"CREATE ROLE "+ident(f.role("group"))+" NOLOGIN",
		"CREATE ROLE "+ident(f.role("inner"))+" NOLOGIN IN ROLE "+ident(f.role("group")),
		"CREATE ROLE "+ident(f.prefix+"x_hidden")+" NOLOGIN",
	)
	cfg := f.config()
	cfg.ExcludeRoles = []string{f.prefix + "x_*"}
	c := f.connector(cfg, Options{})
	ctx := context.Background()
	tests := []struct {
		name, identity, entitlement, code, says string
	}{
		{"table privilege", f.role("svc"), "table:" + f.db + ".app.t:SELECT", steward.ENOTIMPL, "only role membership"},
		{"attribute", f.role("svc"), "attr:SUPERUSER", steward.ENOTIMPL, "only role membership"},
		{"database privilege", f.role("svc"), "database:" + f.db + ":CONNECT", steward.ENOTIMPL, ""},
		{"ownership", f.role("svc"), "owner:database:" + f.db, steward.ENOTIMPL, ""},
		{"not an entitlement", f.role("svc"), "something", steward.ENOTFOUND, `"role:<name>"`},
		{"missing role", f.role("svc"), "role:" + f.role("nope"), steward.ENOTFOUND, "no role"},
		{"NOLOGIN role as identity", f.role("group"), "role:" + f.role("inner"), steward.ENOTFOUND, "it is an entitlement"},
		{"excluded role", f.role("svc"), "role:" + f.prefix + "x_hidden", steward.ENOTFOUND, "outside include_roles"},
		{"out of scope role", f.role("svc"), "role:pg_monitor", steward.ENOTFOUND, "outside include_roles"},
		{"disabled marker", f.role("svc"), "role:" + f.role("disabled"), steward.ENOTFOUND, ""},
		{"membership loop", f.role("svc"), "role:" + f.role("svc"), steward.ECONFLICT, ""},
	}
	f.exec("CREATE ROLE " + ident(f.role("disabled")) + " NOLOGIN")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Grant(ctx, tt.identity, tt.entitlement)
			if steward.ErrorCode(err) != tt.code || !strings.Contains(steward.ErrorMessage(err), tt.says) {
				t.Errorf("Grant = %v, want %s saying %q", err, tt.code, tt.says)
			}
		})
	}
}

// Revoke removes a membership whoever granted it.
func TestRevokeOtherGrantor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.exec(
		"CREATE ROLE "+ident(f.role("svc"))+" LOGIN",
		"CREATE ROLE "+ident(f.role("group"))+" NOLOGIN",
		"CREATE ROLE "+ident(f.role("ops"))+" LOGIN CREATEROLE",
		"GRANT "+ident(f.role("group"))+" TO "+ident(f.role("ops"))+" WITH ADMIN OPTION",
		"SET ROLE "+ident(f.role("ops")),
		"GRANT "+ident(f.role("group"))+" TO "+ident(f.role("svc")),
		"RESET ROLE",
	)
	c := f.connector(f.config(), Options{})
	if err := c.Revoke(context.Background(), f.role("svc"), "role:"+f.role("group")); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if read(t, c).grants[f.role("svc")+" role:"+f.role("group")] {
		t.Errorf("the membership granted by another role survived Revoke")
	}
}

// A membership that stands is never revoked by ENOTFOUND (which the
// expiry engine takes as nothing left to revoke): one of a role or an
// identity Steward does not manage is refused, and stays.
func TestRevokeUnmanagedMembership(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.exec(
		"CREATE ROLE "+ident(f.role("svc"))+" LOGIN",
		"CREATE ROLE "+ident(f.role("nologin"))+" NOLOGIN",
		"CREATE ROLE "+ident(f.prefix+"x_hidden")+" NOLOGIN",
		"CREATE ROLE "+ident(f.prefix+"x_other")+" NOLOGIN",
		"CREATE ROLE "+ident(f.role("group"))+" NOLOGIN",
		"GRANT "+ident(f.prefix+"x_hidden")+" TO "+ident(f.role("svc")),
		"GRANT "+ident(f.role("group"))+" TO "+ident(f.role("nologin")),
	)
	cfg := f.config()
	cfg.ExcludeRoles = []string{f.prefix + "x_*"}
	c := f.connector(cfg, Options{})
	ctx := context.Background()
	for _, tt := range []struct{ name, identity, entitlement, code, says string }{
		{"excluded role held", f.role("svc"), "role:" + f.prefix + "x_hidden", steward.EFORBIDDEN, "outside include_roles"},
		{"identity that cannot log in", f.role("nologin"), "role:" + f.role("group"), steward.EFORBIDDEN, "cannot log in"},
		{"excluded role not held", f.role("svc"), "role:" + f.prefix + "x_other", steward.ENOTFOUND, "outside include_roles"},
		{"missing identity", f.role("missing"), "role:" + f.role("group"), steward.ENOTFOUND, "no role"},
		{"missing role", f.role("svc"), "role:" + f.role("nope"), steward.ENOTFOUND, "no role"},
		{"not an entitlement", f.role("svc"), "something", steward.ENOTFOUND, `"role:<name>"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Revoke(ctx, tt.identity, tt.entitlement)
			if steward.ErrorCode(err) != tt.code || !strings.Contains(steward.ErrorMessage(err), tt.says) {
				t.Errorf("Revoke = %v, want %s saying %q", err, tt.code, tt.says)
			}
		})
	}
	if !read(t, f.connector(f.config(), Options{})).grants[f.role("svc")+" role:"+f.prefix+"x_hidden"] {
		t.Error("the refused revocation removed the membership")
	}
}

func TestRotateCredentialFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	role := f.role("etl.writer") // a dot: the file name keeps it
	f.exec("CREATE ROLE " + ident(role) + " LOGIN PASSWORD 'old-password' VALID UNTIL '2001-01-01'")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.RotationSink = "file:" + dir
	cfg.PasswordValidDays = 30
	now := time.Now().UTC().Truncate(time.Second)
	var logs bytes.Buffer
	c := f.connector(cfg, Options{Clock: steward.FixedClock{T: now}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()

	var passwords []string
	for i := range 2 {
		res, err := c.RotateCredential(ctx, role)
		if err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		file := filepath.Join(dir, role)
		if res.Sink != "file:"+file || !res.RotatedAt.Equal(now) || res.ExpiresAt == nil || !res.ExpiresAt.Equal(now.AddDate(0, 0, 30)) {
			t.Errorf("result %+v, want sink file:%s, rotated at %s, expiring 30 days later", res, file, now)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatalf("the sink file: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("the sink file has mode %04o, want 0600", fi.Mode().Perm())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		pw := string(b)
		if len(pw) != DefaultPasswordLength || strings.Trim(pw, passwordAlphabet) != "" {
			t.Errorf("password %q: want %d characters of [A-Za-z0-9]", pw, DefaultPasswordLength)
		}
		f.checkPassword(role, pw)
		passwords = append(passwords, pw)
	}
	if passwords[0] == passwords[1] {
		t.Errorf("two rotations gave the same password")
	}
	if f.passwordsEnforced() && f.login(role, passwords[0]) == nil {
		t.Errorf("the first password still works after the second rotation")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the sink directory holds %d files, want 1 (no temporary file left)", len(entries))
	}
	id := read(t, c).identities[role]
	if exp := id.Credentials[0].ExpiresAt; exp == nil || !exp.Equal(now.AddDate(0, 0, 30)) {
		t.Errorf("the source reports expiry %v, want VALID UNTIL %s", exp, now.AddDate(0, 0, 30))
	}
	for _, pw := range passwords {
		if strings.Contains(logs.String(), pw) {
			t.Errorf("the log holds a password")
		}
	}
	if !strings.Contains(logs.String(), "rotated password") {
		t.Errorf("the rotation is not logged: %s", logs.String())
	}
}

func TestRotateCredentialStdout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	role := f.role("svc")
	f.exec("CREATE ROLE " + ident(role) + " LOGIN VALID UNTIL '2001-01-01'")
	cfg := f.config()
	cfg.RotationSink = "stdout"
	cfg.PasswordLength = 20
	var out bytes.Buffer
	c := f.connector(cfg, Options{Stdout: &out})
	res, err := c.RotateCredential(context.Background(), role)
	if err != nil {
		t.Fatalf("RotateCredential: %v", err)
	}
	if res.Sink != "stdout" || res.ExpiresAt != nil {
		t.Errorf("result %+v, want sink stdout and no expiry", res)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(out.String(), "\n") {
		t.Fatalf("stdout holds %q, want exactly one line", out.String())
	}
	name, pw, ok := strings.Cut(lines[0], "\t")
	if !ok || name != role || len(pw) != 20 {
		t.Fatalf("line %q, want %q, a tab and a 20-character password", lines[0], role)
	}
	f.checkPassword(role, pw)
	if id := read(t, c).identities[role]; len(id.Credentials) != 1 || id.Credentials[0].ExpiresAt != nil {
		t.Errorf("the old expiry carried over to the new password: %+v", id.Credentials)
	}
}

// When PostgreSQL refuses the change, no password is left in the sink: a
// CREATEROLE role may not change a superuser's password.
func TestRotateCredentialRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ops := f.loginRole("ops", "CREATEROLE")
	f.exec("CREATE ROLE " + ident(f.role("root")) + " LOGIN SUPERUSER PASSWORD 'root-password'")
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o700)
	cfg := f.configAs(ops)
	cfg.RotationSink = "file:" + dir
	var out bytes.Buffer
	c := f.connector(cfg, Options{})
	_, err := c.RotateCredential(context.Background(), f.role("root"))
	if steward.ErrorCode(err) != steward.EFORBIDDEN {
		t.Errorf("got %v, want EFORBIDDEN", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused rotation left %d files in the sink", len(entries))
	}
	cfg.RotationSink = "stdout"
	c = f.connector(cfg, Options{Stdout: &out})
	if _, err := c.RotateCredential(context.Background(), f.role("root")); steward.ErrorCode(err) != steward.EFORBIDDEN {
		t.Errorf("got %v, want EFORBIDDEN", err)
	}
	if out.Len() != 0 {
		t.Errorf("a refused rotation printed %q", out.String())
	}
}

func TestRotateCredentialSinkChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.exec("CREATE ROLE " + ident(f.role("svc")) + " LOGIN")
	ctx := context.Background()

	t.Run("no sink is ENOTIMPL", func(t *testing.T) {
		_, err := f.connector(f.config(), Options{}).RotateCredential(ctx, f.role("svc"))
		if steward.ErrorCode(err) != steward.ENOTIMPL {
			t.Errorf("got %v, want ENOTIMPL", err)
		}
	})
	t.Run("open directory is refused by New", func(t *testing.T) {
		dir := t.TempDir()
		_ = os.Chmod(dir, 0o755)
		cfg := f.config()
		cfg.RotationSink = "file:" + dir
		_, err := New(cfg, Options{})
		if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), "0700") {
			t.Errorf("got %v, want EINVALID asking for 0700", err)
		}
	})
	t.Run("directory opened later is refused by the rotation", func(t *testing.T) {
		dir := t.TempDir()
		_ = os.Chmod(dir, 0o700)
		cfg := f.config()
		cfg.RotationSink = "file:" + dir
		c := f.connector(cfg, Options{})
		_ = os.Chmod(dir, 0o750)
		if _, err := c.RotateCredential(ctx, f.role("svc")); steward.ErrorCode(err) != steward.EINVALID {
			t.Errorf("got %v, want EINVALID", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%d files written to an unsafe directory", len(entries))
		}
	})
	t.Run("missing identity writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		_ = os.Chmod(dir, 0o700)
		cfg := f.config()
		cfg.RotationSink = "file:" + dir
		if _, err := f.connector(cfg, Options{}).RotateCredential(ctx, f.role("nope")); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Errorf("got %v, want ENOTFOUND", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%d files written for a missing role", len(entries))
		}
	})
}

// A disabled role cannot log in, and the source goes on reporting it as a
// disabled identity with its grants, so that the reconciler sees a status
// change rather than a removal.
func TestDisable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc := f.loginRole("svc", "")
	f.exec(
		"CREATE ROLE "+ident(f.role("group"))+" NOLOGIN",
		"GRANT "+ident(f.role("group"))+" TO "+ident(svc),
	)
	c := f.connector(f.config(), Options{})
	if err := f.login(svc, f.password(svc)); err != nil {
		t.Fatalf("before Disable: %v", err)
	}
	if err := c.Disable(context.Background(), svc); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if err := f.login(svc, f.password(svc)); !loginRefused(err) {
		t.Errorf("after Disable, logging in gave %v, want a refusal", err)
	}
	ix := indexOf(connectortest.CheckSource(t, c, steward.EnvProd))
	if id := ix.identities[svc]; id == nil || id.Status != steward.IdentityDisabled {
		t.Fatalf("the source reports %+v, want a disabled identity", id)
	}
	if !ix.grants[svc+" role:"+f.role("group")] {
		t.Errorf("the disabled identity lost its grants in the source")
	}
	if ix.entitlements["role:"+svc] != nil || ix.entitlements["role:"+f.role("disabled")] != nil {
		t.Errorf("the disabled role or the marker role became an entitlement: %v", keys(ix.entitlements))
	}
	// A person turning LOGIN back on makes it active again.
	f.exec("ALTER ROLE " + ident(svc) + " LOGIN")
	if id := read(t, c).identities[svc]; id.Status != steward.IdentityActive {
		t.Errorf("after ALTER ROLE LOGIN the status is %s", id.Status)
	}
}

func TestDeleteAndSelfProtection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ops := f.loginRole("ops", "CREATEROLE")
	ctx := context.Background()
	c := f.connector(f.config(), Options{})

	t.Run("owner of a database is a conflict", func(t *testing.T) {
		err := c.Delete(ctx, f.role("owner"))
		if steward.ErrorCode(err) != steward.ECONFLICT || !strings.Contains(steward.ErrorMessage(err), f.db) {
			t.Errorf("got %v, want ECONFLICT naming the database", err)
		}
	})
	t.Run("own role", func(t *testing.T) {
		self := f.connector(f.configAs(ops), Options{})
		for name, call := range map[string]func() error{
			"disable": func() error { return self.Disable(ctx, ops) },
			"delete":  func() error { return self.Delete(ctx, ops) },
		} {
			if err := call(); steward.ErrorCode(err) != steward.EFORBIDDEN {
				t.Errorf("%s own role: got %v, want EFORBIDDEN", name, err)
			}
		}
	})
	t.Run("NOLOGIN role is not an identity", func(t *testing.T) {
		f.exec("CREATE ROLE " + ident(f.role("group")) + " NOLOGIN")
		if err := c.Delete(ctx, f.role("group")); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Errorf("got %v, want ENOTFOUND", err)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		f.exec("CREATE ROLE " + ident(f.role("gone")) + " LOGIN")
		if err := c.Delete(ctx, f.role("gone")); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		var n int
		_ = f.admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", f.role("gone")).Scan(&n)
		if n != 0 {
			t.Errorf("the role still exists")
		}
	})
}

// TestCreateIdentity: a new login role with no password, which the source
// then reports as an active identity; a name taken, outside the scope or
// PostgreSQL's own is refused, and nothing is made.
func TestCreateIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.config()
	cfg.ExcludeRoles = []string{f.prefix + "x_*"}
	c := f.connector(cfg, Options{})
	ctx := context.Background()
	name := f.role("made")
	if err := c.CreateIdentity(ctx, name); err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
	var login, noPassword bool
	if err := f.admin.QueryRow(ctx, `SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = $1`, name).Scan(&login, &noPassword); err != nil {
		t.Fatal(err)
	}
	if !login || !noPassword {
		t.Errorf("the new role: login %v, no password %v; want a login role with no password", login, noPassword)
	}
	if id := read(t, c).identities[name]; id == nil || id.Status != steward.IdentityActive {
		t.Errorf("the source reports %+v, want an active identity", id)
	}
	for _, tc := range []struct{ name, code, says string }{
		{name, steward.ECONFLICT, "already exists"},
		{f.prefix + "x_hidden", steward.EINVALID, "include_roles/exclude_roles"},
		{"elsewhere", steward.EINVALID, "include_roles/exclude_roles"},
		{"pg_" + f.role("sys"), steward.EINVALID, "PostgreSQL's own"},
		{"", steward.EINVALID, "1 to 63 bytes"},
	} {
		err := c.CreateIdentity(ctx, tc.name)
		if steward.ErrorCode(err) != tc.code || !strings.Contains(steward.ErrorMessage(err), tc.says) {
			t.Errorf("CreateIdentity(%q) = %v, want %s saying %q", tc.name, err, tc.code, tc.says)
		}
	}
	var n int
	if err := f.admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname IN ($1, 'elsewhere')`, f.prefix+"x_hidden").Scan(&n); err != nil || n != 0 {
		t.Errorf("a refused name was made: %d, %v", n, err)
	}
}
