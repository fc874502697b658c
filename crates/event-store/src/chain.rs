//! Tamper evidence: every event carries a SHA-256 hash chained to the event before it, so a row
//! altered, removed or inserted by hand (past the append-only triggers) shows up when the log is
//! walked ([`EventStore::verify_chain`](crate::EventStore::verify_chain)).
//!
//! The writer computes the hashes in position order inside the transaction that assigns the
//! positions, from the hash of the head read under the same lock. The canonical encoding is
//! defined in docs/design.md ("Tamper evidence"), so that an auditor can recompute it with
//! another tool; [`event_hash`] is that definition in code.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::types::Position;

/// A SHA-256 hash of the chain.
pub type Hash = [u8; 32];

/// The "previous hash" of the first event of the chain.
pub const GENESIS: Hash = [0; 32];

/// Marks the encoding's version, so a later encoding can never produce the same input.
const DOMAIN: &[u8] = b"wijkpuls-event-v1\n";

/// The fields of one event the hash covers, in their canonical text form.
pub(crate) struct HashedFields<'a> {
    pub position: u64,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub tags: &'a [String],
    /// [`canonical_json`] of the payload.
    pub payload: &'a str,
    /// [`canonical_json`] of the metadata.
    pub metadata: &'a str,
    /// [`canonical_time`] of the time the store recorded the event.
    pub recorded_at: &'a str,
}

/// The hash of an event whose predecessor's hash is `previous` ([`GENESIS`] for the first).
pub(crate) fn event_hash(previous: &Hash, fields: &HashedFields<'_>) -> Hash {
    fn text(hasher: &mut Sha256, value: &str) {
        hasher.update((value.len() as u32).to_be_bytes());
        hasher.update(value.as_bytes());
    }
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(previous);
    hasher.update(fields.position.to_be_bytes());
    text(&mut hasher, fields.stream_id);
    hasher.update(fields.stream_version.to_be_bytes());
    text(&mut hasher, fields.event_type);
    hasher.update(fields.schema_version.to_be_bytes());
    hasher.update((fields.tags.len() as u32).to_be_bytes());
    for tag in fields.tags {
        text(&mut hasher, tag);
    }
    text(&mut hasher, fields.payload);
    text(&mut hasher, fields.metadata);
    text(&mut hasher, fields.recorded_at);
    hasher.finalize().into()
}

/// JSON without insignificant whitespace, object keys sorted by their UTF-8 bytes, strings
/// escaped as serde_json escapes them (`"`, `\` and control characters only; `\b \f \n \r \t`
/// short, others as lowercase `\u00xx`). PostgreSQL's `jsonb` reorders keys and drops
/// whitespace; this form is the same before and after.
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// RFC 3339 in UTC with exactly six fractional digits and `Z`, e.g.
/// `2026-11-29T04:30:00.123456Z` (both backends keep microseconds).
pub(crate) fn canonical_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Lowercase hexadecimal.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`to_hex`], for a 32-byte hash.
pub(crate) fn hash_from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

/// The newest event of the chain: an auditor notes it and later checks that it is still there,
/// with the same hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub position: Position,
    pub hash: Hash,
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {} hash {}", self.position, to_hex(&self.hash))
    }
}

/// One stored row as the chain sees it: the raw columns, not upcast, not decoded into types.
pub(crate) struct ChainRow {
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub tags: Vec<String>,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    pub hash: Option<Vec<u8>>,
}

/// The outcome of walking the whole log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Events read.
    pub events: u64,
    /// The first position with a hash: rows before it were written before the chain existed
    /// (an older database) and are not covered. `None` when no row has a hash.
    pub starts_at: Option<Position>,
    /// The last event of the chain read before the walk ended.
    pub head: Option<ChainHead>,
    /// The first break, if any.
    pub broken: Option<ChainBreak>,
}

/// Where and how the log stopped being what was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub position: Position,
    pub reason: String,
}

/// Walks rows in position order and remembers the first break.
#[derive(Default)]
pub(crate) struct Verifier {
    report: Option<ChainReport>,
    last_position: u64,
    previous: Option<Hash>,
    versions: HashMap<String, u64>,
}

