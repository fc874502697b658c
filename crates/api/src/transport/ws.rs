//! GraphQL over WebSocket.
//!
//! * `graphql-transport-ws`: graphql-ws's PROTOCOL.md. Close codes: 4400 malformed message,
//!   4401 subscribe before `connection_ack`, 4403 `connection_init` refused by the hook (the reason is the hook's message), 4406 no
//!   acceptable subprotocol, 4408 no `connection_init` in time, 4409 duplicate operation id,
//!   4429 second `connection_init`, 4500 internal error, 1001 server shutdown.
//! * `graphql-ws` (legacy, subscriptions-transport-ws): `connection_init` → `connection_ack` +
//!   `ka`, `start`/`stop`/`connection_terminate` → `data`/`error`/`complete`, `ka` every
//!   [`KEEPALIVE`]. Refusals send `connection_error` and then close with the same codes as
//!   above; like the legacy server, a `start` with an id in use replaces that operation.
//!
//! Every operation (subscriptions, and queries and mutations too, which answer one `next`) runs in
//! a task of its own, except subscribers of a shared view (see [`SharedViews`]). All outgoing
//! messages go through one bounded channel to a writer task that awaits each send on the socket:
//! a client that reads slowly stalls its operations' streams instead of making the server
//! buffer. The writer follows the connection's shared views itself: an update of a view costs a
//! subscriber one wake-up of its writer and one write, and a slow reader skips to the latest
//! state.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, Weak,
    },
    time::Duration,
};

use async_graphql::{
    parser::types::{OperationType, Selection},
    Data, Executor, Request, Response, ServerError,
};
use axum::{
    extract::{
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        ConnectInfo, State,
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response as HttpResponse},
    Extension,
};
use futures::{
    stream::{BoxStream, SplitSink, SplitStream},
    SinkExt, StreamExt,
};
use serde::Serialize;
use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::{wrappers::WatchStream, StreamMap};
use tracing::Instrument;

use super::{
    internal_error, is_request_error, prepare_costed, select_operation, Params, Shared,
    WireResponse,
};

/// The `graphql-ws` library's protocol.
const TRANSPORT_WS: &str = "graphql-transport-ws";
/// subscriptions-transport-ws's protocol.
const LEGACY_WS: &str = "graphql-ws";

/// Outgoing messages queued per connection before its operations have to wait.
const OUTBOUND_CAPACITY: usize = 16;
/// How long closing may take: flushing queued messages, the close frame, the client's answer.
const CLOSE_GRACE: Duration = Duration::from_secs(3);
/// Interval of WebSocket pings (`graphql-transport-ws`) or `ka` messages (legacy).
const KEEPALIVE: Duration = Duration::from_secs(12);

const NORMAL_CLOSURE: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const BAD_REQUEST: u16 = 4400;
const UNAUTHORIZED: u16 = 4401;
const FORBIDDEN: u16 = 4403;
const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
const INIT_TIMEOUT: u16 = 4408;
const SUBSCRIBER_EXISTS: u16 = 4409;
const TOO_MANY_INITIALISATION_REQUESTS: u16 = 4429;
const INTERNAL_SERVER_ERROR: u16 = 4500;

/// Bounds on what WebSocket clients may hold open. A connection over a limit is refused before
/// the upgrade (HTTP 503 when the server is full, 429 for one address's share); an operation over
/// a limit gets the protocol's `error` message with `extensions.code` `RATE_LIMITED`; an
/// operation id over the length limit closes the connection with 4400.
#[derive(Clone, Copy, Debug)]
pub struct WsLimits {
    /// Open WebSocket connections in all (0: no limit).
    pub max_connections: usize,
    /// Open WebSocket connections from one client address (0: no limit).
    pub max_per_address: usize,
    /// Operations running at once on one connection.
    pub max_operations: usize,
    /// The longest operation id, in bytes.
    pub max_id_length: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            // Below the server's 16,000 connections in all, so HTTP keeps room.
            max_connections: 12_000,
            max_per_address: 1_000,
            max_operations: 100,
            max_id_length: 128,
        }
    }
}

