//! The queries: wijken, gebieden, initiatives and the city overview, answered from memory.

use async_graphql::{Context, InputObject, Object, ID};
use wijkpuls_domain::{GebiedCode, InitiativeId, WijkCode};

use super::dashboards::{past_state, state_of, Past};
use super::scalars::{InitiativeStatus, Money, Position, Theme, Timestamp};
use super::types::{
    CityOverview, EventRecord, Gebied, Initiative, InitiativeConnection, InitiativeEdge, PageInfo,
    Wijk,
};
use super::{app, current_year};
use crate::error::{ApiError, ApiResult};
use wijkpuls_domain::CityState;

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
        let past = past_state(ctx, as_of).await?;
        let found = state_of(ctx, &past).wijk(&code).map(|w| w.code);
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
        let past = past_state(ctx, as_of).await?;
        let found = state_of(ctx, &past).gebied(&code).map(|g| g.code);
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
        let past = past_state(ctx, as_of).await?;
        let view = state_of(ctx, &past).initiative(&id).cloned();
        Ok(view.map(|view| Initiative::in_past(view, past)))
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
        let state = app(ctx).live.read();
        let view =
            crate::tracking::initiative_of(&tracking_code).and_then(|id| state.initiative(&id));
        let right = crate::tracking::check_in(ctx, &tracking_code, view)?;
        Ok(view
            .filter(|_| right)
            .map(|view| Initiative::for_initiator(view.clone())))
    }

    /// Initiatives, newest first, filtered; pages of at most 100.
    async fn initiatives(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The page size: 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an `endCursor` of the previous page).")]
        after: Option<String>,
        #[graphql(desc = "Which initiatives; all of them when left out.")] filter: Option<
            InitiativeFilter,
        >,
    ) -> ApiResult<InitiativeConnection> {
        initiatives_page(ctx, first, after, filter)
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
            past: past_state(ctx, as_of).await?,
        })
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
}

pub fn check_year(year: Option<i32>) -> ApiResult<i32> {
    let year = year.unwrap_or_else(current_year);
    Ok(wijkpuls_domain::check_year(year)?)
}

pub fn initiatives_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<InitiativeFilter>,
) -> ApiResult<InitiativeConnection> {
    initiatives_page_at(ctx, &None, first, after, filter)
}

/// [`initiatives_page`] of a past state (`asOf`), or of now when `past` is `None`.
pub fn initiatives_page_at(
    ctx: &Context<'_>,
    past: &Past,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<InitiativeFilter>,
) -> ApiResult<InitiativeConnection> {
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
        .map(|cursor| {
            InitiativeId::parse(&cursor)
                .map_err(|_| ApiError::BadInput("after is not a cursor from this list".into()))
        })
        .transpose()?;

    let state = state_of(ctx, past);
    // What never changes about an initiative, and what does (its status, its last event).
    let lasting = |i: &wijkpuls_domain::InitiativeView| {
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
    let changing = |i: &wijkpuls_domain::InitiativeView| {
        ranges.changing_hold_for(i) && statuses.as_ref().is_none_or(|s| s.contains(&i.status))
    };
    // The cursor's place in the whole list (newest first), which never changes: a cursor
    // whose initiative no longer matches (its status changed) still continues after it. One
    // that never was in this list is refused.
    let skip = match after {
        Some(after) => cursor_place(&state, &after, lasting)?,
        None => 0,
    };
    let matching = state
        .initiatives()
        .rev()
        .enumerate()
        .filter(|(_, i)| changing(i) && lasting(i));
    let mut total = 0u64;
    let mut has_previous = false;
    let mut edges = Vec::new();
    let mut has_next = false;
    for (place, view) in matching {
        total += 1;
        if place < skip {
            has_previous = true;
            continue;
        }
        if edges.len() < first as usize {
            edges.push(InitiativeEdge {
                cursor: view.id.to_string(),
                node: Initiative::in_past(view.clone(), past.clone()),
            });
        } else {
            has_next = true;
        }
    }
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
    fn changing_hold_for(&self, view: &wijkpuls_domain::InitiativeView) -> bool {
        let time = |t: Option<Timestamp>| t.map(|t| t.0);
        within(view.updated_at, time(self.updated.0), time(self.updated.1))
    }
}

/// How many initiatives come before and at the cursor's in the whole list, newest first;
/// refused when the cursor's initiative is unknown or never in this list (`lasting` fails).
fn cursor_place(
    state: &CityState,
    after: &InitiativeId,
    lasting: impl Fn(&wijkpuls_domain::InitiativeView) -> bool,
) -> ApiResult<usize> {
    state
        .initiatives()
        .rev()
        .enumerate()
        .find(|(_, view)| view.id == *after)
        .filter(|(_, view)| lasting(view))
        .map(|(place, _)| place + 1)
        .ok_or_else(|| ApiError::BadInput("after is not a cursor from this list".into()))
}
