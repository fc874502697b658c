//! Tests with real processes: the built `wijkpuls` binary, several instances on one
//! PostgreSQL database. They prove what only holds across processes: that concurrent
//! decisions on one budget line are queued rather than refused, and that every instance's
//! live view converges on what a fresh replay of the log says.
//!
//! Without `TEST_DATABASE_URL` each test says it was skipped and passes, as the other
//! PostgreSQL tests do. Each test makes its own database and drops it; the servers are
//! child processes killed when their guard drops, also when a test panics.

#[macro_use]
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../api/helpers.rs"]
mod helpers;
mod postgres_restart;

use std::net::SocketAddr;

use futures::future::join_all;
use helpers::{cents, graphql_with, line_of, Binary, Next, WsClient, KLARENDAL, SONSBEEK, YEAR};
use serde_json::{json, Value};
use wijkpuls_event_store::testing::TestDatabase;

/// Initiatives funded at once in the race.
const CONTENDERS: usize = 200;
/// How many of them fit the line: the line holds `FITS` fundings of `FUNDING` and a half.
const FITS: usize = 37;
const FUNDING: &str = "100.00";
const LINE: &str = "3750.00";

const FUND: &str = "mutation($input: FundInitiativeInput!) {
    fundInitiative(input: $input) { id status fundedAmount } }";
const OVERVIEW: &str =
    "subscription { cityOverviewUpdated { year position totals { committed remaining } } }";

/// `wijkpuls serve` instances on one database; killed on drop.
struct Cluster {
    nodes: Vec<Binary>,
    admin: String,
    client: reqwest::Client,
}

impl Cluster {
    async fn start(database_url: &str, instances: usize) -> Cluster {
        let mut nodes = Vec::new();
        for _ in 0..instances {
            // Hundreds of submissions come from one test address: no rate limit here.
            nodes.push(Binary::serve(database_url, &["--submit-per-minute", "0"], &[]).await);
        }
        Cluster {
            nodes,
            admin: admin_token(database_url).await,
            client: reqwest::Client::new(),
        }
    }

    fn address(&self, i: usize) -> SocketAddr {
        self.nodes[i % self.nodes.len()].address
    }

    async fn graphql(&self, node: usize, query: &str, variables: Value) -> Value {
        graphql_with(
            &self.client,
            self.address(node),
            query,
            variables,
            Some(&self.admin),
        )
        .await
    }

    async fn data(&self, node: usize, query: &str, variables: Value) -> Value {
        let response = self.graphql(node, query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "{query} was refused: {response}"
        );
        response["data"].clone()
    }

    async fn allocate(&self, wijk: &str, theme: &str, amount: &str) {
        self.data(
            0,
            helpers::ALLOCATE,
            json!({ "input": { "wijkCode": wijk, "year": YEAR, "theme": theme, "amount": amount } }),
        )
        .await;
    }

    async fn submit(&self, node: usize, wijk: &str, theme: &str, amount: &str) -> String {
        let data = self
            .data(
                node,
                helpers::SUBMIT,
                json!({ "input": {
                    "wijkCode": wijk,
                    "title": format!("Initiatief {theme} in {wijk}"),
                    "description": "Een buurtidee",
                    "theme": theme,
                    "requestedAmount": amount,
                    "initiator": { "name": "Bewoner Testpersoon", "email": "bewoner@example.nl" },
                } }),
            )
            .await;
        data["submitInitiative"]["initiative"]["id"]
            .as_str()
            .expect("an initiative id")
            .to_owned()
    }

    /// One line of `wijk`'s budget as `node` sees it.
    async fn line(&self, node: usize, wijk: &str, theme: &str) -> Value {
        let data = self
            .data(
                node,
                &format!(
                    "query($code: ID!, $year: Int) {{ wijk(code: $code) {{ budget(year: $year) {{ {} }} }} }}",
                    helpers::BUDGET_FIELDS
                ),
                json!({ "code": wijk, "year": YEAR }),
            )
            .await;
        line_of(&data["wijk"]["budget"], theme)
    }

