//! Appending and reading back: atomicity, expected versions, idempotency, the DCB condition,
//! metadata and tags, reading by stream and the whole log, events read back as written (guarantees 1, 2, 4, 8).

use chrono::Utc;
use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{
    AppendCondition, AppendRequest, Conflict, ExpectedVersion, Metadata, Position, Query,
    QueryItem, RecordedEvent, StoreError,
};

use crate::common::{
    all_events, append_of, event, metadata, next_event, note, open, positions, stream,
};

backend_tests!(
    multi_stream_append_is_all_or_nothing,
    expected_versions_are_checked_per_stream,
    idempotent_retry_appends_nothing_and_returns_the_first_result,
    condition_fails_only_on_matching_events_after_its_position,
    condition_far_behind_the_head_is_checked_like_one_near_it,
    metadata_and_payload_round_trip,
    occurred_at_is_kept_defaults_to_recorded_at_and_is_never_in_the_future,
    tags_round_trip,
    read_stream_returns_one_stream_in_order,
    read_positions_returns_those_events_in_order,
    read_all_pages_through_the_whole_log,
    old_versions_are_read_back_as_written,
);

fn with_expected(
    mut request: AppendRequest,
    expected: &[(&str, ExpectedVersion)],
) -> AppendRequest {
    request.expected_versions = expected.iter().map(|(s, v)| (stream(s), *v)).collect();
    request
}

fn with_condition(mut request: AppendRequest, query: Query, after: u64) -> AppendRequest {
    request.condition = Some(AppendCondition {
        fail_if_events_match: query,
        after: Position(after),
    });
    request
}

fn with_key(mut request: AppendRequest, key: &str) -> AppendRequest {
    request.idempotency_key = Some(key.to_owned());
    request
}

fn wrong_version(error: StoreError) -> (String, String, u64) {
    match error {
        StoreError::Conflict(Conflict::WrongExpectedVersion {
            stream,
            expected,
            actual,
        }) => (stream.to_string(), expected, actual),
        other => panic!("expected a wrong-expected-version conflict, got {other:?}"),
    }
}

async fn multi_stream_append_is_all_or_nothing(db: TestDatabase) {
    let store = open(&db).await;
    let first = store
        .append(append_of(vec![
            event("initiative-1", "Proposed", &[], json!({ "i": 0 })),
            event("budget-A", "Reserved", &[], json!({ "i": 1 })),
            event("initiative-1", "Funded", &[], json!({ "i": 2 })),
        ]))
        .await
        .expect("append across streams");
    assert_eq!(
        (first.first_position, first.last_position),
        (Position(1), Position(3))
    );
    let log = all_events(&store).await;
    assert_eq!(positions(&log), [1, 2, 3]);
    let versions: Vec<(String, u64)> = log
        .iter()
        .map(|e| (e.stream_id.to_string(), e.stream_version))
        .collect();
    assert_eq!(
        versions,
        [
            ("initiative-1".into(), 1),
            ("budget-A".into(), 1),
            ("initiative-1".into(), 2)
        ]
    );

    // One of two expectations fails: neither stream gets anything.
    let error = store
        .append(with_expected(
            append_of(vec![
                event("initiative-1", "Spent", &[], json!({})),
                event("budget-A", "Spent", &[], json!({})),
                event("budget-B", "Spent", &[], json!({})),
            ]),
            &[
                ("initiative-1", ExpectedVersion::Exactly(2)),
                ("budget-A", ExpectedVersion::Exactly(7)),
            ],
        ))
        .await
        .expect_err("budget-A is at version 1, not 7");
    assert_eq!(wrong_version(error), ("budget-A".into(), "7".into(), 1));
    assert_eq!(store.head_position().await.unwrap(), Position(3));
    assert_eq!(all_events(&store).await, log);
    assert!(store
        .read_stream(&stream("budget-B"))
        .await
        .unwrap()
        .is_empty());

    // With both expectations right, all three are recorded together.
    let outcome = store
        .append(with_expected(
            append_of(vec![
                event("initiative-1", "Spent", &[], json!({})),
                event("budget-A", "Spent", &[], json!({})),
                event("budget-B", "Spent", &[], json!({})),
            ]),
            &[
                ("initiative-1", ExpectedVersion::Exactly(2)),
                ("budget-A", ExpectedVersion::Exactly(1)),
            ],
        ))
        .await
        .expect("append with right expectations");
    assert_eq!(
        (outcome.first_position, outcome.last_position),
        (Position(4), Position(6))
    );
    assert!(!outcome.duplicate);
}

