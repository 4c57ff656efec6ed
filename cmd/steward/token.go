package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	cmd.AddCommand(newTokenCreateCmd(e), newTokenListCmd(e), newTokenRevokeCmd(e))
	return cmd
}

func newTokenCreateCmd(e *env) *cobra.Command {
	var dsn, name, role string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --name NAME [--role admin|auditor|member] [--expires-in 720h]",
		Short: "Create an API token and print it (only the token, on stdout)",
		Long: `Create an API token. The token is printed once, alone on stdout, so that
scripts can capture it: TOKEN=$(steward token create --name ci --role auditor).
Steward stores only its SHA-256 hash; a lost token cannot be shown again,
only revoked and replaced.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			t := &steward.Token{Name: name, Role: steward.Role(role)}
			if ttl < 0 {
				return steward.Errorf(steward.EINVALID, "--expires-in must be positive.")
			} else if ttl > 0 {
				exp := time.Now().UTC().Add(ttl)
				t.ExpiresAt = &exp
			}
			raw, err := db.CreateToken(cmd.Context(), t)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, raw)
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	cmd.Flags().StringVar(&name, "name", "", "token name: lower-case letters, digits, '.', '_' or '-' (required)")
	cmd.Flags().StringVar(&role, "role", string(steward.RoleAuditor), "role: admin (everything), auditor (reads everything, writes nothing) or member (sees what they own and their team's identities, acts on what they own)")
	cmd.Flags().DurationVar(&ttl, "expires-in", 0, "lifetime, e.g. 720h; 0 means the token does not expire")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newTokenListCmd(e *env) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			tokens, err := db.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
			for _, t := range tokens {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, fmtTime(&t.CreatedAt),
					fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt), fmtTime(t.RevokedAt))
			}
			return w.Flush()
		},
	}
	addDBFlag(cmd, &dsn)
	return cmd
}

func newTokenRevokeCmd(e *env) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an API token and end its web sessions",
		Long: `Revoke an API token, named as 'steward token list' shows it, and end the
web sessions signed in with it. A revoked token is refused from then on;
its row stays, with the time it was revoked. The id of 'token list' works
too, for a token whose name is not a number.`,
		Example: `  steward token revoke ci-bot --db steward.db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			tokens, err := db.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			id, err := tokenID(tokens, args[0])
			if err != nil {
				return err
			}
			return db.RevokeToken(cmd.Context(), id)
		},
	}
	addDBFlag(cmd, &dsn)
	return cmd
}

// tokenID returns the id of the token named ref or, when no token has that
// name and ref is a number, of the token with that id: a name is tried first,
// as token names may be numbers. It returns ENOTFOUND when there is neither.
func tokenID(tokens []steward.Token, ref string) (int64, error) {
	ref = strings.TrimSpace(ref)
	for _, t := range tokens {
		if strings.EqualFold(t.Name, ref) {
			return t.ID, nil
		}
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		for _, t := range tokens {
			if t.ID == id {
				return id, nil
			}
		}
	}
	return 0, steward.Errorf(steward.ENOTFOUND, "No API token is named %q; 'steward token list' lists them.", ref)
}

// fmtTime writes a time for a person at a terminal: in the local zone (TZ),
// with the zone's name, so that it is not taken for another zone's; "-"
// for no time.
func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return steward.FormatTime(t.In(time.Local))
}
