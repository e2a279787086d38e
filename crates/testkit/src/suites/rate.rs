//! [`RateLimiter`] conformance.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::{RateDecision, RateLimiter};

use super::fresh_name;

const WINDOW: Duration = Duration::from_secs(3);

/// A fresh key whose first request opened a window with at least half of it
/// left, so the calls that follow fall in the same window whether the backend
/// aligns windows to the clock or starts them at the first request.
async fn key_at_window_start(limiter: &dyn RateLimiter, limit: u32) -> (String, RateDecision) {
    loop {
        let key = fresh_name("rate");
        let first = limiter.check(&key, limit, WINDOW).await.unwrap();
        if first.reset_after >= WINDOW / 2 {
            return (key, first);
        }
        tokio::time::sleep(first.reset_after + Duration::from_millis(50)).await;
    }
}

/// Requests up to the limit are allowed with the remaining count going down;
/// the next is refused with nothing remaining; the reset is within the window.
pub async fn counts_within_a_window(limiter: Arc<dyn RateLimiter>) {
    let (key, first) = key_at_window_start(&*limiter, 3).await;
    assert!(first.allowed);
    assert_eq!((first.limit, first.remaining), (3, 2));
    let second = limiter.check(&key, 3, WINDOW).await.unwrap();
    assert!(second.allowed);
    assert_eq!(second.remaining, 1);
    let third = limiter.check(&key, 3, WINDOW).await.unwrap();
    assert!(third.allowed);
    assert_eq!(third.remaining, 0);
    let fourth = limiter.check(&key, 3, WINDOW).await.unwrap();
    assert!(!fourth.allowed, "the request over the limit is refused");
    assert_eq!(fourth.remaining, 0);
    assert!(fourth.reset_after <= WINDOW);
    assert!(fourth.reset_after > Duration::ZERO);
}

/// After the reported reset, the key is allowed again with a fresh count.
pub async fn resets_after_the_window(limiter: Arc<dyn RateLimiter>) {
    let (key, _) = key_at_window_start(&*limiter, 1).await;
    let refused = limiter.check(&key, 1, WINDOW).await.unwrap();
    assert!(!refused.allowed);
    tokio::time::sleep(refused.reset_after + Duration::from_millis(200)).await;
    let fresh = limiter.check(&key, 1, WINDOW).await.unwrap();
    assert!(fresh.allowed, "a new window starts counting from zero");
    assert_eq!(fresh.remaining, 0);
}

/// Counting one key never uses up another's allowance.
pub async fn keys_are_independent(limiter: Arc<dyn RateLimiter>) {
    let (busy, _) = key_at_window_start(&*limiter, 1).await;
    assert!(!limiter.check(&busy, 1, WINDOW).await.unwrap().allowed);
    let other = fresh_name("rate");
    let decision = limiter.check(&other, 1, WINDOW).await.unwrap();
    assert!(decision.allowed);
}
