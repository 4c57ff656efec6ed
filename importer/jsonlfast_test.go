package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// typicalLines are lines as exports write them, every one of which the fast
// path must take.
var typicalLines = []struct{ name, line string }{
	{"identity", `{"identity":{"external_id":"svc-1","name":"svc 1","kind":"service_account","labels":{"app":"x"},"owner":"a@b.c","created_at":"2024-01-02T03:04:05Z","credentials":[{"external_id":"k1","kind":"access_key","last_rotated_at":"2024-05-01T00:00:00Z"}]}}`},
	{"identity with every field", `{"identity": {"external_id": "svc-payments", "name": "Payments API", "kind": "service_account", "environment": "prod", "criticality": "high", "status": "active", "labels": {"team": "payments", "app": "payments-api"}, "owner": "ana@example.com", "team": "payments", "created_at": "2023-04-05T10:20:30Z", "last_used_at": "2025-05-31T08:00:00+02:00", "credentials": [{"external_id": "pw", "kind": "password", "created_at": "2024-12-01T00:00:00Z", "last_rotated_at": "2024-12-01T00:00:00Z", "last_used_at": "2025-01-01T00:00:00Z", "expires_at": "2025-12-01T00:00:00Z"}, {"external_id": "k2", "kind": "ssh_key"}]}}`},
	{"identity, empty labels and credentials", `{"identity":{"external_id":"bot-1","kind":"bot","labels":{},"credentials":[]}}`},
	{"identity with a disabled key and a link", `{"identity":{"external_id":"system:serviceaccount:p:api","kind":"service_account","credentials":[{"external_id":"k1","kind":"access_key","status":"disabled","version":"v7"}],"links":[{"kind":"assumes","to":"arn:aws:iam::1:role/api"}]}}`},
	{"generated identity", string(bytes.TrimSpace(appendJSONLLine(nil, 1)))},
	{"entitlement", `{"entitlement":{"name":"role-1","privileged":true}}`},
	{"entitlement with every field", `{"entitlement": {"name": "db:payments:read", "description": "Read the payments database", "privileged": false, "sensitivity": "medium"}}`},
	{"grant", `{"grant":{"identity":"svc-1","entitlement":"role-3701"}}`},
	{"generated grant", string(bytes.TrimSpace(appendJSONLLine(nil, 4)))},
	{"jit grant", `{"grant":{"identity":"svc-1","entitlement":"role-9","type":"jit","granted_at":"2025-05-31T09:00:00Z","expires_at":"2025-05-31T13:00:00Z"}}`},
}

// TestFastRecordTakesCommonLines: the lines exports write take the fast
// path, to the record encoding/json decodes, and that record is valid.
func TestFastRecordTakesCommonLines(t *testing.T) {
	t.Parallel()
	for _, tc := range typicalLines {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := []byte(tc.line)
			got, ok := fastRecord(line)
			if !ok {
				t.Fatal("the fast path did not take the line")
			}
			want, err := slowRecord(new(bytes.Reader), line)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fast path: %+v\nencoding/json: %+v", got, want)
			}
			if err := valid(got); err != nil {
				t.Errorf("the record is not valid: %v", err)
			}
		})
	}
}

