//! Live state: the read model in memory, kept current by one tailer task per process.
//!
//! The tailer replays the log at start-up, then follows the store's subscription and applies
//! every event to the [`CityState`]. Queries read that state; commands decide on it. After each
//! applied event the tailer publishes:
//! - the applied position (`watch`), which mutations wait on for read-your-writes;
//! - a change signal for the city and for each wijk the event touched (`watch`: latest value
//!   only, so a slow subscriber gets the newest state and never a growing queue);
//! - a public [`FeedItem`] on a bounded `broadcast` channel for event feeds.
//!
//! Beside the state it keeps the [`SimilarIndex`] of every initiative's text, updated before the
//! position is published, so an initiative is found as similar as soon as its submission
//! returns.
//! For time travel (`asOf`) it keeps checkpoints of the [`Places`] in memory ([`Past`]): a
//! [`Moment`] ([`Live::moment_at`]) has the places of the nearest checkpoint before it, folded
//! forward with events read from the log (the truth), up to the first event about a later
//! moment. That fold needs no initiative views of the time: the live state's history steps say
//! what each event did ([`Places::apply_past`]), so a checkpoint is a few dozen KiB, not a
//! whole past state. An initiative at a moment is folded from its own history
//! ([`wijkpuls_domain::InitiativeView::as_at`]), and a page of initiatives then lists the live
//! ones submitted by then with their statuses then (`schema::query::PageOf::Past`): no whole
//! past state is ever kept.
//!
//! # Start-up
//!
//! [`Live::start`] loads the newest valid snapshot stored beside the log ([`crate::snapshot`])
//! and replays only what follows it; without one (or with `--no-snapshots`) it folds the whole
//! log. While following, it writes a new snapshot every [`SnapshotOptions::every`] events, and
//! [`Live::write_snapshot`] writes one when the server stops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::sync::{broadcast, watch};
use wijkpuls_domain::similar::SimilarIndex;
use wijkpuls_domain::{CityState, InitiativeId, Places, Recorded, WijkCode};
use wijkpuls_event_store::{EventStore, Position, RecordedEvent, SnapshotPiece, SnapshotRead};

use crate::codec;
use crate::feed::{self, FeedItem};
use crate::snapshot::{self, SnapshotOptions};

/// How many feed items a lagging subscriber may fall behind before it is told and resumes
/// from the log.
const FEED_CAPACITY: usize = 1024;
/// How many recent feed items are kept for a new subscriber's first view.
const RECENT: usize = 50;
/// The tailer's first and longest pause before it starts following the log again.
const RESUME_BACKOFF_MIN: Duration = Duration::from_millis(100);
const RESUME_BACKOFF_MAX: Duration = Duration::from_secs(5);

pub struct Live {
    state: RwLock<CityState>,
    similar: RwLock<SimilarIndex>,
    applied: watch::Sender<u64>,
    wijken: Mutex<HashMap<WijkCode, watch::Sender<u64>>>,
    feed: broadcast::Sender<Arc<FeedItem>>,
    recent: Mutex<std::collections::VecDeque<Arc<FeedItem>>>,
    caught_up: watch::Sender<bool>,
    /// While `true`, the tailer applies nothing (see [`Live::pause`]).
    paused: watch::Sender<bool>,
    /// Checkpoints of the places and answers for `asOf`.
    past: Mutex<Past>,
    /// Refolds for `asOf` running at once, at most [`REFOLDS`].
    refolds: tokio::sync::Semaphore,
    snapshots: SnapshotOptions,
    /// The position of the stored snapshot this process started from; 0 when it folded the
    /// whole log.
    started_from: u64,
    /// The position of the last snapshot stored (or loaded).
    stored: std::sync::atomic::AtomicU64,
    /// The position at which the last snapshot was asked for (or loaded); the next one is due
    /// `every` events later.
    asked: std::sync::atomic::AtomicU64,
    /// Wakes the snapshot writer ([`Live::follow`] starts it).
    snapshot_due: tokio::sync::Notify,
    /// Held while a snapshot is written, so two never run at once.
    writing: tokio::sync::Mutex<()>,
}

