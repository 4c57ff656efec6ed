package importer

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"strings"

	"github.com/stewardhq/steward"
)

// K8sServiceAccounts reads the service accounts of a Kubernetes cluster: the
// JSON of `kubectl get serviceaccounts -A -o json`, a List of ServiceAccount.
// Each is a service_account identity "system:serviceaccount:NS:NAME" (the
// user name it authenticates as) whose namespace, labels and annotations
// become labels for ownership rules. See docs/import-formats.md.
type K8sServiceAccounts struct{ in input }

// k8sServiceAccount is the part of a ServiceAccount that Steward keeps;
// other fields (imagePullSecrets, managedFields) are ignored.
type k8sServiceAccount struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		UID               string            `json:"uid"`
		CreationTimestamp string            `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels"`
		Annotations       map[string]string `json:"annotations"`
	} `json:"metadata"`
	Secrets []struct {
		Name string `json:"name"`
	} `json:"secrets"`
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
}

// maxLabels is the most labels an identity may carry (Identity.Validate).
const maxLabels = 64

// k8sSkippedAnnotations are not kept: they repeat the whole object.
const k8sLastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Read streams one identity per service account of the list.
func (s *K8sServiceAccounts) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.in.stream(ctx, s.read)
}

// read reads the List: its kind and its items, each emitted as it is read,
// then checks that it was a whole List and nothing follows.
func (s *K8sServiceAccounts) read(r io.Reader, emit func(steward.Record, error) bool) error {
	js := newJSONStream(&s.in, r)
	if err := js.expectDelim('{', `a JSON object (the output of "kubectl get serviceaccounts -A -o json")`); err != nil {
		return err
	}
	var kind string
	sawItems := false
	seen := map[string]int{} // external id → line
	for js.more() {
		t, err := js.next()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		switch key {
		case "kind":
			if kind, err = s.readKind(js); err != nil {
				return err
			}
		case "items":
			sawItems = true
			if stopped, err := s.readItems(js, seen, emit); err != nil || stopped {
				return err
			}
		default:
			if err := js.skip(); err != nil {
				return err
			}
		}
	}
	return s.end(js, kind, sawItems)
}

// readKind reads the List's kind, which must be a List of ServiceAccount.
func (s *K8sServiceAccounts) readKind(js *jsonStream) (string, error) {
	line := js.nextLine()
	t, err := js.next()
	if err != nil {
		return "", err
	}
	kind, _ := t.(string)
	if kind != "List" && kind != "ServiceAccountList" {
		return "", s.in.bad(line, "kind is %s; want a List of ServiceAccount, as kubectl get serviceaccounts -A -o json prints.", describeToken(t))
	}
	return kind, nil
}

// readItems reads the items array and emits a record or a problem for
// each item; seen holds the service accounts read so far. stopped: the
// consumer wants no more.
func (s *K8sServiceAccounts) readItems(js *jsonStream, seen map[string]int, emit func(steward.Record, error) bool) (stopped bool, err error) {
	line := js.nextLine()
	t, err := js.next()
	if err != nil {
		return false, err
	}
	if t == nil {
		return false, nil // "items": null is an empty list
	} else if d, ok := t.(json.Delim); !ok || d != '[' {
		return false, s.in.bad(line, "items is %s; want an array of ServiceAccount.", describeToken(t))
	}
	for js.more() {
		line := js.nextLine()
		rec, bad, fatal := s.item(js, line, seen)
		if fatal != nil {
			return false, fatal
		}
		if bad != nil {
			rec, bad = steward.Record{}, steward.AtPos(s.in.pos(line), bad)
		} else {
			rec.Pos = s.in.pos(line)
		}
		if !emit(rec, bad) {
			return true, nil
		}
	}
	_, err = js.next() // the closing ]
	return false, err
}

// item reads the item that starts at line and maps it: bad is a problem
// with the item, fatal one with the file. A service account listed twice
// is a problem.
func (s *K8sServiceAccounts) item(js *jsonStream, line int, seen map[string]int) (rec steward.Record, bad, fatal error) {
	var sa k8sServiceAccount
	if bad, fatal = js.decode(&sa); bad != nil || fatal != nil {
		return rec, bad, fatal
	}
	if rec, bad = s.identity(&sa); bad != nil {
		return rec, bad, nil
	}
	id := rec.Identity.ExternalID
	if first, dup := seen[id]; dup {
		return rec, steward.Errorf(steward.EINVALID, "service account %s/%s is listed twice (first at line %d).", sa.Metadata.Namespace, sa.Metadata.Name, first), nil
	}
	seen[id] = line
	return rec, nil, nil
}

