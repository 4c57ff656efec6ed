package steward_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// storedBefore holds, for each action, the data of events as the store
// wrote them before actions were typed (from the map literals and structs
// of that code). Those events stay in databases forever, under a hash that
// covers these bytes, so every one must still decode into its action's
// payload without an unknown field.
var storedBefore = map[steward.Action][]string{
	steward.ActionSchemaMigrated: {`{"migration":"0001_inventory.sql"}`},
	steward.ActionTokenCreated:   {`{"expires_at":null,"name":"ci","role":"admin"}`, `{"expires_at":"2026-01-01T00:00:00Z","name":"ci","role":"auditor"}`},
	steward.ActionTokenRevoked:   {`{}`},
	steward.ActionSessionCreated: {`{"expires_at":"2026-01-01T08:00:00Z","session":4}`},
	steward.ActionSessionDeleted: {`{"session":4}`},
	steward.ActionTeamCreated: {`{"id":3,"name":"payments","display_name":"Payments","manager_id":7,"created_at":"2026-01-01T00:00:00Z"}`,
		`{"name":"payments","source":"ldap"}`},
	steward.ActionPersonCreated: {`{"id":7,"external_id":"ada","name":"Ada","email":"ada@example.com","title":"Eng","team_id":3,"manager_id":2,"status":"departed","departed_at":"2026-01-01T00:00:00Z","created_at":"2026-01-01T00:00:00Z"}`,
		`{"external_id":"ada","source":"ldap"}`},
	steward.ActionPersonUpdated:   {`{"changes":{"email":["a@x","b@x"],"team":["",null]},"source":"ldap"}`},
	steward.ActionPersonDeparted:  {`{"changes":{"status":["active","departed"]},"source":"ldap"}`, `{"reason":"no longer listed by ldap","source":"ldap"}`},
	steward.ActionPersonReturned:  {`{"changes":{"status":["departed","active"]},"source":"ldap"}`},
	steward.ActionPersonSignedIn:  {`{"expires_at":"2026-01-01T08:00:00Z","issuer":"https://idp.example.com/","reason":"member of group steward-admins, mapped to admin","role":"admin","session":4,"subject":"248289761001"}`},
	steward.ActionPersonSignedOut: {`{"session":4}`},
	steward.ActionPeopleSynced:    {`{"result":{"records":0,"identities_created":0,"identities_updated":0,"identities_removed":0,"credentials_rotated":0,"credentials_changed":0,"entitlements_changed":0,"grants_created":0,"grants_updated":0,"grants_removed":0,"owners_changed":0,"people_created":3,"gaps_opened":0,"gaps_closed":0,"events":4},"source":"ldap"}`},
	steward.ActionSystemCreated:   {`{"id":1,"name":"aws-prod","kind":"aws","description":"d","owner_team_id":3,"created_at":"2026-01-01T00:00:00Z"}`},
	steward.ActionSystemSynced:    {`{"first_load":true,"partial":false,"result":{"records":2,"identities_created":1,"identities_updated":0,"identities_removed":0,"credentials_rotated":0,"credentials_changed":0,"entitlements_changed":0,"grants_created":0,"grants_updated":0,"grants_removed":0,"owners_changed":0,"gaps_opened":1,"gaps_closed":0,"events":0},"source":"import:jsonl"}`},
	steward.ActionInventoryLoaded: {`{"gaps_closed":0,"gaps_opened":12,"rows":{"identities":100,"people":10},"source":"demo seed=1"}`},
	steward.ActionIdentityCreated: {`{"id":5,"system_id":1,"external_id":"k","name":"k","kind":"api_key","environment":"prod","criticality":"high","owner_id":7,"team_id":3,"status":"active","labels":{"a":"b"},"created_at":"2026-01-01T00:00:00Z","last_used_at":"2026-01-02T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","owner_source":"explicit"}`,
		`{"external_id":"k","kind":"bot","owner_id":null,"source":"import:csv","system_id":1,"team_id":null}`},
	steward.ActionIdentityUpdated:      {`{"changes":{"labels":[null,{"a":"b"}],"name":["a","b"]},"source":"connector:pg"}`},
	steward.ActionIdentityDisabled:     {`{"changes":{"status":["active","disabled"]},"source":"connector:pg"}`},
	steward.ActionIdentityRestored:     {`{"changes":{"status":["removed","active"]},"source":"connector:pg"}`},
	steward.ActionIdentityRemoved:      {`{"reason":"no longer reported by connector:pg"}`},
	steward.ActionIdentityOwnerChanged: {`{"old_owner_id":null,"old_owner_source":"","old_team_id":null,"owner_id":7,"owner_source":"rule","rule":"r","team_id":3}`, `{"old_owner_id":7,"old_owner_source":"rule","old_team_id":3,"owner_id":null,"owner_source":"","team_id":null}`},
	steward.ActionIdentityAttested:     {`{"note":"still needed","person_id":7}`},
	steward.ActionIdentityLinked:       {`{"kind":"assumes","to_ref":"arn:aws:iam::111122223333:role/deployer","to_id":null}`, `{"kind":"assumes","to_ref":"deployer@p.iam.gserviceaccount.com","to_id":9}`},
	steward.ActionIdentityUnlinked:     {`{"kind":"assumes","reason":"no longer reported by import:k8s-serviceaccounts","to_ref":"arn:aws:iam::111122223333:role/deployer"}`},
	steward.ActionIdentityLinkResolved: {`{"link_id":3,"to_id":9}`},
	steward.ActionCredentialCreated: {`{"id":9,"identity_id":5,"external_id":"AKIA","kind":"access_key","created_at":"2026-01-01T00:00:00Z","last_rotated_at":"2026-01-01T00:00:00Z","last_used_at":"2026-01-01T00:00:00Z","expires_at":"2027-01-01T00:00:00Z","fingerprint":"` + strings.Repeat("a", 64) + `"}`,
		`{"identity_id":5}`},
	steward.ActionCredentialUpdated: {`{"changes":{"expires_at":[null,"2027-01-01T00:00:00Z"]},"identity_id":5}`},
	steward.ActionCredentialRotated: {`{"changes":{"last_rotated_at":["2025-01-01T00:00:00Z","2026-01-01T00:00:00Z"]},"identity_id":5}`,
		`{"changes":{"last_rotated_at":[null,null]},"evidence":"the secret's version changed since the last sync; the source gives no time","identity_id":5}`,
		`{"by":"steward","changes":{"created_at":[null,"2026-01-01T00:00:00Z"],"last_rotated_at":[null,"2026-01-01T00:00:00Z"]},"created":true,"identity_id":5,"sink":"file"}`},
	steward.ActionCredentialDisabled: {`{"changes":{"status":["active","disabled"]},"identity_id":5}`},
	steward.ActionCredentialEnabled:  {`{"changes":{"status":["disabled","active"]},"identity_id":5}`},
	steward.ActionCredentialRemoved:  {`{"identity_id":5,"reason":"no longer reported by import:aws"}`},
	steward.ActionEntitlementCreated: {`{"id":2,"system_id":1,"name":"admin","description":"d","privileged":true,"sensitivity":"high","created_at":"2026-01-01T00:00:00Z"}`,
		`{"name":"admin","privileged":false,"system_id":1}`},
	steward.ActionEntitlementUpdated: {`{"changes":{"privileged":[false,true]},"name":"admin"}`},
	steward.ActionEntitlementRemoved: {`{"reason":"no longer reported by import:aws","system_id":1}`},
	steward.ActionGrantCreated: {`{"id":4,"identity_id":5,"entitlement_id":2,"type":"jit","granted_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-02T00:00:00Z","granted_via":"request:1"}`,
		`{"entitlement":"admin","entitlement_id":2,"identity_id":5,"privileged":true,"source":"import:aws"}`},
	steward.ActionGrantUpdated:            {`{"changes":{"type":["standing","jit"]}}`},
	steward.ActionGrantRemoved:            {`{"entitlement":"admin","entitlement_id":2,"identity_id":5,"privileged":true,"reason":"no longer reported by import:aws"}`},
	steward.ActionOwnershipRulesApplied:   {`{"rules":[{"name":"r","match":{"names":["*"]},"team":"payments"}]}`},
	steward.ActionCatalogApplied:          {`{"changes":[{"op":"added","what":"model","name":"read"},{"op":"changed","what":"security_team","name":"security"}],"digest":"` + strings.Repeat("b", 64) + `","models":1,"version":1}`, `{"changes":[],"digest":"` + strings.Repeat("c", 64) + `","models":14,"version":2}`},
	steward.ActionTaskOpened:              {`{"due_at":"2026-01-15T00:00:00Z","gap":"unowned","identity_id":5,"kind":"ownership_gap"}`},
	steward.ActionTaskClosed:              {`{"gap":"unowned","reason":"gap healed"}`},
	steward.ActionNoticeDelivered:         {`{"job_id":12,"kind":"owner_assigned","object_id":"5","object_type":"identity","person_id":7,"subject":"You now own svc-etl"}`},
	steward.ActionJITGranted:              {`{"identity_id":5,"entitlement_id":2,"entitlement":"role:admin","granted_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T04:00:00Z","request_id":9,"granted_by":"person:ada"}`},
	steward.ActionJITExtended:             {`{"old_expires_at":"2026-01-01T04:00:00Z","expires_at":"2026-01-01T06:00:00Z"}`},
	steward.ActionJITExpiryWarned:         {`{"identity_id":5,"expires_at":"2026-01-01T04:00:00Z"}`},
	steward.ActionJITRevoked:              {`{"identity_id":5,"entitlement_id":2,"expires_at":"2026-01-01T04:00:00Z","revoked_at":"2026-01-01T04:00:00.2Z","lag_ms":200,"attempts":1}`},
	steward.ActionJITRevocationFailed:     {`{"identity_id":5,"expires_at":"2026-01-01T04:00:00Z","attempts":1,"error":"postgres: unavailable","next_attempt_at":"2026-01-01T04:00:05Z"}`},
	steward.ActionRequestCreated:          {`{"model":"pg-prod-read","requester":"ana@example.com","identity":"svc-billing","target":{"system":"billing-db","name":"read"},"duration":"4h","justification":{"ticket":"INC-1"},"state":"pending","outcome":"pending","reasons":[{"rule":"model","ok":true,"text":"Model pg-prod-read."}],"extends":3}`},
	steward.ActionRequestApproved:         {`{"from":"pending","to":"approved","approval":{"approver":"bo@example.com","set":{"kind":"identity-owner"},"approve":true,"reason":"ok","at":"2026-01-01T00:00:00Z"}}`},
	steward.ActionRequestDenied:           {`{"from":"pending","to":"denied","approval":{"approver":"bo@example.com","set":{"kind":"team","team":"dba"},"approve":false,"reason":"no","at":"2026-01-01T00:00:00Z"}}`},
	steward.ActionRequestEscalated:        {`{"from":"pending","to":"pending","level":1,"reason":"escalated to security"}`},
	steward.ActionRequestExpired:          {`{"from":"pending","to":"expired","reason":"Nobody decided it"}`},
	steward.ActionRequestCancelled:        {`{"from":"approved","to":"cancelled","reason":"not needed"}`},
	steward.ActionRequestFulfilled:        {`{"from":"approved","to":"fulfilled","jit_grant_id":4,"attempts":1}`},
	steward.ActionRequestFulfilmentFailed: {`{"from":"approved","to":"approved","attempts":2,"error":"postgres: unavailable"}`},
	steward.ActionRequestFailed:           {`{"from":"approved","to":"failed","attempts":5,"error":"postgres: role does not exist"}`},
	steward.ActionDemandRecorded:          {`{"id":2,"requester":"ana@example.com","team":"payments","identity":"svc-billing","target":{"system":"billing-db","name":"write"},"justification":{"why":"x"},"at":"2026-01-01T00:00:00Z"}`},
}

