-- Steward schema 2: reconciliation with sources, ownership and gap tasks (SQLite).

-- content_hash is a digest of what the source last said of a row, so that a
-- re-sync finds the changed rows with one comparison per row.
ALTER TABLE identities ADD COLUMN owner_source TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN owner_hint TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN team_hint TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN removed_at INTEGER;
ALTER TABLE identities ADD COLUMN attested_at INTEGER;
ALTER TABLE identities ADD COLUMN attested_by INTEGER REFERENCES people (id) DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE credentials ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX credentials_external_id ON credentials (identity_id, external_id) WHERE external_id <> '';

ALTER TABLE entitlements ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';

-- people.source names the people source a person came from ("ldap:corp"),
-- so that a sync marks departed only the people its source no longer lists.
ALTER TABLE people ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE INDEX people_email ON people (email);
CREATE INDEX people_source ON people (source, external_id);

CREATE TABLE ownership_rules (
    position INTEGER PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE,
    body     TEXT    NOT NULL
);

-- Work items. Ownership gaps keep one open task per (identity, gap); the
-- open ones are also the index that the gap filters and the ownership page
-- page through.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    gap         TEXT    NOT NULL DEFAULT '',
    identity_id INTEGER REFERENCES identities (id) DEFERRABLE INITIALLY DEFERRED,
    status      TEXT    NOT NULL,
    opened_at   INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    closed_at   INTEGER
);
CREATE UNIQUE INDEX tasks_open_gap ON tasks (identity_id, gap) WHERE status = 'open' AND kind = 'ownership_gap';
CREATE INDEX tasks_gap_identity ON tasks (gap, identity_id) WHERE status = 'open';
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    system_id   INTEGER REFERENCES systems (id) DEFERRABLE INITIALLY DEFERRED,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    result      TEXT    NOT NULL
);
CREATE INDEX sync_runs_source ON sync_runs (source, id);
