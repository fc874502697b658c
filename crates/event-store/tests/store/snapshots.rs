//! Snapshots of the read model beside the log (`EventStore::save_snapshot` and friends): the
//! bytes come back as saved, only for the fold version asked and only for this log; the newest
//! few are kept; a large one does not hold up appends.

use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{EventStore, Position, StoreError, SNAPSHOT_CHUNK, SNAPSHOT_KEEP};

use crate::common::{append_of, event, note, open, Backend};

backend_tests!(
    a_snapshot_of_five_megabytes_comes_back_as_saved,
    another_fold_version_finds_nothing,
    only_the_newest_three_are_kept,
    a_position_beyond_the_head_is_refused,
    a_snapshot_not_of_this_log_is_never_returned,
    saving_the_same_snapshot_twice_is_harmless,
    an_empty_snapshot_of_the_empty_log,
    deleting_removes_every_snapshot_and_its_bytes,
    appends_go_on_while_a_large_snapshot_is_saved,
);

/// `n` bytes that are not all alike, and differ with `seed`.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

async fn append_notes(store: &EventStore, n: u64) {
    for i in 0..n {
        store.append(note("s", i)).await.unwrap();
    }
}

/// Rows in `snapshot_chunks`: what the bytes of all snapshots, kept or not yet removed, take.
async fn chunk_rows(store: &EventStore) -> i64 {
    let sql = "SELECT COUNT(*) FROM snapshot_chunks";
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        (_, Some(pool)) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        _ => unreachable!(),
    }
}

async fn a_snapshot_of_five_megabytes_comes_back_as_saved(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 3).await;
    // Not a whole number of chunks, so the last one is short.
    let saved = bytes(5 * SNAPSHOT_CHUNK + 12_345, 1);
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    store.save_snapshot(3, 7, &saved).await.unwrap();

    let loaded = store
        .latest_snapshot(7)
        .await
        .unwrap()
        .expect("the snapshot");
    assert_eq!(loaded.position, 3);
    assert_eq!(loaded.fold_version, 7);
    assert!(loaded.created_at > before, "{:?}", loaded.created_at);
    assert!(loaded.bytes == saved, "the bytes come back exactly");
    assert_eq!(chunk_rows(&store).await, 6);
    let listed = store.snapshots().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].position, listed[0].fold_version, listed[0].len),
        (3, 7, saved.len() as u64)
    );
    assert_eq!(listed[0].created_at, loaded.created_at);

    // A store opened afresh finds it too, and the log's chain does not see the snapshot.
    drop(store);
    let store = open(&db).await;
    assert!(store.latest_snapshot(7).await.unwrap().unwrap().bytes == saved);
    let report = store.verify_chain(|_| {}).await.unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.events, 3);
}

async fn another_fold_version_finds_nothing(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 2).await;
    store.save_snapshot(2, 1, b"version one").await.unwrap();
    assert!(store.latest_snapshot(2).await.unwrap().is_none());
    assert!(store.latest_snapshot(0).await.unwrap().is_none());
    // Every u64 is a version of its own, the largest included (stored in a signed column).
    store.save_snapshot(2, u64::MAX, b"max").await.unwrap();
    let max = store.latest_snapshot(u64::MAX).await.unwrap().unwrap();
    assert_eq!(
        (max.fold_version, max.bytes.as_slice()),
        (u64::MAX, &b"max"[..])
    );
    assert!(store.latest_snapshot(u64::MAX - 1).await.unwrap().is_none());
    assert!(store
        .latest_snapshot(i64::MAX as u64)
        .await
        .unwrap()
        .is_none());
    let one = store.latest_snapshot(1).await.unwrap().unwrap();
    assert_eq!(one.bytes, b"version one");
}

async fn only_the_newest_three_are_kept(db: TestDatabase) {
    assert_eq!(SNAPSHOT_KEEP, 3);
    let store = open(&db).await;
    append_notes(&store, 5).await;
    for position in 1..=4 {
        let size = SNAPSHOT_CHUNK + 1; // two chunks each
        store
            .save_snapshot(position, 1, &bytes(size, position))
            .await
            .unwrap();
    }
    // Another fold version counts towards the three as well.
    store.save_snapshot(5, 2, b"new code").await.unwrap();
    let kept: Vec<(u64, u64)> = store
        .snapshots()
        .await
        .unwrap()
        .iter()
        .map(|s| (s.position, s.fold_version))
        .collect();
    assert_eq!(kept, [(5, 2), (4, 1), (3, 1)], "newest first");
    assert_eq!(
        chunk_rows(&store).await,
        2 + 2 + 1,
        "the bytes of deleted snapshots are gone too"
    );
    let latest = store.latest_snapshot(1).await.unwrap().unwrap();
    assert_eq!(latest.position, 4, "the highest position of the version");
    assert!(latest.bytes == bytes(SNAPSHOT_CHUNK + 1, 4));
}

