//! One demo initiative's life: submitted, perhaps connected days to weeks later, funded weeks
//! later, and completed months later — or rejected, referred or withdrawn.

use uuid::Builder;

use crate::channel::Channel;
use crate::codes::WijkCode;
use crate::connection::{ConnectionTarget, PartyKind};
use crate::events::WithdrawnBy;
use crate::ids::InitiativeId;
use crate::reference::ReferenceData;
use crate::text::{
    Description, Email, Note, PartyName, PersonName, Phone, Reason, Report, SociaalWijkteam, Title,
};
use crate::theme::Theme;

use super::budget::Lines;
use super::calendar::{after, Calendar};
use super::plan::Plan;
use super::rng::SplitMix64;
use super::{money, text, words, DemoStep};

/// A wijk as the demo uses it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wijk<'a> {
    pub(super) code: WijkCode,
    pub(super) name: &'a str,
    /// The index of its gebied, for the gebied's sociaal wijkteam.
    pub(super) gebied: usize,
}

impl Wijk<'_> {
    pub(super) fn all(reference: &ReferenceData) -> Vec<Wijk<'_>> {
        reference
            .gebieden
            .iter()
            .enumerate()
            .flat_map(|(gebied, g)| {
                g.wijken.iter().map(move |w| Wijk {
                    code: w.code,
                    name: w.name.as_str(),
                    gebied,
                })
            })
            .collect()
    }
}

/// How an initiative's life goes.
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

impl Fate {
    /// A fate, by the year's share of each: a closed year's initiatives mostly reached an end.
    fn draw(rng: &mut SplitMix64, closed: bool) -> Fate {
        // Percentages of StaysSubmitted, StaysConnected, StaysFunded, Completed, Rejected,
        // Withdrawn; the rest are referred.
        let shares: [u64; 6] = if closed {
            [2, 2, 6, 55, 12, 12]
        } else {
            [12, 10, 25, 25, 10, 10]
        };
        let fates = [
            Fate::StaysSubmitted,
            Fate::StaysConnected,
            Fate::StaysFunded,
            Fate::Completed,
            Fate::Rejected,
            Fate::Withdrawn,
        ];
        let mut roll = rng.between(1, 100);
        for (fate, share) in fates.into_iter().zip(shares) {
            if roll <= share {
                return fate;
            }
            roll -= share;
        }
        Fate::Referred
    }
}

/// The year's initiatives, made one after another into the plan.
pub(super) struct Initiatives<'a> {
    pub(super) plan: Plan,
    rng: SplitMix64,
    lines: Lines,
    wijken: Vec<Wijk<'a>>,
    year: i32,
    submitted: Vec<InitiativeId>,
}

/// The initiative being made.
struct Current<'a> {
    id: InitiativeId,
    wijk: Wijk<'a>,
    /// Its index in the year's wijken.
    w: usize,
    theme: Theme,
    requested: i64,
}

impl<'a> Initiatives<'a> {
    pub(super) fn new(
        plan: Plan,
        rng: SplitMix64,
        lines: Lines,
        wijken: Vec<Wijk<'a>>,
        year: i32,
    ) -> Self {
        Initiatives {
            plan,
            rng,
            lines,
            wijken,
            year,
            submitted: Vec::new(),
        }
    }

    /// How many initiatives the year has.
    pub(super) fn count(&mut self) -> u64 {
        self.rng.between(280, 360)
    }

    /// Initiative `i` of `count`, its whole life.
    pub(super) fn live(&mut self, i: u64, count: u64) {
        let mut minute = self.plan.calendar().submission(i, count, &mut self.rng);
        let current = self.submit(i, count, minute);
        let mut fate = Fate::draw(&mut self.rng, self.plan.calendar().closed);
        if fate == Fate::StaysConnected || (fate != Fate::StaysSubmitted && self.rng.chance(25)) {
            minute = after(&mut self.rng, minute, 2, 20);
            self.connect(&current, minute);
        }
        self.submitted.push(current.id);
        let wants_funding = matches!(fate, Fate::StaysFunded | Fate::Completed)
            || (fate == Fate::Withdrawn && self.rng.chance(50));
        let mut funded = None;
        if wants_funding {
            funded = self.fund(&current, &mut minute);
            if funded.is_none() {
                fate = Fate::BudgetGone;
            }
        }
        self.close(&current, fate, funded, minute);
    }

