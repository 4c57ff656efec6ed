package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

// apiFlags are the flags of a command that calls a Steward server's REST
// API, from which it makes the generated client.
type apiFlags struct {
	server, token string
	http          *http.Client // nil: the client's default
}

// addClientFlags adds --server, --token and -o.
func addClientFlags(cmd *cobra.Command, c *apiFlags, output *string) {
	addServerFlags(cmd, c)
	addOutputFlag(cmd, output)
}

// addServerFlags adds --server and --token, for a command whose output
// has one format (the CSV export).
func addServerFlags(cmd *cobra.Command, c *apiFlags) {
	cmd.Flags().StringVar(&c.server, "server", "http://127.0.0.1:8080", "Steward server URL")
	cmd.Flags().StringVar(&c.token, "token", "", "API token (better set STEWARD_TOKEN, which stays out of shell history)")
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
	return c.newClient(client.New)
}

// streaming returns the client for an answer read as it arrives (the CSV
// export): no bound on its size or on how long it lasts. Its raw methods'
// answers go through client.CheckResponse.
func (c *apiFlags) streaming() (*client.ClientWithResponses, error) {
	return c.newClient(client.NewStreaming)
}

func (c *apiFlags) newClient(newFn func(server, token string, hc *http.Client) (*client.ClientWithResponses, error)) (*client.ClientWithResponses, error) {
	if c.token == "" {
		return nil, steward.Errorf(steward.EUNAUTHORIZED, "no API token: set STEWARD_TOKEN or pass --token (create one with 'steward token create').")
	}
	api, err := newFn(c.server, c.token, c.http)
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "--server %q is not an http(s) URL.", c.server)
	}
	return api, nil
}

func newIdentitiesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "identities", Aliases: []string{"identity", "id"}, Short: "List, count, export and show identities, set their owner and attest them, through the API"}
	cmd.AddCommand(newIdentitiesListCmd(e), newIdentitiesCountCmd(e), newIdentitiesExportCmd(e), newIdentitiesGetCmd(e),
		newIdentitiesSetOwnerCmd(e), newIdentitiesAttestCmd(e))
	return cmd
}

// identityFlags are the filters of identities list, count and export, as
// the API takes them: people, teams and systems by name.
type identityFlags struct {
	kind, env, status, q, gap, system, owner, team, name string
	credOlder, unused                                    int
	neverUsed                                            bool
	systemID, ownerID, teamID                            int64 // older id flags, hidden
}

func (f *identityFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.system, "system", "", "only identities on this system (its name)")
	fs.StringVar(&f.owner, "owner", "", "only identities owned by this person (e-mail address or external id)")
	fs.StringVar(&f.team, "team", "", "only identities of this team (its name)")
	fs.StringVar(&f.kind, "kind", "", "identity kind: human, service_account, api_key, token, secret, certificate, workload, bot")
	fs.StringVar(&f.env, "environment", "", "environment: prod, staging or dev")
	fs.StringVar(&f.status, "status", "", "status: active, disabled or removed")
	fs.StringVarP(&f.q, "query", "q", "", "substring of the name or external id")
	fs.StringVar(&f.name, "name", "", "exactly this name")
	fs.StringVar(&f.gap, "gap", "", "only identities with an open ownership gap of this kind: unowned, owner_departed or team_inactive")
	fs.IntVar(&f.credOlder, "credential-older-than", 0, "only identities whose oldest credential was last rotated (or created) more than this many days ago")
	fs.IntVar(&f.unused, "unused-for", 0, "only identities last used more than this many days ago (not the never used: see --never-used)")
	fs.BoolVar(&f.neverUsed, "never-used", false, "only identities with no last use")
	// The id flags of earlier releases still work; names are what people
	// type.
	fs.Int64Var(&f.systemID, "system-id", 0, "only identities on the system with this id")
	fs.Int64Var(&f.ownerID, "owner-id", 0, "only identities owned by the person with this id")
	fs.Int64Var(&f.teamID, "team-id", 0, "only identities of the team with this id")
	for _, n := range []string{"system-id", "owner-id", "team-id"} {
		_ = fs.MarkHidden(n)
	}
}

