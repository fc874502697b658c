//! The PostgreSQL backend, for several server processes on one database.
//!
//! Every batch transaction takes one transaction-level advisory lock before it reads the head and
//! assigns positions, and holds it until commit. Commit order is therefore position order, across
//! all processes: a reader that has seen position p never later finds a new event at or below p.
//! After writing, the transaction sends `NOTIFY` with the new head — only a wake-up hint for
//! other processes' subscribers, which also poll, since notifications are lost while a listener
//! reconnects.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::batch::{plan, streams_of, BatchWriter, Lookups, Pending, Plan};
use crate::error::StoreError;
use crate::types::{Metadata, Position, RecordedEvent, StreamId};

/// The advisory lock that serialises position assignment ("wijk" in ASCII).
pub const APPEND_LOCK: i64 = 0x7769_6a6b;
/// The channel on which committed heads are announced.
pub const NOTIFY_CHANNEL: &str = "wijkpuls_events";

/// Separates tags inside one text value when a batch is sent as arrays (tags cannot hold
/// control characters, so it never occurs inside one).
const SEP: char = '\u{1f}';

pub(crate) async fn open(url: &str, pool_size: u32) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e| StoreError::InvalidInput(format!("invalid PostgreSQL URL: {e}")))?;
    let pool = PgPoolOptions::new()
        .max_connections(pool_size.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.application_name("wijkpuls"))
        .await?;
    // Several instances may start at once; sqlx's migrator takes its own advisory lock.
    sqlx::migrate!("../../migrations/postgres").run(&pool).await?;
    Ok(pool)
}

pub(crate) struct PgWriter {
    pub pool: PgPool,
}

impl BatchWriter for PgWriter {
    async fn write(&mut self, batch: &[Pending]) -> Result<Plan, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await?;
        let lookups = look_up(&mut tx, batch).await?;
        let plan = plan(batch, &lookups);
        if let Some(last) = plan.last_position() {
            insert(&mut tx, batch, &plan).await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(last.0.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(plan)
    }
}

async fn look_up(conn: &mut sqlx::PgConnection, batch: &[Pending]) -> Result<Lookups, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(&mut *conn)
        .await?;
    let mut lookups = Lookups {
        head: Position(head as u64),
        ..Lookups::default()
    };

    let keys: Vec<&str> = batch
        .iter()
        .filter_map(|p| p.request.idempotency_key.as_deref())
        .collect();
    if !keys.is_empty() {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT key, first_position, last_position FROM idempotency_keys WHERE key = ANY($1)",
        )
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?;
        for (key, first, last) in rows {
            lookups
                .recorded_keys
                .insert(key, (Position(first as u64), Position(last as u64)));
        }
    }

    let streams = streams_of(batch);
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stream_id, MAX(stream_version) FROM events WHERE stream_id = ANY($1) GROUP BY stream_id",
    )
    .bind(&streams)
    .fetch_all(&mut *conn)
    .await?;
    lookups
        .stream_versions
        .extend(rows.into_iter().map(|(s, v)| (s, v as u64)));

    // All conditions of the batch in one round trip: one row per query item.
    let (mut indexes, mut tags, mut types, mut afters) = (vec![], vec![], vec![], vec![]);
    for (index, pending) in batch.iter().enumerate() {
        if let Some(condition) = &pending.request.condition {
            for item in &condition.fail_if_events_match.items {
                indexes.push(index as i32);
                tags.push(join(&item.tags));
                types.push(join(&item.types));
                afters.push(condition.after.as_i64());
            }
        }
    }
    if !indexes.is_empty() {
        let rows: Vec<(i32, i64)> = sqlx::query_as(
            "SELECT c.idx, MIN(hit.position)::int8
             FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[]) AS c(idx, tags, types, after)
             CROSS JOIN LATERAL (
                 SELECT e.position FROM events e
                 WHERE e.position > c.after
                   AND (c.tags = '' OR e.tags @> string_to_array(c.tags, chr(31)))
                   AND (c.types = '' OR e.event_type = ANY(string_to_array(c.types, chr(31))))
                 ORDER BY e.position LIMIT 1
             ) hit
             GROUP BY c.idx",
        )
        .bind(&indexes)
        .bind(&tags)
        .bind(&types)
        .bind(&afters)
        .fetch_all(&mut *conn)
        .await?;
        for (index, position) in rows {
            lookups
                .condition_hits
                .insert(index as usize, Position(position as u64));
        }
    }
    Ok(lookups)
}

