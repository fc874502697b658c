//! `wijkpuls`: the program. Parses the command line and wires the crates together; the work
//! itself lives in `crates/` (see the README for the map).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use wijkpuls_api::auth::{default_subject, parse_duration, Role, MAX_LIFETIME};
use wijkpuls_api::routes::TrustedProxy;
use wijkpuls_api::transport::WsLimits;
use wijkpuls_api::{Application, Config};
use wijkpuls_domain::GebiedCode;

mod ops;

/// The service's defaults, written once in [`Config::new`]; the flags show them.
fn defaults() -> Config {
    Config::new(String::new())
}

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (the `_RJEM_MALLOC_CONF` environment variable still
/// overrides them). Freed pages go back to the system after about a second instead of ten
/// (jemalloc's background threads purge them), so the server's RSS follows thousands of
/// WebSocket screens down soon after they leave.
#[used]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Option<&'static std::ffi::c_char> =
    Some(unsafe { &*c"dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

#[derive(Parser)]
#[command(
    name = "wijkpuls",
    version,
    about = "Live tracking of wijk initiatives and budgets"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
    /// How log lines are written to stderr: `text` (colours only on a terminal) or `json` (one
    /// object per line, with the fields of every span it is in, such as `request_id`).
    #[arg(long, global = true, env = "WIJKPULS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr at `RUST_LOG`'s levels (default `info`, `sqlx` at `warn`).
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[derive(Subcommand)]
enum Commands {
    /// Run the service.
    Serve(ServeArgs),
    /// Print a bearer token for staff or an admin.
    Token(TokenArgs),
    /// Create or migrate the database, then exit.
    Migrate(DatabaseArgs),
    /// Print the GraphQL schema (SDL), as checked in at schema.graphql.
    Schema,
    /// Copy the whole store into an empty one (e.g. SQLite to PostgreSQL), verified.
    Copy(ops::CopyArgs),
    /// Write the store as NDJSON (or, with --open-data, the public CSV files).
    Export(ops::ExportArgs),
    /// Read an export into an empty store, all or nothing.
    Import(ops::ImportArgs),
    /// Check the event log's hash chain and stream versions; print the chain head, or the
    /// first position where the log was altered (and exit non-zero).
    Verify(DatabaseArgs),
    /// Refold every read model from the log and compare it with a recount of the events (and,
    /// with --server, with what a running server shows); exit non-zero at any difference.
    Rebuild(ops::rebuild::RebuildArgs),
    /// Write a realistic log of N events (all wijken, several years, every lifecycle path,
    /// sealed personal data) into an empty store.
    Generate(ops::generate::GenerateArgs),
}

#[derive(Args)]
struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://wijkpuls.db")]
    database_url: String,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "WIJKPULS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// If the store is empty, fill it with a realistic demo year first.
    #[arg(long, env = "WIJKPULS_DEMO")]
    demo: bool,
    /// With --demo: how many years of demo history, ending with the current year (1-10).
    #[arg(
        long,
        env = "WIJKPULS_DEMO_YEARS",
        default_value_t = 1,
        requires = "demo",
        value_parser = clap::value_parser!(u32).range(1..=10)
    )]
    demo_years: u32,
    /// Another municipality's wijken file (used when the store is empty; default: Arnhem).
    #[arg(long, env = "WIJKPULS_WIJKEN_FILE")]
    wijken_file: Option<std::path::PathBuf>,
    /// Seconds a WebSocket client has to send `connection_init`.
    #[arg(long, env = "WIJKPULS_WS_INIT_TIMEOUT", default_value_t = defaults().ws_init_timeout.as_secs())]
    ws_init_timeout: u64,
    /// Anonymous submissions allowed per client address per minute (0: no limit).
    #[arg(long, env = "WIJKPULS_SUBMIT_PER_MINUTE", default_value_t = defaults().submit_per_minute)]
    submit_per_minute: u32,
    /// Seconds one mutation may take (queueing, deciding again after a race lost to another
    /// instance, waiting for its result to be applied) before it answers CONFLICT or says its
    /// change is recorded but not yet visible here.
    #[arg(long, env = "WIJKPULS_MUTATION_DEADLINE", default_value_t = defaults().mutation_deadline.as_secs_f64())]
    mutation_deadline: f64,
    /// WebSocket connections the server holds open at most (0: no limit).
    #[arg(long, env = "WIJKPULS_WS_MAX_CONNECTIONS", default_value_t = defaults().ws_limits.max_connections)]
    ws_max_connections: usize,
    /// WebSocket connections one client address may hold open (0: no limit).
    #[arg(long, env = "WIJKPULS_WS_MAX_PER_ADDRESS", default_value_t = defaults().ws_limits.max_per_address)]
    ws_max_per_address: usize,
    /// Operations (subscriptions) one WebSocket connection may run at once.
    #[arg(long, env = "WIJKPULS_WS_MAX_OPERATIONS", default_value_t = defaults().ws_limits.max_operations)]
    ws_max_operations: usize,
    /// Wrong tracking codes allowed per client address per minute (0: no limit).
    #[arg(long, env = "WIJKPULS_CODE_GUESSES_PER_MINUTE", default_value_t = defaults().code_guesses_per_minute)]
    code_guesses_per_minute: u32,
    /// Seconds a client has to send a request's headers (also the most a kept-alive connection
    /// may sit idle between requests).
    #[arg(long, env = "WIJKPULS_HEADER_READ_TIMEOUT", default_value_t = defaults().header_read_timeout.as_secs())]
    header_read_timeout: u64,
    /// Open connections at most (WebSockets included); more are answered 503 and closed. Kept
    /// below the open-file limit, which `serve` raises to the most the system allows.
    #[arg(long, env = "WIJKPULS_MAX_CONNECTIONS", default_value_t = defaults().max_connections)]
    max_connections: usize,
    /// A reverse proxy (address or CIDR) whose X-Forwarded-For names the client, for rate
    /// limits; repeat for several (the environment variable takes a comma-separated list).
    #[arg(long = "trusted-proxy", env = "WIJKPULS_TRUSTED_PROXIES", value_delimiter = ',', value_parser = TrustedProxy::parse)]
    trusted_proxies: Vec<TrustedProxy>,
    /// An origin (`https://dashboard.example.nl`) whose pages may call the API from a browser
    /// (CORS); repeat for several (the environment variable takes a comma-separated list).
    /// None by default.
    #[arg(long = "cors-origin", env = "WIJKPULS_CORS_ORIGINS", value_delimiter = ',', value_parser = wijkpuls_api::cors_compression::parse_origin)]
    cors_origins: Vec<wijkpuls_api::cors_compression::Origin>,
    /// Events between two snapshots of the live state stored beside the log (a start loads
    /// the newest and replays only what follows it; one is also stored at shutdown).
    #[arg(long, env = "WIJKPULS_SNAPSHOT_EVERY", default_value_t = defaults().snapshots.every,
        value_parser = clap::value_parser!(u64).range(1000..))]
    snapshot_every: u64,
    /// Neither load nor store snapshots: every start folds the whole log.
    #[arg(long, env = "WIJKPULS_NO_SNAPSHOTS")]
    no_snapshots: bool,
    #[command(flatten)]
    secret: SecretArgs,
}

