package postgres

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
)

// Config is how Steward reaches one PostgreSQL cluster and what it reads
// there. It comes from Steward's configuration file; the password never sits
// in it, only the name of the environment variable or file that holds it, so
// that it cannot leak through a flag, a process listing or a committed file.
type Config struct {
	// DSN is a libpq connection string or URL without a password
	// ("postgres://steward@db.internal:5432/app?sslmode=verify-full").
	// Either DSN or the fields Host … SSLMode are set, not both.
	DSN string `yaml:"dsn,omitempty" json:"dsn,omitempty"`
	// Host is the server's host name or Unix socket directory. Default: pgx's
	// (PGHOST, then a local socket or localhost).
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// Port is the server's port. Default: 5432.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// User is the role Steward connects as. Reading needs no privilege;
	// password presence needs SUPERUSER (pg_authid); acting as a target needs
	// CREATEROLE. Default: pgx's (PGUSER, then the OS user).
	User string `yaml:"user,omitempty" json:"user,omitempty"`
	// Database is the database Steward connects to first. Default: the user name.
	Database string `yaml:"database,omitempty" json:"database,omitempty"`
	// SSLMode is libpq's sslmode (disable, allow, prefer, require, verify-ca,
	// verify-full). Default: prefer.
	SSLMode string `yaml:"sslmode,omitempty" json:"sslmode,omitempty"`
	// PasswordEnv names the environment variable that holds the password.
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	// PasswordFile is a file whose content (without a trailing newline) is
	// the password. At most one of PasswordEnv and PasswordFile is set;
	// with neither, pgx's own PGPASSWORD and ~/.pgpass still apply.
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`

	// Databases are the databases whose ownership, database privileges and
	// table privileges are read, as glob patterns ("*" and "?") over
	// database names; templates and databases that refuse connections are
	// skipped. Default: the connected database.
	Databases []string `yaml:"databases,omitempty" json:"databases,omitempty"`
	// IncludeRoles are glob patterns of the roles Steward sees and manages;
	// a role outside them is neither an identity nor an entitlement, and the
	// target refuses to touch it. Default: every role. Built-in roles
	// (pg_read_all_data, pg_write_server_files, …) are roles like any other:
	// list "pg_*" here if IncludeRoles is set and their memberships matter.
	IncludeRoles []string `yaml:"include_roles,omitempty" json:"include_roles,omitempty"`
	// ExcludeRoles are glob patterns of roles to leave out even when
	// IncludeRoles matches them. Default: none, so that the most privileged
	// accounts (the bootstrap superuser, Steward's own role) stay visible.
	ExcludeRoles []string `yaml:"exclude_roles,omitempty" json:"exclude_roles,omitempty"`
	// Environment is the environment of every identity of this cluster.
	// Default: the sync's default environment.
	Environment steward.Environment `yaml:"environment,omitempty" json:"environment,omitempty"`

	// RotationSink is where a rotated password goes: "stdout" (printed once)
	// or "file:<dir>" (one file per role, mode 0600, in a directory of mode
	// 0700 or stricter owned by Steward's user). Default: none, and
	// RotateCredential answers ENOTIMPL.
	RotationSink string `yaml:"rotation_sink,omitempty" json:"rotation_sink,omitempty"`
	// PasswordLength is the length of a generated password, 16 to 256
	// characters of [A-Za-z0-9]. Default: 32 (about 190 bits).
	PasswordLength int `yaml:"password_length,omitempty" json:"password_length,omitempty"`
	// PasswordValidDays sets VALID UNTIL on a rotated password to that many
	// days after the rotation. Default: 0, no expiry ('infinity'); an expiry
	// set for the old password never carries over to the new one.
	PasswordValidDays int `yaml:"password_valid_days,omitempty" json:"password_valid_days,omitempty"`
	// DisabledRole is the NOLOGIN role that Disable makes a disabled role a
	// member of, so that the source keeps reporting it as a disabled identity
	// (with its grants) instead of mistaking it for an entitlement. Created
	// on first use. Default: "steward_disabled".
	DisabledRole string `yaml:"disabled_role,omitempty" json:"disabled_role,omitempty"`
}

// Defaults of Config.
const (
	DefaultPasswordLength = 32
	DefaultDisabledRole   = "steward_disabled"
)

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// keywordPasswordRE finds a password in a keyword/value connection string.
var keywordPasswordRE = regexp.MustCompile(`(^|\s)password\s*=`)

// Validate checks cfg without touching the network or the file system and
// returns EINVALID naming the first problem.
func (cfg *Config) Validate() error {
	fields := cfg.Host != "" || cfg.Port != 0 || cfg.User != "" || cfg.Database != "" || cfg.SSLMode != ""
	switch {
	case cfg.DSN != "" && fields:
		return steward.Errorf(steward.EINVALID, "postgres: set either dsn or host/port/user/database/sslmode, not both.")
	case cfg.DSN != "" && dsnHasPassword(cfg.DSN):
		return steward.Errorf(steward.EINVALID, "postgres: the dsn holds a password; remove it and set password_env or password_file instead.")
	case cfg.Port < 0 || cfg.Port > 65535:
		return steward.Errorf(steward.EINVALID, "postgres: port %d is out of range.", cfg.Port)
	case cfg.SSLMode != "" && !contains(sslModes, cfg.SSLMode):
		return steward.Errorf(steward.EINVALID, "postgres: sslmode %q is not known; one of: %s.", cfg.SSLMode, strings.Join(sslModes, ", "))
	case cfg.PasswordEnv != "" && cfg.PasswordFile != "":
		return steward.Errorf(steward.EINVALID, "postgres: set password_env or password_file, not both.")
	case cfg.PasswordLength != 0 && (cfg.PasswordLength < 16 || cfg.PasswordLength > 256):
		return steward.Errorf(steward.EINVALID, "postgres: password_length %d must be between 16 and 256.", cfg.PasswordLength)
	case cfg.PasswordValidDays < 0:
		return steward.Errorf(steward.EINVALID, "postgres: password_valid_days must not be negative.")
	}
	if cfg.Environment != "" {
		if err := cfg.Environment.Validate(); err != nil {
			return err
		}
	}
	for _, list := range [][]string{cfg.Databases, cfg.IncludeRoles, cfg.ExcludeRoles} {
		for _, p := range list {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				return steward.Errorf(steward.EINVALID, "postgres: %q is not a glob pattern.", p)
			}
		}
	}
	if _, err := cfg.sink(); err != nil {
		return err
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// dsnHasPassword reports whether a URL or keyword/value connection string
// carries a password.
func dsnHasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return strings.Contains(dsn, "password") // unparsable: be suspicious; pgx will report the syntax
		}
		_, set := u.User.Password()
		return set || u.Query().Has("password")
	}
	return keywordPasswordRE.MatchString(dsn)
}

// rotationSink is a parsed RotationSink: Dir is empty for stdout.
type rotationSink struct {
	Stdout bool
	Dir    string
}

func (cfg *Config) sink() (rotationSink, error) {
	switch s := cfg.RotationSink; {
	case s == "":
		return rotationSink{}, nil
	case s == "stdout":
		return rotationSink{Stdout: true}, nil
	case strings.HasPrefix(s, "file:") && len(s) > len("file:"):
		dir := strings.TrimPrefix(s, "file:")
		if !filepath.IsAbs(dir) {
			return rotationSink{}, steward.Errorf(steward.EINVALID, "postgres: rotation_sink directory %q must be an absolute path.", dir)
		}
		return rotationSink{Dir: filepath.Clean(dir)}, nil
	default:
		return rotationSink{}, steward.Errorf(steward.EINVALID, `postgres: rotation_sink %q is not known; use "stdout" or "file:/absolute/dir".`, s)
	}
}

// passwordLength returns PasswordLength or its default.
func (cfg *Config) passwordLength() int {
	if cfg.PasswordLength == 0 {
		return DefaultPasswordLength
	}
	return cfg.PasswordLength
}

// disabledRole returns DisabledRole or its default.
func (cfg *Config) disabledRole() string {
	if cfg.DisabledRole == "" {
		return DefaultDisabledRole
	}
	return cfg.DisabledRole
}

// inScope reports whether Steward sees and manages role.
func (cfg *Config) inScope(role string) bool {
	if len(cfg.IncludeRoles) > 0 && !matchAny(cfg.IncludeRoles, role) {
		return false
	}
	return !matchAny(cfg.ExcludeRoles, role)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// connConfig builds pgx's configuration from cfg, reading the password from
// its environment variable or file through getenv and readFile.
func (cfg *Config) connConfig(getenv func(string) string, readFile func(string) ([]byte, error)) (*pgx.ConnConfig, error) {
	dsn := cfg.DSN
	if dsn == "" {
		var kv []string
		add := func(k, v string) {
			if v != "" {
				kv = append(kv, k+"="+quoteKeyword(v))
			}
		}
		add("host", cfg.Host)
		if cfg.Port != 0 {
			add("port", strconv.Itoa(cfg.Port))
		}
		add("user", cfg.User)
		add("dbname", cfg.Database)
		add("sslmode", cfg.SSLMode)
		dsn = strings.Join(kv, " ")
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the string; it holds no password (Validate refused one).
		return nil, fmt.Errorf("%w: %w", steward.Errorf(steward.EINVALID, "postgres: the connection settings do not parse: %v", err), err)
	}
	switch {
	case cfg.PasswordEnv != "":
		pw := getenv(cfg.PasswordEnv)
		if pw == "" {
			return nil, steward.Errorf(steward.EINVALID, "postgres: password_env names %s, which is unset or empty.", cfg.PasswordEnv)
		}
		cc.Password = pw
	case cfg.PasswordFile != "":
		b, err := readFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", steward.Errorf(steward.EINVALID, "postgres: password_file %s cannot be read.", cfg.PasswordFile), err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return nil, steward.Errorf(steward.EINVALID, "postgres: password_file %s is empty.", cfg.PasswordFile)
		}
		cc.Password = pw
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 15 * time.Second
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "steward"
	}
	return cc, nil
}

// quoteKeyword quotes a value for a keyword/value connection string.
func quoteKeyword(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
