-- Steward schema 15: audit events sealed with a key kept outside the
-- database. key_id is the id (a fingerprint) of the audit key that sealed
-- the event, mac the HMAC-SHA-256 of its hash under that key; both are
-- empty for the events written before Steward had a key, which stay
-- verifiable by their SHA-256 chain alone.
ALTER TABLE events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN mac TEXT NOT NULL DEFAULT '';

-- The head row is sealed too (under another tag than the newest event's
-- seal), so that events deleted from the end with the head moved back are
-- caught by whoever holds the key.
ALTER TABLE audit_head ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_head ADD COLUMN mac TEXT NOT NULL DEFAULT '';
