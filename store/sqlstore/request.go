package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// Access requests and unmatched demand (schema 20): see
// migrations/*/0020_requests.sql. A request's question, decision, target,
// justification and approvals are JSON text; its state, level, deadlines
// and fulfilment tries are columns, which the lists and the clock select by.

// maxRequestError bounds the target's error kept on a request whose
// fulfilment failed, as maxJITError does a JIT grant's.
const maxRequestError = maxJITError

const requestColumns = `id, requester, identity, state, level, target, duration, justification, decision, question, approvals, ` +
	`decide_by, first_decide_by, expires_at, closed_at, reason, extends, jit_grant_id, attempts, last_error, created_at, updated_at`

// requestSelect reads requests as x, for list.
var requestSelect = `SELECT x.` + strings.ReplaceAll(requestColumns, ", ", ", x.") + ` FROM access_requests x`

func scanRequest(s scanner) (steward.AccessRequest, error) {
	var r steward.AccessRequest
	var state, target, justification, decision, question, approvals string
	var duration, created, updated int64
	var decideBy, firstDecideBy, expires, closed, extends, jit sql.NullInt64
	if err := s.Scan(&r.ID, &r.Requester, &r.Identity, &state, &r.Level, &target, &duration, &justification, &decision, &question, &approvals,
		&decideBy, &firstDecideBy, &expires, &closed, &r.Reason, &extends, &jit, &r.Attempts, &r.LastError, &created, &updated); err != nil {
		return r, err
	}
	r.State, r.Duration = steward.RequestState(state), steward.Duration(duration)
	for _, f := range []struct {
		name string
		text string
		into any
	}{{"target", target, &r.Target}, {"justification", justification, &r.Justification}, {"decision", decision, &r.Decision},
		{"question", question, &r.Question}, {"approvals", approvals, &r.Approvals}} {
		if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
			return r, fmt.Errorf("request %d: %s: %w", r.ID, f.name, err)
		}
	}
	if len(r.Approvals) == 0 {
		r.Approvals = nil
	}
	r.DecideBy, r.FirstDecideBy, r.ExpiresAt = timeOf(decideBy), timeOf(firstDecideBy), timeOf(expires)
	r.ClosedAt, r.Extends, r.JITGrantID = fromNullMicro(closed), fromNullID(extends), fromNullID(jit)
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return r, nil
}

// timeOf converts a nullable time column to a time, zero for NULL.
func timeOf(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicro(v.Int64)
}

// microOrNull converts a time that may be zero to a nullable column value.
func microOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// stamp is t at the precision and in the zone the store keeps.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// requestModel is the model a request names: its decision's, else its
// question's.
func requestModel(r *steward.AccessRequest) string {
	if r.Decision.Model != "" {
		return r.Decision.Model
	}
	return r.Question.Model
}

func requiredText(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return steward.Errorf(steward.EINVALID, "%s is required.", field)
	case len(v) > 320:
		return steward.Errorf(steward.EINVALID, "%s is %d bytes; the limit is 320.", field, len(v))
	case !utf8.ValidString(v):
		return steward.Errorf(steward.EINVALID, "%s is not valid UTF-8.", field)
	}
	return nil
}

