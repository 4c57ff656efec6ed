-- Steward schema 16: a web session belongs to an API token (a sign-in with a
-- pasted token, as before) or to a person signed in through the OpenID
-- provider, with the role decided at sign-in (PostgreSQL).
ALTER TABLE sessions ALTER COLUMN token_id DROP NOT NULL;
ALTER TABLE sessions ADD COLUMN person_id BIGINT REFERENCES people (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN role TEXT;
-- One principal: a token's session takes the token's role, a person's
-- carries its own.
ALTER TABLE sessions ADD CONSTRAINT sessions_one_principal CHECK ((token_id IS NULL) <> (person_id IS NULL));
ALTER TABLE sessions ADD CONSTRAINT sessions_person_role CHECK ((person_id IS NULL) = (role IS NULL));
CREATE INDEX sessions_person_id ON sessions (person_id);
