//! Carrying out commands: decide on the live state, append under the store's consistency
//! condition, and answer once the live state has applied the result (read-your-writes).
//!
//! A decision names the tags it read and the position it read them at; the append fails if any
//! event with one of those tags was recorded since. That check in the store is the one guarantee
//! across servers: it keeps a budget line from being overspent by two staff members — or two
//! servers — funding at once.
//!
//! Liveness is this module's job. Within one server, decisions on the same consistency boundary
//! (a budget line, an initiative) queue one after another ([`Boundaries`]): each is taken on the
//! state its predecessor left, so they never lose a race to each other, and a queue on one hot
//! budget line never holds up decisions on other lines. A race lost to another server is decided
//! again on fresh state until [`ServiceOptions::deadline`]; only then does the client get
//! `CONFLICT`, counted in `wijkpuls_conflicts_total` ([`crate::metrics`]). Every wait has that deadline too: a mutation
//! whose events are committed but not yet applied (a stalled tailer) answers with what is known
//! instead of hanging.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;
use wijkpuls_domain::{decide, CityState, Command, Decision};
use wijkpuls_event_store::{
    AppendCondition, AppendOutcome, AppendRequest, Conflict, EventStore, Metadata, Position, Query,
    StoreError, SubjectKey, Vault,
};

use crate::auth::Actor;
use crate::codec;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::live::{Live, NotYetApplied};
use crate::metrics::Metrics;

/// How long the service keeps trying and waiting on one command.
#[derive(Debug, Clone, Copy)]
pub struct ServiceOptions {
    /// The longest a command may take: queueing behind others on its boundary, deciding again
    /// after races lost to other servers, and waiting for the live state to apply its events.
    pub deadline: Duration,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            deadline: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Service {
    pub store: EventStore,
    pub live: Arc<Live>,
    pub options: ServiceOptions,
    /// What `/metrics` shows: this service's counts and the rest of the application's.
    pub metrics: Arc<Metrics>,
    boundaries: Boundaries,
    writable: WriteProbe,
}

/// Whether the database takes writes, probed at most once per [`WriteProbe::FRESH`] however
/// often readiness is asked (each probe is a committed write).
#[derive(Clone)]
struct WriteProbe {
    vault: Vault,
    last: Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
}

impl WriteProbe {
    const FRESH: Duration = Duration::from_secs(2);

    async fn writable(&self) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, writable)) = *last {
            if at.elapsed() < Self::FRESH {
                return writable;
            }
        }
        let writable = match self.vault.probe_write().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "readiness: the database does not take writes");
                false
            }
        };
        *last = Some((Instant::now(), writable));
        writable
    }
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

/// What goes with a command's events into its append, whatever it decides: its scoped
/// idempotency key, when it occurred, and the subject keys to store in the same transaction.
struct ToRecord {
    idempotency_key: Option<String>,
    occurred_at: Option<DateTime<Utc>>,
    keys: Vec<SubjectKey>,
}

/// How one attempt at recording a decision ended.
enum Attempt {
    Done(Executed),
    /// Another server recorded something on the boundary first: decide again once this
    /// position is applied.
    Lost(u64),
}

impl Service {
    pub fn new(
        store: EventStore,
        vault: Vault,
        live: Arc<Live>,
        options: ServiceOptions,
    ) -> Service {
        Service {
            store,
            live,
            options,
            metrics: Arc::default(),
            boundaries: Boundaries::default(),
            writable: WriteProbe {
                vault,
                last: Arc::default(),
            },
        }
    }

    /// Whether the database takes writes right now (cached for a moment; see [`WriteProbe`]).
    pub async fn writable(&self) -> bool {
        self.writable.writable().await
    }

    /// Decides the command built by `command` (which may refuse, e.g. for permissions, after
    /// seeing the state) and records its events. `operation` and the actor scope the
    /// idempotency key, so equal keys from different clients or mutations never collide.
    ///
    /// The steps: build the command (permissions first, so a stored result only goes to whoever
    /// may give the command); answer a retry with its first result; queue on the command's
    /// consistency boundary; decide and append until it is recorded, refused, or out of time.
    pub async fn execute(
        &self,
        actor: &Actor,
        operation: &str,
        idempotency_key: Option<&str>,
        command: impl Fn(&CityState) -> ApiResult<Command>,
    ) -> ApiResult<Executed> {
        self.execute_dated(actor, operation, idempotency_key, None, Vec::new(), command)
            .await
    }

    /// [`Service::execute`], storing `keys` in the vault in the same transaction as the
    /// events: both are recorded or neither (a refused command, a retry answered with its
    /// first result, a failed commit leave no key behind).
    pub async fn execute_with_keys(
        &self,
        actor: &Actor,
        operation: &str,
        idempotency_key: Option<&str>,
        keys: Vec<SubjectKey>,
        command: impl Fn(&CityState) -> ApiResult<Command>,
    ) -> ApiResult<Executed> {
        self.execute_dated(actor, operation, idempotency_key, None, keys, command)
            .await
    }

