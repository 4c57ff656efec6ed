// Command steward is Steward's one binary: the server (serve), its
// administration (migrate, demo, token, audit) and an API client
// (identities, gaps, sync-runs). Run "steward --help".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stewardhq/steward"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes, one per error code (steward.ErrorTable), so that scripts can
// tell a missing object from a refused token without parsing text.
const (
	ExitOK           = steward.ExitOK
	ExitInternal     = steward.ExitInternal
	ExitInvalid      = steward.ExitInvalid // bad flags, arguments or input
	ExitNotFound     = steward.ExitNotFound
	ExitUnauthorized = steward.ExitUnauthorized // no valid token, or not allowed
	ExitConflict     = steward.ExitConflict
	ExitUnavailable  = steward.ExitUnavailable // the store or server cannot be reached
	ExitAuditBroken  = steward.ExitAuditBroken // steward audit verify found a broken chain
)

// exitCode maps an error to the process exit code through the one error
// table; a broken audit chain is not an error code but has its own exit.
func exitCode(err error) int {
	var ce *steward.ChainError
	if errors.As(err, &ce) {
		return ExitAuditBroken
	} else if err == nil {
		return ExitOK
	}
	return steward.ExitCode(steward.ErrorCode(err))
}

// env is what every command shares: where to write and how to log.
type env struct {
	stdin          io.Reader // what FILE "-" reads
	stdout, stderr io.Writer
	logFormat      string
	logLevel       string
	logger         *slog.Logger
	// started is set when a command's own RunE begins: an error before that
	// (a missing required flag, a wrong number of arguments, an unknown
	// command) is in the command line.
	started bool
	// configPath and config are the configuration file, if one was given.
	configPath string
	config     *fileConfig
	// digestMaxAge is --digest-max-age, for the commands that sync.
	digestMaxAge time.Duration
	// writeWait is --write-wait (0: the store's default).
	writeWait time.Duration
	// auditKeyFile is --audit-key-file of a command that opens the database.
	auditKeyFile string
	// runner is what tests change of serve's job runner.
	runner runnerOptions
}

// Run runs the CLI with args and returns the exit code. Errors go to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

// runIO is Run reading standard input from stdin.
func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	markStart(root, e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if !e.started && !isUsage(err) && steward.ErrorCode(err) == steward.EINTERNAL {
		err = usageError{err}
	}
	var ce *steward.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "steward: %v\n", err)
	case steward.ErrorCode(err) == steward.EINTERNAL && !isUsage(err):
		if e.logger != nil {
			e.logger.Error("command failed", "err", err)
		}
		fmt.Fprintf(stderr, "steward: %v\n", err)
	default:
		if isUsage(err) {
			fmt.Fprintf(stderr, "steward: %v\nRun 'steward --help' for usage.\n", err)
			return ExitInvalid
		}
		fmt.Fprintf(stderr, "steward: %s\n", steward.ErrorMessage(err))
	}
	return exitCode(err)
}

// usageError marks an error in the command line itself.
type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "steward",
		Short: "Identity governance as a product: inventory, owners, access and its service levels",
		Long: `Steward keeps an inventory of every identity, human and non-human (service
accounts, API keys, tokens, secrets, certificates, workloads, bots), gives each
a named owner, and measures the gaps.

Settings come from defaults, then the configuration file (--config), then the
environment as STEWARD_<FLAG> with dashes as underscores (--db is STEWARD_DB),
then flags on the command line, each overriding the one before.

Quick start:
  steward serve --demo          start with a demo organisation and print a sign-in token`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := flagsFromEnv(cmd); err != nil {
				return err
			}
			if e.configPath != "" {
				cfg, err := loadConfig(e.configPath)
				if err != nil {
					return err
				}
				if err := applyConfig(cmd, cfg); err != nil {
					return err
				}
				e.config = cfg
			}
			e.auditKeyFile, _ = cmd.Flags().GetString("audit-key-file")
			logger, err := newLogger(e.stderr, e.logFormat, e.logLevel)
			if err != nil {
				return err
			}
			e.logger = logger
			if writePath(cmd) == writesLocally {
				cmd.SetContext(withLocalAdmin(cmd.Context()))
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&e.configPath, "config", "", "configuration file (YAML): settings and connectors; see docs/configuration.md")
	root.PersistentFlags().StringVar(&e.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&e.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(e), newMigrateCmd(e), newDemoCmd(e), newTokenCmd(e), newAuditCmd(e),
		newVersionCmd(e), newIdentitiesCmd(e), newPeopleCmd(e), newTeamsCmd(e), newSystemsCmd(e), newSyncCmd(e), newImportCmd(e), newApplyCmd(e), newGapsCmd(e), newSyncRunsCmd(e), newRotateCmd(e), newWhoamiCmd(e),
		newCatalogCmd(e), newDecideCmd(e), newRequestCmd(e), newJITCmd(e), newNoticesCmd(e))
	documentWritePaths(root)
	return root
}

// markStart wraps every command's RunE so that env.started tells errors of
// the command line from errors of the command.
func markStart(c *cobra.Command, e *env) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			e.started = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		markStart(sub, e)
	}
}

// flagsFromEnv sets every flag not given on the command line from
// STEWARD_<NAME> if that is set: defaults, then environment, then flags.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "STEWARD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := cmd.Flags().Set(f.Name, v); e != nil {
				err = usageError{fmt.Errorf("%s=%q: %w", name, v, e)}
			}
		}
	})
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
}
