-- Steward schema 22: a search tests one lowered column as it walks the name
-- index.
--
-- A page sorted by name and searched (q=search) walks the name index from
-- its cursor and tests each entry's name and external id, each lowered
-- first. A common word's matches cluster in name order, so a page deep in
-- the list can walk a hundred thousand entries to the next cluster (the
-- middle of a million identities, "search": 111,000 entries, 33 ms of which
-- the two lower() calls took 14). The table stores the two lowered and
-- joined by a line break, which a search cannot span (a query holds no
-- control character), and the name index holds it
-- in place of the external id. The trigram indexes on lower(name) and
-- lower(external_id) still serve a search that is not sorted by name.
ALTER TABLE identities ADD COLUMN search_text text GENERATED ALWAYS AS (lower(name) || chr(10) || lower(external_id)) STORED;
DROP INDEX identities_name;
CREATE INDEX identities_name ON identities (name, id) INCLUDE (search_text);
-- The rewritten table's figures for the planner: without them it scanned
-- the table and sorted. Migrate then vacuums it (migrationAfter).
ANALYZE identities;
