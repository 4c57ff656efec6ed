package sqlstore

import (
	"testing"

	"github.com/stewardhq/steward"
)

// TestSortedPageSections: a sorted page does not read a section that its
// filters leave empty, the unknown keys under a range of the key itself or
// the known ones under never used. PostgreSQL walked every identity without
// a credential, in id order, to find none older than three years.
func TestSortedPageSections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sort           steward.IdentitySort
		f              steward.IdentityFilter
		known, unknown bool
	}{
		{steward.SortByCredentialAge, steward.IdentityFilter{CredentialOlderThan: 3 * 365}, true, false},
		{steward.SortByCredentialAgeDesc, steward.IdentityFilter{CredentialOlderThan: 30, Kind: steward.KindBot}, true, false},
		{steward.SortByCredentialAge, steward.IdentityFilter{UnusedFor: 30}, true, true},
		{steward.SortByLastUsed, steward.IdentityFilter{UnusedFor: 90}, true, false},
		{steward.SortByLastUsedDesc, steward.IdentityFilter{NeverUsed: true}, false, true},
		{steward.SortByLastUsed, steward.IdentityFilter{CredentialOlderThan: 30}, true, true},
		{steward.SortByCreated, steward.IdentityFilter{NeverUsed: true, CredentialOlderThan: 30}, true, true},
		{steward.SortByName, steward.IdentityFilter{NeverUsed: true, CredentialOlderThan: 30}, true, false},
	} {
		known, unknown := sections(tc.f, sortKeys[tc.sort.Key()])
		if known != tc.known || unknown != tc.unknown {
			t.Errorf("sort %s, %+v: reads known %v, unknown %v; want %v, %v", tc.sort, tc.f, known, unknown, tc.known, tc.unknown)
		}
	}
}
