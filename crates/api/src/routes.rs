//! The HTTP routes: GraphQL (over HTTP and WebSocket), the overview screen, health and
//! metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::Config;
use crate::auth::Actor;
use crate::schema::{self, AppState};
use crate::tracking::CodeGuesses;
use crate::transport::{graphql_router, GraphqlHooks, TransportOptions};

pub fn router(
    state: Arc<AppState>,
    config: &Config,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let schema = schema::build(state.clone());
    let mut options = TransportOptions::new(shutdown);
    options.ws_init_timeout = config.ws_init_timeout;
    let guesses = Arc::new(CodeGuesses::new(config.code_guesses_per_minute));
    let graphql = graphql_router(schema, Arc::new(Hooks(state.clone(), guesses)), options);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(graphql)
        .merge(crate::overview::router())
}

/// The actor of an HTTP request, from its `Authorization` header.
pub fn actor_for(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Actor, String> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| "the Authorization header is malformed".to_owned())
        })
        .transpose()?;
    state
        .tokens
        .actor_from_header(header, peer.map(|p| p.ip()))
        .map_err(|e| format!("{e}; ask for a new token"))
}

/// Authentication for the transport: the actor of a request or WebSocket connection, and the
/// limit on wrong tracking codes its fields count against.
struct Hooks(Arc<AppState>, Arc<CodeGuesses>);

impl GraphqlHooks for Hooks {
    fn http_data(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Data, String> {
        let actor = actor_for(&self.0, headers, peer)?;
        let mut data = Data::default();
        data.insert(actor);
        data.insert(self.1.clone());
        Ok(data)
    }

    fn ws_data(
        &self,
        init_payload: Option<&serde_json::Value>,
        _headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Data, String> {
        // On WebSocket the token comes in the connection_init payload (browsers cannot set
        // headers there).
        let authorization = match init_payload.and_then(|p| p.get("authorization")) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(value)) => Some(value.as_str()),
            Some(_) => return Err("authorization must be a string".into()),
        };
        let actor = self
            .0
            .tokens
            .actor_from_header(authorization, peer.map(|p| p.ip()))
            .map_err(|e| e.to_string())?;
        let mut data = Data::default();
        data.insert(actor);
        data.insert(self.1.clone());
        Ok(data)
    }
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
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "live state is not following the log\n",
        )
            .into_response();
    }
    let caught_up = tokio::time::timeout(Duration::from_secs(2), state.live.wait_for(head.0)).await;
    match caught_up {
        Ok(()) => "ready\n".into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "live state is catching up\n",
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    let head = state.service.store.head_position().await.map(|p| p.0).ok();
    out.push_str(
        "# HELP wijkpuls_live_position Position of the last event applied to the live state.\n",
    );
    out.push_str("# TYPE wijkpuls_live_position gauge\n");
    out.push_str(&format!(
        "wijkpuls_live_position {}\n",
        state.live.position()
    ));
    if let Some(head) = head {
        out.push_str(
            "# HELP wijkpuls_log_head_position Position of the last event committed to the log.\n",
        );
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
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
