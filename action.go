package steward

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Action is what an audit event records: "identity.created". Each action
// has one payload struct, the data its events carry (Event.Data), and one
// kind of object its events name (Event.ObjectType).
//
// Events already in a database keep the JSON they were written with: the
// hash chain covers it, so stored events are never rewritten. The payload
// structs keep the field names events have always been stored with, so that
// an old event and a new one decode alike.
type Action string

// Actions, one per kind of change Steward records.
const (
	ActionSchemaMigrated Action = "schema.migrated" // a schema migration was applied

	ActionTokenCreated   Action = "token.created"
	ActionTokenRevoked   Action = "token.revoked"
	ActionSessionCreated Action = "session.created" // a web sign-in with a token; the object is the token
	ActionSessionDeleted Action = "session.deleted" // a web sign-out

	ActionTeamCreated     Action = "team.created"
	ActionPersonCreated   Action = "person.created"
	ActionPersonUpdated   Action = "person.updated"
	ActionPersonDeparted  Action = "person.departed"
	ActionPersonReturned  Action = "person.returned"   // a departed person is listed as active again
	ActionPersonSignedIn  Action = "person.signed_in"  // a web sign-in through the OpenID provider: a session of the person
	ActionPersonSignedOut Action = "person.signed_out" // the person's web session ended by sign-out
	ActionPeopleSynced    Action = "people.synced"     // one run of a people source; the object is the source

	ActionSystemCreated   Action = "system.created"
	ActionSystemSynced    Action = "system.synced"    // one sync or import run of a system
	ActionInventoryLoaded Action = "inventory.loaded" // a bulk load (the demo), one event for every row

	ActionIdentityCreated      Action = "identity.created"
	ActionIdentityUpdated      Action = "identity.updated"
	ActionIdentityDisabled     Action = "identity.disabled"
	ActionIdentityRestored     Action = "identity.restored" // a removed identity is reported again
	ActionIdentityRemoved      Action = "identity.removed"
	ActionIdentityOwnerChanged Action = "identity.owner_changed"
	ActionIdentityAttested     Action = "identity.attested"
	ActionIdentityLinked       Action = "identity.linked"        // a sync reported that it assumes another identity
	ActionIdentityUnlinked     Action = "identity.unlinked"      // a sync no longer reports the link
	ActionIdentityLinkResolved Action = "identity.link_resolved" // a pending link's target arrived in another system

	ActionCredentialCreated  Action = "credential.created"  // #nosec G101 -- an audit action's name, not a credential
	ActionCredentialUpdated  Action = "credential.updated"  // #nosec G101 -- an audit action's name, not a credential
	ActionCredentialRotated  Action = "credential.rotated"  // #nosec G101 -- an audit action's name, not a credential
	ActionCredentialRemoved  Action = "credential.removed"  // #nosec G101 -- an audit action's name, not a credential
	ActionCredentialDisabled Action = "credential.disabled" // #nosec G101 -- an audit action's name, not a credential: the source reports the key disabled (AWS Inactive, GCP disabled)
	ActionCredentialEnabled  Action = "credential.enabled"  // #nosec G101 -- an audit action's name, not a credential: a disabled key is active again

	ActionEntitlementCreated Action = "entitlement.created"
	ActionEntitlementUpdated Action = "entitlement.updated"
	ActionEntitlementRemoved Action = "entitlement.removed"

	ActionGrantCreated Action = "grant.created"
	ActionGrantUpdated Action = "grant.updated"
	ActionGrantRemoved Action = "grant.removed"

	ActionOwnershipRulesApplied Action = "ownership_rules.applied"

	ActionCatalogApplied Action = "catalog.applied" // a new version of the service catalog is in force

	ActionTaskOpened Action = "task.opened"
	ActionTaskClosed Action = "task.closed"

	ActionNoticeDelivered Action = "notice.delivered" // a notice written to a person's inbox

	ActionJITGranted          Action = "jit_grant.granted"           // time-bound access recorded with its expiry
	ActionJITExtended         Action = "jit_grant.extended"          // its expiry moved later
	ActionJITExpiryWarned     Action = "jit_grant.expiry_warned"     // the warning before expiry went out
	ActionJITRevoked          Action = "jit_grant.revoked"           // revoked in the target at expiry, with the lag
	ActionJITRevocationFailed Action = "jit_grant.revocation_failed" // the target refused or was down: retried

	ActionRequestCreated          Action = "request.created"           // asked through the catalog: approved, pending or refused at once
	ActionRequestApproved         Action = "request.approved"          // an eligible approver approved (the request may still wait for more)
	ActionRequestDenied           Action = "request.denied"            // an eligible approver denied
	ActionRequestEscalated        Action = "request.escalated"         // not decided within the tier's level: the next approver set may act
	ActionRequestExpired          Action = "request.expired"           // never decided
	ActionRequestCancelled        Action = "request.cancelled"         // withdrawn before fulfilment
	ActionRequestFulfilled        Action = "request.fulfilled"         // the access exists in the target system
	ActionRequestFulfilmentFailed Action = "request.fulfilment_failed" // one try failed: retried with backoff
	ActionRequestFailed           Action = "request.failed"            // fulfilment failed for good, with the connector's error
	ActionDemandRecorded          Action = "unmatched_demand.recorded" // no catalog model serves what was asked: recorded as demand
)

