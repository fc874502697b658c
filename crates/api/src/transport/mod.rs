//! Standards-compliant GraphQL transport for any async-graphql schema.
//!
//! * `POST /graphql` and `GET /graphql`: the GraphQL over HTTP specification
//!   (<https://graphql.github.io/graphql-over-http/draft/>), with `Accept` negotiation between
//!   `application/graphql-response+json` and `application/json` and the status codes each of them
//!   calls for. A browser's `GET /graphql` without a `query` parameter gets GraphiQL.
//! * `GET /graphql/ws`: GraphQL over WebSocket, both the `graphql-transport-ws` subprotocol
//!   (graphql-ws's PROTOCOL.md, close codes included) and the legacy `graphql-ws` subprotocol of
//!   subscriptions-transport-ws, chosen from `Sec-WebSocket-Protocol`.
//!
//! Before async-graphql sees a request, its cost is estimated in linear time ([`cost`]) and
//! checked against [`CostLimits`]; over HTTP, queries estimated as expensive also wait for one of
//! a few permits, and every query has a time budget, so that cheap requests stay fast while
//! expensive ones are refused.
//!
//! The stock async-graphql-axum integration is not used: it answers
//! `application/graphql-response+json` whatever the client accepts, with 200 on requests that
//! never executed, and its WebSocket protocol closes with the wrong codes, has no
//! initialisation timeout and silently replaces duplicate subscription ids.

pub mod cost;
mod http;
mod ws;

pub use cost::CostLimits;
pub use ws::{WsLimits, WsStats};

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use async_graphql::{
    parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition, OperationType},
    Data, Executor, ObjectType, Positioned, Request, Response, Schema, ServerError,
    SubscriptionType, Value,
};
use axum::{http::HeaderMap, routing::get, Router};
use serde::Serialize;

use crate::error::ErrorCode;

/// Path of the GraphQL over HTTP endpoint (and of GraphiQL).
pub const GRAPHQL_PATH: &str = "/graphql";
/// Path of the GraphQL over WebSocket endpoint.
pub const GRAPHQL_WS_PATH: &str = "/graphql/ws";

