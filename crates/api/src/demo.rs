//! `--demo` (with `--demo-years N`): fills an empty store with realistic demo years (the
//! domain's generator), ending with the current one, so the overview is alive at once and its
//! trends, lead times and histories have time in them.
//!
//! Every step is recorded as having occurred at its own time (the store's `occurred_at`,
//! through [`Service::execute_back_dated`](crate::service::Service::execute_back_dated)), no
//! later than the start of the current hour. Each step carries an idempotency key naming it,
//! so two instances starting together on one empty database record it once.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use wijkpuls_domain::demo::{demo_year, DatedStep, DemoStep};
use wijkpuls_domain::InitiativeId;

use crate::app::system_actor;
use crate::personal::InitiatorData;
use crate::schema::{current_year, AppState};

const SEED: u64 = 2026;

/// Loads `years` demo years ending with the current one, oldest first, unless the store has
/// initiatives already.
pub async fn load_if_empty(state: &AppState, years: u32) -> anyhow::Result<()> {
    if state.live.read().initiatives().len() > 0 {
        tracing::info!("the store has initiatives already; no demo loaded");
        return Ok(());
    }
    let until = demo_until(Utc::now());
    let current = current_year();
    let first = current - i32::try_from(years.max(1) - 1)?;
    let years = (first..=current)
        .map(|year| Ok((year, demo_year(year, SEED, until)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bar = progress(years.iter().map(|(_, steps)| steps.len() as u64).sum());
    for (year, steps) in years {
        bar.suspend(|| tracing::info!(steps = steps.len(), year, %until, "loading a demo year"));
        bar.set_message(format!("demo {year}"));
        for step in steps {
            record(state, year, step).await?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// A bar on stderr counting the demo's steps, or nothing when stderr is not a terminal (a
/// service's log, a test).
fn progress(steps: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:10} [{bar:40}] {human_pos}/{human_len} steps {per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The moment the demo is made up to: the start of the current hour, so instances starting
/// within one hour make the very same demo (and one starting later makes the same and more).
fn demo_until(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now)
}

async fn record(
    state: &AppState,
    year: i32,
    DatedStep { at, step }: DatedStep,
) -> anyhow::Result<()> {
    let key = format!("{year}-{}", step.key());
    let (sealed, keys) = match &step {
        DemoStep::Submit {
            id,
            initiator_name,
            initiator_email,
            initiator_phone,
            ..
        } => {
            let (sealed, key) = seal(state, id, initiator_name, initiator_email, initiator_phone);
            (Some(sealed), vec![key])
        }
        _ => (None, Vec::new()),
    };
    let command = step.into_command(|_, _, _| sealed.clone().expect("sealed for a submission"));
    // The initiator's key is stored with the submission's events: when another instance
    // recorded this step first, this one's key and sealed copy are both dropped.
    state
        .service
        .execute_back_dated(&system_actor(), "demo", Some(&key), at, keys, |_| {
            Ok(command.clone())
        })
        .await
        .map_err(|e| anyhow::anyhow!("demo step {key} failed: {}", e.detail()))?;
    Ok(())
}

fn seal(
    state: &AppState,
    id: &InitiativeId,
    name: &wijkpuls_domain::PersonName,
    email: &wijkpuls_domain::Email,
    phone: &wijkpuls_domain::Phone,
) -> (
    (wijkpuls_domain::SealedInitiator, String),
    wijkpuls_event_store::SubjectKey,
) {
    let data = InitiatorData {
        name: name.clone(),
        email: Some(email.clone()),
        phone: Some(phone.clone()),
    };
    let (sealed, key) = state.sealer.seal(*id, &data);
    let code = crate::tracking::new_code(id, &state.tokens, None);
    ((sealed, crate::tracking::hash(&code)), key)
}
