//! What an initiative can be connected with: another initiative (the link shows on both), or an
//! organisation or person with the same idea.

use serde::{Deserialize, Serialize};

use crate::ids::InitiativeId;
use crate::personal::SealedInitiator;
use crate::text::PartyName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionTarget {
    /// Another initiative, possibly in another wijk.
    Initiative(InitiativeId),
    /// An organisation or a person outside the system. A person's name is personal data: it is
    /// kept out of history summaries, and the api shows it to staff only.
    /// Recorded by earlier versions for persons too; still read, no longer written for them.
    Party { name: PartyName, kind: PartyKind },
    /// A person, their name sealed with the initiative's key (the api's sealer), so erasing the
    /// initiator's data erases it too. `fingerprint` is a keyed hash of the name, to refuse
    /// connecting the same person twice without reading the name.
    SealedPerson {
        name: SealedInitiator,
        fingerprint: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Organisation,
    Person,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_recorded_before_sealing_still_read_and_sealed_ones_round_trip() {
        let old: ConnectionTarget =
            serde_json::from_str(r#"{"party":{"name":"Jan de Boer","kind":"person"}}"#).unwrap();
        assert!(matches!(
            old,
            ConnectionTarget::Party {
                kind: PartyKind::Person,
                ..
            }
        ));
        let sealed = ConnectionTarget::SealedPerson {
            name: SealedInitiator {
                key_id: "initiator-x".into(),
                ciphertext: "AAAA".into(),
            },
            fingerprint: "0011".into(),
        };
        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(
            serde_json::from_str::<ConnectionTarget>(&json).unwrap(),
            sealed
        );
        let kept = crate::projection::ConnectedTo::of(&sealed);
        assert!(kept.same_as(&sealed.clone()));
        assert!(!kept.same_as(&old));
        assert!(!crate::projection::ConnectedTo::of(&old).same_as(&sealed));
    }
}
