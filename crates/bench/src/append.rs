//! `wijkpuls-bench append`: how many events per second the store commits, for 1, 16 and 64
//! concurrent single-event appenders and for 100-event batches, on SQLite and PostgreSQL.
//!
//! Each measurement gets a fresh database (PostgreSQL: a new database, dropped afterwards;
//! SQLite: a new file). Every append is a realistic one: an expected version for the
//! appender's own stream, two tags, a payload of about 200 bytes, default store options (so
//! SQLite commits with `synchronous=FULL`). A short warm-up is not counted.
//!
//! The baseline is PostgreSQL itself, measured in the same run on the same server: `pgbench`
//! with 64 clients, each inserting one row of the same shape per transaction
//! (`bench/pgbench-append.sql`, into a `LIKE events INCLUDING ALL` copy of the log table).
//! Targets: 64 concurrent single-event appends on PostgreSQL at least the baseline; SQLite at
//! least 20,000 single-event appends/s with 64 appenders.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use wijkpuls_event_store::{
    AppendRequest, EventStore, ExpectedVersion, Metadata, NewEvent, StoreOptions, StreamId,
};

pub struct AppendBenchOptions {
    /// A PostgreSQL server on which the benchmark may create databases; without it only SQLite
    /// is measured.
    pub postgres_url: Option<String>,
    /// Where the SQLite databases go (one subdirectory per measurement, removed afterwards).
    pub sqlite_dir: PathBuf,
    /// Measured seconds per scenario (after a warm-up of a fifth of that, at most 1 s).
    pub seconds: f64,
    /// Also run the pgbench baseline (needs `pgbench` on the PATH and a PostgreSQL URL).
    pub pgbench: bool,
}

/// The pgbench script, shipped in the repository and built into the binary.
const PGBENCH_SCRIPT: &str = include_str!("../../../bench/pgbench-append.sql");
/// SQLite's target for 64 concurrent single-event appenders.
const SQLITE_TARGET: f64 = 20_000.0;
const PGBENCH_CLIENTS: u32 = 64;

struct Scenario {
    name: &'static str,
    appenders: usize,
    events_per_append: usize,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        name: "1 appender, 1 event per append",
        appenders: 1,
        events_per_append: 1,
    },
    Scenario {
        name: "16 appenders, 1 event per append",
        appenders: 16,
        events_per_append: 1,
    },
    Scenario {
        name: "64 appenders, 1 event per append",
        appenders: 64,
        events_per_append: 1,
    },
    Scenario {
        name: "16 appenders, 100 events per append",
        appenders: 16,
        events_per_append: 100,
    },
];

struct Row {
    scenario: String,
    backend: &'static str,
    events_per_second: f64,
}

