package ldap

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stewardhq/steward"
)

// Defaults of Config. A zero field takes its default, so that a minimal
// configuration names only the server, the account and the base DN.
const (
	DefaultFilter   = "(objectClass=inetOrgPerson)"
	DefaultPageSize = 500
	DefaultTimeout  = 30 * time.Second
	// DefaultGroupFilter selects the groups that are teams under GroupBaseDN.
	DefaultGroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
	// maxPageSize bounds the memory one page may take; servers cap pages
	// lower themselves (Active Directory at 1,000).
	maxPageSize = 100_000
)

// DefaultDepartedValues are the StatusAttribute values that mean a person
// has left, when StatusAttribute is set and DepartedValues is not.
var DefaultDepartedValues = []string{"departed", "terminated"}

// Where a person's team comes from (Config.TeamFrom).
const (
	// TeamFromNone leaves Team empty: teams are assigned in Steward.
	TeamFromNone = ""
	// TeamFromMemberOf takes the team from the groups under GroupBaseDN that
	// the person is a member of (the memberOf attribute, which OpenLDAP's
	// memberof overlay and Active Directory maintain). The team name is the
	// group's cn made into a slug.
	TeamFromMemberOf = "memberOf"
	// TeamFromOU takes the team from the nearest organizational unit in the
	// person's DN below BaseDN: uid=ana,ou=payments,ou=people,… is in team
	// "payments" when BaseDN is ou=people,….
	TeamFromOU = "ou"
)

// Config says how to read people from an LDAP directory. It is loaded from
// Steward's YAML configuration file, so every field has a snake_case key.
// The bind password is never a config value: it comes from an environment
// variable or a file (a mounted secret), so that it stays out of the file,
// of flags and of process listings.
//
// People who are no longer in the directory at all (deleted rather than
// flagged) are not reported by the source: the reconciler marks a person who
// disappears from the stream as departed. StatusAttribute covers directories
// that keep leavers' entries with a marker instead.
type Config struct {
	// URL is the server: ldap://host[:389] or ldaps://host[:636]. Required.
	URL string `yaml:"url" json:"url"`
	// BindDN is the account Steward binds as. Empty binds anonymously.
	BindDN string `yaml:"bind_dn,omitempty" json:"bind_dn,omitempty"`
	// PasswordEnv names the environment variable that holds BindDN's password.
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	// PasswordFile is a file that holds BindDN's password; one trailing
	// newline is ignored. It is read at every connection, so a rotated
	// secret is picked up without a restart.
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`

	// BaseDN is where people are searched (whole subtree). Required.
	BaseDN string `yaml:"base_dn" json:"base_dn"`
	// Filter selects people. Default: (objectClass=inetOrgPerson).
	Filter string `yaml:"filter,omitempty" json:"filter,omitempty"`
	// Attributes maps a person's fields to LDAP attributes.
	Attributes Attributes `yaml:"attributes,omitempty" json:"attributes,omitempty"`

	// TeamAttribute, when set, is the attribute whose value is the person's
	// team (made a slug: "Sales EMEA" is team sales-emea), for instance
	// departmentNumber or department. It decides whenever an entry has it;
	// TeamFrom is the fall-back for entries without it (or with several
	// values that name different teams, which are logged). A person in
	// several team groups is then placed by the directory's own record of
	// their department rather than by the groups' names. Default: empty.
	TeamAttribute string `yaml:"team_attribute,omitempty" json:"team_attribute,omitempty"`
	// TeamFrom is "memberOf", "ou" or empty (no team). With TeamAttribute it
	// is used only for entries that do not have that attribute. Default:
	// empty.
	TeamFrom string `yaml:"team_from,omitempty" json:"team_from,omitempty"`
	// GroupBaseDN is where team groups live; required with TeamFrom memberOf
	// and only used with it. Groups elsewhere (access groups, mailing lists)
	// are not teams.
	GroupBaseDN string `yaml:"group_base_dn,omitempty" json:"group_base_dn,omitempty"`
	// GroupFilter selects the groups under GroupBaseDN that are teams.
	// Default: groupOfNames or groupOfUniqueNames.
	GroupFilter string `yaml:"group_filter,omitempty" json:"group_filter,omitempty"`

	// StatusAttribute, when set, marks a person departed when one of its
	// values equals (ignoring case) one of DepartedValues, e.g. employeeType.
	StatusAttribute string `yaml:"status_attribute,omitempty" json:"status_attribute,omitempty"`
	// DepartedValues default to ["departed", "terminated"].
	DepartedValues []string `yaml:"departed_values,omitempty" json:"departed_values,omitempty"`
	// DepartedAtAttribute, when set, gives a departed person's leaving date:
	// LDAP generalized time (20250131170000Z), RFC 3339, a date (2025-01-31)
	// or a day count since 1970 (shadowExpire). Without it, the sync stamps
	// the time it first sees the person departed.
	DepartedAtAttribute string `yaml:"departed_at_attribute,omitempty" json:"departed_at_attribute,omitempty"`

	// PageSize is the number of entries per page of the paged search (RFC
	// 2696); memory grows with it, not with the directory. Default: 500.
	PageSize int `yaml:"page_size,omitempty" json:"page_size,omitempty"`
	// Timeout bounds connecting and each request. Default: 30s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`

	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `yaml:"start_tls,omitempty" json:"start_tls,omitempty"`
	// CAFile is a PEM file of the CAs that sign the server's certificate.
	// Default: the system's roots.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// ServerName is the name expected in the server's certificate. Default:
	// the host of URL.
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any server certificate. It exists for
	// test directories only: anyone on the path can then read the bind
	// password. It must be set explicitly and is logged at every connection.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`

	// Logger receives warnings about entries that are read with a field
	// left out (an unknown manager, an unreadable date). Default: discard.
	Logger *slog.Logger `yaml:"-" json:"-"`
}

