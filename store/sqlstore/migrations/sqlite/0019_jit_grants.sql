-- Steward schema 19: JIT grants and their expiry (sqlite).
--
-- A JIT grant is the life of time-bound access: granted with an expiry,
-- revoked in the target system at expiry. The inventory's grant of the same
-- identity and entitlement (type 'jit') is the access the system holds; it
-- is removed when the revocation is confirmed, and this row stays, revoked,
-- as the record.
--
-- due_at is the schedule: when the expiry engine must next act on the
-- grant (its expiry, a retry after a failure, the end of a claim's lease),
-- NULL once revoked. Engines claim what is due through its index, soonest
-- first, and set it to the lease's end; a claim is recorded only under its
-- lease, so that with several replicas each expiry is recorded once.
-- system_id, identity_ext and entitlement are the names the target knows,
-- copied at grant time: the keys a sync matches by, which never change.
CREATE TABLE jit_grants (
    id              INTEGER PRIMARY KEY,
    identity_id     INTEGER NOT NULL REFERENCES identities (id),
    entitlement_id  INTEGER NOT NULL REFERENCES entitlements (id),
    system_id       INTEGER NOT NULL,
    identity_ext    TEXT    NOT NULL,
    entitlement     TEXT    NOT NULL,
    granted_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    request_id      INTEGER,
    granted_by      TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL, -- active, revocation_failing, revoked
    due_at          INTEGER,
    lease           TEXT,
    warned_at       INTEGER,
    revoked_at      INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    CHECK ((state = 'revoked') = (due_at IS NULL))
);
CREATE INDEX jit_grants_due ON jit_grants (due_at) WHERE due_at IS NOT NULL;
-- The grants whose warning is still to go out, by expiry.
CREATE INDEX jit_grants_warn ON jit_grants (expires_at) WHERE state = 'active' AND warned_at IS NULL;
-- One unrevoked JIT grant per identity and entitlement.
CREATE UNIQUE INDEX jit_grants_open ON jit_grants (identity_id, entitlement_id) WHERE state <> 'revoked';
CREATE INDEX jit_grants_identity ON jit_grants (identity_id, id);
-- The open JIT grants of a system, which a sync keeps jit (resolveGrants).
CREATE INDEX jit_grants_system_open ON jit_grants (system_id) WHERE state <> 'revoked';
