package importer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/connector/connectortest"
)

func TestGCPServiceAccountKeys(t *testing.T) {
	t.Parallel()
	src := MustOpen(t, FormatGCPServiceAccountKeys, fixtures[FormatGCPServiceAccountKeys])
	connectortest.CheckSource(t, src, steward.EnvDev)
	recs, errs := collect(t, src)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	checkGolden(t, FormatGCPServiceAccountKeys, recs)
	ids := byID(recs)
	const (
		deployer = "deployer@acme-prod.iam.gserviceaccount.com"
		etl      = "etl@acme-staging.iam.gserviceaccount.com"
		compute  = "482913775604-compute@developer.gserviceaccount.com"
	)
	keyName := func(project, email, id string) string {
		return "projects/" + project + "/serviceAccounts/" + email + "/keys/" + id
	}
	file := fixtures[FormatGCPServiceAccountKeys]
	for _, tc := range []struct {
		name, id string
		pos      int
		check    func(*steward.SourceIdentity) bool
	}{
		{"account carries its system-managed key", deployer, 2, func(id *steward.SourceIdentity) bool {
			return id.Kind == steward.KindServiceAccount && id.Environment == steward.EnvProd && id.Labels["project"] == "acme-prod" &&
				len(id.Credentials) == 1 && id.Credentials[0].ExternalID == "0c9a1b2c3d4e5f60718293a4b5c6d7e8f9012345" &&
				id.Credentials[0].Kind == steward.CredPrivateKey && id.Credentials[0].ExpiresAt.Equal(time.Date(2025, 6, 3, 6, 12, 40, 0, time.UTC))
		}},
		{"user-managed key with no expiry", keyName("acme-prod", deployer, "3e6b1f0a9d8c7b6a5f4e3d2c1b0a99887766aabb"), 10, func(id *steward.SourceIdentity) bool {
			c := id.Credentials[0]
			return id.Kind == steward.KindAPIKey && id.Status == "" && id.Labels["parent"] == deployer &&
				id.CreatedAt.Equal(time.Date(2022, 9, 14, 11, 20, 3, 0, time.UTC)) && c.ExpiresAt == nil && c.CreatedAt.Equal(*id.CreatedAt)
		}},
		{"disabled key", keyName("acme-prod", deployer, "7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"), 18, func(id *steward.SourceIdentity) bool {
			return id.Status == steward.IdentityDisabled && id.Labels["disable_reason"] != "" &&
				len(id.Credentials) == 1 && id.Credentials[0].Status == steward.CredentialDisabled
		}},
		{"account with two system-managed keys", etl, 30, func(id *steward.SourceIdentity) bool {
			return len(id.Credentials) == 2 && id.Environment == steward.EnvStaging
		}},
		{"uploaded key that expires", keyName("acme-staging", etl, "c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2"), 46, func(id *steward.SourceIdentity) bool {
			return id.Status == "" && id.Labels["key_origin"] == "USER_PROVIDED" && id.Credentials[0].ExpiresAt.Equal(time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC))
		}},
		{"expired key is disabled", keyName("acme-staging", etl, "5555aaaa6666bbbb7777cccc8888dddd9999eeee"), 54, func(id *steward.SourceIdentity) bool {
			// The identity cannot authenticate; the key itself was not
			// disabled, and its credential shows the expiry.
			return id.Status == steward.IdentityDisabled && id.Credentials[0].Status == "" && id.Credentials[0].ExpiresAt != nil
		}},
		{"account with no user-managed key", compute, 65, func(id *steward.SourceIdentity) bool {
			return len(id.Credentials) == 1 && id.Environment == steward.EnvProd
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := ids[tc.id]
			if id == nil {
				t.Fatalf("%s missing", tc.id)
			}
			if !tc.check(id) {
				t.Errorf("%+v", id)
			}
			for _, r := range recs {
				if r.Identity.ExternalID == tc.id && r.Pos != fmt.Sprintf("%s:%d", file, tc.pos) {
					t.Errorf("at %s, want line %d", r.Pos, tc.pos)
				}
			}
		})
	}
	if len(ids) != 7 {
		t.Errorf("got %d identities, want 3 accounts and 4 user-managed keys", len(ids))
	}
	t.Run("a disabled Google-managed key is a disabled credential", func(t *testing.T) {
		in := `[{"name": "` + keyName("p", "a@p.iam.gserviceaccount.com", "k1") + `", "keyType": "SYSTEM_MANAGED", "validAfterTime": "2024-01-01T00:00:00Z"},
{"name": "` + keyName("p", "a@p.iam.gserviceaccount.com", "k2") + `", "keyType": "SYSTEM_MANAGED", "disabled": true, "validAfterTime": "2024-02-01T00:00:00Z"}]`
		recs, errs := collect(t, MustSource(t, FormatGCPServiceAccountKeys, in))
		if len(errs) != 0 || len(recs) != 1 || len(recs[0].Identity.Credentials) != 2 {
			t.Fatalf("got %+v, %v; want the account with both keys", recs, errs)
		}
		if c := recs[0].Identity.Credentials; c[0].Status != "" || c[1].Status != steward.CredentialDisabled {
			t.Errorf("credentials %+v; want k1 active, k2 disabled", c)
		}
	})
	t.Run("the REST API's response is read too", func(t *testing.T) {
		recs, errs := collect(t, MustSource(t, FormatGCPServiceAccountKeys, `{"keys": [{"name": "`+keyName("p", "a@p.iam.gserviceaccount.com", "k1")+
			`", "keyType": "USER_MANAGED", "validAfterTime": "2024-01-01T00:00:00Z", "validBeforeTime": "9999-12-31T23:59:59Z"}], "nextPageToken": ""}`))
		if len(errs) != 0 || len(recs) != 2 {
			t.Errorf("got %+v, %v", recs, errs)
		}
	})
}

