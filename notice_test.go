package steward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestOwnerChangeConcernsPeople(t *testing.T) {
	t.Parallel()
	one, two, alsoOne := int64(1), int64(2), int64(1)
	for _, tc := range []struct {
		name            string
		previous, owner *int64
		concerns        bool
	}{
		{"nobody to nobody", nil, nil, false},
		{"nobody to a person", nil, &one, true},
		{"a person to nobody", &one, nil, true},
		{"one person to another", &one, &two, true},
		{"the same person again", &one, &alsoOne, false},
	} {
		if got := steward.OwnerChangeConcernsPeople(tc.previous, tc.owner); got != tc.concerns {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.concerns)
		}
	}
}

func TestOwnerAssignedNotices(t *testing.T) {
	t.Parallel()
	alice, bob := int64(10), int64(20)
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	base := steward.OwnerAssigned{IdentityID: 7, IdentityName: "ci-deployer", SystemName: "aws-prod", By: "token:carol", At: at}
	for _, tc := range []struct {
		name  string
		mod   func(*steward.OwnerAssigned)
		want  []int64  // who is told, in order
		words []string // what each is told, in part
	}{
		{"assigned", func(j *steward.OwnerAssigned) { j.OwnerID, j.OwnerName = &alice, "Alice" },
			[]int64{alice}, []string{"You now own ci-deployer on aws-prod"}},
		{"moved", func(j *steward.OwnerAssigned) {
			j.OwnerID, j.OwnerName, j.PreviousOwnerID, j.PreviousOwnerName = &alice, "Alice", &bob, "Bob"
		}, []int64{alice, bob}, []string{"previous owner was Bob", "Its owner is now Alice"}},
		{"cleared", func(j *steward.OwnerAssigned) { j.PreviousOwnerID, j.PreviousOwnerName = &bob, "Bob" },
			[]int64{bob}, []string{"ownership gap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := base
			tc.mod(&j)
			checkNotices(t, j.Notices(), steward.KindOwnerAssigned, "identity", tc.want, tc.words, "token:carol", "2026-03-01T09:30:00Z")
		})
	}
}

func TestJITExpiryWarningNotices(t *testing.T) {
	t.Parallel()
	ana, cy, req := int64(10), int64(20), int64(42)
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	base := steward.JITExpiryWarning{GrantID: 7, IdentityName: "svc-billing", SystemName: "billing-db", Entitlement: "role:admin",
		ExpiresAt: at.Add(15 * time.Minute), At: at}
	for _, tc := range []struct {
		name  string
		mod   func(*steward.JITExpiryWarning)
		want  []int64  // who is told, in order
		words []string // what each is told, in part
	}{
		{"requester and owner", func(j *steward.JITExpiryWarning) {
			j.RequestID, j.RequesterID, j.RequesterName, j.OwnerID, j.OwnerName = &req, &ana, "Ana", &cy, "Cy"
		}, []int64{ana, cy}, []string{"steward request extend 42", "asked for by Ana"}},
		{"the owner asked", func(j *steward.JITExpiryWarning) {
			j.RequestID, j.RequesterID, j.RequesterName, j.OwnerID, j.OwnerName = &req, &cy, "Cy", &cy, "Cy"
		}, []int64{cy}, []string{"Your JIT access ends soon"}},
		{"no request", func(j *steward.JITExpiryWarning) { j.OwnerID, j.OwnerName = &cy, "Cy" },
			[]int64{cy}, []string{"granted without a request"}},
		{"a requester no longer known", func(j *steward.JITExpiryWarning) { j.RequestID, j.OwnerID = &req, &cy },
			[]int64{cy}, []string{"granted by request 42"}},
		{"nobody", func(*steward.JITExpiryWarning) {}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := base
			tc.mod(&j)
			checkNotices(t, j.Notices(), steward.KindJITExpiryWarning, steward.ObjectJITGrant, tc.want, tc.words,
				"role:admin of svc-billing on billing-db", "2026-03-01T09:45:00Z (in 15m0s)")
		})
	}
}

// checkNotices checks that got tells want, in order, each valid, of kind
// about object 7 of objectType, each with its words and every common one.
func checkNotices(t *testing.T, got []steward.Notice, kind, objectType string, want []int64, words []string, common ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d notices, want %d: %+v", len(got), len(want), got)
	}
	for i, n := range got {
		if err := n.Validate(); err != nil {
			t.Errorf("notice %d: %v", i, err)
		}
		text := n.Subject + " " + n.Body
		ok := n.PersonID == want[i] && n.ObjectID == "7" && n.ObjectType == objectType && n.Kind == kind && strings.Contains(text, words[i])
		for _, w := range common {
			ok = ok && strings.Contains(text, w)
		}
		if !ok {
			t.Errorf("notice %d: %+v", i, n)
		}
	}
}
