//! `wijkpuls-bench graphql`: what the service costs per request.
//!
//! 1. Reads: requests/s for `{ __typename }` (GraphQL itself: parsing, validation, HTTP) and for
//!    a wijk's budget from the live state, on the same server in the same run, alternating in
//!    rounds so both see the same machine. The ratio says what live state adds.
//! 2. Writes: `submitInitiative` mutations/s with 64 concurrent clients — on SQLite next to the
//!    store's own rate with 64 appenders, on PostgreSQL next to the pgbench baseline of the
//!    append benchmark — each measured in the same run.
//!
//! The load comes from this process, on its own runtime threads; the server runs on another
//! runtime, so neither starves the other's scheduler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wijkpuls_api::auth::Role;
use wijkpuls_api::{Application, Config};

pub struct GraphqlBenchOptions {
    /// A PostgreSQL server for the write benchmark and its baseline (skipped without).
    pub postgres_url: Option<String>,
    pub seconds: f64,
    pub connections: usize,
}

/// One submission, with its initiator's personal data (sealed under a key of its own).
const SUBMIT: &str = r#"{"query":"mutation { submitInitiative(input: { wijkCode: \"WK020207\", title: \"Bankjes bij de speeltuin\", description: \"Drie bankjes\", theme: SPEELTUINEN, requestedAmount: \"1250.00\", initiator: { name: \"Bench Mark\", email: \"bench@example.nl\" } }) { initiative { id } } }"}"#;
const TYPENAME: &str = r#"{"query":"{ __typename }"}"#;
const WIJK_BUDGET: &str = r#"{"query":"{ wijk(code: \"WK020207\") { budget { allocated committed spent remaining } } }"}"#;

pub async fn run_graphql(options: GraphqlBenchOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let server = Server::start(&url, true).await?;
    println!(
        "GraphQL reads: {} connections, {} s per round, 3 rounds each",
        options.connections, options.seconds
    );
    let (mut typename, mut budget) = (0.0, 0.0);
    for _ in 0..3 {
        typename += load(
            &server.endpoint,
            None,
            TYPENAME,
            options.connections,
            options.seconds,
        )
        .await?;
        budget += load(
            &server.endpoint,
            None,
            WIJK_BUDGET,
            options.connections,
            options.seconds,
        )
        .await?;
    }
    let (typename, budget) = (typename / 3.0, budget / 3.0);
    println!("{:<58} {:>12}", "query", "requests/s");
    println!("{:<58} {:>12.0}", "{ __typename }", typename);
    println!(
        "{:<58} {:>12.0}",
        "wijk(code){ budget{ allocated committed spent remaining } }", budget
    );
    println!(
        "ratio wijk budget / __typename: {:.2} (target ≥ 0.8)",
        budget / typename
    );
    server.stop();

    // Writes on SQLite: the same mutations next to the store's own 64-appender rate.
    let writes_url = format!("sqlite://{}", dir.path().join("writes.db").display());
    let server = Server::start(&writes_url, false).await?;
    let token = server.admin_token.clone();
    let mutations = load(&server.endpoint, Some(&token), SUBMIT, 64, options.seconds).await?;
    server.stop();
    let appends_url = format!("sqlite://{}", dir.path().join("appends.db").display());
    let appends = crate::append::sixty_four_appenders(&appends_url, options.seconds).await?;
    println!("{:<58} {:>12}", "SQLite, 64 connections", "per second");
    println!("{:<58} {:>12.0}", "submitInitiative mutations", mutations);
    println!(
        "{:<58} {:>12.0}",
        "the store's 64 appenders, 1 event per append", appends
    );
    println!(
        "ratio mutations / store appends: {:.2}",
        mutations / appends
    );

    let Some(postgres) = options.postgres_url else {
        println!("no --postgres-url: skipped the PostgreSQL mutation benchmark");
        return Ok(());
    };
    let database = crate::append::TempPgDatabase::create(&postgres).await?;
    let server = Server::start(database.url(), false).await?;
    let token = server.admin_token.clone();
    let mutations = load(&server.endpoint, Some(&token), SUBMIT, 64, options.seconds).await?;
    server.stop();
    let baseline = crate::append::pgbench_baseline(database.url(), options.seconds).await?;
    println!("{:<58} {:>12}", "PostgreSQL, 64 connections", "per second");
    println!("{:<58} {:>12.0}", "submitInitiative mutations", mutations);
    println!(
        "{:<58} {:>12.0}",
        "pgbench baseline (64 clients, one insert per transaction)", baseline
    );
    println!(
        "ratio mutations / pgbench: {:.2} (target ≥ 0.5)",
        mutations / baseline
    );
    drop(database);
    Ok(())
}

pub(super) struct Server {
    pub(super) endpoint: String,
    admin_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub(super) async fn start(database_url: &str, demo: bool) -> anyhow::Result<Server> {
        let mut config = Config::new(database_url);
        config.listen = "127.0.0.1:0".into();
        config.demo = demo;
        config.submit_per_minute = 0;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a server runtime");
            runtime.block_on(async move {
                match Application::build(config).await {
                    Ok(app) => {
                        let address = app.local_addr();
                        let token = app.state().tokens.issue(
                            Role::Admin,
                            "bench",
                            &[],
                            Duration::from_secs(3600),
                        );
                        let _ = ready_tx.send(Ok((address, token)));
                        let _ = app
                            .run_until(async move {
                                let _ = stop_rx.await;
                            })
                            .await;
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                    }
                }
            });
        });
        let (address, admin_token) = ready_rx.await.context("the server thread died")??;
        Ok(Server {
            endpoint: format!("http://{address}/graphql"),
            admin_token,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub(super) fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Requests/s of `connections` clients posting `body` for `seconds`; fails on any error answer.
async fn load(
    endpoint: &str,
    token: Option<&str>,
    body: &'static str,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, done) = (client.clone(), done.clone());
        let endpoint = endpoint.to_owned();
        let auth = token.map(|t| format!("Bearer {t}"));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut request = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .header(
                        "accept",
                        "application/graphql-response+json, application/json",
                    )
                    .body(body);
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                let response = request.send().await?;
                let status = response.status();
                let text = response.text().await?;
                if !status.is_success() || text.contains("\"errors\"") {
                    anyhow::bail!("the server answered {status}: {text}");
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
