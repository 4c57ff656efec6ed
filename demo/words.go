package demo

// The word lists below are the vocabulary of the demo organisation. They are
// plain data, written by hand so that the generated estate reads like a real
// company's: team names an engineer would recognise, the services each team
// runs, and names from many cultures.
//
// Two properties keep generated names unique without remembering every name
// (see TestWordLists): no team name is another team name followed by "-",
// and within one team no service name is another followed by "-". Then
// "<team>-<service>-<component>" can be read back one way only.

// department groups teams under one director; its weight says how many
// non-human identities a member of its teams owns, relative to the others.
type department struct {
	key      string
	director string   // the title of its head
	lead     string   // the title of a team lead
	titles   []string // the titles of team members
	weight   int
	teams    []baseTeam
}

// technical reports whether d's people work on systems: engineering,
// platform, data and security. They have GitHub accounts, and only their
// teams are dissolved whole (a team that ran services and left them behind).
func (d *department) technical() bool {
	switch d.key {
	case "engineering", "platform", "data", "security":
		return true
	}
	return false
}

// baseTeam is a team name and the services it runs.
type baseTeam struct {
	name string
	apps []string
}

// departments lists the organisation's departments. Teams are taken from
// them round-robin, so a small organisation still has a bit of everything.
var departments = []department{
	{
		key: "engineering", director: "VP Engineering", lead: "Engineering Manager",
		titles: []string{"Software Engineer", "Senior Software Engineer", "Staff Engineer", "Backend Engineer",
			"Frontend Engineer", "Mobile Engineer", "QA Engineer", "Product Manager", "Principal Engineer"},
		weight: 10,
		teams: []baseTeam{
			{"payments", []string{"settlement", "payouts", "refunds", "chargebacks"}},
			{"checkout", []string{"cart", "basket", "promo", "tax"}},
			{"identity", []string{"auth", "sessions", "mfa", "profiles"}},
			{"orders", []string{"order", "returns", "invoicing", "tracking"}},
			{"catalog", []string{"products", "media", "taxonomy", "reviews"}},
			{"search", []string{"indexer", "ranking", "autocomplete", "query"}},
			{"notifications", []string{"email", "sms", "push", "templates"}},
			{"billing", []string{"subscriptions", "invoices", "metering", "dunning"}},
			{"ledger", []string{"journal", "balances", "recon", "statements"}},
			{"pricing", []string{"quotes", "discounts", "currency", "rules"}},
			{"inventory", []string{"stock", "warehouse", "reservations", "allocation"}},
			{"fulfilment", []string{"picking", "packing", "dispatch", "carriers"}},
			{"shipping", []string{"labels", "rates", "tracking", "customs"}},
			{"loyalty", []string{"points", "rewards", "tiers", "referrals"}},
			{"growth", []string{"experiments", "onboarding", "attribution", "campaigns"}},
			{"mobile-ios", []string{"app", "sdk", "deeplinks", "releases"}},
			{"mobile-android", []string{"app", "sdk", "deeplinks", "releases"}},
			{"web-frontend", []string{"storefront", "ssr", "assets", "cms"}},
			{"marketplace", []string{"sellers", "listings", "commissions", "onboarding"}},
			{"partner-api", []string{"gateway", "webhooks", "oauth", "sandbox"}},
			{"messaging", []string{"chat", "inbox", "realtime", "moderation"}},
			{"fraud", []string{"scoring", "rules", "signals", "cases"}},
			{"recommendations", []string{"feeds", "similar", "trending", "personalisation"}},
			{"customer-accounts", []string{"profiles", "preferences", "addresses", "consent"}},
			{"risk", []string{"limits", "kyc", "screening", "alerts"}},
			{"merchant-portal", []string{"dashboard", "reports", "exports", "settings"}},
			{"gift-cards", []string{"issuance", "redemption", "balances", "fraud"}},
			{"support-tools", []string{"console", "macros", "escalations", "sla"}},
			{"content", []string{"articles", "assets", "editorial", "translations"}},
			{"ads", []string{"bidding", "campaigns", "pacing", "reporting"}},
			{"maps", []string{"geocoding", "routing", "tiles", "places"}},
			{"delivery", []string{"eta", "couriers", "slots", "proof"}},
			{"b2b", []string{"accounts", "contracts", "procurement", "quotes"}},
			{"localisation", []string{"strings", "translations", "locales", "currency"}},
			{"media-processing", []string{"transcoding", "thumbnails", "uploads", "cdn"}},
			{"wallet", []string{"balances", "topups", "transfers", "cards"}},
			{"lending", []string{"origination", "servicing", "collections", "underwriting"}},
			{"insurance", []string{"policies", "claims", "quotes", "underwriting"}},
			{"tax-engine", []string{"rates", "filings", "exemptions", "nexus"}},
			{"acquiring", []string{"authorisation", "clearing", "tokens", "disputes"}},
			{"promotions", []string{"coupons", "vouchers", "banners", "rules"}},
			{"ugc", []string{"reviews", "ratings", "questions", "moderation"}},
			{"seller-tools", []string{"bulk", "feeds", "analytics", "pricing"}},
			{"subscriptions", []string{"plans", "renewals", "entitlements", "trials"}},
			{"booking", []string{"availability", "reservations", "calendar", "reminders"}},
			{"crm-integrations", []string{"salesforce", "hubspot", "sync", "mapping"}},
		},
	},
	{
		key: "platform", director: "VP Platform", lead: "Platform Engineering Manager",
		titles: []string{"Site Reliability Engineer", "Platform Engineer", "Senior Platform Engineer",
			"Infrastructure Engineer", "DevOps Engineer", "Staff SRE", "Network Engineer"},
		weight: 16,
		teams: []baseTeam{
			{"sre", []string{"oncall", "alerting", "runbooks", "chaos"}},
			{"cloud-infra", []string{"terraform", "vpc", "dns", "iam"}},
			{"kubernetes-platform", []string{"clusters", "ingress", "autoscaler", "admission"}},
			{"developer-experience", []string{"portal", "scaffolding", "docs", "cli"}},
			{"ci-cd", []string{"jenkins", "actions", "runners", "artifacts"}},
			{"release-engineering", []string{"pipelines", "versioning", "changelog", "rollouts"}},
			{"observability", []string{"metrics", "logging", "tracing", "dashboards"}},
			{"networking", []string{"edge", "loadbalancer", "vpn", "firewall"}},
			{"database-reliability", []string{"backups", "replication", "failover", "migrations"}},
			{"storage", []string{"objects", "blocks", "archive", "lifecycle"}},
			{"streaming", []string{"kafka", "schemas", "connectors", "mirrormaker"}},
			{"service-mesh", []string{"istio", "envoy", "certs", "policies"}},
			{"compute", []string{"fleet", "images", "spot", "capacity"}},
			{"edge", []string{"cdn", "waf", "ratelimit", "bots"}},
			{"caching", []string{"redis", "memcached", "warmers", "eviction"}},
			{"secrets-platform", []string{"vault", "rotation", "injector", "pki"}},
			{"cost-engineering", []string{"finops", "budgets", "rightsizing", "reports"}},
			{"build-systems", []string{"bazel", "cache", "toolchains", "remote"}},
			{"internal-tools", []string{"admin", "flags", "scheduler", "backoffice"}},
			{"platform-api", []string{"gateway", "quotas", "auth", "catalog"}},
			{"config-management", []string{"consul", "flags", "ansible", "puppet"}},
			{"traffic", []string{"routing", "canary", "failover", "shaping"}},
			{"dns", []string{"zones", "resolvers", "records", "dnssec"}},
			{"mobile-platform", []string{"builds", "signing", "crashes", "distribution"}},
		},
	},
	{
		key: "data", director: "Head of Data", lead: "Data Engineering Manager",
		titles: []string{"Data Engineer", "Senior Data Engineer", "Data Scientist", "Machine Learning Engineer",
			"Analytics Engineer", "Data Analyst", "Research Scientist"},
		weight: 12,
		teams: []baseTeam{
			{"data-platform", []string{"lakehouse", "ingestion", "catalog", "orchestration"}},
			{"data-engineering", []string{"pipelines", "etl", "cdc", "quality"}},
			{"analytics", []string{"dashboards", "metrics", "reports", "semantic"}},
			{"ml-infra", []string{"training", "serving", "features", "registry"}},
			{"ml-research", []string{"experiments", "notebooks", "datasets", "eval"}},
			{"data-science", []string{"forecasting", "churn", "ltv", "segmentation"}},
			{"bi", []string{"tableau", "looker", "extracts", "exports"}},
			{"data-governance", []string{"lineage", "classification", "retention", "access"}},
			{"experimentation", []string{"assignment", "analysis", "metrics", "sdk"}},
			{"realtime-analytics", []string{"flink", "aggregations", "alerts", "sessions"}},
			{"relevance", []string{"ltr", "judgments", "embeddings", "signals"}},
			{"feature-store", []string{"online", "offline", "backfill", "registry"}},
			{"data-warehouse", []string{"snowflake", "dbt", "marts", "loaders"}},
			{"ai-platform", []string{"llm-gateway", "embeddings", "agents", "evals"}},
			{"data-quality", []string{"checks", "contracts", "anomalies", "slas"}},
			{"geo-data", []string{"boundaries", "addresses", "enrichment", "imports"}},
		},
	},
	{
		key: "security", director: "Chief Information Security Officer", lead: "Security Engineering Manager",
		titles: []string{"Security Engineer", "Senior Security Engineer", "Security Analyst",
			"Detection Engineer", "GRC Analyst", "Penetration Tester", "Identity Engineer"},
		weight: 6,
		teams: []baseTeam{
			{"security", []string{"scanning", "siem", "secrets", "keys"}},
			{"appsec", []string{"sast", "dast", "bugbounty", "threatmodels"}},
			{"secops", []string{"soar", "triage", "forensics", "playbooks"}},
			{"iam", []string{"sso", "provisioning", "access-reviews", "pam"}},
			{"detection-response", []string{"detections", "edr", "hunting", "ir"}},
			{"grc", []string{"controls", "evidence", "policies", "vendors"}},
			{"cloud-security", []string{"cspm", "guardrails", "posture", "keys"}},
			{"product-security", []string{"reviews", "pentest", "sdl", "champions"}},
			{"pki", []string{"ca", "issuance", "ocsp", "hsm"}},
			{"trust-safety", []string{"abuse", "takedowns", "appeals", "signals"}},
		},
	},
	{
		key: "it", director: "Chief Information Officer", lead: "IT Manager",
		titles: []string{"IT Engineer", "Systems Administrator", "Corporate Engineer", "IT Support Specialist",
			"Collaboration Engineer"},
		weight: 5,
		teams: []baseTeam{
			{"it-ops", []string{"endpoints", "mdm", "patching", "assets"}},
			{"corp-eng", []string{"okta", "workday", "gsuite", "slack"}},
			{"helpdesk", []string{"tickets", "onboarding", "offboarding", "loaners"}},
			{"enterprise-apps", []string{"salesforce", "netsuite", "servicenow", "jira"}},
			{"it-security", []string{"dlp", "email-security", "casb", "phishing"}},
			{"collaboration", []string{"zoom", "confluence", "wiki", "calendars"}},
			{"workplace-tech", []string{"printers", "wifi", "rooms", "badges"}},
		},
	},
	{
		key: "business", director: "Chief Operating Officer", lead: "Operations Manager",
		titles: []string{"Financial Analyst", "Accountant", "Sales Operations Analyst", "Marketing Manager",
			"Support Specialist", "Counsel", "Recruiter", "HR Business Partner", "Buyer"},
		weight: 1,
		teams: []baseTeam{
			{"finance", []string{"payroll", "expenses", "forecasting", "treasury"}},
			{"sales-ops", []string{"crm", "territories", "quotas", "commissions"}},
			{"marketing-ops", []string{"emails", "landing", "seo", "attribution"}},
			{"customer-support", []string{"zendesk", "chatbot", "kb", "voice"}},
			{"legal", []string{"contracts", "ediscovery", "privacy", "matters"}},
			{"people-ops", []string{"hris", "recruiting", "benefits", "performance"}},
			{"procurement", []string{"vendors", "purchase-orders", "approvals", "spend"}},
			{"partnerships", []string{"referrals", "integrations", "portal", "payouts"}},
			{"facilities", []string{"badges", "desks", "visitors", "cameras"}},
			{"accounts-payable", []string{"invoices", "vendors", "payments", "approvals"}},
			{"revenue-operations", []string{"forecasts", "pipeline", "renewals", "pricing"}},
		},
	},
}

