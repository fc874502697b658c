//! The PostgreSQL backend, for several server processes on one database.
//!
//! Every batch transaction takes one transaction-level advisory lock before it reads the head and
//! assigns positions, and holds it until commit. Commit order is therefore position order, across
//! all processes: a reader that has seen position p never later finds a new event at or below p.
//! After writing, the transaction sends `NOTIFY` with the new head — only a wake-up hint for
//! other processes' subscribers, which also poll, since notifications are lost while a listener
//! reconnects.

use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};

use crate::batch::{plan, streams_of, BatchWriter, Lookups, Pending, Plan};
use crate::chain::{canonical_time, hash_from_hex, ChainRow, Hash};
use crate::error::FromDriver as _;
use crate::error::{DatabaseError, StoreError};
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
        .await
        .or_store()?;
    // Several instances may start at once; sqlx's migrator takes its own advisory lock.
    sqlx::migrate!("../../migrations/postgres")
        .run(&pool)
        .await
        .or_store()?;
    Ok(pool)
}

/// The writer's own connection, outside the pool: appends never queue behind readers for a
/// connection, and no health check costs a round trip per batch (a dead connection shows at
/// the batch's first statement, which is then retried on a new one).
pub(crate) struct PgWriter {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
}

impl PgWriter {
    pub fn new(pool: &PgPool) -> PgWriter {
        PgWriter {
            options: (*pool.connect_options()).clone(),
            conn: None,
        }
    }

    /// Opens the batch transaction and takes the append lock, in one round trip. If the
    /// connection turns out to be dead (the server restarted, the backend was terminated),
    /// nothing of the batch has reached the database: connect again and go on.
    async fn begin(&mut self) -> Result<&mut PgConnection, StoreError> {
        let mut retried = false;
        loop {
            if self.conn.is_none() {
                let connect = PgConnection::connect_with(&self.options);
                let conn = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| {
                        StoreError::Unavailable(DatabaseError::other(
                            "connecting to PostgreSQL timed out",
                        ))
                    })?
                    .or_store()?;
                self.conn = Some(conn);
            }
            let conn = self.conn.as_mut().expect("connected above");
            match conn.execute(BEGIN_AND_LOCK).await {
                Ok(_) => break,
                Err(error) => {
                    // Whatever the error, this connection's state is unknown: drop it.
                    self.conn = None;
                    let error = crate::error::from_sqlx(error);
                    if retried || !matches!(error, StoreError::Unavailable(_)) {
                        return Err(error);
                    }
                    retried = true;
                }
            }
        }
        Ok(self.conn.as_mut().expect("begun above"))
    }
}

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `BEGIN` and the append lock. The lock must be a statement of its own, before the reads: a
/// statement reads from a snapshot taken when it starts, so a read in the statement that waited
/// for the lock could miss the commit of the writer it waited for.
const BEGIN_AND_LOCK: &str = "BEGIN; SELECT pg_advisory_xact_lock(2003397227)";

impl BatchWriter for PgWriter {
    /// Four round trips per batch, whatever its size: begin and lock, look up, write (events,
    /// keys and the notification in one statement), commit.
    async fn write(&mut self, batch: &[Pending]) -> Result<Plan, StoreError> {
        let conn = self.begin().await?;
        let written = write_in_transaction(conn, batch).await;
        if let Err(error) = &written {
            // A lost connection is replaced at the next batch; otherwise end the transaction
            // (after a failed COMMIT PostgreSQL has already, and ROLLBACK merely warns).
            let broken = matches!(error, StoreError::Unavailable(_))
                || conn.execute("ROLLBACK").await.is_err();
            if broken {
                self.conn = None;
            }
        }
        written
    }
}

async fn write_in_transaction(
    conn: &mut PgConnection,
    batch: &[Pending],
) -> Result<Plan, StoreError> {
    let lookups = look_up(conn, batch).await?;
    let plan = plan(batch, &lookups);
    if let Some(last) = plan.last_position() {
        insert(conn, batch, &plan, last, lookups.head_hash).await?;
    }
    conn.execute("COMMIT").await.or_store()?;
    Ok(plan)
}

