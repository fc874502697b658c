//! Every metric of `GET /metrics`, in one place: a [`prometheus_client`] registry the
//! application owns (one per [`crate::service::Service`], no global state, so several servers in
//! one process count apart), encoded in the OpenMetrics text format.
//!
//! Two kinds of series:
//! - *counted* where it happens, by a one-line call from the code that does it (a request
//!   answered, an event appended, a refusal, a rate-limit hit, a subscription started);
//! - *sampled* when `/metrics` is read ([`Sample`]): positions, the log head and the chain head
//!   (read from the database under a timeout by the handler), the WebSocket endpoint's own
//!   counts, initiatives per status.
//!
//! Every label has a bounded set of values, whatever clients send: operation names are GraphQL
//! names, at most [`MAX_OPERATION_NAMES`] distinct ones (then `other`); outcomes are the
//! [`ErrorCode`]s; routes are the router's own paths; subscription kinds are the schema's
//! subscription fields.
//!
//! | series | type | labels | meaning |
//! |---|---|---|---|
//! | `wijkpuls_graphql_requests_total` | counter | `operation`, `outcome` | GraphQL requests over HTTP, by operation name (`anonymous`, `unknown` when the request failed before its operation was known, `other` past the cap) and outcome (`OK`, or the first error's code) |
//! | `wijkpuls_graphql_request_duration_seconds` | histogram | `kind` | time to answer a GraphQL request over HTTP, by `query`, `mutation`, `subscription` (refused over HTTP) or `unknown` |
//! | `wijkpuls_http_requests_total` | counter | `route`, `status` | HTTP requests by the route that matched (`unmatched` for none) and response status |
//! | `wijkpuls_events_appended_total` | counter | | events this instance appended to the log |
//! | `wijkpuls_conflict_retries_total` | counter | | decisions taken again because another server's append won the race |
//! | `wijkpuls_conflicts_total` | counter | | mutations answered `CONFLICT` because their deadline passed first |
//! | `wijkpuls_apply_timeouts_total` | counter | | mutations recorded but not applied to the live state within their deadline |
//! | `wijkpuls_refusals_total` | counter | `limit` | requests, operations and connections refused by a limit (see [`Limit`]) |
//! | `wijkpuls_rate_limit_hits_total` | counter | `limiter` | refusals by a per-address rate limit (see [`Limiter`]) |
//! | `wijkpuls_ws_subscriptions` | gauge | `field` | WebSocket subscriptions active now, by their root field (`other` for a field the schema does not have) |
//! | `wijkpuls_ws_connections` | gauge | | WebSocket connections open now |
//! | `wijkpuls_ws_operations` | gauge | | WebSocket operations running now |
//! | `wijkpuls_ws_shared_executions` | gauge | | subscriptions executed once for all the connections that share them |
//! | `wijkpuls_live_position` | gauge | | position of the last event applied to the live state (the tailer's position) |
//! | `wijkpuls_tailer_following` | gauge | | 1 while the tailer follows the log, 0 while it is resuming after an error |
//! | `wijkpuls_log_head_position` | gauge | | position of the last event committed to the log (absent when the database did not answer in time) |
//! | `wijkpuls_tailer_lag_events` | gauge | | log head − live position (absent when the database did not answer in time) |
//! | `wijkpuls_chain_head_position` | gauge | `hash` | newest event of the hash chain, its hash as the label (absent on an empty log or when the database did not answer in time) |
//! | `wijkpuls_database_answered` | gauge | | 1 when the database answered this scrape's reads in time, else 0 |
//! | `wijkpuls_initiatives` | gauge | `status` | initiatives per status |

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ErrorCode;
use crate::transport::WsStats;

/// The media type `/metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Distinct operation names counted apart; the names seen after these count as `other`.
pub const MAX_OPERATION_NAMES: usize = 200;
/// The longest operation name counted under its own name.
const LONGEST_OPERATION_NAME: usize = 64;

