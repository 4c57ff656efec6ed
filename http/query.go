package http

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// listQuery reads the query string of a list request into filter fields.
// Its getters record the first bad value in err, so that a handler reads all
// its parameters and checks once.
type listQuery struct {
	values url.Values
	err    error
}

// parseListQuery parses r's query string. It refuses parameters the list
// does not take and parameters given twice, so that a typo in a filter is
// reported instead of silently returning everything. Every list takes limit
// and after besides params.
func parseListQuery(r *http.Request, params ...string) (*listQuery, error) {
	return parseQuery(r, append([]string{"limit", "after"}, params...)...)
}

// parseQuery is parseListQuery for a route that is not a list: it takes
// exactly known.
func parseQuery(r *http.Request, known ...string) (*listQuery, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "Query string is malformed: %s.", err.Error())
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			return nil, steward.Errorf(steward.EINVALID, "Unknown query parameter %q; this route takes: %s.",
				truncate(name, 64), strings.Join(known, ", "))
		} else if n := len(values[name]); n > 1 {
			return nil, steward.Errorf(steward.EINVALID, "Query parameter %s is given %d times; give it once.", name, n)
		}
	}
	return &listQuery{values: values}, nil
}

// get returns the value of parameter name, "" when absent. An empty value
// does not filter, like an absent one.
func (q *listQuery) get(name string) string { return q.values.Get(name) }

func (q *listQuery) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

// text returns a free-text parameter: valid UTF-8, no control characters,
// at most 256 bytes, like the domain's own query rule.
func (q *listQuery) text(name string) string {
	v := q.get(name)
	switch {
	case len(v) > 256:
		q.fail(steward.Errorf(steward.EINVALID, "Query parameter %s is %d bytes; the limit is 256.", name, len(v)))
	case !utf8.ValidString(v):
		q.fail(steward.Errorf(steward.EINVALID, "Query parameter %s is not valid UTF-8.", name))
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		q.fail(steward.Errorf(steward.EINVALID, "Query parameter %s contains a control character.", name))
	default:
		return v
	}
	return ""
}

// id returns a positive id parameter, or 0 when absent.
func (q *listQuery) id(name string) int64 {
	v := q.get(name)
	if v == "" {
		return 0
	}
	id, err := parseID(name, v)
	q.fail(err)
	return id
}

// boolPtr returns a true/false parameter, or nil when absent.
func (q *listQuery) boolPtr(name string) *bool {
	switch q.get(name) {
	case "":
		return nil
	case "true":
		return new(true)
	case "false":
		return new(false)
	}
	q.fail(steward.Errorf(steward.EINVALID, "Query parameter %s must be true or false; got %q.", name, truncate(q.get(name), 64)))
	return nil
}

// page returns the paging options, checked here so that a bad limit or
// cursor is refused the same way whatever the store.
func (q *listQuery) page() steward.ListOptions {
	o := steward.ListOptions{Limit: q.limit(), After: q.get("after")}
	if q.err != nil {
		return steward.ListOptions{}
	}
	if _, _, err := o.Normalize(); err != nil {
		q.fail(err)
		return steward.ListOptions{}
	}
	return o
}

// limit returns the page size, 0 (the default) when absent.
func (q *listQuery) limit() int {
	v := q.get("limit")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > steward.MaxLimit {
		q.fail(steward.Errorf(steward.EINVALID, "limit must be an integer from 1 to %d; got %q.", steward.MaxLimit, truncate(v, 64)))
		return 0
	}
	return n
}

// enumParam returns a parameter of a domain enum type, checked by its
// Validate so that the error lists the allowed values.
func enumParam[T ~string](q *listQuery, name string, validate func(T) error) T {
	v := T(q.get(name))
	if v == "" {
		return ""
	}
	if err := validate(v); err != nil {
		q.fail(err)
		return ""
	}
	return v
}

// time returns an RFC 3339 time parameter, or the zero time when absent.
func (q *listQuery) time(name string) time.Time {
	v := q.get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.fail(steward.Errorf(steward.EINVALID, "Query parameter %s must be an RFC 3339 time, such as 2025-01-31T12:00:00Z; got %q.", name, truncate(v, 64)))
		return time.Time{}
	}
	return t
}

// teamOrNone returns a team id parameter that may also be -1, which
// selects what has no team; 0 when absent.
func (q *listQuery) teamOrNone(name string) int64 {
	v := q.get(name)
	if v == "-1" {
		return -1
	}
	if v == "" {
		return 0
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		q.fail(steward.Errorf(steward.EINVALID, "%s must be a team id, or -1 for identities without a team; got %q.", name, truncate(v, 64)))
		return 0
	}
	return id
}

// days returns a parameter that counts days, from 1 to steward.MaxDays, or
// 0 when absent.
func (q *listQuery) days(name string) int {
	v := q.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > steward.MaxDays {
		q.fail(steward.Errorf(steward.EINVALID, "%s must be a number of days from 1 to %d; got %q.", name, steward.MaxDays, truncate(v, 64)))
		return 0
	}
	return n
}

// ref returns the id of what parameter name names (a name, or an id; see
// steward.FindTeam and its kind) or, from the older parameter idName, an
// id; 0 when neither is given. Giving both is refused, and so is a name
// that names nothing: an empty list would hide the typo.
func (q *listQuery) ref(ctx context.Context, n steward.Names, name, idName string, find func(context.Context, steward.Names, string) (int64, error)) int64 {
	v := q.get(name)
	if v == "" {
		return q.id(idName)
	} else if q.get(idName) != "" {
		q.fail(steward.Errorf(steward.EINVALID, "Give %s or %s, not both.", name, idName))
		return 0
	}
	id, err := find(ctx, n, v)
	if steward.IsCode(err, steward.ENOTFOUND) {
		err = steward.Errorf(steward.EINVALID, "Query parameter %s: %s", name, steward.ErrorMessage(err))
	}
	q.fail(err)
	return id
}

// The lookups of ref.
func findTeam(ctx context.Context, n steward.Names, ref string) (int64, error) {
	t, err := steward.FindTeam(ctx, n, ref)
	if err != nil {
		return 0, err
	}
	return t.ID, nil
}

func findPerson(ctx context.Context, n steward.Names, ref string) (int64, error) {
	p, err := steward.FindPerson(ctx, n, ref)
	if err != nil {
		return 0, err
	}
	return p.ID, nil
}

func findSystem(ctx context.Context, n steward.Names, ref string) (int64, error) {
	s, err := steward.FindSystem(ctx, n, ref)
	if err != nil {
		return 0, err
	}
	return s.ID, nil
}
