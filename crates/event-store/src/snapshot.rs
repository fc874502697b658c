//! Snapshots of a fold of the log (the read model), stored beside it so that start-up can load
//! the newest one and replay only the events after it.
//!
//! The store keeps the bytes opaque: what they mean, and which `fold_version` the fold code
//! has, is the caller's business. What the store guarantees is that a snapshot is only ever
//! handed back for the log it was folded from:
//! - only one with the asked `fold_version` ([`EventStore::latest_snapshot`]); another version
//!   is ignored, so the caller rebuilds;
//! - only one whose position the log has reached *and* whose event at that position is still
//!   the same one: the chain hash of that event is recorded with the snapshot and compared on
//!   loading. A snapshot beyond the head (a restored older backup of the log, a snapshot table
//!   from another database) is never trusted, not even once the log grows past it again with
//!   other events. (Events from before the hash chain have no hash; for them the position alone
//!   is checked.)
//!
//! Snapshots are a cache: not append-only, not chained, not carried by a transfer
//! ([`crate::transfer::SKIPPED`]), ignored by [`EventStore::verify_chain`]. Any of them can be
//! deleted ([`EventStore::delete_snapshots`]); the caller then folds the whole log again.
//!
//! The bytes are kept in chunks of [`CHUNK`] bytes (`snapshot_chunks`), one row per snapshot in
//! `snapshots`. On SQLite that is what keeps a large snapshot from stalling appends: see
//! [`EventStore::save_snapshot`]. On both backends it means no single database value of the
//! snapshot's whole size is built, sent or read at once. A snapshot is read chunk by chunk, and
//! handed on chunk by chunk as it is read ([`EventStore::read_latest_snapshot`]: the caller
//! decodes it as it arrives and never holds all its bytes) or into one buffer
//! ([`EventStore::latest_snapshot`]).

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use sqlx::{
    ConnectOptions as _, Connection as _, Executor as _, PgConnection, PgPool, Row as _,
    SqliteConnection, SqlitePool,
};

use crate::chain::canonical_time;
use crate::error::FromDriver as _;
use crate::error::StoreError;
use crate::postgres::CONNECT_TIMEOUT;
use crate::sqlite::WriteTurn;
use crate::types::Position;
use crate::EventStore;

/// How many snapshots are kept: after each save only the newest `KEEP`, whatever their fold
/// version, remain. More than one, so the snapshot a starting instance is reading is not
/// deleted under it by another instance's save; few, since each may be large.
pub const KEEP: usize = 3;

/// The size of the pieces a snapshot's bytes are stored in. On SQLite an append waits for at
/// most one chunk's transaction (about 10 ms for 1 MiB with `synchronous = FULL`).
pub const CHUNK: usize = 1 << 20;

/// Chunks of deleted snapshots removed per transaction on SQLite (16 MiB: again short enough for
/// appends to go between).
const CHUNKS_PER_DELETE: i64 = 16;

/// A save on SQLite that has not completed in this long was abandoned (its process ended in the
/// middle); the next save removes it.
const ABANDONED_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The largest buffer reserved up front for a snapshot being read, whatever size its row
/// claims (a damaged row must not make the reader allocate terabytes).
const MAX_RESERVE: u64 = 1 << 30;

/// A snapshot as stored, with its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The position of the last event folded into it.
    pub position: u64,
    pub fold_version: u64,
    /// When it was saved (the database's clock on PostgreSQL, the server's on SQLite).
    pub created_at: DateTime<Utc>,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for StoredSnapshot {
    /// Without the bytes, which may be large.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSnapshot")
            .field("position", &self.position)
            .field("fold_version", &self.fold_version)
            .field("created_at", &self.created_at)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .finish()
    }
}

/// A stored snapshot without its bytes, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub position: u64,
    pub fold_version: u64,
    pub created_at: DateTime<Utc>,
    /// Its size in bytes.
    pub len: u64,
}

/// The fold version as stored: a u64 in a signed 64-bit column, bit for bit (versions are only
/// compared for equality, so the order of large values does not matter).
fn stored_version(fold_version: u64) -> i64 {
    fold_version as i64
}

fn position_i64(position: u64) -> Result<i64, StoreError> {
    i64::try_from(position).map_err(|_| StoreError::SnapshotBeyondHead {
        position: Position(position),
        head: Position(i64::MAX as u64),
    })
}

