//! Group commit: concurrent appends are queued to one writer task, which records a whole batch
//! in one transaction. The database's commit is the dominant cost of an append, so sharing it
//! is what makes many concurrent appenders fast. Each append in a batch still succeeds or fails
//! on its own: the [`plan`] decides, in queue order, which appends pass their idempotency,
//! expected-version and consistency checks — against the committed log *and* the appends before
//! them in the same batch — and assigns their positions. The backends only look up what the plan
//! needs and write what it decided.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::chain::{canonical_json, event_hash, Hash, HashedFields, GENESIS};
use crate::error::{Conflict, DatabaseError, StoreError};
use crate::types::{AppendOutcome, AppendRequest, ExpectedVersion, Position, StreamId, SubjectKey};

/// An append waiting for the writer, with its events already serialised.
pub(crate) struct Pending {
    pub request: AppendRequest,
    pub encoded: Vec<EncodedEvent>,
    pub reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// An event ready to be written: JSON already rendered, so size limits are checked up front.
pub(crate) struct EncodedEvent {
    pub stream_id: String,
    pub event_type: String,
    pub schema_version: u32,
    pub tags: Vec<String>,
    pub payload: String,
    pub metadata: String,
}

/// What the database said, read under the write lock, about the appends of one batch.
#[derive(Default)]
pub(crate) struct Lookups {
    pub head: Position,
    /// The hash of the event at `head` (`None`: empty log, or written before the chain).
    pub head_hash: Option<Hash>,
    /// Idempotency keys already recorded, with their first result.
    pub recorded_keys: HashMap<String, (Position, Position)>,
    /// Current versions of the streams the batch writes to (absent = no such stream).
    pub stream_versions: HashMap<String, u64>,
    /// Per append (by index in the batch): the first committed event matching its condition.
    pub condition_hits: HashMap<usize, Position>,
}

/// A row the writer will insert.
pub(crate) struct PlannedRow {
    pub position: Position,
    pub stream_version: u64,
    pub batch_index: usize,
    pub event_index: usize,
}

pub(crate) struct Plan {
    pub rows: Vec<PlannedRow>,
    /// Idempotency keys to record: (key, first, last).
    pub new_keys: Vec<(String, Position, Position)>,
    /// The appends (by index in the batch) whose subject keys go into the vault: exactly
    /// those whose events are written.
    pub with_subject_keys: Vec<usize>,
    /// One result per append in the batch, in order.
    pub results: Vec<Result<AppendOutcome, StoreError>>,
}

impl Plan {
    pub fn last_position(&self) -> Option<Position> {
        self.rows.last().map(|r| r.position)
    }

    /// The subject keys to write with the planned rows: (id, key).
    pub fn subject_keys<'a>(
        &'a self,
        batch: &'a [Pending],
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.with_subject_keys.iter().flat_map(move |&index| {
            batch[index]
                .request
                .keys
                .iter()
                .map(|k| (k.id.as_str(), k.key.as_slice()))
        })
    }

    /// The chained hash of each planned row, in order, starting from the head's hash.
    /// `recorded_at` is the canonical time the rows are stored with.
    pub fn hashes(
        &self,
        batch: &[Pending],
        previous: Option<Hash>,
        recorded_at: &str,
    ) -> Vec<Hash> {
        let mut previous = previous.unwrap_or(GENESIS);
        self.rows
            .iter()
            .map(|row| {
                let event = &batch[row.batch_index].encoded[row.event_index];
                previous = event_hash(
                    &previous,
                    &HashedFields {
                        position: row.position.0,
                        stream_id: &event.stream_id,
                        stream_version: row.stream_version,
                        event_type: &event.event_type,
                        schema_version: event.schema_version,
                        tags: &event.tags,
                        payload: &event.payload,
                        metadata: &event.metadata,
                        recorded_at,
                    },
                );
                previous
            })
            .collect()
    }
}

