//! `wijkpuls`: the program. Parses the command line and wires the crates together; the work
//! itself lives in `crates/` (see the README for the map).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use wijkpuls_api::auth::{parse_duration, Role};
use wijkpuls_api::{Application, Config};
use wijkpuls_domain::GebiedCode;

mod bench;

#[derive(Parser)]
#[command(
    name = "wijkpuls",
    version,
    about = "Live tracking of wijk initiatives and budgets"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
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
    /// Measure, next to a baseline from the same run (see bench/README.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Event store appends per second on SQLite and PostgreSQL, against pgbench.
    Append {
        /// PostgreSQL server for the PostgreSQL half and the pgbench baseline.
        #[arg(long)]
        postgres_url: Option<String>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Skip the pgbench baseline.
        #[arg(long)]
        no_pgbench: bool,
    },
    /// GraphQL requests per second: live-state reads against `{ __typename }`, and
    /// submitInitiative on PostgreSQL against pgbench.
    Graphql {
        #[arg(long)]
        postgres_url: Option<String>,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Concurrent clients for the read benchmark.
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// Attacks (fragment bomb, alias flood, huge text filter): how long a refusal takes and
    /// /healthz latency during each, against /healthz with no attack.
    Abuse {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Concurrent attacking connections.
        #[arg(long, default_value_t = 4)]
        attackers: usize,
    },
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
    /// Another municipality's wijken file (used when the store is empty; default: Arnhem).
    #[arg(long, env = "WIJKPULS_WIJKEN_FILE")]
    wijken_file: Option<std::path::PathBuf>,
    /// Seconds a WebSocket client has to send `connection_init`.
    #[arg(long, env = "WIJKPULS_WS_INIT_TIMEOUT", default_value_t = 10)]
    ws_init_timeout: u64,
    /// Anonymous submissions allowed per client address per minute (0: no limit).
    #[arg(long, env = "WIJKPULS_SUBMIT_PER_MINUTE", default_value_t = 10)]
    submit_per_minute: u32,
}

#[derive(Args)]
struct TokenArgs {
    #[arg(long, value_parser = ["admin", "staff"])]
    role: String,
    /// A gebied the staff member works in (repeat for several).
    #[arg(long = "gebied")]
    gebieden: Vec<String>,
    /// Who the token is for (recorded as the actor of their events).
    #[arg(long)]
    subject: Option<String>,
    /// How long it is valid: e.g. 8h, 30m, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_duration)]
    valid_for: Duration,
    #[command(flatten)]
    database: DatabaseArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
        Commands::Serve(args) => serve(args).await,
        Commands::Token(args) => token(args).await,
        Commands::Migrate(args) => {
            wijkpuls_event_store::EventStore::open(&args.database_url, Default::default())
                .await
                .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
            eprintln!("the database is migrated");
            Ok(())
        }
        Commands::Schema => {
            print!("{}", wijkpuls_api::schema::sdl());
            Ok(())
        }
        Commands::Bench(BenchCommand::Append {
            postgres_url,
            seconds,
            no_pgbench,
        }) => {
            let dir = tempfile::tempdir()?;
            bench::append::run_append(bench::append::AppendBenchOptions {
                postgres_url,
                sqlite_dir: dir.path().to_owned(),
                seconds,
                pgbench: !no_pgbench,
            })
            .await
        }
        Commands::Bench(BenchCommand::Graphql {
            postgres_url,
            seconds,
            connections,
        }) => {
            bench::graphql::run_graphql(bench::graphql::GraphqlBenchOptions {
                postgres_url,
                seconds,
                connections,
            })
            .await
        }
        Commands::Bench(BenchCommand::Abuse { seconds, attackers }) => {
            bench::abuse::run_abuse(bench::abuse::AbuseBenchOptions { seconds, attackers }).await
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        database_url: args.database.database_url,
        demo: args.demo,
        wijken_file: args.wijken_file,
        ws_init_timeout: Duration::from_secs(args.ws_init_timeout),
        submit_per_minute: args.submit_per_minute,
        auth_secret: std::env::var("WIJKPULS_AUTH_SECRET").ok(),
    };
    let app = Application::build(config).await?;
    tracing::info!("listening on http://{}", app.local_addr());
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
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
    wijkpuls_event_store::EventStore::open(&args.database.database_url, Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let vault = wijkpuls_event_store::Vault::open(&args.database.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let key = wijkpuls_api::app::token_key(
        &vault,
        std::env::var("WIJKPULS_AUTH_SECRET").ok().as_deref(),
    )
    .await
    .context("cannot read the signing key")?;
    let subject = args.subject.unwrap_or_else(|| role.as_str().to_owned());
    println!("{}", key.issue(role, &subject, &gebieden, args.valid_for));
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
