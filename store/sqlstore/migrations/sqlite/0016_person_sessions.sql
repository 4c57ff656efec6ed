-- Steward schema 16: a web session belongs to an API token (a sign-in with a
-- pasted token, as before) or to a person signed in through the OpenID
-- provider, with the role decided at sign-in (SQLite).
--
-- SQLite cannot drop a NOT NULL, so the table is made again; nothing refers
-- to it, and the live sessions are kept.
CREATE TABLE sessions_new (
    id         INTEGER PRIMARY KEY,
    token_id   INTEGER REFERENCES tokens (id) ON DELETE CASCADE,
    person_id  INTEGER REFERENCES people (id) ON DELETE CASCADE,
    role       TEXT,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- One principal: a token's session takes the token's role, a person's
    -- carries its own.
    CHECK ((token_id IS NULL) <> (person_id IS NULL)),
    CHECK ((person_id IS NULL) = (role IS NULL))
);
INSERT INTO sessions_new (id, token_id, hash, created_at, expires_at)
    SELECT id, token_id, hash, created_at, expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_token_id ON sessions (token_id);
CREATE INDEX sessions_person_id ON sessions (person_id);
