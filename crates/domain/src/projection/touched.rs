//! Which wijken and initiatives an event changes: the one answer for everything that reacts to
//! an event (the api's change signals per wijk, its per-initiative feeds).

use crate::codes::WijkCode;
use crate::connection::ConnectionTarget;
use crate::events::DomainEvent;
use crate::ids::InitiativeId;
use crate::projection::CityState;

/// What an event changes, the event's own subject first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Every wijk whose view changes: the event's own wijk, for a connection between
    /// initiatives the other initiative's wijk too, and for a gebied's new team contact all of
    /// the gebied's wijken.
    pub wijken: Vec<WijkCode>,
    /// Every initiative whose view changes: the subject and a connected initiative.
    pub initiatives: Vec<InitiativeId>,
}

impl CityState {
    /// What `event` changes, looked up in this state (the state just after applying it).
    pub fn touched_by(&self, event: &DomainEvent) -> Touched {
        let mut touched = Touched {
            wijken: event.wijk().into_iter().collect(),
            initiatives: event.initiative_id().into_iter().collect(),
        };
        match event {
            DomainEvent::InitiativeConnected(e) => {
                if let ConnectionTarget::Initiative(other) = &e.target {
                    touched.initiatives.push(*other);
                    if let Some(view) = self.initiative(other) {
                        touched.wijken.push(view.wijk);
                    }
                }
            }
            DomainEvent::TeamContactChanged(e) => {
                if let Some(gebied) = self.gebied(&e.gebied) {
                    touched.wijken.extend(gebied.wijken.iter().copied());
                }
            }
            _ => {}
        }
        touched
    }
}
