package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

// apiFlags are the flags of a command that calls a Steward server's REST
// API, from which it makes the generated client.
type apiFlags struct {
	server, token string
	http          *http.Client // nil: the client's default
}

func addClientFlags(cmd *cobra.Command, c *apiFlags, output *string) {
	cmd.Flags().StringVar(&c.server, "server", "http://127.0.0.1:8080", "Steward server URL")
	cmd.Flags().StringVar(&c.token, "token", "", "API token (better set STEWARD_TOKEN, which stays out of shell history)")
	addOutputFlag(cmd, output)
}

// addOutputFlag adds -o, which takes table (the default) or json and
// refuses anything else as a usage error.
func addOutputFlag(cmd *cobra.Command, output *string) {
	*output = "table"
	cmd.Flags().VarP((*outputFormat)(output), "output", "o", "output format: table or json")
}

type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "format" }
func (o *outputFormat) Set(v string) error {
	if v != "table" && v != "json" {
		return fmt.Errorf("%q: want table or json", v)
	}
	*o = outputFormat(v)
	return nil
}

// api returns the generated API client of the server and token the flags
// name. Every call's answer goes through client.Check, which turns a JSON
// error from the server into a *steward.Error with its code (and so the
// exit code).
func (c *apiFlags) api() (*client.ClientWithResponses, error) {
	if c.token == "" {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "no API token: set STEWARD_TOKEN or pass --token (create one with 'steward token create').")
	}
	api, err := client.New(c.server, c.token, c.http)
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "--server %q is not an http(s) URL.", c.server)
	}
	return api, nil
}

func newIdentitiesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "identities", Aliases: []string{"identity", "id"}, Short: "List and show identities, set their owner and attest them, through the API"}
	cmd.AddCommand(newIdentitiesListCmd(e), newIdentitiesGetCmd(e), newIdentitiesSetOwnerCmd(e), newIdentitiesAttestCmd(e))
	return cmd
}

func newIdentitiesListCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, kind, env_, status, q, gap, after string
	var systemID, ownerID, teamID int64
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List identities, filtered and paginated",
		Long: `List identities from a Steward server. Filters combine. With -o table the
cursor of the next page is printed to stderr; pass it back with --after.`,
		Example: `  steward identities list --kind api_key --environment prod
  steward identities list -q payments -o json
  steward identities list --gap owner_departed --team-id 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.ListIdentitiesWithResponse(cmd.Context(), &client.ListIdentitiesParams{
				Kind:        nonZero(client.IdentityKind(kind)),
				Environment: nonZero(client.Environment(env_)),
				Status:      nonZero(client.IdentityStatus(status)),
				Q:           nonZero(q),
				Gap:         nonZero(client.GapKind(gap)),
				SystemId:    nonZero(systemID),
				OwnerId:     nonZero(ownerID),
				TeamId:      nonZero(teamID),
				Limit:       nonZero(limit),
				After:       nonZero(after),
			})
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printPage(e, output, r.Body, r.JSON200.Items, r.JSON200.Next,
				"ID\tNAME\tKIND\tSYSTEM\tENV\tOWNER\tTEAM\tSTATUS\tLAST USED", func(i client.IdentityView) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", i.Id, i.Name, i.Kind, deref(i.SystemName), i.Environment,
						orDash(ownerLabel(i)), orDash(deref(i.TeamName)), i.Status, fmtTime(i.LastUsedAt))
				})
		},
	}
	addClientFlags(cmd, &c, &output)
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "identity kind: human, service_account, api_key, token, secret, certificate, workload, bot")
	f.StringVar(&env_, "environment", "", "environment: prod, staging or dev")
	f.StringVar(&status, "status", "", "status: active, disabled or removed")
	f.StringVarP(&q, "query", "q", "", "substring of the name or external id")
	f.StringVar(&gap, "gap", "", "only identities with an open ownership gap of this kind: unowned, owner_departed or team_inactive")
	f.Int64Var(&systemID, "system-id", 0, "only identities on this system")
	f.Int64Var(&ownerID, "owner-id", 0, "only identities owned by this person")
	f.Int64Var(&teamID, "team-id", 0, "only identities of this team")
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("page size, 1 to %d (default %d)", steward.MaxLimit, steward.DefaultLimit))
	f.StringVar(&after, "after", "", "cursor of the page to show, from the previous page")
	return cmd
}

func newIdentitiesGetCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one identity",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIdentityID(args[0])
			if err != nil {
				return err
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.GetIdentityWithResponse(cmd.Context(), id)
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printIdentity(e, output, r.Body, r.JSON200)
		},
	}
	addClientFlags(cmd, &c, &output)
	return cmd
}

// printIdentity writes one identity as a table of fields, or with -o json
// the answer as it came.
func printIdentity(e *env, output string, body []byte, i *client.IdentityView) error {
	if output == "json" {
		return writeAnswer(e.stdout, body)
	}
	// Why each is what it is: "rule payments-k8s", "set by hand", ….
	owner, team := orDash(ownerLabel(*i)), orDash(deref(i.TeamName))
	why := ownerReason(i.OwnerReason)
	if w := why.OwnerWords(); w != "" {
		owner += " (" + w + ")"
	} else if i.OwnerSource != nil && *i.OwnerSource != "" {
		owner += " (" + string(*i.OwnerSource) + ")"
	}
	if w := why.TeamWords(); w != "" && i.TeamId != nil {
		team += " (" + w + ")"
	}
	created := "unknown" // the identity's system does not say; not when Steward saw it
	if i.CreatedAt != nil {
		created = i.CreatedAt.Format(time.DateTime)
	}
	attested := "-"
	if i.AttestedAt != nil {
		attested = fmtTime(i.AttestedAt)
		if i.AttestedBy != nil {
			attested += " by person " + strconv.FormatInt(*i.AttestedBy, 10)
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"ID", strconv.FormatInt(i.Id, 10)}, {"Name", i.Name}, {"External ID", i.ExternalId}, {"Kind", string(i.Kind)},
		{"System", deref(i.SystemName)}, {"Environment", string(i.Environment)}, {"Criticality", string(i.Criticality)},
		{"Owner", owner}, {"Team", team}, {"Status", string(i.Status)},
		{"Created", created}, {"Last used", fmtTime(i.LastUsedAt)}, {"Attested", attested},
	} {
		fmt.Fprintf(w, "%s:\t%s\n", row[0], row[1])
	}
	return w.Flush()
}

// parseIdentityID reads the ID argument of an identities command.
func parseIdentityID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, steward.Errorf(steward.EINVALID, "identity id %q is not a positive number.", arg)
	}
	return id, nil
}

func newIdentitiesSetOwnerCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	var ownerID, teamID int64
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-owner NAME|ID [--system SYSTEM] (--owner PERSON | --team TEAM | --clear)",
		Short: "Assign an identity's owner and team explicitly",
		Long: `Assign an identity's owner (a person) and team explicitly. An explicit
