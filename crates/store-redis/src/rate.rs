//! [`RateLimiter`]: one counter per key and window length; the first
//! request of a window creates it with the window as its expiry.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::{Error, RateDecision, RateLimiter, Result};
use async_trait::async_trait;

use crate::backend::Shared;
use crate::scripts::RATE_COUNT;

/// The Redis [`RateLimiter`]; take it from [`crate::RedisBackend::rate_limiter`].
///
/// Windows start at a key's first request (not aligned to the clock), and
/// `reset_after` is the counter's remaining time to live on the server.
#[derive(Clone, Debug)]
pub struct RedisRateLimiter {
    shared: Arc<Shared>,
}

impl RedisRateLimiter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        if window_ms == 0 {
            return Err(Error::invalid_argument(
                "rate-limit window must be at least 1 ms",
            ));
        }
        let name = self.shared.keys.rate(key, window_ms);
        let (count, ttl_ms): (u64, i64) = self
            .shared
            .connections
            .run(|mut conn| {
                let mut invocation = RATE_COUNT.key(&name);
                invocation.arg(window_ms);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Ok(RateDecision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_after: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
        })
    }
}
