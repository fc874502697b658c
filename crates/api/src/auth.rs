//! Who is asking: bearer tokens and the [`Actor`] they stand for. What an actor may do and
//! see is [`crate::policy`]'s question.
//!
//! A token is `wp1.<claims>.<signature>`: base64url JSON claims (subject, role, gebieden,
//! expiry) and their HMAC-SHA256 under the signing key. The key lives in the database (created
//! by the first migration), so every instance on one database accepts the same tokens;
//! `WIJKPULS_AUTH_SECRET` or `--auth-secret-file` overrides it, so that a database backup alone
//! cannot mint tokens. No token means the public.
//!
//! A token issued in the future (beyond [`CLOCK_SKEW`]) or living longer than
//! [`MAX_LIFETIME`] is refused even when its signature is right: such a token can only come
//! from a leaked key or a wrong clock, and would otherwise stay valid far too long.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use wijkpuls_domain::GebiedCode;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "wp1";

/// The longest a token may be valid (`exp - iat`).
pub const MAX_LIFETIME: Duration = Duration::from_secs(31 * 86_400);

/// How far in the future a token's issue time may be (clocks of instances differ a little).
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A subject for a token minted without one: unique, so staff never share idempotency keys.
pub fn default_subject(role: Role) -> String {
    format!("{}-{}", role.as_str(), uuid::Uuid::new_v4().simple())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Public,
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub role: Role,
    /// Who: the token's subject, or "public".
    pub subject: String,
    /// The gebieden a staff member works in.
    pub gebieden: Vec<GebiedCode>,
    /// The client's address, for rate limits (never logged with personal data).
    pub client: Option<IpAddr>,
}

impl Actor {
    pub fn public(client: Option<IpAddr>) -> Actor {
        Actor {
            role: Role::Public,
            subject: "public".into(),
            gebieden: Vec::new(),
            client,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default)]
    pub gebieden: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    pub iat: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future (check the clocks)")]
    IssuedInFuture,
    #[error("the token is valid for longer than the maximum of 31 days")]
    TooLong,
}

/// Signs and checks tokens with one key.
#[derive(Clone)]
pub struct TokenKey {
    key: Vec<u8>,
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey {
            key: secret.to_vec(),
        }
    }

    pub fn issue(
        &self,
        role: Role,
        subject: &str,
        gebieden: &[GebiedCode],
        valid_for: Duration,
    ) -> String {
        let now = unix_now();
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            gebieden: gebieden.iter().map(|g| g.to_string()).collect(),
            exp: now + valid_for.as_secs(),
            iat: now,
        };
        self.sign_claims(&claims)
    }

    /// Signs the given claims as they are (no checks): for tests that craft tokens the
    /// service must refuse.
    pub fn sign_claims(&self, claims: &Claims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let signature = URL_SAFE_NO_PAD.encode(self.sign(&body));
        format!("{PREFIX}.{body}.{signature}")
    }

    /// Checks a token and returns the actor it stands for.
    pub fn verify(&self, token: &str, client: Option<IpAddr>) -> Result<Actor, TokenError> {
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(body), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(TokenError::Malformed)?;
        let now = unix_now();
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.iat > now + CLOCK_SKEW.as_secs() {
            return Err(TokenError::IssuedInFuture);
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_LIFETIME.as_secs() {
            return Err(TokenError::TooLong);
        }
        if claims.role == Role::Public {
            return Err(TokenError::Malformed);
        }
        let gebieden = claims
            .gebieden
            .iter()
            .map(|g| GebiedCode::parse(g).map_err(|_| TokenError::Malformed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Actor {
            role: claims.role,
            subject: claims.sub,
            gebieden,
            client,
        })
    }

    /// Reads an `Authorization` header value (`Bearer TOKEN`); `None` header means public.
    pub fn actor_from_header(
        &self,
        header: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Actor, TokenError> {
        match header {
            None => Ok(Actor::public(client)),
            Some(value) => {
                let token = value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .ok_or(TokenError::Malformed)?;
                self.verify(token.trim(), client)
            }
        }
    }

    fn sign(&self, body: &str) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// A keyed hash for other secrets derived from the same key (e.g. tracking codes).
    pub fn derive(&self, purpose: &str, input: &str) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses `8h`, `30m`, `7d`, `90s` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use e.g. 8h, 30m, 7d"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("invalid duration {text:?}: use e.g. 8h, 30m, 7d")),
    };
    if seconds == 0 || seconds > 366 * 86_400 {
        return Err(format!(
            "invalid duration {text:?}: between 1 second and a year"
        ));
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let key = TokenKey::new(b"secret");
        let w2 = GebiedCode::parse("W2").unwrap();
        let token = key.issue(Role::Staff, "anna", &[w2], Duration::from_secs(60));
        let actor = key.verify(&token, None).unwrap();
        assert_eq!(actor.role, Role::Staff);
        assert_eq!(actor.subject, "anna");
        assert_eq!(actor.gebieden, vec![w2]);

        let other = TokenKey::new(b"other");
        assert_eq!(
            other.verify(&token, None).unwrap_err(),
            TokenError::BadSignature
        );
        let mut tampered = token.clone();
        tampered.insert(5, 'x');
        assert!(key.verify(&tampered, None).is_err());
        assert_eq!(
            key.verify("nonsense", None).unwrap_err(),
            TokenError::Malformed
        );
        assert_eq!(
            key.actor_from_header(Some("Basic abc"), None).unwrap_err(),
            TokenError::Malformed
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let key = TokenKey::new(b"secret");
        let claims = Claims {
            sub: "x".into(),
            role: Role::Admin,
            gebieden: vec![],
            exp: 1,
            iat: 0,
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let token = format!("wp1.{body}.{}", URL_SAFE_NO_PAD.encode(key.sign(&body)));
        assert_eq!(key.verify(&token, None).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn future_and_overlong_tokens_are_refused() {
        let key = TokenKey::new(b"secret");
        let now = unix_now();
        let claims = |iat: u64, exp: u64| Claims {
            sub: "x".into(),
            role: Role::Admin,
            gebieden: vec![],
            exp,
            iat,
        };
        let future = key.sign_claims(&claims(now + 3600, now + 7200));
        assert_eq!(
            key.verify(&future, None).unwrap_err(),
            TokenError::IssuedInFuture
        );
        let long = key.sign_claims(&claims(now, now + 40 * 86_400));
        assert_eq!(key.verify(&long, None).unwrap_err(), TokenError::TooLong);
        // A little skew is fine.
        assert!(key
            .verify(&key.sign_claims(&claims(now + 30, now + 60)), None)
            .is_ok());
        assert_ne!(default_subject(Role::Staff), default_subject(Role::Staff));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("8h").unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("8x").is_err());
        assert!(parse_duration("0h").is_err());
    }
}