async fn a_position_beyond_the_head_is_refused(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 2).await;
    match store.save_snapshot(3, 1, b"from the future").await {
        Err(StoreError::SnapshotBeyondHead { position, head }) => {
            assert_eq!((position, head), (Position(3), Position(2)));
        }
        other => panic!("expected SnapshotBeyondHead, got {other:?}"),
    }
    assert!(matches!(
        store.save_snapshot(u64::MAX, 1, b"x").await,
        Err(StoreError::SnapshotBeyondHead { .. })
    ));
    assert!(store.snapshots().await.unwrap().is_empty());
    assert_eq!(chunk_rows(&store).await, 0);
    // The refused save left nothing claimed: the same position can be saved once reached.
    append_notes(&store, 1).await;
    store.save_snapshot(3, 1, b"now").await.unwrap();
    assert_eq!(
        store.latest_snapshot(1).await.unwrap().unwrap().bytes,
        b"now"
    );
}

/// Writes a snapshot row and its one chunk by hand, as a restore of only part of the database
/// (or a snapshot table from another database) would leave it.
async fn insert_by_hand(db: &TestDatabase, position: i64, event_hash: Option<Vec<u8>>) {
    let statements = [
        "INSERT INTO snapshots (fold_version, position, event_hash, len, created_at, complete) \
         VALUES (1, $1, $2, 5, $3, $4)",
        "INSERT INTO snapshot_chunks (fold_version, position, seq, bytes) \
         VALUES (1, $1, 0, $2)",
    ];
    match Backend::of(db) {
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query(statements[0])
                .bind(position)
                .bind(event_hash)
                .bind(chrono::Utc::now().to_rfc3339())
                .bind(1)
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(statements[1])
                .bind(position)
                .bind(&b"stale"[..])
                .execute(&mut conn)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query(statements[0])
                .bind(position)
                .bind(event_hash)
                .bind(chrono::Utc::now())
                .bind(true)
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(statements[1])
                .bind(position)
                .bind(&b"stale"[..])
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// A snapshot beyond the head (the log was restored from an older backup, the snapshots were
/// not) is never returned: not while the log is shorter, and not once the log has grown past
/// it with other events.
async fn a_snapshot_not_of_this_log_is_never_returned(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 3).await;
    store.save_snapshot(2, 1, b"honest").await.unwrap();
    insert_by_hand(&db, 5, Some(vec![7; 32])).await;
    let latest = store.latest_snapshot(1).await.unwrap().unwrap();
    assert_eq!(
        (latest.position, latest.bytes.as_slice()),
        (2, &b"honest"[..]),
        "the one beyond the head is passed over"
    );
    append_notes(&store, 3).await;
    let latest = store.latest_snapshot(1).await.unwrap().unwrap();
    assert_eq!(
        latest.position, 2,
        "position 5 now exists, but it is another event than the snapshot was folded up to"
    );
    // A snapshot that matches the event at its position is trusted, as one saved here is.
    store.save_snapshot(6, 1, b"newest").await.unwrap();
    assert_eq!(
        store.latest_snapshot(1).await.unwrap().unwrap().bytes,
        b"newest"
    );
}

async fn saving_the_same_snapshot_twice_is_harmless(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 4).await;
    let first = bytes(SNAPSHOT_CHUNK * 2, 1);
    store.save_snapshot(4, 3, &first).await.unwrap();
    store
        .save_snapshot(4, 3, &bytes(100, 2))
        .await
        .expect("saving it again is no error");
    // Several instances at once, as on PostgreSQL.
    let (a, b) = tokio::join!(
        store.save_snapshot(4, 3, &first),
        store.save_snapshot(4, 3, &first)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(store.snapshots().await.unwrap().len(), 1);
    assert!(store.latest_snapshot(3).await.unwrap().unwrap().bytes == first);
    assert_eq!(chunk_rows(&store).await, 2);
}

async fn an_empty_snapshot_of_the_empty_log(db: TestDatabase) {
    let store = open(&db).await;
    assert!(store.latest_snapshot(1).await.unwrap().is_none());
    store.save_snapshot(0, 1, b"").await.unwrap();
    let empty = store.latest_snapshot(1).await.unwrap().unwrap();
    assert_eq!((empty.position, empty.bytes.len()), (0, 0));
    assert_eq!(store.snapshots().await.unwrap()[0].len, 0);
}

async fn deleting_removes_every_snapshot_and_its_bytes(db: TestDatabase) {
    let store = open(&db).await;
    assert_eq!(store.delete_snapshots().await.unwrap(), 0);
    append_notes(&store, 2).await;
    store
        .save_snapshot(1, 1, &bytes(SNAPSHOT_CHUNK * 3, 1))
        .await
        .unwrap();
    store.save_snapshot(2, 1, b"small").await.unwrap();
    assert_eq!(store.delete_snapshots().await.unwrap(), 2);
    assert!(store.snapshots().await.unwrap().is_empty());
    assert!(store.latest_snapshot(1).await.unwrap().is_none());
    assert_eq!(chunk_rows(&store).await, 0);
    // The log is untouched, and saving works again.
    assert_eq!(store.head_position().await.unwrap(), Position(2));
    store.save_snapshot(2, 1, b"again").await.unwrap();
    assert_eq!(
        store.latest_snapshot(1).await.unwrap().unwrap().bytes,
        b"again"
    );
}

/// A large snapshot being saved does not hold appends up until it is done: appends made while
/// it is being written complete before it does. (On SQLite its chunks take turns with the
/// writer's batches; without that an append would wait for the whole snapshot.)
async fn appends_go_on_while_a_large_snapshot_is_saved(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 1).await;
    let size = 64 * SNAPSHOT_CHUNK;
    let saved = bytes(size, 9);
    let saving = tokio::spawn({
        let store = store.clone();
        let saved = saved.clone();
        async move { store.save_snapshot(1, 1, &saved).await }
    });
    // Wait until its bytes are being written (on PostgreSQL they are not visible before the
    // commit: there it is enough that the save has begun).
    if Backend::of(&db) == Backend::Sqlite {
        let pool = store.sqlite_pool().unwrap().clone();
        loop {
            let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM snapshot_chunks")
                .fetch_one(&pool)
                .await
                .unwrap();
            if written > 0 {
                break;
            }
            assert!(
                !saving.is_finished(),
                "the save ended before it wrote: {saving:?}"
            );
            tokio::task::yield_now().await;
        }
    }
    for i in 0..3 {
        store
            .append(append_of(vec![event("t", "Noted", &[], json!({ "i": i }))]))
            .await
            .unwrap();
    }
    if Backend::of(&db) == Backend::Sqlite {
        assert!(
            !saving.is_finished() && store.snapshots().await.unwrap().is_empty(),
            "three appends waited for the whole snapshot of {size} bytes"
        );
    }
    saving.await.unwrap().unwrap();
    assert_eq!(store.head_position().await.unwrap(), Position(4));
    assert!(store.latest_snapshot(1).await.unwrap().unwrap().bytes == saved);
}

