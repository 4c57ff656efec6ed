package main

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// TestLocalCommandsNameTheOSUser runs commands that write straight to the
// database and reads the audit log they wrote: every event names the local
// administrator with the OS user who ran the test, none an anonymous cli:
// actor.
func TestLocalCommandsNameTheOSUser(t *testing.T) {
	t.Parallel()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("this test needs the OS user: %v", err)
	}
	want := "local-admin:" + u.Username
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("kind: OwnershipRules\nrules:\n  - name: billing\n    match: {names: [\"svc-billing*\"]}\n    team: payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"token", "create", "--name", "bootstrap", "--role", "admin", "--for", "boot@example.com", "--create-person", "Boot", "--db", db},
		{"token", "revoke", "1", "--db", db},
		{"import", "--format", "csv", "--system", "misc", "../../importer/testdata/identities.csv", "--db", db},
		{"apply", "-f", rules, "--db", db},
	} {
		if code, out, stderr := run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
		}
	}

	var actions []string
	for _, ev := range allEvents(t, db) {
		if ev.Actor != want {
			t.Errorf("event %d %s: actor %q, want %q", ev.Seq, ev.Action, ev.Actor, want)
		}
		actions = append(actions, string(ev.Action))
	}
	// Each command wrote at least one event: the test saw them all.
	for _, action := range []string{"token.created", "token.revoked", "ownership_rules.applied"} {
		if !slices.Contains(actions, action) {
			t.Errorf("no %s event among %v", action, actions)
		}
	}
	if len(actions) < 5 {
		t.Errorf("%d events, want one or more per command: %v", len(actions), actions)
	}
}

// TestDemoEventsNamePrincipals seeds a demo with steward demo, as a
// local administrator does, and checks that every event of its audit log
// names a person or an automation identity of the demo, with an owner
// (the events of serve --demo are checked by TestServeDemo), and that the
// chain verifies.
func TestDemoEventsNamePrincipals(t *testing.T) {
	t.Parallel()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("this test needs the OS user: %v", err)
	}
	db := filepath.Join(t.TempDir(), "demo.db")
	if code, out, stderr := run(t, "demo", "--people", "30", "--nhi", "200", "--db", db); code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, stderr)
	}
	events := checkEventsNamePrincipals(t, db)
	vias := map[string]bool{}
	for _, ev := range events {
		// The events table has its via column from schema 14 on: the
		// migrations before it cannot say what Steward came through.
		if v, err := strconv.Atoi(ev.ObjectID); ev.Action == steward.ActionSchemaMigrated && err == nil && v < 14 {
			if ev.Via != "" {
				t.Errorf("event %d %s %s came through %q before events had a via", ev.Seq, ev.Action, ev.ObjectID, ev.Via)
			}
			continue
		}
		vias[ev.Via] = true
	}
	// Who ran it is recorded too: the events came through them.
	if want := "local-admin:" + u.Username; len(vias) != 1 || !vias[want] {
		t.Errorf("the demo's events came through %v; want %s alone", vias, want)
	}
	if code, out, stderr := run(t, "audit", "verify", "--db", db); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, stderr)
	}
}

// checkEventsNamePrincipals checks that every event of the SQLite database
// at path names a person of it, by e-mail address, or an automation
// identity of Steward's own system that has an owner, and returns the
// events.
func checkEventsNamePrincipals(t *testing.T, path string) []steward.Event {
	t.Helper()
	s, err := sqlstore.Open(path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	events := allEvents(t, path)
	if len(events) < 3 {
		t.Fatalf("%d events: the demo wrote too few to tell", len(events))
	}
	kinds := map[steward.PrincipalKind]int{}
	for _, ev := range events {
		kind, name := steward.ParseActor(ev.Actor)
		kinds[kind]++
		switch kind {
		case steward.PrincipalPerson:
			if _, err := s.PersonBySignIn(ctx, steward.ClaimEmail, name); err != nil {
				t.Errorf("event %d %s: actor %s is no person of the demo: %v", ev.Seq, ev.Action, ev.Actor, err)
			}
		case steward.PrincipalAutomation:
			self, err := s.SystemByName(ctx, steward.SelfSystemName)
			if err != nil {
				t.Fatalf("event %d %s: actor %s, and Steward's own system: %v", ev.Seq, ev.Action, ev.Actor, err)
			}
			page, err := s.Identities(ctx, steward.IdentityFilter{SystemID: self.ID, ExternalID: name, ListOptions: steward.ListOptions{Limit: 1}})
			if err != nil {
				t.Fatal(err)
			} else if len(page.Items) != 1 {
				t.Errorf("event %d %s: actor %s is no identity of Steward's own system", ev.Seq, ev.Action, ev.Actor)
			} else if page.Items[0].OwnerID == nil {
				t.Errorf("event %d %s: actor %s has no owner", ev.Seq, ev.Action, ev.Actor)
			}
		default:
			t.Errorf("event %d %s: actor %s is neither a person nor an automation identity", ev.Seq, ev.Action, ev.Actor)
		}
	}
	if kinds[steward.PrincipalPerson] == 0 || kinds[steward.PrincipalAutomation] == 0 {
		t.Errorf("actors by kind %v: want events by the demo's admin and by Steward itself", kinds)
	}
	return events
}

// TestWritePathsDocumented checks that every command that writes says how
// in its --help, and that the two ways are told apart by their flags.
func TestWritePathsDocumented(t *testing.T) {
	t.Parallel()
	root := newRootCmd(&env{})
	want := map[string]string{
		"migrate": writesLocally, "demo": writesLocally, "token create": writesLocally, "token revoke": writesLocally,
		"token list": writesLocally, "audit verify": writesLocally, "import": writesLocally, "sync": writesLocally,
		"apply": writesLocally, "identities set-owner": writesThroughAPI, "identities attest": writesThroughAPI,
		"identities list": writesThroughAPI, "identities get": writesThroughAPI, "gaps": writesThroughAPI,
		"sync-runs": writesThroughAPI, "serve": "", "version": "",
		"token personal list": writesThroughAPI, "token personal create": writesThroughAPI, "token personal revoke": writesThroughAPI,
	}
	for path, w := range want {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := writePath(cmd); got != w {
			t.Errorf("%s writes %q, want %q", path, got, w)
		}
		note := map[string]string{writesLocally: "local-admin:<your OS user name>", writesThroughAPI: "names the token"}[w]
		if note != "" && !strings.Contains(cmd.Long, note) {
			t.Errorf("%s --help does not say how it writes:\n%s", path, cmd.Long)
		}
	}
}

// allEvents returns every audit event of the SQLite database at path.
func allEvents(t *testing.T, path string) []steward.Event {
	t.Helper()
	s, err := sqlstore.Open(path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []steward.Event
	for after := ""; ; {
		page, err := s.Events(context.Background(), steward.EventFilter{ListOptions: steward.ListOptions{After: after, Limit: steward.MaxLimit}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if after = page.Next; after == "" {
			return out
		}
	}
}