    /// [`Service::execute`], recording the events as having occurred at `occurred_at` (not in
    /// the future) rather than now. For trusted code of the server itself only — the demo
    /// loader, imports of history — and never reachable from the GraphQL API: a client's change
    /// happens when it is recorded. `keys` as for [`Service::execute_with_keys`].
    pub async fn execute_back_dated(
        &self,
        actor: &Actor,
        operation: &str,
        idempotency_key: Option<&str>,
        occurred_at: DateTime<Utc>,
        keys: Vec<SubjectKey>,
        command: impl Fn(&CityState) -> ApiResult<Command>,
    ) -> ApiResult<Executed> {
        self.execute_dated(
            actor,
            operation,
            idempotency_key,
            Some(occurred_at),
            keys,
            command,
        )
        .await
    }

    async fn execute_dated(
        &self,
        actor: &Actor,
        operation: &str,
        idempotency_key: Option<&str>,
        occurred_at: Option<DateTime<Utc>>,
        keys: Vec<SubjectKey>,
        command: impl Fn(&CityState) -> ApiResult<Command>,
    ) -> ApiResult<Executed> {
        let deadline = Instant::now() + self.options.deadline;
        let key = idempotency_key
            .map(|key| scoped_key(actor, operation, key))
            .transpose()?;
        let boundary = match self.first_look(&command, deadline).await? {
            Ok(boundary) => boundary,
            Err(refused) => return self.unless_done(key.as_deref(), refused, deadline).await,
        };
        if let Some(done) = self.already_done(key.as_deref(), deadline).await? {
            return Ok(done);
        }
        let held = self.boundaries.enter(boundary, deadline).await?;
        let to_record = ToRecord {
            idempotency_key: key,
            occurred_at,
            keys,
        };
        self.decide_and_record(actor, &command, to_record, held, deadline)
            .await
    }

    /// Decides on the live state and appends, holding the queues of the decision's boundary,
    /// until the decision is recorded, refused, or out of time.
    async fn decide_and_record(
        &self,
        actor: &Actor,
        command: &impl Fn(&CityState) -> ApiResult<Command>,
        to_record: ToRecord,
        mut held: Held,
        deadline: Instant,
    ) -> ApiResult<Executed> {
        loop {
            let decision = {
                let state = self.live.read();
                let command = command(&state)?;
                decide(&state, command)
            };
            let decision = match decision {
                Ok(decision) => decision,
                Err(error) => {
                    return self
                        .unless_done(to_record.idempotency_key.as_deref(), error.into(), deadline)
                        .await
                }
            };
            if !held.covers(&decision.consistency_tags) {
                // The command read something else this time (rare): queue on that instead.
                drop(held);
                held = self
                    .boundaries
                    .enter(decision.consistency_tags.clone(), deadline)
                    .await?;
                continue;
            }
            match self.record(actor, &decision, &to_record, deadline).await? {
                Attempt::Done(executed) => return Ok(executed),
                Attempt::Lost(position) => {
                    if !self.caught_up_with_winner(position, deadline).await {
                        return Err(self.out_of_time());
                    }
                }
            }
        }
    }

    /// After a race lost to another server: waits until the winner's events (up to `position`)
    /// are applied, so the next decision sees them; false when the deadline comes first.
    async fn caught_up_with_winner(&self, position: u64, deadline: Instant) -> bool {
        self.metrics.conflict_retry();
        Instant::now() < deadline && self.applied(position, deadline).await.is_ok()
    }

    /// The answer when races kept being lost until the deadline.
    fn out_of_time(&self) -> ApiError {
        self.metrics.conflict();
        ApiError::Conflict("this changed too often at the same moment; try again".into())
    }

    /// Builds and decides the command once, to learn its consistency boundary (`Ok(Ok)`) or the
    /// domain's refusal (`Ok(Err)`).
    /// Building it checks permissions: that refusal comes before anything else, also before a
    /// stored result. An initiative this server does not know yet may have just been recorded
    /// by another one: catch up with the log once before saying it was not found.
    async fn first_look(
        &self,
        command: &impl Fn(&CityState) -> ApiResult<Command>,
        deadline: Instant,
    ) -> ApiResult<Result<Vec<String>, ApiError>> {
        let mut caught_up = false;
        loop {
            let decided = {
                let state = self.live.read();
                match command(&state) {
                    Ok(command) => decide(&state, command).map_err(ApiError::from),
                    Err(error) if error.code() == ErrorCode::NotFound => Err(error),
                    Err(refused) => return Err(refused),
                }
            };
            match decided {
                Ok(decision) => return Ok(Ok(decision.consistency_tags)),
                Err(error) if error.code() == ErrorCode::NotFound && !caught_up => {
                    caught_up = true;
                    // Decide again once everything committed now is applied here (it may have
                    // been applied since the look above).
                    let head = self.store.head_position().await?;
                    if self.applied(head.0, deadline).await.is_err() {
                        return Err(error);
                    }
                }
                Err(error) if error.code() == ErrorCode::NotFound => return Err(error),
                // Refused by the domain: the caller checks whether it is a retry of something
                // already done.
                Err(error) => return Ok(Err(error)),
            }
        }
    }

