//! Live subscriptions: catch up from a position, then follow the log.
//!
//! A background task reads pages after the last position it delivered and waits for a wake-up
//! (a commit by this process, a PostgreSQL notification from another) or the poll interval,
//! whichever comes first. Because it always asks for "after the last delivered position" and
//! positions are committed in order, it can neither skip nor repeat an event; on a database
//! error it backs off and asks again from the same position. The channel to the consumer is
//! bounded, so a slow consumer slows its own task, never the store's memory.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::store::EventStore;
use crate::types::{Position, RecordedEvent};

const PAGE: usize = 500;
const BUFFER: usize = 1024;

/// A live, ordered stream of events. Ends only when the store reports an unreadable event.
pub struct Subscription {
    receiver: mpsc::Receiver<Result<RecordedEvent, StoreError>>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    pub(crate) fn start(store: EventStore, after: Position) -> Subscription {
        let (sender, receiver) = mpsc::channel(BUFFER);
        let task = tokio::spawn(follow(store, after, sender));
        Subscription { receiver, task }
    }

    /// The next event, waiting for it if need be.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        self.receiver.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for Subscription {
    type Item = Result<RecordedEvent, StoreError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

async fn follow(
    store: EventStore,
    mut last: Position,
    sender: mpsc::Sender<Result<RecordedEvent, StoreError>>,
) {
    let mut hint = store.head_hint();
    let poll = store.options().poll_interval;
    let mut backoff = Duration::from_millis(50);
    loop {
        match store.read_batch(last, PAGE).await {
            Ok(page) => {
                backoff = Duration::from_millis(50);
                let full = page.len() == PAGE;
                for event in page {
                    last = event.position;
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                // Mark the current hint as seen before waiting, so a commit that lands between
                // the read above and this wait still wakes us (or the poll does).
                hint.borrow_and_update();
                if *hint.borrow() > last {
                    continue;
                }
                tokio::select! {
                    changed = hint.changed() => if changed.is_err() { tokio::time::sleep(poll).await },
                    _ = tokio::time::sleep(poll) => {},
                    _ = sender.closed() => return,
                }
            }
            Err(error @ StoreError::Corrupt { .. }) => {
                let _ = sender.send(Err(error)).await;
                return;
            }
            Err(error) => {
                tracing::warn!(%error, after = %last, "subscription read failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {},
                    _ = sender.closed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}
