package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// defaultDB is where Steward keeps its data when --db is not given: a SQLite
// file in the working directory, so that a first run needs no set-up.
const defaultDB = "steward.db"

func addDBFlag(cmd *cobra.Command, dsn *string) {
	cmd.Flags().StringVar(dsn, "db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	addAuditKeyFlag(cmd)
}

// addDigestFlag adds --digest-max-age to a command that syncs systems.
func addDigestFlag(cmd *cobra.Command, e *env) {
	cmd.Flags().DurationVar(&e.digestMaxAge, "digest-max-age", sqlstore.DefaultDigestMaxAge,
		"how long a system's sync digest is trusted after the last sync that compared every record; the next sync compares every record again")
}

// addWriteWaitFlag adds --write-wait to a command that serves or syncs.
func addWriteWaitFlag(cmd *cobra.Command, e *env) {
	cmd.Flags().DurationVar(&e.writeWait, "write-wait", sqlstore.DefaultWriteWait,
		"how long a write waits for its turn (on SQLite, behind another write such as a long import) before it fails: the API answers 503 with Retry-After, the CLI exits 6")
}

// openStore opens the store at dsn and, if migrate is set, brings its schema
// up to date (every command that writes does; audit verify only reads).
func openStore(ctx context.Context, e *env, dsn string, migrate bool) (*sqlstore.DB, error) {
	if e.digestMaxAge < 0 {
		return nil, steward.Errorf(steward.EINVALID, "--digest-max-age must not be negative.")
	}
	if e.writeWait < 0 {
		return nil, steward.Errorf(steward.EINVALID, "--write-wait must not be negative.")
	}
	keys, err := e.auditKeys(dsn, migrate)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(dsn, sqlstore.Options{Logger: e.logger, DigestMaxAge: e.digestMaxAge, WriteWait: e.writeWait, AuditKeys: keys})
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close() // #nosec G104 -- the store is unusable and the ping's error is the one to report; nothing was written
		return nil, err
	}
	if migrate {
		if _, ok := steward.PrincipalFrom(ctx); !ok {
			ctx = steward.WithPrincipal(ctx, steward.SelfPrincipal("serve")) // serve's own migration
		}
		mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := db.Migrate(mctx); err != nil {
			db.Close() // #nosec G104 -- the migration's error is the one to report; it rolled back whole
			return nil, err
		}
	}
	return db, nil
}

func newMigrateCmd(e *env) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema migrations (serve does this on start too)",
		Long: `Apply the database schema migrations (serve does this on start too).

On PostgreSQL it then logs the server settings that decide how Steward keeps
up at scale (shared_buffers, huge_pages, the size of Steward's tables), with a
warning for each that will slow it down (docs/sizing.md, PostgreSQL settings).
serve logs the same on start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), e, dsn, true)
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			e.logger.Info("schema up to date", "dialect", db.Dialect(), "version", v)
			adviseServer(cmd.Context(), e, db)
			return nil
		},
	}
	addDBFlag(cmd, &dsn)
	return cmd
}

// adviseServer logs, for a PostgreSQL store, the server settings that
// decide how it keeps up at scale, and a warning for each that will slow
// Steward down at the size its tables have reached (ServerTuning.Advice).
// Reading them is advice only: a failure is logged, not returned.
func adviseServer(ctx context.Context, e *env, db *sqlstore.DB) {
	t, err := db.ServerTuning(ctx)
	if err != nil {
		e.logger.Warn("cannot read the PostgreSQL server's settings", "err", err)
		return
	}
	if t == nil {
		return
	}
	e.logger.Info("postgresql settings", "shared_buffers_mib", t.SharedBuffers>>20, "huge_pages", t.HugePages, "tables_mib", t.TablesSize>>20)
	for _, a := range t.Advice() {
		e.logger.Warn(a)
	}
}
