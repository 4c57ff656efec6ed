package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/policy"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// TestRequestCLI drives the request commands against a served database:
// create answers with the decision and its reasons; the requester's own
// approve is refused (exit 4) with the separation-of-duties reason; the
// approver's inbox lists it and approve approves it; get prints the
// timeline; unmatched demand is listed for an auditor; a bad number is
// exit 2.
func TestRequestCLI(t *testing.T) {
	t.Parallel()
	dsn := filepath.Join(t.TempDir(), "steward.db")
	ctx := steward.WithActor(context.Background(), "test:setup")
	db, err := sqlstore.Open(dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dba := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "dba" })
	apps := storetest.MustTeam(t, db, func(x *steward.Team) { x.Name = "apps" })
	ana := storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "ana@example.test", &apps.ID })
	bo := storetest.MustPerson(t, db, func(p *steward.Person) { p.Email, p.TeamID = "bo@example.test", &dba.ID })
	ida := storetest.MustPerson(t, db, func(p *steward.Person) { p.Email = "ida@example.test" })
	sys := storetest.MustSystem(t, db, func(s *steward.System) { s.Name, s.OwnerTeamID = "pg-billing", &dba.ID })
	other := storetest.MustSystem(t, db, func(s *steward.System) { s.Name = "ldap-corp" })
	billing := storetest.MustIdentity(t, db, sys.ID, func(x *steward.Identity) { x.Name = "svc-billing" })
	storetest.MustIdentity(t, db, other.ID, func(x *steward.Identity) { x.Name = "svc-ldap" })
	storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:admin", true })
	storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:ops", true })
	jitEnt := storetest.MustEntitlement(t, db, sys.ID, func(e *steward.Entitlement) { e.Name, e.Privileged = "role:jit", true })
	jit := &steward.JITGrant{IdentityID: billing.ID, EntitlementID: jitEnt.ID, ExpiresAt: time.Now().Add(2 * time.Hour), GrantedBy: "person:bo@example.test"}
	if err := db.RecordJITGrant(ctx, jit); err != nil {
		t.Fatal(err)
	}
	storetest.MustEntitlement(t, db, other.ID, func(e *steward.Entitlement) { e.Name = "group:admins" })
	src := []byte(`kind: Catalog
tiers: [{name: privileged, service_levels: {decision: 4h}}]
models:
  - name: db-jit
    tier: privileged
    kind: jit
    requestable: {systems: [pg-*], privileged: true}
    who_may_request: "permit (principal, action, resource);"
    approval: {approvers: [resource-owner]}
    duration: {default: 1h, maximum: 4h}
`)
	c, ds := policy.Compile(src)
	if err := ds.Err("catalog"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ApplyCatalog(ctx, src, c.Catalog); err != nil {
		t.Fatal(err)
	}
	token := func(p *steward.Person, role steward.Role) string {
		raw, err := db.CreateToken(ctx, &steward.Token{Name: strings.Split(p.Email, "@")[0], Role: role, Kind: steward.PrincipalPerson, PersonID: &p.ID})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	anaTok, boTok, idaTok := token(ana, steward.RoleAdmin), token(bo, steward.RoleMember), token(ida, steward.RoleAuditor)

	sctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(sctx, []string{"serve", "--db", dsn, "--addr", "127.0.0.1:0"}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	}()
	var base string
	for deadline := time.Now().Add(time.Minute); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`steward serving" url=(http://\S+)`).FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("serve printed no URL:\n%s%s", stdout.String(), stderr.String())
	}
	cli := func(tok string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--server", base, "--token", tok)...)
	}

	code, out, errs := cli(anaTok, "request", "create", "--identity", "svc-billing", "--entitlement", "role:admin", "--duration", "2h", "--justify", "ticket=CHG-1")
	m := regexp.MustCompile(`Request (\d+) is PENDING on resource-owner`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "approver resource-owner:") || !strings.Contains(out, "Model db-jit") {
		t.Fatalf("create: exit %d\n%s%s", code, out, errs)
	}
	id := m[1]
	if code, _, errs := cli(anaTok, "request", "approve", id, "--reason", "mine"); code != ExitUnauthorized || !strings.Contains(errs, "never decides their own") {
		t.Errorf("the requester (an admin) approves: exit %d, %s", code, errs)
	}
	if code, out, errs := cli(boTok, "request", "inbox"); code != 0 || !regexp.MustCompile(`(?m)^`+id+`\s+pending\s+ana@example.test\s+svc-billing`).MatchString(out) {
		t.Errorf("bo's inbox: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(boTok, "request", "approve", id, "--reason", "CHG-1 is approved"); code != 0 || !strings.Contains(out, "is approved") {
		t.Errorf("approve: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli(anaTok, "request", "get", id)
	if code != 0 || !strings.Contains(out, "approved by bo@example.test (resource-owner): CHG-1 is approved") || !strings.Contains(out, "asked by ana@example.test") {
		t.Errorf("get: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = cli(anaTok, "request", "list", "-o", "json")
	var page steward.Page[steward.AccessRequest]
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Items) != 1 || fmt.Sprint(page.Items[0].ID) != id {
		t.Errorf("list -o json: exit %d, %v: %s", code, err, out)
	}
	if code, out, errs := cli(anaTok, "request", "create", "--identity", "svc-ldap", "--entitlement", "group:admins"); code != 0 || !strings.Contains(out, "unmatched demand") {
		t.Errorf("unmatched: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(idaTok, "request", "unmatched"); code != 0 || !strings.Contains(out, "svc-ldap") || !strings.Contains(out, "ana@example.test") {
		t.Errorf("unmatched list: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(idaTok, "request", "create", "--identity", "svc-billing", "--entitlement", "role:admin"); code != ExitUnauthorized {
		t.Errorf("an auditor asks: exit %d, %s", code, errs)
	}
	// Notices: bo reads his own, not ana's; ana, an admin, reads his.
	if _, err := db.DeliverNotices(steward.WithPrincipal(ctx, steward.SelfPrincipal("job:test")), 9001, []steward.Notice{{PersonID: bo.ID,
		Kind: steward.KindJITExpiryWarning, Subject: "Your JIT access ends soon: role:jit of svc-billing on pg-billing",
		Body: "Extend it: steward request extend 1.", ObjectType: steward.ObjectJITGrant, ObjectID: fmt.Sprint(jit.ID)}}); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli(boTok, "notices"); code != 0 || !strings.Contains(out, "to bo@example.test") || !strings.Contains(out, "Your JIT access ends soon") ||
		!strings.Contains(out, "Extend it: steward request extend 1.") {
		t.Errorf("bo's notices: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(boTok, "notices", "--person", "ana@example.test"); code != ExitUnauthorized || !strings.Contains(errs, "a member reads their own") {
		t.Errorf("bo reads ana's notices: exit %d, %s", code, errs)
	}
	if code, out, errs := cli(anaTok, "notices", "--person", "bo@example.test", "--unsent", "-o", "json"); code != 0 || !strings.Contains(out, `"person": "bo@example.test"`) {
		t.Errorf("ana reads bo's unsent notices: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(anaTok, "notices"); code != 0 || !strings.Contains(out, "No notices.") {
		t.Errorf("ana's own notices: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(idaTok, "notices", "--all"); code != 0 || !strings.Contains(out, "to bo@example.test") {
		t.Errorf("everyone's notices, as an auditor: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(anaTok, "request", "get", "forty-two"); code != ExitInvalid {
		t.Errorf("a bad number: exit %d, %s", code, errs)
	}
	if code, out, errs := cli(idaTok, "jit", "list"); code != 0 || !strings.Contains(out, "IDENTITY") {
		t.Errorf("jit list: exit %d\n%s%s", code, out, errs)
	}

	// Deny and cancel: the denial's reason is in the timeline; a member
	// cannot cancel another's request; the requester can.
	newRequest := func(entitlement string) string {
		t.Helper()
		code, out, errs := cli(anaTok, "request", "create", "--identity", "svc-billing", "--entitlement", entitlement, "--justify", "ticket=CHG-2")
		m := regexp.MustCompile(`Request (\d+) is PENDING`).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("create %s: exit %d\n%s%s", entitlement, code, out, errs)
		}
		return m[1]
	}
	denied, cancelled := newRequest("role:admin"), newRequest("role:ops")
	if code, _, errs := cli(boTok, "request", "deny", denied); code != ExitInvalid || !strings.Contains(errs, "reason") {
		t.Errorf("deny without --reason: exit %d, %s", code, errs)
	}
	if code, out, errs := cli(boTok, "request", "deny", denied, "--reason", "no change ticket"); code != 0 || !strings.Contains(out, "is denied") {
		t.Errorf("deny: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(anaTok, "request", "get", denied); code != 0 || !strings.Contains(out, "denied by bo@example.test (resource-owner): no change ticket") {
		t.Errorf("get denied: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(boTok, "request", "cancel", cancelled, "--reason", "not mine"); code != ExitUnauthorized || !strings.Contains(errs, "Only ana@example.test") {
		t.Errorf("bo cancels ana's: exit %d, %s", code, errs)
	}
	if code, out, errs := cli(anaTok, "request", "cancel", cancelled, "--reason", "postponed"); code != 0 || !strings.Contains(out, "is cancelled") {
		t.Errorf("cancel: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(anaTok, "request", "cancel", cancelled, "--reason", "again"); code != ExitConflict {
		t.Errorf("cancel twice: exit %d, %s", code, errs)
	}
	// bo, an approver of ana's requests, lists them by her name.
	if code, out, errs := cli(boTok, "request", "list", "--requester", "ana@example.test"); code != 0 || !strings.Contains(out, denied+" ") || !strings.Contains(out, cancelled+" ") {
		t.Errorf("bo lists ana's: exit %d\n%s%s", code, out, errs)
	}

	// JIT grants: the time left, one by its number.
	if code, out, errs := cli(idaTok, "jit", "list", "--identity", "svc-billing", "--state", "active"); code != 0 ||
		!regexp.MustCompile(`(?m)^`+fmt.Sprint(jit.ID)+`\s+\S+\s+role:jit\s+active\s+.*\s[12]h\d+m\d+s\s+-`).MatchString(out) {
		t.Errorf("jit list --identity: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli(idaTok, "jit", "get", fmt.Sprint(jit.ID))
	if code != 0 || !strings.Contains(out, "role:jit") || !strings.Contains(out, "by person:bo@example.test") || !regexp.MustCompile(`left: [12]h\d+m\d+s`).MatchString(out) {
		t.Errorf("jit get: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(idaTok, "jit", "get", "999999"); code != ExitNotFound {
		t.Errorf("jit get of no grant: exit %d, %s", code, errs)
	}
	if code, _, errs := cli(boTok, "jit", "get", fmt.Sprint(jit.ID)); code != ExitUnauthorized {
		t.Errorf("a member reads a JIT grant: exit %d, %s", code, errs)
	}
	if code, _, errs := cli(idaTok, "jit", "get", "seven"); code != ExitInvalid {
		t.Errorf("jit get seven: exit %d, %s", code, errs)
	}
}

// TestRequestHelp: every request and jit command explains itself with an
// example.
func TestRequestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"request", "create"}, {"request", "list"}, {"request", "get"}, {"request", "inbox"}, {"request", "approve"},
		{"request", "deny"}, {"request", "cancel"}, {"request", "extend"}, {"request", "unmatched"}, {"jit", "list"}, {"jit", "get"},
	} {
		code, out, errs := run(t, append(args, "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "steward "+strings.Join(args, " ")) {
			t.Errorf("%v --help: exit %d\n%s%s", args, code, out, errs)
		}
	}
}

// TestRequestTimeline: get prints a request's life in order: made, each
// escalation with the approver set it reached, each act with who, as which
// approver and why, fulfilment tries, and where it stands.
func TestRequestTimeline(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	owner := steward.ApproverSet{Kind: steward.ApproverResourceOwner}
	security := steward.ApproverSet{Kind: steward.ApproverSecurity}
	r := &steward.AccessRequest{ID: 7, Requester: "ana@example.test", Identity: "svc-billing", State: steward.RequestPending, Level: 1,
		Target: steward.AccessTarget{System: "pg-billing", Name: "role:admin"},
		Decision: steward.AccessDecision{Outcome: steward.OutcomePending, Model: "db-jit", Approvals: 2,
			Approvers: []steward.ApproverNeed{{Set: owner, Why: "dba owns pg-billing"}, {Set: security, Why: "privileged access"}}},
		Question:  steward.AccessQuestion{Requester: steward.Requester{Email: "ana@example.test"}, Identity: steward.IdentityFacts{Name: "svc-billing"}},
		Approvals: []steward.RequestApproval{{Approver: "bo@example.test", Set: owner, Approve: true, Reason: "CHG-1", At: at.Add(5 * time.Hour)}},
		CreatedAt: at, FirstDecideBy: at.Add(4 * time.Hour), DecideBy: at.Add(8 * time.Hour), ExpiresAt: at.Add(7 * 24 * time.Hour),
		Reason: "Not decided within tier privileged's decision level (4h): escalated to security (privileged access)."}
	var out strings.Builder
	printRequest(&out, r)
	for _, want := range []string{
		"Request 7 is PENDING on resource-owner, then security.",
		"asked by ana@example.test",
		"not decided in time: escalated to security (privileged access)",
		"approved by bo@example.test (resource-owner): CHG-1",
		"to be decided by ",
		"(decision level breached)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	if i, j := strings.Index(out.String(), "asked by"), strings.Index(out.String(), "escalated to"); i < 0 || j < i {
		t.Errorf("the timeline is out of order:\n%s", out.String())
	}
}
