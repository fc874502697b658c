//! What only SQLite has: a database file that another process can lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{StoreError, StoreOptions};

use crate::common::{all_events, note, open_with, options, positions};

/// Another process holding the write lock longer than the store's `lock_timeout`: the append
/// fails as unavailable (the caller may retry) and records nothing; once the lock is released,
/// the store works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_is_unavailable_and_changes_nothing() {
    let db = TestDatabase::sqlite();
    let store = open_with(
        &db,
        StoreOptions {
            lock_timeout: Duration::from_millis(200),
            ..options()
        },
    )
    .await;
    store.append(note("s", 0)).await.unwrap();

    let mut other = SqliteConnection::connect(db.url()).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    match store.append(note("s", 1)).await {
        Err(StoreError::Unavailable(_)) => {}
        result => panic!("expected Unavailable while the database is locked, got {result:?}"),
    }
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(positions(&all_events(&store).await), [1]);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    store
        .append(note("s", 1))
        .await
        .expect("the store works once the lock is released");
    assert_eq!(positions(&all_events(&store).await), [1, 2]);
}

/// Reads go through sqlx: its SQLite "database is locked" means unavailable too, and other
/// SQLite errors stay database errors.
#[tokio::test]
async fn sqlx_lock_errors_count_as_unavailable() {
    let db = TestDatabase::sqlite();
    drop(open_with(&db, options()).await);
    let connect = || async {
        let options = SqliteConnectOptions::from_str(db.url())
            .unwrap()
            .busy_timeout(Duration::ZERO);
        SqliteConnection::connect_with(&options).await.unwrap()
    };
    let (mut holder, mut waiter) = (connect().await, connect().await);
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let locked = sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut waiter)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wijkpuls_event_store::testing::classify(locked),
            StoreError::Unavailable(_)
        ),
        "SQLITE_BUSY"
    );
    let bad = sqlx::query("SELECT * FROM no_such_table")
        .execute(&mut waiter)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wijkpuls_event_store::testing::classify(bad),
            StoreError::Database(_)
        ),
        "no such table"
    );
}
