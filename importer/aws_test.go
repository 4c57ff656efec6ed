package importer

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

const awsHeaderLine = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

func TestAWSCredentialReport(t *testing.T) {
	t.Parallel()
	src := MustOpen(t, FormatAWSCredentialReport, fixtures[FormatAWSCredentialReport])
	connectortest.CheckSource(t, src, steward.EnvProd)
	recs, errs := collect(t, src)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	checkGolden(t, FormatAWSCredentialReport, recs)
	ids := byID(recs)
	const acct = "arn:aws:iam::123456789012:"

	t.Run("every user is a service account, every key an api key", func(t *testing.T) {
		users, keys, disabled := 0, 0, 0
		for _, id := range ids {
			switch id.Kind {
			case steward.KindServiceAccount:
				users++
			case steward.KindAPIKey:
				keys++
				if id.Status == steward.IdentityDisabled {
					disabled++
					if c := id.Credentials[0]; c.Status != steward.CredentialDisabled {
						t.Errorf("%s is an Inactive key, but its credential is %q", id.ExternalID, c.Status)
					}
				} else if c := id.Credentials[0]; c.Status == steward.CredentialDisabled {
					t.Errorf("%s is an Active key, but its credential is disabled", id.ExternalID)
				}
			default:
				t.Errorf("%s has kind %s", id.ExternalID, id.Kind)
			}
		}
		// 10 users; active keys: root 1, ci-deploy 1, terraform 2,
		// legacy-batch 1, metrics-exporter 1, backup-agent 1 (slot 2);
		// Inactive keys: ci-deploy 1 (slot 2), old-etl 2, backup-agent 1
		// (slot 1). The other slots hold no key.
		if users != 10 || keys != 11 || disabled != 4 {
			t.Errorf("got %d users and %d keys, %d of them disabled; want 10, 11 and 4", users, keys, disabled)
		}
	})
	t.Run("root is critical, and so is its key", func(t *testing.T) {
		root, key := ids[acct+"root"], ids[acct+"root#access_key_1"]
		if root == nil || key == nil {
			t.Fatal("root or its key missing")
		}
		if root.Criticality != steward.LevelCritical || key.Criticality != steward.LevelCritical || root.Labels["root"] != "true" {
			t.Errorf("root %+v key %+v", root, key)
		}
		if len(root.Credentials) != 0 {
			t.Errorf("root has credentials %+v; its password is not_supported in the report", root.Credentials)
		}
	})
	t.Run("key carries its dates", func(t *testing.T) {
		k := ids[acct+"user/ci/ci-deploy#access_key_1"]
		if k == nil {
			t.Fatal("ci-deploy key 1 missing")
		}
		rotated := time.Date(2024, 11, 12, 14, 3, 27, 0, time.UTC)
		used := time.Date(2025, 5, 31, 23, 10, 0, 0, time.UTC)
		c := k.Credentials[0]
		if k.Name != "ci-deploy access key 1" || !k.CreatedAt.Equal(rotated) || !k.LastUsedAt.Equal(used) ||
			c.Kind != steward.CredAccessKey || !c.CreatedAt.Equal(rotated) || !c.LastUsedAt.Equal(used) ||
			k.Labels["parent"] != acct+"user/ci/ci-deploy" || k.Labels["last_used_service"] != "sts" {
			t.Errorf("key %+v credential %+v", k, c)
		}
		// The Inactive key 2 is kept, disabled, with its dates: not dropped,
		// and not a live key.
		k2 := ids[acct+"user/ci/ci-deploy#access_key_2"]
		if k2 == nil || k2.Status != steward.IdentityDisabled || len(k2.Credentials) != 1 ||
			k2.Credentials[0].Status != steward.CredentialDisabled || k2.Credentials[0].ExpiresAt != nil ||
			!k2.Credentials[0].CreatedAt.Equal(time.Date(2021, 6, 1, 8, 5, 0, 0, time.UTC)) {
			t.Errorf("the Inactive key 2: %+v", k2)
		}
	})
	t.Run("a key never used has no last use", func(t *testing.T) {
		k := ids[acct+"user/legacy-batch#access_key_1"]
		if k == nil || k.LastUsedAt != nil || k.Credentials[0].LastUsedAt != nil || k.Labels["last_used_region"] != "" {
			t.Errorf("legacy-batch key %+v", k)
		}
	})
	t.Run("console user with no_information", func(t *testing.T) {
		bob := ids[acct+"user/bob"]
		if bob == nil || bob.Labels["console"] != "true" || bob.LastUsedAt != nil || len(bob.Credentials) != 1 ||
			bob.Credentials[0].Kind != steward.CredPassword || bob.Credentials[0].LastUsedAt != nil {
			t.Errorf("bob %+v", bob)
		}
	})
	t.Run("user last use is the latest of password and keys", func(t *testing.T) {
		tf := ids[acct+"user/terraform"]
		if want := time.Date(2025, 5, 29, 11, 0, 0, 0, time.UTC); tf == nil || !tf.LastUsedAt.Equal(want) {
			t.Errorf("terraform %+v, want last used %v", tf, want)
		}
	})
	t.Run("active certificate is a credential of the user", func(t *testing.T) {
		m := ids[acct+"user/svc/metrics-exporter"]
		if m == nil || len(m.Credentials) != 1 || m.Credentials[0].Kind != steward.CredCertificate || m.Credentials[0].ExternalID != "cert_1" {
			t.Errorf("metrics-exporter %+v", m)
		}
	})
	t.Run("positions name the row", func(t *testing.T) {
		for _, r := range recs {
			if r.Identity.ExternalID == acct+"user/backup-agent#access_key_2" && r.Pos != fixtures[FormatAWSCredentialReport]+":11" {
				t.Errorf("backup-agent key at %s", r.Pos)
			}
		}
	})
}

