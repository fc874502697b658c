//! `wijkpuls-bench memory`: where the live state's memory goes on an existing store (a log
//! from `wijkpuls generate`, say).
//!
//! Folds the log twice, once into the [`CityState`] alone and once into the [`SimilarIndex`]
//! alone, and reports what each holds on the heap, counted by this program's allocator
//! ([`Counting`]), with the state's initiatives split by field. Then encodes both as a snapshot
//! and decodes it, and reports the decode's peak above what was held before it. The baseline is
//! the bytes the log's events take as stored (their JSON), read in the same run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::TryStreamExt as _;
use wijkpuls_api::{codec, snapshot};
use wijkpuls_domain::projection::{ConnectionView, HistoryStep};
use wijkpuls_domain::similar::SimilarIndex;
use wijkpuls_domain::{CityState, DomainEvent, InitiativeView};
use wijkpuls_event_store::{EventStore, Position, StoreOptions};

/// The system allocator, counting the bytes held and their peak (this program's
/// `#[global_allocator]`; two relaxed atomic adds per allocation).
pub struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(held, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let held = HELD.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(held, Ordering::Relaxed);
        } else {
            HELD.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub async fn run_memory(database_url: &str) -> anyhow::Result<()> {
    let store = EventStore::open(database_url, StoreOptions::default()).await?;

    let started = Instant::now();
    let before = held();
    let mut state = CityState::new();
    let mut stored_bytes = 0usize;
    let mut events = 0usize;
    {
        let mut records = std::pin::pin!(store.read_all(Position(0)));
        while let Some(record) = records.try_next().await? {
            stored_bytes += record.payload.to_string().len();
            events += 1;
            state.apply(&codec::to_recorded(&record)?);
        }
    }
    let state_bytes = held() - before;
    println!(
        "log: {events} events, {:.0} MiB as stored JSON (the baseline); folded in {:.1} s",
        mib(stored_bytes),
        started.elapsed().as_secs_f64()
    );
    println!(
        "state: {:.0} MiB ({:.2} × the log's JSON), {} initiatives",
        mib(state_bytes),
        state_bytes as f64 / stored_bytes as f64,
        state.initiatives().count()
    );
    for (field, bytes) in initiative_fields(&state) {
        println!("  initiatives' {field}: {:.0} MiB", mib(bytes));
    }
    println!(
        "  sizes: an initiative {} B, a history step {} B, a connection {} B",
        std::mem::size_of::<InitiativeView>(),
        std::mem::size_of::<HistoryStep>(),
        std::mem::size_of::<ConnectionView>()
    );

    // What a checkpoint of the places for `asOf` holds: a copy of the places (a wijk's lines
    // and counts of a year are shared with the copy it was made from until they change).
    let before = held();
    let checkpoint = state.places().clone();
    println!(
        "a checkpoint of the places (asOf): {:.0} KiB",
        (held() - before) as f64 / 1024.0
    );
    drop(checkpoint);

    let before = held();
    let started = Instant::now();
    let mut similar = SimilarIndex::new();
    {
        let mut records = std::pin::pin!(store.read_all(Position(0)));
        while let Some(record) = records.try_next().await? {
            similar.apply(&codec::to_recorded(&record)?);
        }
    }
    let similar_bytes = held() - before;
    println!(
        "similar index: {:.0} MiB ({:.2} × the log's JSON), folded in {:.1} s",
        mib(similar_bytes),
        similar_bytes as f64 / stored_bytes as f64,
        started.elapsed().as_secs_f64()
    );

    decoding(&store).await?;

    let bytes = snapshot::encode(&state, &similar, state.position())?;
    drop((state, similar));
    let before = held();
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let loaded = snapshot::decode(&bytes)?;
    let decoded = held() - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    println!(
        "snapshot: {:.0} MiB; decoded in {:.2} s into {:.0} MiB, peak {:.0} MiB above the snapshot's bytes",
        mib(bytes.len()),
        started.elapsed().as_secs_f64(),
        mib(decoded),
        mib(peak)
    );
    drop(loaded);
    Ok(())
}

/// What reading an event costs the tailer, read in place from its stored JSON
/// ([`DomainEvent::from_payload_ref`], what [`codec::to_recorded`] does) against copying the
/// JSON first (what it did before), on the log's first 20,000 events, alternating rounds.
async fn decoding(store: &EventStore) -> anyhow::Result<()> {
    let records = store.read_batch(Position(0), 20_000).await?;
    let mut in_place = Vec::new();
    let mut copied = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for record in &records {
            std::hint::black_box(DomainEvent::from_payload_ref(
                &record.event_type,
                record.schema_version,
                &record.payload,
            )?);
        }
        in_place.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        for record in &records {
            std::hint::black_box(DomainEvent::from_payload(
                &record.event_type,
                record.schema_version,
                record.payload.clone(),
            )?);
        }
        copied.push(started.elapsed().as_secs_f64());
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2] / records.len() as f64 * 1e6
    };
    let (in_place, copied) = (median(&mut in_place), median(&mut copied));
    println!(
        "reading an event: {in_place:.2} µs in place, {copied:.2} µs copying its JSON first \
         (the baseline): {:.2}×",
        in_place / copied
    );
    Ok(())
}

/// The heap bytes of the initiatives' fields, estimated from their lengths and capacities (the
/// counting allocator cannot tell fields apart), with each initiative's own struct.
fn initiative_fields(state: &CityState) -> Vec<(&'static str, usize)> {
    let mut structs = 0;
    let mut texts = 0;
    let mut history = 0;
    let mut connections = 0;
    for view in state.initiatives() {
        let view: &InitiativeView = view;
        structs += std::mem::size_of::<InitiativeView>();
        texts += view.title.as_str().len() + view.description.as_str().len() + 32;
        history += std::mem::size_of_val::<[_]>(&view.steps);
        connections +=
            view.connections.len() * view.connections.first().map_or(0, std::mem::size_of_val);
    }
    vec![
        ("structs", structs),
        ("title and description", texts),
        ("history (where its events are)", history),
        ("connections", connections),
    ]
}