    /// Every event type in the log, oldest first (the admin feed, paged by 500).
    async fn event_types(&self) -> Vec<String> {
        self.events().await.0
    }

    /// The log's last position (read from the store, not from any instance's state).
    async fn head(&self) -> u64 {
        self.events().await.1
    }

    async fn events(&self) -> (Vec<String>, u64) {
        let mut types = Vec::new();
        let mut after = json!("0");
        loop {
            let data = self
                .data(
                    0,
                    "query($after: Position) { events(after: $after, first: 500) { position type } }",
                    json!({ "after": after }),
                )
                .await;
            let page = data["events"].as_array().cloned().unwrap_or_default();
            if let Some(last) = page.last() {
                after = last["position"].clone();
            }
            types.extend(
                page.iter()
                    .map(|e| e["type"].as_str().unwrap_or("").to_owned()),
            );
            if page.len() < 500 {
                return (types, helpers::position(&after));
            }
        }
    }
}

/// `wijkpuls token --role admin` on the same database, as an operator would get one.
async fn admin_token(database_url: &str) -> String {
    let output = helpers::wijkpuls()
        .args(["token", "--role", "admin", "--database-url", database_url])
        .output()
        .await
        .expect("run wijkpuls token");
    assert!(
        output.status.success(),
        "wijkpuls token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a token is text")
        .trim()
        .to_owned()
}

