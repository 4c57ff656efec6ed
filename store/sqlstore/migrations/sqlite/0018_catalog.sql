-- Steward schema 18: the service catalog as applied, one row per version
-- (SQLite). The highest version is the catalog in force. source is the text
-- exactly as applied, so that 'steward catalog get -o yaml' gives it back;
-- body is the catalog as the domain reads it (JSON), so that the store can
-- diff two versions without parsing YAML.
CREATE TABLE catalog_versions (
    version    INTEGER PRIMARY KEY,
    source     TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL,
    applied_by TEXT    NOT NULL
);
