-- The event log: append-only, one row per event.
-- Positions are assigned by the writer while it holds a transaction-level advisory lock until
-- commit, so commit order equals position order and a reader never sees a position appear below
-- one it has already read (a plain BIGSERIAL would break that under concurrent transactions).
CREATE TABLE events (
    position        BIGINT      PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    tags            TEXT[]      NOT NULL,
    payload         JSONB       NOT NULL,
    metadata        JSONB       NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (stream_id, stream_version)
);

-- Dynamic Consistency Boundary checks ask "any event with these tags after position P?".
CREATE INDEX events_tags ON events USING GIN (tags);

-- An idempotency key remembers the first result of the append that carried it.
CREATE TABLE idempotency_keys (
    key             TEXT   PRIMARY KEY,
    first_position  BIGINT NOT NULL,
    last_position   BIGINT NOT NULL
);

-- Append-only in the database itself: history cannot be rewritten, not even by hand.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
