//! # wijkpuls-event-store
//!
//! A generic, append-only event store: it knows nothing of wijken or initiatives, only of
//! streams, event types, tags and global positions. Two backends sit behind one
//! [`EventStore`] handle: SQLite (embedded default: WAL, one writer) and PostgreSQL (several
//! server processes on one database).
//!
//! What it guarantees, and where that lives:
//! - **atomic append** of several events across streams, all or nothing ([`EventStore::append`]);
//! - **optimistic concurrency**: per-stream [`ExpectedVersion`]s and the Dynamic Consistency
//!   Boundary [`AppendCondition`] "no event matching this [`Query`] after position P"; of two
//!   conflicting decisions exactly one commits, the other gets [`StoreError::Conflict`];
//! - **positions** that never appear below one a reader has seen (`postgres` serialises
//!   position assignment with an advisory lock held to commit);
//! - **idempotency keys**: a retry appends nothing and returns the first result;
//! - **append-only in the database**: triggers refuse UPDATE and DELETE (see `migrations/`);
//! - **tamper evidence**: every event's hash is chained to the one before it (`chain`);
//!   [`EventStore::verify_chain`] finds the first altered, missing or inserted row;
//! - **subscriptions** that catch up and follow live without skips or duplicates, across lost
//!   connections ([`Subscription`]);
//! - **durability**: an append is acknowledged only after its transaction committed;
//! - **metadata** on every event, and its schema version: events are stored and read back
//!   exactly as written; upcasting old versions is the reader's (the domain's) business;
//! - **snapshots** of the caller's fold beside the log, handed back only for the log they were
//!   folded from ([`EventStore::save_snapshot`], [`EventStore::latest_snapshot`], or piece by
//!   piece [`EventStore::read_latest_snapshot`]).
//!
//! Concurrent appends are committed in shared transactions (group commit, `batch`): that is
//! where the throughput comes from. On SQLite the writer is a thread of its own with a plain
//! rusqlite connection and cached statements (`sqlite`); everything else goes through sqlx.
//! Dependencies: sqlx, rusqlite (one SQLite library with sqlx's), tokio, serde — never the
//! domain or the web.

mod batch;
mod chain;
mod error;
mod idempotency;
mod postgres;
mod snapshot;
mod sqlite;
mod store;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transfer;
mod types;
mod vault;

pub use chain::{to_hex, ChainBreak, ChainHead, ChainReport, Hash};
pub use error::{Conflict, DatabaseError, StoreError};
pub use postgres::{APPEND_LOCK, NOTIFY_CHANNEL};
pub use snapshot::{
    SnapshotInfo, SnapshotPiece, SnapshotRead, SnapshotSink, StoredSnapshot,
    CHUNK as SNAPSHOT_CHUNK, KEEP as SNAPSHOT_KEEP,
};
pub use store::{BackendKind, EventStore, StoreOptions, MAX_POSITIONS_READ};
pub use subscription::Subscription;
pub use types::{
    AppendCondition, AppendOutcome, AppendRequest, ExpectedVersion, Metadata, NewEvent, Position,
    Query, QueryItem, RecordedEvent, StreamId, SubjectKey,
};
pub use vault::Vault;
