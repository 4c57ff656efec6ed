-- Steward schema 11: an identity records why it has its owner and team.

-- owner_source says what may change an identity's owner; these say what
-- decided it, half by half, so that a reader learns why: owner_by and
-- team_by are 'explicit' (set by hand), 'tag' (the system's own owner or
-- team tag, kept in owner_hint and team_hint), 'rule' (the rule named in
-- owner_rule) or, for the team, 'owner_team' (the owner's own team); empty
-- when nothing named one. Explicit assignments are filled in here; the
-- store re-resolves every other identity once, in the transaction that
-- applies this migration, to fill in the rest (SQL cannot evaluate rules).
ALTER TABLE identities ADD COLUMN owner_by TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN team_by TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN owner_rule TEXT NOT NULL DEFAULT '';
UPDATE identities SET
    owner_by = CASE WHEN owner_id IS NULL THEN '' ELSE 'explicit' END,
    team_by = CASE WHEN team_id IS NULL THEN '' ELSE 'explicit' END
    WHERE owner_source = 'explicit';
