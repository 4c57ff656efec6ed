package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log, check its chain, seal and anchor it"}
	cmd.AddCommand(newAuditVerifyCmd(e), newAuditAnchorCmd(e), newAuditKeygenCmd(e), newAuditListCmd(e))
	return cmd
}

func newAuditVerifyCmd(e *env) *cobra.Command {
	var dsn, checkpoint string
	var publicKeys []string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the hash chain of the audit log, its seals and a signed checkpoint",
		Long: `Walk every audit event in order and recompute its hash. Exits 0 on an intact
chain. If a row was edited, inserted or deleted behind Steward's back, it
prints the first bad event and exits 7.

With the audit key (--audit-key-file, STEWARD_AUDIT_KEY, or for SQLite the
file DB.audit-key next to the database) it checks every event's seal too,
so that a chain rewritten by someone who can write the database but does
not hold the key is caught, even with every hash recomputed. Give every
key that sealed events (after a rotation, the old keys stay in the key
file below the current one). Without a key, the seals are not checked
and it says so.

With --checkpoint FILE (made by 'steward audit anchor') and the signer's
public key (--public-key, once per key after a rotation) it checks the
checkpoint's signature and that the chain still has the checkpoint's hash
at its event: a rewrite of history before the checkpoint is caught
without the audit key. A checkpoint file that was altered is refused
(exit 2). See docs/audit.md.`,
		Example: `  steward audit verify --db steward.db
  steward audit verify --db steward.db --checkpoint head.json --public-key audit-signing.pem.pub
  STEWARD_AUDIT_KEY_FILE=/etc/steward/audit-key steward audit verify --db postgres://steward@db/steward`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			check := steward.ChainCheck{}
			if checkpoint != "" {
				cp, err := readCheckpoint(checkpoint, publicKeys)
				if err != nil {
					return err
				}
				check.Checkpoint = cp
			} else if len(publicKeys) > 0 {
				return usageError{errors.New("--public-key checks a --checkpoint: give the checkpoint file too")}
			}
			db, err := openStore(cmd.Context(), e, dsn, false)
			if err != nil {
				return err
			}
			defer db.Close()
			check.Keys = db.AuditKeys()
			r, err := db.VerifyAuditWith(cmd.Context(), check)
			if err != nil {
				return err
			}
			printChainReport(e, r, check)
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "a checkpoint file made by 'steward audit anchor': the chain must still have its hash at its event")
	cmd.Flags().StringArrayVar(&publicKeys, "public-key", nil, "public key file of the checkpoint's signer (PEM); repeat for the keys before a rotation")
	return cmd
}

// printChainReport says what verify checked, and warns of what it could
// not.
func printChainReport(e *env, r steward.ChainReport, c steward.ChainCheck) {
	fmt.Fprintf(e.stdout, "audit chain intact: %d events verified\n", r.Events)
	if r.Unsealed > 0 {
		fmt.Fprintf(e.stdout, "  %d events (1 to %d) were written before Steward had an audit key: their hashes are checked, they have no seal\n", r.Unsealed, r.Unsealed)
	}
	if r.Sealed > 0 && c.Keys != nil {
		fmt.Fprintf(e.stdout, "  %d events sealed, every seal checked (audit keys %s)\n", r.Sealed, strings.Join(r.KeyIDs, ", "))
	}
	if c.Checkpoint != nil {
		fmt.Fprintf(e.stdout, "  the %s matches event %d\n", c.Checkpoint, c.Checkpoint.Seq)
	}
	if r.Sealed > 0 && c.Keys == nil {
		fmt.Fprintf(e.stderr, "warning: the seals of %d events (audit keys %s) were not checked: no audit key given (--audit-key-file or %s). "+
			"Without it, a rewrite of the chain after the newest checkpoint would not be seen.\n", r.Sealed, strings.Join(r.KeyIDs, ", "), auditKeyEnv)
	}
}

// readCheckpoint reads and checks the checkpoint file at path with the
// public key files.
func readCheckpoint(path string, publicKeys []string) (*steward.Checkpoint, error) {
	if len(publicKeys) == 0 {
		return nil, usageError{errors.New("--checkpoint needs the signer's public key: give --public-key FILE (the .pub next to the signing key)")}
	}
	b, err := readSmallFile(path, steward.MaxCheckpointBytes)
	if err != nil {
		return nil, err
	}
	cp, err := steward.ParseCheckpoint(b)
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s: %s", path, steward.ErrorMessage(err))
	}
	var keys []ed25519.PublicKey
	for _, p := range publicKeys {
		b, err := readSmallFile(p, 4096)
		if err != nil {
			return nil, err
		}
		k, err := steward.ParsePublicKey(b)
		if err != nil {
			return nil, steward.Errorf(steward.EINVALID, "%s: %s", p, steward.ErrorMessage(err))
		}
		keys = append(keys, k)
	}
	if err := cp.Verify(keys); err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s: %s", path, steward.ErrorMessage(err))
	}
	return cp, nil
}

