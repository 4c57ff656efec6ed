-- Steward schema 20: access requests and unmatched demand (sqlite).
--
-- A request keeps what was asked (question: the facts the decision saw),
-- what the catalog decided (decision, with its reasons) and what happened
-- since (state, level, approvals, fulfilment tries), as JSON where the
-- shape is the domain's; the columns a list filters or the clock scans by
-- are columns of their own. Every change names the state it expects
-- (UPDATE ... WHERE state = ?), so that two approvers, or an approver and
-- the clock, never both move a request.
CREATE TABLE access_requests (
    id              INTEGER PRIMARY KEY,
    requester       TEXT    NOT NULL,
    identity        TEXT    NOT NULL,
    model           TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,
    level           INTEGER NOT NULL DEFAULT 0,
    duration        INTEGER NOT NULL DEFAULT 0, -- nanoseconds
    target          TEXT    NOT NULL, -- JSON: steward.AccessTarget
    justification   TEXT    NOT NULL DEFAULT '{}',
    decision        TEXT    NOT NULL, -- JSON: steward.AccessDecision
    question        TEXT    NOT NULL, -- JSON: steward.AccessQuestion
    approvals       TEXT    NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    decide_by       INTEGER,
    first_decide_by INTEGER,
    expires_at      INTEGER,
    closed_at       INTEGER,
    reason          TEXT    NOT NULL DEFAULT '',
    extends         INTEGER,
    jit_grant_id    INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX access_requests_requester ON access_requests (lower(requester), id);
CREATE INDEX access_requests_state ON access_requests (state, id);
CREATE INDEX access_requests_identity ON access_requests (identity, id);
-- The clock's work: pending requests by the next time it acts on them.
CREATE INDEX access_requests_decide_by ON access_requests (decide_by) WHERE state = 'pending';
CREATE INDEX access_requests_expires_at ON access_requests (expires_at) WHERE state = 'pending';

-- What people asked for that no catalog model serves.
CREATE TABLE unmatched_demand (
    id              INTEGER PRIMARY KEY,
    requester       TEXT    NOT NULL,
    team            TEXT    NOT NULL DEFAULT '',
    identity        TEXT    NOT NULL,
    target          TEXT    NOT NULL, -- JSON: steward.AccessTarget
    justification   TEXT    NOT NULL DEFAULT '{}',
    at              INTEGER NOT NULL
);
