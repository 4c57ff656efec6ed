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
	resp, err := c.open(ctx, method, path, query, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return steward.Errorf(steward.EUNAVAILABLE, "reading the answer from %s: %v", c.server, err)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("decoding the answer from %s: %w", c.server, err)
	}
	return nil
}

// open makes one API call asking for accept and returns the response of a
// success, its body unread; an error status comes back as the server's
// *steward.Error.
func (c *client) open(ctx context.Context, method, path string, query url.Values, body []byte, accept string) (*http.Response, error) {
	if c.token == "" {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "no API token: set STEWARD_TOKEN or pass --token (create one with 'steward token create').")
	}
	u, err := url.Parse(strings.TrimRight(c.server, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, steward.Errorf(steward.EINVALID, "--server %q is not an http(s) URL.", c.server)
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if hc == nil {
		// No overall timeout: an export streams for as long as it has
		// rows. A server that stops answering is noticed by its headers'
		// timeout.
		hc = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 60 * time.Second}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, steward.Errorf(steward.EUNAVAILABLE, "cannot reach the Steward server at %s: %v", c.server, errors.Unwrap(err))
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct {
			Error steward.Error `json:"error"`
		}
		if json.Unmarshal(answer, &e) == nil && e.Error.Code != "" {
			return nil, &e.Error
		}
		return nil, steward.Errorf(steward.EUNAVAILABLE, "the server at %s answered %s", c.server, resp.Status)
	}
	return resp, nil
}

func newIdentitiesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "identities", Aliases: []string{"identity", "id"}, Short: "List, count, export and show identities, set their owner and attest them, through the API"}
	cmd.AddCommand(newIdentitiesListCmd(e), newIdentitiesCountCmd(e), newIdentitiesExportCmd(e), newIdentitiesGetCmd(e),
		newIdentitiesSetOwnerCmd(e), newIdentitiesAttestCmd(e))
	return cmd
}

// printIdentity writes one identity as a table of fields or as JSON.
func printIdentity(e *env, output string, i *steward.IdentityView) error {
	if output == "json" {
		return writeJSON(e.stdout, i)
	}
	owner := orDash(ownerLabel(*i))
	if i.OwnerSource != steward.OwnerNone {
		owner += " (" + string(i.OwnerSource) + ")"
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
		{"ID", strconv.FormatInt(i.ID, 10)}, {"Name", i.Name}, {"External ID", i.ExternalID}, {"Kind", string(i.Kind)},
		{"System", i.SystemName}, {"Environment", string(i.Environment)}, {"Criticality", string(i.Criticality)},
		{"Owner", owner}, {"Team", orDash(i.TeamName)}, {"Status", string(i.Status)},
		{"Created", fmtTime(&i.CreatedAt)}, {"Last used", fmtTime(i.LastUsedAt)}, {"Attested", attested},
		{"Oldest credential", credentialAge(i.OldestCredentialAt)},
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
	var output, system, owner, team string
	var ownerID, teamID int64
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-owner NAME|ID [--system SYSTEM] (--owner PERSON | --team TEAM | --clear)",
		Short: "Assign an identity's owner and team explicitly",
		Long: `Assign an identity's owner (a person, by e-mail address or external id) and
team (by name) explicitly. An explicit assignment is kept until someone
assigns again: syncs, source tags and ownership rules do not change it. What
is not given is left unset: --owner alone assigns no team. --clear removes
the assignment and hands the identity back to source tags and ownership
rules at the next sync or 'steward apply'. The identity is named as for
'identities get'.`,
		Example: `  steward identities set-owner etl-loader --system aws-prod --owner ada@example.com --team payments
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
			var a steward.OwnerAssignment
			switch {
			case fl.Changed("owner"):
				p, err := c.findPerson(ctx, owner)
				if err != nil {
					return err
				}
				a.OwnerID = &p.ID
			case fl.Changed("owner-id"):
				a.OwnerID = &ownerID
			}
			switch {
			case fl.Changed("team"):
				t, err := c.findTeam(ctx, team)
				if err != nil {
					return err
				}
				a.TeamID = &t.ID
			case fl.Changed("team-id"):
				a.TeamID = &teamID
			}
			var v steward.IdentityView
			if err := c.send(ctx, http.MethodPut, "/api/v1/identities/"+strconv.FormatInt(i.ID, 10)+"/owner", a, &v); err != nil {
				return err
			}
			return printIdentity(e, output, &v)
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
	var c client
	var output, note, system, person string
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
			if fl.Changed("person") {
				p, err := c.findPerson(ctx, person)
				if err != nil {
					return err
				}
				personID = p.ID
			}
			var v steward.IdentityView
			a := steward.Attestation{PersonID: personID, Note: note}
			if err := c.send(ctx, http.MethodPost, "/api/v1/identities/"+strconv.FormatInt(i.ID, 10)+"/attest", a, &v); err != nil {
				return err
			}
			return printIdentity(e, output, &v)
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

// credentialAge says when the oldest credential was last rotated (or
// created) and how long ago.
func credentialAge(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(t) + " (" + steward.HumanAge(*t, time.Now()) + " ago)"
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
