//! Snapshots of the live state stored beside the log: a server started from one, with events
//! after it, answers exactly what a server that folded the whole log answers; a snapshot of
//! another fold version, or a damaged one, is never trusted (the log is folded again and a good
//! snapshot stored in its place); with snapshots disabled none is read or written.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use wijkpuls_api::snapshot::{SnapshotOptions, VERSION};

use crate::helpers::*;
use crate::ops::succeeds;
use wijkpuls_event_store::testing::TestDatabase;

backend_tests!(
    a_server_started_from_a_snapshot_answers_what_a_full_replay_answers,
    a_snapshot_of_another_version_or_damaged_is_not_trusted,
    a_snapshot_missing_a_chunk_is_not_trusted_and_replaced,
    disabled_snapshots_are_neither_read_nor_written,
    the_past_agrees_with_itself_after_a_start_from_a_snapshot,
);

/// Events generated before the first start; the snapshot is stored every [`EVERY`] events.
const EVENTS: usize = 2_500;
const EVERY: u64 = 1_000;

fn every(config: &mut wijkpuls_api::app::Config) {
    config.snapshots = SnapshotOptions {
        enabled: true,
        every: EVERY,
    };
}

/// A fresh database holding a generated log of [`EVENTS`] events, and its URL.
async fn generated(backend: Backend) -> Option<(Arc<TestDatabase>, String)> {
    generated_with(backend, EVENTS).await
}

/// A fresh database holding a generated log of `events` events, and its URL.
async fn generated_with(backend: Backend, events: usize) -> Option<(Arc<TestDatabase>, String)> {
    let db = backend.database().await?;
    let url = db.url().to_owned();
    succeeds(&[
        "generate",
        "--events",
        &events.to_string(),
        "--database-url",
        &url,
    ])
    .await;
    Some((Arc::new(db), url))
}

