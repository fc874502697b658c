//! Closing a store: a handle closed while others are open leaves them working; closing the last
//! one lets the writer finish and releases the database.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use wijkpuls_event_store::testing::{TestDatabase, TEST_DATABASE_URL};

use crate::common::{all_events, note, open, positions, Backend};

backend_tests!(closing_one_handle_leaves_the_others_working_and_the_last_closes_the_store);

async fn closing_one_handle_leaves_the_others_working_and_the_last_closes_the_store(
    db: TestDatabase,
) {
    let store = open(&db).await;
    let other = store.clone();
    store.append(note("s", 0)).await.unwrap();
    assert!(!store.close().await, "another handle is still open");
    other
        .append(note("s", 1))
        .await
        .expect("the other handle still appends");
    assert_eq!(positions(&all_events(&other).await), [1, 2]);

    assert!(other.close().await, "the last handle closes the store");
    if Backend::of(&db) == Backend::Postgres {
        assert_eventually_no_connections(&db).await;
    }
    let reopened = open(&db).await;
    reopened.append(note("s", 2)).await.unwrap();
    assert_eq!(positions(&all_events(&reopened).await), [1, 2, 3]);
}

/// The test database's server-side sessions end (the server notices a closed connection after
/// a moment, so this waits up to 10 s).
async fn assert_eventually_no_connections(db: &TestDatabase) {
    let path = db.url().rsplit('/').next().unwrap();
    let database = path.split('?').next().unwrap().to_owned();
    let admin_url = std::env::var(TEST_DATABASE_URL).unwrap();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sessions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(&database)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        if sessions == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sessions} sessions still open on {database} after the last handle was closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
