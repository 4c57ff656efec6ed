-- Steward schema 21: a JIT claim's lease is a number, not a name (postgres).
--
-- Every claim writes its lease into each row it claims and every record
-- compares it; a random 63-bit number does what the 24-character hex name
-- did (tell one claim from another across replicas) in a third of the bytes
-- and with an integer comparison. A claim in flight while this runs loses
-- its lease: its grants are due again when the lease would have ended (their
-- due_at), and revoked again then, which a Revoker takes as no error; the
-- engine that claimed them records nothing under the old name.
ALTER TABLE jit_grants DROP COLUMN lease;
ALTER TABLE jit_grants ADD COLUMN lease BIGINT;