// params returns the filters as the list's parameters; a flag left unset
// sends nothing. The caller adds the sort and the page.
func (f *identityFlags) params() client.ListIdentitiesParams {
	return client.ListIdentitiesParams{
		Kind:                nonZero(client.IdentityKind(f.kind)),
		System:              nonZero(f.system),
		SystemId:            nonZero(f.systemID),
		Owner:               nonZero(f.owner),
		OwnerId:             nonZero(f.ownerID),
		Team:                nonZero(f.team),
		TeamId:              nonZero(f.teamID),
		Environment:         nonZero(client.Environment(f.env)),
		Status:              nonZero(client.IdentityStatus(f.status)),
		Gap:                 nonZero(client.GapKind(f.gap)),
		Q:                   nonZero(f.q),
		Name:                nonZero(f.name),
		CredentialOlderThan: nonZero(f.credOlder),
		UnusedFor:           nonZero(f.unused),
		NeverUsed:           nonZero(f.neverUsed),
	}
}

// countParams are the list's filters as the count takes them: all but
// the sort and the page. TestIdentityParamsCopied holds it to every field.
func countParams(p client.ListIdentitiesParams) client.CountIdentitiesParams {
	return client.CountIdentitiesParams{
		Kind: p.Kind, System: p.System, SystemId: p.SystemId, Owner: p.Owner, OwnerId: p.OwnerId, Team: p.Team, TeamId: p.TeamId,
		Environment: p.Environment, Status: p.Status, Gap: p.Gap, Q: p.Q, Name: p.Name, ExternalId: p.ExternalId,
		CredentialOlderThan: p.CredentialOlderThan, UnusedFor: p.UnusedFor, NeverUsed: p.NeverUsed,
	}
}

// exportParams are the list's filters and sort as the export takes them:
// all but the page.
func exportParams(p client.ListIdentitiesParams) client.ExportIdentitiesParams {
	return client.ExportIdentitiesParams{
		Kind: p.Kind, System: p.System, SystemId: p.SystemId, Owner: p.Owner, OwnerId: p.OwnerId, Team: p.Team, TeamId: p.TeamId,
		Environment: p.Environment, Status: p.Status, Gap: p.Gap, Q: p.Q, Name: p.Name, ExternalId: p.ExternalId,
		CredentialOlderThan: p.CredentialOlderThan, UnusedFor: p.UnusedFor, NeverUsed: p.NeverUsed, Sort: p.Sort,
	}
}

// sortFlag is --sort, checked by the domain's list of sorts.
type sortFlag string

func (s *sortFlag) String() string { return string(*s) }
func (s *sortFlag) Type() string   { return "order" }
func (s *sortFlag) Set(v string) error {
	if err := steward.IdentitySort(v).Validate(); err != nil {
		return errors.New(steward.ErrorMessage(err))
	}
	*s = sortFlag(v)
	return nil
}

// param is the sort as the API takes it; nil when not given.
func (s sortFlag) param() *client.IdentitySort { return nonZero(client.IdentitySort(s)) }

func sortHelp() string {
	names := make([]string, len(steward.IdentitySorts))
	for i, s := range steward.IdentitySorts {
		names[i] = string(s)
	}
	return "order: " + strings.Join(names, ", ") + " (times oldest first; '-' reverses; unknown times last); by id when not given"
}

func newIdentitiesListCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, after string
	var f identityFlags
	var sort sortFlag
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List identities, filtered, sorted and paginated",
		Long: `List identities from a Steward server. Filters combine; people, teams and
systems are named as people know them (a person by e-mail address or
external id). With -o table the count of all that match and the cursor of
the next page are printed to stderr; pass the cursor back with --after.`,
		Example: `  steward identities list --system aws-prod --team payments
  steward identities list --owner alice@example.com --sort -credential_age
  steward identities list --credential-older-than 365 --sort credential_age
  steward identities list --unused-for 90 --kind api_key -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			p := f.params()
			p.Sort, p.Limit, p.After = sort.param(), nonZero(limit), nonZero(after)
			r, err := api.ListIdentitiesWithResponse(ctx, &p)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			now := time.Now()
			if err := printPage(e, output, r.Body, r.JSON200.Items, nil,
				"ID\tNAME\tKIND\tSYSTEM\tENV\tOWNER\tTEAM\tSTATUS\tLAST USED\tCREDENTIAL AGE", func(i client.IdentityView) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", i.Id, i.Name, i.Kind, deref(i.SystemName), i.Environment,
						orDash(ownerLabel(i)), orDash(deref(i.TeamName)), i.Status, fmtTime(i.LastUsedAt), fmtAge(now, i.OldestCredentialAt))
				}); err != nil {
				return err
			}
			cp := countParams(p)
			n, err := api.CountIdentitiesWithResponse(ctx, &cp)
			if err := client.Check(n, err); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "%s of %s\n", plural(len(r.JSON200.Items), "identity", "identities"), countText(*n.JSON200))
			if next := deref(r.JSON200.Next); next != "" {
				fmt.Fprintf(e.stderr, "next page: --after %s\n", next)
			}
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	f.add(cmd.Flags())
	cmd.Flags().Var(&sort, "sort", sortHelp())
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("page size, 1 to %d (default %d)", steward.MaxLimit, steward.DefaultLimit))
	cmd.Flags().StringVar(&after, "after", "", "cursor of the page to show, from the previous page")
	return cmd
}

// countText says a count as a person reads it: "1,234", or "about 130,000"
// when the server estimated it.
func countText(n client.Count) string {
	if n.Estimated {
		return "about " + steward.GroupThousands(int64(n.Count))
	}
	return steward.GroupThousands(int64(n.Count))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return steward.GroupThousands(int64(n)) + " " + many
}

// fmtAge is how long ago t was, in steward.HumanAge's words; "-" for no
// time.
func fmtAge(now time.Time, t *time.Time) string {
	if t == nil {
		return "-"
	}
	return steward.HumanAge(*t, now)
}

func newIdentitiesCountCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	var f identityFlags
	cmd := &cobra.Command{
		Use:   "count",
		Short: "Count the identities that match filters",
		Long: `Count the identities that match the filters of 'identities list'. Up to
10,000 the count is exact; above, the server estimates it from a sample and
it is printed as "about N" (-o json: "estimated": true).`,
		Example: `  steward identities count --team payments --never-used`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			p := countParams(f.params())
			r, err := api.CountIdentitiesWithResponse(cmd.Context(), &p)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			_, err = fmt.Fprintln(e.stdout, countText(*r.JSON200))
			return err
		},
	}
	addClientFlags(cmd, &c, &output)
	f.add(cmd.Flags())
	return cmd
}

func newIdentitiesExportCmd(e *env) *cobra.Command {
	var c apiFlags
	var file string
	var f identityFlags
	var sort sortFlag
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the identities that match filters as CSV",
		Long: `Write every identity that matches the filters of 'identities list', in the
order of --sort, as CSV with a header row: to standard output, or to --file.
The server streams it a page at a time and the CLI writes it as it comes,
so an export of a million identities takes no more memory than one of
ten. An export that breaks off is an error (exit 6), and its --file is
removed rather than left short.`,
		Example: `  steward identities export --credential-older-than 365 --sort credential_age --file old-keys.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.streaming()
			if err != nil {
				return err
			}
			p := f.params()
			p.Sort = sort.param()
			ep := exportParams(p)
			resp, err := api.ExportIdentities(cmd.Context(), &ep, accept("text/csv"))
			if err := client.CheckResponse(resp, err); err != nil {
				return err
			}
			defer resp.Body.Close()
			if file == "" {
				return copyExport(e.stdout, resp.Body, c.server)
			}
			fh, err := os.Create(file) // #nosec G304 -- the file the user asked the export to be written to
			if err != nil {
				return steward.Errorf(steward.EINVALID, "cannot write %s: %v", file, err)
			}
			err = copyExport(fh, resp.Body, c.server)
			if cerr := fh.Close(); err == nil && cerr != nil {
				err = steward.Errorf(steward.EINVALID, "cannot write %s: %v", file, cerr)
			}
			if err != nil {
				_ = os.Remove(file)
			}
			return err
		},
	}
	addServerFlags(cmd, &c)
	f.add(cmd.Flags())
	cmd.Flags().Var(&sort, "sort", sortHelp())
	cmd.Flags().StringVar(&file, "file", "", "write to this file instead of standard output")
	return cmd
}