/// Buckets of the request latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A limit that refuses work before doing it; the value of the `limit` label of
/// `wijkpuls_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// A query document longer than `max_query_bytes`.
    QueryBytes,
    /// More fields (fragments expanded) than `max_fields`.
    Fields,
    /// A larger estimated result than `max_result_size`.
    ResultSize,
    /// More aliases than `max_aliases`.
    Aliases,
    /// More top-level fields than `max_root_fields`.
    RootFields,
    /// More fragment spreads than `max_fragment_spreads`.
    FragmentSpreads,
    /// A fragment that spreads itself.
    FragmentCycle,
    /// async-graphql's depth limit (behind the cost estimate).
    Depth,
    /// async-graphql's complexity limit (behind the cost estimate).
    Complexity,
    /// An HTTP request body over the body limit (413).
    BodySize,
    /// A query that ran past its time budget.
    TimeBudget,
    /// An expensive query that found no permit in time.
    ExpensiveQueries,
    /// A connection over `--max-connections` (503 and closed).
    Connections,
    /// A WebSocket over `--ws-max-connections`.
    WsConnections,
    /// A WebSocket over `--ws-max-per-address`.
    WsPerAddress,
    /// A WebSocket operation over `--ws-max-operations`.
    WsOperations,
    /// A WebSocket operation id over the length limit.
    WsIdLength,
}

impl Limit {
    /// Every limit, each counted from zero so that a rate over it exists before the first
    /// refusal.
    pub const ALL: [Limit; 17] = [
        Limit::QueryBytes,
        Limit::Fields,
        Limit::ResultSize,
        Limit::Aliases,
        Limit::RootFields,
        Limit::FragmentSpreads,
        Limit::FragmentCycle,
        Limit::Depth,
        Limit::Complexity,
        Limit::BodySize,
        Limit::TimeBudget,
        Limit::ExpensiveQueries,
        Limit::Connections,
        Limit::WsConnections,
        Limit::WsPerAddress,
        Limit::WsOperations,
        Limit::WsIdLength,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::QueryBytes => "query_bytes",
            Limit::Fields => "fields",
            Limit::ResultSize => "result_size",
            Limit::Aliases => "aliases",
            Limit::RootFields => "root_fields",
            Limit::FragmentSpreads => "fragment_spreads",
            Limit::FragmentCycle => "fragment_cycle",
            Limit::Depth => "depth",
            Limit::Complexity => "complexity",
            Limit::BodySize => "body_size",
            Limit::TimeBudget => "time_budget",
            Limit::ExpensiveQueries => "expensive_queries",
            Limit::Connections => "connections",
            Limit::WsConnections => "ws_connections",
            Limit::WsPerAddress => "ws_per_address",
            Limit::WsOperations => "ws_operations",
            Limit::WsIdLength => "ws_id_length",
        }
    }
}

impl EncodeLabelValue for Limit {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

/// A per-client-address rate limit ([`crate::ratelimit::RateLimiter`]); the value of the
/// `limiter` label of `wijkpuls_rate_limit_hits_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limiter {
    /// Anonymous submissions (`--submit-per-minute`).
    Submissions,
    /// Wrong tracking codes (`--code-guesses-per-minute`).
    CodeGuesses,
}

