package ldap_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stewardhq/steward/connector/ldap"
	"github.com/stewardhq/steward/internal/testenv"
)

// The package's tests share one real slapd, started by the first test that
// needs it through scripts/slapd.sh and stopped by TestMain; each test loads
// the organisation under a root entry of its own, so tests that change
// entries run in parallel with tests that read. This is the one piece of
// package state, kept to the tests.
var server struct {
	once sync.Once
	dir  string // holds slapd.conf, the data, tls.crt
	url  string
	err  error
	n    atomic.Int64 // numbers the test roots
}

const (
	suffix   = "dc=example,dc=test"
	adminDN  = "cn=admin," + suffix
	adminPW  = "secret"
	slapdSh  = "../../scripts/slapd.sh"
	readerPW = "reader-secret"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server.dir != "" {
		if out, err := exec.Command(slapdSh, "stop", server.dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping slapd: %v: %s\n", err, out)
		}
		os.RemoveAll(server.dir)
	}
	os.Exit(code)
}

// mustServer returns the URL of the package's slapd, starting it on first
// use, and skips the test (fails it under STEWARD_TEST_STRICT=1) when
// OpenLDAP is not installed.
func mustServer(tb testing.TB) string {
	tb.Helper()
	found := func(name, dir string) bool {
		_, err := exec.LookPath(name)
		if err != nil {
			_, err = os.Stat(filepath.Join(dir, name))
		}
		return err == nil
	}
	testenv.Require(tb, "OpenLDAP (slapd)", found("slapd", "/usr/sbin") && found("ldapadd", "/usr/bin"),
		"slapd or ldapadd not found: apt-get install slapd ldap-utils")
	server.once.Do(func() {
		if server.dir, server.err = os.MkdirTemp("", "steward-slapd-"); server.err != nil {
			return
		}
		if server.err = writeCertificate(server.dir); server.err != nil {
			return
		}
		out, err := exec.Command(slapdSh, "start", server.dir).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			server.err = fmt.Errorf("scripts/slapd.sh start: %v: %s", err, stderr)
			return
		}
		server.url = strings.TrimSpace(string(out))
	})
	if server.err != nil {
		tb.Fatalf("starting slapd: %v", server.err)
	}
	return server.url
}

// writeCertificate writes a self-signed certificate for 127.0.0.1 into dir,
// which scripts/slapd.sh then serves StartTLS with.
func writeCertificate(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "steward test slapd"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// mustAdmin returns a connection bound as the directory's admin, closed
// when the test ends.
func mustAdmin(tb testing.TB) *goldap.Conn {
	tb.Helper()
	conn, err := goldap.DialURL(mustServer(tb))
	if err != nil {
		tb.Fatalf("dialing slapd: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	if err := conn.Bind(adminDN, adminPW); err != nil {
		tb.Fatalf("binding as admin: %v", err)
	}
	return conn
}

// mustOrganisation loads testdata/people.ldif under a new root entry of its
// own and returns the root's DN.
func mustOrganisation(tb testing.TB) string {
	tb.Helper()
	conn := mustAdmin(tb)
	ou := fmt.Sprintf("t%d-%s", server.n.Add(1), ldap.Slug(tb.Name()))
	root := "ou=" + goldap.EscapeDN(ou) + "," + suffix
	add := goldap.NewAddRequest(root, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	add.Attribute("ou", []string{ou})
	if err := conn.Add(add); err != nil {
		tb.Fatalf("adding %s: %v", root, err)
	}
	for _, req := range mustReadLDIF(tb, "testdata/people.ldif", root) {
		if err := conn.Add(req); err != nil {
			tb.Fatalf("adding %s: %v", req.DN, err)
		}
	}
	return root
}

// mustReadLDIF reads the small LDIF subset the test data uses (no line
// folding, no base64), with ${ROOT} replaced.
func mustReadLDIF(tb testing.TB, path, root string) []*goldap.AddRequest {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var reqs []*goldap.AddRequest
	var cur *goldap.AddRequest
	attrs := map[string][]string{}
	var order []string
	flush := func() {
		if cur != nil {
			for _, a := range order {
				cur.Attribute(a, attrs[a])
			}
			reqs = append(reqs, cur)
		}
		cur, attrs, order = nil, map[string][]string{}, nil
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.ReplaceAll(sc.Text(), "${ROOT}", root)
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			flush()
		default:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				tb.Fatalf("%s:%d: not 'attribute: value'", path, n)
			}
			if k == "dn" {
				cur = goldap.NewAddRequest(v, nil)
				continue
			}
			if _, seen := attrs[k]; !seen {
				order = append(order, k)
			}
			attrs[k] = append(attrs[k], v)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return reqs
}

// mustPasswordFile writes a password file for a Config.
func mustPasswordFile(tb testing.TB, password string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "ldap-password")
	if err := os.WriteFile(p, []byte(password+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// testConfig is the configuration of the tests' organisation: people under
// root's ou=people, teams from the groups under ou=groups, departed by
// employeeType, leaving dates in shadowExpire. It binds as the reader
// account, which slapd allows only 10 entries per search unless it pages.
func testConfig(tb testing.TB, root string) ldap.Config {
	tb.Helper()
	return ldap.Config{
		URL:                 mustServer(tb),
		BindDN:              "uid=reader,ou=services," + root,
		PasswordFile:        mustPasswordFile(tb, readerPW),
		BaseDN:              "ou=people," + root,
		TeamFrom:            ldap.TeamFromMemberOf,
		GroupBaseDN:         "ou=groups," + root,
		StatusAttribute:     "employeeType",
		DepartedAtAttribute: "shadowExpire",
		Timeout:             10 * time.Second,
	}
}

// mustSource returns a Source over cfg.
func mustSource(tb testing.TB, cfg ldap.Config) *ldap.Source {
	tb.Helper()
	src, err := ldap.New(cfg)
	if err != nil {
		tb.Fatalf("ldap.New: %v", err)
	}
	return src
}
