//! Snapshots of the live state, stored beside the log so that a start replays only what
//! follows them.
//!
//! A snapshot is the fold ([`CityState`]) and the index of similar initiatives
//! ([`SimilarIndex`]) at one position, written by [`Live`](crate::live::Live) every
//! [`SnapshotOptions::every`] events and when the server stops. It is a cache, never the truth:
//! - it is marked with [`VERSION`], made of the fold's and the index's revisions and of this
//!   encoding's; a snapshot of another version is ignored (and a new one written once the
//!   log has been folded again);
//! - one that cannot be read (cut short, corrupt) is ignored too, with a warning;
//! - the store never gives out a snapshot of a position beyond its log's head (a database
//!   restored from an older backup);
//! - copies, exports and imports of a store leave snapshots behind.
//!
//! # Encoding
//!
//! MessagePack ([`rmp_serde`], structs as arrays without field names: compact, and no schema of
//! its own, the version says which code wrote it), compressed with LZ4 frames ([`lz4_flex`]),
//! both streamed, so neither writing nor reading holds the uncompressed bytes in memory: a start
//! holds only the compressed bytes beside the state it builds.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wijkpuls_domain::similar::SimilarIndex;
use wijkpuls_domain::CityState;

/// The revision of this encoding (the envelope below, MessagePack, LZ4).
const ENCODING_REVISION: u64 = 2;

/// What a stored snapshot must be marked with to be trusted: the fold's, the index's and the
/// encoding's revisions. Raising any of them makes every stored snapshot stale.
pub const VERSION: u64 =
    CityState::FOLD_REVISION * 1_000_000 + SimilarIndex::REVISION * 1_000 + ENCODING_REVISION;

/// How the live state uses snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Load the newest valid snapshot at start and write new ones; `false` folds the whole log
    /// at every start and writes none (`--no-snapshots`).
    pub enabled: bool,
    /// Events applied between two snapshots written (`--snapshot-every`).
    pub every: u64,
}

impl SnapshotOptions {
    /// The default distance between snapshots: at Arnhem's few tens of thousands of events a
    /// year, one or two a year; on a large log, a start never replays more than this.
    pub const DEFAULT_EVERY: u64 = 100_000;

    pub fn disabled() -> SnapshotOptions {
        SnapshotOptions {
            enabled: false,
            every: Self::DEFAULT_EVERY,
        }
    }
}

impl Default for SnapshotOptions {
    fn default() -> SnapshotOptions {
        SnapshotOptions {
            enabled: true,
            every: Self::DEFAULT_EVERY,
        }
    }
}

/// The snapshot as written: borrowed from the live state.
#[derive(Serialize)]
struct Written<'a> {
    state: &'a CityState,
    similar: &'a SimilarIndex,
    /// The position of the oldest event of the recent feed when it was taken, so a start can
    /// show the same recent events.
    recent_from: u64,
}

/// The snapshot as read: the same fields in the same order.
#[derive(Deserialize)]
pub struct Loaded {
    pub state: CityState,
    pub similar: SimilarIndex,
    pub recent_from: u64,
}

/// Encodes a snapshot. `state` and `similar` must be at the same position.
pub fn encode(
    state: &CityState,
    similar: &SimilarIndex,
    recent_from: u64,
) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        state.position() == similar.position(),
        "the state (at {}) and the index (at {}) are not at the same position",
        state.position(),
        similar.position()
    );
    let mut encoder = std::io::BufWriter::new(lz4_flex::frame::FrameEncoder::new(Vec::new()));
    rmp_serde::encode::write(
        &mut encoder,
        &Written {
            state,
            similar,
            recent_from,
        },
    )?;
    encoder.flush()?;
    let bytes = encoder.into_inner().map_err(|e| e.into_error())?.finish()?;
    Ok(bytes)
}

/// Decodes a snapshot written by [`encode`] with the same [`VERSION`].
pub fn decode(bytes: &[u8]) -> anyhow::Result<Loaded> {
    let mut decoder = std::io::BufReader::new(lz4_flex::frame::FrameDecoder::new(bytes));
    let loaded: Loaded = rmp_serde::decode::from_read(&mut decoder)?;
    let mut trailing = [0u8; 1];
    anyhow::ensure!(
        decoder.read(&mut trailing)? == 0,
        "the snapshot has bytes after its end"
    );
    // The decoder stops at the end of the LZ4 frame: anything after it is not ours either.
    let rest = decoder.into_inner().into_inner();
    anyhow::ensure!(rest.is_empty(), "the snapshot has bytes after its end");
    anyhow::ensure!(
        loaded.state.position() == loaded.similar.position(),
        "the snapshot's state and index are not at the same position"
    );
    Ok(loaded)
}

/// When a snapshot was taken, for logs.
pub fn describe(position: u64, created_at: DateTime<Utc>, len: usize) -> String {
    format!(
        "snapshot at position {position} ({:.1} MB, written {created_at})",
        len as f64 / 1e6
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is encoded is what is decoded; damaged or cut-short bytes are an error, never a
    /// state. (The round trip of a real log, against a full replay, is in the end-to-end
    /// suite: tests/api/snapshots.rs.)
    #[test]
    fn a_snapshot_decodes_to_what_was_encoded_and_damage_is_an_error() {
        let state = CityState::new();
        let similar = SimilarIndex::new();
        let bytes = encode(&state, &similar, 7).unwrap();
        let loaded = decode(&bytes).unwrap();
        assert!(loaded.state == state);
        assert!(loaded.similar == similar);
        assert_eq!(loaded.recent_from, 7);

        assert!(decode(b"not a snapshot").is_err());
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&bytes);
        assert!(decode(&longer).is_err(), "bytes after the end are refused");
    }
}
