//! The SQLite backend, the embedded default: WAL mode, one writer, and a small pool of readers
//! that never block it.
//!
//! The writer is a thread of its own with a plain (rusqlite) connection: it takes the write
//! lock up front (`BEGIN IMMEDIATE`, so a transaction never fails to upgrade a read lock), and
//! runs a batch's lookups and inserts as cached prepared statements. Handing each statement to
//! sqlx's worker thread and back cost more than the statement itself; readers, which run
//! concurrently and rarely, stay on sqlx.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OpenFlags, OptionalExtension};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};

use crate::batch::{plan, streams_of, BlockingBatchWriter, Lookups, Pending, Plan};
use crate::chain::{canonical_time, ChainRow, Hash};
use crate::error::FromDriver as _;
use crate::error::{DatabaseError, StoreError};
use crate::types::{Metadata, Position, RecordedEvent, StreamId};

pub(crate) struct Opened {
    pub readers: SqlitePool,
    pub writer: SqliteWriter,
    /// Shared with whoever else writes through this store (snapshots): see [`WriteTurn`].
    pub turn: WriteTurn,
}

/// Turns at SQLite's one write lock inside this process. The writer thread holds the turn for
/// each batch; a snapshot being saved holds it for each chunk. SQLite's own busy handler
/// would not do: a waiting writer sleeps (up to 100 ms at a time) and retries, and a saver
/// that starts its next chunk right after committing the last one would keep finding the lock
/// free first, so appends would wait for the whole snapshot. This lock is fair (FIFO): when a
/// chunk is done, a waiting batch goes next.
pub(crate) type WriteTurn = std::sync::Arc<tokio::sync::Mutex<()>>;

