package ldap_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
	"github.com/stewardhq/steward/connector/ldap"
)

// person is one expected person of testdata/people.ldif.
type person struct {
	uid, name, title, ou, group, manager string
	departed                             bool
	departedAt                           *time.Time
}

var newYear2025 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var organisation = []person{
	{uid: "alice", name: "Alice Archer", title: "CTO", ou: "engineering", group: "platform-team"},
	{uid: "bob", name: "Bob Baker", title: "Platform Lead", ou: "engineering", group: "platform-team", manager: "alice"},
	{uid: "carol", name: "Carol Chen", title: "Payments Lead", ou: "engineering", group: "payments", manager: "alice"},
	{uid: "dave", name: "Dave Dunn", title: "Engineer", ou: "engineering", group: "payments", manager: "carol"},
	{uid: "erin", name: "Erin Evans", title: "Engineer", ou: "engineering", group: "payments", manager: "carol", departed: true, departedAt: &newYear2025},
	{uid: "frank", name: "Frank Fox", title: "SRE", ou: "engineering", group: "platform-team", manager: "bob"},
	{uid: "grace", name: "Grace Gill", title: "SRE", ou: "engineering", group: "platform-team", manager: "bob"},
	{uid: "heidi", name: "Heidi Hart", title: "VP Sales", ou: "sales", group: "sales-emea", manager: "alice"},
	{uid: "ivan", name: "Ivan Ives", title: "Account Executive", ou: "sales", group: "sales-emea", manager: "heidi"},
	{uid: "judy", name: "Judy Jones", title: "Account Executive", ou: "sales", group: "sales-emea", manager: "heidi"},
	{uid: "mallory", name: "Mallory Moss", title: "Account Executive", ou: "sales", group: "sales-emea", manager: "heidi", departed: true},
	{uid: "niaj", name: "Niaj Nash", title: "Sales Engineer", ou: "sales", group: "platform-team", manager: "heidi"},
}

// want returns the people of the organisation as the source should report
// them when teams come from teamFrom, sorted by external id.
func want(teamFrom string) []steward.SourcePerson {
	var out []steward.SourcePerson
	for _, p := range organisation {
		sp := steward.SourcePerson{ExternalID: p.uid, Name: p.name, Email: p.uid + "@example.test", Title: p.title,
			Manager: p.manager, Status: steward.PersonActive, DepartedAt: p.departedAt}
		if p.departed {
			sp.Status = steward.PersonDeparted
		}
		switch teamFrom {
		case ldap.TeamFromMemberOf:
			sp.Team = p.group
		case ldap.TeamFromOU:
			sp.Team = p.ou
		}
		out = append(out, sp)
	}
	return out
}

// readPeople reads src to the end, returning the people sorted by external
// id and the errors in stream order.
func readPeople(tb testing.TB, src *ldap.Source) ([]steward.SourcePerson, []error) {
	tb.Helper()
	var people []steward.SourcePerson
	var errs []error
	for p, err := range src.People(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		people = append(people, p)
	}
	slices.SortFunc(people, func(a, b steward.SourcePerson) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	return people, errs
}

// checkPeople compares people with want field by field, so that a failure
// names the person and the field.
func checkPeople(tb testing.TB, got, want []steward.SourcePerson) {
	tb.Helper()
	if len(got) != len(want) {
		ids := func(ps []steward.SourcePerson) (s []string) {
			for _, p := range ps {
				s = append(s, p.ExternalID)
			}
			return s
		}
		tb.Fatalf("read %d people %v, want %d %v", len(got), ids(got), len(want), ids(want))
	}
	for i, g := range got {
		w := want[i]
		if g.DepartedAt != nil && w.DepartedAt != nil && g.DepartedAt.Equal(*w.DepartedAt) {
			g.DepartedAt = w.DepartedAt
		}
		if g != w {
			tb.Errorf("person %s:\n got %+v\nwant %+v", w.ExternalID, g, w)
		}
	}
}

// checkBadEntry checks that errs is exactly the report of the entry without
// a uid: EINVALID, starting with its DN.
func checkBadEntry(tb testing.TB, errs []error, root string) {
	tb.Helper()
	dn := "cn=No Uid,ou=sales,ou=people," + root
	if len(errs) != 1 {
		tb.Fatalf("got %d errors %v, want one for %s", len(errs), errs, dn)
	}
	if code, msg := steward.ErrorCode(errs[0]), steward.ErrorMessage(errs[0]); code != steward.EINVALID || !strings.HasPrefix(msg, dn+": ") || !strings.Contains(msg, "uid") {
		tb.Errorf("bad entry reported as %s %q, want EINVALID starting with %q and naming uid", code, msg, dn+": ")
	}
}

func TestPeople(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	for _, teamFrom := range []string{ldap.TeamFromMemberOf, ldap.TeamFromOU, ldap.TeamFromNone} {
		t.Run("team_from="+teamFrom, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, root)
			cfg.TeamFrom = teamFrom
			if teamFrom != ldap.TeamFromMemberOf {
				cfg.GroupBaseDN = ""
			}
			people, errs := readPeople(t, mustSource(t, cfg))
			checkBadEntry(t, errs, root)
			checkPeople(t, people, want(teamFrom))
		})
	}
}

