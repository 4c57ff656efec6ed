package demo

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// checker follows a Generate stream and checks every row as a store would:
// it validates, its ID is the next of its table, its unique keys are unused
// and its references point to rows of this or an earlier batch. It also
// counts what the proportion tests need. Unique keys of identities and grants
// are remembered, which is fine at test sizes.
type checker struct {
	t      testing.TB
	now    time.Time
	errors int

	teams, people, systems, identities, credentials, entitlements, grants int64

	teamNames, systemNames, personExt, emails, entNames, extIDs map[string]bool
	grantKeys                                                   map[[2]int64]bool
	entPrivileged                                               []bool   // by entitlement ID
	entName                                                     []string // by entitlement ID, for privileged ones
	personDeparted                                              []bool   // by person ID
	personTeam                                                  []int64
	identityKind                                                []bool // by identity ID: non-human?
	identityOwner                                               []int64
	identityTeam                                                []int64
	found                                                       map[string]bool // which of wantNames occur
	maxBatch                                                    int
	teamName, personEmail                                       []string    // by ID
	identityActive                                              []bool      // by identity ID
	identityCreated                                             []time.Time // by identity ID
	batches, startsBatch, lastWithout                           int         // the batch that carried the gap history
	starts                                                      []steward.GapStart
	gapsOverdue, gapsRecent, gapsOld, gapMonths                 int
	ownedNHI, ownerFromTag, explicit, teamFromTag               int

	nhi, departed, unowned, ownerDeparted, neverUsed, staleUsed, recentlyUsed, labelled, terraform int
	olderThan5y, youngerThan1y, nhiGrants, oldUnrotated, oldUnrotatedKeys, accessKeys              int
	privileged, privilegedStanding, timeBound, futureExpiry, expiryWithin61d, humansOfActive       int
	teamInactive                                                                                   int
	kinds                                                                                          map[steward.IdentityKind]int
	envs                                                                                           map[steward.Environment]int
	levels                                                                                         map[steward.Level]int
	grantTypes                                                                                     map[steward.GrantType]int
	systemKinds                                                                                    map[steward.SystemKind]int
	standingAdmin                                                                                  map[string]int
}

func newChecker(t testing.TB, cfg Config) *checker {
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return &checker{
		t: t, now: cfg.Now,
		teamNames: map[string]bool{}, systemNames: map[string]bool{}, personExt: map[string]bool{}, emails: map[string]bool{},
		entNames: map[string]bool{}, extIDs: map[string]bool{}, grantKeys: map[[2]int64]bool{},
		entPrivileged: []bool{false}, entName: []string{""}, personDeparted: []bool{false}, personTeam: []int64{0},
		identityKind: []bool{false}, identityOwner: []int64{0}, identityTeam: []int64{0},
		teamName: []string{""}, personEmail: []string{""}, identityActive: []bool{false}, identityCreated: []time.Time{{}},
		kinds: map[steward.IdentityKind]int{}, envs: map[steward.Environment]int{}, levels: map[steward.Level]int{},
		grantTypes: map[steward.GrantType]int{}, systemKinds: map[steward.SystemKind]int{}, standingAdmin: map[string]int{},
		found: map[string]bool{},
	}
}

func (c *checker) fail(format string, args ...any) {
	c.t.Helper()
	c.errors++
	if c.errors <= 20 {
		c.t.Errorf(format, args...)
	}
}

// next checks that id follows *last and advances it.
func (c *checker) next(table string, last *int64, id int64) {
	c.t.Helper()
	if id != *last+1 {
		c.fail("%s id %d follows %d; want consecutive ids from 1", table, id, *last)
	}
	*last = id
}

func (c *checker) unique(set map[string]bool, what, key string) {
	c.t.Helper()
	if set[key] {
		c.fail("%s %q repeats", what, key)
	}
	set[key] = true
}

func (c *checker) ref(what string, id *int64, last int64) {
	c.t.Helper()
	if id != nil && (*id < 1 || *id > last) {
		c.fail("%s %d points to no earlier row (last is %d)", what, *id, last)
	}
}

func (c *checker) valid(what string, id int64, err error) {
	c.t.Helper()
	if err != nil {
		c.fail("%s %d does not validate: %v", what, id, err)
	}
}