/// One row of [`look_up`]'s answer: kind (0 head, 1 stream, 2 key, 3 condition, 4 recent
/// event), then a name and up to two numbers.
type LookupRow = (i32, Option<String>, Option<i64>, Option<i64>);

/// A condition whose position is at most this far behind the head is checked by the writer
/// against the events after it, read once for the whole batch ([`look_up`]'s kind 4); one
/// further behind (a decision on stale state, or a client's own) by the database, an index
/// probe per condition.
///
/// Why: the service's conditions are all of this kind — positions a few batches behind the
/// head, since concurrent decisions are taken while earlier batches commit — and PostgreSQL
/// checked each of them by walking the primary key from its position and testing every event's
/// tags: 64 appends deciding 128 events behind the head tested 8,192 rows, 4 ms inside the
/// append lock, per batch. Read once, the same 128 events are tested in memory in microseconds.
const RECENT: i64 = 1000;

/// Separates an event's type from its tags in a kind-4 row (types and tags cannot hold control
/// characters).
const TYPE_SEP: char = '\u{1e}';

/// Everything the plan needs, read in one statement (so from one snapshot, taken after the
/// lock): the head, the current version of each stream the batch touches (a correlated MAX is
/// one index probe; MAX ... GROUP BY would read each stream whole), the idempotency keys
/// already recorded, and per append with a condition the first event matching it — for a
/// condition near the head, from the recent events read along ([`RECENT`]).
async fn look_up(conn: &mut sqlx::PgConnection, batch: &[Pending]) -> Result<Lookups, StoreError> {
    let streams = streams_of(batch);
    let keys: Vec<&str> = batch
        .iter()
        .filter_map(|p| p.request.idempotency_key.as_deref())
        .collect();
    // Conditions as one row per query item.
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
    let rows: Vec<LookupRow> = sqlx::query_as(
        "SELECT 0, (SELECT encode(hash, 'hex') FROM events ORDER BY position DESC LIMIT 1),
                (SELECT MAX(position) FROM events), NULL::int8
         UNION ALL
         SELECT 1, s, (SELECT MAX(stream_version) FROM events WHERE stream_id = s), NULL
         FROM unnest($1::text[]) AS s
         UNION ALL
         SELECT 2, key, first_position, last_position
         FROM idempotency_keys WHERE key = ANY($2::text[])
         UNION ALL
         SELECT 3, c.idx::text, MIN(hit.position), NULL
         FROM unnest($3::int4[], $4::text[], $5::text[], $6::int8[]) AS c(idx, tags, types, after)
         CROSS JOIN LATERAL (
             SELECT e.position FROM events e
             WHERE e.position > c.after
               AND (c.tags = '' OR e.tags @> string_to_array(c.tags, chr(31)))
               AND (c.types = '' OR e.event_type = ANY(string_to_array(c.types, chr(31))))
             ORDER BY e.position LIMIT 1
         ) hit
         WHERE c.after < (SELECT COALESCE(MAX(position), 0) FROM events) - $7
         GROUP BY c.idx
         UNION ALL
         SELECT 4, e.event_type || chr(30) || array_to_string(e.tags, chr(31)), e.position, NULL
         FROM events e
         WHERE e.position > (
             SELECT MIN(a) FROM unnest($6::int8[]) AS a
             WHERE a >= (SELECT COALESCE(MAX(position), 0) FROM events) - $7)",
    )
    .bind(&streams)
    .bind(&keys)
    .bind(&indexes)
    .bind(&tags)
    .bind(&types)
    .bind(&afters)
    .bind(RECENT)
    .fetch_all(&mut *conn)
    .await
    .or_store()?;

    let mut lookups = Lookups::default();
    let mut recent: Vec<(Position, String, Vec<String>)> = Vec::new();
    for (kind, name, a, b) in rows {
        match (kind, name, a, b) {
            (0, hash, head, _) => {
                lookups.head = Position(head.unwrap_or(0) as u64);
                lookups.head_hash = hash.as_deref().and_then(hash_from_hex);
            }
            (1, Some(stream), Some(version), _) => {
                lookups.stream_versions.insert(stream, version as u64);
            }
            (2, Some(key), Some(first), Some(last)) => {
                lookups
                    .recorded_keys
                    .insert(key, (Position(first as u64), Position(last as u64)));
            }
            (3, Some(index), Some(position), _) => {
                if let Ok(index) = index.parse::<usize>() {
                    lookups
                        .condition_hits
                        .insert(index, Position(position as u64));
                }
            }
            (4, Some(event), Some(position), _) => {
                let (event_type, tags) = event.split_once(TYPE_SEP).unwrap_or((&event, ""));
                let tags = match tags {
                    "" => Vec::new(),
                    tags => tags.split(SEP).map(str::to_owned).collect(),
                };
                recent.push((Position(position as u64), event_type.to_owned(), tags));
            }
            _ => {}
        }
    }
    // The conditions the statement left to us: those at most RECENT behind the head, whose
    // events after their position are all in `recent`.
    recent.sort_unstable_by_key(|(position, _, _)| *position);
    let near = lookups.head.as_i64() - RECENT;
    for (index, pending) in batch.iter().enumerate() {
        let Some(condition) = &pending.request.condition else {
            continue;
        };
        if condition.after.as_i64() < near {
            continue;
        }
        let hit = recent.iter().find(|(position, event_type, tags)| {
            *position > condition.after && condition.fail_if_events_match.matches(event_type, tags)
        });
        if let Some((position, _, _)) = hit {
            lookups.condition_hits.insert(index, *position);
        }
    }
    Ok(lookups)
}