func TestAWSCredentialReportBadInput(t *testing.T) {
	t.Parallel()
	good := "alice,arn:aws:iam::123456789012:user/alice,2020-01-10T12:00:00+00:00,true,N/A,2020-01-10T12:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
	row := func(replace ...string) string { return strings.NewReplacer(replace...).Replace(good) }
	t.Run("bad rows are each reported and the rest is read", func(t *testing.T) {
		t.Parallel()
		input := strings.Join([]string{
			awsHeaderLine,
			good, // 2
			row("2020-01-10T12:00:00+00:00,true,N/A", "10/01/2020,true,N/A", "user/alice", "user/a3"), // 3: not ISO 8601
			row(",true,N/A,2020", ",yes,N/A,2020", "user/alice", "user/a4"),                           // 4: not a boolean
			"shorty,arn:aws:iam::123456789012:user/shorty,2020-01-10T12:00:00+00:00",                  // 5: too few fields
			row("arn:aws:iam::123456789012:user/alice", "not-an-arn"),                                 // 6
			good, // 7: listed twice
			row("user/alice", "user/a8", "false,N/A,N/A,N/A,N/A,false", "true,2020-01-11T00:00:00+00:00,2031-01-01T00:00:00+00:00,us-east-1,s3,false"), // 8: used in the future
			row("user/alice", "user/a9", "2020-01-10T12:00:00+00:00,true", "2031-01-10T12:00:00+00:00,true"),                                           // 9: created in the future
			`"unterminated,quote` + good[5:], // 10
		}, "\n") + "\n"
		src := MustSource(t, FormatAWSCredentialReport, input)
		connectortest.CheckBadInput(t, src, "input:3", "input:4", "input:5", "input:6", "input:7", "input:8", "input:9", "input:10")
		recs, errs := collect(t, src)
		if len(recs) != 1 || recs[0].Pos != "input:2" {
			t.Errorf("records %+v, want alice of line 2 only", recs)
		}
		mustBeInvalid(t, errs, "input:3", "input:4", "input:5", "input:6", "input:7", "input:8", "input:9", "input:10")
		for i, want := range []string{"user_creation_time", "password_enabled", "different number of fields", "arn", "listed twice (first at line 2)", "access_key_1_last_used_date", "user_creation_time", "quote"} {
			if !strings.Contains(steward.ErrorMessage(errs[i]), want) {
				t.Errorf("error %q does not mention %q", steward.ErrorMessage(errs[i]), want)
			}
		}
	})
	t.Run("a key last used before its last change is read", func(t *testing.T) {
		t.Parallel()
		// AWS: last_rotated is when the key "was created or last changed".
		input := awsHeaderLine + "\n" + row("false,N/A,N/A,N/A,N/A,false", "true,2021-01-01T00:00:00+00:00,2020-06-01T00:00:00+00:00,us-east-1,s3,false") + "\n"
		recs, errs := collect(t, MustSource(t, FormatAWSCredentialReport, input))
		if len(errs) != 0 || len(recs) != 2 {
			t.Fatalf("records %+v, errors %v; want alice and her key", recs, errs)
		}
		k := recs[1].Identity
		used := time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
		changed := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
		if k.Kind != steward.KindAPIKey || k.CreatedAt != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(used) ||
			k.Labels["changed_after_last_use"] != "true" || len(k.Credentials) != 1 ||
			k.Credentials[0].CreatedAt == nil || !k.Credentials[0].CreatedAt.Equal(changed) || !k.Credentials[0].LastUsedAt.Equal(used) {
			t.Fatalf("key = %+v, credentials %+v", k, k.Credentials)
		}
		if u := recs[0].Identity; u.LastUsedAt == nil || !u.LastUsedAt.Equal(used) {
			t.Fatalf("user = %+v", u)
		}
	})
	for _, tc := range []struct {
		name, input, want string
	}{
		{"empty", "", "empty"},
		{"missing column", strings.Replace(awsHeaderLine, ",mfa_active", "", 1) + "\n", `no column "mfa_active"`},
		{"unexpected column", awsHeaderLine + ",tags\n", `unexpected column "tags"`},
		{"columns out of order", strings.Replace(awsHeaderLine, "user,arn", "arn,user", 1) + "\n", `column 1 of the header is "arn"`},
		{"still base64", "dXNlcixhcm4sdXNlcl9jcmVhdGlvbl90aW1l\n", "base64"},
		{"another csv", "external_id,kind\nx,bot\n", `no column "user"`},
	} {
		t.Run("header "+tc.name, func(t *testing.T) {
			t.Parallel()
			input := tc.input
			if input != "" {
				input += good + "\n"
			}
			recs, errs := collect(t, MustSource(t, FormatAWSCredentialReport, input))
			if len(recs) != 0 {
				t.Errorf("a report with a bad header gave records %+v", recs)
			}
			mustBeInvalid(t, errs, "input:1")
			if !strings.Contains(steward.ErrorMessage(errs[0]), tc.want) {
				t.Errorf("error %q does not say %q", steward.ErrorMessage(errs[0]), tc.want)
			}
		})
	}
}