/// What the WebSocket endpoint counts, for metrics.
#[derive(Debug, Default)]
pub struct WsStats {
    /// Connections open now.
    pub connections: AtomicUsize,
    /// Connections refused because the server was full.
    pub refused_connections: AtomicU64,
    /// Connections refused because their address had its share.
    pub refused_per_address: AtomicU64,
    /// Operations refused because their connection had its share.
    pub refused_operations: AtomicU64,
    /// Connections closed for an operation id over the length limit.
    pub refused_ids: AtomicU64,
    /// Operations (mostly subscriptions) running now, and how many executions serve several
    /// subscribers at once (see [`super::GraphqlHooks::shared_subscription`]).
    pub operations: AtomicUsize,
    pub shared_executions: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// A place among the open connections, given back on drop.
struct Slot {
    stats: Arc<WsStats>,
    address: Option<IpAddr>,
}

impl WsStats {
    /// Takes a place for a new connection, or says which limit refuses it.
    fn admit(
        self: &Arc<Self>,
        limits: &WsLimits,
        address: Option<IpAddr>,
    ) -> Result<Slot, StatusCode> {
        let mut per_address = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        if limits.max_connections > 0
            && self.connections.load(Ordering::Relaxed) >= limits.max_connections
        {
            self.refused_connections.fetch_add(1, Ordering::Relaxed);
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        if let Some(address) = address {
            let open = per_address.entry(address).or_default();
            if limits.max_per_address > 0 && *open >= limits.max_per_address {
                self.refused_per_address.fetch_add(1, Ordering::Relaxed);
                return Err(StatusCode::TOO_MANY_REQUESTS);
            }
            *open += 1;
        }
        self.connections.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            stats: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_address = self
            .stats
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(address) = self.address {
            if let Some(open) = per_address.get_mut(&address) {
                *open -= 1;
                if *open == 0 {
                    per_address.remove(&address);
                }
            }
        }
        self.stats.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Read buffer of a connection: GraphQL messages from clients are small. (tungstenite's default
/// is 128 KiB per connection, which at thousands of screens is most of the server's memory.)
const READ_BUFFER: usize = 2 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

/// `GET /graphql/ws`: the WebSocket upgrade. The subprotocol is chosen from
/// `Sec-WebSocket-Protocol`, `graphql-transport-ws` first.
pub(super) async fn upgrade<E: Executor>(
    State(shared): State<Arc<Shared<E>>>,
    headers: HeaderMap,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let peer = connect_info.map(|Extension(ConnectInfo(address))| address);
    let stats = &shared.options.ws_stats;
    let client = shared.hooks.client_address(&headers, peer);
    let slot = match stats.admit(&shared.options.ws_limits, client) {
        Ok(slot) => slot,
        Err(status) => {
            let reason = if status == StatusCode::TOO_MANY_REQUESTS {
                "too many WebSocket connections from this address\n"
            } else {
                "the server has as many WebSocket connections as it takes; try again later\n"
            };
            return (status, [("retry-after", "10")], reason).into_response();
        }
    };
    let limit = shared.options.body_limit;
    let upgrade = upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER)
        // Write each message out at once (the writer awaits every send anyway) instead of
        // collecting up to 128 KiB per connection first.
        .write_buffer_size(0)
        .max_write_buffer_size(limit.max(READ_BUFFER) * 4);
    let protocol = match upgrade.selected_protocol().map(|value| value.as_bytes()) {
        Some(b"graphql-transport-ws") => Some(Protocol::TransportWs),
        Some(b"graphql-ws") => Some(Protocol::Legacy),
        _ => None,
    };
    // The request's header values are slices of hyper's read buffer (16 KiB): a copy of
    // their own lets that buffer go while the connection lives on.
    let headers = owned(&headers);
    // One request id per connection (its upgrade request's), in a span of its own. Not a child
    // of the upgrade request's `http` span, which would then stay open (in the subscriber's
    // registry, with its formatted fields) as long as the connection.
    let id = crate::request::current();
    let span = tracing::info_span!(parent: None, "ws", request_id = %id.as_ref().map(ToString::to_string).unwrap_or_default());
    upgrade.on_upgrade(move |socket| {
        let connection = async move {
            serve(socket, protocol, shared, headers, peer).await;
            drop(slot);
        };
        crate::request::scope(id, connection.instrument(span))
    })
}

/// A copy of `headers` that shares no memory with the request.
fn owned(headers: &HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let Ok(value) = axum::http::HeaderValue::from_bytes(value.as_bytes()) {
            copy.append(name.clone(), value);
        }
    }
    copy
}

/// How a connection ends.
#[derive(Debug)]
struct CloseCmd {
    /// The close frame to send; `None` when the client closed or vanished.
    frame: Option<CloseFrame>,
    /// Whether messages already queued go out before the close frame.
    drain: bool,
}

impl CloseCmd {
    fn protocol(code: u16, reason: &str) -> Self {
        CloseCmd {
            frame: Some(close_frame(code, reason)),
            drain: true,
        }
    }

    fn going_away() -> Self {
        CloseCmd {
            frame: Some(close_frame(GOING_AWAY, "Server is shutting down")),
            drain: false,
        }
    }

    fn client_gone() -> Self {
        CloseCmd {
            frame: None,
            drain: false,
        }
    }
}

/// A close frame; the reason is cut to the 123 bytes a close frame has room for.
fn close_frame(code: u16, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    }
}

async fn shutdown_signalled(shutdown: &mut watch::Receiver<bool>) {
    if shutdown
        .wait_for(|shutting_down| *shutting_down)
        .await
        .is_err()
    {
        // The sender is gone without signalling: no shutdown will ever come.
        std::future::pending::<()>().await;
    }
}

async fn serve<E: Executor>(
    socket: WebSocket,
    protocol: Option<Protocol>,
    shared: Arc<Shared<E>>,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
) {
    let (sink, mut stream) = socket.split();
    let (out, outbound) = mpsc::channel(OUTBOUND_CAPACITY);
    let (close_tx, close_rx) = oneshot::channel();
    let (finished_tx, finished_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(sink, outbound, close_rx, finished_tx.clone()));
    let mut shutdown = shared.options.shutdown.clone();

    let close = match protocol {
        None => CloseCmd::protocol(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable"),
        Some(protocol) => {
            let mut connection = Connection {
                protocol,
                shared,
                headers,
                peer,
                out: out.clone(),
                finished_tx,
                finished_rx,
                operations: HashMap::new(),
                next_generation: 0,
                init_received: false,
                session: None,
            };
            let close = tokio::select! {
                biased;
                () = shutdown_signalled(&mut shutdown) => CloseCmd::going_away(),
                close = connection.run(&mut stream) => close,
            };
            // Dropping the connection stops its operations.
            drop(connection);
            close
        }
    };
    drop(out);

    let server_closes = close.frame.is_some();
    let _ = close_tx.send(close);
    if server_closes {
        // The closing handshake: the client answers our close frame with its own.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Close(_) = message {
                    break;
                }
            }
        })
        .await;
    }
    let _ = writer.await;
}

