//! `wijkpuls-bench`: the benchmarks' command line (see bench/README.md). `fanout` and
//! `contention` serve with the `wijkpuls` binary, by default the one next to this program (the
//! same `target/release` or `target/debug`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use wijkpuls_bench::{abuse, append, asof, chain, contention, fanout, graphql, memory};

/// Counts the heap for `memory` (and costs the other benchmarks two relaxed atomic adds per
/// allocation, in the baseline and the measurement alike).
#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

#[derive(Parser)]
#[command(
    name = "wijkpuls-bench",
    version,
    about = "Measure wijkpuls, next to a baseline from the same run (see bench/README.md)"
)]
struct Cli {
    /// The `wijkpuls` binary that `fanout` and `contention` serve with (default: the one next
    /// to this program).
    #[arg(long, global = true, env = "WIJKPULS_BIN")]
    server_bin: Option<PathBuf>,
    #[command(subcommand)]
    command: BenchCommand,
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
    /// What the hash chain costs: bulk writing with and without computing it, and its share
    /// of the live append path, on SQLite and PostgreSQL.
    Chain {
        /// PostgreSQL server for the PostgreSQL half.
        #[arg(long)]
        postgres_url: Option<String>,
        /// Events per bulk measurement.
        #[arg(long, default_value_t = 50_000)]
        events: u64,
        /// Seconds of the live append measurement.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
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
    /// Live fan-out: N cityOverviewUpdated subscribers on one `wijkpuls serve`, delay per
    /// funding, missed final states, server RSS per subscriber.
    Fanout {
        #[arg(long, default_value_t = 10_000)]
        subscribers: usize,
        /// Fundings, one after another.
        #[arg(long, default_value_t = 20)]
        fundings: usize,
        /// Serve from a fresh database on this PostgreSQL server instead of SQLite.
        #[arg(long)]
        postgres_url: Option<String>,
    },
    /// Fundings/s of 64 clients on one hot budget line next to the same clients spread over
    /// 192 lines, on PostgreSQL.
    Contention {
        #[arg(long)]
        postgres_url: String,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 64)]
        clients: usize,
    },
    /// Time travel: a wijk `asOf` distinct moments on a large log, against the same wijk now
    /// and against folding the log from its start.
    Asof {
        /// About how many events the log gets.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Distinct moments asked.
        #[arg(long, default_value_t = 20)]
        moments: usize,
    },
    /// Where the live state's memory goes on an existing store: the fold, the similar index by
    /// field, and a snapshot's decode.
    Memory {
        /// The store (a log from `wijkpuls generate`, say).
        #[arg(long)]
        database_url: String,
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

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The `wijkpuls` binary to serve with: the one named, else the one next to this program.
fn server_bin(named: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match named {
        Some(path) => path,
        None => std::env::current_exe()
            .context("where is this program")?
            .with_file_name(format!("wijkpuls{}", std::env::consts::EXE_SUFFIX)),
    };
    if !path.is_file() {
        anyhow::bail!(
            "no wijkpuls binary at {}: build it (cargo build --release -p wijkpuls) or name it with --server-bin",
            path.display()
        );
    }
    Ok(path)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        BenchCommand::Append {
            postgres_url,
            seconds,
            no_pgbench,
        } => {
            let dir = tempfile::tempdir()?;
            append::run_append(append::AppendBenchOptions {
                postgres_url,
                sqlite_dir: dir.path().to_owned(),
                seconds,
                pgbench: !no_pgbench,
            })
            .await
        }
        BenchCommand::Chain {
            postgres_url,
            events,
            seconds,
        } => {
            chain::run_chain(chain::ChainBenchOptions {
                postgres_url,
                events,
                seconds,
            })
            .await
        }
        BenchCommand::Graphql {
            postgres_url,
            seconds,
            connections,
        } => {
            graphql::run_graphql(graphql::GraphqlBenchOptions {
                postgres_url,
                seconds,
                connections,
            })
            .await
        }
        BenchCommand::Fanout {
            subscribers,
            fundings,
            postgres_url,
        } => fanout::run_fanout(fanout::FanoutBenchOptions {
            subscribers,
            fundings,
            postgres_url,
            server: server_bin(cli.server_bin)?,
        })
        .await
        .map(|_| ()),
        BenchCommand::Contention {
            postgres_url,
            seconds,
            clients,
        } => {
            contention::run_contention(contention::ContentionBenchOptions {
                postgres_url,
                seconds,
                clients,
                server: server_bin(cli.server_bin)?,
            })
            .await
        }
        BenchCommand::Asof { events, moments } => {
            asof::run_asof(asof::AsOfBenchOptions {
                events,
                moments: moments.max(3),
            })
            .await
        }
        BenchCommand::Memory { database_url } => memory::run_memory(&database_url).await,
        BenchCommand::Abuse { seconds, attackers } => {
            abuse::run_abuse(abuse::AbuseBenchOptions { seconds, attackers }).await
        }
    }
}
