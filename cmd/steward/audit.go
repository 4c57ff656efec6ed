package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log and check its chain"}
	var dsn string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the hash chain of the audit log",
		Long: `Walk every audit event in order and recompute its hash. Exits 0 on an intact
chain. If a row was edited, inserted or deleted behind Steward's back, it
prints the first bad event and exits 7.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, false)
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := db.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "audit chain intact: %d events verified\n", n)
			return nil
		},
	}
	addDBFlag(verify, &dsn)
	cmd.AddCommand(verify, newAuditListCmd(e))
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
