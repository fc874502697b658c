//! The application: opening the store, bringing the live state up, and serving HTTP.
//! [`Application::build`] binds the listener first, so tests can start the real service on
//! port 0 and read the port before it runs.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;
use wijkpuls_domain::{Command, DomainError, ReferenceData};
use wijkpuls_event_store::{EventStore, StoreOptions, Vault};

use crate::auth::{Actor, Role, TokenKey};
use crate::error::ApiError;
use crate::live::Live;
use crate::personal::Sealer;
use crate::ratelimit::RateLimiter;
use crate::schema::AppState;
use crate::service::{Service, ServiceOptions};

/// Everything `wijkpuls serve` can be told.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    /// Fill an empty store with demo years first.
    pub demo: bool,
    /// How many demo years, ending with the current one (at least 1).
    pub demo_years: u32,
    /// An operator's wijken file instead of Arnhem's (used only on an empty store).
    pub wijken_file: Option<PathBuf>,
    /// How long a WebSocket may wait before `connection_init`.
    pub ws_init_timeout: Duration,
    /// Anonymous submissions per client address per minute (0: no limit).
    pub submit_per_minute: u32,
    /// Overrides the signing key kept in the database.
    pub auth_secret: Option<String>,
    /// How long one mutation may take: queueing, deciding again after races lost to other
    /// servers, waiting for the live state to apply it.
    pub mutation_deadline: Duration,
    /// Bounds on WebSocket connections and their operations.
    pub ws_limits: crate::transport::WsLimits,
    /// Wrong tracking codes allowed per client address per minute (0: no limit).
    pub code_guesses_per_minute: u32,
    /// How long a client may take to send a request's headers; also how long a kept-alive
    /// connection may sit idle before its next request (hyper waits for a request head then).
    pub header_read_timeout: Duration,
    /// At most this many connections are open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for rate limits).
    pub trusted_proxies: Vec<crate::routes::TrustedProxy>,
    /// Origins whose pages may call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<crate::cors_compression::Origin>,
    /// Whether and how often the live state is stored as a snapshot beside the log.
    pub snapshots: crate::snapshot::SnapshotOptions,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: database_url.into(),
            demo: false,
            demo_years: 1,
            wijken_file: None,
            ws_init_timeout: Duration::from_secs(10),
            submit_per_minute: 10,
            auth_secret: None,
            mutation_deadline: crate::service::ServiceOptions::default().deadline,
            ws_limits: crate::transport::WsLimits::default(),
            code_guesses_per_minute: 10,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 16_000,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            snapshots: crate::snapshot::SnapshotOptions::default(),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    shutdown: tokio::sync::watch::Sender<bool>,
    limits: ConnectionLimits,
}

/// What bounds each connection (see [`Config`]).
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    max_connections: usize,
}

