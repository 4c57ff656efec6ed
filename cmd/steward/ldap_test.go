package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testenv"
	"github.com/stewardhq/steward/store/sqlstore"
)

// startSlapd starts a throwaway OpenLDAP with scripts/slapd.sh and returns
// its URL; the server stops when the test ends.
func startSlapd(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("slapd")
	if err != nil {
		_, err = os.Stat("/usr/sbin/slapd")
	}
	testenv.Require(t, "OpenLDAP (slapd)", err == nil, "install the Debian packages slapd and ldap-utils")
	dir := t.TempDir()
	script, _ := filepath.Abs("../../scripts/slapd.sh")
	out, err := exec.Command(script, "start", dir).Output()
	if err != nil {
		t.Fatalf("slapd.sh start: %v", err)
	}
	t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	return strings.TrimSpace(string(out))
}

// TestLDAPDepartureOpensGaps is the promise end to end: a person set
// to departed in LDAP turns every identity they own into an "owner departed"
// gap after the next sync.
func TestLDAPDepartureOpensGaps(t *testing.T) {
	t.Parallel()
	url := startSlapd(t)
	conn, err := goldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind("cn=admin,dc=example,dc=test", "secret"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ uid, cn, mail string }{
		{"grace", "Grace Hopper", "grace@example.test"},
		{"alan", "Alan Turing", "alan@example.test"},
	} {
		req := goldap.NewAddRequest(fmt.Sprintf("uid=%s,ou=people,dc=example,dc=test", p.uid), nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{p.uid})
		req.Attribute("cn", []string{p.cn})
		req.Attribute("sn", []string{strings.Fields(p.cn)[1]})
		req.Attribute("mail", []string{p.mail})
		req.Attribute("employeeType", []string{"employee"})
		if p.uid == "alan" {
			req.Attribute("manager", []string{"uid=grace,ou=people,dc=example,dc=test"})
		}
		if err := conn.Add(req); err != nil {
			t.Fatal(err)
		}
	}
	pwFile := writeFile(t, "ldap-password", "secret")
	cfg := writeFile(t, "steward.yaml", fmt.Sprintf(`connectors:
  - name: corp
    type: ldap
    ldap:
      url: %s
      bind_dn: cn=admin,dc=example,dc=test
      password_file: %s
      base_dn: ou=people,dc=example,dc=test
      team_from: ou
      status_attribute: employeeType
      departed_values: [departed]
`, url, pwFile))
	db := filepath.Join(t.TempDir(), "ldap.db")
	if code, out, stderr := run(t, "--config", cfg, "sync", "--db", db, "-o", "json"); code != 0 || !strings.Contains(out, `"people_created": 2`) {
		t.Fatalf("first people sync: exit %d\n%s%s", code, out, stderr)
	}
	owned := writeFile(t, "owned.jsonl", `{"identity": {"external_id": "etl", "kind": "service_account", "owner": "alan"}}
{"identity": {"external_id": "reports", "kind": "api_key", "owner": "alan@example.test"}}
{"identity": {"external_id": "backup", "kind": "service_account", "owner": "grace"}}
`)
	if code, _, stderr := run(t, "import", "--db", db, "--format", "jsonl", "--system", "vault-prod", owned); code != 0 {
		t.Fatal(stderr)
	}
	mod := goldap.NewModifyRequest("uid=alan,ou=people,dc=example,dc=test", nil)
	mod.Replace("employeeType", []string{"departed"})
	if err := conn.Modify(mod); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "--config", cfg, "sync", "corp", "--db", db, "-o", "json")
	if code != 0 || !strings.Contains(out, `"people_departed": 1`) || !strings.Contains(out, `"gaps_opened": 2`) {
		t.Fatalf("sync after departure: exit %d\n%s%s", code, out, stderr)
	}
	s, err := sqlstore.Open(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gaps, err := s.Gaps(context.Background(), steward.GapFilter{Gap: steward.GapOwnerDeparted})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gaps.Items {
		names = append(names, g.IdentityName)
		if g.OwnerName != "Alan Turing" || g.SuggestedOwner != "Grace Hopper" {
			t.Errorf("gap %+v: want owner Alan Turing, suggested Grace Hopper", g)
		}
	}
	if strings.Join(names, ",") != "etl,reports" {
		t.Fatalf("owner-departed gaps on %v, want etl and reports", names)
	}
	// The same sync again changes nothing.
	if code, out, _ := run(t, "--config", cfg, "sync", "corp", "--db", db, "-o", "json"); code != 0 || !strings.Contains(out, `"events": 0`) {
		t.Fatalf("repeat sync: %s", out)
	}
	// An entry deleted from the directory is a departure too.
	if err := conn.Del(goldap.NewDelRequest("uid=grace,ou=people,dc=example,dc=test", nil)); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, "--config", cfg, "sync", "corp", "--db", db, "-o", "json"); code != 0 || !strings.Contains(out, `"people_departed": 1`) || !strings.Contains(out, `"gaps_opened": 1`) {
		t.Fatalf("sync after deletion: %s", out)
	}
}