async fn expected_versions_are_checked_per_stream(db: TestDatabase) {
    let store = open(&db).await;
    let expect = |s: &str, v: ExpectedVersion| with_expected(note(s, 0), &[(s, v)]);

    // NoStream: only for a stream without events.
    store
        .append(expect("s", ExpectedVersion::NoStream))
        .await
        .expect("new stream");
    let error = store
        .append(expect("s", ExpectedVersion::NoStream))
        .await
        .unwrap_err();
    assert_eq!(wrong_version(error), ("s".into(), "no stream".into(), 1));

    // Exactly(n): the stream holds exactly n events.
    store
        .append(expect("s", ExpectedVersion::Exactly(1)))
        .await
        .expect("at version 1");
    let error = store
        .append(expect("s", ExpectedVersion::Exactly(1)))
        .await
        .unwrap_err();
    assert_eq!(wrong_version(error), ("s".into(), "1".into(), 2));
    let error = store
        .append(expect("s", ExpectedVersion::Exactly(3)))
        .await
        .unwrap_err();
    assert_eq!(wrong_version(error), ("s".into(), "3".into(), 2));
    store
        .append(expect("s", ExpectedVersion::Exactly(2)))
        .await
        .expect("at version 2");

    // Exactly(0) is a stream without events; a higher version of a new stream conflicts.
    store
        .append(expect("t", ExpectedVersion::Exactly(0)))
        .await
        .expect("new stream t");
    let error = store
        .append(expect("u", ExpectedVersion::Exactly(4)))
        .await
        .unwrap_err();
    assert_eq!(wrong_version(error), ("u".into(), "4".into(), 0));

    // Any: whatever the stream holds.
    store
        .append(expect("s", ExpectedVersion::Any))
        .await
        .expect("any");
    store
        .append(expect("v", ExpectedVersion::Any))
        .await
        .expect("any, new stream");

    // Several events for one stream in one append: the expectation is about the state before.
    let outcome = store
        .append(with_expected(
            append_of(vec![
                event("s", "Noted", &[], json!({})),
                event("s", "Noted", &[], json!({})),
            ]),
            &[("s", ExpectedVersion::Exactly(4))],
        ))
        .await
        .expect("two events at version 4");
    assert_eq!(outcome.last_position.0 - outcome.first_position.0, 1);

    let versions: Vec<u64> = store
        .read_stream(&stream("s"))
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    // Failed appends recorded nothing: 6 in s, 1 in t, 1 in v.
    assert_eq!(store.head_position().await.unwrap(), Position(8));
}

async fn idempotent_retry_appends_nothing_and_returns_the_first_result(db: TestDatabase) {
    let store = open(&db).await;
    store.append(note("other", 0)).await.unwrap();
    let request = with_key(
        with_expected(
            append_of(vec![
                event("order-1", "Placed", &[], json!({ "n": 1 })),
                event("order-1", "Paid", &[], json!({ "n": 2 })),
            ]),
            &[("order-1", ExpectedVersion::NoStream)],
        ),
        "request-7",
    );
    let first = store.append(request.clone()).await.expect("first append");
    assert_eq!(
        first,
        wijkpuls_event_store::AppendOutcome {
            first_position: Position(2),
            last_position: Position(3),
            duplicate: false
        }
    );
    store.append(note("other", 1)).await.unwrap();

    // The retry would now fail its expectation; it is recognised as a retry instead.
    let retry = store.append(request.clone()).await.expect("retry");
    assert_eq!(
        (retry.first_position, retry.last_position, retry.duplicate),
        (Position(2), Position(3), true)
    );
    // Even with different content, a known key appends nothing.
    let mut changed = request.clone();
    changed
        .events
        .push(event("order-1", "Shipped", &[], json!({})));
    changed.expected_versions.clear();
    let again = store
        .append(changed)
        .await
        .expect("retry with other content");
    assert_eq!((again.first_position, again.duplicate), (Position(2), true));
    assert_eq!(store.head_position().await.unwrap(), Position(4));
    assert_eq!(
        store.read_stream(&stream("order-1")).await.unwrap().len(),
        2
    );

    // A key whose append failed was not recorded: using it again appends.
    let conflicting = with_key(
        with_expected(
            note("order-2", 0),
            &[("order-2", ExpectedVersion::Exactly(9))],
        ),
        "request-8",
    );
    assert!(store.append(conflicting).await.unwrap_err().is_conflict());
    let retried = store
        .append(with_key(note("order-2", 0), "request-8"))
        .await
        .unwrap();
    assert_eq!(
        (retried.first_position, retried.duplicate),
        (Position(5), false)
    );

    // The key is part of the recorded metadata.
    let recorded = store.read_stream(&stream("order-1")).await.unwrap();
    assert!(recorded
        .iter()
        .all(|e| e.metadata.idempotency_key.as_deref() == Some("request-7")));

    // Reopening the store (another process) still knows the key.
    drop(store);
    let store = open(&db).await;
    let after_reopen = store.append(request).await.expect("retry after reopening");
    assert_eq!(
        (after_reopen.first_position, after_reopen.duplicate),
        (Position(2), true)
    );
    assert_eq!(store.head_position().await.unwrap(), Position(5));
}

