//! The public event feed: one line per event, in Dutch, without personal data — what the
//! overview screen's ticker and dashboards show ("Klarendal: initiatief 'Moestuin' gefinancierd,
//! € 1.250").

use chrono::{DateTime, Utc};
use wijkpuls_domain::projection::EventFacts;
use wijkpuls_domain::{CityState, InitiativeId, Recorded, WijkCode};
use wijkpuls_event_store::RecordedEvent;

#[derive(Debug, Clone)]
pub struct FeedItem {
    pub position: u64,
    /// When the store recorded it (for a back-dated demo or import event, later than the time
    /// it is about, which the projections show).
    pub recorded_at: DateTime<Utc>,
    /// When it happened: the time the projections show (see [`Recorded::recorded_at`]).
    pub occurred_at: DateTime<Utc>,
    pub event_type: String,
    pub wijk: Option<WijkCode>,
    pub initiative: Option<InitiativeId>,
    /// Every initiative it changes: the subject and a connected initiative.
    pub initiatives: Vec<InitiativeId>,
    /// Every wijk whose view it changes (see [`wijkpuls_domain::Touched`]).
    pub wijken: Vec<WijkCode>,
    /// Dutch, public: never personal data.
    pub summary: String,
    /// Who did it (staff and admins may see this; not the public).
    pub actor: String,
    pub role: String,
    /// Theme, year, amounts and status after, as data (see [`CityState::event_facts`]).
    pub facts: EventFacts,
}

/// Builds the feed line for an event, from the state just after applying it (or a later one).
/// The domain writes the line ([`CityState::event_line`]) and says what the event touched
/// ([`CityState::touched_by`]).
pub fn item(state: &CityState, record: &RecordedEvent, recorded: &Recorded) -> FeedItem {
    let touched = state.touched_by(&recorded.event);
    FeedItem {
        position: recorded.position,
        recorded_at: record.recorded_at,
        occurred_at: recorded.recorded_at,
        event_type: record.event_type.clone(),
        wijk: recorded.event.wijk(),
        initiative: recorded.event.initiative_id(),
        initiatives: touched.initiatives,
        wijken: touched.wijken,
        summary: state.event_line(&recorded.event),
        actor: record.metadata.actor.clone(),
        role: record.metadata.role.clone(),
        facts: state.event_facts(&recorded.event, recorded.position),
    }
}
