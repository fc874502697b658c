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
//! both streamed, so neither writing nor reading holds the uncompressed bytes in memory. The
//! state and the index are two frames (the index is about as large as the rest), encoded and
//! decoded at once on two threads. They are stored interleaved, in blocks of at most [`BLOCK`]
//! bytes, each a frame's next bytes after its frame's number (1 byte: 0 the state, 1 the index)
//! and its length (4 bytes, little endian), in proportion to the two frames' sizes. So a start
//! decodes a snapshot as its chunks come out of the store, both frames at once, and holds only a
//! few MiB of its compressed bytes at any time ([`decode_stream`]).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wijkpuls_domain::similar::SimilarIndex;
use wijkpuls_domain::CityState;

/// The revision of this encoding (the two frames below, interleaved in blocks, MessagePack, LZ4
/// with a checksum of each frame's content).
const ENCODING_REVISION: u64 = 5;

/// The most bytes of a frame in one block. Small enough that the two decoding threads' queues
/// of [`QUEUED_BLOCKS`] hold little; large enough that a block's header costs nothing.
const BLOCK: usize = 256 << 10;

/// The largest block a decoder accepts: a damaged length must not make it allocate much.
const MAX_BLOCK: usize = 1 << 20;

/// Blocks waiting for each decoding thread, at most: the slack between the two threads, whose
/// speed per compressed byte differs along the way.
const QUEUED_BLOCKS: usize = 4;

/// A block's header: the frame's number and the block's length.
const HEADER: usize = 5;

/// The frames' numbers in the blocks' headers.
const STATE: u8 = 0;
const INDEX: u8 = 1;

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
/// Two LZ4 frames, the state's and the index's, encoded at once on two threads, then
/// interleaved in blocks (see the module docs).
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
    Ok(interleave(&state, &similar))
}

/// The two frames in blocks of at most [`BLOCK`] bytes (see [`interleave_in`]).
fn interleave(state: &[u8], similar: &[u8]) -> Vec<u8> {
    interleave_in(state, similar, BLOCK)
}

/// One value as one LZ4 frame of MessagePack.
fn frame(value: &impl Serialize) -> anyhow::Result<Vec<u8>> {
    // The content checksum (xxHash32) makes a flipped bit an error at the frame's end rather
    // than a value that decodes into a subtly wrong state.
    let info = lz4_flex::frame::FrameInfo::new().content_checksum(true);
    let mut encoder = std::io::BufWriter::new(lz4_flex::frame::FrameEncoder::with_frame_info(
        info,
        Vec::new(),
    ));
    rmp_serde::encode::write(&mut encoder, value)?;
    encoder.flush()?;
    Ok(encoder.into_inner().map_err(|e| e.into_error())?.finish()?)
}

/// The two frames in blocks of at most `block` bytes, the next block always of the frame that
/// is least far along (relative to its size): both decoding threads are fed all along.
fn interleave_in(state: &[u8], similar: &[u8], block: usize) -> Vec<u8> {
    let frames = [(STATE, state), (INDEX, similar)];
    let blocks = state.len().div_ceil(block) + similar.len().div_ceil(block);
    let mut bytes = Vec::with_capacity(state.len() + similar.len() + blocks * HEADER);
    let mut done = [0usize; 2];
    loop {
        let left = |i: usize| done[i] < frames[i].1.len();
        let next = match (left(0), left(1)) {
            (false, false) => break,
            (true, false) => 0,
            (false, true) => 1,
            // done[0] / len[0] <= done[1] / len[1], without division.
            (true, true) => {
                let ahead = done[0] as u128 * frames[1].1.len() as u128
                    > done[1] as u128 * frames[0].1.len() as u128;
                usize::from(ahead)
            }
        };
        let (number, frame) = frames[next];
        let piece = &frame[done[next]..frame.len().min(done[next] + block)];
        bytes.push(number);
        bytes.extend_from_slice(&(piece.len() as u32).to_le_bytes());
        bytes.extend_from_slice(piece);
        done[next] += piece.len();
    }
    bytes
}

