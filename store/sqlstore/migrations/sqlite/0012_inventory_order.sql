-- Steward schema 12: the inventory sorted by name, creation, last use and
-- credential age, and filtered by how old or idle an identity is (SQLite).

-- When the identity's oldest active credential was last rotated, or created if it
-- never was: the secret that has gone longest without rotation. NULL when
-- the identity has no credential, or none with a known time. Every write of
-- credentials (the API, syncs, first loads, bulk loads) keeps it in step in
-- its own transaction, so that a sort or filter by credential age reads
-- one indexed column instead of every identity's credentials.
ALTER TABLE identities ADD COLUMN oldest_credential_at INTEGER;
UPDATE identities SET oldest_credential_at = (
        SELECT min(COALESCE(c.last_rotated_at, c.created_at)) FROM credentials c WHERE c.identity_id = identities.id AND c.status <> 'disabled')
    WHERE id IN (SELECT identity_id FROM credentials);

-- One (sort key, id) index per sort: a page in either direction is a range
-- scan from the cursor that stops after a page, at any depth, and the
-- time filters ("unused for 90 days", "never used", "credential older than
-- a year") are ranges of the same indexes.
CREATE INDEX identities_name ON identities (name, id);
CREATE INDEX identities_created_at ON identities (created_at, id);
CREATE INDEX identities_last_used_at ON identities (last_used_at, id);
CREATE INDEX identities_oldest_credential_at ON identities (oldest_credential_at, id);