// accept asks for an answer of the media type mt instead of the JSON the
// client asks for by default.
func accept(mt string) client.RequestEditorFn {
	return func(ctx context.Context, req *http.Request) error {
		req.Header.Set("Accept", mt)
		return nil
	}
}

// copyExport copies an export's body to w as it arrives, telling a
// download that broke off from a write that failed.
func copyExport(w io.Writer, body io.Reader, server string) error {
	src := &readErr{r: body}
	if _, err := io.Copy(w, src); err != nil {
		if src.err != nil {
			return steward.Errorf(steward.EUNAVAILABLE, "the export from %s broke off: %v", server, src.err)
		}
		return steward.Errorf(steward.EINVALID, "cannot write the export: %v", err)
	}
	return nil
}

// readErr remembers the error of its reader.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// grantsShown bounds the grants 'identities get' lists; an identity with
// more says so.
const grantsShown = 200

// fullIdentity is what 'identities get' shows: the identity, its
// credentials, its grants and its open ownership gaps, as the web identity
// page shows them; each as decoded, for the table, and as the server sent
// it, for -o json.
type fullIdentity struct {
	identity                           client.IdentityView
	credentials                        []client.Credential
	grants                             []client.GrantView
	moreGrants                         bool
	gaps                               []client.GapKind
	links                              []client.IdentityLink
	raw, rawCreds, rawGrants, rawLinks json.RawMessage
}

func newIdentitiesGetCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, system string
	cmd := &cobra.Command{
		Use:   "get NAME|ID [--system SYSTEM]",
		Short: "Show one identity with its credentials, grants, links and ownership gaps",
		Long: `Show one identity: its fields, who owns it and why, who attested it, its
credentials with their ages, what it is granted, the identities it is
linked to (a service account that assumes a cloud role, either end), and
its open ownership gaps. Name it by its name or external id within
--system, by a name unique across systems, or by id. -o json prints the
identity as the server answered it, with "credentials", "grants" (the
first 200; "more_grants": true when there are more), "links" and "gaps"
added.`,
		Example: `  steward identities get etl-loader --system aws-prod
  steward identities get arn:aws:iam::123456789012:user/etl-loader --system aws-prod
  steward identities get 4711 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			i, raw, err := findIdentity(ctx, api, args[0], system)
			if err != nil {
				return err
			}
			d := fullIdentity{identity: *i, raw: raw, gaps: []client.GapKind{}}
			creds, err := api.ListCredentialsWithResponse(ctx, i.Id)
			if err := client.Check(creds, err); err != nil {
				return err
			}
			d.credentials = creds.JSON200.Items
			if d.rawCreds, err = pageItems(creds.Body); err != nil {
				return err
			}
			grants, err := api.ListGrantsWithResponse(ctx, &client.ListGrantsParams{IdentityId: &i.Id, Limit: client.Ptr(grantsShown)})
			if err := client.Check(grants, err); err != nil {
				return err
			}
			d.grants, d.moreGrants = grants.JSON200.Items, deref(grants.JSON200.Next) != ""
			if d.rawGrants, err = pageItems(grants.Body); err != nil {
				return err
			}
			links, err := api.ListIdentityLinksWithResponse(ctx, i.Id)
			if err := client.Check(links, err); err != nil {
				return err
			}
			d.links = links.JSON200.Items
			if d.rawLinks, err = pageItems(links.Body); err != nil {
				return err
			}
			// Whether the identity has a gap of each kind: the gap's list
			// from just before it, one row.
			for _, g := range steward.GapKinds {
				r, err := api.ListIdentitiesWithResponse(ctx, &client.ListIdentitiesParams{
					Gap: client.Ptr(client.GapKind(g)), After: client.Ptr(steward.Cursor(i.Id - 1)), Limit: client.Ptr(1)})
				if err := client.Check(r, err); err != nil {
					return err
				}
				if len(r.JSON200.Items) == 1 && r.JSON200.Items[0].Id == i.Id {
					d.gaps = append(d.gaps, client.GapKind(g))
				}
			}
			if output == "json" {
				return writeFullIdentity(e.stdout, &d)
			}
			return printFullIdentity(ctx, e, api, &d)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&system, "system", "", "the system the identity is on (its name), to name the identity by name or external id")
	return cmd
}

// writeFullIdentity writes the identity as the server sent it, every
// field in its order, with its credentials, grants and gaps added.
func writeFullIdentity(w io.Writer, d *fullIdentity) error {
	gaps, err := json.Marshal(d.gaps)
	if err != nil {
		return err
	}
	members := []member{{"credentials", d.rawCreds}, {"grants", d.rawGrants}}
	if d.moreGrants {
		members = append(members, member{"more_grants", json.RawMessage("true")})
	}
	out, err := appendMembers(d.raw, append(members, member{"links", d.rawLinks}, member{"gaps", gaps})...)
	if err != nil {
		return err
	}
	return writeAnswer(w, out)
}

// member is one name and value of a JSON object.
type member struct {
	name  string
	value json.RawMessage
}

// appendMembers returns the JSON object obj with members added at its end.
func appendMembers(obj json.RawMessage, members ...member) ([]byte, error) {
	obj = bytes.TrimSpace(obj)
	if !json.Valid(obj) || obj[0] != '{' {
		return nil, fmt.Errorf("the server's answer is not a JSON object: %.64q", obj)
	}
	inner := bytes.TrimSpace(obj[1 : len(obj)-1])
	var b bytes.Buffer
	b.WriteByte('{')
	b.Write(inner)
	for i, m := range members {
		if len(inner) > 0 || i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// pageItems returns the items of a list page as the server sent them.
func pageItems(body []byte) (json.RawMessage, error) {
	var p struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &p); err != nil || len(p.Items) == 0 {
		return nil, fmt.Errorf("the server's answer is not a page of items: %.64q", body)
	}
	return p.Items, nil
}

// findIdentity finds the identity ref names: within system, by external id
// then by name; without, by a name unique across systems, or by id. It
// returns the identity also as the server sent it.
func findIdentity(ctx context.Context, api *client.ClientWithResponses, ref, system string) (*client.IdentityView, json.RawMessage, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil, steward.Errorf(steward.EINVALID, "name the identity.")
	}
	list := func(p client.ListIdentitiesParams) ([]client.IdentityView, []json.RawMessage, error) {
		p.Limit = client.Ptr(10)
		r, err := api.ListIdentitiesWithResponse(ctx, &p)
		if err := client.Check(r, err); err != nil {
			return nil, nil, err
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Items) != len(r.JSON200.Items) {
			return nil, nil, fmt.Errorf("the server's page of identities cannot be read: %v", err)
		}
		return r.JSON200.Items, page.Items, nil
	}
	var found []client.IdentityView
	var raw []json.RawMessage
	var err error
	if system != "" {
		if found, raw, err = list(client.ListIdentitiesParams{System: &system, ExternalId: &ref}); err != nil {
			return nil, nil, err
		}
	}
	if len(found) == 0 {
		if found, raw, err = list(client.ListIdentitiesParams{Name: &ref, System: nonZero(system)}); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case len(found) == 1:
		return &found[0], raw[0], nil
	case len(found) > 1:
		var where []string
		for _, x := range found {
			where = append(where, fmt.Sprintf("%d on %s", x.Id, deref(x.SystemName)))
		}
		return nil, nil, steward.Errorf(steward.EINVALID, "%d identities are named %q (%s); name the system with --system, or give the id.",
			len(found), ref, strings.Join(where, ", "))
	}
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil && id > 0 {
		r, err := api.GetIdentityWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return nil, nil, err
		}
		if system != "" && deref(r.JSON200.SystemName) != system {
			return nil, nil, steward.Errorf(steward.ENOTFOUND, "Identity %d is on %s, not on %s.", id, deref(r.JSON200.SystemName), system)
		}
		return r.JSON200, r.Body, nil
	}
	if system != "" {
		return nil, nil, steward.Errorf(steward.ENOTFOUND, "No identity on %s has the name or external id %q.", system, ref)
	}
	return nil, nil, steward.Errorf(steward.ENOTFOUND, "No identity is named %q; to find one by external id, name its system with --system.", ref)
}

// printFullIdentity writes the identity's fields, then its gaps,
// credentials, grants and links as tables.
func printFullIdentity(ctx context.Context, e *env, api *client.ClientWithResponses, d *fullIdentity) error {
	gaps := make([]string, len(d.gaps))
	for i, g := range d.gaps {
		gaps[i] = string(g)
	}
	if err := printIdentity(ctx, e, api, "table", nil, &d.identity, [2]string{"Ownership gaps", orDash(strings.Join(gaps, ", "))}); err != nil {
		return err
	}
	now := time.Now()
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nCredentials (%s):\n", steward.GroupThousands(int64(len(d.credentials))))
	if len(d.credentials) > 0 {
		fmt.Fprintln(w, "KIND\tEXTERNAL ID\tSTATUS\tCREATED\tLAST ROTATED\tAGE\tLAST USED\tEXPIRES\tFINGERPRINT")
		for _, cr := range d.credentials {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.Kind, orDash(deref(cr.ExternalId)), cr.Status, fmtTime(cr.CreatedAt),
				fmtTime(cr.LastRotatedAt), fmtAge(now, credentialSince(cr)), fmtTime(cr.LastUsedAt), fmtTime(cr.ExpiresAt),
				orDash(shortFingerprint(deref(cr.Fingerprint))))
		}
	}
	more := ""
	if d.moreGrants {
		more = ", the first " + steward.GroupThousands(grantsShown)
	}
	fmt.Fprintf(w, "\nGrants (%s%s):\n", steward.GroupThousands(int64(len(d.grants))), more)
	if len(d.grants) > 0 {
		systems := systemNamer(ctx, api)
		fmt.Fprintln(w, "ENTITLEMENT\tSYSTEM\tTYPE\tPRIVILEGED\tGRANTED\tEXPIRES\tVIA")
		for _, g := range d.grants {
			priv := "no"
			if g.Privileged {
				priv = "yes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.EntitlementName, systems(&g.SystemId), g.Type, priv,
				fmtTime(&g.GrantedAt), fmtTime(g.ExpiresAt), orDash(g.GrantedVia))
		}
	}
	fmt.Fprintf(w, "\nLinked identities (%s):\n", steward.GroupThousands(int64(len(d.links))))
	if len(d.links) > 0 {
		fmt.Fprintln(w, "LINK\tIDENTITY\tSYSTEM\tSINCE")
		for _, l := range d.links {
			link, name, system := linkRow(d.identity.Id, l)
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", link, name, system, fmtTime(&l.CreatedAt))
		}
	}
	return w.Flush()
}

// linkRow says a link as the identity id sees it, as the web identity
// page does: "assumes" the other identity, or "assumes this" from it. A
// link to an identity no import has brought yet is pending, named by the
// reference its source gave.
func linkRow(id int64, l client.IdentityLink) (link, name, system string) {
	if l.FromId != id {
		return string(l.Kind) + " this", l.FromName, l.FromSystem
	}
	if l.ToId == nil {
		return string(l.Kind), l.ToRef + " (pending)", "-"
	}
	name = deref(l.ToName)
	if l.ToStatus != nil && *l.ToStatus == client.IdentityStatusRemoved {
		name += " (removed)"
	}
	return string(l.Kind), name, deref(l.ToSystem)
}

// credentialSince is when a credential was last rotated, or created; nil
// when its source says neither.
func credentialSince(c client.Credential) *time.Time {
	if c.LastRotatedAt != nil {
		return c.LastRotatedAt
	}
	return c.CreatedAt
}

func shortFingerprint(f string) string {
	if len(f) > 16 {
		return f[:16] + "…"
	}
	return f
}

// printIdentity writes one identity as a table of fields, and the rows of
// more after them, or with -o json the answer as it came. It asks api for
// the name of the person who attested the identity.
func printIdentity(ctx context.Context, e *env, api *client.ClientWithResponses, output string, body []byte, i *client.IdentityView, more ...[2]string) error {
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
		created = fmtTime(i.CreatedAt)
	}
	attested := "-"
	if i.AttestedAt != nil {
		attested = fmtTime(i.AttestedAt)
		if i.AttestedBy != nil {
			attested += " by " + personWithKey(ctx, api, *i.AttestedBy)
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, row := range append([][2]string{
		{"ID", strconv.FormatInt(i.Id, 10)}, {"Name", i.Name}, {"External ID", i.ExternalId}, {"Kind", string(i.Kind)},
		{"System", deref(i.SystemName)}, {"Environment", string(i.Environment)}, {"Criticality", string(i.Criticality)},
		{"Owner", owner}, {"Team", team}, {"Status", string(i.Status)},
		{"Created", created}, {"Last used", fmtTime(i.LastUsedAt)}, {"Attested", attested},
		{"Oldest credential", credentialAge(i.OldestCredentialAt)},
	}, more...) {
		fmt.Fprintf(w, "%s:\t%s\n", row[0], row[1])
	}
	return w.Flush()
}

// credentialAge says when the oldest credential was last rotated (or
// created) and how long ago.
func credentialAge(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(t) + " (" + steward.RelativeTime(time.Now(), *t) + ")"
}

func newIdentitiesSetOwnerCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, system, owner, team string
	var ownerID, teamID int64
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-owner NAME|ID [--system SYSTEM] (--owner PERSON | --team TEAM | --clear)",
		Short: "Assign an identity's owner and team explicitly",
		Long: `Assign an identity's owner (a person, by e-mail address or external id) and
team (by name) explicitly. An explicit assignment is kept until someone
assigns again: syncs, source tags and ownership rules do not change it.
--owner alone gives the identity its owner's team, which follows the owner
if they move; --team names a team that stays. --clear removes the
assignment and hands the identity back to source tags and ownership rules
at its next re-resolution (a sync that changes it, a people sync, 'steward
apply'). The identity is named as for 'identities get'.`,
		Example: `  steward identities set-owner etl-loader --system aws-prod --owner ada@example.com --team payments
  steward identities set-owner 4711 --clear`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			set := fl.Changed("owner") || fl.Changed("team") || fl.Changed("owner-id") || fl.Changed("team-id")
			if clear == set {
				return usageError{errors.New("give --owner and/or --team, or --clear")}
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			i, _, err := findIdentity(ctx, api, args[0], system)
			if err != nil {
				return err
			}
			var a client.OwnerAssignment
			switch {
			case fl.Changed("owner"):
				p, err := findPerson(ctx, api, owner)
				if err != nil {
					return err
				}
				a.OwnerId = &p.Id
			case fl.Changed("owner-id"):
				a.OwnerId = &ownerID
			}
			switch {
			case fl.Changed("team"):
				t, err := findTeam(ctx, api, team)
				if err != nil {
					return err
				}
				a.TeamId = &t.Id
			case fl.Changed("team-id"):
				a.TeamId = &teamID
			}
			r, err := api.SetIdentityOwnerWithResponse(ctx, i.Id, a)
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printIdentity(ctx, e, api, output, r.Body, r.JSON200)
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
	var output, note, system string
	cmd := &cobra.Command{
		Use:   "attest NAME|ID [--system SYSTEM] [--note TEXT]",
		Short: "Confirm, as its owner, that an identity is still needed",
		Long: `Record that you, the identity's owner, confirm it is yours and still needed.
You are the person your personal token belongs to ('steward whoami'); only
the owner may attest, not even an admin for them, and an automation token
cannot (exit 4). The date is kept on the identity and the note in the audit
log. The identity is named as for 'identities get'.`,
		Example: `  steward identities attest etl-loader --system aws-prod --note "used by the nightly export"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			i, _, err := findIdentity(ctx, api, args[0], system)
			if err != nil {
				return err
			}
			r, err := api.AttestIdentityWithResponse(ctx, i.Id, client.Attestation{Note: nonZero(note)})
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printIdentity(ctx, e, api, output, r.Body, r.JSON200)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&system, "system", "", "the system the identity is on (its name), to name the identity by name or external id")
	cmd.Flags().StringVar(&note, "note", "", "why the identity is still needed")
	return cmd
}

// newWhoamiCmd says who the token acts as.
func newWhoamiCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Say who your token acts as: name, kind, role and via",
		Long: `Ask the server who the API token acts as: the person of a personal token
or the automation identity of an automation token, its role, and what it
came through (token:NAME). Audit events written with the token name the
same principal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.WhoamiWithResponse(cmd.Context())
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			p := r.JSON200
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			for _, row := range [][2]string{{"Name", p.Name}, {"Kind", string(p.Kind)}, {"Role", string(p.Role)}, {"Via", orDash(deref(p.Via))}} {
				fmt.Fprintf(w, "%s:\t%s\n", row[0], row[1])
			}
			return w.Flush()
		},
	}
	addClientFlags(cmd, &c, &output)
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
