-- Steward schema 8: writes outside a sync name the rows they wrote.

-- An identity, credential, entitlement or grant created through the API used
-- to delete its system's digest, so that the next whole sync compared every
-- record (45 s at a million identities instead of 4). Such a write now adds
-- a row here naming what it wrote (ref, as a digest entry names a row; 0:
-- the whole system, for writes too large to name row by row). The next whole
-- sync compares those rows as well as the records that changed, and deletes
-- the rows it read here, and only those: a write that lands while it runs
-- is left for the sync after. (A system that is never synced keeps the marks
-- of its API writes, a small row per row written, until its first sync:
-- marking only systems that have a digest would lose a write that lands
-- during the sync that writes the first one.)
CREATE TABLE sync_dirty (
    id        BIGSERIAL PRIMARY KEY,
    system_id BIGINT  NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    ref       BIGINT  NOT NULL
);

CREATE INDEX sync_dirty_system ON sync_dirty (system_id, id);