pub(crate) fn plan(batch: &[Pending], lookups: &Lookups) -> Plan {
    let mut next = lookups.head.next();
    let mut versions = lookups.stream_versions.clone();
    let mut keys_in_batch: HashMap<&str, (Position, Position)> = HashMap::new();
    let mut rows: Vec<PlannedRow> = Vec::new();
    let mut new_keys = Vec::new();
    let mut with_subject_keys = Vec::new();
    let mut results = Vec::with_capacity(batch.len());

    for (index, pending) in batch.iter().enumerate() {
        let request = &pending.request;
        if let Some(key) = request.idempotency_key.as_deref() {
            if let Some(&(first, last)) = lookups
                .recorded_keys
                .get(key)
                .or_else(|| keys_in_batch.get(key))
            {
                results.push(Ok(AppendOutcome {
                    first_position: first,
                    last_position: last,
                    duplicate: true,
                }));
                continue;
            }
        }
        if let Err(conflict) = check(index, pending, lookups, &versions, &rows, batch) {
            results.push(Err(StoreError::Conflict(conflict)));
            continue;
        }
        let first = next;
        for (event_index, event) in pending.encoded.iter().enumerate() {
            let version = versions.entry(event.stream_id.clone()).or_insert(0);
            *version += 1;
            rows.push(PlannedRow {
                position: next,
                stream_version: *version,
                batch_index: index,
                event_index,
            });
            next = next.next();
        }
        let last = Position(next.0 - 1);
        if let Some(key) = request.idempotency_key.as_deref() {
            keys_in_batch.insert(key, (first, last));
            new_keys.push((key.to_owned(), first, last));
        }
        if !request.keys.is_empty() {
            with_subject_keys.push(index);
        }
        results.push(Ok(AppendOutcome {
            first_position: first,
            last_position: last,
            duplicate: false,
        }));
    }
    Plan {
        rows,
        new_keys,
        with_subject_keys,
        results,
    }
}

fn check(
    index: usize,
    pending: &Pending,
    lookups: &Lookups,
    versions: &HashMap<String, u64>,
    planned: &[PlannedRow],
    batch: &[Pending],
) -> Result<(), Conflict> {
    let request = &pending.request;
    if let Some(condition) = &request.condition {
        if let Some(&position) = lookups.condition_hits.get(&index) {
            return Err(Conflict::ConditionFailed {
                after: condition.after,
                position,
            });
        }
        let earlier_in_batch = planned.iter().find(|row| {
            let event = &batch[row.batch_index].encoded[row.event_index];
            row.position > condition.after
                && condition
                    .fail_if_events_match
                    .matches(&event.event_type, &event.tags)
        });
        if let Some(row) = earlier_in_batch {
            return Err(Conflict::ConditionFailed {
                after: condition.after,
                position: row.position,
            });
        }
    }
    for (stream, expected) in &request.expected_versions {
        let actual = versions.get(stream.as_str()).copied().unwrap_or(0);
        let holds = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exactly(n) => actual == *n,
        };
        if !holds {
            return Err(Conflict::WrongExpectedVersion {
                stream: stream.clone(),
                expected: match expected {
                    ExpectedVersion::Any => "any".into(),
                    ExpectedVersion::NoStream => "no stream".into(),
                    ExpectedVersion::Exactly(n) => n.to_string(),
                },
                actual,
            });
        }
    }
    Ok(())
}

/// The streams a batch writes to or states an expectation about.
pub(crate) fn streams_of(batch: &[Pending]) -> Vec<String> {
    let mut streams: Vec<String> = batch
        .iter()
        .flat_map(|p| {
            p.encoded.iter().map(|e| e.stream_id.clone()).chain(
                p.request
                    .expected_versions
                    .iter()
                    .map(|(s, _)| s.as_str().to_owned()),
            )
        })
        .collect();
    streams.sort_unstable();
    streams.dedup();
    streams
}

/// The backend half of group commit for a database driven asynchronously (PostgreSQL): look
/// up, write, commit — one transaction per batch.
pub(crate) trait BatchWriter: Send + 'static {
    /// Records the batch and returns one result per append, plus the new head if anything
    /// was written. A failure of the whole transaction is returned as `Err`.
    fn write(
        &mut self,
        batch: &[Pending],
    ) -> impl std::future::Future<Output = Result<Plan, StoreError>> + Send;
}

/// The same for a database driven from a thread of its own (SQLite: its calls block, and
/// handing each statement to a worker thread costs more than the statement).
pub(crate) trait BlockingBatchWriter: Send + 'static {
    fn write(&mut self, batch: &[Pending]) -> Result<Plan, StoreError>;
}

/// The writer task: takes what is queued (up to `max_batch` appends), writes it as one
/// transaction, answers each append, and publishes the new head. If a whole batch fails for a
/// reason other than an unreachable database, its appends are retried one by one so a single
/// bad append cannot fail its neighbours.
pub(crate) async fn run_writer<W: BatchWriter>(
    mut writer: W,
    mut queue: mpsc::Receiver<Pending>,
    max_batch: usize,
    on_commit: impl Fn(Position) + Send + 'static,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut batch, max_batch).await > 0 {
        // Appenders answered by the previous batch are waking up to send their next append;
        // letting them run once before the batch is closed makes it whole instead of leaving
        // half of them for a batch of their own.
        tokio::task::yield_now().await;
        take_queued(&mut queue, &mut batch, max_batch);
        match writer.write(&batch).await {
            Ok(plan) => answer(batch.drain(..), plan, &on_commit),
            Err(error) if retry_one_by_one(&error, batch.len()) => {
                tracing::warn!(%error, size = batch.len(), "batch append failed; retrying one by one");
                for pending in batch.drain(..) {
                    let single = [pending];
                    let result = writer.write(&single).await;
                    settle_single(single, result, &on_commit);
                }
            }
            Err(error) => fail_all(batch.drain(..), error),
        }
    }
}

