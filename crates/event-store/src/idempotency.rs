//! Looking up an idempotency key before deciding: a caller that retries after its first
//! attempt already changed the state (so deciding again would be refused) gets the first
//! result instead.

use crate::error::FromDriver as _;
use crate::error::StoreError;
use crate::store::EventStore;
use crate::types::{AppendOutcome, Position};

impl EventStore {
    /// The first result of the append that recorded `key` (marked `duplicate`), if any did.
    pub async fn idempotent_result(&self, key: &str) -> Result<Option<AppendOutcome>, StoreError> {
        let query = "SELECT first_position, last_position FROM idempotency_keys WHERE key = $1";
        let row: Option<(i64, i64)> = match (self.pg_pool(), self.sqlite_readers()) {
            (Some(pool), _) => sqlx::query_as(query)
                .bind(key)
                .fetch_optional(pool)
                .await
                .or_store()?,
            (None, Some(pool)) => sqlx::query_as(query)
                .bind(key)
                .fetch_optional(pool)
                .await
                .or_store()?,
            (None, None) => return Err(StoreError::Closed),
        };
        Ok(row.map(|(first, last)| AppendOutcome {
            first_position: Position(first as u64),
            last_position: Position(last as u64),
            duplicate: true,
        }))
    }
}
