//! Subject keys travel with the append whose events they protect (`AppendRequest::keys`):
//! written in the same transaction, so a key exists if and only if its events do — not after a
//! refused append, a retry answered with its first result, or a commit that failed.

use serde_json::json;
use tokio::runtime::Handle;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{
    AppendCondition, Conflict, EventStore, ExpectedVersion, Position, Query, StoreError,
    SubjectKey, Vault,
};

use crate::common::{all_events, event, note, open, stream};
use crate::concurrency::in_rounds;
use crate::faults::plant_poison;

backend_tests!(
    a_key_is_written_with_its_events,
    a_refused_append_writes_no_key,
    a_retry_writes_no_second_key,
    a_failed_commit_writes_neither_key_nor_events,
    an_existing_key_id_fails_the_append,
    malformed_keys_are_refused_up_front,
);

fn key(id: &str, byte: u8) -> SubjectKey {
    SubjectKey {
        id: id.to_owned(),
        key: vec![byte; 32],
    }
}

fn with_keys(
    mut request: wijkpuls_event_store::AppendRequest,
    keys: Vec<SubjectKey>,
) -> wijkpuls_event_store::AppendRequest {
    request.keys = keys;
    request
}

/// Whether the vault holds `id`, and with which bytes.
async fn stored(db: &TestDatabase, id: &str) -> Option<Vec<u8>> {
    let vault = Vault::open(db.url()).await.expect("open the vault");
    vault.keys(&[id]).await.expect("read keys").remove(id)
}

async fn a_key_is_written_with_its_events(db: TestDatabase) {
    let store = open(&db).await;
    let outcome = store
        .append(with_keys(
            note("initiative-1", 1),
            vec![key("initiator-1", 7), key("initiator-1b", 8)],
        ))
        .await
        .expect("appended");
    assert_eq!(outcome.last_position, Position(1));
    assert_eq!(stored(&db, "initiator-1").await, Some(vec![7; 32]));
    assert_eq!(stored(&db, "initiator-1b").await, Some(vec![8; 32]));
    // Erasure still works on a key written by the append.
    let vault = Vault::open(db.url()).await.unwrap();
    assert!(vault.destroy_key("initiator-1").await.unwrap());
    assert_eq!(stored(&db, "initiator-1").await, None);
}

async fn a_refused_append_writes_no_key(db: TestDatabase) {
    let store = open(&db).await;
    store
        .append(crate::common::append_of(vec![event(
            "initiative-1",
            "Noted",
            &["wijk:A"],
            json!({}),
        )]))
        .await
        .unwrap();
    // Refused by its DCB condition (an event with the tag came after position 0).
    let mut conditional = with_keys(note("initiative-2", 1), vec![key("initiator-2", 1)]);
    conditional.condition = Some(AppendCondition {
        fail_if_events_match: Query::any_tag(["wijk:A"]),
        after: Position::START,
    });
    let refused = store.append(conditional).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Conflict(Conflict::ConditionFailed { .. }))
        ),
        "{refused:?}"
    );
    // Refused by its expected version.
    let mut versioned = with_keys(note("initiative-1", 2), vec![key("initiator-3", 1)]);
    versioned.expected_versions = vec![(stream("initiative-1"), ExpectedVersion::NoStream)];
    let refused = store.append(versioned).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    assert_eq!(stored(&db, "initiator-2").await, None);
    assert_eq!(stored(&db, "initiator-3").await, None);
    assert_eq!(all_events(&store).await.len(), 1);
}

async fn a_retry_writes_no_second_key(db: TestDatabase) {
    let store = open(&db).await;
    let mut first = with_keys(note("initiative-1", 1), vec![key("initiator-first", 1)]);
    first.idempotency_key = Some("submit-1".into());
    let first = store.append(first).await.unwrap();
    let mut retry = with_keys(note("initiative-1", 1), vec![key("initiator-retry", 2)]);
    retry.idempotency_key = Some("submit-1".into());
    let retry = store.append(retry).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.first_position, first.first_position);
    assert_eq!(stored(&db, "initiator-first").await, Some(vec![1; 32]));
    assert_eq!(stored(&db, "initiator-retry").await, None);
}

/// A commit the database refuses (a deferred check planted for the test) stands in for a
/// crash between writing the events and committing: neither the events nor the key remain,
/// while the appends sharing its batch keep theirs.
async fn a_failed_commit_writes_neither_key_nor_events(db: TestDatabase) {
    const THREADS: usize = 8;
    const POISONED: usize = 3;
    let store = open(&db).await;
    plant_poison(&db, &store).await;
    let handle = Handle::current();
    let results = in_rounds(THREADS, 1, |thread, _, barrier| {
        let mut request = with_keys(
            note(&format!("initiative-{thread}"), 0),
            vec![key(&format!("initiator-{thread}"), thread as u8 + 1)],
        );
        if thread == POISONED {
            request
                .events
                .push(event("elsewhere", "Noted", &[], json!({ "poison": true })));
        }
        barrier.wait();
        handle.block_on(store.append(request))
    });
    for (thread, result) in results[0].iter().enumerate() {
        let key_id = format!("initiator-{thread}");
        if thread == POISONED {
            assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
            assert_eq!(
                stored(&db, &key_id).await,
                None,
                "no key without its events"
            );
        } else {
            assert!(result.is_ok(), "thread {thread}: {result:?}");
            assert_eq!(stored(&db, &key_id).await, Some(vec![thread as u8 + 1; 32]));
        }
    }
    let log = all_events(&store).await;
    assert_eq!(log.len(), THREADS - 1, "no events without their key");
}

async fn an_existing_key_id_fails_the_append(db: TestDatabase) {
    let store = open(&db).await;
    store
        .append(with_keys(
            note("initiative-1", 1),
            vec![key("initiator-1", 1)],
        ))
        .await
        .unwrap();
    let again = store
        .append(with_keys(
            note("initiative-2", 1),
            vec![key("initiator-1", 2)],
        ))
        .await;
    assert!(matches!(again, Err(StoreError::Database(_))), "{again:?}");
    assert_eq!(
        stored(&db, "initiator-1").await,
        Some(vec![1; 32]),
        "never replaced"
    );
    assert_eq!(all_events(&store).await.len(), 1, "nor recorded its events");
    still_works(&store).await;
}

async fn malformed_keys_are_refused_up_front(db: TestDatabase) {
    let store = open(&db).await;
    let malformed = [
        vec![key("", 1)],
        vec![key("a\nb", 1)],
        vec![key(&"k".repeat(201), 1)],
        vec![SubjectKey {
            id: "empty".into(),
            key: Vec::new(),
        }],
        vec![SubjectKey {
            id: "huge".into(),
            key: vec![0; SubjectKey::MAX_LEN + 1],
        }],
        vec![key("twice", 1), key("twice", 2)],
    ];
    for keys in malformed {
        let result = store.append(with_keys(note("s", 1), keys)).await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "{result:?}"
        );
    }
    assert!(all_events(&store).await.is_empty());
    // The key's bytes never show in its Debug form (appends are logged with it).
    let shown = format!("{:?}", key("visible-id", 0xAB));
    assert!(
        shown.contains("visible-id") && !shown.contains("171"),
        "{shown}"
    );
}

async fn still_works(store: &EventStore) {
    store
        .append(with_keys(note("after", 0), vec![key("after", 9)]))
        .await
        .expect("the store still works");
}
