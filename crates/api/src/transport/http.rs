//! GraphQL over HTTP (<https://graphql.github.io/graphql-over-http/draft/>).
//!
//! Response media type from `Accept`: `application/graphql-response+json` when the client names
//! it (and does not prefer `application/json`), otherwise `application/json` (also for a missing
//! `Accept` and for `*/*`); neither acceptable → 406. Status codes:
//!
//! | outcome | graphql-response+json | application/json |
//! | --- | --- | --- |
//! | executed (with or without field errors) | 200 | 200 |
//! | request error: document parse, validation, operation selection, variable coercion | 400 | 200 |
//! | `http_data` hook refused | 401 | 200 |
//! | not a well-formed GraphQL-over-HTTP request (body not JSON, `query` missing or no string, `variables` no object, a batch, ...) | 400 | 400 |
//! | mutation over GET | 405, `Allow: POST` | 405, `Allow: POST` |
//! | body over the limit | 413 | 413 |
//! | body not `application/json` (or no Content-Type) | 415 | 415 |
//! | a panic during execution | 500 | 500 |
//! | an expensive query found no free permit in time (`RATE_LIMITED`, `Retry-After`) | 429 | 200 |
//! | a query over its time budget (`INTERNAL_SERVER_ERROR`) | 503 | 200 |
//!
//! A query's estimated cost over a limit is a request error (`BAD_USER_INPUT`, 400 / 200).

use std::{net::SocketAddr, panic::AssertUnwindSafe, sync::Arc};

use async_graphql::{parser::types::OperationType, Executor};
use axum::{
    body::Body,
    extract::{ConnectInfo, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use futures::{FutureExt, StreamExt};
use tracing::Instrument;

use super::{
    coded_error, internal_error, is_request_error, prepare_costed, Params, Shared, WireResponse,
    GRAPHQL_WS_PATH,
};
use crate::error::ErrorCode;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of a GraphQL response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MediaType {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphqlResponseJson,
    /// `application/json`: 200 for every well-formed request.
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// One media range of an `Accept` header.
struct MediaRange<'a> {
    ty: &'a str,
    subtype: &'a str,
    q: f32,
}

fn media_ranges(headers: &HeaderMap) -> Vec<MediaRange<'_>> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';');
            let (ty, subtype) = parts.next()?.trim().split_once('/')?;
            let mut q = 1.0;
            for parameter in parts {
                if let Some((name, value)) = parameter.split_once('=') {
                    if name.trim().eq_ignore_ascii_case("q") {
                        q = value.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
                    }
                }
            }
            Some(MediaRange {
                ty: ty.trim(),
                subtype: subtype.trim(),
                q,
            })
        })
        .collect()
}

/// The quality an `Accept` header gives a media type, from its most specific matching range,
/// and whether the type was named exactly.
fn quality(ranges: &[MediaRange<'_>], ty: &str, subtype: &str) -> (f32, bool) {
    let mut best: Option<(u8, f32)> = None;
    for range in ranges {
        let specificity = if range.ty.eq_ignore_ascii_case(ty) {
            if range.subtype.eq_ignore_ascii_case(subtype) {
                2
            } else if range.subtype == "*" {
                1
            } else {
                continue;
            }
        } else if range.ty == "*" && range.subtype == "*" {
            0
        } else {
            continue;
        };
        if best.is_none_or(|(current, _)| specificity > current) {
            best = Some((specificity, range.q));
        }
    }
    match best {
        Some((specificity, q)) => (q, specificity == 2),
        None => (0.0, false),
    }
}

/// Negotiates the response media type; `None` when neither is acceptable (406).
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let ranges = media_ranges(headers);
    if ranges.is_empty() {
        // No (usable) Accept header: the spec's default until the watershed.
        return Some(MediaType::Json);
    }
    let (graphql_q, graphql_named) = quality(&ranges, "application", "graphql-response+json");
    let (json_q, _) = quality(&ranges, "application", "json");
    if graphql_named && graphql_q > 0.0 && graphql_q >= json_q {
        Some(MediaType::GraphqlResponseJson)
    } else if json_q > 0.0 {
        Some(MediaType::Json)
    } else if graphql_q > 0.0 {
        Some(MediaType::GraphqlResponseJson)
    } else {
        None
    }
}

/// Whether the client names `text/html` (a browser navigating to the endpoint).
fn accepts_html(headers: &HeaderMap) -> bool {
    let (q, named) = quality(&media_ranges(headers), "text", "html");
    named && q > 0.0
}

fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| *address)
}

/// A response of GraphQL errors (no `data`), for failures outside GraphQL proper: each is the
/// request's fault, `BAD_USER_INPUT`.
fn error_response(status: StatusCode, media: MediaType, message: impl Into<String>) -> Response {
    let errors = [coded_error(message, ErrorCode::BadUserInput)];
    json_response(status, media, &WireResponse::errors(&errors))
}

/// A GraphQL response; its outcome (`OK`, or the first error's `extensions.code`) is recorded
/// on the current span.
fn json_response(status: StatusCode, media: MediaType, body: &WireResponse<'_>) -> Response {
    let outcome = body.outcome();
    tracing::Span::current().record("outcome", outcome.as_str());
    let body = match serde_json::to_vec(body) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "could not serialize a GraphQL response");
            let errors = [internal_error()];
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                media,
                &WireResponse::errors(&errors),
            );
        }
    };
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    response
        .extensions_mut()
        .insert(crate::metrics::Outcome(outcome));
    response
}

fn not_acceptable() -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        format!("Acceptable response media types: {GRAPHQL_RESPONSE_JSON}, {JSON}"),
    )
}

/// `GET /graphql`: a query from the URL's query string, or GraphiQL for a browser.
pub(super) async fn get_graphql<E: Executor>(
    State(shared): State<Arc<Shared<E>>>,
    request: Request,
) -> Response {
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        Ok(Query(pairs)) => pairs,
        Err(_) => {
            let media = negotiate(request.headers()).unwrap_or(MediaType::Json);
            return error_response(StatusCode::BAD_REQUEST, media, "Malformed query string");
        }
    };
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };

    if param("query").is_none() && accepts_html(request.headers()) {
        return crate::graphiql::page(request.headers());
    }
    let Some(media) = negotiate(request.headers()) else {
        return not_acceptable();
    };

    let Some(query) = param("query") else {
        return error_response(
            StatusCode::BAD_REQUEST,
            media,
            "The 'query' parameter is missing",
        );
    };
    let mut params = Params {
        query: query.to_owned(),
        operation_name: param("operationName")
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        ..Params::default()
    };
    for (name, target) in [
        ("variables", &mut params.variables),
        ("extensions", &mut params.extensions),
    ] {
        let Some(text) = param(name) else { continue };
        let value = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => value,
            Err(_) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    media,
                    format!("The '{name}' parameter is not valid JSON"),
                )
            }
        };
        match Params::map(Some(value), name) {
            Ok(map) => *target = map,
            Err(message) => return error_response(StatusCode::BAD_REQUEST, media, message),
        }
    }

    let peer = peer(&request);
    execute(&shared, params, media, Method::GET, request.headers(), peer).await
}

/// `POST /graphql` with an `application/json` body.
pub(super) async fn post_graphql<E: Executor>(
    State(shared): State<Arc<Shared<E>>>,
    request: Request,
) -> Response {
    let Some(media) = negotiate(request.headers()) else {
        return not_acceptable();
    };
    if let Err(message) = check_content_type(request.headers()) {
        return error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, media, message);
    }

    let limit = shared.options.body_limit;
    let too_large = || {
        shared
            .options
            .metrics
            .refused(crate::metrics::Limit::BodySize);
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            format!("The request body is larger than {limit} bytes"),
        )
    };
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit as u64) {
        return too_large();
    }

    let peer = peer(&request);
    let (parts, body) = request.into_parts();
    let mut chunks = body.into_data_stream();
    let mut bytes = Vec::with_capacity(declared_length.unwrap_or(0) as usize);
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "The request body could not be read",
            );
        };
        if bytes.len() + chunk.len() > limit {
            return too_large();
        }
        bytes.extend_from_slice(&chunk);
    }

    if bytes.iter().all(u8::is_ascii_whitespace) {
        return error_response(StatusCode::BAD_REQUEST, media, "The request body is empty");
    }
    let object = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(serde_json::Value::Array(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "Batched requests are not supported",
            )
        }
        Ok(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "The request body must be a JSON object",
            )
        }
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                format!("The request body is not valid JSON: {error}"),
            )
        }
    };
    let params = match Params::from_json(object) {
        Ok(params) => params,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, media, message),
    };
    execute(&shared, params, media, Method::POST, &parts.headers, peer).await
}

