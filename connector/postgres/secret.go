package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stewardhq/steward"
)

// passwordAlphabet holds only letters and digits, so that a password
// survives shells, connection strings and YAML without quoting.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" // #nosec G101 -- the alphabet new passwords are drawn from, not a password

// newPassword draws n characters of passwordAlphabet from rnd with
// rejection sampling, so that every character is equally likely.
func newPassword(rnd io.Reader, n int) (string, error) {
	const limit = 256 - 256%len(passwordAlphabet) // bytes at or above are rejected
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("postgres: drawing a password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for a
// password (RFC 5802, RFC 7677), the way psql's \password does: the server
// then receives only the verifier, so that no log_statement setting and no
// pg_stat_statements entry ever holds the password. password must need no
// SASLprep normalisation (ASCII letters and digits do not).
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("postgres: deriving the SCRAM key: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server)), nil
}

// checkSinkDir refuses a rotation directory that others could read or that
// belongs to another user: a password written there would leak.
func checkSinkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", steward.Errorf(steward.EINVALID, "postgres: rotation_sink directory %s cannot be used: it does not exist or is not readable.", dir), err)
	}
	if !fi.IsDir() {
		return steward.Errorf(steward.EINVALID, "postgres: rotation_sink %s is not a directory.", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return steward.Errorf(steward.EINVALID, "postgres: rotation_sink directory %s has mode %04o; make it 0700 or stricter (chmod 700), since it will hold passwords.", dir, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return steward.Errorf(steward.EINVALID, "postgres: rotation_sink directory %s belongs to uid %d, not to the user Steward runs as (uid %d).", dir, st.Uid, os.Geteuid())
	}
	return nil
}

// sinkFileName turns a role name into a file name: bytes outside
// [A-Za-z0-9_.-], and a leading '.', become %XX, so that no role name can
// climb out of the directory or hide its file.
func sinkFileName(role string) string {
	var b strings.Builder
	for i := 0; i < len(role); i++ {
		c := role[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' && i > 0
		if ok {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// writeSinkTemp writes password to a new file of mode 0600 beside final,
// synced to disk, and returns its name. The caller renames it over final
// once the password is in effect, or removes it if it is not.
func writeSinkTemp(final, password string) (string, error) {
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", fmt.Errorf("postgres: naming a temporary file: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp-"+hex.EncodeToString(suffix[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- beside the password file the operator configured (password_sink), with a random name
	if err != nil {
		return "", fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: cannot write to the rotation sink %s.", filepath.Dir(final)), err)
	}
	err = f.Chmod(0o600) // whatever the umask did
	if err == nil {
		_, err = f.WriteString(password)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%w: %w", steward.Errorf(steward.EUNAVAILABLE, "postgres: cannot write to the rotation sink %s.", filepath.Dir(final)), err)
	}
	return tmp, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the directory of the configured password file, opened to sync a rename
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
