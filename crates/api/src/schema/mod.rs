//! The GraphQL schema: [`query`], [`mutation`], [`subscription`] over the object [`types`] and
//! [`scalars`], with what dashboards need beyond the current state in [`dashboards`]. `schema.graphql` at the repository root is generated from this (see
//! [`sdl`]) and a test fails when the two drift.

pub mod dashboards;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod similar;
pub mod subscription;
pub mod trends;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema};
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
    builder(state).extension(crate::error::ErrorCodes).finish()
}

/// [`build`] for documents it has validated before (see [`crate::transport::FastPath`]): the
/// same types, data and limits, validation mode Fast, and no extensions; `finish` is what
/// [`crate::error::ErrorCodes`] does to an executed request's response.
pub fn build_fast_path(
    state: Arc<AppState>,
) -> crate::transport::FastPath<query::Query, mutation::Mutation, subscription::Subscription> {
    crate::transport::FastPath {
        schema: builder(state)
            .validation_mode(async_graphql::ValidationMode::Fast)
            .finish(),
        finish: crate::error::with_codes,
    }
}

/// What [`build`] and [`build_fast_path`] share, so that the two cannot drift apart.
fn builder(
    state: Arc<AppState>,
) -> async_graphql::SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    let log_events = types::LogEvents::loader(state.service.store.clone());
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .data(state)
        .data(log_events)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema in SDL, as checked in at `schema.graphql`, with `@specifiedBy` on the scalars
/// that follow a published format.
pub fn sdl() -> String {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
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
    wijkpuls_domain::projection::arnhem_year(chrono::Utc::now())
}

/// A size argument that was renamed (`limit` and `recent` became `first`): the value of
/// whichever of the two is given; both at once is refused, unless they agree.
pub(crate) fn renamed_size(
    name: &str,
    value: Option<i32>,
    old_name: &str,
    old_value: Option<i32>,
) -> ApiResult<Option<i32>> {
    match (value, old_value) {
        (Some(new), Some(old)) if new != old => Err(crate::error::ApiError::BadInput(format!(
            "give `{name}` only (`{old_name}` is its old name)"
        ))),
        (value, old_value) => Ok(value.or(old_value)),
    }
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

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    /// GraphQL's own scalars: the spec describes them, async-graphql adds its own words.
    const BUILT_IN: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];

    const INTROSPECTION: &str = r#"{ __schema { types {
        name kind description specifiedByURL
        fields(includeDeprecated: true) { name description args { name description } }
        inputFields { name description }
        enumValues(includeDeprecated: true) { name description }
    } } }"#;

    /// The schema's own types (no `__` introspection types, no built-in scalars), introspected.
    async fn own_types() -> Vec<Json> {
        let schema = async_graphql::Schema::build(
            super::query::Query,
            super::mutation::Mutation,
            super::subscription::Subscription,
        )
        .finish();
        let response = schema.execute(INTROSPECTION).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("introspection is JSON");
        data["__schema"]["types"]
            .as_array()
            .expect("types")
            .iter()
            .filter(|t| {
                let name = t["name"].as_str().unwrap_or_default();
                !name.starts_with("__") && !BUILT_IN.contains(&name)
            })
            .cloned()
            .collect()
    }

    fn described(item: &Json) -> bool {
        item["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    }

    fn items<'a>(ty: &'a Json, key: &str) -> impl Iterator<Item = &'a Json> {
        ty[key].as_array().into_iter().flatten()
    }

    /// A dashboard developer reads the schema in their tools: every type, field, argument,
    /// input field and enum value must say what it is.
    #[tokio::test]
    async fn everything_public_has_a_description() {
        let mut missing = Vec::new();
        for ty in own_types().await {
            let name = ty["name"].as_str().unwrap_or_default();
            if !described(&ty) {
                missing.push(name.to_owned());
            }
            for field in items(&ty, "fields") {
                let field_name = field["name"].as_str().unwrap_or_default();
                if !described(field) {
                    missing.push(format!("{name}.{field_name}"));
                }
                for arg in items(field, "args").filter(|a| !described(a)) {
                    missing.push(format!("{name}.{field_name}({})", arg["name"]));
                }
            }
            for item in items(&ty, "inputFields").chain(items(&ty, "enumValues")) {
                if !described(item) {
                    missing.push(format!("{name}.{}", item["name"]));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "{} without a description:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    /// Custom scalars say how they look on the wire; one with a published format points to it.
    #[tokio::test]
    async fn date_time_is_specified_by_rfc_3339() {
        let types = own_types().await;
        let date_time = types
            .iter()
            .find(|t| t["name"] == "DateTime")
            .expect("a DateTime scalar");
        assert_eq!(
            date_time["specifiedByURL"],
            "https://datatracker.ietf.org/doc/html/rfc3339"
        );
        let description = date_time["description"].as_str().unwrap_or_default();
        assert!(
            !description.contains("Implement"),
            "DateTime tells how it looks, not how it is implemented: {description}"
        );
        assert!(super::sdl().contains(
            "scalar DateTime @specifiedBy(url: \"https://datatracker.ietf.org/doc/html/rfc3339\")"
        ));
    }

    /// `EventRecord.type` is a string: its description is where clients find the values, so it
    /// must name every event type there is.
    #[tokio::test]
    async fn event_record_type_lists_every_event_type() {
        let types = own_types().await;
        let field = types
            .iter()
            .filter(|t| t["name"] == "EventRecord")
            .flat_map(|t| items(t, "fields"))
            .find(|f| f["name"] == "type")
            .expect("EventRecord.type");
        let description = field["description"].as_str().unwrap_or_default();
        let missing: Vec<_> = wijkpuls_domain::DomainEvent::TYPES
            .iter()
            .filter(|t| !description.contains(&format!("`{t}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "EventRecord.type does not name {missing:?}"
        );
    }
}
