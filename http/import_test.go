package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/importer"
)

// withImporter wires the real importer, as steward serve does. Only test
// code may import it: the http package stays independent of other adapters.
func withImporter(s *stewardhttp.Server) {
	s.Importer = func(format string, body io.Reader, name string) (steward.Source, error) {
		return importer.New(format, body, name, importer.Options{Now: time.Now()})
	}
}

func mustReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func importTarget(systemID int64, query string) string {
	return fmt.Sprintf("/api/v1/systems/%d/import?%s", systemID, query)
}

// TestImport uploads the importer's real-format fixtures, checks that a
// second upload changes nothing, and that a broken file names its lines and
// changes nothing.
func TestImport(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t, withImporter)
	// Not parallel: it counts every event in the store, so it runs before
	// the parallel subtests start writing.
	t.Run("broken lines", func(t *testing.T) {
		sys := ts.F.System(func(s *steward.System) { s.Name = "import-broken" })
		good := `{"identity": {"external_id": "a", "kind": "bot"}}` + "\n"
		if r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl"), Token: ts.Admin, Reader: strings.NewReader(good)}); r.Status != 200 {
			t.Fatalf("good import: %d %s", r.Status, r.Body)
		}
		before := auditCount(t, ts)
		broken := good + `{"identity": {"external_id": "b", "kind": "robot"}}` + "\nnot json\n"
		r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl"), Token: ts.Admin, Reader: strings.NewReader(broken)})
		if r.Status != 400 {
			t.Fatalf("status = %d: %s", r.Status, r.Body)
		}
		e := r.Error(t)
		if e.Code != steward.EINVALID || !strings.Contains(e.Message, "upload:2") || !strings.Contains(e.Message, "upload:3") ||
			strings.Contains(e.Message, "upload:1:") || !strings.Contains(e.Message, "nothing was changed") {
			t.Errorf("error = %+v, want lines 2 and 3 named", e)
		}
		if after := auditCount(t, ts); after != before {
			t.Errorf("a refused import wrote %d events", after-before)
		}
	})
	for _, tt := range []struct {
		format, file, contentType string
		kind                      steward.SystemKind
	}{
		{"aws-credential-report", "credential-report.csv", "text/csv", steward.SystemAWS},
		{"k8s-serviceaccounts", "serviceaccounts.json", "application/json", steward.SystemKubernetes},
		{"gcp-sa-keys", "sa-keys.json", "application/json", steward.SystemGCP},
		{"jsonl", "steward.jsonl", "application/x-ndjson", steward.SystemVault},
		{"csv", "identities.csv", "", steward.SystemOther},
	} {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			sys := ts.F.System(func(s *steward.System) { s.Name, s.Kind = "import-"+tt.format, tt.kind })
			data := mustReadFile(t, "../importer/testdata/"+tt.file)
			upload := func() steward.SyncResult {
				t.Helper()
				req := request{Method: "POST", Target: importTarget(sys.ID, "format="+tt.format), Token: ts.Admin, Reader: bytes.NewReader(data)}
				if tt.contentType != "" {
					req.Header = map[string]string{"Content-Type": tt.contentType}
				}
				r := ts.Do(req)
				if r.Status != 200 {
					t.Fatalf("status = %d: %s", r.Status, r.Body)
				}
				var res steward.SyncResult
				r.Decode(t, &res)
				return res
			}
			first := upload()
			if first.IdentitiesCreated == 0 || first.Records == 0 || first.Events == 0 {
				t.Errorf("first import = %+v, want identities created", first)
			}
			if again := upload(); again.Events != 0 || again.IdentitiesCreated+again.IdentitiesUpdated+again.IdentitiesRemoved != 0 {
				t.Errorf("second import = %+v, want no change", again)
			}
			var page steward.Page[steward.IdentityView]
			ts.Get(fmt.Sprintf("/api/v1/identities?system_id=%d&limit=1000", sys.ID)).Decode(t, &page)
			if len(page.Items) != first.IdentitiesCreated {
				t.Errorf("%d identities on the system, want the %d created", len(page.Items), first.IdentitiesCreated)
			}
			var events steward.Page[steward.Event]
			ts.Get(fmt.Sprintf("/api/v1/events?action=system.synced&object_id=%d", sys.ID)).Decode(t, &events)
			if len(events.Items) != 1 || events.Items[0].Actor != "person:admin@tokens.test" || events.Items[0].Via != "token:admin" || !strings.Contains(string(events.Items[0].Data), `"import:`+tt.format+`"`) {
				t.Errorf("sync events = %+v, want one by the admin's person via token:admin from import:%s", events.Items, tt.format)
			}
		})
	}

	t.Run("partial and environment", func(t *testing.T) {
		t.Parallel()
		sys := ts.F.System(func(s *steward.System) { s.Name = "import-partial" })
		one := `{"identity": {"external_id": "one", "kind": "bot"}}` + "\n"
		two := `{"identity": {"external_id": "two", "kind": "bot"}}` + "\n"
		for _, body := range []string{one, two} {
			r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl&partial=true&environment=dev"), Token: ts.Admin, Reader: strings.NewReader(body)})
			if r.Status != 200 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
		}
		var page steward.Page[steward.IdentityView]
		ts.Get(fmt.Sprintf("/api/v1/identities?system_id=%d&status=active&environment=dev", sys.ID)).Decode(t, &page)
		if len(page.Items) != 2 {
			t.Fatalf("identities = %+v, want both kept, in dev", page.Items)
		}
		// A whole import (the default) removes what the file leaves out.
		r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl"), Token: ts.Admin, Reader: strings.NewReader(two)})
		var res steward.SyncResult
		r.Decode(t, &res)
		if r.Status != 200 || res.IdentitiesRemoved != 1 {
			t.Errorf("whole import: status %d, %+v, want one removed", r.Status, res)
		}
		// full=true compares every record again and still finds nothing.
		r = ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl&full=true"), Token: ts.Admin, Reader: strings.NewReader(two)})
		res = steward.SyncResult{}
		r.Decode(t, &res)
		if r.Status != 200 || res.Events != 0 || res.Records != 1 {
			t.Errorf("full import: status %d, %+v, want nothing changed", r.Status, res)
		}
	})

	for _, tt := range []struct {
		name   string
		req    request
		status int
		msg    string
	}{
		{"unknown format", request{Target: importTarget(1, "format=xml"), OutsideDocument: true}, 400, "aws-credential-report"},
		{"no format", request{Target: importTarget(1, ""), OutsideDocument: true}, 400, "format"},
		{"bad environment", request{Target: importTarget(1, "format=jsonl&environment=qa"), OutsideDocument: true}, 400, "qa"},
		{"bad partial", request{Target: importTarget(1, "format=jsonl&partial=yes"), OutsideDocument: true}, 400, "true or false"},
		{"bad full", request{Target: importTarget(1, "format=jsonl&full=1x"), OutsideDocument: true}, 400, "true or false"},
		{"unknown parameter", request{Target: importTarget(1, "format=jsonl&system=aws"), OutsideDocument: true}, 400, `"system"`},
		{"unknown system", request{Target: importTarget(999999, "format=jsonl")}, 404, "999999"},
		{"bad system id", request{Target: "/api/v1/systems/aws/import?format=jsonl", OutsideDocument: true}, 400, "id"},
		{"auditor", request{Target: importTarget(1, "format=jsonl"), Token: ts.Viewer}, 403, "writes nothing"},
		{"wrong format for the file", request{Target: importTarget(1, "format=aws-credential-report")}, 400, "upload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.Method = "POST"
			tt.req.Reader = strings.NewReader(`{"identity": {"external_id": "x", "kind": "bot"}}` + "\n")
			if tt.req.Token == "" {
				tt.req.Token = ts.Admin
			}
			ts.F.defaultSystem() // system 1 exists
			r := ts.Do(tt.req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if e := r.Error(t); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.msg)
			}
		})
	}
}

