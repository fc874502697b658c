//! `wijkpuls-bench abuse`: what an attack costs the service, and what it costs everyone else.
//!
//! The real service runs in-process on a demo-filled SQLite store (its own runtime threads). For
//! each attack an attacker sends it from a few connections at once for a fixed time, while a
//! bystander asks `/healthz` one request after another. Reported per attack: how long a refusal
//! took (p50/p99), and `/healthz` latency during the attack next to `/healthz` latency with no
//! attack, measured first in the same run (the baseline), as ratios.
//!
//! All traffic goes to 127.0.0.1 and is bounded in time.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{json, Value};

use super::graphql::Server;

pub struct AbuseBenchOptions {
    /// Seconds per measurement (the baseline and each attack).
    pub seconds: f64,
    /// Concurrent attacking connections.
    pub attackers: usize,
}

/// One attack: a request body, and what its refusal's message must contain.
struct Attack {
    name: &'static str,
    body: String,
    refusal: &'static str,
}

fn attacks() -> Vec<Attack> {
    let mut bomb = String::from("fragment G0 on Wijk { code name }\n");
    for level in 1..=24 {
        let below = level - 1;
        bomb.push_str(&format!(
            "fragment G{level} on Wijk {{ ...G{below} ...G{below} }}\n"
        ));
    }
    bomb.push_str("query { wijken { ...G24 } }");

    let mut flood = String::from("query {");
    for alias in 0..3_300 {
        flood.push_str(&format!(
            " a{alias}: initiatives(first: 100) {{ nodes {{ description history {{ summary }} }} }}"
        ));
    }
    flood.push('}');

    let aliases: String = (0..40)
        .map(|alias| format!(" a{alias}: initiatives(filter: {{ text: $t }}) {{ totalCount }}"))
        .collect();
    let filter = format!("query($t: String) {{{aliases} }}");

    vec![
        Attack {
            name: "fragment bomb (24 levels, 1 KB)",
            body: json!({ "query": bomb }).to_string(),
            refusal: "fragments expanded",
        },
        Attack {
            name: "alias flood (3,300 pages of 100)",
            body: json!({ "query": flood }).to_string(),
            refusal: "limit of",
        },
        Attack {
            name: "text filter (100,000 words, 40 aliases)",
            body: json!({ "query": filter, "variables": { "t": "a ".repeat(100_000) } })
                .to_string(),
            refusal: "filter.text must be at most",
        },
    ]
}

pub async fn run_abuse(options: AbuseBenchOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let server = Server::start(&url, true).await?;
    let base = server
        .endpoint
        .strip_suffix("/graphql")
        .context("the endpoint ends in /graphql")?
        .to_owned();
    let healthz = format!("{base}/healthz");
    let duration = Duration::from_secs_f64(options.seconds);
    println!(
        "abuse: {} attacking connections, {} s per attack; /healthz asked one request after another",
        options.attackers, options.seconds
    );

    let mut baseline = probe(&healthz, duration).await?;
    let (base_p50, base_p99) = (
        percentile(&mut baseline, 0.5),
        percentile(&mut baseline, 0.99),
    );
    println!(
        "baseline /healthz, no attack: p50 {} p99 {} ({} requests)",
        ms(base_p50),
        ms(base_p99),
        baseline.len()
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "attack", "refused", "refusal", "refusal", "healthz", "healthz", "p99 /"
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "", "requests", "p50", "p99", "p50", "p99", "baseline"
    );
    for attack in attacks() {
        let deadline = Instant::now() + duration;
        let attack = std::sync::Arc::new(attack);
        let attackers: Vec<_> = (0..options.attackers)
            .map(|_| {
                let (endpoint, attack) = (server.endpoint.clone(), attack.clone());
                tokio::spawn(async move { attack_until(&endpoint, &attack, deadline).await })
            })
            .collect();
        let health = probe(&healthz, duration).await;
        let mut refusals: Vec<Duration> = Vec::new();
        for attacker in attackers {
            refusals.extend(attacker.await??);
        }
        let mut health = health?;
        let (health_p50, health_p99) =
            (percentile(&mut health, 0.5), percentile(&mut health, 0.99));
        println!(
            "{:<42} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.2}",
            attack.name,
            refusals.len(),
            ms(percentile(&mut refusals, 0.5)),
            ms(percentile(&mut refusals, 0.99)),
            ms(health_p50),
            ms(health_p99),
            health_p99.as_secs_f64() / base_p99.as_secs_f64().max(1e-6),
        );
    }
    println!(
        "target: every attack refused within 100 ms (p99), /healthz p99 under 50 ms during it"
    );
    server.stop();
    Ok(())
}

/// `/healthz` latencies, one request after another, for `duration`.
async fn probe(url: &str, duration: Duration) -> anyhow::Result<Vec<Duration>> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + duration;
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = client.get(url).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "/healthz answered {}",
            response.status()
        );
        response.bytes().await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

/// Sends `attack` again and again until `deadline`; how long each refusal took. Fails when one
/// is not refused as expected.
async fn attack_until(
    endpoint: &str,
    attack: &Attack,
    deadline: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = client
            .post(endpoint)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(attack.body.clone())
            .send()
            .await?;
        let body: Value = response.json().await?;
        latencies.push(started.elapsed());
        let error = &body["errors"][0];
        anyhow::ensure!(
            error["extensions"]["code"] == "BAD_USER_INPUT"
                && error["message"]
                    .as_str()
                    .is_some_and(|message| message.contains(attack.refusal)),
            "{} was not refused as expected: {}",
            attack.name,
            error
        );
    }
    Ok(latencies)
}

fn percentile(samples: &mut [Duration], quantile: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let index = ((samples.len() - 1) as f64 * quantile).round() as usize;
    samples[index]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
