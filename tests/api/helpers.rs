//! What every test uses: a fresh service on a fresh database ([`spawn_app`]), GraphQL over
//! HTTP ([`TestApp::graphql`]), a small graphql-transport-ws client ([`WsClient`]), fixtures
//! in the domain's words ([`TestApp::submit`], [`TestApp::fund`], ...), and the real binary
//! ([`Binary`]) for the tests that need the program itself.
//!
//! Every test is written once and instantiated per backend by [`e2e_tests!`]: `sqlite::<name>`
//! always, `postgres::<name>` against the server of `TEST_DATABASE_URL` (it says it was
//! skipped without it). Each instance gets a new database that is removed when the test ends.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wijkpuls_api::auth::{Role, TokenKey};
use wijkpuls_api::{Application, Config};
use wijkpuls_domain::GebiedCode;
use wijkpuls_event_store::testing::TestDatabase;

/// How long any wait for the service may take before the test fails. Generous: it only
/// matters when something is wrong, never on the happy path.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The budget year the tests work in.
pub const YEAR: i32 = 2026;

/// Wijken used as fixtures, with their gebied.
pub const KLARENDAL: &str = "WK020207"; // W2 Noordwest
pub const SONSBEEK: &str = "WK020206"; // W2 Noordwest
pub const CENTRUM: &str = "WK020201"; // W1 Centrum-Spijkerkwartier-Arnhemse Broek

/// The fields of `StatusCounts`, one per status.
pub const STATUS_FIELDS: [&str; 7] = [
    "submitted",
    "connected",
    "funded",
    "completed",
    "rejected",
    "withdrawn",
    "referred",
];
pub const PRESIKHAAF_WEST: &str = "WK020204"; // W4 Presikhaaf

/// Instantiates each test of the calling module once per backend, as `sqlite::<name>` and
/// `postgres::<name>`: those under `app` are `async fn(TestApp)` and get a freshly spawned
/// service on a fresh database; those under `backend` are `async fn(Backend)` and start the
/// service (or the binary) their own way.
macro_rules! e2e_tests {
    (@app $test:ident $backend:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let backend = $crate::helpers::Backend::$backend(concat!(module_path!(), "::", stringify!($test)));
            if let Some(app) = $crate::helpers::spawn_app(backend).await {
                super::$test(app).await;
            }
        }
    };
    (@backend $test:ident $backend:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            super::$test($crate::helpers::Backend::$backend(concat!(module_path!(), "::", stringify!($test)))).await;
        }
    };
    (app: [$($app:ident),* $(,)?], backend: [$($raw:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $( e2e_tests!(@app $app sqlite); )*
            $( e2e_tests!(@backend $raw sqlite); )*
        }
        mod postgres {
            $( e2e_tests!(@app $app postgres); )*
            $( e2e_tests!(@backend $raw postgres); )*
        }
    };
}

/// [`e2e_tests!`] for a module of `async fn(TestApp)` tests only.
macro_rules! app_tests {
    ($($test:ident),+ $(,)?) => {
        e2e_tests!(app: [$($test),+], backend: []);
    };
}

