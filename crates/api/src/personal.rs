//! Initiators' personal data, sealed for the log and erasable (crypto-shredding).
//!
//! Each initiator's name, e-mail and phone are encrypted (AES-256-GCM) with a key of their own,
//! kept in the store's [`Vault`] outside the append-only log. The log holds only ciphertext.
//! Erasing destroys the key: the ciphertext stays, unreadable for good, and every other fact
//! about the initiative stays as it was.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use wijkpuls_domain::{
    events::InitiativeSubmitted, DomainEvent, Email, InitiativeId, InitiativeView, PersonName,
    Phone, SealedInitiator,
};
use wijkpuls_event_store::{EventStore, Position, StoreError, SubjectKey, Vault};

use crate::live::Live;

/// The initiator's personal data, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiatorData {
    pub name: PersonName,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

#[derive(Clone)]
pub struct Sealer {
    vault: Vault,
}

impl Sealer {
    pub fn new(vault: Vault) -> Sealer {
        Sealer { vault }
    }

    /// Encrypts `data` under a new key for this initiative's initiator. Touches no database:
    /// the key goes into the vault with the events that carry the sealed data (give it to
    /// [`crate::service::Service::execute_with_keys`]), in one transaction, so neither is
    /// ever recorded without the other.
    pub fn seal(
        &self,
        initiative: InitiativeId,
        data: &InitiatorData,
    ) -> (SealedInitiator, SubjectKey) {
        let (sealed, key) = seal_under_new_key(initiative, data);
        let subject_key = SubjectKey {
            id: sealed.key_id.clone(),
            key,
        };
        (sealed, subject_key)
    }

    /// Decrypts, or `None` when the key was destroyed (erased) or the data does not open.
    pub async fn open(
        &self,
        sealed: &SealedInitiator,
    ) -> Result<Option<InitiatorData>, StoreError> {
        let keys = self.vault.keys(&[sealed.key_id.as_str()]).await?;
        let Some(key) = keys.get(&sealed.key_id) else {
            return Ok(None);
        };
        Ok(open_with(key, &sealed.ciphertext))
    }

    /// Encrypts other personal data about this initiative (a person staff connected to it)
    /// under the initiator's key, so erasing that key erases this too. `None` when the key was
    /// already destroyed.
    pub async fn seal_text(
        &self,
        key_id: &str,
        text: &str,
    ) -> Result<Option<SealedInitiator>, StoreError> {
        let keys = self.vault.keys(&[key_id]).await?;
        let Some(key) = keys.get(key_id).filter(|k| k.len() == 32) else {
            return Ok(None);
        };
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut sealed = nonce.to_vec();
        sealed.extend(
            cipher
                .encrypt(
                    &nonce,
                    serde_json::to_vec(text)
                        .expect("text serialises")
                        .as_slice(),
                )
                .expect("AES-GCM encryption of a small buffer cannot fail"),
        );
        Ok(Some(SealedInitiator {
            key_id: key_id.to_owned(),
            ciphertext: STANDARD.encode(sealed),
        }))
    }

    /// Decrypts what [`Sealer::seal_text`] sealed; `None` once erased.
    pub async fn open_text(&self, sealed: &SealedInitiator) -> Result<Option<String>, StoreError> {
        let keys = self.vault.keys(&[sealed.key_id.as_str()]).await?;
        let Some(key) = keys.get(&sealed.key_id) else {
            return Ok(None);
        };
        Ok(open_with(key, &sealed.ciphertext))
    }

    /// Destroys the key; the data can never be read again.
    pub async fn erase(&self, sealed_key_id: &str) -> Result<bool, StoreError> {
        self.vault.destroy_key(sealed_key_id).await
    }
}

fn open_with<T: serde::de::DeserializeOwned>(key: &[u8], ciphertext: &str) -> Option<T> {
    if key.len() != 32 {
        return None;
    }
    let bytes = STANDARD.decode(ciphertext).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, body) = bytes.split_at(12);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let plain = cipher.decrypt(Nonce::from_slice(nonce), body).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// The key id an initiative's initiator data is sealed under.
pub fn key_id(initiative: &InitiativeId) -> String {
    format!("initiator-{initiative}")
}

/// The initiator's sealed personal data, read from the initiative's `InitiativeSubmitted` event
/// in the log (the read model does not keep it: see [`InitiativeView::initiator_erased`]);
/// `None` once erased, in `view` or now: a view of the past (`asOf`) from before an erasure
/// still says not erased, and the key is destroyed only after the erasure is recorded, so a key
/// that survived a failure in between must not show the data there. One indexed read of one
/// event.
pub async fn sealed_initiator(
    store: &EventStore,
    live: &Live,
    view: &InitiativeView,
) -> anyhow::Result<Option<SealedInitiator>> {
    let erased_now = || {
        live.read()
            .initiative(&view.id)
            .is_some_and(|now| now.initiator_erased)
    };
    if view.initiator_erased || erased_now() {
        return Ok(None);
    }
    Ok(Some(submission(store, view).await?.initiator))
}

/// The initiative's `InitiativeSubmitted` event, read from the log at
/// [`InitiativeView::submitted_position`] and checked to be this initiative's. It holds what
/// the read model leaves in the log because only one initiative's page or one check uses it:
/// the sealed initiator data and the tracking code's hash. One indexed read of one event.
pub async fn submission(
    store: &EventStore,
    view: &InitiativeView,
) -> anyhow::Result<InitiativeSubmitted> {
    let position = view.submitted_position();
    let records = store
        .read_batch(Position(position.saturating_sub(1)), 1)
        .await?;
    let record = records
        .first()
        .filter(|record| record.position.0 == position)
        .ok_or_else(|| anyhow::anyhow!("no event at position {position}"))?;
    match crate::codec::to_recorded(record)?.event {
        DomainEvent::InitiativeSubmitted(e) if e.id == view.id => Ok(e),
        _ => anyhow::bail!(
            "the event at position {position} is not initiative {}'s submission",
            view.id
        ),
    }
}

/// Encrypts `data` under a new key for this initiative's initiator: the sealed data and the
/// key, to be stored together in one transaction (by the service, or `wijkpuls generate`).
pub fn seal_under_new_key(
    initiative: InitiativeId,
    data: &InitiatorData,
) -> (SealedInitiator, Vec<u8>) {
    let key = Aes256Gcm::generate_key(OsRng);
    (seal_with(&key, key_id(&initiative), data), key.to_vec())
}

fn seal_with(key: &Key<Aes256Gcm>, key_id: String, data: &InitiatorData) -> SealedInitiator {
    let cipher = Aes256Gcm::new(key);
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let plain = serde_json::to_vec(data).expect("initiator data serialises");
    let mut sealed = nonce.to_vec();
    sealed.extend(
        cipher
            .encrypt(&nonce, plain.as_slice())
            .expect("AES-GCM encryption of a small buffer cannot fail"),
    );
    SealedInitiator {
        key_id,
        ciphertext: STANDARD.encode(sealed),
    }
}