impl EventStore {
    /// Stores a snapshot of the fold of the log up to and including `position`, made by fold
    /// code of `fold_version`, then deletes all but the newest [`KEEP`] snapshots (in the same
    /// transaction as the snapshot is published). Saving a (`fold_version`, `position`) that is
    /// already stored, or being stored right now (by another instance), does nothing: the
    /// first one stays. A position beyond the log's head is refused
    /// ([`StoreError::SnapshotBeyondHead`]).
    ///
    /// On SQLite the snapshot does not go through the writer thread's queue, where appends
    /// would wait behind it, nor is it written in one transaction, which would hold SQLite's
    /// one write lock for as long as writing it takes (over a second for 100 MB): its chunks
    /// are written on a connection of its own, each in a transaction of its own, taking turns
    /// with the writer thread's batches (`sqlite::WriteTurn`), so an append waits for one chunk
    /// at most. Readers never see it half-written: it is marked complete (and the old ones
    /// deleted) in a last short transaction. The chunks of deleted snapshots are removed
    /// afterwards, a few per transaction. On PostgreSQL appends do not wait for other writes
    /// (they serialise on their own advisory lock), so a snapshot is one transaction.
    pub async fn save_snapshot(
        &self,
        position: u64,
        fold_version: u64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let position = position_i64(position)?;
        let version = stored_version(fold_version);
        match (self.sqlite_readers(), self.write_turn(), self.pg_pool()) {
            (Some(pool), Some(turn), _) => {
                let mut conn = sqlite_writer(pool).await?;
                let saved = sqlite_save(&mut conn, turn, position, version, bytes).await;
                let _ = conn.close().await;
                saved
            }
            (_, _, Some(pool)) => postgres_save(pool, position, version, bytes).await,
            _ => unreachable!("a store has one backend"),
        }
    }

    /// The newest snapshot (highest position) made by fold code of `fold_version` that belongs
    /// to this log: its position is at or below the head, and the event there is the one it
    /// was folded up to (see the module docs). `None` when there is none: fold from the start.
    /// One whose chunks do not add up is logged and treated as none.
    ///
    /// All its bytes in one buffer: a caller that can take them piece by piece uses
    /// [`EventStore::read_latest_snapshot`], which this is built on.
    pub async fn latest_snapshot(
        &self,
        fold_version: u64,
    ) -> Result<Option<StoredSnapshot>, StoreError> {
        let mut bytes = Collect::default();
        match self.read_latest_snapshot(fold_version, &mut bytes).await? {
            SnapshotRead::Whole(found) => Ok(Some(StoredSnapshot {
                position: found.position,
                fold_version,
                created_at: found.created_at,
                bytes: bytes.0,
            })),
            SnapshotRead::Damaged { snapshot, reason } => {
                tracing::warn!(
                    position = snapshot.position,
                    fold_version,
                    %reason,
                    "ignoring a damaged snapshot; the read model is rebuilt from the log"
                );
                Ok(None)
            }
            // `Collect` takes every piece.
            SnapshotRead::NotFound | SnapshotRead::Stopped(_) => Ok(None),
        }
    }

