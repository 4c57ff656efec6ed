package steward_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/stewardhq/steward"
)

// TestErrorTable holds every error code declared in error.go to exactly one
// row of steward.ErrorTable. It reads the constants from the source, so that
// a code added later without a row fails here rather than answering 500.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			for i, n := range v.Names {
				if len(n.Name) < 2 || n.Name[0] != 'E' || n.Name[1] < 'A' || n.Name[1] > 'Z' || i >= len(v.Values) {
					continue
				}
				if lit, ok := v.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					code, _ := strconv.Unquote(lit.Value)
					declared = append(declared, code)
				}
			}
		}
	}
	if len(declared) < 10 {
		t.Fatalf("found only %d codes in error.go: %v", len(declared), declared)
	}
	rows := map[string]int{}
	for _, c := range steward.ErrorTable {
		rows[c.Code]++
		if c.HTTPStatus < 400 || c.HTTPStatus > 599 {
			t.Errorf("%s: HTTP status %d is not an error status", c.Code, c.HTTPStatus)
		}
		if c.ExitCode <= steward.ExitOK || c.ExitCode == steward.ExitAuditBroken {
			t.Errorf("%s: exit code %d is success or reserved for a broken audit chain", c.Code, c.ExitCode)
		}
	}
	for _, code := range declared {
		if rows[code] != 1 {
			t.Errorf("code %q has %d rows in ErrorTable, want 1", code, rows[code])
		}
	}
	if len(rows) != len(declared) {
		t.Errorf("ErrorTable has %d codes, error.go declares %d", len(rows), len(declared))
	}
	statuses := map[int]string{}
	for _, c := range steward.ErrorTable {
		if other, dup := statuses[c.HTTPStatus]; dup {
			t.Errorf("%s and %s share HTTP status %d: a client could not tell them apart", other, c.Code, c.HTTPStatus)
		}
		statuses[c.HTTPStatus] = c.Code
	}
}

func TestErrorStatusAndExit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code         string
		status, exit int
	}{
		{steward.EINVALID, 400, steward.ExitInvalid},
		{steward.EUNAUTHORIZED, 401, steward.ExitUnauthorized},
		{steward.EFORBIDDEN, 403, steward.ExitUnauthorized},
		{steward.ENOTFOUND, 404, steward.ExitNotFound},
		{steward.EMETHOD, 405, steward.ExitInvalid},
		{steward.ECONFLICT, 409, steward.ExitConflict},
		{steward.ETOOLARGE, 413, steward.ExitInvalid},
		{steward.EINTERNAL, 500, steward.ExitInternal},
		{steward.ENOTIMPL, 501, steward.ExitInternal},
		{steward.EUNAVAILABLE, 503, steward.ExitUnavailable},
		{"no-such-code", 500, steward.ExitInternal},
	} {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			if got := steward.HTTPStatus(tt.code); got != tt.status {
				t.Errorf("HTTPStatus(%q) = %d, want %d", tt.code, got, tt.status)
			}
			if got := steward.ExitCode(tt.code); got != tt.exit {
				t.Errorf("ExitCode(%q) = %d, want %d", tt.code, got, tt.exit)
			}
			if tt.code != "no-such-code" {
				if got := steward.CodeOfHTTPStatus(tt.status); got != tt.code {
					t.Errorf("CodeOfHTTPStatus(%d) = %q, want %q", tt.status, got, tt.code)
				}
			}
		})
	}
}

func TestFailureText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{steward.Errorf(steward.EUNAVAILABLE, "pg-test cannot be reached."), "unavailable: pg-test cannot be reached."},
		{fmt.Errorf("grant: %w", steward.Errorf(steward.EFORBIDDEN, "permission denied.")), "forbidden: permission denied."},
		{errors.New("dial tcp: refused"), "dial tcp: refused"},
	} {
		if got := steward.FailureText(tc.err); got != tc.want {
			t.Errorf("FailureText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
