//! Optimistic concurrency and idempotency under real contention (guarantees 1, 2, 4): OS threads
//! released together by a barrier, each driving its append through the runtime's handle, spread
//! over two stores on one database — two processes, as far as the database can tell.

use std::sync::Barrier;

use serde_json::json;
use tokio::runtime::Handle;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{
    AppendCondition, AppendOutcome, Conflict, EventStore, ExpectedVersion, Position, Query,
    StoreError,
};

use crate::common::{all_events, append_of, event, note, open, positions, stream};

backend_tests!(
    fifty_threads_race_on_expected_version,
    fifty_threads_race_on_condition,
    concurrent_appends_with_one_key_append_once,
    appends_sharing_a_batch_succeed_or_fail_on_their_own,
);

const THREADS: usize = 50;
const ROUNDS: usize = 100;

/// Runs `rounds` rounds of `threads` OS threads; `body(thread, round, barrier)` must wait on the
/// barrier exactly once (to start its contended step together with the others). Rounds are
/// separated by another wait, so each starts from what the previous one committed. Returns the
/// results per round, in thread order.
pub fn in_rounds<R: Send>(
    threads: usize,
    rounds: usize,
    body: impl Fn(usize, usize, &Barrier) -> R + Sync,
) -> Vec<Vec<R>> {
    let barrier = Barrier::new(threads);
    let per_thread: Vec<Vec<R>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (barrier, body) = (&barrier, &body);
                scope.spawn(move || {
                    (0..rounds)
                        .map(|round| {
                            let result = body(thread, round, barrier);
                            barrier.wait();
                            result
                        })
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a racing thread panicked"))
            .collect()
    });
    let mut per_round: Vec<Vec<R>> = (0..rounds).map(|_| Vec::with_capacity(threads)).collect();
    for results in per_thread {
        for (round, result) in results.into_iter().enumerate() {
            per_round[round].push(result);
        }
    }
    per_round
}

/// Exactly one winner per round; every loser got a conflict that `is_expected` accepts.
fn assert_one_winner_per_round(
    rounds: &[Vec<Result<AppendOutcome, StoreError>>],
    is_expected: impl Fn(usize, &Conflict) -> bool,
) {
    for (round, results) in rounds.iter().enumerate() {
        let mut winners = 0;
        for result in results {
            match result {
                Ok(outcome) => {
                    winners += 1;
                    assert_eq!(outcome.first_position, Position(round as u64 + 1));
                    assert!(!outcome.duplicate);
                }
                Err(StoreError::Conflict(conflict)) => assert!(
                    is_expected(round, conflict),
                    "round {round}: unexpected conflict {conflict:?}"
                ),
                Err(other) => panic!("round {round}: expected a conflict, got {other:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}: {winners} appends won");
    }
}

async fn two_stores(db: &TestDatabase) -> [EventStore; 2] {
    [open(db).await, open(db).await]
}

async fn fifty_threads_race_on_expected_version(db: TestDatabase) {
    let stores = two_stores(&db).await;
    let handle = Handle::current();
    let rounds = in_rounds(THREADS, ROUNDS, |thread, round, barrier| {
        let mut request = note("line-X", thread as u64);
        // Every thread decided on the stream as it was after the previous round.
        request.expected_versions =
            vec![(stream("line-X"), ExpectedVersion::Exactly(round as u64))];
        barrier.wait();
        handle.block_on(stores[thread % 2].append(request))
    });
    assert_one_winner_per_round(&rounds, |round, conflict| {
        *conflict
            == Conflict::WrongExpectedVersion {
                stream: stream("line-X"),
                expected: round.to_string(),
                actual: round as u64 + 1,
            }
    });
    let log = all_events(&stores[0]).await;
    assert_eq!(positions(&log), (1..=ROUNDS as u64).collect::<Vec<_>>());
    assert!(log
        .iter()
        .enumerate()
        .all(|(i, e)| e.stream_version == i as u64 + 1));
}

async fn fifty_threads_race_on_condition(db: TestDatabase) {
    let stores = two_stores(&db).await;
    let handle = Handle::current();
    let rounds = in_rounds(THREADS, ROUNDS, |thread, _round, barrier| {
        let store = &stores[thread % 2];
        // The decision is based on the log as read at P.
        let after = handle.block_on(store.head_position());
        barrier.wait();
        let after = after?;
        // Each thread writes to its own stream: only the condition ties them together.
        let mut request = append_of(vec![event(
            &format!("reservation-{thread}"),
            "Reserved",
            &["line:X", &format!("thread:{thread}")],
            json!({ "thread": thread }),
        )]);
        request.condition = Some(AppendCondition {
            fail_if_events_match: Query::any_tag(["line:X"]),
            after,
        });
        handle.block_on(store.append(request))
    });
    assert_one_winner_per_round(&rounds, |round, conflict| {
        *conflict
            == Conflict::ConditionFailed {
                after: Position(round as u64),
                position: Position(round as u64 + 1),
            }
    });
    assert_eq!(
        positions(&all_events(&stores[1]).await),
        (1..=ROUNDS as u64).collect::<Vec<_>>()
    );
}

async fn concurrent_appends_with_one_key_append_once(db: TestDatabase) {
    const KEYED_THREADS: usize = 20;
    const KEYED_ROUNDS: usize = 20;
    let stores = two_stores(&db).await;
    let handle = Handle::current();
    let rounds = in_rounds(KEYED_THREADS, KEYED_ROUNDS, |thread, round, barrier| {
        let mut request = append_of(vec![
            event(
                "payments",
                "Paid",
                &[],
                json!({ "round": round, "thread": thread }),
            ),
            event(
                "ledger",
                "Booked",
                &[],
                json!({ "round": round, "thread": thread }),
            ),
        ]);
        request.idempotency_key = Some(format!("payment-{round}"));
        barrier.wait();
        handle.block_on(stores[thread % 2].append(request))
    });
    for (round, results) in rounds.iter().enumerate() {
        let outcomes: Vec<AppendOutcome> = results
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|o| *o)
                    .unwrap_or_else(|e| panic!("round {round}: {e}"))
            })
            .collect();
        let first = Position(round as u64 * 2 + 1);
        assert!(outcomes
            .iter()
            .all(|o| (o.first_position, o.last_position) == (first, first.next())));
        assert_eq!(
            outcomes.iter().filter(|o| !o.duplicate).count(),
            1,
            "round {round}"
        );
    }
    let log = all_events(&stores[0]).await;
    assert_eq!(log.len(), KEYED_ROUNDS * 2);
    // Each round's two events come from one and the same append.
    for pair in log.chunks(2) {
        assert_eq!(pair[0].payload, pair[1].payload);
    }
}