// readSmallFile reads a file of at most max bytes; a larger one is refused
// as the wrong file rather than read whole.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- a checkpoint or key file the operator names; read up to max bytes
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "cannot read %s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "cannot read %s: %v", path, err)
	}
	if int64(len(b)) > max {
		return nil, steward.Errorf(steward.EINVALID, "%s is larger than %d bytes: is it the right file?", path, max)
	}
	return b, nil
}

func newAuditAnchorCmd(e *env) *cobra.Command {
	var dsn, signingKey, out string
	var initKey bool
	cmd := &cobra.Command{
		Use:   "anchor",
		Short: "Sign a checkpoint of the audit log's newest event, to keep away from the database",
		Long: `Verify the audit chain (with its seals, when the audit key is at hand) and
write a checkpoint of its newest event — its sequence number, hash and
time — signed with the ed25519 key of --signing-key, to --out or standard
output. Keep checkpoints where a writer of the database cannot change them
(a ticket, a write-once bucket, another team's repository): 'steward audit
verify --checkpoint FILE --public-key KEY.pub' then notices any rewrite of
history up to the checkpoint's event, without the audit key.

--init makes the signing key instead: FILE (private, mode 0600) and
FILE.pub (public, what verifiers need). It refuses to overwrite either.
Run anchor on a schedule (cron, a CI job); see docs/audit.md for rotating
the signing key.`,
		Example: `  steward audit anchor --init --signing-key /etc/steward/audit-signing.pem
  steward audit anchor --db steward.db --signing-key /etc/steward/audit-signing.pem --out checkpoint-$(date +%F).json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if signingKey == "" {
				return usageError{errors.New("--signing-key FILE is required (--init makes one)")}
			}
			if initKey {
				return initSigningKey(e, signingKey)
			}
			b, err := readSmallFile(signingKey, 4096)
			if err != nil {
				return err
			}
			key, err := steward.ParseSigningKey(b)
			if err != nil {
				return steward.Errorf(steward.EINVALID, "%s: %s", signingKey, steward.ErrorMessage(err))
			}
			db, err := openStore(cmd.Context(), e, dsn, false)
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := db.VerifyAuditWith(cmd.Context(), steward.ChainCheck{Keys: db.AuditKeys()})
			if err != nil {
				return err
			}
			if r.Events == 0 {
				return steward.Errorf(steward.EINVALID, "the audit log is empty: there is nothing to anchor.")
			}
			if r.Sealed > 0 && db.AuditKeys() == nil {
				fmt.Fprintf(e.stderr, "warning: the seals were not checked (no audit key given): the checkpoint vouches for the chain as it is now.\n")
			}
			cp := steward.SignCheckpoint(key, r.Head.Seq, r.Head.Hash, r.Head.Time, time.Now())
			if out == "" || out == "-" {
				_, err = e.stdout.Write(cp.Marshal())
				return err
			}
			if err := replaceFile(out, cp.Marshal(), 0o644); err != nil {
				return steward.Errorf(steward.EINVALID, "cannot write the checkpoint: %v", err)
			}
			fmt.Fprintf(e.stdout, "wrote the %s to %s\n", cp, out)
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	f := cmd.Flags()
	f.StringVar(&signingKey, "signing-key", "", "the ed25519 signing key file (PEM, PKCS #8) of checkpoints")
	f.StringVar(&out, "out", "", "write the checkpoint to this file instead of standard output")
	f.BoolVar(&initKey, "init", false, "make a new signing key at --signing-key (and its public key at FILE.pub) instead of a checkpoint")
	return cmd
}

// initSigningKey makes a signing key at path and its public key at
// path.pub.
func initSigningKey(e *env, path string) error {
	priv, pub, id, err := steward.GenerateSigningKey()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path + ".pub"); err == nil {
		return steward.Errorf(steward.ECONFLICT, "%s.pub exists already: Steward does not overwrite a key.", path)
	}
	if err := writeNewFile(path, priv, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return steward.Errorf(steward.ECONFLICT, "%s exists already: Steward does not overwrite a key.", path)
		}
		return steward.Errorf(steward.EINVALID, "cannot write the signing key: %v", err)
	}
	if err := writeNewFile(path+".pub", pub, 0o644); err != nil {
		// Without its public key the private key is of no use, and left
		// behind it would stop the next --init: remove it, or say it stays.
		if rerr := os.Remove(path); rerr != nil {
			return steward.Errorf(steward.EINVALID, "cannot write the public key: %v; the private key %s could not be removed either (%v): remove it before trying again", err, path, rerr)
		}
		return steward.Errorf(steward.EINVALID, "cannot write the public key: %v", err)
	}
	fmt.Fprintf(e.stdout, "signing key %s: private key %s (keep it secret), public key %s.pub (give it to verifiers)\n", id, path, path)
	return nil
}

func newAuditKeygenCmd(e *env) *cobra.Command {
	var rotate bool
	cmd := &cobra.Command{
		Use:   "keygen FILE",
		Short: "Make an audit key file, or rotate its key",
		Long: `Make FILE (mode 0600) holding a new random audit key: the secret that seals
every audit event Steward writes (HMAC-SHA-256), kept away from the
database. Point Steward at it with --audit-key-file, STEWARD_AUDIT_KEY_FILE
or audit_key_file in the configuration file. It refuses to overwrite a
file.

--rotate puts a new key in front of the keys of an existing FILE: once
every Steward process has been restarted with it, new events are sealed
with the new key, and the older keys, still in the file, verify the events
they sealed. See docs/audit.md.`,
		Example: `  steward audit keygen /etc/steward/audit-key
  steward audit keygen --rotate /etc/steward/audit-key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			k, body, err := steward.GenerateAuditKey(time.Now())
			if err != nil {
				return err
			}
			if !rotate {
				if err := writeNewFile(path, []byte(body), 0o600); err != nil {
					if errors.Is(err, fs.ErrExist) {
						return steward.Errorf(steward.ECONFLICT, "%s exists already: --rotate adds a new key in front of its keys.", path)
					}
					return steward.Errorf(steward.EINVALID, "cannot write the audit key: %v", err)
				}
				fmt.Fprintf(e.stdout, "audit key %s written to %s\n", k.ID, path)
				return nil
			}
			old, err := e.readAuditKeys(path)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path) // #nosec G304 -- the audit key file the operator names
			if err != nil {
				return steward.Errorf(steward.EINVALID, "cannot read %s: %v", path, err)
			}
			if err := replaceFile(path, append([]byte(body), b...), 0o600); err != nil {
				return steward.Errorf(steward.EINVALID, "cannot write the audit key: %v", err)
			}
			fmt.Fprintf(e.stdout, "audit key %s added in front of %s in %s: restart every Steward process to seal with it\n", k.ID, strings.Join(old.IDs(), ", "), path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&rotate, "rotate", false, "add a new key in front of the keys of an existing FILE")
	return cmd
}

