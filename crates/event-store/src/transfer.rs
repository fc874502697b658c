//! Moving a whole store: every stored row, as it is, from one database into another.
//!
//! [`SnapshotReader`] reads a store from one consistent snapshot (a read transaction): the
//! events in position order and in pages, the idempotency keys, and the vault beside the log
//! (subject keys as stored, settings). [`EmptyStoreWriter`] writes such rows into a store that
//! holds nothing yet, in one transaction: positions, stream versions, recording times,
//! metadata (with `occurred_at`) are kept exactly, every page is read back inside the
//! transaction and compared with what was written, and nothing is visible until
//! [`EmptyStoreWriter::commit`]; dropping it before that leaves the target as it was.
//!
//! Snapshots of the read model are not carried ([`SKIPPED`]): a cache, rebuilt from the log.
//!
//! Neither knows what the events mean: leaving out the keys of erased data subjects is the
//! caller's business (see the `wijkpuls` binary's `ops` module).
//!
//! Positions are not drawn from a sequence on either backend (the writer takes the head under
//! its lock and counts on), so after a transfer the next append simply follows the last copied
//! position; there is no sequence or autoincrement counter to set.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, PgConnection, Row, SqliteConnection};

use crate::batch::{check_event_type, check_tag, validate};
use crate::chain::{canonical_json, canonical_time, event_hash, Hash, HashedFields, GENESIS};
use crate::error::FromDriver as _;
use crate::error::StoreError;
use crate::types::{AppendRequest, Metadata, Position, RecordedEvent, StreamId};
use crate::{EventStore, StoreOptions, APPEND_LOCK, NOTIFY_CHANNEL};

/// Why a transfer stopped: the data or the target was refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The rows, the source or the target cannot be used as they are (a gap in the
    /// positions, a target that is not empty, a missing file...); nothing was written.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refusal of the append path's checks, in the transfer's words.
fn refused(error: StoreError) -> TransferError {
    match error {
        StoreError::InvalidInput(reason) => TransferError::Refused(reason),
        other => TransferError::Store(other),
    }
}

/// One row of the event log, every column as stored. `payload` and `metadata` are the stored
/// JSON text (PostgreSQL's `jsonb` gives its own normalised text); the metadata holds
/// `occurred_at` when the writer gave one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawEvent {
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub tags: Vec<String>,
    pub payload: Box<RawValue>,
    pub metadata: Box<RawValue>,
    /// When the store committed it, to the microsecond.
    pub recorded_at: DateTime<Utc>,
    /// Its link in the hash chain (`crate::chain`), as stored; `None` for a row written before
    /// the chain began. Carried, not recomputed, so the chain head an auditor noted still holds.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex_option")]
    pub hash: Option<Vec<u8>>,
}

