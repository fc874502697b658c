//! Carrying out commands: decide on the live state, append under the store's consistency
//! condition, and answer once the live state has applied the result (read-your-writes).
//!
//! A decision names the tags it read and the position it read them at; the append fails if any
//! event with one of those tags was recorded since. Then the live state has moved on (or is
//! about to): wait for it to apply the conflicting event and decide again. This is what keeps a
//! budget line from being overspent by two staff members — or two servers — funding at once.

use std::sync::Arc;

use wijkpuls_domain::{decide, CityState, Command, Decision};
use wijkpuls_event_store::{
    AppendCondition, AppendOutcome, AppendRequest, Conflict, EventStore, Metadata, Position, Query,
    StoreError,
};

use crate::auth::Actor;
use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::live::Live;

/// How often a decision is made again after losing a race before giving up with CONFLICT.
const ATTEMPTS: usize = 10;

#[derive(Clone)]
pub struct Service {
    pub store: EventStore,
    pub live: Arc<Live>,
}

/// What a command did.
#[derive(Debug, Clone, Copy)]
pub struct Executed {
    /// Where its events are in the log (`None` when the decision had nothing to record).
    pub outcome: Option<AppendOutcome>,
}

impl Executed {
    pub fn first_position(&self) -> Option<u64> {
        self.outcome.map(|o| o.first_position.0)
    }
}

impl Service {
    /// Decides the command built by `command` (which may refuse, e.g. for permissions, after
    /// seeing the state) and records its events. `operation` and the actor scope the
    /// idempotency key, so equal keys from different clients or mutations never collide.
    pub async fn execute(
        &self,
        actor: &Actor,
        operation: &str,
        idempotency_key: Option<&str>,
        command: impl Fn(&CityState) -> ApiResult<Command>,
    ) -> ApiResult<Executed> {
        let idempotency_key = idempotency_key
            .map(|key| scoped_key(actor, operation, key))
            .transpose()?;
        if let Some(done) = self.already_done(idempotency_key.as_deref()).await? {
            return Ok(done);
        }
        for attempt in 0..ATTEMPTS {
            let decided: ApiResult<Decision> = {
                let state = self.live.read();
                command(&state).and_then(|command| Ok(decide(&state, command)?))
            };
            let decided = match decided {
                // A retry racing its own first attempt: that one may have just committed.
                Err(error) => match self.already_done(idempotency_key.as_deref()).await? {
                    Some(done) => return Ok(done),
                    None => Err(error),
                },
                decided => decided,
            };
            let decision = match decided {
                Err(error) if attempt == 0 && error.code() == "NOT_FOUND" => {
                    // Another instance may have just recorded it: catch up with the log once.
                    let head = self.store.head_position().await?;
                    if head.0 <= self.live.position() {
                        return Err(error);
                    }
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(2),
                        self.live.wait_for(head.0),
                    )
                    .await;
                    continue;
                }
                other => other?,
            };
            if decision.events.is_empty() {
                return Ok(Executed { outcome: None });
            }
            let request = AppendRequest {
                events: decision
                    .events
                    .iter()
                    .map(codec::to_new_event)
                    .collect::<Result<_, _>>()?,
                expected_versions: Vec::new(),
                condition: Some(AppendCondition {
                    fail_if_events_match: Query::any_tag(decision.consistency_tags.iter().cloned()),
                    after: Position(decision.position),
                }),
                idempotency_key: idempotency_key.clone(),
                metadata: Metadata {
                    actor: actor.subject.clone(),
                    role: actor.role.as_str().to_owned(),
                    request_id: Some(uuid::Uuid::now_v7().to_string()),
                    idempotency_key: None,
                },
            };
            match self.store.append(request).await {
                Ok(outcome) => {
                    self.live.wait_for(outcome.last_position.0).await;
                    return Ok(Executed {
                        outcome: Some(outcome),
                    });
                }
                Err(StoreError::Conflict(Conflict::ConditionFailed { position, .. })) => {
                    self.live.wait_for(position.0).await;
                }
                Err(StoreError::Conflict(_)) => {
                    let head = self.store.head_position().await?;
                    self.live.wait_for(head.0).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::Conflict(
            "this changed too often at the same moment; try again".into(),
        ))
    }

    /// The first result of an append with this (scoped) idempotency key, once the live state
    /// has applied it.
    async fn already_done(&self, key: Option<&str>) -> ApiResult<Option<Executed>> {
        let Some(key) = key else {
            return Ok(None);
        };
        let Some(outcome) = self.store.idempotent_result(key).await? else {
            return Ok(None);
        };
        self.live.wait_for(outcome.last_position.0).await;
        Ok(Some(Executed {
            outcome: Some(outcome),
        }))
    }

    /// The events recorded by an earlier append (for answering an idempotent retry).
    pub async fn recorded(
        &self,
        outcome: &AppendOutcome,
    ) -> ApiResult<Vec<wijkpuls_domain::Recorded>> {
        let count = (outcome.last_position.0 + 1 - outcome.first_position.0) as usize;
        let records = self
            .store
            .read_batch(Position(outcome.first_position.0 - 1), count)
            .await?;
        records
            .iter()
            .map(|r| codec::to_recorded(r).map_err(ApiError::from))
            .collect()
    }
}

/// Checks a client's idempotency key: 1–100 characters, no control characters.
pub fn check_idempotency_key(key: &str) -> ApiResult<&str> {
    if key.is_empty() || key.chars().count() > 100 || key.chars().any(char::is_control) {
        return Err(ApiError::BadInput(
            "idempotencyKey must be 1-100 characters without control characters".into(),
        ));
    }
    Ok(key)
}

fn scoped_key(actor: &Actor, operation: &str, key: &str) -> ApiResult<String> {
    // The key may carry a fingerprint of the request after a '#' (see submitInitiative).
    let (client_key, _) = key.split_once('#').unwrap_or((key, ""));
    check_idempotency_key(client_key)?;
    // The subject, never the client's address: keys are stored in the log's metadata.
    Ok(format!("{operation}:{}:{key}", actor.subject))
}
