package steward

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// IdentitySort is the order of an identity list: a key, ascending, or the
// key with a leading "-", descending. The empty sort is id order, the order
// every list has by default.
//
// Time keys ascend from the oldest: "created" lists the longest-standing
// identities first, "last_used" the longest idle, "credential_age" those
// whose secret has gone longest without rotation. Whatever the direction,
// an identity whose time is unknown (never used, no credential, or a source
// that does not say) comes after every known one, in id order in the sort's
// direction: an unknown time is never shown as old or as new. Ties fall to
// the id, in the sort's direction too.
type IdentitySort string

// Identity sorts.
const (
	SortByID                IdentitySort = ""
	SortByName              IdentitySort = "name"
	SortByNameDesc          IdentitySort = "-name"
	SortByCreated           IdentitySort = "created"
	SortByCreatedDesc       IdentitySort = "-created"
	SortByLastUsed          IdentitySort = "last_used"
	SortByLastUsedDesc      IdentitySort = "-last_used"
	SortByCredentialAge     IdentitySort = "credential_age"  // #nosec G101 -- a sort order's name, not a credential
	SortByCredentialAgeDesc IdentitySort = "-credential_age" // #nosec G101 -- a sort order's name, not a credential
)

// IdentitySorts lists every IdentitySort a client may ask for (the empty
// one, id order, is the default and is not listed).
var IdentitySorts = []IdentitySort{SortByName, SortByNameDesc, SortByCreated, SortByCreatedDesc,
	SortByLastUsed, SortByLastUsedDesc, SortByCredentialAge, SortByCredentialAgeDesc}

// Validate returns EINVALID unless s is a known sort or empty.
func (s IdentitySort) Validate() error {
	if s == SortByID {
		return nil
	}
	return oneOf("sort", s, IdentitySorts)
}

// Key returns s without its direction: "name" for "-name".
func (s IdentitySort) Key() IdentitySort { return IdentitySort(strings.TrimPrefix(string(s), "-")) }

// Desc reports whether s descends.
func (s IdentitySort) Desc() bool { return strings.HasPrefix(string(s), "-") }

// Reverse returns s in the other direction; id order has none.
func (s IdentitySort) Reverse() IdentitySort {
	switch {
	case s == SortByID:
		return s
	case s.Desc():
		return s.Key()
	}
	return "-" + s
}

// MaxDays bounds the day counts of the identity filters: a hundred years.
const MaxDays = 36500

// checkDays validates an optional day count of a filter.
func checkDays(field string, n int) error {
	if n < 0 || n > MaxDays {
		return Errorf(EINVALID, "%s must be a number of days from 1 to %d; got %d.", field, MaxDays, n)
	}
	return nil
}

// SortCursor is the keyset position of a sorted identity list: the sort it
// belongs to, the last row's key and id, and whether the list had reached the
// identities whose key is unknown (which follow the known ones in id order).
// Key is the store's own encoding of the value (a name, or a time as the
// store keeps it); only the store that gave it out reads it.
type SortCursor struct {
	Sort    IdentitySort
	Unknown bool
	Key     string
	ID      int64
}

// Encode returns the opaque cursor string of c.
func (c SortCursor) Encode() string {
	part := "k"
	if c.Unknown {
		part = "u"
	}
	return base64.RawURLEncoding.EncodeToString([]byte("s1:" + string(c.Sort) + ":" + part + ":" + strconv.FormatInt(c.ID, 10) + ":" + c.Key))
}

// DecodeSortCursor reads a cursor that Encode made for a list sorted by
// sort. It returns EINVALID for anything else, including a cursor of a list
// in another order, so that a changed sort starts again rather than
// skipping rows.
func DecodeSortCursor(sort IdentitySort, s string) (SortCursor, error) {
	bad := Errorf(EINVALID, "cursor is not one Steward gave out for this order; start again without it.")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "s1:") {
		return SortCursor{}, bad
	}
	parts := strings.SplitN(string(b[3:]), ":", 4)
	if len(parts) != 4 || IdentitySort(parts[0]) != sort || (parts[1] != "k" && parts[1] != "u") {
		return SortCursor{}, bad
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id < 0 {
		return SortCursor{}, bad
	}
	return SortCursor{Sort: sort, Unknown: parts[1] == "u", ID: id, Key: parts[3]}, nil
}

