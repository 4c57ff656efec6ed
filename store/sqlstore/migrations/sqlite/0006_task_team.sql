-- Steward schema 6: an open gap task carries its identity's team.

-- The Ownership page lists a team's open gaps oldest first. Joined to
-- identities for the team, that list read every open task (or, from the
-- team's side, every identity of the team) before it had a page: 140 ms
-- and more at a million identities. A copy of the team on the task, kept
-- by the same refresh that opens and closes the task, makes it one range
-- of an index. Closed tasks keep the team they had when they closed.
ALTER TABLE tasks ADD COLUMN team_id BIGINT;
UPDATE tasks SET team_id = (SELECT x.team_id FROM identities x WHERE x.id = tasks.identity_id)
    WHERE status = 'open' AND kind = 'ownership_gap';
CREATE INDEX tasks_open_team ON tasks (team_id, id) WHERE status = 'open' AND kind = 'ownership_gap';
