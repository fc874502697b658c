//! Append-only in the database itself (guarantee 5): even SQL written by hand, past the store,
//! cannot rewrite or remove history.

use serde_json::json;
use sqlx::{Connection, SqliteConnection};
use wijkpuls_event_store::testing::TestDatabase;

use crate::common::{all_events, append_of, event, open, Backend};

backend_tests!(update_and_delete_on_events_fail);

async fn update_and_delete_on_events_fail(db: TestDatabase) {
    let store = open(&db).await;
    store
        .append(append_of(vec![
            event("s", "Noted", &["wijk:1"], json!({ "n": 1 })),
            event("s", "Noted", &[], json!({ "n": 2 })),
        ]))
        .await
        .unwrap();
    let before = all_events(&store).await;

    let statements: &[&str] = match Backend::of(&db) {
        Backend::Sqlite => &[
            "UPDATE events SET payload = '{}'",
            "UPDATE events SET stream_id = 'other' WHERE position = 2",
            "DELETE FROM events",
            "DELETE FROM events WHERE position = 2",
            "UPDATE event_tags SET tag = 'wijk:2'",
            "DELETE FROM event_tags",
        ],
        Backend::Postgres => &[
            "UPDATE events SET payload = '{}'",
            "UPDATE events SET stream_id = 'other' WHERE position = 2",
            "DELETE FROM events",
            "DELETE FROM events WHERE position = 2",
            "TRUNCATE events",
        ],
    };
    for statement in statements {
        let result = match Backend::of(&db) {
            // The store's SQLite pool is read-only; a writable connection of our own shows the
            // database itself refuses.
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(db.url()).await.unwrap();
                let result = sqlx::query(statement).execute(&mut conn).await.map(|_| ());
                conn.close().await.unwrap();
                result
            }
            Backend::Postgres => sqlx::query(statement)
                .execute(store.postgres_pool().unwrap())
                .await
                .map(|_| ()),
        };
        let error = result.expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: refused for another reason: {error}"
        );
    }
    assert_eq!(all_events(&store).await, before);
    store
        .append(append_of(vec![event("s", "Noted", &[], json!({ "n": 3 }))]))
        .await
        .expect("appending still works");
}
