//! Snapshots of the read model beside the log (`EventStore::save_snapshot` and friends): the
//! bytes come back as saved, only for the fold version asked and only for this log; the newest
//! few are kept; a large one does not hold up appends.

use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{
    EventStore, Position, SnapshotPiece, SnapshotRead, StoreError, SNAPSHOT_CHUNK, SNAPSHOT_KEEP,
};

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
    streaming_hands_on_the_same_bytes_chunk_by_chunk,
    streaming_finds_a_missing_chunk_or_a_wrong_length,
    a_sink_that_stops_stops_the_reading,
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

/// Reads the newest snapshot of `fold_version` through a channel of `capacity` pieces: the
/// outcome, and the pieces in the order they came.
async fn stream(
    store: &EventStore,
    fold_version: u64,
    capacity: usize,
) -> (SnapshotRead, Vec<SnapshotPiece>) {
    let (sink, mut pieces) = tokio::sync::mpsc::channel(capacity);
    let collect = async {
        let mut got = Vec::new();
        while let Some(piece) = pieces.recv().await {
            got.push(piece);
        }
        got
    };
    let (read, got) = tokio::join!(store.read_latest_snapshot(fold_version, sink), collect);
    (read.unwrap(), got)
}

/// The bytes of the chunks among `pieces`, after one `Found` first.
fn chunks(pieces: &[SnapshotPiece]) -> Vec<&[u8]> {
    assert!(
        matches!(pieces.first(), Some(SnapshotPiece::Found(_))),
        "{pieces:?}"
    );
    pieces[1..]
        .iter()
        .map(|piece| match piece {
            SnapshotPiece::Chunk(bytes) => bytes.as_slice(),
            SnapshotPiece::Found(_) => panic!("found twice: {pieces:?}"),
        })
        .collect()
}

/// The streaming read hands on what `latest_snapshot` returns: the snapshot's description
/// first, then its bytes chunk by chunk, in order, no chunk larger than stored; and it reads on
/// only as fast as its sink takes them.
async fn streaming_hands_on_the_same_bytes_chunk_by_chunk(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 3).await;
    let saved = bytes(4 * SNAPSHOT_CHUNK + 777, 5);
    store.save_snapshot(2, 7, b"older").await.unwrap();
    store.save_snapshot(3, 7, &saved).await.unwrap();
    let latest = store.latest_snapshot(7).await.unwrap().unwrap();

    let (read, pieces) = stream(&store, 7, 1).await;
    let SnapshotRead::Whole(found) = read else {
        panic!("expected the whole snapshot, got {read:?}");
    };
    assert_eq!(
        (found.position, found.fold_version, found.len),
        (3, 7, saved.len() as u64)
    );
    assert_eq!(found.created_at, latest.created_at);
    assert!(matches!(&pieces[0], SnapshotPiece::Found(first) if *first == found));
    let handed = chunks(&pieces);
    assert_eq!(handed.len(), 5);
    assert!(handed.iter().all(|chunk| chunk.len() <= SNAPSHOT_CHUNK));
    assert!(handed.concat() == latest.bytes, "the same bytes, in order");
    assert!(latest.bytes == saved);

    // Nothing of another version; an empty snapshot is whole with no chunk.
    let (read, pieces) = stream(&store, 8, 1).await;
    assert_eq!(read, SnapshotRead::NotFound);
    assert!(pieces.is_empty());
    store.save_snapshot(3, 9, b"").await.unwrap();
    let (read, pieces) = stream(&store, 9, 1).await;
    assert!(
        matches!(read, SnapshotRead::Whole(ref f) if f.len == 0),
        "{read:?}"
    );
    assert!(chunks(&pieces).is_empty());

    // A sink that takes nothing after the first chunk holds the reading there.
    let (sink, mut pieces) = tokio::sync::mpsc::channel(1);
    let reading = tokio::spawn({
        let store = store.clone();
        async move { store.read_latest_snapshot(7, sink).await }
    });
    assert!(matches!(pieces.recv().await, Some(SnapshotPiece::Found(_))));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reading.is_finished(), "the reading waits for its sink");
    let mut got = Vec::new();
    while let Some(piece) = pieces.recv().await {
        match piece {
            SnapshotPiece::Chunk(bytes) => got.extend_from_slice(&bytes),
            SnapshotPiece::Found(_) => panic!("found twice"),
        }
    }
    assert!(matches!(
        reading.await.unwrap().unwrap(),
        SnapshotRead::Whole(_)
    ));
    assert!(got == saved);
}