// squads name the sub-teams of a large organisation: when there are more
// teams than base names, every base team splits into "<base>-<squad>".
var squads = []string{"core", "platform", "api", "growth", "infra", "tooling", "insights", "reliability",
	"experience", "integrations", "automation", "foundations", "services", "operations", "quality",
	"enablement", "data", "mobile", "web", "edge"}

// components name the parts of a service that get their own identity:
// "settlement-worker", "settlement-migrator". None is an environment name.
var components = []string{"worker", "api", "cron", "consumer", "publisher", "migrator", "reader", "writer",
	"sync", "exporter", "scheduler", "gateway", "batch", "reporter", "webhook", "indexer", "proxy", "agent",
	"deployer", "backup"}

// secretWord is the last part of a stored secret's path and the kind of
// credential it holds.
type secretWord struct {
	name string
	kind string // a steward.CredentialKind
}

var secretWords = []secretWord{
	{"db-password", "password"}, {"api-key", "token"}, {"oauth-client-secret", "client_secret"},
	{"signing-key", "private_key"}, {"webhook-secret", "token"}, {"smtp-password", "password"},
	{"encryption-key", "private_key"}, {"ssh-deploy-key", "ssh_key"}, {"stripe-secret-key", "token"},
	{"jwt-secret", "token"}, {"redis-password", "password"}, {"kafka-credentials", "password"},
}

