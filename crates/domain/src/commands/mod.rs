//! Commands and the decisions they lead to: `decide(state, command)` → the events to record, or
//! the reason to refuse.
//!
//! A decision is pure: it reads the [`CityState`] and returns events; the caller appends them.
//! Because several servers decide at the same time, a decision also states what it read: the
//! tags of the streams it depended on ([`Decision::consistency_tags`]) and the position of the
//! state it read them at ([`Decision::position`]). The caller appends with the event store's
//! condition "fail if any event carrying one of these tags was appended after this position"
//! and retries on fresh state when it fails. So funding the same budget line twice at once
//! commits once and the second decision is made again on the new remaining amount, while
//! fundings of different lines (and so different wijken) never conflict. No process-local lock
//! is involved.
//!
//! A refused command yields an error and no events: `decide` returns either.

use crate::budget::BudgetLineKey;
use crate::channel::Channel;
use crate::codes::{GebiedCode, WijkCode};
use crate::connection::ConnectionTarget;
use crate::error::DomainError;
use crate::events::{DomainEvent, InitiativeSubmitted, WithdrawnBy};
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::{SealedInitiator, StaffNote};
use crate::projection::{CityState, InitiativeView};
use crate::reference::{ReferenceData, TeamContact};
use crate::status::{Action, InitiativeStatus};
use crate::text::{Description, Reason, Report, SociaalWijkteam, Title};
use crate::theme::Theme;

mod budget;
mod initiative;
mod reference;

/// The longest tracking-code hash accepted (an opaque hex string).
pub const MAX_TRACKING_CODE_HASH_LEN: usize = 128;

/// What staff, admins, initiators or the system ask the domain to do. Values are already
/// parsed (codes, amounts, texts); what is left to check needs the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Registers a municipality's wijken and gebieden. Only on a store without reference data.
    RegisterReferenceData(ReferenceData),
    /// Changes a gebied's team Leefomgeving contact details.
    ChangeTeamContact {
        gebied: GebiedCode,
        team: TeamContact,
    },
    /// Sets a budget line's allocated amount. Refused below what the line has in use
    /// ([`DomainError::AllocationBelowUse`]), or when the city's total for the year would
    /// exceed [`Money::MAX`].
    AllocateBudget {
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
        initiator: SealedInitiator,
        tracking_code_hash: String,
        entered_by_staff: bool,
    },
    /// Connects an initiative with another one (not itself; the link shows on both) or with an
    /// organisation or person. Connecting twice to the same target is refused.
    Connect {
        id: InitiativeId,
        target: ConnectionTarget,
        note: StaffNote,
    },
    /// Commits `amount` (more than zero) from the line (initiative's wijk, `year`, initiative's
    /// theme).
    Fund {
        id: InitiativeId,
        year: i32,
        amount: Money,
    },
    /// Reports the result; `spent` is at most the funded amount, the rest returns to the line.
    Complete {
        id: InitiativeId,
        spent: Money,
        report: Report,
    },
    Reject {
        id: InitiativeId,
        reason: Reason,
    },
    /// Refers an individual (care) question to a sociaal wijkteam.
    Refer {
        id: InitiativeId,
        sociaal_wijkteam: SociaalWijkteam,
        note: Option<StaffNote>,
    },
    /// Withdraws it; a funded amount returns to its line.
    Withdraw {
        id: InitiativeId,
        by: WithdrawnBy,
        reason: Option<Reason>,
    },
    /// Drops the initiator's sealed data from the read models, in any status. Erasing data that
    /// is already erased is not an error: the decision has no events.
    EraseInitiatorData {
        id: InitiativeId,
    },
}

/// What a command decided, and what the decision depended on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The events to append, all or nothing (empty only for an erasure that was already done).
    pub events: Vec<DomainEvent>,
    /// The tags of what the decision read. Append with the condition: fail if any event carrying
    /// any of these tags was appended after [`Decision::position`].
    pub consistency_tags: Vec<String>,
    /// The position of the state the decision was made on ([`CityState::position`]).
    pub position: u64,
}

/// Decides `command` on `state`: the events to record, or why not. Each command has its own
/// small function (in [`reference`], [`budget`] and [`initiative`]); this only dispatches.
pub fn decide(state: &CityState, command: Command) -> Result<Decision, DomainError> {
    match command {
        Command::RegisterReferenceData(data) => reference::register(state, data),
        Command::ChangeTeamContact { gebied, team } => {
            reference::change_team_contact(state, gebied, team)
        }
        Command::AllocateBudget {
            wijk,
            year,
            theme,
            amount,
        } => budget::allocate(state, wijk, year, theme, amount),
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
        } => initiative::submit(
            state,
            InitiativeSubmitted {
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
            },
        ),
        Command::Connect { id, target, note } => initiative::connect(state, id, target, note),
        Command::Fund { id, year, amount } => budget::fund(state, id, year, amount),
        Command::Complete { id, spent, report } => initiative::complete(state, id, spent, report),
        Command::Reject { id, reason } => initiative::reject(state, id, reason),
        Command::Refer {
            id,
            sociaal_wijkteam,
            note,
        } => initiative::refer(state, id, sociaal_wijkteam, note),
        Command::Withdraw { id, by, reason } => initiative::withdraw(state, id, by, reason),
        Command::EraseInitiatorData { id } => initiative::erase_initiator_data(state, id),
    }
}

impl Decision {
    /// A decision made on `state`: these events, having read these tags.
    fn on(state: &CityState, events: Vec<DomainEvent>, consistency_tags: Vec<String>) -> Self {
        Decision {
            events,
            consistency_tags,
            position: state.position(),
        }
    }
}

fn not_found(what: &'static str, id: impl ToString) -> DomainError {
    DomainError::NotFound {
        what,
        id: id.to_string(),
    }
}

fn find_initiative<'a>(
    state: &'a CityState,
    id: &InitiativeId,
) -> Result<&'a InitiativeView, DomainError> {
    state
        .initiative(id)
        .ok_or_else(|| not_found("initiative", id))
}

fn transition(view: &InitiativeView, action: Action) -> Result<InitiativeStatus, DomainError> {
    view.status
        .after(action)
        .ok_or(DomainError::InvalidTransition {
            from: view.status,
            attempted: action,
        })
}

/// The line and amount of a funded initiative.
fn funding(view: &InitiativeView) -> Result<(BudgetLineKey, Money), DomainError> {
    match (view.funded_line, view.funded_amount) {
        (Some(line), Some(amount)) => Ok((line, amount)),
        // A funded status always comes with its funding; anything else is a broken log.
        _ => Err(DomainError::Invalid {
            field: "id",
            reason: format!(
                "initiative {} is funded but its funding is not recorded",
                view.id
            ),
        }),
    }
}