impl RawEvent {
    /// The first column in which `other` differs from this event (JSON compared by value, so
    /// the same event read from SQLite and PostgreSQL is the same), or `None`.
    pub fn differs_from(&self, other: &RawEvent) -> Option<&'static str> {
        let json = |raw: &RawValue| serde_json::from_str::<serde_json::Value>(raw.get()).ok();
        if self.position != other.position {
            Some("position")
        } else if self.stream_id != other.stream_id {
            Some("stream_id")
        } else if self.stream_version != other.stream_version {
            Some("stream_version")
        } else if self.event_type != other.event_type {
            Some("event_type")
        } else if self.schema_version != other.schema_version {
            Some("schema_version")
        } else if self.tags != other.tags {
            Some("tags")
        } else if json(&self.payload) != json(&other.payload) {
            Some("payload")
        } else if json(&self.metadata) != json(&other.metadata) {
            Some("metadata")
        } else if self.recorded_at != other.recorded_at {
            Some("recorded_at")
        } else if self.hash != other.hash {
            Some("hash")
        } else {
            None
        }
    }

    /// This event's link in the hash chain after an event whose hash is `previous` (`None`:
    /// the first event of the chain), computed as the append path computes it: over the
    /// canonical forms of its columns (see `docs/design.md`, "Tamper evidence").
    pub fn chain_hash(&self, previous: Option<&[u8]>) -> Result<Hash, TransferError> {
        let canonical = |raw: &RawValue| {
            serde_json::from_str::<serde_json::Value>(raw.get())
                .map(|value| canonical_json(&value))
                .map_err(|e| {
                    TransferError::Refused(format!("event at position {}: {e}", self.position))
                })
        };
        let previous = match previous {
            Some(bytes) => Hash::try_from(bytes)
                .map_err(|_| TransferError::Refused("a chain hash has 32 bytes".into()))?,
            None => GENESIS,
        };
        Ok(event_hash(
            &previous,
            &HashedFields {
                position: self.position,
                stream_id: &self.stream_id,
                stream_version: self.stream_version,
                event_type: &self.event_type,
                schema_version: self.schema_version,
                tags: &self.tags,
                payload: &canonical(&self.payload)?,
                metadata: &canonical(&self.metadata)?,
                recorded_at: &canonical_time(self.recorded_at),
            },
        ))
    }

    /// Checks what the append path would have refused: an invalid stream id, type or tag, a
    /// stream version below 1, metadata the store cannot read.
    fn check(&self) -> Result<(), TransferError> {
        let at = |e: StoreError| match refused(e) {
            TransferError::Refused(reason) => {
                TransferError::Refused(format!("event at position {}: {reason}", self.position))
            }
            other => other,
        };
        StreamId::parse(self.stream_id.as_str()).map_err(at)?;
        check_event_type(&self.event_type).map_err(at)?;
        self.tags
            .iter()
            .try_for_each(|t| check_tag(t))
            .map_err(at)?;
        if self.stream_version == 0 {
            return Err(at(StoreError::InvalidInput(
                "stream versions start at 1".into(),
            )));
        }
        serde_json::from_str::<Metadata>(self.metadata.get())
            .map_err(|e| at(StoreError::InvalidInput(format!("metadata: {e}"))))?;
        let nul = |raw: &RawValue| raw.get().contains("\\u0000");
        if nul(&self.payload) || nul(&self.metadata) {
            return Err(at(StoreError::InvalidInput(
                "NUL characters cannot be stored".into(),
            )));
        }
        Ok(())
    }
}

impl TryFrom<&RawEvent> for RecordedEvent {
    type Error = StoreError;

    /// The event as the store's readers give it (no upcasting).
    fn try_from(raw: &RawEvent) -> Result<RecordedEvent, StoreError> {
        let position = Position(raw.position);
        let corrupt = |reason: String| StoreError::Corrupt { position, reason };
        Ok(RecordedEvent {
            position,
            stream_id: StreamId::parse(raw.stream_id.as_str())
                .map_err(|e| corrupt(e.to_string()))?,
            stream_version: raw.stream_version,
            event_type: raw.event_type.clone(),
            schema_version: raw.schema_version,
            tags: raw.tags.clone(),
            payload: serde_json::from_str(raw.payload.get())
                .map_err(|e| corrupt(format!("payload: {e}")))?,
            metadata: serde_json::from_str(raw.metadata.get())
                .map_err(|e| corrupt(format!("metadata: {e}")))?,
            recorded_at: raw.recorded_at,
        })
    }
}

/// An idempotency key and the first result of the append that carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyKey {
    pub key: String,
    pub first_position: u64,
    pub last_position: u64,
}

/// A data subject's key from the vault, as stored (hex in serialised form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectKey {
    pub id: String,
    #[serde(with = "hex")]
    pub key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// A setting from the vault (such as the token signing key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// The tables a transfer carries and their columns, in both backends' schemas. (SQLite's
/// `event_tags` is not listed: it is rebuilt from the events' tags.) A test compares this with
/// the migrated schema, so a column added by a migration is not silently left behind.
pub const CARRIED: &[(&str, &[&str])] = &[
    (
        "events",
        &[
            "position",
            "stream_id",
            "stream_version",
            "event_type",
            "schema_version",
            "tags",
            "payload",
            "metadata",
            "recorded_at",
            "hash",
        ],
    ),
    (
        "idempotency_keys",
        &["key", "first_position", "last_position"],
    ),
    ("subject_keys", &["id", "key", "created_at"]),
    ("settings", &["name", "value"]),
];