// wellKnownBots are the first GitHub apps of the organisation.
var wellKnownBots = []string{"dependabot[bot]", "github-actions[bot]", "renovate[bot]", "snyk-bot[bot]",
	"codecov[bot]", "sonarcloud[bot]"}

// firstNames and lastNames come from many languages; accents are kept in
// display names and folded to ASCII in e-mail addresses (see fold).
var firstNames = []string{
	"Aaliyah", "Aarav", "Abdullah", "Ada", "Adebayo", "Ahmed", "Aiko", "Aisha", "Akira", "Alejandro",
	"Alexei", "Amara", "Amir", "Ana", "Anders", "Andrea", "Anjali", "Anna", "Arjun", "Astrid",
	"Ayesha", "Babajide", "Beatriz", "Benjamin", "Bilal", "Bjørn", "Camila", "Carlos", "Chen", "Chiara",
	"Chidi", "Chloé", "Daniel", "Darius", "Deepa", "Diego", "Dmitri", "Elena", "Elif", "Emeka",
	"Emma", "Erik", "Esther", "Fatima", "Felipe", "Femi", "Freya", "Gabriel", "Giulia", "Hana",
	"Hannah", "Hassan", "Hiroshi", "Ibrahim", "Ines", "Ingrid", "Isabela", "Ivan", "Jakub", "James",
	"Javier", "Ji-woo", "Jin", "João", "Jonas", "José", "Julia", "Kai", "Kamala", "Karim",
	"Kenji", "Kofi", "Krzysztof", "Lakshmi", "Laura", "Leila", "Li", "Lucas", "Luis", "Maja",
	"Malik", "Mariam", "Marta", "Mateo", "Mei", "Mohammed", "Nadia", "Naledi", "Nikhil", "Nina",
	"Noah", "Noor", "Nuno", "Olga", "Oluwaseun", "Omar", "Oscar", "Pablo", "Palesa", "Pedro",
	"Priya", "Rafael", "Rahul", "Ravi", "Rosa", "Ruth", "Saanvi", "Samuel", "Sara", "Sebastián",
	"Seo-yeon", "Sipho", "Siobhán", "Sofia", "Sören", "Sunita", "Tariq", "Thabo", "Thomas", "Tomás",
	"Valentina", "Vikram", "Wei", "Xin", "Yara", "Yasmin", "Yuki", "Yusuf", "Zainab", "Zhang",
	"Zoë", "Łukasz", "Aleksandra", "Mehmet", "Ngozi", "Tuan", "Linh", "Mihai", "Ioana", "Kwame",
}

