//! One commit per mutation: a submission's initiator key goes into the vault in the same
//! transaction as its events, so the vault holds exactly the keys of recorded submissions —
//! none for a retry answered with the first result, none for a submission whose commit failed.

use serde_json::{json, Value};
use sqlx::Connection as _;
use wijkpuls_event_store::testing::TestDatabase;

use crate::helpers::*;

app_tests!(
    every_recorded_submission_has_its_key_and_no_other_key_exists,
    a_submission_whose_commit_fails_leaves_neither_key_nor_events,
);

fn submission(title: &str, key: Option<&str>) -> Value {
    json!({ "input": {
        "wijkCode": KLARENDAL,
        "title": title,
        "theme": "GROEN",
        "requestedAmount": "450.00",
        "initiator": { "name": "Sanne Visser", "email": "sanne@example.nl" },
        "idempotencyKey": key,
    }})
}

/// The ids of the keys in the vault, sorted (read from the table itself).
async fn key_ids(db: &TestDatabase) -> Vec<String> {
    let query = "SELECT id FROM subject_keys ORDER BY id";
    if db.url().starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        let ids = sqlx::query_scalar(query)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        ids
    } else {
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let ids = sqlx::query_scalar(query)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        ids
    }
}

async fn every_recorded_submission_has_its_key_and_no_other_key_exists(app: TestApp) {
    const SUBMISSIONS: usize = 12;
    // Each submission sent twice at once with its key, as a client retrying on a timeout.
    let sends = (0..SUBMISSIONS).flat_map(|n| {
        let key = format!("submit-{n}");
        let title = format!("Geveltuin {n}");
        [0, 1].map(move |_| (title.clone(), key.clone()))
    });
    let answers = futures::future::join_all(sends.map(|(title, key)| {
        let app = &app;
        async move { app.data(SUBMIT, submission(&title, Some(&key)), None).await }
    }))
    .await;
    let mut ids: Vec<String> = answers
        .iter()
        .map(|a| {
            a["submitInitiative"]["initiative"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), SUBMISSIONS, "each retry answered with its first");
    let expected: Vec<String> = {
        let mut keys: Vec<String> = ids.iter().map(|id| format!("initiator-{id}")).collect();
        keys.sort();
        keys
    };
    assert_eq!(
        key_ids(&app.db).await,
        expected,
        "one key per recorded submission, none for the retries"
    );
    // The initiator is readable by the authorised role.
    for id in &ids {
        let seen = app
            .data(
                "query($id: ID!) { initiative(id: $id) { initiator { name email } } }",
                json!({ "id": id }),
                Some(&app.admin_token),
            )
            .await;
        assert_eq!(
            seen["initiative"]["initiator"],
            json!({ "name": "Sanne Visser", "email": "sanne@example.nl" })
        );
    }
}

/// A commit the database refuses (a deferred check planted for the test) stands in for a
/// crash between storing the key and the events: after it there is neither.
async fn a_submission_whose_commit_fails_leaves_neither_key_nor_events(app: TestApp) {
    app.submit(KLARENDAL, "GROEN", "100.00").await;
    let keys_before = key_ids(&app.db).await;
    let (events_before, _) = app.head().await;
    plant_poison(&app.db).await;

    let refused = app
        .graphql(SUBMIT, submission("Vergiftigd", None), None)
        .await;
    assert!(
        refused["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{refused}"
    );
    assert_eq!(
        key_ids(&app.db).await,
        keys_before,
        "no key without its events"
    );
    assert_eq!(
        app.head().await.0,
        events_before,
        "no events without their key"
    );

    // Everything else still records, with its key.
    let after = app.submit(KLARENDAL, "GROEN", "100.00").await;
    assert!(key_ids(&app.db)
        .await
        .contains(&format!("initiator-{}", after.id)));
}

/// Makes every commit fail that contains an event whose payload mentions `Vergiftigd`.
async fn plant_poison(db: &TestDatabase) {
    if db.url().starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        for statement in [
            "CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE poison_child (parent INTEGER
                 REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TRIGGER poison AFTER INSERT ON events
                 WHEN NEW.payload LIKE '%Vergiftigd%'
             BEGIN INSERT INTO poison_child (parent) VALUES (NEW.position); END",
        ] {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        for statement in [
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.payload::text LIKE '%Vergiftigd%' THEN
                     RAISE EXCEPTION 'poisoned event at %', NEW.position;
                 END IF;
                 RETURN NULL;
             END $$",
            "CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON events
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison()",
        ] {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }
}
