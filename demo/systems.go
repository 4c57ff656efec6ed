package demo

import "github.com/stewardhq/steward"

// nhiKind indexes the non-human identity kinds in the weight tables below.
type nhiKind int

// The non-human kinds, in the order of their weights.
const (
	nhiServiceAccount nhiKind = iota
	nhiAPIKey
	nhiToken
	nhiSecret
	nhiCertificate
	nhiWorkload
	nhiBot
	nhiKinds
)

// identityKinds maps nhiKind to the domain kind.
var identityKinds = [nhiKinds]steward.IdentityKind{steward.KindServiceAccount, steward.KindAPIKey,
	steward.KindToken, steward.KindSecret, steward.KindCertificate, steward.KindWorkload, steward.KindBot}

// kindWeights says how common each non-human kind is across the estate.
var kindWeights = [nhiKinds]int{26, 17, 12, 16, 9, 14, 6}

// systemSpec describes one connected system of the demo organisation.
type systemSpec struct {
	name    string
	kind    steward.SystemKind
	env     steward.Environment // "" when the system holds every environment
	desc    string
	owner   string // base name of the team that runs it
	region  string
	weights [nhiKinds]int // how many non-human identities of each kind live here, relatively
}

// systemSpecs is the organisation's estate: several AWS accounts and GCP
// projects, Kubernetes clusters, a GitHub organisation, PostgreSQL databases,
// Vault, Okta, the corporate directory and a few SaaS tools.
var systemSpecs = []systemSpec{
	//                                                                                                  sa ak tok sec cert wl bot
	{"aws-prod-core", steward.SystemAWS, steward.EnvProd, "AWS account for the core production services", "cloud-infra", "eu-west-1", [nhiKinds]int{6, 6, 0, 6, 4, 3, 0}},
	{"aws-prod-payments", steward.SystemAWS, steward.EnvProd, "AWS account for the PCI-scoped payment services", "payments", "eu-west-1", [nhiKinds]int{4, 4, 0, 4, 3, 2, 0}},
	{"aws-prod-data", steward.SystemAWS, steward.EnvProd, "AWS account for the data lake and pipelines", "data-platform", "us-east-1", [nhiKinds]int{4, 4, 0, 3, 1, 2, 0}},
	{"aws-shared-services", steward.SystemAWS, steward.EnvProd, "AWS account for CI runners, artifact stores and DNS", "cloud-infra", "eu-west-1", [nhiKinds]int{2, 2, 0, 2, 2, 1, 0}},
	{"aws-security-audit", steward.SystemAWS, steward.EnvProd, "AWS account for security tooling and audit roles", "security", "eu-west-1", [nhiKinds]int{1, 1, 0, 1, 0, 0, 0}},
	{"aws-log-archive", steward.SystemAWS, steward.EnvProd, "AWS account holding the organisation's CloudTrail and log archive", "security", "eu-west-1", [nhiKinds]int{1, 1, 0, 0, 0, 0, 0}},
	{"aws-staging", steward.SystemAWS, steward.EnvStaging, "AWS account for staging", "cloud-infra", "eu-west-1", [nhiKinds]int{4, 4, 0, 3, 2, 2, 0}},
	{"aws-dev", steward.SystemAWS, steward.EnvDev, "AWS account for development", "cloud-infra", "eu-west-1", [nhiKinds]int{4, 5, 0, 3, 1, 2, 0}},
	{"aws-sandbox", steward.SystemAWS, steward.EnvDev, "AWS sandbox account for experiments", "developer-experience", "us-east-1", [nhiKinds]int{2, 3, 0, 1, 0, 1, 0}},
	{"gcp-data-platform-prod", steward.SystemGCP, steward.EnvProd, "GCP project for BigQuery and the data platform", "data-platform", "europe-west1", [nhiKinds]int{4, 3, 0, 2, 0, 2, 0}},
	{"gcp-ml-training", steward.SystemGCP, steward.EnvProd, "GCP project for model training on GPUs", "ml-infra", "us-central1", [nhiKinds]int{3, 3, 0, 1, 0, 2, 0}},
	{"gcp-analytics-dev", steward.SystemGCP, steward.EnvDev, "GCP project for analytics development", "analytics", "europe-west1", [nhiKinds]int{2, 2, 0, 1, 0, 1, 0}},
	{"k8s-prod-eu-west-1", steward.SystemKubernetes, steward.EnvProd, "Production Kubernetes cluster in Ireland", "kubernetes-platform", "eu-west-1", [nhiKinds]int{0, 0, 2, 0, 3, 14, 0}},
	{"k8s-prod-us-east-1", steward.SystemKubernetes, steward.EnvProd, "Production Kubernetes cluster in Virginia", "kubernetes-platform", "us-east-1", [nhiKinds]int{0, 0, 2, 0, 3, 12, 0}},
	{"k8s-staging", steward.SystemKubernetes, steward.EnvStaging, "Staging Kubernetes cluster", "kubernetes-platform", "eu-west-1", [nhiKinds]int{0, 0, 1, 0, 2, 8, 0}},
	{"k8s-dev", steward.SystemKubernetes, steward.EnvDev, "Development Kubernetes cluster", "kubernetes-platform", "eu-west-1", [nhiKinds]int{0, 0, 1, 0, 1, 6, 0}},
	{"github-acme", steward.SystemGitHub, "", "The acme GitHub organisation: source, CI and packages", "developer-experience", "", [nhiKinds]int{0, 3, 10, 0, 0, 0, 10}},
	{"pg-payments-prod", steward.SystemPostgres, steward.EnvProd, "PostgreSQL cluster for payments and the ledger", "payments", "eu-west-1", [nhiKinds]int{3, 0, 0, 0, 0, 0, 0}},
	{"pg-orders-prod", steward.SystemPostgres, steward.EnvProd, "PostgreSQL cluster for orders and fulfilment", "orders", "eu-west-1", [nhiKinds]int{3, 0, 0, 0, 0, 0, 0}},
	{"pg-identity-prod", steward.SystemPostgres, steward.EnvProd, "PostgreSQL cluster for customer identity", "identity", "eu-west-1", [nhiKinds]int{3, 0, 0, 0, 0, 0, 0}},
	{"pg-catalog-prod", steward.SystemPostgres, steward.EnvProd, "PostgreSQL cluster for the product catalog", "catalog", "eu-west-1", [nhiKinds]int{3, 0, 0, 0, 0, 0, 0}},
	{"pg-analytics-prod", steward.SystemPostgres, steward.EnvProd, "PostgreSQL reporting replica", "analytics", "us-east-1", [nhiKinds]int{2, 0, 0, 0, 0, 0, 0}},
	{"pg-staging", steward.SystemPostgres, steward.EnvStaging, "Shared PostgreSQL cluster for staging", "database-reliability", "eu-west-1", [nhiKinds]int{2, 0, 0, 0, 0, 0, 0}},
	{"pg-dev", steward.SystemPostgres, steward.EnvDev, "Shared PostgreSQL cluster for development", "database-reliability", "eu-west-1", [nhiKinds]int{2, 0, 0, 0, 0, 0, 0}},
	{"vault-prod", steward.SystemVault, steward.EnvProd, "HashiCorp Vault for production secrets and PKI", "secrets-platform", "eu-west-1", [nhiKinds]int{0, 0, 10, 14, 6, 0, 0}},
	{"vault-nonprod", steward.SystemVault, "", "HashiCorp Vault for staging and development", "secrets-platform", "eu-west-1", [nhiKinds]int{0, 0, 6, 6, 3, 0, 0}},
	{"okta-acme", steward.SystemOkta, "", "Okta: workforce sign-on for every employee", "corp-eng", "", [nhiKinds]int{2, 0, 2, 0, 0, 0, 0}},
	{"ldap-corp", steward.SystemLDAP, "", "The corporate directory (OpenLDAP)", "it-ops", "", [nhiKinds]int{4, 0, 0, 0, 0, 0, 0}},
	{"datadog", steward.SystemSaaS, "", "Datadog monitoring", "observability", "", [nhiKinds]int{0, 4, 0, 0, 0, 0, 0}},
	{"pagerduty", steward.SystemSaaS, "", "PagerDuty on-call and incident response", "sre", "", [nhiKinds]int{0, 1, 0, 0, 0, 0, 0}},
	{"snowflake", steward.SystemSaaS, "", "Snowflake data warehouse", "data-warehouse", "", [nhiKinds]int{2, 0, 0, 0, 0, 0, 0}},
	{"slack", steward.SystemSaaS, "", "Slack workspace", "collaboration", "", [nhiKinds]int{0, 0, 0, 0, 0, 0, 2}},
}

