//! The queries: wijken, gebieden, initiatives and the city overview, answered from memory.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use wijkpuls_domain::{GebiedCode, InitiativeId, InitiativeView, WijkCode};

use super::dashboards::{past_moment, places_of, Past};
use super::scalars::{InitiativeStatus, Money, Position, Theme, Timestamp};
use super::types::{
    log_events, CityOverview, EventRecord, Gebied, Initiative, InitiativeConnection,
    InitiativeEdge, PageInfo, Wijk,
};
use super::{app, current_year};
use crate::error::{ApiError, ApiResult};
use crate::live::Moment;

/// The query root.
pub struct Query;

/// Which initiatives to list; all given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct InitiativeFilter {
    /// Only initiatives of this wijk (CBS code, `WK020207`).
    pub wijk: Option<ID>,
    /// Only initiatives of this gebied's wijken (`W2`).
    pub gebied: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<InitiativeStatus>>,
    /// Only initiatives of this theme.
    pub theme: Option<Theme>,
    /// Words in the title or description (case-insensitive); at most 200 characters and 10
    /// words.
    pub text: Option<String>,
    // Ranges for dashboards (each end included; either end may be left out).
    /// Only initiatives submitted at or after this moment.
    pub submitted_from: Option<Timestamp>,
    /// Only initiatives submitted at or before this moment.
    pub submitted_to: Option<Timestamp>,
    /// Only initiatives whose last event happened at or after this moment.
    pub updated_from: Option<Timestamp>,
    /// Only initiatives whose last event happened at or before this moment.
    pub updated_to: Option<Timestamp>,
    /// Only initiatives asking at least this amount (`requestedAmount`).
    pub amount_min: Option<Money>,
    /// Only initiatives asking at most this amount (`requestedAmount`).
    pub amount_max: Option<Money>,
}

/// Whether `value` lies within `from ..= to` (an end left out is open).
fn within<T: PartialOrd>(value: T, from: Option<T>, to: Option<T>) -> bool {
    from.is_none_or(|f| value >= f) && to.is_none_or(|t| value <= t)
}

/// Refuses a range whose start lies after its end.
fn check_range<T: PartialOrd>(name: &str, from: Option<T>, to: Option<T>) -> ApiResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(ApiError::BadInput(format!(
            "filter.{name}: the start lies after the end"
        ))),
        _ => Ok(()),
    }
}

pub const MAX_PAGE: i32 = 100;
/// The longest text filter, in characters: every word is searched for in every initiative.
pub const MAX_FILTER_CHARS: usize = 200;
/// The most words in a text filter.
pub const MAX_FILTER_WORDS: usize = 10;

/// The words of a text filter, lower-cased, refused before any search when there are too many.
fn filter_words(text: Option<&str>) -> ApiResult<Vec<String>> {
    let text = text.unwrap_or_default();
    // Bytes first, so a huge text is refused without counting its characters.
    if text.len() > 4 * MAX_FILTER_CHARS || text.chars().count() > MAX_FILTER_CHARS {
        return Err(ApiError::BadInput(format!(
            "filter.text must be at most {MAX_FILTER_CHARS} characters"
        )));
    }
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if words.len() > MAX_FILTER_WORDS {
        return Err(ApiError::BadInput(format!(
            "filter.text must have at most {MAX_FILTER_WORDS} words (this one has {})",
            words.len()
        )));
    }
    Ok(words)
}

/// What can be read. Everything is public except what a field says otherwise.
#[Object]
impl Query {
    /// All wijken, ordered by code.
    async fn wijken(&self, ctx: &Context<'_>) -> Vec<Wijk> {
        app(ctx)
            .live
            .read()
            .wijken()
            .map(|w| Wijk {
                code: w.code,
                year: None,
                past: None,
            })
            .collect()
    }