async fn condition_fails_only_on_matching_events_after_its_position(db: TestDatabase) {
    let store = open(&db).await;
    let tagged = |tags: &[&str]| append_of(vec![event("x", "Reserved", tags, json!({}))]);
    store.append(tagged(&["line:A", "wijk:1"])).await.unwrap(); // 1
    store.append(tagged(&["line:B"])).await.unwrap(); // 2

    // line:A's event is at 1, not after 1; line:B does not match.
    let ok = store
        .append(with_condition(
            tagged(&["line:A"]),
            Query::any_tag(["line:A"]),
            1,
        ))
        .await
        .expect("nothing about line:A after 1");
    assert_eq!(ok.first_position, Position(3));

    // Now there is one after 2.
    let error = store
        .append(with_condition(
            tagged(&["line:A"]),
            Query::any_tag(["line:A"]),
            2,
        ))
        .await
        .unwrap_err();
    match error {
        StoreError::Conflict(Conflict::ConditionFailed { after, position }) => {
            assert_eq!((after, position), (Position(2), Position(3)));
        }
        other => panic!("expected a condition conflict, got {other:?}"),
    }
    // The first match is reported, also for a query of several items.
    let error = store
        .append(with_condition(
            tagged(&[]),
            Query::any_tag(["line:B", "line:A"]),
            0,
        ))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::Conflict(Conflict::ConditionFailed {
            position: Position(1),
            ..
        })
    ));

    let item = |types: &[&str], tags: &[&str]| QueryItem {
        types: types.iter().map(|t| (*t).to_owned()).collect(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    };
    let query = |items: Vec<QueryItem>| Query { items };
    // Types: only events of the named types match.
    store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&["Released"], &["line:A"])]),
            0,
        ))
        .await
        .expect("no Released event");
    let error = store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&["Released", "Reserved"], &["line:A"])]),
            0,
        ))
        .await
        .unwrap_err();
    assert!(error.is_conflict());
    // All of an item's tags must be on the event.
    store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&[], &["line:B", "wijk:1"])]),
            0,
        ))
        .await
        .expect("no event has both line:B and wijk:1");
    let error = store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&[], &["wijk:1", "line:A"])]),
            0,
        ))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::Conflict(Conflict::ConditionFailed {
            position: Position(1),
            ..
        })
    ));
    // A type-only item matches by type; an empty item matches any event.
    let error = store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&["Reserved"], &[])]),
            3,
        ))
        .await
        .unwrap_err();
    assert!(error.is_conflict());
    let head = store.head_position().await.unwrap();
    store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&[], &[])]),
            head.0,
        ))
        .await
        .expect("no event at all after the head");
    let error = store
        .append(with_condition(
            tagged(&[]),
            query(vec![item(&[], &[])]),
            head.0,
        ))
        .await
        .unwrap_err();
    assert!(error.is_conflict());
    // A query without items matches nothing.
    store
        .append(with_condition(tagged(&[]), Query::default(), 0))
        .await
        .expect("an empty query never fails");

    // Conflicting appends recorded nothing: two plain appends and five that passed.
    assert_eq!(
        positions(&all_events(&store).await),
        (1..=7).collect::<Vec<_>>()
    );
}

