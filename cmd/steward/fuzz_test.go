package main

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// FuzzParseConfig feeds arbitrary configuration files: each parses or is
// refused with EINVALID, never a panic or another error.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"db: x.db\nlog_format: json\n",
		"connectors:\n  - name: pg\n    type: postgres\n    postgres:\n      dsn: postgres://u@h/db\n",
		"connectors:\n  - name: corp\n    type: ldap\n    schedule: 15m\n    ldap:\n      url: ldap://h\n      base_dn: dc=x\n",
		"connectors:\n  - name: corp\n    type: ldap\n    schedule: 0\n    ldap:\n      url: ldap://h\n      base_dn: dc=x\n",
		"connectors:\n  - schedule: 30\n  - schedule: [1]\n  - 7\n",
		"connectors: 3\n", "db: [1, 2]\n", "- a\n- b\n", "", "{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := parseConfig("fuzz.yaml", []byte(s))
		if err != nil {
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		for _, c := range cfg.Connectors {
			if c.System == "" || c.Environment == "" {
				t.Fatalf("connector %q accepted without its defaults", c.Name)
			}
		}
	})
}

// FuzzParseManifests feeds arbitrary 'steward apply' files: each yields
// valid rules or is refused with EINVALID.
func FuzzParseManifests(f *testing.F) {
	for _, s := range []string{
		"kind: OwnershipRules\nrules:\n  - name: a\n    match: {names: ['*']}\n    team: t\n",
		"kind: OwnershipRules\nrules: []\n---\nkind: OwnershipRules\n",
		"kind: Tiers\n", "rules: []\n", "kind: [\n", "", "---\n---\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		docs, err := parseManifests("fuzz.yaml", strings.NewReader(s))
		if err != nil {
			if steward.ErrorCode(err) != steward.EINVALID {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		for _, d := range docs {
			if err := steward.ValidateRules(d.Rules); err != nil {
				t.Fatalf("accepted invalid rules: %v", err)
			}
		}
	})
}
