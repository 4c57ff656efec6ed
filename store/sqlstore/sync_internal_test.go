package sqlstore

import (
	"database/sql"
	"reflect"
	"slices"
	"testing"
)

// An identity's UPDATE sets only the columns whose value changed (each
// column set rewrites its indexes' entries), and every one that did.
func TestChangedColumns(t *testing.T) {
	o := identityRow{id: 7, name: "svc-1", kind: "bot", env: "prod", crit: "medium", status: "active", ownerH: "p-1",
		labels: sql.NullString{String: `{"app":"a"}`, Valid: true}, created: sql.NullInt64{Int64: 5, Valid: true},
		owner: sql.NullInt64{Int64: 1, Valid: true}, ownerSource: "tag", ownerBy: "tag"}
	if cols, args := changedColumns(&o, &o); len(cols) != 0 || len(args) != 0 {
		t.Errorf("nothing changed: got %q %v", cols, args)
	}
	n := o
	n.name, n.created, n.owner, n.ownerBy = "svc-1-renamed", sql.NullInt64{}, sql.NullInt64{}, ""
	cols, args := changedColumns(&o, &n)
	if want := []string{"name", "created_at", "owner_id", "owner_by"}; !slices.Equal(cols, want) {
		t.Errorf("columns %q, want %q", cols, want)
	}
	if want := []any{"svc-1-renamed", sql.NullInt64{}, sql.NullInt64{}, ""}; !reflect.DeepEqual(args, want) {
		t.Errorf("args = %v, want %v", args, want)
	}
	n = o
	n.labels = sql.NullString{}
	if cols, _ := changedColumns(&o, &n); !slices.Equal(cols, []string{"labels"}) {
		t.Errorf("labels gone: columns %q", cols)
	}
}