/// The most checkpoints of the places kept. When one more is due, every other one is dropped
/// and the distance between them doubles, so memory stays bounded and the checkpoints spread
/// over the whole log. At a million events they are 4,096 events apart: a moment between two is
/// folded from at most that many events.
const MAX_CHECKPOINTS: usize = 256;
/// Events between checkpoints at first (it doubles as the log grows, see [`MAX_CHECKPOINTS`]).
const FIRST_CHECKPOINT_EVERY: u64 = 4096;
/// Moments asked before, kept with their answers (a dashboard asks the same moment again).
const CACHED_MOMENTS: usize = 4;
/// At shutdown a snapshot is stored only when at least this many events were applied since the
/// last one.
const SHUTDOWN_SNAPSHOT_MIN: u64 = 1000;
/// Folds for `asOf` at once: each takes a core for a while.
const REFOLDS: usize = 2;
/// Checkpoints the background fold after a snapshot start makes before it hands them over.
const WARM_STRETCH: u64 = 16;
/// Events read from the log at a time while folding forward (each read and decoded batch is held
/// at once: small, so the background fold after a start adds little to the peak).
const REFOLD_PAGE: usize = 500;

/// The places at one position of the log: a checkpoint, or the places of a [`Moment`].
#[derive(Debug, Clone, Default)]
pub struct PlacesAt {
    /// The last event folded in; 0 before the first.
    pub position: u64,
    /// When that event happened.
    pub as_of: Option<DateTime<Utc>>,
    /// The latest moment any event folded in is about: these are the places at every moment
    /// from this one until the next event's.
    pub latest: Option<DateTime<Utc>>,
    pub places: Places,
}

impl PlacesAt {
    fn of(state: &CityState) -> PlacesAt {
        PlacesAt {
            position: state.position(),
            as_of: state.as_of(),
            latest: state.latest(),
            places: state.places().clone(),
        }
    }

    /// Folds in the next event; `later` has applied it (see [`Places::apply_past`]).
    fn apply(&mut self, recorded: &Recorded, later: &CityState) {
        self.position = recorded.position;
        self.as_of = Some(recorded.recorded_at);
        self.latest = Some(
            self.latest
                .map_or(recorded.recorded_at, |l| l.max(recorded.recorded_at)),
        );
        self.places.apply_past(recorded, later);
    }
}

/// A past moment asked for (`asOf`): its places. What it shows of initiatives is folded from
/// their own histories when asked (see the module docs).
pub struct Moment {
    places: PlacesAt,
    /// Per wijk, when its initiatives changed since last changed by then
    /// ([`Live::last_changes`]), read once.
    last_changes: Mutex<HashMap<WijkCode, LastChanges>>,
}

/// When initiatives last changed by a moment (see [`Live::last_changes`]).
pub type LastChanges = Arc<HashMap<InitiativeId, DateTime<Utc>>>;

impl Moment {
    /// The position of the last event at or before the moment.
    pub fn position(&self) -> u64 {
        self.places.position
    }

    /// When the last event at or before the moment happened (`None` before the first).
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.places.as_of
    }

    /// The municipality, gebieden and wijken at the moment.
    pub fn places(&self) -> &Places {
        &self.places.places
    }
}

/// At most [`MAX_CHECKPOINTS`] checkpoints, by position, spread over the log: `every` events
/// apart, a distance that doubles whenever one more would be too many.
struct Series {
    kept: Vec<Arc<PlacesAt>>,
    every: u64,
}

impl Series {
    fn new() -> Series {
        Series {
            kept: Vec::new(),
            every: FIRST_CHECKPOINT_EVERY,
        }
    }

    /// Whether one is due at `position` (after the last kept).
    fn due(&self, position: u64) -> bool {
        // Positions may have gaps (PostgreSQL sequences), so distances, not multiples.
        let last = self.kept.last().map_or(0, |s| s.position);
        position >= last.saturating_add(self.every)
    }

    /// Keeps `item` (just noted as due) at the end.
    fn keep(&mut self, item: Arc<PlacesAt>) {
        if self.kept.len() >= MAX_CHECKPOINTS {
            self.thin();
            if !self.due(item.position) {
                return;
            }
        }
        self.kept.push(item);
    }

    /// Drops every other one and doubles the distance between them.
    fn thin(&mut self) {
        // Keep the 2nd, 4th, …: they are `every` × 2 apart, like the ones to come.
        let mut keep = true;
        self.kept.retain(|_| {
            keep = !keep;
            keep
        });
        self.every *= 2;
    }

    /// Adds what a fold made on its way, each in its place (once), and stays bounded.
    fn insert(&mut self, made: Vec<Arc<PlacesAt>>) {
        for item in made {
            let at = self.kept.partition_point(|s| s.position < item.position);
            if self
                .kept
                .get(at)
                .is_some_and(|s| s.position == item.position)
            {
                continue;
            }
            self.kept.insert(at, item);
        }
        while self.kept.len() > MAX_CHECKPOINTS {
            self.thin();
        }
    }