/// Tables a transfer deliberately leaves behind: snapshots of the read model
/// ([`EventStore::save_snapshot`]) are a cache of a fold of the log, rebuilt from it; the target
/// starts without any. (The schema test names them, so a new table is either carried or listed
/// here, never forgotten.)
pub const SKIPPED: &[&str] = &["snapshots", "snapshot_chunks"];

/// Settings that describe the database they are in, not the service: never transferred.
const LOCAL_SETTINGS: &[&str] = &["readiness_probe"];

/// What a store holds, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub events: u64,
    pub idempotency_keys: u64,
    pub subject_keys: u64,
    pub settings: u64,
}

enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Opens (and migrates) the store at `url` as [`EventStore::open`] does, then a connection of
/// its own to it. With `must_exist`, an SQLite file that is not there is an error instead of a
/// new database.
async fn connect(url: &str, must_exist: bool, read_only: bool) -> Result<Conn, TransferError> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| TransferError::Refused(format!("invalid SQLite URL: {e}")))?;
        if must_exist && !options.get_filename().exists() {
            return Err(TransferError::Refused(format!(
                "there is no database at {}",
                options.get_filename().display()
            )));
        }
        EventStore::open(url, StoreOptions::default())
            .await?
            .close()
            .await;
        let options = options
            .read_only(read_only)
            .foreign_keys(true)
            .busy_timeout(StoreOptions::default().lock_timeout);
        Ok(Conn::Sqlite(
            SqliteConnection::connect_with(&options).await.or_store()?,
        ))
    } else {
        EventStore::open(url, StoreOptions::default())
            .await?
            .close()
            .await;
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| TransferError::Refused(format!("invalid PostgreSQL URL: {e}")))?;
        Ok(Conn::Postgres(
            PgConnection::connect_with(&options.application_name("wijkpuls-transfer"))
                .await
                .or_store()?,
        ))
    }
}