/// Authentication hooks: they turn what a client presents into request or connection data.
pub trait GraphqlHooks: Send + Sync + 'static {
    /// Data to attach to an HTTP GraphQL request, from its headers and peer address; an
    /// Err(message) answers with a GraphQL error whose extensions.code is `UNAUTHENTICATED`
    /// (HTTP 401 with graphql-response+json; 200 with application/json) and executes nothing.
    fn http_data(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Data, String>;

    /// Data for a WebSocket connection, from the `connection_init` payload (e.g.
    /// {"authorization": "Bearer ..."}); Err → close 4403 with the message as the reason.
    fn ws_data(
        &self,
        init_payload: Option<&serde_json::Value>,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Data, String>;

    /// Whether a subscription may be shared with every other connection that sends the same
    /// document, operation and variables: `Some(key)` when its results depend only on what
    /// `key` names of the session (e.g. the role), and each result is a complete state, so a
    /// subscriber may skip intermediate ones (latest value only). Shared subscriptions execute
    /// once and serialise each result once, whatever the number of subscribers. `root_fields`
    /// are the operation's top-level field names. The default shares nothing.
    fn shared_subscription(&self, root_fields: &[&str], session: &Data) -> Option<String> {
        let _ = (root_fields, session);
        None
    }

    /// The role of whoever a session's data speaks for, for the log (never who they are). The
    /// default is none.
    fn role(&self, session: &Data) -> Option<&'static str> {
        let _ = session;
        None
    }

    /// The client's address, for per-address limits (e.g. from `X-Forwarded-For` when the peer
    /// is a trusted proxy). The default is the peer's address.
    fn client_address(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Option<std::net::IpAddr> {
        let _ = headers;
        peer.map(|peer| peer.ip())
    }
}

/// Tunables of the transport.
#[derive(Clone, Debug)]
pub struct TransportOptions {
    /// How long a WebSocket may stay open without `connection_init` before it is closed with
    /// 4408.
    pub ws_init_timeout: Duration,
    /// The largest HTTP request body (413 beyond it) and the largest WebSocket message (the
    /// connection is dropped beyond it), in bytes.
    pub body_limit: usize,
    /// Shutdown signal: once it reads `true`, every WebSocket is closed with 1001 (Going away),
    /// and WebSockets opened later are closed so at once. A dropped sender is not a shutdown.
    ///
    /// The transport holds clones of this receiver only in the router and in open WebSocket
    /// connections, so after `send(true)` the sender's `closed()` completes once every WebSocket
    /// has finished closing and the router is dropped (axum's graceful shutdown does not wait
    /// for upgraded connections).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Bounds on WebSocket connections and their operations.
    pub ws_limits: WsLimits,
    /// What the WebSocket endpoint counts (connections, refusals), for metrics.
    pub ws_stats: Arc<WsStats>,
    /// Where requests, refusals and subscriptions are counted (see [`crate::metrics`]).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The caps every operation's estimated cost is checked against before validation.
    pub cost: CostLimits,
    /// How long one HTTP query may execute; past it the request is answered with an error.
    /// Mutations are not cut short (they may already be recording).
    pub time_budget: Duration,
    /// An HTTP operation whose estimated result size is at least this is expensive: it needs
    /// one of [`TransportOptions::expensive_concurrency`] permits to execute.
    pub expensive_result_size: u64,
    /// How many expensive operations may execute at once (server-wide, per router).
    pub expensive_concurrency: usize,
    /// How long an expensive operation waits for a permit before it is refused with
    /// `RATE_LIMITED`.
    pub expensive_wait: Duration,
}

impl TransportOptions {
    /// The default `connection_init` timeout.
    pub const DEFAULT_WS_INIT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default request body limit: 256 KiB.
    pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

    /// The default per-query time budget.
    pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(10);
    /// The default estimated result size from which a query is expensive.
    pub const DEFAULT_EXPENSIVE_RESULT_SIZE: u64 = 20_000;
    /// The default wait for a permit to execute an expensive query.
    pub const DEFAULT_EXPENSIVE_WAIT: Duration = Duration::from_secs(2);

    /// The default options with the given shutdown signal.
    pub fn new(shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        Self {
            ws_init_timeout: Self::DEFAULT_WS_INIT_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            shutdown,
            ws_limits: WsLimits::default(),
            ws_stats: Arc::default(),
            metrics: Arc::default(),
            cost: CostLimits::default(),
            time_budget: Self::DEFAULT_TIME_BUDGET,
            expensive_result_size: Self::DEFAULT_EXPENSIVE_RESULT_SIZE,
            // As many as there are cores, so expensive queries cannot take every worker.
            expensive_concurrency: std::thread::available_parallelism()
                .map_or(2, |cores| cores.get())
                .max(2),
            expensive_wait: Self::DEFAULT_EXPENSIVE_WAIT,
        }
    }
}

/// The routes `/graphql` (GET, POST) and `/graphql/ws`.
pub fn graphql_router<Q, M, S>(
    schema: Schema<Q, M, S>,
    hooks: Arc<dyn GraphqlHooks>,
    options: TransportOptions,
) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    // Which fields are lists, for the cost estimate: read once from the schema's SDL.
    let shape = cost::SchemaShape::from_sdl(&schema.sdl());
    executor_router(schema, None, shape, hooks, options)
}

/// The schema built a second time with [`async_graphql::ValidationMode::Fast`] and without
/// extensions, for HTTP requests whose document the full schema has validated before.
///
/// Validation depends only on the schema, the document, the operation chosen and the variables:
/// a document that passed with the same operation and no variables passes again. Fast mode still
/// computes depth, complexity and cache control (so the limits still hold) but skips the rules,
/// and a schema without extensions resolves each field without the per-field lookup and boxed
/// future an extension costs; for a small query those are most of what it costs beyond
/// `{ __typename }`. WebSockets always use the full schema.
pub struct FastPath<Q, M, S> {
    /// The same types, data and limits as the full schema; validation mode Fast, no extensions.
    pub schema: Schema<Q, M, S>,
    /// What the full schema's extensions do to a response of an execution that validated (the
    /// fast build has no extensions to do it).
    pub finish: fn(Response) -> Response,
}

/// [`graphql_router`] with a [`FastPath`] for documents validated before.
pub fn graphql_router_with_fast_path<Q, M, S>(
    schema: Schema<Q, M, S>,
    fast: FastPath<Q, M, S>,
    hooks: Arc<dyn GraphqlHooks>,
    options: TransportOptions,
) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let shape = cost::SchemaShape::from_sdl(&schema.sdl());
    let fast = Fast {
        executor: fast.schema,
        finish: fast.finish,
        validated: Validated::default(),
    };
    executor_router(schema, Some(fast), shape, hooks, options)
}

