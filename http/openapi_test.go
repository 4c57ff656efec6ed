package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/stewardhq/steward"
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
		// Open: no security at all, or an empty requirement among the
		// alternatives (/metrics: anonymous, or its own metrics token,
		// as the server is configured; never an API token).
		openInDoc := op.Security != nil && (len(op.Security) == 0 || slices.ContainsFunc(op.Security, func(req *base.SecurityRequirement) bool {
			return req.ContainsEmptyRequirement || req.Requirements == nil || req.Requirements.Len() == 0
		}))
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
	ts := MustStartServer(t, withRequests)
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
			r := ts.Do(request{Target: target, Token: ts.Admin, OutsideDocument: strings.HasSuffix(target, "kind=nope")})
			if r.Status >= 500 {
				t.Errorf("status %d", r.Status)
			}
		})
	}
	t.Run("unauthorized", func(t *testing.T) {
		t.Parallel()
		ts.Do(request{Target: "/api/v1/identities", OutsideDocument: true})
	})
}

// TestOpenAPIEnums holds each enum schema of the document to the Go list of
// the same domain type: a value added on one side only fails here, in the
// order the Go list gives (the order the document shows to readers).
func TestOpenAPIEnums(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `json:"enum"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	enums := []struct {
		schema string
		want   []string
	}{
		{"IdentityKind", names(steward.IdentityKinds)},
		{"Environment", names(steward.Environments)},
		{"Level", names(steward.Levels)},
		{"IdentityStatus", names(steward.IdentityStatuses)},
		{"GrantType", names(steward.GrantTypes)},
		{"GapKind", names(steward.GapKinds)},
		{"PersonStatus", names(steward.PersonStatuses)},
		{"SystemKind", names(steward.SystemKinds)},
		{"CredentialKind", names(steward.CredentialKinds)},
		{"OwnerSource", names(steward.OwnerSources)},
		{"TaskStatus", names(steward.TaskStatuses)},
		{"CredentialStatus", names(steward.CredentialStatuses)},
		{"LinkKind", names(steward.LinkKinds)},
		{"OwnerBasis", names(steward.OwnerBases)},
		{"Action", names(steward.Actions)},
		{"IdentitySort", names(steward.IdentitySorts)},
		{"Role", names(steward.Roles)},
		{"PrincipalKind", names(steward.PrincipalKinds)},
		{"ModelKind", names(steward.ModelKinds)},
		{"RequestState", names(steward.RequestStates)},
		{"JITState", names(steward.JITStates)},
	}
	compared := map[string]bool{}
	for _, tt := range enums {
		compared[tt.schema] = true
		t.Run(tt.schema, func(t *testing.T) {
			s, ok := doc.Components.Schemas[tt.schema]
			if !ok {
				t.Fatalf("openapi.json has no schema %s", tt.schema)
			}
			if !slices.Equal(s.Enum, tt.want) {
				t.Errorf("openapi.json %s enum = %v, Go has %v", tt.schema, s.Enum, tt.want)
			}
		})
	}
	// Every enum schema of the document is held to a Go list: a new one
	// must be added to the table above.
	for name, s := range doc.Components.Schemas {
		if len(s.Enum) > 0 && !compared[name] {
			t.Errorf("enum schema %s is not compared with a Go list in TestOpenAPIEnums", name)
		}
	}
}

// names returns the values of a domain enum as strings.
func names[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// TestOpenAPIWritesDocumentBusy holds every operation that writes (any
// method but GET) to documenting 503, with its Retry-After header: on
// SQLite a write waits for the one writer, and one that does not get its
// turn within the server's bound is answered 503 (TestBusyStoreAnswers503).
func TestOpenAPIWritesDocumentBusy(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
			} `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	writes := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "get" || method == "parameters" {
				continue
			}
			writes++
			var op struct {
				Responses map[string]struct {
					Ref string `json:"$ref"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			r, ok := op.Responses["503"]
			if !ok {
				t.Errorf("%s %s writes but does not document 503", strings.ToUpper(method), path)
				continue
			}
			name := strings.TrimPrefix(r.Ref, "#/components/responses/")
			if _, ok := doc.Components.Responses[name].Headers["Retry-After"]; !ok {
				t.Errorf("%s %s: its 503 (%s) has no Retry-After header", strings.ToUpper(method), path, r.Ref)
			}
		}
	}
	if writes == 0 {
		t.Fatal("found no operation that writes")
	}
}
