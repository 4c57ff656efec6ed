package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
)

func newNoticesCmd(e *env) *cobra.Command {
	var c apiFlags
	var output, person, after string
	var unsent, all bool
	var limit int
	cmd := &cobra.Command{
		Use:   "notices [--person EMAIL | --all] [--unsent]",
		Short: "Read the notices Steward wrote to you (admin, auditor: anyone's), through the API",
		Long: `Read the notices Steward wrote to people, oldest first, each with what it
is about and its text: that you now own an identity or no longer do, that
JIT access you asked for (or on an identity you own) ends soon, with the
command that extends it.

You read your own. An admin or auditor reads one person's with --person,
or everyone's with --all (an automation token, which has no notices of its
own, reads everyone's); --unsent keeps those no mailer has sent yet, which
is what a mailer outside Steward reads (-o json) to send them.`,
		Example: `  steward notices
  steward notices --person ana@example.com
  steward notices --all --unsent -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			if all && person != "" {
				return steward.Errorf(steward.EINVALID, "Give --person or --all, not both.")
			}
			if !all && person == "" {
				// Your own: the API lists an admin's or auditor's request
				// without a person as everyone's.
				w, err := api.WhoamiWithResponse(cmd.Context())
				if err := client.Check(w, err); err != nil {
					return err
				}
				if w.JSON200.Kind == client.PrincipalKindPerson {
					person = w.JSON200.Name
				}
			}
			p := &client.ListNoticesParams{Person: nonZero(person), Limit: nonZero(limit), After: nonZero(after)}
			if unsent {
				p.Unsent = &unsent
			}
			r, err := api.ListNoticesWithResponse(cmd.Context(), p)
			if err := client.Check(r, err); err != nil {
				return err
			}
			var page steward.Page[steward.Notice]
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return err
			}
			if output == "json" {
				return writeAnswer(e.stdout, r.Body)
			}
			if len(page.Items) == 0 {
				fmt.Fprintln(e.stdout, "No notices.")
			}
			for _, n := range page.Items {
				sent := "not sent by mail yet"
				if n.SentAt != nil {
					sent = "sent " + fmtTime(n.SentAt)
				}
				fmt.Fprintf(e.stdout, "%d  %s  to %s  (%s %s; %s)\n  %s\n  %s\n\n", n.ID, fmtTime(&n.CreatedAt), n.Person,
					n.ObjectType, n.ObjectID, sent, n.Subject, n.Body)
			}
			if page.Next != "" {
				fmt.Fprintf(e.stderr, "next page: --after %s\n", page.Next)
			}
			return nil
		},
	}
	addClientFlags(cmd, &c, &output)
	f := cmd.Flags()
	f.StringVar(&person, "person", "", "this person's notices, by e-mail address (admin, auditor; default: yours)")
	f.BoolVar(&all, "all", false, "everyone's notices (admin, auditor)")
	f.BoolVar(&unsent, "unsent", false, "only the notices no mailer has sent yet")
	f.IntVar(&limit, "limit", 0, "notices per page (default 50)")
	f.StringVar(&after, "after", "", "the next page's cursor, as the last page printed it")
	return cmd
}