/// Decodes a snapshot written by [`encode`] with the same [`VERSION`], all its bytes at hand
/// (tests and tools; a start uses [`decode_stream`]).
pub fn decode(bytes: &[u8]) -> anyhow::Result<Loaded> {
    decode_stream(std::iter::once(bytes))
}

/// Decodes a snapshot written by [`encode`] with the same [`VERSION`] from its bytes as they
/// arrive, in order, in pieces of any size (the store's chunks): each piece is let go as soon
/// as its blocks are queued for the two decoding threads, which decode the state and the index
/// at once. At most [`QUEUED_BLOCKS`] blocks per thread wait, so a slow decoder holds up the
/// reading of `pieces` (and, through it, of the store) rather than letting bytes pile up.
///
/// Damaged, cut short or with bytes after the end: an error, never a state. An error stops the
/// reading of `pieces` at once (and drops them), whichever thread finds it; the end of `pieces`
/// where a frame is not complete is an error too, so this always returns.
pub fn decode_stream<P: AsRef<[u8]>>(
    pieces: impl IntoIterator<Item = P>,
) -> anyhow::Result<Loaded> {
    let failed = AtomicBool::new(false);
    let (state, similar, split) = std::thread::scope(|scope| {
        let (to_state, state_queue) = std::sync::mpsc::sync_channel(QUEUED_BLOCKS);
        let (to_similar, similar_queue) = std::sync::mpsc::sync_channel(QUEUED_BLOCKS);
        let state = spawn_decoder(scope, "snapshot-state", state_queue, &failed, |blocks| {
            unframe::<LoadedState>(blocks).context("the state")
        })?;
        let similar = spawn_decoder(scope, "snapshot-index", similar_queue, &failed, |blocks| {
            unframe::<SimilarIndex>(blocks).context("the index of similar initiatives")
        })?;
        // Its dropping the senders, at its end or at an error, is what ends the decoders' input.
        let split = demultiplex(pieces, [to_state, to_similar], &failed);
        let state = state
            .join()
            .map_err(|_| anyhow::anyhow!("decoding the state panicked"))
            .and_then(|decoded| decoded);
        let similar = similar
            .join()
            .map_err(|_| anyhow::anyhow!("decoding the index panicked"))
            .and_then(|decoded| decoded);
        anyhow::Ok((state, similar, split))
    })?;
    // The first cause: bytes that are not blocks (the decoders then only saw their input end),
    // else what a decoder found.
    if let Split::Stopped = split? {
        state?;
        similar?;
        anyhow::bail!("a decoding thread stopped before the end of the snapshot");
    }
    let (state, similar) = (state?, similar?);
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

/// A thread that decodes one frame from the blocks queued for it; when it fails, it says so in
/// `failed` (and drops its queue), so the demultiplexer stops.
fn spawn_decoder<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    queue: Receiver<Vec<u8>>,
    failed: &'scope AtomicBool,
    decode: fn(Blocks) -> anyhow::Result<T>,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, anyhow::Result<T>>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, move || {
            let decoded = decode(Blocks::new(queue));
            if decoded.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            decoded
        })
}

/// How the demultiplexer ended, when the bytes were blocks.
enum Split {
    /// Every piece was read and queued.
    Whole,
    /// A decoder stopped (with an error) before all was read: the rest is not read.
    Stopped,
}

