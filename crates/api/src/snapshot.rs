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
//! holds only the compressed bytes beside the state it builds. The state and the index are two
//! frames, encoded and decoded at once on two threads (the index is about as large as the
//! rest).

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wijkpuls_domain::similar::SimilarIndex;
use wijkpuls_domain::CityState;

/// The revision of this encoding (the two frames below, MessagePack, LZ4).
const ENCODING_REVISION: u64 = 3;

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

/// The state's part as written: borrowed from the live state.
#[derive(Serialize)]
struct WrittenState<'a> {
    state: &'a CityState,
    /// The position of the oldest event of the recent feed when it was taken, so a start can
    /// show the same recent events.
    recent_from: u64,
}

/// The state's part as read: the same fields in the same order.
#[derive(Deserialize)]
struct LoadedState {
    state: CityState,
    recent_from: u64,
}

/// A snapshot as read.
pub struct Loaded {
    pub state: CityState,
    pub similar: SimilarIndex,
    pub recent_from: u64,
}

/// Encodes a snapshot. `state` and `similar` must be at the same position.
///
/// Two LZ4 frames, the state's and the index's, after the first one's length (8 bytes, little
/// endian), so that a start decodes them at once on two cores. Both are encoded at once too.
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
    let (state, similar) = std::thread::scope(|scope| {
        let similar = scope.spawn(|| frame(similar));
        let state = frame(&WrittenState { state, recent_from });
        (state, similar.join())
    });
    let (state, similar) = (
        state?,
        similar.map_err(|_| anyhow::anyhow!("encoding the index panicked"))??,
    );
    let mut bytes = Vec::with_capacity(8 + state.len() + similar.len());
    bytes.extend_from_slice(&(state.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&state);
    bytes.extend_from_slice(&similar);
    Ok(bytes)
}

/// One value as one LZ4 frame of MessagePack.
fn frame(value: &impl Serialize) -> anyhow::Result<Vec<u8>> {
    let mut encoder = std::io::BufWriter::new(lz4_flex::frame::FrameEncoder::new(Vec::new()));
    rmp_serde::encode::write(&mut encoder, value)?;
    encoder.flush()?;
    Ok(encoder.into_inner().map_err(|e| e.into_error())?.finish()?)
}

/// Decodes a snapshot written by [`encode`] with the same [`VERSION`].
pub fn decode(bytes: &[u8]) -> anyhow::Result<Loaded> {
    let (length, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| anyhow::anyhow!("the snapshot is too short"))?;
    let length = usize::try_from(u64::from_le_bytes(*length))?;
    anyhow::ensure!(length <= rest.len(), "the snapshot is cut short");
    let (state, similar) = rest.split_at(length);
    let (state, similar) = std::thread::scope(|scope| {
        let similar = scope.spawn(|| unframe::<SimilarIndex>(similar));
        let state = unframe::<LoadedState>(state);
        (state, similar.join())
    });
    let (state, similar) = (
        state?,
        similar.map_err(|_| anyhow::anyhow!("decoding the index panicked"))??,
    );
    anyhow::ensure!(
        state.state.position() == similar.position(),
        "the snapshot's state and index are not at the same position"
    );
    Ok(Loaded {
        state: state.state,
        similar,
        recent_from: state.recent_from,
    })
}

/// The value in `bytes`, one LZ4 frame of MessagePack and nothing after it.
fn unframe<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    let mut decoder = std::io::BufReader::new(lz4_flex::frame::FrameDecoder::new(bytes));
    let value: T = rmp_serde::decode::from_read(&mut decoder)?;
    let mut trailing = [0u8; 1];
    anyhow::ensure!(
        decoder.read(&mut trailing)? == 0,
        "the snapshot has bytes after its end"
    );
    // The decoder stops at the end of the LZ4 frame: anything after it is not ours either.
    let rest = decoder.into_inner().into_inner();
    anyhow::ensure!(rest.is_empty(), "the snapshot has bytes after its end");
    Ok(value)
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