/// Opens the database at `url`; `lock_timeout` is how long a statement waits for a lock held
/// by another process before it fails as unavailable.
pub(crate) async fn open(
    url: &str,
    readers: u32,
    lock_timeout: Duration,
) -> Result<Opened, StoreError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::InvalidInput(
            "an in-memory SQLite event store is not supported: use a file, sqlite://PATH".into(),
        ));
    }
    // The writer opens the file by its path; a URL that asks for another VFS or declares the
    // file immutable would have the readers look at it differently than the writer.
    if url.contains("vfs=") || url.contains("immutable=") {
        return Err(StoreError::InvalidInput(
            "the SQLite URL parameters vfs and immutable are not supported".into(),
        ));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidInput(format!("invalid SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged append is on disk, not only in the OS cache.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(lock_timeout);
    // Creates the file (in WAL mode, which is persistent) and brings the schema up to date.
    let mut migrator = SqliteConnection::connect_with(&options).await.or_store()?;
    sqlx::migrate!("../../migrations/sqlite")
        .run(&mut migrator)
        .await
        .or_store()?;
    migrator.close().await.or_store()?;
    let path = options.get_filename().to_owned();
    let writer = tokio::task::spawn_blocking(move || SqliteWriter::open(&path, lock_timeout))
        .await
        .map_err(|e| StoreError::Unavailable(DatabaseError::other(e.to_string())))??;
    let readers = SqlitePoolOptions::new()
        .max_connections(readers.max(1))
        .connect_with(options.read_only(true))
        .await
        .or_store()?;
    let turn = writer.turn.clone();
    Ok(Opened {
        readers,
        writer,
        turn,
    })
}

/// The writer's connection; [`crate::batch::run_blocking_writer`] drives it from its thread.
pub(crate) struct SqliteWriter {
    conn: rusqlite::Connection,
    turn: WriteTurn,
}

impl SqliteWriter {
    fn open(path: &std::path::Path, lock_timeout: Duration) -> Result<SqliteWriter, StoreError> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_error)?;
        conn.busy_timeout(lock_timeout).map_err(store_error)?;
        conn.execute_batch(
            // FULL: an acknowledged append is on disk, not only in the OS cache.
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             -- A statement journal (for undoing half a statement), if one is ever needed, in
             -- memory rather than in a temporary file.
             PRAGMA temp_store = MEMORY;
             -- Checkpoint every 10,000 WAL pages (40 MB) rather than 1,000: the writer runs
             -- the checkpoint inside a commit, and appends to many streams rewrite the same
             -- index pages over and over, which a rarer checkpoint copies to the database once.
             PRAGMA wal_autocheckpoint = 10000;",
        )
        .map_err(store_error)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(store_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::InvalidInput(format!(
                "the SQLite database is in journal mode {mode}, not WAL"
            )));
        }
        Ok(SqliteWriter {
            conn,
            turn: WriteTurn::default(),
        })
    }

    /// One batch as one transaction: lock, look up, plan, insert, commit.
    fn write_and_commit(&mut self, batch: &[Pending]) -> rusqlite::Result<Plan> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let lookups = self.look_up(batch)?;
        let plan = plan(batch, &lookups);
        if !plan.rows.is_empty() {
            self.insert(batch, &plan, lookups.head_hash)?;
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(plan)
    }

    /// Reads, under the write lock, what the plan needs: the head, the current version of each
    /// stream the batch touches, the idempotency keys already recorded, and per query item of
    /// each condition the first event after its position that matches it.
    fn look_up(&self, batch: &[Pending]) -> rusqlite::Result<Lookups> {
        let conn = &self.conn;
        let mut lookups = Lookups::default();
        // The head and its hash: the chain continues from it.
        let head: Option<(i64, Option<Vec<u8>>)> = conn
            .prepare_cached("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((head, hash)) = head {
            lookups.head = Position(head as u64);
            lookups.head_hash = hash.and_then(|h| h.try_into().ok());
        }

        let mut version = conn.prepare_cached(
            // MAX over the (stream_id, stream_version) index: one probe, not a scan.
            "SELECT MAX(stream_version) FROM events WHERE stream_id = ?1",
        )?;
        for stream in streams_of(batch) {
            let current: Option<i64> = version.query_row([&stream], |row| row.get(0))?;
            if let Some(current) = current {
                lookups.stream_versions.insert(stream, current as u64);
            }
        }

        let mut recorded = conn.prepare_cached(
            "SELECT first_position, last_position FROM idempotency_keys WHERE key = ?1",
        )?;
        for key in batch
            .iter()
            .filter_map(|p| p.request.idempotency_key.as_deref())
        {
            let found: Option<(i64, i64)> = recorded
                .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((first, last)) = found {
                lookups.recorded_keys.insert(
                    key.to_owned(),
                    (Position(first as u64), Position(last as u64)),
                );
            }
        }

        // An event matches a query item if it carries all of the item's tags and, if the item
        // names types, is of one of them. An item with a tag (every condition the service
        // builds) is looked up through `event_tags`, driven by its first tag: an index range of
        // the few events carrying it. Driving from `events` instead would test every event
        // since `after` — with many concurrent appenders, as many as were appended while the
        // decision was being taken, for each append of the batch.
        let mut first_tagged_match = conn.prepare_cached(
            "SELECT MIN(t.position) FROM event_tags AS t
             JOIN events AS e ON e.position = t.position
             WHERE t.tag = ?2 AND t.position > ?1
               AND NOT EXISTS (
                   SELECT 1 FROM json_each(?3) AS wanted
                   WHERE NOT EXISTS (
                       SELECT 1 FROM event_tags AS o
                       WHERE o.tag = wanted.value AND o.position = t.position))
               AND (json_array_length(?4) = 0
                    OR e.event_type IN (SELECT value FROM json_each(?4)))",
        )?;
        let mut first_match = conn.prepare_cached(
            "SELECT MIN(e.position) FROM events AS e
             WHERE e.position > ?1
               AND (json_array_length(?2) = 0
                    OR e.event_type IN (SELECT value FROM json_each(?2)))",
        )?;
        for (index, pending) in batch.iter().enumerate() {
            let Some(condition) = &pending.request.condition else {
                continue;
            };
            for item in &condition.fail_if_events_match.items {
                let types = serde_json::to_string(&item.types).expect("types serialise");
                let after = condition.after.as_i64();
                let hit: Option<i64> = match item.tags.split_first() {
                    Some((first, others)) => {
                        let others = serde_json::to_string(others).expect("tags serialise");
                        first_tagged_match
                            .query_row(params![after, first, others, types], |row| row.get(0))?
                    }
                    // No tag: any event of the types (or any event at all) matches.
                    None => first_match.query_row(params![after, types], |row| row.get(0))?,
                };
                if let Some(hit) = hit {
                    let hit = Position(hit as u64);
                    let first = lookups.condition_hits.entry(index).or_insert(hit);
                    *first = (*first).min(hit);
                }
            }
        }
        Ok(lookups)
    }

    fn insert(
        &self,
        batch: &[Pending],
        plan: &Plan,
        head_hash: Option<Hash>,
    ) -> rusqlite::Result<()> {
        let conn = &self.conn;
        let recorded_at = canonical_time(Utc::now());
        let hashes = plan.hashes(batch, head_hash, &recorded_at);
        let mut event_row = conn.prepare_cached(
            "INSERT INTO events (position, stream_id, stream_version, event_type, \
             schema_version, tags, payload, metadata, recorded_at, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut tag_row = conn
            .prepare_cached("INSERT OR IGNORE INTO event_tags (tag, position) VALUES (?1, ?2)")?;
        for (row, hash) in plan.rows.iter().zip(&hashes) {
            let event = &batch[row.batch_index].encoded[row.event_index];
            let position = row.position.as_i64();
            event_row.execute(params![
                position,
                event.stream_id,
                row.stream_version as i64,
                event.event_type,
                i64::from(event.schema_version),
                serde_json::to_string(&event.tags).expect("tags serialise"),
                event.payload,
                event.metadata,
                recorded_at,
                hash.as_slice(),
            ])?;
            for tag in &event.tags {
                tag_row.execute(params![tag, position])?;
            }
        }
        let mut key_row = conn.prepare_cached(
            "INSERT INTO idempotency_keys (key, first_position, last_position) VALUES (?1, ?2, ?3)",
        )?;
        for (key, first, last) in &plan.new_keys {
            key_row.execute(params![key, first.as_i64(), last.as_i64()])?;
        }
        let mut subject_key_row = conn
            .prepare_cached("INSERT INTO subject_keys (id, key, created_at) VALUES (?1, ?2, ?3)")?;
        for (id, key) in plan.subject_keys(batch) {
            subject_key_row.execute(params![id, key, recorded_at])?;
        }
        Ok(())
    }
}

