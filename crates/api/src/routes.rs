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
use crate::transport::{graphql_router, GraphqlHooks, TransportOptions, WsStats};
use std::sync::atomic::Ordering::Relaxed;

pub fn router(
    state: Arc<AppState>,
    config: &Config,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let schema = schema::build(state.clone());
    let mut options = TransportOptions::new(shutdown);
    options.ws_init_timeout = config.ws_init_timeout;
    options.ws_limits = config.ws_limits;
    let ws_stats = options.ws_stats.clone();
    let graphql = graphql_router(schema, Arc::new(Hooks(state.clone())), options);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state((state, ws_stats))
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

/// Authentication for the transport: the actor of a request or WebSocket connection.
struct Hooks(Arc<AppState>);

impl GraphqlHooks for Hooks {
    fn http_data(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Data, String> {
        let actor = actor_for(&self.0, headers, peer)?;
        let mut data = Data::default();
        data.insert(actor);
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
        Ok(data)
    }

    /// The live state views (a wijk, the city) are the same for everyone who sees the same:
    /// shared per role and gebieden (staff see personal data only in their own gebieden).
    fn shared_subscription(&self, root_fields: &[&str], session: &Data) -> Option<String> {
        const STATE_VIEWS: [&str; 2] = ["cityOverviewUpdated", "wijkUpdated"];
        if !root_fields.iter().all(|field| STATE_VIEWS.contains(field)) {
            return None;
        }
        let actor = session
            .get(&std::any::TypeId::of::<Actor>())?
            .downcast_ref::<Actor>()?;
        let mut gebieden: Vec<String> = actor.gebieden.iter().map(|g| g.to_string()).collect();
        gebieden.sort();
        Some(format!("{}:{}", actor.role.as_str(), gebieden.join(",")))
    }
}

/// What health and metrics read: the service, and the WebSocket endpoint's counters.
type RouteState = (Arc<AppState>, Arc<WsStats>);

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers and takes writes, and the live state follows the log and
/// has applied everything committed when the check began. Answers within [`READY_WITHIN`]
/// whatever the database does: a database that hangs is a database that is not ready.
async fn readyz(State((state, _)): State<RouteState>) -> Response {
    const READY_WITHIN: Duration = Duration::from_millis(1800);
    let verdict = tokio::time::timeout(READY_WITHIN, readiness(&state))
        .await
        .unwrap_or(Err("the database did not answer in time"));
    match verdict {
        Ok(()) => "ready\n".into_response(),
        Err(reason) => {
            tracing::warn!(reason, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response()
        }
    }
}

async fn readiness(state: &AppState) -> Result<(), &'static str> {
    if !state.live.is_following() {
        return Err("live state is not following the log");
    }
    let head = state
        .service
        .store
        .head_position()
        .await
        .map_err(|_| "database unreachable")?;
    if !state.service.writable().await {
        return Err("the database does not take writes");
    }
    state
        .live
        .wait_for(head.0, Duration::from_secs(1))
        .await
        .map_err(|_| "live state is catching up")
}

async fn metrics(State((state, ws)): State<RouteState>) -> Response {
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
    let counters = &state.service.counters;
    for (name, help, counter) in [
        (
            "wijkpuls_conflict_retries_total",
            "Decisions taken again after another server's append won the race.",
            &counters.conflict_retries,
        ),
        (
            "wijkpuls_conflicts_total",
            "Mutations answered CONFLICT because their deadline passed first.",
            &counters.conflicts,
        ),
        (
            "wijkpuls_apply_timeouts_total",
            "Mutations recorded but not applied to the live state within their deadline.",
            &counters.apply_timeouts,
        ),
    ] {
        let value = counter.load(Relaxed);
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        ));
    }
    for (name, kind, help, value) in [
        (
            "wijkpuls_ws_connections",
            "gauge",
            "WebSocket connections open now.",
            ws.connections.load(Relaxed) as u64,
        ),
        (
            "wijkpuls_ws_operations",
            "gauge",
            "WebSocket operations (subscriptions) running now.",
            ws.subscriptions.load(Relaxed) as u64,
        ),
        (
            "wijkpuls_ws_shared_executions",
            "gauge",
            "Subscriptions executed once for all the connections that share them.",
            ws.shared_executions.load(Relaxed) as u64,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    out.push_str("# HELP wijkpuls_ws_refusals_total WebSocket connections and operations refused, by limit.\n");
    out.push_str("# TYPE wijkpuls_ws_refusals_total counter\n");
    for (limit, counter) in [
        ("connections", &ws.refused_connections),
        ("per_address", &ws.refused_per_address),
        ("operations", &ws.refused_operations),
        ("id_length", &ws.refused_ids),
    ] {
        out.push_str(&format!(
            "wijkpuls_ws_refusals_total{{limit=\"{limit}\"}} {}\n",
            counter.load(Relaxed)
        ));
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
