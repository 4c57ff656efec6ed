-- Steward schema 17: the name index holds the external id, so that a list
-- sorted by name and searched walks the index alone (PostgreSQL).
--
-- A search matches the name or the external id. A page sorted by name walks
-- the (name, id) index from its cursor and tests each entry; for an entry
-- whose name did not match, the external id was a table row away (and a
-- plain index scan reads the row before any filter). A common word's matches
-- cluster in name order (svc-payments-…), and a walk between clusters read a
-- row per entry: 190-410 ms a page at a million identities. With the external
-- id included, the page's ids come from an index-only scan.
DROP INDEX identities_name;
CREATE INDEX identities_name ON identities (name, id) INCLUDE (external_id);
