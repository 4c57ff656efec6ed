// Package storetest is the conformance suite every steward.Store passes.
// store/sqlstore runs it against SQLite and PostgreSQL; a new store runs it
// too (as River runs riverdrivertest against each driver).
package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Epoch is the time every suite clock starts at.
var Epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Opener returns a new, empty, migrated store that uses clock. It registers
// its own cleanup.
type Opener func(t *testing.T, clock steward.Clock) steward.Store

// Run runs the whole conformance suite. Each subtest gets a fresh store.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(t *testing.T, s steward.Store, clock *Clock){
		"Teams":            testTeams,
		"People":           testPeople,
		"Systems":          testSystems,
		"Identities":       testIdentities,
		"IdentityFilter":   testIdentityFilters,
		"Paging":           testPaging,
		"TextSearch":       testTextSearch,
		"Credentials":      testCredentials,
		"Entitlements":     testEntitlements,
		"Grants":           testGrants,
		"BulkLoad":         testBulkLoad,
		"BulkAtomic":       testBulkAtomic,
		"BulkHistory":      testBulkHistory,
		"BulkOwnerTags":    testBulkOwnerTags,
		"Stats":            testStats,
		"Tokens":           testTokens,
		"RegisterSteward":  testRegisterSteward,
		"StewardOwned":     testRegisterStewardOwned,
		"StewardTaken":     testRegisterStewardTaken,
		"Sessions":         testSessions,
		"PersonSessions":   testPersonSessions,
		"PersonBySignIn":   testPersonBySignIn,
		"AuditChain":       testAuditChain,
		"AuditEvents":      testAuditEvents,
		"ConcurrentAudit":  testConcurrentAudit,
		"Sync":             testSync,
		"SyncBadRecords":   testSyncBadRecords,
		"SyncPartial":      testSyncPartial,
		"SyncDigest":       testSyncDigest,
		"DigestAfterAPI":   testDigestAfterAPIWrites,
		"TagBeatsRule":     testTagBeatsRuleAfterPeopleSync,
		"PersonLater":      testPersonCreatedLater,
		"OwnershipRules":   testOwnershipRules,
		"Gaps":             testGaps,
		"GapsEveryWrite":   testGapsFollowEveryWrite,
		"SyncRuns":         testSyncRuns,
		"SyncPeople":       testSyncPeople,
		"OwnersInBulk":     testOwnersInBulk,
		"UnknownTimes":     testUnknownTimes,
		"DisabledCreds":    testDisabledCredentials,
		"Links":            testLinks,
		"RecordRotation":   testRecordRotation,
		"DisableIdentity":  testDisableIdentity,
		"RulesAgree":       testRulesAgree,
		"OwnersTeam":       testSetOwnerTakesOwnersTeam,
		"IdentityOrder":    testIdentityOrder,
		"LookupsByName":    testLookupsByName,
		"WriteDuringSync":  testWriteDuringSync,
		"RequestRoundTrip": testRequestRoundTrip,
		"RequestList":      testRequestList,
		"RequestChange":    testRequestChange,
		"RequestRace":      testRequestChangeRace,
		"RequestAtomic":    testRequestAtomic,
		"UnmatchedDemand":  testUnmatchedDemand,
		"Catalog":          testCatalog,
		"JITRecord":        testJITRecord,
		"JITExpiry":        testJITExpiry,
		"JITClaimsOnce":    testJITClaimsOnce,
		"JITPipelined":     testJITPipelined,
		"JITWarnExtend":    testJITWarnAndExtend,
		"JITAndSync":       testJITAndSync,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(Epoch)
			fn(t, open(t, clock), clock)
		})
	}
}

var uniq atomic.Int64

// next returns a number unique within the test binary, for unique names.
func next() int64 { return uniq.Add(1) }

func ctx() context.Context { return steward.WithActor(context.Background(), "test:storetest") }

// MustTeam creates a team with defaults that mod may change.
func MustTeam(tb testing.TB, s steward.Store, mod func(*steward.Team)) *steward.Team {
	tb.Helper()
	t := &steward.Team{Name: fmt.Sprintf("team-%d", next()), DisplayName: "A team"}
	if mod != nil {
		mod(t)
	}
	if err := s.CreateTeam(ctx(), t); err != nil {
		tb.Fatalf("create team: %v", err)
	}
	return t
}

// MustPerson creates a person with defaults that mod may change.
func MustPerson(tb testing.TB, s steward.Store, mod func(*steward.Person)) *steward.Person {
	tb.Helper()
	n := next()
	p := &steward.Person{ExternalID: fmt.Sprintf("u%d", n), Name: fmt.Sprintf("Person %d", n), Email: fmt.Sprintf("p%d@example.test", n), Status: steward.PersonActive}
	if mod != nil {
		mod(p)
	}
	if err := s.CreatePerson(ctx(), p); err != nil {
		tb.Fatalf("create person: %v", err)
	}
	return p
}

// MustSystem creates a system with defaults that mod may change.
func MustSystem(tb testing.TB, s steward.Store, mod func(*steward.System)) *steward.System {
	tb.Helper()
	sys := &steward.System{Name: fmt.Sprintf("sys-%d", next()), Kind: steward.SystemAWS}
	if mod != nil {
		mod(sys)
	}
	if err := s.CreateSystem(ctx(), sys); err != nil {
		tb.Fatalf("create system: %v", err)
	}
	return sys
}

// MustIdentity creates an identity on system with defaults that mod may change.
func MustIdentity(tb testing.TB, s steward.Store, systemID int64, mod func(*steward.Identity)) *steward.Identity {
	tb.Helper()
	n := next()
	i := &steward.Identity{SystemID: systemID, ExternalID: fmt.Sprintf("ext-%d", n), Name: fmt.Sprintf("svc-%d", n),
		Kind: steward.KindServiceAccount, Environment: steward.EnvProd, Criticality: steward.LevelMedium, Status: steward.IdentityActive}
	if mod != nil {
		mod(i)
	}
	if err := s.CreateIdentity(ctx(), i); err != nil {
		tb.Fatalf("create identity: %v", err)
	}
	return i
}

// MustEntitlement creates an entitlement on system with defaults that mod may change.
func MustEntitlement(tb testing.TB, s steward.Store, systemID int64, mod func(*steward.Entitlement)) *steward.Entitlement {
	tb.Helper()
	e := &steward.Entitlement{SystemID: systemID, Name: fmt.Sprintf("role-%d", next()), Sensitivity: steward.LevelLow}
	if mod != nil {
		mod(e)
	}
	if err := s.CreateEntitlement(ctx(), e); err != nil {
		tb.Fatalf("create entitlement: %v", err)
	}
	return e
}

// MustGrant creates a standing grant with defaults that mod may change.
func MustGrant(tb testing.TB, s steward.Store, identityID, entitlementID int64, mod func(*steward.Grant)) *steward.Grant {
	tb.Helper()
	g := &steward.Grant{IdentityID: identityID, EntitlementID: entitlementID, Type: steward.GrantStanding, GrantedVia: "test"}
	if mod != nil {
		mod(g)
	}
	if err := s.CreateGrant(ctx(), g); err != nil {
		tb.Fatalf("create grant: %v", err)
	}
	return g
}

// wantCode fails unless err carries code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := steward.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func ptr[T any](v T) *T { return &v }
