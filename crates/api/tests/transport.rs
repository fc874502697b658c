//! The GraphQL transport (`wijkpuls_api::transport`) against a real server on 127.0.0.1 with a
//! toy schema: GraphQL over HTTP (media type negotiation, status codes, limits, GraphiQL) and
//! GraphQL over WebSocket (graphql-transport-ws with every close code, and the legacy
//! graphql-ws subprotocol).
//!
//! `node_compliance_suites` (ignored by default: it needs node and `npm ci` in
//! tests/compliance) runs the repository's Node suites against the same toy server.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicI64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_graphql::{Context, Data, Object, Schema, Subscription};
use axum::http::HeaderMap;
use futures::{SinkExt, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::watch,
};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, protocol::CloseFrame, Message},
    MaybeTlsStream, WebSocketStream,
};
use wijkpuls_api::transport::{graphql_router, GraphqlHooks, TransportOptions};

// ---------------------------------------------------------------------------------------------
// The toy schema

/// Who the hooks say is asking.
struct Viewer(String);
/// The peer address the hooks were given.
struct Peer(Option<SocketAddr>);
/// The mutation's counter.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicI64>);
/// How many items the `firehose` subscription has produced.
#[derive(Clone, Default)]
struct Produced(Arc<AtomicUsize>);
/// Opened by the test to let `sharedStates` go on after its first state.
#[derive(Clone, Default)]
struct Gate(Arc<tokio::sync::Notify>);

/// How many states `sharedStates` goes through, and how large each is: together far more than
/// the socket buffers of a client that does not read.
const SHARED_STATES: i32 = 2_000;
const SHARED_STATE_BYTES: usize = 8 * 1024;

struct Query;

#[Object]
impl Query {
    async fn hello(&self, name: Option<String>) -> String {
        format!("Hello, {}!", name.as_deref().unwrap_or("world"))
    }

    async fn whoami(&self, ctx: &Context<'_>) -> String {
        ctx.data_opt::<Viewer>()
            .map(|viewer| viewer.0.clone())
            .unwrap_or_else(|| "nobody".to_owned())
    }

    /// Whether the hooks were given a peer address.
    async fn has_peer(&self, ctx: &Context<'_>) -> bool {
        ctx.data_opt::<Peer>().is_some_and(|peer| peer.0.is_some())
    }

    async fn count(&self, ctx: &Context<'_>) -> i64 {
        ctx.data_unchecked::<Counter>().0.load(Ordering::SeqCst)
    }

    /// A field error on a non-null root field: execution happened, `data` is null.
    async fn fail(&self) -> async_graphql::Result<i32> {
        Err("this field always fails".into())
    }

    async fn explode(&self) -> i32 {
        if std::hint::black_box(true) {
            panic!("secret detail: /etc/wijkpuls/db.sqlite password=hunter2");
        }
        0
    }
}

struct Mutation;

#[Object]
impl Mutation {
    async fn increment(&self, ctx: &Context<'_>, by: i32) -> i64 {
        ctx.data_unchecked::<Counter>()
            .0
            .fetch_add(i64::from(by), Ordering::SeqCst)
            + i64::from(by)
    }
}

struct Subscription;

#[Subscription]
impl Subscription {
    /// 1, 2, ..., `to`, then the stream ends.
    async fn count_to(&self, to: i32) -> impl Stream<Item = i32> {
        futures::stream::iter(1..=to)
    }

    /// An endless tick every 10 ms.
    async fn ticks(&self) -> impl Stream<Item = i32> {
        futures::stream::unfold(0, |n| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Some((n, n + 1))
        })
    }

    /// Endless 1 KiB items as fast as the consumer takes them, counting each one produced.
    async fn firehose(&self, ctx: &Context<'_>) -> impl Stream<Item = String> {
        let produced = ctx.data_unchecked::<Produced>().clone();
        futures::stream::unfold(produced, |produced| async move {
            produced.0.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Some(("x".repeat(1024), produced))
        })
    }

    /// A shared view (see `ToyHooks::shared_subscription`): state 0, then once the test opens
    /// the gate states 1 to [`SHARED_STATES`] as fast as they serialise, then the stream ends.
    async fn shared_states(&self, ctx: &Context<'_>) -> impl Stream<Item = SharedState> {
        let gate = ctx.data_unchecked::<Gate>().clone();
        futures::stream::unfold((0, gate), |(n, gate)| async move {
            if n > SHARED_STATES {
                return None;
            }
            if n == 1 {
                gate.0.notified().await;
            }
            tokio::task::yield_now().await;
            let state = SharedState {
                n,
                padding: "x".repeat(SHARED_STATE_BYTES),
            };
            Some((state, (n + 1, gate)))
        })
    }

    /// The connection's viewer, once.
    async fn whoami(&self, ctx: &Context<'_>) -> impl Stream<Item = String> {
        let viewer = ctx
            .data_opt::<Viewer>()
            .map(|viewer| viewer.0.clone())
            .unwrap_or_else(|| "nobody".to_owned());
        futures::stream::once(async move { viewer })
    }
}

#[derive(async_graphql::SimpleObject)]
struct SharedState {
    n: i32,
    padding: String,
}

type ToySchema = Schema<Query, Mutation, Subscription>;

struct ToyHooks;