/// [`graphql_router`] for any async-graphql [`Executor`] (a `Schema`, a dynamic schema, ...).
fn executor_router<E: Executor>(
    executor: E,
    fast: Option<Fast<E>>,
    shape: cost::SchemaShape,
    hooks: Arc<dyn GraphqlHooks>,
    options: TransportOptions,
) -> Router {
    let expensive = tokio::sync::Semaphore::new(options.expensive_concurrency.max(1));
    let shared = Arc::new(Shared {
        executor,
        fast,
        hooks,
        options,
        views: ws::SharedViews::default(),
        shape,
        expensive,
    });
    Router::new()
        .route(
            GRAPHQL_PATH,
            get(http::get_graphql::<E>).post(http::post_graphql::<E>),
        )
        .route(GRAPHQL_WS_PATH, get(ws::upgrade::<E>))
        .with_state(shared)
}

/// What every handler shares.
struct Shared<E> {
    executor: E,
    /// The executor for documents validated before, if the router has one.
    fast: Option<Fast<E>>,
    hooks: Arc<dyn GraphqlHooks>,
    options: TransportOptions,
    /// Subscriptions shared by several WebSocket connections.
    views: ws::SharedViews,
    /// The schema's list fields, for [`cost::check`].
    shape: cost::SchemaShape,
    /// Permits to execute an expensive query.
    expensive: tokio::sync::Semaphore,
}

/// A [`FastPath`] in use.
struct Fast<E> {
    executor: E,
    finish: fn(Response) -> Response,
    validated: Validated,
}

/// The documents (with the operation chosen) that passed the full schema's validation without
/// variables. Bounded like [`parse_cached`]'s cache: it starts afresh when full.
#[derive(Default)]
struct Validated(std::sync::Mutex<std::collections::HashMap<String, Vec<Option<String>>>>);

impl Validated {
    const ENTRIES: usize = 512;
    const LONGEST: usize = 16 * 1024;
    /// Operations remembered per document.
    const OPERATIONS: usize = 16;

    fn contains(&self, query: &str, operation: Option<&str>) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(query)
            .is_some_and(|operations| operations.iter().any(|o| o.as_deref() == operation))
    }

    fn insert(&self, query: String, operation: Option<String>) {
        if query.len() > Self::LONGEST {
            return;
        }
        let mut documents = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if documents.len() >= Self::ENTRIES && !documents.contains_key(&query) {
            documents.clear();
        }
        let operations = documents.entry(query).or_default();
        if operations.len() >= Self::OPERATIONS {
            operations.clear();
        }
        if !operations.contains(&operation) {
            operations.push(operation);
        }
    }
}

/// The message every internal failure (a panic, above all) is reported with: details stay in
/// the server's log.
const INTERNAL_ERROR: &str = "Internal server error";

fn internal_error() -> ServerError {
    coded_error(INTERNAL_ERROR, ErrorCode::InternalServerError)
}

/// The GraphQL request parameters (`query`, `operationName`, `variables`, `extensions`), checked
/// for shape but not parsed.
#[derive(Debug, Default)]
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: serde_json::Map<String, serde_json::Value>,
    extensions: serde_json::Map<String, serde_json::Value>,
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

impl Params {
    /// The parameters of a JSON request body or a WebSocket subscribe payload. Unknown members
    /// are ignored; `null` counts as absent for the optional ones.
    fn from_json(mut object: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let query = match object.remove("query") {
            Some(serde_json::Value::String(query)) => query,
            None | Some(serde_json::Value::Null) => {
                return Err("The 'query' parameter is missing".to_owned())
            }
            Some(other) => {
                return Err(format!(
                    "The 'query' parameter must be a string, not {}",
                    json_kind(&other)
                ))
            }
        };
        let operation_name = match object.remove("operationName") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(name)) => Some(name),
            Some(other) => {
                return Err(format!(
                    "The 'operationName' parameter must be a string, not {}",
                    json_kind(&other)
                ))
            }
        };
        let variables = Self::map(object.remove("variables"), "variables")?;
        let extensions = Self::map(object.remove("extensions"), "extensions")?;
        Ok(Params {
            query,
            operation_name: operation_name.filter(|name| !name.is_empty()),
            variables,
            extensions,
        })
    }

    fn map(
        value: Option<serde_json::Value>,
        name: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(serde_json::Map::new()),
            Some(serde_json::Value::Object(map)) => Ok(map),
            Some(other) => Err(format!(
                "The '{name}' parameter must be an object, not {}",
                json_kind(&other)
            )),
        }
    }
}

