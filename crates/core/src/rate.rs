//! Counting requests per key in fixed windows.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// The answer of [`RateLimiter::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this request is within the limit.
    pub allowed: bool,
    /// The limit per window.
    pub limit: u32,
    /// Requests left in the current window.
    pub remaining: u32,
    /// Time until the current window ends and the count starts again.
    pub reset_after: Duration,
}

/// A fixed-window rate limiter shared by every instance of a function.
#[async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Counts one request for `key` in the current `window` and decides it
    /// against `limit`. Requests over the limit are counted too.
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision>;
}
