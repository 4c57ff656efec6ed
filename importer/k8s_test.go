package importer

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

func TestK8sServiceAccounts(t *testing.T) {
	t.Parallel()
	src := MustOpen(t, FormatK8sServiceAccounts, fixtures[FormatK8sServiceAccounts])
	connectortest.CheckSource(t, src, steward.EnvDev)
	recs, errs := collect(t, src)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	checkGolden(t, FormatK8sServiceAccounts, recs)
	ids := byID(recs)
	if len(ids) != 7 {
		t.Fatalf("got %d identities, want 7", len(ids))
	}
	pos := map[string]string{}
	for _, r := range recs {
		pos[r.Identity.ExternalID] = r.Pos
	}
	for _, tc := range []struct {
		name  string
		id    string
		check func(*steward.SourceIdentity) bool
		pos   int // the line of the item's opening brace
	}{
		{"default account", "system:serviceaccount:default:default", func(id *steward.SourceIdentity) bool {
			return id.Kind == steward.KindServiceAccount && id.Name == "default/default" && id.Environment == "" &&
				id.CreatedAt.Equal(time.Date(2024, 1, 15, 10, 22, 31, 0, time.UTC)) && len(id.Labels) == 1 && id.Labels["namespace"] == "default"
		}, 4},
		{"labels as they are, annotations prefixed, last-applied skipped", "system:serviceaccount:payments-prod:payments-api", func(id *steward.SourceIdentity) bool {
			_, lastApplied := id.Labels["annotation:"+k8sLastApplied]
			return id.Labels["team"] == "payments" && id.Labels["app.kubernetes.io/name"] == "payments-api" &&
				id.Labels["annotation:owner"] == "ana@example.com" && !lastApplied && id.Environment == steward.EnvProd
		}, 30},
		{"environment from the namespace", "system:serviceaccount:payments-staging:payments-api", func(id *steward.SourceIdentity) bool {
			return id.Environment == steward.EnvStaging
		}, 50},
		{"environment label wins; legacy token is a credential; newlines flattened", "system:serviceaccount:data:etl-runner", func(id *steward.SourceIdentity) bool {
			return id.Environment == steward.EnvProd && len(id.Credentials) == 1 && id.Credentials[0].ExternalID == "etl-runner-token-x7k2p" &&
				id.Credentials[0].Kind == steward.CredToken && id.Labels["automount_token"] == "false" &&
				id.Labels["annotation:description"] == "Runs the nightly ETL. Pages data-oncall on failure."
		}, 68},
		{"env label", "system:serviceaccount:ci:gitlab-runner", func(id *steward.SourceIdentity) bool {
			return id.Environment == steward.EnvDev && len(id.Credentials) == 0
		}, 95},
		{"long annotation cut to 1024 bytes", "system:serviceaccount:monitoring:prometheus", func(id *steward.SourceIdentity) bool {
			return len(id.Labels["annotation:example.com/scrape-notes"]) == 1024 && id.Labels["automount_token"] == "true"
		}, 119},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := ids[tc.id]
			if id == nil {
				t.Fatalf("%s missing", tc.id)
			}
			if !tc.check(id) {
				t.Errorf("%s: %+v", tc.id, id)
			}
			if want := fixtures[FormatK8sServiceAccounts] + ":" + strconv.Itoa(tc.pos); pos[tc.id] != want {
				t.Errorf("%s at %s, want %s", tc.id, pos[tc.id], want)
			}
		})
	}
}

func TestK8sServiceAccountsBadInput(t *testing.T) {
	t.Parallel()
	item := func(ns, name, extra string) string {
		return `        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "creationTimestamp": "2024-01-15T10:22:31Z",` + extra + `
                "name": "` + name + `",
                "namespace": "` + ns + `"
            }
        }`
	}
	list := func(items ...string) string {
		return "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n" + strings.Join(items, ",\n") + "\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
	}
	t.Run("bad items are each reported and the rest is read", func(t *testing.T) {
		t.Parallel()
		input := list(
			item("a", "ok", ""), // line 4
			item("a", "labels-number", "\n                \"labels\": {\"team\": 7},"), // 13
			item("", "no-namespace", ""), // 23
			strings.Replace(item("a", "wrong-kind", ""), `"ServiceAccount"`, `"Secret"`, 1),    // 32
			strings.Replace(item("a", "bad-time", ""), "2024-01-15T10:22:31Z", "yesterday", 1), // 41
			item("a", "ok", ""), // 50: twice
			strings.Replace(item("a", "future", ""), "2024-01-15", "2030-01-15", 1), // 59
			item("b", "ok", ""), // 68
		)
		src := MustSource(t, FormatK8sServiceAccounts, input)
		want := []string{"input:13", "input:23", "input:32", "input:41", "input:50", "input:59"}
		connectortest.CheckBadInput(t, src, want...)
		recs, errs := collect(t, src)
		mustBeInvalid(t, errs, want...)
		if len(recs) != 2 || recs[0].Pos != "input:4" || recs[1].Pos != "input:68" {
			t.Errorf("records %+v, want a/ok at 4 and b/ok at 68", recs)
		}
		for i, w := range []string{"metadata.labels is a JSON number; want a string", "metadata.namespace", `"Secret"`, "creationTimestamp", "listed twice (first at line 4)", "future"} {
			if !strings.Contains(steward.ErrorMessage(errs[i]), w) {
				t.Errorf("error %q does not say %q", steward.ErrorMessage(errs[i]), w)
			}
		}
	})
	for _, tc := range []struct {
		name, input, pos, want string
		records                int
	}{
		{"empty", "", "input:1", "ends where a JSON object", 0},
		{"not JSON", "NAME   SECRETS   AGE\ndefault   0   12d\n", "input:1", "not valid JSON", 0},
		{"an array", "[]\n", "input:1", "want a JSON object", 0},
		{"wrong kind first", "{\n  \"kind\": \"PodList\",\n  \"items\": []\n}\n", "input:2", `kind is the string "PodList"`, 0},
		{"wrong kind after the items", strings.Replace(list(item("a", "x", "")), `"List"`, `"SecretList"`, 1), "input:14", "SecretList", 1},
		{"a single ServiceAccount", "{\"apiVersion\": \"v1\", \"kind\": \"ServiceAccount\", \"metadata\": {\"name\": \"x\", \"namespace\": \"y\"}}", "input:1", "want a List", 0},
		{"no items", "{\"kind\": \"List\"}", "input:1", "no items", 0},
		{"a number too large for a float as kind", "{\"apiVersion\": 1e999, \"kind\": 2e400}", "input:1", "kind is the number 2e400", 0},
		{"cut short", list(item("a", "x", ""), item("a", "y", ""))[:300], "input:", "cut short", 1},
		{"syntax error in an item", list(item("a", "x", ""), strings.Replace(item("a", "y", ""), `"name":`, `"name"`, 1)), "input:18", "not valid JSON", 1},
		{"two lists", list(item("a", "x", "")) + list(), "input:19", "one List", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs, errs := collect(t, MustSource(t, FormatK8sServiceAccounts, tc.input))
			if len(recs) != tc.records {
				t.Errorf("got %d records, want %d", len(recs), tc.records)
			}
			if len(errs) != 1 || steward.ErrorCode(errs[0]) != steward.EINVALID {
				t.Fatalf("got errors %v, want one EINVALID", errs)
			}
			if msg := steward.ErrorMessage(errs[0]); !strings.HasPrefix(msg, tc.pos) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want at %s saying %q", msg, tc.pos, tc.want)
			}
		})
	}
}

