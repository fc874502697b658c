//! A realistic, deterministic demo year, so a fresh server's overview is alive at once.
//!
//! [`demo_year`] gives the steps of one year in Arnhem: an allocation for every budget line of
//! the 24 wijken × 8 themes (thousands to tens of thousands of euros, exact cents), then a few
//! hundred initiatives asking for hundreds to tens of thousands of euros, spread over the year
//! and ending in every status. The same year and seed always give the same steps.
//!
//! Steps carry the initiator's plain name, e-mail and phone, because sealing personal data is
//! the api's job: [`DemoStep::into_command`] takes the sealing as a function. Applied in order
//! to a store holding only the reference data, every step is legal.

mod rng;
mod words;

use chrono::NaiveDate;
use uuid::Builder;

use crate::budget::check_year;
use crate::channel::Channel;
use crate::codes::WijkCode;
use crate::commands::Command;
use crate::connection::{ConnectionTarget, PartyKind};
use crate::error::DomainError;
use crate::events::WithdrawnBy;
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::SealedInitiator;
use crate::reference::ReferenceData;
use crate::text::{
    Description, Email, Note, PartyName, PersonName, Phone, Reason, Report, SociaalWijkteam, Title,
};
use crate::theme::Theme;

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

/// A demo year for Arnhem (see the module docs). Fails only for a year outside
/// [`YEARS`](crate::budget::YEARS).
pub fn demo_year(year: i32, seed: u64) -> Result<Vec<DemoStep>, DomainError> {
    demo_year_for(&ReferenceData::arnhem(), year, seed)
}

