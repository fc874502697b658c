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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::sync::{broadcast, watch};
use wijkpuls_domain::similar::SimilarIndex;
use wijkpuls_domain::{CityState, WijkCode};
use wijkpuls_event_store::{EventStore, Position, RecordedEvent};

use crate::codec;
use crate::feed::{self, FeedItem};

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
    /// Replays the whole log into a fresh state.
    pub async fn replay(store: &EventStore) -> anyhow::Result<Arc<Live>> {
        let mut state = CityState::new();
        let mut similar = SimilarIndex::new();
        let mut events = std::pin::pin!(store.read_all(Position::START));
        // Only the last few events get feed lines; they are named from the final state.
        let mut tail = std::collections::VecDeque::with_capacity(RECENT);
        while let Some(record) = events.try_next().await? {
            let recorded = codec::to_recorded(&record)?;
            state.apply(&recorded);
            similar.apply(&recorded);
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
        Ok(Arc::new(Live {
            state: RwLock::new(state),
            similar: RwLock::new(similar),
            applied: watch::Sender::new(position),
            wijken: Mutex::new(HashMap::new()),
            feed: broadcast::Sender::new(FEED_CAPACITY),
            recent: Mutex::new(recent),
            caught_up: watch::Sender::new(false),
            paused: watch::Sender::new(false),
        }))
    }

    /// Follows the store from the replayed position, applying every new event. Runs until the
    /// process ends. The store's subscription survives lost connections by itself; should it
    /// still end with an error, readiness says so and the tailer starts again from the last
    /// applied position after a pause that grows to at most [`RESUME_BACKOFF_MAX`].
    pub async fn follow(self: Arc<Live>, store: EventStore) {
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
        let item = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            state.apply(&recorded);
            Arc::new(feed::item(&state, record, &recorded))
        };
        self.similar
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .apply(&recorded);
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

/// Keeps the tailer paused (see [`Live::pause`]); dropping it lets the tailer go on.
pub struct PauseGuard(Arc<Live>);

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.0.paused.send_replace(false);
    }
}