async fn metadata_and_payload_round_trip(db: TestDatabase) {
    let store = open(&db).await;
    let payload = json!({
        "title": "Moestuin Presikhaaf — fase 2",
        "amount_cents": 1_250_000,
        "big": u64::MAX,
        "ratio": 0.125,
        "nested": { "list": [1, "two", null, true, { "deep": [] }] },
        "empty": {}
    });
    let metadata = Metadata {
        actor: "user:42".into(),
        role: "wijkcoordinator".into(),
        request_id: Some("req-abc".into()),
        idempotency_key: None,
        occurred_at: None,
    };
    let before = Utc::now();
    store
        .append(AppendRequest {
            events: vec![wijkpuls_event_store::NewEvent {
                stream_id: stream("initiative-9"),
                event_type: "Initiative.Proposed_v3".into(),
                schema_version: 3,
                tags: vec!["wijk:WK020207".into()],
                payload: payload.clone(),
            }],
            idempotency_key: Some("idem-1".into()),
            metadata: metadata.clone(),
            ..AppendRequest::default()
        })
        .await
        .unwrap();
    store.append(note("plain", 0)).await.unwrap();
    let after = Utc::now();

    let log = all_events(&store).await;
    let first = &log[0];
    assert_eq!(first.payload, payload);
    assert_eq!(first.event_type, "Initiative.Proposed_v3");
    assert_eq!(first.schema_version, 3);
    assert_eq!(
        first.metadata,
        Metadata {
            idempotency_key: Some("idem-1".into()),
            ..metadata
        }
    );
    // Stored with microsecond precision.
    let slack = chrono::Duration::microseconds(1);
    for event in &log {
        assert!(
            event.recorded_at >= before - slack && event.recorded_at <= after + slack,
            "recorded_at {} outside [{before}, {after}]",
            event.recorded_at
        );
    }
    assert_eq!(log[1].metadata, self::metadata());
    assert_eq!(log[1].payload, json!({ "n": 0 }));
}

async fn occurred_at_is_kept_defaults_to_recorded_at_and_is_never_in_the_future(db: TestDatabase) {
    let store = open(&db).await;
    let past = "2024-03-14T09:26:53.589793Z"
        .parse::<chrono::DateTime<Utc>>()
        .unwrap();
    let mut back_dated = note("dated", 0);
    back_dated.metadata.occurred_at = Some(past);
    store.append(back_dated).await.unwrap();
    store.append(note("plain", 0)).await.unwrap();

    let mut future = note("dated", 1);
    future.metadata.occurred_at = Some(Utc::now() + chrono::Duration::minutes(1));
    let refused = store.append(future).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::InvalidInput(m) if m.contains("future")),
        "{refused:?}"
    );

    let log = all_events(&store).await;
    assert_eq!(log.len(), 2, "the refused append recorded nothing");
    assert_eq!(log[0].metadata.occurred_at, Some(past));
    assert_eq!(log[0].occurred_at(), past);
    assert!(log[0].recorded_at > past, "recorded now, about then");
    assert_eq!(log[1].metadata.occurred_at, None);
    assert_eq!(log[1].occurred_at(), log[1].recorded_at);
}

async fn tags_round_trip(db: TestDatabase) {
    let store = open(&db).await;
    let tags = [
        "wijk:WK020207",
        "thema:groen",
        "ünïcode täg",
        "a,b",
        "{braces}",
        "quote\"s and 'single'",
        "back\\slash",
        "NULL",
        "  spaced  ",
    ];
    store
        .append(append_of(vec![
            event("t", "Tagged", &tags, json!({})),
            event("t", "Untagged", &[], json!({})),
            event("t", "Twice", &["x", "x"], json!({})),
        ]))
        .await
        .unwrap();
    let log = store.read_stream(&stream("t")).await.unwrap();
    assert_eq!(log[0].tags, tags);
    assert!(log[1].tags.is_empty());
    assert_eq!(log[2].tags, ["x", "x"]);
    // Tags are what conditions match on, exactly as written.
    for tag in tags {
        let error = store
            .append(with_condition(note("t", 0), Query::any_tag([tag]), 0))
            .await
            .unwrap_err();
        assert!(error.is_conflict(), "tag {tag:?} should match");
    }
    store
        .append(with_condition(
            note("t", 0),
            Query::any_tag(["a", "b", "a,b "]),
            0,
        ))
        .await
        .expect("parts of a tag do not match it");
}

