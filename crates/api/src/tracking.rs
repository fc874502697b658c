//! Tracking codes: what an initiator gets on submitting, to follow and withdraw their
//! initiative without an account.
//!
//! A code is `<initiative id>.<secret>`: the id says which initiative, the 256-bit secret proves
//! the holder is its initiator. Only a SHA-256 hash of the whole code is recorded. The secret is
//! random, except when the submission carries an idempotency key: then it is derived from that
//! key (HMAC under the server's key), so a retry answers with the same code.
//!
//! 256 bits cannot be guessed, but wrong codes still cost: every wrong code counts against a
//! per-client-address [`CodeGuesses`] limit (aliases included, since each is checked on its
//! own), and once it is used up every code from that address is answered `RATE_LIMITED`,
//! right or wrong, so a guesser learns nothing more.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use wijkpuls_domain::{InitiativeId, InitiativeView};
use wijkpuls_event_store::EventStore;

use crate::auth::{Actor, TokenKey};
use crate::error::ApiResult;
use crate::ratelimit::RateLimiter;

/// Wrong tracking codes allowed per client address (a token bucket per minute).
pub struct CodeGuesses(pub RateLimiter);

impl CodeGuesses {
    /// `per_minute` 0 turns the limit off.
    pub fn new(per_minute: u32) -> CodeGuesses {
        CodeGuesses(RateLimiter::new(per_minute, per_minute.max(1)))
    }
}

const TOO_MANY: &str = "too many wrong tracking codes from your address";

/// [`check`] for a GraphQL field: the limit, the caller and the store come from the request's
/// data.
pub async fn check_in(
    ctx: &async_graphql::Context<'_>,
    code: &str,
    view: Option<&InitiativeView>,
) -> ApiResult<bool> {
    let guesses = ctx.data_opt::<std::sync::Arc<CodeGuesses>>().map(|g| &**g);
    let store = &crate::schema::app(ctx).service.store;
    check(guesses, crate::schema::actor(ctx), store, code, view).await
}

/// Whether `code` is this initiative's tracking code (`view` `None`: the code names no
/// initiative, so it is wrong). A wrong code counts against the caller's address; once too
/// many were wrong every check is refused with `RATE_LIMITED`, before the log is read.
pub async fn check(
    guesses: Option<&CodeGuesses>,
    actor: &Actor,
    store: &EventStore,
    code: &str,
    view: Option<&InitiativeView>,
) -> ApiResult<bool> {
    if let Some(guesses) = guesses {
        guesses.0.ensure_left(actor.client, TOO_MANY)?;
    }
    let right = match view {
        Some(view) => matches(code, &expected_hash(store, view).await?),
        None => false,
    };
    if !right {
        if let Some(guesses) = guesses {
            guesses.0.take_one(actor.client, TOO_MANY)?;
        }
    }
    Ok(right)
}

/// The hash of the initiative's tracking code, as recorded in its `InitiativeSubmitted` event
/// (the read model does not keep it: a check is rare, and 300,000 hashes are 18 MiB).
pub async fn expected_hash(store: &EventStore, view: &InitiativeView) -> ApiResult<String> {
    Ok(crate::personal::submission(store, view)
        .await?
        .tracking_code_hash)
}

pub fn new_code(id: &InitiativeId, key: &TokenKey, idempotency_key: Option<&str>) -> String {
    let secret: [u8; 32] = match idempotency_key {
        Some(k) => key.derive("tracking-code", k),
        None => {
            let mut bytes = [0u8; 32];
            OsRng.fill_bytes(&mut bytes);
            bytes
        }
    };
    format!(
        "{}.{}",
        id.as_uuid().simple(),
        URL_SAFE_NO_PAD.encode(secret)
    )
}

pub fn hash(code: &str) -> String {
    let digest = Sha256::digest(code.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The initiative a code names (whether the code is right is [`matches`]'s question).
pub fn initiative_of(code: &str) -> Option<InitiativeId> {
    let (id, _) = code.trim().split_once('.')?;
    InitiativeId::parse(id).ok()
}

/// Whether `code` is the tracking code whose hash is `expected` (compared in constant time).
pub fn matches(code: &str, expected: &str) -> bool {
    let given = hash(code.trim());
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