// batch checks one batch; it has emit's signature.
func (c *checker) batch(b *steward.Bulk) error {
	c.t.Helper()
	c.maxBatch = max(c.maxBatch, b.Len())
	if b.Source == "" {
		c.fail("batch has no source")
	}
	c.batches++
	// Every batch defers its gaps but the last, which opens them with
	// when each began.
	if len(b.GapStarts) > 0 {
		if c.startsBatch != 0 || b.DeferGaps {
			c.fail("batch %d carries gap starts (deferring %v); only the last may, once", c.batches, b.DeferGaps)
		}
		c.startsBatch = c.batches
		c.starts = append(c.starts, b.GapStarts...)
	} else if !b.DeferGaps && c.startsBatch == 0 {
		c.lastWithout = c.batches
	}
	// Rows of one batch may refer to people of the same batch (a team's
	// manager), so people are counted before teams are checked.
	lastPerson := c.people + int64(len(b.People))
	for i := range b.Teams {
		r := &b.Teams[i]
		c.next("team", &c.teams, r.ID)
		c.valid("team", r.ID, r.Validate())
		c.unique(c.teamNames, "team name", r.Name)
		c.teamName = append(c.teamName, r.Name)
		c.ref("team manager", r.ManagerID, lastPerson)
	}
	for i := range b.People {
		r := &b.People[i]
		c.valid("person", r.ID, r.Validate())
		c.ref("person team", r.TeamID, c.teams)
		c.ref("person manager", r.ManagerID, c.people) // an earlier person
		c.next("person", &c.people, r.ID)
		c.unique(c.personExt, "person external id", r.ExternalID)
		c.unique(c.emails, "person email", r.Email)
		if r.Status == steward.PersonDeparted {
			c.departed++
		}
		c.personDeparted = append(c.personDeparted, r.Status == steward.PersonDeparted)
		c.personTeam = append(c.personTeam, *r.TeamID)
		c.personEmail = append(c.personEmail, r.Email)
	}
	for i := range b.Systems {
		r := &b.Systems[i]
		c.next("system", &c.systems, r.ID)
		c.valid("system", r.ID, r.Validate())
		c.unique(c.systemNames, "system name", r.Name)
		c.ref("system owner team", r.OwnerTeamID, c.teams)
		c.systemKinds[r.Kind]++
	}
	for i := range b.Entitlements {
		r := &b.Entitlements[i]
		c.next("entitlement", &c.entitlements, r.ID)
		c.valid("entitlement", r.ID, r.Validate())
		c.ref("entitlement system", &r.SystemID, c.systems)
		c.unique(c.entNames, "entitlement system and name", strconv.FormatInt(r.SystemID, 10)+"\x00"+r.Name)
		c.entPrivileged = append(c.entPrivileged, r.Privileged)
		c.entName = append(c.entName, r.Name)
	}
	for i := range b.Identities {
		r := &b.Identities[i]
		c.next("identity", &c.identities, r.ID)
		c.valid("identity", r.ID, r.Validate())
		c.ref("identity system", &r.SystemID, c.systems)
		c.ref("identity owner", r.OwnerID, c.people)
		c.ref("identity team", r.TeamID, c.teams)
		c.unique(c.extIDs, "identity system and external id", strconv.FormatInt(r.SystemID, 10)+"\x00"+r.ExternalID)
		if r.CreatedAt == nil {
			c.fail("identity %d has no creation time; the demo knows every one", r.ID)
			continue
		}
		if r.UpdatedAt.Before(*r.CreatedAt) || r.CreatedAt.After(c.now) || r.UpdatedAt.After(c.now) {
			c.fail("identity %d: created %v, updated %v, now %v", r.ID, r.CreatedAt, r.UpdatedAt, c.now)
		}
		if r.LastUsedAt != nil && r.LastUsedAt.After(c.now) {
			c.fail("identity %d used in the future", r.ID)
		}
		c.kinds[r.Kind]++
		c.envs[r.Environment]++
		c.levels[r.Criticality]++
		for _, w := range wantNames {
			if strings.Contains(r.Name, w) || strings.Contains(r.ExternalID, w) {
				c.found[w] = true
			}
		}
		owner, teamID := int64(0), int64(0)
		if r.OwnerID != nil {
			owner = *r.OwnerID
		}
		if r.TeamID != nil {
			teamID = *r.TeamID
		}
		c.identityKind = append(c.identityKind, r.Kind.NonHuman())
		c.identityOwner = append(c.identityOwner, owner)
		c.identityTeam = append(c.identityTeam, teamID)
		c.identityActive = append(c.identityActive, r.Status == steward.IdentityActive)
		c.identityCreated = append(c.identityCreated, *r.CreatedAt)
		c.provenance(r, owner, teamID)
		if !r.Kind.NonHuman() {
			if owner == 0 {
				c.fail("human identity %d has no owner", r.ID)
			} else if !c.personDeparted[owner] {
				c.humansOfActive++
			}
			continue
		}
		c.nhi++
		switch {
		case owner == 0:
			c.unowned++
		case c.personDeparted[owner]:
			c.ownerDeparted++
		}
		age := c.now.Sub(*r.CreatedAt)
		if age > 5*year {
			c.olderThan5y++
		} else if age < year {
			c.youngerThan1y++
		}
		switch {
		case r.LastUsedAt == nil:
			c.neverUsed++
		case c.now.Sub(*r.LastUsedAt) > 180*day:
			c.staleUsed++
		case c.now.Sub(*r.LastUsedAt) <= 3*day:
			c.recentlyUsed++
		}
		if len(r.Labels) > 0 {
			c.labelled++
			if r.Labels["team"] == "" || r.Labels["app"] == "" || r.Labels["cost-center"] == "" {
				c.fail("identity %d labels %v lack team, app or cost-center", r.ID, r.Labels)
			}
			if r.Labels["managed-by"] == "terraform" {
				c.terraform++
			}
		}
	}
	for i := range b.Credentials {
		r := &b.Credentials[i]
		c.next("credential", &c.credentials, r.ID)
		c.valid("credential", r.ID, r.Validate())
		c.ref("credential identity", &r.IdentityID, c.identities)
		if !fingerprintShape(r.Fingerprint) {
			c.fail("credential %d fingerprint %q is not 64 lower-case hex digits", r.ID, r.Fingerprint)
		}
		if r.CreatedAt == nil {
			c.fail("credential %d has no creation time; the demo knows every one", r.ID)
			continue
		}
		if r.LastRotatedAt != nil && (r.LastRotatedAt.Before(*r.CreatedAt) || r.LastRotatedAt.After(c.now)) {
			c.fail("credential %d rotated at %v, outside %v..now", r.ID, *r.LastRotatedAt, *r.CreatedAt)
		}
		if r.ExpiresAt != nil && r.LastUsedAt != nil && r.LastUsedAt.After(*r.ExpiresAt) {
			c.fail("credential %d used at %v, after it expired at %v", r.ID, *r.LastUsedAt, *r.ExpiresAt)
		}
		age, _ := r.Age(c.now)
		old := r.LastRotatedAt == nil && age > year
		if old {
			c.oldUnrotated++
		}
		if r.Kind == steward.CredAccessKey {
			c.accessKeys++
			if old {
				c.oldUnrotatedKeys++
			}
		}
	}
	for i := range b.Grants {
		r := &b.Grants[i]
		c.next("grant", &c.grants, r.ID)
		c.valid("grant", r.ID, r.Validate())
		c.ref("grant identity", &r.IdentityID, c.identities)
		c.ref("grant entitlement", &r.EntitlementID, c.entitlements)
		key := [2]int64{r.IdentityID, r.EntitlementID}
		if c.grantKeys[key] {
			c.fail("identity %d holds entitlement %d twice", r.IdentityID, r.EntitlementID)
		}
		c.grantKeys[key] = true
		if r.GrantedAt.After(c.now) {
			c.fail("grant %d granted in the future", r.ID)
		}
		c.grantTypes[r.Type]++
		if r.IdentityID <= c.identities && c.identityKind[r.IdentityID] {
			c.nhiGrants++
		}
		priv := r.EntitlementID <= c.entitlements && c.entPrivileged[r.EntitlementID]
		if priv {
			c.privileged++
			if r.Type == steward.GrantStanding {
				c.privilegedStanding++
				c.standingAdmin[c.entName[r.EntitlementID]]++
			}
		}
		if r.Type != steward.GrantStanding {
			c.timeBound++
			if r.ExpiresAt != nil && r.ExpiresAt.After(c.now) {
				c.futureExpiry++
			}
			if r.ExpiresAt != nil && r.ExpiresAt.Before(c.now.Add(61*day)) {
				c.expiryWithin61d++
			}
		}
	}
	return nil
}

