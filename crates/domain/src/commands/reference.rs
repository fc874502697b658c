//! Registering the reference data and changing a gebied's team Leefomgeving.

use super::{not_found, Decision};
use crate::codes::GebiedCode;
use crate::error::DomainError;
use crate::events::{
    DomainEvent, GebiedRegistered, MunicipalityRegistered, TeamContactChanged, WijkRegistered,
};
use crate::projection::CityState;
use crate::reference::{ReferenceData, TeamContact};
use crate::tags;

/// [`Command::RegisterReferenceData`](super::Command::RegisterReferenceData): only on a store
/// without reference data.
pub(super) fn register(state: &CityState, data: ReferenceData) -> Result<Decision, DomainError> {
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
    Ok(Decision::on(
        state,
        registration_events(data),
        vec![tags::REFERENCE_DATA.to_owned()],
    ))
}

/// [`Command::ChangeTeamContact`](super::Command::ChangeTeamContact).
pub(super) fn change_team_contact(
    state: &CityState,
    gebied: GebiedCode,
    team: TeamContact,
) -> Result<Decision, DomainError> {
    if state.gebied(&gebied).is_none() {
        return Err(not_found("gebied", gebied));
    }
    Ok(Decision::on(
        state,
        vec![TeamContactChanged { gebied, team }.into()],
        vec![tags::gebied(&gebied)],
    ))
}

/// The municipality, then each gebied followed by its wijken.
fn registration_events(data: ReferenceData) -> Vec<DomainEvent> {
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
