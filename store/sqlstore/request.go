package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Access requests and unmatched demand (schema 20). The store records
// what the request workflow decided (steward.RequestChange); it decides
// nothing itself but that a change applies only to a request still in the
// state the change expects.

// maxRequestError bounds a fulfilment error kept on a request.
const maxRequestError = 1000

const requestColumns = `id, requester, identity, model, state, level, duration, target, justification, decision, question, approvals, ` +
	`created_at, updated_at, decide_by, first_decide_by, expires_at, closed_at, reason, extends, jit_grant_id, attempts, last_error`

func scanRequest(r scanner) (steward.AccessRequest, error) {
	var x steward.AccessRequest
	var model, target, just, decision, question, approvals string
	var duration, created, updated int64
	var decideBy, firstDecideBy, expires, closed, extends, grant sql.NullInt64
	var state string
	if err := r.Scan(&x.ID, &x.Requester, &x.Identity, &model, &state, &x.Level, &duration, &target, &just, &decision, &question, &approvals,
		&created, &updated, &decideBy, &firstDecideBy, &expires, &closed, &x.Reason, &extends, &grant, &x.Attempts, &x.LastError); err != nil {
		return x, err
	}
	x.State, x.Duration = steward.RequestState(state), steward.Duration(duration)
	for _, j := range []struct {
		src string
		dst any
	}{{target, &x.Target}, {just, &x.Justification}, {decision, &x.Decision}, {question, &x.Question}, {approvals, &x.Approvals}} {
		if err := json.Unmarshal([]byte(j.src), j.dst); err != nil {
			return x, fmt.Errorf("request %d: %w", x.ID, err)
		}
	}
	if len(x.Justification) == 0 {
		x.Justification = nil
	}
	if len(x.Approvals) == 0 {
		x.Approvals = nil
	}
	x.CreatedAt, x.UpdatedAt = fromMicro(created), fromMicro(updated)
	x.DecideBy, x.FirstDecideBy, x.ExpiresAt = zeroMicro(decideBy), zeroMicro(firstDecideBy), zeroMicro(expires)
	x.ClosedAt, x.Extends, x.JITGrantID = fromNullMicro(closed), fromNullID(extends), fromNullID(grant)
	return x, nil
}

// zeroMicro reads a nullable time as the zero time when NULL.
func zeroMicro(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicro(v.Int64)
}