func newAuditListCmd(e *env) *cobra.Command {
	var l auditListFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit events through the API, oldest first",
		Long: `List audit events from a Steward server in the order they were written,
filtered by action, actor, time and object. Each row is one event: its
sequence number, time, who acted and what they came through (the token
or session; "-" for Steward's own jobs), the action, the object it names (by
name where Steward knows one) and its data (-o json prints every event
whole, with its ids and hashes).

--since takes a time (2025-01-31, 2025-01-31T12:00:00Z) or an age (90m,
24h, 7d): events at or after it. --object takes a kind of object
(identity, person, team, system, credential, entitlement, grant, task,
token, …), or one object's history as kind:NAME:

  identity:NAME      its name or, with --system, its external id; a name
                     that several systems have needs --system
  person:KEY         e-mail address (any case) or external id
  team:NAME, system:NAME, token:NAME
  entitlement:NAME   with --system when several systems have it
  people:SOURCE      a people source's syncs

An id works in place of a name (identity:4711); a credential, a grant or a
task has no name and is named by its id. An unknown --action is refused
with the list of the known ones.`,
		Example: `  steward audit list --action identity.owner_changed --since 7d
  steward audit list --actor automation:ci-bot --since 2025-01-31
  steward audit list --object identity:etl-loader --system aws-prod
  steward audit list --object team:payments --since 30d
  steward audit list --object person:alice@example.com -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return l.run(cmd.Context(), e) },
	}
	addClientFlags(cmd, &l.c, &l.output)
	f := cmd.Flags()
	f.StringVar(&l.action, "action", "", "only events of this action, such as identity.owner_changed")
	f.StringVar(&l.actor, "actor", "", "only events by this actor, such as person:ada@example.com or automation:ci-bot")
	f.StringVar(&l.since, "since", "", "only events at or after this time (2025-01-31, RFC 3339) or within this age (24h, 7d)")
	f.StringVar(&l.object, "object", "", "only events of this kind of object, or of one object as kind:NAME (team:payments, person:alice@example.com, identity:etl-loader)")
	f.StringVar(&l.system, "system", "", "the system of an --object identity:NAME or entitlement:NAME (its name)")
	f.IntVar(&l.limit, "limit", 0, fmt.Sprintf("page size, 1 to %d (default %d)", steward.MaxLimit, steward.DefaultLimit))
	f.StringVar(&l.after, "after", "", "cursor of the page to show, from the previous page")
	return cmd
}

// auditListFlags are the flags of steward audit list.
type auditListFlags struct {
	c                                                   apiFlags
	output, action, actor, since, object, system, after string
	limit                                               int
}

// params checks the flags that need no server and turns them into the
// query of GET /api/v1/events; --object is looked up by run.
func (l *auditListFlags) params() (client.ListEventsParams, error) {
	if l.system != "" && !strings.HasPrefix(l.object, steward.ObjectIdentity+":") && !strings.HasPrefix(l.object, steward.ObjectEntitlement+":") {
		return client.ListEventsParams{}, usageError{errors.New("--system names the system of an --object identity:NAME or entitlement:NAME")}
	}
	p := client.ListEventsParams{Actor: nonZero(l.actor), Limit: nonZero(l.limit), After: nonZero(l.after)}
	if l.action != "" {
		if err := steward.Action(l.action).Validate(); err != nil {
			return p, err
		}
		p.Action = nonZero(client.Action(l.action))
	}
	if l.since != "" {
		t, err := steward.ParseSince(l.since, time.Now())
		if err != nil {
			return p, steward.Errorf(steward.EINVALID, "--%s", steward.ErrorMessage(err))
		}
		p.Since = &t
	}
	return p, nil
}

// run lists one page of events, each object by its name where it has one.
func (l *auditListFlags) run(ctx context.Context, e *env) error {
	p, err := l.params()
	if err != nil {
		return err
	}
	api, err := l.c.api()
	if err != nil {
		return err
	}
	if l.object != "" {
		typ, id, err := findObject(ctx, api, l.object, l.system)
		if err != nil {
			return err
		}
		p.ObjectType, p.ObjectId = nonZero(typ), nonZero(id)
	}
	r, err := api.ListEventsWithResponse(ctx, &p)
	if err := client.Check(r, err); err != nil {
		return err
	}
	objects := objectNamer(ctx, api)
	return printPage(e, l.output, r.Body, r.JSON200.Items, r.JSON200.Next,
		"SEQ\tTIME\tACTOR\tVIA\tACTION\tOBJECT\tDATA", func(ev client.Event) string {
			data, _ := json.Marshal(ev.Data)
			via := "-"
			if ev.Via != nil && *ev.Via != "" {
				via = *ev.Via
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", ev.Seq, ev.Time.Local().Format("2006-01-02 15:04:05 MST"), ev.Actor, via,
				ev.Action, objects(ev.ObjectType, ev.ObjectId), cut(string(data), 80))
		})
}

// findObject resolves --object: a kind of object alone, or kind:REF, one
// object named as people know it (or by its id), to the object type and
// id that events record. system names the system of an identity or an
// entitlement.
func findObject(ctx context.Context, api *client.ClientWithResponses, object, system string) (typ, id string, err error) {
	typ, ref, named := strings.Cut(object, ":")
	if !slices.Contains(steward.ObjectTypes, typ) {
		return "", "", steward.Errorf(steward.EINVALID, "--object %q: %q is not a kind of object Steward records; one of: %s.", object, typ, strings.Join(steward.ObjectTypes, ", "))
	}
	if !named {
		return typ, "", nil
	}
	if ref = strings.TrimSpace(ref); ref == "" {
		return "", "", steward.Errorf(steward.EINVALID, "--object %s: name the %s after the colon, or give the kind alone.", object, typ)
	}
	var n int64
	switch typ {
	case steward.ObjectIdentity:
		i, _, err := findIdentity(ctx, api, ref, system)
		if err != nil {
			return "", "", err
		}
		n = i.Id
	case steward.ObjectPerson:
		p, err := findPerson(ctx, api, ref)
		if err != nil {
			return "", "", err
		}
		n = p.Id
	case steward.ObjectTeam:
		t, err := findTeam(ctx, api, ref)
		if err != nil {
			return "", "", err
		}
		n = t.Id
	case steward.ObjectSystem:
		s, err := findSystem(ctx, api, ref)
		if err != nil {
			return "", "", err
		}
		n = s.Id
	case steward.ObjectEntitlement:
		if n, err = findEntitlement(ctx, api, ref, system); err != nil {
			return "", "", err
		}
	case steward.ObjectToken:
		if n, err = findToken(ctx, api, ref); err != nil {
			return "", "", err
		}
	case steward.ObjectCredential, steward.ObjectGrant, steward.ObjectTask, steward.ObjectNotice:
		// These have no name: the table of 'audit list' and of
		// 'identities get' are where their ids are read.
		if v, err := strconv.ParseInt(ref, 10, 64); err != nil || v <= 0 {
			return "", "", steward.Errorf(steward.EINVALID, "--object %s: a %s has no name, only an id; for everything about an identity use --object identity:NAME.", object, typ)
		}
		return typ, ref, nil
	default:
		// A people source, a migration: their events name them by name.
		return typ, ref, nil
	}
	return typ, strconv.FormatInt(n, 10), nil
}

// findEntitlement finds the entitlement named ref (any case), on system
// when given, or failing that whose id it is.
func findEntitlement(ctx context.Context, api *client.ClientWithResponses, ref, system string) (int64, error) {
	p := client.ListEntitlementsParams{Q: &ref, Limit: client.Ptr(steward.MaxLimit)}
	if system != "" {
		s, err := findSystem(ctx, api, system)
		if err != nil {
			return 0, err
		}
		p.SystemId = &s.Id
	}
	var found []client.Entitlement
	for {
		r, err := api.ListEntitlementsWithResponse(ctx, &p)
		if err := client.Check(r, err); err != nil {
			return 0, err
		}
		for _, x := range r.JSON200.Items {
			if strings.EqualFold(x.Name, ref) {
				found = append(found, x)
			}
		}
		if deref(r.JSON200.Next) == "" {
			break
		}
		p.After = r.JSON200.Next
	}
	switch {
	case len(found) == 1:
		return found[0].Id, nil
	case len(found) > 1:
		systems := systemNamer(ctx, api)
		var on []string
		for _, x := range found {
			on = append(on, systems(&x.SystemId))
		}
		return 0, steward.Errorf(steward.EINVALID, "%d entitlements are named %q (on %s); name the system with --system.", len(found), ref, strings.Join(on, ", "))
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 && system == "" {
		return id, nil
	}
	return 0, steward.Errorf(steward.ENOTFOUND, "No entitlement is named %q.", ref)
}

// findToken finds the API token named ref, or failing that whose id it
// is. The API does not list tokens (they are administered locally), so it
// reads the names from the log's token.created events.
func findToken(ctx context.Context, api *client.ClientWithResponses, ref string) (int64, error) {
	p := client.ListEventsParams{Action: client.Ptr(client.Action(steward.ActionTokenCreated)), Limit: client.Ptr(steward.MaxLimit)}
	for {
		r, err := api.ListEventsWithResponse(ctx, &p)
		if err := client.Check(r, err); err != nil {
			return 0, err
		}
		for _, ev := range r.JSON200.Items {
			if data, ok := ev.Data.(map[string]any); ok && data["name"] == ref {
				if id, err := strconv.ParseInt(ev.ObjectId, 10, 64); err == nil {
					return id, nil
				}
			}
		}
		if deref(r.JSON200.Next) == "" {
			break
		}
		p.After = r.JSON200.Next
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	return 0, steward.Errorf(steward.ENOTFOUND, "No API token is named %q; 'steward token list' lists them.", ref)
}

// objectNamer names an event's object for the table as people know it:
// "identity etl-loader on aws-prod", "person ada@example.com", "team
// payments"; one without a name, or that the server no longer has, as
// "credential 17".
func objectNamer(ctx context.Context, api *client.ClientWithResponses) func(typ, id string) string {
	people, teams, systems := personNamer(ctx, api), teamNamer(ctx, api), systemNamer(ctx, api)
	identities := namer(func(id int64) (string, error) {
		r, err := api.GetIdentityWithResponse(ctx, id)
		if err := client.Check(r, err); err != nil {
			return "", err
		}
		return r.JSON200.Name + " on " + deref(r.JSON200.SystemName), nil
	})
	return func(typ, raw string) string {
		if raw == "" {
			return typ
		}
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return typ + " " + raw
		}
		switch typ {
		case steward.ObjectIdentity:
			return typ + " " + identities(&id)
		case steward.ObjectPerson:
			return typ + " " + people(&id)
		case steward.ObjectTeam:
			return typ + " " + teams(&id)
		case steward.ObjectSystem:
			return typ + " " + systems(&id)
		}
		return typ + " " + raw
	}
}

// cut shortens s to n runes for a table cell.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