    /// Appends a decision under its consistency condition and waits for the live state to
    /// apply it.
    async fn record(
        &self,
        actor: &Actor,
        decision: &Decision,
        to_record: &ToRecord,
        deadline: Instant,
    ) -> ApiResult<Attempt> {
        if decision.events.is_empty() {
            return Ok(Attempt::Done(Executed { outcome: None }));
        }
        let request = append_request(actor, decision, to_record)?;
        match self.store.append(request).await {
            Ok(outcome) => {
                self.metrics.appended(decision.events.len());
                self.applied(outcome.last_position.0, deadline)
                    .await
                    .map_err(|late| self.recorded_but_late(late))?;
                Ok(Attempt::Done(Executed {
                    outcome: Some(outcome),
                }))
            }
            Err(StoreError::Conflict(Conflict::ConditionFailed { position, .. })) => {
                Ok(Attempt::Lost(position.0))
            }
            Err(StoreError::Conflict(_)) => Ok(Attempt::Lost(self.store.head_position().await?.0)),
            Err(other) => Err(other.into()),
        }
    }

    /// Waits for the live state to apply `position`, at most until `deadline`.
    async fn applied(&self, position: u64, deadline: Instant) -> Result<(), NotYetApplied> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.live.wait_for(position, left).await
    }

    fn recorded_but_late(&self, late: NotYetApplied) -> ApiError {
        self.metrics.apply_timeout();
        tracing::error!(
            position = late.position,
            applied = late.applied,
            "committed, but the live state did not apply it in time"
        );
        ApiError::Unavailable(
            "your change was recorded, but this server has not caught up with it yet; \
             ask for it again in a moment (a retry with the same idempotencyKey records nothing twice)"
                .into(),
        )
    }

    /// A refusal, unless it is a retry racing its own first attempt, which may have just
    /// committed: then the first result.
    async fn unless_done(
        &self,
        key: Option<&str>,
        error: ApiError,
        deadline: Instant,
    ) -> ApiResult<Executed> {
        match self.already_done(key, deadline).await? {
            Some(done) => Ok(done),
            None => Err(error),
        }
    }

    /// The first result of an append with this (scoped) idempotency key, once the live state
    /// has applied it.
    async fn already_done(
        &self,
        key: Option<&str>,
        deadline: Instant,
    ) -> ApiResult<Option<Executed>> {
        let Some(key) = key else {
            return Ok(None);
        };
        let Some(outcome) = self.store.idempotent_result(key).await? else {
            return Ok(None);
        };
        self.applied(outcome.last_position.0, deadline)
            .await
            .map_err(|late| self.recorded_but_late(late))?;
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

/// The in-process queues, one per consistency tag in use: a command holds the queues of every
/// tag its decision reads, taken in sorted order so two commands never wait for each other.
/// `tokio::sync::Mutex` is fair (first come, first served). A tag's queue is forgotten once
/// nobody holds or waits for it.
#[derive(Clone, Default)]
struct Boundaries {
    queues: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// The queues a command holds; released (and forgotten when idle) on drop.
struct Held {
    boundaries: Boundaries,
    guards: Vec<(String, OwnedMutexGuard<()>)>,
}

impl Boundaries {
    async fn enter(&self, tags: Vec<String>, deadline: Instant) -> ApiResult<Held> {
        let tags: BTreeSet<String> = tags.into_iter().collect();
        let mut held = Held {
            boundaries: self.clone(),
            guards: Vec::with_capacity(tags.len()),
        };
        for tag in tags {
            let queue = self
                .queues
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(tag.clone())
                .or_default()
                .clone();
            match tokio::time::timeout_at(deadline, queue.lock_owned()).await {
                Ok(guard) => held.guards.push((tag, guard)),
                Err(_) => {
                    return Err(ApiError::Conflict(
                        "too many changes are waiting for the same budget line or initiative; \
                         try again"
                            .into(),
                    ))
                }
            }
        }
        Ok(held)
    }
}

impl Held {
    fn covers(&self, tags: &[String]) -> bool {
        tags.iter()
            .all(|tag| self.guards.iter().any(|(held, _)| held == tag))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut queues = self
            .boundaries
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (tag, guard) in self.guards.drain(..) {
            drop(guard);
            // Only the map holds it now: nobody holds or waits for this queue.
            if queues.get(&tag).is_some_and(|q| Arc::strong_count(q) == 1) {
                queues.remove(&tag);
            }
        }
    }
}

/// What a decision appends: its events, under the condition that nothing it read has
/// changed since, with who asked and the request it came with in the metadata.
fn append_request(
    actor: &Actor,
    decision: &Decision,
    to_record: &ToRecord,
) -> ApiResult<AppendRequest> {
    Ok(AppendRequest {
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
        idempotency_key: to_record.idempotency_key.clone(),
        keys: to_record.keys.clone(),
        metadata: Metadata {
            actor: actor.subject.clone(),
            role: actor.role.as_str().to_owned(),
            // Work the service does itself (reference data, demo) has no request: a fresh id.
            request_id: Some(
                crate::request::current()
                    .unwrap_or_else(crate::request::RequestId::fresh)
                    .to_string(),
            ),
            idempotency_key: None,
            occurred_at: to_record.occurred_at,
        },
    })
}

/// Checks a client's idempotency key: 1–100 characters, no control characters.
fn check_idempotency_key(key: &str) -> ApiResult<&str> {
    if key.is_empty() || key.chars().count() > 100 || key.chars().any(char::is_control) {
        return Err(ApiError::BadInput(
            "idempotencyKey must be 1-100 characters without control characters".into(),
        ));
    }
    Ok(key)
}

/// An idempotency key as it travels to [`Service::execute`]: the client's key and, for
/// `submitInitiative`, a fingerprint of the request. Its text form, `key` or
/// `key#fingerprint`, is built ([`Display`](std::fmt::Display)) and read ([`IdempotencyKey::parse`]) only
/// here; it is what the log keeps (scoped by [`IdempotencyKey::scoped`]), so it never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The client's key, checked by [`check_idempotency_key`].
    client: String,
    /// What the key counts only together with (see `submitInitiative`).
    fingerprint: Option<String>,
}

impl IdempotencyKey {
    /// The client's key with a fingerprint of its request: the key counts only for the same
    /// request.
    pub fn fingerprinted(client: &str, fingerprint: String) -> ApiResult<IdempotencyKey> {
        check_idempotency_key(client)?;
        Ok(IdempotencyKey {
            client: client.to_owned(),
            fingerprint: Some(fingerprint),
        })
    }

    /// Reads the text form: the client's key up to the first `#`, the fingerprint after it.
    pub fn parse(text: &str) -> ApiResult<IdempotencyKey> {
        let (client, fingerprint) = match text.split_once('#') {
            Some((client, fingerprint)) => (client, Some(fingerprint.to_owned())),
            None => (text, None),
        };
        check_idempotency_key(client)?;
        Ok(IdempotencyKey {
            client: client.to_owned(),
            fingerprint,
        })
    }

    /// The key as stored: scoped by the operation and the actor's subject (never the client's
    /// address: keys are stored in the log's metadata), so equal keys from different clients or
    /// mutations never collide.
    fn scoped(&self, actor: &Actor, operation: &str) -> String {
        format!("{operation}:{}:{self}", actor.subject)
    }
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.client)?;
        match &self.fingerprint {
            Some(fingerprint) => write!(f, "#{fingerprint}"),
            None => Ok(()),
        }
    }
}