/// Only `application/json` bodies, in UTF-8.
fn check_content_type(headers: &HeaderMap) -> Result<(), String> {
    let unsupported = || Err("The request body must be application/json (in UTF-8)".to_owned());
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return unsupported();
    };
    let Ok(value) = value.to_str() else {
        return unsupported();
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return unsupported();
    }
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = value.trim().trim_matches('"');
            if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
                return unsupported();
            }
        }
    }
    Ok(())
}

/// Parses, checks, authenticates and executes a well-formed request, in a span of its own that
/// ends with one log line: operation name and type, the actor's role, the request id, the
/// outcome (`OK` or the first error's code) and how long it took.
async fn execute<E: Executor>(
    shared: &Shared<E>,
    params: Params,
    media: MediaType,
    method: Method,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Response {
    let started = tokio::time::Instant::now();
    let span = tracing::info_span!(
        "graphql",
        operation = tracing::field::Empty,
        kind = tracing::field::Empty,
        role = tracing::field::Empty,
        request_id = %crate::request::current().map(|id| id.to_string()).unwrap_or_default(),
        outcome = tracing::field::Empty,
    );
    let mut seen = crate::metrics::Operation::default();
    let response = steps(shared, params, media, method, headers, peer, &mut seen)
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    shared
        .options
        .metrics
        .graphql_request(&seen, &response, elapsed);
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(duration_ms, "executed"));
    response
}

/// The steps of [`execute`]; each answers early when the request cannot go on. What the
/// operation turned out to be goes to `seen`, for metrics.
async fn steps<E: Executor>(
    shared: &Shared<E>,
    params: Params,
    media: MediaType,
    method: Method,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    seen: &mut crate::metrics::Operation,
) -> Response {
    let request_error_status = match media {
        MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    };
    let metrics = &shared.options.metrics;
    let prepared = match prepare_costed(params, &shared.shape, &shared.options.cost, metrics) {
        Ok(prepared) => prepared,
        Err(errors) => {
            return json_response(request_error_status, media, &WireResponse::errors(&errors))
        }
    };
    let span = tracing::Span::current();
    span.record("kind", operation_kind(prepared.operation));
    (seen.name, seen.kind) = (
        prepared.name.clone(),
        Some(operation_kind(prepared.operation)),
    );
    if let Some(name) = &prepared.name {
        span.record("operation", name.as_str());
    }
    if let Some(refused) = wrong_method(prepared.operation, &method, media, request_error_status) {
        return refused;
    }
    let data = match session(shared, headers, peer, media) {
        Ok(data) => data,
        Err(refused) => return *refused,
    };
    // Held until the response is built, or dropped with this future when the client goes away.
    let _permit = if prepared.estimate.result_size >= shared.options.expensive_result_size {
        match tokio::time::timeout(shared.options.expensive_wait, shared.expensive.acquire()).await
        {
            Ok(Ok(permit)) => Some(permit),
            _ => return busy(media, metrics),
        }
    } else {
        None
    };
    let mut request = prepared.request;
    request.data = data;
    // Without variables, a document that validated once validates again: it may skip the
    // rules (see `FastPath`). Otherwise, once it validates, it is remembered.
    let (executor, finish, remember) = match shared
        .fast
        .as_ref()
        .filter(|_| request.variables.is_empty())
    {
        Some(fast)
            if fast
                .validated
                .contains(&request.query, request.operation_name.as_deref()) =>
        {
            (&fast.executor, Some(fast.finish), None)
        }
        Some(fast) => (
            &shared.executor,
            None,
            Some((
                &fast.validated,
                request.query.clone(),
                request.operation_name.clone(),
            )),
        ),
        None => (&shared.executor, None, None),
    };
    match run(shared, executor, request, prepared.operation, media).await {
        Ok(response) => {
            let response = match finish {
                Some(finish) => finish(response),
                None => response,
            };
            if let Some((validated, query, operation)) = remember {
                if !is_request_error(&response) {
                    validated.insert(query, operation);
                }
            }
            metrics.refused_by_validation(&response.errors);
            respond(&response, media, request_error_status)
        }
        Err(failed) => failed,
    }
}

fn operation_kind(operation: OperationType) -> &'static str {
    match operation {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// The refusal of an operation sent the wrong way: mutations only over POST, subscriptions only
/// over WebSocket.
fn wrong_method(
    operation: OperationType,
    method: &Method,
    media: MediaType,
    request_error_status: StatusCode,
) -> Option<Response> {
    match operation {
        OperationType::Mutation if method == Method::GET => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "Mutations are not allowed over GET; use POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            Some(response)
        }
        OperationType::Subscription => Some(error_response(
            request_error_status,
            media,
            format!(
                "Subscriptions are not supported over HTTP; use the WebSocket endpoint {GRAPHQL_WS_PATH}"
            ),
        )),
        _ => None,
    }
}

