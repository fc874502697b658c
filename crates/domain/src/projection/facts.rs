//! An event's facts as data, for dashboards: the theme, year, amount and status it is about,
//! beside the Dutch line of [`CityState::event_line`]. No personal data, like the line.

use crate::events::DomainEvent;
use crate::money::Money;
use crate::projection::CityState;
use crate::status::InitiativeStatus;
use crate::theme::Theme;

/// What an event is about, as data. A field is `None` when it does not apply to the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventFacts {
    /// The budget line's theme, or the initiative's.
    pub theme: Option<Theme>,
    /// For an event that moves money (an allocation, funding, completion, a withdrawal that
    /// gave money back) the budget line's year; for an initiative's other events the year the
    /// initiative belongs to ([`crate::InitiativeView::year`]).
    pub year: Option<i32>,
    /// The amount the event is about: allocated (the line's new allocation), requested (a
    /// submission), funded, spent (a completion), returned (a withdrawal after funding).
    pub amount: Option<Money>,
    /// What went back to the budget line: on completion the funded amount less what was spent,
    /// on a withdrawal after funding all of it.
    pub returned: Option<Money>,
    /// The initiative's status just after the event.
    pub status_after: Option<InitiativeStatus>,
}

impl CityState {
    /// The facts of `event`, recorded at `position`, looked up in this state (the state just
    /// after applying it, or a later one: the status after is read from the initiative's
    /// history at that position).
    pub fn event_facts(&self, event: &DomainEvent, position: u64) -> EventFacts {
        let view = event.initiative_id().and_then(|id| self.initiative(&id));
        let mut facts = EventFacts {
            theme: view.map(|v| v.theme),
            year: view.map(|v| v.year()),
            status_after: view.and_then(|v| v.status_after(position)),
            ..EventFacts::default()
        };
        match event {
            DomainEvent::BudgetAllocated(e) => {
                facts.theme = Some(e.line.theme);
                facts.year = Some(e.line.year);
                facts.amount = Some(e.allocated);
            }
            DomainEvent::InitiativeSubmitted(e) => {
                facts.theme = Some(e.theme);
                facts.amount = Some(e.requested_amount);
            }
            DomainEvent::InitiativeFunded(e) => {
                facts.year = Some(e.line.year);
                facts.amount = Some(e.amount);
            }
            DomainEvent::InitiativeCompleted(e) => {
                facts.year = Some(e.line.year);
                facts.amount = Some(e.spent);
                facts.returned = Some(e.funded.saturating_sub(e.spent));
            }
            DomainEvent::InitiativeWithdrawn(e) => {
                if let Some(returned) = &e.returned {
                    facts.year = Some(returned.line.year);
                    facts.amount = Some(returned.amount);
                    facts.returned = Some(returned.amount);
                }
            }
            DomainEvent::MunicipalityRegistered(_)
            | DomainEvent::GebiedRegistered(_)
            | DomainEvent::WijkRegistered(_)
            | DomainEvent::TeamContactChanged(_)
            | DomainEvent::InitiativeConnected(_)
            | DomainEvent::InitiativeRejected(_)
            | DomainEvent::InitiativeReferred(_)
            | DomainEvent::InitiatorDataErased(_) => {}
        }
        facts
    }
}
