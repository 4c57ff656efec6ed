package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

// The personal tokens of the person an API token belongs to, through the
// API (/api/v1/tokens): what a person does for themselves, beside the
// local administrator's token commands on the database.

func newTokenPersonalCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "personal",
		Aliases: []string{"my", "mine"},
		Short:   "List, make and revoke your own personal tokens, through the API",
		Long: `Manage your own personal tokens: those of the person your API token
(--token, STEWARD_TOKEN) belongs to, as 'steward whoami' names them. Each
acts under your name, in your role, and expires (30 days by default, at
most 90). An automation token has no personal tokens (exit 4).

The other token commands (create, list, revoke with --db) are the local
administrator's, on the database: they make and revoke anyone's tokens,
automation tokens too.`,
		Example: `  steward token personal create --name ada-laptop --expires-in 168h
  steward token personal list
  steward token personal revoke ada-laptop`,
	}
	cmd.AddCommand(newTokenPersonalListCmd(e), newTokenPersonalCreateCmd(e), newTokenPersonalRevokeCmd(e))
	return cmd
}

func newTokenPersonalListCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your personal tokens (never their secrets)",
		Long: `List the personal tokens of the person your API token belongs to, oldest
first, revoked and expired ones too; never their secrets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.ListTokensWithResponse(cmd.Context())
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printPage(e, output, r.Body, r.JSON200.Items, nil, "NAME\tROLE\tCREATED\tEXPIRES\tLAST USED\tREVOKED", func(t client.Token) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", t.Name, t.Role, fmtTime(&t.CreatedAt), fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt), fmtTime(t.RevokedAt))
			})
		},
	}
	addClientFlags(cmd, &c, &output)
	return cmd
}

func newTokenPersonalCreateCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, name, role string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --name NAME [--expires-in 720h] [--role ROLE]",
		Short: "Make yourself a personal token and print it (only the token, on stdout)",
		Long: `Make a new personal token of the person your API token belongs to. It is
printed once, alone on stdout (with -o json, the whole answer: the token
and its secret), so that scripts can capture it; Steward keeps only its
hash. It acts under your name, in your role: only an admin may ask for
another (--role). It expires after --expires-in: 30 days by default, at
most 90 days.`,
		Example: `  TOKEN=$(steward token personal create --name ada-laptop --expires-in 168h)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return steward.Errorf(steward.EINVALID, "--expires-in must be positive.")
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			in := client.TokenInput{Name: name, Role: nonZero(client.Role(role))}
			if ttl > 0 {
				exp := time.Now().UTC().Add(ttl).Truncate(time.Second)
				in.ExpiresAt = &exp
			}
			r, err := api.CreateTokenWithResponse(cmd.Context(), in)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			fmt.Fprintln(e.stdout, r.JSON201.Secret)
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&name, "name", "", "token name: lower-case letters, digits, '.', '_' or '-', unique among all tokens (required)")
	cmd.Flags().DurationVar(&ttl, "expires-in", 0, "lifetime, e.g. 168h: 720h (30 days) by default, at most 2160h (90 days)")
	cmd.Flags().StringVar(&role, "role", "", "role of the new token: your token's by default; only an admin may choose another (admin, auditor or member)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newTokenPersonalRevokeCmd(e *env) *cobra.Command {
	var c apiFlags
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke one of your personal tokens and end its web sessions",
		Long: `Revoke the personal token of that name, one of yours ('steward token
personal list'), and end the web sessions signed in with it. A token that
is not yours is not found (exit 3), whoever's it is. Revoking the token
you call with works too: it is the last call it makes.`,
		Example: `  steward token personal revoke ada-laptop`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.RevokeTokenWithResponse(cmd.Context(), args[0])
			if err := client.Check(r, err); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "revoked %s\n", args[0])
			return nil
		},
	}
	addServerFlags(cmd, &c)
	return cmd
}
