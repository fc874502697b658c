//! `wijkpuls-bench chain`: what the hash chain costs an append, on SQLite and PostgreSQL.
//!
//! Two measurements, each with its baseline from the same run and database server:
//!
//! 1. **Bulk writing with and without the hash.** The same events (realistic payloads and
//!    metadata, 50 streams) are written into an empty store through the transfer writer (one
//!    transaction, pages of 1,000, each page read back and compared), once with their chain
//!    hashes computed beforehand (the baseline: writing only) and once computing each hash in
//!    the timed loop, as the append path does. The ratio of the two rates is the chain's cost
//!    where writing is cheapest, so the hash weighs most.
//! 2. **The live append path.** `EventStore::append` with 64 concurrent single-event
//!    appenders (group commit), against the rate at which one core computes chain hashes
//!    alone: the writer computes the hashes of a batch while it holds the append lock, so
//!    `append rate / hash rate` is the share of the writer's time the chain takes.
//!
//! The store written with hashes is verified at the end (`verify_chain`), so the hashes
//! measured are the real ones.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DurationRound as _, TimeDelta, Utc};
use serde_json::json;
use serde_json::value::RawValue;
use wijkpuls_event_store::transfer::{EmptyStoreWriter, RawEvent};
use wijkpuls_event_store::{AppendRequest, EventStore, Metadata, NewEvent, StoreOptions, StreamId};

use crate::append::TempPgDatabase;

pub struct ChainBenchOptions {
    /// A PostgreSQL server on which the benchmark may create databases; without it only SQLite
    /// is measured.
    pub postgres_url: Option<String>,
    /// Events written per bulk measurement.
    pub events: u64,
    /// Seconds of the live append measurement.
    pub seconds: f64,
}

/// Events per transfer page.
const PAGE: usize = 1_000;

pub async fn run_chain(options: ChainBenchOptions) -> anyhow::Result<()> {
    let rows = rows(options.events)?;
    let hashes = hash_all(&rows)?;
    // One core, hashes alone: the best of three.
    let mut hash_rate: f64 = 0.0;
    for _ in 0..3 {
        let started = Instant::now();
        let again = hash_all(&rows)?;
        hash_rate = hash_rate.max(rows.len() as f64 / started.elapsed().as_secs_f64());
        anyhow::ensure!(again == hashes, "hashing is deterministic");
    }
    println!("chain hashes alone (one core, canonical JSON + SHA-256): {hash_rate:>10.0} events/s");
    println!(
        "{:<11} {:>14} {:>14} {:>8} {:>14} {:>12}",
        "backend", "bulk no hash", "bulk + hash", "ratio", "append (64)", "hash share"
    );
    let dir = tempfile::tempdir()?;
    let mut n = 0;
    let mut sqlite = || {
        n += 1;
        format!(
            "sqlite://{}",
            dir.path().join(format!("chain-{n}.db")).display()
        )
    };
    let (plain, hashed) = (sqlite(), sqlite());
    let append = sqlite();
    let figures = measure(&plain, &hashed, &append, &rows, &hashes, options.seconds).await?;
    print_row("SQLite", figures, hash_rate);
    if let Some(server) = &options.postgres_url {
        let (plain, hashed, append) = (
            TempPgDatabase::create(server).await?,
            TempPgDatabase::create(server).await?,
            TempPgDatabase::create(server).await?,
        );
        let figures = measure(
            plain.url(),
            hashed.url(),
            append.url(),
            &rows,
            &hashes,
            options.seconds,
        )
        .await?;
        print_row("PostgreSQL", figures, hash_rate);
    }
    Ok(())
}

fn print_row(backend: &str, (plain, hashed, append): (f64, f64, f64), hash_rate: f64) {
    println!(
        "{backend:<11} {plain:>10.0} ev/s {hashed:>10.0} ev/s {:>8.3} {append:>10.0} ev/s {:>11.1}%",
        hashed / plain,
        100.0 * append / hash_rate
    );
}

/// Bulk rate without and with hashing, and the live append rate.
async fn measure(
    plain: &str,
    hashed: &str,
    append: &str,
    rows: &[RawEvent],
    hashes: &[[u8; 32]],
    seconds: f64,
) -> anyhow::Result<(f64, f64, f64)> {
    let plain_rate = bulk(plain, rows, |i, _| Ok(hashes[i])).await?;
    let hashed_rate = bulk(hashed, rows, |_, (row, previous)| {
        Ok(row.chain_hash(previous.as_ref().map(|h| &h[..]))?)
    })
    .await?;
    let store = EventStore::open(hashed, StoreOptions::default()).await?;
    let report = store.verify_chain(|_| {}).await?;
    store.close().await;
    anyhow::ensure!(
        report.broken.is_none() && report.events == rows.len() as u64,
        "the store written with hashes does not verify"
    );
    Ok((
        plain_rate,
        hashed_rate,
        live_appends(append, seconds).await?,
    ))
}

