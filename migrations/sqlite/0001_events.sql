-- The event log: append-only, one row per event, global position = rowid.
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,            -- global, gapless, assigned by the single writer
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,               -- 1-based within the stream
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    tags            TEXT    NOT NULL,               -- JSON array of strings, for reading back
    payload         TEXT    NOT NULL,               -- JSON
    metadata        TEXT    NOT NULL,               -- JSON: actor, role, request id, idempotency key
    recorded_at     TEXT    NOT NULL,               -- RFC 3339, UTC
    UNIQUE (stream_id, stream_version)
);

-- Tags in their own table so a Dynamic Consistency Boundary check is an index lookup.
CREATE TABLE event_tags (
    tag       TEXT    NOT NULL,
    position  INTEGER NOT NULL REFERENCES events (position),
    PRIMARY KEY (tag, position)
) WITHOUT ROWID;

-- An idempotency key remembers the first result of the append that carried it.
CREATE TABLE idempotency_keys (
    key             TEXT    PRIMARY KEY,
    first_position  INTEGER NOT NULL,
    last_position   INTEGER NOT NULL
) WITHOUT ROWID;

-- Append-only in the database itself: history cannot be rewritten, not even by hand.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END;
CREATE TRIGGER event_tags_no_update BEFORE UPDATE ON event_tags
BEGIN SELECT RAISE(ABORT, 'event tags are append-only: UPDATE is not allowed'); END;
CREATE TRIGGER event_tags_no_delete BEFORE DELETE ON event_tags
BEGIN SELECT RAISE(ABORT, 'event tags are append-only: DELETE is not allowed'); END;
