//! A realistic, deterministic demo history, so a fresh server's overview is alive at once —
//! and its trends, lead times and histories have time in them.
//!
//! [`demo_year`] gives the dated steps of one year in Arnhem as it stands at a moment `until`:
//! an allocation for every budget line of the 24 wijken × 8 themes early in January (thousands
//! to tens of thousands of euros, exact cents), then a few hundred initiatives asking for
//! hundreds to tens of thousands of euros, submitted over the year up to `until`, connected
//! days to weeks later, funded weeks later, completed months later (or rejected, referred or
//! withdrawn). Nothing is dated after `until`: what has not happened by then is left out, so a
//! recent initiative is still waiting. A year that ended before `until` is closed: its
//! initiatives mostly reached an end. The same year, seed and `until` always give the same
//! steps; a later `until` gives the same steps and more.
//!
//! Steps carry the initiator's plain name, e-mail and phone, because sealing personal data is
//! the api's job: [`DemoStep::into_command`] takes the sealing as a function. Applied in order
//! to a store holding only the reference data, every step is legal; one initiative's steps
//! have increasing times.
//!
//! The generator is apart from the domain's logic, which never uses it: `calendar` (when),
//! `budget` (the allocations), `initiative` (one initiative's life), `plan` (the steps
//! in time order), `words` (Dutch texts) and `rng` (a seeded random number generator).

mod budget;
mod calendar;
mod initiative;
mod plan;
mod rng;
mod words;

use chrono::{DateTime, Utc};

use crate::budget::check_year;
use crate::channel::Channel;
use crate::codes::WijkCode;
use crate::commands::Command;
use crate::connection::ConnectionTarget;
use crate::error::DomainError;
use crate::events::WithdrawnBy;
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::SealedInitiator;
use crate::reference::ReferenceData;
use crate::text::{
    Description, Email, Note, PersonName, Phone, Reason, Report, SociaalWijkteam, Title,
};
use crate::theme::Theme;

use budget::Lines;
use calendar::Calendar;
use initiative::{Initiatives, Wijk};
use plan::Plan;
use rng::SplitMix64;

/// One step of the demo: a command with the initiator's data still in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoStep {
    Allocate {
        wijk: WijkCode,
        year: i32,
        theme: Theme,
        amount: Money,
    },
    Submit {
        id: InitiativeId,
        wijk: WijkCode,
        title: Title,
        description: Description,
        theme: Theme,
        requested_amount: Money,
        channel: Channel,
        entered_by_staff: bool,
        initiator_name: PersonName,
        initiator_email: Email,
        initiator_phone: Phone,
    },
    Connect {
        id: InitiativeId,
        target: ConnectionTarget,
        note: Note,
    },
    Fund {
        id: InitiativeId,
        year: i32,
        amount: Money,
    },
    Complete {
        id: InitiativeId,
        spent: Money,
        report: Report,
    },
    Reject {
        id: InitiativeId,
        reason: Reason,
    },
    Refer {
        id: InitiativeId,
        sociaal_wijkteam: SociaalWijkteam,
        note: Option<Note>,
    },
    Withdraw {
        id: InitiativeId,
        by: WithdrawnBy,
        reason: Option<Reason>,
    },
}

impl DemoStep {
    /// What this step is, unique within its year: the demo loader's idempotency key, so that
    /// two instances loading the demo at once record every step once, even if one of them
    /// made its year a little later (and so has a few more steps).
    pub fn key(&self) -> String {
        match self {
            DemoStep::Allocate { wijk, theme, .. } => format!("allocate-{wijk}-{}", theme.as_str()),
            DemoStep::Submit { id, .. } => format!("submit-{id}"),
            DemoStep::Connect { id, .. } => format!("connect-{id}"),
            DemoStep::Fund { id, .. } => format!("fund-{id}"),
            DemoStep::Complete { id, .. } => format!("complete-{id}"),
            DemoStep::Reject { id, .. } => format!("reject-{id}"),
            DemoStep::Refer { id, .. } => format!("refer-{id}"),
            DemoStep::Withdraw { id, .. } => format!("withdraw-{id}"),
        }
    }

    /// The command for this step. `seal` turns the initiator's name, e-mail and phone into
    /// sealed data and the hash of a new tracking code; it is called for submissions only.
    pub fn into_command(
        self,
        seal: impl FnOnce(&PersonName, &Email, &Phone) -> (SealedInitiator, String),
    ) -> Command {
        match self {
            DemoStep::Allocate {
                wijk,
                year,
                theme,
                amount,
            } => Command::AllocateBudget {
                wijk,
                year,
                theme,
                amount,
            },
            DemoStep::Submit {
                id,
                wijk,
                title,
                description,
                theme,
                requested_amount,
                channel,
                entered_by_staff,
                initiator_name,
                initiator_email,
                initiator_phone,
            } => {
                let (initiator, tracking_code_hash) =
                    seal(&initiator_name, &initiator_email, &initiator_phone);
                Command::Submit {
                    id,
                    wijk,
                    title,
                    description,
                    theme,
                    requested_amount,
                    channel,
                    initiator,
                    tracking_code_hash,
                    entered_by_staff,
                }
            }
            // The demo's notes are generic sentences without names: plain.
            DemoStep::Connect { id, target, note } => Command::Connect {
                id,
                target,
                note: note.into(),
            },
            DemoStep::Fund { id, year, amount } => Command::Fund { id, year, amount },
            DemoStep::Complete { id, spent, report } => Command::Complete { id, spent, report },
            DemoStep::Reject { id, reason } => Command::Reject { id, reason },
            DemoStep::Refer {
                id,
                sociaal_wijkteam,
                note,
            } => Command::Refer {
                id,
                sociaal_wijkteam,
                note: note.map(Into::into),
            },
            DemoStep::Withdraw { id, by, reason } => Command::Withdraw { id, by, reason },
        }
    }
}

/// One step and the moment it happened (never later than the `until` it was made for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedStep {
    pub at: DateTime<Utc>,
    pub step: DemoStep,
}

/// A demo year for Arnhem as it stands at `until` (see the module docs). Fails only for a year
/// outside [`YEARS`](crate::budget::YEARS).
pub fn demo_year(
    year: i32,
    seed: u64,
    until: DateTime<Utc>,
) -> Result<Vec<DatedStep>, DomainError> {
    demo_year_for(&ReferenceData::arnhem(), year, seed, until)
}

/// A demo year for any municipality's reference data: the allocations, then every
/// initiative's life, in time order.
pub fn demo_year_for(
    reference: &ReferenceData,
    year: i32,
    seed: u64,
    until: DateTime<Utc>,
) -> Result<Vec<DatedStep>, DomainError> {
    let year = check_year(year)?;
    let mut rng = SplitMix64::new(seed ^ (year as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut plan = Plan::new(Calendar::new(year, until));
    let wijken = Wijk::all(reference);
    let codes: Vec<WijkCode> = wijken.iter().map(|w| w.code).collect();
    let lines = Lines::allocate(&mut plan, &mut rng, year, &codes);
    let mut initiatives = Initiatives::new(plan, rng, lines, wijken, year);
    let count = initiatives.count();
    for i in 0..count {
        initiatives.live(i, count);
    }
    Ok(initiatives.plan.into_steps())
}

// The demo's amounts and texts are made within their limits above, and the tests generate many
// years and seeds: a value outside a limit is a bug in this module.
fn money(cents: i64) -> Money {
    Money::from_cents(cents).expect("demo amounts are within Money's range")
}

fn text<T>(parsed: Result<T, DomainError>) -> T {
    parsed.expect("demo texts are written within their limits")
}
