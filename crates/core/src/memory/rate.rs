use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::lock;
use crate::error::{Error, Result};
use crate::rate::{RateDecision, RateLimiter};

/// A [`RateLimiter`] in process memory, with windows aligned to multiples of
/// the window length since the Unix epoch (as the cloud backends do).
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    /// Count per (key, window length in ms), with the window it counts.
    counts: Mutex<HashMap<(String, u128), (u128, u32)>>,
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The current fixed window of length `window`: its index and the time left in it.
pub(crate) fn current_window(window: Duration) -> Result<(u128, Duration)> {
    let window_ms = window.as_millis();
    if window_ms == 0 {
        return Err(Error::invalid_argument(
            "rate-limit window must be at least 1 ms",
        ));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let index = now_ms / window_ms;
    let left_ms = (index + 1) * window_ms - now_ms;
    Ok((
        index,
        Duration::from_millis(u64::try_from(left_ms).unwrap_or(u64::MAX)),
    ))
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let (index, reset_after) = current_window(window)?;
        let mut counts = lock(&self.counts);
        let entry = counts
            .entry((key.to_owned(), window.as_millis()))
            .or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let count = entry.1;
        Ok(RateDecision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_after,
        })
    }
}
