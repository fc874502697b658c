//! `wijkpuls-bench asof`: time travel on a large log.
//!
//! 1. Writes a realistic log of about `events` events into a fresh SQLite store: the demo
//!    generator's years from 2000 on, several seeds a year merged in time order, each step
//!    decided on the state so far (steps the budget no longer allows are left out), appended in
//!    batches dated by their last step.
//! 2. Starts the service on it (replay, snapshots) and times, one request at a time, a wijk's
//!    budget and counts now (the baseline) and `asOf` distinct moments spread over the log
//!    (each folded from the nearest checkpoint of the places), then the same moments again
//!    (remembered).
//! 3. For a few of the moments, folds the whole log up to the moment (what `asOf` would cost
//!    without snapshots) and checks that the service answered the same budget and counts.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wijkpuls_api::codec;
use wijkpuls_domain::demo::{demo_year, DatedStep};
use wijkpuls_domain::{commands, CityState, Command, Recorded, ReferenceData, WijkCode};
use wijkpuls_event_store::{AppendRequest, EventStore, Metadata, Position, StoreOptions};

use crate::graphql::Server;

pub struct AsOfBenchOptions {
    /// About how many events the log gets.
    pub events: usize,
    /// Distinct moments asked.
    pub moments: usize,
}

const WIJK: &str = "WK020207";
/// Events appended together (one moment each batch).
const BATCH: usize = 500;
const QUERY: &str = "query($code: ID!, $year: Int, $asOf: DateTime) { wijk(code: $code, asOf: $asOf) {
    name budget(year: $year) { allocated committed spent remaining } initiativeCounts { submitted connected funded completed total } } }";

pub async fn run_asof(options: AsOfBenchOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("asof.db").display());
    let started = Instant::now();
    let (count, first, last) = generate(&url, options.events).await?;
    println!(
        "log: {count} events from {first} to {last}, written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let before = rss_mib();
    let server = Server::start(&url, false).await?;
    println!(
        "service started (replay and snapshots) in {:.1} s; this process grew from {before:.0} to {:.0} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
    let client = reqwest::Client::new();
    let span = (last - first).num_seconds().max(1);
    let moments: Vec<DateTime<Utc>> = (1..=options.moments)
        .map(|i| first + chrono::Duration::seconds(span * i as i64 / (options.moments as i64 + 1)))
        .collect();
    let year_of = |t: &DateTime<Utc>| chrono::Datelike::year(t);

    // Warm up the connection and the server.
    ask(&client, &server.endpoint, None, 2026).await?;
    let mut now = Vec::new();
    for _ in 0..options.moments {
        let (took, _) = ask(&client, &server.endpoint, None, 2026).await?;
        now.push(took);
    }
    let mut cold = Vec::new();
    let mut answers = Vec::new();
    for moment in &moments {
        let (took, answer) = ask(&client, &server.endpoint, Some(*moment), year_of(moment)).await?;
        cold.push(took);
        answers.push(answer);
    }
    let mut warm = Vec::new();
    for moment in moments.iter().rev().take(3) {
        let (took, _) = ask(&client, &server.endpoint, Some(*moment), year_of(moment)).await?;
        warm.push(took);
    }
    server.stop();

    // Without snapshots: fold the log from the start up to the moment.
    let store = EventStore::open(&url, StoreOptions::default()).await?;
    let mut full = Vec::new();
    let checked: Vec<usize> = vec![0, moments.len() / 2, moments.len() - 1];
    for &i in &checked {
        let started = Instant::now();
        let state = fold_until(&store, moments[i]).await?;
        full.push(started.elapsed());
        check(&state, &answers[i], year_of(&moments[i]))
            .with_context(|| format!("asOf {} differs from the full fold", moments[i]))?;
    }
    store.close().await;

    let now_median = median(&now);
    println!(
        "{:<52} {:>10} {:>10} {:>8}",
        "query (one at a time)", "median", "max", "ratio"
    );
    let row = |name: &str, times: &[Duration]| {
        println!(
            "{:<52} {:>7.1} ms {:>7.1} ms {:>7.1}x",
            name,
            ms(median(times)),
            ms(*times.iter().max().unwrap()),
            ms(median(times)) / ms(now_median).max(0.001)
        );
    };
    row("wijk now (baseline)", &now);
    row(
        &format!(
            "wijk asOf, {} distinct moments (from a snapshot)",
            moments.len()
        ),
        &cold,
    );
    row("wijk asOf, a moment asked before (remembered)", &warm);
    row(
        "full fold of the log up to the moment (no snapshots)",
        &full,
    );
    println!(
        "checked: the service's asOf answers equal the full fold at {} moments",
        checked.len()
    );
    Ok(())
}

/// This process's resident memory (Linux; 0 elsewhere), in MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

async fn ask(
    client: &reqwest::Client,
    endpoint: &str,
    as_of: Option<DateTime<Utc>>,
    year: i32,
) -> anyhow::Result<(Duration, Value)> {
    let body =
        json!({ "query": QUERY, "variables": { "code": WIJK, "year": year, "asOf": as_of } });
    let started = Instant::now();
    let response: Value = client
        .post(endpoint)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let took = started.elapsed();
    if response.get("errors").is_some() {
        anyhow::bail!("the service refused: {response}");
    }
    Ok((took, response["data"]["wijk"].clone()))
}

/// The state at `time` by folding the log from its start.
async fn fold_until(store: &EventStore, time: DateTime<Utc>) -> anyhow::Result<CityState> {
    let mut state = CityState::new();
    let mut after = 0;
    'fold: loop {
        let records = store.read_batch(Position(after), 2000).await?;
        if records.is_empty() {
            break;
        }
        for record in &records {
            let recorded = codec::to_recorded(record)?;
            if recorded.recorded_at > time {
                break 'fold;
            }
            after = recorded.position;
            state.apply(&recorded);
        }
    }
    Ok(state)
}

