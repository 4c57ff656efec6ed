package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check the audit chain"}
	var dsn string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the hash chain of the audit log",
		Long: `Walk every audit event in order and recompute its hash. Exits 0 on an intact
chain. If a row was edited, inserted or deleted behind Steward's back, it
prints the first bad event and exits 7.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, false)
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := db.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "audit chain intact: %d events verified\n", n)
			return nil
		},
	}
	addDBFlag(verify, &dsn)
	cmd.AddCommand(verify)
	return cmd
}