/// A connection's outgoing queue. Its items are boxed: a channel allocates its first block of
/// 32 slots when it is made, and every connection (thousands of idle screens) has one; a
/// message through the queue costs one small allocation more, while the updates of shared views,
/// most of what is sent, do not go through it.
type OutboundSender = mpsc::Sender<Box<Outbound>>;

/// What a connection's writer is told to do, in order.
enum Outbound {
    /// Send this message.
    Message(Message),
    /// Follow a shared view for the operation with this id, sending its updates. (Boxed: the
    /// writer's `StreamMap` keeps them in a vector.)
    Follow(Arc<str>, Box<Follower>),
    /// Stop following the view of the operation with this id.
    Unfollow(Arc<str>),
}

/// Owns the socket's sending half: sends queued messages one by one (each send waits for the
/// socket) and the updates of the shared views it follows, then the close frame. Queued
/// messages go first; a view that changed several times while the socket was busy sends only
/// its latest state.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut outbound: mpsc::Receiver<Box<Outbound>>,
    mut close_rx: oneshot::Receiver<CloseCmd>,
    finished: FinishedSender,
) {
    let mut followers: StreamMap<Arc<str>, Box<Follower>> = StreamMap::new();
    let close = loop {
        let message = tokio::select! {
            biased;
            close = &mut close_rx => break close.unwrap_or(CloseCmd::client_gone()),
            command = outbound.recv() => match command.map(|command| *command) {
                Some(Outbound::Message(message)) => message,
                Some(Outbound::Follow(id, follower)) => {
                    followers.insert(id, follower);
                    continue;
                }
                Some(Outbound::Unfollow(id)) => {
                    followers.remove(&id);
                    continue;
                }
                None => break (&mut close_rx).await.unwrap_or(CloseCmd::client_gone()),
            },
            Some((_, event)) = followers.next(), if !followers.is_empty() => match event {
                FollowerEvent::Next(message) => message,
                FollowerEvent::End(report) => {
                    let _ = finished.send(Box::new(report));
                    continue;
                }
            },
        };
        let send = sink.send(message);
        tokio::pin!(send);
        // The send first: it is mostly done at once, and then the close need not be looked at.
        tokio::select! {
            biased;
            sent = &mut send => {
                if sent.is_err() {
                    return;
                }
            }
            close = &mut close_rx => {
                let close = close.unwrap_or(CloseCmd::client_gone());
                if close.drain {
                    match tokio::time::timeout(CLOSE_GRACE, &mut send).await {
                        Ok(Ok(())) => {}
                        _ => return,
                    }
                }
                break close;
            }
        }
    };
    // The connection's operations have stopped: so have its views.
    drop(followers);

    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if close.drain {
            while let Ok(command) = outbound.try_recv() {
                if let Outbound::Message(message) = *command {
                    sink.send(message).await?;
                }
            }
        }
        match close.frame {
            Some(frame) => sink.send(Message::Close(Some(frame))).await,
            None => sink.close().await,
        }
    })
    .await;
}

