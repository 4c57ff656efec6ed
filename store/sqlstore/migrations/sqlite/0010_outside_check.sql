-- Steward schema 10: what sources do not say is unknown; disabled
-- credentials; links between identities; rotation evidence (SQLite).

-- created_at of identities and credentials is the time the source gives,
-- and NULL when it gives none. It used to be filled with the time of the
-- import. SQLite cannot drop NOT NULL from a column in place; rebuilding
-- identities (its eight indexes, search triggers and the foreign keys that
-- point at it) took 32 s at a million identities. A new column filled by
-- one UPDATE, the old one dropped, takes a tenth of that: neither touches
-- an index, since no index holds created_at.
--
-- The times a sync invented are recognised by when they were written: a
-- sync stamped the rows it created with a time inside its own run, and
-- sync_runs keeps each run's start and end. A row whose time falls inside
-- a successful run of its system that created rows of its kind was
-- stamped: its creation is unknown. (An identity created through the API
-- without a time got the time of the call; nothing tells those apart from
-- a time the caller gave, and they are left.)
CREATE TEMP TABLE stamp_runs AS
    SELECT system_id, started_at, finished_at,
        COALESCE(json_extract(result, '$.identities_created'), 0) > 0 AS identities,
        COALESCE(json_extract(result, '$.credentials_changed'), 0) > 0 AS credentials
    FROM sync_runs WHERE system_id IS NOT NULL AND error = '' AND json_valid(result);
CREATE INDEX temp.stamp_runs_start ON stamp_runs (system_id, started_at);

ALTER TABLE identities ADD COLUMN created_at_given INTEGER;
UPDATE identities SET created_at_given = created_at
WHERE NOT COALESCE((SELECT r.finished_at >= identities.created_at FROM stamp_runs r
    WHERE r.system_id = identities.system_id AND r.identities AND r.started_at <= identities.created_at
    ORDER BY r.started_at DESC LIMIT 1), 0);
ALTER TABLE identities DROP COLUMN created_at;
ALTER TABLE identities RENAME COLUMN created_at_given TO created_at;

ALTER TABLE credentials ADD COLUMN created_at_given INTEGER;
UPDATE credentials SET created_at_given = created_at
WHERE NOT COALESCE((SELECT r.finished_at >= credentials.created_at FROM identities x CROSS JOIN stamp_runs r
    WHERE x.id = credentials.identity_id AND r.system_id = x.system_id AND r.credentials AND r.started_at <= credentials.created_at
    ORDER BY r.started_at DESC LIMIT 1), 0);
ALTER TABLE credentials DROP COLUMN created_at;
ALTER TABLE credentials RENAME COLUMN created_at_given TO created_at;
DROP TABLE temp.stamp_runs;

-- A disabled credential (a GCP key disabled, an AWS key made Inactive) is
-- kept with status disabled rather than dropped.
ALTER TABLE credentials ADD COLUMN status TEXT NOT NULL DEFAULT 'active';

-- version is an opaque value that changes when the secret does (for
-- PostgreSQL, a hash of the password verifier's salt, which the server
-- shows to any client that starts a login); '' when the source gives none.
-- A sync that reads a different one than it read last notices a rotation.
ALTER TABLE credentials ADD COLUMN version TEXT NOT NULL DEFAULT '';

-- An identity that acts as another: a Kubernetes service account that
-- assumes an AWS IAM role. to_ref is the other identity's external id as
-- the source names it; to_id is set once an identity of another system has
-- that external id, and is NULL until then (a pending link).
CREATE TABLE identity_links (
    id         INTEGER PRIMARY KEY,
    from_id    INTEGER NOT NULL REFERENCES identities (id) DEFERRABLE INITIALLY DEFERRED,
    kind       TEXT    NOT NULL,
    to_ref     TEXT    NOT NULL,
    to_id      INTEGER REFERENCES identities (id) DEFERRABLE INITIALLY DEFERRED,
    created_at INTEGER NOT NULL,
    UNIQUE (from_id, kind, to_ref)
);
CREATE INDEX identity_links_to_id ON identity_links (to_id, id) WHERE to_id IS NOT NULL;
CREATE INDEX identity_links_pending ON identity_links (to_ref) WHERE to_id IS NULL;
