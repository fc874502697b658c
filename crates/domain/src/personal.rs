//! The initiator's personal data, as the domain sees it: sealed.
//!
//! Name, e-mail and phone fall under the AVG/GDPR and must be erasable while the log stays
//! append-only. The api crate checks them with [`crate::text`]'s types, encrypts them with a key
//! of their own and can destroy that key (crypto-shredding). The domain only carries the sealed
//! result in `InitiativeSubmitted` and in the initiative view, which drops it once
//! `InitiatorDataErased` is recorded. The domain never reads it, and no history line, summary or
//! tag contains it.

use serde::{Deserialize, Serialize};

/// Encrypted initiator data: which key sealed it, and the ciphertext (both opaque here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedInitiator {
    pub key_id: String,
    pub ciphertext: String,
}

/// Free text staff type about an initiative that may name people or describe a person's
/// situation: a connection's note, a referral's note. The api seals it with the initiative's key
/// (as the initiator's data), so erasing the initiator's data erases it too. Notes recorded by
/// earlier versions, and notes written after an erasure (there is no key left), are plain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StaffNote {
    Plain(crate::text::Note),
    Sealed(SealedInitiator),
}

impl From<crate::text::Note> for StaffNote {
    fn from(note: crate::text::Note) -> Self {
        StaffNote::Plain(note)
    }
}