/// A server message: `{"type": .., "id": .., "payload": ..}`, without the absent members.
fn encode<P: Serialize>(ty: &str, id: Option<&str>, payload: Option<P>) -> Message {
    #[derive(Serialize)]
    struct ServerMessage<'a, P> {
        #[serde(rename = "type")]
        ty: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<P>,
    }
    match serde_json::to_string(&ServerMessage { ty, id, payload }) {
        Ok(text) => Message::Text(text.into()),
        Err(error) => {
            tracing::error!(%error, "could not serialize a GraphQL over WebSocket message");
            let text = serde_json::to_string(&ServerMessage {
                ty: "error",
                id,
                payload: Some([internal_error()]),
            })
            .unwrap_or_default();
            Message::Text(text.into())
        }
    }
}

/// A running operation.
struct Operation {
    generation: u64,
    running: Running,
    /// A subscription counts as active in the metrics while this lives.
    _active: Option<crate::metrics::Active>,
}

/// Where an operation runs.
enum Running {
    /// In a task of its own.
    Task(tokio::task::AbortHandle),
    /// In the connection's writer, which follows a shared view.
    Follower,
}

/// Where operations report how they ended. Boxed: an unbounded channel allocates its first
/// block of 32 slots when it is made, and every connection has one.
type FinishedSender = mpsc::UnboundedSender<Box<Finished>>;

/// An operation's task is done.
struct Finished {
    id: String,
    generation: u64,
    outcome: Outcome,
}

enum Outcome {
    /// The stream ended.
    Completed,
    /// The request failed before execution (validation).
    RequestError(Vec<ServerError>),
    /// The execution panicked.
    Internal,
}

/// A client message, checked as graphql-ws's `validateMessage` checks it.
enum ClientMessage {
    ConnectionInit(Option<Json>),
    Ping(Option<Json>),
    Pong,
    Subscribe {
        id: String,
        params: Params,
    },
    Complete {
        id: String,
    },
    /// Legacy only.
    ConnectionTerminate,
}

fn payload_object(
    message: &mut serde_json::Map<String, Json>,
    ty: &str,
) -> Result<Option<Json>, String> {
    match message.remove("payload") {
        None | Some(Json::Null) => Ok(None),
        Some(payload @ Json::Object(_)) => Ok(Some(payload)),
        Some(_) => Err(format!(
            "\"{ty}\" message expects the 'payload' property to be an object or nullish or missing"
        )),
    }
}

fn operation_id(
    message: &mut serde_json::Map<String, Json>,
    ty: &str,
    protocol: Protocol,
) -> Result<String, String> {
    match message.remove("id") {
        Some(Json::String(id)) if !id.is_empty() => Ok(id),
        // subscriptions-transport-ws clients may number their operations.
        Some(Json::Number(id)) if protocol == Protocol::Legacy => Ok(id.to_string()),
        _ => Err(format!(
            "\"{ty}\" message requires a non-empty string 'id' property"
        )),
    }
}

fn parse_message(text: &str, protocol: Protocol) -> Result<ClientMessage, String> {
    let mut message = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(message)) => message,
        Ok(_) => return Err("Message is expected to be an object".to_owned()),
        Err(_) => return Err("Message is not valid JSON".to_owned()),
    };
    let ty = match message.remove("type") {
        Some(Json::String(ty)) => ty,
        _ => return Err("Message is missing a string 'type' property".to_owned()),
    };
    let start = match protocol {
        Protocol::TransportWs => "subscribe",
        Protocol::Legacy => "start",
    };
    let stop = match protocol {
        Protocol::TransportWs => "complete",
        Protocol::Legacy => "stop",
    };
    match ty.as_str() {
        "connection_init" => Ok(ClientMessage::ConnectionInit(payload_object(
            &mut message,
            &ty,
        )?)),
        "ping" if protocol == Protocol::TransportWs => {
            Ok(ClientMessage::Ping(payload_object(&mut message, &ty)?))
        }
        "pong" if protocol == Protocol::TransportWs => {
            payload_object(&mut message, &ty)?;
            Ok(ClientMessage::Pong)
        }
        "connection_terminate" if protocol == Protocol::Legacy => {
            Ok(ClientMessage::ConnectionTerminate)
        }
        _ if ty == start => {
            let id = operation_id(&mut message, &ty, protocol)?;
            let params = match message.remove("payload") {
                Some(Json::Object(payload)) => Params::from_json(payload)?,
                _ => {
                    return Err(format!(
                        "\"{ty}\" message expects the 'payload' property to be an object"
                    ))
                }
            };
            Ok(ClientMessage::Subscribe { id, params })
        }
        _ if ty == stop => Ok(ClientMessage::Complete {
            id: operation_id(&mut message, &ty, protocol)?,
        }),
        _ => Err(format!("Unexpected message of type \"{ty}\"")),
    }
}