/// [`e2e_tests!`] for a module of `async fn(Backend)` tests only.
macro_rules! backend_tests {
    ($($test:ident),+ $(,)?) => {
        e2e_tests!(app: [], backend: [$($test),+]);
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Which database a test runs on, and the test's name (for the "skipped" line).
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    pub kind: Kind,
    pub test: &'static str,
}

impl Backend {
    pub fn sqlite(test: &'static str) -> Backend {
        Backend {
            kind: Kind::Sqlite,
            test,
        }
    }

    pub fn postgres(test: &'static str) -> Backend {
        Backend {
            kind: Kind::Postgres,
            test,
        }
    }

    /// A fresh database, or `None` when PostgreSQL is not configured (reported as skipped).
    pub async fn database(self) -> Option<TestDatabase> {
        match self.kind {
            Kind::Sqlite => Some(TestDatabase::sqlite()),
            Kind::Postgres => TestDatabase::postgres(self.test).await,
        }
    }
}

/// The service running on port 0 of 127.0.0.1, on its own database.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub tokens: TokenKey,
    /// A token of an admin ("beheer").
    pub admin_token: String,
    /// The running service's state (for tests that look inside, e.g. pause the tailer).
    pub state: Arc<wijkpuls_api::schema::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    // Last: dropped after the service is told to stop. Shared by a second instance.
    pub db: Arc<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A service with the configuration tests use by default: anonymous submissions unlimited (the
/// limit has a test of its own).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let db = Arc::new(backend.database().await?);
    Some(start(db, configure).await)
}

/// Another instance of the service on the same database (scale-out).
pub async fn spawn_instance(app: &TestApp) -> TestApp {
    start(app.db.clone(), |_| {}).await
}

/// Another instance on the same database, configured its own way.
pub async fn spawn_instance_with(app: &TestApp, configure: impl FnOnce(&mut Config)) -> TestApp {
    start(app.db.clone(), configure).await
}

/// A service on a fresh database of `backend` started with `--demo-years years` (`None` when the
/// backend is not available here, like [`Backend::database`]).
pub async fn start_demo(backend: Backend, years: u32) -> Option<TestApp> {
    let db = backend.database().await?;
    Some(
        start(Arc::new(db), |c| {
            c.demo = true;
            c.demo_years = years;
        })
        .await,
    )
}

/// A service on `db` configured by `configure` (for instances that must start together).
pub async fn start(db: Arc<TestDatabase>, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::new(db.url());
    config.listen = "127.0.0.1:0".into();
    config.submit_per_minute = 0;
    configure(&mut config);
    let app = Application::build(config)
        .await
        .unwrap_or_else(|e| panic!("the application does not start: {e:#}"));
    let address = app.local_addr();
    let tokens = app.state().tokens.clone();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let admin_token = tokens.issue(Role::Admin, "beheer", &[], Duration::from_secs(3600));
    TestApp {
        address,
        client: reqwest::Client::new(),
        tokens,
        admin_token,
        state,
        stop: Some(stop),
        db,
    }
}

/// A GraphQL error as the client sees it.
#[derive(Debug, Clone)]
pub struct GqlError {
    pub code: Option<String>,
    pub message: String,
    /// `extensions.requestId`: the request (or WebSocket connection) it answers.
    pub request_id: Option<String>,
}

impl GqlError {
    pub fn from_json(error: &Value) -> GqlError {
        GqlError {
            code: error["extensions"]["code"].as_str().map(str::to_owned),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            request_id: error["extensions"]["requestId"].as_str().map(str::to_owned),
        }
    }
}

/// Words that must never reach a client: internals of the database, the file system, Rust.
const INTERNALS: &[&str] = &[
    "sqlx",
    "sqlite",
    "postgres",
    "SELECT",
    "INSERT",
    "UPDATE ",
    "/tmp",
    "src/",
    ".rs:",
    "panicked",
    "backtrace",
    "anyhow",
    "StoreError",
    "DomainError",
];

/// Asserts that an error message is fit for a person: not empty, no internals.
pub fn assert_safe_message(message: &str) {
    assert!(!message.trim().is_empty(), "an error without a message");
    for word in INTERNALS {
        assert!(
            !message.to_lowercase().contains(&word.to_lowercase()),
            "error message {message:?} leaks internals ({word:?})"
        );
    }
}

/// Fixtures' results.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub id: String,
    pub tracking_code: String,
}

/// What an initiative looks like to the tests.
pub const INITIATIVE_FIELDS: &str = "id status title description theme channel enteredByStaff
    requestedAmount fundedAmount fundedYear spentAmount report rejectionReason referredTo
    withdrawnBy initiatorErased wijk { code } history { type status position summary }
    connections { initiativeId incoming note party { kind name } }";