// CreateRequest records r with its request.created event (steward.RequestStore).
func (d *DB) CreateRequest(ctx context.Context, r *steward.AccessRequest) error {
	if err := requiredText("a request's requester", r.Requester); err != nil {
		return err
	} else if err := requiredText("a request's identity", r.Identity); err != nil {
		return err
	} else if err := r.State.Validate(); err != nil {
		return err
	} else if r.Level < 0 || r.Attempts < 0 {
		return steward.Errorf(steward.EINVALID, "a request's level and attempts cannot be negative.")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = d.now()
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.CreatedAt, r.UpdatedAt = stamp(r.CreatedAt), stamp(r.UpdatedAt)
	r.DecideBy, r.FirstDecideBy, r.ExpiresAt = stamp(r.DecideBy), stamp(r.FirstDecideBy), stamp(r.ExpiresAt)
	if r.ClosedAt != nil {
		t := stamp(*r.ClosedAt)
		r.ClosedAt = &t
	}
	for i := range r.Approvals {
		r.Approvals[i].At = stamp(r.Approvals[i].At)
	}
	approvals := r.Approvals
	if approvals == nil {
		approvals = []steward.RequestApproval{}
	}
	var texts [5]string
	for i, v := range []any{r.Target, r.Justification, r.Decision, r.Question, approvals} {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		texts[i] = string(b)
	}
	model := requestModel(r)
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		err := d.queryRow(ctx, tx, `INSERT INTO access_requests (requester, identity, model, state, level, target, duration, justification,
			decision, question, approvals, decide_by, first_decide_by, expires_at, closed_at, reason, extends, jit_grant_id, attempts, last_error,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			r.Requester, r.Identity, model, string(r.State), r.Level, texts[0], int64(r.Duration), texts[1], texts[2], texts[3], texts[4],
			microOrNull(r.DecideBy), microOrNull(r.FirstDecideBy), microOrNull(r.ExpiresAt), microPtr(r.ClosedAt), r.Reason,
			idPtr(r.Extends), idPtr(r.JITGrantID), r.Attempts, r.LastError, micro(r.CreatedAt), micro(r.UpdatedAt)).Scan(&r.ID)
		if err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionRequestCreated, steward.ObjectRequest, idStr(r.ID), steward.RequestCreated{
			Model: model, Requester: r.Requester, Identity: r.Identity, Target: r.Target, Duration: r.Duration,
			Justification: r.Justification, State: r.State, Outcome: r.Decision.Outcome, Reasons: r.Decision.Reasons, Extends: r.Extends})
	})
}

// Request returns one access request.
func (d *DB) Request(ctx context.Context, id int64) (*steward.AccessRequest, error) {
	return get(ctx, d, `SELECT `+requestColumns+` FROM access_requests WHERE id = ?`, id, "Request", scanRequest)
}

// Requests lists access requests, newest first.
func (d *DB) Requests(ctx context.Context, f steward.RequestFilter) (*steward.Page[steward.AccessRequest], error) {
	after, limit, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	if f.State != "" {
		if err := f.State.Validate(); err != nil {
			return nil, err
		}
	}
	for _, v := range []string{f.Requester, f.Identity, f.Model} {
		if len(v) > 320 {
			return nil, steward.Errorf(steward.EINVALID, "a request filter is %d bytes long; at most 320.", len(v))
		}
	}
	where, args := []string{"1 = 1"}, []any{}
	order := "DESC"
	switch {
	case f.Oldest:
		order = "ASC"
		where, args = append(where, "x.id > ?"), append(args, after)
	case after > 0:
		where, args = append(where, "x.id < ?"), append(args, after)
	}
	where, args = eqFilter(where, args, "x.requester", f.Requester, f.Requester != "")
	where, args = eqFilter(where, args, "x.identity", f.Identity, f.Identity != "")
	where, args = eqFilter(where, args, "x.model", f.Model, f.Model != "")
	where, args = eqFilter(where, args, "x.state", string(f.State), f.State != "")
	if f.Due != nil {
		// The literal state lets both engines use the partial indexes on
		// pending requests' deadlines.
		due := micro(*f.Due)
		where, args = append(where, "x.state = 'pending' AND (x.decide_by <= ? OR x.expires_at <= ?)"), append(args, due, due)
	}
	args = append(args, limit+1)
	query := requestSelect + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY x.id ` + order + ` LIMIT ?`
	return fetchPage(ctx, d, false, query, args, limit, scanRequest, func(r *steward.AccessRequest) int64 { return r.ID })
}

// ChangeRequest applies one step of a request's life with its event, only
// while the request is in c.From (steward.RequestStore). Fields of c that
// are zero leave the request's as they are: an approval keeps the reason an
// escalation gave, a fulfilment the error of the try before it. Level and
// DecideBy are set by request.escalated only.
func (d *DB) ChangeRequest(ctx context.Context, c steward.RequestChange) (*steward.AccessRequest, error) {
	if c.Action.ObjectType() != steward.ObjectRequest || c.Action == steward.ActionRequestCreated {
		return nil, steward.Errorf(steward.EINVALID, "%q is not a change of a request: it is one of request.approved, request.denied, "+
			"request.escalated, request.expired, request.cancelled, request.fulfilled, request.fulfilment_failed, request.failed.", c.Action)
	}
	if err := c.From.Validate(); err != nil {
		return nil, err
	} else if err := c.To.Validate(); err != nil {
		return nil, err
	} else if c.Attempts < 0 || c.Level < 0 {
		return nil, steward.Errorf(steward.EINVALID, "a request's level and attempts cannot be negative.")
	} else if c.JITGrantID != nil && *c.JITGrantID <= 0 {
		return nil, steward.Errorf(steward.EINVALID, "a request's jit_grant_id must be positive.")
	}
	at := stamp(c.At)
	if at.IsZero() {
		at = d.now()
	}
	closed := any(nil)
	if c.To.Final() {
		closed = micro(at)
	}
	set, args := []string{"state = ?", "updated_at = ?", "closed_at = ?"}, []any{string(c.To), micro(at), closed}
	payload := steward.RequestChanged{From: c.From, To: c.To, Reason: c.Reason, JITGrantID: c.JITGrantID, Attempts: c.Attempts}
	if c.Approval != nil {
		a := *c.Approval
		if err := requiredText("an approval's approver", a.Approver); err != nil {
			return nil, err
		}
		if a.At = stamp(a.At); a.At.IsZero() {
			a.At = at
		}
		b, err := json.Marshal([]steward.RequestApproval{a})
		if err != nil {
			return nil, fmt.Errorf("request approval: %w", err)
		}
		if d.pg {
			set = append(set, "approvals = CAST(CAST(approvals AS jsonb) || CAST(CAST(? AS TEXT) AS jsonb) AS TEXT)")
			args = append(args, string(b))
		} else {
			set = append(set, "approvals = json_insert(approvals, '$[#]', json(?))")
			args = append(args, strings.TrimSuffix(strings.TrimPrefix(string(b), "["), "]"))
		}
		payload.Approval = &a
	}
	if c.Action == steward.ActionRequestEscalated {
		set, args = append(set, "level = ?", "decide_by = ?"), append(args, c.Level, microOrNull(stamp(c.DecideBy)))
		payload.Level = c.Level
	}
	if c.Reason != "" {
		set, args = append(set, "reason = ?"), append(args, c.Reason)
	}
	if c.JITGrantID != nil {
		set, args = append(set, "jit_grant_id = ?"), append(args, *c.JITGrantID)
	}
	if c.Attempts > 0 {
		set, args = append(set, "attempts = ?"), append(args, c.Attempts)
	}
	if c.LastError != "" {
		msg := truncateUTF8(c.LastError, maxRequestError)
		set, args = append(set, "last_error = ?"), append(args, msg)
		payload.Error = msg
	}
	args = append(args, c.ID, string(c.From))
	var out *steward.AccessRequest
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		r, err := scanRequest(tx.QueryRowContext(ctx, d.q(`UPDATE access_requests SET `+strings.Join(set, ", ")+
			` WHERE id = ? AND state = ? RETURNING `+requestColumns), args...))
		if errors.Is(err, sql.ErrNoRows) {
			var state string
			err := tx.QueryRowContext(ctx, d.q(`SELECT state FROM access_requests WHERE id = ?`), c.ID).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return steward.Errorf(steward.ENOTFOUND, "Request %d does not exist.", c.ID)
			} else if err != nil {
				return err
			}
			return steward.Errorf(steward.ECONFLICT, "Request %d is %s, not %s: it changed meanwhile; look at it again.", c.ID, state, c.From)
		} else if err != nil {
			return err
		}
		out = &r
		return d.appendEvent(ctx, tx, c.Action, steward.ObjectRequest, idStr(c.ID), payload)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// truncateUTF8 cuts s to at most n bytes, not inside a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

const demandColumns = `id, requester, team, identity, target, justification, at`

func scanDemand(s scanner) (steward.UnmatchedDemand, error) {
	var u steward.UnmatchedDemand
	var target, justification string
	var at int64
	if err := s.Scan(&u.ID, &u.Requester, &u.Team, &u.Identity, &target, &justification, &at); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(target), &u.Target); err != nil {
		return u, fmt.Errorf("unmatched demand %d: target: %w", u.ID, err)
	} else if err := json.Unmarshal([]byte(justification), &u.Justification); err != nil {
		return u, fmt.Errorf("unmatched demand %d: justification: %w", u.ID, err)
	}
	u.At = fromMicro(at)
	return u, nil
}

// RecordUnmatchedDemand records u with its unmatched_demand.recorded event
// (steward.RequestStore).
func (d *DB) RecordUnmatchedDemand(ctx context.Context, u *steward.UnmatchedDemand) error {
	if err := requiredText("unmatched demand's requester", u.Requester); err != nil {
		return err
	}
	if u.At.IsZero() {
		u.At = d.now()
	}
	u.At = stamp(u.At)
	target, err := json.Marshal(u.Target)
	if err != nil {
		return fmt.Errorf("unmatched demand: %w", err)
	}
	justification, err := json.Marshal(u.Justification)
	if err != nil {
		return fmt.Errorf("unmatched demand: %w", err)
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO unmatched_demand (requester, team, identity, target, justification, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			u.Requester, u.Team, u.Identity, string(target), string(justification), micro(u.At)).Scan(&u.ID); err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionDemandRecorded, steward.ObjectDemand, idStr(u.ID), *u)
	})
}

// UnmatchedDemands lists unmatched demand, newest first.
func (d *DB) UnmatchedDemands(ctx context.Context, o steward.ListOptions) (*steward.Page[steward.UnmatchedDemand], error) {
	after, limit, err := o.Normalize()
	if err != nil {
		return nil, err
	}
	where, args := "", []any{}
	if after > 0 {
		where, args = ` WHERE id < ?`, append(args, after)
	}
	args = append(args, limit+1)
	return fetchPage(ctx, d, false, `SELECT `+demandColumns+` FROM unmatched_demand`+where+` ORDER BY id DESC LIMIT ?`, args, limit, scanDemand,
		func(u *steward.UnmatchedDemand) int64 { return u.ID })
}

var _ steward.RequestStore = (*DB)(nil)
