package web

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestInventoryExport: the export link's list is the page's list, every
// page of it, in its order; a bad filter goes back to the page that says
// what is wrong.
func TestInventoryExport(t *testing.T) {
	t.Parallel()
	f := MustFixture(t)
	session := f.MustSignIn(t)
	res, body := f.Do(t, http.MethodGet, "/inventory.csv?system=k8s-staging&sort=-name", session, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, type %q:\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	rows, err := csv.NewReader(bytes.NewReader([]byte(body))).ReadAll()
	if err != nil || !slices.Equal(rows[0], steward.IdentityCSVHeader) {
		t.Fatalf("%v %v", err, rows)
	}
	var names []string
	for _, r := range rows[1:] {
		names = append(names, r[1])
		if r[4] != "k8s-staging" {
			t.Errorf("row of another system: %v", r)
		}
	}
	if len(names) != 1+f.Fillers || !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("%d names, sorted Z to A: %v", len(names), names[:min(5, len(names))])
	}
	res, _ = f.Do(t, http.MethodGet, "/inventory.csv?team=nobody", session, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/inventory?team=nobody" {
		t.Errorf("bad filter: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = f.Do(t, http.MethodGet, "/inventory.csv", "", nil)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("without a session: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}