// provenance checks that an identity says a tag set its owner or team only
// where its labels are that tag, and counts where owners came from.
func (c *checker) provenance(r *steward.Identity, owner, teamID int64) {
	if !r.Kind.NonHuman() {
		if r.OwnerSource != steward.OwnerFromTag {
			c.fail("human identity %d: owner source %q; the account's own system names its person", r.ID, r.OwnerSource)
		}
		return
	}
	if owner != 0 {
		c.ownedNHI++
	}
	switch r.OwnerSource {
	case steward.OwnerFromTag:
		if teamID == 0 || teamID > c.teams || r.Labels["team"] != c.teamName[teamID] {
			c.fail("identity %d: a tag set its team, but its team label %q is not its team %d", r.ID, r.Labels["team"], teamID)
		}
		if owner != 0 {
			c.ownerFromTag++
			if owner > c.people || r.Labels["owner"] != c.personEmail[owner] {
				c.fail("identity %d: a tag set its owner, but its owner label %q is not its owner %d", r.ID, r.Labels["owner"], owner)
			}
		} else {
			c.teamFromTag++
		}
	case steward.OwnerExplicit:
		c.explicit++
		if owner == 0 && teamID == 0 {
			c.fail("identity %d: explicitly assigned to nobody", r.ID)
		}
		if r.Labels["owner"] != "" {
			c.fail("identity %d: explicitly assigned, yet it has an owner tag", r.ID)
		}
	case steward.OwnerNone:
		if owner != 0 || teamID != 0 {
			c.fail("identity %d: owner %d and team %d from nowhere", r.ID, owner, teamID)
		}
		if r.Labels["team"] != "" {
			c.fail("identity %d: a team tag %q that did not set its team", r.ID, r.Labels["team"])
		}
	default:
		c.fail("identity %d: owner source %q", r.ID, r.OwnerSource)
	}
}

