package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stewardhq/steward"
)

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

func (f *identityFlags) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	num := func(k string, n int64) {
		if n != 0 {
			v.Set(k, strconv.FormatInt(n, 10))
		}
	}
	set("kind", f.kind)
	set("environment", f.env)
	set("status", f.status)
	set("q", f.q)
	set("gap", f.gap)
	set("system", f.system)
	set("owner", f.owner)
	set("team", f.team)
	set("name", f.name)
	num("credential_older_than", int64(f.credOlder))
	num("unused_for", int64(f.unused))
	if f.neverUsed {
		v.Set("never_used", "true")
	}
	num("system_id", f.systemID)
	num("owner_id", f.ownerID)
	num("team_id", f.teamID)
	return v
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

func sortHelp() string {
	names := make([]string, len(steward.IdentitySorts))
	for i, s := range steward.IdentitySorts {
		names[i] = string(s)
	}
	return "order: " + strings.Join(names, ", ") + " (times oldest first; '-' reverses; unknown times last); by id when not given"
}

func newIdentitiesListCmd(e *env) *cobra.Command {
	var c client
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
			v := f.values()
			if sort != "" {
				v.Set("sort", string(sort))
			}
			if after != "" {
				v.Set("after", after)
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			var page steward.Page[steward.IdentityView]
			if err := c.get(cmd.Context(), "/api/v1/identities", v, &page); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, page)
			}
			now := time.Now()
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tKIND\tSYSTEM\tENV\tOWNER\tTEAM\tSTATUS\tLAST USED\tCREDENTIAL AGE")
			for _, i := range page.Items {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.Name, i.Kind, i.SystemName, i.Environment,
					orDash(ownerLabel(i)), orDash(i.TeamName), i.Status, fmtTime(i.LastUsedAt), fmtAge(now, i.OldestCredentialAt))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			var n steward.Count
			if err := c.get(cmd.Context(), "/api/v1/identities/count", f.values(), &n); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "%s of %s\n", plural(len(page.Items), "identity", "identities"), countText(n))
			if page.Next != "" {
				fmt.Fprintf(e.stderr, "next page: --after %s\n", page.Next)
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
func countText(n steward.Count) string {
	if n.Estimated {
		return "about " + steward.GroupThousands(n.N)
	}
	return steward.GroupThousands(n.N)
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
	var c client
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
			var n steward.Count
			if err := c.get(cmd.Context(), "/api/v1/identities/count", f.values(), &n); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, n)
			}
			_, err := fmt.Fprintln(e.stdout, countText(n))
			return err
		},
	}
	addClientFlags(cmd, &c, &output)
	f.add(cmd.Flags())
	return cmd
}