pub const BUDGET_FIELDS: &str =
    "year allocated committed spent remaining lines { theme allocated committed spent remaining }";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn staff_token(&self, gebied: &str) -> String {
        self.staff_token_for("anna", &[gebied])
    }

    pub fn staff_token_for(&self, subject: &str, gebieden: &[&str]) -> String {
        let gebieden: Vec<GebiedCode> = gebieden
            .iter()
            .map(|g| GebiedCode::parse(g).expect("a gebied code"))
            .collect();
        self.tokens
            .issue(Role::Staff, subject, &gebieden, Duration::from_secs(3600))
    }

    /// `POST /graphql` with JSON in and out; the whole response (`data` and `errors`).
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        graphql_with(&self.client, self.address, query, variables, token).await
    }

    /// The `data` of a request that must succeed.
    pub async fn data(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let response = self.graphql(query, variables.clone(), token).await;
        assert!(
            response
                .get("errors")
                .is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty())),
            "expected success for {query} with {variables}, got {response:#}"
        );
        response["data"].clone()
    }

    /// The (first) error of a request that must be refused; its message is checked to be fit
    /// for a person.
    pub async fn error(&self, query: &str, variables: Value, token: Option<&str>) -> GqlError {
        let response = self.graphql(query, variables.clone(), token).await;
        let errors = response["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            !errors.is_empty(),
            "expected an error for {query} with {variables}, got {response:#}"
        );
        let error = GqlError::from_json(&errors[0]);
        assert_safe_message(&error.message);
        error
    }

    /// Asserts a refusal with `code`, and returns its message.
    pub async fn refused(
        &self,
        code: &str,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> String {
        let error = self.error(query, variables.clone(), token).await;
        assert_eq!(
            error.code.as_deref(),
            Some(code),
            "expected {code} for {query} with {variables}, got {error:?}"
        );
        error.message
    }

    /// Every event in the log, oldest first, as the staff feed shows them (paged by 500).
    pub async fn events(&self) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let after = all
                .last()
                .map(|e| e["position"].clone())
                .unwrap_or(json!("0"));
            let data = self
                .data(
                    "query($after: Position) { events(after: $after, first: 500) { position type summary actor initiativeId wijk { code } } }",
                    json!({ "after": after }),
                    Some(&self.admin_token),
                )
                .await;
            let page = data["events"].as_array().cloned().unwrap_or_default();
            let done = page.len() < 500;
            all.extend(page);
            if done {
                return all;
            }
        }
    }

    /// How many events the log holds and the last position: equal before and after means
    /// nothing was recorded.
    pub async fn head(&self) -> (usize, u64) {
        let events = self.events().await;
        let last = events.last().map(|e| position(&e["position"])).unwrap_or(0);
        (events.len(), last)
    }

    /// Submits an initiative as the public (Klarendal-style defaults are the caller's).
    pub async fn submit(&self, wijk: &str, theme: &str, amount: &str) -> Submitted {
        self.submit_with(
            json!({
                "wijkCode": wijk,
                "title": format!("Initiatief {theme} in {wijk}"),
                "description": "Een buurtidee",
                "theme": theme,
                "requestedAmount": amount,
                "initiator": { "name": "Bewoner Testpersoon", "email": "bewoner@example.nl" },
            }),
            None,
        )
        .await
    }

    /// Submits `input` with `token`; panics on a refusal.
    pub async fn submit_with(&self, input: Value, token: Option<&str>) -> Submitted {
        let data = self.data(SUBMIT, json!({ "input": input }), token).await;
        let payload = &data["submitInitiative"];
        Submitted {
            id: payload["initiative"]["id"]
                .as_str()
                .expect("an initiative id")
                .to_owned(),
            tracking_code: payload["trackingCode"]
                .as_str()
                .expect("a tracking code")
                .to_owned(),
        }
    }

    /// Sets a budget line of `YEAR` (as admin); returns the wijk's budget.
    pub async fn allocate(&self, wijk: &str, theme: &str, amount: &str) -> Value {
        let data = self
            .data(
                ALLOCATE,
                json!({ "input": { "wijkCode": wijk, "year": YEAR, "theme": theme, "amount": amount } }),
                Some(&self.admin_token),
            )
            .await;
        data["allocateBudget"].clone()
    }

    /// The whole answer to setting a budget line of `YEAR` (as admin), refusals included.
    pub async fn allocate_answer(&self, wijk: &str, theme: &str, amount: &str) -> Value {
        self.graphql(
            ALLOCATE,
            json!({ "input": { "wijkCode": wijk, "year": YEAR, "theme": theme, "amount": amount } }),
            Some(&self.admin_token),
        )
        .await
    }

    /// Funds from `YEAR` as admin.
    pub async fn fund(&self, id: &str, amount: &str) -> Value {
        let data = self
            .data(
                FUND,
                json!({ "input": { "initiativeId": id, "amount": amount, "year": YEAR } }),
                Some(&self.admin_token),
            )
            .await;
        data["fundInitiative"].clone()
    }

    pub async fn reject(&self, id: &str) -> Value {
        let data = self
            .data(
                REJECT,
                json!({ "input": { "initiativeId": id, "reason": "Past niet in het wijkprogramma" } }),
                Some(&self.admin_token),
            )
            .await;
        data["rejectInitiative"].clone()
    }

    /// An initiative as `token` sees it.
    pub async fn initiative(&self, id: &str, token: Option<&str>) -> Value {
        let data = self
            .data(
                &format!("query($id: ID!) {{ initiative(id: $id) {{ {INITIATIVE_FIELDS} }} }}"),
                json!({ "id": id }),
                token,
            )
            .await;
        data["initiative"].clone()
    }

    /// A wijk's budget of `YEAR`.
    pub async fn budget(&self, wijk: &str) -> Value {
        let data = self
            .data(
                &format!("query($code: ID!, $year: Int) {{ wijk(code: $code) {{ budget(year: $year) {{ {BUDGET_FIELDS} }} }} }}"),
                json!({ "code": wijk, "year": YEAR }),
                None,
            )
            .await;
        data["wijk"]["budget"].clone()
    }

    /// One theme's line of a wijk's budget of `YEAR`.
    pub async fn line(&self, wijk: &str, theme: &str) -> Value {
        line_of(&self.budget(wijk).await, theme)
    }

    /// Opens a WebSocket on `/graphql/ws` with the graphql-transport-ws subprotocol and
    /// initialises it with `token`; panics unless acknowledged.
    pub async fn ws(&self, token: Option<&str>) -> WsClient {
        let mut ws = WsClient::connect(self.address).await;
        match ws.init(token).await {
            Init::Acknowledged => ws,
            other => panic!("connection_init was not acknowledged: {other:?}"),
        }
    }
}

