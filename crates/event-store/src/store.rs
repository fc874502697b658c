//! [`EventStore`]: the one handle callers hold, whichever database is behind it.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::batch::{run_blocking_writer, run_writer, validate, Pending};
use crate::chain::{ChainHead, ChainReport, ChainRow, Verifier};
use crate::error::{DatabaseError, StoreError};
use crate::subscription::Subscription;
use crate::types::{AppendOutcome, AppendRequest, Position, RecordedEvent, StreamId};
use crate::{postgres, sqlite};

/// The most positions [`EventStore::read_positions`] asks for in one query (SQLite's bound
/// parameters, and a query's size, stay small).
pub const MAX_POSITIONS_READ: usize = 500;

/// Tunables, with defaults fit for production.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest serialised event (payload and metadata) accepted; default 64 KiB.
    pub max_event_bytes: usize,
    /// Most appends committed together in one transaction.
    pub max_batch: usize,
    /// How often subscribers look for new events when no wake-up arrives: the safety net under
    /// in-process wake-ups and PostgreSQL notifications.
    pub poll_interval: Duration,
    /// Database connections for readers and subscribers. (The writer and, on PostgreSQL, the
    /// notification listener have a connection of their own besides.)
    pub pool_size: u32,
    /// SQLite: how long an append waits for the write lock while another process holds it
    /// before it fails as unavailable. (Readers are not blocked by writers in WAL mode.)
    pub lock_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_event_bytes: 64 * 1024,
            max_batch: 512,
            poll_interval: Duration::from_millis(500),
            pool_size: 8,
            lock_timeout: Duration::from_secs(10),
        }
    }
}