/// Writes the planned events, idempotency keys and subject keys and announces the new head,
/// in one statement (data-modifying CTEs run to completion whether or not they are read).
async fn insert(
    conn: &mut sqlx::PgConnection,
    batch: &[Pending],
    plan: &Plan,
    last: Position,
    head_hash: Option<Hash>,
) -> Result<(), StoreError> {
    // Microseconds, as PostgreSQL keeps them: the hash covers the time as stored.
    let recorded_at = Utc::now().trunc_subsecs(6);
    let hashes: Vec<Vec<u8>> = plan
        .hashes(batch, head_hash, &canonical_time(recorded_at))
        .iter()
        .map(|hash| hash.to_vec())
        .collect();
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
    let keys: Vec<&str> = plan.new_keys.iter().map(|(k, _, _)| k.as_str()).collect();
    let firsts: Vec<i64> = plan.new_keys.iter().map(|(_, f, _)| f.as_i64()).collect();
    let lasts: Vec<i64> = plan.new_keys.iter().map(|(_, _, l)| l.as_i64()).collect();
    let (subject_ids, subject_keys): (Vec<&str>, Vec<&[u8]>) = plan.subject_keys(batch).unzip();
    sqlx::query(
        "WITH new_events AS (
             INSERT INTO events (position, stream_id, stream_version, event_type, schema_version,
                                 tags, payload, metadata, recorded_at, hash)
             SELECT p, s, v, t, sv,
                    CASE WHEN tg = '' THEN '{}'::text[] ELSE string_to_array(tg, chr(31)) END,
                    pl::jsonb, md::jsonb, $9, h
             FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::int4[], $6::text[],
                         $7::text[], $8::text[], $15::bytea[]) AS r(p, s, v, t, sv, tg, pl, md, h)
         ), new_keys AS (
             INSERT INTO idempotency_keys (key, first_position, last_position)
             SELECT * FROM unnest($10::text[], $11::int8[], $12::int8[])
         ), new_subject_keys AS (
             INSERT INTO subject_keys (id, key)
             SELECT * FROM unnest($16::text[], $17::bytea[])
         )
         SELECT pg_notify($13, $14)",
    )
    .bind(&positions)
    .bind(&streams)
    .bind(&versions)
    .bind(&types)
    .bind(&schemas)
    .bind(&tags)
    .bind(&payloads)
    .bind(&metadata)
    .bind(recorded_at)
    .bind(&keys)
    .bind(&firsts)
    .bind(&lasts)
    .bind(NOTIFY_CHANNEL)
    .bind(last.0.to_string())
    .bind(&hashes)
    .bind(&subject_ids)
    .bind(&subject_keys)
    .execute(&mut *conn)
    .await
    .or_store()?;
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
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .or_store()?;
    rows.iter().map(decode).collect()
}

