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

func (s *GCPServiceAccountKeys) read(r io.Reader, emit func(steward.Record, error) bool) error {
	js := newJSONStream(&s.in, r)
	var cur *gcpAccount
	done := map[string]int{} // email → line of its group, for accounts already yielded
	keys := map[string]int{} // key name → line
	stopped := false
	flush := func() {
		if cur == nil || stopped {
			return
		}
		a := cur
		cur = nil
		done[a.email] = a.line
		rec := steward.Record{Identity: a.identity, Pos: s.in.pos(a.line)}
		if err := valid(rec); err != nil {
			stopped = !emit(steward.Record{}, steward.AtPos(rec.Pos, err))
		} else {
			stopped = !emit(rec, nil)
		}
		for _, k := range a.keys {
			if stopped {
				return
			}
			stopped = !emit(k, nil)
		}
	}
	arrays := 0
	for !stopped {
		line := js.nextLine()
		t, err := js.token()
		if err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		switch t {
		case json.Delim('['):
		case json.Delim('{'):
			// The REST API's ListServiceAccountKeysResponse: {"keys": [...]}.
			if err := s.enterKeys(js, line); err != nil {
				return err
			}
		default:
			return s.in.bad(line, "want a JSON array of keys (the output of gcloud iam service-accounts keys list --format=json); found %s.", describeToken(t))
		}
		arrays++
		for js.dec.More() && !stopped {
			line := js.nextLine()
			var k gcpKey
			bad, fatal := js.decode(&k)
			if fatal != nil {
				return fatal
			}
			if bad == nil {
				bad = s.key(&k, line, &cur, done, keys, flush)
			}
			if bad != nil {
				stopped = !emit(steward.Record{}, steward.AtPos(s.in.pos(line), bad))
			}
		}
		if stopped {
			return nil
		}
		if _, err := js.next(); err != nil { // the closing ]
			return err
		}
		if t == json.Delim('{') {
			if err := s.leaveKeys(js); err != nil {
				return err
			}
		}
	}
	flush()
	if arrays == 0 && !stopped {
		return s.in.bad(1, "the file is empty; want a JSON array of keys (the output of gcloud iam service-accounts keys list --format=json).")
	}
	return nil
}

// enterKeys reads into {"keys": [ ... up to the array's first item; other
// fields of the response are skipped.
func (s *GCPServiceAccountKeys) enterKeys(js *jsonStream, line int) error {
	for js.dec.More() {
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
	for js.dec.More() {
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
// account when this key belongs to another.
func (s *GCPServiceAccountKeys) key(k *gcpKey, line int, cur **gcpAccount, done, seen map[string]int, flush func()) error {
	// projects/PROJECT/serviceAccounts/EMAIL/keys/KEYID
	parts := strings.Split(k.Name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "serviceAccounts" || parts[4] != "keys" ||
		parts[1] == "" || !strings.Contains(parts[3], "@") || parts[5] == "" {
		return steward.Errorf(steward.EINVALID, "name %q is not a key name such as projects/PROJECT/serviceAccounts/EMAIL/keys/KEYID.", k.Name)
	}
	project, email, keyID := parts[1], parts[3], parts[5]
	if first, dup := seen[k.Name]; dup {
		return steward.Errorf(steward.EINVALID, "key %s is listed twice (first at line %d).", keyID, first)
	}
	created, err := s.time("validAfterTime", k.ValidAfterTime, true)
	if err != nil {
		return err
	} else if err := notFuture("validAfterTime", created, s.in.opt.Now); err != nil {
		return err
	}
	expires, err := s.time("validBeforeTime", k.ValidBeforeTime, false)
	if err != nil {
		return err
	}
	if expires != nil && expires.Year() >= gcpNoExpiryYear {
		expires = nil
	} else if expires != nil && expires.Before(*created) {
		return steward.Errorf(steward.EINVALID, "validBeforeTime is before validAfterTime.")
	}
	cred := steward.SourceCredential{ExternalID: keyID, Kind: steward.CredPrivateKey, CreatedAt: created, ExpiresAt: expires}
	if k.Disabled {
		// A disabled key signs nothing, but it exists and can be enabled
		// again: it is kept as a disabled credential.
		cred.Status = steward.CredentialDisabled
	}

	if *cur == nil || (*cur).email != email {
		if first, ok := done[email]; ok {
			return steward.Errorf(steward.EINVALID, "service account %s was listed before, at line %d; list each account's keys together.", email, first)
		}
		flush()
		*cur = &gcpAccount{email: email, project: project, line: line, identity: &steward.SourceIdentity{
			ExternalID:  email,
			Name:        email,
			Kind:        steward.KindServiceAccount,
			Environment: environmentIn(project),
			Labels:      map[string]string{"project": project},
		}}
	}
	a := *cur
	if len(a.keys)+len(a.identity.Credentials) >= gcpMaxKeys {
		return steward.Errorf(steward.EINVALID, "service account %s has more than %d keys.", email, gcpMaxKeys)
	}
	switch k.KeyType {
	case "SYSTEM_MANAGED":
		// Google holds and rotates these; they are the account's own
		// credentials, not something a person can leak.
		a.identity.Credentials = append(a.identity.Credentials, cred)
	case "USER_MANAGED":
		id := &steward.SourceIdentity{
			ExternalID:  k.Name,
			Name:        email + " key " + keyID,
			Kind:        steward.KindAPIKey,
			Environment: environmentIn(project),
			Labels:      map[string]string{"parent": email, "project": project},
			CreatedAt:   created,
			Credentials: []steward.SourceCredential{cred},
		}
		for label, v := range map[string]string{"key_algorithm": k.KeyAlgorithm, "key_origin": k.KeyOrigin, "disable_reason": k.DisableReason} {
			if v != "" {
				id.Labels[label] = labelValue(v)
			}
		}
		// A disabled key cannot authenticate, nor can an expired one.
		if k.Disabled || (expires != nil && expires.Before(s.in.opt.Now)) {
			id.Status = steward.IdentityDisabled
		}
		rec := steward.Record{Identity: id, Pos: s.in.pos(line)}
		if err := valid(rec); err != nil {
			return err
		}
		a.keys = append(a.keys, rec)
	default:
		return steward.Errorf(steward.EINVALID, "keyType %q is not USER_MANAGED or SYSTEM_MANAGED.", k.KeyType)
	}
	seen[k.Name] = line
	return nil
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
