-- Steward schema 4: what each system's last whole sync read (SQLite).

-- One row per chunk of a system's digest: 16 bytes per record, its sum (a
-- 64-bit hash of the record as the source gave it) and the row it became,
-- little-endian, sorted by sum. The next whole sync skips the records whose
-- sum is here. context names what the sums were taken under (the digest
-- version, the sync's default environment); a run under another context
-- reads everything. Any write to a system's inventory outside a whole sync
-- deletes its digest.
CREATE TABLE sync_digests (
    system_id INTEGER NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    chunk     INTEGER NOT NULL,
    context   TEXT    NOT NULL,
    entries   BLOB    NOT NULL,
    PRIMARY KEY (system_id, chunk)
);