// nullTime writes the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micro(t)
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// CreateRequest records r with its request.created event.
func (d *DB) CreateRequest(ctx context.Context, r *steward.AccessRequest) error {
	switch {
	case strings.TrimSpace(r.Requester) == "" || strings.TrimSpace(r.Identity) == "":
		return steward.Errorf(steward.EINVALID, "A request names its requester and its identity.")
	case r.State == "":
		return steward.Errorf(steward.EINVALID, "A request has a state.")
	}
	if err := r.State.Validate(); err != nil {
		return err
	}
	now := d.now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond), r.UpdatedAt.UTC().Truncate(time.Microsecond)
	var texts [5]string
	for i, v := range []any{r.Target, orEmptyMap(r.Justification), r.Decision, r.Question, orEmptyList(r.Approvals)} {
		t, err := jsonText(v)
		if err != nil {
			return err
		}
		texts[i] = t
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO access_requests (requester, identity, model, state, level, duration, target, justification,
			decision, question, approvals, created_at, updated_at, decide_by, first_decide_by, expires_at, closed_at, reason, extends, jit_grant_id,
			attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			r.Requester, r.Identity, r.Decision.Model, string(r.State), r.Level, int64(r.Duration), texts[0], texts[1], texts[2], texts[3], texts[4],
			micro(r.CreatedAt), micro(r.UpdatedAt), nullTime(r.DecideBy), nullTime(r.FirstDecideBy), nullTime(r.ExpiresAt), microPtr(r.ClosedAt),
			r.Reason, idPtr(r.Extends), idPtr(r.JITGrantID), r.Attempts, clip(r.LastError, maxRequestError)).Scan(&r.ID)
		if err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionRequestCreated, steward.ObjectRequest, idStr(r.ID), steward.RequestCreated{
			Model: r.Decision.Model, Requester: r.Requester, Identity: r.Identity, Target: r.Target, Duration: r.Duration,
			Justification: r.Justification, State: r.State, Outcome: r.Decision.Outcome, Reasons: r.Decision.Reasons, Extends: r.Extends})
	})
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyList(a []steward.RequestApproval) []steward.RequestApproval {
	if a == nil {
		return []steward.RequestApproval{}
	}
	return a
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Request returns one request.
func (d *DB) Request(ctx context.Context, id int64) (*steward.AccessRequest, error) {
	return get(ctx, d, `SELECT `+requestColumns+` FROM access_requests WHERE id = ?`, id, "Request", scanRequest)
}

// Requests lists requests, newest first.
func (d *DB) Requests(ctx context.Context, f steward.RequestFilter) (*steward.Page[steward.AccessRequest], error) {
	before, limit, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if before > 0 {
		where, args = append(where, "id < ?"), append(args, before)
	}
	if f.Requester != "" {
		where, args = append(where, "lower(requester) = lower(?)"), append(args, f.Requester)
	}
	if f.State != "" {
		if err := f.State.Validate(); err != nil {
			return nil, err
		}
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	where, args = eqFilter(where, args, "identity", f.Identity, f.Identity != "")
	where, args = eqFilter(where, args, "model", f.Model, f.Model != "")
	if f.Due != nil {
		t := micro(*f.Due)
		where = append(where, "state = 'pending' AND (decide_by <= ? OR expires_at <= ?)")
		args = append(args, t, t)
	}
	q := `SELECT ` + requestColumns + ` FROM access_requests`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	return fetchPage(ctx, d, q, append(args, limit+1), limit, scanRequest, func(r *steward.AccessRequest) int64 { return r.ID })
}

// requestActions are the actions a RequestChange may record.
var requestActions = []steward.Action{steward.ActionRequestApproved, steward.ActionRequestDenied, steward.ActionRequestEscalated,
	steward.ActionRequestExpired, steward.ActionRequestCancelled, steward.ActionRequestFulfilled, steward.ActionRequestFulfilmentFailed,
	steward.ActionRequestFailed}

// ChangeRequest applies c to the request if it is still in c.From.
func (d *DB) ChangeRequest(ctx context.Context, c steward.RequestChange) (*steward.AccessRequest, error) {
	if !slices.Contains(requestActions, c.Action) {
		return nil, steward.Errorf(steward.EINVALID, "%q is not a change of a request's; one of %v.", c.Action, requestActions)
	}
	for _, s := range []steward.RequestState{c.From, c.To} {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	at := c.At
	if at.IsZero() {
		at = d.now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	if c.Approval != nil {
		c.Approval.At = c.Approval.At.UTC().Truncate(time.Microsecond)
	}
	var out *steward.AccessRequest
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		r, err := scanRequest(tx.QueryRowContext(ctx, d.q(`SELECT `+requestColumns+` FROM access_requests WHERE id = ?`), c.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return steward.Errorf(steward.ENOTFOUND, "Request %d does not exist.", c.ID)
		} else if err != nil {
			return err
		}
		if r.State != c.From {
			return steward.Errorf(steward.ECONFLICT, "Request %d is %s, not %s: someone or something changed it first.", c.ID, r.State, c.From)
		}
		if c.Approval != nil {
			r.Approvals = append(r.Approvals, *c.Approval)
		}
		r.State, r.UpdatedAt = c.To, at
		if c.Action == steward.ActionRequestEscalated {
			r.Level, r.DecideBy = c.Level, c.DecideBy.UTC().Truncate(time.Microsecond)
		}
		if c.Reason != "" {
			r.Reason = c.Reason
		}
		if c.JITGrantID != nil {
			r.JITGrantID = c.JITGrantID
		}
		if c.Attempts > 0 {
			r.Attempts = c.Attempts
		}
		if c.LastError != "" {
			r.LastError = clip(c.LastError, maxRequestError)
		}
		if c.To.Final() && r.ClosedAt == nil {
			r.ClosedAt = &at
		}
		approvals, err := jsonText(orEmptyList(r.Approvals))
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q(`UPDATE access_requests SET state = ?, level = ?, decide_by = ?, approvals = ?, updated_at = ?,
			closed_at = ?, reason = ?, jit_grant_id = ?, attempts = ?, last_error = ? WHERE id = ? AND state = ?`),
			string(r.State), r.Level, nullTime(r.DecideBy), approvals, micro(at), microPtr(r.ClosedAt), r.Reason, idPtr(r.JITGrantID),
			r.Attempts, r.LastError, c.ID, string(c.From))
		if err != nil {
			return err
		} else if n, _ := res.RowsAffected(); n != 1 {
			return steward.Errorf(steward.ECONFLICT, "Request %d changed while this change was written.", c.ID)
		}
		out = &r
		return d.appendEvent(ctx, tx, c.Action, steward.ObjectRequest, idStr(c.ID), steward.RequestChanged{From: c.From, To: c.To,
			Approval: c.Approval, Level: r.Level, Reason: c.Reason, JITGrantID: c.JITGrantID, Attempts: c.Attempts, Error: clip(c.LastError, maxRequestError)})
	})
	return out, err
}

// RecordUnmatchedDemand records u with its unmatched_demand.recorded event.
func (d *DB) RecordUnmatchedDemand(ctx context.Context, u *steward.UnmatchedDemand) error {
	if strings.TrimSpace(u.Requester) == "" {
		return steward.Errorf(steward.EINVALID, "Unmatched demand names who asked.")
	}
	if u.At.IsZero() {
		u.At = d.now()
	}
	u.At = u.At.UTC().Truncate(time.Microsecond)
	target, err := jsonText(u.Target)
	if err != nil {
		return err
	}
	just, err := jsonText(orEmptyMap(u.Justification))
	if err != nil {
		return err
	}
	return d.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO unmatched_demand (requester, team, identity, target, justification, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			u.Requester, u.Team, u.Identity, target, just, micro(u.At)).Scan(&u.ID)
		if err != nil {
			return err
		}
		return d.appendEvent(ctx, tx, steward.ActionDemandRecorded, steward.ObjectDemand, idStr(u.ID), *u)
	})
}

func scanDemand(r scanner) (steward.UnmatchedDemand, error) {
	var u steward.UnmatchedDemand
	var target, just string
	var at int64
	if err := r.Scan(&u.ID, &u.Requester, &u.Team, &u.Identity, &target, &just, &at); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(target), &u.Target); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(just), &u.Justification); err != nil {
		return u, err
	}
	if len(u.Justification) == 0 {
		u.Justification = nil
	}
	u.At = fromMicro(at)
	return u, nil
}

// UnmatchedDemands lists unmatched demand, newest first.
func (d *DB) UnmatchedDemands(ctx context.Context, o steward.ListOptions) (*steward.Page[steward.UnmatchedDemand], error) {
	before, limit, err := o.Normalize()
	if err != nil {
		return nil, err
	}
	q := `SELECT id, requester, team, identity, target, justification, at FROM unmatched_demand`
	var args []any
	if before > 0 {
		q, args = q+` WHERE id < ?`, append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	return fetchPage(ctx, d, q, append(args, limit+1), limit, scanDemand, func(u *steward.UnmatchedDemand) int64 { return u.ID })
}

var _ steward.RequestStore = (*DB)(nil)
