package steward

import (
	"slices"
	"strings"
)

// oneOf validates that v is one of the allowed values of a domain enum and
// returns an EINVALID error naming the field and the allowed values otherwise.
func oneOf[T ~string](field string, v T, allowed []T) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	if v == "" {
		return Errorf(EINVALID, "%s is required; one of: %s.", field, strings.Join(names, ", "))
	}
	return Errorf(EINVALID, "%s %q is not known; one of: %s.", field, string(v), strings.Join(names, ", "))
}

// PersonStatus says whether a person still works for the organisation.
type PersonStatus string

// Person statuses.
const (
	PersonActive   PersonStatus = "active"
	PersonDeparted PersonStatus = "departed"
)

// PersonStatuses lists every PersonStatus.
var PersonStatuses = []PersonStatus{PersonActive, PersonDeparted}

// Validate returns EINVALID unless s is a known status.
func (s PersonStatus) Validate() error { return oneOf("status", s, PersonStatuses) }

// SystemKind is the kind of a connected system.
type SystemKind string

// System kinds.
const (
	SystemAWS        SystemKind = "aws"
	SystemAzure      SystemKind = "azure"
	SystemGCP        SystemKind = "gcp"
	SystemKubernetes SystemKind = "kubernetes"
	SystemGitHub     SystemKind = "github"
	SystemPostgres   SystemKind = "postgres"
	SystemVault      SystemKind = "vault"
	SystemLDAP       SystemKind = "ldap"
	SystemOkta       SystemKind = "okta"
	SystemSaaS       SystemKind = "saas"
	SystemOther      SystemKind = "other"
)

// SystemKinds lists every SystemKind.
var SystemKinds = []SystemKind{SystemAWS, SystemAzure, SystemGCP, SystemKubernetes, SystemGitHub,
	SystemPostgres, SystemVault, SystemLDAP, SystemOkta, SystemSaaS, SystemOther}

// Validate returns EINVALID unless k is a known kind.
func (k SystemKind) Validate() error { return oneOf("system kind", k, SystemKinds) }

// IdentityKind is what sort of identity a row is: a person's account or one of
// the non-human kinds that outnumber people by tens to one.
type IdentityKind string

// Identity kinds.
const (
	KindHuman          IdentityKind = "human"
	KindServiceAccount IdentityKind = "service_account"
	KindAPIKey         IdentityKind = "api_key"
	KindToken          IdentityKind = "token"
	KindSecret         IdentityKind = "secret"
	KindCertificate    IdentityKind = "certificate"
	KindWorkload       IdentityKind = "workload"
	KindBot            IdentityKind = "bot"
)

// IdentityKinds lists every IdentityKind.
var IdentityKinds = []IdentityKind{KindHuman, KindServiceAccount, KindAPIKey, KindToken,
	KindSecret, KindCertificate, KindWorkload, KindBot}

// Validate returns EINVALID unless k is a known kind.
func (k IdentityKind) Validate() error { return oneOf("kind", k, IdentityKinds) }

// NonHuman reports whether k is a non-human identity kind.
func (k IdentityKind) NonHuman() bool { return k != KindHuman }

// Environment is the deployment stage an identity belongs to.
type Environment string

// Environments.
const (
	EnvProd    Environment = "prod"
	EnvStaging Environment = "staging"
	EnvDev     Environment = "dev"
)

// Environments lists every Environment.
var Environments = []Environment{EnvProd, EnvStaging, EnvDev}

// Validate returns EINVALID unless e is a known environment.
func (e Environment) Validate() error { return oneOf("environment", e, Environments) }

// Level grades criticality and sensitivity.
type Level string

// Levels, from least to most severe.
const (
	LevelLow      Level = "low"
	LevelMedium   Level = "medium"
	LevelHigh     Level = "high"
	LevelCritical Level = "critical"
)

// Levels lists every Level from least to most severe.
var Levels = []Level{LevelLow, LevelMedium, LevelHigh, LevelCritical}

// Validate returns EINVALID unless l is a known level.
func (l Level) Validate() error { return oneOf("level", l, Levels) }

// IdentityStatus is the lifecycle state of an identity in its system.
type IdentityStatus string

