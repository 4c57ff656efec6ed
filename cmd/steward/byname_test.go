package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

// identityDetail is what 'identities get -o json' prints: the identity
// with its credentials, grants and ownership gaps.
type identityDetail struct {
	steward.IdentityView
	Credentials []steward.Credential `json:"credentials"`
	Grants      []steward.GrantView  `json:"grants"`
	MoreGrants  bool                 `json:"more_grants,omitempty"`
	Gaps        []steward.GapKind    `json:"gaps"`
}

// TestIdentityParamsCopied holds countParams and exportParams to every
// parameter the count and the export take: a filter the document gains is
// not dropped between the list and them.
func TestIdentityParamsCopied(t *testing.T) {
	t.Parallel()
	var p client.ListIdentitiesParams
	lv := reflect.ValueOf(&p).Elem()
	for i := range lv.NumField() {
		f := lv.Field(i)
		f.Set(reflect.New(f.Type().Elem()))
	}
	for _, got := range []any{countParams(p), exportParams(p)} {
		v := reflect.ValueOf(got)
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if v.Field(i).IsNil() {
				t.Errorf("%T.%s is not copied from the list's parameters", got, name)
			} else if v.Field(i).Pointer() != lv.FieldByName(name).Pointer() {
				t.Errorf("%T.%s is not the list's %s", got, name, name)
			}
		}
	}
}