// Object types: what an event's ObjectType names, and so what its ObjectID
// is the id of.
const (
	ObjectSchema         = "schema"           // ObjectID: the migration's version
	ObjectToken          = "token"            // an API token
	ObjectTeam           = "team"             //
	ObjectPerson         = "person"           //
	ObjectPeople         = "people"           // ObjectID: the people source's name
	ObjectSystem         = "system"           //
	ObjectInventory      = "inventory"        // ObjectID empty: the whole inventory
	ObjectIdentity       = "identity"         //
	ObjectCredential     = "credential"       //
	ObjectEntitlement    = "entitlement"      //
	ObjectGrant          = "grant"            //
	ObjectOwnershipRules = "ownership_rules"  // ObjectID "0": the rules in force
	ObjectCatalog        = "catalog"          // ObjectID: the catalog's version
	ObjectTask           = "task"             // a backlog task (an ownership gap)
	ObjectNotice         = "notice"           // a notice in a person's inbox
	ObjectJITGrant       = "jit_grant"        // a JIT grant (JITGrant)
	ObjectRequest        = "request"          // an access request (AccessRequest)
	ObjectDemand         = "unmatched_demand" // a request no model serves (UnmatchedDemand)
)

// ObjectTypes lists every object type an action names, in the order a
// person looks for them.
var ObjectTypes = []string{ObjectIdentity, ObjectPerson, ObjectTeam, ObjectSystem, ObjectCredential, ObjectEntitlement,
	ObjectGrant, ObjectJITGrant, ObjectRequest, ObjectDemand, ObjectTask, ObjectNotice, ObjectOwnershipRules, ObjectCatalog, ObjectToken, ObjectPeople, ObjectInventory, ObjectSchema}

// actionSpec is what an action's events carry and name.
type actionSpec struct {
	object  string
	payload any // the zero payload, for its type
}

