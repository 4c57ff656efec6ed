package ldap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/ldap"
	yaml "go.yaml.in/yaml/v3"
)

// validConfig is the smallest valid configuration; table cases change one
// thing in it.
func validConfig() ldap.Config {
	return ldap.Config{
		URL:         "ldaps://ldap.example.test",
		BindDN:      "cn=steward,ou=services,dc=example,dc=test",
		PasswordEnv: "LDAP_PASSWORD",
		BaseDN:      "ou=people,dc=example,dc=test",
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*ldap.Config)
		want   string // a part of the message; "" for valid
	}{
		{"minimal", func(c *ldap.Config) {}, ""},
		{"anonymous", func(c *ldap.Config) { c.BindDN, c.PasswordEnv = "", "" }, ""},
		{"password file", func(c *ldap.Config) { c.PasswordEnv, c.PasswordFile = "", "/run/secrets/ldap" }, ""},
		{"team from memberOf", func(c *ldap.Config) { c.TeamFrom, c.GroupBaseDN = "memberof", "ou=groups,dc=example,dc=test" }, ""},
		{"team from ou", func(c *ldap.Config) { c.TeamFrom = "OU" }, ""},
		{"team attribute", func(c *ldap.Config) { c.TeamAttribute = "departmentNumber" }, ""},
		{"team attribute with memberOf", func(c *ldap.Config) {
			c.TeamAttribute, c.TeamFrom, c.GroupBaseDN = "departmentNumber", "memberOf", "ou=groups,dc=example,dc=test"
		}, ""},
		{"status", func(c *ldap.Config) { c.StatusAttribute, c.DepartedValues = "employeeType", []string{"gone"} }, ""},
		{"start_tls", func(c *ldap.Config) {
			c.URL, c.StartTLS, c.CAFile = "ldap://ldap.example.test:389", true, "/etc/ca.pem"
		}, ""},
		{"numeric attribute", func(c *ldap.Config) { c.Attributes.ExternalID = "0.9.2342.19200300.100.1.1" }, ""},

		{"no url", func(c *ldap.Config) { c.URL = "" }, "url is required"},
		{"http url", func(c *ldap.Config) { c.URL = "http://ldap.example.test" }, "ldap://"},
		{"url without host", func(c *ldap.Config) { c.URL = "ldap://" }, "ldap://"},
		{"url with password", func(c *ldap.Config) { c.URL = "ldap://u:pw@ldap.example.test" }, "credentials"},
		{"bad bind_dn", func(c *ldap.Config) { c.BindDN = "steward" }, "bind_dn"},
		{"both passwords", func(c *ldap.Config) { c.PasswordFile = "/run/secrets/ldap" }, "both set"},
		{"no password", func(c *ldap.Config) { c.PasswordEnv = "" }, "password_env or password_file"},
		{"password without bind_dn", func(c *ldap.Config) { c.BindDN = "" }, "bind_dn is empty"},
		{"no base_dn", func(c *ldap.Config) { c.BaseDN = "" }, "base_dn is required"},
		{"bad base_dn", func(c *ldap.Config) { c.BaseDN = "people" }, "base_dn"},
		{"bad filter", func(c *ldap.Config) { c.Filter = "objectClass=person" }, "filter"},
		{"bad attribute", func(c *ldap.Config) { c.Attributes.Email = "e mail" }, "attributes.email"},
		{"bad team_from", func(c *ldap.Config) { c.TeamFrom = "department" }, "team_from"},
		{"bad team_attribute", func(c *ldap.Config) { c.TeamAttribute = "department number" }, "team_attribute"},
		{"memberOf without group_base_dn", func(c *ldap.Config) { c.TeamFrom = "memberOf" }, "group_base_dn is required"},
		{"bad group_filter", func(c *ldap.Config) {
			c.TeamFrom, c.GroupBaseDN, c.GroupFilter = "memberOf", "ou=groups,dc=example,dc=test", "(cn="
		}, "group_filter"},
		{"group_base_dn without memberOf", func(c *ldap.Config) { c.GroupBaseDN = "ou=groups,dc=example,dc=test" }, "only with team_from"},
		{"departed_values without status_attribute", func(c *ldap.Config) { c.DepartedValues = []string{"gone"} }, "needs status_attribute"},
		{"empty departed value", func(c *ldap.Config) { c.StatusAttribute, c.DepartedValues = "employeeType", []string{" "} }, "empty value"},
		{"negative page_size", func(c *ldap.Config) { c.PageSize = -1 }, "page_size"},
		{"huge page_size", func(c *ldap.Config) { c.PageSize = 1_000_000 }, "page_size"},
		{"negative timeout", func(c *ldap.Config) { c.Timeout = -time.Second }, "timeout"},
		{"start_tls on ldaps", func(c *ldap.Config) { c.StartTLS = true }, "start_tls"},
		{"ca_file in the clear", func(c *ldap.Config) { c.URL, c.CAFile = "ldap://ldap.example.test", "/etc/ca.pem" }, "need ldaps"},
		{"insecure in the clear", func(c *ldap.Config) { c.URL, c.InsecureSkipVerify = "ldap://ldap.example.test", true }, "need ldaps"},
		{"insecure and ca_file", func(c *ldap.Config) { c.InsecureSkipVerify, c.CAFile = true, "/etc/ca.pem" }, "ignores ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tt.want)):
				t.Errorf("Validate = %v, want EINVALID about %q", err, tt.want)
			}
		})
	}
}