/// One budget line (by theme) of a `Budget` value.
pub fn line_of(budget: &Value, theme: &str) -> Value {
    budget["lines"]
        .as_array()
        .expect("budget lines")
        .iter()
        .find(|l| l["theme"] == theme)
        .unwrap_or_else(|| panic!("no {theme} line in {budget}"))
        .clone()
}

/// A `Position` value (a decimal string) as a number.
pub fn position(value: &Value) -> u64 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a position travels as a string, got {value}"))
        .parse()
        .unwrap_or_else(|_| panic!("a position is digits, got {value}"))
}

/// A `Money` value as cents, checking its form: a string with exactly two decimals.
pub fn cents(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("money travels as a string, got {value}"));
    let (euros, decimals) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("money has two decimals, got {text:?}"));
    assert!(
        decimals.len() == 2 && decimals.chars().all(|c| c.is_ascii_digit()),
        "money has two decimals, got {text:?}"
    );
    assert!(
        !euros.is_empty() && euros.chars().all(|c| c.is_ascii_digit()),
        "money is a plain number of euros, got {text:?}"
    );
    euros.parse::<i64>().expect("euros") * 100 + decimals.parse::<i64>().expect("cents")
}

/// `POST /graphql` on any client (e.g. a fresh one, for a new connection).
pub async fn graphql_with(
    client: &reqwest::Client,
    address: SocketAddr,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Value {
    let mut request = client
        .post(format!("http://{address}/graphql"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("the service answers in time")
        .expect("the request reaches the service");
    let status = response.status();
    let body = response.text().await.expect("a response body");
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("the response ({status}) is not JSON ({e}): {body}"))
}

pub const SUBMIT: &str = "mutation($input: SubmitInitiativeInput!) {
    submitInitiative(input: $input) { initiative { id status } trackingCode } }";
pub const ALLOCATE: &str = "mutation($input: AllocateBudgetInput!) {
    allocateBudget(input: $input) { year allocated committed spent remaining lines { theme allocated committed spent remaining } } }";
pub const CONNECT: &str = "mutation($input: ConnectInitiativeInput!) {
    connectInitiative(input: $input) { id status connections { initiativeId incoming note party { kind name } } } }";
pub const FUND: &str = "mutation($input: FundInitiativeInput!) {
    fundInitiative(input: $input) { id status fundedAmount fundedYear } }";
pub const COMPLETE: &str = "mutation($input: CompleteInitiativeInput!) {
    completeInitiative(input: $input) { id status fundedAmount spentAmount report } }";
pub const REJECT: &str = "mutation($input: RejectInitiativeInput!) {
    rejectInitiative(input: $input) { id status rejectionReason } }";
