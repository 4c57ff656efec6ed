package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
)

// auditKeyEnv holds the audit key itself rather than the name of its file,
// for platforms that hand secrets over in the environment. It has no flag,
// so that the key never appears in a command line.
const auditKeyEnv = "STEWARD_AUDIT_KEY"

// auditKeySuffix names the key file Steward makes next to a SQLite
// database that has none: steward.db.audit-key.
const auditKeySuffix = ".audit-key"

// addAuditKeyFlag adds --audit-key-file to a command that opens the
// database; openStore reads it through env.auditKeyFile.
func addAuditKeyFlag(cmd *cobra.Command) {
	cmd.Flags().String("audit-key-file", "", "file of the audit key that seals audit events, kept away from the database "+
		"(or STEWARD_AUDIT_KEY with the key itself); default for SQLite: DB"+auditKeySuffix+", made on first use (docs/audit.md)")
}

// auditKeys returns the audit keys for the database at dsn:
//
//   - STEWARD_AUDIT_KEY, or the file of --audit-key-file, when given (not
//     both);
//   - for SQLite, the file DB.audit-key next to the database, which a
//     command that writes (create) makes with a new key, mode 0600, when it
//     is missing: the demo and a first run seal their events with no set-up;
//   - for PostgreSQL, none, with a warning: replicas must share one key,
//     which a file made by one of them is not.
//
// It returns nil when there is no key (a reading command, or PostgreSQL).
func (e *env) auditKeys(dsn string, create bool) (*steward.AuditKeys, error) {
	text, inEnv := os.LookupEnv(auditKeyEnv)
	switch {
	case inEnv && e.auditKeyFile != "":
		return nil, steward.Errorf(steward.EINVALID, "both %s and --audit-key-file (STEWARD_AUDIT_KEY_FILE) are set: give the audit key one way.", auditKeyEnv)
	case inEnv:
		keys, err := steward.ParseAuditKeys(text)
		if err != nil {
			return nil, steward.Errorf(steward.EINVALID, "%s: %s", auditKeyEnv, steward.ErrorMessage(err))
		}
		return keys, nil
	case e.auditKeyFile != "":
		return e.readAuditKeys(e.auditKeyFile)
	case sqlstore.IsPostgres(dsn):
		if create {
			e.logger.Warn("no audit key: audit events are written unsealed, and anyone who can write the database can rewrite the audit log unseen; give --audit-key-file or " + auditKeyEnv + " (docs/audit.md)")
		}
		return nil, nil
	}
	file := sqliteFile(dsn) + auditKeySuffix
	keys, err := e.readAuditKeys(file)
	if err == nil || !create || !errors.Is(err, fs.ErrNotExist) {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // a reading command does not make a key
		}
		return keys, err
	}
	k, body, err := steward.GenerateAuditKey(time.Now())
	if err != nil {
		return nil, err
	}
	if err := writeNewFile(file, []byte(body), 0o600); err != nil {
		return nil, steward.Errorf(steward.EINVALID, "cannot make the audit key file %s: %v", file, err)
	}
	e.logger.Warn("made a new audit key next to the database; keep a copy of it away from the database, and for real protection move it where a writer of the database cannot read it (docs/audit.md)",
		"file", file, "key_id", k.ID)
	return steward.NewAuditKeys(k)
}

// readAuditKeys reads the audit key file at path. An error that wraps
// fs.ErrNotExist means there is no such file.
func (e *env) readAuditKeys(path string) (*steward.AuditKeys, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", steward.Errorf(steward.EINVALID, "the audit key file %s does not exist (steward audit keygen makes one).", path), err)
		}
		return nil, steward.Errorf(steward.EINVALID, "cannot read the audit key file: %v", err)
	}
	if info.Size() > 64<<10 {
		return nil, steward.Errorf(steward.EINVALID, "%s has %d bytes: it is not an audit key file.", path, info.Size())
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the audit key file the operator names
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "cannot read the audit key file: %v", err)
	}
	if info.Mode().Perm()&0o077 != 0 && e.logger != nil {
		e.logger.Warn("the audit key file can be read by other users; make it 0600", "file", path, "mode", info.Mode().Perm().String())
	}
	keys, err := steward.ParseAuditKeys(string(b))
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s: %s", path, steward.ErrorMessage(err))
	}
	return keys, nil
}

// sqliteFile is the file of a SQLite dsn, as sqlstore.Open reads it.
func sqliteFile(dsn string) string {
	file := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(file, '?'); i >= 0 {
		file = file[:i]
	}
	return file
}

// writeNewFile writes a file that must not exist yet, with mode perm.
func writeNewFile(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm) // #nosec G304 -- a key file the operator names; O_EXCL never overwrites
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		// A half-written key must not stay behind: the next run would
		// refuse to overwrite it. Say so when it cannot be removed.
		return errors.Join(err, f.Close(), os.Remove(path))
	}
	return f.Close()
}

// replaceFile writes path through a temporary file in its directory and a
// rename, so that a reader sees the old file or the new one, never half.
func replaceFile(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		return errors.Join(err, f.Close())
	}
	if _, err := f.Write(b); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
