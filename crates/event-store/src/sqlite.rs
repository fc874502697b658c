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
        sqlx::query("BEGIN IMMEDIATE").execute(&mut self.conn).await?;
        match write_in_transaction(&mut self.conn, batch).await {
            Ok(plan) => {
                sqlx::query("COMMIT").execute(&mut self.conn).await?;
                Ok(plan)
            }
            Err(error) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
                Err(error)
            }
        }
    }
}

async fn write_in_transaction(
    conn: &mut SqliteConnection,
    batch: &[Pending],
) -> Result<Plan, StoreError> {
    let lookups = look_up(conn, batch).await?;
    let plan = plan(batch, &lookups);
    let recorded_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for row in &plan.rows {
        let event = &batch[row.batch_index].encoded[row.event_index];
        sqlx::query(
            "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, \
             tags, payload, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.position.as_i64())
        .bind(&event.stream_id)
        .bind(row.stream_version as i64)
        .bind(&event.event_type)
        .bind(event.schema_version as i64)
        .bind(serde_json::to_string(&event.tags).unwrap_or_else(|_| "[]".into()))
        .bind(&event.payload)
        .bind(&event.metadata)
        .bind(&recorded_at)
        .execute(&mut *conn)
        .await?;
        for tag in &event.tags {
            sqlx::query("INSERT OR IGNORE INTO event_tags (tag, position) VALUES (?, ?)")
                .bind(tag)
                .bind(row.position.as_i64())
                .execute(&mut *conn)
                .await?;
        }
    }
    for (key, first, last) in &plan.new_keys {
        sqlx::query("INSERT INTO idempotency_keys (key, first_position, last_position) VALUES (?, ?, ?)")
            .bind(key)
            .bind(first.as_i64())
            .bind(last.as_i64())
            .execute(&mut *conn)
            .await?;
    }
    Ok(plan)
}

async fn look_up(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<Lookups, StoreError> {
    let mut lookups = Lookups {
        head: Position(
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(position), 0) FROM events")
                .fetch_one(&mut *conn)
                .await? as u64,
        ),
        ..Lookups::default()
    };
    for stream in streams_of(batch) {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(stream_version) FROM events WHERE stream_id = ?")
                .bind(&stream)
                .fetch_one(&mut *conn)
                .await?;
        if let Some(version) = version {
            lookups.stream_versions.insert(stream, version as u64);
        }
    }
    for (index, pending) in batch.iter().enumerate() {
        if let Some(key) = &pending.request.idempotency_key {
            let hit: Option<(i64, i64)> = sqlx::query_as(
                "SELECT first_position, last_position FROM idempotency_keys WHERE key = ?",
            )
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some((first, last)) = hit {
                lookups
                    .recorded_keys
                    .insert(key.clone(), (Position(first as u64), Position(last as u64)));
                continue;
            }
        }
        if let Some(condition) = &pending.request.condition {
            if let Some(position) = first_match(conn, condition).await? {
                lookups.condition_hits.insert(index, position);
            }
        }
    }
    Ok(lookups)
}

/// The first committed event after `condition.after` that matches its query, if any.
async fn first_match(
    conn: &mut SqliteConnection,
    condition: &crate::types::AppendCondition,
) -> Result<Option<Position>, StoreError> {
    let mut first: Option<Position> = None;
    for item in &condition.fail_if_events_match.items {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT MIN(e.position) FROM events e WHERE e.position > ");
        query.push_bind(condition.after.as_i64());
        for tag in &item.tags {
            query.push(" AND EXISTS (SELECT 1 FROM event_tags t WHERE t.position = e.position AND t.tag = ");
            query.push_bind(tag);
            query.push(")");
        }
        if !item.types.is_empty() {
            query.push(" AND e.event_type IN (");
            let mut separated = query.separated(", ");
            for event_type in &item.types {
                separated.push_bind(event_type);
            }
            query.push(")");
        }
        let hit: Option<i64> = query.build_query_scalar().fetch_one(&mut *conn).await?;
        if let Some(position) = hit.map(|p| Position(p as u64)) {
            first = Some(first.map_or(position, |f| f.min(position)));
        }
    }
    Ok(first)
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
    .bind(limit as i64)
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
