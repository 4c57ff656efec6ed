package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/demo"
	"github.com/stewardhq/steward/examples"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/store/sqlstore"
)

func addDemoFlags(cmd *cobra.Command, dc *demo.Config, prefix string) {
	cmd.Flags().IntVar(&dc.People, prefix+"people", demo.DefaultPeople, "number of people in the demo organisation")
	cmd.Flags().IntVar(&dc.NHI, prefix+"nhi", demo.DefaultNHI, "number of non-human identities")
	cmd.Flags().Int64Var(&dc.Seed, prefix+"seed", 1, "random seed; the same seed gives the same organisation")
}

func newDemoCmd(e *env) *cobra.Command {
	var dsn string
	var dc demo.Config
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Seed an empty database with a realistic demo organisation",
		Long: `Seed an empty database with a demo organisation: teams and their managers,
people (some departed), systems (AWS accounts, Kubernetes clusters, a GitHub
organisation, PostgreSQL databases, Vault, …), non-human identities that
outnumber people about 40 to 1, credentials (metadata only), entitlements and
grants, with the mess of a real estate: unowned identities, owners who left,
keys never rotated, identities nobody uses. The same seed gives the same
organisation.

In the demo's story its head of security (or chief executive) runs Steward:
the audit log names them as having loaded the organisation, through the
local administrator who ran this command, and they own Steward's own
identity (steward in the system steward), which Steward acts as. The
schema migration names Steward itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Everything in a demo database names a person of the demo
			// or Steward itself: the schema is Steward's own doing, at
			// the hands of the local administrator.
			mctx := steward.WithPrincipal(ctx, steward.SelfPrincipal(steward.ActorFrom(ctx)))
			db, err := openStore(mctx, e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			empty, err := isEmpty(ctx, db)
			if err != nil {
				return err
			} else if !empty {
				return steward.Errorf(steward.ECONFLICT, "the database already has identities; seed the demo into a new one (--db new.db).")
			}
			return seedDemo(ctx, e, db, dc)
		},
	}
	addDBFlag(cmd, &dsn)
	addDemoFlags(cmd, &dc, "")
	return cmd
}

// seedDemo seeds the demo organisation as its admin, through the principal
// ctx names (demo.Seed), and returns its summary.
func seedDemo(ctx context.Context, e *env, db *sqlstore.DB, dc demo.Config) error {
	if dc.People <= 0 || dc.NHI < 0 {
		return steward.Errorf(steward.EINVALID, "--people must be positive and --nhi not negative.")
	}
	start := time.Now()
	dc.Now = start.UTC().Truncate(time.Second)
	sum, err := demo.Seed(ctx, db, dc) // as the demo's admin, through the local administrator
	if err != nil {
		return err
	}
	// The demo organisation's service catalog, as a catalog owner would
	// apply it.
	cat, ds := policy.Compile(examples.Catalog)
	if err := ds.Err("examples/catalog.yaml"); err != nil {
		return err
	}
	admin, err := db.PersonByKey(ctx, sum.Admin)
	if err != nil {
		return err
	}
	actx := steward.WithPrincipal(ctx, steward.Principal{Kind: steward.PrincipalPerson, Name: admin.Email,
		PersonID: admin.ID, Role: steward.RoleAdmin, Via: steward.ActorFrom(ctx)})
	if _, _, err := db.ApplyCatalog(actx, examples.Catalog, cat.Catalog); err != nil {
		return err
	}
	if err := db.Optimize(ctx); err != nil {
		return fmt.Errorf("refresh planner statistics: %w", err)
	}
	// Its request history (after the statistics: its questions are
	// planned with them): what people asked for over the last days, and
	// what became of it.
	reqStart := time.Now()
	requests, err := seedRequests(ctx, db, uint64(max(dc.Seed, 1)), dc.Now, e.logger) // #nosec G115 -- a positive seed
	if err != nil {
		return fmt.Errorf("demo requests: %w", err)
	}
	e.logger.Info("demo request history made", "requests", fmt.Sprint(requests), "took", time.Since(reqStart).Round(time.Millisecond))
	// Each bulk load opened the gap tasks of what it loaded.
	st, err := db.InventoryStats(ctx)
	if err != nil {
		return err
	}
	var gaps int64
	for _, n := range st.Gaps {
		gaps += n
	}
	e.logger.Info("demo organisation seeded", "seed", dc.Seed, "admin", sum.Admin, "summary", fmt.Sprintf("%+v", sum), "gaps", gaps, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