/// The events at `positions` (at least one: the store never asks for none), in position order.
pub(crate) async fn read_positions(
    pool: &PgPool,
    positions: &[i64],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE position = ANY($1) ORDER BY position"
    ))
    .bind(positions)
    .fetch_all(pool)
    .await
    .or_store()?;
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
    .await
    .or_store()?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn head(pool: &PgPool) -> Result<Position, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(pool)
        .await
        .or_store()?;
    Ok(Position(head as u64))
}

/// Up to `limit` stored rows after `after`, raw, with their hashes, for the chain's walk.
pub(crate) async fn chain_rows(
    pool: &PgPool,
    after: Position,
    limit: usize,
) -> Result<Vec<ChainRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, hash FROM events WHERE position > $1 ORDER BY position LIMIT $2"
    ))
    .bind(after.as_i64())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .or_store()?;
    rows.iter()
        .map(|row| {
            Ok(ChainRow {
                position: row.try_get::<i64, _>("position").or_store()? as u64,
                stream_id: row.try_get("stream_id").or_store()?,
                stream_version: row.try_get::<i64, _>("stream_version").or_store()? as u64,
                event_type: row.try_get("event_type").or_store()?,
                schema_version: row.try_get::<i32, _>("schema_version").or_store()? as u32,
                tags: row.try_get("tags").or_store()?,
                payload: row.try_get("payload").or_store()?,
                metadata: row.try_get("metadata").or_store()?,
                recorded_at: row.try_get("recorded_at").or_store()?,
                hash: row.try_get("hash").or_store()?,
            })
        })
        .collect()
}

fn decode(row: &sqlx::postgres::PgRow) -> Result<RecordedEvent, StoreError> {
    let position = Position(row.try_get::<i64, _>("position").or_store()? as u64);
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let metadata: serde_json::Value = row.try_get("metadata").or_store()?;
    Ok(RecordedEvent {
        position,
        stream_id: StreamId::parse(row.try_get::<String, _>("stream_id").or_store()?)
            .map_err(|e| corrupt(e.to_string()))?,
        stream_version: row.try_get::<i64, _>("stream_version").or_store()? as u64,
        event_type: row.try_get("event_type").or_store()?,
        schema_version: row.try_get::<i32, _>("schema_version").or_store()? as u32,
        tags: row.try_get("tags").or_store()?,
        payload: row.try_get("payload").or_store()?,
        metadata: serde_json::from_value::<Metadata>(metadata)
            .map_err(|e| corrupt(format!("metadata: {e}")))?,
        recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at").or_store()?,
    })
}

/// Follows other processes' commits: forwards each announced head to `on_head`. Reconnects
/// after a lost connection (sqlx's listener does) and then reports the current head, since
/// announcements made while it was away are gone.
pub(crate) async fn listen(pool: PgPool, on_head: impl Fn(Position) + Send + 'static) {
    // A closed pool is the store closing: the listener ends quietly (a warning then would be
    // noise on every clean shutdown, and `wijkpuls` commands print their errors alone).
    while !pool.is_closed() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for new events; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(NOTIFY_CHANNEL).await {
            if pool.is_closed() {
                return;
            }
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
                Err(_) if pool.is_closed() => return,
                Err(error) => {
                    tracing::warn!(%error, "lost the event listener; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_begin_statement_takes_the_append_lock() {
        assert_eq!(
            BEGIN_AND_LOCK,
            format!("BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})")
        );
    }
}
