//! The identity of an initiative: a UUID, version 7 for new ones so ids sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InitiativeId(Uuid);

impl InitiativeId {
    /// A new, time-ordered id (UUID v7).
    #[allow(clippy::new_without_default)] // a default id would be a random one: say `new`
    pub fn new() -> InitiativeId {
        InitiativeId(Uuid::now_v7())
    }

    /// Any valid UUID (ids made elsewhere or before v7 remain usable).
    pub fn parse(text: &str) -> Result<InitiativeId, DomainError> {
        Uuid::parse_str(text.trim())
            .map(InitiativeId)
            .map_err(|_| DomainError::Invalid {
                field: "id",
                reason: format!(
                    "{:?} is not an initiative id (a UUID)",
                    text.chars().take(40).collect::<String>()
                ),
            })
    }

    pub fn from_uuid(uuid: Uuid) -> InitiativeId {
        InitiativeId(uuid)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for InitiativeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for InitiativeId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InitiativeId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_v7_and_parse_back() {
        let id = InitiativeId::new();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(InitiativeId::parse(&id.to_string()).unwrap(), id);
        assert!(InitiativeId::parse("not-a-uuid").is_err());
        assert!(InitiativeId::parse("").is_err());
    }
}