    /// The latest one that is the past at `time`: all its events happened by then.
    fn before(&self, time: DateTime<Utc>) -> Option<Arc<PlacesAt>> {
        let after = self
            .kept
            .partition_point(|s| s.latest.is_none_or(|latest| latest <= time));
        after.checked_sub(1).map(|i| self.kept[i].clone())
    }
}

/// Checkpoints of the places, and the moments recently asked for.
struct Past {
    /// Kept by the tailer as it applies events, and by the warm-up for the log before a stored
    /// snapshot ([`Live::warm_past`]), and by folds for moments on their way.
    checkpoints: Series,
    /// Moments asked for, oldest asked first.
    answers: std::collections::VecDeque<(DateTime<Utc>, Arc<Moment>)>,
}

impl Past {
    fn new() -> Past {
        Past {
            checkpoints: Series::new(),
            answers: std::collections::VecDeque::new(),
        }
    }

    fn answer(&self, time: DateTime<Utc>) -> Option<Arc<Moment>> {
        self.answers
            .iter()
            .find(|(t, _)| *t == time)
            .map(|(_, s)| s.clone())
    }

    fn remember(&mut self, time: DateTime<Utc>, moment: Arc<Moment>) {
        if self.answer(time).is_some() {
            return;
        }
        if self.answers.len() == CACHED_MOMENTS {
            self.answers.pop_front();
        }
        self.answers.push_back((time, moment));
    }
}

/// The live state has not applied a position within the time it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotYetApplied {
    /// The position waited for.
    pub position: u64,
    /// The position the live state had applied when the wait gave up.
    pub applied: u64,
}

impl Live {
    /// Replays the whole log into a fresh state, without snapshots (see [`Live::start`]).
    pub async fn replay(store: &EventStore) -> anyhow::Result<Arc<Live>> {
        Live::start(store, SnapshotOptions::disabled()).await
    }

    /// Builds the live state: from the newest valid snapshot stored beside the log and what
    /// follows it, or by folding the whole log (no snapshot, or snapshots disabled).
    pub async fn start(store: &EventStore, options: SnapshotOptions) -> anyhow::Result<Arc<Live>> {
        let loaded = if options.enabled {
            load_snapshot(store).await
        } else {
            None
        };
        let (mut state, mut similar, read_after) = match loaded {
            Some(loaded) => {
                let position = loaded.state.position();
                // Read from the recent feed's first event, to show the same recent events.
                let recent = loaded.recent_from.saturating_sub(1).min(position);
                (loaded.state, loaded.similar, recent)
            }
            None => (CityState::new(), SimilarIndex::new(), 0),
        };
        let stored = state.position();
        let mut events = std::pin::pin!(store.read_all(Position(read_after)));
        // Only the last few events get feed lines; they are named from the final state.
        let mut tail = std::collections::VecDeque::with_capacity(RECENT);
        let mut past = Past::new();
        while let Some(record) = events.try_next().await? {
            let recorded = codec::to_recorded(&record)?;
            if recorded.position > stored {
                state.apply(&recorded);
                similar.apply(&recorded);
                if past.checkpoints.due(state.position()) {
                    past.checkpoints.keep(Arc::new(PlacesAt::of(&state)));
                }
            }
            if tail.len() == RECENT {
                tail.pop_front();
            }
            tail.push_back((record, recorded));
        }
        let recent = tail
            .iter()
            .map(|(record, recorded)| Arc::new(feed::item(&state, record, recorded)))
            .collect();
        let position = state.position();
        if stored > 0 {
            tracing::info!(
                snapshot = stored,
                replayed = position - stored,
                "started from a stored snapshot"
            );
        }
        Ok(Arc::new(Live {
            state: RwLock::new(state),
            similar: RwLock::new(similar),
            applied: watch::Sender::new(position),
            wijken: Mutex::new(HashMap::new()),
            feed: broadcast::Sender::new(FEED_CAPACITY),
            recent: Mutex::new(recent),
            caught_up: watch::Sender::new(false),
            paused: watch::Sender::new(false),
            past: Mutex::new(past),
            refolds: tokio::sync::Semaphore::new(REFOLDS),
            snapshots: options,
            started_from: stored,
            stored: std::sync::atomic::AtomicU64::new(stored),
            asked: std::sync::atomic::AtomicU64::new(stored),
            snapshot_due: tokio::sync::Notify::new(),
            writing: tokio::sync::Mutex::new(()),
        }))
    }

