//! What only PostgreSQL has: concurrent transactions that could commit out of position order,
//! connections that can be killed from the outside, and a server that can be unreachable.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use wijkpuls_event_store::testing::{TestDatabase, TEST_DATABASE_URL};
use wijkpuls_event_store::{
    AppendOutcome, AppendRequest, EventStore, Position, StoreError, StoreOptions, APPEND_LOCK,
};

use crate::common::{assert_no_event, next_event, note, open, options};
use crate::subscribe::watch_positions;

/// Opens a transaction on `conn` that holds the writers' position lock, as a writer does from
/// taking its positions until it commits.
async fn begin_holding_append_lock(conn: &mut PgConnection) {
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// Inserts event `position` by hand on `conn`, the way the writer does (without a NOTIFY).
async fn insert_by_hand(conn: &mut PgConnection, position: i64, stream: &str) {
    sqlx::query(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version,
                             tags, payload, metadata, recorded_at)
         VALUES ($1, $2, 1, 'Held', 1, '{}', '{\"by\": \"hand\"}',
                 '{\"actor\": \"raw\", \"role\": \"test\"}', now())",
    )
    .bind(position)
    .bind(stream)
    .execute(conn)
    .await
    .unwrap();
}

/// Guarantee 3, deterministically. A writer that has taken its position holds its transaction
/// open; a second writer appends meanwhile; the first commits last.
///
/// With positions from a plain BIGSERIAL and no lock, the second writer would take position 2
/// without waiting and commit first. A subscriber would deliver 2 and move past 1, and a reader
/// would first see {2} and later {1, 2}: position 1 "appears" below one already returned and
/// the subscriber never delivers it. The store instead takes `APPEND_LOCK` before reading the
/// head and holds it to commit, so the second append waits and gets position 2 only after 1
/// is visible. (Without the lock in this store's writer, it would plan position 1 as well and
/// fail on the primary key once the held transaction commits.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_commit_is_neither_skipped_nor_seen_below() {
    let Some(db) = TestDatabase::postgres("postgres_only::out_of_order_commit").await else {
        return;
    };
    let store = open(&db).await;
    let mut subscription = store.subscribe(Position::START);
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(watch_positions(store.clone(), done.clone()));

    let mut held = PgConnection::connect(db.url()).await.unwrap();
    begin_holding_append_lock(&mut held).await;
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(&mut held)
        .await
        .unwrap();
    assert_eq!(head, 0);
    insert_by_hand(&mut held, head + 1, "held").await;

    let second = tokio::spawn({
        let store = store.clone();
        async move { store.append(note("second", 2)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second append must wait for the held one"
    );
    assert_eq!(store.head_position().await.unwrap(), Position::START);
    assert!(store
        .read_batch(Position::START, 10)
        .await
        .unwrap()
        .is_empty());
    assert_no_event(&mut subscription, Duration::from_millis(1)).await;

    sqlx::query("COMMIT").execute(&mut held).await.unwrap();
    let outcome = second
        .await
        .unwrap()
        .expect("the second append commits after the first");
    assert_eq!(outcome.first_position, Position(2));
    let first = next_event(&mut subscription).await;
    assert_eq!(
        (first.position, first.payload),
        (Position(1), json!({ "by": "hand" }))
    );
    let second = next_event(&mut subscription).await;
    assert_eq!(
        (second.position, second.payload),
        (Position(2), json!({ "n": 2 }))
    );

    // A commit nobody announces (no NOTIFY, not this process) still arrives: the poll finds it.
    begin_holding_append_lock(&mut held).await;
    insert_by_hand(&mut held, 3, "unannounced").await;
    sqlx::query("COMMIT").execute(&mut held).await.unwrap();
    assert_eq!(next_event(&mut subscription).await.position, Position(3));

    done.store(true, Ordering::Release);
    let reads = reader.await.unwrap().expect("the reader's reads succeed");
    assert!(reads > 0);
    held.close().await.unwrap();
}

/// Appends with an idempotency key, retrying while the database is unavailable: a retry of an
/// append that did commit before its acknowledgement was lost returns the first result.
async fn append_retrying(
    store: &EventStore,
    mut request: AppendRequest,
    key: String,
) -> AppendOutcome {
    request.idempotency_key = Some(key);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.append(request.clone()).await {
            Ok(outcome) => return outcome,
            Err(StoreError::Unavailable(error)) if Instant::now() < deadline => {
                eprintln!("append unavailable, retrying: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("append failed: {error:?}"),
        }
    }
}

async fn terminate_other_connections(db: &TestDatabase) -> usize {
    let mut admin = PgConnection::connect(db.url()).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    killed.into_iter().filter(|k| *k).count()
}

/// Guarantee 6 across lost connections: every connection of both stores (pools and listeners)
/// is terminated twice while one store appends and subscribers on both follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_reconnect_and_catch_up_without_loss_or_repeats() {
    const EVENTS: u64 = 200;
    let Some(db) = TestDatabase::postgres("postgres_only::killed_connections").await else {
        return;
    };
    let (writer, follower) = (open(&db).await, open(&db).await);
    let mut remote = follower.subscribe(Position::START);
    let mut local = writer.subscribe(Position::START);
    let appends = tokio::spawn({
        let writer = writer.clone();
        async move {
            for n in 0..EVENTS {
                let outcome = append_retrying(&writer, note("s", n), format!("append-{n}")).await;
                assert_eq!(outcome.first_position, Position(n + 1));
            }
        }
    });
    for expected in 1..=EVENTS {
        let event = next_event(&mut remote).await;
        assert_eq!(event.position, Position(expected));
        assert_eq!(event.payload, json!({ "n": expected - 1 }));
        assert_eq!(next_event(&mut local).await.position, Position(expected));
        if expected == 50 || expected == 120 {
            let killed = terminate_other_connections(&db).await;
            // At least the writer's pool connection and both listeners.
            assert!(killed >= 3, "terminated {killed} connections");
        }
    }
    appends.await.unwrap();
    assert_no_event(&mut remote, Duration::from_millis(200)).await;
    assert_no_event(&mut local, Duration::from_millis(10)).await;
    assert_eq!(follower.head_position().await.unwrap(), Position(EVENTS));
}

/// A store whose database is dropped under it answers with errors — never a panic, never a
/// hang — and its subscription waits instead of ending or inventing events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_database_gives_errors_not_panics() {
    let Some(db) = TestDatabase::postgres("postgres_only::dropped_database").await else {
        return;
    };
    let store = open(&db).await;
    store.append(note("s", 0)).await.unwrap();
    let mut subscription = store.subscribe(Position::START);
    assert_eq!(next_event(&mut subscription).await.position, Position(1));

    let options = PgConnectOptions::from_str(db.url()).unwrap();
    let name = options.get_database().unwrap().to_owned();
    let server = std::env::var(TEST_DATABASE_URL).unwrap();
    let mut admin = PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();

    let gone = |what: &str, error: StoreError| {
        assert!(
            matches!(error, StoreError::Unavailable(_) | StoreError::Database(_)),
            "{what}: {error:?}"
        );
    };
    gone("append", store.append(note("s", 1)).await.unwrap_err());
    gone(
        "append again",
        store.append(note("s", 1)).await.unwrap_err(),
    );
    gone("head", store.head_position().await.unwrap_err());
    gone(
        "read",
        store.read_batch(Position::START, 10).await.unwrap_err(),
    );
    gone(
        "read stream",
        store
            .read_stream(&crate::common::stream("s"))
            .await
            .unwrap_err(),
    );
    gone(
        "open",
        EventStore::open(db.url(), options_for_gone())
            .await
            .err()
            .unwrap(),
    );
    assert_no_event(&mut subscription, Duration::from_millis(300)).await;
}

fn options_for_gone() -> StoreOptions {
    options()
}

/// Connection refused (nothing listens on the port): `Unavailable`, after the pool's wait for
/// a server that may be starting up.
#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/wijkpuls");
    match EventStore::open(&url, options()).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {:?}", other.err()),
    }
    // No server at a socket path at all: the same, at once.
    let url = "postgres://postgres@localhost/wijkpuls?host=/nonexistent-wijkpuls-socket-dir";
    match EventStore::open(url, options()).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {:?}", other.err()),
    }
}
