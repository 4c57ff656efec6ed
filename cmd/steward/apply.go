package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stewardhq/steward"
)

// manifest is one YAML document of 'steward apply'. Kind says what it
// declares; the rest of the document is that kind's body.
type manifest struct {
	Kind  string                  `yaml:"kind"`
	Rules []steward.OwnershipRule `yaml:"rules"`
}

// parseManifests reads every YAML document of r, strictly: an unknown field
// is an error, so that a typo does not silently match nothing.
func parseManifests(name string, r io.Reader) ([]manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var out []manifest
	for n := 1; ; n++ {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, steward.Errorf(steward.EINVALID, "%s: document %d: %v", name, n, err)
		}
		switch m.Kind {
		case "OwnershipRules":
			if err := steward.ValidateRules(m.Rules); err != nil {
				return nil, steward.Errorf(steward.EINVALID, "%s: document %d: %s", name, n, steward.ErrorMessage(err))
			}
		case "":
			return nil, steward.Errorf(steward.EINVALID, "%s: document %d has no kind; one of: OwnershipRules.", name, n)
		default:
			return nil, steward.Errorf(steward.EINVALID, "%s: document %d: kind %q is not known; one of: OwnershipRules.", name, n, m.Kind)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "%s holds no document.", name)
	}
	kinds := map[string]bool{}
	for _, m := range out {
		if kinds[m.Kind] {
			return nil, steward.Errorf(steward.EINVALID, "%s declares %s twice; one document of each kind states the whole set.", name, m.Kind)
		}
		kinds[m.Kind] = true
	}
	return out, nil
}

func newApplyCmd(e *env) *cobra.Command {
	var dsn, file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply configuration as code: ownership rules, the service catalog",
		Long: `Apply YAML documents that declare how Steward should behave. Each document's
kind names what it declares, and declares all of it: applying a file of
ownership rules replaces the rules in force, then re-resolves the owner of
every identity nobody assigned explicitly.

  kind: OwnershipRules
  rules:
    - name: payments-namespace
      match:
        systems: ["k8s-*"]
        namespaces: [payments]
      team: payments
      owner: ada@example.com
    - name: terraform-tagged
      match:
        labels: {team: "*"}
      team: platform

Rules are tried in order; the first that matches decides. An identity's own
owner or team tag, when it names a known person or team, wins over rules;
an explicit assignment (steward identities set-owner, the API, the web UI)
wins over both. See docs/ownership.md.

A file whose document is kind: Catalog is the service catalog, applied from
a file of its own: tiers, boundaries, roles and request models, their Cedar
policies checked against Steward's schema. Every problem is reported with
its line and column and nothing is applied; the same file again changes
nothing. --dry-run prints what would change. See README.md, "Writing a
request model", and examples/catalog.yaml.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = e.stdin
			name := "stdin"
			if file != "-" {
				f, err := os.Open(file) // #nosec G304 -- the file -f names
				if err != nil {
					return steward.Errorf(steward.EINVALID, "cannot read %s: %v", file, err)
				}
				defer f.Close()
				r, name = f, file
			}
			src, err := io.ReadAll(io.LimitReader(r, 16<<20))
			if err != nil {
				return steward.Errorf(steward.EINVALID, "cannot read %s: %v", name, err)
			}
			if isCatalog(src) {
				db, err := openStore(cmd.Context(), e, dsn, true)
				if err != nil {
					return err
				}
				defer db.Close()
				return applyCatalog(cmd, e, db, name, src, dryRun)
			}
			docs, err := parseManifests(name, bytes.NewReader(src))
			if err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(e.stdout, "%s: valid (%d document(s)); nothing applied\n", name, len(docs))
				return nil
			}
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := cmd.Context()
			for _, d := range docs {
				res, err := db.ApplyOwnershipRules(ctx, d.Rules)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "OwnershipRules: %d rule(s) in force; %d owner(s) changed; gaps %d opened, %d closed\n",
					len(d.Rules), res.OwnersChanged, res.GapsOpened, res.GapsClosed)
			}
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	cmd.Flags().StringVarP(&file, "filename", "f", "", "YAML file to apply, - for standard input (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and apply nothing; for a catalog, print what would change")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
