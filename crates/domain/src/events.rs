//! The events: what happened, in the domain's words. The log of these is the truth; every read
//! model is a fold over it.
//!
//! Each event is stored as its type name ([`DomainEvent::event_type`]), a schema version and a
//! JSON payload without a type tag ([`DomainEvent::to_payload`]), in a stream
//! ([`DomainEvent::stream_id`]) and with tags ([`DomainEvent::tags`]). Every initiative event
//! names its initiative and wijk, so it can be tagged without looking anything up.
//!
//! # Schema versions and upcasting
//!
//! Events are written at [`DomainEvent::SCHEMA_VERSION`], one number for the whole set of
//! shapes. Events are never rewritten: [`DomainEvent::from_payload`] reads a payload of any
//! version from 1 up by upcasting it one version at a time ([`upcast`]) before deserialising
//! it into the current shape. The domain owns the shapes, so it alone upcasts; the event store
//! hands payloads over as they were written.
//!
//! To change an event's shape: change its struct, raise [`DomainEvent::SCHEMA_VERSION`] by one
//! and add the step from the previous version to `upcast::step`, matched on
//! `(version it upcasts from, event type)`, rewriting only the JSON of that type (rename a field,
//! add one with the value the old version implied). Every other type passes a step unchanged.
//! Add a test that a payload of the old version reads as the new shape.
//!
//! | version | change |
//! |---|---|
//! | 1 | the first shapes |
//! | 2 | `BudgetAllocated.amount` is named `allocated` |

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::budget::BudgetLineKey;
use crate::channel::Channel;
use crate::codes::{GebiedCode, MunicipalityCode, WijkCode};
use crate::connection::ConnectionTarget;
use crate::error::DomainError;
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::{SealedInitiator, StaffNote};
use crate::reference::TeamContact;
use crate::tags;
use crate::text::{Description, PlaceName, Reason, Report, SociaalWijkteam, Title};
use crate::theme::Theme;

mod upcast;

/// An event as the folds take it: with its global position (assigned by the event store) and
/// the time it is about, which every projection shows (`submittedAt`, `updatedAt`, history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub position: u64,
    /// The time the event is about: when the store recorded it, unless trusted server code (the
    /// demo loader, an import) recorded it later as having occurred earlier — the store's
    /// `occurred_at`. Within one initiative these times follow the positions.
    pub recorded_at: DateTime<Utc>,
    pub event: DomainEvent,
}