    /// The position of the stored snapshot this process started from; 0 when it folded the
    /// whole log.
    pub fn started_from(&self) -> u64 {
        self.started_from
    }

    /// How many checkpoints of the places `asOf` has (for tests).
    #[doc(hidden)]
    pub fn checkpoints(&self) -> usize {
        self.past
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .checkpoints
            .kept
            .len()
    }

    /// At shutdown: stores a snapshot when at least [`SHUTDOWN_SNAPSHOT_MIN`] events were
    /// applied since the last one stored (replaying fewer at the next start costs less than
    /// writing one).
    pub async fn write_shutdown_snapshot(
        self: &Arc<Live>,
        store: &EventStore,
    ) -> anyhow::Result<Option<u64>> {
        let stored = self.stored.load(std::sync::atomic::Ordering::Relaxed);
        if self.position() < stored.saturating_add(SHUTDOWN_SNAPSHOT_MIN) {
            return Ok(None);
        }
        self.write_snapshot(store).await
    }

    /// Writes a snapshot of the state as it is now, unless snapshots are disabled or the last
    /// one stored is of this position already. Returns the position written.
    pub async fn write_snapshot(
        self: &Arc<Live>,
        store: &EventStore,
    ) -> anyhow::Result<Option<u64>> {
        if !self.snapshots.enabled {
            return Ok(None);
        }
        let _writing = self.writing.lock().await;
        let live = self.clone();
        // Encoding a large state takes a while: off the async threads, reading the index
        // under its lock (the tailer waits for it meanwhile; snapshots are rare).
        let encoded = tokio::task::spawn_blocking(move || live.encode_snapshot()).await??;
        let Some((position, bytes)) = encoded else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        store
            .save_snapshot(position, snapshot::VERSION, &bytes)
            .await?;
        self.stored
            .fetch_max(position, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(position, bytes = bytes.len(), elapsed = ?started.elapsed(), "snapshot stored");
        Ok(Some(position))
    }

    /// The state and the index at one position, encoded; `None` when that position is stored
    /// already.
    fn encode_snapshot(&self) -> anyhow::Result<Option<(u64, Vec<u8>)>> {
        loop {
            // A clone of the state is cheap (it shares its data); the index is read under its
            // lock. The tailer updates the index just after the state, so they may be one
            // event apart: then try again.
            let state = Arc::new(self.read().clone());
            let similar = self.similar();
            if similar.position() != state.position() {
                drop(similar);
                std::thread::yield_now();
                continue;
            }
            if state.position() <= self.stored.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            let recent_from = self
                .recent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .front()
                .map_or(0, |item| item.position);
            let bytes = snapshot::encode(&state, &similar, recent_from)?;
            return Ok(Some((state.position(), bytes)));
        }
    }

    /// Writes a snapshot whenever the tailer says one is due. Runs until the process ends.
    async fn write_snapshots(self: Arc<Live>, store: EventStore) {
        loop {
            self.snapshot_due.notified().await;
            if let Err(error) = self.write_snapshot(&store).await {
                // The log is the truth: without a new snapshot, the next start replays more.
                tracing::warn!(%error, "cannot store a snapshot of the live state");
            }
        }
    }

    /// Follows the store from the replayed position, applying every new event. Runs until the
    /// process ends. The store's subscription survives lost connections by itself; should it
    /// still end with an error, readiness says so and the tailer starts again from the last
    /// applied position after a pause that grows to at most [`RESUME_BACKOFF_MAX`].
    pub async fn follow(self: Arc<Live>, store: EventStore) {
        if self.started_from > 0 {
            tokio::spawn(self.clone().warm_past(store.clone()));
        }
        if self.snapshots.enabled {
            tokio::spawn(self.clone().write_snapshots(store.clone()));
            if self.position() > self.stored.load(std::sync::atomic::Ordering::Relaxed)
                && self.position() >= self.snapshots.every
            {
                // A large log folded without a usable snapshot (none yet, or of an older fold):
                // store one now, so the next start is quick.
                self.asked
                    .store(self.position(), std::sync::atomic::Ordering::Relaxed);
                self.snapshot_due.notify_one();
            }
        }
        let mut backoff = RESUME_BACKOFF_MIN;
        loop {
            let from = self.position();
            let mut subscription = store.subscribe(Position(from));
            self.caught_up.send_replace(true);
            let error = loop {
                match subscription.next().await {
                    Some(Ok(record)) => {
                        self.wait_while_paused().await;
                        self.apply(&record);
                        backoff = RESUME_BACKOFF_MIN;
                    }
                    Some(Err(error)) => break error.to_string(),
                    None => break "the subscription ended".to_owned(),
                }
            };
            self.caught_up.send_replace(false);
            tracing::error!(%error, position = self.position(), ?backoff,
                "the live state cannot follow the log; resuming after a pause");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RESUME_BACKOFF_MAX);
        }
    }