fn scoped_key(actor: &Actor, operation: &str, key: &str) -> ApiResult<String> {
    Ok(IdempotencyKey::parse(key)?.scoped(actor, operation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idempotency_key_keeps_its_text_form() {
        let plain = IdempotencyKey::parse("retry-1").unwrap();
        assert_eq!(plain.to_string(), "retry-1");
        let printed = IdempotencyKey::fingerprinted("retry-1", "0a1b2c3d".into()).unwrap();
        assert_eq!(printed.to_string(), "retry-1#0a1b2c3d");
        assert_eq!(IdempotencyKey::parse("retry-1#0a1b2c3d").unwrap(), printed);
        // A client's own '#' reads as a fingerprint but is stored exactly as given.
        for text in ["a#b", "a#b#c", "#", "x#"] {
            match IdempotencyKey::parse(text) {
                Ok(key) => assert_eq!(key.to_string(), text),
                Err(error) => assert!(text.starts_with('#'), "{text}: {error:?}"),
            }
        }
    }

    #[test]
    fn an_idempotency_key_is_checked_where_it_is_built_and_read() {
        let long = "k".repeat(101);
        assert!(IdempotencyKey::fingerprinted(&long, "00".into()).is_err());
        assert!(IdempotencyKey::fingerprinted("", "00".into()).is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse(&format!("{long}#00")).is_err());
        assert!(IdempotencyKey::parse(&format!("{}#{long}", "k".repeat(100))).is_ok());
    }
}