pub async fn run_append(options: AppendBenchOptions) -> anyhow::Result<()> {
    if !(options.seconds > 0.0 && options.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    let seconds = options.seconds;
    let mut rows = Vec::new();
    let mut baseline = None;
    println!("append benchmark: {seconds} s per measurement, a fresh database each");

    // SQLite first: PostgreSQL keeps writing in the background after a measurement
    // (checkpoints, dropped databases), which would land in SQLite's measurements.
    let mut sqlite_rows = Vec::new();
    for scenario in &SCENARIOS {
        let database = TempSqliteDatabase::create(&options.sqlite_dir)?;
        let rate = measure(&database.url, scenario, seconds).await?;
        report(&mut sqlite_rows, scenario.name, "sqlite", rate);
    }

    match &options.postgres_url {
        Some(server) => {
            if options.pgbench {
                let database = TempPgDatabase::create(server).await?;
                let tps = pgbench_baseline(database.url(), seconds).await?;
                report(
                    &mut rows,
                    "pgbench: 64 clients, 1 row per transaction",
                    "postgres",
                    tps,
                );
                baseline = Some(tps);
            }
            for scenario in &SCENARIOS {
                let database = TempPgDatabase::create(server).await?;
                let rate = measure(database.url(), scenario, seconds).await?;
                report(&mut rows, scenario.name, "postgres", rate);
            }
        }
        None => println!("no PostgreSQL URL: PostgreSQL and the pgbench baseline are skipped"),
    }
    rows.append(&mut sqlite_rows);

    println!();
    println!(
        "{:<44} {:<9} {:>10} {:>11}",
        "scenario", "backend", "events/s", "/ pgbench"
    );
    for row in &rows {
        let ratio = baseline.map_or_else(
            || "-".to_owned(),
            |b| format!("{:.2}", row.events_per_second / b),
        );
        println!(
            "{:<44} {:<9} {:>10.0} {:>11}",
            row.scenario, row.backend, row.events_per_second, ratio
        );
    }
    println!();
    let rate_of = |backend: &str| {
        rows.iter()
            .find(|r| r.backend == backend && r.scenario == SCENARIOS[2].name)
            .map(|r| r.events_per_second)
    };
    if let (Some(postgres), Some(baseline)) = (rate_of("postgres"), baseline) {
        let verdict = if postgres >= baseline {
            "met"
        } else {
            "MISSED"
        };
        println!("target PostgreSQL, 64 appenders >= pgbench ({baseline:.0}/s): {postgres:.0}/s, {verdict}");
    }
    if let Some(sqlite) = rate_of("sqlite") {
        let verdict = if sqlite >= SQLITE_TARGET {
            "met"
        } else {
            "MISSED"
        };
        println!("target SQLite, 64 appenders >= {SQLITE_TARGET:.0}/s: {sqlite:.0}/s, {verdict}");
    }
    Ok(())
}

fn report(rows: &mut Vec<Row>, scenario: &str, backend: &'static str, events_per_second: f64) {
    println!("  {scenario:<44} {backend:<9} {events_per_second:>10.0} events/s");
    rows.push(Row {
        scenario: scenario.to_owned(),
        backend,
        events_per_second,
    });
}

/// Single-event appends per second by 64 concurrent appenders on the store at `url`: the
/// store's own rate, the baseline for mutations on SQLite.
pub(crate) async fn sixty_four_appenders(url: &str, seconds: f64) -> anyhow::Result<f64> {
    measure(url, &SCENARIOS[2], seconds).await
}

/// Events per second committed by `scenario.appenders` concurrent appenders, each appending
/// `scenario.events_per_append` events at a time to a stream of its own.
async fn measure(url: &str, scenario: &Scenario, seconds: f64) -> anyhow::Result<f64> {
    let store = EventStore::open(url, StoreOptions::default())
        .await
        .with_context(|| format!("open the store at {url}"))?;
    let events = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let appenders: Vec<_> = (0..scenario.appenders)
        .map(|appender| {
            let (store, events, stop) = (store.clone(), events.clone(), stop.clone());
            let per_append = scenario.events_per_append;
            tokio::spawn(async move {
                let stream = StreamId::parse(format!("bench-{appender}"))?;
                let mut version = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let request = append_request(&stream, appender, version, per_append)?;
                    store.append(request).await?;
                    version += per_append as u64;
                    events.fetch_add(per_append as u64, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs_f64((seconds / 5.0).min(1.0))).await;
    let (start_count, start) = (events.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (end_count, elapsed) = (events.load(Ordering::Relaxed), start.elapsed());
    stop.store(true, Ordering::Relaxed);
    for appender in appenders {
        appender.await.context("an appender panicked")??;
    }
    // Wait until the store has closed its files, so that its last writes (SQLite's final
    // checkpoint) do not run into the next measurement.
    if !store.close().await {
        bail!("the benchmark's store still had other handles open");
    }
    Ok((end_count - start_count) as f64 / elapsed.as_secs_f64())
}

fn append_request(
    stream: &StreamId,
    appender: usize,
    version: u64,
    events: usize,
) -> anyhow::Result<AppendRequest> {
    let events = (0..events as u64)
        .map(|i| NewEvent {
            stream_id: stream.clone(),
            event_type: "BudgetReserved".into(),
            schema_version: 1,
            tags: vec!["bench:append".into(), format!("client:{appender}")],
            payload: json!({
                "initiative": format!("WK020207-bench-{:06}", version + i),
                "amount_cents": 125_000,
                "n": version + i,
                "note": "Moestuin Presikhaaf, fase 2: zaden, gereedschap en een regenton",
            }),
        })
        .collect();
    Ok(AppendRequest {
        events,
        expected_versions: vec![(stream.clone(), ExpectedVersion::Exactly(version))],
        condition: None,
        idempotency_key: None,
        keys: Vec::new(),
        metadata: Metadata {
            actor: "bench".into(),
            role: "bench".into(),
            request_id: None,
            idempotency_key: None,
            occurred_at: None,
        },
    })
}

/// pgbench's transactions per second with 64 clients, each inserting one event-shaped row per
/// transaction (`bench/pgbench-append.sql`), into a copy of the store's `events` table in the
/// database at `url` (migrated first if need be; the copy is dropped afterwards).
pub async fn pgbench_baseline(url: &str, seconds: f64) -> anyhow::Result<f64> {
    // The store's migrations define `events`; the copy takes its columns, keys and indexes.
    drop(EventStore::open(url, StoreOptions::default()).await?);
    let mut conn = PgConnection::connect(url).await?;
    for statement in [
        "DROP TABLE IF EXISTS pgbench_events",
        "DROP SEQUENCE IF EXISTS pgbench_events_position",
        "CREATE TABLE pgbench_events (LIKE events INCLUDING ALL)",
        "CREATE SEQUENCE pgbench_events_position",
    ] {
        sqlx::query(statement).execute(&mut conn).await?;
    }
    let script = std::env::temp_dir().join(format!(
        "wijkpuls-pgbench-append-{}.sql",
        std::process::id()
    ));
    std::fs::write(&script, PGBENCH_SCRIPT)?;
    let output = tokio::process::Command::new("pgbench")
        .arg("-n")
        .args(["-c", &PGBENCH_CLIENTS.to_string(), "-j", "2"])
        .args(["-T", &(seconds.ceil() as u64).max(1).to_string()])
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .await;
    let _ = std::fs::remove_file(&script);
    let output = output.context("run pgbench (is it installed and on the PATH?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for statement in [
        "DROP TABLE pgbench_events",
        "DROP SEQUENCE pgbench_events_position",
    ] {
        sqlx::query(statement).execute(&mut conn).await?;
    }
    let _ = conn.close().await;
    parse_tps(&stdout).with_context(|| format!("no tps in pgbench's output:\n{stdout}"))
}

/// The `tps = N (without initial connection time)` of pgbench's report.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tps = "))
        .find(|rest| rest.contains("without initial connection time"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// A PostgreSQL database that exists for one measurement: created on `server`, dropped (with
/// any connections still open to it) when this is dropped.
pub struct TempPgDatabase {
    server: String,
    name: String,
    url: String,
}

impl TempPgDatabase {
    pub async fn create(server: &str) -> anyhow::Result<TempPgDatabase> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "wijkpuls_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(server)
            .await
            .with_context(|| format!("connect to PostgreSQL at {server}"))?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .context("create a database for the benchmark")?;
        let _ = conn.close().await;
        let url = with_database(server, &name);
        Ok(TempPgDatabase {
            server: server.to_owned(),
            name,
            url,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TempPgDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside the runtime: use a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                let _ = conn.close().await;
                anyhow::Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                eprintln!("could not drop benchmark database {}: {error:#}", self.name)
            }
            Err(_) => eprintln!(
                "could not drop benchmark database {}: the thread panicked",
                self.name
            ),
        }
    }
}

/// `url` with its database name replaced by `database` (other parts, query included, kept).
fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (head, rest) = url.split_at(authority_start);
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(path_start);
    let query = rest.find('?').map_or("", |i| &rest[i..]);
    format!("{head}{authority}/{database}{query}")
}

/// A SQLite database file in a directory of its own under the benchmark's directory.
struct TempSqliteDatabase {
    dir: PathBuf,
    url: String,
}

impl TempSqliteDatabase {
    fn create(parent: &Path) -> anyhow::Result<TempSqliteDatabase> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = parent.join(format!(
            "wijkpuls-bench-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let url = format!("sqlite://{}", dir.join("events.db").display());
        Ok(TempSqliteDatabase { dir, url })
    }
}

impl Drop for TempSqliteDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_of_a_url() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/b",
            ),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/b?sslmode=disable",
            ),
            ("postgresql://h:5432", "postgresql://h:5432/b"),
            (
                "postgres://h?sslmode=disable",
                "postgres://h/b?sslmode=disable",
            ),
            (
                "postgres:///db?host=/run/postgresql",
                "postgres:///b?host=/run/postgresql",
            ),
        ] {
            assert_eq!(with_database(url, "b"), expected, "{url}");
        }
    }

    #[test]
    fn reads_pgbench_tps() {
        let output = "number of transactions actually processed: 80000\n\
                      latency average = 7.9 ms\n\
                      initial connection time = 40.1 ms\n\
                      tps = 8034.567890 (without initial connection time)\n";
        assert_eq!(parse_tps(output), Some(8034.56789));
        assert_eq!(parse_tps("pgbench: error"), None);
    }
}
