//! The GraphQL schema: [`query`], [`mutation`], [`subscription`] over the object [`types`] and
//! [`scalars`]. `schema.graphql` at the repository root is generated from this (see
//! [`sdl`]) and a test fails when the two drift.

pub mod mutation;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema};
use chrono::Datelike;
use wijkpuls_event_store::RecordedEvent;

use crate::auth::{Actor, TokenKey};
use crate::error::ApiResult;
use crate::live::Live;
use crate::personal::Sealer;
use crate::ratelimit::RateLimiter;
use crate::service::Service;

pub type WijkpulsSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// What every resolver may reach: the live state, the store (through the service), the vault
/// and the token key.
pub struct AppState {
    pub live: Arc<Live>,
    pub service: Service,
    pub sealer: Sealer,
    pub tokens: TokenKey,
    pub submit_limiter: RateLimiter,
}

/// Limits that keep one query from costing the server too much.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 20_000;

pub fn build(state: Arc<AppState>) -> WijkpulsSchema {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(crate::error::ErrorCodes)
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .finish()
        .sdl()
}

pub(crate) fn app<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<Arc<AppState>>()
}

/// The caller; public when the transport attached no actor.
pub(crate) fn actor<'a>(ctx: &Context<'a>) -> &'a Actor {
    static PUBLIC: std::sync::OnceLock<Actor> = std::sync::OnceLock::new();
    ctx.data_opt::<Actor>()
        .unwrap_or_else(|| PUBLIC.get_or_init(|| Actor::public(None)))
}

/// The current year in Arnhem (CET at New Year: UTC+1).
pub fn current_year() -> i32 {
    (chrono::Utc::now() + chrono::Duration::hours(1)).year()
}

/// Public feed lines for records read from the log, named with the current state.
pub(crate) fn feed_records(
    app: &AppState,
    records: &[RecordedEvent],
) -> ApiResult<Vec<types::EventRecord>> {
    let state = app.live.read();
    records
        .iter()
        .map(|record| {
            let recorded = crate::codec::to_recorded(record)?;
            Ok(types::EventRecord(Arc::new(crate::feed::item(
                &state, record, &recorded,
            ))))
        })
        .collect()
}