impl BlockingBatchWriter for SqliteWriter {
    fn write(&mut self, batch: &[Pending]) -> Result<Plan, StoreError> {
        // Uncontended unless a snapshot is being saved; then it waits for at most one chunk.
        let turn = self.turn.clone();
        let _turn = turn.blocking_lock();
        let written = self.write_and_commit(batch).map_err(store_error);
        if written.is_err() && !self.conn.is_autocommit() {
            // Whatever failed (a lookup, an insert, or COMMIT itself, which leaves the
            // transaction open, e.g. on a deferred constraint), the connection must leave the
            // transaction, or every later BEGIN on it fails.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        written
    }
}

/// The writer's errors in the store's terms, classified like sqlx's SQLite errors.
fn store_error(error: rusqlite::Error) -> StoreError {
    let code = error.sqlite_error().map(|e| e.extended_code);
    crate::error::sqlite_error(code, error)
}

const COLUMNS: &str = "position, stream_id, stream_version, event_type, schema_version, tags, \
                       payload, metadata, recorded_at";

pub(crate) async fn read_after(
    pool: &SqlitePool,
    after: Position,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
    ))
    .bind(after.as_i64())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .or_store()?;
    rows.iter().map(decode).collect()
}

/// The events at `positions` (one to [`crate::MAX_POSITIONS_READ`] of them: the store splits
/// a longer list and never asks for none), in position order.
pub(crate) async fn read_positions(
    pool: &SqlitePool,
    positions: &[i64],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let marks = vec!["?"; positions.len()].join(",");
    let sql = format!("SELECT {COLUMNS} FROM events WHERE position IN ({marks}) ORDER BY position");
    let mut query = sqlx::query(&sql);
    for position in positions {
        query = query.bind(position);
    }
    let rows = query.fetch_all(pool).await.or_store()?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn read_stream(
    pool: &SqlitePool,
    stream: &StreamId,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE stream_id = ? ORDER BY stream_version"
    ))
    .bind(stream.as_str())
    .fetch_all(pool)
    .await
    .or_store()?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn head(pool: &SqlitePool) -> Result<Position, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(pool)
        .await
        .or_store()?;
    Ok(Position(head as u64))
}

