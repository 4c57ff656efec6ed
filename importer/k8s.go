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

func (s *K8sServiceAccounts) read(r io.Reader, emit func(steward.Record, error) bool) error {
	js := newJSONStream(&s.in, r)
	if err := js.expectDelim('{', `a JSON object (the output of "kubectl get serviceaccounts -A -o json")`); err != nil {
		return err
	}
	var kind string
	sawItems := false
	seen := map[string]int{} // external id → line
	for js.dec.More() {
		t, err := js.next()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		switch key {
		case "kind":
			line := js.nextLine()
			t, err := js.next()
			if err != nil {
				return err
			}
			kind, _ = t.(string)
			if kind != "List" && kind != "ServiceAccountList" {
				return s.in.bad(line, "kind is %s; want a List of ServiceAccount, as kubectl get serviceaccounts -A -o json prints.", describeToken(t))
			}
		case "items":
			sawItems = true
			line := js.nextLine()
			t, err := js.next()
			if err != nil {
				return err
			}
			if t == nil {
				continue // "items": null is an empty list
			} else if d, ok := t.(json.Delim); !ok || d != '[' {
				return s.in.bad(line, "items is %s; want an array of ServiceAccount.", describeToken(t))
			}
			for js.dec.More() {
				line := js.nextLine()
				var sa k8sServiceAccount
				bad, fatal := js.decode(&sa)
				if fatal != nil {
					return fatal
				}
				var rec steward.Record
				if bad == nil {
					rec, bad = s.identity(&sa)
				}
				if bad == nil {
					id := rec.Identity.ExternalID
					if first, dup := seen[id]; dup {
						bad = steward.Errorf(steward.EINVALID, "service account %s/%s is listed twice (first at line %d).", sa.Metadata.Namespace, sa.Metadata.Name, first)
					} else {
						seen[id] = line
					}
				}
				if bad != nil {
					if !emit(steward.Record{}, steward.AtPos(s.in.pos(line), bad)) {
						return nil
					}
					continue
				}
				rec.Pos = s.in.pos(line)
				if !emit(rec, nil) {
					return nil
				}
			}
			if _, err := js.next(); err != nil { // the closing ]
				return err
			}
		default:
			if err := js.skip(); err != nil {
				return err
			}
		}
	}
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
