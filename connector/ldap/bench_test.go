package ldap_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stewardhq/steward/connector/ldap"
)

// BenchmarkPeople20k reads a directory of the size Steward is designed for:
// 20,000 people in 50 team groups, each but the first managed by another.
// Loading it takes a while and happens once; each iteration is one full
// read at the default page size. It reports people per second and the
// largest live heap seen during a read.
func BenchmarkPeople20k(b *testing.B) {
	const people, teams = 20_000, 50
	conn := mustAdmin(b)
	root := fmt.Sprintf("ou=bench%d,%s", server.n.Add(1), suffix)
	mustAdd(b, conn, root, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {fmt.Sprintf("bench%d", server.n.Load())}})
	for _, ou := range []string{"people", "groups"} {
		mustAdd(b, conn, "ou="+ou+","+root, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}})
	}
	dn := func(i int) string { return fmt.Sprintf("uid=p%05d,ou=people,%s", i, root) }
	start := time.Now()
	for i := range people {
		attrs := map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {fmt.Sprintf("p%05d", i)},
			"cn": {fmt.Sprintf("Person %d", i)}, "sn": {"Person"}, "mail": {fmt.Sprintf("p%05d@example.test", i)},
			"title": {"Engineer"}, "employeeType": {"employee"}}
		if i > 0 {
			attrs["manager"] = []string{dn(i / 10)}
		}
		mustAdd(b, conn, dn(i), attrs)
	}
	for g := range teams {
		var members []string
		for i := g; i < people; i += teams {
			members = append(members, dn(i))
		}
		mustAdd(b, conn, fmt.Sprintf("cn=Team %d,ou=groups,%s", g, root), map[string][]string{
			"objectClass": {"groupOfNames"}, "cn": {fmt.Sprintf("Team %d", g)}, "member": members})
	}
	b.Logf("loaded %d people in %s", people, time.Since(start).Round(time.Millisecond))

	cfg := ldap.Config{URL: mustServer(b), BindDN: adminDN, PasswordFile: mustPasswordFile(b, adminPW),
		BaseDN: "ou=people," + root, TeamFrom: ldap.TeamFromMemberOf, GroupBaseDN: "ou=groups," + root,
		StatusAttribute: "employeeType"}
	src := mustSource(b, cfg)
	var peak uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for p, err := range src.People(context.Background()) {
			if err != nil || p.Team == "" || (p.ExternalID != "p00000" && p.Manager == "") {
				b.Fatalf("%+v %v", p, err)
			}
			if n++; n%1000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		if n != people {
			b.Fatalf("read %d people, want %d", n, people)
		}
	}
	b.ReportMetric(float64(people*b.N)/b.Elapsed().Seconds(), "people/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

func mustAdd(tb testing.TB, conn *goldap.Conn, dn string, attrs map[string][]string) {
	tb.Helper()
	req := goldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	if err := conn.Add(req); err != nil {
		tb.Fatalf("adding %s: %v", dn, err)
	}
}