    /// One wijk by its CBS code (`WK020207`), or null; as it was at `asOf` when given.
    async fn wijk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The wijk's CBS code, e.g. `WK020207`.")] code: ID,
        #[graphql(
            desc = "The moment to show it at (default: now); before the first event \
                          there is nothing yet."
        )]
        as_of: Option<Timestamp>,
    ) -> ApiResult<Option<Wijk>> {
        let code = WijkCode::parse(&code)?;
        let past = past_moment(ctx, as_of).await?;
        let found = places_of(ctx, &past).wijk(&code).map(|w| w.code);
        Ok(found.map(|code| Wijk {
            code,
            year: None,
            past,
        }))
    }

    /// All gebieden (wijkprogramma's), ordered by code.
    async fn gebieden(&self, ctx: &Context<'_>) -> Vec<Gebied> {
        app(ctx)
            .live
            .read()
            .gebieden()
            .map(|g| Gebied {
                code: g.code,
                year: None,
                past: None,
            })
            .collect()
    }

    /// One gebied by code (`W2`), or null; as it was at `asOf` when given.
    async fn gebied(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gebied's code, `W1` … `W8`.")] code: ID,
        #[graphql(
            desc = "The moment to show it at (default: now); before the first event \
                          there is nothing yet."
        )]
        as_of: Option<Timestamp>,
    ) -> ApiResult<Option<Gebied>> {
        let code = GebiedCode::parse(&code)?;
        let past = past_moment(ctx, as_of).await?;
        let found = places_of(ctx, &past).gebied(&code).map(|g| g.code);
        Ok(found.map(|code| Gebied {
            code,
            year: None,
            past,
        }))
    }

    /// One initiative by id, or null; as it was at `asOf` when given (null before it was
    /// submitted).
    async fn initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The initiative's id.")] id: ID,
        #[graphql(
            desc = "The moment to show it at (default: now); before the first event \
                          there is nothing yet."
        )]
        as_of: Option<Timestamp>,
    ) -> ApiResult<Option<Initiative>> {
        let id = InitiativeId::parse(&id)?;
        let past = past_moment(ctx, as_of).await?;
        let now = app(ctx).live.read().initiative(&id).cloned();
        let (Some(moment), Some(now)) = (&past, &now) else {
            return Ok(now.map(Initiative::new));
        };
        // As it was then: folded again from the events of its history up to the moment.
        let position = moment.position();
        let events =
            history_events(ctx, now.history_positions().filter(|&p| p <= position)).await?;
        Ok(now
            .as_at(position, &events)
            .map(|view| Initiative::in_past(view, past.clone())))
    }

    /// The initiative a tracking code belongs to, for its initiator; null for a wrong code.
    async fn tracked_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The code the initiator got on submitting; wrong codes count against \
                          the caller's address."
        )]
        tracking_code: String,
    ) -> ApiResult<Option<Initiative>> {
        let view = crate::tracking::initiative_of(&tracking_code)
            .and_then(|id| app(ctx).live.read().initiative(&id).cloned());
        let right = crate::tracking::check_in(ctx, &tracking_code, view.as_ref()).await?;
        Ok(view.filter(|_| right).map(Initiative::for_initiator))
    }

    /// Initiatives, newest first unless `orderBy` says otherwise, filtered; pages of at most
    /// 100.
    async fn initiatives(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The page size: 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an `endCursor` of the previous page).")]
        after: Option<String>,
        #[graphql(desc = "Which initiatives; all of them when left out.")] filter: Option<
            InitiativeFilter,
        >,
        #[graphql(desc = "The order (default: newest first, `{ field: SUBMITTED_AT, \
                          direction: DESC }`); a cursor is valid only in the order it came from.")]
        order_by: Option<InitiativeOrder>,
    ) -> ApiResult<InitiativeConnection> {
        initiatives_page_in_order(ctx, first, after, filter, order_by)
    }

    /// The whole city for `year` (default: the current year); as it was at `asOf` when given.
    async fn city_overview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The budget year the overview shows.")] year: Option<i32>,
        #[graphql(
            desc = "The moment to show it at (default: now); before the first event \
                          there is nothing yet."
        )]
        as_of: Option<Timestamp>,
    ) -> ApiResult<CityOverview> {
        let year = check_year(year)?;
        Ok(CityOverview {
            year,
            past: past_moment(ctx, as_of).await?,
        })
    }

    /// A year month by month (submitted, funded, completed, rejected, referred, withdrawn; the
    /// budget's allocated, committed, spent and remaining) and its lead times, for the city, a
    /// gebied or a wijk, and optionally one theme. Months in Arnhem's time.
    async fn trends(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year: 2000 to 2100.")] year: i32,
        #[graphql(desc = "Only this wijk (CBS code, `WK020207`); all zero for an unknown one.")]
        wijk: Option<ID>,
        #[graphql(
            desc = "Only this gebied's wijken (`W2`); all zero for an unknown one. With `wijk`, \
                    it must be the wijk's gebied."
        )]
        gebied: Option<ID>,
        #[graphql(desc = "Only this theme.")] theme: Option<Theme>,
    ) -> ApiResult<super::trends::Trends> {
        super::trends::trends(ctx, year, wijk, gebied, theme)
    }

    /// The caller's work list: initiatives waiting for a step from the team (submitted and not
    /// answered, connected and not decided, funded and not completed), oldest first. Staff see
    /// their gebieden's, admins all; the public is refused (`UNAUTHENTICATED`).
    async fn work_list(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The page size: 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an `endCursor` of the previous page).")]
        after: Option<String>,
    ) -> ApiResult<super::dashboards::WorkItemConnection> {
        super::dashboards::work_list_page(ctx, first, after)
    }

    /// Events after `after` (default: the start), oldest first, at most `first` (≤ 500).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The last position you have; the first event comes after it.")]
        after: Option<Position>,
        #[graphql(
            default = 100,
            validator(minimum = 1, maximum = 500),
            desc = "How many events at most: 1 to 500."
        )]
        first: i32,
    ) -> ApiResult<Vec<EventRecord>> {
        let app = app(ctx);
        let records = app
            .service
            .store
            .read_batch(
                wijkpuls_event_store::Position(after.map_or(0, |p| p.0)),
                first as usize,
            )
            .await?;
        super::feed_records(app, &records)
    }

    // Similar initiatives (issue 13): see `similar.rs`.

    /// Initiatives that say much the same as a would-be initiative's text, best first, so a
    /// resident sees before submitting that neighbours have the same idea. Public, with what
    /// the public sees of an initiative (no personal data); withdrawn and rejected initiatives
    /// are left out.
    async fn similar_initiatives(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The title, checked like a submission's: 3 to 120 characters.")]
        title: String,
        #[graphql(desc = "The description, up to 5,000 characters; its first 200 words count.")]
        description: Option<String>,
        #[graphql(desc = "Only initiatives of this wijk (CBS code, `WK020207`).")] wijk: Option<ID>,
        #[graphql(
            default = 5,
            desc = "How many at most: 1 to 20 (`BAD_USER_INPUT` otherwise)."
        )]
        first: Option<i32>,
    ) -> ApiResult<Vec<super::similar::SimilarInitiative>> {
        super::similar::similar_initiatives(
            ctx,
            &title,
            description.as_deref(),
            wijk.as_ref(),
            first,
        )
    }
}

pub fn check_year(year: Option<i32>) -> ApiResult<i32> {
    let year = year.unwrap_or_else(current_year);
    Ok(wijkpuls_domain::check_year(year)?)
}

/// A page of initiatives, newest first.
pub fn initiatives_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<InitiativeFilter>,
) -> ApiResult<InitiativeConnection> {
    initiatives_page_at(ctx, PageOf::Now, first, after, filter, None)
}

/// A page of initiatives in `order` (default: newest first).
pub fn initiatives_page_in_order(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<InitiativeFilter>,
    order: Option<InitiativeOrder>,
) -> ApiResult<InitiativeConnection> {
    initiatives_page_at(ctx, PageOf::Now, first, after, filter, order)
}

/// Which state a page of initiatives reads.
pub enum PageOf<'a> {
    /// The live state.
    Now,
    /// A past moment: the live state's initiatives submitted by then, with their statuses
    /// then (their history steps) and, for those changed since, their `updatedAt` then
    /// (`updated`, read from the log: [`crate::live::Live::last_changes`]; empty when neither
    /// the order nor a range asks for it). The nodes are the live views, which the caller
    /// folds back to the moment ([`past_nodes`]).
    Past {
        moment: &'a Arc<Moment>,
        updated: &'a HashMap<InitiativeId, DateTime<Utc>>,
    },
}

/// [`initiatives_page_in_order`] now or at a past moment (`asOf`), see [`PageOf`].
pub fn initiatives_page_at(
    ctx: &Context<'_>,
    of: PageOf<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<InitiativeFilter>,
    order: Option<InitiativeOrder>,
) -> ApiResult<InitiativeConnection> {
    let order = order.unwrap_or_default();
    let first = first.unwrap_or(20);
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(ApiError::BadInput(format!(
            "first must be between 0 and {MAX_PAGE}"
        )));
    }
    let filter = filter.unwrap_or_default();
    let ranges = Ranges::of(&filter)?;
    let wijk = filter
        .wijk
        .as_deref()
        .map(|w| WijkCode::parse(w))
        .transpose()?;
    let gebied = filter
        .gebied
        .as_deref()
        .map(|g| GebiedCode::parse(g))
        .transpose()?;
    let statuses: Option<Vec<wijkpuls_domain::InitiativeStatus>> = filter
        .status
        .map(|s| s.into_iter().map(Into::into).collect());
    let theme: Option<wijkpuls_domain::Theme> = filter.theme.map(Into::into);
    let words = filter_words(filter.text.as_deref())?;
    let after = after
        .map(|cursor| Cursor::parse(&cursor, order.field))
        .transpose()?;

    let (past, updated): (Past, _) = match of {
        PageOf::Now => (None, None),
        PageOf::Past { moment, updated } => (Some(moment.clone()), Some(updated)),
    };
    let at = past.as_ref().map(|moment| moment.position());
    let state = app(ctx).live.read();
    // When it last changed, then.
    let updated_at = |i: &InitiativeView| {
        updated
            .and_then(|updated| updated.get(&i.id).copied())
            .unwrap_or(i.updated_at)
    };
    // What never changes about an initiative, and what does (its status, its last event).
    let lasting = |i: &InitiativeView| {
        ranges.lasting_hold_for(i)
            && wijk.is_none_or(|w| i.wijk == w)
            && gebied.is_none_or(|g| i.gebied == g)
            && theme.is_none_or(|t| i.theme == t)
            && (words.is_empty() || {
                let haystack = format!(
                    "{} {}",
                    i.title.as_str().to_lowercase(),
                    i.description.as_str().to_lowercase()
                );
                words.iter().all(|w| haystack.contains(w.as_str()))
            })
    };
    let changing = |i: &InitiativeView| {
        let status = at.map_or(Some(i.status), |p| i.status_at(p));
        ranges.changing_hold_for(updated_at(i))
            && statuses
                .as_ref()
                .is_none_or(|s| status.is_some_and(|status| s.contains(&status)))
    };
    // Those submitted by then: a prefix, the list being in submission order.
    let submitted = || {
        state
            .initiatives()
            .enumerate()
            .take_while(|(_, i)| at.is_none_or(|p| i.submitted_position() <= p))
    };
    // Ascending by (key, submission order), then turned round for a descending order: the
    // submission order breaks ties, so every initiative has one place.
    let mut ordered: Vec<(i64, usize, &InitiativeView)> = submitted()
        .filter(|(_, i)| lasting(i) && changing(i))
        .map(|(index, view)| (order.field.key(index, view, updated_at(view)), index, view))
        .collect();
    if order.field != InitiativeOrderField::SubmittedAt {
        ordered.sort_unstable_by_key(|&(key, index, _)| (key, index));
    }
    let descending = order.direction == OrderDirection::Desc;
    if descending {
        ordered.reverse();
    }
    let start = match after {
        None => 0,
        Some(cursor) => {
            // The page goes on after the place the cursor names (its key then), also when its
            // initiative has moved or no longer matches (its status changed). A cursor whose
            // initiative never was in this list (another wijk's, say) is refused.
            let Some((index, view)) = submitted()
                .find(|(_, v)| v.id == cursor.id)
                .filter(|(_, v)| lasting(v))
            else {
                return Err(ApiError::BadInput(
                    "after is not a cursor from this list".into(),
                ));
            };
            let place = (
                cursor
                    .key
                    .unwrap_or_else(|| order.field.key(index, view, updated_at(view))),
                index,
            );
            ordered.partition_point(|&(key, index, _)| {
                if descending {
                    (key, index) >= place
                } else {
                    (key, index) <= place
                }
            })
        }
    };
    let end = ordered.len().min(start + first as usize);
    let edges: Vec<InitiativeEdge> = ordered[start..end]
        .iter()
        .map(|&(key, _, view)| InitiativeEdge {
            cursor: Cursor::write(order.field, key, view.id),
            node: Initiative::in_past(view.clone(), past.clone()),
        })
        .collect();
    let (total, has_previous, has_next) = (ordered.len() as u64, start > 0, end < ordered.len());
    Ok(InitiativeConnection {
        page_info: PageInfo {
            has_next_page: has_next,
            has_previous_page: has_previous,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total_count: total,
    })
}

/// The events of history steps at `positions`, every one of them: one missing from the log
/// would fold a view of the past that never was, so it is an error.
async fn history_events(
    ctx: &Context<'_>,
    positions: impl IntoIterator<Item = u64>,
) -> ApiResult<Vec<Arc<wijkpuls_domain::Recorded>>> {
    let mut wanted: Vec<u64> = positions.into_iter().collect();
    wanted.sort_unstable();
    wanted.dedup();
    let events = log_events(ctx, wanted.iter().copied()).await?;
    if events.len() != wanted.len() {
        return Err(anyhow::anyhow!(
            "{} of {} history events were not found in the log",
            wanted.len() - events.len(),
            wanted.len()
        )
        .into());
    }
    Ok(events)
}

/// The nodes of a page made by [`initiatives_page_at`] from the live state for a past moment
/// (`at`), folded back to it: each from the events of its history up to then, read in one go.
pub(crate) async fn past_nodes(
    ctx: &Context<'_>,
    page: &mut InitiativeConnection,
    at: u64,
) -> ApiResult<()> {
    let positions = page
        .edges
        .iter()
        .flat_map(|e| e.node.view.history_positions().filter(|&p| p <= at));
    let events = history_events(ctx, positions).await?;
    for edge in &mut page.edges {
        let view = edge.node.view.as_at(at, &events).ok_or_else(|| {
            anyhow::anyhow!(
                "initiative {} has no submission in the log",
                edge.node.view.id
            )
        })?;
        edge.node.view = Arc::new(view);
    }
    Ok(())
}

// Ordering `initiatives` (issue 16): `orderBy`, and cursors that hold their place in each order.

/// How to order initiatives.
#[derive(InputObject, Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitiativeOrder {
    /// What to order by.
    pub field: InitiativeOrderField,
    /// Ascending (oldest, smallest first) or descending (newest, largest first).
    pub direction: OrderDirection,
}

impl Default for InitiativeOrder {
    /// Newest first.
    fn default() -> Self {
        InitiativeOrder {
            field: InitiativeOrderField::SubmittedAt,
            direction: OrderDirection::Desc,
        }
    }
}

/// What initiatives can be ordered by. Ties are broken by the order of submission (in the
/// same direction), so every initiative has one place.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitiativeOrderField {
    /// When it was submitted (`submittedAt`), in the order the log recorded the submissions.
    /// Its cursors are the initiatives' ids.
    SubmittedAt,
    /// When its last event happened (`updatedAt`). An initiative that changes while you page
    /// moves in this order: you may see it again, or not at all, in the pages after the change.
    UpdatedAt,
    /// What the initiator asked for (`requestedAmount`).
    RequestedAmount,
}

/// Which way to order.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderDirection {
    /// Ascending: oldest or smallest first.
    Asc,
    /// Descending: newest or largest first.
    Desc,
}

impl InitiativeOrderField {
    /// The initiative's sort key: its place in submission order (`index`), its last change in
    /// microseconds, or its requested amount in cents.
    fn key(self, index: usize, view: &InitiativeView, updated_at: DateTime<Utc>) -> i64 {
        match self {
            InitiativeOrderField::SubmittedAt => index as i64,
            InitiativeOrderField::UpdatedAt => updated_at.timestamp_micros(),
            InitiativeOrderField::RequestedAmount => view.requested_amount.cents(),
        }
    }

    /// The cursor's tag for an order whose key can change or is not the id's own.
    fn tag(self) -> Option<&'static str> {
        match self {
            InitiativeOrderField::SubmittedAt => None,
            InitiativeOrderField::UpdatedAt => Some("updatedAt"),
            InitiativeOrderField::RequestedAmount => Some("requestedAmount"),
        }
    }
}

/// A place in an ordered list of initiatives: the initiative, and its sort key when the page
/// was given (none for submission order, where the id says it all).
struct Cursor {
    key: Option<i64>,
    id: InitiativeId,
}

impl Cursor {
    /// `id` in submission order, as before there were orders; `tag:key:id` in the others.
    fn write(field: InitiativeOrderField, key: i64, id: InitiativeId) -> String {
        match field.tag() {
            None => id.to_string(),
            Some(tag) => format!("{tag}:{key}:{id}"),
        }
    }

    fn parse(text: &str, field: InitiativeOrderField) -> ApiResult<Cursor> {
        let refused = || ApiError::BadInput("after is not a cursor from this list".into());
        let (key, id) = match field.tag() {
            None => (None, text),
            Some(tag) => {
                let mut parts = text.splitn(3, ':');
                let (Some(found), Some(key), Some(id)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(refused());
                };
                if found != tag {
                    return Err(refused());
                }
                (Some(key.parse::<i64>().map_err(|_| refused())?), id)
            }
        };
        Ok(Cursor {
            key,
            id: InitiativeId::parse(id).map_err(|_| refused())?,
        })
    }
}
/// The date and amount ranges of a filter, checked.
struct Ranges {
    submitted: (Option<Timestamp>, Option<Timestamp>),
    updated: (Option<Timestamp>, Option<Timestamp>),
    amount: (Option<Money>, Option<Money>),
}

impl Ranges {
    fn of(filter: &InitiativeFilter) -> ApiResult<Ranges> {
        let ranges = Ranges {
            submitted: (filter.submitted_from, filter.submitted_to),
            updated: (filter.updated_from, filter.updated_to),
            amount: (filter.amount_min, filter.amount_max),
        };
        let time = |t: Option<Timestamp>| t.map(|t| t.0);
        let money = |m: Option<Money>| m.map(|m| m.0);
        check_range(
            "submittedFrom/submittedTo",
            time(ranges.submitted.0),
            time(ranges.submitted.1),
        )?;
        check_range(
            "updatedFrom/updatedTo",
            time(ranges.updated.0),
            time(ranges.updated.1),
        )?;
        check_range(
            "amountMin/amountMax",
            money(ranges.amount.0),
            money(ranges.amount.1),
        )?;
        Ok(ranges)
    }

    /// The ranges of what never changes: the submission moment and the amount asked.
    fn lasting_hold_for(&self, view: &wijkpuls_domain::InitiativeView) -> bool {
        let time = |t: Option<Timestamp>| t.map(|t| t.0);
        let money = |m: Option<Money>| m.map(|m| m.0);
        within(
            view.submitted_at,
            time(self.submitted.0),
            time(self.submitted.1),
        ) && within(
            view.requested_amount,
            money(self.amount.0),
            money(self.amount.1),
        )
    }

    /// The range of what changes: the moment of the last event.
    fn changing_hold_for(&self, updated_at: DateTime<Utc>) -> bool {
        let time = |t: Option<Timestamp>| t.map(|t| t.0);
        within(updated_at, time(self.updated.0), time(self.updated.1))
    }
}