/// A demo year for any municipality's reference data.
pub fn demo_year_for(
    reference: &ReferenceData,
    year: i32,
    seed: u64,
) -> Result<Vec<DemoStep>, DomainError> {
    let year = check_year(year)?;
    let mut rng = SplitMix64::new(seed ^ (year as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let wijken: Vec<(WijkCode, &str, usize)> = reference
        .gebieden
        .iter()
        .enumerate()
        .flat_map(|(g, gebied)| {
            gebied
                .wijken
                .iter()
                .map(move |w| (w.code, w.name.as_str(), g))
        })
        .collect();
    let mut plan = Plan::default();

    // What is left on each line; only fundings take from it, so every order of the fundings
    // below stays within the allocations.
    let mut remaining = vec![0i64; wijken.len() * Theme::ALL.len()];
    for (w, &(wijk, _, _)) in wijken.iter().enumerate() {
        for theme in Theme::ALL {
            let cents = rng.between(2_000, 40_000) as i64 * 100 + rng.between(0, 99) as i64;
            remaining[w * Theme::ALL.len() + theme.index()] = cents;
            plan.at(
                0,
                DemoStep::Allocate {
                    wijk,
                    year,
                    theme,
                    amount: money(cents),
                },
            );
        }
    }

    let year_start_ms = NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(8, 0, 0))
        .map(|t| t.and_utc().timestamp_millis().max(0) as u64)
        .unwrap_or(0);
    let count = rng.between(280, 360);
    let mut submitted: Vec<InitiativeId> = Vec::with_capacity(count as usize);
    const DAY: u64 = 24 * 60;
    for i in 0..count {
        let mut minute = DAY + i * (300 * DAY / count) + rng.between(0, 600);
        let w = rng.between(0, wijken.len() as u64 - 1) as usize;
        let (wijk, wijk_name, gebied) = wijken[w];
        let theme = rng.pick(&Theme::ALL);
        let place = if rng.chance(50) {
            rng.pick(words::STREETS)
        } else {
            wijk_name
        };
        let title = rng.pick(words::titles(theme)).replace("{plek}", place);
        let requested = requested_cents(&mut rng);
        let channel = match rng.between(1, 100) {
            1..=60 => Channel::Web,
            61..=75 => Channel::Email,
            76..=90 => Channel::Phone,
            _ => Channel::InPerson,
        };
        let first = rng.pick(words::FIRST_NAMES);
        let last = rng.pick(words::LAST_NAMES);
        let email = format!(
            "{}.{}@example.nl",
            first.to_lowercase(),
            last.to_lowercase().replace(' ', "")
        );
        let phone = format!("06-{:08}", rng.between(10_000_000, 99_999_999));
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        random[8..].copy_from_slice(&rng.next_u64().to_le_bytes()[..2]);
        let id = InitiativeId::from_uuid(
            Builder::from_unix_timestamp_millis(year_start_ms + minute * 60_000, &random)
                .into_uuid(),
        );
        plan.at(
            minute,
            DemoStep::Submit {
                id,
                wijk,
                title: text(Title::parse(&title)),
                description: text(Description::parse(rng.pick(words::DESCRIPTIONS))),
                theme,
                requested_amount: money(requested),
                channel,
                entered_by_staff: matches!(channel, Channel::Phone | Channel::InPerson),
                initiator_name: text(PersonName::parse(&format!("{first} {last}"))),
                initiator_email: text(Email::parse(&email)),
                initiator_phone: text(Phone::parse(&phone)),
            },
        );

        let mut fate = match rng.between(1, 100) {
            1..=12 => Fate::StaysSubmitted,
            13..=22 => Fate::StaysConnected,
            23..=47 => Fate::StaysFunded,
            48..=72 => Fate::Completed,
            73..=82 => Fate::Rejected,
            83..=92 => Fate::Withdrawn,
            _ => Fate::Referred,
        };
        if fate == Fate::StaysConnected || (fate != Fate::StaysSubmitted && rng.chance(25)) {
            minute += rng.between(2, 20) * DAY;
            let target = if !submitted.is_empty() && rng.chance(50) {
                ConnectionTarget::Initiative(rng.pick(&submitted))
            } else if rng.chance(70) {
                let org = rng.pick(words::ORGANISATIONS);
                let name = match org {
                    "Buurtvereniging" | "Wijkraad" => format!("{org} {wijk_name}"),
                    _ => org.to_owned(),
                };
                ConnectionTarget::Party {
                    name: text(PartyName::parse(&name)),
                    kind: PartyKind::Organisation,
                }
            } else {
                let name = format!(
                    "{} {}",
                    rng.pick(words::FIRST_NAMES),
                    rng.pick(words::LAST_NAMES)
                );
                ConnectionTarget::Party {
                    name: text(PartyName::parse(&name)),
                    kind: PartyKind::Person,
                }
            };
            let note = text(Note::parse(rng.pick(words::CONNECT_NOTES)));
            plan.at(minute, DemoStep::Connect { id, target, note });
        }
        submitted.push(id);

        let wants_funding = matches!(fate, Fate::StaysFunded | Fate::Completed)
            || (fate == Fate::Withdrawn && rng.chance(50));
        let mut funded = None;
        if wants_funding {
            let left = &mut remaining[w * Theme::ALL.len() + theme.index()];
            let amount = if requested <= *left {
                requested
            } else if *left >= 10_000 {
                *left
            } else {
                0
            };
            if amount == 0 {
                fate = Fate::BudgetGone;
            } else {
                *left -= amount;
                minute += rng.between(5, 40) * DAY;
                plan.at(
                    minute,
                    DemoStep::Fund {
                        id,
                        year,
                        amount: money(amount),
                    },
                );
                funded = Some(amount);
            }
        }

        minute += rng.between(5, 90) * DAY;
        match (fate, funded) {
            (Fate::Completed, Some(funded)) => {
                let spent = funded * rng.between(80, 100) as i64 / 100;
                plan.at(
                    minute,
                    DemoStep::Complete {
                        id,
                        spent: money(spent),
                        report: text(Report::parse(rng.pick(words::REPORTS))),
                    },
                );
            }
            (Fate::Rejected, _) => {
                let reason = rng.pick(&words::REJECT_REASONS[..2]);
                plan.at(
                    minute,
                    DemoStep::Reject {
                        id,
                        reason: text(Reason::parse(reason)),
                    },
                );
            }
            (Fate::BudgetGone, _) => plan.at(
                minute,
                DemoStep::Reject {
                    id,
                    reason: text(Reason::parse(words::REJECT_REASONS[2])),
                },
            ),
            (Fate::Referred, _) => {
                let team = words::SOCIALE_WIJKTEAMS[gebied % words::SOCIALE_WIJKTEAMS.len()];
                let note = rng
                    .chance(70)
                    .then(|| text(Note::parse(rng.pick(words::REFER_NOTES))));
                plan.at(
                    minute,
                    DemoStep::Refer {
                        id,
                        sociaal_wijkteam: text(SociaalWijkteam::parse(team)),
                        note,
                    },
                );
            }
            (Fate::Withdrawn, _) => {
                let by = if rng.chance(70) {
                    WithdrawnBy::Initiator
                } else {
                    WithdrawnBy::Staff
                };
                let reason = rng
                    .chance(60)
                    .then(|| text(Reason::parse(rng.pick(words::WITHDRAW_REASONS))));
                plan.at(minute, DemoStep::Withdraw { id, by, reason });
            }
            _ => {}
        }
    }
    Ok(plan.into_steps())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    StaysSubmitted,
    StaysConnected,
    StaysFunded,
    Completed,
    Rejected,
    Withdrawn,
    Referred,
    /// Wanted funding, but its line had too little left: rejected for that reason.
    BudgetGone,
}

/// Steps with the minute of the year they happen at, put in time order at the end (an
/// initiative's own steps always have increasing minutes).
#[derive(Default)]
struct Plan {
    steps: Vec<(u64, usize, DemoStep)>,
}

impl Plan {
    fn at(&mut self, minute: u64, step: DemoStep) {
        let seq = self.steps.len();
        self.steps.push((minute, seq, step));
    }

    fn into_steps(mut self) -> Vec<DemoStep> {
        self.steps.sort_by_key(|&(minute, seq, _)| (minute, seq));
        self.steps.into_iter().map(|(_, _, step)| step).collect()
    }
}

/// Hundreds to tens of thousands of euros; half of them round euros.
fn requested_cents(rng: &mut SplitMix64) -> i64 {
    let euros = match rng.between(1, 100) {
        1..=40 => rng.between(150, 1_500),
        41..=80 => rng.between(1_500, 7_500),
        _ => rng.between(7_500, 25_000),
    } as i64;
    let cents = if rng.chance(50) {
        0
    } else {
        rng.between(1, 99) as i64
    };
    euros * 100 + cents
}

// The demo's amounts and texts are made within their limits above, and the tests generate many
// years and seeds: a value outside a limit is a bug in this module.
fn money(cents: i64) -> Money {
    Money::from_cents(cents).expect("demo amounts are within Money's range")
}

fn text<T>(parsed: Result<T, DomainError>) -> T {
    parsed.expect("demo texts are written within their limits")
}
