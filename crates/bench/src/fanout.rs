//! `wijkpuls-bench fanout`: what live screens cost one server.
//!
//! Starts the `wijkpuls` binary as a separate process (so its RSS is the server's alone),
//! opens N graphql-transport-ws subscribers to `cityOverviewUpdated` from this process (one
//! tokio runtime, no thread per socket), then funds initiatives one after another over HTTP.
//! For each funding it measures the delay from the mutation's HTTP response to the update's
//! arrival at every subscriber (matched by the committed total, which every funding raises
//! by the same amount), counts subscribers that never saw the final state, and reads the
//! server's RSS with no subscribers, with N idle subscribers and a few seconds after they
//! all left.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub struct FanoutBenchOptions {
    pub subscribers: usize,
    pub fundings: usize,
    /// Run the server on a fresh database of this PostgreSQL server instead of SQLite.
    pub postgres_url: Option<String>,
    /// The `wijkpuls` binary to serve with.
    pub server: PathBuf,
}

/// What one run measured; the CI-sized test asserts on `missed_final`.
#[derive(Debug)]
pub struct FanoutReport {
    pub subscribers: usize,
    /// Subscribers that never got their first overview (connection or init failed).
    pub not_connected: usize,
    /// Subscribers whose last overview is not the final state.
    pub missed_final: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub rss_empty_kib: u64,
    pub rss_idle_kib: u64,
    pub rss_after_kib: u64,
    /// CPU time (user + system) the server spent during the fundings, per subscriber and
    /// funding: what one delivered update costs it, much steadier than the delays on a shared
    /// machine.
    pub server_cpu_per_update: Duration,
    /// The same for this process, the subscribers' side.
    pub client_cpu_per_update: Duration,
}

const OVERVIEW: &str =
    "subscription { cityOverviewUpdated { year position totals { committed remaining } } }";
const WIJK: &str = "WK020207";
/// Every funding is this many cents, so the k-th raises the committed total to k × this.
const FUNDING_CENTS: i64 = 10_000;
/// Each subscriber's read buffer: room for several overviews (about 200 bytes each).
const READ_BUFFER: usize = 4 * 1024;
/// How long a funding may take to reach every subscriber before the bench moves on (the
/// stragglers then count as late or missing, not as a hang).
const SETTLE: Duration = Duration::from_secs(20);