assignment is kept until someone assigns again: syncs, source tags and
ownership rules do not change it. --owner-id alone gives the identity its
owner's team, which follows the owner if they move; --team-id names a team
that stays. --clear removes the assignment and hands the identity back to
source tags and ownership rules at its next re-resolution (a sync that
changes it, a people sync, 'steward apply').`,
		Example: `  steward identities set-owner 4711 --owner-id 42 --team-id 7
  steward identities set-owner 4711 --clear`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			set := fl.Changed("owner") || fl.Changed("team") || fl.Changed("owner-id") || fl.Changed("team-id")
			if clear == set {
				return usageError{errors.New("give --owner and/or --team, or --clear")}
			}
			ctx := cmd.Context()
			i, err := c.findIdentity(ctx, args[0], system)
			if err != nil {
				return err
			}
			var a client.OwnerAssignment
			if cmd.Flags().Changed("owner-id") {
				a.OwnerId = &ownerID
			}
			if cmd.Flags().Changed("team-id") {
				a.TeamId = &teamID
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.SetIdentityOwnerWithResponse(cmd.Context(), id, a)
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printIdentity(e, output, r.Body, r.JSON200)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&system, "system", "", "the system the identity is on (its name), to name the identity by name or external id")
	cmd.Flags().StringVar(&owner, "owner", "", "the person who owns the identity: e-mail address or external id")
	cmd.Flags().StringVar(&team, "team", "", "the team that owns the identity: its name")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the explicit assignment; rules decide again")
	cmd.Flags().Int64Var(&ownerID, "owner-id", 0, "the owner's id (as --owner)")
	cmd.Flags().Int64Var(&teamID, "team-id", 0, "the team's id (as --team)")
	_ = cmd.Flags().MarkHidden("owner-id")
	_ = cmd.Flags().MarkHidden("team-id")
	return cmd
}

func newIdentitiesAttestCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, note string
	var personID int64
	cmd := &cobra.Command{
		Use:   "attest NAME|ID [--system SYSTEM] --person PERSON [--note TEXT]",
		Short: "Confirm, as its owner, that an identity is still needed",
		Long: `Record that the identity's owner confirms it is theirs and still needed. The
date is kept on the identity and the note in the audit log. Only the owner
may attest: another person is refused (exit 2). The person is named by
e-mail address or external id; the identity as for 'identities get'.`,
		Example: `  steward identities attest etl-loader --system aws-prod --person ada@example.com --note "used by the nightly export"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fl := cmd.Flags()
			if fl.Changed("person") == fl.Changed("person-id") {
				return usageError{errors.New("name the owner who attests with --person")}
			}
			i, err := c.findIdentity(ctx, args[0], system)
			if err != nil {
				return err
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.AttestIdentityWithResponse(cmd.Context(), id, client.Attestation{PersonId: personID, Note: nonZero(note)})
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printIdentity(e, output, r.Body, r.JSON200)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&system, "system", "", "the system the identity is on (its name), to name the identity by name or external id")
	cmd.Flags().StringVar(&person, "person", "", "the identity's owner, who attests: e-mail address or external id")
	cmd.Flags().Int64Var(&personID, "person-id", 0, "the owner's id (as --person)")
	_ = cmd.Flags().MarkHidden("person-id")
	cmd.Flags().StringVar(&note, "note", "", "why the identity is still needed")
	return cmd
}

func ownerLabel(i client.IdentityView) string {
	name := deref(i.OwnerName)
	if name != "" && i.OwnerStatus != nil && *i.OwnerStatus == client.PersonStatusDeparted {
		return name + " (departed)"
	}
	return name
}

// printPage prints one page of a list: with -o json the answer as it came,
// else a table of header and one row per item, and the next page's cursor
// on stderr.
func printPage[T any](e *env, output string, body []byte, items []T, next *string, header string, row func(T) string) error {
	if output == "json" {
		return writeAnswer(e.stdout, body)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, item := range items {
		fmt.Fprintln(w, row(item))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if next != nil && *next != "" {
		fmt.Fprintf(e.stderr, "next page: --after %s\n", *next)
	}
	return nil
}

// writeAnswer writes a JSON answer of the API indented, as it came: every
// field the server sent, in its order, whether or not this build of the
// client knows it.
func writeAnswer(w io.Writer, body []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// nonZero returns a pointer to v, or nil for the zero value: a flag left
// unset sends no parameter.
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ownerReason is the answer's owner_reason as the domain's, for its words.
func ownerReason(r *client.OwnerReason) steward.OwnerReason {
	if r == nil {
		return steward.OwnerReason{}
	}
	basis := func(b *client.OwnerBasis) steward.OwnerBasis {
		if b == nil {
			return ""
		}
		return steward.OwnerBasis(*b)
	}
	return steward.OwnerReason{OwnerBy: basis(r.OwnerBy), TeamBy: basis(r.TeamBy), Rule: deref(r.Rule), OwnerTag: deref(r.OwnerTag), TeamTag: deref(r.TeamTag)}
}
