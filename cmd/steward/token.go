package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens",
		Long: `Create, list and revoke API tokens. create, list and revoke work on the
database (--db) as the local administrator, for anyone's tokens;
'token personal' works through the API with your own token, for your own
personal tokens.`}
	cmd.AddCommand(newTokenCreateCmd(e), newTokenListCmd(e), newTokenRevokeCmd(e), newTokenPersonalCmd(e))
	return cmd
}

func newTokenCreateCmd(e *env) *cobra.Command {
	var dsn, name, role, forPerson, owner, newPerson string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --name NAME (--for PERSON [--create-person NAME] | --owner PERSON) [--role admin|auditor|member] [--expires-in 720h]",
		Short: "Create an API token and print it (only the token, on stdout)",
		Long: `Create an API token. The token is printed once, alone on stdout, so that
scripts can capture it: TOKEN=$(steward token create --name ci --owner ada@example.com).
Steward stores only its SHA-256 hash; a lost token cannot be shown again,
only revoked and replaced.

Every token belongs to a principal:

  --for PERSON    a personal token of that person (e-mail or external id):
                  they act with it under their own name. It expires after
                  --expires-in, 30 days by default and at most 90 days.
  --owner PERSON  an automation token (CI, Terraform): Steward registers an
                  identity named after the token in its own inventory (the
                  system "steward"), owned by PERSON, with the token as its
                  credential, so that the token shows up with an owner, its
                  age and its last use like any other identity. It does not
                  expire unless --expires-in says so.

On a new database, before any person is known, --create-person "Full
Name" with --for EMAIL records that person first (active, without a team;
its external id is the e-mail address), so that the first admin has a
token of their own:

  steward token create --name ada --role admin --for ada@example.com --create-person "Ada Lovelace"

Roles: admin may do everything; auditor reads everything and writes
nothing; member sees the directory, what its person owns and their team's
identities, and acts on what they own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (forPerson == "") == (owner == "") {
				return steward.Errorf(steward.EINVALID, "Name whose token it is: --for PERSON for a personal token, or --owner PERSON for an automation token.")
			} else if ttl < 0 {
				return steward.Errorf(steward.EINVALID, "--expires-in must be positive.")
			}
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			t := &steward.Token{Name: name, Role: steward.Role(role), Kind: steward.PrincipalAutomation}
			key := owner
			if forPerson != "" {
				t.Kind, key = steward.PrincipalPerson, forPerson
				if ttl == 0 {
					ttl = steward.DefaultPersonalTokenTTL
				}
			}
			if newPerson != "" {
				if t.Kind != steward.PrincipalPerson {
					return steward.Errorf(steward.EINVALID, "--create-person goes with --for: it records the person whose token it is.")
				}
				np := &steward.Person{ExternalID: forPerson, Email: forPerson, Name: newPerson, Status: steward.PersonActive}
				if err := db.CreatePerson(cmd.Context(), np); err != nil {
					return err
				}
			}
			p, err := db.PersonByKey(cmd.Context(), key)
			if err != nil {
				return err
			}
			if t.Kind == steward.PrincipalPerson {
				t.PersonID = &p.ID
			} else {
				t.OwnerID = &p.ID
			}
			if ttl > 0 {
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
	cmd.Flags().StringVar(&role, "role", string(steward.RoleMember), "role: admin (everything), auditor (reads everything, writes nothing) or member (sees what they own and their team's identities, acts on what they own)")
	cmd.Flags().StringVar(&forPerson, "for", "", "make a personal token of this person (e-mail or external id)")
	cmd.Flags().StringVar(&newPerson, "create-person", "", "with --for EMAIL: record that person first, with this full name (bootstrap of a new database)")
	cmd.Flags().StringVar(&owner, "owner", "", "make an automation token whose identity this person owns (e-mail or external id)")
	cmd.Flags().DurationVar(&ttl, "expires-in", 0, "lifetime, e.g. 720h; personal tokens: 720h (30 days) by default, at most 2160h (90 days); automation tokens: 0, no expiry, by default")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newTokenListCmd(e *env) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets) and whose they are",
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
			fmt.Fprintln(w, "ID\tNAME\tROLE\tKIND\tPRINCIPAL\tOWNER\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
			for _, t := range tokens {
				owner := "-"
				if t.Kind == steward.PrincipalAutomation {
					owner = "none"
					if t.OwnerID != nil {
						owner = personWithKeyLocal(cmd.Context(), db, *t.OwnerID)
					}
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.Kind, t.Principal, owner, fmtTime(&t.CreatedAt),
					fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt), fmtTime(t.RevokedAt))
			}
			return w.Flush()
		},
	}
	addDBFlag(cmd, &dsn)
	return cmd
}

// personWithKeyLocal names a person by e-mail (or external id), or by id
// when they cannot be read.
func personWithKeyLocal(ctx context.Context, db steward.InventoryReader, id int64) string {
	p, err := db.Person(ctx, id)
	if err != nil {
		return "person " + strconv.FormatInt(id, 10)
	}
	if p.Email != "" {
		return p.Email
	}
	return p.ExternalID
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
