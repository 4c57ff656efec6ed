package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

// The request commands: asking for access through the catalog, and an
// approver's work, through the API as the person the token belongs to.

func newRequestCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Ask for access and decide requests, through the API",
		Long: `Ask for access through the service catalog, and decide the requests the
catalog makes you an approver of, as the person your API token (--token,
STEWARD_TOKEN) belongs to. The catalog decides at once and says why:
approved by policy (fulfilled through the system's connector), pending on
named approvers, or refused with what to do instead. What no model serves
is recorded as unmatched demand for the catalog's owners.

A requester never approves their own request, administrators included, and
one person gives at most one of the approvals a model needs.`,
		Example: `  steward request create --identity svc-settlement --system pg-payments-prod \
    --entitlement CREATEROLE --duration 2h --justify ticket=CHG-1234
  steward request inbox
  steward request approve 42 --reason "CHG-1234 is approved"
  steward request get 42
  steward request extend 42 --duration 1h --justify ticket=CHG-1234`,
	}
	cmd.AddCommand(newRequestCreateCmd(e), newRequestListCmd(e), newRequestInboxCmd(e), newRequestGetCmd(e),
		newRequestActCmd(e, "approve", "Approve a request you are an approver of"),
		newRequestActCmd(e, "deny", "Deny a request you are an approver of"),
		newRequestActCmd(e, "cancel", "Cancel your own request (an admin: anyone's) before it is fulfilled"),
		newRequestExtendCmd(e), newRequestUnmatchedCmd(e))
	return cmd
}

// justification reads --justify FIELD=VALUE flags.
func justification(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, j := range flags {
		k, v, ok := strings.Cut(j, "=")
		if !ok || k == "" {
			return nil, steward.Errorf(steward.EINVALID, "--justify %q: write FIELD=VALUE.", j)
		}
		out[k] = v
	}
	return out, nil
}

// requestNumber reads a request's number, the positional argument.
func requestNumber(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, steward.Errorf(steward.EINVALID, "%q is not a request number (steward request list shows them).", s)
	}
	return id, nil
}

func newRequestCreateCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, duration string
	var in client.RequestInput
	var model, identity, system, entitlement, role string
	var justify []string
	cmd := &cobra.Command{
		Use:   "create --identity IDENTITY (--entitlement E | --role R) [--model M] [--duration 2h] [--justify FIELD=VALUE]",
		Short: "Ask for access; the catalog decides at once and says why",
		Long: `Ask for ENTITLEMENT (or a catalog --role) for IDENTITY, as yourself. Without
--model Steward finds the model that serves it. The answer comes at once:
approved (fulfilment is queued), pending on named approvers and why, or
refused with every reason and what to do instead. When no model serves
it, the ask is recorded as unmatched demand.

The requester is always you, the person your token belongs to: nobody asks
on someone else's behalf, and an automation token asks for nothing.`,
		Example: `  # JIT elevation for two hours, with the justification the model asks for
  steward request create --identity svc-settlement --system pg-payments-prod \
    --entitlement CREATEROLE --duration 2h --justify ticket=CHG-1234 --justify why="schema migration"

  # A catalog role, under a named model
  steward request create --identity ada --role payments-oncall --model oncall-access

  # The full answer, decision and reasons, as JSON
  steward request create --identity etl-loader --entitlement s3:read -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := justification(justify)
			if err != nil {
				return err
			}
			in.Model, in.Identity, in.System, in.Entitlement, in.Role = nonZero(model), nonZero(identity), nonZero(system), nonZero(entitlement), nonZero(role)
			in.Duration = nonZero(duration)
			if j != nil {
				in.Justification = &j
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.CreateRequestWithResponse(cmd.Context(), in)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			var res steward.RequestResult
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return err
			}
			printResult(e.stdout, &res)
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	f := cmd.Flags()
	f.StringVar(&identity, "identity", "", "the identity that will hold the access, by name (required)")
	f.StringVar(&system, "system", "", "the identity's system, when its name is on several")
	f.StringVar(&entitlement, "entitlement", "", "the entitlement, by name")
	f.StringVar(&role, "role", "", "a catalog role instead of an entitlement")
	f.StringVar(&model, "model", "", "the catalog model to ask under; Steward finds it when left out")
	f.StringVar(&duration, "duration", "", "jit: how long (15m, 2h, 1d); the model's default when left out")
	f.StringArrayVar(&justify, "justify", nil, "a justification field, FIELD=VALUE (repeatable)")
	_ = cmd.MarkFlagRequired("identity")
	return cmd
}

// printResult writes what asking gave: the request with its decision, or
// the unmatched demand.
func printResult(w io.Writer, res *steward.RequestResult) {
	if u := res.Unmatched; u != nil {
		fmt.Fprintf(w, "No catalog model serves %s for %s: recorded as unmatched demand #%d for the catalog's owners.\n", u.Target, u.Identity, u.ID)
		return
	}
	r := res.Request
	switch r.State {
	case steward.RequestApproved:
		fmt.Fprintf(w, "Request %d is APPROVED by policy; fulfilment is queued.\n", r.ID)
	case steward.RequestPending:
		var who []string
		for _, n := range r.EligibleSets() {
			who = append(who, n.String())
		}
		fmt.Fprintf(w, "Request %d is PENDING on %s.\n", r.ID, strings.Join(who, ", then "))
	default:
		fmt.Fprintf(w, "Request %d is %s.\n", r.ID, strings.ToUpper(string(r.State)))
	}
	printDecision(w, &r.Question, &r.Decision)
	for _, n := range r.Decision.Approvers {
		fmt.Fprintf(w, "  approver %s: %s\n", n.Set, n.Why)
	}
}

func newRequestListCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, requester, state, identity, model, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--state pending] [--requester EMAIL] [--identity NAME] [--model M]",
		Short: "List requests, newest first (a member: their own)",
		Long: `List access requests, newest first. An admin or auditor lists anyone's. A
member lists their own; with --requester naming someone else, they see
those of that person's requests the catalog makes them an approver of.
A page may be short: "next page: --after CURSOR" on stderr says how to go on.`,
		Example: `  steward request list --state pending
  steward request list --requester ana@example.com --state fulfilled
  steward request list --identity svc-settlement --model db-jit -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			p := &client.ListRequestsParams{Requester: nonZero(requester), Identity: nonZero(identity), Model: nonZero(model), After: nonZero(after), Limit: nonZero(limit)}
			if state != "" {
				s := client.RequestState(state)
				p.State = &s
			}
			r, err := api.ListRequestsWithResponse(cmd.Context(), p)
			if err := client.Check(r, err); err != nil {
				return err
			}
			var page steward.Page[steward.AccessRequest]
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return err
			}
			return printPage(e, output, r.Body, page.Items, &page.Next, requestHeader, requestRow)
		},
	}
	addClientFlags(cmd, &c, &output)
	f := cmd.Flags()
	f.StringVar(&requester, "requester", "", "only requests by this person (e-mail address)")
	f.StringVar(&state, "state", "", "only requests in this state: pending, approved, fulfilled, failed, refused, denied, cancelled, expired")
	f.StringVar(&identity, "identity", "", "only requests for this identity, by name")
	f.StringVar(&model, "model", "", "only requests under this model")
	f.IntVar(&limit, "limit", 0, "requests per page (default 50)")
	f.StringVar(&after, "after", "", "the next page's cursor, as the last page printed it")
	return cmd
}

const requestHeader = "ID\tSTATE\tREQUESTER\tIDENTITY\tWHAT\tMODEL\tCREATED\tDECIDE BY"

func requestRow(r steward.AccessRequest) string {
	decideBy := "-"
	if r.State == steward.RequestPending && !r.DecideBy.IsZero() {
		decideBy = fmtTime(&r.DecideBy)
		if steward.Breached(r.FirstDecideBy, r.ClosedAt, time.Now()) {
			decideBy += " (breached)"
		}
	}
	return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.ID, r.State, r.Requester, r.Identity, r.Target, r.Decision.Model, fmtTime(&r.CreatedAt), decideBy)
}

func newRequestInboxCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "The requests waiting for you to approve or deny, oldest first",
		Long: `The pending requests you may approve or deny now: those whose approver sets,
up to the level they have escalated to, include you, and that you have not
acted on. Your own requests are never in it.`,
		Example: `  steward request inbox
  steward request get 42
  steward request approve 42 --reason "CHG-1234 is approved"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.RequestInboxWithResponse(cmd.Context())
			if err := client.Check(r, err); err != nil {
				return err
			}
			var page steward.Page[steward.AccessRequest]
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return err
			}
			return printPage(e, output, r.Body, page.Items, nil, requestHeader, requestRow)
		},
	}
	addClientFlags(cmd, &c, &output)
	return cmd
}

func newRequestGetCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	cmd := &cobra.Command{
		Use:   "get NUMBER",
		Short: "A request with its decision, reasons and timeline",
		Long: `A request: what was asked, the catalog's decision with every reason and
