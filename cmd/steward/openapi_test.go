package main

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/stewardhq/steward/importer"
)

// TestImportFormatsDocumented holds the document's list of import formats
// to the importer that serve wires into the API: the http package cannot
// see the importer's list itself (adapters do not import each other).
func TestImportFormatsDocumented(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile("../../http/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Parameters map[string]struct {
				Schema struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(doc.Components.Parameters["ImportFormat"].Schema.Enum))
	if want := importer.Formats(); !slices.Equal(got, want) {
		t.Errorf("openapi.json ImportFormat = %v, importer.Formats() = %v", got, want)
	}
}
