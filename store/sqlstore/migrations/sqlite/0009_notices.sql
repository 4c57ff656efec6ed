-- Steward schema 9: the inbox that jobs write notices to.

-- A notice is a message to one person ("you now own X"), written by the job
-- that a change queued, with an audit event; a mailer (a later release)
-- sends the unsent ones and sets sent_at. A job may be worked more than once
-- (a crash after its notices were written, before River recorded it done):
-- the unique key makes the second attempt write nothing.
--
-- River's own tables (river_job, river_leader, river_queue, …) are not made
-- here: Migrate runs River's migrations after Steward's, so that they follow
-- the River version Steward is built with.
CREATE TABLE notices (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people (id),
    kind        TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    object_type TEXT   NOT NULL,
    object_id   TEXT   NOT NULL,
    job_id      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    UNIQUE (job_id, person_id)
);
-- One person's notices, and the ones a mailer has still to send.
CREATE INDEX notices_person ON notices (person_id, id);
CREATE INDEX notices_unsent ON notices (id) WHERE sent_at IS NULL;