impl EncodeLabelValue for Limiter {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self {
            Limiter::Submissions => "submissions",
            Limiter::CodeGuesses => "code_guesses",
        }
        .encode(encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabels {
    limit: Limit,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimiterLabels {
    limiter: Limiter,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FieldLabels {
    field: String,
}

/// `metric`, registered in `registry` as `name` with `help`.
fn registered<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// The metrics of one application.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    graphql_requests: Family<RequestLabels, Counter>,
    graphql_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    events_appended: Counter,
    conflict_retries: Counter,
    conflicts: Counter,
    apply_timeouts: Counter,
    refusals: Family<LimitLabels, Counter>,
    rate_limit_hits: Family<LimiterLabels, Counter>,
    subscriptions: Family<FieldLabels, Gauge>,
    /// The operation names counted under their own name.
    operation_names: Mutex<HashSet<String>>,
    /// What the scrape under way sampled, for the [`Sampled`] collector.
    sample: Arc<Mutex<Option<Sample>>>,
    /// Held for the whole of a scrape, so that concurrent scrapes do not mix.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let graphql_requests = registered(
            &mut registry,
            "wijkpuls_graphql_requests",
            "GraphQL requests over HTTP, by operation name and outcome (OK or the first error's code)",
            Family::default(),
        );
        let graphql_duration = registered(
            &mut registry,
            "wijkpuls_graphql_request_duration_seconds",
            "Time to answer a GraphQL request over HTTP, by operation kind",
            Family::<KindLabels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
                Histogram::new(LATENCY_BUCKETS)
            }),
        );
        let http_requests = registered(
            &mut registry,
            "wijkpuls_http_requests",
            "HTTP requests by matched route and response status",
            Family::default(),
        );
        let [events_appended, conflict_retries, conflicts, apply_timeouts] = [
            (
                "wijkpuls_events_appended",
                "Events this instance appended to the log",
            ),
            (
                "wijkpuls_conflict_retries",
                "Decisions taken again after another server's append won the race",
            ),
            (
                "wijkpuls_conflicts",
                "Mutations answered CONFLICT because their deadline passed first",
            ),
            (
                "wijkpuls_apply_timeouts",
                "Mutations recorded but not applied to the live state within their deadline",
            ),
        ]
        .map(|(name, help)| registered(&mut registry, name, help, Counter::default()));
        let refusals = Family::default();
        for limit in Limit::ALL {
            refusals.get_or_create_owned(&LimitLabels { limit });
        }
        let refusals = registered(
            &mut registry,
            "wijkpuls_refusals",
            "Requests, operations and connections refused by a limit",
            refusals,
        );
        let rate_limit_hits = Family::default();
        for limiter in [Limiter::Submissions, Limiter::CodeGuesses] {
            rate_limit_hits.get_or_create_owned(&LimiterLabels { limiter });
        }
        let rate_limit_hits = registered(
            &mut registry,
            "wijkpuls_rate_limit_hits",
            "Refusals by a per-address rate limit",
            rate_limit_hits,
        );
        let subscriptions = registered(
            &mut registry,
            "wijkpuls_ws_subscriptions",
            "WebSocket subscriptions active now, by root field",
            Family::default(),
        );
        let sample = Arc::new(Mutex::new(None));
        registry.register_collector(Box::new(Sampled(sample.clone())));
        Metrics {
            registry,
            graphql_requests,
            graphql_duration,
            http_requests,
            events_appended,
            conflict_retries,
            conflicts,
            apply_timeouts,
            refusals,
            rate_limit_hits,
            subscriptions,
            operation_names: Mutex::new(HashSet::new()),
            sample,
            scrape: Mutex::new(()),
        }
    }

    /// A GraphQL request over HTTP answered `response` after `elapsed`.
    pub fn graphql_request(&self, seen: &Operation, response: &Response, elapsed: Duration) {
        let outcome = response
            .extensions()
            .get::<Outcome>()
            .map_or("ERROR", |outcome| outcome.label());
        let operation = match (&seen.kind, &seen.name) {
            (None, _) => "unknown".to_owned(),
            (Some(_), None) => "anonymous".to_owned(),
            (Some(_), Some(name)) => self.operation_label(name),
        };
        self.graphql_requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        self.graphql_duration
            .get_or_create(&KindLabels {
                kind: seen.kind.unwrap_or("unknown"),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The label for an operation name: itself while it is a plain GraphQL name among the first
    /// [`MAX_OPERATION_NAMES`] seen, else `other`.
    fn operation_label(&self, name: &str) -> String {
        let plain = !name.is_empty()
            && name.len() <= LONGEST_OPERATION_NAME
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain {
            return "other".to_owned();
        }
        let mut names = self
            .operation_names
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }

    /// An HTTP request to `route` (the router's path; `None` when none matched) answered with
    /// `status`.
    pub fn http_request(&self, route: Option<&str>, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.unwrap_or("unmatched").to_owned(),
                status,
            })
            .inc();
    }

    /// `events` events appended to the log.
    pub fn appended(&self, events: usize) {
        self.events_appended.inc_by(events as u64);
    }

    /// A decision taken again after a race lost to another server.
    pub fn conflict_retry(&self) {
        self.conflict_retries.inc();
    }

    /// A mutation answered `CONFLICT`.
    pub fn conflict(&self) {
        self.conflicts.inc();
    }

    /// A mutation recorded but not applied here in time.
    pub fn apply_timeout(&self) {
        self.apply_timeouts.inc();
    }

    /// Work refused by `limit`.
    pub fn refused(&self, limit: Limit) {
        self.refusals.get_or_create(&LimitLabels { limit }).inc();
    }

    /// The refusals by async-graphql's own limits (depth, complexity) among a request's errors.
    pub fn refused_by_validation(&self, errors: &[async_graphql::ServerError]) {
        for error in errors {
            if error.message.starts_with("Query is nested too deep") {
                self.refused(Limit::Depth);
            } else if error.message.starts_with("Query is too complex") {
                self.refused(Limit::Complexity);
            }
        }
    }

    /// The counter of `limiter`'s hits, for the limiter to keep ([`Hits`]).
    pub fn hits(&self, limiter: Limiter) -> Hits {
        Hits(Some(
            self.rate_limit_hits
                .get_or_create_owned(&LimiterLabels { limiter }),
        ))
    }

    /// Counts a subscription on `field` as active while the returned guard lives (`None`: a
    /// field the schema does not have, counted as `other`).
    pub fn subscription(&self, field: Option<&str>) -> Active {
        let gauge = self.subscriptions.get_or_create_owned(&FieldLabels {
            field: field.unwrap_or("other").to_owned(),
        });
        gauge.inc();
        Active(gauge)
    }

    /// The text of `/metrics`: every counted series and `sample`.
    pub fn encode(&self, sample: Sample) -> String {
        let _scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        // The WebSocket endpoint counts its refusals itself (its admission needs its counts):
        // bring them into the refusals, which only this adds to.
        for &(limit, refused) in &sample.ws_refusals {
            let counter = self.refusals.get_or_create_owned(&LimitLabels { limit });
            counter.inc_by(refused.saturating_sub(counter.get()));
        }
        *self.sample.lock().unwrap_or_else(|e| e.into_inner()) = Some(sample);
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "could not encode the metrics");
        }
        *self.sample.lock().unwrap_or_else(|e| e.into_inner()) = None;
        text
    }
}