approver set, and its timeline: when it was made, each approval or denial
with who, as which approver and why, escalations, fulfilment tries, the
JIT grant it made, and how it ended. A member gets their own requests and
those they are an approver of.`,
		Example: `  steward request get 42
  steward request get 42 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := requestNumber(args[0])
			if err != nil {
				return err
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.GetRequestWithResponse(cmd.Context(), id)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			var req steward.AccessRequest
			if err := json.Unmarshal(r.Body, &req); err != nil {
				return err
			}
			printRequest(e.stdout, &req)
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	return cmd
}

// printRequest writes a request and its timeline.
func printRequest(w io.Writer, r *steward.AccessRequest) {
	printResult(w, &steward.RequestResult{Request: r})
	fmt.Fprintln(w, "Timeline:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\tasked by %s\n", fmtTime(&r.CreatedAt), r.Requester)
	for i := 1; i <= r.Level && i < len(r.Decision.Approvers); i++ {
		n := r.Decision.Approvers[i]
		at := ""
		if i == 1 {
			at = fmtTime(&r.FirstDecideBy)
		}
		fmt.Fprintf(tw, "  %s	not decided in time: escalated to %s (%s)\n", at, n.Set, n.Why)
	}
	for _, a := range r.Approvals {
		verb := "approved"
		if !a.Approve {
			verb = "denied"
		}
		fmt.Fprintf(tw, "  %s\t%s by %s (%s): %s\n", fmtTime(&a.At), verb, a.Approver, a.Set, a.Reason)
	}
	if r.Attempts > 0 {
		line := fmt.Sprintf("fulfilment tried %d time(s)", r.Attempts)
		if r.LastError != "" {
			line += "; last error: " + r.LastError
		}
		fmt.Fprintf(tw, "  %s\t%s\n", fmtTime(&r.UpdatedAt), line)
	}
	if r.JITGrantID != nil {
		fmt.Fprintf(tw, "  \tJIT grant %d (steward jit get %d)\n", *r.JITGrantID, *r.JITGrantID)
	}
	if r.State == steward.RequestPending {
		line := "waiting; expires " + fmtTime(&r.ExpiresAt)
		if !r.DecideBy.IsZero() {
			line = "to be decided by " + fmtTime(&r.DecideBy) + ", " + line
		}
		if steward.Breached(r.FirstDecideBy, nil, time.Now()) {
			line += " (decision level breached)"
		}
		fmt.Fprintf(tw, "  \t%s\n", line)
	}
	end := ""
	if r.ClosedAt != nil {
		end = fmtTime(r.ClosedAt)
	}
	fmt.Fprintf(tw, "  %s\t%s", end, r.State)
	if r.Reason != "" {
		fmt.Fprintf(tw, ": %s", r.Reason)
	}
	fmt.Fprintln(tw)
	_ = tw.Flush()
}

// actLong and actExample are the help of approve, deny and cancel.
var (
	actLong = map[string]string{
		"approve": `Approve a pending request you are an approver of, with a reason kept with
the decision. A requester never approves their own request, administrators
included, and one person gives at most one of the approvals a model needs:
the refusal says so. The approval that completes the count approves the
request, and its fulfilment is queued.`,
		"deny": `Deny a pending request you are an approver of, with a reason kept with the
decision: the requester sees it. One denial ends the request.`,
		"cancel": `Withdraw a request that is not yet fulfilled: your own, or, as an
administrator, anyone's.`,
	}
	actExample = map[string]string{
		"approve": "CHG-1234 is approved",
		"deny":    "no change ticket; ask again with one",
		"cancel":  "the migration was postponed",
	}
)

