//! Durability (guarantee 7): an append that returned Ok survives a kill -9 of the process.
//!
//! The test runs its own test binary again as a child (`child_appends_until_killed`, ignored
//! unless `CHILD_URL` is set, so it does nothing in a normal run), which appends from several
//! tasks and prints each acknowledged append. The parent kills it with SIGKILL mid-stream,
//! reopens the store and looks for every acknowledged event. Works under `cargo test` and
//! `cargo nextest run` alike: both binaries take libtest's `--exact`, `--ignored` and
//! `--nocapture`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{EventStore, Position, StoreOptions};

use crate::common::{all_events, append_of, event, open};

backend_tests!(acknowledged_appends_survive_sigkill);

/// Set for the child: the database it appends to.
const CHILD_URL: &str = "WIJKPULS_EVENT_STORE_DURABILITY_CHILD_URL";
const CHILD_TEST: &str = "durability::child_appends_until_killed";
const APPENDERS: u64 = 4;
const ACKS_BEFORE_KILL: usize = 200;

/// One acknowledged append as the child reports it: `acked FIRST LAST APPENDER N`.
struct Ack {
    first: u64,
    last: u64,
    appender: u64,
    n: u64,
}

#[test]
#[ignore = "the child process of durability::*::acknowledged_appends_survive_sigkill"]
fn child_appends_until_killed() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = EventStore::open(&url, StoreOptions::default())
            .await
            .unwrap();
        let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel();
        for appender in 0..APPENDERS {
            let (store, acks) = (store.clone(), acks.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    // 1 to 3 events per append, so batches mix appends of several events.
                    let events = (0..=n % 3)
                        .map(|i| {
                            let payload = json!({ "appender": appender, "n": n, "i": i });
                            event(&format!("appender-{appender}"), "Noted", &[], payload)
                        })
                        .collect();
                    let outcome = store.append(append_of(events)).await.unwrap();
                    let ack = Ack {
                        first: outcome.first_position.0,
                        last: outcome.last_position.0,
                        appender,
                        n,
                    };
                    if acks.send(ack).is_err() {
                        return;
                    }
                }
            });
        }
        drop(acks);
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        while let Some(ack) = acked.recv().await {
            writeln!(
                stdout,
                "acked {} {} {} {}",
                ack.first, ack.last, ack.appender, ack.n
            )
            .unwrap();
            stdout.flush().unwrap();
        }
    });
}

fn parse_ack(line: &str) -> Option<Ack> {
    // libtest's "test NAME ... " has no line break of its own, so it may precede the first ack.
    let (_, ack) = line.split_once("acked ")?;
    let mut fields = ack.split(' ').map(|f| f.parse::<u64>());
    let mut next = || fields.next()?.ok();
    Some(Ack {
        first: next()?,
        last: next()?,
        appender: next()?,
        n: next()?,
    })
}

async fn acknowledged_appends_survive_sigkill(db: TestDatabase) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            CHILD_TEST,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_URL, db.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the child test process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while acks.len() < ACKS_BEFORE_KILL {
            let line = lines.next_line().await.expect("read the child's output");
            let line = line.expect("the child stopped before it was killed");
            acks.extend(parse_ack(&line));
        }
    })
    .await;
    read.expect("the child acknowledged 200 appends within 60 s");

    // SIGKILL, mid-stream: the child is appending from four tasks as it dies.
    child.kill().await.expect("kill the child");
    let status = child.wait().await.unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was killed, not ended: {status}"
    );
    // Anything the child printed after the acks we counted was acknowledged too.
    while let Ok(Some(line)) = lines.next_line().await {
        acks.extend(parse_ack(&line));
    }

    let store = open(&db).await;
    let log = all_events(&store).await;
    assert!(log
        .iter()
        .enumerate()
        .all(|(i, e)| e.position == Position(i as u64 + 1)));
    for ack in &acks {
        for (i, position) in (ack.first..=ack.last).enumerate() {
            let event = log
                .get(position as usize - 1)
                .unwrap_or_else(|| panic!("acknowledged event {position} is gone"));
            assert_eq!(
                event.payload,
                json!({ "appender": ack.appender, "n": ack.n, "i": i }),
                "event {position}"
            );
        }
    }
    // Nothing was acknowledged twice or out of order within an appender.
    for appender in 0..APPENDERS {
        let ns: Vec<u64> = acks
            .iter()
            .filter(|a| a.appender == appender)
            .map(|a| a.n)
            .collect();
        assert_eq!(ns, (0..ns.len() as u64).collect::<Vec<_>>());
    }
}
