package main

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"slices"
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
	db, demoDB := filepath.Join(dir, "s.db"), filepath.Join(dir, "demo.db")
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("kind: OwnershipRules\nrules:\n  - name: billing\n    match: {names: [\"svc-billing*\"]}\n    team: payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"token", "create", "--name", "bootstrap", "--role", "admin", "--for", "boot@example.com", "--create-person", "Boot", "--db", db},
		{"token", "revoke", "1", "--db", db},
		{"import", "--format", "csv", "--system", "misc", "../../importer/testdata/identities.csv", "--db", db},
		{"apply", "-f", rules, "--db", db},
		{"demo", "--people", "10", "--nhi", "20", "--db", demoDB}, // the demo wants an empty database
	} {
		if code, out, stderr := run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
		}
	}

	var actions []string
	for _, path := range []string{db, demoDB} {
		for _, ev := range allEvents(t, path) {
			if ev.Actor != want {
				t.Errorf("%s: event %d %s: actor %q, want %q", filepath.Base(path), ev.Seq, ev.Action, ev.Actor, want)
			}
			actions = append(actions, string(ev.Action))
		}
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
