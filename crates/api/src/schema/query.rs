//! The queries: wijken, gebieden, initiatives and the city overview, answered from memory.

use async_graphql::{Context, InputObject, Object, ID};
use wijkpuls_domain::{GebiedCode, InitiativeId, WijkCode};

use super::scalars::{InitiativeStatus, Position, Theme};
use super::types::{
    CityOverview, EventRecord, Gebied, Initiative, InitiativeConnection, InitiativeEdge, PageInfo,
    Wijk,
};
use super::{app, current_year};
use crate::error::{ApiError, ApiResult};

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
            })
            .collect()
    }

    /// One wijk by its CBS code (`WK020207`), or null.
    async fn wijk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The wijk's CBS code, e.g. `WK020207`.")] code: ID,
    ) -> ApiResult<Option<Wijk>> {
        let code = WijkCode::parse(&code)?;
        Ok(app(ctx).live.read().wijk(&code).map(|w| Wijk {
            code: w.code,
            year: None,
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
            })
            .collect()
    }

    /// One gebied by code (`W2`), or null.
    async fn gebied(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gebied's code, `W1` … `W8`.")] code: ID,
    ) -> ApiResult<Option<Gebied>> {
        let code = GebiedCode::parse(&code)?;
        Ok(app(ctx).live.read().gebied(&code).map(|g| Gebied {
            code: g.code,
            year: None,
        }))
    }

    /// One initiative by id, or null.
    async fn initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The initiative's id.")] id: ID,
    ) -> ApiResult<Option<Initiative>> {
        let id = InitiativeId::parse(&id)?;
        Ok(app(ctx)
            .live
            .read()
            .initiative(&id)
            .map(|view| Initiative::new(view.clone())))
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

    /// The whole city for `year` (default: the current year).
    async fn city_overview(
        &self,
        #[graphql(desc = "The budget year the overview shows.")] year: Option<i32>,
    ) -> ApiResult<CityOverview> {
        Ok(CityOverview {
            year: check_year(year)?,
        })
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

pub fn initiatives_page(
    ctx: &Context<'_>,
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

    let state = app(ctx).live.read();
    let matching = state.initiatives().rev().filter(|i| {
        wijk.is_none_or(|w| i.wijk == w)
            && gebied.is_none_or(|g| i.gebied == g)
            && statuses.as_ref().is_none_or(|s| s.contains(&i.status))
            && theme.is_none_or(|t| i.theme == t)
            && (words.is_empty() || {
                let haystack = format!(
                    "{} {}",
                    i.title.as_str().to_lowercase(),
                    i.description.as_str().to_lowercase()
                );
                words.iter().all(|w| haystack.contains(w.as_str()))
            })
    });
    let mut total = 0u64;
    let mut seen_cursor = after.is_none();
    let mut has_previous = false;
    let mut edges = Vec::new();
    let mut has_next = false;
    for view in matching {
        total += 1;
        if !seen_cursor {
            has_previous = true;
            if Some(view.id) == after {
                seen_cursor = true;
            }
            continue;
        }
        if edges.len() < first as usize {
            edges.push(InitiativeEdge {
                cursor: view.id.to_string(),
                node: Initiative::new(view.clone()),
            });
        } else {
            has_next = true;
        }
    }
    if !seen_cursor {
        return Err(ApiError::BadInput(
            "after is not a cursor from this list".into(),
        ));
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