async fn read_stream_returns_one_stream_in_order(db: TestDatabase) {
    let store = open(&db).await;
    for n in 0..5 {
        store.append(note("a", n)).await.unwrap();
        store.append(note("b", n)).await.unwrap();
    }
    let a = store.read_stream(&stream("a")).await.unwrap();
    assert_eq!(positions(&a), [1, 3, 5, 7, 9]);
    assert_eq!(
        a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(a.iter().all(|e| e.stream_id == stream("a")));
    assert_eq!(
        a.iter()
            .map(|e| e.payload["n"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(store.read_stream(&stream("c")).await.unwrap().is_empty());
}

async fn read_positions_returns_those_events_in_order(db: TestDatabase) {
    let store = open(&db).await;
    for n in 0..700 {
        store.append(note("a", n)).await.unwrap();
    }
    let read = |wanted: Vec<u64>| {
        let store = &store;
        async move {
            let wanted: Vec<Position> = wanted.into_iter().map(Position).collect();
            store.read_positions(&wanted).await.unwrap()
        }
    };
    // Any order, twice, 0 and beyond the head: each event once, in order.
    let events = read(vec![9, 2, 0, 9, 5000, 700, 1]).await;
    assert_eq!(positions(&events), [1, 2, 9, 700]);
    assert_eq!(
        events
            .iter()
            .map(|e| e.payload["n"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 8, 699]
    );
    assert!(read(vec![]).await.is_empty());
    // More than one query's worth.
    let all = read((1..=700).rev().collect()).await;
    assert_eq!(positions(&all), (1..=700).collect::<Vec<_>>());
    assert_eq!(all, all_events(&store).await);
}

async fn read_all_pages_through_the_whole_log(db: TestDatabase) {
    use futures::TryStreamExt;
    let store = open(&db).await;
    for batch in 0..20u64 {
        let events = (0..100)
            .map(|i| event("paged", "Noted", &[], json!({ "n": batch * 100 + i })))
            .collect();
        store.append(append_of(events)).await.unwrap();
    }
    // Exactly two pages of 1000, then an empty one.
    let log = all_events(&store).await;
    assert_eq!(positions(&log), (1..=2000).collect::<Vec<_>>());
    assert!(log
        .iter()
        .enumerate()
        .all(|(i, e)| e.payload["n"] == json!(i)));

    let tail: Vec<RecordedEvent> = store.read_all(Position(999)).try_collect().await.unwrap();
    assert_eq!(positions(&tail), (1000..=2000).collect::<Vec<_>>());

    store.append(note("paged", 2000)).await.unwrap();
    assert_eq!(
        positions(&all_events(&store).await),
        (1..=2001).collect::<Vec<_>>()
    );
    let none: Vec<RecordedEvent> = store.read_all(Position(2001)).try_collect().await.unwrap();
    assert!(none.is_empty());

    let batch = store.read_batch(Position(10), 5).await.unwrap();
    assert_eq!(positions(&batch), [11, 12, 13, 14, 15]);
}

/// The store never rewrites an event: every read path hands back each event at the schema
/// version and with the payload it was written with, old and new side by side. Upcasting is
/// the reader's business (the domain's `DomainEvent::from_payload`).
async fn old_versions_are_read_back_as_written(db: TestDatabase) {
    let store = open(&db).await;
    let old = event("r", "Renamed", &[], json!({ "name": "Speeltuin" }));
    let mut new = event("r", "Renamed", &[], json!({ "title": "Moestuin" }));
    new.schema_version = 2;
    store.append(append_of(vec![old, new])).await.unwrap();

    let expected = [
        (1, json!({ "name": "Speeltuin" })),
        (2, json!({ "title": "Moestuin" })),
    ];
    let check = |events: Vec<RecordedEvent>| {
        assert_eq!(
            events
                .iter()
                .map(|e| (e.schema_version, e.payload.clone()))
                .collect::<Vec<_>>(),
            expected
        );
    };
    check(store.read_batch(Position::START, 10).await.unwrap());
    check(store.read_stream(&stream("r")).await.unwrap());
    check(all_events(&store).await);
    let mut subscription = store.subscribe(Position::START);
    check(vec![
        next_event(&mut subscription).await,
        next_event(&mut subscription).await,
    ]);
}

/// The PostgreSQL look-up checks a condition near the head (at most 1,000 events behind it)
/// against the recent events it reads, and one further behind by a probe of its own: both must
/// find the same first match, in one batch.
async fn condition_far_behind_the_head_is_checked_like_one_near_it(db: TestDatabase) {
    let store = open(&db).await;
    let tagged = |tags: &[&str]| append_of(vec![event("x", "Reserved", tags, json!({}))]);
    store.append(tagged(&["line:A"])).await.unwrap(); // 1
    let filler: Vec<_> = (0..1100)
        .map(|_| event("filler", "Noted", &["other"], json!({})))
        .collect();
    store.append(append_of(filler)).await.unwrap(); // 2..=1101
    store.append(tagged(&["line:A"])).await.unwrap(); // 1102
    let conditioned =
        |after: u64| with_condition(tagged(&["line:B"]), Query::any_tag(["line:A"]), after);
    let (far, near, clear) = tokio::join!(
        store.append(conditioned(0)),
        store.append(conditioned(1000)),
        store.append(conditioned(1102)),
    );
    for (result, first) in [(far, 1), (near, 1102)] {
        match result.unwrap_err() {
            StoreError::Conflict(Conflict::ConditionFailed { position, .. }) => {
                assert_eq!(position, Position(first))
            }
            other => panic!("expected a condition conflict, got {other:?}"),
        }
    }
    clear.expect("nothing about line:A after 1102");
}