impl Verifier {
    /// Checks the next row; returns false once the chain is broken (nothing after it counts).
    pub fn check(&mut self, row: &ChainRow) -> bool {
        let report = self.report.get_or_insert_with(ChainReport::default);
        report.events += 1;
        let broken = Self::find_break(
            row,
            &mut self.last_position,
            &mut self.previous,
            &mut self.versions,
            report,
        );
        if let Some(reason) = broken {
            report.broken = Some(ChainBreak {
                position: Position(row.position),
                reason,
            });
            return false;
        }
        true
    }

    fn find_break(
        row: &ChainRow,
        last_position: &mut u64,
        previous: &mut Option<Hash>,
        versions: &mut HashMap<String, u64>,
        report: &mut ChainReport,
    ) -> Option<String> {
        if row.position != *last_position + 1 {
            return Some(format!(
                "positions jump from {} to {}: events are missing",
                last_position, row.position
            ));
        }
        *last_position = row.position;
        let version = versions.entry(row.stream_id.clone()).or_insert(0);
        if row.stream_version != *version + 1 {
            return Some(format!(
                "stream {} goes from version {} to {}",
                row.stream_id, version, row.stream_version
            ));
        }
        *version = row.stream_version;
        let Some(stored) = &row.hash else {
            // Before the chain started (rows of an older database) such a row is not covered.
            return previous.map(|_| "the event has no hash, but events before it have".to_owned());
        };
        let payload = canonical_json(&row.payload);
        let metadata = canonical_json(&row.metadata);
        let recorded_at = canonical_time(row.recorded_at);
        let expected = event_hash(
            previous.as_ref().unwrap_or(&GENESIS),
            &HashedFields {
                position: row.position,
                stream_id: &row.stream_id,
                stream_version: row.stream_version,
                event_type: &row.event_type,
                schema_version: row.schema_version,
                tags: &row.tags,
                payload: &payload,
                metadata: &metadata,
                recorded_at: &recorded_at,
            },
        );
        if stored.as_slice() != expected {
            return Some(format!(
                "the stored hash {} is not the hash of the event's content and its \
                 predecessor's hash ({}): the event or one before it was altered",
                to_hex(stored),
                to_hex(&expected)
            ));
        }
        if previous.is_none() {
            report.starts_at = Some(Position(row.position));
        }
        *previous = Some(expected);
        report.head = Some(ChainHead {
            position: Position(row.position),
            hash: expected,
        });
        None
    }

    /// Ends the walk with a break found outside [`Verifier::check`] (a row that cannot be read).
    pub fn broken_at(self, position: Position, reason: String) -> ChainReport {
        let mut report = self.finish();
        report.broken = Some(ChainBreak { position, reason });
        report
    }

    pub fn finish(self) -> ChainReport {
        self.report.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value: Value =
            serde_json::from_str(r#"{ "b": [1, {"z": "é\n", "a": null}], "a": true, "ab": 1.5 }"#)
                .unwrap();
        assert_eq!(
            canonical_json(&value),
            r#"{"a":true,"ab":1.5,"b":[1,{"a":null,"z":"é\n"}]}"#
        );
    }

    /// A fixed vector, also written out in docs/design.md for auditors' own tools.
    #[test]
    fn the_hash_of_a_known_event() {
        let tags = vec!["wijk:WK020207".to_owned()];
        let payload = canonical_json(&json!({ "title": "Bankje", "amount": 100 }));
        let metadata = canonical_json(&json!({ "actor": "anonymous", "role": "public" }));
        let fields = HashedFields {
            position: 1,
            stream_id: "initiative-1",
            stream_version: 1,
            event_type: "InitiativeSubmitted",
            schema_version: 1,
            tags: &tags,
            payload: &payload,
            metadata: &metadata,
            recorded_at: "2026-11-29T04:30:00.123456Z",
        };
        let first = event_hash(&GENESIS, &fields);
        assert_eq!(
            to_hex(&first),
            "c4d7e3582ec8497589e019dbd4473b494964c68d9d6b1164cabb5337db8d7e0b"
        );
        assert_ne!(event_hash(&first, &fields), first, "the predecessor counts");
        assert_eq!(hash_from_hex(&to_hex(&first)), Some(first));
    }
}
