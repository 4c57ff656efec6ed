package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/postgres"
	"github.com/stewardhq/steward/store/sqlstore"
)

func newRotateCmd(e *env) *cobra.Command {
	var dsn, output string
	cmd := &cobra.Command{
		Use:   "rotate CONNECTOR IDENTITY",
		Short: "Rotate an identity's secret in its system and record the rotation",
		Long: `Give IDENTITY (its external id: a PostgreSQL role name) a new secret through the
connector's system, and record the rotation in the inventory: the credential's
last rotation and new expiry, with a credential.rotated audit event, in one
transaction. The next sync keeps that time, since the system itself gives
none.

The new secret goes to the connector's rotation_sink (a 0600 file in a
directory, or standard output, printed before anything else) and never to
Steward. Only postgres connectors can rotate (a new password; VALID UNTIL
follows password_valid_days). The connector's system must have been synced,
so that Steward knows the identity.`,
		Example: `  steward rotate pg-billing etl_loader --config steward.yaml`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connector(args[0])
			if err != nil {
				return err
			}
			if c.Type != "postgres" {
				return steward.Errorf(steward.ENOTIMPL, "connector %s is a %s connector; only postgres connectors can rotate a secret.", c.Name, c.Type)
			}
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := withLocalAdmin(cmd.Context())
			sys, err := db.SystemByName(ctx, c.System)
			if err != nil {
				return steward.Errorf(steward.ErrorCode(err), "%s; run 'steward sync %s' first.", steward.ErrorMessage(err), c.Name)
			}
			// Know the identity before changing anything in the system: a
			// rotation Steward cannot record is one it should not make.
			if err := requireIdentity(ctx, db, sys, args[1]); err != nil {
				return err
			}
			conn, err := postgres.New(*c.Postgres, postgres.Options{Logger: e.logger, Stdout: e.stdout})
			if err != nil {
				return err
			}
			res, err := conn.RotateCredential(ctx, args[1])
			if err != nil {
				return err
			}
			cred, err := db.RecordRotation(ctx, sys.ID, args[1], res)
			if err != nil {
				return fmt.Errorf("%w: %w", steward.Errorf(steward.ErrorCode(err),
					"the %s of %s was rotated (the new one went to %s), but recording it failed: %s The next sync notices the change.",
					res.Credential, args[1], res.Sink, steward.ErrorMessage(err)), err)
			}
			if output == "json" {
				return writeJSON(e.stdout, cred)
			}
			expires := "never"
			if res.ExpiresAt != nil {
				expires = fmtTime(res.ExpiresAt)
			}
			fmt.Fprintf(e.stdout, "rotated the %s of %s at %s; expires %s; the new value went to %s\n",
				res.Credential, args[1], fmtTime(&res.RotatedAt), expires, res.Sink)
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	addOutputFlag(cmd, &output)
	return cmd
}

// requireIdentity returns ENOTFOUND unless the system has an identity whose
// external id is ext.
func requireIdentity(ctx context.Context, db *sqlstore.DB, sys *steward.System, ext string) error {
	f := steward.IdentityFilter{SystemID: sys.ID, Query: ext, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}
	for {
		page, err := db.Identities(ctx, f)
		if err != nil {
			return err
		}
		for _, i := range page.Items {
			if i.ExternalID == ext && i.Status != steward.IdentityRemoved {
				return nil
			}
		}
		if page.Next == "" {
			return steward.Errorf(steward.ENOTFOUND, "system %s has no identity %q; sync it first, or check the name.", sys.Name, ext)
		}
		f.After = page.Next
	}
}