    /// Reads the snapshot [`EventStore::latest_snapshot`] would return, handing it to `sink`
    /// piece by piece as its rows arrive: first [`SnapshotPiece::Found`], then each chunk's
    /// bytes in order ([`SnapshotPiece::Chunk`], at most [`CHUNK`] bytes each, none held here
    /// once handed on). The sink sets the pace: the next chunk is read from the database when
    /// it has taken the last one, so at most a few chunks are in memory at once.
    ///
    /// The same guarantees as [`EventStore::latest_snapshot`]: one SQL statement, so one
    /// database snapshot (a save that deletes this snapshot meanwhile cannot take its chunks
    /// away half-way), only a snapshot of this log. What the sink got is only trustworthy if
    /// the outcome is [`SnapshotRead::Whole`]: a missing chunk, or chunks that do not add up to
    /// the recorded length, may be found after part of the bytes were handed on, and then the
    /// outcome is [`SnapshotRead::Damaged`] (the sink must discard what it made of them). A
    /// sink that refuses a piece stops the reading ([`SnapshotRead::Stopped`]); on an error the
    /// sink is dropped without its last pieces.
    pub async fn read_latest_snapshot<S: SnapshotSink>(
        &self,
        fold_version: u64,
        sink: S,
    ) -> Result<SnapshotRead, StoreError> {
        let version = stored_version(fold_version);
        // One statement, so one database snapshot. Its chunks arrive one row at a time. It
        // runs on a connection of its own on both backends, without sqlx's statement logging:
        // the statement lasts as long as the sink takes (a start's decoding: seconds), which
        // would be logged as a slow statement.
        let sql = |same_hash: &str| {
            format!(
                "SELECT s.position, s.len, s.created_at, c.seq, c.bytes
                 FROM (SELECT fold_version, position, len, created_at FROM snapshots AS s
                       WHERE s.fold_version = $1 AND s.complete
                         AND (s.position = 0 OR EXISTS (
                              SELECT 1 FROM events AS e
                              WHERE e.position = s.position AND e.hash {same_hash} s.event_hash))
                       ORDER BY s.position DESC LIMIT 1) AS s
                 LEFT JOIN snapshot_chunks AS c
                   ON c.fold_version = s.fold_version AND c.position = s.position
                 ORDER BY c.seq"
            )
        };
        let mut reading = Streaming::new(fold_version, sink);
        match (self.sqlite_readers(), self.pg_pool()) {
            (Some(pool), _) => {
                // A connection of its own (see above), that reads one row ahead of the sink at
                // most: the pool's connections read up to 50 rows (50 MiB here) ahead of a slow
                // reader.
                let options = (*pool.connect_options())
                    .clone()
                    .row_buffer_size(1)
                    .disable_statement_logging();
                let mut conn = SqliteConnection::connect_with(&options).await.or_store()?;
                let sql = sql("IS");
                let read = async {
                    let mut rows = sqlx::query(&sql).bind(version).fetch(&mut conn);
                    while let Some(row) = rows.try_next().await.or_store()? {
                        let created_at: String = row.try_get("created_at").or_store()?;
                        let created_at = DateTime::parse_from_rfc3339(&created_at)
                            .map(|t| t.with_timezone(&Utc))
                            .map_err(|e| corrupt(format!("unreadable created_at: {e}")))?;
                        let row = ChunkRow {
                            position: row.try_get("position").or_store()?,
                            len: row.try_get("len").or_store()?,
                            created_at,
                            seq: row.try_get("seq").or_store()?,
                            bytes: row.try_get("bytes").or_store()?,
                        };
                        if let Some(outcome) = reading.row(row).await {
                            return Ok(outcome);
                        }
                    }
                    Ok(reading.end())
                }
                .await;
                let _ = conn.close().await;
                read
            }
            (_, Some(pool)) => {
                // A connection of its own (see above), closed afterwards: one stopped before
                // its last row still has the rest of the result on its way, which the pool's
                // next user of it would have to read first.
                let options = (*pool.connect_options())
                    .clone()
                    .disable_statement_logging();
                let connect = PgConnection::connect_with(&options);
                let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| {
                        StoreError::Unavailable(crate::error::DatabaseError::other(
                            "connecting to PostgreSQL timed out",
                        ))
                    })?
                    .or_store()?;
                let sql = sql("IS NOT DISTINCT FROM");
                let read = async {
                    let mut rows = sqlx::query(&sql).bind(version).fetch(&mut conn);
                    while let Some(row) = rows.try_next().await.or_store()? {
                        let row = ChunkRow {
                            position: row.try_get("position").or_store()?,
                            len: row.try_get("len").or_store()?,
                            created_at: row.try_get("created_at").or_store()?,
                            seq: row
                                .try_get::<Option<i32>, _>("seq")
                                .or_store()?
                                .map(i64::from),
                            bytes: row.try_get("bytes").or_store()?,
                        };
                        if let Some(outcome) = reading.row(row).await {
                            return Ok(outcome);
                        }
                    }
                    Ok(reading.end())
                }
                .await;
                let _ = conn.close().await;
                read
            }
            _ => unreachable!("a store has one backend"),
        }
    }

    /// Every stored snapshot, newest first, without the bytes. (One being saved on SQLite at
    /// this moment is not listed until it is complete.)
    pub async fn snapshots(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        let sql = "SELECT fold_version, position, len, created_at FROM snapshots \
                   WHERE complete ORDER BY created_at DESC, position DESC";
        let info = |version: i64, position: i64, len: i64, created_at| SnapshotInfo {
            position: position as u64,
            fold_version: version as u64,
            created_at,
            len: len as u64,
        };
        match (self.sqlite_readers(), self.pg_pool()) {
            (Some(pool), _) => {
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(sql).fetch_all(pool).await.or_store()?;
                rows.into_iter()
                    .map(|(version, position, len, created_at)| {
                        let created_at = DateTime::parse_from_rfc3339(&created_at)
                            .map_err(|e| corrupt(format!("unreadable created_at: {e}")))?;
                        Ok(info(version, position, len, created_at.with_timezone(&Utc)))
                    })
                    .collect()
            }
            (_, Some(pool)) => {
                let rows: Vec<(i64, i64, i64, DateTime<Utc>)> =
                    sqlx::query_as(sql).fetch_all(pool).await.or_store()?;
                Ok(rows
                    .into_iter()
                    .map(|(version, position, len, created_at)| {
                        info(version, position, len, created_at)
                    })
                    .collect())
            }
            _ => unreachable!("a store has one backend"),
        }
    }

    /// Deletes every snapshot (an operator's escape hatch: the next start folds the whole log)
    /// and returns how many there were, one being saved at this moment included.
    pub async fn delete_snapshots(&self) -> Result<u64, StoreError> {
        match (self.sqlite_readers(), self.write_turn(), self.pg_pool()) {
            (Some(pool), Some(turn), _) => {
                let mut conn = sqlite_writer(pool).await?;
                let deleted = async {
                    let held = begin(&mut conn, turn).await?;
                    let deleted = conn
                        .execute("DELETE FROM snapshots")
                        .await
                        .or_store()
                        .map(|done| done.rows_affected());
                    let deleted = finish(&mut conn, deleted).await?;
                    drop(held);
                    sqlite_remove_orphan_chunks(&mut conn, turn).await?;
                    Ok(deleted)
                }
                .await;
                let _ = conn.close().await;
                deleted
            }
            (_, _, Some(pool)) => {
                let mut tx = pool.begin().await.or_store()?;
                let deleted = tx
                    .execute("DELETE FROM snapshots")
                    .await
                    .or_store()?
                    .rows_affected();
                tx.execute("DELETE FROM snapshot_chunks").await.or_store()?;
                tx.commit().await.or_store()?;
                Ok(deleted)
            }
            _ => unreachable!("a store has one backend"),
        }
    }
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Database(crate::error::DatabaseError::other(format!(
        "a stored snapshot is unreadable: {reason}"
    )))
}

