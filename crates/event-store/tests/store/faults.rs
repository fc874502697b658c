//! A commit the database refuses (here: a deferred check planted for the test, standing in for
//! a full disk or a failing constraint) fails only the append that caused it, records nothing
//! of it, and leaves the store working — also when the append shared its batch with others.

use serde_json::json;
use sqlx::{Connection, SqliteConnection};
use tokio::runtime::Handle;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::StoreError;

use crate::common::{all_events, event, note, open, Backend};
use crate::concurrency::in_rounds;

backend_tests!(a_refused_commit_fails_only_its_own_append);

/// Makes every commit fail that contains an event whose payload has a `poison` field.
pub(crate) async fn plant_poison(db: &TestDatabase, store: &wijkpuls_event_store::EventStore) {
    match Backend::of(db) {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(db.url()).await.unwrap();
            for statement in [
                "CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)",
                "CREATE TABLE poison_child (parent INTEGER
                     REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)",
                "CREATE TRIGGER poison AFTER INSERT ON events
                     WHEN json_extract(NEW.payload, '$.poison') IS NOT NULL
                 BEGIN INSERT INTO poison_child (parent) VALUES (NEW.position); END",
            ] {
                sqlx::query(statement).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        }
        Backend::Postgres => {
            let pool = store.postgres_pool().unwrap();
            for statement in [
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.payload ? 'poison' THEN
                         RAISE EXCEPTION 'poisoned event at %', NEW.position;
                     END IF;
                     RETURN NULL;
                 END $$",
                "CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON events
                     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison()",
            ] {
                sqlx::query(statement).execute(pool).await.unwrap();
            }
        }
    }
}

async fn a_refused_commit_fails_only_its_own_append(db: TestDatabase) {
    const THREADS: usize = 16;
    const POISONED: usize = 5;
    const ROUNDS: usize = 5;
    let store = open(&db).await;
    plant_poison(&db, &store).await;
    let handle = Handle::current();
    let rounds = in_rounds(THREADS, ROUNDS, |thread, round, barrier| {
        let mut request = note(&format!("thread-{thread}"), round as u64);
        if thread == POISONED {
            // Its first event is fine: the append fails, or is recorded, as a whole.
            request
                .events
                .push(event("elsewhere", "Noted", &[], json!({ "poison": true })));
        }
        barrier.wait();
        handle.block_on(store.append(request))
    });
    for (round, results) in rounds.iter().enumerate() {
        for (thread, result) in results.iter().enumerate() {
            match result {
                Err(StoreError::Database(_)) if thread == POISONED => {}
                Ok(_) if thread != POISONED => {}
                other => panic!("round {round}, thread {thread}: {other:?}"),
            }
        }
    }
    let log = all_events(&store).await;
    assert_eq!(
        log.len(),
        (THREADS - 1) * ROUNDS,
        "the poisoned appends left nothing behind"
    );
    assert!(log.iter().all(|e| e.payload.get("poison").is_none()));
    assert!(log
        .iter()
        .enumerate()
        .all(|(i, e)| e.position.0 == i as u64 + 1));
    store
        .append(note("after", 0))
        .await
        .expect("the store still works");
}
