package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

// client calls a Steward server's REST API.
type client struct {
	server, token string
	http          *http.Client
}

func addClientFlags(cmd *cobra.Command, c *client, output *string) {
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

// get calls GET path?query and decodes the JSON answer into out. A JSON
// error from the server comes back as a *steward.Error with its code.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

// send calls method path with body encoded as JSON and decodes the JSON
// answer into out, with errors as get.
func (c *client) send(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding the request: %w", err)
	}
	return c.do(ctx, method, path, nil, b, out)
}

// do makes one API call; body, when not nil, is sent as JSON.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	if c.token == "" {
		return steward.Errorf(steward.EUNAUTHORIZED, "no API token: set STEWARD_TOKEN or pass --token (create one with 'steward token create').")
	}
	u, err := url.Parse(strings.TrimRight(c.server, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return steward.Errorf(steward.EINVALID, "--server %q is not an http(s) URL.", c.server)
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return steward.Errorf(steward.EUNAVAILABLE, "cannot reach the Steward server at %s: %v", c.server, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return steward.Errorf(steward.EUNAVAILABLE, "reading the answer from %s: %v", c.server, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error steward.Error `json:"error"`
		}
		if json.Unmarshal(answer, &e) == nil && e.Error.Code != "" {
			return &e.Error
		}
		return steward.Errorf(steward.EUNAVAILABLE, "the server at %s answered %s", c.server, resp.Status)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("decoding the answer from %s: %w", c.server, err)
	}
	return nil
}

func newIdentitiesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "identities", Aliases: []string{"identity", "id"}, Short: "List and show identities, set their owner and attest them, through the API"}
	cmd.AddCommand(newIdentitiesListCmd(e), newIdentitiesGetCmd(e), newIdentitiesSetOwnerCmd(e), newIdentitiesAttestCmd(e))
	return cmd
}

func newIdentitiesListCmd(e *env) *cobra.Command {
	var c client
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
			v := url.Values{}
			set := func(k, val string) {
				if val != "" {
					v.Set(k, val)
				}
			}
			setID := func(k string, id int64) {
				if id != 0 {
					v.Set(k, strconv.FormatInt(id, 10))
				}
			}
			set("kind", kind)
			set("environment", env_)
			set("status", status)
			set("q", q)
			set("gap", gap)
			set("after", after)
			setID("system_id", systemID)
			setID("owner_id", ownerID)
			setID("team_id", teamID)
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			return listPage(cmd.Context(), e, &c, output, "/api/v1/identities", v,
				"ID\tNAME\tKIND\tSYSTEM\tENV\tOWNER\tTEAM\tSTATUS\tLAST USED", func(i steward.IdentityView) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", i.ID, i.Name, i.Kind, i.SystemName, i.Environment,
						orDash(ownerLabel(i)), orDash(i.TeamName), i.Status, fmtTime(i.LastUsedAt))
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
	var c client
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
			var i steward.IdentityView
			if err := c.get(cmd.Context(), "/api/v1/identities/"+strconv.FormatInt(id, 10), nil, &i); err != nil {
				return err
			}
			return printIdentity(e, output, &i)
		},
	}
	addClientFlags(cmd, &c, &output)
	return cmd
}

