package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/http/web"
)

// oidcConfig is the oidc: section of the configuration file: sign-in to the
// web UI through an OpenID provider. The client secret is never in the
// file: client_secret_env or client_secret_file names where it is.
type oidcConfig struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document says it (mind a trailing slash). Required.
	Issuer string `yaml:"issuer"`
	// ClientID is Steward's client id at the provider. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is refused: a secret does not belong in this file.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretEnv names the environment variable that holds the client
	// secret.
	ClientSecretEnv string `yaml:"client_secret_env"`
	// ClientSecretFile is a file that holds the client secret; one trailing
	// newline is ignored. Neither: a public client, protected by PKCE alone.
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is Steward's public URL followed by /signin/oidc/callback,
	// as registered at the provider. Required.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes asked of the provider. Default: [email, profile] (and openid).
	Scopes []string `yaml:"scopes"`
	// PersonClaim is the claim that names the person: email (default, the
	// person's e-mail address) or subject (the person's external id).
	PersonClaim steward.PersonClaim `yaml:"person_claim"`
	// GroupsClaim is the claim that lists the person's groups. Default:
	// none, everyone signs in as a member.
	GroupsClaim string `yaml:"groups_claim"`
	// Roles maps admin, auditor and member each to the groups that give
	// it; the strongest wins, and a person in none is a member.
	Roles map[steward.Role][]string `yaml:"roles"`
	// JITPeople creates a person the directory does not know at their
	// first sign-in. Default: false, they are refused.
	JITPeople bool `yaml:"jit_people"`
	// Contact is whom a refused person should ask. Default: "a Steward
	// administrator".
	Contact string `yaml:"contact"`
}

// parseOIDC decodes and checks the oidc: section; name and the node's line
// are for messages.
func parseOIDC(name string, node *yaml.Node) (*oidcConfig, error) {
	var c oidcConfig
	dec := yaml.NewDecoder(bytes.NewReader(mustMarshal(node)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, steward.Errorf(steward.EINVALID, "%s: oidc: %v", name, err)
	}
	if c.ClientSecret != "" {
		return nil, steward.Errorf(steward.EINVALID, "%s:%d: oidc: client_secret does not belong in the configuration file; put it in a file (client_secret_file) or an environment variable (client_secret_env).", name, node.Line)
	}
	if c.ClientSecretEnv != "" && c.ClientSecretFile != "" {
		return nil, steward.Errorf(steward.EINVALID, "%s:%d: oidc: client_secret_env and client_secret_file are both set; keep one.", name, node.Line)
	}
	ui := c.ui("")
	if err := ui.Validate(); err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s:%d: %s", name, node.Line, steward.ErrorMessage(err))
	}
	return &c, nil
}

// ui returns the web UI's OIDC settings with the client secret given.
func (c *oidcConfig) ui(secret string) *web.OIDC {
	return &web.OIDC{
		Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret, RedirectURL: c.RedirectURL, Scopes: c.Scopes,
		Mapping:   steward.ClaimMapping{Person: c.PersonClaim, GroupsClaim: c.GroupsClaim, Roles: c.Roles},
		JITPeople: c.JITPeople, Contact: c.Contact,
	}
}

// secret reads the client secret from its environment variable or file, ""
// for a public client.
func (c *oidcConfig) secret() (string, error) {
	switch {
	case c.ClientSecretEnv != "":
		s := os.Getenv(c.ClientSecretEnv)
		if s == "" {
			return "", steward.Errorf(steward.EINVALID, "oidc: the environment variable %s (client_secret_env) is empty or unset.", c.ClientSecretEnv)
		}
		return s, nil
	case c.ClientSecretFile != "":
		b, err := os.ReadFile(c.ClientSecretFile) // #nosec G304 -- client_secret_file of the operator's configuration
		if err != nil {
			return "", steward.Errorf(steward.EINVALID, "oidc: cannot read client_secret_file: %v.", err)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			return "", steward.Errorf(steward.EINVALID, "oidc: client_secret_file %s is empty.", c.ClientSecretFile)
		}
		return s, nil
	}
	return "", nil
}

// webOIDC returns the UI's OIDC settings from the configuration file, nil
// when it has no oidc: section.
func (e *env) webOIDC() (*web.OIDC, error) {
	if e.config == nil || e.config.OIDC == nil {
		return nil, nil
	}
	secret, err := e.config.OIDC.secret()
	if err != nil {
		return nil, err
	}
	return e.config.OIDC.ui(secret), nil
}
