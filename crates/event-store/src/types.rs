//! The vocabulary of the store: what goes in (an [`AppendRequest`] of [`NewEvent`]s with its
//! concurrency condition) and what comes out ([`RecordedEvent`]s at global [`Position`]s).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// A global position in the log: 1 for the first event, then strictly increasing without gaps.
/// `Position(0)` means "before the first event".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Position(pub u64);

impl Position {
    pub const START: Position = Position(0);

    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }

    pub(crate) fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of a stream: 1–200 characters of ASCII letters, digits and `-_:./@`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

impl StreamId {
    pub const MAX_LEN: usize = 200;

    pub fn parse(id: impl Into<String>) -> Result<StreamId, StoreError> {
        let id = id.into();
        let valid_char = |c: char| c.is_ascii_alphanumeric() || "-_:./@".contains(c);
        if id.is_empty() || id.len() > Self::MAX_LEN || !id.chars().all(valid_char) {
            return Err(StoreError::InvalidInput(format!(
                "invalid stream id {:?}: use 1-{} ASCII letters, digits or -_:./@",
                truncate(&id, 40),
                Self::MAX_LEN
            )));
        }
        Ok(StreamId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StreamId {
    type Error = StoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        StreamId::parse(value)
    }
}

impl From<StreamId> for String {
    fn from(id: StreamId) -> String {
        id.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the writer of an append expects a stream's version to be (the number of events in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No expectation: append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must hold exactly this many events.
    Exactly(u64),
}

/// One event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub stream_id: StreamId,
    pub event_type: String,
    pub schema_version: u32,
    /// Tags such as `wijk:WK020207` that a [`Query`] can match across streams.
    pub tags: Vec<String>,
    pub payload: serde_json::Value,
}

/// Who did it, in which request and when: recorded with every event of an append.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    pub actor: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// When what the events record happened, if that was before they were appended (a
    /// back-dated import, a demo history). `None` — every ordinary append, and every event
    /// recorded before this field existed — means "when it was recorded": see
    /// [`RecordedEvent::occurred_at`]. The store refuses a time in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Matches events by type and tags. An event matches an item when its type is one of the item's
/// types (or the item names none) and it carries all of the item's tags; it matches the query
/// when it matches any item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub items: Vec<QueryItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryItem {
    pub types: Vec<String>,
    pub tags: Vec<String>,
}

impl Query {
    /// Events carrying any one of `tags`.
    pub fn any_tag<I, S>(tags: I) -> Query
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Query {
            items: tags
                .into_iter()
                .map(|tag| QueryItem {
                    types: Vec::new(),
                    tags: vec![tag.into()],
                })
                .collect(),
        }
    }

    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        self.items.iter().any(|item| item.matches(event_type, tags))
    }
}

impl QueryItem {
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// The Dynamic Consistency Boundary condition (dcb.events): the append fails if any event
/// matching `query` was appended after position `after` — the position the decision was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendCondition {
    pub fail_if_events_match: Query,
    pub after: Position,
}

/// One atomic append: all of `events` are recorded, or none.
#[derive(Debug, Clone, Default)]
pub struct AppendRequest {
    pub events: Vec<NewEvent>,
    /// Expected versions of streams this append writes to.
    pub expected_versions: Vec<(StreamId, ExpectedVersion)>,
    pub condition: Option<AppendCondition>,
    /// A retry with a key already recorded appends nothing and returns the first result.
    pub idempotency_key: Option<String>,
    pub metadata: Metadata,
    /// Subject keys to put into the [`crate::Vault`] in the same transaction as the events:
    /// written if and only if the events are (not for a refused append, nor for a retry
    /// answered with its first result). An id already in the vault fails the append: keys
    /// are never replaced.
    pub keys: Vec<SubjectKey>,
}

/// A secret for the vault (see [`crate::Vault`]), stored together with the events of an
/// append. Its `Debug` shows the id only, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey {
    /// 1-200 characters without control characters.
    pub id: String,
    /// 1 to [`SubjectKey::MAX_LEN`] bytes.
    pub key: Vec<u8>,
}

impl SubjectKey {
    pub const MAX_LEN: usize = 1024;
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKey")
            .field("id", &self.id)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    pub first_position: Position,
    pub last_position: Position,
    /// True when the idempotency key had been recorded before and nothing was appended now.
    pub duplicate: bool,
}

/// An event as it is in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub position: Position,
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub tags: Vec<String>,
    pub payload: serde_json::Value,
    pub metadata: Metadata,
    /// When the store committed it (assigned by the store, never by the writer).
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// The time the event is about: [`Metadata::occurred_at`] if the writer gave one, else
    /// [`RecordedEvent::recorded_at`].
    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.metadata.occurred_at.unwrap_or(self.recorded_at)
    }
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
