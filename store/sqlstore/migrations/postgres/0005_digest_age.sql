-- Steward schema 5: when a system's digest was taken whole (PostgreSQL).

-- A digest's base older than a week is not trusted: the next sync compares
-- every record and takes it again (see DigestMaxAge). 0: taken before this
-- column, and so compared at the next sync.
ALTER TABLE sync_digests ADD COLUMN taken_at BIGINT NOT NULL DEFAULT 0;
