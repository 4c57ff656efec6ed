package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestConfigOIDC reads the oidc: section the way docs/configuration.md
// shows it, and refuses what would be a mistake: a secret in the file, two
// sources of it, a mapping that cannot work, an unknown key.
func TestConfigOIDC(t *testing.T) {
	t.Parallel()
	const good = `
oidc:
  issuer: https://idp.example.com/
  client_id: steward
  client_secret_file: /run/secrets/steward-oidc
  redirect_url: https://steward.example.com/signin/oidc/callback
  scopes: [email, profile, groups]
  person_claim: email
  groups_claim: groups
  roles:
    admin: [steward-admins]
    auditor: [security-audit, internal-audit]
  jit_people: true
  contact: "the identity team, #iam-help"
`
	cfg, err := parseConfig("steward.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	ui := cfg.OIDC.ui("x")
	if ui.Issuer != "https://idp.example.com/" || ui.ClientID != "steward" || ui.ClientSecret != "x" || !ui.JITPeople ||
		ui.Mapping.Person != steward.ClaimEmail || ui.Mapping.GroupsClaim != "groups" || !slices.Equal(ui.Mapping.Roles[steward.RoleAuditor], []string{"security-audit", "internal-audit"}) ||
		ui.Contact != "the identity team, #iam-help" || !slices.Equal(ui.Scopes, []string{"email", "profile", "groups"}) {
		t.Fatalf("oidc = %+v", ui)
	}
	base := "oidc:\n  issuer: https://idp.example.com/\n  client_id: steward\n  redirect_url: https://steward.example.com/signin/oidc/callback\n"
	for name, tc := range map[string]struct{ extra, err string }{
		"a public client":        {"", ""},
		"the secret in the file": {"  client_secret: hunter2\n", "does not belong in the configuration file"},
		"two secret sources":     {"  client_secret_env: S\n  client_secret_file: /f\n", "both set"},
		"an unknown key":         {"  client_secrets: x\n", "client_secrets"},
		"an unknown claim":       {"  person_claim: nickname\n", "person claim"},
		"roles without a claim":  {"  roles:\n    admin: [a]\n", "groups_claim"},
		"an unknown role":        {"  groups_claim: groups\n  roles:\n    root: [a]\n", "root"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig("steward.yaml", []byte(base+tc.extra))
			if tc.err == "" && err != nil || tc.err != "" && (steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
		})
	}
}

// TestConfigOIDCSecret reads the client secret from its file or variable,
// and refuses an empty one rather than signing in as a public client.
func TestConfigOIDCSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STEWARD_TEST_OIDC_SECRET", "from-the-environment")
	for name, tc := range map[string]struct {
		c    oidcConfig
		want string
		err  string
	}{
		"file":        {oidcConfig{ClientSecretFile: file}, "from-the-file", ""},
		"environment": {oidcConfig{ClientSecretEnv: "STEWARD_TEST_OIDC_SECRET"}, "from-the-environment", ""},
		"public":      {oidcConfig{}, "", ""},
		"unset":       {oidcConfig{ClientSecretEnv: "STEWARD_TEST_OIDC_UNSET"}, "", "empty or unset"},
		"empty file":  {oidcConfig{ClientSecretFile: empty}, "", "is empty"},
		"no file":     {oidcConfig{ClientSecretFile: filepath.Join(dir, "none")}, "", "cannot read"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := tc.c.secret()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