// TestPeoplePaging reads the organisation in pages of several sizes, as the
// reader account (which slapd allows 10 entries unless it pages: the
// organisation has 13), as the admin (no limits) and anonymously.
func TestPeoplePaging(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)

	// The limit is what makes this test mean something: a search that
	// does not page cannot read the organisation.
	conn, err := goldap.DialURL(mustServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind("uid=reader,ou=services,"+root, readerPW); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Search(goldap.NewSearchRequest("ou=people,"+root, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		ldap.DefaultFilter, []string{"uid"}, nil))
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("a search without paging as the reader gave %v, want size limit exceeded", err)
	}

	tests := []struct {
		name     string
		pageSize int
		bind     func(*ldap.Config)
	}{
		{name: "reader page 1", pageSize: 1},
		{name: "reader page 2", pageSize: 2},
		{name: "reader page 5", pageSize: 5},
		{name: "reader page 13", pageSize: 13},
		{name: "reader default page", pageSize: 0},
		{name: "admin page 2", pageSize: 2, bind: func(c *ldap.Config) {
			c.BindDN, c.PasswordFile = adminDN, mustPasswordFile(t, adminPW)
		}},
		{name: "anonymous page 3", pageSize: 3, bind: func(c *ldap.Config) { c.BindDN, c.PasswordFile = "", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, root)
			cfg.PageSize = tt.pageSize
			if tt.bind != nil {
				tt.bind(&cfg)
			}
			people, errs := readPeople(t, mustSource(t, cfg))
			checkBadEntry(t, errs, root)
			checkPeople(t, people, want(ldap.TeamFromMemberOf))
		})
	}
}

// TestPeopleConformance runs the people-source checks every people source
// passes. The filter leaves out entries without a uid, as a production
// configuration would, since CheckPeople wants a stream without errors.
func TestPeopleConformance(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	cfg := testConfig(t, root)
	cfg.Filter = "(&(objectClass=inetOrgPerson)(uid=*))"
	cfg.PageSize = 3
	people := connectortest.CheckPeople(t, mustSource(t, cfg))
	if len(people) != len(organisation) {
		t.Errorf("CheckPeople read %d people, want %d", len(people), len(organisation))
	}
}

// TestPeopleDepartedOnNextRead: a leaver flagged in the directory shows as
// departed on the next read, which is what turns the identities they own
// into "owner departed" gaps at the next sync.
func TestPeopleDepartedOnNextRead(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	src := mustSource(t, testConfig(t, root))
	frank := func() steward.SourcePerson {
		people, _ := readPeople(t, src)
		for _, p := range people {
			if p.ExternalID == "frank" {
				return p
			}
		}
		t.Fatal("frank was not read")
		return steward.SourcePerson{}
	}
	if p := frank(); p.Status != steward.PersonActive {
		t.Fatalf("before the change frank is %s, want active", p.Status)
	}
	mod := goldap.NewModifyRequest("uid=frank,ou=engineering,ou=people,"+root, nil)
	mod.Replace("employeeType", []string{"terminated"})
	if err := mustAdmin(t).Modify(mod); err != nil {
		t.Fatalf("modifying frank: %v", err)
	}
	if p := frank(); p.Status != steward.PersonDeparted || p.DepartedAt != nil {
		t.Errorf("after the change frank is %s (departed at %v), want departed with no date", p.Status, p.DepartedAt)
	}
}