impl Conn {
    async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(conn) => conn.execute(sql).await.map(|_| ()).or_store(),
            Conn::Postgres(conn) => conn.execute(sql).await.map(|_| ()).or_store(),
        }
    }

    async fn count(&mut self, table: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = match self {
            Conn::Sqlite(conn) => sqlx::query_scalar(&sql).fetch_one(conn).await,
            Conn::Postgres(conn) => sqlx::query_scalar(&sql).fetch_one(conn).await,
        }
        .or_store()?;
        Ok(n as u64)
    }

    async fn counts(&mut self) -> Result<Counts, StoreError> {
        Ok(Counts {
            events: self.count("events").await?,
            idempotency_keys: self.count("idempotency_keys").await?,
            subject_keys: self.count("subject_keys").await?,
            settings: self.settings().await?.len().try_into().unwrap_or(u64::MAX),
        })
    }

    /// Up to `limit` events from position `from` on (inclusive), in position order.
    async fn events(&mut self, from: u64, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let from = Position(from).as_i64();
        match self {
            Conn::Sqlite(conn) => {
                let rows = sqlx::query(
                    "SELECT position, stream_id, stream_version, event_type, schema_version, tags, \
                     payload, metadata, recorded_at, hash FROM events \
                     WHERE position >= ? ORDER BY position LIMIT ?",
                )
                .bind(from)
                .bind(limit)
                .fetch_all(conn)
                .await
                .or_store()?;
                rows.iter()
                    .map(|row| {
                        let tags: String = row.try_get("tags").or_store()?;
                        let recorded_at: String = row.try_get("recorded_at").or_store()?;
                        raw_event(
                            row,
                            serde_json::from_str(&tags).map_err(|e| e.to_string()),
                            DateTime::parse_from_rfc3339(&recorded_at)
                                .map(|t| t.with_timezone(&Utc))
                                .map_err(|e| e.to_string()),
                            row.try_get("hash").or_store()?,
                        )
                    })
                    .collect()
            }
            Conn::Postgres(conn) => {
                let rows = sqlx::query(
                    "SELECT position, stream_id, stream_version, event_type, \
                     schema_version::int8 AS schema_version, tags, payload::text AS payload, \
                     metadata::text AS metadata, recorded_at, hash FROM events \
                     WHERE position >= $1 ORDER BY position LIMIT $2",
                )
                .bind(from)
                .bind(limit)
                .fetch_all(conn)
                .await
                .or_store()?;
                rows.iter()
                    .map(|row| {
                        raw_event(
                            row,
                            row.try_get::<Vec<String>, _>("tags")
                                .map_err(|e| e.to_string()),
                            row.try_get::<DateTime<Utc>, _>("recorded_at")
                                .map_err(|e| e.to_string()),
                            row.try_get("hash").or_store()?,
                        )
                    })
                    .collect()
            }
        }
    }

    async fn idempotency_keys(&mut self) -> Result<Vec<IdempotencyKey>, StoreError> {
        let sql = "SELECT key, first_position, last_position FROM idempotency_keys ORDER BY key";
        let rows: Vec<(String, i64, i64)> = match self {
            Conn::Sqlite(conn) => sqlx::query_as(sql).fetch_all(conn).await,
            Conn::Postgres(conn) => sqlx::query_as(sql).fetch_all(conn).await,
        }
        .or_store()?;
        Ok(rows
            .into_iter()
            .map(|(key, first, last)| IdempotencyKey {
                key,
                first_position: first as u64,
                last_position: last as u64,
            })
            .collect())
    }

    async fn subject_keys(&mut self) -> Result<Vec<SubjectKey>, StoreError> {
        let corrupt = |id: &str, e: String| StoreError::Corrupt {
            position: Position::START,
            reason: format!("subject key {id}: unreadable created_at: {e}"),
        };
        match self {
            Conn::Sqlite(conn) => {
                let rows: Vec<(String, Vec<u8>, String)> =
                    sqlx::query_as("SELECT id, key, created_at FROM subject_keys ORDER BY id")
                        .fetch_all(conn)
                        .await
                        .or_store()?;
                rows.into_iter()
                    .map(|(id, key, created_at)| {
                        let created_at = DateTime::parse_from_rfc3339(&created_at)
                            .map_err(|e| corrupt(&id, e.to_string()))?
                            .with_timezone(&Utc);
                        Ok(SubjectKey {
                            id,
                            key,
                            created_at,
                        })
                    })
                    .collect()
            }
            Conn::Postgres(conn) => {
                let rows: Vec<(String, Vec<u8>, DateTime<Utc>)> =
                    sqlx::query_as("SELECT id, key, created_at FROM subject_keys ORDER BY id")
                        .fetch_all(conn)
                        .await
                        .or_store()?;
                Ok(rows
                    .into_iter()
                    .map(|(id, key, created_at)| SubjectKey {
                        id,
                        key,
                        created_at,
                    })
                    .collect())
            }
        }
    }

    async fn settings(&mut self) -> Result<Vec<Setting>, StoreError> {
        let sql = "SELECT name, value FROM settings ORDER BY name";
        let rows: Vec<(String, String)> = match self {
            Conn::Sqlite(conn) => sqlx::query_as(sql).fetch_all(conn).await,
            Conn::Postgres(conn) => sqlx::query_as(sql).fetch_all(conn).await,
        }
        .or_store()?;
        Ok(rows
            .into_iter()
            .filter(|(name, _)| !LOCAL_SETTINGS.contains(&name.as_str()))
            .map(|(name, value)| Setting { name, value })
            .collect())
    }
}

