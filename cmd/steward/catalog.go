package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/store/sqlstore"
)

// isCatalog reports whether src's first YAML document declares kind:
// Catalog. A catalog is applied from a file of its own, so that the text
// stored is exactly the file.
func isCatalog(src []byte) bool {
	var head struct {
		Kind string `yaml:"kind"`
	}
	_ = yaml.NewDecoder(bytes.NewReader(src)).Decode(&head)
	return head.Kind == policy.KindCatalog
}

// compileCatalog is the policy package's Compile as the HTTP server takes
// it.
func compileCatalog(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
	c, ds := policy.Compile(src)
	if err := ds.Err("the catalog"); err != nil {
		return nil, nil, err
	}
	return c.Catalog, c, nil
}

// applyCatalog compiles src and, unless dryRun, stores it as the catalog
// in force; it prints what changes either way.
func applyCatalog(cmd *cobra.Command, e *env, db *sqlstore.DB, name string, src []byte, dryRun bool) error {
	c, ds := policy.Compile(src)
	if err := ds.Err(name); err != nil {
		return err
	}
	ctx := cmd.Context()
	var prev *steward.Catalog
	cur, err := db.CatalogInForce(ctx)
	switch {
	case err == nil:
		prev = cur.Catalog
	case !steward.IsCode(err, steward.ENOTFOUND):
		return err
	}
	if dryRun {
		if cur != nil && cur.Source == string(src) {
			fmt.Fprintf(e.stdout, "%s: valid; it is the catalog in force (version %d): nothing would change\n", name, cur.Version)
			return nil
		}
		changes := steward.DiffCatalogs(prev, c.Catalog)
		fmt.Fprintf(e.stdout, "%s: valid; applying it would make %d change(s):\n", name, len(changes))
		printChanges(e.stdout, changes, cur)
		return nil
	}
	v, changed, err := db.ApplyCatalog(ctx, src, c.Catalog)
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(e.stdout, "Catalog: unchanged, version %d in force\n", v.Version)
		return nil
	}
	changes := steward.DiffCatalogs(prev, c.Catalog)
	fmt.Fprintf(e.stdout, "Catalog: version %d in force (%d models, %d tiers); %d change(s):\n", v.Version, len(c.Catalog.Models), len(c.Catalog.Tiers), len(changes))
	printChanges(e.stdout, changes, cur)
	return nil
}

func printChanges(w io.Writer, changes []steward.CatalogChange, cur *steward.CatalogVersion) {
	for _, ch := range changes {
		fmt.Fprintf(w, "  %s\n", ch)
	}
	if len(changes) == 0 && cur != nil {
		fmt.Fprintln(w, "  (the same catalog in other words: only the text changes)")
	}
}

func newCatalogCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Read the service catalog in force",
		Long: `The service catalog: tiers, boundaries, request models and roles, written as
code and applied with 'steward apply -f catalog.yaml'. See README.md, "Writing a
request model".`,
	}
	var dsn string
	var output string
	get := &cobra.Command{
		Use:   "get",
		Short: "Print the catalog in force (local: --db)",
		Long: `Print the catalog in force. -o yaml prints the text exactly as it was applied,
so that it can be edited and applied again; -o json prints the version with
the catalog as Steward reads it; the table lists the models.

A local command: it opens the store named by --db.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.CatalogInForce(cmd.Context())
			if err != nil {
				return err
			}
			switch output {
			case "yaml":
				_, err := io.WriteString(e.stdout, v.Source)
				return err
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "", "table":
				fmt.Fprintf(e.stdout, "Catalog version %d, applied %s by %s\n\n", v.Version, v.AppliedAt.Format("2006-01-02 15:04 MST"), v.AppliedBy)
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MODEL\tKIND\tTIER\tDECISION\tAPPROVAL")
				for _, m := range v.Catalog.Models {
					dec := "-"
					if t := v.Catalog.Tier(m.Tier); t != nil && t.ServiceLevels.Decision != 0 {
						dec = t.ServiceLevels.Decision.String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, m.Kind, m.Tier, dec, approvalText(m.Approval))
				}
				return tw.Flush()
			}
			return steward.Errorf(steward.EINVALID, "-o %s is not known; one of: table, json, yaml.", output)
		},
	}
	addDBFlag(get, &dsn)
	get.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml (the text as applied)")
	cmd.AddCommand(get)
	return cmd
}

// approvalText says how a model approves, in a few words.
func approvalText(a steward.Approval) string {
	if a.Automatic {
		return "automatic when policy permits"
	}
	n := max(a.Approvals, 1)
	return fmt.Sprintf("%d of %s", n, strings.Join(a.Approvers, ", "))
}

func newDecideCmd(e *env) *cobra.Command {
	var dsn, output string
	var ref steward.AccessRef
	var duration string
	var justify []string
	cmd := &cobra.Command{
		Use:   "decide --as PERSON --model MODEL --identity IDENTITY --entitlement ENTITLEMENT",
		Short: "Explain what the catalog decides for a request, creating nothing (local: --db)",
		Long: `Explain what the catalog in force would decide if PERSON asked, under MODEL,
for ENTITLEMENT (or a catalog --role) for IDENTITY: approved by policy,
pending on named approvers, or refused — with every reason: the model and
its tier, each boundary, what the model serves, the duration, the
justification, which Cedar policy permitted or forbade, and who must
approve and why. Nothing is created: it answers "why can't I?".

For a new-identity model IDENTITY is the name of the identity to be made
in --system; for a decommission model, the identity to retire.

A local command: it opens the store named by --db.

  steward decide --as ada@example.com --model pg-prod-elevation \
    --identity svc-settlement --system pg-payments-prod --entitlement CREATEROLE \
    --duration 2h --justify ticket=CHG-1234`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if duration != "" {
				d, err := steward.ParseDuration(duration)
				if err != nil {
					return err
				}
				ref.Duration = d
			}
			ref.Justification = map[string]string{}
			for _, j := range justify {
				k, v, ok := strings.Cut(j, "=")
				if !ok || k == "" {
					return steward.Errorf(steward.EINVALID, "--justify %q: write FIELD=VALUE.", j)
				}
				ref.Justification[k] = v
			}
			ctx := cmd.Context()
			db, err := openStore(ctx, e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.CatalogInForce(ctx)
			if err != nil {
				return err
			}
			c, ds := policy.Compile([]byte(v.Source))
			if err := ds.Err(fmt.Sprintf("catalog version %d", v.Version)); err != nil {
				return err
			}
			q, err := steward.AskAccess(ctx, db, c.Catalog, ref)
			if err != nil {
				return err
			}
			d := c.Decide(q)
			if output == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			printDecision(e.stdout, q, &d)
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	f := cmd.Flags()
	f.StringVar(&ref.Requester, "as", "", "the person who asks: e-mail address (required)")
	f.StringVar(&ref.Model, "model", "", "the catalog's request model (required)")
	f.StringVar(&ref.Identity, "identity", "", "the identity to hold the access, be made or be retired, by name (required)")
	f.StringVar(&ref.System, "system", "", "the system of the identity and the entitlement, by name")
	f.StringVar(&ref.Entitlement, "entitlement", "", "the entitlement asked for, by name")
	f.StringVar(&ref.Role, "role", "", "a catalog role asked for instead of an entitlement")
	f.StringVar(&duration, "duration", "", "jit: how long (15m, 2h, 1d); the model's default when left out")
	f.StringArrayVar(&justify, "justify", nil, "a justification field, FIELD=VALUE (repeatable)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	for _, n := range []string{"as", "model", "identity"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func printDecision(w io.Writer, q *steward.AccessQuestion, d *steward.AccessDecision) {
	fmt.Fprintf(w, "%s: %s asks for %s for %s under model %s\n", strings.ToUpper(string(d.Outcome)), q.Requester.Email, d.Target, q.Identity.Name, d.Model)
	if d.Tier != "" && d.ServiceLevels != nil {
		fmt.Fprintf(w, "Tier %s: decision within %s, fulfilment within %s\n", d.Tier, levelOrDash(d.ServiceLevels.Decision), levelOrDash(d.ServiceLevels.Fulfilment))
	}
	for _, r := range d.Reasons {
		mark := "ok"
		if !r.Ok {
			mark = "NO"
		}
		fmt.Fprintf(w, "  %-3s %-13s %s\n", mark, r.Rule, r.Text)
	}
}

// levelOrDash writes a service level, "-" for none.
func levelOrDash(d steward.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}