/// Reads `pieces` and queues each block for its frame's decoder; an error when the bytes are not
/// blocks of the two frames, or end in the middle of one.
fn demultiplex<P: AsRef<[u8]>>(
    pieces: impl IntoIterator<Item = P>,
    decoders: [SyncSender<Vec<u8>>; 2],
    failed: &AtomicBool,
) -> anyhow::Result<Split> {
    let mut header = [0u8; HEADER];
    let mut in_header = 0;
    // The block being gathered: its frame, its bytes so far, its length.
    let mut block: Option<(usize, Vec<u8>, usize)> = None;
    for piece in pieces {
        let mut bytes = piece.as_ref();
        while !bytes.is_empty() {
            match &mut block {
                None => {
                    let n = (HEADER - in_header).min(bytes.len());
                    header[in_header..in_header + n].copy_from_slice(&bytes[..n]);
                    (in_header, bytes) = (in_header + n, &bytes[n..]);
                    if in_header == HEADER {
                        in_header = 0;
                        let frame = match header[0] {
                            STATE => 0,
                            INDEX => 1,
                            other => anyhow::bail!("the snapshot has a block of frame {other}"),
                        };
                        let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]])
                            as usize;
                        anyhow::ensure!(
                            (1..=MAX_BLOCK).contains(&len),
                            "the snapshot has a block of {len} bytes"
                        );
                        block = Some((frame, Vec::with_capacity(len), len));
                    }
                }
                Some((frame, gathered, len)) => {
                    let n = (*len - gathered.len()).min(bytes.len());
                    gathered.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if gathered.len() == *len {
                        let (frame, gathered) = (*frame, std::mem::take(gathered));
                        block = None;
                        // A decoder that failed takes no more (its queue is gone, or it would
                        // only be noticed at its next block).
                        if failed.load(Ordering::Relaxed) || decoders[frame].send(gathered).is_err()
                        {
                            return Ok(Split::Stopped);
                        }
                    }
                }
            }
        }
    }
    anyhow::ensure!(
        in_header == 0 && block.is_none(),
        "the snapshot is cut short"
    );
    Ok(Split::Whole)
}

/// A decoder's frame, read from the blocks queued for it; it ends when the demultiplexer drops
/// the queue's sender.
struct Blocks {
    queue: Receiver<Vec<u8>>,
    block: Vec<u8>,
    at: usize,
}

