// Package examples holds the example configuration Steward ships with, so
// that `steward serve --demo` can apply it and tests can read it.
package examples

import _ "embed"

// Catalog is examples/catalog.yaml: the service catalog of the demo
// organisation.
//
//go:embed catalog.yaml
var Catalog []byte