var actionSpecs = map[Action]actionSpec{
	ActionSchemaMigrated:        {ObjectSchema, SchemaMigrated{}},
	ActionTokenCreated:          {ObjectToken, TokenCreated{}},
	ActionTokenRevoked:          {ObjectToken, TokenRevoked{}},
	ActionSessionCreated:        {ObjectToken, SessionCreated{}},
	ActionSessionDeleted:        {ObjectToken, SessionDeleted{}},
	ActionTeamCreated:           {ObjectTeam, TeamCreated{}},
	ActionPersonCreated:         {ObjectPerson, PersonCreated{}},
	ActionPersonUpdated:         {ObjectPerson, PersonChanged{}},
	ActionPersonDeparted:        {ObjectPerson, PersonChanged{}},
	ActionPersonReturned:        {ObjectPerson, PersonChanged{}},
	ActionPersonSignedIn:        {ObjectPerson, PersonSignedIn{}},
	ActionPersonSignedOut:       {ObjectPerson, SessionDeleted{}},
	ActionPeopleSynced:          {ObjectPeople, PeopleSynced{}},
	ActionSystemCreated:         {ObjectSystem, SystemCreated{}},
	ActionSystemSynced:          {ObjectSystem, SystemSynced{}},
	ActionInventoryLoaded:       {ObjectInventory, InventoryLoaded{}},
	ActionIdentityCreated:       {ObjectIdentity, IdentityCreated{}},
	ActionIdentityUpdated:       {ObjectIdentity, IdentityChanged{}},
	ActionIdentityDisabled:      {ObjectIdentity, IdentityChanged{}},
	ActionIdentityRestored:      {ObjectIdentity, IdentityChanged{}},
	ActionIdentityRemoved:       {ObjectIdentity, Removed{}},
	ActionIdentityOwnerChanged:  {ObjectIdentity, OwnerChanged{}},
	ActionIdentityAttested:      {ObjectIdentity, IdentityAttested{}},
	ActionIdentityLinked:        {ObjectIdentity, IdentityLinked{}},
	ActionIdentityUnlinked:      {ObjectIdentity, IdentityLinked{}},
	ActionIdentityLinkResolved:  {ObjectIdentity, LinkResolved{}},
	ActionCredentialCreated:     {ObjectCredential, CredentialCreated{}},
	ActionCredentialUpdated:     {ObjectCredential, CredentialChanged{}},
	ActionCredentialRotated:     {ObjectCredential, CredentialChanged{}},
	ActionCredentialRemoved:     {ObjectCredential, CredentialRemoved{}},
	ActionCredentialDisabled:    {ObjectCredential, CredentialChanged{}},
	ActionCredentialEnabled:     {ObjectCredential, CredentialChanged{}},
	ActionEntitlementCreated:    {ObjectEntitlement, EntitlementCreated{}},
	ActionEntitlementUpdated:    {ObjectEntitlement, EntitlementChanged{}},
	ActionEntitlementRemoved:    {ObjectEntitlement, EntitlementRemoved{}},
	ActionGrantCreated:          {ObjectGrant, GrantCreated{}},
	ActionGrantUpdated:          {ObjectGrant, GrantChanged{}},
	ActionGrantRemoved:          {ObjectGrant, GrantRemoved{}},
	ActionOwnershipRulesApplied: {ObjectOwnershipRules, RulesApplied{}},
	ActionCatalogApplied:        {ObjectCatalog, CatalogApplied{}},
	ActionTaskOpened:            {ObjectTask, TaskOpened{}},
	ActionTaskClosed:            {ObjectTask, TaskClosed{}},
	ActionNoticeDelivered:       {ObjectNotice, NoticeDelivered{}},
	ActionJITGranted:            {ObjectJITGrant, JITGranted{}},
	ActionJITExtended:           {ObjectJITGrant, JITExtended{}},
	ActionJITExpiryWarned:       {ObjectJITGrant, JITExpiryWarned{}},
	ActionJITRevoked:            {ObjectJITGrant, JITGrantRevoked{}},
	ActionJITRevocationFailed:   {ObjectJITGrant, JITRevocationFailed{}},

	ActionRequestCreated:          {ObjectRequest, RequestCreated{}},
	ActionRequestApproved:         {ObjectRequest, RequestChanged{}},
	ActionRequestDenied:           {ObjectRequest, RequestChanged{}},
	ActionRequestEscalated:        {ObjectRequest, RequestChanged{}},
	ActionRequestExpired:          {ObjectRequest, RequestChanged{}},
	ActionRequestCancelled:        {ObjectRequest, RequestChanged{}},
	ActionRequestFulfilled:        {ObjectRequest, RequestChanged{}},
	ActionRequestFulfilmentFailed: {ObjectRequest, RequestChanged{}},
	ActionRequestFailed:           {ObjectRequest, RequestChanged{}},
	ActionDemandRecorded:          {ObjectDemand, UnmatchedDemand{}},
}