/// The operation an HTTP GraphQL request turned out to be, as far as it got: its name and
/// kind (`query`, `mutation`, `subscription`; `None` when it failed before that was known).
#[derive(Debug, Default)]
pub struct Operation {
    pub name: Option<String>,
    pub kind: Option<&'static str>,
}

/// A GraphQL response's outcome (`OK` or the first error's code), carried in the HTTP
/// response's extensions from where it is built to where it is counted.
#[derive(Debug, Clone)]
pub struct Outcome(pub String);

impl Outcome {
    /// `OK`, one of the [`ErrorCode`]s, or `ERROR` for anything else.
    fn label(&self) -> &'static str {
        if self.0 == "OK" {
            return "OK";
        }
        ErrorCode::ALL
            .iter()
            .map(|code| code.as_str())
            .find(|code| *code == self.0)
            .unwrap_or("ERROR")
    }
}

/// The hit counter a rate limiter keeps (none by default).
#[derive(Debug, Clone, Default)]
pub struct Hits(Option<Counter>);

impl Hits {
    pub fn hit(&self) {
        if let Some(counter) = &self.0 {
            counter.inc();
        }
    }
}

/// An active subscription, counted until dropped.
#[derive(Debug)]
pub struct Active(Gauge);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What a scrape reads from the running service.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub live_position: u64,
    pub following: bool,
    /// `None` when the database did not answer in time.
    pub log_head: Option<u64>,
    /// The chain head's position and hash (hex), when the log has one and the database
    /// answered in time.
    pub chain_head: Option<(u64, String)>,
    /// Whether the database answered every read of the scrape in time.
    pub database_answered: bool,
    pub ws_connections: u64,
    pub ws_operations: u64,
    pub ws_shared_executions: u64,
    pub ws_refusals: Vec<(Limit, u64)>,
    /// Initiatives per status.
    pub initiatives: Vec<(&'static str, u64)>,
}

impl Sample {
    /// The WebSocket endpoint's counts.
    pub fn with_ws(mut self, ws: &WsStats) -> Sample {
        self.ws_connections = ws.connections.load(Relaxed) as u64;
        self.ws_operations = ws.operations.load(Relaxed) as u64;
        self.ws_shared_executions = ws.shared_executions.load(Relaxed) as u64;
        self.ws_refusals = vec![
            (Limit::WsConnections, ws.refused_connections.load(Relaxed)),
            (Limit::WsPerAddress, ws.refused_per_address.load(Relaxed)),
            (Limit::WsOperations, ws.refused_operations.load(Relaxed)),
            (Limit::WsIdLength, ws.refused_ids.load(Relaxed)),
        ];
        self
    }
}