/// Up to `limit` stored rows after `after`, raw, with their hashes, for the chain's walk.
pub(crate) async fn chain_rows(
    pool: &SqlitePool,
    after: Position,
    limit: usize,
) -> Result<Vec<ChainRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, hash FROM events WHERE position > ? ORDER BY position LIMIT ?"
    ))
    .bind(after.as_i64())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .or_store()?;
    rows.iter()
        .map(|row| {
            let position = Position(row.try_get::<i64, _>("position").or_store()? as u64);
            let corrupt = |reason: String| StoreError::Corrupt { position, reason };
            let json = |column: &str| -> Result<serde_json::Value, StoreError> {
                let text: String = row.try_get(column).or_store()?;
                serde_json::from_str(&text).map_err(|e| corrupt(format!("{column}: {e}")))
            };
            let recorded_at: String = row.try_get("recorded_at").or_store()?;
            Ok(ChainRow {
                position: position.0,
                stream_id: row.try_get("stream_id").or_store()?,
                stream_version: row.try_get::<i64, _>("stream_version").or_store()? as u64,
                event_type: row.try_get("event_type").or_store()?,
                schema_version: row.try_get::<i64, _>("schema_version").or_store()? as u32,
                tags: serde_json::from_value(json("tags")?)
                    .map_err(|e| corrupt(format!("tags: {e}")))?,
                payload: json("payload")?,
                metadata: json("metadata")?,
                recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
                    .map_err(|e| corrupt(format!("recorded_at: {e}")))?
                    .with_timezone(&Utc),
                hash: row.try_get("hash").or_store()?,
            })
        })
        .collect()
}

fn decode(row: &sqlx::sqlite::SqliteRow) -> Result<RecordedEvent, StoreError> {
    let position = Position(row.try_get::<i64, _>("position").or_store()? as u64);
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let tags: String = row.try_get("tags").or_store()?;
    let payload: String = row.try_get("payload").or_store()?;
    let metadata: String = row.try_get("metadata").or_store()?;
    let recorded_at: String = row.try_get("recorded_at").or_store()?;
    Ok(RecordedEvent {
        position,
        stream_id: StreamId::parse(row.try_get::<String, _>("stream_id").or_store()?)
            .map_err(|e| corrupt(e.to_string()))?,
        stream_version: row.try_get::<i64, _>("stream_version").or_store()? as u64,
        event_type: row.try_get("event_type").or_store()?,
        schema_version: row.try_get::<i64, _>("schema_version").or_store()? as u32,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt(format!("tags: {e}")))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload: {e}")))?,
        metadata: serde_json::from_str::<Metadata>(&metadata)
            .map_err(|e| corrupt(format!("metadata: {e}")))?,
        recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt(format!("recorded_at: {e}")))?
            .with_timezone(&Utc),
    })
}