/// What [`EventStore::read_latest_snapshot`] hands its sink, in this order.
#[derive(Debug)]
pub enum SnapshotPiece {
    /// The snapshot found, before any of its bytes (its `len` as recorded).
    Found(SnapshotInfo),
    /// Its next bytes, in order.
    Chunk(Vec<u8>),
}

/// Where [`EventStore::read_latest_snapshot`] puts the pieces of a snapshot as they are read.
pub trait SnapshotSink: Send {
    /// Takes the next piece; `false` when the sink wants no more (the reading stops). The
    /// reading waits for the returned future before it reads on.
    fn take(&mut self, piece: SnapshotPiece) -> impl Future<Output = bool> + Send;
}

impl<S: SnapshotSink> SnapshotSink for &mut S {
    fn take(&mut self, piece: SnapshotPiece) -> impl Future<Output = bool> + Send {
        (**self).take(piece)
    }
}

/// Pieces sent on a channel, one at a time: the channel's capacity bounds how far the reading
/// runs ahead of the receiver. A dropped receiver stops the reading. The channel closes when
/// the reading is done (the sender is dropped then), whatever its outcome.
impl SnapshotSink for tokio::sync::mpsc::Sender<SnapshotPiece> {
    async fn take(&mut self, piece: SnapshotPiece) -> bool {
        self.send(piece).await.is_ok()
    }
}

