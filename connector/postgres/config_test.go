package postgres

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		says string // "" when valid
	}{
		{"empty is valid: pgx defaults", Config{}, ""},
		{"url without password", Config{DSN: "postgres://steward@db:5432/app?sslmode=verify-full"}, ""},
		{"keywords without password", Config{DSN: "host=db user=steward dbname=app"}, ""},
		{"fields", Config{Host: "db", Port: 5433, User: "steward", Database: "app", SSLMode: "require", PasswordEnv: "PGPW"}, ""},
		{"url with password", Config{DSN: "postgres://steward:secret@db/app"}, "holds a password"},
		{"url with password parameter", Config{DSN: "postgresql://steward@db/app?password=secret"}, "holds a password"},
		{"keywords with password", Config{DSN: "host=db password=secret user=x"}, "holds a password"},
		{"keywords with spaced password", Config{DSN: "host=db password = secret"}, "holds a password"},
		{"dsn and fields", Config{DSN: "host=db", Host: "other"}, "not both"},
		{"bad port", Config{Port: 70000}, "port"},
		{"bad sslmode", Config{SSLMode: "maybe"}, "sslmode"},
		{"env and file", Config{PasswordEnv: "A", PasswordFile: "/b"}, "not both"},
		{"short password", Config{PasswordLength: 8}, "password_length"},
		{"long password", Config{PasswordLength: 257}, "password_length"},
		{"negative validity", Config{PasswordValidDays: -1}, "password_valid_days"},
		{"bad environment", Config{Environment: "moon"}, "environment"},
		{"bad pattern", Config{IncludeRoles: []string{"svc_["}}, "glob"},
		{"empty pattern", Config{Databases: []string{""}}, "glob"},
		{"stdout sink", Config{RotationSink: "stdout"}, ""},
		{"file sink", Config{RotationSink: "file:/run/secrets"}, ""},
		{"relative file sink", Config{RotationSink: "file:secrets"}, "absolute"},
		{"unknown sink", Config{RotationSink: "vault:x"}, "not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			switch {
			case tt.says == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.says != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tt.says)):
				t.Errorf("Validate = %v, want EINVALID saying %q", err, tt.says)
			}
		})
	}
}

func TestConfigPassword(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PGPW": "from-env"}
	getenv := func(k string) string { return env[k] }
	files := map[string]string{"/pw": "from-file\n", "/empty": "\n"}
	readFile := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	tests := []struct {
		name, want, fails string
		cfg               Config
	}{
		{name: "env", cfg: Config{Host: "db", PasswordEnv: "PGPW"}, want: "from-env"},
		{name: "file without newline", cfg: Config{Host: "db", PasswordFile: "/pw"}, want: "from-file"},
		{name: "unset env", cfg: Config{Host: "db", PasswordEnv: "NOPE"}, fails: "unset or empty"},
		{name: "missing file", cfg: Config{Host: "db", PasswordFile: "/nope"}, fails: "cannot be read"},
		{name: "empty file", cfg: Config{Host: "db", PasswordFile: "/empty"}, fails: "is empty"},
		{name: "quoted fields", cfg: Config{Host: "db", User: `o'brien \x`, Database: "my db", PasswordEnv: "PGPW"}, want: "from-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc, err := tt.cfg.connConfig(getenv, readFile)
			if tt.fails != "" {
				if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tt.fails) {
					t.Errorf("got %v, want EINVALID saying %q", err, tt.fails)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cc.Password != tt.want {
				t.Errorf("password %q, want %q", cc.Password, tt.want)
			}
			if tt.cfg.User != "" && (cc.User != tt.cfg.User || cc.Database != tt.cfg.Database) {
				t.Errorf("user %q database %q, want %q %q", cc.User, cc.Database, tt.cfg.User, tt.cfg.Database)
			}
			if cc.RuntimeParams["application_name"] != "steward" {
				t.Errorf("application_name %q", cc.RuntimeParams["application_name"])
			}
		})
	}
}

