//! The SQLite backend, the embedded default: WAL mode, one writer connection that takes the
//! write lock up front (`BEGIN IMMEDIATE`; sqlx's own begin is deferred and could fail to
//! upgrade), and a small pool of readers that never block it.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use crate::batch::{plan, streams_of, BatchWriter, Lookups, Pending, Plan};
use crate::error::StoreError;
use crate::types::{Metadata, Position, RecordedEvent, StreamId};

pub(crate) struct Opened {
    pub readers: SqlitePool,
    pub writer: SqliteWriter,
}

pub(crate) async fn open(url: &str, readers: u32) -> Result<Opened, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidInput(format!("invalid SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged append is on disk, not only in the OS cache.
        .synchronous(SqliteSynchronous::Full)
        // Multi-row statements keep a statement journal (to undo a half-done statement); in
        // memory rather than in a temporary file.
        .pragma("temp_store", "memory")
        // Checkpoint every 10,000 WAL pages (40 MB) rather than 1,000: the writer runs the
        // checkpoint inside a commit, and concurrent appends to many streams rewrite the same
        // index pages over and over, which a rarer checkpoint copies to the database once.
        .pragma("wal_autocheckpoint", "10000")
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let mut writer = SqliteConnection::connect_with(&options).await?;
    sqlx::migrate!("../../migrations/sqlite")
        .run(&mut writer)
        .await?;
    let readers = SqlitePoolOptions::new()
        .max_connections(readers.max(1))
        .connect_with(options.read_only(true))
        .await?;
    Ok(Opened {
        readers,
        writer: SqliteWriter { conn: writer },
    })
}

pub(crate) struct SqliteWriter {
    conn: SqliteConnection,
}

impl BatchWriter for SqliteWriter {
    async fn write(&mut self, batch: &[Pending]) -> Result<Plan, StoreError> {
        let written = write_and_commit(&mut self.conn, batch).await;
        if written.is_err() {
            // Whatever failed (BEGIN, a lookup, a write, or COMMIT itself, which leaves the
            // transaction open, e.g. on a deferred constraint), the connection must leave the
            // transaction, or every later BEGIN on it fails.
            let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
        }
        written
    }
}

/// One batch in two round trips to sqlx's SQLite worker thread (each costs more than a row):
/// begin and look up; then write and commit.
async fn write_and_commit(
    conn: &mut SqliteConnection,
    batch: &[Pending],
) -> Result<Plan, StoreError> {
    let lookups = begin_and_look_up(conn, batch).await?;
    let plan = plan(batch, &lookups);
    if plan.rows.is_empty() {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        return Ok(plan);
    }
    let recorded_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut rows = Vec::with_capacity(plan.rows.len());
    let mut tags = Vec::new();
    for row in &plan.rows {
        let event = &batch[row.batch_index].encoded[row.event_index];
        let tags_json = serde_json::to_string(&event.tags).expect("tags serialise");
        rows.push((row, event, tags_json));
        tags.extend(
            event
                .tags
                .iter()
                .map(|tag| (tag.as_str(), row.position.as_i64())),
        );
    }
    // Multi-row VALUES, a statement per chunk (SQLite allows 32766 parameters a statement),
    // then COMMIT: all in one round trip to the worker thread.
    let mut sql = QueryBuilder::<Sqlite>::new("");
    for chunk in rows.chunks(1000) {
        sql.push(
            "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, \
             tags, payload, metadata, recorded_at) ",
        );
        sql.push_values(chunk, |mut values, (row, event, tags_json)| {
            values
                .push_bind(row.position.as_i64())
                .push_bind(event.stream_id.as_str())
                .push_bind(row.stream_version as i64)
                .push_bind(event.event_type.as_str())
                .push_bind(i64::from(event.schema_version))
                .push_bind(tags_json.as_str())
                .push_bind(event.payload.as_str())
                .push_bind(event.metadata.as_str())
                .push_bind(recorded_at.as_str());
        });
        sql.push(";\n");
    }
    for chunk in tags.chunks(10_000) {
        sql.push("INSERT OR IGNORE INTO event_tags (tag, position) ");
        sql.push_values(chunk, |mut values, (tag, position)| {
            values.push_bind(*tag).push_bind(*position);
        });
        sql.push(";\n");
    }
    for chunk in plan.new_keys.chunks(10_000) {
        sql.push("INSERT INTO idempotency_keys (key, first_position, last_position) ");
        sql.push_values(chunk, |mut values, (key, first, last)| {
            values
                .push_bind(key.as_str())
                .push_bind(first.as_i64())
                .push_bind(last.as_i64());
        });
        sql.push(";\n");
    }
    sql.push("COMMIT");
    // The text differs with the batch's shape: not worth a place in the statement cache.
    sql.build().persistent(false).execute(&mut *conn).await?;
    Ok(plan)
}

/// One row of [`begin_and_look_up`]'s answer: a kind, then a name and up to two numbers.
type LookupRow = (String, Option<String>, Option<i64>, Option<i64>);

/// Takes the write lock up front (`BEGIN IMMEDIATE`) and reads what the plan needs: the head,
/// the current version of each stream the batch touches (a correlated MAX is one index probe;
/// MAX ... GROUP BY would read each stream whole), the idempotency keys already recorded, and
/// per query item of each condition the first event after its position that matches it.
async fn begin_and_look_up(
    conn: &mut SqliteConnection,
    batch: &[Pending],
) -> Result<Lookups, StoreError> {
    let streams = serde_json::to_string(&streams_of(batch)).expect("stream ids serialise");
    let keys: Vec<&str> = batch
        .iter()
        .filter_map(|p| p.request.idempotency_key.as_deref())
        .collect();
    // [append index, after, [tags], [types]] per query item.
    let mut conditions = Vec::new();
    for (index, pending) in batch.iter().enumerate() {
        if let Some(condition) = &pending.request.condition {
            for item in &condition.fail_if_events_match.items {
                conditions.push(serde_json::json!([
                    index,
                    condition.after.as_i64(),
                    item.tags,
                    item.types
                ]));
            }
        }
    }
    let rows: Vec<LookupRow> = sqlx::query_as(
        "BEGIN IMMEDIATE;
         SELECT 'head', NULL, (SELECT MAX(position) FROM events), NULL
         UNION ALL
         SELECT 'stream', s.value,
                (SELECT MAX(stream_version) FROM events WHERE stream_id = s.value), NULL
         FROM json_each(?1) AS s
         UNION ALL
         SELECT 'key', k.key, k.first_position, k.last_position
         FROM idempotency_keys AS k WHERE k.key IN (SELECT value FROM json_each(?2))
         UNION ALL
         SELECT 'condition', NULL, c.value ->> 0, (
             SELECT MIN(e.position) FROM events AS e
             WHERE e.position > c.value ->> 1
               AND NOT EXISTS (
                   SELECT 1 FROM json_each(c.value -> 2) AS wanted
                   WHERE NOT EXISTS (
                       SELECT 1 FROM event_tags AS t
                       WHERE t.tag = wanted.value AND t.position = e.position))
               AND (json_array_length(c.value -> 3) = 0
                    OR e.event_type IN (SELECT value FROM json_each(c.value -> 3))))
         FROM json_each(?3) AS c",
    )
    .bind(&streams)
    .bind(serde_json::to_string(&keys).expect("keys serialise"))
    .bind(serde_json::Value::Array(conditions).to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut lookups = Lookups::default();
    for (kind, name, a, b) in rows {
        match (kind.as_str(), name, a, b) {
            ("head", _, head, _) => lookups.head = Position(head.unwrap_or(0) as u64),
            ("stream", Some(stream), Some(version), _) => {
                lookups.stream_versions.insert(stream, version as u64);
            }
            ("key", Some(key), Some(first), Some(last)) => {
                lookups
                    .recorded_keys
                    .insert(key, (Position(first as u64), Position(last as u64)));
            }
            ("condition", _, Some(index), Some(position)) => {
                let hit = lookups
                    .condition_hits
                    .entry(index as usize)
                    .or_insert(Position(position as u64));
                *hit = (*hit).min(Position(position as u64));
            }
            _ => {}
        }
    }
    Ok(lookups)
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
    .await?;
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
    .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn head(pool: &SqlitePool) -> Result<Position, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(Position(head as u64))
}

fn decode(row: &sqlx::sqlite::SqliteRow) -> Result<RecordedEvent, StoreError> {
    let position = Position(row.try_get::<i64, _>("position")? as u64);
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let tags: String = row.try_get("tags")?;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    let recorded_at: String = row.try_get("recorded_at")?;
    Ok(RecordedEvent {
        position,
        stream_id: StreamId::parse(row.try_get::<String, _>("stream_id")?)
            .map_err(|e| corrupt(e.to_string()))?,
        stream_version: row.try_get::<i64, _>("stream_version")? as u64,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get::<i64, _>("schema_version")? as u32,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt(format!("tags: {e}")))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload: {e}")))?,
        metadata: serde_json::from_str::<Metadata>(&metadata)
            .map_err(|e| corrupt(format!("metadata: {e}")))?,
        recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt(format!("recorded_at: {e}")))?
            .with_timezone(&Utc),
    })
}
