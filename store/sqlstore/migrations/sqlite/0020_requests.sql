-- Steward schema 20: access requests and unmatched demand (sqlite).
--
-- An access request is asked through the catalog and keeps what was asked
-- (question), what the catalog decided with its reasons (decision), and
-- what happened since: its state, the approvals given (a JSON array, added
-- to by each approval), its escalation level and deadlines, and its
-- fulfilment's tries. requester, identity and model are the catalog's
-- names (e-mail address, identity name, model name), kept as columns to be
-- listed by. extends is the JIT grant a request to extend names,
-- jit_grant_id the JIT grant its fulfilment made; both are ids of
-- jit_grants, not enforced, as jit_grants.request_id is not.
--
-- Times are Unix microseconds; duration is nanoseconds (a JIT grant's
-- length). A change applies only while the request is in the state it
-- was read in (UPDATE ... WHERE state = ?), so that two approvers, or an
-- approver and the clock, never both move it.
CREATE TABLE access_requests (
    id              INTEGER PRIMARY KEY,
    requester       TEXT    NOT NULL,
    identity        TEXT    NOT NULL,
    model           TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL, -- pending, approved, fulfilled, failed, refused, denied, cancelled, expired
    level           INTEGER NOT NULL DEFAULT 0,
    target          TEXT    NOT NULL, -- JSON: steward.AccessTarget
    duration        INTEGER NOT NULL DEFAULT 0,
    justification   TEXT    NOT NULL DEFAULT 'null', -- JSON object
    decision        TEXT    NOT NULL, -- JSON: steward.AccessDecision
    question        TEXT    NOT NULL, -- JSON: steward.AccessQuestion
    approvals       TEXT    NOT NULL DEFAULT '[]', -- JSON array of steward.RequestApproval
    decide_by       INTEGER,
    first_decide_by INTEGER,
    expires_at      INTEGER,
    closed_at       INTEGER,
    reason          TEXT    NOT NULL DEFAULT '',
    extends         INTEGER,
    jit_grant_id    INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- Lists are newest first (id descending): by the primary key, or by one of
-- these for a filter.
CREATE INDEX access_requests_requester ON access_requests (requester, id);
CREATE INDEX access_requests_identity ON access_requests (identity, id);
CREATE INDEX access_requests_model ON access_requests (model, id);
CREATE INDEX access_requests_state ON access_requests (state, id);
-- The clock's work: pending requests whose decision level or life runs
-- out (Due). Only pending requests are in them, a small part of all.
CREATE INDEX access_requests_due_decide ON access_requests (decide_by) WHERE state = 'pending';
CREATE INDEX access_requests_due_expire ON access_requests (expires_at) WHERE state = 'pending';

-- Unmatched demand: requests no catalog model serves, kept so that the
-- catalog's owners see what people ask for and cannot get.
CREATE TABLE unmatched_demand (
    id            INTEGER PRIMARY KEY,
    requester     TEXT    NOT NULL,
    team          TEXT    NOT NULL DEFAULT '',
    identity      TEXT    NOT NULL DEFAULT '',
    target        TEXT    NOT NULL, -- JSON: steward.AccessTarget
    justification TEXT    NOT NULL DEFAULT 'null', -- JSON object
    at            INTEGER NOT NULL
);
