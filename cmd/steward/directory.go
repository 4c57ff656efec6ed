package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

// The people, teams and systems of a server, listed through the API, and
// the lookups that let the other commands take them by name.

func newPeopleCmd(e *env) *cobra.Command {
	var c apiFlags
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
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, err := api.ListPeopleWithResponse(ctx, &client.ListPeopleParams{
				Team:    nonZero(team),
				Manager: nonZero(manager),
				Status:  nonZero(client.PersonStatus(status)),
				Q:       nonZero(q),
				Limit:   nonZero(limit),
				After:   nonZero(after),
			})
			if err := client.Check(r, err); err != nil {
				return err
			}
			teams, people := teamNamer(ctx, api), personNamer(ctx, api)
			return printPage(e, output, r.Body, r.JSON200.Items, r.JSON200.Next,
				"ID\tEXTERNAL ID\tNAME\tEMAIL\tTEAM\tMANAGER\tSTATUS", func(p client.Person) string {
					status := string(p.Status)
					if p.DepartedAt != nil {
						status += " " + fmtTime(p.DepartedAt)
					}
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", p.Id, p.ExternalId, p.Name, orDash(p.Email), teams(p.TeamId), people(p.ManagerId), status)
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
	var c apiFlags
	var output, q, after string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Short:   "List teams, filtered and paginated",
		Example: `  steward teams list -q pay`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, err := api.ListTeamsWithResponse(ctx, &client.ListTeamsParams{Q: nonZero(q), Limit: nonZero(limit), After: nonZero(after)})
			if err := client.Check(r, err); err != nil {
				return err
			}
			people := personNamer(ctx, api)
			return printPage(e, output, r.Body, r.JSON200.Items, r.JSON200.Next,
				"ID\tNAME\tDISPLAY NAME\tMANAGER", func(t client.Team) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s", t.Id, t.Name, orDash(t.DisplayName), people(t.ManagerId))
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
	var c apiFlags
	var output, kind, q, after string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Short:   "List systems, filtered and paginated",
		Example: `  steward systems list --kind aws`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, err := api.ListSystemsWithResponse(ctx, &client.ListSystemsParams{
				Kind:  nonZero(client.SystemKind(kind)),
				Q:     nonZero(q),
				Limit: nonZero(limit),
				After: nonZero(after),
			})
			if err := client.Check(r, err); err != nil {
				return err
			}
			teams := teamNamer(ctx, api)
			return printPage(e, output, r.Body, r.JSON200.Items, r.JSON200.Next,
				"ID\tNAME\tKIND\tOWNER TEAM\tDESCRIPTION", func(s client.System) string {
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s", s.Id, s.Name, s.Kind, teams(s.OwnerTeamId), orDash(deref(s.Description)))
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

// namer returns a function that names what an id refers to for a table,
// asking lookup once per id: "-" for none, the id itself when the server
// cannot say (a table is still worth printing).
func namer(lookup func(id int64) (string, error)) func(*int64) string {
	known := map[int64]string{}
	return func(id *int64) string {
		if id == nil {
			return "-"
		}
		if n, ok := known[*id]; ok {
			return n
		}
		n, err := lookup(*id)
		if err != nil || n == "" {
			n = strconv.FormatInt(*id, 10)
		}
		known[*id] = n
		return n
	}
}

// teamNamer names teams by their name.
func teamNamer(ctx context.Context, api *client.ClientWithResponses) func(*int64) string {
	return namer(func(id int64) (string, error) {
		r, err := api.GetTeamWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return "", err
		}
		return r.JSON200.Name, nil
	})
}

// personNamer names people by their e-mail address, or their name when
// they have none.
func personNamer(ctx context.Context, api *client.ClientWithResponses) func(*int64) string {
	return namer(func(id int64) (string, error) {
		r, err := api.GetPersonWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return "", err
		}
		if r.JSON200.Email != "" {
			return r.JSON200.Email, nil
		}
		return r.JSON200.Name, nil
	})
}

// personWithKey names a person for a line of their own: "Ada Lovelace
// (ada@example.com)", with the external id when they have no e-mail
// address; "person 42" when the server cannot say.
func personWithKey(ctx context.Context, api *client.ClientWithResponses, id int64) string {
	r, err := api.GetPersonWithResponse(ctx, id)
	if err := client.Check(r, err); err != nil {
		return "person " + strconv.FormatInt(id, 10)
	}
	key := r.JSON200.Email
	if key == "" {
		key = r.JSON200.ExternalId
	}
	return r.JSON200.Name + " (" + key + ")"
}

// systemNamer names systems by their name.
func systemNamer(ctx context.Context, api *client.ClientWithResponses) func(*int64) string {
	return namer(func(id int64) (string, error) {
		r, err := api.GetSystemWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return "", err
		}
		return r.JSON200.Name, nil
	})
}

// findPerson finds the person whose external id or e-mail address (any
// case) is ref, or failing that whose id it is, through the people search.
func findPerson(ctx context.Context, api *client.ClientWithResponses, ref string) (*client.Person, error) {
	r, err := api.ListPeopleWithResponse(ctx, &client.ListPeopleParams{Q: &ref, Limit: client.Ptr(steward.MaxLimit)})
	if err := client.Check(r, err); err != nil {
		return nil, err
	}
	var found []client.Person
	for _, p := range r.JSON200.Items {
		if p.ExternalId == ref {
			return &p, nil
		} else if strings.EqualFold(p.Email, ref) || strings.EqualFold(p.ExternalId, ref) {
			found = append(found, p)
		}
	}
	switch {
	case len(found) == 1:
		return &found[0], nil
	case len(found) > 1:
		return nil, steward.Errorf(steward.EINVALID, "Several people have the e-mail address %q; name one by external id.", ref)
	}
	if v, err := byID(ref, func(id int64) (*client.Person, error) {
		r, err := api.GetPersonWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return nil, err
		}
		return r.JSON200, nil
	}); v != nil || err != nil {
		return v, err
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No person has the e-mail address or external id %q.", ref)
}

// findTeam finds the team named ref, or failing that whose id it is.
func findTeam(ctx context.Context, api *client.ClientWithResponses, ref string) (*client.Team, error) {
	r, err := api.ListTeamsWithResponse(ctx, &client.ListTeamsParams{Q: &ref, Limit: client.Ptr(steward.MaxLimit)})
	if err := client.Check(r, err); err != nil {
		return nil, err
	}
	for _, t := range r.JSON200.Items {
		if t.Name == ref {
			return &t, nil
		}
	}
	if v, err := byID(ref, func(id int64) (*client.Team, error) {
		r, err := api.GetTeamWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return nil, err
		}
		return r.JSON200, nil
	}); v != nil || err != nil {
		return v, err
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No team is named %q.", ref)
}

// findSystem finds the system named ref (any case: names are lower-case
// slugs), or failing that whose id it is.
func findSystem(ctx context.Context, api *client.ClientWithResponses, ref string) (*client.System, error) {
	p := client.ListSystemsParams{Q: &ref, Limit: client.Ptr(steward.MaxLimit)}
	for {
		r, err := api.ListSystemsWithResponse(ctx, &p)
		if err := client.Check(r, err); err != nil {
			return nil, err
		}
		for _, s := range r.JSON200.Items {
			if strings.EqualFold(s.Name, ref) {
				return &s, nil
			}
		}
		if deref(r.JSON200.Next) == "" {
			break
		}
		p.After = r.JSON200.Next
	}
	if v, err := byID(ref, func(id int64) (*client.System, error) {
		r, err := api.GetSystemWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return nil, err
		}
		return r.JSON200, nil
	}); v != nil || err != nil {
		return v, err
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "No system is named %q; 'steward systems list' lists them.", ref)
}

// byID is the last resort of the find functions: ref read as an id, and
// the object get fetches by it. Nil and no error when ref is no id or no
// object has it, so that the caller can say what it looked for.
func byID[T any](ref string, get func(id int64) (*T, error)) (*T, error) {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return nil, nil
	}
	v, err := get(id)
	if steward.IsCode(err, steward.ENOTFOUND) {
		return nil, nil
	}
	return v, err
}
