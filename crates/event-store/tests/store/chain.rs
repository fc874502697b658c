//! Tamper evidence: every event's hash is chained to the one before it, and walking the log
//! finds the first row altered, removed or inserted by hand (triggers dropped for the test).

use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{ChainReport, Position};

use crate::common::{append_of, event, open};

backend_tests!(
    an_intact_log_verifies_and_reports_its_head,
    an_altered_payload_breaks_the_chain_at_its_position,
    a_stream_version_gap_is_found,
    a_removed_event_is_found,
    the_chain_starts_after_rows_of_an_older_database,
);

/// Five events in three appends over two streams.
async fn fill(db: &TestDatabase) -> wijkpuls_event_store::EventStore {
    let store = open(db).await;
    store
        .append(append_of(vec![
            event("a", "Noted", &["wijk:1"], json!({ "n": 1, "text": "één" })),
            event("b", "Noted", &[], json!({ "n": 2 })),
        ]))
        .await
        .unwrap();
    store
        .append(append_of(vec![event(
            "a",
            "Noted",
            &["x", "y"],
            json!({ "n": 3, "nested": { "z": 1, "a": [1, 2] } }),
        )]))
        .await
        .unwrap();
    store
        .append(append_of(vec![
            event("b", "Noted", &[], json!({ "n": 4 })),
            event("a", "Noted", &[], json!({ "n": 5 })),
        ]))
        .await
        .unwrap();
    store
}

async fn verify(store: &wijkpuls_event_store::EventStore) -> ChainReport {
    store
        .verify_chain(|_| {})
        .await
        .expect("the log can be read")
}

async fn an_intact_log_verifies_and_reports_its_head(db: TestDatabase) {
    let store = fill(&db).await;
    let report = verify(&store).await;
    assert_eq!(report.broken, None);
    assert_eq!(report.events, 5);
    assert_eq!(report.starts_at, Some(Position(1)));
    let head = report.head.expect("a head");
    assert_eq!(head.position, Position(5));
    assert_eq!(store.chain_head().await.unwrap(), Some(head));
    // The next append continues the chain from that head.
    store
        .append(append_of(vec![event("c", "Noted", &[], json!({}))]))
        .await
        .unwrap();
    let report = verify(&store).await;
    assert_eq!(report.broken, None);
    assert_eq!(report.head.unwrap().position, Position(6));
}

async fn an_altered_payload_breaks_the_chain_at_its_position(db: TestDatabase) {
    let store = fill(&db).await;
    let before = verify(&store).await;
    assert_eq!(before.broken, None);
    let update = if db.url().starts_with("sqlite:") {
        "UPDATE events SET payload = '{\"n\":30,\"nested\":{\"a\":[1,2],\"z\":1}}' WHERE position = 3"
    } else {
        "UPDATE events SET payload = '{\"n\":30,\"nested\":{\"a\":[1,2],\"z\":1}}'::jsonb WHERE position = 3"
    };
    db.tamper(&[update]).await;
    let report = verify(&store).await;
    let broken = report.broken.expect("the altered row is found");
    assert_eq!(broken.position, Position(3), "{}", broken.reason);
    assert!(broken.reason.contains("hash"), "{}", broken.reason);
    assert_eq!(
        report.head.unwrap().position,
        Position(2),
        "the chain holds up to 2"
    );
}

async fn a_stream_version_gap_is_found(db: TestDatabase) {
    let store = fill(&db).await;
    // Stream a has versions 1 (pos 1), 2 (pos 3), 3 (pos 5): make the last one 4.
    db.tamper(&["UPDATE events SET stream_version = 4 WHERE position = 5"])
        .await;
    let broken = verify(&store).await.broken.expect("the gap is found");
    assert_eq!(broken.position, Position(5));
    assert!(
        broken.reason.contains("stream a goes from version 2 to 4"),
        "{}",
        broken.reason
    );
}

async fn a_removed_event_is_found(db: TestDatabase) {
    let store = fill(&db).await;
    // Position 2 has no tags, so no event_tags row refers to it.
    db.tamper(&["DELETE FROM events WHERE position = 2"]).await;
    let broken = verify(&store).await.broken.expect("the hole is found");
    assert_eq!(broken.position, Position(3));
    assert!(broken.reason.contains("missing"), "{}", broken.reason);
}

/// An older database has rows without a hash; the chain starts at the first append after the
/// upgrade (rule in docs/design.md), and a hash-less row after that is a break.
async fn the_chain_starts_after_rows_of_an_older_database(db: TestDatabase) {
    let store = open(&db).await;
    let (tags, payload, metadata, at) = if db.url().starts_with("sqlite:") {
        (
            "'[]'",
            "'{\"n\":1}'",
            "'{\"actor\":\"old\",\"role\":\"system\"}'",
            "'2025-01-01T00:00:00.000000Z'",
        )
    } else {
        (
            "'{}'",
            "'{\"n\":1}'::jsonb",
            "'{\"actor\":\"old\",\"role\":\"system\"}'::jsonb",
            "now()",
        )
    };
    let old_row = |position: u64, version: u64| {
        format!(
            "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, \
             tags, payload, metadata, recorded_at) \
             VALUES ({position}, 'old', {version}, 'Noted', 1, {tags}, {payload}, {metadata}, {at})"
        )
    };
    db.tamper(&[&old_row(1, 1), &old_row(2, 2)]).await;
    store
        .append(append_of(vec![event("a", "Noted", &[], json!({ "n": 3 }))]))
        .await
        .unwrap();
    store
        .append(append_of(vec![event("a", "Noted", &[], json!({ "n": 4 }))]))
        .await
        .unwrap();
    let report = verify(&store).await;
    assert_eq!(report.broken, None);
    assert_eq!(report.starts_at, Some(Position(3)));
    assert_eq!(report.head.unwrap().position, Position(4));

    db.tamper(&[&old_row(5, 3)]).await;
    let broken = verify(&store)
        .await
        .broken
        .expect("a row without hash after the start");
    assert_eq!(broken.position, Position(5));
    assert!(broken.reason.contains("no hash"), "{}", broken.reason);
}