/// The service's answer is the full fold's budget and counts.
fn check(state: &CityState, answer: &Value, year: i32) -> anyhow::Result<()> {
    let code = WijkCode::parse(WIJK)?;
    if state.wijk(&code).is_none() {
        anyhow::ensure!(answer.is_null(), "the service shows a wijk: {answer}");
        return Ok(());
    }
    let budget = state.wijk_budget(&code, year).totals;
    let counts = state.wijk_counts(&code);
    use wijkpuls_domain::InitiativeStatus as S;
    let expected = json!({
        "allocated": budget.allocated.to_string(),
        "committed": budget.committed.to_string(),
        "spent": budget.spent.to_string(),
        "remaining": budget.remaining().to_string(),
    });
    anyhow::ensure!(
        answer["budget"] == expected,
        "budget {} != {expected}",
        answer["budget"]
    );
    let expected = json!({
        "submitted": counts.get(S::Submitted), "connected": counts.get(S::Connected),
        "funded": counts.get(S::Funded), "completed": counts.get(S::Completed),
        "total": counts.total(),
    });
    anyhow::ensure!(
        answer["initiativeCounts"] == expected,
        "counts {} != {expected}",
        answer["initiativeCounts"]
    );
    Ok(())
}

/// Writes about `events` events; returns how many, and the first and last moment.
async fn generate(
    url: &str,
    events: usize,
) -> anyhow::Result<(usize, DateTime<Utc>, DateTime<Utc>)> {
    let store = EventStore::open(url, StoreOptions::default()).await?;
    let mut state = CityState::new();
    let mut log = Log {
        store: &store,
        pending: Vec::new(),
        at: None,
        count: 0,
        first: None,
    };
    // Before the first demo year.
    let start = DateTime::parse_from_rfc3339("1999-12-01T00:00:00Z")?.to_utc();
    log.record(
        &mut state,
        Command::RegisterReferenceData(ReferenceData::arnhem()),
        start,
    )
    .await?;
    let until = Utc::now() - chrono::Duration::hours(1);
    let current = chrono::Datelike::year(&until);
    // Seeds a year, so that the years from 2000 to now hold about `events`.
    let per_seed_year = 1_000;
    let years = (current - 2000 + 1) as usize;
    let seeds = events.div_ceil(per_seed_year * years).max(1) as u64;
    'years: for year in 2000..=current {
        let mut steps: Vec<DatedStep> = Vec::new();
        for seed in 0..seeds {
            steps.extend(demo_year(year, 7919 * seed + 1, until)?);
        }
        steps.sort_by_key(|s| s.at);
        for DatedStep { at, step } in steps {
            let command = step.into_command(|_, _, _| {
                (
                    wijkpuls_domain::SealedInitiator {
                        key_id: "bench".into(),
                        ciphertext: "bench".into(),
                    },
                    "0".repeat(64),
                )
            });
            log.record(&mut state, command, at).await?;
            if log.count + log.pending.len() >= events {
                break 'years;
            }
        }
    }
    log.flush().await?;
    let last = state.as_of().unwrap_or(start);
    let (count, first) = (log.count, log.first.unwrap_or(start));
    store.close().await;
    Ok((count, first, last))
}

/// Decided events waiting to be appended in one batch, dated by the last one's moment.
struct Log<'a> {
    store: &'a EventStore,
    pending: Vec<wijkpuls_domain::DomainEvent>,
    at: Option<DateTime<Utc>>,
    count: usize,
    first: Option<DateTime<Utc>>,
}

impl Log<'_> {
    async fn record(
        &mut self,
        state: &mut CityState,
        command: Command,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        // A step the merged seeds' budgets no longer allow is left out, with what follows
        // from it (those are refused too).
        let decision = match commands::decide(state, command) {
            Ok(decision) => decision,
            Err(error) => {
                if std::env::var_os("ASOF_DEBUG").is_some() {
                    eprintln!("left out: {error}");
                }
                return Ok(());
            }
        };
        for event in decision.events {
            let position = state.position() + 1;
            state.apply(&Recorded {
                position,
                recorded_at: at,
                event: event.clone(),
            });
            self.pending.push(event);
        }
        self.at = Some(at);
        self.first.get_or_insert(at);
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let events = self
            .pending
            .drain(..)
            .map(|e| codec::to_new_event(&e))
            .collect::<Result<Vec<_>, _>>()?;
        self.count += events.len();
        self.store
            .append(AppendRequest {
                events,
                expected_versions: Vec::new(),
                condition: None,
                idempotency_key: None,
                keys: Vec::new(),
                metadata: Metadata {
                    actor: "bench".into(),
                    role: "system".into(),
                    request_id: None,
                    idempotency_key: None,
                    occurred_at: self.at,
                },
            })
            .await?;
        Ok(())
    }
}
