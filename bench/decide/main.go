// Command decide measures a catalog decision alone, in process (issue 12):
// the demo organisation seeded into a temporary SQLite store, the example
// catalog grown to -models request models (the demo's own plus generated
// ones of every kind, each with its Cedar policies), then questions of the
// demo's people about its identities and entitlements built from the store
// beforehand, so that the timed part is the decision only: the model's
// Cedar policies evaluated and the domain's steps (boundaries, what the
// model serves, duration, justification, approvers) with their reasons.
// It reports the median, p99 and max of one decision and the single-core
// decisions per second, as Markdown for bench/RESULTS.md.
//
//	go run ./bench/decide                      # 200 models, 2,000 people, 80,000 NHI
//	go run ./bench/decide -decisions 2000000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/demo"
	"github.com/stewardhq/steward/examples"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/store/sqlstore"
)

func main() {
	log.SetFlags(0)
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("decide", flag.ContinueOnError)
	models := fs.Int("models", 200, "request models in the catalog (the example's, then generated ones)")
	people := fs.Int("people", demo.DefaultPeople, "people in the demo organisation")
	nhi := fs.Int("nhi", demo.DefaultNHI, "non-human identities in the demo organisation")
	questions := fs.Int("questions", 5000, "distinct questions, built from the store before timing")
	decisions := fs.Int("decisions", 1_000_000, "decisions timed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "steward-bench-decide-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx = steward.WithActor(ctx, "bench:decide")
	db, err := sqlstore.Open(filepath.Join(dir, "decide.db"), sqlstore.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := demo.Seed(ctx, db, demo.Config{People: *people, NHI: *nhi, Now: time.Now().UTC().Truncate(time.Second)}); err != nil {
		return err
	}
	log.Printf("demo organisation seeded in %s", time.Since(t0).Round(time.Millisecond))

	src := grow(examples.Catalog, *models)
	t0 = time.Now()
	c, ds := policy.Compile(src)
	if err := ds.Err("catalog"); err != nil {
		return err
	}
	compile := time.Since(t0)
	log.Printf("catalog of %d models (%d bytes) compiled and validated in %s", len(c.Catalog.Models), len(src), compile.Round(time.Microsecond))

	qs, err := ask(ctx, db, c, *questions)
	if err != nil {
		return err
	}
	log.Printf("%d questions built from the store", len(qs))

	// Warm up, then time each decision on its own.
	outcomes := map[steward.Outcome]int{}
	for _, q := range qs {
		outcomes[c.Decide(q).Outcome]++
	}
	lat := make([]time.Duration, *decisions)
	runtime.GC()
	start := time.Now()
	for i := range lat {
		q := qs[i%len(qs)]
		t := time.Now()
		d := c.Decide(q)
		lat[i] = time.Since(t)
		if len(d.Reasons) == 0 {
			return fmt.Errorf("a decision without reasons: %+v", d)
		}
	}
	wall := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }

	fmt.Fprintf(out, "### Catalog decision, in process (%s)\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(out, "%d models (%d Cedar policies' worth of text, %d bytes of YAML), compiled and validated against the schema in %s; demo organisation of %d people and %d NHI; %d distinct questions (%s).\n\n",
		len(c.Catalog.Models), strings.Count(c.PolicyText(), "\n// ")+1, len(src), compile.Round(time.Microsecond), *people, *nhi, len(qs), outcomeText(outcomes))
	fmt.Fprintf(out, "| decisions | median | p99 | p99.9 | max | decisions/s (one goroutine, timing included) |\n|--:|--:|--:|--:|--:|--:|\n")
	fmt.Fprintf(out, "| %d | %s | %s | %s | %s | %.0f |\n", len(lat), us(pct(0.5)), us(pct(0.99)), us(pct(0.999)), us(lat[len(lat)-1]), float64(len(lat))/wall.Seconds())
	return nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.2f µs", float64(d)/1e3) }

func outcomeText(m map[steward.Outcome]int) string {
	return fmt.Sprintf("%d approved, %d pending, %d refused", m[steward.OutcomeApproved], m[steward.OutcomePending], m[steward.OutcomeRefused])
}

// grow appends generated models to the example catalog until it has n:
// each kind in turn, over the demo's systems, with one to three Cedar
// policies each (permits and a forbid), so that the catalog is of the size
// and shape of a large organisation's.
func grow(src []byte, n int) []byte {
	var b strings.Builder
	b.Write(src)
	have := 0
	if c, ds := policy.Parse(src); len(ds) == 0 {
		have = len(c.Models)
	}
	systems := []string{"aws-*", "gcp-*", "k8s-*", "pg-*", "vault-*", "github-acme", "okta-acme", "ldap-corp", "datadog", "snowflake"}
	for i := have; i < n; i++ {
		sys := systems[i%len(systems)]
		fmt.Fprintf(&b, "\n  - name: generated-%03d\n    description: A generated model.\n", i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "    tier: routine\n    kind: routine\n    requestable:\n      systems: [%q]\n      privileged: false\n      max_sensitivity: medium\n", sys)
			b.WriteString("    who_may_request: |\n      @id(\"own-team\")\n      permit (principal, action, resource) when { context.identity.team == principal.team };\n" +
				"      @id(\"not-departed\")\n      forbid (principal, action, resource) unless { principal.active };\n    approval:\n      automatic: true\n")
		case 1:
			fmt.Fprintf(&b, "    tier: privileged\n    kind: jit\n    requestable:\n      systems: [%q]\n      privileged: true\n", sys)
			b.WriteString("    who_may_request: |\n      @id(\"owning-team\")\n      permit (principal, action, resource) when { principal.team == resource.owner_team };\n" +
				"      @id(\"sre\")\n      permit (principal, action, resource) when { principal in Team::\"sre\" && resource.sensitivity_rank < 3 };\n" +
				"      @id(\"no-prod-for-new-hires\")\n      forbid (principal, action, resource) when { principal.title like \"*Intern*\" && context.identity.environment == \"prod\" };\n" +
				"    approval:\n      approvers: [resource-owner, security]\n      approvals: 2\n    duration:\n      default: 1h\n      maximum: 8h\n" +
				"    justification:\n      - name: ticket\n        pattern: \"(CHG|INC)-[0-9]+\"\n")
		case 2:
			fmt.Fprintf(&b, "    tier: standard\n    kind: new-identity\n    requestable:\n      systems: [%q]\n", sys)
			b.WriteString("    who_may_request: |\n      permit (principal, action, resource) when { principal.team != \"\" && context.identity.team == principal.team };\n" +
				"    approval:\n      approvers: [requester-manager]\n")
		case 3:
			fmt.Fprintf(&b, "    tier: standard\n    kind: decommission\n    requestable:\n      systems: [%q]\n", sys)
			b.WriteString("    who_may_request: |\n      permit (principal, action, resource) when { context.identity.owner == principal.email || context.identity.owner == \"\" };\n" +
				"    approval:\n      approvers: [identity-owner, security]\n")
		}
	}
	return []byte(b.String())
}

// ask builds n questions from the store: a random active person asks,
// under a random model, for an entitlement of the system of a random
// identity (or, for new-identity and decommission models, about the
// identity itself).
func ask(ctx context.Context, db *sqlstore.DB, c *policy.Compiled, n int) ([]*steward.AccessQuestion, error) {
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- a benchmark's questions, reproducible from a fixed seed
	var people []steward.Person
	for f := (steward.PersonFilter{Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}}); ; {
		page, err := db.People(ctx, f)
		if err != nil {
			return nil, err
		}
		people = append(people, page.Items...)
		if page.Next == "" || len(people) >= 5000 {
			break
		}
		f.After = page.Next
	}
	ids, err := db.Identities(ctx, steward.IdentityFilter{Status: steward.IdentityActive, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		return nil, err
	}
	if len(people) == 0 || len(ids.Items) == 0 {
		return nil, fmt.Errorf("the demo organisation has no people or identities")
	}
	ents := map[int64][]steward.Entitlement{}
	var out []*steward.AccessQuestion
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		p := people[rng.IntN(len(people))]
		iv := ids.Items[rng.IntN(len(ids.Items))]
		m := c.Catalog.Models[rng.IntN(len(c.Catalog.Models))]
		ref := steward.AccessRef{Model: m.Name, Requester: p.Email, Identity: iv.Name, System: iv.SystemName, Justification: map[string]string{"ticket": "CHG-1", "purpose": "bench"}}
		switch {
		case m.Kind == steward.ModelNewIdentity:
			ref.Identity = fmt.Sprintf("new-svc-%d", len(out))
		case len(m.Requestable.Roles) > 0:
			ref.Role = m.Requestable.Roles[rng.IntN(len(m.Requestable.Roles))]
		case m.Kind != steward.ModelDecommission:
			es, ok := ents[iv.SystemID]
			if !ok {
				page, err := db.Entitlements(ctx, steward.EntitlementFilter{SystemID: iv.SystemID, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
				if err != nil {
					return nil, err
				}
				es = page.Items
				ents[iv.SystemID] = es
			}
			if len(es) == 0 {
				continue
			}
			ref.Entitlement = es[rng.IntN(len(es))].Name
		}
		q, err := steward.AskAccess(ctx, db, c.Catalog, ref)
		if steward.IsCode(err, steward.EINVALID) || steward.IsCode(err, steward.ENOTFOUND) {
			continue // an identity's name shared in its system, say
		} else if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no question could be built")
	}
	return out, nil
}
