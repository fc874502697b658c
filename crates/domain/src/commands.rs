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

use crate::budget::{check_year, BudgetLineKey};
use crate::channel::Channel;
use crate::codes::{GebiedCode, WijkCode};
use crate::connection::ConnectionTarget;
use crate::error::DomainError;
use crate::events::{
    BudgetAllocated, DomainEvent, GebiedRegistered, InitiativeCompleted, InitiativeConnected,
    InitiativeFunded, InitiativeReferred, InitiativeRejected, InitiativeSubmitted,
    InitiativeWithdrawn, InitiatorDataErased, MunicipalityRegistered, ReturnedFunds,
    TeamContactChanged, WijkRegistered, WithdrawnBy,
};
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::{SealedInitiator, StaffNote};
use crate::projection::{CityState, InitiativeView};
use crate::reference::{ReferenceData, TeamContact};
use crate::status::{Action, InitiativeStatus};
use crate::tags;
use crate::text::{Description, Reason, Report, SociaalWijkteam, Title};
use crate::theme::Theme;

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

/// Decides `command` on `state`: the events to record, or why not.
pub fn decide(state: &CityState, command: Command) -> Result<Decision, DomainError> {
    let decision = |events: Vec<DomainEvent>, consistency_tags: Vec<String>| Decision {
        events,
        consistency_tags,
        position: state.position(),
    };
    match command {
        Command::RegisterReferenceData(data) => {
            if let Some(existing) = state.municipality() {
                return Err(DomainError::AlreadyExists {
                    what: "reference data",
                    id: format!("{} {} is registered", existing.code, existing.name),
                });
            }
            if state.has_reference_data() {
                return Err(DomainError::AlreadyExists {
                    what: "reference data",
                    id: "gebieden are registered".to_owned(),
                });
            }
            Ok(decision(
                register_reference_data(data),
                vec![tags::REFERENCE_DATA.to_owned()],
            ))
        }

        Command::ChangeTeamContact { gebied, team } => {
            if state.gebied(&gebied).is_none() {
                return Err(not_found("gebied", gebied));
            }
            Ok(decision(
                vec![TeamContactChanged { gebied, team }.into()],
                vec![tags::gebied(&gebied)],
            ))
        }

        Command::AllocateBudget {
            wijk,
            year,
            theme,
            amount,
        } => {
            let year = check_year(year)?;
            let Some(wijk_view) = state.wijk(&wijk) else {
                return Err(not_found("wijk", wijk));
            };
            let line = BudgetLineKey { wijk, year, theme };
            let current = wijk_view.budget_line(year, theme);
            if amount == current.allocated {
                // Already so: nothing happened, so nothing is recorded (no second ticker line).
                return Ok(decision(
                    Vec::new(),
                    vec![tags::line(&line), tags::budget_year(year)],
                ));
            }
            if amount < current.in_use() {
                return Err(DomainError::AllocationBelowUse {
                    line,
                    requested: amount,
                    in_use: current.in_use(),
                });
            }
            // Every roll-up is a Money too: keep the whole city's allocation for the year within
            // Money::MAX, so no total can overflow.
            let city_total = state.city_budget(year).totals.allocated;
            let new_total = city_total.cents() - current.allocated.cents() + amount.cents();
            if new_total > Money::MAX.cents() {
                return Err(DomainError::Invalid {
                    field: "amount",
                    reason: format!(
                        "the city's total allocation for {year} would exceed {}",
                        Money::MAX
                    ),
                });
            }
            Ok(decision(
                vec![BudgetAllocated { line, amount }.into()],
                vec![tags::line(&line), tags::budget_year(year)],
            ))
        }

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
        } => {
            check_sealed(&initiator)?;
            check_tracking_code_hash(&tracking_code_hash)?;
            if state.wijk(&wijk).is_none() {
                return Err(not_found("wijk", wijk));
            }
            if state.initiative(&id).is_some() {
                return Err(DomainError::AlreadyExists {
                    what: "an initiative",
                    id: id.to_string(),
                });
            }
            let event = InitiativeSubmitted {
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
            };
            Ok(decision(vec![event.into()], vec![tags::initiative(&id)]))
        }

        Command::Connect { id, target, note } => {
            let view = initiative(state, &id)?;
            transition(view, Action::Connect)?;
            let mut read = vec![tags::initiative(&id)];
            if let ConnectionTarget::Initiative(other) = &target {
                if *other == id {
                    return Err(DomainError::Invalid {
                        field: "target",
                        reason: "an initiative cannot be connected to itself".to_owned(),
                    });
                }
                initiative(state, other)?;
                read.push(tags::initiative(other));
            }
            if view.connections.iter().any(|c| c.target.same_as(&target)) {
                return Err(DomainError::Invalid {
                    field: "target",
                    reason: "the initiative is already connected to it".to_owned(),
                });
            }
            let event = InitiativeConnected {
                id,
                wijk: view.wijk,
                target,
                note,
            };
            Ok(decision(vec![event.into()], read))
        }

        Command::Fund { id, year, amount } => {
            let year = check_year(year)?;
            if amount.is_zero() {
                return Err(DomainError::Invalid {
                    field: "amount",
                    reason: "funding must be more than 0.00".to_owned(),
                });
            }
            let view = initiative(state, &id)?;
            transition(view, Action::Fund)?;
            let line = BudgetLineKey {
                wijk: view.wijk,
                year,
                theme: view.theme,
            };
            let remaining = state.budget_line(&line).remaining();
            if amount > remaining {
                return Err(DomainError::BudgetExceeded {
                    line,
                    requested: amount,
                    remaining,
                });
            }
            Ok(decision(
                vec![InitiativeFunded { id, line, amount }.into()],
                vec![tags::initiative(&id), tags::line(&line)],
            ))
        }

        Command::Complete { id, spent, report } => {
            let view = initiative(state, &id)?;
            transition(view, Action::Complete)?;
            let (line, funded) = funding(view)?;
            if spent > funded {
                return Err(DomainError::Invalid {
                    field: "spent",
                    reason: format!("{spent} spent is more than the {funded} funded"),
                });
            }
            let event = InitiativeCompleted {
                id,
                line,
                funded,
                spent,
                report,
            };
            // Completing only gives money back to the line, so it need not read the line.
            Ok(decision(vec![event.into()], vec![tags::initiative(&id)]))
        }

        Command::Reject { id, reason } => {
            let view = initiative(state, &id)?;
            transition(view, Action::Reject)?;
            let event = InitiativeRejected {
                id,
                wijk: view.wijk,
                reason,
            };
            Ok(decision(vec![event.into()], vec![tags::initiative(&id)]))
        }

        Command::Refer {
            id,
            sociaal_wijkteam,
            note,
        } => {
            let view = initiative(state, &id)?;
            transition(view, Action::Refer)?;
            let event = InitiativeReferred {
                id,
                wijk: view.wijk,
                sociaal_wijkteam,
                note,
            };
            Ok(decision(vec![event.into()], vec![tags::initiative(&id)]))
        }

        Command::Withdraw { id, by, reason } => {
            let view = initiative(state, &id)?;
            transition(view, Action::Withdraw)?;
            let returned = if view.status == InitiativeStatus::Funded {
                let (line, amount) = funding(view)?;
                Some(ReturnedFunds { line, amount })
            } else {
                None
            };
            let event = InitiativeWithdrawn {
                id,
                wijk: view.wijk,
                by,
                returned,
                reason,
            };
            Ok(decision(vec![event.into()], vec![tags::initiative(&id)]))
        }

        Command::EraseInitiatorData { id } => {
            let view = initiative(state, &id)?;
            let events = if view.initiator.is_some() {
                vec![InitiatorDataErased {
                    id,
                    wijk: view.wijk,
                }
                .into()]
            } else {
                Vec::new()
            };
            Ok(decision(events, vec![tags::initiative(&id)]))
        }
    }
}