func newRequestActCmd(e *env, verb, short string) *cobra.Command {
	var c apiFlags
	var output, reason string
	cmd := &cobra.Command{
		Use:     verb + " NUMBER --reason TEXT",
		Short:   short,
		Long:    actLong[verb],
		Example: fmt.Sprintf("  steward request %s 42 --reason %q", verb, actExample[verb]),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := requestNumber(args[0])
			if err != nil {
				return err
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			body := client.ReasonInput{Reason: nonZero(reason)}
			var raw []byte
			switch verb {
			case "approve":
				r, err := api.ApproveRequestWithResponse(cmd.Context(), id, body)
				if err := client.Check(r, err); err != nil {
					return err
				}
				raw = r.Body
			case "deny":
				r, err := api.DenyRequestWithResponse(cmd.Context(), id, body)
				if err := client.Check(r, err); err != nil {
					return err
				}
				raw = r.Body
			default:
				r, err := api.CancelRequestWithResponse(cmd.Context(), id, body)
				if err := client.Check(r, err); err != nil {
					return err
				}
				raw = r.Body
			}
			if output == "json" {
				return writeAnswer(e.stdout, raw)
			}
			var req steward.AccessRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Request %d is %s.\n", req.ID, req.State)
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&reason, "reason", "", "why; kept with the decision (required to approve or deny)")
	return cmd
}

func newRequestExtendCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, duration string
	var justify []string
	cmd := &cobra.Command{
		Use:   "extend NUMBER --duration 1h [--justify FIELD=VALUE]",
		Short: "Ask for more time on the JIT access request NUMBER granted",
		Long: `Ask to extend the JIT grant that request NUMBER made by --duration: a new
request of the same model, decided again within its maximum. Fulfilled,
it moves the grant's expiry later.`,
		Example: `  steward request extend 42 --duration 1h --justify ticket=CHG-1234`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := requestNumber(args[0])
			if err != nil {
				return err
			}
			j, err := justification(justify)
			if err != nil {
				return err
			}
			in := client.ExtendInput{Duration: duration}
			if j != nil {
				in.Justification = &j
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.ExtendRequestWithResponse(cmd.Context(), id, in)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			var res steward.RequestResult
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return err
			}
			printResult(e.stdout, &res)
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().StringVar(&duration, "duration", "", "how much longer (15m, 2h, 1d) (required)")
	cmd.Flags().StringArrayVar(&justify, "justify", nil, "a justification field, FIELD=VALUE (repeatable)")
	_ = cmd.MarkFlagRequired("duration")
	return cmd
}

func newRequestUnmatchedCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "unmatched",
		Short: "What people asked for that no catalog model serves (admin, auditor)",
		Long: `What people asked for that no model of the catalog serves, newest first:
who asked, from which team, for which identity and what, and why. It is
the catalog owners' list of models to write.`,
		Example: `  steward request unmatched
  steward request unmatched --limit 200 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.ListUnmatchedDemandWithResponse(cmd.Context(), &client.ListUnmatchedDemandParams{Limit: nonZero(limit), After: nonZero(after)})
			if err := client.Check(r, err); err != nil {
				return err
			}
			var page steward.Page[steward.UnmatchedDemand]
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return err
			}
			return printPage(e, output, r.Body, page.Items, &page.Next, "ID\tAT\tREQUESTER\tTEAM\tIDENTITY\tWHAT\tWHY", func(u steward.UnmatchedDemand) string {
				var why []string
				for k, v := range u.Justification {
					why = append(why, k+"="+v)
				}
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", u.ID, fmtTime(&u.At), u.Requester, u.Team, u.Identity, u.Target, strings.Join(why, " "))
			})
		},
	}
	addClientFlags(cmd, &c, &output)
	cmd.Flags().IntVar(&limit, "limit", 0, "items per page (default 50)")
	cmd.Flags().StringVar(&after, "after", "", "the next page's cursor, as the last page printed it")
	return cmd
}

func newJITCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jit",
		Short: "JIT grants: time-bound access and its expiry, through the API",
		Long: `JIT grants are the time-bound access fulfilled JIT requests made: each
expires on time and Steward revokes it in the target system. An admin or
auditor reads them; a requester finds theirs from the request
(steward request get NUMBER names its grant).`,
	}
	cmd.AddCommand(newJITListCmd(e), newJITGetCmd(e))
	return cmd
}

// jitLeft says how long an active grant has left at now, "-" for any other.
func jitLeft(g *steward.JITGrant, now time.Time) string {
	if g.State(now) != steward.JITActive {
		return "-"
	}
	return g.ExpiresAt.Sub(now).Round(time.Second).String()
}

func newJITListCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, identity, system, state, after string
	var limit int
	list := &cobra.Command{
		Use:   "list [--identity NAME [--system S]] [--state active|expired|revocation_failing|revoked]",
		Short: "List JIT grants with their expiry and the time left (admin, auditor)",
		Long: `List JIT grants: each with its expiry and the time left, or what became of
it: expired (its revocation pending), revocation_failing (the target
refused or was down; retried, and an alert), revoked.`,
		Example: `  steward jit list --state active
  steward jit list --identity svc-settlement --system pg-payments-prod
  steward jit list --state revocation_failing -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			p := &client.ListJITGrantsParams{Identity: nonZero(identity), System: nonZero(system), Limit: nonZero(limit), After: nonZero(after)}
			if state != "" {
				s := client.JITState(state)
				p.State = &s
			}
			r, err := api.ListJITGrantsWithResponse(cmd.Context(), p)
			if err := client.Check(r, err); err != nil {
				return err
			}
			var page steward.Page[steward.JITGrant]
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return err
			}
			now := time.Now()
			return printPage(e, output, r.Body, page.Items, &page.Next, "ID\tIDENTITY\tENTITLEMENT\tSTATE\tEXPIRES\tLEFT\tREQUEST", func(g steward.JITGrant) string {
				req := "-"
				if g.RequestID != nil {
					req = strconv.FormatInt(*g.RequestID, 10)
				}
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", g.ID, g.Identity, g.Entitlement, g.State(now), fmtTime(&g.ExpiresAt), jitLeft(&g, now), req)
			})
		},
	}
	addClientFlags(list, &c, &output)
	f := list.Flags()
	f.StringVar(&identity, "identity", "", "only grants of this identity, by name")
	f.StringVar(&system, "system", "", "the identity's system, when its name is on several")
	f.StringVar(&state, "state", "", "only grants in this state")
	f.IntVar(&limit, "limit", 0, "grants per page (default 50)")
	f.StringVar(&after, "after", "", "the next page's cursor, as the last page printed it")
	return list
}