impl GraphqlHooks for ToyHooks {
    fn shared_subscription(&self, root_fields: &[&str], _session: &Data) -> Option<String> {
        (root_fields == ["sharedStates"]).then(|| "everyone".to_owned())
    }

    fn http_data(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Data, String> {
        let mut data = Data::default();
        data.insert(Peer(peer));
        match headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
        {
            None => Ok(data),
            Some("Bearer bad") => Err("Invalid token".to_owned()),
            Some(other) => {
                data.insert(Viewer(other.trim_start_matches("Bearer ").to_owned()));
                Ok(data)
            }
        }
    }

    fn ws_data(
        &self,
        init_payload: Option<&Value>,
        _headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Data, String> {
        let mut data = Data::default();
        data.insert(Peer(peer));
        match init_payload
            .and_then(|payload| payload.get("authorization"))
            .and_then(Value::as_str)
        {
            None => Ok(data),
            Some("Bearer bad") => Err("Invalid token".to_owned()),
            Some(other) => {
                data.insert(Viewer(other.trim_start_matches("Bearer ").to_owned()));
                Ok(data)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server

struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    counter: Counter,
    produced: Produced,
    gate: Gate,
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/graphql/ws", self.addr)
    }
}

/// How the toy server is served.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Serve {
    /// `into_make_service_with_connect_info::<SocketAddr>()`, as the service does.
    ConnectInfo,
    /// `into_make_service()`: no peer address.
    Plain,
    /// With connect info, and axum's graceful shutdown on the same signal as the transport's.
    Graceful,
}

async fn start_server() -> Server {
    start_with(|_| {}, Serve::ConnectInfo).await
}

async fn start_with(configure: impl FnOnce(&mut TransportOptions), serve: Serve) -> Server {
    let counter = Counter::default();
    let produced = Produced::default();
    let gate = Gate::default();
    let schema: ToySchema = Schema::build(Query, Mutation, Subscription)
        .data(counter.clone())
        .data(produced.clone())
        .data(gate.clone())
        .finish();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut options = TransportOptions::new(shutdown_rx);
    configure(&mut options);
    let router = graphql_router(schema, Arc::new(ToyHooks), options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut signal = shutdown.subscribe();
    tokio::spawn(async move {
        match serve {
            Serve::ConnectInfo => axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap(),
            Serve::Plain => axum::serve(listener, router.into_make_service())
                .await
                .unwrap(),
            Serve::Graceful => axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|shutting_down| *shutting_down).await;
            })
            .await
            .unwrap(),
        }
    });
    Server {
        addr,
        shutdown,
        counter,
        produced,
        gate,
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

const GQL: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        headers,
        text: response.text().await.unwrap(),
    }
}

async fn post_raw(
    url: &str,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
    authorization: Option<&str>,
) -> Reply {
    let mut request = reqwest::Client::new().post(url).body(body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    reply(request.send().await.unwrap()).await
}

async fn post(url: &str, accept: Option<&str>, body: &Value) -> Reply {
    post_raw(url, accept, Some(JSON), body.to_string(), None).await
}

async fn get(url: &str, accept: Option<&str>, query: &[(&str, &str)]) -> Reply {
    let mut request = reqwest::Client::new().get(url).query(query);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    reply(request.send().await.unwrap()).await
}

fn first_error(body: &Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"))
}

// ---------------------------------------------------------------------------------------------
// HTTP tests

/// Accept × outcome → status, content type, and whether `data` is present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_negotiation_matrix() {
    let server = start_server().await;
    let url = server.url();

    #[derive(Clone, Copy, Debug)]
    enum Outcome {
        Ok,
        FieldError,
        ParseError,
        ValidationError,
        VariableCoercion,
        UnknownOperation,
        Unauthenticated,
        NotJson,
        MissingQuery,
        QueryNotString,
        VariablesNotObject,
    }
    use Outcome::*;

    // (Accept, response media type)
    let accepts: [(Option<&str>, &str); 6] = [
        (None, JSON),
        (Some("*/*"), JSON),
        (Some("application/json"), JSON),
        (Some(GQL), GQL),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GQL,
        ),
        (
            Some("application/json, application/graphql-response+json;q=0.5"),
            JSON,
        ),
    ];
    // (outcome, status with graphql-response+json, status with json, data entry present)
    let outcomes = [
        (Ok, 200, 200, true),
        (FieldError, 200, 200, true),
        (ParseError, 400, 200, false),
        (ValidationError, 400, 200, false),
        (VariableCoercion, 400, 200, false),
        (UnknownOperation, 400, 200, false),
        (Unauthenticated, 401, 200, false),
        (NotJson, 400, 400, false),
        (MissingQuery, 400, 400, false),
        (QueryNotString, 400, 400, false),
        (VariablesNotObject, 400, 400, false),
    ];