/// A [`RawEvent`] from a row whose backend-specific columns (`tags`, `recorded_at`) the caller
/// decoded.
fn raw_event<R>(
    row: &R,
    tags: Result<Vec<String>, String>,
    recorded_at: Result<DateTime<Utc>, String>,
    hash: Option<Vec<u8>>,
) -> Result<RawEvent, StoreError>
where
    R: Row,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let position = row.try_get::<i64, _>("position").or_store()? as u64;
    let corrupt = |column: &str, reason: String| StoreError::Corrupt {
        position: Position(position),
        reason: format!("{column}: {reason}"),
    };
    let json = |column: &str| -> Result<Box<RawValue>, StoreError> {
        let text: String = row.try_get(column).or_store()?;
        RawValue::from_string(text).map_err(|e| corrupt(column, e.to_string()))
    };
    let schema_version: i64 = row.try_get("schema_version").or_store()?;
    Ok(RawEvent {
        position,
        stream_id: row.try_get("stream_id").or_store()?,
        stream_version: row.try_get::<i64, _>("stream_version").or_store()? as u64,
        event_type: row.try_get("event_type").or_store()?,
        schema_version: u32::try_from(schema_version)
            .map_err(|e| corrupt("schema_version", e.to_string()))?,
        tags: tags.map_err(|e| corrupt("tags", e))?,
        payload: json("payload")?,
        metadata: json("metadata")?,
        recorded_at: recorded_at.map_err(|e| corrupt("recorded_at", e))?,
        hash,
    })
}

/// A whole store as it was at one moment: every read sees the same snapshot, whatever is
/// appended or erased meanwhile.
pub struct SnapshotReader {
    conn: Conn,
    counts: Counts,
}

impl SnapshotReader {
    /// Opens the store at `url` (which must exist: a missing SQLite file is an error, not a
    /// new database) and takes the snapshot.
    pub async fn open(url: &str) -> Result<SnapshotReader, TransferError> {
        let mut conn = connect(url, true, true).await?;
        conn.execute(match conn {
            // A deferred transaction's first read fixes the snapshot (WAL mode).
            Conn::Sqlite(_) => "BEGIN",
            Conn::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        })
        .await?;
        let counts = conn.counts().await?;
        Ok(SnapshotReader { conn, counts })
    }

    /// What the snapshot holds.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Up to `limit` events after `after`, in position order.
    pub async fn events_after(
        &mut self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RawEvent>, StoreError> {
        self.conn.events(after.0 + 1, limit).await
    }

    /// Every idempotency key, by key.
    pub async fn idempotency_keys(&mut self) -> Result<Vec<IdempotencyKey>, StoreError> {
        self.conn.idempotency_keys().await
    }

    /// Every subject key still in the vault, by id.
    pub async fn subject_keys(&mut self) -> Result<Vec<SubjectKey>, StoreError> {
        self.conn.subject_keys().await
    }

    /// The settings that belong to the service (not the database's own readiness probe).
    pub async fn settings(&mut self) -> Result<Vec<Setting>, StoreError> {
        self.conn.settings().await
    }
}

/// Writes a whole store into an empty one, in one transaction (see the module docs).
pub struct EmptyStoreWriter {
    conn: Conn,
    head: Position,
    stream_versions: HashMap<String, u64>,
    /// The chain hash of the event at `head` (`None`: none yet, or a row from before the chain).
    head_hash: Option<Hash>,
    pending: Vec<RawEvent>,
    written: Counts,
}

impl EmptyStoreWriter {
    /// Opens (creating or migrating as [`EventStore::open`] does) the store at `url`, begins
    /// the transaction and takes the append lock, and refuses a store that holds any event,
    /// idempotency key or subject key.
    pub async fn begin(url: &str) -> Result<EmptyStoreWriter, TransferError> {
        let mut conn = connect(url, false, false).await?;
        let begin = match conn {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE".to_owned(),
            Conn::Postgres(_) => format!("BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})"),
        };
        conn.execute(&begin).await?;
        let held = conn.counts().await?;
        if held.events + held.idempotency_keys + held.subject_keys > 0 {
            return Err(TransferError::Refused(format!(
                "the target store is not empty (it holds {} events, {} idempotency keys and {} \
                 subject keys): give an empty database",
                held.events, held.idempotency_keys, held.subject_keys
            )));
        }
        Ok(EmptyStoreWriter {
            conn,
            head: Position::START,
            stream_versions: HashMap::new(),
            head_hash: None,
            pending: Vec::new(),
            written: Counts::default(),
        })
    }

