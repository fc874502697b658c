//! The public event feed: one line per event, in Dutch, without personal data — what the
//! overview screen's ticker and dashboards show ("Klarendal: initiatief 'Moestuin' gefinancierd,
//! € 1.250").

use chrono::{DateTime, Utc};
use wijkpuls_domain::{CityState, DomainEvent, InitiativeId, Recorded, WijkCode};
use wijkpuls_event_store::RecordedEvent;

#[derive(Debug, Clone)]
pub struct FeedItem {
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
    pub event_type: String,
    pub wijk: Option<WijkCode>,
    pub initiative: Option<InitiativeId>,
    /// Every initiative it changes: the subject and a connected initiative.
    pub initiatives: Vec<InitiativeId>,
    /// Dutch, public: never personal data.
    pub summary: String,
    /// Who did it (staff and admins may see this; not the public).
    pub actor: String,
    pub role: String,
}

/// Builds the feed line for an event, from the state just after applying it.
pub fn item(state: &CityState, record: &RecordedEvent, recorded: &Recorded) -> FeedItem {
    FeedItem {
        position: recorded.position,
        recorded_at: recorded.recorded_at,
        event_type: record.event_type.clone(),
        wijk: recorded.event.wijk(),
        initiative: recorded.event.initiative_id(),
        initiatives: crate::live::touched_initiatives(&recorded.event),
        summary: summary(state, &recorded.event),
        actor: record.metadata.actor.clone(),
        role: record.metadata.role.clone(),
    }
}

fn summary(state: &CityState, event: &DomainEvent) -> String {
    let wijk_name = |code: &WijkCode| {
        state
            .wijk(code)
            .map_or_else(|| code.to_string(), |w| w.name.as_str().to_owned())
    };
    let initiative = |id: &InitiativeId| {
        state.initiative(id).map_or_else(
            || "initiatief".to_owned(),
            |i| format!("{}: initiatief '{}'", wijk_name(&i.wijk), i.title.as_str()),
        )
    };
    match event {
        DomainEvent::MunicipalityRegistered(e) => {
            format!("Gemeente {} geregistreerd", e.name.as_str())
        }
        DomainEvent::GebiedRegistered(e) => format!("Gebied {} geregistreerd", e.name.as_str()),
        DomainEvent::WijkRegistered(e) => format!("Wijk {} geregistreerd", e.name.as_str()),
        DomainEvent::TeamContactChanged(e) => {
            let name = state
                .gebied(&e.gebied)
                .map_or_else(|| e.gebied.to_string(), |g| g.name.as_str().to_owned());
            format!("{name}: contactgegevens team Leefomgeving gewijzigd")
        }
        DomainEvent::BudgetAllocated(e) => format!(
            "{}: budget {} {} vastgesteld op {}",
            wijk_name(&e.line.wijk),
            e.line.theme.label_nl().to_lowercase(),
            e.line.year,
            e.allocated.dutch()
        ),
        DomainEvent::InitiativeSubmitted(e) => format!(
            "{} ingediend, gevraagd {}",
            initiative(&e.id),
            e.requested_amount.dutch()
        ),
        DomainEvent::InitiativeConnected(e) => format!("{} verbonden", initiative(&e.id)),
        DomainEvent::InitiativeFunded(e) => {
            format!("{} gefinancierd, {}", initiative(&e.id), e.amount.dutch())
        }
        DomainEvent::InitiativeCompleted(e) => format!(
            "{} afgerond, besteed {}",
            initiative(&e.id),
            e.spent.dutch()
        ),
        DomainEvent::InitiativeRejected(e) => format!("{} afgewezen", initiative(&e.id)),
        DomainEvent::InitiativeReferred(e) => {
            format!(
                "{} doorverwezen naar het sociaal wijkteam",
                initiative(&e.id)
            )
        }
        DomainEvent::InitiativeWithdrawn(e) => format!("{} ingetrokken", initiative(&e.id)),
        DomainEvent::InitiatorDataErased(e) => {
            format!("{}: persoonsgegevens gewist", initiative(&e.id))
        }
    }
}