    fn submit(&mut self, i: u64, count: u64, minute: i64) -> Current<'a> {
        let rng = &mut self.rng;
        let w = rng.between(0, self.wijken.len() as u64 - 1) as usize;
        let wijk = self.wijken[w];
        let theme = rng.pick(&Theme::ALL);
        let place = if rng.chance(50) {
            rng.pick(words::STREETS)
        } else {
            wijk.name
        };
        let title = rng.pick(words::titles(theme)).replace("{plek}", place);
        let requested = requested_cents(rng);
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
        let id_millis =
            self.plan.calendar().start_millis() + Calendar::id_minute(i, count) as u64 * 60_000;
        let id = InitiativeId::from_uuid(
            Builder::from_unix_timestamp_millis(id_millis, &random).into_uuid(),
        );
        let description = text(Description::parse(rng.pick(words::DESCRIPTIONS)));
        self.plan.at(
            minute,
            DemoStep::Submit {
                id,
                wijk: wijk.code,
                title: text(Title::parse(&title)),
                description,
                theme,
                requested_amount: money(requested),
                channel,
                entered_by_staff: matches!(channel, Channel::Phone | Channel::InPerson),
                initiator_name: text(PersonName::parse(&format!("{first} {last}"))),
                initiator_email: text(Email::parse(&email)),
                initiator_phone: text(Phone::parse(&phone)),
            },
        );
        Current {
            id,
            wijk,
            w,
            theme,
            requested,
        }
    }

    /// A connection with an earlier initiative, an organisation or a person.
    fn connect(&mut self, current: &Current, minute: i64) {
        let rng = &mut self.rng;
        let target = if !self.submitted.is_empty() && rng.chance(50) {
            ConnectionTarget::Initiative(rng.pick(&self.submitted))
        } else if rng.chance(70) {
            let org = rng.pick(words::ORGANISATIONS);
            let name = match org {
                "Buurtvereniging" | "Wijkraad" => format!("{org} {}", current.wijk.name),
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
        self.plan.at(
            minute,
            DemoStep::Connect {
                id: current.id,
                target,
                note,
            },
        );
    }

    /// Funding weeks later, if the line has enough left; moves `minute` on when it is funded.
    fn fund(&mut self, current: &Current, minute: &mut i64) -> Option<i64> {
        let amount = self
            .lines
            .take(current.w, current.theme, current.requested)?;
        *minute = after(&mut self.rng, *minute, 7, 42);
        self.plan.at(
            *minute,
            DemoStep::Fund {
                id: current.id,
                year: self.year,
                amount: money(amount),
            },
        );
        Some(amount)
    }

    /// The end of its life, if its fate has one: completed months after funding, or rejected,
    /// referred or withdrawn days to weeks after the last step.
    fn close(&mut self, current: &Current, fate: Fate, funded: Option<i64>, minute: i64) {
        let rng = &mut self.rng;
        let id = current.id;
        let step = match (fate, funded) {
            (Fate::Completed, Some(funded)) => {
                let minute = after(rng, minute, 45, 150);
                let spent = funded * rng.between(80, 100) as i64 / 100;
                let report = text(Report::parse(rng.pick(words::REPORTS)));
                return self.plan.at(
                    minute,
                    DemoStep::Complete {
                        id,
                        spent: money(spent),
                        report,
                    },
                );
            }
            (Fate::Rejected, _) => DemoStep::Reject {
                id,
                reason: text(Reason::parse(rng.pick(&words::REJECT_REASONS[..2]))),
            },
            (Fate::BudgetGone, _) => DemoStep::Reject {
                id,
                reason: text(Reason::parse(words::REJECT_REASONS[2])),
            },
            (Fate::Referred, _) => {
                let team =
                    words::SOCIALE_WIJKTEAMS[current.wijk.gebied % words::SOCIALE_WIJKTEAMS.len()];
                let note = rng
                    .chance(70)
                    .then(|| text(Note::parse(rng.pick(words::REFER_NOTES))));
                DemoStep::Refer {
                    id,
                    sociaal_wijkteam: text(SociaalWijkteam::parse(team)),
                    note,
                }
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
                DemoStep::Withdraw { id, by, reason }
            }
            _ => return,
        };
        let minute = after(rng, minute, 5, 60);
        self.plan.at(minute, step);
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