// TestCommandsByName drives the list, count, export and get commands by the
// names people use, against serve --demo.
func TestCommandsByName(t *testing.T) {
	t.Parallel()
	s := startDemoServer(t)
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", s.base, "--token", s.token)...)
	}
	jsonOf := func(v any, args ...string) {
		t.Helper()
		code, out, errOut := cli(append(args, "-o", "json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}

	// teams, people and systems list, by name.
	var teams steward.Page[steward.Team]
	jsonOf(&teams, "teams", "list", "--limit", "2")
	if len(teams.Items) != 2 || teams.Next == "" {
		t.Fatalf("teams: %+v", teams)
	}
	team := teams.Items[0]
	code, out, errOut := cli("teams", "list", "-q", team.Name)
	if code != 0 || !strings.Contains(out, team.Name) || !strings.Contains(out, "DISPLAY NAME") {
		t.Fatalf("teams list -q: exit %d\n%s%s", code, out, errOut)
	}
	var members steward.Page[steward.Person]
	jsonOf(&members, "people", "list", "--team", team.Name, "--limit", "1000")
	if len(members.Items) == 0 {
		t.Fatalf("team %s has nobody", team.Name)
	}
	for _, p := range members.Items {
		if p.TeamID == nil || *p.TeamID != team.ID {
			t.Fatalf("people --team %s lists %+v", team.Name, p)
		}
	}
	code, out, _ = cli("people", "list", "--team", team.Name)
	if code != 0 || !strings.Contains(out, members.Items[0].ExternalID) || !strings.Contains(out, "MANAGER") {
		t.Fatalf("people list table: %d\n%s", code, out)
	}
	var systems steward.Page[steward.System]
	jsonOf(&systems, "systems", "list")
	if len(systems.Items) == 0 {
		t.Fatal("no systems")
	}
	sys := systems.Items[0]
	if code, out, _ := cli("systems", "list", "--kind", string(sys.Kind)); code != 0 || !strings.Contains(out, sys.Name) {
		t.Fatalf("systems list --kind: %d\n%s", code, out)
	}

	// identities list by system name, sorted, in pages; the same by id.
	var byName, byID []int64
	var names []string
	for after := ""; ; {
		var page steward.Page[steward.IdentityView]
		args := []string{"identities", "list", "--system", sys.Name, "--sort", "name", "--limit", "7"}
		if after != "" {
			args = append(args, "--after", after)
		}
		jsonOf(&page, args...)
		for _, i := range page.Items {
			byName = append(byName, i.ID)
			names = append(names, i.Name)
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if !slices.IsSorted(names) || len(names) < 8 {
		t.Fatalf("--sort name over pages: %v", names)
	}
	var all steward.Page[steward.IdentityView]
	jsonOf(&all, "identities", "list", "--system-id", strconv.FormatInt(sys.ID, 10), "--limit", "1000")
	for _, i := range all.Items {
		byID = append(byID, i.ID)
	}
	slices.Sort(byName)
	if !slices.Equal(byName, byID) {
		t.Fatalf("by name %d identities, by id %d", len(byName), len(byID))
	}
	code, out, errOut = cli("identities", "list", "--system", sys.Name, "--limit", "5")
	if want := fmt.Sprintf("5 identities of %s\n", steward.GroupThousands(int64(len(byID)))); code != 0 || !strings.Contains(errOut, want) || !strings.Contains(out, "CREDENTIAL AGE") {
		t.Fatalf("identities list: exit %d, stderr %q, want %q\n%s", code, errOut, want, out)
	}
	code, out, _ = cli("identities", "count", "--system", sys.Name)
	if code != 0 || out != steward.GroupThousands(int64(len(byID)))+"\n" {
		t.Fatalf("count: %d %q", code, out)
	}

	// gaps of a team, and sync runs of a system, by name.
	var gaps steward.Page[steward.GapView]
	jsonOf(&gaps, "gaps", "--team", team.Name, "--limit", "1000")
	for _, g := range gaps.Items {
		if g.TeamID == nil || *g.TeamID != team.ID {
			t.Fatalf("gaps --team %s lists %+v", team.Name, g)
		}
	}
	if code, _, errOut := cli("sync-runs", "--system", "nowhere"); code != ExitInvalid || !strings.Contains(errOut, "nowhere") {
		t.Errorf("sync-runs --system nowhere: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("sync-runs", "--system", sys.Name); code != 0 {
		t.Errorf("sync-runs --system: exit %d %s", code, errOut)
	}

	// owner by e-mail: the same as by id.
	owned := all.Items[slices.IndexFunc(all.Items, func(i steward.IdentityView) bool { return i.OwnerID != nil })]
	var owner steward.Person
	s.call(t, "GET", fmt.Sprint("/api/v1/people/", *owned.OwnerID), "", nil, 200, &owner)
	var mine, mineByID steward.Page[steward.IdentityView]
	jsonOf(&mine, "identities", "list", "--owner", strings.ToUpper(owner.Email), "--limit", "1000")
	jsonOf(&mineByID, "identities", "list", "--owner-id", strconv.FormatInt(owner.ID, 10), "--limit", "1000")
	if len(mine.Items) == 0 || len(mine.Items) != len(mineByID.Items) {
		t.Fatalf("--owner %s: %d, --owner-id: %d", owner.Email, len(mine.Items), len(mineByID.Items))
	}
	for _, bad := range [][]string{{"--team", "no-such-team"}, {"--owner", "nobody@nowhere"}, {"--system", "nowhere"}} {
		code, _, errOut := cli(append([]string{"identities", "list"}, bad...)...)
		if code != ExitInvalid || !strings.Contains(errOut, bad[1]) {
			t.Errorf("%v: exit %d %s", bad, code, errOut)
		}
	}
	if code, _, errOut := cli("identities", "list", "--sort", "size"); code != ExitInvalid || !strings.Contains(errOut, "credential_age") {
		t.Errorf("--sort size: exit %d %s", code, errOut)
	}

	// get by name within its system: credentials, grants and gaps, times
	// with their zone.
	withCred := all.Items[slices.IndexFunc(all.Items, func(i steward.IdentityView) bool { return i.OldestCredentialAt != nil })]
	code, out, errOut = cli("identities", "get", withCred.ExternalID, "--system", sys.Name)
	zone := time.Now().Format("MST")
	if code != 0 || !strings.Contains(out, "Credentials (") || !strings.Contains(out, "Grants (") || !strings.Contains(out, "Ownership gaps:") ||
		!strings.Contains(out, " "+zone) || !strings.Contains(out, " ago)") {
		t.Fatalf("get by external id: exit %d\n%s%s", code, out, errOut)
	}
	var d identityDetail
	jsonOf(&d, "identities", "get", strconv.FormatInt(withCred.ID, 10))
	if d.ID != withCred.ID || len(d.Credentials) == 0 {
		t.Fatalf("get by id: %+v", d)
	}
	// Two identities of one name on two systems: the name alone is not
	// enough, the system settles it.
	other := systems.Items[1]
	for _, sid := range []int64{sys.ID, other.ID} {
		s.call(t, "POST", "/api/v1/identities", "application/json", strings.NewReader(fmt.Sprintf(
			`{"system_id":%d,"external_id":"twin-%d","name":"twin","kind":"bot","environment":"dev","criticality":"low"}`, sid, sid)), 201, nil)
	}
	if code, _, errOut := cli("identities", "get", "twin"); code != ExitInvalid || !strings.Contains(errOut, "--system") {
		t.Errorf("get twin: exit %d %s", code, errOut)
	}
	jsonOf(&d, "identities", "get", "twin", "--system", other.Name)
	if d.SystemID != other.ID {
		t.Errorf("get twin --system %s: %+v", other.Name, d.IdentityView)
	}
	if code, _, _ := cli("identities", "get", "nobody-at-all", "--system", sys.Name); code != ExitNotFound {
		t.Errorf("get of nothing: exit %d", code)
	}

	// set-owner by names.
	code, out, errOut = cli("identities", "set-owner", "twin", "--system", other.Name, "--owner", owner.ExternalID, "--team", team.Name, "-o", "json")
	var v steward.IdentityView
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.OwnerID == nil || *v.OwnerID != owner.ID || v.TeamID == nil || *v.TeamID != team.ID {
		t.Fatalf("set-owner by names: exit %d %+v %v %s", code, v, err, errOut)
	}
	if code, _, errOut := cli("identities", "set-owner", "twin", "--system", other.Name, "--team", "no-such-team"); code != ExitNotFound {
		t.Errorf("set-owner to a team nobody named: exit %d %s", code, errOut)
	}

	// export: the oldest credentials first, every one older than a year.
	file := filepath.Join(t.TempDir(), "old.csv")
	if code, _, errOut := cli("identities", "export", "--credential-older-than", "365", "--sort", "credential_age", "--file", file); code != 0 {
		t.Fatalf("export: exit %d %s", code, errOut)
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil || len(rows) < 2 || !slices.Equal(rows[0], steward.IdentityCSVHeader) {
		t.Fatalf("export: %v %v", err, rows[:min(len(rows), 2)])
	}
	var ages []string
	for _, r := range rows[1:] {
		at, err := time.Parse(time.RFC3339, r[14])
		if err != nil || time.Since(at) < 365*24*time.Hour {
			t.Fatalf("exported %v: %v", r, err)
		}
		ages = append(ages, r[14])
	}
	if !slices.IsSorted(ages) {
		t.Errorf("export not oldest first: %v", ages[:min(5, len(ages))])
	}
	var n steward.Count
	jsonOf(&n, "identities", "count", "--credential-older-than", "365")
	if n.N != int64(len(rows)-1) {
		t.Errorf("count %+v, export %d", n, len(rows)-1)
	}
}

// TestExportBrokenOff checks that an export the server breaks off midway
// fails (exit 6) and leaves no short file behind. The server is a stand-in
// that sends some rows and aborts: a real one breaks off only when its
// store fails midway, which no test can make happen on cue.
func TestExportBrokenOff(t *testing.T) {
	t.Parallel()
	var accept string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		fmt.Fprintln(w, strings.Join(steward.IdentityCSVHeader, ","))
		fmt.Fprintln(w, "1,etl-loader")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer ts.Close()
	file := filepath.Join(t.TempDir(), "all.csv")
	code, _, errOut := run(t, "identities", "export", "--server", ts.URL, "--token", "stw_x", "--file", file)
	if code != ExitUnavailable || !strings.Contains(errOut, "broke off") {
		t.Errorf("export broken off: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the short export is left at %s: %v", file, err)
	}
	if accept != "text/csv" {
		t.Errorf("export asked for %q", accept)
	}
}
