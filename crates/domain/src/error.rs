//! Why the domain refuses something.
//!
//! One error type for every refusal, with messages a person understands. It knows nothing of
//! HTTP or GraphQL: the api crate maps each variant to an error code in one place. A refused
//! command records nothing.

use crate::budget::BudgetLineKey;
use crate::money::Money;
use crate::status::{Action, InitiativeStatus};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The action is not allowed in the initiative's current status (see
    /// [`InitiativeStatus::after`]).
    #[error("cannot {attempted} an initiative that is {from}")]
    InvalidTransition {
        from: InitiativeStatus,
        attempted: Action,
    },

    /// Funding would take more than is left on the budget line.
    #[error("budget line {line} has {remaining} left, {requested} was requested")]
    BudgetExceeded {
        line: BudgetLineKey,
        requested: Money,
        remaining: Money,
    },

    /// A new allocation would be lower than what the line has already committed and spent.
    #[error(
        "budget line {line} cannot be set to {requested}: {in_use} is already committed or spent"
    )]
    AllocationBelowUse {
        line: BudgetLineKey,
        requested: Money,
        in_use: Money,
    },

    /// A wijk, gebied or initiative that the state does not know.
    #[error("{what} {id} was not found")]
    NotFound { what: &'static str, id: String },

    /// Something that may exist only once exists already: an initiative id, or the reference
    /// data of a store that was initialised before.
    #[error("{what} already exists: {id}")]
    AlreadyExists { what: &'static str, id: String },

    /// An input value that breaks a rule of its own (a text too long, a year out of range, a
    /// spent amount above the funded one, a connection to itself, ...).
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// An operator's wijken file that cannot be used; the reason names the place in the file.
    #[error("the wijken file cannot be used: {reason}")]
    InvalidReferenceData { reason: String },

    /// A stored event that cannot be read as a domain event: an unknown type, a schema version
    /// this code does not know, or a payload that does not fit. Points at the log or at a
    /// missing upcaster, never at user input.
    #[error(
        "stored event {event_type} (schema version {schema_version}) cannot be read: {reason}"
    )]
    UnreadableEvent {
        event_type: String,
        schema_version: u32,
        reason: String,
    },
}