async fn insert(
    conn: &mut sqlx::PgConnection,
    batch: &[Pending],
    plan: &Plan,
) -> Result<(), StoreError> {
    let n = plan.rows.len();
    let (mut positions, mut streams, mut versions, mut types) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut schemas, mut tags, mut payloads, mut metadata) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for row in &plan.rows {
        let event = &batch[row.batch_index].encoded[row.event_index];
        positions.push(row.position.as_i64());
        streams.push(event.stream_id.as_str());
        versions.push(row.stream_version as i64);
        types.push(event.event_type.as_str());
        schemas.push(event.schema_version as i32);
        tags.push(join(&event.tags));
        payloads.push(event.payload.as_str());
        metadata.push(event.metadata.as_str());
    }
    sqlx::query(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, tags,
                             payload, metadata, recorded_at)
         SELECT p, s, v, t, sv,
                CASE WHEN tg = '' THEN '{}'::text[] ELSE string_to_array(tg, chr(31)) END,
                pl::jsonb, md::jsonb, $9
         FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::int4[], $6::text[],
                     $7::text[], $8::text[]) AS r(p, s, v, t, sv, tg, pl, md)",
    )
    .bind(&positions)
    .bind(&streams)
    .bind(&versions)
    .bind(&types)
    .bind(&schemas)
    .bind(&tags)
    .bind(&payloads)
    .bind(&metadata)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;

    if !plan.new_keys.is_empty() {
        let keys: Vec<&str> = plan.new_keys.iter().map(|(k, _, _)| k.as_str()).collect();
        let firsts: Vec<i64> = plan.new_keys.iter().map(|(_, f, _)| f.as_i64()).collect();
        let lasts: Vec<i64> = plan.new_keys.iter().map(|(_, _, l)| l.as_i64()).collect();
        sqlx::query(
            "INSERT INTO idempotency_keys (key, first_position, last_position)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[])",
        )
        .bind(&keys)
        .bind(&firsts)
        .bind(&lasts)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn join(values: &[String]) -> String {
    let mut joined = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            joined.push(SEP);
        }
        joined.push_str(value);
    }
    joined
}

const COLUMNS: &str = "position, stream_id, stream_version, event_type, schema_version, tags, \
                       payload, metadata, recorded_at";

pub(crate) async fn read_after(
    pool: &PgPool,
    after: Position,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
    ))
    .bind(after.as_i64())
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn read_stream(
    pool: &PgPool,
    stream: &StreamId,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version"
    ))
    .bind(stream.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn head(pool: &PgPool) -> Result<Position, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(Position(head as u64))
}

fn decode(row: &sqlx::postgres::PgRow) -> Result<RecordedEvent, StoreError> {
    let position = Position(row.try_get::<i64, _>("position")? as u64);
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let metadata: serde_json::Value = row.try_get("metadata")?;
    Ok(RecordedEvent {
        position,
        stream_id: StreamId::parse(row.try_get::<String, _>("stream_id")?)
            .map_err(|e| corrupt(e.to_string()))?,
        stream_version: row.try_get::<i64, _>("stream_version")? as u64,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get::<i32, _>("schema_version")? as u32,
        tags: row.try_get("tags")?,
        payload: row.try_get("payload")?,
        metadata: serde_json::from_value::<Metadata>(metadata)
            .map_err(|e| corrupt(format!("metadata: {e}")))?,
        recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
    })
}

/// Follows other processes' commits: forwards each announced head to `on_head`. Reconnects
/// after a lost connection (sqlx's listener does) and then reports the current head, since
/// announcements made while it was away are gone.
pub(crate) async fn listen(pool: PgPool, on_head: impl Fn(Position) + Send + 'static) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for new events; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(NOTIFY_CHANNEL).await {
            tracing::warn!(%error, "cannot listen for new events; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Ok(position) = notification.payload().parse::<u64>() {
                        on_head(Position(position));
                    }
                }
                Ok(None) => {
                    // The connection was lost and is re-established on the next call.
                    if let Ok(position) = head(&pool).await {
                        on_head(position);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "lost the event listener; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}