/// The municipality whose reference data was loaded, with the list's provenance. The first
/// event of every store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MunicipalityRegistered {
    pub code: MunicipalityCode,
    pub name: PlaceName,
    pub provenance: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GebiedRegistered {
    pub code: GebiedCode,
    pub name: PlaceName,
    pub team: TeamContact,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WijkRegistered {
    pub code: WijkCode,
    pub name: PlaceName,
    pub gebied: GebiedCode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamContactChanged {
    pub gebied: GebiedCode,
    pub team: TeamContact,
}

/// A budget line's allocated amount was set (not added to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetAllocated {
    pub line: BudgetLineKey,
    /// The line's allocation from now on (named `amount` before schema version 2).
    pub allocated: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeSubmitted {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub title: Title,
    pub description: Description,
    pub theme: Theme,
    pub requested_amount: Money,
    pub channel: Channel,
    /// Personal data, sealed by the api (see [`crate::personal`]).
    pub initiator: SealedInitiator,
    /// Opaque hash of the tracking code the initiator got, for verifying it later.
    pub tracking_code_hash: String,
    /// True when staff entered it on a resident's behalf.
    pub entered_by_staff: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeConnected {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub target: ConnectionTarget,
    pub note: StaffNote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeFunded {
    pub id: InitiativeId,
    pub line: BudgetLineKey,
    pub amount: Money,
}

/// `funded − spent` goes back to the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeCompleted {
    pub id: InitiativeId,
    pub line: BudgetLineKey,
    pub funded: Money,
    pub spent: Money,
    pub report: Report,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeRejected {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeReferred {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub sociaal_wijkteam: SociaalWijkteam,
    /// May describe an individual (care) question: sealed, for staff, never in a public summary.
    pub note: Option<StaffNote>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawnBy {
    Initiator,
    Staff,
}

/// A funded amount that went back to its budget line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedFunds {
    pub line: BudgetLineKey,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeWithdrawn {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub by: WithdrawnBy,
    /// Set when the initiative was funded: the whole funded amount returns to the line.
    pub returned: Option<ReturnedFunds>,
    pub reason: Option<Reason>,
}

/// The initiator's sealed data is no longer part of the read models (the api destroys the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiatorDataErased {
    pub id: InitiativeId,
    pub wijk: WijkCode,
}

macro_rules! domain_events {
    ($($variant:ident),* $(,)?) => {
        /// Everything that can happen in the domain.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum DomainEvent {
            $($variant($variant),)*
        }

        impl DomainEvent {
            /// Every event type name, for documentation and for the store's type filters.
            pub const TYPES: &'static [&'static str] = &[$(stringify!($variant),)*];

            /// The event's type name: `"InitiativeFunded"`.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(DomainEvent::$variant(_) => stringify!($variant),)*
                }
            }

            /// The payload as JSON, without a type tag.
            pub fn to_payload(&self) -> serde_json::Value {
                let value = match self {
                    $(DomainEvent::$variant(e) => serde_json::to_value(e),)*
                };
                // Every payload is a struct of strings, numbers, booleans and such structs:
                // serialising it to a `Value` cannot fail.
                value.expect("domain event payloads always serialise to JSON")
            }

            /// Reads a stored event back, upcasting older schema versions (see the module docs).
            pub fn from_payload(
                event_type: &str,
                schema_version: u32,
                payload: serde_json::Value,
            ) -> Result<DomainEvent, DomainError> {
                let unreadable = |reason: String| DomainError::UnreadableEvent {
                    event_type: event_type.chars().take(100).collect(),
                    schema_version,
                    reason,
                };
                let payload = upcast::to_current(event_type, schema_version, payload)
                    .map_err(unreadable)?;
                DomainEvent::from_current(event_type, &payload).map_err(unreadable)
            }

            /// [`DomainEvent::from_payload`] without taking the payload: an event of the
            /// current schema version (nearly every one) is read from it where it is, so the
            /// tailer does not copy every event's JSON before reading it; an older one is
            /// copied and upcast.
            pub fn from_payload_ref(
                event_type: &str,
                schema_version: u32,
                payload: &serde_json::Value,
            ) -> Result<DomainEvent, DomainError> {
                if schema_version != DomainEvent::SCHEMA_VERSION {
                    return DomainEvent::from_payload(event_type, schema_version, payload.clone());
                }
                DomainEvent::from_current(event_type, payload).map_err(|reason| {
                    DomainError::UnreadableEvent {
                        event_type: event_type.chars().take(100).collect(),
                        schema_version,
                        reason,
                    }
                })
            }

            /// A payload of the current schema version as its event.
            fn from_current(
                event_type: &str,
                payload: &serde_json::Value,
            ) -> Result<DomainEvent, String> {
                use serde::Deserialize as _;
                match event_type {
                    $(stringify!($variant) => $variant::deserialize(payload)
                        .map(DomainEvent::$variant)
                        .map_err(|err| err.to_string()),)*
                    _ => Err("unknown event type".to_owned()),
                }
            }
        }

        $(impl From<$variant> for DomainEvent {
            fn from(event: $variant) -> DomainEvent {
                DomainEvent::$variant(event)
            }
        })*
    };
}

domain_events!(
    MunicipalityRegistered,
    GebiedRegistered,
    WijkRegistered,
    TeamContactChanged,
    BudgetAllocated,
    InitiativeSubmitted,
    InitiativeConnected,
    InitiativeFunded,
    InitiativeCompleted,
    InitiativeRejected,
    InitiativeReferred,
    InitiativeWithdrawn,
    InitiatorDataErased,
);

impl DomainEvent {
    /// The schema version every event is written with now (see the module docs for the
    /// versions and how to add one).
    pub const SCHEMA_VERSION: u32 = 2;

    /// The initiative the event is about, if any (the subject, not a connection's target).
    pub fn initiative_id(&self) -> Option<InitiativeId> {
        match self {
            DomainEvent::InitiativeSubmitted(e) => Some(e.id),
            DomainEvent::InitiativeConnected(e) => Some(e.id),
            DomainEvent::InitiativeFunded(e) => Some(e.id),
            DomainEvent::InitiativeCompleted(e) => Some(e.id),
            DomainEvent::InitiativeRejected(e) => Some(e.id),
            DomainEvent::InitiativeReferred(e) => Some(e.id),
            DomainEvent::InitiativeWithdrawn(e) => Some(e.id),
            DomainEvent::InitiatorDataErased(e) => Some(e.id),
            DomainEvent::MunicipalityRegistered(_)
            | DomainEvent::GebiedRegistered(_)
            | DomainEvent::WijkRegistered(_)
            | DomainEvent::TeamContactChanged(_)
            | DomainEvent::BudgetAllocated(_) => None,
        }
    }

    /// The wijk the event is about, if any.
    pub fn wijk(&self) -> Option<WijkCode> {
        match self {
            DomainEvent::WijkRegistered(e) => Some(e.code),
            DomainEvent::BudgetAllocated(e) => Some(e.line.wijk),
            DomainEvent::InitiativeSubmitted(e) => Some(e.wijk),
            DomainEvent::InitiativeConnected(e) => Some(e.wijk),
            DomainEvent::InitiativeFunded(e) => Some(e.line.wijk),
            DomainEvent::InitiativeCompleted(e) => Some(e.line.wijk),
            DomainEvent::InitiativeRejected(e) => Some(e.wijk),
            DomainEvent::InitiativeReferred(e) => Some(e.wijk),
            DomainEvent::InitiativeWithdrawn(e) => Some(e.wijk),
            DomainEvent::InitiatorDataErased(e) => Some(e.wijk),
            DomainEvent::MunicipalityRegistered(_)
            | DomainEvent::GebiedRegistered(_)
            | DomainEvent::TeamContactChanged(_) => None,
        }
    }

    /// The stream the event belongs to: `initiative-<uuid>`, `budget-WK020207-2026`,
    /// `gebied-W2`, `wijk-WK020207` or `municipality-GM0202`.
    pub fn stream_id(&self) -> String {
        match self {
            DomainEvent::MunicipalityRegistered(e) => format!("municipality-{}", e.code),
            DomainEvent::GebiedRegistered(e) => format!("gebied-{}", e.code),
            DomainEvent::TeamContactChanged(e) => format!("gebied-{}", e.gebied),
            DomainEvent::WijkRegistered(e) => format!("wijk-{}", e.code),
            DomainEvent::BudgetAllocated(e) => format!("budget-{}-{}", e.line.wijk, e.line.year),
            DomainEvent::InitiativeSubmitted(_)
            | DomainEvent::InitiativeConnected(_)
            | DomainEvent::InitiativeFunded(_)
            | DomainEvent::InitiativeCompleted(_)
            | DomainEvent::InitiativeRejected(_)
            | DomainEvent::InitiativeReferred(_)
            | DomainEvent::InitiativeWithdrawn(_)
            | DomainEvent::InitiatorDataErased(_) => {
                let id = self
                    .initiative_id()
                    .expect("initiative events name their initiative");
                format!("initiative-{id}")
            }
        }
    }

    /// The tags the event carries (see [`crate::tags`]): its initiative(s), wijk, gebied and the
    /// budget line it changes. A connection between two initiatives carries both initiative
    /// tags, so it shows in both histories.
    pub fn tags(&self) -> Vec<String> {
        match self {
            DomainEvent::MunicipalityRegistered(e) => {
                vec![tags::REFERENCE_DATA.to_owned(), tags::municipality(&e.code)]
            }
            DomainEvent::GebiedRegistered(e) => {
                vec![tags::REFERENCE_DATA.to_owned(), tags::gebied(&e.code)]
            }
            DomainEvent::WijkRegistered(e) => vec![
                tags::REFERENCE_DATA.to_owned(),
                tags::wijk(&e.code),
                tags::gebied(&e.gebied),
            ],
            DomainEvent::TeamContactChanged(e) => vec![tags::gebied(&e.gebied)],
            DomainEvent::BudgetAllocated(e) => vec![
                tags::line(&e.line),
                tags::wijk(&e.line.wijk),
                tags::budget_year(e.line.year),
            ],
            DomainEvent::InitiativeSubmitted(e) => {
                vec![tags::initiative(&e.id), tags::wijk(&e.wijk)]
            }
            DomainEvent::InitiativeConnected(e) => {
                let mut tags = vec![tags::initiative(&e.id), tags::wijk(&e.wijk)];
                if let ConnectionTarget::Initiative(target) = &e.target {
                    tags.push(tags::initiative(target));
                }
                tags
            }
            DomainEvent::InitiativeFunded(e) => vec![
                tags::initiative(&e.id),
                tags::wijk(&e.line.wijk),
                tags::line(&e.line),
            ],
            DomainEvent::InitiativeCompleted(e) => vec![
                tags::initiative(&e.id),
                tags::wijk(&e.line.wijk),
                tags::line(&e.line),
            ],
            DomainEvent::InitiativeRejected(e) => {
                vec![tags::initiative(&e.id), tags::wijk(&e.wijk)]
            }
            DomainEvent::InitiativeReferred(e) => {
                vec![tags::initiative(&e.id), tags::wijk(&e.wijk)]
            }
            DomainEvent::InitiativeWithdrawn(e) => {
                let mut tags = vec![tags::initiative(&e.id), tags::wijk(&e.wijk)];
                if let Some(returned) = &e.returned {
                    tags.push(tags::line(&returned.line));
                }
                tags
            }
            DomainEvent::InitiatorDataErased(e) => {
                vec![tags::initiative(&e.id), tags::wijk(&e.wijk)]
            }
        }
    }
}
