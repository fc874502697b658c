//! The subscriptions. Each first sends the current state, then every change. State
//! subscriptions ride `watch` channels (latest value only: a slow client skips intermediate
//! states, never falls behind without bound); event feeds ride a bounded broadcast and, when a
//! client lags, resume from the log (feed) or resend a snapshot (initiative), never silently
//! skipping.

use std::sync::Arc;

use async_graphql::{Context, Subscription, ID};
use futures::{stream, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::WatchStream;
use wijkpuls_domain::{InitiativeId, WijkCode};

use super::scalars::Position;
use super::types::{CityOverview, EventRecord, Initiative, InitiativeUpdate, Wijk};
use super::{actor, app, feed_records, AppState};
use crate::error::ApiError;

/// The subscription root.
pub struct Subscription;

/// What can be followed live, over WebSocket at `/graphql/ws` (`graphql-transport-ws`).
#[Subscription]
impl Subscription {
    /// A wijk, now and after every change to it.
    async fn wijk_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The wijk's CBS code, e.g. `WK020207`.")] code: ID,
        #[graphql(
            desc = "The year `budget` and `initiativeCounts` show when none is asked \
                          (default: the current year in Arnhem for `budget`, all years for \
                          `initiativeCounts`)."
        )]
        year: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = Wijk>> {
        let code = WijkCode::parse(&code).map_err(ApiError::from)?;
        let app = app(ctx);
        if app.live.read().wijk(&code).is_none() {
            return Err(ApiError::NotFound(format!("wijk {code} was not found")).into());
        }
        Ok(
            WatchStream::new(app.live.wijk_changes(code)).map(move |_| Wijk {
                code,
                year,
                past: None,
            }),
        )
    }

    /// The city overview, now and after every change anywhere.
    async fn city_overview_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The budget year the overview shows (default: the current year in \
                          Arnhem)."
        )]
        year: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = CityOverview>> {
        let year = super::query::check_year(year).map_err(async_graphql::Error::from)?;
        Ok(WatchStream::new(app(ctx).live.city_changes())
            .map(move |_| CityOverview { year, past: None }))
    }

    /// A year's trends (as the `trends` query), now and after every change to them.
    async fn trends_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year: 2000 to 2100.")] year: i32,
        #[graphql(desc = "Only this wijk (CBS code, `WK020207`); it must exist.")] wijk: Option<ID>,
        #[graphql(
            desc = "Only this gebied's wijken (`W2`); it must exist. With `wijk`, it must be \
                    the wijk's gebied."
        )]
        gebied: Option<ID>,
        #[graphql(desc = "Only this theme.")] theme: Option<super::scalars::Theme>,
    ) -> async_graphql::Result<impl Stream<Item = super::trends::Trends>> {
        Ok(super::trends::trends_updated(
            ctx, year, wijk, gebied, theme,
        )?)
    }

    /// An initiative: first as it is, then with every event that changes it.
    async fn initiative_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The initiative's id.")] id: ID,
    ) -> async_graphql::Result<impl Stream<Item = InitiativeUpdate>> {
        let id = InitiativeId::parse(&id).map_err(ApiError::from)?;
        let app: Arc<AppState> = ctx.data_unchecked::<Arc<AppState>>().clone();
        let feed = app.live.feed();
        let first = snapshot(&app, &id).ok_or_else(|| {
            async_graphql::Error::from(ApiError::NotFound(format!("initiative {id} was not found")))
        })?;
        let after = first.initiative.view.last_position();
        let updates = stream::unfold(
            (feed, after, app, id),
            |(mut feed, mut after, app, id)| async move {
                loop {
                    match feed.recv().await {
                        Ok(item) if item.position > after && item.initiatives.contains(&id) => {
                            after = item.position;
                            let view = app.live.read().initiative(&id).cloned()?;
                            let update = InitiativeUpdate {
                                initiative: Initiative::new(view),
                                event: Some(EventRecord(item)),
                            };
                            return Some((update, (feed, after, app, id)));
                        }
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => {
                            // Told by the gap: send the current state again (without an event).
                            let update = snapshot(&app, &id)?;
                            after = app.live.position();
                            return Some((update, (feed, after, app, id)));
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            },
        );
        Ok(stream::once(async move { first }).chain(updates))
    }

    /// Every event after `after` (default: the start), from the log and then live, in order,
    /// each once: for staff and admins.
    async fn event_feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The last position you have; the first event comes after it.")]
        after: Option<Position>,
    ) -> async_graphql::Result<impl Stream<Item = EventRecord>> {
        crate::policy::may_follow_event_feed(actor(ctx))?;
        let app: Arc<AppState> = ctx.data_unchecked::<Arc<AppState>>().clone();
        Ok(feed_from(app, after.map_or(0, |p| p.0)))
    }

    /// The caller's work list (see `Query.workList`): its first `first` items now, and again
    /// whenever they change. For staff and admins.
    async fn work_list_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many items, oldest first: 0 to 100 (default 100).")] first: Option<
            i32,
        >,
    ) -> async_graphql::Result<impl Stream<Item = Vec<super::dashboards::WorkItem>>> {
        Ok(super::dashboards::work_list_updates(ctx, first)?)
    }

    /// The public ticker: the latest events (public lines only), then every new one.
    async fn public_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            validator(minimum = 0, maximum = 50),
            desc = "How many of the latest lines to send first: 0 to 50 (default 10)."
        )]
        first: Option<i32>,
        #[graphql(
            validator(minimum = 0, maximum = 50),
            desc = "How many of the latest lines to send first: 0 to 50 (the old name of \
                    `first`).",
            deprecation = "Use `first` instead."
        )]
        recent: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = EventRecord>> {
        let recent = super::renamed_size("first", first, "recent", recent)?.unwrap_or(10);
        let app = app(ctx);
        let feed = app.live.feed();
        let backlog = app.live.recent();
        let skip = backlog.len().saturating_sub(recent as usize);
        let last = backlog.last().map_or(0, |i| i.position);
        let first: Vec<EventRecord> = backlog.into_iter().skip(skip).map(EventRecord).collect();
        let live = stream::unfold((feed, last), |(mut feed, mut last)| async move {
            loop {
                match feed.recv().await {
                    Ok(item) if item.position > last => {
                        last = item.position;
                        return Some((EventRecord(item), (feed, last)));
                    }
                    Ok(_) => continue,
                    // A ticker shows the newest lines; one that could not keep up skips ahead.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream::iter(first).chain(live))
    }
}

fn snapshot(app: &AppState, id: &InitiativeId) -> Option<InitiativeUpdate> {
    let view = app.live.read().initiative(id).cloned()?;
    Some(InitiativeUpdate {
        initiative: Initiative::new(view),
        event: None,
    })
}

/// Catch up from the log, then follow the live feed; on lag, catch up from the log again.
fn feed_from(app: Arc<AppState>, after: u64) -> impl Stream<Item = EventRecord> {
    const PAGE: usize = 500;
    enum Mode {
        CatchUp,
        Live,
    }
    let feed = app.live.feed();
    stream::unfold(
        (
            app,
            feed,
            after,
            Mode::CatchUp,
            std::collections::VecDeque::new(),
        ),
        move |(app, mut feed, mut last, mut mode, mut pending)| async move {
            loop {
                if let Some(record) = pending.pop_front() {
                    return Some((record, (app, feed, last, mode, pending)));
                }
                match mode {
                    Mode::CatchUp => {
                        let read = app
                            .service
                            .store
                            .read_batch(wijkpuls_event_store::Position(last), PAGE)
                            .await;
                        let records = match read {
                            Ok(records) => records,
                            Err(error) => {
                                // The store reconnects; ask again from the same position rather
                                // than end the feed (a staff screen would silently go stale).
                                tracing::warn!(%error, after = last, "event feed read failed; retrying");
                                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                                continue;
                            }
                        };
                        if records.is_empty() {
                            mode = Mode::Live;
                            continue;
                        }
                        last = records.last().map_or(last, |r| r.position.0);
                        match feed_records(&app, &records) {
                            Ok(items) => pending.extend(items),
                            Err(error) => {
                                // An unreadable event cannot be skipped without a gap: end here.
                                tracing::error!(error = %error.detail(), "event feed stops at an unreadable event");
                                return None;
                            }
                        }
                    }
                    Mode::Live => match feed.recv().await {
                        Ok(item) if item.position > last => {
                            if item.position > last + 1 {
                                // Something between is not in the feed yet: read it from the log.
                                mode = Mode::CatchUp;
                                continue;
                            }
                            last = item.position;
                            pending.push_back(EventRecord(item));
                        }
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => mode = Mode::CatchUp,
                        Err(RecvError::Closed) => return None,
                    },
                }
            }
        },
    )
}