    async fn wait_while_paused(&self) {
        let mut paused = self.paused.subscribe();
        let _ = paused.wait_for(|paused| !*paused).await;
    }

    /// Stops applying events until the returned guard is dropped, as if the tailer had stalled.
    /// For tests of what mutations and readiness do then; nothing in the service calls it.
    #[doc(hidden)]
    pub fn pause(self: &Arc<Live>) -> PauseGuard {
        self.paused.send_replace(true);
        PauseGuard(self.clone())
    }

    fn apply(&self, record: &RecordedEvent) {
        let recorded = match codec::to_recorded(record) {
            Ok(recorded) => recorded,
            Err(error) => {
                // Skip rather than stall the whole service: the log stays the truth, and the
                // error names the event so an operator can add the missing upcaster.
                tracing::error!(%error, position = %record.position, "skipping an unreadable event");
                return;
            }
        };
        let (item, checkpoint_due) = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            state.apply(&recorded);
            let due = self
                .past
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .checkpoints
                .due(state.position());
            (Arc::new(feed::item(&state, record, &recorded)), due)
        };
        self.similar
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .apply(&recorded);
        if checkpoint_due {
            // Copied under the read lock (queries go on meanwhile); only this task writes, so
            // it is the state just noted.
            let checkpoint = Arc::new(PlacesAt::of(&self.read()));
            self.past
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .checkpoints
                .keep(checkpoint);
        }
        let asked = self.asked.load(std::sync::atomic::Ordering::Relaxed);
        if self.snapshots.enabled && recorded.position >= asked.saturating_add(self.snapshots.every)
        {
            self.asked
                .store(recorded.position, std::sync::atomic::Ordering::Relaxed);
            self.snapshot_due.notify_one();
        }
        for wijk in &item.wijken {
            if let Some(sender) = self
                .wijken
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(wijk)
            {
                sender.send_replace(recorded.position);
            }
        }
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(item.clone());
        }
        let _ = self.feed.send(item);
        self.applied.send_replace(recorded.position);
    }

    /// The current state, for reading. Hold the guard briefly and never across an `.await`.
    pub fn read(&self) -> RwLockReadGuard<'_, CityState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The index of similar initiatives, for reading. Take it after [`Live::read`] when both
    /// are held, and never across an `.await`.
    pub fn similar(&self) -> RwLockReadGuard<'_, SimilarIndex> {
        self.similar.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn position(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Whether the tailer is following the log (for readiness).
    pub fn is_following(&self) -> bool {
        *self.caught_up.borrow()
    }

    /// Waits until the state has applied `position` (read-your-writes), for at most `deadline`.
    pub async fn wait_for(&self, position: u64, deadline: Duration) -> Result<(), NotYetApplied> {
        let mut applied = self.applied.subscribe();
        let waited = tokio::time::timeout(deadline, applied.wait_for(|p| *p >= position)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            // The sender lives as long as `self`: a closed channel cannot happen while we wait.
            Ok(Err(_)) | Err(_) => Err(NotYetApplied {
                position,
                applied: self.position(),
            }),
        }
    }

    /// Changes anywhere (the applied position).
    pub fn city_changes(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Changes to one wijk.
    pub fn wijk_changes(&self, wijk: WijkCode) -> watch::Receiver<u64> {
        let mut senders = self.wijken.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(wijk)
            .or_insert_with(|| watch::Sender::new(self.position()))
            .subscribe()
    }

    pub fn feed(&self) -> broadcast::Receiver<Arc<FeedItem>> {
        self.feed.subscribe()
    }

    /// The most recent feed items, oldest first.
    pub fn recent(&self) -> Vec<Arc<FeedItem>> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// When the last applied event was recorded.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.read().as_of()
    }
}

