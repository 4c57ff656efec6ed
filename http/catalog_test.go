package http_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/policy"
)

// withCatalog gives the server the policy package's compiler, as
// cmd/steward wires it.
func withCatalog(s *stewardhttp.Server) {
	s.CompileCatalog = func(src []byte) (*steward.Catalog, steward.AccessDecider, error) {
		c, ds := policy.Compile(src)
		if err := ds.Err("the catalog"); err != nil {
			return nil, nil, err
		}
		return c.Catalog, c, nil
	}
}

func TestCatalogAPI(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, withCatalog)
	put := func(src string) *response {
		return ts.Do(request{Method: "PUT", Target: "/api/v1/catalog", Token: ts.Admin, Reader: strings.NewReader(src),
			Header: map[string]string{"Content-Type": "application/yaml"}})
	}
	get := func() *response { return ts.Do(request{Target: "/api/v1/catalog", Token: ts.Viewer}) }

	if res := get(); res.Status != 404 {
		t.Fatalf("no catalog yet: %d %s", res.Status, res.Body)
	}
	// A bad file: every problem with its line and column, nothing applied.
	res := put("kind: Catalog\ntiers:\n  - name: t\n    colour: red\nmodels:\n  - name: m\n    tier: gold\n    kind: routine\n    requestable: {}\n    approval: {automatic: true}\n    who_may_request: permit (principal, action, resource) when { principal.dept == \"x\" };\n")
	if res.Status != 400 {
		t.Fatalf("bad catalog: %d %s", res.Status, res.Body)
	}
	msg := res.Error(t).Message
	if !strings.Contains(msg, ":4:5: colour is not a field here") {
		t.Errorf("message lacks the unknown field at 4:5:\n%s", msg)
	}
	if res := get(); res.Status != 404 {
		t.Fatalf("a refused catalog was applied: %d %s", res.Status, res.Body)
	}
	res = put("kind: Catalog\ntiers:\n  - name: t\nmodels:\n  - name: m\n    tier: t\n    kind: routine\n    requestable: {}\n    approval: {automatic: true}\n    who_may_request: permit (principal, action, resource) when { principal.dept == \"x\" };\n")
	if res.Status != 400 || !strings.Contains(res.Error(t).Message, "does not fit Steward's schema") {
		t.Fatalf("unknown attribute: %d %s", res.Status, res.Body)
	}

	src, err := os.ReadFile("../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var applied struct {
		Changed bool
		Version steward.CatalogVersion
		Changes []steward.CatalogChange
	}
	res = put(string(src))
	if res.Status != 200 {
		t.Fatalf("example catalog: %d %s", res.Status, res.Body)
	}
	res.Decode(t, &applied)
	if !applied.Changed || applied.Version.Version != 1 || len(applied.Changes) < 12 {
		t.Errorf("first apply: %+v", applied)
	}
	res = put(string(src))
	res.Decode(t, &applied)
	if res.Status != 200 || applied.Changed || applied.Version.Version != 1 {
		t.Errorf("same text again: %d changed %v version %d", res.Status, applied.Changed, applied.Version.Version)
	}
	var v steward.CatalogVersion
	get().Decode(t, &v)
	if v.Source != string(src) || len(v.Catalog.Models) != len(applied.Version.Catalog.Models) {
		t.Errorf("GET does not give back the text as applied")
	}
	page, err := ts.Store.Events(context.Background(), steward.EventFilter{Action: steward.ActionCatalogApplied})
	if err != nil || len(page.Items) != 1 || page.Items[0].Actor == "" {
		t.Fatalf("events %+v %v", page, err)
	}
}