fn register_reference_data(data: ReferenceData) -> Vec<DomainEvent> {
    let mut events = Vec::with_capacity(1 + data.gebieden.len() * 4);
    events.push(
        MunicipalityRegistered {
            code: data.municipality.code,
            name: data.municipality.name,
            provenance: data.provenance,
        }
        .into(),
    );
    for gebied in data.gebieden {
        events.push(
            GebiedRegistered {
                code: gebied.code,
                name: gebied.name,
                team: gebied.team,
            }
            .into(),
        );
        for wijk in gebied.wijken {
            events.push(
                WijkRegistered {
                    code: wijk.code,
                    name: wijk.name,
                    gebied: gebied.code,
                }
                .into(),
            );
        }
    }
    events
}

fn not_found(what: &'static str, id: impl ToString) -> DomainError {
    DomainError::NotFound {
        what,
        id: id.to_string(),
    }
}

fn initiative<'a>(
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

fn check_sealed(initiator: &SealedInitiator) -> Result<(), DomainError> {
    if initiator.key_id.is_empty() || initiator.ciphertext.is_empty() {
        return Err(DomainError::Invalid {
            field: "initiator",
            reason: "the sealed initiator data is empty".to_owned(),
        });
    }
    Ok(())
}

fn check_tracking_code_hash(hash: &str) -> Result<(), DomainError> {
    let valid = !hash.is_empty()
        && hash.len() <= MAX_TRACKING_CODE_HASH_LEN
        && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(DomainError::Invalid {
            field: "tracking_code_hash",
            reason: format!("must be 1-{MAX_TRACKING_CODE_HASH_LEN} hexadecimal digits"),
        });
    }
    Ok(())
}