func newJITGetCmd(e *env) *cobra.Command {
	var c apiFlags
	var output string
	cmd := &cobra.Command{
		Use:   "get NUMBER",
		Short: "A JIT grant: its expiry, time left, and revocation (admin, auditor)",
		Long: `A JIT grant by its number (a fulfilled request names it): the identity and
entitlement, who granted it by which request, its expiry and the time
left, and, once expired, its revocation: tries, the target's last error,
when it was revoked.`,
		Example: `  steward jit get 7
  steward jit get 7 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil || id <= 0 {
				return steward.Errorf(steward.EINVALID, "%q is not a JIT grant number (steward jit list shows them).", args[0])
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			r, err := api.GetJITGrantWithResponse(cmd.Context(), id)
			if err := client.Check(r, err); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			var g steward.JITGrant
			if err := json.Unmarshal(r.Body, &g); err != nil {
				return err
			}
			printJITGrant(e.stdout, &g, time.Now())
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	return cmd
}

// printJITGrant writes a JIT grant as of now.
func printJITGrant(w io.Writer, g *steward.JITGrant, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "JIT grant %d:\t%s holds %s (system %d)\n", g.ID, g.Identity, g.Entitlement, g.SystemID)
	fmt.Fprintf(tw, "State:\t%s\n", g.State(now))
	by := g.GrantedBy
	if by == "" {
		by = "-"
	}
	if g.RequestID != nil {
		by += fmt.Sprintf(", request %d (steward request get %d)", *g.RequestID, *g.RequestID)
	}
	fmt.Fprintf(tw, "Granted:\t%s by %s\n", fmtTime(&g.GrantedAt), by)
	fmt.Fprintf(tw, "Expires:\t%s (left: %s)\n", fmtTime(&g.ExpiresAt), jitLeft(g, now))
	if g.WarnedAt != nil {
		fmt.Fprintf(tw, "Warned:\t%s\n", fmtTime(g.WarnedAt))
	}
	if g.Attempts > 0 {
		line := fmt.Sprintf("%d tried", g.Attempts)
		if g.LastError != "" {
			line += "; last error: " + g.LastError
		}
		if g.NextAttemptAt != nil && g.RevokedAt == nil {
			line += "; next try " + fmtTime(g.NextAttemptAt)
		}
		fmt.Fprintf(tw, "Revocations:\t%s\n", line)
	}
	if g.RevokedAt != nil {
		line := fmtTime(g.RevokedAt)
		if lag, ok := g.Lag(); ok {
			line += fmt.Sprintf(" (%s after expiry)", lag.Round(time.Second))
		}
		fmt.Fprintf(tw, "Revoked:\t%s\n", line)
	}
	_ = tw.Flush()
}
