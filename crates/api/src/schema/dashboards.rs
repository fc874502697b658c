//! What dashboards need beyond the current state: time travel (`asOf`: the state the places
//! and initiatives read, [`StateRef`]) and the team's work list (`workList`,
//! `workListUpdated`).

use std::ops::Deref;
use std::sync::{Arc, RwLockReadGuard};

use async_graphql::{Context, Enum, SimpleObject};
use chrono::{DateTime, Utc};
use futures::{future, Stream, StreamExt};
use tokio_stream::wrappers::WatchStream;
use wijkpuls_domain::{CityState, InitiativeId, InitiativeStatus, InitiativeView, Places};

use super::scalars::Timestamp;
use super::types::{Initiative, PageInfo};
use super::{actor, app, AppState};
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::live::Moment;
use crate::policy;

/// A past moment for `asOf`: `None` means now (no moment given, or one at or after the latest
/// event).
pub type Past = Option<Arc<Moment>>;

/// The places a view reads: the live state's (held briefly, never across an `.await`), or
/// those of a past moment.
pub enum PlacesRef<'a> {
    Live(RwLockReadGuard<'a, CityState>),
    Past(&'a Places),
}

impl Deref for PlacesRef<'_> {
    type Target = Places;

    fn deref(&self) -> &Places {
        match self {
            PlacesRef::Live(guard) => guard.places(),
            PlacesRef::Past(places) => places,
        }
    }
}

/// The places a view with `past` reads.
pub(crate) fn places_of<'a>(ctx: &Context<'a>, past: &'a Past) -> PlacesRef<'a> {
    match past {
        Some(moment) => PlacesRef::Past(moment.places()),
        None => PlacesRef::Live(app(ctx).live.read()),
    }
}

/// The moment `as_of` (`None`: now), its places folded from the log.
pub(crate) async fn past_moment(ctx: &Context<'_>, as_of: Option<Timestamp>) -> ApiResult<Past> {
    let Some(Timestamp(time)) = as_of else {
        return Ok(None);
    };
    let app = app(ctx);
    Ok(app.live.moment_at(&app.service.store, time).await?)
}

/// The step an initiative waits for from the team Leefomgeving.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum WorkStep {
    /// Submitted and not answered yet: connect it, or decide on it.
    Answer,
    /// Connected and not decided yet: fund, reject or refer it.
    Decision,
    /// Funded and not completed yet: report it completed.
    Completion,
}

/// An initiative waiting for a step from the team, with what it waits for and since when.
/// For staff of its gebied and admins; no personal data beyond what `initiative` shows them.
#[derive(SimpleObject, Clone)]
pub struct WorkItem {
    /// The initiative that waits.
    pub initiative: Initiative,
    /// The step it waits for.
    pub waiting_for: WorkStep,
    /// Since when: when it was submitted (`ANSWER`), first connected (`DECISION`) or funded
    /// (`COMPLETION`).
    pub since: Timestamp,
    /// Days from `since` until now, with fractions.
    pub waiting_days: f64,
}

/// A page of the work list (Relay connection), oldest first.
#[derive(SimpleObject)]
pub struct WorkItemConnection {
    /// The items of this page, each with its cursor.
    pub edges: Vec<WorkItemEdge>,
    /// Whether there are more pages, and the cursors to get them.
    pub page_info: PageInfo,
    /// How many items the whole work list has, on all pages.
    pub total_count: u64,
}

/// A work item in a page, with its cursor.
#[derive(SimpleObject)]
pub struct WorkItemEdge {
    /// Pass as `after` to get the items after this one. It stays valid when its item leaves
    /// the list or moves (a step was taken): the page after it follows its old place.
    pub cursor: String,
    /// The work item.
    pub node: WorkItem,
}

/// The most work items a page or a `workListUpdated` message holds.
pub const MAX_WORK_ITEMS: i32 = 100;

/// What `view` waits for from the team, and since when; `None` when nothing.
fn waiting(view: &InitiativeView) -> Option<(WorkStep, DateTime<Utc>)> {
    match view.status {
        InitiativeStatus::Submitted => Some((WorkStep::Answer, view.submitted_at)),
        InitiativeStatus::Connected => {
            let since = view.connected_at().unwrap_or(view.updated_at);
            Some((WorkStep::Decision, since))
        }
        InitiativeStatus::Funded => Some((
            WorkStep::Completion,
            view.funded_at.unwrap_or(view.updated_at),
        )),
        _ => None,
    }
}

/// An item's place in the list: oldest first, then by id.
type Key = (DateTime<Utc>, InitiativeId);