/// Writes `rows` into the empty store at `url`, each with the hash `hash` gives it (from its
/// index, the row and the previous row's hash); events per second, commit included.
async fn bulk(
    url: &str,
    rows: &[RawEvent],
    hash: impl Fn(usize, (&RawEvent, &Option<[u8; 32]>)) -> anyhow::Result<[u8; 32]>,
) -> anyhow::Result<f64> {
    let mut writer = EmptyStoreWriter::begin(url)
        .await
        .with_context(|| format!("open {url}"))?;
    let started = Instant::now();
    let mut previous = None;
    for (i, row) in rows.iter().enumerate() {
        let mut row = row.clone();
        let link = hash(i, (&row, &previous))?;
        row.hash = Some(link.to_vec());
        previous = Some(link);
        writer.push(row)?;
        if writer.pending() >= PAGE {
            writer.flush().await?;
        }
    }
    writer.commit().await?;
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}

/// Events per second appended by 64 concurrent single-event appenders for `seconds` (after a
/// warm-up of a fifth of that, at most 1 s).
async fn live_appends(url: &str, seconds: f64) -> anyhow::Result<f64> {
    let store = EventStore::open(url, StoreOptions::default()).await?;
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..64)
        .map(|appender| {
            let (store, count, stop) = (store.clone(), count.clone(), stop.clone());
            tokio::spawn(async move {
                let stream = StreamId::parse(format!("chain-{appender}"))?;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    store
                        .append(AppendRequest {
                            events: vec![new_event(&stream, n)],
                            metadata: metadata(),
                            ..AppendRequest::default()
                        })
                        .await?;
                    n += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64((seconds / 5.0).min(1.0))).await;
    let (first, started) = (count.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (last, elapsed) = (count.load(Ordering::Relaxed), started.elapsed());
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.context("an appender panicked")??;
    }
    store.close().await;
    Ok((last - first) as f64 / elapsed.as_secs_f64())
}

fn new_event(stream: &StreamId, n: u64) -> NewEvent {
    NewEvent {
        stream_id: stream.clone(),
        event_type: "InitiativeFunded".into(),
        schema_version: 1,
        tags: vec![
            format!("initiative:{stream}-{n}"),
            "line:WK020207/2026/groen".into(),
        ],
        payload: json!({
            "id": format!("{stream}-{n:08}"),
            "line": { "wijk": "WK020207", "year": 2026, "theme": "groen" },
            "amount": "1250.00",
            "note": "Moestuin Presikhaaf, fase 2: zaden, gereedschap en een regenton",
        }),
    }
}

fn metadata() -> Metadata {
    Metadata {
        actor: "bench".into(),
        role: "admin".into(),
        request_id: Some("0190f3c2-7a1b-7cde-8f00-123456789abc".into()),
        idempotency_key: None,
        occurred_at: None,
    }
}

/// `events` rows over 50 streams, positions 1, 2, 3, ..., without hashes.
fn rows(events: u64) -> anyhow::Result<Vec<RawEvent>> {
    // Both backends keep microseconds.
    let recorded_at = Utc::now().duration_trunc(TimeDelta::microseconds(1))?;
    let metadata = serde_json::to_string(&metadata())?;
    let mut versions = [0u64; 50];
    (1..=events)
        .map(|position| {
            let s = (position % 50) as usize;
            versions[s] += 1;
            let stream = StreamId::parse(format!("chain-{s}"))?;
            let event = new_event(&stream, versions[s]);
            Ok(RawEvent {
                position,
                stream_id: stream.as_str().to_owned(),
                stream_version: versions[s],
                event_type: event.event_type,
                schema_version: event.schema_version,
                tags: event.tags,
                payload: RawValue::from_string(event.payload.to_string())?,
                metadata: RawValue::from_string(metadata.clone())?,
                recorded_at,
                hash: None,
            })
        })
        .collect()
}

/// The chain over `rows`, in order.
fn hash_all(rows: &[RawEvent]) -> anyhow::Result<Vec<[u8; 32]>> {
    let mut previous: Option<[u8; 32]> = None;
    rows.iter()
        .map(|row| {
            let hash = row.chain_hash(previous.as_ref().map(|h| &h[..]))?;
            previous = Some(hash);
            Ok(hash)
        })
        .collect()
}