    for (accept, media) in accepts {
        for (outcome, gql_status, json_status, has_data) in outcomes {
            let (body, authorization) = match outcome {
                Ok => (json!({ "query": "{ hello }" }).to_string(), None),
                FieldError => (json!({ "query": "{ fail }" }).to_string(), None),
                ParseError => (json!({ "query": "{" }).to_string(), None),
                ValidationError => (json!({ "query": "{ nope }" }).to_string(), None),
                VariableCoercion => (
                    json!({
                        "query": "query ($name: String!) { hello(name: $name) }",
                        "variables": { "name": null },
                    })
                    .to_string(),
                    None,
                ),
                UnknownOperation => (
                    json!({ "query": "query A { hello }", "operationName": "B" }).to_string(),
                    None,
                ),
                Unauthenticated => (
                    json!({ "query": "{ hello }" }).to_string(),
                    Some("Bearer bad"),
                ),
                NotJson => (r#"{ "query": "#.to_owned(), None),
                MissingQuery => (json!({ "qeury": "{ hello }" }).to_string(), None),
                QueryNotString => (json!({ "query": 7 }).to_string(), None),
                VariablesNotObject => (
                    json!({ "query": "{ hello }", "variables": "{}" }).to_string(),
                    None,
                ),
            };
            let reply = post_raw(&url, accept, Some(JSON), body, authorization).await;
            let expected_status = if media == GQL {
                gql_status
            } else {
                json_status
            };
            let case = format!("Accept {accept:?}, {outcome:?}: {}", reply.text);
            assert_eq!(reply.status, expected_status, "{case}");
            assert!(
                reply.content_type.starts_with(media),
                "{case}: content-type {}",
                reply.content_type
            );
            let body = reply.json();
            assert_eq!(body.get("data").is_some(), has_data, "{case}");
            match outcome {
                Ok => {
                    assert_eq!(
                        body,
                        json!({ "data": { "hello": "Hello, world!" } }),
                        "{case}"
                    )
                }
                FieldError => {
                    assert_eq!(body["data"], Value::Null, "{case}");
                    assert_eq!(body["errors"][0]["path"], json!(["fail"]), "{case}");
                }
                Unauthenticated => {
                    assert_eq!(
                        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                        "{case}"
                    );
                    assert_eq!(first_error(&body), "Invalid token");
                    if media == GQL {
                        assert_eq!(reply.headers["www-authenticate"], "Bearer");
                    }
                }
                _ => assert!(!first_error(&body).is_empty(), "{case}"),
            }
        }
    }

    // Nothing acceptable: 406, whatever the request.
    for accept in ["text/html", "application/xml", "application/json;q=0"] {
        let reply = post(&url, Some(accept), &json!({ "query": "{ hello }" })).await;
        assert_eq!(reply.status, 406, "Accept {accept}");
        assert!(reply.content_type.starts_with(JSON));
    }
    // A response varies with Accept.
    let reply = post(&url, None, &json!({ "query": "{ hello }" })).await;
    assert_eq!(reply.headers["vary"], "accept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_parameters() {
    let server = start_server().await;
    let url = server.url();

    // Null optional parameters are absent parameters.
    for parameter in ["variables", "operationName", "extensions"] {
        for accept in [GQL, JSON] {
            let reply = post(
                &url,
                Some(accept),
                &json!({ "query": "{ hello }", parameter: null }),
            )
            .await;
            assert_eq!(reply.status, 200, "{parameter} null: {}", reply.text);
            assert_eq!(
                reply.json(),
                json!({ "data": { "hello": "Hello, world!" } })
            );
        }
    }
    // Variables, operation names and extensions are used.
    let reply = post(
        &url,
        Some(GQL),
        &json!({
            "query": "query A { hello } query B($name: String) { hello(name: $name) }",
            "operationName": "B",
            "variables": { "name": "Arnhem" },
            "extensions": { "some": "value" },
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "data": { "hello": "Hello, Arnhem!" } })
    );

    // Malformed parameters: 400 with either media type.
    for body in [
        json!({ "query": "{ hello }", "operationName": 1 }),
        json!({ "query": "{ hello }", "variables": [1] }),
        json!({ "query": "{ hello }", "extensions": "string" }),
        json!({ "query": ["{ hello }"] }),
        json!("{ hello }"),
    ] {
        for accept in [GQL, JSON] {
            let reply = post(&url, Some(accept), &body).await;
            assert_eq!(reply.status, 400, "{body}: {}", reply.text);
            assert!(reply.json().get("data").is_none());
        }
    }
    // Batches are refused.
    let reply = post(&url, Some(GQL), &json!([{ "query": "{ hello }" }])).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        first_error(&reply.json()),
        "Batched requests are not supported"
    );
    // An empty body.
    let reply = post_raw(&url, Some(GQL), Some(JSON), "", None).await;
    assert_eq!(reply.status, 400);
    // UTF-8 in and out.
    let reply = post(
        &url,
        None,
        &json!({ "query": r#"{ hello(name: "Run🏃Swim🏊") }"# }),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["data"]["hello"], "Hello, Run🏃Swim🏊!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unsupported_body_media_type_is_415() {
    let server = start_server().await;
    let url = server.url();
    let body = json!({ "query": "{ hello }" }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=iso-8859-1"),
    ] {
        let reply = post_raw(&url, Some(GQL), content_type, body.clone(), None).await;
        assert_eq!(reply.status, 415, "Content-Type {content_type:?}");
        assert!(reply.json().get("errors").is_some());
    }
    let reply = post_raw(
        &url,
        Some(GQL),
        Some("application/json; charset=utf-8"),
        body,
        None,
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_get_queries_and_mutations() {
    let server = start_server().await;
    let url = server.url();

    let reply = get(
        &url,
        Some(GQL),
        &[
            ("query", "query Q($name: String!) { hello(name: $name) }"),
            ("variables", r#"{"name":"GET"}"#),
            ("operationName", "Q"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.content_type.starts_with(GQL));
    assert_eq!(reply.json(), json!({ "data": { "hello": "Hello, GET!" } }));

    let reply = get(&url, None, &[("query", "{ hello }")]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with(JSON));

    // Malformed variables in the query string.
    for variables in ["{", "[]", "\"s\""] {
        let reply = get(
            &url,
            Some(GQL),
            &[("query", "{ hello }"), ("variables", variables)],
        )
        .await;
        assert_eq!(reply.status, 400, "variables {variables}");
    }
    // No query and no browser: 400.
    let reply = get(&url, Some(GQL), &[]).await;
    assert_eq!(reply.status, 400);

    // A mutation over GET: 405, Allow: POST, and nothing executed.
    for accept in [Some(GQL), Some(JSON), None] {
        let reply = get(&url, accept, &[("query", "mutation { increment(by: 5) }")]).await;
        assert_eq!(reply.status, 405, "Accept {accept:?}");
        assert_eq!(reply.headers["allow"], "POST");
        assert!(reply.json().get("data").is_none());
    }
    assert_eq!(server.counter.0.load(Ordering::SeqCst), 0);
    // ... and over POST it runs.
    let reply = post(
        &url,
        Some(GQL),
        &json!({ "query": "mutation { increment(by: 5) }" }),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({ "data": { "increment": 5 } }));

    // Subscriptions are not served over HTTP.
    let reply = post(
        &url,
        Some(GQL),
        &json!({ "query": "subscription { countTo(to: 1) }" }),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(first_error(&reply.json()).contains("/graphql/ws"));

    // Other methods.
    let response = reqwest::Client::new().put(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unauthenticated_executes_nothing() {
    let server = start_server().await;
    let url = server.url();
    let body = json!({ "query": "mutation { increment(by: 1) }" }).to_string();
    let reply = post_raw(
        &url,
        Some(GQL),
        Some(JSON),
        body.clone(),
        Some("Bearer bad"),
    )
    .await;
    assert_eq!(reply.status, 401);
    let reply = post_raw(&url, Some(JSON), Some(JSON), body, Some("Bearer bad")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(server.counter.0.load(Ordering::SeqCst), 0);

    // Good credentials reach the resolvers as request data.
    let reply = post_raw(
        &url,
        Some(GQL),
        Some(JSON),
        json!({ "query": "{ whoami hasPeer }" }).to_string(),
        Some("Bearer alice"),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({ "data": { "whoami": "alice", "hasPeer": true } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_without_connect_info_has_no_peer() {
    let server = start_with(|_| {}, Serve::Plain).await;
    let reply = post(&server.url(), Some(GQL), &json!({ "query": "{ hasPeer }" })).await;
    assert_eq!(reply.json(), json!({ "data": { "hasPeer": false } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_panics_are_500_without_details() {
    let server = start_server().await;
    let reply = post(&server.url(), Some(GQL), &json!({ "query": "{ explode }" })).await;
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.json(),
        json!({ "errors": [{ "message": "Internal server error", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }] })
    );
    assert!(!reply.text.contains("hunter2") && !reply.text.contains("/etc/"));
    // The server goes on.
    let reply = post(&server.url(), Some(GQL), &json!({ "query": "{ hello }" })).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_body_limit_is_413() {
    // The default limit: 256 KiB.
    let server = start_server().await;
    let url = server.url();
    let padded = |size: usize| {
        let query = format!("{{ hello }}{}", " ".repeat(size));
        json!({ "query": query }).to_string()
    };
    let reply = post_raw(&url, Some(GQL), Some(JSON), padded(200 * 1024), None).await;
    assert_eq!(reply.status, 200, "under the limit");
    let reply = post_raw(&url, Some(GQL), Some(JSON), padded(300 * 1024), None).await;
    assert_eq!(reply.status, 413);
    assert!(reply.json().get("errors").is_some());

    // A chunked body (no Content-Length) over a small limit.
    let server = start_with(|options| options.body_limit = 1024, Serve::ConnectInfo).await;
    let body = padded(4096);
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         accept: application/graphql-response+json\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n",
        server.addr
    );
    for chunk in body.as_bytes().chunks(512) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(std::str::from_utf8(chunk).unwrap());
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "chunked over the limit: {response}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_graphiql_for_browsers() {
    let server = start_server().await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let reply = get(&server.url(), Some(browser), &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("text/html"));
    assert!(reply.text.contains("graphiql"), "{}", reply.text);
    assert!(reply.text.contains("/graphql/ws"));

    // A browser with a query gets the result (as application/json, via */*).
    let reply = get(&server.url(), Some(browser), &[("query", "{ hello }")]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with(JSON));
    assert_eq!(
        reply.json(),
        json!({ "data": { "hello": "Hello, world!" } })
    );
}

// ---------------------------------------------------------------------------------------------
// WebSocket helpers

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

async fn connect(server: &Server, protocol: Option<&str>) -> Ws {
    let mut request = server.ws_url().into_client_request().unwrap();
    if let Some(protocol) = protocol {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).unwrap(),
        );
    }
    let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    if let Some(protocol) = protocol {
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|value| value.to_str().unwrap().to_owned());
        let offered: Vec<&str> = protocol.split(',').map(str::trim).collect();
        if offered.contains(&"graphql-transport-ws") {
            assert_eq!(chosen.as_deref(), Some("graphql-transport-ws"));
        } else if offered.contains(&"graphql-ws") {
            assert_eq!(chosen.as_deref(), Some("graphql-ws"));
        }
    }
    ws
}

async fn connect_acked(server: &Server) -> Ws {
    let mut ws = connect(server, Some("graphql-transport-ws")).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "connection_ack" }));
    ws
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// The next text message (WebSocket pings and pongs skipped); panics on close or timeout.
async fn recv(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a message")
            .expect("the connection ended")
            .expect("a WebSocket error");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server's close frame; returns its code and reason.
async fn expect_close(ws: &mut Ws) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for the close frame");
        match message {
            Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                return (u16::from(code), reason.as_str().to_owned())
            }
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => continue,
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    }
}

async fn assert_closed_with(ws: &mut Ws, code: u16, reason: &str) {
    let (actual_code, actual_reason) = expect_close(ws).await;
    assert_eq!(
        (actual_code, actual_reason.as_str()),
        (code, reason),
        "close frame"
    );
}

/// Asserts that nothing but keepalives arrives for `duration`.
async fn assert_silent(ws: &mut Ws, duration: Duration) {
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// graphql-transport-ws

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_subscription_next_then_complete() {
    let server = start_server().await;
    let mut ws = connect_acked(&server).await;
    send(
        &mut ws,
        json!({
            "id": "s1",
            "type": "subscribe",
            "payload": { "query": "subscription ($to: Int!) { countTo(to: $to) }", "variables": { "to": 3 } },
        }),
    )
    .await;
    for n in 1..=3 {
        assert_eq!(
            recv(&mut ws).await,
            json!({ "id": "s1", "type": "next", "payload": { "data": { "countTo": n } } })
        );
    }
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "s1", "type": "complete" })
    );

    // Queries and mutations: one `next`, then `complete`.
    send(
        &mut ws,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ hello }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "q", "type": "next", "payload": { "data": { "hello": "Hello, world!" } } })
    );
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "q", "type": "complete" })
    );
    send(
        &mut ws,
        json!({ "id": "m", "type": "subscribe", "payload": { "query": "mutation { increment(by: 2) }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "m", "type": "next", "payload": { "data": { "increment": 2 } } })
    );
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "m", "type": "complete" })
    );

    // A finished id can be used again.
    send(
        &mut ws,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ count }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "q", "type": "next", "payload": { "data": { "count": 2 } } })
    );
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "q", "type": "complete" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_errors_before_execution_are_error_messages() {
    let server = start_server().await;
    let mut ws = connect_acked(&server).await;
    for (id, query) in [
        ("validation", "subscription { nope }"),
        ("parse", "subscription {"),
        ("variables", "subscription ($to: Int!) { countTo(to: $to) }"),
    ] {
        send(
            &mut ws,
            json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        let message = recv(&mut ws).await;
        assert_eq!(message["type"], "error", "{id}: {message}");
        assert_eq!(message["id"], id);
        let errors = message["payload"].as_array().expect("an errors array");
        assert!(
            !errors.is_empty() && errors[0]["message"].is_string(),
            "{message}"
        );
    }
    // Field errors during execution are results: `next` with errors.
    send(
        &mut ws,
        json!({ "id": "f", "type": "subscribe", "payload": { "query": "{ fail }" } }),
    )
    .await;
    let message = recv(&mut ws).await;
    assert_eq!(message["type"], "next");
    assert_eq!(message["payload"]["errors"][0]["path"], json!(["fail"]));
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "f", "type": "complete" })
    );

    // A panic: `error` without details, and the connection lives on.
    send(
        &mut ws,
        json!({ "id": "p", "type": "subscribe", "payload": { "query": "{ explode }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "p", "type": "error", "payload": [{ "message": "Internal server error", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }] })
    );
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_ping_pong() {
    let server = start_server().await;
    let mut ws = connect(&server, Some("graphql-transport-ws")).await;
    // Before connection_init too.
    send(&mut ws, json!({ "type": "ping", "payload": { "at": 1 } })).await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "type": "pong", "payload": { "at": 1 } })
    );
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": null }),
    )
    .await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "connection_ack" }));
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
    // A pong is accepted and answered with nothing.
    send(&mut ws, json!({ "type": "pong", "payload": { "x": true } })).await;
    assert_silent(&mut ws, Duration::from_millis(200)).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_client_complete_stops_the_subscription() {
    let server = start_server().await;
    let mut ws = connect_acked(&server).await;
    let subscribe =
        json!({ "id": "t", "type": "subscribe", "payload": { "query": "subscription { ticks }" } });
    send(&mut ws, subscribe.clone()).await;
    let message = recv(&mut ws).await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("next"), Some("t"))
    );
    send(&mut ws, json!({ "id": "t", "type": "complete" })).await;
    // Results already under way may still arrive; then nothing more (ticks come every 10 ms),
    // and no `complete` from the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    loop {
        let message = recv(&mut ws).await;
        if message["type"] == "pong" {
            break;
        }
        assert_eq!(message["type"], "next", "{message}");
    }
    assert_silent(&mut ws, Duration::from_millis(300)).await;
    // The id is free again.
    send(&mut ws, subscribe).await;
    assert_eq!(recv(&mut ws).await["type"], "next");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_connection_data_from_init_payload() {
    let server = start_server().await;
    let mut ws = connect(&server, Some("graphql-transport-ws")).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer carol" } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "connection_ack" }));
    send(
        &mut ws,
        json!({ "id": "w", "type": "subscribe", "payload": { "query": "subscription { whoami }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "w", "type": "next", "payload": { "data": { "whoami": "carol" } } })
    );
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "w", "type": "complete" })
    );
    send(
        &mut ws,
        json!({ "id": "p", "type": "subscribe", "payload": { "query": "{ hasPeer }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "p", "type": "next", "payload": { "data": { "hasPeer": true } } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4400_on_malformed_messages() {
    let server = start_server().await;
    let malformed = [
        "not json".to_owned(),
        "[]".to_owned(),
        json!({ "payload": {} }).to_string(),
        json!({ "type": "unknown" }).to_string(),
        json!({ "type": "connection_init", "payload": "token" }).to_string(),
        json!({ "type": "ping", "payload": 5 }).to_string(),
        // Server-to-client messages.
        json!({ "type": "next", "id": "1", "payload": {} }).to_string(),
        json!({ "type": "connection_ack" }).to_string(),
    ];
    for text in &malformed {
        let mut ws = connect(&server, Some("graphql-transport-ws")).await;
        send_text(&mut ws, text).await;
        let (code, reason) = expect_close(&mut ws).await;
        assert_eq!(code, 4400, "{text}: {reason}");
        assert!(reason.starts_with("Invalid message received"), "{reason}");
    }
    // Malformed subscribe messages, after the ack.
    for message in [
        json!({ "type": "subscribe", "payload": { "query": "{ hello }" } }),
        json!({ "type": "subscribe", "id": "", "payload": { "query": "{ hello }" } }),
        json!({ "type": "subscribe", "id": 1, "payload": { "query": "{ hello }" } }),
        json!({ "type": "subscribe", "id": "1" }),
        json!({ "type": "subscribe", "id": "1", "payload": {} }),
        json!({ "type": "subscribe", "id": "1", "payload": { "query": 1 } }),
        json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ hello }", "variables": [] } }),
        json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ hello }", "operationName": 2 } }),
        json!({ "type": "complete" }),
    ] {
        let mut ws = connect_acked(&server).await;
        send(&mut ws, message.clone()).await;
        let (code, _) = expect_close(&mut ws).await;
        assert_eq!(code, 4400, "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4401_subscribe_before_ack() {
    let server = start_server().await;
    let mut ws = connect(&server, Some("graphql-transport-ws")).await;
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ hello }" } }),
    )
    .await;
    assert_closed_with(&mut ws, 4401, "Unauthorized").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4403_when_the_hook_refuses() {
    let server = start_server().await;
    let mut ws = connect(&server, Some("graphql-transport-ws")).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer bad" } }),
    )
    .await;
    assert_closed_with(&mut ws, 4403, "Invalid token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4406_without_a_known_subprotocol() {
    let server = start_server().await;
    let mut ws = connect(&server, None).await;
    assert_closed_with(&mut ws, 4406, "Subprotocol not acceptable").await;
    // An unknown subprotocol is not agreed to (so a conforming client fails the handshake).
    let mut request = server.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-something"),
    );
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(
        matches!(
            error,
            tokio_tungstenite::tungstenite::Error::Protocol(
                tokio_tungstenite::tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                    _
                )
            )
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4408_without_connection_init() {
    let server = start_with(
        |options| options.ws_init_timeout = Duration::from_millis(300),
        Serve::ConnectInfo,
    )
    .await;
    let started = tokio::time::Instant::now();
    let mut ws = connect(&server, Some("graphql-transport-ws")).await;
    // Pings do not count as initialisation.
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
    assert_closed_with(&mut ws, 4408, "Connection initialisation timeout").await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    // An initialised connection outlives the timeout.
    let mut ws = connect_acked(&server).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
}

#[test]
fn default_options() {
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let options = TransportOptions::new(shutdown_rx);
    assert_eq!(options.ws_init_timeout, Duration::from_secs(10));
    assert_eq!(options.body_limit, 256 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4409_on_duplicate_id() {
    let server = start_server().await;
    let mut ws = connect_acked(&server).await;
    let subscribe = json!({ "id": "dup", "type": "subscribe", "payload": { "query": "subscription { ticks }" } });
    send(&mut ws, subscribe.clone()).await;
    assert_eq!(recv(&mut ws).await["type"], "next");
    send(&mut ws, subscribe).await;
    assert_closed_with(&mut ws, 4409, "Subscriber for dup already exists").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_4429_on_repeated_init() {
    let server = start_server().await;
    let mut ws = connect_acked(&server).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_closed_with(&mut ws, 4429, "Too many initialisation requests").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_close_1001_on_shutdown() {
    let server = start_server().await;
    let mut idle = connect(&server, Some("graphql-transport-ws")).await;
    let mut legacy = connect(&server, Some("graphql-ws")).await;
    let mut busy = connect_acked(&server).await;
    send(
        &mut busy,
        json!({ "id": "t", "type": "subscribe", "payload": { "query": "subscription { ticks }" } }),
    )
    .await;
    assert_eq!(recv(&mut busy).await["type"], "next");

    server.shutdown.send(true).unwrap();
    for ws in [&mut idle, &mut legacy, &mut busy] {
        let (code, _) = expect_close(ws).await;
        assert_eq!(code, 1001);
    }
    // Connections opened after the signal are turned away the same way.
    let mut late = connect(&server, Some("graphql-transport-ws")).await;
    let (code, _) = expect_close(&mut late).await;
    assert_eq!(code, 1001);
}

/// The shutdown sequence the service uses: one signal for axum's graceful shutdown and the
/// transport; `Sender::closed` then tells when every WebSocket is closed and the router is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_graceful_shutdown_sequence() {
    let server = start_with(|_| {}, Serve::Graceful).await;
    let mut ws = connect_acked(&server).await;
    send(
        &mut ws,
        json!({ "id": "t", "type": "subscribe", "payload": { "query": "subscription { ticks }" } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await["type"], "next");
    let client = tokio::spawn(async move { expect_close(&mut ws).await });

    server.shutdown.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.shutdown.closed())
        .await
        .expect("the transport still holds the shutdown signal");
    assert_eq!(client.await.unwrap().0, 1001);
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still listening"
    );
}

/// A client that stops reading stalls its subscription's stream: the server does not buffer
/// without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_slow_client_backpressure() {
    let server = start_server().await;
    let mut ws = connect_acked(&server).await;
    send(
        &mut ws,
        json!({ "id": "f", "type": "subscribe", "payload": { "query": "subscription { firehose }" } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await["type"], "next");
    // Stop reading: the socket buffers fill, then production must stop.
    let produced = || server.produced.0.load(Ordering::SeqCst);
    let mut last = produced();
    let mut stalled = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = produced();
        if now == last {
            stalled = true;
            break;
        }
        last = now;
    }
    assert!(stalled, "production never stopped: {last} items");
    // Kernel socket buffers (a few MiB) and a bounded queue, not an unbounded one.
    assert!(
        last < 100_000,
        "{last} items produced for a client that reads nothing"
    );
    // The client reads again (what the socket buffers held first): production resumes.
    let mut read = 0;
    while produced() == last {
        assert_eq!(recv(&mut ws).await["type"], "next");
        read += 1;
        assert!(
            read <= last + 1_000,
            "production did not resume after {read} reads"
        );
    }
}

/// Reads a `sharedStates` subscription to its `complete`: the states it saw, in order.
async fn shared_states_until_complete(ws: &mut Ws, id: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let message = recv(ws).await;
        assert_eq!(message["id"], id, "{message}");
        match message["type"].as_str() {
            Some("next") => {
                let state = &message["payload"]["data"]["sharedStates"];
                assert_eq!(
                    state["padding"].as_str().map(str::len),
                    Some(SHARED_STATE_BYTES)
                );
                seen.push(state["n"].as_i64().expect("a state number"));
            }
            Some("complete") => return seen,
            _ => panic!("unexpected {message}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_shared_view_slow_subscriber_skips_to_the_final_state() {
    let server = start_server().await;
    let query = json!({ "query": "subscription { sharedStates { n padding } }" });
    let mut fast = connect_acked(&server).await;
    let mut slow = connect_acked(&server).await;
    for (ws, id) in [(&mut fast, "fast"), (&mut slow, "slow")] {
        send(
            ws,
            json!({ "id": id, "type": "subscribe", "payload": query }),
        )
        .await;
        let first = recv(ws).await;
        assert_eq!(first["payload"]["data"]["sharedStates"]["n"], 0, "{first}");
    }
    // Both follow the one execution; from here on the slow screen reads nothing.
    server.gate.0.notify_one();

    // The screen that reads keeps up regardless, and ends with the final state.
    let fast_seen = shared_states_until_complete(&mut fast, "fast").await;
    assert_eq!(fast_seen.last(), Some(&i64::from(SHARED_STATES)));
    assert!(
        fast_seen.windows(2).all(|pair| pair[0] < pair[1]),
        "{fast_seen:?}"
    );

    // The slow one gets what its socket held, then the latest state, never an older one after
    // a newer one, and the final state before `complete`.
    let slow_seen = shared_states_until_complete(&mut slow, "slow").await;
    assert_eq!(slow_seen.last(), Some(&i64::from(SHARED_STATES)));
    assert!(
        slow_seen.windows(2).all(|pair| pair[0] < pair[1]),
        "{slow_seen:?}"
    );
    assert!(
        slow_seen.len() < SHARED_STATES as usize,
        "the slow screen was sent every one of {} states: nothing was skipped",
        slow_seen.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Legacy graphql-ws (subscriptions-transport-ws)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_legacy_protocol() {
    let server = start_server().await;
    let mut ws = connect(&server, Some("graphql-ws")).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer dave" } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "connection_ack" }));
    assert_eq!(recv(&mut ws).await, json!({ "type": "ka" }));

    send(
        &mut ws,
        json!({ "id": "1", "type": "start", "payload": { "query": "subscription { countTo(to: 2) }" } }),
    )
    .await;
    for n in 1..=2 {
        assert_eq!(
            recv(&mut ws).await,
            json!({ "id": "1", "type": "data", "payload": { "data": { "countTo": n } } })
        );
    }
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "1", "type": "complete" })
    );

    send(
        &mut ws,
        json!({ "id": "2", "type": "start", "payload": { "query": "{ whoami }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "2", "type": "data", "payload": { "data": { "whoami": "dave" } } })
    );
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "2", "type": "complete" })
    );

    // Validation errors: `data` with errors, then `complete`.
    send(
        &mut ws,
        json!({ "id": "3", "type": "start", "payload": { "query": "{ nope }" } }),
    )
    .await;
    let message = recv(&mut ws).await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("data"), Some("3"))
    );
    assert!(message["payload"]["errors"][0]["message"].is_string());
    assert!(message["payload"].get("data").is_none());
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "3", "type": "complete" })
    );

    // `stop` ends a subscription, confirmed by `complete`.
    send(
        &mut ws,
        json!({ "id": "4", "type": "start", "payload": { "query": "subscription { ticks }" } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await["type"], "data");
    send(&mut ws, json!({ "id": "4", "type": "stop" })).await;
    loop {
        let message = recv(&mut ws).await;
        if message["type"] == "complete" {
            assert_eq!(message["id"], "4");
            break;
        }
        assert_eq!(message["type"], "data");
    }

    // connection_terminate closes normally.
    send(&mut ws, json!({ "type": "connection_terminate" })).await;
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_legacy_refusals() {
    let server = start_server().await;

    let mut ws = connect(&server, Some("graphql-ws")).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer bad" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "type": "connection_error", "payload": { "message": "Invalid token" } })
    );
    assert_closed_with(&mut ws, 4403, "Invalid token").await;

    let mut ws = connect(&server, Some("graphql-ws")).await;
    send(
        &mut ws,
        json!({ "id": "1", "type": "start", "payload": { "query": "{ hello }" } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await["type"], "connection_error");
    assert_closed_with(&mut ws, 4401, "Unauthorized").await;

    let mut ws = connect(&server, Some("graphql-ws")).await;
    send_text(&mut ws, "{").await;
    assert_eq!(recv(&mut ws).await["type"], "connection_error");
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, 4400);

    // Both offered: graphql-transport-ws wins.
    let mut ws = connect(&server, Some("graphql-ws, graphql-transport-ws")).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
}

// ---------------------------------------------------------------------------------------------
// The Node compliance suites (tests/compliance), against the toy server

/// Runs `npm ci`'d tests/compliance suites: graphql-http's `auditServer`, a graphql-ws
/// `createClient` subscription and the raw close-code checks. Needs node; run with
/// `cargo test -p wijkpuls-api --test transport -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs node and `npm ci` in tests/compliance"]
async fn node_compliance_suites() {
    let server = start_with(
        |options| options.ws_init_timeout = Duration::from_millis(500),
        Serve::ConnectInfo,
    )
    .await;
    let dir = std::env::var("WIJKPULS_COMPLIANCE_DIR")
        .unwrap_or_else(|_| format!("{}/../../tests/compliance", env!("CARGO_MANIFEST_DIR")));
    let run = |script: &'static str, args: Vec<String>, env: Vec<(&'static str, String)>| {
        let dir = dir.clone();
        async move {
            let output = tokio::process::Command::new("node")
                .arg(script)
                .args(&args)
                .envs(env)
                .current_dir(&dir)
                .output()
                .await
                .unwrap_or_else(|error| panic!("running node {script} in {dir}: {error}"));
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            println!("--- node {script} ---\n{stdout}{stderr}");
            assert!(
                output.status.success(),
                "node {script} failed: {stdout}{stderr}"
            );
            stdout.into_owned()
        }
    };
    run("audit.mjs", vec![server.url()], vec![]).await;
    let out = run(
        "ws-client.mjs",
        vec![
            server.ws_url(),
            "subscription { countTo(to: 3) }".to_owned(),
        ],
        vec![("WS_EXPECT", "3".to_owned())],
    )
    .await;
    assert!(out.contains(r#"{"data":{"countTo":3}}"#), "{out}");
    // connection_init payload, and an endless subscription the client completes.
    let out = run(
        "ws-client.mjs",
        vec![server.ws_url(), "subscription { whoami }".to_owned()],
        vec![(
            "WS_CONNECTION_PARAMS",
            r#"{"authorization":"Bearer erin"}"#.to_owned(),
        )],
    )
    .await;
    assert!(out.contains(r#"{"data":{"whoami":"erin"}}"#), "{out}");
    let out = run(
        "ws-client.mjs",
        vec![server.ws_url(), "subscription { ticks }".to_owned()],
        vec![("WS_TAKE", "5".to_owned()), ("WS_EXPECT", "5".to_owned())],
    )
    .await;
    assert!(out.contains(r#"{"data":{"ticks":4}}"#), "{out}");
    run(
        "ws-protocol.mjs",
        vec![server.ws_url()],
        vec![("WS_INIT_TIMEOUT_MS", "500".to_owned())],
    )
    .await;
}
