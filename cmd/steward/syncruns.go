package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

func newSyncRunsCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, source, after, system string
	var systemID int64
	var failed, succeeded bool
	var limit int
	cmd := &cobra.Command{
		Use:   "sync-runs",
		Short: "List sync and import runs through the API, newest first",
		Long: `List every sync and import run, newest first: which source and system it
read, when it started, how long it took, and what it changed, or why it
failed. A failed run changed nothing (it was rolled back whole); its error
names the line at fault where there was one. -o json prints each run whole.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if failed && succeeded {
				return usageError{fmt.Errorf("--failed and --succeeded exclude each other")}
			}
			var outcome *bool
			if failed || succeeded {
				outcome = &failed
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.ListSyncRunsWithResponse(cmd.Context(), &client.ListSyncRunsParams{
				Source:   nonZero(source),
				System:   nonZero(system),
				SystemId: nonZero(systemID),
				Failed:   outcome,
				Limit:    nonZero(limit),
				After:    nonZero(after),
			})
			if err := client.Check(r, err); err != nil {
				return err
			}
			return printPage(e, output, r.Body, r.JSON200.Items, r.JSON200.Next,
				"RUN\tSOURCE\tSYSTEM\tSTARTED\tTOOK\tOUTCOME", func(run client.SyncRun) string {
					system := "-"
					if run.SystemId != nil {
						system = fmt.Sprintf("%d %s", *run.SystemId, deref(run.SystemName))
					}
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", run.Id, run.Source, system, fmtTime(&run.StartedAt),
						run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond), runOutcome(run))
				})
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&source, "source", "", "only runs of this source (as sync and import name it, e.g. ldap:corp)")
	cmd.Flags().StringVar(&system, "system", "", "only runs into this system (its name)")
	cmd.Flags().Int64Var(&systemID, "system-id", 0, "only runs of the system with this id")
	_ = cmd.Flags().MarkHidden("system-id")
	cmd.Flags().BoolVar(&failed, "failed", false, "only runs that failed")
	cmd.Flags().BoolVar(&succeeded, "succeeded", false, "only runs that succeeded")
	cmd.Flags().IntVar(&limit, "limit", 0, "page size")
	cmd.Flags().StringVar(&after, "after", "", "cursor of the page to show")
	return cmd
}

// runOutcome is the run's Outcome, an error cut to the table's width (-o
// json has it whole).
func runOutcome(r client.SyncRun) string {
	out := []rune(syncRun(r).Outcome())
	if n := 140; len(out) > n {
		return string(out[:n]) + "…"
	}
	return string(out)
}

// syncRun is the domain's view of a run as the API answered it, for the
// words the domain has for its outcome.
func syncRun(r client.SyncRun) steward.SyncRun {
	run := steward.SyncRun{Error: deref(r.Error)}
	if res := r.Result; res != nil {
		run.Result = &steward.SyncResult{
			Records:             res.Records,
			IdentitiesCreated:   res.IdentitiesCreated,
			IdentitiesUpdated:   res.IdentitiesUpdated,
			IdentitiesRemoved:   res.IdentitiesRemoved,
			CredentialsRotated:  res.CredentialsRotated,
			CredentialsChanged:  res.CredentialsChanged,
			EntitlementsChanged: res.EntitlementsChanged,
			GrantsCreated:       res.GrantsCreated,
			GrantsUpdated:       res.GrantsUpdated,
			GrantsRemoved:       res.GrantsRemoved,
			OwnersChanged:       res.OwnersChanged,
			PeopleCreated:       derefInt(res.PeopleCreated),
			PeopleUpdated:       derefInt(res.PeopleUpdated),
			PeopleDeparted:      derefInt(res.PeopleDeparted),
			GapsOpened:          res.GapsOpened,
			GapsClosed:          res.GapsClosed,
			Events:              res.Events,
		}
	}
	return run
}

// derefInt returns *n, or 0 for nil.
func derefInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}
