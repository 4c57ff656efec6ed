-- Steward schema 22: a search tests one column as it walks the name index.
--
-- A page sorted by name and searched (q=search) walks the name index from
-- its cursor and tests each entry's name and external id. A common word's
-- matches cluster in name order, so a page deep in the list can walk a
-- hundred thousand entries to the next cluster (the middle of a million
-- identities, "search": 111,000 entries, 50 ms a page). One LIKE over one
-- text costs two thirds of two, so the index holds the two joined by a line
-- break, which a search cannot span (a query holds no control character).
-- The column is virtual: the table does not store it, the index does.
ALTER TABLE identities ADD COLUMN search_text TEXT GENERATED ALWAYS AS (name || char(10) || external_id) VIRTUAL;
DROP INDEX identities_name;
CREATE INDEX identities_name ON identities (name, id, search_text);
-- The new index's figures for the planner (Migrate then drops the samples).
ANALYZE identities;
