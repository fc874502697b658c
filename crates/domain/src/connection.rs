//! What an initiative can be connected with: another initiative (the link shows on both), or an
//! organisation or person with the same idea.

use serde::{Deserialize, Serialize};

use crate::ids::InitiativeId;
use crate::text::PartyName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionTarget {
    /// Another initiative, possibly in another wijk.
    Initiative(InitiativeId),
    /// An organisation or a person outside the system. A person's name is personal data: it is
    /// kept out of history summaries, and the api shows it to staff only.
    Party { name: PartyName, kind: PartyKind },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Organisation,
    Person,
}

impl ConnectionTarget {
    /// True when both name the same initiative, or the same kind of party by the same name
    /// (ignoring case): connecting twice to the same target is refused.
    pub fn same_as(&self, other: &ConnectionTarget) -> bool {
        match (self, other) {
            (ConnectionTarget::Initiative(a), ConnectionTarget::Initiative(b)) => a == b,
            (
                ConnectionTarget::Party { name: a, kind: ka },
                ConnectionTarget::Party { name: b, kind: kb },
            ) => ka == kb && a.as_str().to_lowercase() == b.as_str().to_lowercase(),
            _ => false,
        }
    }
}
