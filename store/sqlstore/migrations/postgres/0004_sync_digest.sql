-- Steward schema 4: what each system's last whole sync read (PostgreSQL).

-- One row per chunk of a system's digest: 16 bytes per record, its sum (a
-- 64-bit hash of the record as the source gave it) and the row it became,
-- little-endian, sorted by sum. The next whole sync skips the records whose
-- sum is here. context names what the sums were taken under (the digest
-- version, the sync's default environment); a run under another context
-- reads everything. Any write to a system's inventory outside a whole sync
-- deletes its digest.
CREATE TABLE sync_digests (
    system_id BIGINT  NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    chunk     INTEGER NOT NULL,
    context   TEXT    NOT NULL,
    entries   BYTEA   NOT NULL,
    PRIMARY KEY (system_id, chunk)
);

-- The chunks are random bytes: do not try to compress them.
ALTER TABLE sync_digests ALTER COLUMN entries SET STORAGE EXTERNAL;

-- pg_trgm's GIN indexes also answer equality, and the planner took the one
-- on external_id to find single identities by external id (a sync's joins):
-- every short id shares trigrams with every other, so each lookup read most
-- of the table (68 s for 6,700 lookups at a million identities). On lower()
-- they serve the case-insensitive search (lower(col) LIKE lower(q)) and
-- nothing else; the unique (system_id, external_id) index finds single ones.
DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NOT NULL THEN
        DROP INDEX IF EXISTS identities_name_trgm;
        DROP INDEX IF EXISTS identities_external_id_trgm;
        EXECUTE format('CREATE INDEX identities_name_trgm ON identities USING gin (lower(name) %I.gin_trgm_ops)', ext_schema);
        EXECUTE format('CREATE INDEX identities_external_id_trgm ON identities USING gin (lower(external_id) %I.gin_trgm_ops)', ext_schema);
    END IF;
END
$$;
