//! `wijkpuls generate --events N`: a realistic log of exactly N events, written straight into
//! an empty store — for trying the service on a city's worth of history, and for the
//! benchmarks' data.
//!
//! The history is the demo's (the domain's `demo` generator: every wijk, every budget line,
//! initiatives through every lifecycle path), over several years ending now. One demo year has
//! about 1,100 events; for more, a year gets several *rounds*: the generator's year again with
//! another seed (new initiatives), its steps merged in time order with the other rounds', each
//! round's allocation raising the lines by its own amount, so every round's fundings fit. The
//! log is cut at exactly N events, in time order: a prefix of the history, as the city stood
//! at one moment.
//!
//! Every step is decided by the domain's own `decide` on the state folded so far, so every
//! event is one the service would have recorded (no line is ever overspent); a step the domain
//! refuses is a bug and stops the command. The events are recorded as the service records them
//! (the same codec, the system actor, back-dated `occurred_at`), the initiators' personal data
//! sealed as the service seals it (a key of their own in the vault, written in the same
//! transaction), chained into the hash chain as the append path chains it, and written in pages
//! through [`EmptyStoreWriter`] in one transaction: all or nothing.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use clap::Args;
use wijkpuls_api::app::{system_actor, token_key};
use wijkpuls_api::personal::{seal_under_new_key, InitiatorData};
use wijkpuls_api::request::RequestId;
use wijkpuls_domain::demo::{demo_year_for, DatedStep, DemoStep};
use wijkpuls_domain::{
    decide, BudgetLineKey, CityState, Command, Money, Recorded, ReferenceData, SealedInitiator,
};
use wijkpuls_event_store::transfer::{EmptyStoreWriter, SubjectKey};
use wijkpuls_event_store::{AppendRequest, EventStore, Metadata, StoreOptions, Vault};

use super::{into_target, progress, redact, PAGE};

/// The most events one run writes (the whole log is decided in memory, and the city's yearly
/// allocation must stay within `Money::MAX`).
pub const MAX_EVENTS: u64 = 2_000_000;
/// The most years of history.
const MAX_YEARS: u32 = 10;
/// About how many events one demo year has (a year is added per this many, up to
/// [`MAX_YEARS`]).
const EVENTS_PER_YEAR: u64 = 1_000;
/// The demo's seed: round 0 of a year is the `--demo` year.
const SEED: u64 = 2026;

/// `wijkpuls generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// How many events to write (at least the wijken's own registration, at most 2,000,000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_EVENTS))]
    pub events: u64,
    /// An empty store to write into (an SQLite file is created if missing; a PostgreSQL
    /// database must exist).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://wijkpuls.db")]
    pub database_url: String,
}

