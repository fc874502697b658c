//! Moving a whole store ([`wijkpuls_event_store::transfer`]): every column carried, positions
//! and `occurred_at` kept, an empty target only, nothing written when a row is refused.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use serde_json::json;
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::transfer::{
    EmptyStoreWriter, SnapshotReader, TransferError, CARRIED, SKIPPED,
};
use wijkpuls_event_store::Position;

use crate::common::{all_events, append_of, event, metadata, open, Backend};

backend_tests!(
    the_transfer_carries_every_column_of_the_schema,
    a_transfer_keeps_positions_metadata_and_times,
    a_transfer_refuses_a_target_that_is_not_empty_and_a_gap,
    a_transfer_leaves_snapshots_behind,
);

/// The tables and columns the migrations made, less sqlx's own table and SQLite's derived
/// tag index, and the tables a transfer deliberately skips ([`SKIPPED`]: snapshots, a cache),
/// which must exist.
async fn schema(db: &TestDatabase) -> BTreeSet<(String, String)> {
    let rows: Vec<(String, String)> = match Backend::of(db) {
        Backend::Sqlite => {
            let store = open(db).await;
            let pool = store.sqlite_pool().unwrap().clone();
            sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p
                 WHERE m.type = 'table'",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let store = open(db).await;
            let pool = store.postgres_pool().unwrap().clone();
            sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let tables: BTreeSet<&str> = rows.iter().map(|(table, _)| table.as_str()).collect();
    for skipped in SKIPPED {
        assert!(
            tables.contains(skipped),
            "{skipped} is listed as skipped on purpose but no migration made it"
        );
    }
    rows.into_iter()
        .filter(|(table, _)| {
            table != "_sqlx_migrations"
                && table != "event_tags"
                && !SKIPPED.contains(&table.as_str())
        })
        .collect()
}

async fn the_transfer_carries_every_column_of_the_schema(db: TestDatabase) {
    let carried: BTreeSet<(String, String)> = CARRIED
        .iter()
        .flat_map(|(table, columns)| {
            columns
                .iter()
                .map(move |column| (table.to_string(), column.to_string()))
        })
        .collect();
    assert_eq!(
        schema(&db).await,
        carried,
        "a migration added or removed a column: carry it in transfer.rs (and in the export), or list its table in transfer::SKIPPED"
    );
}

async fn copy(from: &TestDatabase, to: &TestDatabase) -> Result<(), TransferError> {
    let mut source = SnapshotReader::open(from.url()).await?;
    let mut target = EmptyStoreWriter::begin(to.url()).await?;
    let mut after = Position::START;
    loop {
        let page = source.events_after(after, 2).await?;
        let Some(last) = page.last() else { break };
        after = Position(last.position);
        for event in page {
            target.push(event)?;
        }
        target.flush().await?;
    }
    target
        .write_idempotency_keys(&source.idempotency_keys().await?)
        .await?;
    target
        .write_subject_keys(&source.subject_keys().await?)
        .await?;
    target.write_settings(&source.settings().await?).await?;
    target.commit().await?;
    Ok(())
}

/// A database of the same kind as `db`'s.
async fn another(db: &TestDatabase) -> TestDatabase {
    Backend::of(db)
        .database("transfer::another")
        .await
        .expect("the same backend is configured")
}

async fn a_transfer_keeps_positions_metadata_and_times(db: TestDatabase) {
    let store = open(&db).await;
    let mut back_dated = append_of(vec![
        event("a", "Happened", &["t:1"], json!({ "n": 1, "z": [1, 2] })),
        event("b", "Happened", &[], json!({ "n": 2 })),
    ]);
    back_dated.metadata.occurred_at = Some(Utc::now() - Duration::days(40));
    back_dated.idempotency_key = Some("key-1".into());
    store.append(back_dated).await.unwrap();
    let mut later = append_of(vec![event("a", "Happened", &["t:1", "t:2"], json!({}))]);
    later.metadata = metadata();
    store.append(later).await.unwrap();
    let vault = wijkpuls_event_store::Vault::open(db.url()).await.unwrap();
    vault.put_key("subject-1", &[1, 2, 3]).await.unwrap();
    let before = all_events(&store).await;

    let target = another(&db).await;
    copy(&db, &target).await.unwrap();
    let copied = open(&target).await;
    let after = all_events(&copied).await;
    assert_eq!(after, before, "every event as it was, occurred_at included");
    assert_eq!(
        after[0].occurred_at(),
        before[0].metadata.occurred_at.unwrap()
    );
    let copied_vault = wijkpuls_event_store::Vault::open(target.url())
        .await
        .unwrap();
    assert_eq!(
        copied_vault.keys(&["subject-1"]).await.unwrap()["subject-1"],
        vec![1, 2, 3]
    );
    assert_eq!(
        copied_vault.setting("auth_signing_key").await.unwrap(),
        vault.setting("auth_signing_key").await.unwrap(),
        "tokens signed for the source are valid on the copy"
    );
    // The next append follows on, and the idempotency key still answers a retry.
    let next = copied
        .append(append_of(vec![event("c", "Happened", &[], json!({}))]))
        .await
        .unwrap();
    assert_eq!(next.first_position, Position(4));
    let mut retry = append_of(vec![event("a", "Happened", &[], json!({}))]);
    retry.idempotency_key = Some("key-1".into());
    let retried = copied.append(retry).await.unwrap();
    assert!(retried.duplicate);
    assert_eq!(retried.first_position, Position(1));
}

async fn a_transfer_refuses_a_target_that_is_not_empty_and_a_gap(db: TestDatabase) {
    let store = open(&db).await;
    store
        .append(append_of(vec![
            event("a", "Happened", &[], json!({})),
            event("a", "Happened", &[], json!({})),
        ]))
        .await
        .unwrap();
    let Err(TransferError::Refused(reason)) = EmptyStoreWriter::begin(db.url()).await else {
        panic!("a store with events is not a target");
    };
    assert!(reason.contains("not empty"), "{reason}");

    let target = another(&db).await;
    let mut source = SnapshotReader::open(db.url()).await.unwrap();
    let mut events = source.events_after(Position::START, 10).await.unwrap();
    let mut writer = EmptyStoreWriter::begin(target.url()).await.unwrap();
    events[1].position = 3;
    let mut events = events.into_iter();
    writer.push(events.next().unwrap()).unwrap();
    let Err(TransferError::Refused(reason)) = writer.push(events.next().unwrap()) else {
        panic!("a gap in the positions is refused");
    };
    assert!(reason.contains("position 3 follows position 1"), "{reason}");
    writer.flush().await.unwrap();
    drop(writer);
    assert!(
        all_events(&open(&target).await).await.is_empty(),
        "nothing is written without a commit"
    );
}

/// Snapshots of the read model are a cache of the source's fold: the target starts without
/// any and folds its log itself.
async fn a_transfer_leaves_snapshots_behind(db: TestDatabase) {
    let store = open(&db).await;
    store
        .append(append_of(vec![event("a", "Happened", &[], json!({}))]))
        .await
        .unwrap();
    store.save_snapshot(1, 1, &[42; 3000]).await.unwrap();
    assert_eq!(store.snapshots().await.unwrap().len(), 1);

    let target = another(&db).await;
    copy(&db, &target).await.unwrap();
    let copied = open(&target).await;
    assert_eq!(all_events(&copied).await, all_events(&store).await);
    assert!(copied.snapshots().await.unwrap().is_empty());
    assert!(copied.latest_snapshot(1).await.unwrap().is_none());
    assert_eq!(
        store.snapshots().await.unwrap().len(),
        1,
        "the source keeps its own"
    );
}