pub const REFER: &str = "mutation($input: ReferInitiativeInput!) {
    referInitiative(input: $input) { id status referredTo } }";
pub const WITHDRAW: &str = "mutation($input: WithdrawInitiativeInput!) {
    withdrawInitiative(input: $input) { id status withdrawnBy fundedAmount } }";
pub const ERASE: &str = "mutation($input: EraseInitiatorDataInput!) {
    eraseInitiatorData(input: $input) { id status title initiatorErased initiator { name email phone } } }";
pub const CHANGE_TEAM_CONTACT: &str = "mutation($input: ChangeTeamContactInput!) {
    changeTeamContact(input: $input) { code name team { email phone } } }";

/// How `connection_init` was answered (or how a connection ended).
#[derive(Debug)]
// The payloads are read through `Debug`, in failure messages.
#[allow(dead_code)]
pub enum Init {
    Acknowledged,
    /// The server closed the socket, with this close code (if it sent one).
    Closed(Option<u16>),
    /// The socket ended or failed without a close frame.
    Dropped(String),
    /// Some other message came first.
    Unexpected(Value),
}

/// A message of one subscription.
#[derive(Debug, Clone)]
pub enum Next {
    Data(Value),
    Errors(Vec<GqlError>),
    Complete,
}

/// A tiny graphql-transport-ws client: init, subscribe, read `next` per subscription id
/// (messages of other ids wait in a queue), answer pings.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    queued: HashMap<String, VecDeque<Next>>,
    /// The reason of the close frame the server sent, once it closed.
    pub close_reason: Option<String>,
}

