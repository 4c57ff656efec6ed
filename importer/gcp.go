package importer

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// GCPServiceAccountKeys reads the keys of Google Cloud service accounts: the
// JSON array of `gcloud iam service-accounts keys list --iam-account=SA
// --format=json`, or several such arrays one after another (a shell loop over
// accounts appending to one file), or the REST API's {"keys": [...]}.
//
// Each service account is a service_account identity named by its email,
// carrying its Google-managed (SYSTEM_MANAGED) keys as credentials (a
// disabled key as a disabled credential). Each
// user-managed key is an api_key identity of its own: it is a private key
// that someone downloaded, so it can leak and must be rotated and owned.
// See docs/import-formats.md.
type GCPServiceAccountKeys struct{ in input }

// gcpKey is one key as gcloud prints it; other fields are ignored.
type gcpKey struct {
	Name            string `json:"name"` // projects/P/serviceAccounts/EMAIL/keys/KEYID
	ValidAfterTime  string `json:"validAfterTime"`
	ValidBeforeTime string `json:"validBeforeTime"`
	KeyAlgorithm    string `json:"keyAlgorithm"`
	KeyOrigin       string `json:"keyOrigin"`
	KeyType         string `json:"keyType"`
	Disabled        bool   `json:"disabled"`
	DisableReason   string `json:"disableReason"`
}

// gcpNoExpiry is the validBeforeTime of a key that does not expire.
const gcpNoExpiryYear = 9999

// gcpMaxKeys bounds the keys of one account held while its group is read;
// Google allows 10 user-managed keys per account.
const gcpMaxKeys = 1000

// gcpAccount gathers the keys of one service account, which gcloud lists
// together, so that the account is yielded once with all its credentials.
type gcpAccount struct {
	email, project string
	line           int
	identity       *steward.SourceIdentity
	keys           []steward.Record
}

// Read streams each service account, followed by its user-managed keys.
func (s *GCPServiceAccountKeys) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.in.stream(ctx, s.read)
}

// read reads one array of keys after another (or the REST API's object
// around one), gathering each account's keys (gcpRead), until the input
// ends or the consumer wants no more.
func (s *GCPServiceAccountKeys) read(r io.Reader, emit func(steward.Record, error) bool) error {
	g := &gcpRead{s: s, js: newJSONStream(&s.in, r), emit: emit, done: map[string]int{}, seen: map[string]int{}}
	arrays := 0
	for !g.stopped {
		line := g.js.nextLine()
		t, err := g.js.token()
		if err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		arrays++
		if err := g.array(t, line); err != nil {
			return err
		}
	}
	if g.stopped {
		return nil
	}
	g.flush()
	if arrays == 0 && !g.stopped {
		return s.in.bad(1, "the file is empty; want a JSON array of keys (the output of gcloud iam service-accounts keys list --format=json).")
	}
	return nil
}

// gcpRead is one read of GCPServiceAccountKeys: the account whose keys are
// being gathered, and what was read before it.
type gcpRead struct {
	s       *GCPServiceAccountKeys
	js      *jsonStream
	emit    func(steward.Record, error) bool
	cur     *gcpAccount    // the account being gathered
	done    map[string]int // email → line of its group, for accounts already yielded
	seen    map[string]int // key name → line
	stopped bool           // the consumer wants no more
}

// array reads one array of keys, which began with t at line: a bare array,
// or the REST API's {"keys": [...]}.
func (g *gcpRead) array(t json.Token, line int) error {
	switch t {
	case json.Delim('['):
	case json.Delim('{'):
		// The REST API's ListServiceAccountKeysResponse: {"keys": [...]}.
		if err := g.s.enterKeys(g.js, line); err != nil {
			return err
		}
	default:
		return g.s.in.bad(line, "want a JSON array of keys (the output of gcloud iam service-accounts keys list --format=json); found %s.", describeToken(t))
	}
	for g.js.more() && !g.stopped {
		line := g.js.nextLine()
		var k gcpKey
		bad, fatal := g.js.decode(&k)
		if fatal != nil {
			return fatal
		}
		if bad == nil {
			bad = g.key(&k, line)
		}
		if bad != nil {
			g.stopped = !g.emit(steward.Record{}, steward.AtPos(g.s.in.pos(line), bad))
		}
	}
	if g.stopped {
		return nil
	}
	if _, err := g.js.next(); err != nil { // the closing ]
		return err
	}
	if t == json.Delim('{') {
		return g.s.leaveKeys(g.js)
	}
	return nil
}