/// Deletes chunk `seq` of the snapshot (fold version 1, `position`) by hand, or, with
/// `replace`, replaces its bytes with that many.
async fn alter_chunk(db: &TestDatabase, position: i64, seq: i64, replace: Option<usize>) {
    use sqlx::Connection;
    let (sql, bytes) = match replace {
        None => (
            "DELETE FROM snapshot_chunks WHERE fold_version = 1 AND position = $1 AND seq = $2",
            None,
        ),
        Some(n) => (
            "UPDATE snapshot_chunks SET bytes = $3 \
             WHERE fold_version = 1 AND position = $1 AND seq = $2",
            Some(vec![1u8; n]),
        ),
    };
    match Backend::of(db) {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            let mut query = sqlx::query(sql).bind(position).bind(seq);
            if let Some(bytes) = bytes {
                query = query.bind(bytes);
            }
            assert_eq!(query.execute(&mut conn).await.unwrap().rows_affected(), 1);
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            let mut query = sqlx::query(sql).bind(position).bind(seq as i32);
            if let Some(bytes) = bytes {
                query = query.bind(bytes);
            }
            assert_eq!(query.execute(&mut conn).await.unwrap().rows_affected(), 1);
        }
    }
}

/// A snapshot whose chunks were deleted or altered by hand is reported damaged by the
/// streaming read, even when part of it was handed on already (and `latest_snapshot` returns
/// none). The reading stops at a missing chunk: nothing after it is handed on.
async fn streaming_finds_a_missing_chunk_or_a_wrong_length(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 3).await;
    for position in 1..=3 {
        store
            .save_snapshot(position, 1, &bytes(3 * SNAPSHOT_CHUNK + 10, position))
            .await
            .unwrap();
    }
    // Position 3: its second chunk deleted.
    alter_chunk(&db, 3, 1, None).await;
    let (read, pieces) = stream(&store, 1, 4).await;
    match read {
        SnapshotRead::Damaged { snapshot, reason } => {
            assert_eq!(snapshot.position, 3);
            assert!(reason.contains("chunk 1 is missing"), "{reason}");
        }
        other => panic!("expected a damaged snapshot, got {other:?}"),
    }
    assert_eq!(
        chunks(&pieces).len(),
        1,
        "nothing after the gap is handed on"
    );
    assert!(store.latest_snapshot(1).await.unwrap().is_none());

    // Position 3 gone: position 2, its last chunk deleted (every chunk found is in order, but
    // they fall short of the length recorded).
    store.delete_snapshots().await.unwrap();
    for position in 1..=2 {
        store
            .save_snapshot(position, 1, &bytes(3 * SNAPSHOT_CHUNK + 10, position))
            .await
            .unwrap();
    }
    alter_chunk(&db, 2, 3, None).await;
    let (read, pieces) = stream(&store, 1, 4).await;
    match read {
        SnapshotRead::Damaged { snapshot, reason } => {
            assert_eq!(snapshot.position, 2);
            assert!(reason.contains("not the"), "{reason}");
        }
        other => panic!("expected a damaged snapshot, got {other:?}"),
    }
    assert_eq!(chunks(&pieces).len(), 3);
    assert!(store.latest_snapshot(1).await.unwrap().is_none());

    // Position 1: its last chunk longer than it was, so more bytes than recorded.
    store.delete_snapshots().await.unwrap();
    store
        .save_snapshot(1, 1, &bytes(2 * SNAPSHOT_CHUNK, 1))
        .await
        .unwrap();
    alter_chunk(&db, 1, 1, Some(SNAPSHOT_CHUNK + 1)).await;
    let (read, pieces) = stream(&store, 1, 4).await;
    match read {
        SnapshotRead::Damaged { reason, .. } => {
            assert!(reason.contains("more than"), "{reason}");
        }
        other => panic!("expected a damaged snapshot, got {other:?}"),
    }
    assert_eq!(
        chunks(&pieces).len(),
        1,
        "the chunk that holds too many bytes is not handed on"
    );
}

/// A sink that wants no more stops the reading (it does not read the rest of the snapshot),
/// and the store reads snapshots as before afterwards.
async fn a_sink_that_stops_stops_the_reading(db: TestDatabase) {
    let store = open(&db).await;
    append_notes(&store, 1).await;
    let saved = bytes(8 * SNAPSHOT_CHUNK, 3);
    store.save_snapshot(1, 1, &saved).await.unwrap();
    let (sink, mut pieces) = tokio::sync::mpsc::channel(1);
    let reading = tokio::spawn({
        let store = store.clone();
        async move { store.read_latest_snapshot(1, sink).await }
    });
    assert!(matches!(pieces.recv().await, Some(SnapshotPiece::Found(_))));
    assert!(matches!(pieces.recv().await, Some(SnapshotPiece::Chunk(_))));
    drop(pieces);
    match reading.await.unwrap().unwrap() {
        SnapshotRead::Stopped(found) => assert_eq!(found.position, 1),
        other => panic!("expected a stopped reading, got {other:?}"),
    }
    // Again, on every connection of the pool.
    for _ in 0..4 {
        assert!(store.latest_snapshot(1).await.unwrap().unwrap().bytes == saved);
    }
    store.append(note("after", 1)).await.unwrap();
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