/// How a reading of [`EventStore::read_latest_snapshot`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRead {
    /// No snapshot of that fold version for this log: the sink got nothing.
    NotFound,
    /// The sink got the whole snapshot.
    Whole(SnapshotInfo),
    /// The snapshot's chunks do not add up (rows deleted or altered by hand): not to be
    /// trusted. The sink may have got part of its bytes before this was found.
    Damaged {
        snapshot: SnapshotInfo,
        reason: String,
    },
    /// The sink refused a piece, and the reading stopped there.
    Stopped(SnapshotInfo),
}

/// All the bytes of a snapshot in one buffer (for [`EventStore::latest_snapshot`]).
#[derive(Default)]
struct Collect(Vec<u8>);

impl SnapshotSink for Collect {
    fn take(&mut self, piece: SnapshotPiece) -> impl Future<Output = bool> + Send {
        match piece {
            SnapshotPiece::Found(found) => {
                self.0 = Vec::with_capacity(found.len.min(MAX_RESERVE) as usize);
            }
            SnapshotPiece::Chunk(bytes) => self.0.extend_from_slice(&bytes),
        }
        std::future::ready(true)
    }
}

/// One row of the reading's statement: the snapshot's and one of its chunks (none when it has
/// no chunk at all).
struct ChunkRow {
    position: i64,
    len: i64,
    created_at: DateTime<Utc>,
    seq: Option<i64>,
    bytes: Option<Vec<u8>>,
}

/// A snapshot being handed on from its rows (one per chunk, in order), and checked: no chunk
/// missing, no more bytes than recorded, and, at the end, exactly as many.
struct Streaming<S> {
    fold_version: u64,
    sink: S,
    found: Option<SnapshotInfo>,
    /// The recorded length (as stored: a damaged row may hold a negative one).
    len: i64,
    next_seq: i64,
    received: u64,
}

impl<S: SnapshotSink> Streaming<S> {
    fn new(fold_version: u64, sink: S) -> Streaming<S> {
        Streaming {
            fold_version,
            sink,
            found: None,
            len: 0,
            next_seq: 0,
            received: 0,
        }
    }

    /// Hands on the row's chunk (and, at the first row, the snapshot); `Some` when the reading
    /// must stop there, with its outcome.
    async fn row(&mut self, row: ChunkRow) -> Option<SnapshotRead> {
        let found = match &self.found {
            Some(found) => found.clone(),
            None => {
                let found = SnapshotInfo {
                    position: row.position as u64,
                    fold_version: self.fold_version,
                    created_at: row.created_at,
                    len: row.len.max(0) as u64,
                };
                self.found = Some(found.clone());
                self.len = row.len;
                if !self.sink.take(SnapshotPiece::Found(found.clone())).await {
                    return Some(SnapshotRead::Stopped(found));
                }
                found
            }
        };
        let (Some(seq), Some(bytes)) = (row.seq, row.bytes) else {
            return None;
        };
        let damaged = |reason| {
            Some(SnapshotRead::Damaged {
                snapshot: found.clone(),
                reason,
            })
        };
        if seq != self.next_seq {
            return damaged(format!("chunk {} is missing", self.next_seq));
        }
        self.received += bytes.len() as u64;
        if self.len < 0 || self.received > self.len as u64 {
            return damaged(format!(
                "its chunks hold more than the {} bytes recorded",
                self.len
            ));
        }
        self.next_seq += 1;
        if !self.sink.take(SnapshotPiece::Chunk(bytes)).await {
            return Some(SnapshotRead::Stopped(found));
        }
        None
    }

    /// The outcome once every row was handed on.
    fn end(self) -> SnapshotRead {
        let Some(found) = self.found else {
            return SnapshotRead::NotFound;
        };
        if self.len < 0 || self.received != self.len as u64 {
            return SnapshotRead::Damaged {
                reason: format!(
                    "its chunks hold {} bytes, not the {} recorded",
                    self.received, self.len
                ),
                snapshot: found,
            };
        }
        SnapshotRead::Whole(found)
    }
}

/// A writable connection of its own to the SQLite file (the store's pool is read-only, and
/// its writer belongs to the appends).
async fn sqlite_writer(pool: &SqlitePool) -> Result<SqliteConnection, StoreError> {
    let options = (*pool.connect_options()).clone().read_only(false);
    SqliteConnection::connect_with(&options).await.or_store()
}

