-- Steward schema 1: inventory, audit chain, tokens and sessions (SQLite).
-- Timestamps are Unix microseconds (INTEGER) in both dialects so that one set
-- of queries and one hash of an audit event serve SQLite and PostgreSQL alike.

CREATE TABLE teams (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL DEFAULT '',
    manager_id   INTEGER REFERENCES people (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   INTEGER NOT NULL
);

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    external_id TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL DEFAULT '',
    title       TEXT    NOT NULL DEFAULT '',
    team_id     INTEGER REFERENCES teams (id) DEFERRABLE INITIALLY DEFERRED,
    manager_id  INTEGER REFERENCES people (id) DEFERRABLE INITIALLY DEFERRED,
    status      TEXT    NOT NULL,
    departed_at INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX people_team_id ON people (team_id, id);
CREATE INDEX people_manager_id ON people (manager_id, id);
CREATE INDEX people_status ON people (status, id);

CREATE TABLE systems (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    owner_team_id INTEGER REFERENCES teams (id) DEFERRABLE INITIALLY DEFERRED,
    created_at    INTEGER NOT NULL
);
CREATE INDEX systems_kind ON systems (kind, id);

CREATE TABLE identities (
    id           INTEGER PRIMARY KEY,
    system_id    INTEGER NOT NULL REFERENCES systems (id) DEFERRABLE INITIALLY DEFERRED,
    external_id  TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    criticality  TEXT    NOT NULL,
    owner_id     INTEGER REFERENCES people (id) DEFERRABLE INITIALLY DEFERRED,
    team_id      INTEGER REFERENCES teams (id) DEFERRABLE INITIALLY DEFERRED,
    status       TEXT    NOT NULL,
    labels       TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    updated_at   INTEGER NOT NULL,
    UNIQUE (system_id, external_id)
);
-- One (filter column, id) index per list filter: a filtered page is a range
-- scan in id order that stops after limit+1 rows, at any depth.
CREATE INDEX identities_system_id ON identities (system_id, id);
CREATE INDEX identities_kind ON identities (kind, id);
CREATE INDEX identities_owner_id ON identities (owner_id, id);
CREATE INDEX identities_team_id ON identities (team_id, id);
CREATE INDEX identities_environment ON identities (environment, id);
CREATE INDEX identities_status ON identities (status, id);

CREATE TABLE credentials (
    id              INTEGER PRIMARY KEY,
    identity_id     INTEGER NOT NULL REFERENCES identities (id) DEFERRABLE INITIALLY DEFERRED,
    kind            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_rotated_at INTEGER,
    last_used_at    INTEGER,
    expires_at      INTEGER,
    fingerprint     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX credentials_identity_id ON credentials (identity_id, id);

CREATE TABLE entitlements (
    id          INTEGER PRIMARY KEY,
    system_id   INTEGER NOT NULL REFERENCES systems (id) DEFERRABLE INITIALLY DEFERRED,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    privileged  BOOLEAN NOT NULL,
    sensitivity TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (system_id, name)
);
CREATE INDEX entitlements_privileged ON entitlements (privileged, id);

CREATE TABLE grants (
    id             INTEGER PRIMARY KEY,
    identity_id    INTEGER NOT NULL REFERENCES identities (id) DEFERRABLE INITIALLY DEFERRED,
    entitlement_id INTEGER NOT NULL REFERENCES entitlements (id) DEFERRABLE INITIALLY DEFERRED,
    type           TEXT    NOT NULL,
    granted_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    granted_via    TEXT    NOT NULL DEFAULT '',
    UNIQUE (identity_id, entitlement_id)
);
CREATE INDEX grants_entitlement_id ON grants (entitlement_id, id);
CREATE INDEX grants_type ON grants (type, id);
CREATE INDEX grants_expires_at ON grants (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    object_type TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX events_object ON events (object_type, object_id, seq);
CREATE INDEX events_action ON events (action, seq);

-- The newest event, updated in the same transaction as each append. It is
-- the row every writer locks to serialise the chain, and it lets verify notice
-- events deleted from the end.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    role         TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    token_id   INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_token_id ON sessions (token_id);