// TestPeopleTeamAttribute: with team_attribute, the directory's record of a
// person's department decides their team; the team groups (or OUs) are the
// fall-back for entries without it. niaj is in two team groups (Platform
// Team, Sales EMEA), which alone would put him in the first by name; his
// departmentNumber says Sales EMEA. alice's names a team no group has.
// grace's names two teams, so her groups decide.
func TestPeopleTeamAttribute(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	admin := mustAdmin(t)
	for uid, values := range map[string][]string{
		"niaj":  {"Sales EMEA"},
		"alice": {"Office of the CTO"},
		"grace": {"SRE", "Payments"},
	} {
		ou := "engineering"
		if uid == "niaj" {
			ou = "sales"
		}
		mod := goldap.NewModifyRequest("uid="+uid+",ou="+ou+",ou=people,"+root, nil)
		mod.Add("departmentNumber", values)
		if err := admin.Modify(mod); err != nil {
			t.Fatalf("modifying %s: %v", uid, err)
		}
	}
	for _, teamFrom := range []string{ldap.TeamFromMemberOf, ldap.TeamFromOU, ldap.TeamFromNone} {
		t.Run("team_from="+teamFrom, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, root)
			cfg.TeamAttribute, cfg.TeamFrom = "departmentNumber", teamFrom
			if teamFrom != ldap.TeamFromMemberOf {
				cfg.GroupBaseDN = ""
			}
			people, errs := readPeople(t, mustSource(t, cfg))
			checkBadEntry(t, errs, root)
			wanted := want(teamFrom)
			for i := range wanted {
				switch wanted[i].ExternalID {
				case "niaj":
					wanted[i].Team = "sales-emea"
				case "alice":
					wanted[i].Team = "office-of-the-cto"
				}
			}
			checkPeople(t, people, wanted)
		})
	}
}

// TestPeopleDuplicateID: a second entry with a uid another entry holds is
// reported and skipped; the first is read.
func TestPeopleDuplicateID(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	dn := "uid=bob,ou=sales,ou=people," + root
	add := goldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{"bob"})
	add.Attribute("cn", []string{"Other Bob"})
	add.Attribute("sn", []string{"Bob"})
	if err := mustAdmin(t).Add(add); err != nil {
		t.Fatal(err)
	}
	people, errs := readPeople(t, mustSource(t, testConfig(t, root)))
	checkPeople(t, people, want(ldap.TeamFromMemberOf))
	var dup bool
	for _, err := range errs {
		msg := steward.ErrorMessage(err)
		if steward.ErrorCode(err) == steward.EINVALID && strings.HasPrefix(msg, dn+": ") && strings.Contains(msg, "also held by") {
			dup = true
		}
	}
	if !dup || len(errs) != 2 {
		t.Errorf("errors %v, want the entry without uid and the duplicate %s", errs, dn)
	}
}