/// Not a test: a measurement, printed, of how long appends take on SQLite while a 100 MiB
/// snapshot is saved, against appends alone in the same run. Run it with `cargo test --release
/// -p wijkpuls-event-store --test store -- --ignored --nocapture measure_append_latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn measure_append_latency_during_save() {
    for round in 0..2 {
        let db = TestDatabase::sqlite();
        let store = open(&db).await;
        append_notes(&store, 1).await;
        // The baseline: appends alone.
        let mut alone = Vec::new();
        for i in 0..50 {
            let t = std::time::Instant::now();
            store.append(note("b", i)).await.unwrap();
            alone.push(t.elapsed());
        }
        let saved = bytes(100 * SNAPSHOT_CHUNK, 3);
        let t0 = std::time::Instant::now();
        let saving = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .save_snapshot(1, 1, &saved)
                    .await
                    .map(|_| t0.elapsed())
            }
        });
        let mut during = Vec::new();
        while !saving.is_finished() {
            let t = std::time::Instant::now();
            store.append(note("d", during.len() as u64)).await.unwrap();
            during.push(t.elapsed());
        }
        let took = saving.await.unwrap().unwrap();
        alone.sort();
        during.sort();
        let p = |v: &Vec<std::time::Duration>, q: f64| v[((v.len() - 1) as f64 * q) as usize];
        println!(
            "round {round}: save of 100 MiB took {took:?}; appends alone p50 {:?} max {:?}; during the save n={} p50 {:?} p99 {:?} max {:?}",
            p(&alone, 0.5), p(&alone, 1.0), during.len(), p(&during, 0.5), p(&during, 0.99), p(&during, 1.0)
        );
    }
}