func TestGCPServiceAccountKeysBadInput(t *testing.T) {
	t.Parallel()
	key := func(email, id, typ, after string) string {
		return fmt.Sprintf(`  {
    "keyAlgorithm": "KEY_ALG_RSA_2048",
    "keyOrigin": "GOOGLE_PROVIDED",
    "keyType": %q,
    "name": "projects/p/serviceAccounts/%s/keys/%s",
    "validAfterTime": %q,
    "validBeforeTime": "9999-12-31T23:59:59Z"
  }`, typ, email, id, after)
	}
	array := func(keys ...string) string { return "[\n" + strings.Join(keys, ",\n") + "\n]\n" }
	const (
		a, b = "a@p.iam.gserviceaccount.com", "b@p.iam.gserviceaccount.com"
		when = "2024-01-01T00:00:00Z"
	)
	t.Run("bad keys are each reported and the rest is read", func(t *testing.T) {
		t.Parallel()
		input := array(
			key(a, "k1", "USER_MANAGED", when),                                           // 2
			key(a, "k2", "FANCY", when),                                                  // 10
			key(a, "k3", "USER_MANAGED", "soon"),                                         // 18
			key(a, "k1", "USER_MANAGED", when),                                           // 26: twice
			strings.Replace(key(a, "k5", "USER_MANAGED", when), "/keys/", "/nokeys/", 1), // 34
			strings.Replace(key(a, "k6", "USER_MANAGED", when), `"keyType"`, `"disabled": "yes", "keyType"`, 1), // 42
		) + array(
			key(b, "k7", "SYSTEM_MANAGED", when),                                               // 52
			key(a, "k8", "SYSTEM_MANAGED", when),                                               // 60: account a again, after b
			strings.Replace(key(b, "k9", "USER_MANAGED", when), "9999-12-31", "2023-12-31", 1), // 68: expires before valid
		)
		src := MustSource(t, FormatGCPServiceAccountKeys, input)
		want := []string{"input:10", "input:18", "input:26", "input:34", "input:42", "input:60", "input:68"}
		connectortest.CheckBadInput(t, src, want...)
		recs, errs := collect(t, src)
		mustBeInvalid(t, errs, want...)
		for i, w := range []string{`keyType "FANCY"`, "validAfterTime", "listed twice (first at line 2)", "not a key name", "disabled is a JSON string", "listed before, at line 2", "before validAfterTime"} {
			if !strings.Contains(steward.ErrorMessage(errs[i]), w) {
				t.Errorf("error %q does not say %q", steward.ErrorMessage(errs[i]), w)
			}
		}
		if ids := byID(recs); len(recs) != 3 || ids[a] == nil || ids[b] == nil || len(ids[b].Credentials) != 1 {
			t.Errorf("records %+v, want account a with key k1 and account b", recs)
		}
	})
	for _, tc := range []struct {
		name, input, pos, want string
	}{
		{"empty", "", "input:1", "empty"},
		{"a table", "KEY_ID  CREATED_AT  EXPIRES_AT  DISABLED\n", "input:1", "not valid JSON"},
		{"an object without keys", `{"accounts": []}`, "input:1", "no keys array"},
		{"a string", `"keys"`, "input:1", "want a JSON array"},
		{"cut short", array(key(a, "k1", "USER_MANAGED", when))[:100], "input:", "cut short"},
		{"not an array inside", "[\n 1,\n 2\n]", "input:2", "the item is a JSON number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := collect(t, MustSource(t, FormatGCPServiceAccountKeys, tc.input))
			if len(errs) == 0 || steward.ErrorCode(errs[0]) != steward.EINVALID {
				t.Fatalf("got errors %v, want EINVALID", errs)
			}
			if msg := steward.ErrorMessage(errs[0]); !strings.HasPrefix(msg, tc.pos) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want at %s saying %q", msg, tc.pos, tc.want)
			}
		})
	}
}
