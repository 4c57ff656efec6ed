-- Steward schema 17: two indexes hold what their queries test, so that those
-- queries read the index alone. First, the name index holds the external id:
-- a list sorted by name and searched walks the index alone (SQLite).
--
-- A search matches the name or the external id. A page sorted by name walks
-- the (name, id) index from its cursor and tests each entry; for an entry
-- whose name did not match, the external id was a table row away. A common
-- word's matches cluster in name order (svc-payments-…), and a walk between
-- clusters read a row per entry: 110-490 ms a page at a million identities.
DROP INDEX identities_name;
CREATE INDEX identities_name ON identities (name, id, external_id);

-- A kind with "never used" or "unused for" (how many service accounts were
-- never used?) had no index that held both: the count tested a table row
-- for each never-used identity, 150-230 ms at a million. The kind and
-- status index holds the last use as well; its (kind, status) prefix still
-- serves what it served.
DROP INDEX identities_kind_status;
CREATE INDEX identities_kind_status ON identities (kind, status, last_used_at);