// TestPeopleFailures: what ends a read, and the code it ends with.
func TestPeopleFailures(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "ldap://" + l.Addr().String()
	}()
	tests := []struct {
		name   string
		change func(*ldap.Config)
		code   string
		about  string // a word the message must hold
	}{
		{"wrong password", func(c *ldap.Config) { c.PasswordFile = mustPasswordFile(t, "not-the-password") }, steward.EUNAUTHORIZED, "invalid credentials"},
		{"unknown bind DN", func(c *ldap.Config) { c.BindDN = "uid=nobody,ou=services," + root }, steward.EUNAUTHORIZED, "invalid credentials"},
		{"connection refused", func(c *ldap.Config) { c.URL = refused }, steward.EUNAVAILABLE, "cannot be reached"},
		{"base DN missing", func(c *ldap.Config) { c.BaseDN = "ou=nowhere," + root }, steward.EINVALID, "base_dn"},
		{"group base DN missing", func(c *ldap.Config) { c.GroupBaseDN = "ou=nowhere," + root }, steward.EINVALID, "group_base_dn"},
		{"StartTLS refused without a CA", func(c *ldap.Config) { c.StartTLS = true }, steward.EUNAVAILABLE, "TLS"},
		{"StartTLS to the wrong name", func(c *ldap.Config) {
			c.StartTLS, c.CAFile, c.ServerName = true, filepath.Join(server.dir, "tls.crt"), "ldap.example.test"
		}, steward.EUNAVAILABLE, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, root)
			tt.change(&cfg)
			people, errs := readPeople(t, mustSource(t, cfg))
			if len(people) != 0 || len(errs) != 1 {
				t.Fatalf("read %d people and errors %v, want one error", len(people), errs)
			}
			if code, msg := steward.ErrorCode(errs[0]), steward.ErrorMessage(errs[0]); code != tt.code || !strings.Contains(msg, tt.about) {
				t.Errorf("got %s %q, want %s about %q", code, msg, tt.code, tt.about)
			}
		})
	}
}

// TestPeopleTLS reads over StartTLS with the server's CA, and with
// verification off when that is asked for explicitly.
func TestPeopleTLS(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	tests := map[string]func(*ldap.Config){
		"ca_file":              func(c *ldap.Config) { c.CAFile = filepath.Join(server.dir, "tls.crt") },
		"insecure_skip_verify": func(c *ldap.Config) { c.InsecureSkipVerify = true },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, root)
			cfg.StartTLS = true
			change(&cfg)
			people, errs := readPeople(t, mustSource(t, cfg))
			checkBadEntry(t, errs, root)
			checkPeople(t, people, want(ldap.TeamFromMemberOf))
		})
	}
}

// TestPeopleStops: a consumer that stops early, or a context that ends,
// ends the read; the source can be read again afterwards.
func TestPeopleStops(t *testing.T) {
	t.Parallel()
	root := mustOrganisation(t)
	cfg := testConfig(t, root)
	cfg.PageSize = 2
	src := mustSource(t, cfg)
	t.Run("consumer stops", func(t *testing.T) {
		n := 0
		for range src.People(context.Background()) {
			n++
			break
		}
		if n != 1 {
			t.Errorf("read %d after stopping at the first", n)
		}
	})
	t.Run("context cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var errs []error
		for _, err := range src.People(ctx) {
			errs = append(errs, err)
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("errors %v, want context.Canceled", errs)
		}
	})
	t.Run("context cancelled midway", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var n int
		var last error
		for _, err := range src.People(ctx) {
			n++
			if n == 3 {
				cancel()
			}
			last = err
		}
		if !errors.Is(last, context.Canceled) || n > len(organisation) {
			t.Errorf("after %d items the stream ended with %v, want context.Canceled", n, last)
		}
	})
	t.Run("read again", func(t *testing.T) {
		people, errs := readPeople(t, src)
		checkBadEntry(t, errs, root)
		checkPeople(t, people, want(ldap.TeamFromMemberOf))
	})
}

// TestPasswordEnv cannot run in parallel: it sets the environment.
func TestPasswordEnv(t *testing.T) {
	root := mustOrganisation(t)
	const env = "STEWARD_TEST_LDAP_READER_PASSWORD"
	cfg := testConfig(t, root)
	cfg.PasswordFile, cfg.PasswordEnv = "", env

	t.Setenv(env, "")
	if _, err := ldap.New(cfg); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), env) {
		t.Errorf("New with %s empty gave %v, want EINVALID naming it", env, err)
	}
	t.Setenv(env, readerPW)
	people, errs := readPeople(t, mustSource(t, cfg))
	checkBadEntry(t, errs, root)
	checkPeople(t, people, want(ldap.TeamFromMemberOf))
}