impl WsClient {
    pub async fn connect(address: SocketAddr) -> WsClient {
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .expect("a WebSocket request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, response) =
            tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
                .await
                .expect("the WebSocket opens in time")
                .expect("the WebSocket opens");
        assert_eq!(
            response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws"),
            "the server speaks graphql-transport-ws"
        );
        WsClient {
            socket,
            next_id: 0,
            queued: HashMap::new(),
            close_reason: None,
        }
    }

    /// Sends any protocol message, as a client that does not follow the rules might.
    pub async fn send_raw(&mut self, message: Value) {
        self.send(message).await
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send on the WebSocket");
    }

    /// The next protocol message (pings answered); `Err` when the socket closed or failed.
    async fn receive(&mut self) -> Result<Value, Init> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .map_err(|_| Init::Dropped("no message in time".into()))?;
            match frame {
                None => return Err(Init::Dropped("the socket ended".into())),
                Some(Err(e)) => return Err(Init::Dropped(e.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    self.close_reason = frame.as_ref().map(|f| f.reason.to_string());
                    return Err(Init::Closed(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(Message::Text(text))) => {
                    let message: Value =
                        serde_json::from_str(text.as_str()).expect("protocol messages are JSON");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Ok(message);
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends `connection_init` (with `{"authorization": "Bearer TOKEN"}` for a token) and
    /// says how the server answered.
    pub async fn init(&mut self, token: Option<&str>) -> Init {
        let payload = match token {
            Some(token) => json!({ "authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.init_with(payload).await
    }

    /// Sends `connection_init` with any payload and says how the server answered.
    pub async fn init_with(&mut self, payload: Value) -> Init {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match self.receive().await {
            Ok(message) if message["type"] == "connection_ack" => Init::Acknowledged,
            Ok(other) => Init::Unexpected(other),
            Err(closed) => closed,
        }
    }

    /// Starts a subscription; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
        id
    }

    /// The next message of subscription `id`.
    pub async fn next(&mut self, id: &str) -> Next {
        if let Some(next) = self.queued.get_mut(id).and_then(VecDeque::pop_front) {
            return next;
        }
        loop {
            let message = self
                .receive()
                .await
                .unwrap_or_else(|e| panic!("waiting for subscription {id}: {e:?}"));
            let Some(of) = message["id"].as_str().map(str::to_owned) else {
                panic!("unexpected message {message}");
            };
            let next = match message["type"].as_str() {
                Some("next") => {
                    let errors = message["payload"]["errors"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if errors.is_empty() {
                        Next::Data(message["payload"]["data"].clone())
                    } else {
                        Next::Errors(errors.iter().map(GqlError::from_json).collect())
                    }
                }
                Some("error") => Next::Errors(
                    message["payload"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(GqlError::from_json)
                        .collect(),
                ),
                Some("complete") => Next::Complete,
                _ => panic!("unexpected message {message}"),
            };
            if of == id {
                return next;
            }
            self.queued.entry(of).or_default().push_back(next);
        }
    }

    /// The next `data` of subscription `id`; panics on errors or completion.
    pub async fn data(&mut self, id: &str) -> Value {
        match self.next(id).await {
            Next::Data(data) => data,
            other => panic!("expected data on subscription {id}, got {other:?}"),
        }
    }

    /// Reads `data` of subscription `id` until `done` holds for one (a state subscription
    /// may skip intermediate states); returns that one.
    pub async fn data_until(&mut self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let data = self.data(id).await;
                if done(&data) {
                    return data;
                }
                seen.push(data);
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("the awaited update never came on {id}; saw {seen:?}"))
    }

    /// Waits for the server to end the connection; the close code, if it sent one. Messages
    /// that come first are ignored.
    pub async fn closed(&mut self) -> Init {
        loop {
            match self.receive().await {
                Ok(_) => continue,
                Err(end) => return end,
            }
        }
    }
}

/// The real program, `wijkpuls`, with an environment of its own: nothing of the caller's
/// database, listen address, secret or log settings leaks in.
pub fn wijkpuls() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wijkpuls"));
    for variable in [
        "DATABASE_URL",
        "RUST_LOG",
        "RUST_BACKTRACE",
        "WIJKPULS_LISTEN",
        "WIJKPULS_LOG_FORMAT",
        "WIJKPULS_DEMO",
        "WIJKPULS_DEMO_YEARS",
        "WIJKPULS_AUTH_SECRET",
        "WIJKPULS_AUTH_SECRET_FILE",
        "WIJKPULS_CODE_GUESSES_PER_MINUTE",
        "WIJKPULS_HEADER_READ_TIMEOUT",
        "WIJKPULS_MAX_CONNECTIONS",
        "WIJKPULS_TRUSTED_PROXIES",
        "WIJKPULS_CORS_ORIGINS",
        "WIJKPULS_WIJKEN_FILE",
        "WIJKPULS_WS_INIT_TIMEOUT",
        "WIJKPULS_SUBMIT_PER_MINUTE",
    ] {
        command.env_remove(variable);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Removes terminal colour sequences, so log lines can be read as text.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `wijkpuls serve` running as a child process, its stderr collected.
pub struct Binary {
    pub child: tokio::process::Child,
    pub address: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Whether any line had terminal colour sequences (the log keeps lines without them).
    coloured: Arc<std::sync::atomic::AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Binary {
    /// Starts `wijkpuls serve --listen 127.0.0.1:0 --database-url URL ARGS` with `env`, and
    /// waits for the line that says where it listens.
    pub async fn serve(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut command = wijkpuls();
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start wijkpuls serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, address) = tokio::sync::oneshot::channel::<SocketAddr>();
        let coloured = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = tokio::spawn({
            let log = log.clone();
            let coloured = coloured.clone();
            async move {
                let mut found = Some(found);
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains('\u{1b}') {
                        coloured.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    let line = plain(&line);
                    if let Some(at) = line.find("listening on http://") {
                        let rest = &line[at + "listening on http://".len()..];
                        // Up to white space, or the quote ending a JSON string.
                        let address = rest
                            .split(|c: char| c.is_whitespace() || c == '"')
                            .next()
                            .unwrap_or_default();
                        if let (Ok(address), Some(found)) = (address.parse(), found.take()) {
                            let _ = found.send(address);
                        }
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let address = match tokio::time::timeout(Duration::from_secs(60), address).await {
            Ok(Ok(address)) => address,
            _ => {
                let _ = child.start_kill();
                panic!(
                    "wijkpuls serve never said where it listens; its log:\n{}",
                    log.lock().unwrap()
                )
            }
        };
        Binary {
            child,
            address,
            log,
            coloured,
            reader,
        }
    }

    /// Whether it has written terminal colour sequences (it should not: stderr is a pipe).
    pub fn wrote_colours(&self) -> bool {
        self.coloured.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Everything it has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for it to exit; its exit status and its whole log.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server stops within 30 s of SIGTERM")
            .expect("wait for the server");
        let _ = tokio::time::timeout(PATIENCE, &mut self.reader).await;
        let log = self.log();
        (exit, log)
    }
}
