//! Helpers shared by the suite: fresh databases per backend, stores with test options, and
//! small builders for events and appends.

use std::time::Duration;

use serde_json::{json, Value};
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{
    AppendRequest, EventStore, Metadata, NewEvent, Position, RecordedEvent, StoreOptions, StreamId,
    Subscription,
};

/// Instantiates each listed `async fn(TestDatabase)` of the calling module once per backend, as
/// `sqlite::<name>` and `postgres::<name>`. The database is moved into the test, so it outlives
/// every store the test opens on it (parameters are dropped after the body's locals).
macro_rules! backend_tests {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = crate::common::Backend::Sqlite
                        .database(concat!(module_path!(), "::", stringify!($test)))
                        .await;
                    if let Some(db) = db {
                        super::$test(db).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = crate::common::Backend::Postgres
                        .database(concat!(module_path!(), "::", stringify!($test)))
                        .await;
                    if let Some(db) = db {
                        super::$test(db).await;
                    }
                }
            )+
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A fresh, empty database, or `None` when PostgreSQL is not configured (the skip is
    /// reported by `TestDatabase::postgres`).
    pub async fn database(self, test: &str) -> Option<TestDatabase> {
        match self {
            Backend::Sqlite => Some(TestDatabase::sqlite()),
            Backend::Postgres => TestDatabase::postgres(test).await,
        }
    }

    pub fn of(db: &TestDatabase) -> Backend {
        if db.url().starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

/// Test options: a short poll interval keeps subscriptions that rely on polling (another
/// store's commits on SQLite) quick.
pub fn options() -> StoreOptions {
    StoreOptions {
        poll_interval: Duration::from_millis(50),
        ..StoreOptions::default()
    }
}

pub async fn open(db: &TestDatabase) -> EventStore {
    open_with(db, options()).await
}

pub async fn open_with(db: &TestDatabase, options: StoreOptions) -> EventStore {
    EventStore::open(db.url(), options)
        .await
        .unwrap_or_else(|e| panic!("open the store at {}: {e}", db.url()))
}

pub fn stream(id: &str) -> StreamId {
    StreamId::parse(id).expect("a valid stream id")
}

pub fn event(stream_id: &str, event_type: &str, tags: &[&str], payload: Value) -> NewEvent {
    NewEvent {
        stream_id: stream(stream_id),
        event_type: event_type.to_owned(),
        schema_version: 1,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        payload,
    }
}

pub fn metadata() -> Metadata {
    Metadata {
        actor: "tester".into(),
        role: "admin".into(),
        request_id: None,
        idempotency_key: None,
        occurred_at: None,
    }
}

/// An append of `events` with no expectations.
pub fn append_of(events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        events,
        metadata: metadata(),
        ..AppendRequest::default()
    }
}

/// An append of one `Noted` event numbered `n` to `stream_id`.
pub fn note(stream_id: &str, n: u64) -> AppendRequest {
    append_of(vec![event(stream_id, "Noted", &[], json!({ "n": n }))])
}

/// The whole log, in order.
pub async fn all_events(store: &EventStore) -> Vec<RecordedEvent> {
    use futures::TryStreamExt;
    store
        .read_all(Position::START)
        .try_collect()
        .await
        .expect("read the log")
}

pub fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position.0).collect()
}

/// Waits for the subscription's next event; a subscription that stalls fails the test instead
/// of hanging it.
pub async fn next_event(subscription: &mut Subscription) -> RecordedEvent {
    match tokio::time::timeout(Duration::from_secs(20), subscription.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(error))) => panic!("the subscription failed: {error}"),
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no event arrived within 20 s"),
    }
}

/// Asserts that nothing arrives on the subscription for `wait`.
pub async fn assert_no_event(subscription: &mut Subscription, wait: Duration) {
    if let Ok(next) = tokio::time::timeout(wait, subscription.next()).await {
        panic!("expected no event, got {next:?}");
    }
}