/// Takes this process's turn at the write lock and begins a write transaction on `conn`; end
/// it with [`finish`] before the turn is dropped.
async fn begin<'t>(
    conn: &mut SqliteConnection,
    turn: &'t WriteTurn,
) -> Result<tokio::sync::MutexGuard<'t, ()>, StoreError> {
    let held = turn.lock().await;
    conn.execute("BEGIN IMMEDIATE").await.or_store()?;
    Ok(held)
}

/// Commits the transaction if its work succeeded, else rolls it back.
async fn finish<T>(
    conn: &mut SqliteConnection,
    done: Result<T, StoreError>,
) -> Result<T, StoreError> {
    let done = match done {
        Ok(value) => conn.execute("COMMIT").await.or_store().map(|_| value),
        Err(error) => Err(error),
    };
    if done.is_err() {
        // A failed COMMIT can leave the transaction open; a ROLLBACK of none merely errs.
        let _ = conn.execute("ROLLBACK").await;
    }
    done
}

/// [`EventStore::save_snapshot`] on SQLite: claim, chunks, publish (see there).
async fn sqlite_save(
    conn: &mut SqliteConnection,
    turn: &WriteTurn,
    position: i64,
    version: i64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let held = begin(conn, turn).await?;
    let claimed = claim(conn, position, version, len).await;
    let claimed = finish(conn, claimed).await?;
    drop(held);
    if !claimed {
        return Ok(());
    }
    let written = write_and_publish(conn, turn, position, version, bytes).await;
    if written.is_err() {
        // Give up the claim, so that a later save of the same snapshot can happen.
        if let Ok(held) = begin(conn, turn).await {
            let given_up = sqlx::query(
                "DELETE FROM snapshots \
                 WHERE fold_version = $1 AND position = $2 AND NOT complete",
            )
            .bind(version)
            .bind(position)
            .execute(&mut *conn)
            .await
            .or_store();
            let _ = finish(conn, given_up).await;
            drop(held);
        }
    }
    let removed = sqlite_remove_orphan_chunks(conn, turn).await;
    written.and(removed)
}

/// The log's head and the hash of the event at `$1`, which a snapshot at `$1` is checked
/// against and records (both backends).
const HEAD_AND_HASH: &str = "SELECT (SELECT COALESCE(MAX(position), 0) FROM events),
                                   (SELECT hash FROM events WHERE position = $1)";

/// Checks the position against the head and records the snapshot as not complete yet, so
/// nobody reads it, but nobody saves the same one alongside either. False if it is there.
async fn claim(
    conn: &mut SqliteConnection,
    position: i64,
    version: i64,
    len: i64,
) -> Result<bool, StoreError> {
    let (head, hash): (i64, Option<Vec<u8>>) = sqlx::query_as(HEAD_AND_HASH)
        .bind(position)
        .fetch_one(&mut *conn)
        .await
        .or_store()?;
    if position > head {
        return Err(beyond_head(position, head));
    }
    let inserted = sqlx::query(
        "INSERT INTO snapshots (fold_version, position, event_hash, len, created_at, complete) \
         VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING",
    )
    .bind(version)
    .bind(position)
    .bind(hash)
    .bind(len)
    .bind(canonical_time(Utc::now()))
    .execute(&mut *conn)
    .await
    .or_store()?;
    Ok(inserted.rows_affected() == 1)
}

