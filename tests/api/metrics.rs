//! `GET /metrics`: the series count what the service did (requests by operation and outcome,
//! latency, appends, refusals, rate-limit hits, WebSocket subscriptions), read back through a
//! strict parser of the OpenMetrics text format; hostile operation names cannot add labels past
//! the cap; and a database that stops answering does not stop `/metrics` from answering.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::*;

backend_tests!(
    the_series_count_what_the_service_did,
    metrics_answer_while_the_database_hangs,
);

/// The operation names the service counts apart (`wijkpuls_api::metrics::MAX_OPERATION_NAMES`).
const MAX_OPERATION_NAMES: usize = wijkpuls_api::metrics::MAX_OPERATION_NAMES;

async fn the_series_count_what_the_service_did(backend: Backend) {
    // One wrong tracking code a minute, so that the second is a rate-limit hit.
    let Some(app) = spawn_app_with(backend, |config| config.code_guesses_per_minute = 1).await
    else {
        return;
    };
    let resident = app.submit(KLARENDAL, "GROEN", "100").await;
    let before = scrape(&app).await;

    // A query, a failing one (validation), one refused for its cost (aliases) before its
    // operation is known, and a mutation (anonymous).
    app.data("query Wijken { wijken { code } }", json!({}), None)
        .await;
    app.refused(
        "GRAPHQL_VALIDATION_FAILED",
        "query Broken { noSuchField }",
        json!({}),
        None,
    )
    .await;
    let aliases: String = (0..101).map(|n| format!(" a{n}: code")).collect();
    app.refused(
        "BAD_USER_INPUT",
        &format!("query Flood {{ wijken {{{aliases} }} }}"),
        json!({}),
        None,
    )
    .await;
    app.submit(KLARENDAL, "SPORT", "50").await;
    // Two wrong tracking codes: the first is answered (null), the second is rate-limited.
    let (id, _) = resident.tracking_code.split_once('.').unwrap();
    let track = "query Track($code: String!) { trackedInitiative(trackingCode: $code) { id } }";
    let wrong = json!({ "code": format!("{id}.wrongAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") });
    app.data(track, wrong.clone(), None).await;
    app.refused("RATE_LIMITED", track, wrong, None).await;
    // A subscription, open while the metrics are read.
    let mut ws = app.ws(None).await;
    let subscription = ws
        .subscribe(
            "subscription Follow($code: ID!) { wijkUpdated(code: $code) { code } }",
            json!({ "code": KLARENDAL }),
        )
        .await;
    ws.data(&subscription).await;
    // A client that names every query differently.
    let hostile = 210;
    for n in 0..hostile {
        app.data(
            &format!("query Hostile{n} {{ __typename }}"),
            json!({}),
            None,
        )
        .await;
    }

    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after
            .value(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in the scrape after:\n{}", after.text))
            - before.value(name, labels).unwrap_or(0.0)
    };
    let requests = "wijkpuls_graphql_requests_total";
    for (operation, outcome) in [
        ("Wijken", "OK"),
        ("Broken", "GRAPHQL_VALIDATION_FAILED"),
        ("unknown", "BAD_USER_INPUT"),
        ("anonymous", "OK"),
        ("Track", "OK"),
        ("Track", "RATE_LIMITED"),
    ] {
        assert_eq!(
            delta(requests, &[("operation", operation), ("outcome", outcome)]),
            1.0,
            "{operation} {outcome}"
        );
    }
    // Three names were seen before the hostile ones: 197 of those get a label, the rest are
    // `other`, and no label names the later ones.
    let own = MAX_OPERATION_NAMES - 3;
    assert_eq!(
        delta(requests, &[("operation", "Hostile0"), ("outcome", "OK")]),
        1.0
    );
    assert_eq!(
        delta(requests, &[("operation", "other"), ("outcome", "OK")]),
        (hostile - own) as f64
    );
    let named: HashSet<&str> = after
        .samples(requests)
        .filter_map(|sample| sample.labels.get("operation").map(String::as_str))
        .filter(|name| !["anonymous", "unknown", "other"].contains(name))
        .collect();
    assert_eq!(named.len(), MAX_OPERATION_NAMES, "{named:?}");
    assert!(named.contains(format!("Hostile{}", own - 1).as_str()));
    assert!(!named.contains(format!("Hostile{own}").as_str()));

    // Latency by kind: the queries (named ones, the failing one, the tracking codes, the
    // hostile ones), the mutation, and the one refused before its kind was known.
    let count = "wijkpuls_graphql_request_duration_seconds_count";
    assert_eq!(delta(count, &[("kind", "query")]), (4 + hostile) as f64);
    assert_eq!(delta(count, &[("kind", "mutation")]), 1.0);
    assert_eq!(delta(count, &[("kind", "unknown")]), 1.0);
    after.check_histograms("wijkpuls_graphql_request_duration_seconds");

    // HTTP by route and status (application/json answers 200 to every GraphQL request).
    let http = "wijkpuls_http_requests_total";
    assert_eq!(
        delta(http, &[("route", "/graphql"), ("status", "200")]),
        (6 + hostile) as f64
    );
    assert_eq!(
        delta(http, &[("route", "/metrics"), ("status", "200")]),
        1.0
    );
    assert_eq!(
        delta(http, &[("route", "/graphql/ws"), ("status", "101")]),
        1.0
    );

    // The mutation's events, the log head and the tailer.
    let head = after.value("wijkpuls_log_head_position", &[]).unwrap();
    let appended = delta("wijkpuls_events_appended_total", &[]);
    assert!(appended >= 1.0);
    assert_eq!(
        appended,
        head - before.value("wijkpuls_log_head_position", &[]).unwrap()
    );
    assert_eq!(after.value("wijkpuls_live_position", &[]), Some(head));
    assert_eq!(after.value("wijkpuls_tailer_lag_events", &[]), Some(0.0));
    assert_eq!(after.value("wijkpuls_tailer_following", &[]), Some(1.0));
    assert_eq!(after.value("wijkpuls_database_answered", &[]), Some(1.0));
    let chain: Vec<&Sample> = after.samples("wijkpuls_chain_head_position").collect();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].value, head);
    assert_eq!(chain[0].labels["hash"].len(), 64);

    // Refusals and rate-limit hits.
    assert_eq!(
        delta("wijkpuls_refusals_total", &[("limit", "aliases")]),
        1.0
    );
    assert_eq!(
        delta(
            "wijkpuls_rate_limit_hits_total",
            &[("limiter", "code_guesses")]
        ),
        1.0
    );
    assert_eq!(delta("wijkpuls_conflicts_total", &[]), 0.0);

    // The WebSocket and its subscription, until it closes.
    assert_eq!(after.value("wijkpuls_ws_connections", &[]), Some(1.0));
    assert_eq!(after.value("wijkpuls_ws_operations", &[]), Some(1.0));
    assert_eq!(
        after.value("wijkpuls_ws_subscriptions", &[("field", "wijkUpdated")]),
        Some(1.0)
    );
    drop(ws);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = scrape(&app).await;
        let open = now.value("wijkpuls_ws_connections", &[]);
        let active = now.value("wijkpuls_ws_subscriptions", &[("field", "wijkUpdated")]);
        if open == Some(0.0) && active == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {open:?} connections, {active:?} subscriptions"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A database that accepts connections but stops answering: `/metrics` still answers within