impl Blocks {
    fn new(queue: Receiver<Vec<u8>>) -> Blocks {
        Blocks {
            queue,
            block: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Blocks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.at == self.block.len() {
            match self.queue.recv() {
                Ok(block) => (self.block, self.at) = (block, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The value in `input`, one LZ4 frame of MessagePack and nothing after it.
fn unframe<T: serde::de::DeserializeOwned>(input: impl Read) -> anyhow::Result<T> {
    let mut decoder = std::io::BufReader::new(lz4_flex::frame::FrameDecoder::new(input));
    let value: T = rmp_serde::decode::from_read(&mut decoder)?;
    let mut trailing = [0u8; 1];
    anyhow::ensure!(
        decoder.read(&mut trailing)? == 0,
        "the snapshot has bytes after its end"
    );
    // The decoder stops at the end of the LZ4 frame: anything after it is not ours either.
    let mut rest = decoder.into_inner().into_inner();
    anyhow::ensure!(
        rest.read(&mut trailing)? == 0,
        "the snapshot has bytes after its end"
    );
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
    use chrono::TimeDelta;
    use wijkpuls_domain::events::{BudgetAllocated, GebiedRegistered, WijkRegistered};
    use wijkpuls_domain::{BudgetLineKey, DomainEvent, Money, Recorded, Theme, WijkCode};

    /// A state with something in it: Arnhem's gebieden and wijken with allocations over a few
    /// years and every theme, and an index of `n` initiatives.
    fn state_of(n: usize) -> (CityState, SimilarIndex) {
        let mut state = CityState::new();
        let mut similar = SimilarIndex::new();
        let words = [
            "speeltuin",
            "moestuin",
            "buurtfeest",
            "bankje",
            "boom",
            "schoonmaak",
        ];
        for i in 0..n {
            let title = format!("{} {} nummer {i}", words[i % 6], words[(i / 6) % 6]);
            let description = format!(
                "{} bij de {} in de wijk, {i}",
                words[(i / 2) % 6],
                words[(i / 3) % 6]
            );
            similar.add(
                wijkpuls_domain::InitiativeId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1)),
                WijkCode::parse("WK020207").unwrap(),
                &wijkpuls_domain::similar::Profile::of(
                    &wijkpuls_domain::Title::parse(&title).unwrap(),
                    &wijkpuls_domain::Description::parse(&description).unwrap(),
                ),
            );
        }
        let reference = wijkpuls_domain::ReferenceData::arnhem();
        let mut events = Vec::new();
        for gebied in &reference.gebieden {
            events.push(DomainEvent::GebiedRegistered(GebiedRegistered {
                code: gebied.code,
                name: gebied.name.clone(),
                team: gebied.team.clone(),
            }));
        }
        for (wijk, gebied) in reference.wijken() {
            events.push(DomainEvent::WijkRegistered(WijkRegistered {
                code: wijk.code,
                name: wijk.name.clone(),
                gebied,
            }));
        }
        for (i, (wijk, _)) in reference.wijken().enumerate() {
            for year in 2020..2026 {
                for theme in Theme::ALL {
                    events.push(DomainEvent::BudgetAllocated(BudgetAllocated {
                        line: BudgetLineKey {
                            wijk: wijk.code,
                            year,
                            theme,
                        },
                        allocated: Money::from_cents(100_000 + i as i64 * 37 + year as i64)
                            .unwrap(),
                    }));
                }
            }
        }
        for (i, event) in events.into_iter().enumerate() {
            let recorded = Recorded {
                position: i as u64 + 1,
                recorded_at: DateTime::UNIX_EPOCH + TimeDelta::seconds(i as i64),
                event,
            };
            state.apply(&recorded);
            similar.apply(&recorded);
        }
        (state, similar)
    }

    /// [`encode`] with blocks of `block` bytes rather than [`BLOCK`]: many blocks of a small
    /// state.
    fn encode_in_blocks(state: &CityState, similar: &SimilarIndex, block: usize) -> Vec<u8> {
        let written = frame(&WrittenState {
            state,
            recent_from: 3,
        })
        .unwrap();
        interleave_in(&written, &frame(similar).unwrap(), block)
    }

    /// `decode_stream` of `bytes` in pieces of `size`, on a thread of its own: an error after
    /// ten seconds if it has not returned by then (it hangs).
    fn decode_in_pieces(bytes: &[u8], size: usize) -> anyhow::Result<Loaded> {
        let pieces: Vec<Vec<u8>> = bytes.chunks(size.max(1)).map(<[u8]>::to_vec).collect();
        within_ten_seconds(move || decode_stream(pieces))
    }

    fn within_ten_seconds<T: Send + 'static>(
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(f()));
        result
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("decoding hangs")
    }

    /// Where each block of `bytes` starts.
    fn block_starts(bytes: &[u8]) -> Vec<usize> {
        let mut starts = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            starts.push(at);
            let len = u32::from_le_bytes(bytes[at + 1..at + HEADER].try_into().unwrap());
            at += HEADER + len as usize;
        }
        starts
    }

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
        assert!(decode(b"").is_err());
    }

    /// Blocks of the two frames alternate in proportion to the frames' sizes (here 2 : 1),
    /// each at most a block long, and split back into the same two frames.
    #[test]
    fn the_frames_are_interleaved_in_proportion_and_split_back() {
        let first: Vec<u8> = (0..4 * BLOCK).map(|i| i as u8).collect();
        let second: Vec<u8> = (0..2 * BLOCK - 10).map(|i| (i * 7) as u8).collect();
        let bytes = interleave(&first, &second);
        let mut blocks = Vec::new();
        let mut rest = bytes.as_slice();
        let mut frames = [Vec::new(), Vec::new()];
        while !rest.is_empty() {
            let (header, after) = rest.split_at(HEADER);
            let len = u32::from_le_bytes(header[1..].try_into().unwrap()) as usize;
            assert!((1..=BLOCK).contains(&len));
            blocks.push(header[0]);
            frames[header[0] as usize].extend_from_slice(&after[..len]);
            rest = &after[len..];
        }
        assert_eq!(blocks, [STATE, INDEX, STATE, STATE, INDEX, STATE]);
        assert!(frames[0] == first && frames[1] == second);
    }