/// Which database is behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Readers {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A cheap-to-clone handle on the event log.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    readers: Readers,
    /// SQLite: turns at the write lock, shared with the writer thread (`sqlite::WriteTurn`).
    write_turn: Option<sqlite::WriteTurn>,
    queue: mpsc::Sender<Pending>,
    /// The highest position known to be committed: a wake-up hint for subscribers.
    head_hint: Arc<watch::Sender<Position>>,
    options: StoreOptions,
    tasks: Vec<JoinHandle<()>>,
    /// The SQLite writer's thread; it ends when `queue` is dropped.
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl EventStore {
    /// Opens (creating and migrating if needed) the store at `url`: `sqlite://PATH` for SQLite
    /// (a file; an in-memory database is refused), `postgres://...` or `postgresql://...` for
    /// PostgreSQL.
    pub async fn open(url: &str, options: StoreOptions) -> Result<EventStore, StoreError> {
        if options.max_batch == 0 {
            return Err(StoreError::InvalidInput(
                "max_batch must be at least 1".into(),
            ));
        }
        let (queue, receiver) = mpsc::channel::<Pending>(options.max_batch * 4);
        let head_hint = Arc::new(watch::Sender::new(Position::START));
        let publish = {
            let hint = head_hint.clone();
            move |position: Position| {
                hint.send_if_modified(|head| {
                    let newer = position > *head;
                    if newer {
                        *head = position;
                    }
                    newer
                });
            }
        };
        let mut tasks = Vec::new();
        let mut writer_thread = None;
        let mut write_turn = None;
        let readers = if url.starts_with("sqlite:") {
            let opened = sqlite::open(url, options.pool_size, options.lock_timeout).await?;
            let max_batch = options.max_batch;
            write_turn = Some(opened.turn);
            writer_thread = Some(
                std::thread::Builder::new()
                    .name("sqlite-writer".into())
                    .spawn(move || run_blocking_writer(opened.writer, receiver, max_batch, publish))
                    .map_err(|e| StoreError::Unavailable(DatabaseError::other(e)))?,
            );
            Readers::Sqlite(opened.readers)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = postgres::open(url, options.pool_size).await?;
            let writer = postgres::PgWriter::new(&pool);
            tasks.push(tokio::spawn(postgres::listen(
                pool.clone(),
                publish.clone(),
            )));
            tasks.push(tokio::spawn(run_writer(
                writer,
                receiver,
                options.max_batch,
                publish,
            )));
            Readers::Postgres(pool)
        } else {
            return Err(StoreError::InvalidInput(
                "unsupported database URL: use sqlite://PATH or postgres://...".into(),
            ));
        };
        let store = EventStore {
            inner: Arc::new(Inner {
                readers,
                write_turn,
                queue,
                head_hint,
                options,
                tasks,
                writer_thread,
            }),
        };
        let head = store.head_position().await?;
        store.inner.head_hint.send_replace(head);
        Ok(store)
    }

    /// Shuts the store down if this is its last handle, and says whether it did: stops the
    /// writer (on SQLite after it has answered the appends it holds; appends still waiting
    /// fail with [`StoreError::Closed`]), waits until the writer has closed its connection,
    /// and closes the readers' connections. While other handles are open — clones, running
    /// subscriptions — it only drops this one and returns `false`.
    pub async fn close(self) -> bool {
        let Some(mut inner) = Arc::into_inner(self.inner) else {
            return false;
        };
        let writer_thread = inner.writer_thread.take();
        let readers = inner.readers.clone();
        // Closes the queue and aborts the tasks (PostgreSQL's writer and listener).
        drop(inner);
        if let Some(thread) = writer_thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the SQLite writer thread panicked");
            }
        }
        match readers {
            Readers::Sqlite(pool) => pool.close().await,
            Readers::Postgres(pool) => pool.close().await,
        }
        true
    }

    pub fn backend(&self) -> BackendKind {
        match self.inner.readers {
            Readers::Sqlite(_) => BackendKind::Sqlite,
            Readers::Postgres(_) => BackendKind::Postgres,
        }
    }

    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// Appends atomically, if the request's concurrency condition still holds.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        let encoded = validate(&request, self.inner.options.max_event_bytes)?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .queue
            .send(Pending {
                request,
                encoded,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The position of the last committed event (0 for an empty log).
    pub async fn head_position(&self) -> Result<Position, StoreError> {
        match &self.inner.readers {
            Readers::Sqlite(pool) => sqlite::head(pool).await,
            Readers::Postgres(pool) => postgres::head(pool).await,
        }
    }

    /// The newest event of the hash chain (`None` for an empty log or one whose events all
    /// predate the chain). This is the value to show on /metrics and to note for an audit.
    pub async fn chain_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let head = self.head_position().await?;
        if head == Position::START {
            return Ok(None);
        }
        let rows = self.chain_rows(Position(head.0 - 1), 1).await?;
        Ok(rows.into_iter().next().and_then(|row| {
            let hash = row.hash?.try_into().ok()?;
            Some(ChainHead {
                position: Position(row.position),
                hash,
            })
        }))
    }

    /// Walks the whole log in position order and recomputes the hash chain: reports the first
    /// position where a hash does not match, a position is missing, or a stream's versions do
    /// not go up by one; or the chain's head if the log is intact. `progress` is called with
    /// the position reached after each page.
    pub async fn verify_chain(
        &self,
        mut progress: impl FnMut(Position),
    ) -> Result<ChainReport, StoreError> {
        const PAGE: usize = 1000;
        let mut verifier = Verifier::default();
        let mut after = Position::START;
        loop {
            let page = match self.chain_rows(after, PAGE).await {
                Ok(page) => page,
                // A row that cannot even be read as JSON was written by hand.
                Err(StoreError::Corrupt { position, reason }) => {
                    return Ok(verifier.broken_at(position, reason));
                }
                Err(error) => return Err(error),
            };
            for row in &page {
                if !verifier.check(row) {
                    return Ok(verifier.finish());
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Position(last.position),
                _ => return Ok(verifier.finish()),
            }
            progress(after);
        }
    }

    async fn chain_rows(&self, after: Position, limit: usize) -> Result<Vec<ChainRow>, StoreError> {
        match &self.inner.readers {
            Readers::Sqlite(pool) => sqlite::chain_rows(pool, after, limit).await,
            Readers::Postgres(pool) => postgres::chain_rows(pool, after, limit).await,
        }
    }

    /// Up to `limit` events after `after`, in position order.
    pub async fn read_batch(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = match &self.inner.readers {
            Readers::Sqlite(pool) => sqlite::read_after(pool, after, limit).await?,
            Readers::Postgres(pool) => postgres::read_after(pool, after, limit).await?,
        };
        Ok(events)
    }

    /// The events at these positions, in position order; a position with no event (beyond the
    /// head, or 0) is left out, and one given twice is read once. For a read model that keeps
    /// where its facts are in the log instead of the facts (an initiative's history). Read in
    /// queries of at most [`MAX_POSITIONS_READ`] positions each.
    pub async fn read_positions(
        &self,
        positions: &[Position],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut wanted: Vec<i64> = positions
            .iter()
            .filter(|p| p.0 > 0)
            .map(|p| p.as_i64())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut events = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(MAX_POSITIONS_READ) {
            events.extend(match &self.inner.readers {
                Readers::Sqlite(pool) => sqlite::read_positions(pool, chunk).await?,
                Readers::Postgres(pool) => postgres::read_positions(pool, chunk).await?,
            });
        }
        Ok(events)
    }

    /// Every event of one stream, in order.
    pub async fn read_stream(&self, stream: &StreamId) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = match &self.inner.readers {
            Readers::Sqlite(pool) => sqlite::read_stream(pool, stream).await?,
            Readers::Postgres(pool) => postgres::read_stream(pool, stream).await?,
        };
        Ok(events)
    }

    /// The whole log after `after` as a stream, read in pages so it never sits in memory at
    /// once. Ends at the head as it was when each page was read.
    pub fn read_all(
        &self,
        after: Position,
    ) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
        const PAGE: usize = 1000;
        let store = self.clone();
        futures::stream::try_unfold((after, false), move |(after, done)| {
            let store = store.clone();
            async move {
                if done {
                    return Ok::<_, StoreError>(None);
                }
                let page = store.read_batch(after, PAGE).await?;
                let next = page.last().map_or(after, |e| e.position);
                let done = page.len() < PAGE;
                Ok(Some((
                    futures::stream::iter(page.into_iter().map(Ok::<_, StoreError>)),
                    (next, done),
                )))
            }
        })
        .try_flatten()
    }

    /// Catches up from `after`, then follows new events live: every event exactly once, in
    /// position order, surviving lost database connections.
    pub fn subscribe(&self, after: Position) -> Subscription {
        Subscription::start(self.clone(), after)
    }

    /// A receiver that changes whenever a newer committed head becomes known.
    pub(crate) fn head_hint(&self) -> watch::Receiver<Position> {
        self.inner.head_hint.subscribe()
    }

    /// The PostgreSQL pool (inside the store; tests get it through the `testing` feature).
    pub(crate) fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.inner.readers {
            Readers::Postgres(pool) => Some(pool),
            Readers::Sqlite(_) => None,
        }
    }

    /// SQLite: the writer thread's turns at the write lock, for other writes of this store.
    pub(crate) fn write_turn(&self) -> Option<&sqlite::WriteTurn> {
        self.inner.write_turn.as_ref()
    }

    /// The SQLite reader pool (read-only connections).
    pub(crate) fn sqlite_readers(&self) -> Option<&sqlx::SqlitePool> {
        match &self.inner.readers {
            Readers::Sqlite(pool) => Some(pool),
            Readers::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, for tests that look at the tables themselves.
    #[cfg(feature = "testing")]
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        self.pg_pool()
    }

    /// The SQLite reader pool, for tests that look at the tables themselves.
    #[cfg(feature = "testing")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        self.sqlite_readers()
    }
}