// finish computes what needs the whole stream, and checks the gap history
// against the gaps the rows make.
func (c *checker) finish() {
	c.t.Helper()
	inactive := c.inactiveTeams()
	type gapKey struct {
		id  int64
		gap steward.GapKind
	}
	want := map[gapKey]bool{}
	for id := int64(1); id <= c.identities; id++ {
		if c.identityKind[id] && inactive[c.identityTeam[id]] {
			c.teamInactive++
		}
		if !c.identityKind[id] || !c.identityActive[id] {
			continue
		}
		if o := c.identityOwner[id]; o == 0 {
			want[gapKey{id, steward.GapUnowned}] = true
		} else if c.personDeparted[o] {
			want[gapKey{id, steward.GapOwnerDeparted}] = true
		}
		if inactive[c.identityTeam[id]] {
			want[gapKey{id, steward.GapTeamInactive}] = true
		}
	}
	if len(want) > 0 && c.startsBatch != c.batches {
		c.fail("the gap history came in batch %d of %d; want the last", c.startsBatch, c.batches)
	}
	if c.lastWithout != 0 && c.lastWithout != c.batches {
		// Only the last may, when the organisation has no gap to date.
		c.fail("batch %d of %d neither defers its gaps nor opens them with their history", c.lastWithout, c.batches)
	}
	months := map[string]bool{}
	for _, st := range c.starts {
		k := gapKey{st.IdentityID, st.Gap}
		if !want[k] {
			c.fail("a start for identity %d's %s gap, which it does not have", st.IdentityID, st.Gap)
			continue
		}
		delete(want, k)
		if st.At.After(c.now) || st.At.Before(c.identityCreated[st.IdentityID]) || st.At.Before(c.now.Add(-adoptedAgo)) {
			c.fail("identity %d's %s gap began at %v: before it was created, before Steward was adopted, or in the future", st.IdentityID, st.Gap, st.At)
		}
		switch age := c.now.Sub(st.At); {
		case age <= 30*day:
			c.gapsRecent++
		case age > 90*day:
			c.gapsOld++
		}
		if st.At.Add(steward.GapDue[st.Gap]).Before(c.now) {
			c.gapsOverdue++
		}
		months[st.At.Format("2006-01")] = true
	}
	for k := range want {
		c.fail("identity %d's %s gap has no start", k.id, k.gap)
	}
	c.gapMonths = len(months)
	if c.errors > 20 {
		c.t.Errorf("... and %d more problems", c.errors-20)
	}
}

// inactiveTeams returns the teams with members, all of whom have left.
func (c *checker) inactiveTeams() map[int64]bool {
	members, active := map[int64]int{}, map[int64]int{}
	for id := int64(1); id <= c.people; id++ {
		members[c.personTeam[id]]++
		if !c.personDeparted[id] {
			active[c.personTeam[id]]++
		}
	}
	out := map[int64]bool{}
	for t, n := range members {
		if n > 0 && active[t] == 0 {
			out[t] = true
		}
	}
	return out
}

func (c *checker) deadTeams() int { return len(c.inactiveTeams()) }

// wantNames are parts of names and external ids that the default
// organisation must contain, as real estates do.
var wantNames = []string{"svc-payments-settlement-prod", "ci-deploy-checkout", "system:serviceaccount:payments:settlement-worker",
	"AKIA", "dependabot[bot]", "-bot[bot]", "api.payments.example.com", "accessor:", "uid=", "arn:aws:secretsmanager:",
	"@acme-data-platform-prod.iam.gserviceaccount.com", "payments_settlement"}

func fingerprintShape(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
