package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestCatalogCommands: the demo applies the example catalog; catalog get
// -o yaml gives back exactly the text applied; applying it again changes
// nothing; a dry run of a changed file prints the diff and applies
// nothing; a bad file gets every problem with its line and column; decide
// explains a decision by names.
func TestCatalogCommands(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "catalog.db")
	if code, _, stderr := run(t, "demo", "--db", db, "--people", "30", "--nhi", "400"); code != 0 {
		t.Fatal(stderr)
	}
	example, err := os.ReadFile("../../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "catalog", "get", "--db", db, "-o", "yaml")
	if code != 0 || out != string(example) {
		t.Fatalf("catalog get -o yaml after the demo: exit %d, %d bytes (want the example's %d): %s", code, len(out), len(example), stderr)
	}
	file := writeFile(t, "catalog.yaml", string(example))
	code, out, stderr = run(t, "apply", "--db", db, "-f", file)
	if code != 0 || !strings.Contains(out, "Catalog: unchanged, version 1 in force") {
		t.Fatalf("apply the same file: %d %s %s", code, out, stderr)
	}

	changed := strings.Replace(string(example), "      maximum: 4h\n", "      maximum: 6h\n", 1) +
		"\n  - name: extra-model\n    tier: routine\n    kind: routine\n    requestable: {}\n    who_may_request: permit (principal, action, resource);\n    approval: {automatic: true}\n"
	file = writeFile(t, "changed.yaml", changed)
	code, out, stderr = run(t, "apply", "--db", db, "-f", file, "--dry-run")
	if code != 0 || !strings.Contains(out, "2 change(s)") || !strings.Contains(out, "~ model pg-prod-elevation") || !strings.Contains(out, "+ model extra-model") {
		t.Fatalf("dry run: %d %s %s", code, out, stderr)
	}
	if _, out, _ := run(t, "catalog", "get", "--db", db, "-o", "yaml"); out != string(example) {
		t.Fatal("a dry run changed the catalog")
	}
	code, out, stderr = run(t, "apply", "--db", db, "-f", file)
	if code != 0 || !strings.Contains(out, "version 2 in force") {
		t.Fatalf("apply the changed file: %d %s %s", code, out, stderr)
	}
	if _, out, _ := run(t, "catalog", "get", "--db", db, "-o", "yaml"); out != changed {
		t.Fatal("catalog get -o yaml does not give back the changed text")
	}
	code, out, _ = run(t, "catalog", "get", "--db", db)
	if code != 0 || !strings.Contains(out, "pg-prod-elevation") || !strings.Contains(out, "2 of resource-owner, security") {
		t.Fatalf("catalog get: %s", out)
	}

	bad := writeFile(t, "bad.yaml", "kind: Catalog\ntiers:\n  - name: t\n    colour: red\nmodels:\n  - name: m\n    tier: gold\n    kind: routine\n    requestable: {}\n    approval: {automatic: true}\n    who_may_request: permit (principal, action, resource);\n")
	code, _, stderr = run(t, "apply", "--db", db, "-f", bad)
	if code != ExitInvalid || !strings.Contains(stderr, "bad.yaml:4:5: colour is not a field here") {
		t.Fatalf("bad file: exit %d: %s", code, stderr)
	}
	if _, out, _ := run(t, "catalog", "get", "--db", db, "-o", "yaml"); out != changed {
		t.Fatal("a bad file changed the catalog")
	}

	// decide, by names taken from the demo: whatever the outcome, every
	// step has its reason.
	ctx := context.Background()
	store, err := sqlstore.Open(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	people, err := store.People(ctx, steward.PersonFilter{Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(people.Items) == 0 {
		t.Fatalf("people: %v", err)
	}
	ids, err := store.Identities(ctx, steward.IdentityFilter{Status: steward.IdentityActive, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(ids.Items) == 0 {
		t.Fatalf("identities: %v", err)
	}
	ents, err := store.Entitlements(ctx, steward.EntitlementFilter{SystemID: ids.Items[0].SystemID, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil || len(ents.Items) == 0 {
		t.Fatalf("entitlements: %v", err)
	}
	store.Close()
	code, out, stderr = run(t, "decide", "--db", db, "--as", people.Items[0].Email, "--model", "read-only-access",
		"--identity", ids.Items[0].Name, "--system", ids.Items[0].SystemName, "--entitlement", ents.Items[0].Name)
	if code != 0 || !strings.Contains(out, "Model read-only-access (routine, tier routine).") || !strings.Contains(out, " policy ") ||
		!strings.Contains(out, "Tier routine: decision within 15m") {
		t.Fatalf("decide: %d %s %s", code, out, stderr)
	}
	code, _, stderr = run(t, "decide", "--db", db, "--as", "nobody@example.invalid", "--model", "read-only-access", "--identity", "x", "--entitlement", "y")
	if code != ExitNotFound {
		t.Fatalf("decide for an unknown person: exit %d %s", code, stderr)
	}
}
