//! The commands on one initiative's lifecycle (funding, which reads a budget line, is in
//! [`super::budget`]).

use super::{
    find_initiative, funding, not_found, transition, Decision, MAX_TRACKING_CODE_HASH_LEN,
};
use crate::connection::ConnectionTarget;
use crate::error::DomainError;
use crate::events::{
    DomainEvent, InitiativeCompleted, InitiativeConnected, InitiativeReferred, InitiativeRejected,
    InitiativeSubmitted, InitiativeWithdrawn, InitiatorDataErased, ReturnedFunds, WithdrawnBy,
};
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::{SealedInitiator, StaffNote};
use crate::projection::{CityState, InitiativeView};
use crate::status::{Action, InitiativeStatus};
use crate::tags;
use crate::text::{Reason, Report, SociaalWijkteam};

/// [`Command::Submit`](super::Command::Submit): the command's fields are the event's.
pub(super) fn submit(
    state: &CityState,
    event: InitiativeSubmitted,
) -> Result<Decision, DomainError> {
    check_sealed(&event.initiator)?;
    check_tracking_code_hash(&event.tracking_code_hash)?;
    if state.wijk(&event.wijk).is_none() {
        return Err(not_found("wijk", event.wijk));
    }
    if state.initiative(&event.id).is_some() {
        return Err(DomainError::AlreadyExists {
            what: "an initiative",
            id: event.id.to_string(),
        });
    }
    let read = vec![tags::initiative(&event.id)];
    Ok(Decision::on(state, vec![event.into()], read))
}

/// [`Command::Connect`](super::Command::Connect): not to itself, not twice to one target.
pub(super) fn connect(
    state: &CityState,
    id: InitiativeId,
    target: ConnectionTarget,
    note: StaffNote,
) -> Result<Decision, DomainError> {
    let view = find_initiative(state, &id)?;
    transition(view, Action::Connect)?;
    let mut read = vec![tags::initiative(&id)];
    if let ConnectionTarget::Initiative(other) = &target {
        if *other == id {
            return Err(DomainError::Invalid {
                field: "target",
                reason: "an initiative cannot be connected to itself".to_owned(),
            });
        }
        find_initiative(state, other)?;
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
    Ok(Decision::on(state, vec![event.into()], read))
}

/// [`Command::Complete`](super::Command::Complete): at most the funded amount is spent.
pub(super) fn complete(
    state: &CityState,
    id: InitiativeId,
    spent: Money,
    report: Report,
) -> Result<Decision, DomainError> {
    // Completing only gives money back to the line, so it need not read the line.
    step(state, id, Action::Complete, |view| {
        let (line, funded) = funding(view)?;
        if spent > funded {
            return Err(DomainError::Invalid {
                field: "spent",
                reason: format!("{spent} spent is more than the {funded} funded"),
            });
        }
        Ok(InitiativeCompleted {
            id,
            line,
            funded,
            spent,
            report,
        }
        .into())
    })
}

/// [`Command::Reject`](super::Command::Reject).
pub(super) fn reject(
    state: &CityState,
    id: InitiativeId,
    reason: Reason,
) -> Result<Decision, DomainError> {
    step(state, id, Action::Reject, |view| {
        Ok(InitiativeRejected {
            id,
            wijk: view.wijk,
            reason,
        }
        .into())
    })
}

/// [`Command::Refer`](super::Command::Refer).
pub(super) fn refer(
    state: &CityState,
    id: InitiativeId,
    sociaal_wijkteam: SociaalWijkteam,
    note: Option<StaffNote>,
) -> Result<Decision, DomainError> {
    step(state, id, Action::Refer, |view| {
        Ok(InitiativeReferred {
            id,
            wijk: view.wijk,
            sociaal_wijkteam,
            note,
        }
        .into())
    })
}

/// [`Command::Withdraw`](super::Command::Withdraw): a funded amount returns to its line.
pub(super) fn withdraw(
    state: &CityState,
    id: InitiativeId,
    by: WithdrawnBy,
    reason: Option<Reason>,
) -> Result<Decision, DomainError> {
    step(state, id, Action::Withdraw, |view| {
        let returned = if view.status == InitiativeStatus::Funded {
            let (line, amount) = funding(view)?;
            Some(ReturnedFunds { line, amount })
        } else {
            None
        };
        Ok(InitiativeWithdrawn {
            id,
            wijk: view.wijk,
            by,
            returned,
            reason,
        }
        .into())
    })
}

/// A step of one initiative's lifecycle: the initiative must exist and allow `action`; `event`
/// builds the one event from its view. The decision reads only the initiative.
fn step(
    state: &CityState,
    id: InitiativeId,
    action: Action,
    event: impl FnOnce(&InitiativeView) -> Result<DomainEvent, DomainError>,
) -> Result<Decision, DomainError> {
    let view = find_initiative(state, &id)?;
    transition(view, action)?;
    let event = event(view)?;
    Ok(Decision::on(
        state,
        vec![event],
        vec![tags::initiative(&id)],
    ))
}

/// [`Command::EraseInitiatorData`](super::Command::EraseInitiatorData): no events when the data
/// is already erased.
pub(super) fn erase_initiator_data(
    state: &CityState,
    id: InitiativeId,
) -> Result<Decision, DomainError> {
    let view = find_initiative(state, &id)?;
    let events = if !view.initiator_erased {
        vec![InitiatorDataErased {
            id,
            wijk: view.wijk,
        }
        .into()]
    } else {
        Vec::new()
    };
    Ok(Decision::on(state, events, vec![tags::initiative(&id)]))
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