// FuzzFastRecord checks the fast path's contract: whatever line it takes,
// encoding/json takes too, without an error, to the same record.
func FuzzFastRecord(f *testing.F) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			f.Add(line)
		}
	}
	for _, tc := range typicalLines {
		f.Add([]byte(tc.line))
	}
	for _, s := range []string{
		``,
		`{}`,
		`[]`,
		`null`,
		`{"grant":{}}`,
		`{"identity":{}}`,
		`{"identity":null}`,
		`{"identity":{"external_id":null,"kind":"bot"}}`,
		`{"identity":{"external_id":"a","kind":"bot","labels":null}}`,
		`{"identity":{"external_id":"a","kind":"bot","labels":{"k":null}}}`,
		`{"identity":{"external_id":"a","kind":"bot","credentials":null}}`,
		`{"identity":{"external_id":"a","kind":"bot","credentials":[null]}}`,
		`{"identity":{"external_id":"a","kind":"bot","created_at":null}}`,
		// Escapes, control characters, non-ASCII, invalid UTF-8.
		`{"identity":{"external_id":"a\"b","kind":"bot"}}`,
		`{"identity":{"external_id":"a\u0062","kind":"bot"}}`,
		"{\"identity\":{\"external_id\":\"a\tb\",\"kind\":\"bot\"}}",
		`{"identity":{"external_id":"é","kind":"bot"}}`,
		"{\"identity\":{\"external_id\":\"\xff\",\"kind\":\"bot\"}}",
		`{"identity":{"external_id":"a","kind":"bot","labels":{"\u00e9":"x"}}}`,
		// Duplicates, several items, other cases, unknown keys.
		`{"identity":{"external_id":"a","external_id":"b","kind":"bot"}}`,
		`{"identity":{"external_id":"a","kind":"bot","labels":{"k":"1","k":"2"}}}`,
		`{"identity":{"external_id":"a","kind":"bot"},"identity":{"name":"n"}}`,
		`{"identity":{"external_id":"a","kind":"bot"},"grant":{"identity":"a","entitlement":"e"}}`,
		`{"Identity":{"external_id":"a","kind":"bot"}}`,
		`{"identity":{"External_ID":"a","kind":"bot"}}`,
		`{"identity":{"external_id":"a","Name":"n","name":"m","kind":"bot"}}`,
		`{"identity":{"external_id":"a","kind":"bot","ownr":"x"}}`,
		`{"Pos":"x","identity":{"external_id":"a","kind":"bot"}}`,
		// Numbers and wrong types.
		`{"identity":{"external_id":42,"kind":"bot"}}`,
		`{"entitlement":{"name":"e","privileged":1}}`,
		`{"entitlement":{"name":"e","privileged":"true"}}`,
		`{"entitlement":{"name":true}}`,
		`{"identity":{"external_id":"a","kind":"bot","labels":["x"]}}`,
		`{"identity":{"external_id":"a","kind":"bot","credentials":{}}}`,
		`{"identity":{"external_id":"a","kind":"bot","links":{}}}`,
		`{"identity":{"external_id":"a","kind":"bot","links":[null]}}`,
		`{"identity":{"external_id":"a","kind":"bot","links":[{"kind":"assumes","to":"r","via":"x"}]}}`,
		`{"identity":{"external_id":"a","kind":"bot","credentials":[{"external_id":"k","kind":"token","status":null}]}}`,
		`{"grant":{"identity":"a","entitlement":"e","granted_at":20240101}}`,
		// Times.
		`{"grant":{"identity":"a","entitlement":"e","granted_at":"yesterday"}}`,
		`{"grant":{"identity":"a","entitlement":"e","granted_at":"2024-02-02T02:02:02+01:00"}}`,
		`{"grant":{"identity":"a","entitlement":"e","granted_at":"2024-02-02T02:02:02.123456789-07:30"}}`,
		`{"grant":{"identity":"a","entitlement":"e","granted_at":"2024-02-02 02:02:02Z"}}`,
		`{"grant":{"identity":"a","entitlement":"e","granted_at":"2024-02-30T02:02:02Z"}}`,
		// White space, trailing data, truncation.
		"{ \"grant\" :\t{\r\n\"identity\" : \"a\" , \"entitlement\":\"e\" } }",
		`{"grant":{"identity":"a","entitlement":"e"}}x`,
		`{"grant":{"identity":"a","entitlement":"e"}} {}`,
		`{"grant":{"identity":"a","entitlement":"e"}}}`,
		`{"grant":{"identity":"a","entitlement":"e",}}`,
		`{"grant":{"identity":"a","entitlement":"e"}`,
		`{"grant":{"identity":"a","entitlement":"e`,
		`{"entitlement":{"name":"e","privileged":tru`,
		`{"entitlement":{"name":"e","privileged":truex}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		line := bytes.TrimSpace(data)
		got, ok := fastRecord(line)
		if !ok {
			return
		}
		want, err := slowRecord(new(bytes.Reader), line)
		if err != nil {
			t.Fatalf("the fast path took %q, encoding/json says %v", line, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q\nfast path: %+v\nencoding/json: %+v", line, got, want)
		}
	})
}

// BenchmarkDecodeLine compares the fast path with encoding/json on the
// typical lines, per line.
func BenchmarkDecodeLine(b *testing.B) {
	lines := make([][]byte, len(typicalLines))
	for i, tc := range typicalLines {
		lines[i] = []byte(tc.line)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, ok := fastRecord(lines[n%len(lines)]); !ok {
				b.Fatal("not taken")
			}
			n++
		}
	})
	b.Run("slow", func(b *testing.B) {
		b.ReportAllocs()
		var body bytes.Reader
		n := 0
		for b.Loop() {
			if _, err := slowRecord(&body, lines[n%len(lines)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
	})
}
