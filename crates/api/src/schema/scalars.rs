//! Scalars and enums that mirror the domain's types in GraphQL: `Money` as a decimal string,
//! `Position` as a string (global positions outgrow GraphQL's 32-bit `Int`), `DateTime` as an
//! RFC 3339 string, and the enums. Their doc comments are the schema's descriptions.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::Utc;
use wijkpuls_domain as domain;

/// An amount in euros (the `Money` scalar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub domain::Money);

/// An amount in euros as a decimal string with exactly two decimals: `"1250.00"`. Inputs
/// accept the same, or `"1250"` and `"1250.5"`; never a JSON number, never negative, never more
/// than two decimals, at most `"1000000000.00"`. Exact (whole cents), so add amounts as decimals,
/// not as floats. In TypeScript: `string`.
#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => domain::Money::parse(text)
                .map(Money)
                .map_err(|e| InputValueError::custom(format!("invalid amount {text:?}: {e}"))),
            _ => Err(InputValueError::custom(
                "an amount is a string of euros with at most two decimals, e.g. \"1250.00\"",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<domain::Money> for Money {
    fn from(money: domain::Money) -> Self {
        Money(money)
    }
}

/// A global position in the event log (the `Position` scalar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position(pub u64);

/// A global position in the event log, as a string of digits: `"1042"`. Every event has one;
/// later events have higher ones. A string because positions outgrow
/// GraphQL's 32-bit `Int`; compare them as numbers (`BigInt` in TypeScript), not as text. Give the
/// last one you saw as `after` to go on from there.
#[Scalar(name = "Position")]
impl ScalarType for Position {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => text.parse::<u64>().map(Position).map_err(|_| {
                InputValueError::custom("a position is a string of digits, e.g. \"1042\"")
            }),
            _ => Err(InputValueError::custom(
                "a position is a string of digits, e.g. \"1042\"",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Named `DateTime` on the wire, written exactly as async-graphql writes a `chrono` time, so
/// that it can carry a description and `@specifiedBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub chrono::DateTime<Utc>);

/// A moment as an RFC 3339 string in UTC: `"2026-03-14T09:30:00+00:00"`, with fractional
/// seconds when the moment has them (`"2026-03-14T09:30:00.123456+00:00"`). In TypeScript:
/// `string`; `new Date(value)` reads it.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => Ok(Timestamp(text.parse()?)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

impl From<chrono::DateTime<Utc>> for Timestamp {
    fn from(time: chrono::DateTime<Utc>) -> Self {
        Timestamp(time)
    }
}

/// The theme of an initiative and of a budget line: every wijk has a budget per theme and year.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Theme")]
pub enum Theme {
    /// Green: planting, gardens, trees, green spaces.
    Groen,
    /// Upkeep of the wijk: streets, benches, litter, small repairs.
    Wijkonderhoud,
    /// Playgrounds.
    Speeltuinen,
    /// Safety: lighting, traffic, a safer street.
    Veiligheid,
    /// Well-being: meeting each other, loneliness, care for neighbours.
    Welzijn,
    /// Participation: residents taking part in their wijk.
    Participatie,
    /// Sport and exercise.
    Sport,
    /// Culture: arts, music, festivities.
    Cultuur,
}

/// Where an initiative is in its lifecycle. It starts `SUBMITTED`; `COMPLETED`, `REJECTED`,
/// `WITHDRAWN` and `REFERRED` are final.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::InitiativeStatus")]
pub enum InitiativeStatus {
    /// Submitted and waiting for the team Leefomgeving.
    Submitted,
    /// Staff connected it with another initiative, an organisation or a person.
    Connected,
    /// An amount is committed from the wijk's budget line (`fundedAmount`).
    Funded,
    /// Done: the result is reported and what was spent (`spentAmount`) counts as spent.
    Completed,
    /// Staff rejected it (`rejectionReason` says why).
    Rejected,
    /// Its initiator or staff withdrew it (`withdrawnBy`); a funded amount returned to the line.
    Withdrawn,
    /// An individual (care) question, referred to a sociaal wijkteam (`sociaalWijkteam`).
    Referred,
}

/// How an initiative came in.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Channel")]
pub enum Channel {
    /// Through the website or app: every submission by a resident themselves.
    Web,
    /// By e-mail, entered by staff.
    Email,
    /// By phone, entered by staff.
    Phone,
    /// In person (at a counter or in the wijk), entered by staff.
    InPerson,
}

/// What an initiative is connected with, besides another initiative.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::PartyKind")]
pub enum PartyKind {
    /// An organisation (a foundation, a school, a company); its name is public.
    Organisation,
    /// A person; their name is personal data, shown only to staff of the gebied and admins.
    Person,
}

/// Who withdrew an initiative.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::WithdrawnBy")]
pub enum WithdrawnBy {
    /// Its initiator, with the tracking code.
    Initiator,
    /// Staff of the gebied (or an admin).
    Staff,
}

/// What kind of event it is: the event types of the log, as `EventRecord.type` and
/// `HistoryEntry.type` spell them in CamelCase (`INITIATIVE_FUNDED` is `InitiativeFunded`).
/// New kinds may be added: show `summary` for one you do not know.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The municipality and where its list of wijken came from: the log's first event.
    MunicipalityRegistered,
    /// A gebied (wijkprogramma) with its team Leefomgeving.
    GebiedRegistered,
    /// A wijk, in its gebied.
    WijkRegistered,
    /// A gebied's team Leefomgeving got new contact details.
    TeamContactChanged,
    /// A budget line's allocation was set (`amount`: the new allocated amount).
    BudgetAllocated,
    /// An initiative was submitted (`amount`: what it asks for).
    InitiativeSubmitted,
    /// An initiative was connected with another one, an organisation or a person.
    InitiativeConnected,
    /// An amount was committed to an initiative (`amount`: the funded amount).
    InitiativeFunded,
    /// A funded initiative reported its result (`amount`: what was spent; `returnedAmount`:
    /// the rest, back to the line).
    InitiativeCompleted,
    /// Staff rejected an initiative.
    InitiativeRejected,
    /// An individual (care) question was referred to a sociaal wijkteam.
    InitiativeReferred,
    /// An initiative was withdrawn (`amount` and `returnedAmount`: what went back to the line,
    /// if it was funded).
    InitiativeWithdrawn,
    /// The initiator's personal data was erased.
    InitiatorDataErased,
}

impl EventType {
    /// The kind of the event type named `name` (`"InitiativeFunded"`), if it is one.
    pub fn from_name(name: &str) -> Option<EventType> {
        use EventType::*;
        Some(match name {
            "MunicipalityRegistered" => MunicipalityRegistered,
            "GebiedRegistered" => GebiedRegistered,
            "WijkRegistered" => WijkRegistered,
            "TeamContactChanged" => TeamContactChanged,
            "BudgetAllocated" => BudgetAllocated,
            "InitiativeSubmitted" => InitiativeSubmitted,
            "InitiativeConnected" => InitiativeConnected,
            "InitiativeFunded" => InitiativeFunded,
            "InitiativeCompleted" => InitiativeCompleted,
            "InitiativeRejected" => InitiativeRejected,
            "InitiativeReferred" => InitiativeReferred,
            "InitiativeWithdrawn" => InitiativeWithdrawn,
            "InitiatorDataErased" => InitiatorDataErased,
            _ => return None,
        })
    }

    /// The kind of an event type name the log holds; a name the log cannot hold is an internal
    /// error (the codec decoded the event by this name).
    pub fn of(name: &str) -> crate::error::ApiResult<EventType> {
        EventType::from_name(name).ok_or_else(|| {
            crate::error::ApiError::Internal(std::sync::Arc::new(anyhow::anyhow!(
                "event type {name:?} has no EventType"
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new domain event without its `EventType` would make `kind` an internal error on every
    /// list that shows it: the two lists must name the same types.
    #[test]
    fn every_domain_event_type_has_an_event_type() {
        for name in domain::events::DomainEvent::TYPES {
            assert!(
                EventType::from_name(name).is_some(),
                "{name} has no EventType value"
            );
        }
        assert_eq!(
            domain::events::DomainEvent::TYPES.len(),
            <EventType as async_graphql::resolver_utils::EnumType>::items().len(),
            "EventType has a value no domain event has"
        );
    }
}