#[derive(Args)]
struct SecretArgs {
    /// A file holding the token signing key (instead of the one in the database). The
    /// environment variable WIJKPULS_AUTH_SECRET gives the key itself.
    #[arg(long, env = "WIJKPULS_AUTH_SECRET_FILE")]
    auth_secret_file: Option<std::path::PathBuf>,
}

impl SecretArgs {
    /// The signing key given outside the database, if any: the file first, then
    /// `WIJKPULS_AUTH_SECRET`.
    fn secret(&self) -> anyhow::Result<Option<String>> {
        if let Some(path) = &self.auth_secret_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the auth secret file {}", path.display()))?;
            let secret = text.trim();
            if secret.len() < 16 {
                anyhow::bail!(
                    "the auth secret file {} must hold at least 16 characters",
                    path.display()
                );
            }
            return Ok(Some(secret.to_owned()));
        }
        Ok(std::env::var("WIJKPULS_AUTH_SECRET")
            .ok()
            .filter(|s| !s.is_empty()))
    }
}

#[derive(Args)]
struct TokenArgs {
    #[arg(long, value_parser = ["admin", "staff"])]
    role: String,
    /// A gebied the staff member works in (repeat for several); one of the wijken file's.
    #[arg(long = "gebied")]
    gebieden: Vec<String>,
    /// The wijken file the service runs with, whose gebieden `--gebied` must name (default:
    /// Arnhem's).
    #[arg(long, env = "WIJKPULS_WIJKEN_FILE")]
    wijken_file: Option<std::path::PathBuf>,
    /// Who the token is for (recorded as the actor of their events; default: a new random id).
    #[arg(long)]
    subject: Option<String>,
    /// How long it is valid: e.g. 8h, 30m, 7d (at most 31d).
    #[arg(long, default_value = "8h", value_parser = parse_duration)]
    valid_for: Duration,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    secret: SecretArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Commands::Verify(args) => {
            if ops::verify::run(&args.database_url).await? {
                Ok(())
            } else {
                Err(anyhow::anyhow!("the event log failed verification"))
            }
        }
        Commands::Serve(args) => serve(args).await,
        Commands::Token(args) => token(args).await,
        Commands::Migrate(args) => {
            wijkpuls_event_store::EventStore::open(&args.database_url, Default::default())
                .await
                .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
            eprintln!("the database is migrated");
            Ok(())
        }
        Commands::Copy(args) => ops::copy::run(args).await,
        Commands::Export(args) => ops::export::run(args).await,
        Commands::Import(args) => ops::import::run(args).await,
        Commands::Rebuild(args) => ops::rebuild::run(args).await,
        Commands::Generate(args) => ops::generate::run(args).await,
        Commands::Schema => {
            print!("{}", wijkpuls_api::schema::sdl());
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let max_connections = within_open_file_limit(args.max_connections);
    let config = Config {
        listen: args.listen,
        database_url: args.database.database_url,
        demo: args.demo,
        demo_years: args.demo_years,
        wijken_file: args.wijken_file,
        ws_init_timeout: Duration::from_secs(args.ws_init_timeout),
        submit_per_minute: args.submit_per_minute,
        auth_secret: args.secret.secret()?,
        mutation_deadline: Duration::try_from_secs_f64(args.mutation_deadline)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--mutation-deadline must be a positive number of seconds")?,
        ws_limits: WsLimits {
            max_connections: args.ws_max_connections,
            max_per_address: args.ws_max_per_address,
            max_operations: args.ws_max_operations.max(1),
            ..WsLimits::default()
        },
        code_guesses_per_minute: args.code_guesses_per_minute,
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        max_connections,
        trusted_proxies: args.trusted_proxies,
        cors_origins: args.cors_origins,
        snapshots: wijkpuls_api::snapshot::SnapshotOptions {
            enabled: !args.no_snapshots,
            every: args.snapshot_every,
        },
    };
    let app = Application::build(config).await?;
    let signal = shutdown_signal()?;
    tracing::info!("listening on http://{}", app.local_addr());
    app.run_until(signal).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Raises the open-file limit as far as the system allows and keeps `wanted` connections
/// within it (with room for the database, logs and the listener), so running out of file
/// descriptors is a refused connection, never a server that stops accepting.
fn within_open_file_limit(wanted: usize) -> usize {
    const ROOM: u64 = 256;
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit");
            return wanted;
        }
    };
    let fits = usize::try_from(limit.saturating_sub(ROOM).max(1)).unwrap_or(usize::MAX);
    if wanted > fits {
        tracing::warn!(
            wanted,
            open_file_limit = limit,
            "--max-connections lowered to fit the open-file limit"
        );
    }
    wanted.min(fits)
}

