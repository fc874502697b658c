//! PostgreSQL restarted under serving instances. The shared test server is never touched
//! (other tests use it at the same time): this test runs its own PostgreSQL cluster in a
//! temporary directory, on a free port, and stops and removes it when it ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{self, cents, position, Binary, Next, WsClient, KLARENDAL, YEAR};
use crate::{admin_token, overview_at, FUND, OVERVIEW};

/// A private PostgreSQL cluster; stopped (immediately) and removed on drop.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .unwrap_or_else(|| {
                panic!(
                    "this test needs PostgreSQL's server binaries (initdb, pg_ctl) under \
                     /usr/lib/postgresql/*/bin to run a private cluster it may restart; none found"
                )
            });
        let dir = tempfile::tempdir().expect("a temporary directory");
        // initdb refuses to run as root: the cluster belongs to `postgres` then.
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:", &path(dir.path())]));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = PrivatePostgres { dir, bin, port };
        run(&mut cluster.command(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        ));
        cluster.pg_ctl_start();
        cluster
    }

    fn data(&self) -> String {
        path(&self.dir.path().join("data"))
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = path(&self.bin.join(program));
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        command.args(args);
        command
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            path(self.dir.path())
        );
        let log = path(&self.dir.path().join("postgres.log"));
        run(&mut self.command(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        ));
    }

    fn stop(&self, mode: &str) -> bool {
        self.command("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "stop"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Stops the server, closing every connection.
    fn stop_fast(&self) {
        assert!(self.stop("fast"), "pg_ctl stop failed");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn path(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until `/readyz` of `address` says ready (the instance reconnected by itself).
async fn ready(client: &reqwest::Client, address: std::net::SocketAddr) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .get(format!("http://{address}/readyz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if matches!(status, Ok(200)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{address} is not ready 30 s after PostgreSQL came back: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Two instances serve, live subscriptions open; PostgreSQL restarts; the instances
/// recover by themselves, and both the overview subscriptions and the event feed carry on
/// with nothing missed or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_recover_from_a_postgres_restart() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!(
            "skipped instances_recover_from_a_postgres_restart: TEST_DATABASE_URL is not set"
        );
        return;
    }
    let pg = tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .expect("start a private PostgreSQL");
    let url = pg.url();
    let nodes = [
        Binary::serve(&url, &["--submit-per-minute", "0"], &[]).await,
        Binary::serve(&url, &["--submit-per-minute", "0"], &[]).await,
    ];
    let admin = admin_token(&url).await;
    let staff = {
        let output = helpers::wijkpuls()
            .args([
                "token",
                "--role",
                "staff",
                "--gebied",
                "W2",
                "--database-url",
                &url,
            ])
            .output()
            .await
            .expect("run wijkpuls token");
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let client = reqwest::Client::new();
    let data = |node: usize, query: &'static str, variables: Value| {
        let client = client.clone();
        let admin = admin.clone();
        let address = nodes[node % 2].address;
        async move {
            let response =
                helpers::graphql_with(&client, address, query, variables, Some(&admin)).await;
            assert!(response.get("errors").is_none(), "refused: {response}");
            response["data"].clone()
        }
    };

    let mut overviews = Vec::new();
    for node in &nodes {
        let mut ws = WsClient::connect(node.address).await;
        assert!(matches!(ws.init(None).await, helpers::Init::Acknowledged));
        let id = ws.subscribe(OVERVIEW, json!({})).await;
        assert!(matches!(ws.next(&id).await, Next::Data(_)));
        overviews.push((ws, id));
    }
    let mut feed = WsClient::connect(nodes[1].address).await;
    assert!(matches!(
        feed.init(Some(&staff)).await,
        helpers::Init::Acknowledged
    ));
    let feed_id = feed
        .subscribe("subscription { eventFeed { position type } }", json!({}))
        .await;

    data(
        0,
        helpers::ALLOCATE,
        json!({ "input": { "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "9000.00" } }),
    )
    .await;
    let fund_some = |round: usize| {
        let data = &data;
        async move {
            join_all((0..2).map(|node| async move {
                for _ in 0..3 {
                    let submitted = data(
                        node,
                        helpers::SUBMIT,
                        json!({ "input": {
                            "wijkCode": KLARENDAL, "title": format!("Ronde {round}"),
                            "description": "Een buurtidee", "theme": "GROEN",
                            "requestedAmount": "100.00",
                            "initiator": { "name": "Bewoner Testpersoon", "email": "bewoner@example.nl" },
                        } }),
                    )
                    .await;
                    let id = submitted["submitInitiative"]["initiative"]["id"].clone();
                    data(
                        node,
                        FUND,
                        json!({ "input": { "initiativeId": id, "amount": "100.00", "year": YEAR } }),
                    )
                    .await;
                }
            }))
            .await;
        }
    };
    fund_some(1).await;

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop_fast();
        pg
    })
    .await
    .expect("stop PostgreSQL");
    // While the database is gone, readiness says so (it answers; it does not hang).
    for node in &nodes {
        let answer = client
            .get(format!("http://{}/readyz", node.address))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("readiness answers while PostgreSQL is down");
        assert_eq!(
            answer.status().as_u16(),
            503,
            "not ready without a database"
        );
    }
    let pg = tokio::task::spawn_blocking(move || {
        pg.pg_ctl_start();
        pg
    })
    .await
    .expect("start PostgreSQL again");
    for node in &nodes {
        ready(&client, node.address).await;
    }
    fund_some(2).await;

    // The log as the store holds it: the reference for the feed and the overviews.
    let mut logged = Vec::new();
    loop {
        let after = logged.last().cloned().unwrap_or(json!("0"));
        let page = data(
            0,
            "query($after: Position) { events(after: $after, first: 500) { position } }",
            json!({ "after": after }),
        )
        .await["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        logged.extend(page.iter().map(|e| e["position"].clone()));
        if page.len() < 500 {
            break;
        }
    }
    let head = position(logged.last().expect("events were recorded"));

    for (node, (ws, id)) in overviews.iter_mut().enumerate() {
        let overview = overview_at(ws, id, head).await;
        assert_eq!(
            position(&overview["position"]),
            head,
            "instance {node}'s subscriber is at the head"
        );
        assert_eq!(
            cents(&overview["totals"]["committed"]),
            12 * 10_000,
            "instance {node}'s subscriber saw every funding, before and after the restart: {overview}"
        );
    }
    let mut fed = Vec::new();
    while fed.len() < logged.len() {
        match feed.next(&feed_id).await {
            Next::Data(data) => fed.push(data["eventFeed"]["position"].clone()),
            other => panic!("the event feed ended after {} events: {other:?}", fed.len()),
        }
    }
    assert_eq!(
        fed, logged,
        "the feed carries every position of the log exactly once, in order, across the restart"
    );
    drop(nodes);
    drop(pg);
}