pub async fn run_fanout(options: FanoutBenchOptions) -> anyhow::Result<FanoutReport> {
    raise_open_file_limit(options.subscribers);
    let dir = tempfile::tempdir()?;
    let pg_database = match &options.postgres_url {
        Some(server) => Some(crate::append::TempPgDatabase::create(server).await?),
        None => None,
    };
    let database_url = match &pg_database {
        Some(db) => db.url().to_owned(),
        None => format!("sqlite://{}", dir.path().join("fanout.db").display()),
    };
    let exe = options.server.clone();
    let admin = admin_token(&exe, &database_url).await?;
    let server = Server::start(&exe, &database_url).await?;
    let http = reqwest::Client::new();
    let endpoint = format!("http://{}/graphql", server.address);

    graphql(
        &http,
        &endpoint,
        &admin,
        "mutation($input: AllocateBudgetInput!) { allocateBudget(input: $input) { year } }",
        json!({ "input": { "wijkCode": WIJK, "year": 2026, "theme": "GROEN",
            "amount": cents_text(FUNDING_CENTS * options.fundings as i64 * 2) } }),
    )
    .await?;
    let mut initiatives = Vec::new();
    for i in 0..options.fundings {
        let data = graphql(
            &http,
            &endpoint,
            &admin,
            "mutation($input: SubmitInitiativeInput!) { submitInitiative(input: $input) { initiative { id } } }",
            json!({ "input": { "wijkCode": WIJK, "title": format!("Bankje {i}"),
                "description": "Een bankje", "theme": "GROEN",
                "requestedAmount": cents_text(FUNDING_CENTS),
                "initiator": { "name": "Bench Mark", "email": "bench@example.nl" } } }),
        )
        .await?;
        initiatives.push(data["submitInitiative"]["initiative"]["id"].clone());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_empty_kib = rss_kib(server.pid)?;

    // Subscribers: each records (committed cents, arrival) per update; `arrived[k]` counts
    // those that have seen funding k, so the driver knows when a funding has reached all.
    let n = options.subscribers;
    let arrived: Arc<Vec<AtomicUsize>> = Arc::new(
        (0..=options.fundings)
            .map(|_| AtomicUsize::new(0))
            .collect(),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let address = server.address;
        let arrived = arrived.clone();
        let connecting = connecting.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            subscriber(address, arrived, connecting, &mut stop).await
        }));
    }
    let started = Instant::now();
    while arrived[0].load(Ordering::Relaxed) < n && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = arrived[0].load(Ordering::Relaxed);
    println!(
        "{connected} of {n} subscribers have their first overview after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_kib = rss_kib(server.pid)?;

    let mut responded = Vec::new();
    let (server_cpu_before, client_cpu_before) =
        (cpu_time(server.pid)?, cpu_time(std::process::id())?);
    for (k, id) in initiatives.iter().enumerate() {
        graphql(
            &http,
            &endpoint,
            &admin,
            "mutation($input: FundInitiativeInput!) { fundInitiative(input: $input) { id } }",
            json!({ "input": { "initiativeId": id, "amount": cents_text(FUNDING_CENTS), "year": 2026 } }),
        )
        .await?;
        responded.push(Instant::now());
        let waiting = Instant::now();
        while arrived[k + 1].load(Ordering::Relaxed) < connected && waiting.elapsed() < SETTLE {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let updates = (connected * options.fundings).max(1) as u32;
    let server_cpu_per_update = cpu_time(server.pid)?.saturating_sub(server_cpu_before) / updates;
    let client_cpu_per_update =
        cpu_time(std::process::id())?.saturating_sub(client_cpu_before) / updates;
    // Stragglers get a moment more before the final state is judged.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);

    let final_cents = FUNDING_CENTS * options.fundings as i64;
    let (mut delays, mut missed_final) = (Vec::new(), 0usize);
    for task in tasks {
        let seen = task.await.unwrap_or_default();
        if seen.last().map(|(c, _)| *c) != Some(final_cents) {
            missed_final += 1;
        }
        for (committed, at) in seen {
            let k = (committed / FUNDING_CENTS) as usize;
            if committed % FUNDING_CENTS == 0 && (1..=responded.len()).contains(&k) {
                delays.push(at.saturating_duration_since(responded[k - 1]));
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_after_kib = rss_kib(server.pid)?;
    server.stop().await;
    drop(pg_database);

    delays.sort();
    let pick = |q: f64| {
        delays
            .get(((delays.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    let report = FanoutReport {
        subscribers: n,
        not_connected: n - connected,
        missed_final,
        p50: pick(0.50),
        p99: pick(0.99),
        max: delays.last().copied().unwrap_or_default(),
        rss_empty_kib,
        rss_idle_kib,
        rss_after_kib,
        server_cpu_per_update,
        client_cpu_per_update,
    };
    print_report(&report, options.fundings, delays.len());
    Ok(report)
}

fn print_report(r: &FanoutReport, fundings: usize, deliveries: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let per = r.rss_idle_kib.saturating_sub(r.rss_empty_kib) as f64 / r.subscribers.max(1) as f64;
    println!(
        "fan-out: {} subscribers, {fundings} fundings, {deliveries} deliveries measured",
        r.subscribers
    );
    println!(
        "delay mutation response → subscriber: p50 {:.1} ms, p99 {:.1} ms (target ≤ 100 ms), max {:.1} ms",
        ms(r.p50),
        ms(r.p99),
        ms(r.max)
    );
    println!(
        "subscribers that missed the final state: {} (target 0); never connected: {}",
        r.missed_final, r.not_connected
    );
    println!(
        "server RSS: {} KiB at 0 subscribers, {} KiB at {} idle, {} KiB after they left",
        r.rss_empty_kib, r.rss_idle_kib, r.subscribers, r.rss_after_kib
    );
    println!("memory per subscriber: {per:.1} KiB (target ≤ 16 KiB)");
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "CPU per subscriber and funding: server {:.1} µs, bench client {:.1} µs",
        us(r.server_cpu_per_update),
        us(r.client_cpu_per_update)
    );
}

/// One subscriber; returns every (committed cents, arrival) it saw.
async fn subscriber(
    address: std::net::SocketAddr,
    arrived: Arc<Vec<AtomicUsize>>,
    connecting: Arc<tokio::sync::Semaphore>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Vec<(i64, Instant)> {
    let mut seen = Vec::new();
    let mut socket = {
        let _permit = connecting.acquire().await;
        let Ok(mut request) = format!("ws://{address}/graphql/ws").into_client_request() else {
            return seen;
        };
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        // tungstenite zeroes its whole read buffer (128 KiB by default) before every read:
        // at thousands of sockets that, not the server, would be what the bench measures.
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
            Ok((socket, _)) => socket,
            Err(_) => return seen,
        }
    };
    let hello = [
        json!({ "type": "connection_init", "payload": {} }),
        json!({ "id": "1", "type": "subscribe", "payload": { "query": OVERVIEW } }),
    ];
    for message in hello {
        if socket
            .send(Message::text(message.to_string()))
            .await
            .is_err()
        {
            return seen;
        }
    }
    let mut first = true;
    // One wait for the end, not a new one (and a new waiter on a channel shared by every
    // subscriber) per message.
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        let frame = tokio::select! {
            _ = &mut stopped => break,
            frame = socket.next() => frame,
        };
        let Some(Ok(frame)) = frame else { break };
        let Message::Text(text) = frame else { continue };
        let at = Instant::now();
        // Thousands of these share the server's cores: find the committed total by a byte
        // search in the server's own layout instead of parsing the whole message.
        let text = text.as_str();
        let Some(cents) = committed_cents(text) else {
            if text.contains(r#""type":"ping""#) {
                let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            continue;
        };
        if first {
            first = false;
            arrived[0].fetch_add(1, Ordering::Relaxed);
        }
        if cents > 0 && cents % FUNDING_CENTS == 0 {
            if let Some(count) = arrived.get((cents / FUNDING_CENTS) as usize) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        seen.push((cents, at));
    }
    let _ = socket.send(Message::Close(None)).await;
    seen
}

/// The committed total of a `next` message (`{"type":"next",…"committed":"123.00"…}`).
fn committed_cents(message: &str) -> Option<i64> {
    const COMMITTED: &str = r#""committed":""#;
    if !message.starts_with(r#"{"type":"next""#) {
        return None;
    }
    let start = message.find(COMMITTED)? + COMMITTED.len();
    let end = start + message[start..].find('"')?;
    parse_cents(&message[start..end])
}

fn parse_cents(text: &str) -> Option<i64> {
    let (euros, cents) = text.split_once('.')?;
    Some(euros.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

fn cents_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

pub(crate) async fn graphql(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let response: Value = client
        .post(endpoint)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    if let Some(errors) = response.get("errors") {
        bail!("the server refused {query}: {errors}");
    }
    Ok(response["data"].clone())
}

pub(crate) async fn admin_token(exe: &PathBuf, database_url: &str) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(exe)
        .args(["token", "--role", "admin", "--database-url", database_url])
        .env_remove("DATABASE_URL")
        .output()
        .await?;
    if !output.status.success() {
        bail!(
            "wijkpuls token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// The server's resident set size, from /proc.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("read the server's /proc status (Linux only)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc status")
}

/// The CPU time (user + system) a process has used so far, from /proc (in clock ticks, so
/// only sums over many updates mean something).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .context("read the /proc stat (Linux only)")?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th fields of the line, the 12th and 13th after it.
    let rest = stat
        .rsplit_once(')')
        .context("no command name in /proc stat")?
        .1;
    let mut fields = rest.split_whitespace().skip(11);
    let mut ticks =
        || -> anyhow::Result<u64> { Ok(fields.next().context("a short /proc stat")?.parse()?) };
    let ticks = ticks()? + ticks()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// Every subscriber is a socket here and one in the server (a child, which inherits the
/// limit), so each process needs N descriptors and some: raise the soft limit towards the
/// hard one.
fn raise_open_file_limit(subscribers: usize) {
    let wanted = subscribers as libc::rlim_t + 1024;
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < wanted {
            limit.rlim_cur = limit.rlim_max.min(wanted);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        if limit.rlim_cur < wanted {
            eprintln!(
                "warning: open-file limit {} is below the {wanted} that {subscribers} subscribers need",
                limit.rlim_cur
            );
        }
    }
}

/// `wijkpuls serve` as a child process; killed if dropped without `stop`.
pub(crate) struct Server {
    child: tokio::process::Child,
    pid: u32,
    pub(crate) address: std::net::SocketAddr,
}

impl Server {
    pub(crate) async fn start(exe: &PathBuf, database_url: &str) -> anyhow::Result<Server> {
        let mut child = tokio::process::Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(database_url)
            .args(["--submit-per-minute", "0"])
            // Every subscriber comes from 127.0.0.1: lift the per-address WebSocket cap.
            .args(["--ws-max-per-address", "0"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("start wijkpuls serve")?;
        let pid = child.id().context("the server has a pid")?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let line = plain(&line);
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on http://".len()..];
                    if let Ok(address) = rest.split_whitespace().next().unwrap_or("").parse() {
                        return Some(address);
                    }
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("wijkpuls serve never said where it listens")?;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            pid,
            address,
        })
    }

    pub(crate) async fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A log line without terminal colour sequences.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
