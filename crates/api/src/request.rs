//! Request ids and the per-request tracing span: one id ties a request's log lines, its
//! GraphQL errors (`extensions.requestId`) and the events it records (their metadata) together.
//!
//! [`track`] is the one HTTP layer: it takes a sane incoming `X-Request-Id` (a proxy's or a
//! client's) or makes a fresh one, writes it back into the request's headers so everything
//! downstream reads the id that is answered with, runs the request in a span and under
//! [`scope`], logs one line when it is answered and sets the `x-request-id` response header.
//! A WebSocket connection keeps the id of its upgrade request; [`carry`] hands it (and the span)
//! to the tasks the connection spawns.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;
use tracing::Instrument;

/// The request id header, in and out.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id kept.
pub const MAX_LENGTH: usize = 64;

/// A request's id: 1–[`MAX_LENGTH`] characters of `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh id (a UUID v7: sorts by time).
    pub fn fresh() -> RequestId {
        RequestId(uuid::Uuid::now_v7().to_string().into())
    }

    /// The client's id if it is sane, else `None`.
    pub fn parse(text: &str) -> Option<RequestId> {
        let sane = !text.is_empty()
            && text.len() <= MAX_LENGTH
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        sane.then(|| RequestId(text.into()))
    }

    /// The id of a request with these headers: its sane `X-Request-Id` (exactly one), or a
    /// fresh one.
    pub fn for_headers(headers: &HeaderMap) -> RequestId {
        let mut values = headers.get_all(HEADER).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().and_then(RequestId::parse),
            _ => None,
        }
        .unwrap_or_else(RequestId::fresh)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("a request id is a valid header value")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

/// Runs `future` as part of request `id` (of none: outside any request).
pub async fn scope<F: Future>(id: Option<RequestId>, future: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, future).await,
        None => future.await,
    }
}

/// `future` in the current request's scope and span, for a task spawned on its behalf (both
/// are taken now, when it is made).
pub fn carry<F: Future>(future: F) -> impl Future<Output = F::Output> {
    scope(current(), future.instrument(tracing::Span::current()))
}

/// Paths polled by orchestrators and scrapers: logged at debug, not info.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The HTTP layer described in the module documentation.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId::for_headers(request.headers());
    request.headers_mut().insert(HEADER, id.header_value());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let probe = is_probe(&path);
    let span = if probe {
        tracing::debug_span!("http", %method, %path, request_id = %id)
    } else {
        tracing::info_span!("http", %method, %path, request_id = %id)
    };
    let mut response = scope(Some(id.clone()), next.run(request))
        .instrument(span.clone())
        .await;
    response.headers_mut().insert(HEADER, id.header_value());
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if probe {
            tracing::debug!(status, duration_ms, "answered");
        } else {
            tracing::info!(status, duration_ms, "answered");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        for sane in ["abc", "0190-abcd_ef.12:3", &"a".repeat(MAX_LENGTH)] {
            assert_eq!(RequestId::parse(sane).map(|id| id.0), Some(sane.into()));
        }
        for hostile in [
            "",
            &"a".repeat(MAX_LENGTH + 1),
            "a b",
            "a\u{7f}b",
            "a\tb",
            "x<script>",
            "é",
        ] {
            assert_eq!(RequestId::parse(hostile), None, "{hostile:?}");
        }
        let fresh = RequestId::fresh();
        assert_eq!(RequestId::parse(fresh.as_str()), Some(fresh));
    }

    #[test]
    fn two_request_id_headers_make_a_fresh_one() {
        let mut headers = HeaderMap::new();
        headers.append(HEADER, HeaderValue::from_static("one"));
        assert_eq!(RequestId::for_headers(&headers).as_str(), "one");
        headers.append(HEADER, HeaderValue::from_static("two"));
        let id = RequestId::for_headers(&headers);
        assert!(id.as_str() != "one" && id.as_str() != "two");
    }
}
