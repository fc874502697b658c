-- Snapshots of the read model's fold (docs/design.md, "Snapshots"): a cache beside the log, never
-- part of it. Not append-only, not chained, not transferred: any snapshot can be deleted and is
-- rebuilt from the log. The store keeps the bytes opaque.
--
-- One row per snapshot here, its bytes in `snapshot_chunks`: SQLite has one write lock, and a
-- 100 MB blob written in one transaction would hold it (and stall every append) for a second or
-- more. Chunks are written in transactions of their own, appends between them; a snapshot is
-- used only once `complete`.
CREATE TABLE snapshots (
    fold_version  INTEGER NOT NULL,           -- the caller's u64, stored bit for bit as a signed 64-bit integer
    position      INTEGER NOT NULL,           -- the last event folded into it
    event_hash    BLOB,                       -- the chain hash of the event at `position` when saved
    len           INTEGER NOT NULL,           -- its size in bytes
    created_at    TEXT    NOT NULL,           -- RFC 3339, UTC
    complete      INTEGER NOT NULL DEFAULT 0, -- 1 once every chunk is written
    PRIMARY KEY (fold_version, position)
) WITHOUT ROWID;

-- No foreign key: chunks of a deleted snapshot are removed afterwards, a few per transaction.
CREATE TABLE snapshot_chunks (
    fold_version  INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    seq           INTEGER NOT NULL,           -- 0, 1, 2, ...
    bytes         BLOB    NOT NULL,
    PRIMARY KEY (fold_version, position, seq)
);