var lastNames = []string{
	"Abubakar", "Adeyemi", "Ahmed", "Alvarez", "Andersen", "Bakker", "Banerjee", "Becker", "Bianchi", "Boateng",
	"Brown", "Castillo", "Chatterjee", "Chen", "Cohen", "Costa", "Dang", "Das", "Diallo", "Dubois",
	"Dumitru", "Eriksson", "Fernández", "Ferreira", "Fischer", "Fontaine", "García", "Gonzalez", "Gupta", "Haddad",
	"Hansen", "Hernández", "Hoang", "Hossain", "Ibrahim", "Ito", "Iyer", "Jansen", "Jensen", "Johansson",
	"Johnson", "Kaplan", "Kapoor", "Kato", "Kaur", "Khan", "Kim", "Kowalski", "Kozlov", "Kumar",
	"Larsen", "Lee", "Lindqvist", "Liu", "Lopez", "Mahlangu", "Martin", "Martínez", "Mbeki", "Mendes",
	"Mensah", "Meyer", "Moreau", "Müller", "Murphy", "Nakamura", "Nascimento", "Nguyen", "Nielsen", "Novak",
	"Nowak", "O'Brien", "Okafor", "Okonkwo", "Oliveira", "Osei", "Ozturk", "Park", "Patel", "Pereira",
	"Petrov", "Popescu", "Quispe", "Rahman", "Ramos", "Reddy", "Rossi", "Ruiz", "Saito", "Santos",
	"Sato", "Schmidt", "Schneider", "Sharma", "Silva", "Singh", "Smith", "Sokolova", "Suzuki", "Svensson",
	"Takahashi", "Tanaka", "Tran", "Van der Berg", "Varga", "Vasquez", "Wagner", "Wang", "Williams", "Wiśniewski",
	"Wong", "Wu", "Yamamoto", "Yang", "Yilmaz", "Yusuf", "Zhang", "Zhou", "Zielinski", "Żukowski",
	"Achebe", "Cruz", "Doğan", "Halvorsen", "Kovačević", "Ncube", "Olsen", "Pham", "Rodríguez", "Tembo",
}

// folds maps accented letters to the ASCII used in e-mail addresses.
var folds = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ã': "a", 'ä': "ae", 'å': "a", 'ç': "c", 'č': "c", 'é': "e", 'è': "e",
	'ê': "e", 'ë': "e", 'ğ': "g", 'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ı': "i", 'ł': "l", 'ñ': "n",
	'ó': "o", 'ò': "o", 'ô': "o", 'õ': "o", 'ö': "oe", 'ø': "o", 'ś': "s", 'ş': "s", 'š': "s", 'ß': "ss",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "ue", 'ý': "y", 'ź': "z", 'ż': "z", 'ž': "z", 'ć': "c", 'ń': "n",
	'ő': "o", 'ű': "u", 'ř': "r", 'ň': "n", 'Ł': "l", 'Ż': "z",
}