// TestNewReadsSecrets: New fails early on a password or CA file it cannot
// read, rather than at the first sync.
func TestNewReadsSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*ldap.Config)
		want   string
	}{
		{"missing password file", func(c *ldap.Config) { c.PasswordEnv, c.PasswordFile = "", "/nonexistent/ldap-password" }, "password_file"},
		{"empty password file", func(c *ldap.Config) { c.PasswordEnv, c.PasswordFile = "", mustPasswordFile(t, "") }, "empty"},
		{"missing CA file", func(c *ldap.Config) {
			c.PasswordEnv, c.PasswordFile, c.CAFile = "", mustPasswordFile(t, "pw"), "/nonexistent/ca.pem"
		}, "ca_file"},
		{"CA file without PEM", func(c *ldap.Config) {
			c.PasswordEnv, c.PasswordFile = "", mustPasswordFile(t, "pw")
			c.CAFile = mustPasswordFile(t, "not a certificate")
		}, "no PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			tt.change(&cfg)
			if _, err := ldap.New(cfg); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), tt.want) {
				t.Errorf("New = %v, want EINVALID about %q", err, tt.want)
			}
		})
	}
}

// TestConfigYAML: the configuration file's keys reach the fields.
func TestConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
url: ldaps://ldap.example.test:636
bind_dn: cn=steward,ou=services,dc=example,dc=test
password_file: /run/secrets/ldap
base_dn: ou=people,dc=example,dc=test
filter: (&(objectClass=inetOrgPerson)(uid=*))
attributes:
  external_id: employeeNumber
  manager: manager
team_from: memberOf
group_base_dn: ou=teams,dc=example,dc=test
status_attribute: employeeType
departed_values: [departed, terminated, retired]
departed_at_attribute: shadowExpire
page_size: 200
timeout: 45s
ca_file: /etc/ssl/corp-ca.pem
`
	var cfg ldap.Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Attributes.ExternalID != "employeeNumber" || cfg.GroupBaseDN != "ou=teams,dc=example,dc=test" ||
		len(cfg.DepartedValues) != 3 || cfg.PageSize != 200 || cfg.Timeout != 45*time.Second ||
		cfg.CAFile != "/etc/ssl/corp-ca.pem" || cfg.PasswordFile != "/run/secrets/ldap" {
		t.Errorf("decoded %+v", cfg)
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Platform Team":          "platform-team",
		"payments":               "payments",
		"Sales EMEA":             "sales-emea",
		"  R&D / Berlin  ":       "r-d-berlin",
		"Équipe Paie":            "equipe-paie",
		"Straße":                 "strase",
		"team_ops.eu":            "team_ops.eu",
		"--Ops--":                "ops",
		"._x":                    "x",
		"営業":                     "",
		"":                       "",
		strings.Repeat("a", 200): strings.Repeat("a", 128),
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if got := ldap.Slug(in); got != want {
				t.Errorf("Slug(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// FuzzSlug: whatever a directory holds, a slug is valid or empty.
func FuzzSlug(f *testing.F) {
	for _, s := range []string{"Platform Team", "Équipe", "a-", "-a", strings.Repeat("ab-", 60)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ldap.Slug(s)
		if got == "" {
			return
		}
		p := steward.SourcePerson{ExternalID: "x", Name: "x", Team: got}
		if err := p.Normalize(); err != nil {
			t.Errorf("Slug(%q) = %q, which Steward rejects: %v", s, got, err)
		}
	})
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	day := time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20250131000000Z", day, true},
		{"20250131170000Z", day.Add(17 * time.Hour), true},
		{"20250131170000.5Z", day.Add(17*time.Hour + 500*time.Millisecond), true},
		{"20250131180000+0100", day.Add(17 * time.Hour), true},
		{"202501311700Z", day.Add(17 * time.Hour), true},
		{"2025013117Z", day.Add(17 * time.Hour), true},
		{"2025-01-31T17:00:00Z", day.Add(17 * time.Hour), true},
		{"2025-01-31", day, true},
		{"20119", day, true}, // shadowExpire: days since 1970
		{" 20119 ", day, true},
		{"yesterday", time.Time{}, false},
		{"-1", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ldap.ParseTime(tt.in)
			if tt.ok && (err != nil || !got.Equal(tt.want)) {
				t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if !tt.ok && steward.ErrorCode(err) != steward.EINVALID {
				t.Errorf("ParseTime(%q) = %v, %v; want EINVALID", tt.in, got, err)
			}
		})
	}
}

// FuzzParseTime: no directory value makes ParseTime panic, and what it
// accepts is in UTC.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"20250131170000Z", "2025-01-31", "20119", "20250131170000.5+0100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := ldap.ParseTime(s); err == nil && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, not UTC", s, got)
		}
	})
}