// TestImportLimit sends bodies over MaxImportBytes, with and without a
// Content-Length, and checks each is refused with 413 and changes nothing.
func TestImportLimit(t *testing.T) {
	t.Parallel()
	const limit = 200
	ts := MustStartServer(t, withImporter, func(s *stewardhttp.Server) { s.MaxImportBytes = limit })
	sys := ts.F.System()
	small := `{"identity": {"external_id": "small", "kind": "bot"}}` + "\n"
	big := strings.Repeat(`{"identity": {"external_id": "big", "kind": "bot"}}`+"\n", 10)
	if len(big) <= limit || len(small) > limit {
		t.Fatal("fixture sizes are wrong")
	}
	// What the system holds before: a refused upload must lose none of it
	// (an upload cut off midway must not read as a file that stopped
	// listing the rest).
	if r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl"), Token: ts.Admin, Reader: io.MultiReader(strings.NewReader(small))}); r.Status != 200 {
		t.Fatalf("under the limit: status %d: %s", r.Status, r.Body)
	}
	before := auditCount(t, ts)
	for _, tt := range []struct {
		name string
		body io.Reader
	}{
		{"with Content-Length", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader(big))}, // the client cannot tell its length
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl"), Token: ts.Admin, Reader: tt.body})
			if r.Status != 413 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			if e := r.Error(t); e.Code != steward.ETOOLARGE || !strings.Contains(e.Message, fmt.Sprint(limit)) {
				t.Errorf("error = %+v", e)
			}
		})
	}
	if after := auditCount(t, ts); after != before {
		t.Errorf("a refused import wrote %d events", after-before)
	}
	page, err := ts.Store.Identities(context.Background(), steward.IdentityFilter{SystemID: sys.ID})
	if err != nil {
		t.Fatal(err)
	} else if len(page.Items) != 1 || page.Items[0].ExternalID != "small" || page.Items[0].Status != steward.IdentityActive {
		t.Errorf("after the refused uploads the system holds %+v; want the identity small, active", page.Items)
	}
}

// TestImportWithoutImporter: a server not given an importer says so.
func TestImportWithoutImporter(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	sys := ts.F.System()
	r := ts.Do(request{Method: "POST", Target: importTarget(sys.ID, "format=jsonl"), Token: ts.Admin, Reader: strings.NewReader("{}\n")})
	if r.Status != 501 || r.Error(t).Code != steward.ENOTIMPL {
		t.Errorf("status = %d: %s", r.Status, r.Body)
	}
}
