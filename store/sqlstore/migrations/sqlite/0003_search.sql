-- Steward schema 3: fast free-text search and inventory counts (SQLite).

-- Covers GROUP BY kind, status without reading the table (InventoryStats).
CREATE INDEX identities_kind_status ON identities (kind, status);

-- A trigram index of names and external ids: a substring search reads the
-- matches, in id order, instead of every identity. Kept in step by triggers.
CREATE VIRTUAL TABLE identities_fts USING fts5(name, external_id, content='identities', content_rowid='id', tokenize='trigram');
INSERT INTO identities_fts (identities_fts) VALUES ('rebuild');
CREATE TRIGGER identities_fts_insert AFTER INSERT ON identities BEGIN
    INSERT INTO identities_fts (rowid, name, external_id) VALUES (new.id, new.name, new.external_id);
END;
CREATE TRIGGER identities_fts_delete AFTER DELETE ON identities BEGIN
    INSERT INTO identities_fts (identities_fts, rowid, name, external_id) VALUES ('delete', old.id, old.name, old.external_id);
END;
CREATE TRIGGER identities_fts_update AFTER UPDATE OF name, external_id ON identities
WHEN old.name IS NOT new.name OR old.external_id IS NOT new.external_id BEGIN
    INSERT INTO identities_fts (identities_fts, rowid, name, external_id) VALUES ('delete', old.id, old.name, old.external_id);
    INSERT INTO identities_fts (rowid, name, external_id) VALUES (new.id, new.name, new.external_id);
END;
