//! Subscriptions and positions (guarantees 3 and 6): catch up from any position, follow live
//! commits of this and other stores, never skip, never repeat; readers never see a position
//! appear below one they have already been given.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{EventStore, Position, RecordedEvent, StoreError};

use crate::common::{append_of, assert_no_event, event, next_event, note, open};

backend_tests!(
    subscribe_catches_up_from_a_middle_position_then_follows,
    subscriber_follows_four_concurrent_writers_without_skips_or_repeats,
);

async fn subscribe_catches_up_from_a_middle_position_then_follows(db: TestDatabase) {
    let store = open(&db).await;
    for n in 1..=10 {
        store.append(note("s", n)).await.unwrap();
    }
    let mut middle = store.subscribe(Position(4));
    let mut live = store.subscribe(Position(10));
    for expected in 5..=10 {
        let event = next_event(&mut middle).await;
        assert_eq!(event.position, Position(expected));
        assert_eq!(event.payload, json!({ "n": expected }));
    }
    for n in 11..=13 {
        store.append(note("s", n)).await.unwrap();
    }
    for expected in 11..=13 {
        assert_eq!(next_event(&mut middle).await.position, Position(expected));
        assert_eq!(next_event(&mut live).await.position, Position(expected));
    }
    assert_no_event(&mut middle, Duration::from_millis(200)).await;
    assert_no_event(&mut live, Duration::from_millis(10)).await;
}

/// Asserts a read after `after` returned a gapless run starting right after it: positions are
/// gapless, so a gap would be an event that becomes visible below one already returned.
pub fn assert_contiguous(after: Position, events: &[RecordedEvent]) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event.position.0,
            after.0 + 1 + i as u64,
            "a read after {after} skipped a position: a later read would find it below one already returned"
        );
    }
}

/// Reads the tail of the log until `done`, checking every read is gapless and never behind an
/// earlier one. Returns how many reads it made.
pub async fn watch_positions(store: EventStore, done: Arc<AtomicBool>) -> Result<u64, StoreError> {
    let mut highest = Position::START;
    let mut reads = 0;
    while !done.load(Ordering::Acquire) {
        let after = Position(highest.0.saturating_sub(50));
        let events = store.read_batch(after, 1000).await?;
        assert_contiguous(after, &events);
        if let Some(last) = events.last() {
            highest = highest.max(last.position);
        }
        assert!(
            events.len() as u64 >= highest.0 - after.0,
            "a read after {after} returned less than the {highest} already seen"
        );
        reads += 1;
        tokio::task::yield_now().await;
    }
    Ok(reads)
}

async fn subscriber_follows_four_concurrent_writers_without_skips_or_repeats(db: TestDatabase) {
    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 2_500;
    let (a, b) = (open(&db).await, open(&db).await);
    let mut subscription = a.subscribe(Position::START);
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(watch_positions(b.clone(), done.clone()));
    // Two writers on each store: the subscriber on `a` learns of `b`'s commits only through
    // the database (a notification on PostgreSQL, polling on SQLite).
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = if writer % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            let stream = format!("writer-{writer}");
            tokio::spawn(async move {
                // Appends of 1, 2, 3 and 4 events in turn: 1000 appends per writer.
                let mut n = 0;
                for size in (1..=4).cycle() {
                    if n == PER_WRITER {
                        break;
                    }
                    let events = (n..n + size)
                        .map(|n| event(&stream, "Noted", &[], json!({ "writer": writer, "n": n })))
                        .collect();
                    store.append(append_of(events)).await?;
                    n += size;
                }
                Ok::<_, StoreError>(())
            })
        })
        .collect();

    let mut next_n = [0u64; WRITERS as usize];
    for expected in 1..=WRITERS * PER_WRITER {
        let event = next_event(&mut subscription).await;
        assert_eq!(event.position, Position(expected), "skipped or repeated");
        let writer = event.payload["writer"].as_u64().unwrap() as usize;
        assert_eq!(
            event.payload["n"],
            json!(next_n[writer]),
            "writer {writer} out of order"
        );
        next_n[writer] += 1;
    }
    for writer in writers {
        writer.await.unwrap().expect("every append succeeds");
    }
    assert_no_event(&mut subscription, Duration::from_millis(200)).await;
    done.store(true, Ordering::Release);
    let reads = reader.await.unwrap().expect("the reader's reads succeed");
    assert!(reads > 0);
}