// Actions lists every Action, sorted.
var Actions = func() []Action {
	out := make([]Action, 0, len(actionSpecs))
	for a := range actionSpecs {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}()

// Validate returns EINVALID, naming the known actions, unless a is one.
func (a Action) Validate() error { return oneOf("action", a, Actions) }

// ObjectType returns the kind of object a's events name, or "" for an
// action Steward does not know.
func (a Action) ObjectType() string { return actionSpecs[a].object }

// NewPayload returns a pointer to a new, empty payload of a's type, to
// decode an event's Data into; nil for an action Steward does not know.
func (a Action) NewPayload() any {
	spec, ok := actionSpecs[a]
	if !ok {
		return nil
	}
	return reflect.New(reflect.TypeOf(spec.payload)).Interface()
}

// CheckPayload returns an error unless data is the payload struct of a (by
// value). Stores call it before they write an event, so that no action is
// recorded with another's data. An action Steward does not know passes: it
// is on its way in from a change that has not named it yet.
func CheckPayload(a Action, data any) error {
	spec, ok := actionSpecs[a]
	if !ok {
		return nil
	}
	if want := reflect.TypeOf(spec.payload); reflect.TypeOf(data) != want {
		return fmt.Errorf("audit event %s: payload is %T, want %v", a, data, want)
	}
	return nil
}

// Payload decodes the event's data into its action's payload struct and
// returns a pointer to it. Events of an action Steward does not know decode
// into a map.
func (e *Event) Payload() (any, error) {
	p := e.Action.NewPayload()
	if p == nil {
		var m map[string]any
		p = &m
	}
	if len(e.Data) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(e.Data, p); err != nil {
		return nil, fmt.Errorf("audit event %d (%s): %w", e.Seq, e.Action, err)
	}
	return p, nil
}

// Changes records the fields of an object that changed: field → [old, new].
type Changes map[string][2]any

// The payloads. Fields with omitempty are those one writer of the action
// has and another has not (an object created through the API carries all
// of itself; one created by a sync, what the sync knew).

// SchemaMigrated is the payload of ActionSchemaMigrated.
type SchemaMigrated struct {
	Migration string `json:"migration"` // the migration file, "0011_owner_reason.sql"
}

// TokenCreated is the payload of ActionTokenCreated.
type TokenCreated struct {
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Kind is whose token it is (absent on tokens from before
	// principals): a person's, named by Person, or an automation
	// identity's, IdentityID.
	Kind       PrincipalKind `json:"kind,omitempty"`
	Person     string        `json:"person,omitempty"`
	IdentityID *int64        `json:"identity_id,omitempty"`
}

// TokenRevoked is the payload of ActionTokenRevoked: nothing beyond the token.
type TokenRevoked struct{}

// SessionCreated is the payload of ActionSessionCreated.
type SessionCreated struct {
	Session   int64     `json:"session"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionDeleted is the payload of ActionSessionDeleted.
type SessionDeleted struct {
	Session int64 `json:"session"`
}

// PersonSignedIn is the payload of ActionPersonSignedIn: the session, the
// role decided at sign-in and why, and where the person signed in.
type PersonSignedIn struct {
	Session   int64     `json:"session"`
	Role      Role      `json:"role"`
	Reason    string    `json:"reason,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TeamCreated is the payload of ActionTeamCreated: the team as created
// through the API, or its name and the people source that named it.
type TeamCreated struct {
	ID          int64     `json:"id,omitempty"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name,omitempty"`
	ManagerID   *int64    `json:"manager_id,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	Source      string    `json:"source,omitempty"`
}

// PersonCreated is the payload of ActionPersonCreated: the person as
// created through the API, or their external id and the people source.
type PersonCreated struct {
	ID         int64        `json:"id,omitempty"`
	ExternalID string       `json:"external_id"`
	Name       string       `json:"name,omitempty"`
	Email      string       `json:"email,omitempty"`
	Title      string       `json:"title,omitempty"`
	TeamID     *int64       `json:"team_id,omitempty"`
	ManagerID  *int64       `json:"manager_id,omitempty"`
	Status     PersonStatus `json:"status,omitempty"`
	DepartedAt *time.Time   `json:"departed_at,omitempty"`
	CreatedAt  time.Time    `json:"created_at,omitzero"`
	Source     string       `json:"source,omitempty"`
}

// PersonChanged is the payload of ActionPersonUpdated, ActionPersonDeparted
// and ActionPersonReturned: what a people source changed, or, for a person
// it no longer lists, why they count as departed.
type PersonChanged struct {
	Changes Changes `json:"changes,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Source  string  `json:"source"`
}

// PeopleSynced is the payload of ActionPeopleSynced.
type PeopleSynced struct {
	Source string      `json:"source"`
	Result *SyncResult `json:"result"`
}

// SystemCreated is the payload of ActionSystemCreated.
type SystemCreated struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Kind        SystemKind `json:"kind"`
	Description string     `json:"description,omitempty"`
	OwnerTeamID *int64     `json:"owner_team_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// SystemSynced is the payload of ActionSystemSynced.
type SystemSynced struct {
	Source    string      `json:"source"`
	Partial   bool        `json:"partial"`
	FirstLoad bool        `json:"first_load"`
	Result    *SyncResult `json:"result"`
}

// InventoryLoaded is the payload of ActionInventoryLoaded.
type InventoryLoaded struct {
	Source     string         `json:"source"`
	Rows       map[string]int `json:"rows"` // table → rows loaded
	GapsOpened int            `json:"gaps_opened"`
	GapsClosed int            `json:"gaps_closed"`
}

// IdentityCreated is the payload of ActionIdentityCreated: the identity as
// created through the API, or what a sync knew of it and the sync's source.
type IdentityCreated struct {
	ID          int64             `json:"id,omitempty"`
	SystemID    int64             `json:"system_id"`
	ExternalID  string            `json:"external_id"`
	Name        string            `json:"name,omitempty"`
	Kind        IdentityKind      `json:"kind"`
	Environment Environment       `json:"environment,omitempty"`
	Criticality Level             `json:"criticality,omitempty"`
	OwnerID     *int64            `json:"owner_id"`
	TeamID      *int64            `json:"team_id"`
	Status      IdentityStatus    `json:"status,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	CreatedAt   *time.Time        `json:"created_at,omitempty"`
	LastUsedAt  *time.Time        `json:"last_used_at,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at,omitzero"`
	OwnerSource OwnerSource       `json:"owner_source,omitempty"`
	Source      string            `json:"source,omitempty"`
}

// IdentityChanged is the payload of ActionIdentityUpdated,
// ActionIdentityDisabled and ActionIdentityRestored.
type IdentityChanged struct {
	Changes Changes `json:"changes"`
	Source  string  `json:"source"`
}

// Removed is the payload of ActionIdentityRemoved: why a sync removed it.
type Removed struct {
	Reason string `json:"reason"`
}

// OwnerChanged is the payload of ActionIdentityOwnerChanged: the owner and
// team before and after, and what decided the new ones.
type OwnerChanged struct {
	OwnerID     *int64      `json:"owner_id"`
	TeamID      *int64      `json:"team_id"`
	OwnerSource OwnerSource `json:"owner_source"`
	OwnerBy     OwnerBasis  `json:"owner_by,omitempty"`
	TeamBy      OwnerBasis  `json:"team_by,omitempty"`
	Rule        string      `json:"rule,omitempty"`

	OldOwnerID     *int64      `json:"old_owner_id"`
	OldTeamID      *int64      `json:"old_team_id"`
	OldOwnerSource OwnerSource `json:"old_owner_source"`
}

// IdentityLinked is the payload of ActionIdentityLinked and
// ActionIdentityUnlinked: the link's kind and the external id it names;
// the identity it points at when one is known, and why a sync dropped it.
type IdentityLinked struct {
	Kind   LinkKind `json:"kind"`
	ToRef  string   `json:"to_ref"`
	ToID   *int64   `json:"to_id,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// LinkResolved is the payload of ActionIdentityLinkResolved: the pending
// link and the identity it now points at.
type LinkResolved struct {
	LinkID int64 `json:"link_id"`
	ToID   int64 `json:"to_id"`
}

// IdentityAttested is the payload of ActionIdentityAttested.
type IdentityAttested struct {
	PersonID int64  `json:"person_id"`
	Note     string `json:"note"`
}

// CredentialCreated is the payload of ActionCredentialCreated: the
// credential's metadata as created through the API, or its identity (and
// its status when a sync first sees it disabled).
type CredentialCreated struct {
	ID            int64            `json:"id,omitempty"`
	IdentityID    int64            `json:"identity_id"`
	ExternalID    string           `json:"external_id,omitempty"`
	Kind          CredentialKind   `json:"kind,omitempty"`
	Status        CredentialStatus `json:"status,omitempty"`
	CreatedAt     *time.Time       `json:"created_at,omitempty"`
	LastRotatedAt *time.Time       `json:"last_rotated_at,omitempty"`
	LastUsedAt    *time.Time       `json:"last_used_at,omitempty"`
	ExpiresAt     *time.Time       `json:"expires_at,omitempty"`
	Fingerprint   string           `json:"fingerprint,omitempty"`
}

// CredentialChanged is the payload of ActionCredentialUpdated,
// ActionCredentialRotated, ActionCredentialDisabled and
// ActionCredentialEnabled. A rotation Steward performed itself says so (By
// "steward", where the new secret went, whether the credential was new); a
// rotation a sync noticed without a time says what showed it.
type CredentialChanged struct {
	IdentityID int64   `json:"identity_id"`
	Changes    Changes `json:"changes"`
	Evidence   string  `json:"evidence,omitempty"`
	By         string  `json:"by,omitempty"`
	Sink       string  `json:"sink,omitempty"`
	Created    bool    `json:"created,omitempty"`
}

// CredentialRemoved is the payload of ActionCredentialRemoved.
type CredentialRemoved struct {
	IdentityID int64  `json:"identity_id"`
	Reason     string `json:"reason"`
}

// EntitlementCreated is the payload of ActionEntitlementCreated.
type EntitlementCreated struct {
	ID          int64     `json:"id,omitempty"`
	SystemID    int64     `json:"system_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Privileged  bool      `json:"privileged"`
	Sensitivity Level     `json:"sensitivity,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

// EntitlementChanged is the payload of ActionEntitlementUpdated.
type EntitlementChanged struct {
	Name    string  `json:"name"`
	Changes Changes `json:"changes"`
}

// EntitlementRemoved is the payload of ActionEntitlementRemoved.
type EntitlementRemoved struct {
	SystemID int64  `json:"system_id"`
	Reason   string `json:"reason"`
}

// GrantCreated is the payload of ActionGrantCreated: the grant as created
// through the API, or what a sync knew of it.
type GrantCreated struct {
	ID            int64      `json:"id,omitempty"`
	IdentityID    int64      `json:"identity_id"`
	EntitlementID int64      `json:"entitlement_id"`
	Entitlement   string     `json:"entitlement,omitempty"` // the entitlement's name
	Privileged    bool       `json:"privileged,omitempty"`
	Type          GrantType  `json:"type,omitempty"`
	GrantedAt     time.Time  `json:"granted_at,omitzero"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	GrantedVia    string     `json:"granted_via,omitempty"`
	Source        string     `json:"source,omitempty"`
}

// GrantChanged is the payload of ActionGrantUpdated.
type GrantChanged struct {
	Changes Changes `json:"changes"`
}

// GrantRemoved is the payload of ActionGrantRemoved.
type GrantRemoved struct {
	IdentityID    int64  `json:"identity_id"`
	EntitlementID int64  `json:"entitlement_id"`
	Entitlement   string `json:"entitlement"`
	Privileged    bool   `json:"privileged"`
	Reason        string `json:"reason"`
}

// RulesApplied is the payload of ActionOwnershipRulesApplied: the rules now
// in force, in order.
type RulesApplied struct {
	Rules []OwnershipRule `json:"rules"`
}

// CatalogApplied is the payload of ActionCatalogApplied: which version,
// the digest of its text, and what changed from the version before.
type CatalogApplied struct {
	Version int64           `json:"version"`
	Digest  string          `json:"digest"`
	Models  int             `json:"models"`
	Changes []CatalogChange `json:"changes"`
}

// TaskOpened is the payload of ActionTaskOpened.
type TaskOpened struct {
	Kind       string    `json:"kind"` // TaskKindOwnershipGap
	Gap        GapKind   `json:"gap,omitempty"`
	IdentityID int64     `json:"identity_id,omitempty"`
	DueAt      time.Time `json:"due_at"`
}

// TaskClosed is the payload of ActionTaskClosed.
type TaskClosed struct {
	Gap    GapKind `json:"gap,omitempty"`
	Reason string  `json:"reason"`
}

// JITGranted is the payload of ActionJITGranted.
type JITGranted struct {
	IdentityID    int64     `json:"identity_id"`
	EntitlementID int64     `json:"entitlement_id"`
	Entitlement   string    `json:"entitlement"`
	GrantedAt     time.Time `json:"granted_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	RequestID     *int64    `json:"request_id,omitempty"`
	GrantedBy     string    `json:"granted_by,omitempty"`
}

// JITExtended is the payload of ActionJITExtended.
type JITExtended struct {
	OldExpiresAt time.Time `json:"old_expires_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// JITExpiryWarned is the payload of ActionJITExpiryWarned.
type JITExpiryWarned struct {
	IdentityID int64     `json:"identity_id"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// JITGrantRevoked is the payload of ActionJITRevoked: when the target confirmed
// the revocation and how late it was (revoked at − expires at).
type JITGrantRevoked struct {
	IdentityID    int64     `json:"identity_id"`
	EntitlementID int64     `json:"entitlement_id"`
	ExpiresAt     time.Time `json:"expires_at"`
	RevokedAt     time.Time `json:"revoked_at"`
	LagMS         int64     `json:"lag_ms"`
	Attempts      int       `json:"attempts"`
}

// JITRevocationFailed is the payload of ActionJITRevocationFailed.
type JITRevocationFailed struct {
	IdentityID    int64     `json:"identity_id"`
	ExpiresAt     time.Time `json:"expires_at"`
	Attempts      int       `json:"attempts"`
	Error         string    `json:"error"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// RequestCreated is the payload of ActionRequestCreated: what was asked and
// what the catalog decided, with its reasons.
type RequestCreated struct {
	Model         string            `json:"model"`
	Requester     string            `json:"requester"`
	Identity      string            `json:"identity"`
	Target        AccessTarget      `json:"target"`
	Duration      Duration          `json:"duration,omitzero"`
	Justification map[string]string `json:"justification,omitempty"`
	State         RequestState      `json:"state"`
	Outcome       Outcome           `json:"outcome"`
	Reasons       []Reason          `json:"reasons"`
	Extends       *int64            `json:"extends,omitempty"`
}

// RequestChanged is the payload of a request's later steps (RequestChange):
// the state it left and entered, and what the step carried.
type RequestChanged struct {
	From       RequestState     `json:"from"`
	To         RequestState     `json:"to"`
	Approval   *RequestApproval `json:"approval,omitempty"`
	Level      int              `json:"level,omitempty"`
	Reason     string           `json:"reason,omitempty"`
	JITGrantID *int64           `json:"jit_grant_id,omitempty"`
	Attempts   int              `json:"attempts,omitempty"`
	Error      string           `json:"error,omitempty"`
}