impl Application {
    /// Opens (and migrates) the database, replays the log, loads reference data (and the demo
    /// year) into an empty store, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let state = open(&config).await?;
        if !state.live.read().has_reference_data() {
            register(&state, reference_data(config.wijken_file.as_deref())?).await?;
        }
        if config.demo {
            crate::demo::load_if_empty(&state, config.demo_years).await?;
        }
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let router = crate::routes::router(state.clone(), &config, shutdown_rx);
        Ok(Application {
            listener,
            router,
            state,
            shutdown,
            limits: ConnectionLimits {
                header_read_timeout: config.header_read_timeout,
                max_connections: config.max_connections.max(1),
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves until `signal` completes, then stops accepting, finishes requests in flight,
    /// closes WebSockets with 1001 and stores a snapshot of the live state (so the next start
    /// replays nothing).
    ///
    /// Our own accept loop rather than `axum::serve`, which bounds neither how long a client
    /// may take to send its headers (slowloris) nor how many connections are open (each costs a
    /// file descriptor; running out of them stops the server from accepting anyone).
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = self.shutdown;
        let metrics = self.state.service.metrics.clone();
        let served = serve(self.listener, self.router, self.limits, metrics, signal).await;
        shutdown.send_replace(true);
        // Upgraded connections are not waited for: wait (briefly) until every WebSocket has
        // been closed with 1001 and let go of its receiver.
        let _ = tokio::time::timeout(Duration::from_secs(5), shutdown.closed()).await;
        if let Err(error) = self
            .state
            .live
            .write_shutdown_snapshot(&self.state.service.store)
            .await
        {
            tracing::warn!(%error, "cannot store a snapshot of the live state at shutdown");
        }
        served
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<crate::metrics::Metrics>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    use tokio::io::AsyncWriteExt as _;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut signal = std::pin::pin!(signal);
    let mut last_warned = None;
    loop {
        let (mut stream, peer) = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors (or a connection reset before it was accepted):
                    // keep serving those already open and try again shortly; say so at most
                    // once a second.
                    if last_warned.is_none_or(|at: std::time::Instant| at.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(%error, "cannot accept a connection; is --max-connections above the file descriptor limit?");
                        last_warned = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.refused(crate::metrics::Limit::Connections);
            // Full: say so and close, without waiting for the client.
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
                        )
                        .await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                tower_service::Service::call(&mut router.clone(), request)
            },
        );
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Opens the store and vault, replays the log and starts the tailer.
pub async fn open(config: &Config) -> anyhow::Result<Arc<AppState>> {
    let store = EventStore::open(&config.database_url, StoreOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let vault = Vault::open(&config.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database's vault: {e}"))?;
    let tokens = token_key(&vault, config.auth_secret.as_deref()).await?;
    let live = Live::start(&store, config.snapshots).await?;
    tokio::spawn(live.clone().follow(store.clone()));
    let service = Service::new(
        store,
        vault.clone(),
        live.clone(),
        ServiceOptions {
            deadline: config.mutation_deadline,
        },
    );
    let submissions = service.metrics.hits(crate::metrics::Limiter::Submissions);
    Ok(Arc::new(AppState {
        service,
        live,
        sealer: Sealer::new(vault),
        tokens,
        submit_limiter: RateLimiter::new(config.submit_per_minute, config.submit_per_minute.max(1))
            .counted(submissions),
    }))
}

/// The token signing key: `WIJKPULS_AUTH_SECRET` if given, else the one in the database.
pub async fn token_key(vault: &Vault, secret: Option<&str>) -> anyhow::Result<TokenKey> {
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        return Ok(TokenKey::new(secret.as_bytes()));
    }
    let key = vault
        .setting("auth_signing_key")
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the signing key: {e}"))?
        .context("the database has no signing key; was it migrated?")?;
    Ok(TokenKey::new(key.as_bytes()))
}

/// The wijken and gebieden an empty store is given: an operator's wijken file, else Arnhem's.
pub fn reference_data(wijken_file: Option<&std::path::Path>) -> anyhow::Result<ReferenceData> {
    let Some(path) = wijken_file else {
        return Ok(ReferenceData::arnhem());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the wijken file {}", path.display()))?;
    ReferenceData::parse(&text)
        .with_context(|| format!("the wijken file {} cannot be used", path.display()))
}

/// The actor for work the service does itself (reference data, demo).
pub fn system_actor() -> Actor {
    Actor {
        role: Role::Admin,
        subject: "system".into(),
        gebieden: Vec::new(),
        client: None,
    }
}

async fn register(state: &AppState, reference: ReferenceData) -> anyhow::Result<()> {
    let result = state
        .service
        .execute(
            &system_actor(),
            "registerReferenceData",
            Some("initial"),
            |_| Ok(Command::RegisterReferenceData(reference.clone())),
        )
        .await;
    match result {
        // Another instance registered it at the same moment.
        Ok(_) | Err(ApiError::Domain(DomainError::AlreadyExists { .. })) => Ok(()),
        Err(error) => Err(anyhow::anyhow!(
            "cannot register the wijken: {}",
            error.detail()
        )),
    }
}