// Position checks f's paging fields against its sort and returns the
// cursor (nil for the first page) and the effective limit. A list in id
// order takes the cursors of every list (Cursor); a sorted one takes only
// its own (SortCursor). It returns EINVALID for a bad cursor or limit.
func (f *IdentityFilter) Position() (*SortCursor, int, error) {
	if f.Sort == SortByID {
		after, limit, err := f.ListOptions.Normalize()
		if err != nil {
			return nil, 0, err
		} else if f.After == "" {
			return nil, limit, nil
		}
		return &SortCursor{ID: after}, limit, nil
	}
	limit, err := ListOptions{Limit: f.Limit}.checkLimit()
	if err != nil {
		return nil, 0, err
	} else if f.After == "" {
		return nil, limit, nil
	}
	c, err := DecodeSortCursor(f.Sort, f.After)
	if err != nil {
		return nil, 0, err
	}
	return &c, limit, nil
}

// Count is the number of rows a filter selects. Above a store's exact
// bound it is Estimated: a sample's extrapolation, rounded, that a reader
// should see as "about".
type Count struct {
	N         int64 `json:"count"`
	Estimated bool  `json:"estimated"`
}

// RoundEstimate rounds an estimated count to two significant digits, and
// never below atLeast, the number of rows the store counted before it
// started to estimate: "about 130,000" rather than a precision the sample
// does not have.
func RoundEstimate(n, atLeast int64) int64 {
	n = max(n, atLeast)
	if n < 100 {
		return n
	}
	unit := int64(1)
	for n/unit >= 100 {
		unit *= 10
	}
	r := (n + unit/2) / unit * unit
	if r < atLeast {
		r = (atLeast + unit - 1) / unit * unit
	}
	return r
}

// Names finds people, teams and systems by what people call them. Every
// InventoryReader is one.
type Names interface {
	Team(ctx context.Context, id int64) (*Team, error)
	TeamByName(ctx context.Context, name string) (*Team, error)
	Person(ctx context.Context, id int64) (*Person, error)
	PersonByKey(ctx context.Context, key string) (*Person, error)
	System(ctx context.Context, id int64) (*System, error)
	SystemByName(ctx context.Context, name string) (*System, error)
}

// FindTeam returns the team named ref, or when no team has that name and
// ref is a number, the team with that id. It returns ENOTFOUND saying so
// when there is neither.
func FindTeam(ctx context.Context, n Names, ref string) (*Team, error) {
	return findByRef(ctx, ref, "team", "is named", n.TeamByName, n.Team)
}

// FindPerson returns the person whose e-mail address (in any case) or
// external id is ref, or when nobody's is and ref is a number, the person
// with that id. It returns ENOTFOUND saying so when there is nobody, and
// EINVALID when several people share the address.
func FindPerson(ctx context.Context, n Names, ref string) (*Person, error) {
	return findByRef(ctx, ref, "person", "has the e-mail address or external id", n.PersonByKey, n.Person)
}

// FindSystem returns the system named ref, or when none has that name and
// ref is a number, the system with that id; ENOTFOUND when there is neither.
func FindSystem(ctx context.Context, n Names, ref string) (*System, error) {
	return findByRef(ctx, ref, "system", "is named", n.SystemByName, n.System)
}

// findByRef looks ref up by name first: a name is what people type, and
// names such as an HR number can look like ids.
func findByRef[T any](ctx context.Context, ref, what, named string,
	byName func(context.Context, string) (*T, error), byID func(context.Context, int64) (*T, error)) (*T, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, Errorf(EINVALID, "name a %s.", what)
	}
	v, err := byName(ctx, ref)
	if !IsCode(err, ENOTFOUND) {
		return v, err
	}
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil && id > 0 {
		v, err := byID(ctx, id)
		if !IsCode(err, ENOTFOUND) {
			return v, err
		}
		return nil, Errorf(ENOTFOUND, "No %s %s %q, and there is no %s with that id.", what, named, ref, what)
	}
	return nil, Errorf(ENOTFOUND, "No %s %s %q.", what, named, ref)
}

// CutoffOf returns the time before which a time counts as more than days
// old at now: the bound of the CredentialOlderThan and UnusedFor filters.
func CutoffOf(now time.Time, days int) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}
