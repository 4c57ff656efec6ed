package steward_test

import (
	"errors"
	"go/build"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is the import path of this module.
const module = "github.com/stewardhq/steward"

// TestImportRules holds the layers of docs/architecture.md to the code, on
// every package's own (non-test) imports:
//   - the domain, the root package, imports only the standard library;
//   - every other package but the wiring imports, of this module, only the
//     domain and internal/ (adapters: store/sqlstore, http, http/web,
//     importer, connector/*, demo, jobs; and the workflows: request),
//     so that no adapter imports another;
//   - a test-support package (its name ends in "test": storetest,
//     sqlstoretest, connectortest, testenv) may also import the one package
//     it belongs to;
//   - cmd/ and bench/ wire the others together and may import anything.
//
// Tests themselves (_test.go files) may import anything.
func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := modulePackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages; is the test running from the module root?", len(pkgs))
	}
	for rel, imports := range pkgs {
		wiring := strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "bench/")
		if wiring {
			continue
		}
		for _, imp := range imports {
			if rel == "." {
				if !isStandard(imp) {
					t.Errorf("the domain (package steward) imports %s; it may import only the standard library", imp)
				}
				continue
			}
			if !strings.HasPrefix(imp, module+"/") && imp != module {
				continue // the standard library or another module
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			switch {
			case dep == "":
				// The domain: what every package builds on.
			case strings.HasPrefix(dep, "internal/"):
			case strings.HasSuffix(rel, "test") && dep == path.Dir(rel):
				// A test-support package and its own package.
			default:
				t.Errorf("%s imports %s: an adapter imports only the domain (see docs/architecture.md); wire the two together in cmd/", rel, dep)
			}
		}
	}
}

// TestImportRulesSeeEveryPackage: the rules above would pass vacuously if
// the walk missed packages; it finds the adapters and their imports.
func TestImportRulesSeeEveryPackage(t *testing.T) {
	t.Parallel()
	pkgs := modulePackages(t)
	for _, rel := range []string{".", "store/sqlstore", "http", "http/web", "importer", "connector/postgres", "connector/ldap", "demo", "jobs", "cmd/steward"} {
		if _, ok := pkgs[rel]; !ok {
			t.Errorf("package %s not found", rel)
		}
	}
	if !slices.Contains(pkgs["cmd/steward"], module+"/jobs") || !slices.Contains(pkgs["jobs"], module) {
		t.Errorf("imports not read: cmd/steward %v, jobs %v", pkgs["cmd/steward"], pkgs["jobs"])
	}
}

// modulePackages returns every package of the module, by its directory
// relative to the module root, with its non-test imports.
func modulePackages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(".", func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); dir != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(dir, 0)
		var none *build.NoGoError
		if errors.As(err, &none) {
			return nil // no Go files, or only ones behind a build tag (internal/deps)
		} else if err != nil {
			return err
		}
		pkgs[filepath.ToSlash(dir)] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// isStandard reports whether an import path is of the standard library,
// whose first element never has a dot.
func isStandard(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}
