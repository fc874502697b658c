//! Bad input gets a typed error and changes nothing.

use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{
    AppendCondition, AppendRequest, EventStore, ExpectedVersion, Position, Query, QueryItem,
    StoreError, StoreOptions, StreamId,
};

use crate::common::{all_events, append_of, event, note, open, open_with, options, stream};

backend_tests!(
    bad_appends_get_typed_errors_and_change_nothing,
    bad_conditions_get_typed_errors_and_change_nothing,
    text_that_merely_looks_like_a_nul_escape_is_accepted,
    events_larger_than_the_limit_are_refused,
    reads_take_any_limit,
    a_batch_size_of_zero_is_refused_at_open,
);

/// What a bad append should produce.
enum Expect {
    Invalid,
    TooLarge,
}

async fn assert_refused(store: &EventStore, what: &str, request: AppendRequest, expect: Expect) {
    let before = all_events(store).await;
    let result = store.append(request).await;
    match (&result, expect) {
        (Err(StoreError::InvalidInput(_)), Expect::Invalid)
        | (Err(StoreError::EventTooLarge { .. }), Expect::TooLarge) => {}
        _ => panic!("{what}: unexpected result {result:?}"),
    }
    assert_eq!(all_events(store).await, before, "{what} changed the log");
}

async fn bad_appends_get_typed_errors_and_change_nothing(db: TestDatabase) {
    let store = open(&db).await;
    store.append(note("s", 0)).await.unwrap();
    use Expect::Invalid;

    assert_refused(&store, "an empty append", append_of(vec![]), Invalid).await;

    let mut request = note("s", 1);
    request.expected_versions = vec![(stream("elsewhere"), ExpectedVersion::Exactly(0))];
    assert_refused(
        &store,
        "an expectation for a stream not written",
        request,
        Invalid,
    )
    .await;

    let mut request = note("s", 1);
    request.expected_versions = vec![
        (stream("s"), ExpectedVersion::Exactly(1)),
        (stream("s"), ExpectedVersion::Any),
    ];
    assert_refused(&store, "two expectations for one stream", request, Invalid).await;

    for event_type in ["", "has space", "semi;colon", "T".repeat(101).as_str()] {
        let request = append_of(vec![event("s", event_type, &[], json!({}))]);
        assert_refused(
            &store,
            &format!("event type {event_type:?}"),
            request,
            Invalid,
        )
        .await;
    }
    for tag in ["", "line\nbreak", "t".repeat(201).as_str()] {
        let request = append_of(vec![event("s", "Noted", &["fine", tag], json!({}))]);
        assert_refused(&store, &format!("tag {tag:?}"), request, Invalid).await;
    }
    for key in ["", "tab\tbed", "k".repeat(201).as_str()] {
        let mut request = note("s", 1);
        request.idempotency_key = Some(key.to_owned());
        assert_refused(
            &store,
            &format!("idempotency key {key:?}"),
            request,
            Invalid,
        )
        .await;
    }
    let request = append_of(vec![event(
        "s",
        "Noted",
        &[],
        json!({ "text": "nul\u{0}byte" }),
    )]);
    assert_refused(&store, "a NUL character in the payload", request, Invalid).await;
    let request = append_of(vec![event("s", "Noted", &[], json!({ "nul\u{0}key": 1 }))]);
    assert_refused(&store, "a NUL character in a payload key", request, Invalid).await;
    // PostgreSQL's jsonb cannot store NUL anywhere; no backend takes it in metadata either.
    let mut request = note("s", 1);
    request.metadata.actor = "nul\u{0}actor".into();
    assert_refused(&store, "a NUL character in the actor", request, Invalid).await;
    let mut request = note("s", 1);
    request.metadata.request_id = Some("nul\u{0}request".into());
    assert_refused(
        &store,
        "a NUL character in the request id",
        request,
        Invalid,
    )
    .await;
    // One bad event spoils the whole append.
    let request = append_of(vec![
        event("s", "Noted", &[], json!({})),
        event("t", "", &[], json!({})),
    ]);
    assert_refused(&store, "a bad second event", request, Invalid).await;

    // Stream ids are checked where they are made, so an invalid one never reaches an append.
    for id in [
        "",
        "has space",
        "ünïcode",
        "new\nline",
        "semi;colon",
        "s".repeat(201).as_str(),
    ] {
        assert!(
            matches!(StreamId::parse(id), Err(StoreError::InvalidInput(_))),
            "stream id {id:?} accepted"
        );
        assert!(serde_json::from_value::<StreamId>(json!(id)).is_err());
    }
    for id in [
        "a",
        "wijk:WK020207/initiative-1.v2@x_y",
        "s".repeat(200).as_str(),
    ] {
        StreamId::parse(id).unwrap_or_else(|e| panic!("{id:?}: {e}"));
    }

    assert_eq!(store.head_position().await.unwrap(), Position(1));
    // The store still works after refusing all that.
    store.append(note("s", 1)).await.expect("a good append");
}

async fn bad_conditions_get_typed_errors_and_change_nothing(db: TestDatabase) {
    let store = open(&db).await;
    // Events a malformed query item could be mistaken to match.
    store
        .append(append_of(vec![event(
            "s",
            "Noted",
            &["line:A", "wijk:1"],
            json!({}),
        )]))
        .await
        .unwrap();
    let conditional = |types: &[&str], tags: &[&str]| {
        let mut request = note("s", 1);
        request.condition = Some(AppendCondition {
            fail_if_events_match: Query {
                items: vec![QueryItem {
                    types: types.iter().map(|t| (*t).to_owned()).collect(),
                    tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                }],
            },
            after: Position::START,
        });
        request
    };
    let bad_tags: [&[&str]; 4] = [
        &[""],
        &["line:A", ""],
        &["line:A\u{1f}wijk:1"],
        &["new\nline"],
    ];
    for tags in bad_tags {
        let request = conditional(&[], tags);
        assert_refused(
            &store,
            &format!("condition tags {tags:?}"),
            request,
            Expect::Invalid,
        )
        .await;
    }
    let bad_types: [&[&str]; 3] = [&[""], &["Noted", ""], &["Noted\u{1f}Other"]];
    for types in bad_types {
        let request = conditional(types, &[]);
        assert_refused(
            &store,
            &format!("condition types {types:?}"),
            request,
            Expect::Invalid,
        )
        .await;
    }
    assert_eq!(store.head_position().await.unwrap(), Position(1));
}