/// Waits until the store holds a snapshot of this code's version at `position` or later.
async fn snapshot_stored(app: &TestApp, position: u64) -> u64 {
    for _ in 0..200 {
        let snapshots = app.state.service.store.snapshots().await.unwrap();
        if let Some(s) = snapshots
            .iter()
            .find(|s| s.fold_version == VERSION && s.position >= position)
        {
            return s.position;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no snapshot at or after position {position} was stored");
}

/// What a dashboard, a resident and staff ask: every part of the state the fold keeps.
async fn answers(app: &TestApp, moment: &str) -> Vec<Value> {
    let year = chrono::Utc::now().format("%Y").to_string();
    let year: i64 = year.parse().unwrap();
    let queries = [
        "{ cityOverview { initiativeCounts { submitted connected funded completed rejected \
           withdrawn referred total } totals { allocated committed spent remaining } \
           recentEvents(first: 50) { position summary } } }",
        "{ wijken { code name budgetYears initiativeCounts { total funded } } }",
        "{ gebieden { code name team { email phone } wijken { code } } }",
        "{ initiatives(first: 50, orderBy: { field: UPDATED_AT, direction: DESC }) { totalCount \
           edges { cursor node { id title status theme requestedAmount fundedAmount \
           spentAmount returnedAmount submittedAt updatedAt connections { __typename } \
           history { kind summary status occurredAt } } } } }",
        "{ similarInitiatives(title: \"Speeltuin opknappen\", first: 5) { score initiative { id } } }",
        "{ workList(first: 30) { totalCount edges { node { waitingFor since initiative { id } } } } }",
    ];
    let mut out = Vec::new();
    for query in queries {
        out.push(app.graphql(query, json!({}), Some(&app.admin_token)).await);
    }
    for (asof, query) in [
        (
            moment,
            "query($at: DateTime!) { cityOverview(asOf: $at) { initiativeCounts { total funded } \
             totals { committed } } wijk(code: \"WK020201\", asOf: $at) { budget { allocated \
             committed spent } } }",
        ),
        (
            "",
            "query($year: Int!) { trends(year: $year) { months { month submitted funded \
             committed remainingAtEnd } leadTimes { toFunded { count medianDays } } } }",
        ),
    ] {
        let variables = if asof.is_empty() {
            json!({ "year": year })
        } else {
            json!({ "at": asof })
        };
        out.push(app.graphql(query, variables, Some(&app.admin_token)).await);
    }
    for answer in &out {
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    out
}

async fn a_server_started_from_a_snapshot_answers_what_a_full_replay_answers(backend: Backend) {
    let Some((db, _)) = generated(backend).await else {
        return;
    };

    // The first start folds the whole log and, the log being longer than `every`, stores a
    // snapshot of it.
    let first = start(db.clone(), every).await;
    assert_eq!(first.state.live.started_from(), 0);
    let stored = snapshot_stored(&first, EVENTS as u64).await;
    // Events after the snapshot: a submission, an allocation and a funding.
    let submitted = first.submit("WK020201", "GROEN", "250.00").await;
    first.allocate("WK020201", "GROEN", "100000.00").await;
    first.fund(&submitted.id, "250.00").await;
    let (_, head) = first.head().await;
    assert!(head > stored);
    // A moment in the middle of the generated history.
    let middle = first
        .data(
            "query($after: Position) { events(after: $after, first: 1) { occurredAt } }",
            json!({ "after": (EVENTS / 2).to_string() }),
            Some(&first.admin_token),
        )
        .await;
    let moment = middle["events"][0]["occurredAt"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(first);

    let from_snapshot = start(db.clone(), every).await;
    assert_eq!(
        from_snapshot.state.live.started_from(),
        stored,
        "the second start loads the stored snapshot"
    );
    let replayed = start(db.clone(), |config| {
        config.snapshots = SnapshotOptions::disabled()
    })
    .await;
    assert_eq!(replayed.state.live.started_from(), 0);
    assert_eq!(from_snapshot.state.live.position(), head);
    assert_eq!(replayed.state.live.position(), head);

    // The fold and the index, field by field…
    assert!(
        *from_snapshot.state.live.read() == *replayed.state.live.read(),
        "the state from the snapshot differs from the full replay"
    );
    assert!(
        *from_snapshot.state.live.similar() == *replayed.state.live.similar(),
        "the similar-initiatives index from the snapshot differs from the full replay"
    );
    // …the recent events a new screen is shown first…
    let recent = |app: &TestApp| {
        app.state
            .live
            .recent()
            .iter()
            .map(|item| (item.position, item.summary.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(recent(&from_snapshot).len(), 50);
    assert_eq!(recent(&from_snapshot), recent(&replayed));
    // …and what clients see, the past included.
    assert_eq!(
        answers(&from_snapshot, &moment).await,
        answers(&replayed, &moment).await
    );
}

async fn a_snapshot_of_another_version_or_damaged_is_not_trusted(backend: Backend) {
    let Some((db, url)) = generated(backend).await else {
        return;
    };
    let head = EVENTS as u64;
    {
        let store = wijkpuls_event_store::EventStore::open(&url, Default::default())
            .await
            .unwrap();
        // Another fold's snapshot, newer than any, and a damaged one of this version.
        store
            .save_snapshot(head, VERSION + 1, b"another fold")
            .await
            .unwrap();
        store
            .save_snapshot(head - 10, VERSION, b"not a snapshot at all")
            .await
            .unwrap();
        store.close().await;
    }
    let app = start(db.clone(), every).await;
    assert_eq!(
        app.state.live.started_from(),
        0,
        "neither snapshot is trusted: the whole log is folded"
    );
    assert_eq!(app.state.live.position(), head);
    // A good snapshot of the log takes the damaged one's place…
    let stored = snapshot_stored(&app, head).await;
    assert_eq!(stored, head);
    let full = answers(&app, "2000-01-01T00:00:00Z").await;
    drop(app);
    // …and the next start uses it and answers the same.
    let again = start(db.clone(), every).await;
    assert_eq!(again.state.live.started_from(), head);
    assert_eq!(answers(&again, "2000-01-01T00:00:00Z").await, full);
}

/// A snapshot whose bytes lost a chunk (deleted by hand) is found damaged as it is read: not
/// used, deleted, and replaced by a good one that the next start uses.
async fn a_snapshot_missing_a_chunk_is_not_trusted_and_replaced(backend: Backend) {
    let Some((db, url)) = generated(backend).await else {
        return;
    };
    let first = start(db.clone(), every).await;
    let stored = snapshot_stored(&first, EVENTS as u64).await;
    drop(first);
    let sql = "DELETE FROM snapshot_chunks WHERE fold_version = $1 AND position = $2 AND seq = 0";
    let deleted = match backend.kind {
        Kind::Sqlite => {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let query = sqlx::query(sql).bind(VERSION as i64).bind(stored as i64);
            query.execute(&mut conn).await.unwrap().rows_affected()
        }
        Kind::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let query = sqlx::query(sql).bind(VERSION as i64).bind(stored as i64);
            query.execute(&mut conn).await.unwrap().rows_affected()
        }
    };
    assert_eq!(deleted, 1);

    let app = start(db.clone(), every).await;
    assert_eq!(
        app.state.live.started_from(),
        0,
        "the damaged snapshot is not used: the whole log is folded"
    );
    assert_eq!(app.state.live.position(), EVENTS as u64);
    assert_eq!(snapshot_stored(&app, stored).await, stored);
    let full = answers(&app, "2000-01-01T00:00:00Z").await;
    drop(app);
    let again = start(db.clone(), every).await;
    assert_eq!(
        again.state.live.started_from(),
        stored,
        "the good snapshot stored in its place is used"
    );
    assert_eq!(answers(&again, "2000-01-01T00:00:00Z").await, full);
}

async fn disabled_snapshots_are_neither_read_nor_written(backend: Backend) {
    let Some((db, _)) = generated(backend).await else {
        return;
    };
    let first = start(db.clone(), every).await;
    snapshot_stored(&first, EVENTS as u64).await;
    drop(first);
    let disabled = start(db.clone(), |config| {
        config.snapshots = SnapshotOptions {
            enabled: false,
            every: EVERY,
        }
    })
    .await;
    assert_eq!(disabled.state.live.started_from(), 0);
    // Over `every` new events, and a shutdown: still only the first snapshot.
    let before = disabled.state.service.store.snapshots().await.unwrap();
    for _ in 0..3 {
        disabled.submit("WK020201", "GROEN", "10.00").await;
    }
    assert_eq!(
        disabled
            .state
            .live
            .write_shutdown_snapshot(&disabled.state.service.store)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        disabled.state.service.store.snapshots().await.unwrap(),
        before
    );
}

/// The moment the event after `position` happened.
async fn moment_after(app: &TestApp, position: usize) -> String {
    let found = app
        .data(
            "query($after: Position) { events(after: $after, first: 1) { occurredAt } }",
            json!({ "after": position.to_string() }),
            Some(&app.admin_token),
        )
        .await;
    found["events"][0]["occurredAt"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The past, on a server started from a snapshot (the checkpoints before it made in the
/// background), against the whole fold of the log up to each moment made here: at moments across the generated years, a wijk's counts (its
/// places then) and its initiatives listed then by `updatedAt` (the live list, their statuses
/// then from their history steps, their last change then from the log) are the whole fold's,
/// in its order; a status-filtered count and the default order agree; and each initiative
/// asked alone then (folded from its own history) has the status the list shows.
async fn the_past_agrees_with_itself_after_a_start_from_a_snapshot(backend: Backend) {
    // Long enough for checkpoints (4,096 events apart at first) before the snapshot.
    const LONG: usize = 12_000;
    let Some((db, _)) = generated_with(backend, LONG).await else {
        return;
    };
    let first = start(db.clone(), every).await;
    snapshot_stored(&first, LONG as u64).await;
    drop(first);
    let app = start(db.clone(), every).await;
    assert!(app.state.live.started_from() >= LONG as u64);
    // The background fold makes the checkpoints before the snapshot (at 4,096 and 8,192).
    for _ in 0..200 {
        if app.state.live.checkpoints() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        app.state.live.checkpoints() >= 2,
        "{}",
        app.state.live.checkpoints()
    );
    let log: Vec<wijkpuls_domain::Recorded> = app
        .state
        .service
        .store
        .read_all(wijkpuls_event_store::Position(0))
        .map(|record| wijkpuls_api::codec::to_recorded(&record.unwrap()).unwrap())
        .collect()
        .await;
    let mut listed = 0;
    // Before the first checkpoint, after it, after the second.
    for tenth in [1, 3, 5, 7, 9] {
        let moment = moment_after(&app, LONG * tenth / 10).await;
        let then = wijkpuls_domain::CityState::at_time(&log, time(&moment));
        for wijk in ["WK020201", "WK020207", "WK020214"] {
            let answer = app
                .data(
                    "query($code: ID!, $at: DateTime) { wijk(code: $code, asOf: $at) {
                       initiativeCounts { submitted connected funded completed rejected withdrawn
                         referred total }
                       funded: initiatives(status: [FUNDED, COMPLETED]) { totalCount } } }",
                    json!({ "code": wijk, "at": moment }),
                    None,
                )
                .await;
            let counts = &answer["wijk"]["initiativeCounts"];
            let nodes = &all_pages(&app, wijk, &moment, json!(null)).await;
            let by_update = &all_pages(
                &app,
                wijk,
                &moment,
                json!({ "field": "UPDATED_AT", "direction": "ASC" }),
            )
            .await;
            assert_eq!(counts["total"], nodes.len(), "{wijk} at {moment}");
            for status in STATUS_FIELDS {
                let of_status = nodes
                    .iter()
                    .filter(|n| n["status"] == status.to_uppercase())
                    .count();
                assert_eq!(counts[status], of_status, "{status} in {wijk} at {moment}");
            }
            let funded = counts["funded"].as_u64().unwrap() + counts["completed"].as_u64().unwrap();
            assert_eq!(
                answer["wijk"]["funded"]["totalCount"], funded,
                "{wijk} at {moment}"
            );
            // By their last change then: the whole fold's, in its order (ties in submission
            // order).
            let code = wijkpuls_domain::WijkCode::parse(wijk).unwrap();
            let mut expected: Vec<(i64, usize, String, String)> = then
                .initiatives()
                .enumerate()
                .filter(|(_, view)| view.wijk == code)
                .map(|(index, view)| {
                    let status = format!("{:?}", view.status).to_uppercase();
                    (
                        view.updated_at.timestamp_micros(),
                        index,
                        view.id.to_string(),
                        status,
                    )
                })
                .collect();
            expected.sort();
            let shown: Vec<(i64, String, String)> = by_update
                .iter()
                .map(|n| {
                    let at = time(n["updatedAt"].as_str().unwrap()).timestamp_micros();
                    (
                        at,
                        n["id"].as_str().unwrap().to_owned(),
                        n["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let expected: Vec<(i64, String, String)> = expected
                .into_iter()
                .map(|(at, _, id, status)| (at, id, status))
                .collect();
            assert_eq!(shown, expected, "{wijk} at {moment}");
            assert_eq!(
                then.wijk_counts_in(&code, None).total(),
                counts["total"].as_u64().unwrap()
            );
            // The default order holds the same initiatives.
            let mut ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
            let mut by_update_ids: Vec<&str> = shown.iter().map(|(_, id, _)| id.as_str()).collect();
            ids.sort();
            by_update_ids.sort();
            assert_eq!(ids, by_update_ids, "{wijk} at {moment}");
            for node in nodes.iter().take(5) {
                let alone = app
                    .data(
                        "query($id: ID!, $at: DateTime) { initiative(id: $id, asOf: $at) { status } }",
                        json!({ "id": node["id"], "at": moment }),
                        None,
                    )
                    .await;
                assert_eq!(
                    alone["initiative"]["status"], node["status"],
                    "{node} at {moment}"
                );
                listed += 1;
            }
        }
    }
    assert!(listed > 20, "{listed}");
}

/// Every initiative of `wijk` at `moment` in `order`, page by page (20 at a time, each page
/// after the last one's end cursor).
async fn all_pages(app: &TestApp, wijk: &str, moment: &str, order: Value) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .data(
                "query($code: ID!, $at: DateTime, $after: String, $order: InitiativeOrder) {
                   wijk(code: $code, asOf: $at) { initiatives(first: 20, after: $after,
                     orderBy: $order) { totalCount pageInfo { hasNextPage endCursor }
                     nodes { id status requestedAmount updatedAt } } } }",
                json!({ "code": wijk, "at": moment, "after": after, "order": order }),
                None,
            )
            .await;
        let page = &page["wijk"]["initiatives"];
        nodes.extend(page["nodes"].as_array().unwrap().iter().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            assert_eq!(page["totalCount"], nodes.len(), "{wijk} at {moment}");
            return nodes;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}