// end reads the List's closing brace and checks that nothing follows and
// that the List had a kind and items.
func (s *K8sServiceAccounts) end(js *jsonStream, kind string, sawItems bool) error {
	if _, err := js.next(); err != nil { // the closing }
		return err
	}
	line := js.nextLine()
	if _, err := js.token(); err != io.EOF {
		if err != nil {
			return err
		}
		return s.in.bad(line, "unexpected data after the list; the file holds one List.")
	}
	if kind == "" {
		return s.in.bad(1, "the object has no kind; want a List of ServiceAccount, as kubectl get serviceaccounts -A -o json prints.")
	} else if !sawItems {
		return s.in.bad(1, "the List has no items.")
	}
	return nil
}

// identity maps one ServiceAccount.
func (s *K8sServiceAccounts) identity(sa *k8sServiceAccount) (steward.Record, error) {
	m := &sa.Metadata
	if sa.Kind != "ServiceAccount" {
		return steward.Record{}, steward.Errorf(steward.EINVALID, "item kind is %q; want ServiceAccount.", sa.Kind)
	} else if sa.APIVersion != "" && sa.APIVersion != "v1" {
		return steward.Record{}, steward.Errorf(steward.EINVALID, "item apiVersion is %q; ServiceAccount is v1.", sa.APIVersion)
	} else if m.Name == "" || m.Namespace == "" {
		return steward.Record{}, steward.Errorf(steward.EINVALID, "the service account needs metadata.name and metadata.namespace.")
	}
	id := &steward.SourceIdentity{
		ExternalID: "system:serviceaccount:" + m.Namespace + ":" + m.Name,
		Name:       m.Namespace + "/" + m.Name,
		Kind:       steward.KindServiceAccount,
		Labels:     k8sLabels(sa),
	}
	if m.CreationTimestamp != "" {
		t, err := parseTime(m.CreationTimestamp)
		if err != nil {
			return steward.Record{}, steward.Errorf(steward.EINVALID, "metadata.creationTimestamp: %s.", steward.ErrorMessage(err))
		} else if err := notFuture("metadata.creationTimestamp", &t, s.in.opt.Now); err != nil {
			return steward.Record{}, err
		}
		id.CreatedAt = &t
	}
	id.Environment = k8sEnvironment(sa)
	id.Owner, id.Team = k8sOwnership(sa)
	id.Links = k8sLinks(sa)
	// Before Kubernetes 1.24 every service account had a long-lived token in
	// a secret named NAME-token-XXXXX; such a token never expires, so it is
	// the credential to rotate away. Other secrets the account may mount are
	// not its credentials.
	for _, sec := range sa.Secrets {
		if strings.HasPrefix(sec.Name, m.Name+"-token-") {
			id.Credentials = append(id.Credentials, steward.SourceCredential{ExternalID: sec.Name, Kind: steward.CredToken})
		}
	}
	rec := steward.Record{Identity: id}
	if err := valid(rec); err != nil {
		return steward.Record{}, err
	}
	return rec, nil
}

// k8sLabels keeps, within the 64 labels an identity may carry and in this
// order: the namespace, whether a token is mounted when the account says,
// the account's labels as they are, then its annotations as
// "annotation:KEY", each in key order. Keys too long for Steward (over 256
// bytes) are dropped.
func k8sLabels(sa *k8sServiceAccount) map[string]string {
	labels := map[string]string{"namespace": sa.Metadata.Namespace}
	add := func(k, v string) {
		if _, taken := labels[k]; !taken && len(labels) < maxLabels && k != "" && len(k) <= 256 && labelValue(k) == k {
			labels[k] = labelValue(v)
		}
	}
	if a := sa.AutomountServiceAccountToken; a != nil {
		if *a {
			add("automount_token", "true")
		} else {
			add("automount_token", "false")
		}
	}
	for _, k := range sortedKeys(sa.Metadata.Labels) {
		add(k, sa.Metadata.Labels[k])
	}
	for _, k := range sortedKeys(sa.Metadata.Annotations) {
		if k != k8sLastApplied {
			add("annotation:"+k, sa.Metadata.Annotations[k])
		}
	}
	return labels
}