func newIdentitiesExportCmd(e *env) *cobra.Command {
	var c client
	var output, file string
	var f identityFlags
	var sort sortFlag
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the identities that match filters as CSV",
		Long: `Write every identity that matches the filters of 'identities list', in the
order of --sort, as CSV with a header row: to standard output, or to --file.
The server streams it a page at a time, so an export of a million identities
takes no more memory than one of ten.`,
		Example: `  steward identities export --credential-older-than 365 --sort credential_age --file old-keys.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := f.values()
			if sort != "" {
				v.Set("sort", string(sort))
			}
			out := e.stdout
			if file != "" {
				fh, err := os.Create(file)
				if err != nil {
					return steward.Errorf(steward.EINVALID, "cannot write %s: %v", file, err)
				}
				defer fh.Close()
				out = fh
			}
			if err := c.stream(cmd.Context(), "/api/v1/identities.csv", v, "text/csv", out); err != nil {
				return err
			}
			if fh, ok := out.(*os.File); ok && file != "" {
				return fh.Close()
			}
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	f.add(cmd.Flags())
	cmd.Flags().Var(&sort, "sort", sortHelp())
	cmd.Flags().StringVar(&file, "file", "", "write to this file instead of standard output")
	return cmd
}

// stream calls GET path?query accepting accept and copies the body to w
// as it arrives; a JSON error comes back as for get.
func (c *client) stream(ctx context.Context, path string, query url.Values, accept string, w io.Writer) error {
	resp, err := c.open(ctx, http.MethodGet, path, query, nil, accept)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return steward.Errorf(steward.EUNAVAILABLE, "the export from %s broke off: %v", c.server, err)
	}
	return nil
}

// identityDetail is what 'identities get' shows: the identity, its
// credentials, its grants and its open ownership gaps, as the web identity
// page shows them.
type identityDetail struct {
	steward.IdentityView
	Credentials []steward.Credential `json:"credentials"`
	Grants      []steward.GrantView  `json:"grants"`
	MoreGrants  bool                 `json:"more_grants,omitempty"`
	Gaps        []steward.GapKind    `json:"gaps"`
}

// grantsShown bounds the grants 'identities get' lists; an identity with
// more says so.
const grantsShown = 200

func newIdentitiesGetCmd(e *env) *cobra.Command {
	var c client
	var output, system string
	cmd := &cobra.Command{
		Use:   "get NAME|ID [--system SYSTEM]",
		Short: "Show one identity with its credentials, grants and ownership gaps",
		Long: `Show one identity: its fields, who owns it and why, its credentials with
their ages, what it is granted, and its open ownership gaps. Name it by its
name or external id within --system, by a name unique across systems, or
by id.`,
		Example: `  steward identities get etl-loader --system aws-prod
  steward identities get arn:aws:iam::123456789012:user/etl-loader --system aws-prod
  steward identities get 4711 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			i, err := c.findIdentity(ctx, args[0], system)
			if err != nil {
				return err
			}
			d := identityDetail{IdentityView: *i, Credentials: []steward.Credential{}, Grants: []steward.GrantView{}, Gaps: []steward.GapKind{}}
			var creds steward.Page[steward.Credential]
			if err := c.get(ctx, fmt.Sprintf("/api/v1/identities/%d/credentials", i.ID), nil, &creds); err != nil {
				return err
			}
			d.Credentials = append(d.Credentials, creds.Items...)
			var grants steward.Page[steward.GrantView]
			if err := c.get(ctx, "/api/v1/grants", url.Values{"identity_id": {strconv.FormatInt(i.ID, 10)}, "limit": {strconv.Itoa(grantsShown)}}, &grants); err != nil {
				return err
			}
			d.Grants, d.MoreGrants = append(d.Grants, grants.Items...), grants.Next != ""
			// Whether the identity has a gap of each kind: the gap's list
			// from just before it, one row.
			for _, g := range steward.GapKinds {
				var page steward.Page[steward.IdentityView]
				if err := c.get(ctx, "/api/v1/identities", url.Values{"gap": {string(g)}, "after": {steward.Cursor(i.ID - 1)}, "limit": {"1"}}, &page); err != nil {
					return err
				}
				if len(page.Items) == 1 && page.Items[0].ID == i.ID {
					d.Gaps = append(d.Gaps, g)
				}
			}
			if output == "json" {
				return writeJSON(e.stdout, d)
			}
			return printIdentityDetail(ctx, e, &c, &d)
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&system, "system", "", "the system the identity is on (its name), to name the identity by name or external id")
	return cmd
}

// findIdentity finds the identity ref names: within system, by external id
// then by name; without, by a name unique across systems, or by id.
func (c *client) findIdentity(ctx context.Context, ref, system string) (*steward.IdentityView, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, steward.Errorf(steward.EINVALID, "name the identity.")
	}
	list := func(v url.Values) ([]steward.IdentityView, error) {
		v.Set("limit", "10")
		var page steward.Page[steward.IdentityView]
		err := c.get(ctx, "/api/v1/identities", v, &page)
		return page.Items, err
	}
	var found []steward.IdentityView
	var err error
	if system != "" {
		if found, err = list(url.Values{"system": {system}, "external_id": {ref}}); err != nil {
			return nil, err
		}
	}
	if len(found) == 0 {
		v := url.Values{"name": {ref}}
		if system != "" {
			v.Set("system", system)
		}
		if found, err = list(v); err != nil {
			return nil, err
		}
	}
	switch {
	case len(found) == 1:
		return &found[0], nil
	case len(found) > 1:
		var where []string
		for _, x := range found {
			where = append(where, fmt.Sprintf("%d on %s", x.ID, x.SystemName))
		}
		return nil, steward.Errorf(steward.EINVALID, "%d identities are named %q (%s); name the system with --system, or give the id.",
			len(found), ref, strings.Join(where, ", "))
	}
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil && id > 0 {
		var i steward.IdentityView
		if err := c.get(ctx, "/api/v1/identities/"+strconv.FormatInt(id, 10), nil, &i); err != nil {
			return nil, err
		}
		if system != "" && i.SystemName != system {
			return nil, steward.Errorf(steward.ENOTFOUND, "Identity %d is on %s, not on %s.", id, i.SystemName, system)
		}
		return &i, nil
	}
	if system != "" {
		return nil, steward.Errorf(steward.ENOTFOUND, "No identity on %s has the name or external id %q.", system, ref)
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No identity is named %q; to find one by external id, name its system with --system.", ref)
}

