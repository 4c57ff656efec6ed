-- Steward schema 7: failed syncs are recorded too.

-- A run that failed is rolled back whole; a row is then written on its own
-- with what went wrong, so that when each source last failed, and why, is
-- known beside when it last succeeded. Empty: the run succeeded.
ALTER TABLE sync_runs ADD COLUMN error TEXT NOT NULL DEFAULT '';

-- The runs of one system, newest first (GET /api/v1/sync-runs?system_id=).
CREATE INDEX sync_runs_system ON sync_runs (system_id, id);
