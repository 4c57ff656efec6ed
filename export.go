package steward

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// IdentityCSVHeader names the columns of an identity export.
var IdentityCSVHeader = []string{"id", "name", "external_id", "kind", "system", "environment", "criticality", "status",
	"owner", "owner_status", "team", "owner_source", "created_at", "last_used_at", "oldest_credential_at", "attested_at", "removed_at"}

// IdentityCSVRecord is one identity as a row of an export, in the columns
// of IdentityCSVHeader. Times are RFC 3339 in UTC, empty when unknown.
// A cell that a spreadsheet would take for a formula (it starts with =, +,
// -, @, a tab or a carriage return) gets a leading apostrophe: names come
// from the systems Steward reads, and an export is opened by people.
func IdentityCSVRecord(v *IdentityView) []string {
	at := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	rec := []string{strconv.FormatInt(v.ID, 10), v.Name, v.ExternalID, string(v.Kind), v.SystemName, string(v.Environment),
		string(v.Criticality), string(v.Status), v.OwnerName, string(v.OwnerStatus), v.TeamName, string(v.OwnerSource),
		at(v.CreatedAt), at(v.LastUsedAt), at(v.OldestCredentialAt), at(v.AttestedAt), at(v.RemovedAt)}
	for i, cell := range rec {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			rec[i] = "'" + cell
		}
	}
	return rec
}

// ExportIdentities writes every identity f selects, in f's order, to w as
// CSV: the header, then a row per identity. It reads a page of MaxLimit at
// a time from list and writes it before reading the next, so that memory
// does not grow with the export; flush, when not nil, is called after each
// page so that the rows reach the reader as they are written. The first
// page is read before anything is written: a bad filter returns its
// EINVALID with w untouched. It returns the number of identities written.
func ExportIdentities(ctx context.Context, list func(context.Context, IdentityFilter) (*Page[IdentityView], error),
	f IdentityFilter, w io.Writer, flush func()) (int, error) {
	f.After, f.Limit = "", MaxLimit
	page, err := list(ctx, f)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(IdentityCSVHeader); err != nil {
		return 0, err
	}
	n := 0
	for {
		for i := range page.Items {
			if err := cw.Write(IdentityCSVRecord(&page.Items[i])); err != nil {
				return n, err
			}
			n++
		}
		if cw.Flush(); cw.Error() != nil {
			return n, cw.Error()
		}
		if flush != nil {
			flush()
		}
		if page.Next == "" {
			return n, nil
		}
		f.After = page.Next
		if page, err = list(ctx, f); err != nil {
			return n, err
		}
	}
}