async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let role = match args.role.as_str() {
        "admin" => Role::Admin,
        _ => Role::Staff,
    };
    let gebieden = args
        .gebieden
        .iter()
        .map(|g| GebiedCode::parse(g).map_err(|e| anyhow::anyhow!("--gebied {g}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if role == Role::Staff && gebieden.is_empty() {
        anyhow::bail!("a staff token needs at least one --gebied (e.g. --gebied W2)");
    }
    if role == Role::Admin && !gebieden.is_empty() {
        anyhow::bail!("an admin token takes no --gebied: admins see every gebied");
    }
    let reference = wijkpuls_api::app::reference_data(args.wijken_file.as_deref())?;
    if let Some(unknown) = gebieden
        .iter()
        .find(|g| !reference.gebieden.iter().any(|known| known.code == **g))
    {
        let known: Vec<String> = reference
            .gebieden
            .iter()
            .map(|g| g.code.to_string())
            .collect();
        anyhow::bail!(
            "--gebied {unknown}: no such gebied in {} (known: {})",
            reference.municipality.name,
            known.join(", ")
        );
    }
    if args.valid_for > MAX_LIFETIME {
        anyhow::bail!("--valid-for is at most 31d: the service refuses longer-lived tokens");
    }
    let secret = args.secret.secret()?;
    wijkpuls_event_store::EventStore::open(&args.database.database_url, Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let vault = wijkpuls_event_store::Vault::open(&args.database.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let key = wijkpuls_api::app::token_key(&vault, secret.as_deref())
        .await
        .context("cannot read the signing key")?;
    let subject = args.subject.unwrap_or_else(|| default_subject(role));
    println!("{}", key.issue(role, &subject, &gebieden, args.valid_for));
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed now, before the caller says it
/// listens: a signal that comes before the future is first polled still stops the server
/// gracefully (installed lazily, an early SIGTERM used to kill it outright).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}