// printIdentityDetail writes the identity's fields, then its credentials,
// grants and gaps as tables.
func printIdentityDetail(ctx context.Context, e *env, c *client, d *identityDetail) error {
	if err := printIdentity(e, "table", &d.IdentityView); err != nil {
		return err
	}
	now := time.Now()
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	gaps := make([]string, len(d.Gaps))
	for i, g := range d.Gaps {
		gaps[i] = string(g)
	}
	fmt.Fprintf(w, "Ownership gaps:\t%s\n", orDash(strings.Join(gaps, ", ")))
	fmt.Fprintf(w, "\nCredentials (%s):\n", steward.GroupThousands(int64(len(d.Credentials))))
	if len(d.Credentials) > 0 {
		fmt.Fprintln(w, "KIND\tEXTERNAL ID\tCREATED\tLAST ROTATED\tAGE\tLAST USED\tEXPIRES\tFINGERPRINT")
		for _, cr := range d.Credentials {
			age := "-"
			if t, ok := credentialSince(cr); ok {
				age = steward.HumanAge(t, now)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.Kind, orDash(cr.ExternalID), fmtTime(&cr.CreatedAt), fmtTime(cr.LastRotatedAt),
				age, fmtTime(cr.LastUsedAt), fmtTime(cr.ExpiresAt), orDash(shortFingerprint(cr.Fingerprint)))
		}
	}
	more := ""
	if d.MoreGrants {
		more = ", the first " + steward.GroupThousands(grantsShown)
	}
	fmt.Fprintf(w, "\nGrants (%s%s):\n", steward.GroupThousands(int64(len(d.Grants))), more)
	if len(d.Grants) > 0 {
		systems := map[int64]string{d.SystemID: d.SystemName}
		fmt.Fprintln(w, "ENTITLEMENT\tSYSTEM\tTYPE\tPRIVILEGED\tGRANTED\tEXPIRES\tVIA")
		for _, g := range d.Grants {
			name, ok := systems[g.SystemID]
			if !ok {
				var sys steward.System
				name = "system " + strconv.FormatInt(g.SystemID, 10)
				if err := c.get(ctx, "/api/v1/systems/"+strconv.FormatInt(g.SystemID, 10), nil, &sys); err == nil {
					name = sys.Name
				}
				systems[g.SystemID] = name
			}
			priv := "no"
			if g.Privileged {
				priv = "yes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.EntitlementName, name, g.Type, priv, fmtTime(&g.GrantedAt), fmtTime(g.ExpiresAt), orDash(g.GrantedVia))
		}
	}
	return w.Flush()
}

// credentialSince is when a credential was last rotated, or created.
func credentialSince(c steward.Credential) (time.Time, bool) {
	if c.LastRotatedAt != nil {
		return *c.LastRotatedAt, true
	}
	return c.CreatedAt, !c.CreatedAt.IsZero()
}

func shortFingerprint(f string) string {
	if len(f) > 16 {
		return f[:16] + "…"
	}
	return f
}

func newPeopleCmd(e *env) *cobra.Command {
	var c client
	var output, team, manager, status, q, after string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List people, filtered and paginated",
		Long: `List the people Steward knows (from the people source or the API): their
external id, name, e-mail address, team, manager and whether they have left.
With -o table the cursor of the next page is printed to stderr.`,
		Example: `  steward people list --team payments
  steward people list --manager alice@example.com --status active
  steward people list -q lovelace -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := url.Values{}
			for k, val := range map[string]string{"team": team, "manager": manager, "status": status, "q": q, "after": after} {
				if val != "" {
					v.Set(k, val)
				}
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			teams := names(cmd.Context(), &c, "/api/v1/teams/")
			people := names(cmd.Context(), &c, "/api/v1/people/")
			return listPage(cmd.Context(), e, &c, output, "/api/v1/people", v,
				"ID\tEXTERNAL ID\tNAME\tEMAIL\tTEAM\tMANAGER\tSTATUS", func(p steward.Person) string {
					status := string(p.Status)
					if p.DepartedAt != nil {
						status += " " + fmtTime(p.DepartedAt)
					}
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", p.ID, p.ExternalID, p.Name, orDash(p.Email), teams(p.TeamID), people(p.ManagerID), status)
				})
		},
	}
	addClientFlags(list, &c, &output)
	list.Flags().StringVar(&team, "team", "", "only people of this team (its name)")
	list.Flags().StringVar(&manager, "manager", "", "only people with this manager (e-mail address or external id)")
	list.Flags().StringVar(&status, "status", "", "active or departed")
	list.Flags().StringVarP(&q, "query", "q", "", "substring of the name, e-mail address or external id")
	list.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("page size, 1 to %d (default %d)", steward.MaxLimit, steward.DefaultLimit))
	list.Flags().StringVar(&after, "after", "", "cursor of the page to show, from the previous page")
	cmd := &cobra.Command{Use: "people", Aliases: []string{"person"}, Short: "List people through the API"}
	cmd.AddCommand(list)
	return cmd
}

func newTeamsCmd(e *env) *cobra.Command {
	var c client
	var output, q, after string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Short:   "List teams, filtered and paginated",
		Example: `  steward teams list -q pay`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := url.Values{}
			if q != "" {
				v.Set("q", q)
			}
			if after != "" {
				v.Set("after", after)
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			people := names(cmd.Context(), &c, "/api/v1/people/")
			return listPage(cmd.Context(), e, &c, output, "/api/v1/teams", v,
				"ID\tNAME\tDISPLAY NAME\tMANAGER", func(t steward.Team) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s", t.ID, t.Name, orDash(t.DisplayName), people(t.ManagerID))
				})
		},
	}
	addClientFlags(list, &c, &output)
	list.Flags().StringVarP(&q, "query", "q", "", "substring of the name or display name")
	list.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("page size, 1 to %d (default %d)", steward.MaxLimit, steward.DefaultLimit))
	list.Flags().StringVar(&after, "after", "", "cursor of the page to show, from the previous page")
	cmd := &cobra.Command{Use: "teams", Aliases: []string{"team"}, Short: "List teams through the API"}
	cmd.AddCommand(list)
	return cmd
}

func newSystemsCmd(e *env) *cobra.Command {
	var c client
	var output, kind, q, after string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Short:   "List systems, filtered and paginated",
		Example: `  steward systems list --kind aws`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := url.Values{}
			for k, val := range map[string]string{"kind": kind, "q": q, "after": after} {
				if val != "" {
					v.Set(k, val)
				}
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			teams := names(cmd.Context(), &c, "/api/v1/teams/")
			return listPage(cmd.Context(), e, &c, output, "/api/v1/systems", v,
				"ID\tNAME\tKIND\tOWNER TEAM\tDESCRIPTION", func(s steward.System) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s", s.ID, s.Name, s.Kind, teams(s.OwnerTeamID), orDash(s.Description))
				})
		},
	}
	addClientFlags(list, &c, &output)
	list.Flags().StringVar(&kind, "kind", "", "system kind: aws, azure, gcp, kubernetes, github, postgres, vault, ldap, okta, saas or other")
	list.Flags().StringVarP(&q, "query", "q", "", "substring of the name or description")
	list.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("page size, 1 to %d (default %d)", steward.MaxLimit, steward.DefaultLimit))
	list.Flags().StringVar(&after, "after", "", "cursor of the page to show, from the previous page")
	cmd := &cobra.Command{Use: "systems", Aliases: []string{"system"}, Short: "List systems through the API"}
	cmd.AddCommand(list)
	return cmd
}

// names returns a function that names a team or person by id for a table
// (its name, or its e-mail address for a person), asking the API once per
// id; "-" for none.
func names(ctx context.Context, c *client, collection string) func(*int64) string {
	known := map[int64]string{}
	return func(id *int64) string {
		if id == nil {
			return "-"
		}
		if n, ok := known[*id]; ok {
			return n
		}
		var v struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		}
		n := strconv.FormatInt(*id, 10)
		if err := c.get(ctx, collection+n, nil, &v); err == nil {
			n = v.Name
			if v.Email != "" {
				n = v.Email
			}
		}
		known[*id] = n
		return n
	}
}

// findPerson finds the person whose e-mail address (any case) or external
// id is ref, or failing that whose id it is, through the people search.
func (c *client) findPerson(ctx context.Context, ref string) (*steward.Person, error) {
	var page steward.Page[steward.Person]
	if err := c.get(ctx, "/api/v1/people", url.Values{"q": {ref}, "limit": {strconv.Itoa(steward.MaxLimit)}}, &page); err != nil {
		return nil, err
	}
	var found []steward.Person
	for _, p := range page.Items {
		if p.ExternalID == ref {
			return &p, nil
		} else if strings.EqualFold(p.Email, ref) || strings.EqualFold(p.ExternalID, ref) {
			found = append(found, p)
		}
	}
	switch {
	case len(found) == 1:
		return &found[0], nil
	case len(found) > 1:
		return nil, steward.Errorf(steward.EINVALID, "Several people have the e-mail address %q; name one by external id.", ref)
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		var p steward.Person
		if err := c.get(ctx, "/api/v1/people/"+ref, nil, &p); err == nil {
			return &p, nil
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return nil, err
		}
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No person has the e-mail address or external id %q.", ref)
}

// findTeam finds the team named ref, or failing that whose id it is.
func (c *client) findTeam(ctx context.Context, ref string) (*steward.Team, error) {
	var page steward.Page[steward.Team]
	if err := c.get(ctx, "/api/v1/teams", url.Values{"q": {ref}, "limit": {strconv.Itoa(steward.MaxLimit)}}, &page); err != nil {
		return nil, err
	}
	for _, t := range page.Items {
		if t.Name == ref {
			return &t, nil
		}
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		var t steward.Team
		if err := c.get(ctx, "/api/v1/teams/"+ref, nil, &t); err == nil {
			return &t, nil
		} else if !steward.IsCode(err, steward.ENOTFOUND) {
			return nil, err
		}
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No team is named %q.", ref)
}
