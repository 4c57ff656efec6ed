package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/demo"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/http/web"
	"github.com/stewardhq/steward/importer"
	"github.com/stewardhq/steward/request"
	"github.com/stewardhq/steward/store/sqlstore"
)

// demoTokenTTL bounds the sign-in token that serve --demo prints: it is shown
// in a terminal, so it should not outlive the demo by much.
const demoTokenTTL = 7 * 24 * time.Hour

func newServeCmd(e *env) *cobra.Command {
	var dsn, addr string
	var withDemo, membersSeeAll bool
	var jitWarning time.Duration
	var dc demo.Config
	var ef edgeFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Steward server: REST API, web UI, health and metrics",
		Long: `Run the Steward server. It applies migrations, then serves:
  /            the web UI (sign in with an API token, or through the
               OpenID provider of the configuration file's oidc: section)
  /api/v1/     the REST API (Authorization: Bearer <token>)
  /openapi.json the OpenAPI 3.1 document of the API
  /healthz     process liveness, /readyz store readiness, /metrics Prometheus

It answers only to its own host names: the host of --public-url, those of
--allowed-hosts and the listen address, localhost and IP addresses. A request
for any other host is refused with 421, so that a web page cannot reach
Steward through DNS rebinding. Behind a reverse proxy, set --public-url to the
URL people use (https makes the web UI's cookies Secure and turns on HSTS),
have the proxy pass the Host header on, and list its network in
--trusted-proxies so that its X-Forwarded-For, -Proto and -Host are believed.

/metrics is closed until it is configured: give the scraper a metrics token
(--metrics-token-file or STEWARD_METRICS_TOKEN; it sends it as a bearer
token), move it to a listener of its own (--metrics-listen), or open it on a
private network (--metrics open). serve --demo on localhost leaves it open.

It also works Steward's durable jobs (River's, in the same database):
connectors with a schedule in the configuration file (--config) are synced
on that schedule, every gap task is recomputed hourly, and the notices that
changes queue are written to the inbox. With several replicas on one
PostgreSQL, each scheduled run happens once, on one of them.

It revokes JIT grants when they expire, through the postgres connector of
the grant's system, and at start those that expired while it was stopped;
a revocation the system refuses is retried with backoff and counted in
/metrics (steward_jit_grants{state="revocation_failing"}). With several
replicas each expiry is handled once. --jit-warning sets how long before
expiry the warning goes out: a jit_grant.expiry_warned event, and a notice
to the person who asked for the access and to the identity's owner.

With --demo it first seeds an empty database with a demo organisation, then
creates an admin token and prints how to sign in, and a member token for an
approver whom the demo's pending requests wait on. SIGINT or SIGTERM stops it
gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			es, err := ef.check(cmd, e, addr, withDemo)
			if err != nil {
				return err
			}
			db, err := openStore(ctx, e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			adviseServer(ctx, e, db)
			var token, approverToken string
			var approver *steward.Person
			var waiting int
			if withDemo {
				if token, err = prepareDemo(ctx, e, db, dc); err != nil {
					return err
				}
			}
			// Steward acts as its own identity (scheduled runs, notices,
			// sign-in): registered on first start, unowned unless the demo
			// gave it its admin, and then an ownership gap until someone
			// is assigned.
			if _, err := db.RegisterSteward(steward.WithPrincipal(ctx, steward.SelfPrincipal("serve")), nil); steward.IsCode(err, steward.ECONFLICT) {
				e.logger.Warn("Steward cannot register its own identity", "err", steward.ErrorMessage(err))
			} else if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return steward.Errorf(steward.EUNAVAILABLE, "cannot listen on %s: %v", addr, err)
			}
			sso, err := e.webOIDC()
			if err != nil {
				return err
			}
			ui := &web.UI{Store: db, Logger: e.logger, Secure: es.cookieSecure, OIDC: sso, MembersSeeAll: membersSeeAll}
			tg, closeTargets := targets(e.config, e.logger)
			// Deferred first, so run last: after the jobs and the expiry
			// engine, which use the connectors, have stopped.
			defer closeTargets()
			if withDemo {
				// The demo's systems exist only in its inventory: requests
				// are fulfilled and JIT grants revoked there by a stand-in
				// (demoTarget); a configured connector still acts for real.
				tg = withDemoTargets(tg)
			}
			flow, err := newWorkflow(db, tg, e.logger)
			if err != nil {
				return err
			}
			if withDemo {
				if approverToken, approver, waiting, err = demoApproverToken(withLocalAdmin(ctx), db, flow); err != nil {
					return err
				}
			}
			runner, err := newRunner(db, e.config, e.logger, e.runner, flow)
			if err != nil {
				return err
			}
			expiry, err := newExpiry(db, tg, e.logger, jitWarning)
			if err != nil {
				return err
			}
			ui.Requests = flow
			srv := &stewardhttp.Server{Store: db, Logger: e.logger, Addr: addr, UI: ui.Handler(), Collectors: append(runner.Collectors(), expiry.Collectors()...),
				MembersSeeAll: membersSeeAll,
				Importer: func(f string, r io.Reader, n string) (steward.Source, error) {
					return importer.New(f, r, n, importer.Options{Now: time.Now()})
				},
				CompileCatalog: compileCatalog, Requests: flow}
			es.apply(srv)
			var mln net.Listener
			if ef.metricsListen != "" {
				if mln, err = net.Listen("tcp", ef.metricsListen); err != nil {
					ln.Close() // #nosec G104 -- never served; the metrics listener's error is the one to report
					return steward.Errorf(steward.EUNAVAILABLE, "cannot listen on %s for metrics: %v", ef.metricsListen, err)
				}
			}
			if err := runner.Start(ctx); err != nil {
				return err
			}
			// JIT grants are revoked at expiry, and those that expired while
			// Steward was stopped at once. Stopped before the store closes.
			xctx, stopExpiry := context.WithCancel(context.WithoutCancel(ctx))
			expiryDone := make(chan struct{})
			go func() { defer close(expiryDone); _ = expiry.Run(xctx) }()
			defer func() { stopExpiry(); <-expiryDone }()
			// After the server has stopped taking requests: running jobs are
			// cancelled (each rolls back whole) and awaited, before the
			// store closes.
			defer func() {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := runner.Stop(sctx); err != nil {
					e.logger.Warn("jobs did not stop in time", "err", err)
				}
			}()
			url := "http://" + ln.Addr().String()
			e.logger.Info("steward serving", "url", url, "public_url", ef.publicURL, "db", db.Dialect(), "version", steward.Version)
			if mln != nil {
				e.logger.Info("serving metrics", "url", "http://"+mln.Addr().String()+"/metrics")
			}
			if token != "" {
				fmt.Fprintf(e.stdout, "\nSteward is running at %s\n\nSign in to the web UI with this admin token (valid for %s):\n\n    %s\n\nOr call the API:\n\n    curl -H 'Authorization: Bearer %s' '%s/api/v1/identities?limit=10'\n\n",
					url, demoTokenTTL, token, token, url)
				if approver != nil {
					fmt.Fprintf(e.stdout, "To see an approver's inbox, sign in as %s (%s), whom %d pending request(s) wait on, with this member token:\n\n    %s\n\n",
						approver.Name, approver.Email, waiting, approverToken)
				}
			}
			return serveListeners(ctx, srv, ln, mln)
		},
	}
	addDBFlag(cmd, &dsn)
	addDigestFlag(cmd, e)
	addWriteWaitFlag(cmd, e)
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	addEdgeFlags(cmd, &ef)
	cmd.Flags().BoolVar(&membersSeeAll, "members-see-all", false, "let members list and read every identity, not only those they own and their team's (config members_see_all)")
	cmd.Flags().DurationVar(&jitWarning, "jit-warning", steward.DefaultExpiryWarning, "warn (an event, and a notice to the requester and the identity's owner) this long before a JIT grant expires; 0: no warning (config jit_warning)")
	cmd.Flags().BoolVar(&withDemo, "demo", false, "seed an empty database with a demo organisation and print a sign-in token")
	addDemoFlags(cmd, &dc, "demo-")
	return cmd
}

// serveListeners serves the API and UI on ln and, if mln is not nil, the
// metrics on mln, until ctx is cancelled or one of them fails; then it
// stops the other too.
func serveListeners(ctx context.Context, srv *stewardhttp.Server, ln, mln net.Listener) error {
	if mln == nil {
		return srv.Serve(ctx, ln)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ctx, ln) }()
	go func() { errc <- srv.ServeMetrics(ctx, mln) }()
	err := <-errc
	cancel()
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

// prepareDemo seeds the database if it has no identities yet and returns a
// fresh admin token for signing in as the demo's admin: the owner of
// Steward's own identity, whom the seeding made so (demo.Seed).
func prepareDemo(ctx context.Context, e *env, db *sqlstore.DB, dc demo.Config) (string, error) {
	ctx = withLocalAdmin(ctx) // whoever starts serve --demo seeds it
	empty, err := isEmpty(ctx, db)
	if err != nil {
		return "", err
	}
	if empty {
		if err := seedDemo(ctx, e, db, dc); err != nil {
			return "", err
		}
	} else {
		e.logger.Info("database has an inventory already; not seeding the demo again")
	}
	admin, err := demoAdmin(ctx, db)
	if err != nil {
		return "", err
	}
	// The token is a personal one of the admin's, with the admin role,
	// which they make for themselves in the demo's story: whoever signs in
	// with it acts under their name, as everyone does.
	ctx = steward.WithPrincipal(ctx, steward.Principal{Kind: steward.PrincipalPerson, Name: cmp.Or(admin.Email, admin.ExternalID),
		PersonID: admin.ID, Role: steward.RoleAdmin, Via: steward.ActorFrom(ctx)})
	exp := time.Now().UTC().Add(demoTokenTTL)
	t := &steward.Token{Name: fmt.Sprintf("demo-admin-%d", time.Now().UnixNano()), Role: steward.RoleAdmin, ExpiresAt: &exp,
		Kind: steward.PrincipalPerson, PersonID: &admin.ID}
	return db.CreateToken(ctx, t)
}

// demoApproverToken returns a member token for a person with requests
// waiting in their inbox, and who they are: the admin decides none in the
// demo's story (the catalog's approvers are the systems' teams and
// security, which the head of security leads but is not a member of), so
// that a newcomer sees the approver's side too. Empty when nothing waits.
func demoApproverToken(ctx context.Context, db *sqlstore.DB, flow *request.Workflow) (token string, who *steward.Person, waiting int, err error) {
	cat, _, err := flow.Catalog(ctx)
	if steward.IsCode(err, steward.ENOTFOUND) {
		return "", nil, 0, nil
	} else if err != nil {
		return "", nil, 0, err
	}
	pending, err := db.Requests(ctx, steward.RequestFilter{State: steward.RequestPending, ListOptions: steward.ListOptions{Limit: steward.MaxLimit}})
	if err != nil {
		return "", nil, 0, err
	}
	// The person most requests wait on, and of those the first found.
	counts, best := map[string]int{}, ""
	for i := range pending.Items {
		email, err := demoApprover(ctx, db, cat, &pending.Items[i])
		if err != nil {
			return "", nil, 0, err
		}
		if email == "" {
			continue
		}
		if counts[email]++; best == "" || counts[email] > counts[best] {
			best = email
		}
	}
	if best == "" {
		return "", nil, 0, nil
	}
	p, err := db.PersonByKey(ctx, best)
	if err != nil {
		return "", nil, 0, err
	}
	pctx := steward.WithPrincipal(ctx, steward.Principal{Kind: steward.PrincipalPerson, Name: p.Email, PersonID: p.ID, Role: steward.RoleMember, Via: steward.ActorFrom(ctx)})
	// What their inbox shows: every request that waits on them, not only
	// those they were found first for.
	inbox, err := flow.Inbox(pctx)
	if err != nil {
		return "", nil, 0, err
	}
	exp := time.Now().UTC().Add(demoTokenTTL)
	t := &steward.Token{Name: fmt.Sprintf("demo-approver-%d", time.Now().UnixNano()), Role: steward.RoleMember, ExpiresAt: &exp,
		Kind: steward.PrincipalPerson, PersonID: &p.ID}
	raw, err := db.CreateToken(pctx, t)
	if err != nil {
		return "", nil, 0, err
	}
	return raw, p, len(inbox), nil
}

// demoAdmin returns the demo's admin: the active owner of Steward's own
// identity, or, in a demo seeded before it had one, its first active
// person.
func demoAdmin(ctx context.Context, db *sqlstore.DB) (*steward.Person, error) {
	self, err := db.SystemByName(ctx, steward.SelfSystemName)
	if err != nil && !steward.IsCode(err, steward.ENOTFOUND) {
		return nil, err
	} else if err == nil {
		page, err := db.Identities(ctx, steward.IdentityFilter{SystemID: self.ID, ExternalID: steward.SelfIdentityName, ListOptions: steward.ListOptions{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(page.Items) == 1 && page.Items[0].OwnerID != nil {
			p, err := db.Person(ctx, *page.Items[0].OwnerID)
			if err != nil {
				return nil, err
			} else if p.Status == steward.PersonActive {
				return p, nil
			}
		}
	}
	people, err := db.People(ctx, steward.PersonFilter{Status: steward.PersonActive, ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(people.Items) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "The demo organisation has no active person to sign in as.")
	}
	return &people.Items[0], nil
}

func isEmpty(ctx context.Context, db *sqlstore.DB) (bool, error) {
	page, err := db.Identities(ctx, steward.IdentityFilter{ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil {
		return false, err
	}
	return len(page.Items) == 0, nil
}