/// its timeout, with what this instance knows and without the database's series. Only on
/// PostgreSQL (the test stands between the service and the server); on SQLite it does nothing.
async fn metrics_answer_while_the_database_hangs(backend: Backend) {
    if backend.kind == Kind::Sqlite {
        return;
    }
    let Some(db) = backend.database().await else {
        return;
    };
    let db = Arc::new(db);
    let (url, gate) = hangable(db.url()).await;
    let app = start(db.clone(), |config| config.database_url = url).await;
    app.submit(KLARENDAL, "GROEN", "100").await;
    let answering = scrape(&app).await;
    assert_eq!(
        answering.value("wijkpuls_database_answered", &[]),
        Some(1.0)
    );
    let head = answering.value("wijkpuls_log_head_position", &[]).unwrap();

    gate.send_replace(true);
    let started = Instant::now();
    let hanging = scrape(&app).await;
    let took = started.elapsed();
    gate.send_replace(false);
    assert!(took < Duration::from_secs(3), "/metrics took {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "it waited for the database: {took:?}"
    );
    assert_eq!(hanging.value("wijkpuls_database_answered", &[]), Some(0.0));
    assert_eq!(hanging.value("wijkpuls_live_position", &[]), Some(head));
    assert_eq!(hanging.value("wijkpuls_log_head_position", &[]), None);
    assert_eq!(hanging.value("wijkpuls_tailer_lag_events", &[]), None);
    assert_eq!(hanging.samples("wijkpuls_chain_head_position").count(), 0);
    assert!(hanging.value("wijkpuls_ws_connections", &[]).is_some());

    // Once the database answers again, so does everything.
    let deadline = Instant::now() + PATIENCE;
    while scrape(&app).await.value("wijkpuls_database_answered", &[]) != Some(1.0) {
        assert!(Instant::now() < deadline, "the database did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP proxy to the PostgreSQL server of `url`: the URL through it, and a switch that holds
/// every byte in both directions while it is on (connections stay open; nothing is answered).
async fn hangable(url: &str) -> (String, Arc<watch::Sender<bool>>) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').expect("a database name");
    let (user, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    let target: SocketAddr = tokio::net::lookup_host(host)
        .await
        .expect("the database's address")
        .next()
        .expect("an address");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let gate = Arc::new(watch::Sender::new(false));
    let held = gate.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, held.subscribe()));
            tokio::spawn(pump(server_read, client_write, held.subscribe()));
        }
    });
    let user = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    (format!("{scheme}://{user}{address}/{path}"), gate)
}

