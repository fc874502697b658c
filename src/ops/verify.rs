//! `wijkpuls verify`: walks the event log, recomputes the hash chain and checks every stream's
//! version sequence. Prints the chain head (position and hash, for an auditor to note and
//! compare later) when the log is intact; otherwise the first position where it breaks, and
//! fails.

use std::io::IsTerminal as _;

use wijkpuls_event_store::{to_hex, EventStore, StoreOptions};

/// Runs the check on the store at `database_url`. `Ok(true)`: intact.
pub async fn run(database_url: &str) -> anyhow::Result<bool> {
    let store = EventStore::open(database_url, StoreOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let total = store
        .head_position()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the event log: {e}"))?;
    let bar = progress_bar(total.0);
    let report = store
        .verify_chain(|reached| bar.set_position(reached.0))
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the event log: {e}"));
    bar.finish_and_clear();
    store.close().await;
    let report = report?;
    if let Some(start) = report.starts_at.filter(|start| start.0 > 1) {
        println!(
            "positions 1-{} predate the hash chain and are not covered",
            start.0 - 1
        );
    }
    if let Some(broken) = &report.broken {
        println!(
            "verify failed at position {}: {}",
            broken.position, broken.reason
        );
        return Ok(false);
    }
    match report.head {
        Some(head) => println!(
            "the event log is intact: {} events; chain head position {} hash {}",
            report.events,
            head.position,
            to_hex(&head.hash)
        ),
        None => println!(
            "the event log is intact: {} events, none chained yet",
            report.events
        ),
    }
    Ok(true)
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (logs, pipes, tests).
fn progress_bar(length: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} events")
    {
        bar.set_style(style);
    }
    bar.set_message("verifying");
    bar
}
