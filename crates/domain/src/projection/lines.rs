//! The Dutch lines for people, all written here: one per event, in two registers.
//!
//! - [`CityState::event_line`]: the city-wide feed's line (the overview's ticker, the event
//!   feeds' `summary`). It stands alone, so it names the wijk and the initiative:
//!   `Klarendal: initiatief 'Moestuin' gefinancierd, € 1.250`.
//! - [`HistoryEntry::summary`]: a line in one initiative's history, read on that initiative,
//!   so it says what changed for it: `Gefinancierd: € 1.000 uit het budget groen 2026`.
//!
//! Neither holds personal data: not the initiator's, not a connected person's name, not a
//! referral's note, not a withdrawal's reason.

use crate::codes::WijkCode;
use crate::events::{DomainEvent, WithdrawnBy};
use crate::ids::InitiativeId;
use crate::projection::initiative::{
    ConnectedWith, ConnectionDirection, HistoryDetail, HistoryEntry,
};
use crate::projection::CityState;

impl CityState {
    /// The feed's Dutch line for `event`, named from this state (the state just after applying
    /// it, or later): `Klarendal: initiatief 'Moestuin' gefinancierd, € 1.250`.
    pub fn event_line(&self, event: &DomainEvent) -> String {
        let wijk_name = |code: &WijkCode| {
            self.wijk(code)
                .map_or_else(|| code.to_string(), |w| w.name.as_str().to_owned())
        };
        let initiative = |id: &InitiativeId| {
            self.initiative(id).map_or_else(
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
                let name = self
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
}

impl HistoryEntry {
    /// What happened, in Dutch, for residents and staff: e.g. `Gefinancierd: € 1.000 uit het
    /// budget groen 2026`.
    pub fn summary(&self) -> String {
        match &self.detail {
            HistoryDetail::Submitted {
                channel,
                entered_by_staff,
                theme,
                requested_amount,
            } => {
                let staff = if *entered_by_staff {
                    " (ingevoerd door een medewerker)"
                } else {
                    ""
                };
                format!(
                    "Ingediend {}{staff}: {}, gevraagd {}",
                    channel.label_nl(),
                    theme.label_nl(),
                    requested_amount.dutch(),
                )
            }
            HistoryDetail::Connected { with, direction } => match (with, direction) {
                (ConnectedWith::Initiative { title, .. }, ConnectionDirection::Outgoing) => {
                    format!("Verbonden met initiatief “{title}”")
                }
                (ConnectedWith::Initiative { title, .. }, ConnectionDirection::Incoming) => {
                    format!("Verbonden vanuit initiatief “{title}”")
                }
                (ConnectedWith::Organisation { name }, _) => {
                    format!("Verbonden met organisatie {name}")
                }
                (ConnectedWith::Person, _) => "Verbonden met een persoon".to_owned(),
            },
            HistoryDetail::Funded { line, amount } => format!(
                "Gefinancierd: {} uit het budget {} {}",
                amount.dutch(),
                line.theme,
                line.year
            ),
            HistoryDetail::Completed { spent, returned } => {
                format!(
                    "Afgerond: {} besteed, {} terug naar het budget",
                    spent.dutch(),
                    returned.dutch()
                )
            }
            HistoryDetail::Rejected { reason } => format!("Afgewezen: {reason}"),
            HistoryDetail::Referred { sociaal_wijkteam } => {
                format!("Doorverwezen naar {sociaal_wijkteam}")
            }
            HistoryDetail::Withdrawn { by, returned } => {
                let by = match by {
                    WithdrawnBy::Initiator => "de initiatiefnemer",
                    WithdrawnBy::Staff => "een medewerker",
                };
                match returned {
                    Some(amount) => {
                        format!(
                            "Ingetrokken door {by}, {} terug naar het budget",
                            amount.dutch()
                        )
                    }
                    None => format!("Ingetrokken door {by}"),
                }
            }
            HistoryDetail::InitiatorDataErased => {
                "Persoonsgegevens van de initiatiefnemer gewist".to_owned()
            }
        }
    }
}