/// A request that parsed, whose operation was found and whose non-null variables are present:
/// what is left to fail before execution is async-graphql's validation.
struct Prepared {
    request: Request,
    /// The operation's name; `None` for an anonymous one.
    name: Option<String>,
    operation: OperationType,
    estimate: cost::Estimate,
    /// The name of the operation's first root field, when it is a field.
    root_field: Option<String>,
}

/// Parses the document, selects the operation, checks its estimated cost against `limits` and
/// checks the non-null variables: request errors found here never reach the executor. A limit
/// that refuses is counted in `metrics`.
fn prepare_costed(
    params: Params,
    shape: &cost::SchemaShape,
    limits: &CostLimits,
    metrics: &crate::metrics::Metrics,
) -> Result<Prepared, Vec<ServerError>> {
    // White space is cheap to skip; the tokens are what parsing costs.
    let length = params
        .query
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .count();
    if length > limits.max_query_bytes {
        metrics.refused(crate::metrics::Limit::QueryBytes);
        return Err(vec![coded_error(
            format!(
                "The query has {length} bytes besides white space, more than the limit of {} bytes",
                limits.max_query_bytes
            ),
            ErrorCode::BadUserInput,
        )]);
    }
    let document = parse_cached(&params.query).map_err(|error| vec![error])?;
    let operation = select_operation(&document, params.operation_name.as_deref())
        .map_err(|error| vec![error])?;
    let estimate = cost::check(&document, &operation.node, &params.variables, shape, limits)
        .map_err(|refusal| {
            metrics.refused(refusal.limit);
            vec![coded_error(refusal.message, ErrorCode::BadUserInput)]
        })?;
    check_variables(&operation.node, &params.variables)?;
    let root_field = operation
        .node
        .selection_set
        .node
        .items
        .first()
        .and_then(|item| match &item.node {
            async_graphql::parser::types::Selection::Field(field) => {
                Some(field.node.name.node.to_string())
            }
            _ => None,
        });
    let operation = operation.node.ty;
    let name = params
        .operation_name
        .clone()
        .or_else(|| match &document.operations {
            DocumentOperations::Multiple(operations) => {
                operations.keys().next().map(|n| n.to_string())
            }
            DocumentOperations::Single(_) => None,
        });

    let mut variables = async_graphql::Variables::default();
    for (name, value) in params.variables {
        let value = Value::from_json(value).map_err(|_| {
            vec![coded_error(
                format!("Variable \"${name}\" has an invalid value"),
                ErrorCode::BadUserInput,
            )]
        })?;
        variables.insert(async_graphql::Name::new(name), value);
    }
    let mut extensions = async_graphql::Extensions::default();
    for (name, value) in params.extensions {
        let value = Value::from_json(value).map_err(|_| {
            vec![coded_error(
                format!("Extension \"{name}\" has an invalid value"),
                ErrorCode::BadUserInput,
            )]
        })?;
        extensions.insert(name, value);
    }

    let mut request = Request::new(params.query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    request.extensions = extensions;
    request.set_parsed_query(document);
    Ok(Prepared {
        request,
        name,
        operation,
        estimate,
        root_field,
    })
}

impl<E> Shared<E> {
    /// For a subscription: counts it as active, by its root field (one the schema has, else
    /// `other`), while the returned guard lives.
    fn active_subscription(&self, prepared: &Prepared) -> Option<crate::metrics::Active> {
        if prepared.operation != OperationType::Subscription {
            return None;
        }
        let field = prepared
            .root_field
            .as_deref()
            .filter(|field| self.shape.is_root_field(OperationType::Subscription, field));
        Some(self.options.metrics.subscription(field))
    }
}

/// A request error with an `extensions.code`.
fn coded_error(message: impl Into<String>, code: ErrorCode) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}

/// Parses a query, remembering the documents of recent ones: dashboards and screens send the
/// same few queries over and over, and parsing is a large share of what a small query costs.
/// The cache is bounded (it starts afresh when full) and skips very long queries.
fn parse_cached(query: &str) -> Result<ExecutableDocument, ServerError> {
    const ENTRIES: usize = 512;
    const LONGEST: usize = 16 * 1024;
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, ExecutableDocument>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(document) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(query) {
        return Ok(document.clone());
    }
    let document = async_graphql::parser::parse_query(query).map_err(parse_failed)?;
    if query.len() <= LONGEST {
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= ENTRIES {
            cache.clear();
        }
        cache.insert(query.to_owned(), document.clone());
    }
    Ok(document)
}