func TestConfigScope(t *testing.T) {
	t.Parallel()
	cfg := Config{IncludeRoles: []string{"svc_*", "pg_*"}, ExcludeRoles: []string{"svc_legacy_*"}}
	for role, want := range map[string]bool{
		"svc_etl": true, "pg_monitor": true, "svc_legacy_x": false, "postgres": false, "app": false,
	} {
		if got := cfg.inScope(role); got != want {
			t.Errorf("inScope(%q) = %v, want %v", role, got, want)
		}
	}
	if all := (Config{}); !all.inScope("anything") {
		t.Errorf("without patterns every role is in scope")
	}
}

func TestNewPassword(t *testing.T) {
	t.Parallel()
	for _, n := range []int{16, 32, 256} {
		pw, err := newPassword(strings.NewReader(strings.Repeat("\xff\x00\x3e\x3d", 200)), n)
		if err != nil {
			t.Fatal(err)
		}
		// 0xff (and 0xf8..) are rejected; 0x00, 0x3e (62 → 'A') and 0x3d (61 → '9') are kept.
		if len(pw) != n || strings.Trim(pw, passwordAlphabet) != "" || strings.Trim(pw, "A9") != "" {
			t.Errorf("newPassword(%d) = %q", n, pw)
		}
	}
	if _, err := newPassword(bytes.NewReader(nil), 16); err == nil {
		t.Errorf("an exhausted random source gave a password")
	}
}

// The verifier has PostgreSQL's layout and nothing that needs quoting in a
// literal; TestScramVerifierMatchesPostgres checks its keys.
func TestScramVerifierFormat(t *testing.T) {
	t.Parallel()
	v, err := scramVerifier("pencil", []byte("0123456789abcdef"), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$") || strings.Count(v, ":") != 2 || strings.ContainsAny(v, `'\`) {
		t.Errorf("verifier %q", v)
	}
}

// PostgreSQL computes a verifier itself when it receives a plain password;
// recomputing it with the same salt must give the same string, which proves
// that what RotateCredential sends is what PostgreSQL would store.
func TestScramVerifierMatchesPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	role := f.role("scram")
	f.exec("SET password_encryption = 'scram-sha-256'", "CREATE ROLE "+ident(role)+" LOGIN PASSWORD 'correct horse battery'")
	var stored string
	if err := f.admin.QueryRow(context.Background(), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !scramMatches(t, stored, "correct horse battery") {
		t.Errorf("our verifier differs from PostgreSQL's %q", stored)
	}
	if scramMatches(t, stored, "correct horse battery!") {
		t.Errorf("a wrong password matches")
	}
}

func TestSinkFileName(t *testing.T) {
	t.Parallel()
	for role, want := range map[string]string{
		"etl_writer":  "etl_writer",
		"etl.writer":  "etl.writer",
		"Etl-1":       "Etl-1",
		"..":          "%2E.",
		".hidden":     "%2Ehidden",
		"a/../b":      "a%2F..%2Fb",
		"a b":         "a%20b",
		"é":           "%C3%A9",
		"x\x00y":      "x%00y",
		`back\slash`:  "back%5Cslash",
		"100%":        "100%25",
		"":            "",
		"pg_monitor.": "pg_monitor.",
	} {
		if got := sinkFileName(role); got != want {
			t.Errorf("sinkFileName(%q) = %q, want %q", role, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"orders": "orders", "odd.name": `"odd.name"`, "a:b": `"a:b"`, `say "hi"`: `"say ""hi"""`, "Mixed Case": "Mixed Case",
	} {
		if got := quotePart(in); got != want {
			t.Errorf("quotePart(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{"svc": true, "": false, "a\nb": false, "a\x7fb": false, "\xff": false, "é": true} {
		if got := validName(in); got != want {
			t.Errorf("validName(%q) = %v, want %v", in, got, want)
		}
	}
	long := strings.Repeat("é", 1500)
	if got := truncate(long, 2048); len(got) > 2048 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate gave %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := printable("a\nb\tc"); got != "a b c" {
		t.Errorf("printable = %q", got)
	}
}
