package main

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

func newSyncRunsCmd(e *env) *cobra.Command {
	var c client
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
			v := url.Values{}
			if source != "" {
				v.Set("source", source)
			}
			if systemID != 0 {
				v.Set("system_id", strconv.FormatInt(systemID, 10))
			}
			if system != "" {
				v.Set("system", system)
			}
			if failed || succeeded {
				v.Set("failed", strconv.FormatBool(failed))
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			if after != "" {
				v.Set("after", after)
			}
			return listPage(cmd.Context(), e, &c, output, "/api/v1/sync-runs", v,
				"RUN\tSOURCE\tSYSTEM\tSTARTED\tTOOK\tOUTCOME", func(r steward.SyncRun) string {
					system := "-"
					if r.SystemID != nil {
						system = fmt.Sprintf("%d %s", *r.SystemID, r.SystemName)
					}
					return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", r.ID, r.Source, system, fmtTime(&r.StartedAt),
						r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond), runOutcome(r))
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
func runOutcome(r steward.SyncRun) string {
	out := []rune(r.Outcome())
	if n := 140; len(out) > n {
		return string(out[:n]) + "…"
	}
	return string(out)
}