/// [`run_writer`] on a thread of its own, for a [`BlockingBatchWriter`]. Returns when every
/// sender of the queue is gone (the store was dropped).
pub(crate) fn run_blocking_writer<W: BlockingBatchWriter>(
    mut writer: W,
    mut queue: mpsc::Receiver<Pending>,
    max_batch: usize,
    on_commit: impl Fn(Position),
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut previous = 0;
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        take_queued(&mut queue, &mut batch, max_batch);
        linger(&mut queue, &mut batch, previous, max_batch);
        previous = batch.len();
        match writer.write(&batch) {
            Ok(plan) => answer(batch.drain(..), plan, &on_commit),
            Err(error) if retry_one_by_one(&error, batch.len()) => {
                tracing::warn!(%error, size = batch.len(), "batch append failed; retrying one by one");
                for pending in batch.drain(..) {
                    let single = [pending];
                    let result = writer.write(&single);
                    settle_single(single, result, &on_commit);
                }
            }
            Err(error) => fail_all(batch.drain(..), error),
        }
    }
}

/// How far in the future an append's `occurred_at` may lie: clocks of servers sharing a
/// database differ a little; a time beyond that is a mistake.
const OCCURRED_AT_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// How long a writer thread waits, at most, for the appenders its previous batch answered.
const LINGER: Duration = Duration::from_micros(200);
/// ... and for the next of them once one arrives: a longer pause means they are not coming.
const LINGER_GAP: Duration = Duration::from_micros(50);

/// Waits a moment for the batch to grow to the size of the previous one. The appenders that
/// batch answered are sending their next appends right now, on other threads; closing the
/// batch at once would commit a few of them alone and leave the rest for a batch of their
/// own, paying the commit twice. Returns at once when the previous batch was no bigger (a
/// single appender never waits), and stops waiting when arrivals stop.
fn linger(
    queue: &mut mpsc::Receiver<Pending>,
    batch: &mut Vec<Pending>,
    previous: usize,
    max_batch: usize,
) {
    let start = Instant::now();
    let mut last_arrival = start;
    while batch.len() < previous.min(max_batch) {
        let now = Instant::now();
        if now - start >= LINGER || now - last_arrival >= LINGER_GAP {
            break;
        }
        std::thread::yield_now();
        let before = batch.len();
        take_queued(queue, batch, max_batch);
        if batch.len() > before {
            last_arrival = Instant::now();
        }
    }
}

/// Adds what is already queued to the batch, up to `max_batch` appends.
fn take_queued(queue: &mut mpsc::Receiver<Pending>, batch: &mut Vec<Pending>, max_batch: usize) {
    while batch.len() < max_batch {
        match queue.try_recv() {
            Ok(pending) => batch.push(pending),
            Err(_) => break,
        }
    }
}

/// Whether a failed batch is worth retrying append by append: not when the database is gone
/// (every retry would fail alike), nor when the batch was a single append already.
fn retry_one_by_one(error: &StoreError, size: usize) -> bool {
    size > 1 && !matches!(error, StoreError::Unavailable(_))
}

fn settle_single(
    single: [Pending; 1],
    result: Result<Plan, StoreError>,
    on_commit: &impl Fn(Position),
) {
    match result {
        Ok(plan) => answer(single.into_iter(), plan, on_commit),
        Err(error) => {
            let [pending] = single;
            let _ = pending.reply.send(Err(error));
        }
    }
}

/// Answers every append of a batch whose transaction failed as a whole: the first gets the
/// error itself, the others (errors cannot be cloned) an `Unavailable` with its message.
fn fail_all(batch: impl Iterator<Item = Pending>, error: StoreError) {
    tracing::warn!(%error, "batch append failed");
    let message = error.to_string();
    let mut first = Some(error);
    for pending in batch {
        let error = first
            .take()
            .unwrap_or_else(|| StoreError::Unavailable(DatabaseError::other(message.clone())));
        let _ = pending.reply.send(Err(error));
    }
}

fn answer(batch: impl Iterator<Item = Pending>, plan: Plan, on_commit: &impl Fn(Position)) {
    if let Some(last) = plan.last_position() {
        on_commit(last);
    }
    for (pending, result) in batch.zip(plan.results) {
        // The appender may have given up waiting; its events are recorded all the same.
        let _ = pending.reply.send(result);
    }
}