/// Writes the chunks of a claimed snapshot, one transaction each, then marks it complete and
/// deletes all but the newest [`KEEP`] (and saves abandoned long ago) in one transaction.
async fn write_and_publish(
    conn: &mut SqliteConnection,
    turn: &WriteTurn,
    position: i64,
    version: i64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    for (seq, chunk) in bytes.chunks(CHUNK).enumerate() {
        let held = begin(conn, turn).await?;
        let written = sqlx::query(
            "INSERT INTO snapshot_chunks (fold_version, position, seq, bytes) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(version)
        .bind(position)
        .bind(seq as i64)
        .bind(chunk)
        .execute(&mut *conn)
        .await
        .or_store();
        finish(conn, written).await?;
        drop(held);
    }
    let held = begin(conn, turn).await?;
    let published = publish(conn, position, version).await;
    finish(conn, published).await?;
    drop(held);
    Ok(())
}

async fn publish(
    conn: &mut SqliteConnection,
    position: i64,
    version: i64,
) -> Result<(), StoreError> {
    let published = sqlx::query(
        "UPDATE snapshots SET complete = 1 \
         WHERE fold_version = $1 AND position = $2 AND NOT complete",
    )
    .bind(version)
    .bind(position)
    .execute(&mut *conn)
    .await
    .or_store()?;
    if published.rows_affected() == 0 {
        tracing::info!(position, "a snapshot was deleted while it was being saved");
    }
    sqlx::query(
        "DELETE FROM snapshots
         WHERE (complete AND (fold_version, position) NOT IN (
                   SELECT fold_version, position FROM snapshots WHERE complete
                   ORDER BY created_at DESC, position DESC LIMIT $1))
            OR (NOT complete AND created_at < $2)",
    )
    .bind(KEEP as i64)
    .bind(canonical_time(Utc::now() - ABANDONED_AFTER))
    .execute(&mut *conn)
    .await
    .or_store()?;
    Ok(())
}

/// Removes the chunks whose snapshot row is gone, [`CHUNKS_PER_DELETE`] per transaction. (A
/// snapshot being saved has its row from before its first chunk, so its chunks stay.)
async fn sqlite_remove_orphan_chunks(
    conn: &mut SqliteConnection,
    turn: &WriteTurn,
) -> Result<(), StoreError> {
    loop {
        let held = begin(conn, turn).await?;
        let removed = sqlx::query(
            "DELETE FROM snapshot_chunks WHERE rowid IN (
                 SELECT c.rowid FROM snapshot_chunks AS c
                 WHERE NOT EXISTS (SELECT 1 FROM snapshots AS s
                                   WHERE s.fold_version = c.fold_version
                                     AND s.position = c.position)
                 LIMIT $1)",
        )
        .bind(CHUNKS_PER_DELETE)
        .execute(&mut *conn)
        .await
        .or_store()
        .map(|done| done.rows_affected());
        let removed = finish(conn, removed).await?;
        drop(held);
        if removed == 0 {
            return Ok(());
        }
    }
}

/// [`EventStore::save_snapshot`] on PostgreSQL: one transaction.
async fn postgres_save(
    pool: &PgPool,
    position: i64,
    version: i64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await.or_store()?;
    let (head, hash): (i64, Option<Vec<u8>>) = sqlx::query_as(HEAD_AND_HASH)
        .bind(position)
        .fetch_one(&mut *tx)
        .await
        .or_store()?;
    if position > head {
        return Err(beyond_head(position, head));
    }
    // Another instance saving the same snapshot right now: this waits for its commit, then
    // does nothing (and sends no bytes).
    let inserted = sqlx::query(
        "INSERT INTO snapshots (fold_version, position, event_hash, len, complete) \
         VALUES ($1, $2, $3, $4, true) ON CONFLICT DO NOTHING",
    )
    .bind(version)
    .bind(position)
    .bind(hash)
    .bind(len)
    .execute(&mut *tx)
    .await
    .or_store()?;
    if inserted.rows_affected() == 0 {
        return Ok(());
    }
    for (seq, chunk) in bytes.chunks(CHUNK).enumerate() {
        sqlx::query(
            "INSERT INTO snapshot_chunks (fold_version, position, seq, bytes) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(version)
        .bind(position)
        .bind(i32::try_from(seq).unwrap_or(i32::MAX))
        .bind(chunk)
        .execute(&mut *tx)
        .await
        .or_store()?;
    }
    sqlx::query(
        "DELETE FROM snapshots
         WHERE (fold_version, position) NOT IN (
             SELECT fold_version, position FROM snapshots
             ORDER BY created_at DESC, position DESC LIMIT $1)",
    )
    .bind(KEEP as i64)
    .execute(&mut *tx)
    .await
    .or_store()?;
    sqlx::query(
        "DELETE FROM snapshot_chunks AS c
         WHERE NOT EXISTS (SELECT 1 FROM snapshots AS s
                           WHERE s.fold_version = c.fold_version AND s.position = c.position)",
    )
    .execute(&mut *tx)
    .await
    .or_store()?;
    tx.commit().await.or_store()
}

fn beyond_head(position: i64, head: i64) -> StoreError {
    StoreError::SnapshotBeyondHead {
        position: Position(position as u64),
        head: Position(head as u64),
    }
}