/// 200 fundings at once on a line that fits 37, spread round-robin over `instances`
/// servers: exactly 37 succeed, every other one is `BUDGET_EXCEEDED` (a funding that fits
/// must never fail because others were deciding at the same moment), and the line and the
/// log agree with the answers.
async fn race(test: &str, instances: usize) {
    let Some(db) = TestDatabase::postgres(test).await else {
        return;
    };
    let cluster = Cluster::start(db.url(), instances).await;
    cluster.allocate(KLARENDAL, "GROEN", LINE).await;
    let mut ids = Vec::new();
    for chunk in (0..CONTENDERS).collect::<Vec<_>>().chunks(25) {
        ids.extend(
            join_all(
                chunk
                    .iter()
                    .map(|&i| cluster.submit(i, KLARENDAL, "GROEN", FUNDING)),
            )
            .await,
        );
    }

    let answers = join_all(ids.iter().enumerate().map(|(i, id)| {
        cluster.graphql(
            i,
            FUND,
            json!({ "input": { "initiativeId": id, "amount": FUNDING, "year": YEAR } }),
        )
    }))
    .await;

    let mut funded = 0usize;
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    for answer in &answers {
        match answer["errors"].as_array() {
            None => {
                assert_eq!(
                    answer["data"]["fundInitiative"]["status"], "FUNDED",
                    "{answer}"
                );
                funded += 1;
            }
            Some(errors) => {
                let code = errors[0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("(no code)")
                    .to_owned();
                *codes.entry(code).or_default() += 1;
            }
        }
    }
    assert_eq!(
        (funded, codes.get("BUDGET_EXCEEDED").copied().unwrap_or(0)),
        (FITS, CONTENDERS - FITS),
        "on {instances} server(s): {funded} funded, refusals by code: {codes:?}"
    );

    let line = cluster.line(0, KLARENDAL, "GROEN").await;
    assert_eq!(
        cents(&line["committed"]),
        FITS as i64 * cents(&json!(FUNDING)),
        "the line's committed is the sum of the fundings that succeeded: {line}"
    );
    let funding_events = cluster
        .event_types()
        .await
        .iter()
        .filter(|t| *t == "InitiativeFunded")
        .count();
    assert_eq!(funding_events, FITS, "the log holds one event per success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_on_one_server() {
    race("cluster::race_on_one_server", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_over_two_servers() {
    race("cluster::race_over_two_servers", 2).await;
}

/// Reads `id`'s messages until one carries `position` (or later); that message's data.
async fn overview_at(ws: &mut WsClient, id: &str, position: u64) -> Value {
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no overview at position {position} in time"
        );
        match ws.next(id).await {
            Next::Data(data) => {
                let overview = data["cityOverviewUpdated"].clone();
                if helpers::position(&overview["position"]) >= position {
                    return overview;
                }
            }
            other => panic!("the subscription ended: {other:?}"),
        }
    }
}

/// Three instances, a `cityOverviewUpdated` subscriber on each, mutations spread over all
/// three: every subscriber ends with the same overview, and that is what a fourth instance
/// started afterwards (a fresh replay of the log) answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_converge_on_the_replayed_state() {
    let Some(db) = TestDatabase::postgres("cluster::three_instances").await else {
        return;
    };
    let cluster = Cluster::start(db.url(), 3).await;
    let mut subscribers = Vec::new();
    for node in 0..3 {
        let mut ws = WsClient::connect(cluster.address(node)).await;
        match ws.init(None).await {
            helpers::Init::Acknowledged => {}
            other => panic!("connection_init was not acknowledged: {other:?}"),
        }
        let id = ws.subscribe(OVERVIEW, json!({})).await;
        let Next::Data(_) = ws.next(&id).await else {
            panic!("no first overview")
        };
        subscribers.push((ws, id));
    }

    for (wijk, theme) in [
        (KLARENDAL, "GROEN"),
        (SONSBEEK, "SPORT"),
        (KLARENDAL, "CULTUUR"),
    ] {
        cluster.allocate(wijk, theme, "5000.00").await;
    }
    // One task per line, each funding one after another and round the instances: the
    // mutations interleave over all three servers without racing on one line (that is
    // the race tests' subject).
    let lines = [
        (KLARENDAL, "GROEN"),
        (SONSBEEK, "SPORT"),
        (KLARENDAL, "CULTUUR"),
    ];
    join_all(lines.iter().enumerate().map(|(l, (wijk, theme))| {
        let cluster = &cluster;
        async move {
            for i in 0..10 {
                let node = l + i;
                let id = cluster.submit(node, wijk, theme, "150.00").await;
                cluster
                    .data(
                        node,
                        FUND,
                        json!({ "input": { "initiativeId": id, "amount": "150.00", "year": YEAR } }),
                    )
                    .await;
            }
        }
    }))
    .await;

    let last = cluster.head().await;
    let mut finals = Vec::new();
    for (ws, id) in &mut subscribers {
        finals.push(overview_at(ws, id, last).await);
    }
    let fresh = Binary::serve(db.url(), &[], &[]).await;
    // It may still be replaying when it starts listening: ask until it is at the head.
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    let replayed = loop {
        let overview = graphql_with(
            &cluster.client,
            fresh.address,
            "{ cityOverview { year position totals { committed remaining } } }",
            json!({}),
            None,
        )
        .await["data"]["cityOverview"]
            .clone();
        if helpers::position(&overview["position"]) >= last {
            break overview;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fresh instance never reached position {last}: {overview}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        cents(&replayed["totals"]["committed"]),
        30 * 15_000,
        "the replay holds every funding: {replayed}"
    );
    for (node, overview) in finals.iter().enumerate() {
        assert_eq!(
            overview, &replayed,
            "instance {node}'s subscriber ends where a fresh replay of the log is"
        );
    }
}

/// The fan-out benchmark at CI size (200 subscribers, 5 fundings, SQLite) against the built
/// binary: every subscriber connects and ends with the final state. Its timings are printed,
/// never asserted: they belong to the full-size run.
#[tokio::test(flavor = "multi_thread")]
async fn fanout_bench_at_ci_size_misses_no_final_state() {
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        wijkpuls_bench::fanout::run_fanout(wijkpuls_bench::fanout::FanoutBenchOptions {
            subscribers: 200,
            fundings: 5,
            postgres_url: None,
            server: env!("CARGO_BIN_EXE_wijkpuls").into(),
        }),
    )
    .await
    .expect("the bench finishes within 2 minutes")
    .expect("the bench runs");
    println!("{report:?}");
    assert_eq!(
        (report.not_connected, report.missed_final),
        (0, 0),
        "every subscriber connects and sees the final state: {report:?}"
    );
}