/// Rejects what no retry could fix, before it reaches the writer.
pub(crate) fn validate(
    request: &AppendRequest,
    max_event_bytes: usize,
) -> Result<Vec<EncodedEvent>, StoreError> {
    if request.events.is_empty() {
        return Err(StoreError::InvalidInput(
            "an append needs at least one event".into(),
        ));
    }
    if let Some(key) = &request.idempotency_key {
        if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
            return Err(StoreError::InvalidInput(
                "an idempotency key must be 1-200 characters without control characters".into(),
            ));
        }
    }
    for (i, key) in request.keys.iter().enumerate() {
        if key.id.is_empty() || key.id.len() > 200 || key.id.chars().any(char::is_control) {
            return Err(StoreError::InvalidInput(
                "a subject key's id must be 1-200 characters without control characters".into(),
            ));
        }
        if key.key.is_empty() || key.key.len() > SubjectKey::MAX_LEN {
            return Err(StoreError::InvalidInput(format!(
                "a subject key must be 1-{} bytes",
                SubjectKey::MAX_LEN
            )));
        }
        if request.keys[..i].iter().any(|earlier| earlier.id == key.id) {
            return Err(StoreError::InvalidInput(format!(
                "two subject keys with the id {:?}",
                crate::types::truncate(&key.id, 40)
            )));
        }
    }
    let mut expected_streams: Vec<&StreamId> = Vec::new();
    for (stream, _) in &request.expected_versions {
        if expected_streams.contains(&stream) {
            return Err(StoreError::InvalidInput(format!(
                "two expected versions for stream {stream}"
            )));
        }
        if !request.events.iter().any(|e| &e.stream_id == stream) {
            return Err(StoreError::InvalidInput(format!(
                "expected version for stream {stream}, which this append does not write to"
            )));
        }
        expected_streams.push(stream);
    }
    // A condition's tags and types follow the rules of events' tags and types: a query for a
    // tag no event can carry is a mistake, and the backends would each read it differently.
    if let Some(condition) = &request.condition {
        for item in &condition.fail_if_events_match.items {
            item.types.iter().try_for_each(|t| check_event_type(t))?;
            item.tags.iter().try_for_each(|t| check_tag(t))?;
        }
    }
    let metadata = &request.metadata;
    let metadata_texts = [
        Some(&metadata.actor),
        Some(&metadata.role),
        metadata.request_id.as_ref(),
    ];
    if metadata_texts
        .into_iter()
        .flatten()
        .any(|text| text.contains('\0'))
    {
        return Err(StoreError::InvalidInput(
            "the metadata contains a NUL character".into(),
        ));
    }
    if metadata
        .occurred_at
        .is_some_and(|at| at > chrono::Utc::now() + OCCURRED_AT_SLACK)
    {
        return Err(StoreError::InvalidInput(
            "an event cannot have occurred in the future (occurred_at is later than now)".into(),
        ));
    }
    let mut metadata = metadata.clone();
    metadata.idempotency_key = request.idempotency_key.clone();
    // Stored in the canonical form the chain hashes (PostgreSQL's jsonb keeps the same value).
    let metadata = serde_json::to_value(&metadata)
        .map(|value| canonical_json(&value))
        .map_err(|e| StoreError::InvalidInput(format!("metadata: {e}")))?;
    request
        .events
        .iter()
        .map(|event| {
            check_event_type(&event.event_type)?;
            event.tags.iter().try_for_each(|t| check_tag(t))?;
            // PostgreSQL's jsonb cannot hold NUL characters; refuse them on every backend alike.
            if contains_nul(&event.payload) {
                return Err(StoreError::InvalidInput(
                    "the payload contains a NUL character".into(),
                ));
            }
            let payload = canonical_json(&event.payload);
            let size = payload.len() + metadata.len();
            if size > max_event_bytes {
                return Err(StoreError::EventTooLarge {
                    size,
                    limit: max_event_bytes,
                });
            }
            Ok(EncodedEvent {
                stream_id: event.stream_id.as_str().to_owned(),
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                tags: event.tags.clone(),
                payload,
                metadata: metadata.clone(),
            })
        })
        .collect()
}

pub(crate) fn check_event_type(event_type: &str) -> Result<(), StoreError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    if event_type.is_empty() || event_type.len() > 100 || !event_type.chars().all(valid_char) {
        return Err(StoreError::InvalidInput(format!(
            "invalid event type {:?}: use 1-100 ASCII letters, digits, _ or .",
            crate::types::truncate(event_type, 40)
        )));
    }
    Ok(())
}

pub(crate) fn check_tag(tag: &str) -> Result<(), StoreError> {
    if tag.is_empty() || tag.len() > 200 || tag.chars().any(char::is_control) {
        return Err(StoreError::InvalidInput(
            "a tag must be 1-200 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// Whether any string or key in `value` holds a NUL character. (Looking for `\u0000` in the
/// serialised JSON would also refuse the harmless text `\\u0000`.)
fn contains_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}
