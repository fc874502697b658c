//! Scalars and enums that mirror the domain's types in GraphQL: `Money` as a decimal string,
//! `Position` as a string (global positions outgrow GraphQL's 32-bit `Int`), and the enums.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use wijkpuls_domain as domain;

/// Euros as a decimal string with two decimals: `"1250.00"`. Inputs accept the same (and
/// `"1250"` or `"1250.5"`), never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub domain::Money);

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

/// A global position in the event log, as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position(pub u64);

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

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Theme")]
pub enum Theme {
    Groen,
    Wijkonderhoud,
    Speeltuinen,
    Veiligheid,
    Welzijn,
    Participatie,
    Sport,
    Cultuur,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::InitiativeStatus")]
pub enum InitiativeStatus {
    Submitted,
    Connected,
    Funded,
    Completed,
    Rejected,
    Withdrawn,
    Referred,
}

/// How an initiative came in.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Channel")]
pub enum Channel {
    Web,
    Email,
    Phone,
    InPerson,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::PartyKind")]
pub enum PartyKind {
    Organisation,
    Person,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::WithdrawnBy")]
pub enum WithdrawnBy {
    Initiator,
    Staff,
}
