//! A per-client-address limit (anonymous submissions, wrong tracking codes): a token bucket per address, refilled
//! at `per_minute`, holding at most `burst`. Memory stays bounded: full buckets are dropped when
//! the table grows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{ApiError, ApiResult};

const MAX_TRACKED: usize = 10_000;

pub struct RateLimiter {
    per_minute: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    /// Counts each refusal, for `/metrics`.
    hits: crate::metrics::Hits,
}

impl RateLimiter {
    /// `per_minute` 0 turns the limit off.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute as f64,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
            hits: crate::metrics::Hits::default(),
        }
    }

    /// This limiter, counting each refusal in `hits`.
    pub fn counted(self, hits: crate::metrics::Hits) -> RateLimiter {
        RateLimiter { hits, ..self }
    }

    /// Takes one token for `client`, or refuses with `RATE_LIMITED`.
    pub fn check(&self, client: Option<IpAddr>) -> ApiResult<()> {
        self.take(client, 1.0, "too many submissions from your address")
    }

    /// Refuses with `RATE_LIMITED` (saying `what`) when `client` has no token left, without
    /// taking one.
    pub fn ensure_left(&self, client: Option<IpAddr>, what: &str) -> ApiResult<()> {
        self.take(client, 0.0, what)
    }

    /// Takes one token, saying `what` when none is left.
    pub fn take_one(&self, client: Option<IpAddr>, what: &str) -> ApiResult<()> {
        self.take(client, 1.0, what)
    }

    fn take(&self, client: Option<IpAddr>, cost: f64, what: &str) -> ApiResult<()> {
        if self.per_minute == 0.0 {
            return Ok(());
        }
        // Without a known address all anonymous clients share one bucket.
        let client = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            let (rate, burst) = (self.per_minute, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + at.elapsed().as_secs_f64() * rate / 60.0 < burst
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_minute / 60.0)
            .min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= cost;
            Ok(())
        } else {
            self.hits.hit();
            let wait = ((1.0 - *tokens) * 60.0 / self.per_minute).ceil();
            Err(ApiError::RateLimited(format!(
                "{what}; try again in {wait} seconds"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_burst_per_address() {
        let limiter = RateLimiter::new(1, 3);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        for _ in 0..3 {
            limiter.check(a).unwrap();
        }
        assert_eq!(
            limiter.check(a).unwrap_err().code(),
            crate::error::ErrorCode::RateLimited
        );
        limiter.check(b).unwrap();
        assert!(RateLimiter::new(0, 1).check(a).is_ok());
    }
}
