package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

func newSyncCmd(e *env) *cobra.Command {
	var dsn, output string
	var full bool
	cmd := &cobra.Command{
		Use:   "sync [CONNECTOR...]",
		Short: "Reconcile the inventory with the configured connectors (all of them when none is named)",
		Long: `Read each named connector's system (all configured connectors when none is
named) and make Steward's inventory match it: new identities, entitlements and
grants are added, changes are applied, what the system no longer has is marked
removed (identities) or deleted (grants), each with an audit event. People
connectors (ldap) mark departed the people the directory no longer lists.
Running the same sync twice changes nothing the second time. A whole sync
remembers a hash of every record it read, and the next one compares only the
records that differ; --full compares every record.

Connectors are defined in the configuration file (--config); see
docs/configuration.md. 'steward serve' runs them on their schedule.`,
		Example: `  steward sync --config steward.yaml
  steward sync pg-main --config steward.yaml -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.config == nil || len(e.config.Connectors) == 0 {
				return steward.Errorf(steward.EINVALID, "no connectors: pass --config with a file that lists them (see docs/configuration.md).")
			}
			var names []string
			if len(args) == 0 {
				for _, c := range e.config.Connectors {
					names = append(names, c.Name)
				}
			} else {
				for _, n := range args {
					if _, err := e.connector(n); err != nil {
						return err
					}
				}
				names = args
			}
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			results := map[string]*steward.SyncResult{}
			var failed error
			for _, n := range names {
				c, _ := e.connector(n)
				res, err := runConnector(cmd.Context(), db, c, e.logger, full)
				if err != nil {
					fmt.Fprintf(e.stderr, "steward: sync %s: %s\n", n, steward.ErrorMessage(err))
					e.logger.Debug("sync failed", "connector", n, "err", err)
					if failed == nil {
						failed = err
					}
					continue
				}
				results[n] = res
			}
			if output == "json" {
				if err := writeJSON(e.stdout, results); err != nil {
					return err
				}
			} else {
				printResults(e.stdout, names, results)
			}
			return failed
		},
	}
	addDBFlag(cmd, &dsn)
	addDigestFlag(cmd, e)
	addWriteWaitFlag(cmd, e)
	addOutputFlag(cmd, &output)
	cmd.Flags().BoolVar(&full, "full", false, "compare every record, also those the last sync read unchanged")
	return cmd
}

// printResults writes one line per run with what it changed.
func printResults(w io.Writer, names []string, results map[string]*steward.SyncResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECORDS\tIDENTITIES +/~/-\tGRANTS +/~/-\tCREDENTIALS ROTATED\tOWNERS CHANGED\tPEOPLE +/~/DEPARTED\tGAPS OPENED/CLOSED\tEVENTS")
	for _, n := range names {
		r, ok := results[n]
		if !ok {
			fmt.Fprintf(tw, "%s\tfailed\n", n)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d/%d/%d\t%d/%d/%d\t%d\t%d\t%d/%d/%d\t%d/%d\t%d\n", n, r.Records,
			r.IdentitiesCreated, r.IdentitiesUpdated, r.IdentitiesRemoved, r.GrantsCreated, r.GrantsUpdated, r.GrantsRemoved,
			r.CredentialsRotated, r.OwnersChanged, r.PeopleCreated, r.PeopleUpdated, r.PeopleDeparted, r.GapsOpened, r.GapsClosed, r.Events)
	}
	tw.Flush() // #nosec G104 -- a report on standard output, written like every fmt.Fprint of the CLI; the sync has committed
}