struct Connection<E> {
    protocol: Protocol,
    shared: Arc<Shared<E>>,
    /// The upgrade request's, until `connection_init` (the only use).
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    out: OutboundSender,
    finished_tx: FinishedSender,
    finished_rx: mpsc::UnboundedReceiver<Box<Finished>>,
    operations: HashMap<String, Operation>,
    next_generation: u64,
    init_received: bool,
    /// The connection's data, once `connection_init` was accepted.
    session: Option<Arc<Data>>,
}

/// However the connection ends (even when its task is cancelled), its operations stop.
impl<E> Drop for Connection<E> {
    fn drop(&mut self) {
        // Followers stop with the writer, which stops with the connection.
        for (_, operation) in self.operations.drain() {
            if let Running::Task(task) = operation.running {
                task.abort();
            }
        }
    }
}

impl<E: Executor> Connection<E> {
    /// Serves the connection until it has to close.
    async fn run(&mut self, stream: &mut SplitStream<WebSocket>) -> CloseCmd {
        let init_timeout = tokio::time::sleep(self.shared.options.ws_init_timeout);
        tokio::pin!(init_timeout);
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut init_timeout, if !self.init_received => {
                    return CloseCmd::protocol(INIT_TIMEOUT, "Connection initialisation timeout");
                }
                message = stream.next() => {
                    let close = match message {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                            return CloseCmd::client_gone()
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        // Boxed: the handling of a message is a large future, and an idle
                        // connection (thousands of screens) should not carry its space.
                        Some(Ok(Message::Text(text))) => Box::pin(self.on_text(text.as_str())).await,
                        Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                            Ok(text) => Box::pin(self.on_text(text)).await,
                            Err(_) => self.malformed("Message is not UTF-8 text").await,
                        },
                    };
                    if let Some(close) = close {
                        return close;
                    }
                }
                Some(finished) = self.finished_rx.recv() => Box::pin(self.on_finished(*finished)).await,
                _ = keepalive.tick() => self.keepalive(),
            }
        }
    }

    async fn send(&self, message: Message) {
        // Fails only once the writer is gone, and then the connection is closing anyway.
        let _ = self.out.send(Box::new(Outbound::Message(message))).await;
    }

    /// Stops an operation the connection no longer runs.
    async fn stop(&self, id: &str, operation: Operation) {
        match operation.running {
            Running::Task(task) => task.abort(),
            Running::Follower => {
                let _ = self.out.send(Box::new(Outbound::Unfollow(id.into()))).await;
            }
        }
    }

    fn keepalive(&self) {
        // Best effort: when the queue is full the client has plenty to read already.
        let message = match self.protocol {
            Protocol::TransportWs => Message::Ping(Default::default()),
            Protocol::Legacy if self.session.is_some() => encode("ka", None, None::<()>),
            Protocol::Legacy => return,
        };
        let _ = self.out.try_send(Box::new(Outbound::Message(message)));
    }

    /// A refusal: legacy clients get a `connection_error` first.
    async fn refuse(&self, code: u16, reason: &str) -> Option<CloseCmd> {
        if self.protocol == Protocol::Legacy {
            self.send(encode(
                "connection_error",
                None,
                Some(json!({ "message": reason })),
            ))
            .await;
        }
        Some(CloseCmd::protocol(code, reason))
    }

    async fn malformed(&self, detail: &str) -> Option<CloseCmd> {
        self.refuse(BAD_REQUEST, &format!("Invalid message received: {detail}"))
            .await
    }

    async fn on_text(&mut self, text: &str) -> Option<CloseCmd> {
        let message = match parse_message(text, self.protocol) {
            Ok(message) => message,
            Err(detail) => return self.malformed(&detail).await,
        };
        match message {
            ClientMessage::ConnectionInit(payload) => {
                if self.init_received {
                    return self
                        .refuse(
                            TOO_MANY_INITIALISATION_REQUESTS,
                            "Too many initialisation requests",
                        )
                        .await;
                }
                self.init_received = true;
                // The upgrade request's headers serve this decision only: an idle connection
                // (one of thousands of screens) need not keep them.
                let headers = std::mem::take(&mut self.headers);
                let hooks = &self.shared.hooks;
                let decision = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    hooks.ws_data(payload.as_ref(), &headers, self.peer)
                }));
                match decision {
                    Ok(Ok(data)) => {
                        self.session = Some(Arc::new(data));
                        self.send(encode("connection_ack", None, None::<()>)).await;
                        if self.protocol == Protocol::Legacy {
                            self.send(encode("ka", None, None::<()>)).await;
                        }
                        None
                    }
                    // The reason says why, in the hook's words (for a bad token: what HTTP
                    // says about the same token).
                    Ok(Err(reason)) => self.refuse(FORBIDDEN, &reason).await,
                    Err(_) => {
                        tracing::error!("the ws_data hook panicked");
                        self.refuse(INTERNAL_SERVER_ERROR, "Internal server error")
                            .await
                    }
                }
            }
            ClientMessage::Ping(payload) => {
                self.send(encode("pong", None, payload)).await;
                None
            }
            ClientMessage::Pong => None,
            ClientMessage::Subscribe { id, params } => {
                let Some(session) = self.session.clone() else {
                    return self.refuse(UNAUTHORIZED, "Unauthorized").await;
                };
                if let Some(close) = self.check_id(&id).await {
                    return Some(close);
                }
                if let Some(previous) = self.operations.remove(&id) {
                    if self.protocol == Protocol::TransportWs {
                        return Some(CloseCmd::protocol(
                            SUBSCRIBER_EXISTS,
                            &format!("Subscriber for {id} already exists"),
                        ));
                    }
                    // subscriptions-transport-ws replaces the operation.
                    self.stop(&id, previous).await;
                }
                let limits = &self.shared.options.ws_limits;
                if self.operations.len() >= limits.max_operations {
                    let stats = &self.shared.options.ws_stats;
                    stats.refused_operations.fetch_add(1, Ordering::Relaxed);
                    let refusal = rate_limited(format!(
                        "Too many operations on this connection (at most {}); complete one first",
                        limits.max_operations
                    ));
                    self.send_request_error(&id, &[refusal]).await;
                    return None;
                }
                self.start(id, params, session).await;
                None
            }
            ClientMessage::Complete { id } => {
                if let Some(close) = self.check_id(&id).await {
                    return Some(close);
                }
                if let Some(operation) = self.operations.remove(&id) {
                    self.stop(&id, operation).await;
                    // graphql-transport-ws: the client knows; legacy servers confirm a `stop`.
                    if self.protocol == Protocol::Legacy {
                        self.send(encode("complete", Some(&id), None::<()>)).await;
                    }
                }
                None
            }
            ClientMessage::ConnectionTerminate => {
                Some(CloseCmd::protocol(NORMAL_CLOSURE, "Connection terminated"))
            }
        }
    }

    /// An operation id over the length limit closes the connection (4400): ids are kept for
    /// as long as their operation runs.
    async fn check_id(&self, id: &str) -> Option<CloseCmd> {
        let longest = self.shared.options.ws_limits.max_id_length;
        if id.len() <= longest {
            return None;
        }
        let stats = &self.shared.options.ws_stats;
        stats.refused_ids.fetch_add(1, Ordering::Relaxed);
        self.malformed(&format!("the operation id is longer than {longest} bytes"))
            .await
    }

    async fn start(&mut self, id: String, params: Params, session: Arc<Data>) {
        let mut prepared = match prepare_costed(
            params,
            &self.shared.shape,
            &self.shared.options.cost,
            &self.shared.options.metrics,
        ) {
            Ok(prepared) => prepared,
            Err(errors) => return self.send_request_error(&id, &errors).await,
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let active = self.shared.active_subscription(&prepared);
        let stats = self.shared.options.ws_stats.clone();
        let span = tracing::info_span!("ws_operation", operation_id = %id);
        let running = match self.shared_key(&mut prepared.request, prepared.operation, &session) {
            Some(key) => {
                let view = self.shared.views.join(
                    key,
                    &self.shared.executor,
                    prepared.request,
                    session,
                    &stats,
                );
                let follower = Box::new(Follower::new(self.protocol, &id, generation, view, stats));
                let _ = self
                    .out
                    .send(Box::new(Outbound::Follow(id.as_str().into(), follower)))
                    .await;
                Running::Follower
            }
            None => {
                let stream = self
                    .shared
                    .executor
                    .execute_stream(prepared.request, Some(session));
                let out = self.out.clone();
                let finished = self.finished_tx.clone();
                let operation = (self.protocol, id.clone(), generation, out, finished);
                let task = tokio::spawn(crate::request::carry(
                    counted(stats, drive(stream, operation)).instrument(span),
                ));
                Running::Task(task.abort_handle())
            }
        };
        self.operations.insert(
            id,
            Operation {
                generation,
                running,
                _active: active,
            },
        );
    }

    /// The key under which a subscription is shared with other connections, if the hooks allow
    /// it: the session's share key with the document, operation and variables.
    fn shared_key(
        &self,
        request: &mut Request,
        operation: OperationType,
        session: &Data,
    ) -> Option<String> {
        if operation != OperationType::Subscription {
            return None;
        }
        let query = request.query.clone();
        let operation_name = request.operation_name.clone();
        let variables = serde_json::to_string(&request.variables).ok()?;
        let document = request.parsed_query().ok()?;
        let definition = select_operation(document, operation_name.as_deref()).ok()?;
        let mut root_fields = Vec::new();
        for selection in &definition.node.selection_set.node.items {
            match &selection.node {
                Selection::Field(field) => root_fields.push(field.node.name.node.as_str()),
                // Fragments at the root: not worth the analysis, run it on its own.
                _ => return None,
            }
        }
        let key = self
            .shared
            .hooks
            .shared_subscription(&root_fields, session)?;
        Some(format!(
            "{key}\u{0}{query}\u{0}{}\u{0}{variables}",
            operation_name.unwrap_or_default()
        ))
    }

    async fn on_finished(&mut self, finished: Finished) {
        let Finished {
            id,
            generation,
            outcome,
        } = finished;
        // A stale report: the client completed the operation, and may have reused its id.
        if self
            .operations
            .get(&id)
            .is_none_or(|operation| operation.generation != generation)
        {
            return;
        }
        self.operations.remove(&id);
        match outcome {
            Outcome::Completed => self.send(encode("complete", Some(&id), None::<()>)).await,
            Outcome::RequestError(errors) => {
                self.shared.options.metrics.refused_by_validation(&errors);
                self.send_request_error(&id, &errors).await
            }
            Outcome::Internal => match self.protocol {
                Protocol::TransportWs => {
                    self.send(encode("error", Some(&id), Some([internal_error()])))
                        .await
                }
                Protocol::Legacy => {
                    self.send(encode("error", Some(&id), Some(internal_error())))
                        .await
                }
            },
        }
    }

    /// The operation failed before execution: `error` with the errors (graphql-transport-ws), or
    /// like subscriptions-transport-ws, `data` with the errors and then `complete`.
    async fn send_request_error(&self, id: &str, errors: &[ServerError]) {
        match self.protocol {
            Protocol::TransportWs => self.send(encode("error", Some(id), Some(errors))).await,
            Protocol::Legacy => {
                self.send(encode("data", Some(id), Some(WireResponse::errors(errors))))
                    .await;
                self.send(encode("complete", Some(id), None::<()>)).await;
            }
        }
    }
}

