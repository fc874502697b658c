//! `wijkpuls-bench contention`: what one hot budget line costs.
//!
//! 64 clients fund initiatives on one budget line, next to the same clients funding over
//! 192 lines (8 themes × 24 wijken), against one `wijkpuls serve` on a fresh PostgreSQL
//! database, in the same run. Decisions on one line must be taken one after another; the
//! ratio says how much that costs, and the CONFLICT count says how many valid fundings
//! were refused instead of queued. The line is allocated far beyond what the run can
//! spend, so no funding is refused for lack of budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{json, Value};
use wijkpuls_domain::Theme;

use crate::fanout::{admin_token, graphql, Server};

pub struct ContentionBenchOptions {
    pub postgres_url: String,
    pub seconds: f64,
    pub clients: usize,
    /// The `wijkpuls` binary to serve with.
    pub server: std::path::PathBuf,
}

/// Initiatives ready per client: more than a client can fund in a run of a few seconds
/// (a funding refused with CONFLICT goes back to the pool).
const POOL_PER_CLIENT: usize = 100;

struct Outcome {
    per_second: f64,
    funded: usize,
    conflicts: usize,
    other: usize,
}

pub async fn run_contention(options: ContentionBenchOptions) -> anyhow::Result<()> {
    let database = crate::append::TempPgDatabase::create(&options.postgres_url).await?;
    let exe = options.server.clone();
    let admin = admin_token(&exe, database.url()).await?;
    let server = Server::start(&exe, database.url()).await?;
    let http = reqwest::Client::new();
    let endpoint = format!("http://{}/graphql", server.address);

    let wijken: Vec<String> = graphql(&http, &endpoint, &admin, "{ wijken { code } }", json!({}))
        .await?["wijken"]
        .as_array()
        .context("wijken")?
        .iter()
        .filter_map(|w| w["code"].as_str().map(str::to_owned))
        .take(24)
        .collect();
    // The themes by their GraphQL names (the domain's names in capitals).
    let themes: Vec<String> = Theme::ALL
        .iter()
        .map(|t| t.as_str().to_uppercase())
        .collect();
    let spread: Vec<(String, String)> = wijken
        .iter()
        .flat_map(|w| themes.iter().map(move |t| (w.clone(), t.clone())))
        .collect();
    let hot = vec![(wijken[0].clone(), themes[0].clone())];
    let pool = options.clients * POOL_PER_CLIENT;

    println!(
        "contention: {} clients, {} s per phase, PostgreSQL; preparing {pool} initiatives per phase",
        options.clients, options.seconds
    );
    let hot_outcome = phase(&http, &endpoint, &admin, &hot, pool, &options).await?;
    let spread_outcome = phase(&http, &endpoint, &admin, &spread, pool, &options).await?;
    server.stop().await;
    drop(database);

    println!(
        "{:<40} {:>12} {:>8} {:>10} {:>7}",
        "", "fundings/s", "funded", "CONFLICT", "other"
    );
    for (name, o) in [
        ("one hot line", &hot_outcome),
        (
            &*format!("spread over {} lines", spread.len()),
            &spread_outcome,
        ),
    ] {
        println!(
            "{:<40} {:>12.0} {:>8} {:>10} {:>7}",
            name, o.per_second, o.funded, o.conflicts, o.other
        );
    }
    println!(
        "ratio hot / spread: {:.2}; CONFLICT answers: {} (target: none on one server)",
        hot_outcome.per_second / spread_outcome.per_second,
        hot_outcome.conflicts + spread_outcome.conflicts
    );
    Ok(())
}

/// Allocates `lines`, submits `pool` initiatives round them, then lets the clients fund
/// from the pool for the run's seconds (or until the pool is empty).
async fn phase(
    http: &reqwest::Client,
    endpoint: &str,
    admin: &str,
    lines: &[(String, String)],
    pool: usize,
    options: &ContentionBenchOptions,
) -> anyhow::Result<Outcome> {
    for (wijk, theme) in lines {
        graphql(
            http,
            endpoint,
            admin,
            "mutation($input: AllocateBudgetInput!) { allocateBudget(input: $input) { year } }",
            json!({ "input": { "wijkCode": wijk, "year": 2026, "theme": theme, "amount": "1000000.00" } }),
        )
        .await?;
    }
    let ids = Arc::new(Mutex::new(Vec::with_capacity(pool)));
    let next = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for _ in 0..options.clients {
        let (http, endpoint, admin) = (http.clone(), endpoint.to_owned(), admin.to_owned());
        let (ids, next) = (ids.clone(), next.clone());
        let lines: Vec<(String, String)> = lines
            .iter()
            .map(|(w, t)| (w.clone(), (*t).to_owned()))
            .collect();
        submitters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pool {
                    return anyhow::Ok(());
                }
                let (wijk, theme) = &lines[i % lines.len()];
                let data = graphql(
                    &http,
                    &endpoint,
                    &admin,
                    "mutation($input: SubmitInitiativeInput!) { submitInitiative(input: $input) { initiative { id } } }",
                    json!({ "input": { "wijkCode": wijk, "title": format!("Idee {i}"),
                        "description": "Een idee", "theme": theme, "requestedAmount": "10.00",
                        "initiator": { "name": "Bench Mark", "email": "bench@example.nl" } } }),
                )
                .await?;
                ids.lock()
                    .unwrap()
                    .push(data["submitInitiative"]["initiative"]["id"].clone());
            }
        }));
    }
    for s in submitters {
        s.await??;
    }

    let funded = Arc::new(AtomicUsize::new(0));
    let conflicts = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(options.seconds);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        let (http, endpoint, admin) = (http.clone(), endpoint.to_owned(), admin.to_owned());
        let (ids, funded, conflicts, other) = (
            ids.clone(),
            funded.clone(),
            conflicts.clone(),
            other.clone(),
        );
        clients.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let Some(id) = ids.lock().unwrap().pop() else {
                    return;
                };
                let response: Option<Value> = async {
                    http.post(&endpoint)
                        .bearer_auth(&admin)
                        .json(&json!({
                            "query": "mutation($input: FundInitiativeInput!) { fundInitiative(input: $input) { id } }",
                            "variables": { "input": { "initiativeId": id, "amount": "10.00", "year": 2026 } },
                        }))
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()
                }
                .await;
                let code = response.as_ref().map(|r| {
                    r["errors"][0]["extensions"]["code"]
                        .as_str()
                        .map(str::to_owned)
                });
                match code {
                    Some(None) => funded.fetch_add(1, Ordering::Relaxed),
                    Some(Some(code)) if code == "CONFLICT" => {
                        // A client told CONFLICT tries again, as a real one would.
                        ids.lock().unwrap().push(id);
                        conflicts.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for c in clients {
        c.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if ids.lock().unwrap().is_empty() {
        eprintln!("warning: the pool of initiatives ran out before the phase's time was up");
    }
    let funded = funded.load(Ordering::Relaxed);
    Ok(Outcome {
        per_second: funded as f64 / elapsed,
        funded,
        conflicts: conflicts.load(Ordering::Relaxed),
        other: other.load(Ordering::Relaxed),
    })
}
