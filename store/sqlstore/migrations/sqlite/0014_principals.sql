-- Steward schema 14: every API token belongs to a principal, and every
-- audit event records what its principal came through.

-- A personal token names its person; an automation token the identity of
-- Steward's own inventory (system 'steward') whose credential it is. The
-- store registers an identity, without an owner, for every token made
-- before this schema, in the transaction that applies it: an ownership gap
-- until someone owns it.
ALTER TABLE tokens ADD COLUMN person_id INTEGER REFERENCES people (id);
ALTER TABLE tokens ADD COLUMN identity_id INTEGER REFERENCES identities (id);
CREATE INDEX tokens_person_id ON tokens (person_id, id);

-- "token:NAME" for an API token, "session:…" for a web session, "cli" for
-- a local administrator, empty for Steward's own jobs and for the events
-- written before this schema. The hash covers it only when it is set, so
-- that the chain written before still verifies.
ALTER TABLE events ADD COLUMN via TEXT NOT NULL DEFAULT '';