// Attributes maps a person's fields to LDAP attribute names. An empty field
// takes its default.
type Attributes struct {
	// ExternalID is the person's key in Steward. Default: uid.
	ExternalID string `yaml:"external_id,omitempty" json:"external_id,omitempty"`
	// Name default: cn.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Email default: mail.
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
	// Title default: title.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// Manager holds the DN of the person's manager, which the source turns
	// into the manager's ExternalID. Default: manager.
	Manager string `yaml:"manager,omitempty" json:"manager,omitempty"`
}

// withDefaults returns c with every empty field set to its default and
// TeamFrom spelled canonically.
func (c Config) withDefaults() Config {
	if c.Filter == "" {
		c.Filter = DefaultFilter
	}
	a := &c.Attributes
	for _, f := range []struct {
		field *string
		def   string
	}{{&a.ExternalID, "uid"}, {&a.Name, "cn"}, {&a.Email, "mail"}, {&a.Title, "title"}, {&a.Manager, "manager"}} {
		if *f.field == "" {
			*f.field = f.def
		}
	}
	switch {
	case strings.EqualFold(c.TeamFrom, TeamFromMemberOf):
		c.TeamFrom = TeamFromMemberOf
	case strings.EqualFold(c.TeamFrom, TeamFromOU):
		c.TeamFrom = TeamFromOU
	}
	if c.TeamFrom == TeamFromMemberOf && c.GroupFilter == "" {
		c.GroupFilter = DefaultGroupFilter
	}
	if c.StatusAttribute != "" && len(c.DepartedValues) == 0 {
		c.DepartedValues = DefaultDepartedValues
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// attributeRE is an LDAP attribute description: a name or a numeric OID.
var attributeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)*)$`)

// Validate returns EINVALID naming the first problem with c (by its YAML
// key), after filling defaults. It does not read the password or the CA
// file: New does, so that Validate can run where the secrets are absent.
func (c Config) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return invalid("url is required: ldap://host:389 or ldaps://host:636.")
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
		return invalid("url %q must be ldap://host[:port] or ldaps://host[:port].", c.URL)
	case u.User != nil:
		return invalid("url must not hold credentials; use bind_dn with password_env or password_file.")
	}
	if err := checkDN("bind_dn", c.BindDN, false); err != nil {
		return err
	}
	switch {
	case c.PasswordEnv != "" && c.PasswordFile != "":
		return invalid("password_env and password_file are both set; set one.")
	case c.BindDN != "" && c.PasswordEnv == "" && c.PasswordFile == "":
		return invalid("bind_dn needs its password from password_env or password_file (never in the config itself).")
	case c.BindDN == "" && (c.PasswordEnv != "" || c.PasswordFile != ""):
		return invalid("a password is set but bind_dn is empty; set bind_dn, or drop the password to bind anonymously.")
	}
	if err := checkDN("base_dn", c.BaseDN, true); err != nil {
		return err
	} else if err := checkFilter("filter", c.Filter); err != nil {
		return err
	}
	a := c.Attributes
	for _, f := range []struct{ key, value string }{
		{"attributes.external_id", a.ExternalID}, {"attributes.name", a.Name}, {"attributes.email", a.Email},
		{"attributes.title", a.Title}, {"attributes.manager", a.Manager},
		{"status_attribute", c.StatusAttribute}, {"departed_at_attribute", c.DepartedAtAttribute},
		{"team_attribute", c.TeamAttribute},
	} {
		if f.value != "" && !attributeRE.MatchString(f.value) {
			return invalid("%s %q is not an LDAP attribute name.", f.key, f.value)
		}
	}
	switch c.TeamFrom {
	case TeamFromNone, TeamFromOU:
		if c.GroupBaseDN != "" || c.GroupFilter != "" {
			return invalid("group_base_dn and group_filter are used only with team_from: memberOf.")
		}
	case TeamFromMemberOf:
		if err := checkDN("group_base_dn", c.GroupBaseDN, true); err != nil {
			return err
		} else if err := checkFilter("group_filter", c.GroupFilter); err != nil {
			return err
		}
	default:
		return invalid("team_from %q must be memberOf, ou or empty.", c.TeamFrom)
	}
	if c.StatusAttribute == "" && len(c.DepartedValues) > 0 {
		return invalid("departed_values needs status_attribute, the attribute they are compared with.")
	}
	for _, v := range c.DepartedValues {
		if strings.TrimSpace(v) == "" {
			return invalid("departed_values must not hold an empty value.")
		}
	}
	if c.PageSize < 1 || c.PageSize > maxPageSize {
		return invalid("page_size %d must be between 1 and %d.", c.PageSize, maxPageSize)
	} else if c.Timeout < 0 {
		return invalid("timeout %s must not be negative.", c.Timeout)
	}
	tls := u.Scheme == "ldaps" || c.StartTLS
	switch {
	case c.StartTLS && u.Scheme == "ldaps":
		return invalid("start_tls is for ldap:// URLs; an ldaps:// connection is encrypted already.")
	case !tls && (c.CAFile != "" || c.ServerName != "" || c.InsecureSkipVerify):
		return invalid("ca_file, server_name and insecure_skip_verify need ldaps:// or start_tls: true.")
	case c.InsecureSkipVerify && c.CAFile != "":
		return invalid("insecure_skip_verify ignores ca_file; set one of them.")
	}
	return nil
}

func invalid(format string, args ...any) error {
	return steward.Errorf(steward.EINVALID, "ldap: "+format, args...)
}

func checkDN(key, dn string, required bool) error {
	if dn == "" {
		if required {
			return invalid("%s is required.", key)
		}
		return nil
	}
	if _, err := goldap.ParseDN(dn); err != nil {
		return invalid("%s %q is not a DN: %v.", key, dn, err)
	}
	return nil
}

func checkFilter(key, filter string) error {
	if _, err := goldap.CompileFilter(filter); err != nil {
		return invalid("%s %q is not an LDAP filter: %v.", key, filter, err)
	}
	return nil
}
