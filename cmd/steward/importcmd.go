package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/importer"
)

// formatKinds is the kind of system each export format comes from, for a
// system that an import creates.
var formatKinds = map[string]steward.SystemKind{
	importer.FormatAWSCredentialReport:   steward.SystemAWS,
	importer.FormatK8sServiceAccounts:    steward.SystemKubernetes,
	importer.FormatGCPServiceAccountKeys: steward.SystemGCP,
}

func newImportCmd(e *env) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import --format FORMAT --system NAME FILE",
		Short: "Import a system's inventory from an export file (all or nothing)",
		Long: `Import the inventory of one system from an export file and reconcile it like a
sync: the file is the whole system (unless --partial), so identities missing
from it are marked removed. Importing the same file twice changes nothing the
second time. Every row that cannot be read is reported as FILE:LINE and a
reason, and then nothing is imported.

A whole import remembers a hash of every record it read; the next one skips
the records that are byte for byte the same (a JSONL line is not even
parsed) and compares only the rest. --full compares every record. A long
import logs how many records it has read every 10 seconds.

Formats (docs/import-formats.md):
  aws-credential-report  aws iam get-credential-report (the decoded CSV)
  k8s-serviceaccounts    kubectl get serviceaccounts -A -o json
  gcp-sa-keys            gcloud iam service-accounts keys list --format=json
  jsonl                  Steward's own schema, one record per line
  csv                    Steward's own schema for identities

FILE - reads standard input, which is first copied to a temporary file
(removed afterwards): an import may have to read its source twice.

Beside a running server on the same SQLite file, an import reads, checks and
stages the file without holding the database's write lock, and holds it only
while it applies the changes (seconds for a re-import); the first import of a
system holds it throughout. The server's writes wait up to its --write-wait
meanwhile, then are answered 503 (see docs/sizing.md).`,
		Example: `  aws iam get-credential-report --query Content --output text | base64 -d > report.csv
  steward import --format aws-credential-report --system aws-prod report.csv
  kubectl get serviceaccounts -A -o json | steward import --format k8s-serviceaccounts --system k8s-prod -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, e, args[0]) },
	}
	addDBFlag(cmd, &f.dsn)
	addDigestFlag(cmd, e)
	addWriteWaitFlag(cmd, e)
	cmd.Flags().StringVar(&f.format, "format", "", "file format: "+strings.Join(importer.Formats(), ", ")+" (required)")
	cmd.Flags().StringVar(&f.system, "system", "", "name of the system the file describes; created if new (required)")
	cmd.Flags().StringVar(&f.kind, "system-kind", "", "kind of a new system (default: from the format, else other)")
	cmd.Flags().StringVar(&f.environment, "environment", "prod", "environment of identities the file does not place")
	cmd.Flags().BoolVar(&f.partial, "partial", false, "the file is not the whole system: add and update, remove nothing")
	cmd.Flags().BoolVar(&f.full, "full", false, "compare every record, also those the last import read unchanged")
	addOutputFlag(cmd, &f.output)
	_ = cmd.MarkFlagRequired("format")
	return cmd
}

// importFlags are the flags of steward import.
type importFlags struct {
	dsn, format, system, kind, environment, output string
	partial, full                                  bool
}

// run imports the file at path (- for standard input) into the system the
// flags name: it checks the flags, opens the source, then syncs the system
// from it in one transaction and prints what changed.
func (f *importFlags) run(cmd *cobra.Command, e *env, path string) error {
	if f.system == "" {
		return steward.Errorf(steward.EINVALID, "--system is required: the name of the system the file describes (created if new).")
	}
	sysKind, err := f.systemKind()
	if err != nil {
		return err
	}
	src, cleanup, err := f.source(e, path)
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := openStore(cmd.Context(), e, f.dsn, true)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := cmd.Context()
	sys, err := ensureSystem(ctx, db, f.system, sysKind)
	if err != nil {
		return err
	}
	src, stop := withProgress(e.logger, "import "+path, src)
	res, err := db.SyncSystem(ctx, sys.ID, src, steward.SyncOptions{
		Source: "import:" + f.format, Environment: steward.Environment(f.environment), Partial: f.partial, Full: f.full})
	stop()
	if err != nil {
		return err
	}
	if f.output == "json" {
		return writeJSON(e.stdout, res)
	}
	printResults(e.stdout, []string{f.system}, map[string]*steward.SyncResult{f.system: res})
	return nil
}

// systemKind is the kind of a new system: --system-kind, else the format's.
func (f *importFlags) systemKind() (steward.SystemKind, error) {
	if f.kind != "" {
		k := steward.SystemKind(f.kind)
		return k, k.Validate()
	}
	if k := formatKinds[f.format]; k != "" {
		return k, nil
	}
	return steward.SystemOther, nil
}

// source opens the file at path as the format's source; standard input
// (-) is spooled to a temporary file first, which cleanup removes.
func (f *importFlags) source(e *env, path string) (src steward.Source, cleanup func(), err error) {
	opt := importer.Options{Now: time.Now()}
	if path != "-" {
		src, err = importer.Open(f.format, path, opt)
		return src, func() {}, err
	}
	spool, err := spoolStdin(e, e.stdin)
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() {
		spool.Close() // #nosec G104 -- only read from; a close error cannot lose data
		removeSpool(e, spool.Name())
	}
	if src, err = importer.New(f.format, spool, "stdin", opt); err != nil {
		cleanup()
		return nil, nil, err
	}
	return src, cleanup, nil
}

// spoolStdin copies standard input to a temporary file and returns it,
// rewound. An import may read its source twice (when a record the digest
// let it skip turns out wrong, it compares every record again), and a pipe
// cannot be read twice; the API spools uploads the same way. The caller
// closes and removes the file.
func spoolStdin(e *env, stdin io.Reader) (*os.File, error) {
	spool, err := os.CreateTemp("", "steward-import-*")
	if err != nil {
		return nil, fmt.Errorf("spooling standard input: %w", err)
	}
	_, err = io.Copy(spool, stdin)
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		spool.Close() // #nosec G104 -- the copy failed and is thrown away; its error is the one reported
		removeSpool(e, spool.Name())
		return nil, steward.Errorf(steward.EUNAVAILABLE, "standard input could not be copied to %s (set TMPDIR to a directory with room): %v", os.TempDir(), err)
	}
	return spool, nil
}

// removeSpool removes the spooled copy of standard input. A copy that
// stays behind holds the whole export in TMPDIR, so a failure is logged
// with the file's name for someone to remove it.
func removeSpool(e *env, name string) {
	if err := os.Remove(name); err != nil {
		e.logger.Warn("the spooled copy of standard input could not be removed; remove it by hand", "file", name, "err", err)
	}
}
