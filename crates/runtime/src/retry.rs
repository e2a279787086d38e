//! Bounded retries with jittered exponential backoff.

use std::time::Duration;

/// How often and how patiently a conflicting command is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The pause after the first failed attempt, before jitter.
    pub base_delay: Duration,
    /// The longest pause, before jitter.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
        }
    }
}

impl From<&angzarr_core::config::MergeRetryConfig> for RetryPolicy {
    fn from(config: &angzarr_core::config::MergeRetryConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            base_delay: Duration::from_millis(config.base_delay_ms),
            max_delay: Duration::from_millis(config.max_delay_ms),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (0-based): doubling from
    /// `base_delay` up to `max_delay`, then scaled by a random factor in
    /// [0.5, 1.5) so that contending writers spread out.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doubled = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        doubled.min(self.max_delay).mul_f64(0.5 + fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let policy = RetryPolicy::default();
        for attempt in 0..40 {
            let delay = policy.delay(attempt);
            assert!(delay <= policy.max_delay.mul_f64(1.5));
            assert!(delay >= policy.base_delay / 2);
        }
        assert!(policy.delay(0) < Duration::from_millis(3));
    }
}
