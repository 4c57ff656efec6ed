package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward/client"
)

func newGapsCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, gap, after, team string
	var teamID int64
	var noTeam bool
	var limit int
	cmd := &cobra.Command{
		Use:   "gaps",
		Short: "List open ownership gaps through the API, oldest first",
		Long: `List the open ownership gaps: active non-human identities without an owner
(unowned), whose owner has left (owner_departed), or whose owning team has no
active member (team_inactive). Each gap is a task with a due date. The
suggested owner is the departed owner's manager, or else the team's manager.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if noTeam {
				if team != "" || teamID != 0 {
					return usageError{errors.New("--without-team excludes --team")}
				}
				teamID = -1
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.ListGapsWithResponse(cmd.Context(), &client.ListGapsParams{
				Gap:    nonZero(client.GapKind(gap)),
				Team:   nonZero(team),
				TeamId: nonZero(teamID),
				Limit:  nonZero(limit),
				After:  nonZero(after),
			})
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printPage(e, output, r.Body, r.JSON200.Items, r.JSON200.Next,
				"TASK\tGAP\tIDENTITY\tKIND\tSYSTEM\tTEAM\tOWNER\tSUGGESTED OWNER\tOPENED\tDUE", func(g client.GapView) string {
					return fmt.Sprintf("%d\t%s\t%d %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", g.Id, g.Gap, g.IdentityId, g.IdentityName, g.IdentityKind,
						g.SystemName, orDash(deref(g.TeamName)), orDash(deref(g.OwnerName)), orDash(deref(g.SuggestedOwner)),
						g.OpenedAt.Format(time.DateOnly), g.DueAt.Format(time.DateOnly))
				})
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&gap, "gap", "", "gap kind: unowned, owner_departed or team_inactive")
	cmd.Flags().StringVar(&team, "team", "", "only gaps of this team (its name)")
	cmd.Flags().BoolVar(&noTeam, "without-team", false, "only gaps of identities without a team")
	cmd.Flags().Int64Var(&teamID, "team-id", 0, "only gaps of the team with this id; -1 for identities without a team")
	_ = cmd.Flags().MarkHidden("team-id")
	cmd.Flags().IntVar(&limit, "limit", 0, "page size")
	cmd.Flags().StringVar(&after, "after", "", "cursor of the page to show")
	return cmd
}
