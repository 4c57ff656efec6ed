package main

import (
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
	"github.com/stewardhq/steward/store/sqlstore"
)

// demoTokenTTL bounds the sign-in token that serve --demo prints: it is shown
// in a terminal, so it should not outlive the demo by much.
const demoTokenTTL = 7 * 24 * time.Hour

func newServeCmd(e *env) *cobra.Command {
	var dsn, addr string
	var withDemo, cookieSecure bool
	var dc demo.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Steward server: REST API, web UI, health and metrics",
		Long: `Run the Steward server. It applies migrations, then serves:
  /            the web UI (sign in with an API token, or through the
               OpenID provider of the configuration file's oidc: section)
  /api/v1/     the REST API (Authorization: Bearer <token>)
  /openapi.json the OpenAPI 3.1 document of the API
  /healthz     process liveness, /readyz store readiness, /metrics Prometheus

It also works Steward's durable jobs (River's, in the same database):
connectors with a schedule in the configuration file (--config) are synced
on that schedule, every gap task is recomputed hourly, and the notices that
changes queue are written to the inbox. With several replicas on one
PostgreSQL, each scheduled run happens once, on one of them.

With --demo it first seeds an empty database with a demo organisation, then
creates an admin token and prints how to sign in. SIGINT or SIGTERM stops it
gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := openStore(ctx, e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			var token string
			if withDemo {
				if token, err = prepareDemo(ctx, e, db, dc); err != nil {
					return err
				}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return steward.Errorf(steward.EUNAVAILABLE, "cannot listen on %s: %v", addr, err)
			}
			sso, err := e.webOIDC()
			if err != nil {
				return err
			}
			ui := &web.UI{Store: db, Logger: e.logger, Secure: cookieSecure, OIDC: sso}
			runner, err := newRunner(db, e.config, e.logger, e.runner)
			if err != nil {
				return err
			}
			srv := &stewardhttp.Server{Store: db, Logger: e.logger, Addr: addr, UI: ui.Handler(), Collectors: runner.Collectors(),
				Importer: func(f string, r io.Reader, n string) (steward.Source, error) {
					return importer.New(f, r, n, importer.Options{Now: time.Now()})
				}}
			if err := runner.Start(ctx); err != nil {
				return err
			}
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
			e.logger.Info("steward serving", "url", url, "db", db.Dialect(), "version", steward.Version)
			if token != "" {
				fmt.Fprintf(e.stdout, "\nSteward is running at %s\n\nSign in to the web UI with this admin token (valid for %s):\n\n    %s\n\nOr call the API:\n\n    curl -H 'Authorization: Bearer %s' '%s/api/v1/identities?limit=10'\n\n",
					url, demoTokenTTL, token, token, url)
			}
			return srv.Serve(ctx, ln)
		},
	}
	addDBFlag(cmd, &dsn)
	addDigestFlag(cmd, e)
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().BoolVar(&cookieSecure, "cookie-secure", false, "mark the web session cookie Secure (turn on behind HTTPS)")
	cmd.Flags().BoolVar(&withDemo, "demo", false, "seed an empty database with a demo organisation and print a sign-in token")
	addDemoFlags(cmd, &dc, "demo-")
	return cmd
}

// prepareDemo seeds the database if it has no identities yet and returns a
// fresh admin token for signing in.
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
	exp := time.Now().UTC().Add(demoTokenTTL)
	t := &steward.Token{Name: fmt.Sprintf("demo-admin-%d", time.Now().Unix()), Role: steward.RoleAdmin, ExpiresAt: &exp}
	return db.CreateToken(ctx, t)
}

func isEmpty(ctx context.Context, db *sqlstore.DB) (bool, error) {
	page, err := db.Identities(ctx, steward.IdentityFilter{ListOptions: steward.ListOptions{Limit: 1}})
	if err != nil {
		return false, err
	}
	return len(page.Items) == 0, nil
}