/// Copies `from` to `to`, holding each chunk while the gate is on.
async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut gate: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if gate.wait_for(|held| !*held).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// `GET /metrics`, parsed.
async fn scrape(app: &TestApp) -> Scrape {
    let response = tokio::time::timeout(PATIENCE, app.client.get(app.url("/metrics")).send())
        .await
        .expect("/metrics answers in time")
        .expect("/metrics answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    Scrape::parse(&response.text().await.unwrap())
}

/// One sample line: the sample's name (with its suffix), labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape in the OpenMetrics text format, parsed strictly: every line is a `# HELP`,
/// `# TYPE` or a sample of the family declared last (with the suffixes its type allows),
/// labels are well-formed and unique, no series twice, and `# EOF` ends it.
struct Scrape {
    text: String,
    /// Family name → type.
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let body = text
            .strip_suffix("# EOF\n")
            .unwrap_or_else(|| panic!("the scrape does not end with # EOF:\n{text}"));
        let mut types = BTreeMap::new();
        let mut helps = HashSet::new();
        let mut current: Option<(String, String)> = None;
        let mut samples = Vec::new();
        let mut series = HashSet::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP has a text");
                assert!(valid_name(name), "{line}");
                assert!(!help.is_empty() && !help.ends_with(".."), "{line}");
                assert!(helps.insert(name.to_owned()), "HELP twice: {line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE has a type");
                assert!(valid_name(name), "{line}");
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind),
                    "unexpected type: {line}"
                );
                assert!(helps.contains(name), "TYPE before HELP: {line}");
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "family declared twice: {line}"
                );
                current = Some((name.to_owned(), kind.to_owned()));
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment: {line}");
            let sample = parse_sample(line);
            let (family, kind) = current
                .as_ref()
                .unwrap_or_else(|| panic!("a sample before any TYPE: {line}"));
            let suffix = sample
                .name
                .strip_prefix(family.as_str())
                .unwrap_or_else(|| panic!("{line} is not of the family {family}"));
            let allowed: &[&str] = match kind.as_str() {
                "counter" => &["_total"],
                "gauge" => &[""],
                _ => &["_bucket", "_sum", "_count"],
            };
            assert!(allowed.contains(&suffix), "{line} in a {kind}");
            assert!(
                (suffix == "_bucket") == sample.labels.contains_key("le"),
                "le only on buckets: {line}"
            );
            assert!(
                series.insert(format!("{}{:?}", sample.name, sample.labels)),
                "the same series twice: {line}"
            );
            samples.push(sample);
        }
        Scrape {
            text: text.to_owned(),
            types,
            samples,
        }
    }

    fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the series `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples(name)
            .find(|sample| sample.labels == labels)
            .map(|sample| sample.value)
    }

    /// Every series of histogram `family`: buckets in increasing order of `le` with counts that
    /// never decrease, ending at `+Inf` with the series' `_count`, and a `_sum`.
    fn check_histograms(&self, family: &str) {
        assert_eq!(
            self.types.get(family).map(String::as_str),
            Some("histogram")
        );
        let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
        for bucket in self.samples(&format!("{family}_bucket")) {
            let mut labels = bucket.labels.clone();
            let le = labels.remove("le").unwrap();
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            series.entry(labels).or_default().push((le, bucket.value));
        }
        assert!(!series.is_empty(), "no buckets of {family}");
        for (labels, buckets) in series {
            for pair in buckets.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{family}{labels:?}: le out of order");
                assert!(
                    pair[0].1 <= pair[1].1,
                    "{family}{labels:?}: count decreases"
                );
            }
            let (le, last) = *buckets.last().unwrap();
            assert_eq!(le, f64::INFINITY, "{family}{labels:?} ends at +Inf");
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(self.value(&format!("{family}_count"), &pairs), Some(last));
            assert!(self.value(&format!("{family}_sum"), &pairs).unwrap() >= 0.0);
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{label="value",...} value`, label values with the format's escapes.
fn parse_sample(line: &str) -> Sample {
    let fail = || -> ! { panic!("not a sample line: {line:?}") };
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| fail());
    let name = &line[..name_end];
    if !valid_name(name) {
        fail();
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            if let Some((i, '}')) = chars.peek().copied() {
                rest = &inner[i + 1..];
                break;
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if !valid_name(&key) || chars.next().map(|(_, c)| c) != Some('"') {
                fail();
            }
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('"') => break,
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        _ => fail(),
                    },
                    Some('\n') | None => fail(),
                    Some(c) => value.push(c),
                }
            }
            if labels.insert(key, value).is_some() {
                fail();
            }
            match chars.peek().copied() {
                Some((_, ',')) => {
                    chars.next();
                }
                Some((_, '}')) => {}
                _ => fail(),
            }
        }
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| fail());
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse().unwrap_or_else(|_| fail()),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}
