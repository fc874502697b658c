-- Tamper evidence: each event's SHA-256 hash, chained to the event before it (see
-- docs/design.md, "Tamper evidence"). Rows written before this migration have none: the chain
-- starts at the first row that has one.
ALTER TABLE events ADD COLUMN hash BLOB;