/// Runs `wijkpuls generate`.
pub async fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let reference = ReferenceData::arnhem();
    let until = Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_else(|_| Utc::now());
    let registration = decide(
        &CityState::new(),
        Command::RegisterReferenceData(reference.clone()),
    )
    .context("the wijken cannot be registered")?;
    let least = registration.events.len() as u64;
    if args.events < least {
        anyhow::bail!(
            "--events must be at least {least}: registering the wijken and gebieden alone \
             takes {least} events"
        );
    }
    let plan = Plan::make(&reference, until, args.events - least);
    let target = redact(&args.database_url);
    let started = Instant::now();
    let written = into_target(&args.database_url, async {
        // The tracking codes are made as the service makes them (random, with the store's key).
        EventStore::open(&args.database_url, StoreOptions::default())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?
            .close()
            .await;
        let vault = Vault::open(&args.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        let tokens = token_key(&vault, None).await?;
        drop(vault);
        let writer = EmptyStoreWriter::begin(&args.database_url)
            .await
            .with_context(|| format!("cannot generate into {target}"))?;
        let mut log = Log {
            writer,
            state: CityState::new(),
            keys: Vec::new(),
            limit: args.events,
            tokens,
            bar: progress(Some(args.events), "generate"),
        };
        log.write(&plan, registration.events, &reference, until)
            .await?;
        log.bar.finish_and_clear();
        let written = log.writer.head().0;
        if written != args.events {
            anyhow::bail!(
                "the history planned ended after {written} events, short of {}: nothing was \
                 written",
                args.events
            );
        }
        log.flush_keys().await?;
        Ok(log.writer.commit().await?)
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {} events ({} initiatives' personal data sealed) for {}-{} into {target} in \
         {seconds:.1} s ({:.0} events/s)",
        written.events,
        written.subject_keys,
        plan.years.first().map_or(0, |y| y.0),
        plan.years.last().map_or(0, |y| y.0),
        written.events as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// Which years get how many rounds.
struct Plan {
    /// (year, rounds), oldest first.
    years: Vec<(i32, u64)>,
}

impl Plan {
    /// Enough rounds for `needed` steps: the years ending with `until`'s (one per
    /// [`EVENTS_PER_YEAR`], at most [`MAX_YEARS`]), a round at a time for each year in turn,
    /// oldest first, until their steps reach `needed`.
    fn make(reference: &ReferenceData, until: DateTime<Utc>, needed: u64) -> Plan {
        let count = needed
            .div_ceil(EVENTS_PER_YEAR)
            .clamp(1, u64::from(MAX_YEARS)) as i32;
        let current = until.year();
        let mut years: Vec<(i32, u64)> = (current - count + 1..=current).map(|y| (y, 0)).collect();
        let mut steps = 0u64;
        for round in 0.. {
            for (year, rounds) in years.iter_mut() {
                if steps >= needed {
                    return Plan { years };
                }
                steps += steps_of(reference, *year, round, until).len() as u64;
                *rounds = round + 1;
            }
            if round > MAX_EVENTS {
                break;
            }
        }
        Plan { years }
    }
}

/// Round `round` of `year`'s demo (round 0 is the `--demo` year itself).
fn steps_of(
    reference: &ReferenceData,
    year: i32,
    round: u64,
    until: DateTime<Utc>,
) -> Vec<DatedStep> {
    let seed = SEED.wrapping_add(round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    demo_year_for(reference, year, seed, until).expect("the planned years are budget years")
}

/// The log being written, and the state it has reached.
struct Log {
    writer: EmptyStoreWriter,
    state: CityState,
    /// Subject keys not yet written.
    keys: Vec<SubjectKey>,
    limit: u64,
    tokens: wijkpuls_api::auth::TokenKey,
    bar: indicatif::ProgressBar,
}

impl Log {
    /// The wijken, then the planned years in time order, up to the limit. A step of a year
    /// that happens after the next year has begun (a completion in January) waits for that
    /// year's steps, so the whole log is in time order.
    async fn write(
        &mut self,
        plan: &Plan,
        registration: Vec<wijkpuls_domain::DomainEvent>,
        reference: &ReferenceData,
        until: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut waiting: Vec<DatedStep> = Vec::new();
        for (i, &(year, rounds)) in plan.years.iter().enumerate() {
            let mut steps = std::mem::take(&mut waiting);
            for round in 0..rounds {
                steps.extend(steps_of(reference, year, round, until));
            }
            // Stable: at equal times, earlier years, then earlier rounds, then the generator's
            // order.
            steps.sort_by_key(|s| s.at);
            if i == 0 {
                let at = steps.first().map_or(until, |s| s.at);
                self.record(registration.clone(), at).await?;
            }
            if let Some(&(next, _)) = plan.years.get(i + 1) {
                let next_starts = chrono::NaiveDate::from_ymd_opt(next, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
                    .context("a budget year has a first of January")?;
                let later = steps.partition_point(|s| s.at < next_starts);
                waiting = steps.split_off(later);
            }
            for step in steps {
                if !self.step(step).await? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Decides one step and records its events; false once the limit is reached.
    async fn step(&mut self, DatedStep { at, step }: DatedStep) -> anyhow::Result<bool> {
        let key = step.key();
        let step = match step {
            // A later round raises the line by its own allocation.
            DemoStep::Allocate {
                wijk,
                year,
                theme,
                amount,
            } => {
                let line = BudgetLineKey { wijk, year, theme };
                let total = self.state.budget_line(&line).allocated.cents() + amount.cents();
                DemoStep::Allocate {
                    wijk,
                    year,
                    theme,
                    amount: Money::from_cents(total)
                        .map_err(|e| anyhow::anyhow!("line {line}: {e}"))?,
                }
            }
            other => other,
        };
        let mut new_key = None;
        let id = match &step {
            DemoStep::Submit { id, .. } => Some(*id),
            _ => None,
        };
        let tokens = &self.tokens;
        let command = step.into_command(|name, email, phone| {
            let id = id.expect("only a submission is sealed");
            let data = InitiatorData {
                name: name.clone(),
                email: Some(email.clone()),
                phone: Some(phone.clone()),
            };
            let (sealed, key): (SealedInitiator, Vec<u8>) = seal_under_new_key(id, &data);
            new_key = Some(SubjectKey {
                id: sealed.key_id.clone(),
                key,
                created_at: Utc::now(),
            });
            let code = wijkpuls_api::tracking::new_code(&id, tokens, None);
            (sealed, wijkpuls_api::tracking::hash(&code))
        });
        let decision = decide(&self.state, command)
            .map_err(|e| anyhow::anyhow!("the domain refused generated step {key}: {e}"))?;
        if self.writer.head().0 + decision.events.len() as u64 > self.limit {
            return Ok(false);
        }
        self.keys.extend(new_key);
        self.record(decision.events, at).await?;
        Ok(self.writer.head().0 < self.limit)
    }

    /// Appends one decision's events as having occurred at `at`, and applies them.
    async fn record(
        &mut self,
        events: Vec<wijkpuls_domain::DomainEvent>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let actor = system_actor();
        let request = AppendRequest {
            events: events
                .iter()
                .map(wijkpuls_api::codec::to_new_event)
                .collect::<Result<_, _>>()?,
            expected_versions: Vec::new(),
            condition: None,
            idempotency_key: None,
            // The keys go in with the transfer writer's pages (`flush_keys`), in the same
            // transaction as the events.
            keys: Vec::new(),
            metadata: Metadata {
                actor: actor.subject.clone(),
                role: actor.role.as_str().to_owned(),
                request_id: Some(RequestId::fresh().to_string()),
                idempotency_key: None,
                occurred_at: Some(at),
            },
        };
        let first = self.writer.head().0 + 1;
        self.writer.append(&request, Utc::now())?;
        for (position, event) in (first..).zip(events) {
            self.state.apply(&Recorded {
                position,
                recorded_at: at,
                event,
            });
        }
        self.bar.set_position(self.writer.head().0);
        if self.writer.pending() >= PAGE {
            self.writer.flush().await?;
            if self.keys.len() >= PAGE {
                self.flush_keys().await?;
            }
        }
        Ok(())
    }

    async fn flush_keys(&mut self) -> anyhow::Result<()> {
        let keys = std::mem::take(&mut self.keys);
        self.writer.write_subject_keys(&keys).await?;
        Ok(())
    }
}