// TestK8sOwnershipHints: team labels, owner annotations and Helm releases
// become the owner and team hints of a service account (the system's own
// tags, as the AWS and GCP importers' are), and the IRSA and GKE Workload
// Identity annotations become links to the cloud identity it assumes.
func TestK8sOwnershipHints(t *testing.T) {
	t.Parallel()
	sa := func(labels, annotations string) string {
		return `{"kind": "List", "items": [{"kind": "ServiceAccount", "metadata": {"name": "api", "namespace": "payments",
			"labels": {` + labels + `}, "annotations": {` + annotations + `}}}]}`
	}
	for _, tc := range []struct {
		name, labels, annotations string
		owner, team               string
		links                     []string
	}{
		{"nothing", ``, ``, "", "", nil},
		{"team label", `"team": "payments"`, ``, "", "payments", nil},
		{"app.kubernetes.io/team", `"app.kubernetes.io/team": "Payments"`, ``, "", "payments", nil},
		{"bare key wins", `"example.com/team": "billing", "team": "payments"`, ``, "", "payments", nil},
		{"prefixed keys in key order", `"z.example/team": "zeta", "a.example/team": "alpha"`, ``, "", "alpha", nil},
		{"label beats annotation", `"team": "payments"`, `"team": "billing"`, "", "payments", nil},
		{"team annotation", ``, `"example.com/team": "billing"`, "", "billing", nil},
		{"owner label names a team", `"owner": "platform"`, ``, "", "platform", nil},
		{"team label beats owner label", `"owner": "platform", "team": "payments"`, ``, "", "payments", nil},
		{"not a team name", `"team": "Payments Team!"`, ``, "", "", nil},
		{"owner annotation", ``, `"owner": "ana@example.com"`, "ana@example.com", "", nil},
		{"prefixed owner annotation", ``, `"example.com/owner": "ana"`, "ana", "", nil},
		{"owner that cannot be a person", ``, `"owner": "the payments team"`, "", "", nil},
		{"helm release", `"app.kubernetes.io/managed-by": "Helm"`, `"meta.helm.sh/release-name": "checkout"`, "", "checkout", nil},
		{"helm release, team label wins", `"app.kubernetes.io/managed-by": "Helm", "team": "payments"`, `"meta.helm.sh/release-name": "checkout"`, "", "payments", nil},
		{"release name without Helm", ``, `"meta.helm.sh/release-name": "checkout"`, "", "", nil},
		{"IRSA", ``, `"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/payments-api"`, "", "", []string{"arn:aws:iam::123456789012:role/payments-api"}},
		{"GKE workload identity", ``, `"iam.gke.io/gcp-service-account": "api@acme-prod.iam.gserviceaccount.com"`, "", "", []string{"api@acme-prod.iam.gserviceaccount.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs, errs := collect(t, MustSource(t, FormatK8sServiceAccounts, sa(tc.labels, tc.annotations)))
			if len(errs) != 0 || len(recs) != 1 {
				t.Fatalf("got %+v, %v", recs, errs)
			}
			id := recs[0].Identity
			var links []string
			for _, l := range id.Links {
				if l.Kind != steward.LinkAssumes {
					t.Errorf("link kind %q", l.Kind)
				}
				links = append(links, l.To)
			}
			if id.Owner != tc.owner || id.Team != tc.team || strings.Join(links, " ") != strings.Join(tc.links, " ") {
				t.Errorf("owner %q, team %q, links %v; want %q, %q, %v", id.Owner, id.Team, links, tc.owner, tc.team, tc.links)
			}
		})
	}
}