/// The request's data from the `http_data` hook (who is asking), or the answer refusing it.
fn session<E: Executor>(
    shared: &Shared<E>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    media: MediaType,
) -> Result<async_graphql::Data, Box<Response>> {
    let decision =
        std::panic::catch_unwind(AssertUnwindSafe(|| shared.hooks.http_data(headers, peer)));
    match decision {
        Ok(Ok(data)) => {
            if let Some(role) = shared.hooks.role(&data) {
                tracing::Span::current().record("role", role);
            }
            Ok(data)
        }
        Err(_) => {
            tracing::error!("the http_data hook panicked");
            let errors = [internal_error()];
            Err(Box::new(json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                media,
                &WireResponse::errors(&errors),
            )))
        }
        Ok(Err(message)) => {
            let error = coded_error(message, ErrorCode::Unauthenticated);
            let status = match media {
                MediaType::GraphqlResponseJson => StatusCode::UNAUTHORIZED,
                MediaType::Json => StatusCode::OK,
            };
            let mut response = json_response(status, media, &WireResponse::errors(&[error]));
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Err(Box::new(response))
        }
    }
}

/// Executes the request: queries within their time budget (mutations are not cut short: they
/// may already be recording), a panic answered as an internal error.
async fn run<E: Executor>(
    shared: &Shared<E>,
    executor: &E,
    request: async_graphql::Request,
    operation: OperationType,
    media: MediaType,
) -> Result<async_graphql::Response, Response> {
    let execution = AssertUnwindSafe(executor.execute(request)).catch_unwind();
    let outcome = if operation == OperationType::Mutation {
        Ok(execution.await)
    } else {
        tokio::time::timeout(shared.options.time_budget, execution).await
    };
    let Ok(outcome) = outcome else {
        shared
            .options
            .metrics
            .refused(crate::metrics::Limit::TimeBudget);
        return Err(over_budget(media, shared.options.time_budget));
    };
    outcome.map_err(|_| {
        tracing::error!("a GraphQL request panicked during execution");
        let errors = [internal_error()];
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            media,
            &WireResponse::errors(&errors),
        )
    })
}

/// The HTTP response for an executed request (or one async-graphql refused before executing),
/// with the headers its resolvers set.
fn respond(
    response: &async_graphql::Response,
    media: MediaType,
    request_error_status: StatusCode,
) -> Response {
    let mut http = if is_request_error(response) {
        json_response(
            request_error_status,
            media,
            &WireResponse::request_error(response),
        )
    } else {
        json_response(StatusCode::OK, media, &WireResponse::executed(response))
    };
    let headers = http.headers_mut();
    if response.is_ok() {
        if let Some(value) = response
            .cache_control
            .value()
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    for (name, value) in &response.http_headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            headers.append(name, value.clone());
        }
    }
    http
}

/// The answer to an expensive query that found no permit: try again shortly.
fn busy(media: MediaType, metrics: &crate::metrics::Metrics) -> Response {
    metrics.refused(crate::metrics::Limit::ExpensiveQueries);
    let error = coded_error(
        "The server is busy with other large queries; try again in a moment, or ask for less",
        ErrorCode::RateLimited,
    );
    let status = match media {
        MediaType::GraphqlResponseJson => StatusCode::TOO_MANY_REQUESTS,
        MediaType::Json => StatusCode::OK,
    };
    let mut response = json_response(status, media, &WireResponse::errors(&[error]));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The answer to a query that ran past its time budget (its execution is dropped).
fn over_budget(media: MediaType, budget: std::time::Duration) -> Response {
    tracing::warn!(?budget, "a GraphQL query ran past its time budget");
    let error = coded_error(
        format!(
            "The query took longer than {} s and was stopped; ask for less",
            budget.as_secs_f32()
        ),
        ErrorCode::InternalServerError,
    );
    let status = match media {
        MediaType::GraphqlResponseJson => StatusCode::SERVICE_UNAVAILABLE,
        MediaType::Json => StatusCode::OK,
    };
    json_response(status, media, &WireResponse::errors(&[error]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn negotiation() {
        use MediaType::*;
        assert_eq!(negotiate(&HeaderMap::new()), Some(Json));
        assert_eq!(negotiate(&accept("*/*")), Some(Json));
        assert_eq!(negotiate(&accept("application/*")), Some(Json));
        assert_eq!(negotiate(&accept("application/json")), Some(Json));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json")),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/json, application/graphql-response+json"
            )),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json; charset=utf-8, */*;q=0.1"
            )),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept("text/html,application/xhtml+xml,*/*;q=0.8")),
            Some(Json)
        );
        assert_eq!(negotiate(&accept("application/json;q=0")), None);
        assert_eq!(negotiate(&accept("text/html")), None);
        assert_eq!(negotiate(&accept("application/xml, text/*")), None);
        assert!(accepts_html(&accept("text/html,*/*;q=0.8")));
        assert!(!accepts_html(&accept("*/*")));
    }

    #[test]
    fn content_types() {
        let content_type = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            check_content_type(&headers).is_ok()
        };
        assert!(content_type("application/json"));
        assert!(content_type("Application/JSON; charset=UTF-8"));
        assert!(content_type("application/json;charset=\"utf-8\""));
        assert!(!content_type("application/json; charset=latin1"));
        assert!(!content_type("text/plain"));
        assert!(!content_type("application/graphql"));
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}