fn cursor((since, id): Key) -> String {
    format!("{}_{id}", since.timestamp_micros())
}

fn parse_cursor(text: &str) -> ApiResult<Key> {
    let refused = || ApiError::BadInput("after is not a cursor from the work list".into());
    let (micros, id) = text.split_once('_').ok_or_else(refused)?;
    let since = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(refused)?;
    let id = InitiativeId::parse(id).map_err(|_| refused())?;
    Ok((since, id))
}

/// The actor's whole work list, oldest first, as keys and steps.
fn work_list<'a>(state: &'a CityState, actor: &Actor) -> Vec<(Key, WorkStep, &'a InitiativeView)> {
    let mut items: Vec<_> = state
        .initiatives()
        .filter(|view| policy::in_work_list(actor, &view.gebied))
        .filter_map(|view| waiting(view).map(|(step, since)| ((since, view.id), step, view)))
        .collect();
    items.sort_unstable_by_key(|(key, _, _)| *key);
    items
}

fn item(
    step: WorkStep,
    since: DateTime<Utc>,
    view: &InitiativeView,
    now: DateTime<Utc>,
) -> WorkItem {
    WorkItem {
        initiative: Initiative::new(view.clone()),
        waiting_for: step,
        since: Timestamp(since),
        waiting_days: (now - since).num_milliseconds().max(0) as f64 / 86_400_000.0,
    }
}

fn check_first(first: Option<i32>, default: i32) -> ApiResult<usize> {
    let first = first.unwrap_or(default);
    if !(0..=MAX_WORK_ITEMS).contains(&first) {
        return Err(ApiError::BadInput(format!(
            "first must be between 0 and {MAX_WORK_ITEMS}"
        )));
    }
    Ok(first as usize)
}

/// `workList`: a page of the caller's work list.
pub(crate) fn work_list_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<WorkItemConnection> {
    let actor = actor(ctx);
    policy::require_staff(actor)?;
    let first = check_first(first, 20)?;
    let after = after.as_deref().map(parse_cursor).transpose()?;
    let now = Utc::now();
    let state = app(ctx).live.read();
    let list = work_list(&state, actor);
    let start = after.map_or(0, |after| list.partition_point(|(key, _, _)| *key <= after));
    let edges: Vec<WorkItemEdge> = list[start..]
        .iter()
        .take(first)
        .map(|&(key, step, view)| WorkItemEdge {
            cursor: cursor(key),
            node: item(step, key.0, view, now),
        })
        .collect();
    Ok(WorkItemConnection {
        page_info: PageInfo {
            has_next_page: start + edges.len() < list.len(),
            has_previous_page: start > 0,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        total_count: list.len() as u64,
        edges,
    })
}

/// `workListUpdated`: the first `first` items of the caller's work list now, and again after
/// every change to them (a change elsewhere sends nothing).
pub(crate) fn work_list_updates(
    ctx: &Context<'_>,
    first: Option<i32>,
) -> ApiResult<impl Stream<Item = Vec<WorkItem>>> {
    let actor = actor(ctx).clone();
    policy::require_staff(&actor)?;
    let first = check_first(first, MAX_WORK_ITEMS)?;
    let app: Arc<AppState> = ctx.data_unchecked::<Arc<AppState>>().clone();
    let mut last: Option<Vec<(Key, WorkStep, u64)>> = None;
    Ok(WatchStream::new(app.live.city_changes())
        .map(move |_| {
            let now = Utc::now();
            let state = app.live.read();
            let list = work_list(&state, &actor);
            let shown = &list[..list.len().min(first)];
            // What a client sees of each item: its place, its step and its latest event.
            let seen: Vec<_> = shown
                .iter()
                .map(|(key, step, view)| (*key, *step, view.last_position()))
                .collect();
            if last.as_ref() == Some(&seen) {
                return None;
            }
            last = Some(seen);
            Some(
                shown
                    .iter()
                    .map(|&(key, step, view)| item(step, key.0, view, now))
                    .collect(),
            )
        })
        .filter_map(future::ready))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_nothing_else_does() {
        let key = (
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            InitiativeId::parse("7f9c0d3e-2b1a-4c5d-8e6f-0a1b2c3d4e5f").unwrap(),
        );
        assert_eq!(parse_cursor(&cursor(key)).unwrap(), key);
        for wrong in [
            "",
            "_",
            "12",
            "x_7f9c0d3e-2b1a-4c5d-8e6f-0a1b2c3d4e5f",
            "12_nope",
        ] {
            assert!(parse_cursor(wrong).is_err(), "{wrong}");
        }
    }
}