/// Encodes the [`Sample`] of the scrape under way.
#[derive(Debug)]
struct Sampled(Arc<Mutex<Option<Sample>>>);

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sample = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(sample) = sample else {
            return Ok(());
        };
        let mut gauge = |name: &str, help: &str, value: u64| -> Result<(), std::fmt::Error> {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)
        };
        gauge(
            "wijkpuls_live_position",
            "Position of the last event applied to the live state (the tailer's position).",
            sample.live_position,
        )?;
        gauge(
            "wijkpuls_tailer_following",
            "1 while the tailer follows the log, 0 while it resumes after an error.",
            u64::from(sample.following),
        )?;
        gauge(
            "wijkpuls_database_answered",
            "1 when the database answered this scrape's reads in time, else 0.",
            u64::from(sample.database_answered),
        )?;
        if let Some(head) = sample.log_head {
            gauge(
                "wijkpuls_log_head_position",
                "Position of the last event committed to the log.",
                head,
            )?;
            gauge(
                "wijkpuls_tailer_lag_events",
                "Events committed to the log but not yet applied here (log head - live position).",
                head.saturating_sub(sample.live_position),
            )?;
        }
        gauge(
            "wijkpuls_ws_connections",
            "WebSocket connections open now.",
            sample.ws_connections,
        )?;
        gauge(
            "wijkpuls_ws_operations",
            "WebSocket operations (subscriptions) running now.",
            sample.ws_operations,
        )?;
        gauge(
            "wijkpuls_ws_shared_executions",
            "Subscriptions executed once for all the connections that share them.",
            sample.ws_shared_executions,
        )?;
        if let Some((position, hash)) = &sample.chain_head {
            let gauge = ConstGauge::new(i64::try_from(*position).unwrap_or(i64::MAX));
            let mut metric = encoder.encode_descriptor(
                "wijkpuls_chain_head_position",
                "Newest event of the log's hash chain; its hash label is the chain head an \
                 auditor notes (wijkpuls verify prints the same).",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric.encode_family(&[("hash", hash.as_str())])?)?;
        }
        let mut metric = encoder.encode_descriptor(
            "wijkpuls_initiatives",
            "Initiatives per status.",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (status, count) in &sample.initiatives {
            let gauge = ConstGauge::new(i64::try_from(*count).unwrap_or(i64::MAX));
            gauge.encode(metric.encode_family(&[("status", *status)])?)?;
        }
        Ok(())
    }
}

/// Counts every HTTP request by the route it matched and the status it was answered with.
pub async fn track_http(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.http_request(route.as_deref(), response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_beyond_the_cap_or_not_plain_count_as_other() {
        let metrics = Metrics::new();
        for n in 0..MAX_OPERATION_NAMES {
            assert_eq!(metrics.operation_label(&format!("Op{n}")), format!("Op{n}"));
        }
        assert_eq!(metrics.operation_label("OneTooMany"), "other");
        // Names seen before the cap keep their own label.
        assert_eq!(metrics.operation_label("Op7"), "Op7");
        let fresh = Metrics::new();
        assert_eq!(fresh.operation_label("a\"b"), "other");
        assert_eq!(fresh.operation_label(&"x".repeat(65)), "other");
        assert_eq!(fresh.operation_label(""), "other");
    }

    #[test]
    fn outcomes_are_the_error_codes_or_error() {
        assert_eq!(Outcome("OK".into()).label(), "OK");
        assert_eq!(Outcome("CONFLICT".into()).label(), "CONFLICT");
        assert_eq!(Outcome("made-up\"".into()).label(), "ERROR");
    }

    #[test]
    fn a_subscription_counts_while_its_guard_lives() {
        let metrics = Metrics::new();
        let text = |metrics: &Metrics| metrics.encode(Sample::default());
        let first = metrics.subscription(Some("wijkUpdated"));
        let second = metrics.subscription(Some("wijkUpdated"));
        assert!(text(&metrics).contains("wijkpuls_ws_subscriptions{field=\"wijkUpdated\"} 2\n"));
        drop(first);
        drop(second);
        assert!(text(&metrics).contains("wijkpuls_ws_subscriptions{field=\"wijkUpdated\"} 0\n"));
    }

    #[test]
    fn the_websocket_refusals_are_brought_in_once() {
        let metrics = Metrics::new();
        let sample = |refused| Sample {
            ws_refusals: vec![(Limit::WsOperations, refused)],
            ..Sample::default()
        };
        metrics.encode(sample(3));
        let text = metrics.encode(sample(5));
        assert!(
            text.contains("wijkpuls_refusals_total{limit=\"ws_operations\"} 5\n"),
            "{text}"
        );
        // The log head is absent without an answer from the database, and there in the next.
        assert!(!text.contains("wijkpuls_log_head_position"));
        let text = metrics.encode(Sample {
            log_head: Some(9),
            live_position: 7,
            ..Sample::default()
        });
        assert!(text.contains("wijkpuls_log_head_position 9\n"), "{text}");
        assert!(text.contains("wijkpuls_tailer_lag_events 2\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