impl Live {
    /// The moment `time` (`asOf`): the fold of the log up to the first event about a later
    /// moment. `None` when that is the whole log applied so far: then the live state is the
    /// answer (so a moment in the future is now). Before the first event it is the empty state.
    ///
    /// Its places are folded forward from the nearest checkpoint with what the log holds after
    /// it; at most [`REFOLDS`] folds run at once, and the last few moments asked are answered
    /// from memory.
    pub async fn moment_at(
        &self,
        store: &EventStore,
        time: DateTime<Utc>,
    ) -> anyhow::Result<Option<Arc<Moment>>> {
        // The state's lock before the past's, in the tailer's order.
        if self.read().latest().is_none_or(|latest| latest <= time) {
            return Ok(None);
        }
        if let Some(answer) = self
            .past
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .answer(time)
        {
            return Ok(Some(answer));
        }
        let _permit = self.refolds.acquire().await?;
        // Decided once it may fold: meanwhile another fold may have answered the moment or
        // made a checkpoint nearer to it (the background fold after a start).
        let (start, every) = {
            let past = self.past.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(answer) = past.answer(time) {
                return Ok(Some(answer));
            }
            (past.checkpoints.before(time), past.checkpoints.every)
        };
        let start = start.map_or_else(PlacesAt::default, |s| PlacesAt::clone(&s));
        let (places, made) = self
            .fold_places(store, start, |r| r.recorded_at > time, every)
            .await?;
        let moment = Arc::new(Moment {
            places,
            last_changes: Mutex::new(HashMap::new()),
        });
        let mut past = self.past.lock().unwrap_or_else(|e| e.into_inner());
        past.checkpoints.insert(made);
        past.remember(time, moment.clone());
        Ok(Some(moment))
    }

    /// Folds the places forward from `places`, an event at a time from the log, up to the
    /// first event `stop` says is past the end (or the last the live state has applied), and
    /// makes a checkpoint every `every` events on the way (where the past has none yet, or
    /// again: [`Series::insert`] keeps one of each position).
    async fn fold_places(
        &self,
        store: &EventStore,
        mut places: PlacesAt,
        mut stop: impl FnMut(&Recorded) -> bool,
        every: u64,
    ) -> anyhow::Result<(PlacesAt, Vec<Arc<PlacesAt>>)> {
        let mut made = Vec::new();
        let mut last = places.position;
        loop {
            let records = store
                .read_batch(Position(places.position), REFOLD_PAGE)
                .await?;
            if records.is_empty() {
                break;
            }
            let events = records
                .iter()
                .map(codec::to_recorded)
                .collect::<Result<Vec<_>, _>>()?;
            // What each event did to its initiative is in the live state's history steps,
            // for every event it has applied.
            let live = self.read();
            for event in &events {
                if stop(event) || event.position > live.position() {
                    return Ok((places, made));
                }
                places.apply(event, &live);
                if places.position >= last.saturating_add(every) {
                    last = places.position;
                    made.push(Arc::new(places.clone()));
                }
            }
        }
        Ok((places, made))
    }

    /// When each of `wijk`'s initiatives submitted by `moment` and changed since last changed
    /// by then: the time of its latest event by then (the time the event is about), read from
    /// the log in one go (the others' `updatedAt` now is theirs then). For a page in
    /// `updatedAt` order at a moment; read once per moment and wijk, under the folds' permits.
    pub async fn last_changes(
        &self,
        store: &EventStore,
        moment: &Moment,
        wijk: WijkCode,
    ) -> anyhow::Result<LastChanges> {
        let cached = |moment: &Moment| {
            let cache = moment
                .last_changes
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            cache.get(&wijk).cloned()
        };
        if let Some(found) = cached(moment) {
            return Ok(found);
        }
        let _permit = self.refolds.acquire().await?;
        if let Some(found) = cached(moment) {
            return Ok(found);
        }
        let at = moment.position();
        // (position of its latest event by then, initiative); two may share one (a connection).
        let wanted: Vec<(u64, InitiativeId)> = self
            .read()
            .initiatives_in_wijk(&wijk)
            .take_while(|view| view.submitted_position() <= at)
            .filter(|view| view.last_position() > at)
            .filter_map(|view| Some((view.step_at(at)?.position(), view.id)))
            .collect();
        let positions: Vec<Position> = wanted.iter().map(|&(p, _)| Position(p)).collect();
        let times: HashMap<u64, DateTime<Utc>> = store
            .read_positions(&positions)
            .await?
            .iter()
            .map(|event| (event.position.0, event.occurred_at()))
            .collect();
        let mut found = HashMap::with_capacity(wanted.len());
        for (position, id) in wanted {
            let time = times.get(&position).ok_or_else(|| {
                anyhow::anyhow!("initiative {id}'s event at position {position} is not in the log")
            })?;
            found.insert(id, *time);
        }
        let found = Arc::new(found);
        moment
            .last_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(wijk, found.clone());
        Ok(found)
    }

