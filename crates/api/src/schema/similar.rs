//! Similar initiatives (issue 13): `similarInitiatives` for a resident about to submit, and
//! `Initiative.similar` for staff connecting residents with the same idea. The ranking is the
//! domain's ([`wijkpuls_domain::similar`]); here the input is checked, the work bounded and the
//! answer limited to what the caller may see.

use std::collections::HashSet;

use async_graphql::{Context, SimpleObject, ID};
use wijkpuls_domain::similar::{Profile, Similar};
use wijkpuls_domain::{
    CityState, Description, InitiativeId, InitiativeStatus, InitiativeView, Title, WijkCode,
};

use super::types::Initiative;
use super::{actor, app};
use crate::error::{ApiError, ApiResult};
use crate::policy;

/// The default number of similar initiatives.
pub const DEFAULT_FIRST: i32 = 5;
/// The most similar initiatives one field returns.
pub const MAX_FIRST: i32 = 20;

/// An initiative that says much the same as a text, and how alike the two are.
#[derive(SimpleObject)]
pub struct SimilarInitiative {
    /// The initiative, with what the caller may see of it (like any `Initiative`: personal data
    /// only where its fields allow).
    pub initiative: Initiative,
    /// How alike, best first: about 1 for the same text, towards 0 for little in common (BM25
    /// over words, stems, municipal synonyms and parts of compound words, divided by what the
    /// text scores against itself). Compare scores within one answer.
    pub score: f64,
}

/// `first`, or the default when it is left out or null.
fn check_first(first: Option<i32>) -> ApiResult<usize> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    if (1..=MAX_FIRST).contains(&first) {
        Ok(first as usize)
    } else {
        Err(ApiError::BadInput(format!(
            "first must be between 1 and {MAX_FIRST}"
        )))
    }
}

/// Whether an initiative is offered as similar: withdrawn and rejected ones are not, as nobody
/// works on them any more.
fn offered(view: &InitiativeView) -> bool {
    !matches!(
        view.status,
        InitiativeStatus::Withdrawn | InitiativeStatus::Rejected
    )
}

/// The initiatives most like `profile` that `keep` accepts, of those offered.
fn ranked(
    ctx: &Context<'_>,
    profile: &Profile,
    first: usize,
    keep: impl Fn(&Similar) -> bool,
) -> Vec<SimilarInitiative> {
    let live = &app(ctx).live;
    let state: &CityState = &live.read();
    let hits = live.similar().similar(profile, first, |hit| {
        keep(hit) && state.initiative(&hit.id).is_some_and(offered)
    });
    hits.into_iter()
        .filter_map(|hit| {
            let view = state.initiative(&hit.id)?;
            Some(SimilarInitiative {
                initiative: Initiative::new(view.clone()),
                score: hit.score,
            })
        })
        .collect()
}

/// `similarInitiatives`: public; the text is checked like a submission's.
pub fn similar_initiatives(
    ctx: &Context<'_>,
    title: &str,
    description: Option<&str>,
    wijk: Option<&ID>,
    first: Option<i32>,
) -> ApiResult<Vec<SimilarInitiative>> {
    let first = check_first(first)?;
    let title = Title::parse(title)?;
    let description = Description::parse(description.unwrap_or_default())?;
    let wijk = wijk.map(|w| WijkCode::parse(w)).transpose()?;
    let profile = Profile::of(&title, &description);
    Ok(ranked(ctx, &profile, first, |hit| {
        wijk.is_none_or(|w| hit.wijk == w)
    }))
}

/// `Initiative.similar`: for the team; leaves out the initiative itself and those it is
/// connected with already.
pub fn similar_to(
    ctx: &Context<'_>,
    view: &InitiativeView,
    first: Option<i32>,
) -> ApiResult<Vec<SimilarInitiative>> {
    policy::may_see_similar_initiatives(actor(ctx))?;
    let first = check_first(first)?;
    let connected: HashSet<InitiativeId> = view
        .connections
        .iter()
        .filter_map(|c| c.target.initiative())
        .collect();
    let profile = Profile::of(&view.title, &view.description);
    Ok(ranked(ctx, &profile, first, |hit| {
        hit.id != view.id && !connected.contains(&hit.id)
    }))
}