    /// The position of the last event taken.
    pub fn head(&self) -> Position {
        self.head
    }

    /// What has been written so far.
    pub fn written(&self) -> Counts {
        self.written
    }

    /// Takes the next event, which must follow on: positions one after another from 1, each
    /// stream's versions one after another from 1, and nothing the append path would refuse.
    /// It is written at the next [`EmptyStoreWriter::flush`].
    pub fn push(&mut self, event: RawEvent) -> Result<(), TransferError> {
        event.check()?;
        let expected = self.head.next();
        if event.position != expected.0 {
            return Err(TransferError::Refused(format!(
                "event at position {} follows position {}: positions must be 1, 2, 3, ... \
                 without gaps",
                event.position, self.head
            )));
        }
        let version = self
            .stream_versions
            .entry(event.stream_id.clone())
            .or_default();
        if event.stream_version != *version + 1 {
            return Err(TransferError::Refused(format!(
                "event at position {} has version {} of stream {}, which is at version {}",
                event.position, event.stream_version, event.stream_id, version
            )));
        }
        *version += 1;
        self.head = expected;
        self.head_hash = event.hash.as_deref().and_then(|h| Hash::try_from(h).ok());
        self.pending.push(event);
        Ok(())
    }

    /// Takes the events of a new append, as [`EventStore::append`] would record them after
    /// the events taken so far: checked and encoded by the append path's own rules, given the
    /// next positions and stream versions, and chained to the head's hash, all recorded at
    /// `recorded_at`. For writing a log that never was in another store (`wijkpuls
    /// generate`); the request's condition and expected versions are not checked (the caller
    /// decided on its own state) and it must carry no idempotency key. Written at the next
    /// [`EmptyStoreWriter::flush`]; returns the position of its last event.
    pub fn append(
        &mut self,
        request: &AppendRequest,
        recorded_at: DateTime<Utc>,
    ) -> Result<Position, TransferError> {
        if request.idempotency_key.is_some() {
            return Err(TransferError::Refused(
                "an append written into an empty store carries no idempotency key".into(),
            ));
        }
        let encoded =
            validate(request, StoreOptions::default().max_event_bytes).map_err(refused)?;
        let recorded_at = canonical_time(recorded_at);
        let time = DateTime::parse_from_rfc3339(&recorded_at)
            .expect("a canonical time reads back")
            .with_timezone(&Utc);
        for event in encoded {
            let position = self.head.next().0;
            let stream_version = self
                .stream_versions
                .get(&event.stream_id)
                .copied()
                .unwrap_or(0)
                + 1;
            let hash = event_hash(
                &self.head_hash.unwrap_or(GENESIS),
                &HashedFields {
                    position,
                    stream_id: &event.stream_id,
                    stream_version,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    tags: &event.tags,
                    payload: &event.payload,
                    metadata: &event.metadata,
                    recorded_at: &recorded_at,
                },
            );
            let json = |text: String| {
                RawValue::from_string(text)
                    .map_err(|e| TransferError::Refused(format!("event at {position}: {e}")))
            };
            self.push(RawEvent {
                position,
                stream_id: event.stream_id,
                stream_version,
                event_type: event.event_type,
                schema_version: event.schema_version,
                tags: event.tags,
                payload: json(event.payload)?,
                metadata: json(event.metadata)?,
                recorded_at: time,
                hash: Some(hash.to_vec()),
            })?;
        }
        Ok(self.head)
    }

    /// How many events are waiting for the next [`EmptyStoreWriter::flush`].
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Writes the events taken since the last flush, reads them back and compares them column
    /// by column with what was given.
    pub async fn flush(&mut self) -> Result<(), TransferError> {
        let events = std::mem::take(&mut self.pending);
        let Some(first) = events.first() else {
            return Ok(());
        };
        self.insert(&events).await?;
        let stored = self.conn.events(first.position, events.len()).await?;
        if stored.len() != events.len() {
            return Err(TransferError::Refused(
                "the target did not store every event; nothing was written".into(),
            ));
        }
        for (given, stored) in events.iter().zip(&stored) {
            if let Some(column) = given.differs_from(stored) {
                return Err(TransferError::Refused(format!(
                    "the target stored the event at position {} differently ({column}); \
                     nothing was written",
                    given.position
                )));
            }
        }
        self.written.events += events.len() as u64;
        Ok(())
    }

