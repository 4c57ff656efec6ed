package main

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

func newGapsCmd(e *env) *cobra.Command {
	var c client
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
			v := url.Values{}
			if gap != "" {
				v.Set("gap", gap)
			}
			if teamID != 0 {
				v.Set("team_id", strconv.FormatInt(teamID, 10))
			}
			if team != "" {
				v.Set("team", team)
			}
			if noTeam {
				v.Set("team_id", "-1")
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			if after != "" {
				v.Set("after", after)
			}
			return listPage(cmd.Context(), e, &c, output, "/api/v1/gaps", v,
				"TASK\tGAP\tIDENTITY\tKIND\tSYSTEM\tTEAM\tOWNER\tSUGGESTED OWNER\tOPENED\tDUE", func(g steward.GapView) string {
					return fmt.Sprintf("%d\t%s\t%d %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", g.ID, g.Gap, g.IdentityID, g.IdentityName, g.IdentityKind,
						g.SystemName, orDash(g.TeamName), orDash(g.OwnerName), orDash(g.SuggestedOwner), g.OpenedAt.Format(time.DateOnly), g.DueAt.Format(time.DateOnly))
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