// entitlementSpec is one permission or role in a system's catalogue.
type entitlementSpec struct {
	name        string
	privileged  bool
	sensitivity steward.Level
	desc        string
}

// Shorthands keep the catalogues below readable.
const (
	low  = steward.LevelLow
	med  = steward.LevelMedium
	high = steward.LevelHigh
	crit = steward.LevelCritical
)

// catalogue returns the entitlements every system of spec's kind offers, and
// whether the system also has a pair of entitlements per team (a deploy
// role, a namespace, a GitHub team, a Vault policy).
func catalogue(spec *systemSpec) (base []entitlementSpec, perTeam bool) {
	switch spec.kind {
	case steward.SystemAWS:
		return []entitlementSpec{
			{"AdministratorAccess", true, crit, "AWS managed policy: full access to every service"},
			{"PowerUserAccess", true, high, "AWS managed policy: everything except IAM and Organizations"},
			{"IAMFullAccess", true, crit, "AWS managed policy: create users, roles and keys"},
			{"SecretsManagerReadWrite", true, high, "AWS managed policy: read and write every secret"},
			{"AmazonS3FullAccess", true, high, "AWS managed policy"},
			{"AmazonEC2FullAccess", true, high, "AWS managed policy"},
			{"AmazonRDSFullAccess", true, high, "AWS managed policy"},
			{"AWSKeyManagementServicePowerUser", true, high, "AWS managed policy"},
			{"ReadOnlyAccess", false, low, "AWS managed policy: read every resource"},
			{"ViewOnlyAccess", false, low, "AWS managed policy"},
			{"SecurityAudit", false, med, "AWS managed policy: read security configuration"},
			{"AmazonS3ReadOnlyAccess", false, low, "AWS managed policy"},
			{"AmazonDynamoDBFullAccess", false, med, "AWS managed policy"},
			{"AWSLambda_FullAccess", false, med, "AWS managed policy"},
			{"AmazonSQSFullAccess", false, med, "AWS managed policy"},
			{"AmazonSNSFullAccess", false, med, "AWS managed policy"},
			{"CloudWatchLogsReadOnlyAccess", false, low, "AWS managed policy"},
			{"AmazonEC2ContainerRegistryReadOnly", false, low, "AWS managed policy"},
			{"AmazonEKSClusterPolicy", false, med, "AWS managed policy"},
			{"Billing", false, med, "AWS managed job-function policy"},
		}, true
	case steward.SystemGCP:
		return []entitlementSpec{
			{"roles/owner", true, crit, "Full control of the project, including IAM"},
			{"roles/editor", true, high, "Change every resource in the project"},
			{"roles/iam.serviceAccountTokenCreator", true, high, "Impersonate service accounts"},
			{"roles/iam.serviceAccountKeyAdmin", true, high, "Create and delete service account keys"},
			{"roles/storage.admin", true, high, ""},
			{"roles/viewer", false, low, ""},
			{"roles/storage.objectViewer", false, low, ""},
			{"roles/storage.objectCreator", false, med, ""},
			{"roles/bigquery.dataEditor", false, med, ""},
			{"roles/bigquery.dataViewer", false, low, ""},
			{"roles/bigquery.jobUser", false, low, ""},
			{"roles/pubsub.publisher", false, low, ""},
			{"roles/pubsub.subscriber", false, low, ""},
			{"roles/cloudsql.client", false, low, ""},
			{"roles/secretmanager.secretAccessor", false, med, ""},
			{"roles/container.developer", false, med, ""},
		}, false
	case steward.SystemKubernetes:
		return []entitlementSpec{
			{"clusterrole:cluster-admin", true, crit, "Superuser on the whole cluster"},
			{"clusterrole:admin", true, high, "Admin in every namespace"},
			{"clusterrole:secrets-reader", true, high, "Read every Secret in the cluster"},
			{"clusterrole:psp-privileged", true, high, "Run privileged pods"},
			{"clusterrole:namespace-creator", true, med, ""},
			{"clusterrole:edit", false, med, ""},
			{"clusterrole:view", false, low, ""},
			{"clusterrole:system:auth-delegator", false, med, ""},
			{"clusterrole:monitoring-reader", false, low, ""},
			{"clusterrole:ingress-controller", false, med, ""},
			{"clusterrole:external-dns", false, med, ""},
			{"clusterrole:cert-manager", false, med, ""},
		}, true
	case steward.SystemGitHub:
		return []entitlementSpec{
			{"org:owner", true, crit, "Owner of the GitHub organisation"},
			{"org:security-manager", true, high, ""},
			{"permission:administration:write", true, high, "Change repository settings and branch protection"},
			{"permission:secrets:write", true, high, "Write Actions secrets"},
			{"org:member", false, low, ""},
			{"org:billing-manager", false, med, ""},
			{"permission:contents:read", false, low, ""},
			{"permission:contents:write", false, med, ""},
			{"permission:pull_requests:write", false, low, ""},
			{"permission:actions:write", false, med, ""},
			{"permission:packages:write", false, med, ""},
			{"permission:workflows:write", false, med, ""},
			{"permission:checks:write", false, low, ""},
			{"permission:issues:write", false, low, ""},
		}, true
	case steward.SystemPostgres:
		return []entitlementSpec{
			{"SUPERUSER", true, crit, "Bypasses every permission check"},
			{"rds_superuser", true, crit, ""},
			{"CREATEROLE", true, high, "Creates and alters roles"},
			{"REPLICATION", true, high, "Streams the whole database"},
			{"pg_write_all_data", true, high, ""},
			{"pg_read_all_data", true, high, ""},
			{"db_owner", true, high, "Owns the application schemas"},
			{"app_rw", false, med, "Read and write the application schemas"},
			{"app_ro", false, low, "Read the application schemas"},
			{"pg_monitor", false, low, ""},
			{"pg_signal_backend", false, med, ""},
			{"migrations", false, med, "Runs schema migrations"},
			{"reporting_ro", false, low, ""},
		}, false
	case steward.SystemVault:
		return []entitlementSpec{
			{"policy:root", true, crit, "Vault root policy: everything"},
			{"policy:admin", true, crit, ""},
			{"policy:pki-issuer", true, high, "Issue certificates from the intermediate CA"},
			{"policy:sys-audit", true, high, ""},
			{"policy:default", false, low, ""},
			{"policy:kv-read", false, low, ""},
			{"policy:kv-write", false, med, ""},
			{"policy:transit-encrypt", false, med, ""},
			{"policy:transit-decrypt", false, med, ""},
			{"policy:approle-login", false, low, ""},
			{"policy:database-creds", false, med, "Dynamic database credentials"},
			{"policy:aws-creds", false, med, "Dynamic AWS credentials"},
		}, true
	case steward.SystemOkta:
		return []entitlementSpec{
			{"Super Administrator", true, crit, ""},
			{"Organization Administrator", true, high, ""},
			{"Application Administrator", true, high, ""},
			{"API Access Management Administrator", true, high, ""},
			{"Read-only Administrator", false, med, ""},
			{"Help Desk Administrator", false, med, ""},
			{"group:Everyone", false, low, ""},
			{"group:Engineering", false, low, ""},
			{"group:Contractors", false, low, ""},
			{"app:AWS IAM Identity Center", false, med, ""},
			{"app:GitHub", false, low, ""},
			{"app:Datadog", false, low, ""},
			{"app:Snowflake", false, med, ""},
			{"app:Slack", false, low, ""},
		}, false
	case steward.SystemLDAP:
		return []entitlementSpec{
			{"cn=domain-admins,ou=groups,dc=example,dc=com", true, crit, ""},
			{"cn=sudoers,ou=groups,dc=example,dc=com", true, high, ""},
			{"cn=jenkins-admins,ou=groups,dc=example,dc=com", true, high, ""},
			{"cn=employees,ou=groups,dc=example,dc=com", false, low, ""},
			{"cn=engineering,ou=groups,dc=example,dc=com", false, low, ""},
			{"cn=vpn-users,ou=groups,dc=example,dc=com", false, low, ""},
			{"cn=wiki-editors,ou=groups,dc=example,dc=com", false, low, ""},
			{"cn=service-accounts,ou=groups,dc=example,dc=com", false, low, ""},
			{"cn=build-agents,ou=groups,dc=example,dc=com", false, med, ""},
		}, false
	}
	switch spec.name {
	case "datadog":
		return []entitlementSpec{
			{"Datadog Admin Role", true, high, ""},
			{"api_keys_write", true, high, ""},
			{"Datadog Standard Role", false, med, ""},
			{"Datadog Read Only Role", false, low, ""},
			{"logs_read_data", false, med, ""},
			{"metrics_write", false, low, ""},
			{"monitors_write", false, low, ""},
		}, false
	case "snowflake":
		return []entitlementSpec{
			{"ACCOUNTADMIN", true, crit, ""},
			{"SECURITYADMIN", true, crit, ""},
			{"SYSADMIN", true, high, ""},
			{"ANALYST", false, med, ""},
			{"LOADER", false, med, ""},
			{"TRANSFORMER", false, med, ""},
			{"REPORTING_RO", false, low, ""},
			{"PUBLIC", false, low, ""},
		}, false
	case "slack":
		return []entitlementSpec{
			{"scope:admin", true, high, ""},
			{"scope:channels:history", true, med, "Read every public channel"},
			{"scope:chat:write", false, low, ""},
			{"scope:channels:read", false, low, ""},
			{"scope:users:read", false, low, ""},
			{"scope:files:write", false, low, ""},
			{"scope:commands", false, low, ""},
		}, false
	}
	return []entitlementSpec{
		{"admin", true, high, ""},
		{"manager", false, med, ""},
		{"user", false, low, ""},
		{"observer", false, low, ""},
		{"responder", false, low, ""},
		{"api:read", false, low, ""},
		{"api:write", false, med, ""},
	}, false
}

// teamEntitlements names the two per-team entitlements of a system kind:
// one that changes things and one that reads.
func teamEntitlements(kind steward.SystemKind, team string) [2]entitlementSpec {
	switch kind {
	case steward.SystemAWS:
		return [2]entitlementSpec{{"role/" + team + "-deployer", false, med, ""}, {"role/" + team + "-readonly", false, low, ""}}
	case steward.SystemKubernetes:
		return [2]entitlementSpec{{"namespace:" + team + ":edit", false, med, ""}, {"namespace:" + team + ":view", false, low, ""}}
	case steward.SystemGitHub:
		return [2]entitlementSpec{{"team:" + team + ":maintain", false, med, ""}, {"team:" + team + ":write", false, low, ""}}
	default:
		return [2]entitlementSpec{{"policy:" + team + "-write", false, med, ""}, {"policy:" + team + "-read", false, low, ""}}
	}
}
