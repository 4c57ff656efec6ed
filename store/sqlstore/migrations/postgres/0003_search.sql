-- Steward schema 3: fast free-text search and inventory counts (PostgreSQL).

-- Covers GROUP BY kind, status (InventoryStats).
CREATE INDEX identities_kind_status ON identities (kind, status);

-- Trigram indexes let ILIKE '%x%' read the matches instead of every
-- identity. pg_trgm is a trusted extension (PostgreSQL 13+): the database
-- owner may create it. Where it cannot be had, search still works, by
-- scanning; the notice says why it is slow.
DO $$
DECLARE
    ext_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR unique_violation THEN
        RAISE NOTICE 'pg_trgm is not available (%); free-text search will scan', SQLERRM;
    END;
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX identities_name_trgm ON identities USING gin (name %I.gin_trgm_ops)', ext_schema);
        EXECUTE format('CREATE INDEX identities_external_id_trgm ON identities USING gin (external_id %I.gin_trgm_ops)', ext_schema);
    END IF;
END
$$;
