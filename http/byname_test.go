package http_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// TestFiltersByName: the list filters take names where people have them,
// give the same answer as by id, and refuse a name that names nothing.
func TestFiltersByName(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	s := seed(ts)
	// A person whose external id is made of digits: the name wins over the
	// id it looks like.
	numeric := ts.F.Person(func(p *steward.Person) { p.ExternalID = strconv.FormatInt(s.bob.ID, 10) })
	numericOwned := ts.F.Identity(func(i *steward.Identity) { i.OwnerID = &numeric.ID })
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, tt := range []struct {
		name, target string
		want         []int64
	}{
		{"system by name", "/api/v1/identities?system=aws-prod", []int64{s.ci.ID, s.human.ID}},
		{"system by id", "/api/v1/identities?system=" + id(s.aws.ID), []int64{s.ci.ID, s.human.ID}},
		{"team by name", "/api/v1/identities?team=platform", []int64{s.ci.ID, s.human.ID}},
		{"owner by e-mail", "/api/v1/identities?owner=" + url.QueryEscape(s.bob.Email), []int64{s.ci.ID}},
		{"owner by e-mail in capitals", "/api/v1/identities?owner=" + url.QueryEscape(strings.ToUpper(s.bob.Email)), []int64{s.ci.ID}},
		{"owner by external id", "/api/v1/identities?owner=" + s.bob.ExternalID, []int64{s.ci.ID}},
		{"owner by an external id of digits", "/api/v1/identities?owner=" + id(s.bob.ID), []int64{numericOwned.ID}},
		{"owner by id", "/api/v1/identities?owner=" + id(s.alice.ID), []int64{s.human.ID}},
		{"names combined", "/api/v1/identities?system=aws-prod&team=platform&kind=human", []int64{s.human.ID}},
		{"exact name", "/api/v1/identities?name=orphan-bot", []int64{s.orphan.ID}},
		{"external id in a system", "/api/v1/identities?system=k8s-staging&external_id=" + s.orphan.ExternalID, []int64{s.orphan.ID}},
		{"people by team name", "/api/v1/people?team=platform", []int64{s.alice.ID, s.bob.ID}},
		{"people by manager", "/api/v1/people?manager=" + url.QueryEscape(s.alice.Email), []int64{s.bob.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ts.Get(tt.target)
			if r.Status != 200 {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			if got := ids(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
	for _, tt := range []struct{ target, message string }{
		{"/api/v1/identities?team=paymnts", `Query parameter team: No team is named "paymnts".`},
		{"/api/v1/identities?system=aws-dev", `Query parameter system: No system is named "aws-dev".`},
		{"/api/v1/identities?owner=nobody%40example.com", `Query parameter owner: No person has the e-mail address or external id "nobody@example.com".`},
		{"/api/v1/identities?owner=999999", `Query parameter owner: No person has the e-mail address or external id "999999", and there is no person with that id.`},
		{"/api/v1/identities?system=aws-prod&system_id=1", "Give system or system_id, not both."},
		{"/api/v1/identities?external_id=x", "an external id is unique within its system: name the system too."},
		{"/api/v1/people?manager=ghost", `Query parameter manager: No person has the e-mail address or external id "ghost".`},
		{"/api/v1/identities/count?team=paymnts", `Query parameter team: No team is named "paymnts".`},
		{"/api/v1/identities.csv?team=paymnts", `Query parameter team: No team is named "paymnts".`},
	} {
		r := ts.Get(tt.target)
		if r.Status != 400 {
			t.Errorf("%s: status %d: %s", tt.target, r.Status, r.Body)
			continue
		}
		if e := r.Error(t); e.Code != steward.EINVALID || e.Message != tt.message {
			t.Errorf("%s: %+v, want %q", tt.target, e, tt.message)
		}
	}
}

// ageEstate makes identities of known ages through the store, for the
// sort, time filter, count and export tests.
func ageEstate(ts *testServer) (ids map[string]int64) {
	ts.tb.Helper()
	now := time.Now().UTC()
	day := 24 * time.Hour
	ago := func(days int) *time.Time { t := now.Add(-time.Duration(days) * day); return &t }
	sys := ts.F.System(func(s *steward.System) { s.Name = "ages" })
	ids = map[string]int64{}
	for _, x := range []struct {
		name           string
		created        int
		used           *time.Time
		cred, rotated  int // days; 0: none
		secondCredDays int
	}{
		{"=cmd|calc", 800, ago(400), 700, 0, 0}, // a name a spreadsheet would run
		{"beta", 500, ago(5), 600, 30, 0},
		{"alpha", 300, nil, 0, 0, 0},
		{"gamma", 200, ago(100), 50, 0, 450},
		{"delta", 100, nil, 90, 0, 0},
	} {
		i := ts.F.Identity(func(i *steward.Identity) {
			i.Name, i.SystemID, i.CreatedAt, i.LastUsedAt = x.name, sys.ID, ago(x.created), x.used
		})
		ids[x.name] = i.ID
		if x.cred > 0 {
			ts.F.Credential(i.ID, func(c *steward.Credential) {
				c.ExternalID, c.CreatedAt = "k1", ago(x.cred)
				if x.rotated > 0 {
					c.LastRotatedAt = ago(x.rotated)
				}
			})
		}
		if x.secondCredDays > 0 {
			ts.F.Credential(i.ID, func(c *steward.Credential) { c.ExternalID, c.CreatedAt = "k2", ago(x.secondCredDays) })
		}
	}
	return ids
}

// TestSortAndAgeFilters: the sorts page by cursor in both directions, with
// the unknown last; the time filters select by days; the count agrees.
func TestSortAndAgeFilters(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	x := ageEstate(ts)
	names := func(n ...string) []int64 {
		out := []int64{}
		for _, s := range n {
			out = append(out, x[s])
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []int64
	}{
		{"sort=name", names("=cmd|calc", "alpha", "beta", "delta", "gamma")},
		{"sort=-name", names("gamma", "delta", "beta", "alpha", "=cmd|calc")},
		{"sort=created", names("=cmd|calc", "beta", "alpha", "gamma", "delta")},
		{"sort=-created", names("delta", "gamma", "alpha", "beta", "=cmd|calc")},
		// never used last, in id order, whichever the direction
		{"sort=last_used", names("=cmd|calc", "gamma", "beta", "alpha", "delta")},
		{"sort=-last_used", names("beta", "gamma", "=cmd|calc", "delta", "alpha")},
		// gamma's oldest credential is its second (450 days); beta was
		// rotated 30 days ago; alpha has none
		{"sort=credential_age", names("=cmd|calc", "gamma", "delta", "beta", "alpha")},
		{"sort=-credential_age", names("beta", "delta", "gamma", "=cmd|calc", "alpha")},
		{"credential_older_than=365", names("=cmd|calc", "gamma")},
		{"credential_older_than=60&sort=-credential_age", names("delta", "gamma", "=cmd|calc")},
		{"unused_for=90", names("=cmd|calc", "gamma")},
		{"never_used=true", names("alpha", "delta")},
		{"never_used=false", names("=cmd|calc", "beta", "alpha", "gamma", "delta")},
	} {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			var got []int64
			target := "/api/v1/identities?system=ages&limit=2&" + tt.query
			for {
				r := ts.Get(target)
				if r.Status != 200 {
					t.Fatalf("%s: %d %s", target, r.Status, r.Body)
				}
				var page steward.Page[steward.IdentityView]
				r.Decode(t, &page)
				for _, v := range page.Items {
					got = append(got, v.ID)
				}
				if page.Next == "" {
					break
				}
				target = "/api/v1/identities?system=ages&limit=2&" + tt.query + "&after=" + page.Next
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			q, _ := url.ParseQuery(tt.query)
			q.Del("sort")
			q.Set("system", "ages")
			var n steward.Count
			ts.Get("/api/v1/identities/count?"+q.Encode()).Decode(t, &n)
			if n.N != int64(len(tt.want)) || n.Estimated {
				t.Errorf("count %+v, want %d", n, len(tt.want))
			}
		})
	}
	page := ts.Get("/api/v1/identities?sort=name&limit=1")
	var p steward.Page[steward.IdentityView]
	page.Decode(t, &p)
	for _, tt := range []struct {
		target string
		// outside marks a request openapi.json refuses too; the others
		// break rules the document cannot state.
		outside bool
	}{
		{"/api/v1/identities?sort=size", true},
		{"/api/v1/identities?sort=-name&after=" + p.Next, false}, // a cursor of another order
		{"/api/v1/identities?after=" + p.Next, false},
		{"/api/v1/identities?unused_for=0", true},
		{"/api/v1/identities?unused_for=40000", true},
		{"/api/v1/identities?credential_older_than=ten", true},
		{"/api/v1/identities?never_used=yes", true},
		{"/api/v1/identities?never_used=true&unused_for=30", false},
		{"/api/v1/identities/count?sort=name", true},
		{"/api/v1/identities/count?limit=5", true},
	} {
		if r := ts.Do(request{Target: tt.target, Token: ts.Admin, OutsideDocument: tt.outside}); r.Status != 400 || r.Error(t).Code != steward.EINVALID {
			t.Errorf("%s: %d %s", tt.target, r.Status, r.Body)
		}
	}
}

// TestExportCSV: the export holds every identity of the filter, in its
// order, over more than one page, with formulas defused; a bad filter is a
// JSON error, not a file.
func TestExportCSV(t *testing.T) {
	t.Parallel()
	ts := MustStartServer(t)
	x := ageEstate(ts)
	r := ts.Get("/api/v1/identities.csv?system=ages&sort=credential_age")
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.Contains(cd, "identities.csv") {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], steward.IdentityCSVHeader) {
		t.Fatalf("header %v", rows[0])
	}
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[1])
		if row[0] == strconv.FormatInt(x["alpha"], 10) && (row[14] != "" || row[13] != "") {
			t.Errorf("alpha has no credential and no use: %v", row)
		}
		if row[0] == strconv.FormatInt(x["beta"], 10) && (row[4] != "ages" || row[14] == "") {
			t.Errorf("beta: %v", row)
		}
	}
	if want := []string{"'=cmd|calc", "gamma", "delta", "beta", "alpha"}; !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}

	// More than a page (1,000) of identities, filtered: every one, once.
	sys := ts.F.System(func(s *steward.System) { s.Name = "many" })
	b := &steward.Bulk{Source: "test"}
	for i := range 2500 {
		b.Identities = append(b.Identities, steward.Identity{ID: int64(100000 + i), SystemID: sys.ID, ExternalID: fmt.Sprint("m-", i),
			Name: fmt.Sprintf("m-%04d", 2499-i), Kind: []steward.IdentityKind{steward.KindBot, steward.KindToken}[i%2],
			Environment: steward.EnvProd, Criticality: steward.LevelLow, Status: steward.IdentityActive, CreatedAt: new(time.Now().UTC())})
	}
	if err := ts.Store.BulkLoad(ts.F.ctx(), b); err != nil {
		t.Fatal(err)
	}
	r = ts.Get("/api/v1/identities.csv?system=many&kind=bot&sort=-name")
	rows, err = csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil || len(rows) != 1+1250 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for i, row := range rows[1:] {
		// The bots are the even i, named m-2499, m-2497, … m-0001.
		if want := fmt.Sprintf("m-%04d", 2499-2*i); row[1] != want || row[3] != "bot" {
			t.Fatalf("row %d: %v, want %s", i, row, want)
		}
	}
	var n steward.Count
	ts.Get("/api/v1/identities/count?system=many&kind=bot").Decode(t, &n)
	if n.N != 1250 || n.Estimated {
		t.Errorf("count %+v", n)
	}

	r = ts.Do(request{Target: "/api/v1/identities.csv?sort=oldest", Token: ts.Admin, OutsideDocument: true})
	if r.Status != 400 || r.Error(t).Code != steward.EINVALID {
		t.Errorf("bad sort: %d %s", r.Status, r.Body)
	}
	if r := ts.Do(request{Target: "/api/v1/identities.csv", OutsideDocument: true}); r.Status != 401 {
		t.Errorf("without a token: %d", r.Status)
	}
}
