//! The HTTP routes: GraphQL (over HTTP and WebSocket), the overview screen, health and
//! metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::Config;
use crate::auth::Actor;
use crate::schema::{self, AppState};

pub fn router(
    state: Arc<AppState>,
    config: &Config,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let schema = schema::build(state.clone());
    let _ = (config, shutdown);
    let graphql = interim_graphql(schema, state.clone());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(graphql)
}

/// The actor of an HTTP request, from its `Authorization` header.
pub fn actor_for(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Actor, String> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| "the Authorization header is malformed".to_owned()))
        .transpose()?;
    state
        .tokens
        .actor_from_header(header, peer.map(|p| p.ip()))
        .map_err(|e| format!("{e}; ask for a new token"))
}

fn interim_graphql(schema: schema::WijkpulsSchema, state: Arc<AppState>) -> Router {
    use async_graphql::http::GraphiQLSource;
    use async_graphql_axum::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
    let post = {
        let schema = schema.clone();
        let state = state.clone();
        move |peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>, headers: HeaderMap, request: GraphQLRequest| async move {
            let mut request = request.into_inner();
            match actor_for(&state, &headers, peer.map(|p| p.0 .0)) {
                Ok(actor) => request = request.data(actor),
                Err(message) => {
                    let error = async_graphql::ServerError::new(message, None);
                    let mut response = async_graphql::Response::from_errors(vec![error]);
                    response.errors[0].extensions = Some({
                        let mut ext = async_graphql::ErrorExtensionValues::default();
                        ext.set("code", "UNAUTHENTICATED");
                        ext
                    });
                    return GraphQLResponse::from(response);
                }
            }
            GraphQLResponse::from(schema.execute(request).await)
        }
    };
    Router::new()
        .route(
            "/graphql",
            get(|| async {
                Html(
                    GraphiQLSource::build()
                        .endpoint("/graphql")
                        .subscription_endpoint("/graphql/ws")
                        .finish(),
                )
            })
            .post(post),
        )
        .route_service("/graphql/ws", GraphQLSubscription::new(schema))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers and the live state has applied everything committed when
/// the check began (waiting briefly for it).
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let head = match state.service.store.head_position().await {
        Ok(head) => head,
        Err(error) => {
            tracing::warn!(%error, "readiness: the database does not answer");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response();
        }
    };
    if !state.live.is_following() {
        return (StatusCode::SERVICE_UNAVAILABLE, "live state is not following the log\n")
            .into_response();
    }
    let caught_up = tokio::time::timeout(Duration::from_secs(2), state.live.wait_for(head.0)).await;
    match caught_up {
        Ok(()) => "ready\n".into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "live state is catching up\n").into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    let head = state.service.store.head_position().await.map(|p| p.0).ok();
    out.push_str("# HELP wijkpuls_live_position Position of the last event applied to the live state.\n");
    out.push_str("# TYPE wijkpuls_live_position gauge\n");
    out.push_str(&format!("wijkpuls_live_position {}\n", state.live.position()));
    if let Some(head) = head {
        out.push_str("# HELP wijkpuls_log_head_position Position of the last event committed to the log.\n");
        out.push_str("# TYPE wijkpuls_log_head_position gauge\n");
        out.push_str(&format!("wijkpuls_log_head_position {head}\n"));
    }
    out.push_str("# HELP wijkpuls_initiatives Initiatives per status.\n");
    out.push_str("# TYPE wijkpuls_initiatives gauge\n");
    let counts = state.live.read().city_counts();
    for (status, count) in counts.iter() {
        out.push_str(&format!(
            "wijkpuls_initiatives{{status=\"{}\"}} {count}\n",
            status.as_str()
        ));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response()
}