// TestActionsDecodeStoredEvents holds every action's payload struct to the
// events stored before it existed: each decodes without an unknown field,
// and encoding it again keeps every field the event had.
func TestActionsDecodeStoredEvents(t *testing.T) {
	t.Parallel()
	for _, a := range steward.Actions {
		samples, ok := storedBefore[a]
		if !ok {
			t.Errorf("%s: no stored sample; add how its events look", a)
			continue
		}
		for _, raw := range samples {
			p := a.NewPayload()
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(p); err != nil {
				t.Errorf("%s: %s: %v", a, raw, err)
				continue
			}
			e := steward.Event{Seq: 1, Action: a, Data: json.RawMessage(raw)}
			got, err := e.Payload()
			if err != nil || reflect.TypeOf(got) != reflect.TypeOf(p) {
				t.Errorf("%s: Payload() = %T, %v", a, got, err)
			}
			again, _ := json.Marshal(p)
			var before, after map[string]any
			_ = json.Unmarshal([]byte(raw), &before)
			_ = json.Unmarshal(again, &after)
			for k, v := range before {
				if v == nil {
					continue // null and absent read alike
				}
				if _, ok := after[k]; !ok {
					t.Errorf("%s: field %s of %s is lost when encoded again: %s", a, k, raw, again)
				}
			}
		}
	}
	for a := range storedBefore {
		if a.Validate() != nil {
			t.Errorf("sample for unknown action %s", a)
		}
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	if len(steward.Actions) != 58 || !slices.IsSorted(steward.Actions) {
		t.Fatalf("Actions = %d, sorted %v", len(steward.Actions), slices.IsSorted(steward.Actions))
	}
	for _, a := range steward.Actions {
		obj := a.ObjectType()
		if obj == "" || a.NewPayload() == nil {
			t.Errorf("%s: object %q, payload %v", a, obj, a.NewPayload())
		}
		if prefix, _, _ := strings.Cut(string(a), "."); prefix != obj && !(a == steward.ActionSessionCreated || a == steward.ActionSessionDeleted) {
			t.Errorf("%s names object %s", a, obj)
		}
		if err := steward.CheckPayload(a, reflect.ValueOf(a.NewPayload()).Elem().Interface()); err != nil {
			t.Error(err)
		}
	}
	err := steward.Action("identity.exploded").Validate()
	if steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), "identity.owner_changed") {
		t.Errorf("unknown action: %v", err)
	}
	if err := steward.CheckPayload(steward.ActionTeamCreated, steward.PersonCreated{}); err == nil {
		t.Error("a person payload passed for team.created")
	}
	if err := steward.CheckPayload(steward.ActionTeamCreated, &steward.TeamCreated{}); err == nil {
		t.Error("a pointer payload passed: events are written by value")
	}
	if err := steward.CheckPayload("job.enqueued", map[string]any{}); err != nil {
		t.Errorf("an action not yet named: %v", err)
	}
	// An unknown action still reads, as a map.
	p, err := (&steward.Event{Action: "job.enqueued", Data: []byte(`{"kind":"x"}`)}).Payload()
	if m, ok := p.(*map[string]any); err != nil || !ok || (*m)["kind"] != "x" {
		t.Errorf("unknown action payload = %#v, %v", p, err)
	}
	// A new event's JSON keeps the field names: an owner change.
	b, _ := json.Marshal(steward.OwnerChanged{OwnerID: new(int64(7)), OwnerSource: steward.OwnerFromRule, Rule: "r", OwnerBy: steward.BasisRule})
	if !bytes.Contains(b, []byte(`"owner_id":7`)) || !bytes.Contains(b, []byte(`"old_owner_id":null`)) || !bytes.Contains(b, []byte(`"rule":"r"`)) {
		t.Errorf("owner change = %s", b)
	}
}

func TestObjectTypes(t *testing.T) {
	t.Parallel()
	named := map[string]bool{}
	for _, a := range steward.Actions {
		named[a.ObjectType()] = true
	}
	for _, o := range steward.ObjectTypes {
		if !named[o] {
			t.Errorf("object type %s is named by no action", o)
		}
		delete(named, o)
	}
	if len(named) > 0 {
		t.Errorf("object types missing from ObjectTypes: %v", named)
	}
}
