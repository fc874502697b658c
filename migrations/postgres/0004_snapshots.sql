-- Snapshots of the read model's fold (docs/design.md, "Snapshots"): a cache beside the log, never
-- part of it. Not append-only, not chained, not transferred: any snapshot can be deleted and is
-- rebuilt from the log. The store keeps the bytes opaque.
--
-- One row per snapshot here, its bytes in `snapshot_chunks` (as on SQLite, where chunks let
-- appends run between them): no single value of 100 MB has to be built, sent or read at once.
-- On PostgreSQL a snapshot is written in one transaction, so it is `complete` when it is seen.
CREATE TABLE snapshots (
    fold_version  BIGINT      NOT NULL,       -- the caller's u64, stored bit for bit as a signed 64-bit integer
    position      BIGINT      NOT NULL,       -- the last event folded into it
    event_hash    BYTEA,                      -- the chain hash of the event at `position` when saved
    len           BIGINT      NOT NULL,       -- its size in bytes
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    complete      BOOLEAN     NOT NULL DEFAULT false,
    PRIMARY KEY (fold_version, position)
);

-- No foreign key, as on SQLite: chunks without a snapshot row are removed when one is saved.
CREATE TABLE snapshot_chunks (
    fold_version  BIGINT  NOT NULL,
    position      BIGINT  NOT NULL,
    seq           INTEGER NOT NULL,           -- 0, 1, 2, ...
    bytes         BYTEA   NOT NULL,
    PRIMARY KEY (fold_version, position, seq)
);