/// Runs one operation: forwards its results (each send waits for room in the connection's
/// queue) and reports how it ended.
/// Where an operation's results go: its connection's protocol, id and generation, the
/// connection's outgoing queue, and the report of how it ended.
type Route = (Protocol, String, u64, OutboundSender, FinishedSender);

/// Counts an operation as running (in [`WsStats::operations`]) while it lives.
struct Counted(Arc<WsStats>);

impl Counted {
    fn new(stats: Arc<WsStats>) -> Self {
        stats.operations.fetch_add(1, Ordering::Relaxed);
        Counted(stats)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.operations.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts an operation as running while it runs.
async fn counted(stats: Arc<WsStats>, operation: impl std::future::Future<Output = ()>) {
    let _running = Counted::new(stats);
    operation.await;
}

async fn drive(stream: BoxStream<'static, Response>, route: Route) {
    let (protocol, id, generation, out, finished) = route;
    let next = match protocol {
        Protocol::TransportWs => "next",
        Protocol::Legacy => "data",
    };
    let mut stream = AssertUnwindSafe(stream).catch_unwind();
    let mut first = true;
    let outcome = loop {
        match stream.next().await {
            None => break Outcome::Completed,
            Some(Err(_)) => {
                tracing::error!(operation = %id, "a GraphQL operation panicked");
                break Outcome::Internal;
            }
            Some(Ok(response)) => {
                if first && is_request_error(&response) {
                    break Outcome::RequestError(response.errors);
                }
                first = false;
                let message = encode(next, Some(&id), Some(WireResponse::executed(&response)));
                if out
                    .send(Box::new(Outbound::Message(message)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    };
    let _ = finished.send(Box::new(Finished {
        id,
        generation,
        outcome,
    }));
}

fn rate_limited(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", crate::error::ErrorCode::RateLimited.as_str());
    error.extensions = Some(extensions);
    error
}

/// Subscriptions executed once for all the connections that share them (see
/// [`super::GraphqlHooks::shared_subscription`]): one execution and one serialised payload per
/// change, however many screens follow it. Each subscriber gets the latest payload: one that
/// reads slowly skips intermediate states, never the last one.
#[derive(Default)]
pub(super) struct SharedViews {
    views: Mutex<HashMap<String, Weak<View>>>,
}

/// One shared subscription; its execution stops when the last subscriber lets go.
struct View {
    state: watch::Receiver<Arc<ViewState>>,
    driver: tokio::task::AbortHandle,
    stats: Arc<WsStats>,
}

impl Drop for View {
    fn drop(&mut self) {
        self.driver.abort();
        self.stats.shared_executions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The latest result of a shared subscription: the payload of the `seq`th result (serialised
/// once), and how it ended once it has.
#[derive(Default)]
struct ViewState {
    seq: u64,
    payload: Option<Arc<str>>,
    end: Option<ViewEnd>,
}

#[derive(Clone)]
enum ViewEnd {
    Completed,
    RequestError(Vec<ServerError>),
    Internal,
}

impl SharedViews {
    /// The running view for `key`, or a new one executing `request` with `session`.
    fn join<E: Executor>(
        &self,
        key: String,
        executor: &E,
        request: Request,
        session: Arc<Data>,
        stats: &Arc<WsStats>,
    ) -> Arc<View> {
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = views.get(&key).and_then(Weak::upgrade) {
            return view;
        }
        if views.len() >= 256 {
            views.retain(|_, view| view.strong_count() > 0);
        }
        let (sender, state) = watch::channel(Arc::new(ViewState::default()));
        let stream = executor.execute_stream(request, Some(session));
        let driver = tokio::spawn(drive_view(stream, sender)).abort_handle();
        stats.shared_executions.fetch_add(1, Ordering::Relaxed);
        let view = Arc::new(View {
            state,
            driver,
            stats: stats.clone(),
        });
        views.insert(key, Arc::downgrade(&view));
        view
    }
}

/// Executes a shared subscription, serialising each result once for every subscriber.
async fn drive_view(stream: BoxStream<'static, Response>, sender: watch::Sender<Arc<ViewState>>) {
    let mut stream = AssertUnwindSafe(stream).catch_unwind();
    let mut seq = 0;
    let end = loop {
        match stream.next().await {
            None => break ViewEnd::Completed,
            Some(Err(_)) => {
                tracing::error!("a shared GraphQL subscription panicked");
                break ViewEnd::Internal;
            }
            Some(Ok(response)) => {
                if seq == 0 && is_request_error(&response) {
                    break ViewEnd::RequestError(response.errors);
                }
                let payload = match serde_json::to_string(&WireResponse::executed(&response)) {
                    Ok(payload) => payload,
                    Err(error) => {
                        tracing::error!(%error, "could not serialize a shared subscription's result");
                        break ViewEnd::Internal;
                    }
                };
                seq += 1;
                sender.send_replace(Arc::new(ViewState {
                    seq,
                    payload: Some(payload.into()),
                    end: None,
                }));
            }
        }
    };
    let payload = sender.borrow().payload.clone();
    sender.send_replace(Arc::new(ViewState {
        seq,
        payload,
        end: Some(end),
    }));
}

/// One subscriber of a shared view, followed by its connection's writer (no task of its own):
/// a stream of the `next` messages to send, the newest state each time the writer takes one,
/// and at the end the report of how the view ended.
struct Follower {
    id: String,
    generation: u64,
    /// `{"type":"next","id":"<id>","payload":`: the message around a payload.
    prefix: String,
    changes: WatchStream<Arc<ViewState>>,
    seen: u64,
    /// How the view ended, reported after its last `next` went out.
    end: Option<Outcome>,
    done: bool,
    /// The view runs as long as a subscriber holds it.
    _view: Arc<View>,
    _running: Counted,
}

enum FollowerEvent {
    Next(Message),
    End(Finished),
}

impl Follower {
    fn new(
        protocol: Protocol,
        id: &str,
        generation: u64,
        view: Arc<View>,
        stats: Arc<WsStats>,
    ) -> Self {
        let next = match protocol {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        };
        let id_json = serde_json::to_string(id).unwrap_or_default();
        Follower {
            id: id.to_owned(),
            generation,
            prefix: format!(r#"{{"type":"{next}","id":{id_json},"payload":"#),
            changes: WatchStream::new(view.state.clone()),
            seen: 0,
            end: None,
            done: false,
            _view: view,
            _running: Counted::new(stats),
        }
    }

    fn finished(&mut self, outcome: Outcome) -> FollowerEvent {
        self.done = true;
        FollowerEvent::End(Finished {
            id: std::mem::take(&mut self.id),
            generation: self.generation,
            outcome,
        })
    }
}

impl futures::Stream for Follower {
    type Item = FollowerEvent;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<FollowerEvent>> {
        use std::task::Poll;
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(outcome) = this.end.take() {
            return Poll::Ready(Some(this.finished(outcome)));
        }
        loop {
            let Some(state) = futures::ready!(this.changes.poll_next_unpin(cx)) else {
                return Poll::Ready(Some(this.finished(Outcome::Completed)));
            };
            let end = state.end.as_ref().map(|end| match end {
                ViewEnd::Completed => Outcome::Completed,
                ViewEnd::RequestError(errors) => Outcome::RequestError(errors.clone()),
                ViewEnd::Internal => Outcome::Internal,
            });
            if state.seq > this.seen {
                if let Some(payload) = &state.payload {
                    this.seen = state.seq;
                    this.end = end;
                    let mut text = String::with_capacity(this.prefix.len() + payload.len() + 1);
                    text.push_str(&this.prefix);
                    text.push_str(payload);
                    text.push('}');
                    return Poll::Ready(Some(FollowerEvent::Next(Message::Text(text.into()))));
                }
            }
            if let Some(outcome) = end {
                return Poll::Ready(Some(this.finished(outcome)));
            }
        }
    }
}