// flush yields the account being gathered, then its user-managed keys.
func (g *gcpRead) flush() {
	if g.cur == nil || g.stopped {
		return
	}
	a := g.cur
	g.cur = nil
	g.done[a.email] = a.line
	rec := steward.Record{Identity: a.identity, Pos: g.s.in.pos(a.line)}
	if err := valid(rec); err != nil {
		g.stopped = !g.emit(steward.Record{}, steward.AtPos(rec.Pos, err))
	} else {
		g.stopped = !g.emit(rec, nil)
	}
	for _, k := range a.keys {
		if g.stopped {
			return
		}
		g.stopped = !g.emit(k, nil)
	}
}

// enterKeys reads into {"keys": [ ... up to the array's first item; other
// fields of the response are skipped.
func (s *GCPServiceAccountKeys) enterKeys(js *jsonStream, line int) error {
	for js.more() {
		t, err := js.next()
		if err != nil {
			return err
		}
		if t == "keys" {
			return js.expectDelim('[', "the array of keys")
		}
		if err := js.skip(); err != nil {
			return err
		}
	}
	return s.in.bad(line, "the object has no keys array; want the output of gcloud iam service-accounts keys list --format=json.")
}

// leaveKeys reads past the rest of {"keys": [...], ...}.
func (s *GCPServiceAccountKeys) leaveKeys(js *jsonStream) error {
	for js.more() {
		if _, err := js.next(); err != nil {
			return err
		}
		if err := js.skip(); err != nil {
			return err
		}
	}
	_, err := js.next() // the closing }
	return err
}

// key maps one key onto the account being gathered, flushing the previous
// account when this key belongs to another: a Google-managed key is one of
// the account's credentials, a user-managed one an identity of its own.
func (g *gcpRead) key(k *gcpKey, line int) error {
	p, err := g.s.parseKey(k, g.seen)
	if err != nil {
		return err
	}
	a, err := g.account(p.email, p.project, line)
	if err != nil {
		return err
	}
	if len(a.keys)+len(a.identity.Credentials) >= gcpMaxKeys {
		return steward.Errorf(steward.EINVALID, "service account %s has more than %d keys.", p.email, gcpMaxKeys)
	}
	switch k.KeyType {
	case "SYSTEM_MANAGED":
		// Google holds and rotates these; they are the account's own
		// credentials, not something a person can leak.
		a.identity.Credentials = append(a.identity.Credentials, p.cred)
	case "USER_MANAGED":
		rec := g.s.userKey(k, &p, line)
		if err := valid(rec); err != nil {
			return err
		}
		a.keys = append(a.keys, rec)
	default:
		return steward.Errorf(steward.EINVALID, "keyType %q is not USER_MANAGED or SYSTEM_MANAGED.", k.KeyType)
	}
	g.seen[k.Name] = line
	return nil
}

// gcpKeyParts is what a key's fields say, checked.
type gcpKeyParts struct {
	project, email, keyID string
	created, expires      *time.Time // expires: nil when the key does not expire
	cred                  steward.SourceCredential
}

