//! The HTTP routes: GraphQL (over HTTP and WebSocket), the overview screen, health and
//! metrics.

use std::net::{IpAddr, SocketAddr};
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
use crate::metrics::Limiter;
use crate::schema::{self, AppState};
use crate::tracking::CodeGuesses;
use crate::transport::{graphql_router_with_fast_path, GraphqlHooks, TransportOptions, WsStats};

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
    let counted = state.service.metrics.clone();
    options.metrics = counted.clone();
    let guesses = CodeGuesses::new(config.code_guesses_per_minute).0;
    let hooks = Hooks {
        state: state.clone(),
        guesses: Arc::new(CodeGuesses(
            guesses.counted(counted.hits(Limiter::CodeGuesses)),
        )),
        proxies: config.trusted_proxies.clone(),
    };
    let fast = schema::build_fast_path(state.clone());
    let graphql = graphql_router_with_fast_path(schema, fast, Arc::new(hooks), options);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state((state, ws_stats))
        .merge(graphql)
        .merge(crate::overview::router())
        .merge(crate::graphiql::router());
    crate::cors_compression::apply(router, &config.cors_origins)
        .layer(axum::middleware::from_fn_with_state(
            counted,
            crate::metrics::track_http,
        ))
        // Outermost: every response, whatever answered it (a CORS preflight too), carries the
        // request id.
        .layer(axum::middleware::from_fn(crate::request::track))
}

/// A reverse proxy (an address, or a network in CIDR notation) whose `X-Forwarded-For` header
/// is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub fn parse(text: &str) -> Result<TrustedProxy, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
        };
        Ok(TrustedProxy { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
            v4 => v4,
        };
        let (bits, network, address) = match (self.network, address) {
            (IpAddr::V4(n), IpAddr::V4(a)) => (32, u32::from(n) as u128, u32::from(a) as u128),
            (IpAddr::V6(n), IpAddr::V6(a)) => (128, u128::from(n), u128::from(a)),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (network >> shift) == (address >> shift)
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy; then the right-most
/// address of `X-Forwarded-For` that is not itself a trusted proxy (everything left of it was
/// written by the client and may be forged).
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    proxies: &[TrustedProxy],
) -> Option<IpAddr> {
    let peer = peer?.ip();
    let trusted = |ip: IpAddr| proxies.iter().any(|p| p.contains(ip));
    if !trusted(peer) {
        return Some(peer);
    }
    let mut forwarded: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return Some(peer);
        };
        for part in value.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => forwarded.push(ip),
                // A malformed hop: trust nothing beyond the proxy.
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(*ip))
            .unwrap_or(peer),
    )
}

/// The actor of an HTTP request, from its `Authorization` header.
pub fn actor_for(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    proxies: &[TrustedProxy],
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
        .actor_from_header(header, client_address(headers, peer, proxies))
        .map_err(token_refusal)
}

/// What a client reads about a token that is refused, on HTTP and on WebSocket alike.
fn token_refusal(error: impl std::fmt::Display) -> String {
    format!("{error}; ask for a new token")
}

/// Authentication for the transport: the actor of a request or WebSocket connection, and the
/// limit on wrong tracking codes its fields count against.
struct Hooks {
    state: Arc<AppState>,
    guesses: Arc<CodeGuesses>,
    proxies: Vec<TrustedProxy>,
}

impl GraphqlHooks for Hooks {
    fn http_data(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Data, String> {
        let actor = actor_for(&self.state, headers, peer, &self.proxies)?;
        let mut data = Data::default();
        data.insert(actor);
        data.insert(self.guesses.clone());
        Ok(data)
    }

    fn ws_data(
        &self,
        init_payload: Option<&serde_json::Value>,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Data, String> {
        // On WebSocket the token comes in the connection_init payload (browsers cannot set
        // headers there). Its key is read in any case, as HTTP reads header names.
        let authorization = init_payload
            .and_then(serde_json::Value::as_object)
            .and_then(|payload| {
                payload
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            })
            .map(|(_, value)| value);
        let authorization = match authorization {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(value)) => Some(value.as_str()),
            Some(_) => return Err("authorization must be a string".into()),
        };
        let actor = self
            .state
            .tokens
            .actor_from_header(authorization, client_address(headers, peer, &self.proxies))
            .map_err(token_refusal)?;
        let mut data = Data::default();
        data.insert(actor);
        data.insert(self.guesses.clone());
        Ok(data)
    }

    fn client_address(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        client_address(headers, peer, &self.proxies)
    }

    fn role(&self, session: &Data) -> Option<&'static str> {
        session_actor(session).map(|actor| actor.role.as_str())
    }

    /// The live state views (a wijk, the city) are the same for everyone who sees the same:
    /// shared per role and gebieden (staff see personal data only in their own gebieden).
    fn shared_subscription(&self, root_fields: &[&str], session: &Data) -> Option<String> {
        const STATE_VIEWS: [&str; 2] = ["cityOverviewUpdated", "wijkUpdated"];
        if !root_fields.iter().all(|field| STATE_VIEWS.contains(field)) {
            return None;
        }
        let actor = session_actor(session)?;
        Some(crate::policy::visibility(actor))
    }
}

/// The actor the hooks put in a session's data.
fn session_actor(session: &Data) -> Option<&Actor> {
    session
        .get(&std::any::TypeId::of::<Actor>())?
        .downcast_ref::<Actor>()
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

/// How long `/metrics` waits for the database: past it, it answers with what it knows.
const METRICS_DATABASE_WITHIN: Duration = Duration::from_secs(1);

/// Every series of [`crate::metrics`]; the database's (log head, chain head) only when it
/// answers within [`METRICS_DATABASE_WITHIN`].
async fn metrics(State((state, ws)): State<RouteState>) -> Response {
    let store = &state.service.store;
    let (head, chain) = tokio::join!(
        tokio::time::timeout(METRICS_DATABASE_WITHIN, store.head_position()),
        tokio::time::timeout(METRICS_DATABASE_WITHIN, store.chain_head()),
    );
    let head = head.ok().and_then(Result::ok).map(|position| position.0);
    let chain = chain.ok().and_then(Result::ok);
    let sample = crate::metrics::Sample {
        live_position: state.live.position(),
        following: state.live.is_following(),
        log_head: head,
        database_answered: head.is_some() && chain.is_some(),
        chain_head: chain
            .flatten()
            .map(|chain| (chain.position.0, wijkpuls_event_store::to_hex(&chain.hash))),
        initiatives: state
            .live
            .read()
            .city_counts()
            .iter()
            .map(|(status, count)| (status.as_str(), count))
            .collect(),
        ..Default::default()
    }
    .with_ws(&ws);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.service.metrics.encode(sample),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxies = [
            TrustedProxy::parse("10.0.0.0/8").unwrap(),
            TrustedProxy::parse("::1").unwrap(),
        ];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 5.6.7.8, 10.1.1.1".parse().unwrap(),
        );
        let from = |ip: &str| Some(SocketAddr::new(ip.parse().unwrap(), 1));
        assert_eq!(
            client_address(&headers, from("10.0.0.1"), &proxies),
            Some("5.6.7.8".parse().unwrap())
        );
        assert_eq!(
            client_address(&headers, from("192.168.1.1"), &proxies),
            Some("192.168.1.1".parse().unwrap())
        );
        assert!(TrustedProxy::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxy::parse("nonsense").is_err());
        assert!(TrustedProxy::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
