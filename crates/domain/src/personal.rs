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
