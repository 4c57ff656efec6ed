-- Steward schema 17: the name index holds the external id, so that a list
-- sorted by name and searched walks the index alone (SQLite).
--
-- A search matches the name or the external id. A page sorted by name walks
-- the (name, id) index from its cursor and tests each entry; for an entry
-- whose name did not match, the external id was a table row away. A common
-- word's matches cluster in name order (svc-payments-…), and a walk between
-- clusters read a row per entry: 110-490 ms a page at a million identities.
DROP INDEX identities_name;
CREATE INDEX identities_name ON identities (name, id, external_id);