    /// Makes the checkpoints of the log before the stored snapshot this process started from
    /// (the tailer makes those after it), so that a moment long ago is as quick to ask as a
    /// recent one. Runs once, in the background, after a start from a snapshot.
    async fn warm_past(self: Arc<Live>, store: EventStore) {
        let started = std::time::Instant::now();
        let until = self.started_from;
        // A stretch at a time, its checkpoints kept at once: a question meanwhile about a
        // moment already passed folds from one of them. Each stretch takes one of the folds'
        // permits, so questions get their turn between stretches.
        let mut places = PlacesAt::default();
        let mut checkpoints = 0;
        while places.position < until {
            let Ok(_permit) = self.refolds.acquire().await else {
                return;
            };
            // The spacing may have doubled meanwhile (the tailer's checkpoints).
            let every = self
                .past
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .checkpoints
                .every;
            let from = places.position;
            let mut events = 0;
            let stretch = |r: &Recorded| {
                events += 1;
                r.position > until || events > every * WARM_STRETCH
            };
            match self.fold_places(&store, places, stretch, every).await {
                Ok((folded, made)) if folded.position > from => {
                    checkpoints += made.len();
                    self.past
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .checkpoints
                        .insert(made);
                    places = folded;
                }
                // Nothing more to fold (the log ends before the snapshot's position): done.
                Ok(_) => break,
                // The past is folded on demand instead (from the nearest checkpoint).
                Err(error) => {
                    tracing::warn!(%error, "cannot make the checkpoints of the past");
                    return;
                }
            }
        }
        tracing::info!(until, checkpoints, elapsed = ?started.elapsed(),
            "made the checkpoints of the past before the stored snapshot");
    }
}

/// Chunks of a snapshot (1 MiB each) read from the store ahead of its decoding, at most.
const CHUNKS_AHEAD: usize = 2;

/// The newest stored snapshot this code can trust, if any: one of another fold's version is
/// not even read, and one that cannot be decoded, or whose chunks do not add up, is ignored
/// with a warning and deleted (the whole log is folded instead, and a new snapshot stored).
///
/// Its bytes are decoded as they are read, chunk by chunk, on threads of their own
/// ([`snapshot::decode_stream`]): the reading waits while [`CHUNKS_AHEAD`] chunks wait for the
/// decoding, so only a few MiB of the compressed bytes are held at any time, never the whole
/// snapshot. Either side stopping ends the other: a decoding error drops the channel, which
/// stops the reading; the end of the reading (whole, damaged or failed) closes it, which ends
/// the decoding.
async fn load_snapshot(store: &EventStore) -> Option<snapshot::Loaded> {
    let (sink, mut pieces) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
    let decoding = tokio::task::spawn_blocking(move || {
        // The snapshot found comes first; none, and the reading is over.
        let Some(SnapshotPiece::Found(_)) = pieces.blocking_recv() else {
            return None;
        };
        let chunks = std::iter::from_fn(|| match pieces.blocking_recv()? {
            SnapshotPiece::Chunk(bytes) => Some(bytes),
            SnapshotPiece::Found(_) => None,
        });
        Some(snapshot::decode_stream(chunks))
    });
    let (read, decoded) = tokio::join!(
        store.read_latest_snapshot(snapshot::VERSION, sink),
        decoding
    );
    // What the store says of the bytes it handed on: whole, damaged (why), or cut off.
    let (found, damaged, whole) = match read {
        Ok(SnapshotRead::NotFound) => return None,
        Ok(SnapshotRead::Whole(found)) => (found, None, true),
        Ok(SnapshotRead::Damaged { snapshot, reason }) => (snapshot, Some(reason), false),
        // The channel closed before the end: only ever by a decoding error.
        Ok(SnapshotRead::Stopped(found)) => (found, None, false),
        Err(error) => {
            tracing::warn!(%error, "cannot read the stored snapshots; folding the whole log");
            return None;
        }
    };
    let about = snapshot::describe(found.position, found.created_at, found.len as usize);
    let decoded = match (damaged, decoded) {
        // Whatever was decoded of a snapshot whose chunks do not add up is thrown away.
        (Some(reason), _) => Err(anyhow::anyhow!(reason)),
        (None, Err(panicked)) => Err(anyhow::Error::from(panicked)),
        (None, Ok(Some(Err(error)))) => Err(error),
        (None, Ok(Some(Ok(loaded)))) if whole => Ok(loaded),
        (None, Ok(_)) => Err(anyhow::anyhow!("its bytes did not all arrive")),
    };
    let decoded = decoded.and_then(|loaded| {
        anyhow::ensure!(
            loaded.state.position() == found.position,
            "it holds the state at position {}",
            loaded.state.position()
        );
        Ok(loaded)
    });
    match decoded {
        Ok(loaded) => {
            tracing::info!("loaded the {about}");
            Some(loaded)
        }
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "cannot use the {about}; folding the whole log");
            // Drop the damaged one (and the older ones, a cache too): else it stays the
            // newest, the next snapshot of its position is not stored, and every start folds
            // the whole log.
            if let Err(error) = store.delete_snapshots().await {
                tracing::warn!(%error, "cannot delete the stored snapshots");
            }
            None
        }
    }
}

