-- Steward schema 13: roles admin, auditor and member. The viewer role
-- (read only) becomes auditor, which reads everything and writes nothing,
-- as viewer did.
UPDATE tokens SET role = 'auditor' WHERE role = 'viewer';
