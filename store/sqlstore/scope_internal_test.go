package sqlstore

import "testing"

// TestScopeOfIDs: the scopes that name identities by id alone, whose gap
// tasks refreshGapsOf looks up through their identities.
func TestScopeOfIDs(t *testing.T) {
	for _, c := range []struct {
		s    identityScope
		want bool
	}{
		{oneIdentity(1), true},
		{identityIDs([]int64{1, 2}), true},
		{touchedIdentities(), true},
		{touchedIdentities().or(oneIdentity(3)), true},
		{everyIdentity(), false},
		{systemIdentities(1), false},
		{touchedIdentities().or(teamsIdentities([]int64{1})), false},
		{identityScope{}, false},
	} {
		if got := c.s.ofIDs(); got != c.want {
			t.Errorf("%+v.ofIDs() = %v, want %v", c.s, got, c.want)
		}
	}
}