// Annotations that name the cloud identity a service account assumes.
const (
	// k8sIRSA is EKS's IAM Roles for Service Accounts: the role's ARN.
	k8sIRSA = "eks.amazonaws.com/role-arn"
	// k8sGKEWorkloadIdentity is GKE Workload Identity: the Google service
	// account's email, its external id in a gcp-sa-keys import.
	k8sGKEWorkloadIdentity = "iam.gke.io/gcp-service-account"
)

// Helm marks what it installs with these.
const (
	k8sManagedBy   = "app.kubernetes.io/managed-by"
	k8sHelmRelease = "meta.helm.sh/release-name"
)

// k8sOwnership reads the owner and team hints a service account carries,
// as the system's own tags (owner_source "source" when they name a known
// person or team):
//
//   - team: a label, else an annotation, whose key is team or ends in /team
//     (team, app.kubernetes.io/team, example.com/team); else an owner label
//     (a label value cannot hold an e-mail address: an owner label names a
//     team or a group); else, for what Helm installed, the release name
//     (releases are often named after the team that runs them).
//   - owner: an annotation whose key is owner or ends in /owner
//     (example.com/owner: ana@example.com), a person's e-mail or id.
//
// The bare key wins over prefixed ones, and prefixed ones go in key order,
// so that two reads agree. Team names are slugs: a value is lower-cased,
// and one that cannot be a team name is not a hint.
func k8sOwnership(sa *k8sServiceAccount) (owner, team string) {
	labels, annotations := sa.Metadata.Labels, sa.Metadata.Annotations
	for _, hint := range []struct {
		m    map[string]string
		name string
	}{{labels, "team"}, {annotations, "team"}, {labels, "owner"}} {
		if team = k8sHint(hint.m, hint.name, teamHint); team != "" {
			break
		}
	}
	if team == "" && strings.EqualFold(labels[k8sManagedBy], "Helm") {
		team, _ = teamHint(annotations[k8sHelmRelease])
	}
	owner = k8sHint(annotations, "owner", ownerHint)
	return owner, team
}

// k8sHint returns the first value that hint accepts of the key name, then
// of the keys ending in /name in key order.
func k8sHint(m map[string]string, name string, hint func(string) (string, bool)) string {
	keys := []string{name}
	for _, k := range sortedKeys(m) {
		if strings.HasSuffix(k, "/"+name) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if v, ok := hint(m[k]); ok {
			return v
		}
	}
	return ""
}

// teamHint takes a value that can name a team, lower-cased.
func teamHint(v string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	t := steward.Team{Name: v}
	return v, v != "" && t.Validate() == nil
}

// ownerHint takes a value that can name a person: an e-mail or an id, one
// word of at most 320 bytes.
func ownerHint(v string) (string, bool) {
	v = strings.TrimSpace(v)
	return v, v != "" && len(v) <= 320 && !strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// k8sLinks are the cloud identities a service account assumes: the IAM role
// of its IRSA annotation, the Google service account of its GKE Workload
// Identity annotation. They resolve when that role or account is in
// another system's inventory.
func k8sLinks(sa *k8sServiceAccount) []steward.SourceLink {
	var links []steward.SourceLink
	for _, key := range []string{k8sIRSA, k8sGKEWorkloadIdentity} {
		if v := strings.TrimSpace(labelValue(sa.Metadata.Annotations[key])); v != "" {
			links = append(links, steward.SourceLink{Kind: steward.LinkAssumes, To: v})
		}
	}
	return links
}

// k8sEnvironment is the stage named by a label or annotation whose key is
// environment or env (with any prefix, as in example.com/environment), or
// else by a word of the namespace ("payments-prod"); "" leaves the sync's
// default.
func k8sEnvironment(sa *k8sServiceAccount) steward.Environment {
	for _, m := range []map[string]string{sa.Metadata.Labels, sa.Metadata.Annotations} {
		for _, k := range sortedKeys(m) {
			name := k[strings.LastIndexByte(k, '/')+1:]
			if name == "environment" || name == "env" {
				if e := environmentIn(m[k]); e != "" {
					return e
				}
			}
		}
	}
	return environmentIn(sa.Metadata.Namespace)
}