// printIdentity writes one identity as a table of fields or as JSON.
func printIdentity(e *env, output string, i *steward.IdentityView) error {
	if output == "json" {
		return writeJSON(e.stdout, i)
	}
	// Why each is what it is: "rule payments-k8s", "set by hand", ….
	owner, team := orDash(ownerLabel(*i)), orDash(i.TeamName)
	if why := i.OwnerReason.OwnerWords(); why != "" {
		owner += " (" + why + ")"
	} else if i.OwnerSource != steward.OwnerNone {
		owner += " (" + string(i.OwnerSource) + ")"
	}
	if why := i.OwnerReason.TeamWords(); why != "" && i.TeamID != nil {
		team += " (" + why + ")"
	}
	attested := "-"
	if i.AttestedAt != nil {
		attested = i.AttestedAt.Format(time.DateTime)
		if i.AttestedBy != nil {
			attested += " by person " + strconv.FormatInt(*i.AttestedBy, 10)
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"ID", strconv.FormatInt(i.ID, 10)}, {"Name", i.Name}, {"External ID", i.ExternalID}, {"Kind", string(i.Kind)},
		{"System", i.SystemName}, {"Environment", string(i.Environment)}, {"Criticality", string(i.Criticality)},
		{"Owner", owner}, {"Team", team}, {"Status", string(i.Status)},
		{"Created", i.CreatedAt.Format(time.DateTime)}, {"Last used", fmtTime(i.LastUsedAt)}, {"Attested", attested},
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
	var c client
	var output string
	var ownerID, teamID int64
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-owner ID (--owner-id N | --team-id N | --clear)",
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
			set := cmd.Flags().Changed("owner-id") || cmd.Flags().Changed("team-id")
			if clear == set {
				return usageError{errors.New("give --owner-id and/or --team-id, or --clear")}
			}
			id, err := parseIdentityID(args[0])
			if err != nil {
				return err
			}
			var a steward.OwnerAssignment
			if cmd.Flags().Changed("owner-id") {
				a.OwnerID = &ownerID
			}
			if cmd.Flags().Changed("team-id") {
				a.TeamID = &teamID
			}
			var i steward.IdentityView
			if err := c.send(cmd.Context(), http.MethodPut, "/api/v1/identities/"+strconv.FormatInt(id, 10)+"/owner", a, &i); err != nil {
				return err
			}
			return printIdentity(e, output, &i)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().Int64Var(&ownerID, "owner-id", 0, "the person who owns the identity")
	cmd.Flags().Int64Var(&teamID, "team-id", 0, "the team that owns the identity")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the explicit assignment; rules decide again")
	return cmd
}

func newIdentitiesAttestCmd(e *env) *cobra.Command {
	var c client
	var output, note string
	var personID int64
	cmd := &cobra.Command{
		Use:   "attest ID --person-id N [--note TEXT]",
		Short: "Confirm, as its owner, that an identity is still needed",
		Long: `Record that the identity's owner confirms it is theirs and still needed. The
date is kept on the identity and the note in the audit log. Only the owner
may attest: another person is refused (exit 2).`,
		Example: `  steward identities attest 4711 --person-id 42 --note "used by the nightly export"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIdentityID(args[0])
			if err != nil {
				return err
			}
			var i steward.IdentityView
			a := steward.Attestation{PersonID: personID, Note: note}
			if err := c.send(cmd.Context(), http.MethodPost, "/api/v1/identities/"+strconv.FormatInt(id, 10)+"/attest", a, &i); err != nil {
				return err
			}
			return printIdentity(e, output, &i)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().Int64Var(&personID, "person-id", 0, "the identity's owner, who attests (required)")
	cmd.Flags().StringVar(&note, "note", "", "why the identity is still needed")
	_ = cmd.MarkFlagRequired("person-id")
	return cmd
}

func ownerLabel(i steward.IdentityView) string {
	if i.OwnerName != "" && i.OwnerStatus == steward.PersonDeparted {
		return i.OwnerName + " (departed)"
	}
	return i.OwnerName
}

// listPage gets one page of a list and prints it: with -o json as it came,
// else a table of header and one row per item, and the next page's cursor
// on stderr.
func listPage[T any](ctx context.Context, e *env, c *client, output, path string, query url.Values, header string, row func(T) string) error {
	var page steward.Page[T]
	if err := c.get(ctx, path, query, &page); err != nil {
		return err
	}
	if output == "json" {
		return writeJSON(e.stdout, page)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, item := range page.Items {
		fmt.Fprintln(w, row(item))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(e.stderr, "next page: --after %s\n", page.Next)
	}
	return nil
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
