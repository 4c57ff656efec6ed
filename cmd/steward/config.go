package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/ldap"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/store/sqlstore"
)

// fileConfig is Steward's configuration file (--config, STEWARD_CONFIG).
// Its top-level keys are flag names with underscores (db, addr, log_format,
// …); settings apply in the order defaults, file, environment, flags. The
// connectors list and the oidc section have no flag equivalent.
type fileConfig struct {
	Settings   map[string]string
	Connectors []connectorConfig
	OIDC       *oidcConfig
}

// connectorConfig is one connector: a real system Steward reads (and later
// changes). Secrets are never in this file: each connector names the
// environment variable or file that holds its password.
type connectorConfig struct {
	// Name identifies the connector in 'steward sync NAME' and on audit
	// events ("connector:NAME"). Required, a slug.
	Name string `yaml:"name"`
	// Type is postgres (a source of identities, entitlements and grants) or
	// ldap (a source of people). Required.
	Type string `yaml:"type"`
	// System is the name of the system that a postgres connector's
	// inventory belongs to; created on the first sync. Default: Name.
	System string `yaml:"system"`
	// Environment is given to identities whose source does not say.
	// Default: prod.
	Environment steward.Environment `yaml:"environment"`
	// Schedule is how often 'steward serve' runs this connector, e.g. 1h.
	// Default: 0, only by hand with 'steward sync'.
	Schedule time.Duration `yaml:"schedule"`
	// Postgres configures a postgres connector.
	Postgres *postgres.Config `yaml:"postgres"`
	// LDAP configures an ldap connector.
	LDAP *ldap.Config `yaml:"ldap"`
}

func (c *connectorConfig) validate() error {
	if !validSlug(c.Name) {
		return steward.Errorf(steward.EINVALID, "connector name %q must be a slug (lower-case letters, digits, '.', '_', '-').", c.Name)
	}
	if c.System == "" {
		c.System = c.Name
	}
	if c.Environment == "" {
		c.Environment = steward.EnvProd
	} else if err := c.Environment.Validate(); err != nil {
		return steward.Errorf(steward.EINVALID, "connector %s: %s", c.Name, steward.ErrorMessage(err))
	}
	if c.Schedule < 0 || (c.Schedule > 0 && c.Schedule < time.Minute) {
		return steward.Errorf(steward.EINVALID, "connector %s: schedule must be 0 (by hand) or at least 1m.", c.Name)
	}
	switch c.Type {
	case "postgres":
		if c.Postgres == nil || c.LDAP != nil {
			return steward.Errorf(steward.EINVALID, "connector %s: a postgres connector needs a postgres: section and nothing else.", c.Name)
		}
		return wrapConnector(c.Name, c.Postgres.Validate())
	case "ldap":
		if c.LDAP == nil || c.Postgres != nil {
			return steward.Errorf(steward.EINVALID, "connector %s: an ldap connector needs an ldap: section and nothing else.", c.Name)
		}
		return wrapConnector(c.Name, c.LDAP.Validate())
	}
	return steward.Errorf(steward.EINVALID, "connector %s: type %q is not known; one of: postgres, ldap.", c.Name, c.Type)
}

func wrapConnector(name string, err error) error {
	if err == nil {
		return nil
	}
	return steward.Errorf(steward.ErrorCode(err), "connector %s: %s", name, steward.ErrorMessage(err))
}

func validSlug(s string) bool {
	t := steward.Team{Name: s}
	return s != "" && t.Validate() == nil
}

// loadConfig reads and checks the configuration file at path.
func loadConfig(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the file --config names
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "cannot read the configuration file: %v", err)
	}
	return parseConfig(path, b)
}

// parseConfig parses a configuration file's bytes; name is for messages.
func parseConfig(name string, b []byte) (*fileConfig, error) {
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s: %v", name, err)
	}
	cfg := &fileConfig{Settings: map[string]string{}}
	for key, node := range raw {
		if key == "connectors" {
			if err := checkSchedules(name, &node); err != nil {
				return nil, err
			}
			dec := yaml.NewDecoder(bytes.NewReader(mustMarshal(&node)))
			dec.KnownFields(true)
			if err := dec.Decode(&cfg.Connectors); err != nil && !errors.Is(err, io.EOF) {
				return nil, steward.Errorf(steward.EINVALID, "%s: connectors: %v", name, err)
			}
			continue
		}
		if key == "oidc" {
			c, err := parseOIDC(name, &node)
			if err != nil {
				return nil, err
			}
			cfg.OIDC = c
			continue
		}
		if listSettings[key] && node.Kind == yaml.SequenceNode {
			v, err := joinList(name, key, &node)
			if err != nil {
				return nil, err
			}
			cfg.Settings[key] = v
			continue
		}
		if node.Kind != yaml.ScalarNode {
			return nil, steward.Errorf(steward.EINVALID, "%s:%d: %s must be a single value.", name, node.Line, key)
		}
		cfg.Settings[key] = node.Value
	}
	seen := map[string]bool{}
	for i := range cfg.Connectors {
		c := &cfg.Connectors[i]
		if err := c.validate(); err != nil {
			return nil, steward.Errorf(steward.EINVALID, "%s: %s", name, steward.ErrorMessage(err))
		}
		if seen[c.Name] {
			return nil, steward.Errorf(steward.EINVALID, "%s: connector %s is defined twice.", name, c.Name)
		}
		seen[c.Name] = true
	}
	return cfg, nil
}