// Identity statuses. Removed identities are kept for the audit trail.
const (
	IdentityActive   IdentityStatus = "active"
	IdentityDisabled IdentityStatus = "disabled"
	IdentityRemoved  IdentityStatus = "removed"
)

// IdentityStatuses lists every IdentityStatus.
var IdentityStatuses = []IdentityStatus{IdentityActive, IdentityDisabled, IdentityRemoved}

// Validate returns EINVALID unless s is a known status.
func (s IdentityStatus) Validate() error { return oneOf("status", s, IdentityStatuses) }

// CredentialKind is what sort of secret material a credential is. Steward
// keeps only its metadata and a keyed fingerprint.
type CredentialKind string

// Credential kinds.
const (
	CredPassword     CredentialKind = "password"
	CredAccessKey    CredentialKind = "access_key"
	CredToken        CredentialKind = "token"
	CredCertificate  CredentialKind = "certificate"
	CredSSHKey       CredentialKind = "ssh_key"
	CredClientSecret CredentialKind = "client_secret"
	CredPrivateKey   CredentialKind = "private_key"
)

// CredentialKinds lists every CredentialKind.
var CredentialKinds = []CredentialKind{CredPassword, CredAccessKey, CredToken, CredCertificate,
	CredSSHKey, CredClientSecret, CredPrivateKey}

// Validate returns EINVALID unless k is a known kind.
func (k CredentialKind) Validate() error { return oneOf("credential kind", k, CredentialKinds) }

// CredentialStatus says whether a credential can authenticate.
type CredentialStatus string

// Credential statuses. A disabled credential is kept, with its dates: it can
// be enabled again, and it is evidence of what existed.
const (
	CredentialActive   CredentialStatus = "active"
	CredentialDisabled CredentialStatus = "disabled"
)

// CredentialStatuses lists every CredentialStatus.
var CredentialStatuses = []CredentialStatus{CredentialActive, CredentialDisabled}

// Validate returns EINVALID unless s is a known status.
func (s CredentialStatus) Validate() error { return oneOf("credential status", s, CredentialStatuses) }

// LinkKind says how one identity is tied to another.
type LinkKind string

// Link kinds.
const (
	// LinkAssumes: the identity acts as the other, which holds the access:
	// a Kubernetes service account that assumes an AWS IAM role (IRSA), a
	// workload that impersonates a cloud service account.
	LinkAssumes LinkKind = "assumes"
)

// LinkKinds lists every LinkKind.
var LinkKinds = []LinkKind{LinkAssumes}

// Validate returns EINVALID unless k is a known kind.
func (k LinkKind) Validate() error { return oneOf("link kind", k, LinkKinds) }

// GrantType says why a grant exists and how long it should live.
type GrantType string

// Grant types. Standing grants have no built-in end; jit and exception grants
// must carry an expiry.
const (
	GrantStanding  GrantType = "standing"
	GrantJIT       GrantType = "jit"
	GrantException GrantType = "exception"
)

// GrantTypes lists every GrantType.
var GrantTypes = []GrantType{GrantStanding, GrantJIT, GrantException}

// Validate returns EINVALID unless t is a known type.
func (t GrantType) Validate() error { return oneOf("grant type", t, GrantTypes) }

// Role is what an API token or signed-in user may do.
type Role string

// Roles. Issue 7 refines authorization per route; until then admin may do
// everything and viewer may only read.
const (
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
	// RoleAuditor reads everything and exports evidence, and writes nothing.
	RoleAuditor Role = "auditor"
	// RoleMember sees the catalog and acts on what they own; it is the role
	// of a person signed in through the OpenID provider whose groups map to
	// no other.
	RoleMember Role = "member"
)

// Roles lists every Role.
var Roles = []Role{RoleAdmin, RoleViewer, RoleAuditor, RoleMember}

// Validate returns EINVALID unless r is a known role.
func (r Role) Validate() error { return oneOf("role", r, Roles) }

// OwnerSources lists every OwnerSource an identity with an owner can have,
// from strongest to weakest (OwnerNone is the absence of one).
var OwnerSources = []OwnerSource{OwnerExplicit, OwnerFromTag, OwnerFromRule}

// TaskStatuses lists every TaskStatus.
var TaskStatuses = []TaskStatus{TaskOpen, TaskDone}
