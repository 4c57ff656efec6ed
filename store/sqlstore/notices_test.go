package sqlstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/storetest"
)

// TestDeliverNotices: a job's notices are written once, each with its audit
// event, however often the job is worked; a bad one writes nothing.
func TestDeliverNotices(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := steward.WithActor(context.Background(), "system:jobs")
		alice, bob := storetest.MustPerson(t, db, nil), storetest.MustPerson(t, db, nil)
		job := steward.OwnerAssigned{IdentityID: 7, IdentityName: "ci-deployer", SystemName: "aws-prod",
			OwnerID: &alice.ID, OwnerName: alice.Name, PreviousOwnerID: &bob.ID, PreviousOwnerName: bob.Name, By: "token:carol"}
		for attempt, want := range []int{2, 0} {
			n, err := db.DeliverNotices(ctx, 41, job.Notices())
			if err != nil || n != want {
				t.Fatalf("attempt %d: %d notices written, %v; want %d", attempt+1, n, err, want)
			}
		}
		page, err := db.Notices(ctx, steward.NoticeFilter{PersonID: alice.ID, Unsent: true})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("alice's notices: %+v, %v", page, err)
		}
		n := page.Items[0]
		if n.JobID != 41 || n.Kind != steward.KindOwnerAssigned || n.ObjectType != "identity" || n.ObjectID != "7" || n.SentAt != nil || n.CreatedAt.IsZero() {
			t.Fatalf("notice %+v", n)
		}
		ev, err := db.Events(ctx, steward.EventFilter{Action: "notice.delivered"})
		if err != nil || len(ev.Items) != 2 || ev.Items[0].Actor != "system:jobs" {
			t.Fatalf("delivery events: %+v, %v; want two", ev, err)
		}
		// A notice for somebody unknown fails the whole delivery.
		bad := job.Notices()
		bad[1].PersonID = 1 << 40
		if _, err := db.DeliverNotices(ctx, 42, bad); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Fatalf("a notice for nobody: %v, want ENOTFOUND", err)
		}
		bad[1].Subject = ""
		if _, err := db.DeliverNotices(ctx, 42, bad); steward.ErrorCode(err) != steward.EINVALID {
			t.Fatalf("a notice without a subject: %v, want EINVALID", err)
		}
		if all, err := db.Notices(ctx, steward.NoticeFilter{}); err != nil || len(all.Items) != 2 {
			t.Fatalf("all notices after the failed deliveries: %+v, %v; want the first two", all, err)
		}
		// Newest first, page by page: the other way round.
		if _, err := db.DeliverNotices(ctx, 43, job.Notices()); err != nil {
			t.Fatal(err)
		}
		old, err := db.Notices(ctx, steward.NoticeFilter{})
		if err != nil || len(old.Items) != 4 {
			t.Fatalf("all notices: %+v, %v", old, err)
		}
		var newest []int64
		for after := ""; ; {
			page, err := db.Notices(ctx, steward.NoticeFilter{Newest: true, ListOptions: steward.ListOptions{Limit: 3, After: after}})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page.Items {
				newest = append(newest, n.ID)
			}
			if after = page.Next; after == "" {
				break
			}
		}
		if want := []int64{old.Items[3].ID, old.Items[2].ID, old.Items[1].ID, old.Items[0].ID}; !slices.Equal(newest, want) {
			t.Errorf("newest first: %v, want %v", newest, want)
		}
	})
}