// listSettings are the settings whose flag takes a comma-separated list,
// which the file may also write as a YAML list (trusted_proxies: [10.0.0.0/8]).
var listSettings = map[string]bool{"trusted_proxies": true, "allowed_hosts": true}

// joinList turns a YAML list of single values into the comma-separated
// text its flag parses.
func joinList(name, key string, list *yaml.Node) (string, error) {
	var items []string
	for _, n := range list.Content {
		if n.Kind != yaml.ScalarNode || strings.Contains(n.Value, ",") {
			return "", steward.Errorf(steward.EINVALID, "%s:%d: each item of %s must be a single value without commas.", name, n.Line, key)
		}
		items = append(items, n.Value)
	}
	return strings.Join(items, ","), nil
}

// checkSchedules reads each connector's schedule before the connectors are
// decoded. YAML reads a bare 0 as a number, which does not decode into a
// duration, yet 0 is how the documentation says "by hand only": it is taken
// as 0s. Any other number has no unit (30 seconds or 30 minutes?) and is
// refused, as is text that is not a duration, naming the connector's line.
func checkSchedules(name string, connectors *yaml.Node) error {
	if connectors.Kind != yaml.SequenceNode {
		return nil // the decoder reports it
	}
	for _, c := range connectors.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(c.Content); i += 2 {
			k, v := c.Content[i], c.Content[i+1]
			if k.Value != "schedule" || v.Kind != yaml.ScalarNode {
				continue
			}
			switch v.ShortTag() {
			case "!!int":
				if n, err := strconv.ParseInt(v.Value, 0, 64); err != nil || n != 0 {
					return steward.Errorf(steward.EINVALID, "%s:%d: schedule %s has no unit; write it as a duration such as 30m or 1h, or 0 to sync by hand only.", name, v.Line, v.Value)
				}
				v.Tag, v.Value = "!!str", "0s"
			case "!!str":
				if _, err := time.ParseDuration(v.Value); err != nil {
					return steward.Errorf(steward.EINVALID, "%s:%d: schedule %q is not a duration such as 30m or 1h (0: by hand only).", name, v.Line, v.Value)
				}
			}
		}
	}
	return nil
}

func mustMarshal(n *yaml.Node) []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		panic(err) // a node that was just parsed always marshals
	}
	return b
}

// applyConfig sets the flags of cmd that neither the command line nor the
// environment set from the file. A key that is no flag of any command is an
// error, so that a typo is not silently ignored.
func applyConfig(cmd *cobra.Command, cfg *fileConfig) error {
	known := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { known[strings.ReplaceAll(f.Name, "-", "_")] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { known[strings.ReplaceAll(f.Name, "-", "_")] = true })
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cmd.Root())
	for key, value := range cfg.Settings {
		if !known[key] || key == "config" {
			return usageError{fmt.Errorf("configuration file: %q is not a setting", key)}
		}
		name := strings.ReplaceAll(key, "_", "-")
		f := cmd.Flags().Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		if _, ok := os.LookupEnv("STEWARD_" + strings.ToUpper(key)); ok {
			continue
		}
		if err := cmd.Flags().Set(name, value); err != nil {
			return usageError{fmt.Errorf("configuration file: %s: %w", key, err)}
		}
	}
	return nil
}

// connector finds a configured connector by name.
func (e *env) connector(name string) (*connectorConfig, error) {
	if e.config == nil {
		return nil, steward.Errorf(steward.EINVALID, "no connectors: pass --config with a file that lists them (see docs/configuration.md).")
	}
	for i := range e.config.Connectors {
		if e.config.Connectors[i].Name == name {
			return &e.config.Connectors[i], nil
		}
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "no connector named %q in %s.", name, e.configPath)
}

// runConnector runs one connector's sync against the store.
// full compares every record even where the system's digest says it is
// unchanged (steward sync --full).
func runConnector(ctx context.Context, db *sqlstore.DB, c *connectorConfig, logger *slog.Logger, full bool) (*steward.SyncResult, error) {
	if _, ok := steward.PrincipalFrom(ctx); !ok {
		// A scheduled run is Steward's own, through its connector; steward
		// sync keeps the local administrator who ran it.
		ctx = steward.WithPrincipal(ctx, steward.SelfPrincipal("connector:"+c.Name))
	}
	switch c.Type {
	case "postgres":
		conn, err := postgres.New(*c.Postgres, postgres.Options{Logger: logger})
		if err != nil {
			return nil, err
		}
		sys, err := ensureSystem(ctx, db, c.System, steward.SystemPostgres)
		if err != nil {
			return nil, err
		}
		return db.SyncSystem(ctx, sys.ID, conn, steward.SyncOptions{Source: "connector:" + c.Name, Environment: c.Environment, Full: full})
	case "ldap":
		cfg := *c.LDAP
		cfg.Logger = logger
		src, err := ldap.New(cfg)
		if err != nil {
			return nil, err
		}
		return db.SyncPeople(ctx, "connector:"+c.Name, src.People(ctx))
	}
	return nil, steward.Errorf(steward.EINVALID, "connector type %q is not known.", c.Type)
}

// ensureSystem returns the system with name, creating it with kind if new.
func ensureSystem(ctx context.Context, db steward.Store, name string, kind steward.SystemKind) (*steward.System, error) {
	sys, err := db.SystemByName(ctx, name)
	if steward.ErrorCode(err) != steward.ENOTFOUND {
		return sys, err
	}
	sys = &steward.System{Name: name, Kind: kind}
	if err := db.CreateSystem(ctx, sys); err != nil {
		return nil, err
	}
	return sys, nil
}