async fn appends_sharing_a_batch_succeed_or_fail_on_their_own(db: TestDatabase) {
    let store = open(&db).await;
    let handle = Handle::current();
    // Per round: even threads append to streams of their own (always fine), odd threads all
    // claim one shared stream (one wins); each append writes two events.
    let rounds = in_rounds(THREADS, 10, |thread, round, barrier| {
        let target = if thread % 2 == 0 {
            format!("own-{round}-{thread}")
        } else {
            format!("shared-{round}")
        };
        let mut request = append_of(vec![
            event(&target, "Claimed", &[], json!({ "thread": thread })),
            event(
                &format!("audit-{round}-{thread}"),
                "Audited",
                &[],
                json!({ "thread": thread }),
            ),
        ]);
        request.expected_versions = vec![(stream(&target), ExpectedVersion::NoStream)];
        barrier.wait();
        handle.block_on(store.append(request))
    });
    for (round, results) in rounds.iter().enumerate() {
        for (thread, result) in results.iter().enumerate().filter(|(t, _)| t % 2 == 0) {
            assert!(result.is_ok(), "round {round}, thread {thread}: {result:?}");
        }
        let odd: Vec<_> = results.iter().skip(1).step_by(2).collect();
        assert_eq!(odd.iter().filter(|r| r.is_ok()).count(), 1, "round {round}");
        assert!(odd
            .iter()
            .all(|r| r.as_ref().is_ok() || r.as_ref().unwrap_err().is_conflict()));
    }
    // Every winner's two events are there, adjacent; no loser left anything behind.
    let log = all_events(&store).await;
    let appends_won = 10 * (THREADS / 2 + 1);
    assert_eq!(log.len(), appends_won * 2);
    for pair in log.chunks(2) {
        assert_eq!(pair[0].payload, pair[1].payload);
        assert_eq!(pair[1].stream_id.as_str().split('-').next(), Some("audit"));
    }
    for round in 0..10 {
        let shared = store
            .read_stream(&stream(&format!("shared-{round}")))
            .await
            .unwrap();
        assert_eq!(shared.len(), 1);
        let winner = &shared[0].payload["thread"];
        let audit = format!("audit-{round}-{winner}");
        assert_eq!(store.read_stream(&stream(&audit)).await.unwrap().len(), 1);
    }
}