    /// A snapshot of many blocks decodes the same whatever the pieces its bytes arrive in:
    /// blocks and headers cut anywhere.
    #[test]
    fn many_blocks_decode_the_same_from_pieces_of_any_size() {
        let (state, similar) = state_of(300);
        let bytes = encode_in_blocks(&state, &similar, 64);
        let starts = block_starts(&bytes);
        for frame in [STATE, INDEX] {
            let blocks = starts.iter().filter(|&&at| bytes[at] == frame).count();
            assert!(blocks > 10, "{blocks} blocks of frame {frame}");
        }
        for size in [1, 5, 7, 64, 69, 1000, bytes.len()] {
            let loaded = decode_in_pieces(&bytes, size).unwrap();
            assert!(loaded.state == state, "pieces of {size}");
            assert!(loaded.similar == similar, "pieces of {size}");
            assert_eq!(loaded.recent_from, 3);
        }
        let whole = decode(&encode(&state, &similar, 3).unwrap()).unwrap();
        assert!(whole.state == state && whole.similar == similar);
    }

    /// Cut short anywhere, with bytes after the end, or with a block header that is not one:
    /// an error, and never a hang.
    #[test]
    fn a_damaged_snapshot_of_many_blocks_is_an_error_and_never_hangs() {
        let (state, similar) = state_of(300);
        let bytes = encode_in_blocks(&state, &similar, 64);
        // Anywhere, and between two blocks (the demultiplexer then sees nothing amiss, the
        // decoders do).
        let starts = block_starts(&bytes);
        let ends = (0..bytes.len())
            .step_by(97)
            .chain(starts.iter().copied().step_by(7));
        for end in ends {
            assert!(
                decode_in_pieces(&bytes[..end], 100).is_err(),
                "cut at {end} of {}",
                bytes.len()
            );
        }
        // A block after the end of the state's frame (a copy of the index's last block, as
        // the state's), and a whole second snapshot after the first.
        let last_index = block_starts(&bytes)
            .into_iter()
            .rfind(|&start| bytes[start] == INDEX)
            .unwrap();
        let mut longer = bytes.clone();
        longer.push(STATE);
        longer.extend_from_slice(&bytes[last_index + 1..]);
        assert!(decode_in_pieces(&longer, 100).is_err());
        let twice = [bytes.as_slice(), bytes.as_slice()].concat();
        assert!(decode_in_pieces(&twice, 100).is_err());
        // Headers: a third frame, an empty block, a block too long.
        for (at, byte) in [(0, 2u8), (1, 0), (4, 0x10)] {
            let mut damaged = bytes.clone();
            damaged[at] = byte;
            if at == 1 {
                damaged[1..5].copy_from_slice(&0u32.to_le_bytes());
            }
            let Err(error) = decode_in_pieces(&damaged, 100) else {
                panic!("damage at {at} was decoded");
            };
            assert!(format!("{error:#}").contains("block"), "{error:#}");
        }
    }

    /// A decoder that fails stops the reading of the pieces at once: an endless input (as from
    /// a store that goes on sending) is not read to its end, and the other decoder, still
    /// waiting for its blocks, is stopped too.
    #[test]
    fn a_decoding_error_stops_the_reading() {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = read.clone();
        let endless = std::iter::repeat_with(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            let mut block = vec![STATE];
            block.extend_from_slice(&8u32.to_le_bytes());
            block.extend_from_slice(b"garbage!");
            block
        });
        let Err(error) = within_ten_seconds(move || decode_stream(endless)) else {
            panic!("garbage was decoded");
        };
        assert!(format!("{error:#}").contains("the state"), "{error:#}");
        assert!(
            read.load(Ordering::Relaxed) < 100,
            "{} pieces read",
            read.load(Ordering::Relaxed)
        );
    }
}