/// The load limits over real HTTP, on a toy schema whose resolver naps and reports whether it
/// finished or was dropped.
#[cfg(test)]
mod load_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_graphql::{Context, Data, EmptyMutation, EmptySubscription, Object, Schema};
    use serde_json::{json, Value};
    use tokio::io::AsyncWriteExt;

    use super::super::{
        graphql_router, graphql_router_with_fast_path, FastPath, GraphqlHooks, TransportOptions,
    };
    use super::*;

    #[derive(Default)]
    struct Probe {
        started: AtomicUsize,
        finished: AtomicUsize,
        dropped: AtomicUsize,
    }

    /// Counts a nap as dropped unless it finished.
    struct Nap<'a>(&'a Probe, bool);

    impl Drop for Nap<'_> {
        fn drop(&mut self) {
            if !self.1 {
                self.0.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn nap(&self, ctx: &Context<'_>, ms: u64) -> bool {
            let probe = ctx.data_unchecked::<Arc<Probe>>();
            probe.started.fetch_add(1, Ordering::SeqCst);
            let mut nap = Nap(probe, false);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            probe.finished.fetch_add(1, Ordering::SeqCst);
            nap.1 = true;
            true
        }

        async fn items(&self, first: i32) -> Vec<i32> {
            (0..first).collect()
        }
    }

    struct Hooks;

    impl GraphqlHooks for Hooks {
        fn http_data(&self, _: &HeaderMap, _: Option<SocketAddr>) -> Result<Data, String> {
            Ok(Data::default())
        }

        fn ws_data(
            &self,
            _: Option<&serde_json::Value>,
            _: &HeaderMap,
            _: Option<SocketAddr>,
        ) -> Result<Data, String> {
            Ok(Data::default())
        }
    }

    async fn serve(configure: impl FnOnce(&mut TransportOptions)) -> (SocketAddr, Arc<Probe>) {
        let probe = Arc::new(Probe::default());
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .data(probe.clone())
            .finish();
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let mut options = TransportOptions::new(shutdown);
        configure(&mut options);
        let router = graphql_router(schema, Arc::new(Hooks), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (address, probe)
    }

    async fn post(address: SocketAddr, query: &str) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .header("Accept", GRAPHQL_RESPONSE_JSON)
            .json(&json!({ "query": query }))
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap())
    }

    async fn eventually(what: &str, condition: impl Fn() -> bool) {
        for _ in 0..150 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what} did not happen within 15 s");
    }

    #[tokio::test]
    async fn expensive_queries_wait_for_a_permit_and_cheap_ones_do_not() {
        let (address, probe) = serve(|options| {
            options.expensive_result_size = 50;
            options.expensive_concurrency = 1;
            options.expensive_wait = Duration::from_millis(200);
        })
        .await;
        // An expensive query (100 items) holds the only permit while it naps.
        let holder = tokio::spawn(post(address, "{ nap(ms: 3000) items(first: 100) }"));
        eventually("the first nap", || {
            probe.started.load(Ordering::SeqCst) == 1
        })
        .await;

        let (status, busy) = post(address, "{ items(first: 100) }").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{busy}");
        assert_eq!(
            busy["errors"][0]["extensions"]["code"],
            ErrorCode::RateLimited.as_str()
        );
        assert!(busy.get("data").is_none());
        let (status, cheap) = post(address, "{ items(first: 3) }").await;
        assert_eq!(status, StatusCode::OK, "{cheap}");
        assert_eq!(cheap["data"]["items"], json!([0, 1, 2]));

        let (status, held) = holder.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{held}");
        // The permit is back.
        let (status, after) = post(address, "{ items(first: 100) }").await;
        assert_eq!(status, StatusCode::OK, "{after}");
    }

    #[tokio::test]
    async fn a_query_past_its_time_budget_is_stopped() {
        let (address, probe) = serve(|options| {
            options.time_budget = Duration::from_millis(300);
        })
        .await;
        let (status, response) = post(address, "{ nap(ms: 10000) }").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{response}");
        assert_eq!(
            response["errors"][0]["extensions"]["code"],
            ErrorCode::InternalServerError.as_str()
        );
        assert_eq!(
            response["errors"][0]["message"],
            "The query took longer than 0.3 s and was stopped; ask for less"
        );
        assert_eq!(probe.dropped.load(Ordering::SeqCst), 1);
        assert_eq!(probe.finished.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_request_stops_when_its_client_goes_away() {
        let (address, probe) = serve(|_| {}).await;
        let body = json!({ "query": "{ nap(ms: 8000) }" }).to_string();
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        client
            .write_all(
                format!(
                    "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        eventually("the nap", || probe.started.load(Ordering::SeqCst) == 1).await;
        drop(client);
        eventually("dropping the nap", || {
            probe.dropped.load(Ordering::SeqCst) == 1
        })
        .await;
        assert_eq!(probe.finished.load(Ordering::SeqCst), 0);
    }

    /// Responses the fast path finished (see `fast_path_serves_validated_documents_alike`).
    static FINISHED: AtomicUsize = AtomicUsize::new(0);

    fn finish(response: async_graphql::Response) -> async_graphql::Response {
        FINISHED.fetch_add(1, Ordering::SeqCst);
        response
    }

    /// A document takes the fast path only once the full schema has validated it, without
    /// variables, with the same operation; the answers are the same either way, and invalid
    /// documents are refused every time.
    #[tokio::test]
    async fn fast_path_serves_validated_documents_alike() {
        let build = || {
            Schema::build(Query, EmptyMutation, EmptySubscription)
                .data(Arc::new(Probe::default()))
                .limit_depth(4)
        };
        let fast = FastPath {
            schema: build()
                .validation_mode(async_graphql::ValidationMode::Fast)
                .finish(),
            finish,
        };
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let router = graphql_router_with_fast_path(
            build().finish(),
            fast,
            Arc::new(Hooks),
            TransportOptions::new(shutdown),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let finished = || FINISHED.load(Ordering::SeqCst);

        let query = "{ items(first: 2) }";
        let first = post(address, query).await;
        assert_eq!(first.1["data"]["items"], json!([0, 1]), "{}", first.1);
        assert_eq!(finished(), 0, "the first time, the full schema validates");
        assert_eq!(post(address, query).await, first);
        assert_eq!(finished(), 1, "the second time, the fast path serves it");

        // Invalid documents never take it: the full schema refuses them each time.
        for _ in 0..2 {
            let (status, refused) = post(address, "{ items(first: 2) nope }").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
            assert!(refused.get("data").is_none(), "{refused}");
        }
        assert_eq!(finished(), 1);

        // Another operation of the same document is validated on its own.
        let document = "query A { items(first: 1) } query B { items(first: 2) }";
        let named = |name: &str| {
            reqwest::Client::new()
                .post(format!("http://{address}/graphql"))
                .header("Accept", GRAPHQL_RESPONSE_JSON)
                .json(&json!({ "query": document, "operationName": name }))
                .send()
        };
        for _ in 0..2 {
            assert_eq!(named("A").await.unwrap().status().as_u16(), 200);
        }
        assert_eq!(finished(), 2);
        assert_eq!(named("B").await.unwrap().status().as_u16(), 200);
        assert_eq!(finished(), 2, "B is validated by the full schema first");
        assert_eq!(named("B").await.unwrap().status().as_u16(), 200);
        assert_eq!(finished(), 3);

        // With variables the full schema validates every time (their values are validated).
        let with_variables = || {
            reqwest::Client::new()
                .post(format!("http://{address}/graphql"))
                .header("Accept", GRAPHQL_RESPONSE_JSON)
                .json(&json!({
                    "query": "query Q($n: Int!) { items(first: $n) }",
                    "variables": { "n": 3 },
                }))
                .send()
        };
        for _ in 0..2 {
            assert_eq!(with_variables().await.unwrap().status().as_u16(), 200);
        }
        assert_eq!(finished(), 3);
    }
}