    async fn insert(&mut self, events: &[RawEvent]) -> Result<(), StoreError> {
        match &mut self.conn {
            Conn::Sqlite(conn) => {
                for event in events {
                    let position = Position(event.position).as_i64();
                    sqlx::query(
                        "INSERT INTO events (position, stream_id, stream_version, event_type, \
                         schema_version, tags, payload, metadata, recorded_at, hash) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(position)
                    .bind(&event.stream_id)
                    .bind(event.stream_version as i64)
                    .bind(&event.event_type)
                    .bind(i64::from(event.schema_version))
                    .bind(serde_json::to_string(&event.tags).expect("tags serialise"))
                    .bind(event.payload.get())
                    .bind(event.metadata.get())
                    .bind(
                        event
                            .recorded_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    )
                    .bind(event.hash.as_deref())
                    .execute(&mut *conn)
                    .await
                    .or_store()?;
                    for tag in &event.tags {
                        sqlx::query(
                            "INSERT OR IGNORE INTO event_tags (tag, position) VALUES (?, ?)",
                        )
                        .bind(tag)
                        .bind(position)
                        .execute(&mut *conn)
                        .await
                        .or_store()?;
                    }
                }
            }
            Conn::Postgres(conn) => {
                let positions: Vec<i64> = events
                    .iter()
                    .map(|e| Position(e.position).as_i64())
                    .collect();
                let streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
                let versions: Vec<i64> = events.iter().map(|e| e.stream_version as i64).collect();
                let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
                let schemas: Vec<i32> = events
                    .iter()
                    .map(|e| i32::try_from(e.schema_version).unwrap_or(i32::MAX))
                    .collect();
                // Tags cannot hold control characters (checked above): one text per event.
                let tags: Vec<String> = events.iter().map(|e| e.tags.join("\u{1f}")).collect();
                let payloads: Vec<&str> = events.iter().map(|e| e.payload.get()).collect();
                let metadata: Vec<&str> = events.iter().map(|e| e.metadata.get()).collect();
                let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.recorded_at).collect();
                let hashes: Vec<Option<&[u8]>> = events.iter().map(|e| e.hash.as_deref()).collect();
                sqlx::query(
                    "INSERT INTO events (position, stream_id, stream_version, event_type,
                                         schema_version, tags, payload, metadata, recorded_at,
                                         hash)
                     SELECT p, s, v, t, sv,
                            CASE WHEN tg = '' THEN '{}'::text[]
                                 ELSE string_to_array(tg, chr(31)) END,
                            pl::jsonb, md::jsonb, at, h
                     FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::int4[],
                                 $6::text[], $7::text[], $8::text[], $9::timestamptz[],
                                 $10::bytea[])
                          AS r(p, s, v, t, sv, tg, pl, md, at, h)",
                )
                .bind(&positions)
                .bind(&streams)
                .bind(&versions)
                .bind(&types)
                .bind(&schemas)
                .bind(&tags)
                .bind(&payloads)
                .bind(&metadata)
                .bind(&times)
                .bind(&hashes)
                .execute(&mut *conn)
                .await
                .or_store()?;
            }
        }
        Ok(())
    }

    /// Writes idempotency keys; each must name positions that were written.
    pub async fn write_idempotency_keys(
        &mut self,
        keys: &[IdempotencyKey],
    ) -> Result<(), TransferError> {
        self.flush().await?;
        for key in keys {
            if key.key.is_empty() || key.key.len() > 200 || key.key.chars().any(char::is_control) {
                return Err(TransferError::Refused(
                    "an idempotency key must be 1-200 characters without control characters".into(),
                ));
            }
            if key.first_position == 0
                || key.first_position > key.last_position
                || key.last_position > self.head.0
            {
                return Err(TransferError::Refused(format!(
                    "idempotency key {:?} names positions {}-{}, not events of this store",
                    crate::types::truncate(&key.key, 40),
                    key.first_position,
                    key.last_position
                )));
            }
            let sql = "INSERT INTO idempotency_keys (key, first_position, last_position) \
                       VALUES ($1, $2, $3)";
            let (first, last) = (
                Position(key.first_position).as_i64(),
                Position(key.last_position).as_i64(),
            );
            match &mut self.conn {
                Conn::Sqlite(conn) => sqlx::query(sql)
                    .bind(&key.key)
                    .bind(first)
                    .bind(last)
                    .execute(conn)
                    .await
                    .map(|_| ()),
                Conn::Postgres(conn) => sqlx::query(sql)
                    .bind(&key.key)
                    .bind(first)
                    .bind(last)
                    .execute(conn)
                    .await
                    .map(|_| ()),
            }
            .or_store()?;
        }
        self.written.idempotency_keys += keys.len() as u64;
        Ok(())
    }

    /// Writes subject keys as they are (the same bytes, the same creation time).
    pub async fn write_subject_keys(&mut self, keys: &[SubjectKey]) -> Result<(), TransferError> {
        for key in keys {
            if key.id.is_empty() || key.key.is_empty() {
                return Err(TransferError::Refused(
                    "a subject key needs an id and a key".into(),
                ));
            }
            match &mut self.conn {
                Conn::Sqlite(conn) => {
                    sqlx::query("INSERT INTO subject_keys (id, key, created_at) VALUES (?, ?, ?)")
                        .bind(&key.id)
                        .bind(&key.key)
                        // As the vault writes it.
                        .bind(key.created_at.to_rfc3339())
                        .execute(conn)
                        .await
                        .map(|_| ())
                }
                Conn::Postgres(conn) => sqlx::query(
                    "INSERT INTO subject_keys (id, key, created_at) VALUES ($1, $2, $3)",
                )
                .bind(&key.id)
                .bind(&key.key)
                .bind(key.created_at)
                .execute(conn)
                .await
                .map(|_| ()),
            }
            .or_store()?;
        }
        self.written.subject_keys += keys.len() as u64;
        Ok(())
    }

    /// Writes settings, replacing those the target's migration made (its own new signing key).
    pub async fn write_settings(&mut self, settings: &[Setting]) -> Result<(), TransferError> {
        let sql = "INSERT INTO settings (name, value) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        for setting in settings
            .iter()
            .filter(|s| !LOCAL_SETTINGS.contains(&s.name.as_str()))
        {
            match &mut self.conn {
                Conn::Sqlite(conn) => sqlx::query(sql)
                    .bind(&setting.name)
                    .bind(&setting.value)
                    .execute(conn)
                    .await
                    .map(|_| ()),
                Conn::Postgres(conn) => sqlx::query(sql)
                    .bind(&setting.name)
                    .bind(&setting.value)
                    .execute(conn)
                    .await
                    .map(|_| ()),
            }
            .or_store()?;
            self.written.settings += 1;
        }
        Ok(())
    }

    /// Makes everything written visible at once (on PostgreSQL, servers following the target
    /// are told of the new head), and returns what was written.
    pub async fn commit(mut self) -> Result<Counts, TransferError> {
        self.flush().await?;
        if let Conn::Postgres(conn) = &mut self.conn {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(self.head.0.to_string())
                .execute(&mut *conn)
                .await
                .or_store()?;
        }
        self.conn.execute("COMMIT").await?;
        let written = self.written;
        match self.conn {
            Conn::Sqlite(conn) => conn.close().await.or_store()?,
            Conn::Postgres(conn) => conn.close().await.or_store()?,
        }
        Ok(written)
    }
}

/// Subject keys as hex text in serialised form.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(serde::de::Error::custom("a key must be hex digits"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// [`hex`] for a value that may be absent.
mod hex_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => super::hex::serialize(bytes, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Hex(#[serde(with = "super::hex")] Vec<u8>);
        Ok(Option::<Hex>::deserialize(deserializer)?.map(|Hex(bytes)| bytes))
    }
}