/// A syntax error as one sentence with its place, coded `GRAPHQL_PARSE_FAILED` (the parser's
/// own message is a multi-line drawing of the query naming its grammar rules).
fn parse_failed(error: async_graphql::parser::Error) -> ServerError {
    let mut coded = ServerError::from(error.clone());
    coded.message = match &error {
        async_graphql::parser::Error::Syntax { start, .. } => format!(
            "The query is not valid GraphQL: unexpected input at line {}, column {}",
            start.line, start.column
        ),
        other => format!("The query is not valid GraphQL: {other}"),
    };
    coded
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::GraphqlParseFailed.as_str());
    coded
}

/// The operation a request executes, chosen the way async-graphql chooses it.
fn select_operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<&'d Positioned<OperationDefinition>, ServerError> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => Ok(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).ok_or_else(|| {
                coded_error(
                    format!(r#"Unknown operation named "{name}""#),
                    ErrorCode::BadUserInput,
                )
            })
        }
        (DocumentOperations::Single(_), Some(name)) => Err(coded_error(
            format!(r#"Unknown operation named "{name}""#),
            ErrorCode::BadUserInput,
        )),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            Ok(operations.values().next().expect("one operation"))
        }
        (DocumentOperations::Multiple(_), None) => Err(coded_error(
            "Operation name required in request.",
            ErrorCode::BadUserInput,
        )),
    }
}

/// Variable coercion's first rule: a variable of a non-null type without a default needs a
/// non-null value. (async-graphql's validation checks the values of the variables it sees used.)
fn check_variables(
    operation: &OperationDefinition,
    variables: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Vec<ServerError>> {
    let errors: Vec<ServerError> = operation
        .variable_definitions
        .iter()
        .filter(|definition| {
            !definition.node.var_type.node.nullable && definition.node.default_value.is_none()
        })
        .filter_map(|definition| {
            let name = definition.node.name.node.as_str();
            let ty = &definition.node.var_type.node;
            let message = match variables.get(name) {
                None => format!(r#"Variable "${name}" of required type "{ty}" was not provided."#),
                Some(serde_json::Value::Null) => {
                    format!(r#"Variable "${name}" of non-null type "{ty}" must not be null."#)
                }
                Some(_) => return None,
            };
            let mut error = coded_error(message, ErrorCode::BadUserInput);
            error.locations = vec![definition.pos];
            Some(error)
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether a response is a request error: the request failed before execution (async-graphql's
/// validation, depth or complexity limits, an extension's refusal), so the response must carry no
/// `data` entry. Execution always produces errors with a `path` (field errors) or a non-null
/// `data`; errors from before execution have neither.
fn is_request_error(response: &Response) -> bool {
    !response.errors.is_empty()
        && response.data == Value::Null
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// A GraphQL response as serialized on the wire (errors first, as the GraphQL spec recommends);
/// `data` is left out for request errors. Every error carries the id of the request it answers
/// in `extensions.requestId` (see [`crate::request`]).
#[derive(Serialize)]
struct WireResponse<'a> {
    #[serde(
        skip_serializing_if = "<[ServerError]>::is_empty",
        serialize_with = "with_request_id"
    )]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

impl<'a> WireResponse<'a> {
    fn executed(response: &'a Response) -> Self {
        WireResponse {
            errors: &response.errors,
            data: Some(&response.data),
            extensions: &response.extensions,
        }
    }

    fn errors(errors: &'a [ServerError]) -> Self {
        static NO_EXTENSIONS: BTreeMap<String, Value> = BTreeMap::new();
        WireResponse {
            errors,
            data: None,
            extensions: &NO_EXTENSIONS,
        }
    }

    fn request_error(response: &'a Response) -> Self {
        WireResponse {
            errors: &response.errors,
            data: None,
            extensions: &response.extensions,
        }
    }

    /// `OK`, or the first error's `extensions.code` (`ERROR` without one), for the log.
    fn outcome(&self) -> String {
        let Some(error) = self.errors.first() else {
            return "OK".to_owned();
        };
        match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(Value::String(code)) => code.clone(),
            Some(Value::Enum(code)) => code.to_string(),
            _ => "ERROR".to_owned(),
        }
    }
}

/// Serializes errors with the current request's id added to their extensions.
fn with_request_id<S: serde::Serializer>(
    errors: &&[ServerError],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let Some(id) = crate::request::current() else {
        return errors.serialize(serializer);
    };
    let mut seq = serializer.serialize_seq(Some(errors.len()))?;
    for error in errors.iter() {
        let mut error = error.clone();
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("requestId", id.as_str());
        seq.serialize_element(&error)?;
    }
    seq.end()
}