// parseKey checks a key's name and times (seen: the keys read so far) and
// makes its credential.
func (s *GCPServiceAccountKeys) parseKey(k *gcpKey, seen map[string]int) (gcpKeyParts, error) {
	var p gcpKeyParts
	// projects/PROJECT/serviceAccounts/EMAIL/keys/KEYID
	parts := strings.Split(k.Name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "serviceAccounts" || parts[4] != "keys" ||
		parts[1] == "" || !strings.Contains(parts[3], "@") || parts[5] == "" {
		return p, steward.Errorf(steward.EINVALID, "name %q is not a key name such as projects/PROJECT/serviceAccounts/EMAIL/keys/KEYID.", k.Name)
	}
	p.project, p.email, p.keyID = parts[1], parts[3], parts[5]
	if first, dup := seen[k.Name]; dup {
		return p, steward.Errorf(steward.EINVALID, "key %s is listed twice (first at line %d).", p.keyID, first)
	}
	var err error
	if p.created, err = s.time("validAfterTime", k.ValidAfterTime, true); err != nil {
		return p, err
	} else if err := notFuture("validAfterTime", p.created, s.in.opt.Now); err != nil {
		return p, err
	}
	if p.expires, err = s.time("validBeforeTime", k.ValidBeforeTime, false); err != nil {
		return p, err
	}
	if p.expires != nil && p.expires.Year() >= gcpNoExpiryYear {
		p.expires = nil
	} else if p.expires != nil && p.expires.Before(*p.created) {
		return p, steward.Errorf(steward.EINVALID, "validBeforeTime is before validAfterTime.")
	}
	p.cred = steward.SourceCredential{ExternalID: p.keyID, Kind: steward.CredPrivateKey, CreatedAt: p.created, ExpiresAt: p.expires}
	if k.Disabled {
		// A disabled key signs nothing, but it exists and can be enabled
		// again: it is kept as a disabled credential.
		p.cred.Status = steward.CredentialDisabled
	}
	return p, nil
}

// account returns the account being gathered, starting email's (and
// flushing the one before) when the key at line belongs to another. An
// account's keys must be listed together.
func (g *gcpRead) account(email, project string, line int) (*gcpAccount, error) {
	if g.cur != nil && g.cur.email == email {
		return g.cur, nil
	}
	if first, ok := g.done[email]; ok {
		return nil, steward.Errorf(steward.EINVALID, "service account %s was listed before, at line %d; list each account's keys together.", email, first)
	}
	g.flush()
	g.cur = &gcpAccount{email: email, project: project, line: line, identity: &steward.SourceIdentity{
		ExternalID:  email,
		Name:        email,
		Kind:        steward.KindServiceAccount,
		Environment: environmentIn(project),
		Labels:      map[string]string{"project": project},
	}}
	return g.cur, nil
}

// userKey is a user-managed key as an api_key identity of its own, with
// the key as its credential.
func (s *GCPServiceAccountKeys) userKey(k *gcpKey, p *gcpKeyParts, line int) steward.Record {
	id := &steward.SourceIdentity{
		ExternalID:  k.Name,
		Name:        p.email + " key " + p.keyID,
		Kind:        steward.KindAPIKey,
		Environment: environmentIn(p.project),
		Labels:      map[string]string{"parent": p.email, "project": p.project},
		CreatedAt:   p.created,
		Credentials: []steward.SourceCredential{p.cred},
	}
	for label, v := range map[string]string{"key_algorithm": k.KeyAlgorithm, "key_origin": k.KeyOrigin, "disable_reason": k.DisableReason} {
		if v != "" {
			id.Labels[label] = labelValue(v)
		}
	}
	// A disabled key cannot authenticate, nor can an expired one.
	if k.Disabled || (p.expires != nil && p.expires.Before(s.in.opt.Now)) {
		id.Status = steward.IdentityDisabled
	}
	return steward.Record{Identity: id, Pos: s.in.pos(line)}
}

// time reads a key's time field.
func (s *GCPServiceAccountKeys) time(field, v string, required bool) (*time.Time, error) {
	if v == "" {
		if required {
			return nil, steward.Errorf(steward.EINVALID, "%s is missing.", field)
		}
		return nil, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s: %s.", field, steward.ErrorMessage(err))
	}
	return &t, nil
}