/// Keeps the tailer paused (see [`Live::pause`]); dropping it lets the tailer go on.
pub struct PauseGuard(Arc<Live>);

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.0.paused.send_replace(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use wijkpuls_domain::events::BudgetAllocated;
    use wijkpuls_domain::{BudgetLineKey, DomainEvent, Money, Recorded, Theme};

    /// A state at `position`, whose last event is about `position` seconds after the epoch
    /// (the event itself is about an unknown wijk and changes nothing else).
    fn state_at(position: u64) -> CityState {
        let mut state = CityState::new();
        state.apply(&Recorded {
            position,
            recorded_at: DateTime::UNIX_EPOCH + TimeDelta::seconds(position as i64),
            event: DomainEvent::BudgetAllocated(BudgetAllocated {
                line: BudgetLineKey {
                    wijk: WijkCode::parse("WK020207").unwrap(),
                    year: 2026,
                    theme: Theme::Groen,
                },
                allocated: Money::from_cents(100).unwrap(),
            }),
        });
        state
    }

    /// Checkpoints stay at most [`MAX_CHECKPOINTS`], spread evenly over the whole log, and the
    /// one for a moment is the latest whose events all happened by then.
    #[test]
    fn checkpoints_stay_bounded_and_spread_over_the_log() {
        let start = DateTime::UNIX_EPOCH;
        let mut series = Past::new().checkpoints;
        let events = FIRST_CHECKPOINT_EVERY * MAX_CHECKPOINTS as u64 * 4;
        for position in 1..=events {
            if series.due(position) {
                series.keep(Arc::new(PlacesAt::of(&state_at(position))));
            }
        }
        let positions: Vec<u64> = series.kept.iter().map(|s| s.position).collect();
        assert!(positions.len() <= MAX_CHECKPOINTS, "{positions:?}");
        assert!(positions.len() >= MAX_CHECKPOINTS / 2, "{positions:?}");
        let every = series.every;
        assert_eq!(every, FIRST_CHECKPOINT_EVERY * 4);
        for (i, position) in positions.iter().enumerate() {
            assert_eq!(*position, every * (i as u64 + 1), "{positions:?}");
        }
        // A moment between two checkpoints gets the earlier one; before the first, none.
        let between = start + TimeDelta::seconds((every * 3 + 5) as i64);
        assert_eq!(series.before(between).unwrap().position, every * 3);
        assert!(series.before(start).is_none());
    }

    /// What a fold made on its way goes in its place, once each, and the series stays bounded.
    #[test]
    fn what_a_fold_made_goes_in_its_place() {
        let at = |position| Arc::new(PlacesAt::of(&state_at(position)));
        let mut series = Past::new().checkpoints;
        // As after a start from a stored snapshot at 1,000,000: some kept after it.
        for position in [1_000_001, 1_004_097] {
            series.keep(at(position));
        }
        series.insert(vec![at(4096), at(8192), at(1_000_001)]);
        let positions: Vec<u64> = series.kept.iter().map(|s| s.position).collect();
        assert_eq!(positions, [4096, 8192, 1_000_001, 1_004_097]);
        let moment = DateTime::UNIX_EPOCH + TimeDelta::seconds(9000);
        assert_eq!(series.before(moment).unwrap().position, 8192);
        // Many more: thinned to at most MAX_CHECKPOINTS, still in order.
        series.insert(
            (1..=(MAX_CHECKPOINTS as u64 * 3))
                .map(|i| at(10_000 + i * 100))
                .collect(),
        );
        assert!(series.kept.len() <= MAX_CHECKPOINTS);
        assert!(series
            .kept
            .windows(2)
            .all(|w| w[0].position < w[1].position));
    }
}
