package http_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// TestOpenAPIRoutes holds the route table and the document to each other:
// a route missing from the document, or a documented route that is not
// served, fails.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	spec, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := ts.Do(request{Target: "/openapi.json"}); !bytes.Equal(r.Body, spec) {
		t.Error("/openapi.json does not serve openapi.json")
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("build model: %v", err)
	}

	var documented []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			if op.OperationId == "" || op.Summary == "" {
				t.Errorf("%s %s has no operationId or summary", method, path)
			}
			if op.Responses == nil || op.Responses.Default == nil {
				t.Errorf("%s %s has no default (error) response", method, path)
			}
		}
	}
	var served []string
	for _, r := range ts.Server.Routes() {
		served = append(served, r.Method+" "+r.Pattern)
		// A route is open in the document exactly when it is open in the
		// table.
		item, ok := model.Model.Paths.PathItems.Get(r.Pattern)
		if !ok {
			continue
		}
		op, ok := item.GetOperations().Get(strings.ToLower(r.Method))
		if !ok {
			continue
		}
		openInDoc := op.Security != nil && len(op.Security) == 0
		if openInDoc == r.Auth {
			t.Errorf("%s %s: Auth = %v in the route table but the document says open = %v", r.Method, r.Pattern, r.Auth, openInDoc)
		}
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.json documents %s, which is not served", d)
		}
	}
}

// TestOpenAPIValid checks the document against the OpenAPI 3.1 schema.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Errorf("version = %s, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("build validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s", e.Error())
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("  %s", f.Error())
			}
		}
	}
	// Every $ref resolves: an unresolved one would build a model with
	// holes, which libopenapi reports on the index.
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	if idx := model.Index; idx != nil {
		for _, e := range idx.GetReferenceIndexErrors() {
			t.Errorf("reference: %v", e)
		}
	}
}

// TestOpenAPIResponses requests every GET route with data behind it and
// checks each answer against the document's response schema (Do checks
// every documented response; this test makes sure each route is hit, with
// and without items, and with the error responses of the API).
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	var targets []string
	for _, r := range ts.Server.Routes() {
		if r.Method != "GET" {
			continue
		}
		targets = append(targets, strings.ReplaceAll(r.Pattern, "{id}", fmt.Sprint(s.ci.ID)))
	}
	targets = append(targets,
		"/api/v1/identities?q=nothing-matches",       // empty items
		"/api/v1/identities?limit=1",                 // with next
		"/api/v1/identities?kind=nope",               // 400
		fmt.Sprintf("/api/v1/people/%d", s.carol.ID), // departed_at
		"/api/v1/teams/999999",                       // 404
	)
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			if r := ts.Get(target); r.Status >= 500 {
				t.Errorf("status %d", r.Status)
			}
		})
	}
	t.Run("unauthorized", func(t *testing.T) {
		t.Parallel()
		ts.Do(request{Target: "/api/v1/identities"})
	})
}