async fn text_that_merely_looks_like_a_nul_escape_is_accepted(db: TestDatabase) {
    let store = open(&db).await;
    // A backslash followed by "u0000" is ordinary text (JSON: "\\u0000"), not a NUL.
    let payload = json!({ "text": "write \\u0000 for NUL", "\\u0000": "as a key too" });
    store
        .append(append_of(vec![event("s", "Noted", &[], payload.clone())]))
        .await
        .expect("no NUL in there");
    assert_eq!(all_events(&store).await[0].payload, payload);
}

async fn reads_take_any_limit(db: TestDatabase) {
    let store = open(&db).await;
    for n in 0..3 {
        store.append(note("s", n)).await.unwrap();
    }
    for limit in [3, 1000, i64::MAX as usize, usize::MAX] {
        let events = store.read_batch(Position::START, limit).await;
        assert_eq!(events.expect("read").len(), 3, "limit {limit}");
    }
    assert!(store
        .read_batch(Position::START, 0)
        .await
        .unwrap()
        .is_empty());
}

async fn a_batch_size_of_zero_is_refused_at_open(db: TestDatabase) {
    let options = StoreOptions {
        max_batch: 0,
        ..options()
    };
    match EventStore::open(db.url(), options).await {
        Err(StoreError::InvalidInput(_)) => {}
        other => panic!("expected InvalidInput, got {:?}", other.map(|_| "a store")),
    }
}

fn sized_event(payload_bytes: usize) -> wijkpuls_event_store::NewEvent {
    // `{"text":"…"}`: 11 bytes around the text.
    event(
        "big",
        "Noted",
        &[],
        json!({ "text": "x".repeat(payload_bytes - 11) }),
    )
}

async fn events_larger_than_the_limit_are_refused(db: TestDatabase) {
    const KIB: usize = 1024;
    let store = open(&db).await;
    assert_eq!(store.options().max_event_bytes, 64 * KIB);

    let request = append_of(vec![sized_event(64 * KIB + 1)]);
    assert_refused(&store, "an event over 64 KiB", request, Expect::TooLarge).await;
    match store
        .append(append_of(vec![sized_event(64 * KIB + 1)]))
        .await
    {
        Err(StoreError::EventTooLarge { size, limit }) => {
            assert!(size > 64 * KIB);
            assert_eq!(limit, 64 * KIB);
        }
        other => panic!("expected EventTooLarge, got {other:?}"),
    }
    // One oversized event among small ones: nothing is recorded.
    let request = append_of(vec![
        sized_event(100),
        sized_event(65 * KIB),
        sized_event(100),
    ]);
    assert_refused(
        &store,
        "an oversized second event",
        request,
        Expect::TooLarge,
    )
    .await;
    assert_eq!(store.head_position().await.unwrap(), Position::START);

    // Just under the limit (payload plus metadata) is fine, and stored whole.
    let event = sized_event(63 * KIB);
    store
        .append(append_of(vec![event.clone()]))
        .await
        .expect("63 KiB is within 64 KiB");
    assert_eq!(all_events(&store).await[0].payload, event.payload);
    drop(store);

    // The limit is configurable.
    let store = open_with(
        &db,
        StoreOptions {
            max_event_bytes: 256 * KIB,
            ..options()
        },
    )
    .await;
    let event = sized_event(200 * KIB);
    store
        .append(append_of(vec![event.clone()]))
        .await
        .expect("200 KiB within 256 KiB");
    assert_eq!(all_events(&store).await[1].payload, event.payload);
    let request = append_of(vec![sized_event(257 * KIB)]);
    assert_refused(&store, "an event over 256 KiB", request, Expect::TooLarge).await;
    let small = StoreOptions {
        max_event_bytes: 100,
        ..options()
    };
    drop(store);
    let store = open_with(&db, small).await;
    let request = append_of(vec![sized_event(90)]);
    assert_refused(
        &store,
        "90 bytes of payload plus metadata over 100",
        request,
        Expect::TooLarge,
    )
    .await;
    assert_eq!(store.head_position().await.unwrap(), Position(2));
}

/// An in-memory SQLite database would lose every event when the process ends, and its
/// connections could not share it the way the store's writer and readers need; a different
/// VFS or an "immutable" file would have the readers see the file differently than the writer.
#[tokio::test]
async fn unsupported_sqlite_urls_are_refused() {
    for (url, reason) in [
        ("sqlite::memory:", "in-memory"),
        ("sqlite://events.db?mode=memory", "in-memory"),
        ("sqlite://events.db?vfs=unix-dotfile", "vfs"),
        ("sqlite://events.db?immutable=true", "immutable"),
    ] {
        match EventStore::open(url, StoreOptions::default()).await {
            Err(StoreError::InvalidInput(message)) => {
                assert!(message.contains(reason), "{url}: {message}")
            }
            other => panic!(
                "{url}: expected InvalidInput, got {:?}",
                other.map(|_| "a store")
            ),
        }
    }
    assert!(
        !std::path::Path::new("events.db").exists(),
        "a refused URL created no file"
    );
}
