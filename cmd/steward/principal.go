package main

import (
	"context"
	"os"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
)

// A command changes Steward's state one of two ways, and which is plain
// from its flags:
//
//   - through the API (--server, --token): the server authenticates the
//     token and names it on every audit event it writes;
//   - straight on the database (--db), for bootstrap and offline
//     administration (migrate, demo, token, import, sync, apply, audit
//     verify): there is no token to name, so the command acts as the local
//     administrator, a principal that names the OS user who ran it.
//
// serve is neither: it is the server, and what it does by itself (its
// migration on start, scheduled syncs, gap refreshes, notices) Steward does
// as its own automation identity (steward.SelfPrincipal), whose owner
// answers for it. The demo (steward demo, serve --demo) is a story: its
// admin, a person of the demo, loads it and makes the sign-in token,
// through the local administrator who ran the command (demo.Seed).
const (
	writesThroughAPI = "api"
	writesLocally    = "local"
)

// localAdminPrefix starts the actor of every event a local command writes.
const localAdminPrefix = "local-admin:"

// localAdmin returns the principal of the person running a local command:
// local-admin: and their OS user name, or their user id where the name
// cannot be looked up (a container without /etc/passwd entry, say).
func localAdmin() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return localAdminPrefix + u.Username
	}
	return localAdminPrefix + "uid-" + strconv.Itoa(os.Getuid())
}

// withLocalAdmin returns ctx acting as the local administrator, who came
// through the CLI.
func withLocalAdmin(ctx context.Context) context.Context {
	kind, name := steward.ParseActor(localAdmin())
	return steward.WithPrincipal(ctx, steward.Principal{Kind: kind, Name: name, Role: steward.RoleAdmin, Via: "cli"})
}

// writePath says how cmd writes: writesLocally for a command with --db
// (serve aside), writesThroughAPI for one with --token, "" for neither.
func writePath(cmd *cobra.Command) string {
	switch {
	case cmd.Name() == "serve":
		return ""
	case cmd.Flags().Lookup("db") != nil:
		return writesLocally
	case cmd.Flags().Lookup("token") != nil:
		return writesThroughAPI
	}
	return ""
}

// Help notes, one per write path, added to every command's --help.
const (
	localNote = `Runs on the database (--db) directly, as the local administrator: every
audit event it writes names local-admin:<your OS user name>. It is for
bootstrap and offline administration; with a server running, the API
commands (--server, --token) change the inventory under a token's name.`
	apiNote = `Calls the Steward API at --server with an API token (--token or
STEWARD_TOKEN): every audit event the server writes names the token's
person or automation identity, and the token it came through.`
)

// documentWritePaths adds to the help of c and every command under it the
// note of its write path, so that --help says which commands do which.
func documentWritePaths(c *cobra.Command) {
	note := ""
	switch writePath(c) {
	case writesLocally:
		note = localNote
	case writesThroughAPI:
		note = apiNote
	}
	if note != "" {
		long := c.Long
		if long == "" {
			long = c.Short + "."
		}
		c.Long = long + "\n\n" + note
	}
	for _, sub := range c.Commands() {
		documentWritePaths(sub)
	}
}
