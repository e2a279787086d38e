//! [`FiringGuard`] conformance.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_core::{Acquisition, Error, FiringGuard, Lease};

use super::fresh_name;

const LEASE: Duration = Duration::from_secs(1);
const RETENTION: Duration = Duration::from_secs(60);
/// Slack for clocks and round trips when waiting for something to expire.
const SLACK: Duration = Duration::from_millis(300);

async fn acquired(guard: &dyn FiringGuard, key: &str, lease: Duration) -> Lease {
    match guard.acquire(key, lease).await.unwrap() {
        Acquisition::Acquired(lease) => {
            assert_eq!(lease.key, key);
            lease
        }
        other => panic!("expected to acquire `{key}`, got {other:?}"),
    }
}

/// The first acquire wins; a second while the first works sees it in
/// progress; after completion, duplicates see it completed.
pub async fn acquire_then_duplicate(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("dup");
    let lease = acquired(&*guard, &key, Duration::from_secs(30)).await;
    match guard.acquire(&key, Duration::from_secs(30)).await.unwrap() {
        Acquisition::InProgress { expires_in } => assert!(expires_in <= Duration::from_secs(30)),
        other => panic!("expected in progress, got {other:?}"),
    }
    guard.complete(&lease, RETENTION).await.unwrap();
    assert_eq!(
        guard.acquire(&key, Duration::from_secs(30)).await.unwrap(),
        Acquisition::Completed
    );
}

/// An in-progress key whose lease expired (its holder died) can be taken over.
pub async fn in_progress_expires(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("expiry");
    let first = acquired(&*guard, &key, LEASE).await;
    assert!(matches!(
        guard.acquire(&key, LEASE).await.unwrap(),
        Acquisition::InProgress { .. }
    ));
    tokio::time::sleep(LEASE + SLACK).await;
    let second = acquired(&*guard, &key, Duration::from_secs(30)).await;
    assert_ne!(first.token, second.token);
    guard.complete(&second, RETENTION).await.unwrap();
}

/// A released key can be acquired again at once (a failed delivery is retried).
pub async fn release_allows_a_retry(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("release");
    let lease = acquired(&*guard, &key, Duration::from_secs(30)).await;
    guard.release(&lease).await.unwrap();
    let again = acquired(&*guard, &key, Duration::from_secs(30)).await;
    guard.complete(&again, RETENTION).await.unwrap();
}

/// A completed key is remembered for its retention, then forgotten.
pub async fn completion_is_retained_then_forgotten(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("retention");
    let lease = acquired(&*guard, &key, Duration::from_secs(30)).await;
    guard
        .complete(&lease, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        guard.acquire(&key, LEASE).await.unwrap(),
        Acquisition::Completed
    );
    tokio::time::sleep(Duration::from_secs(1) + SLACK).await;
    acquired(&*guard, &key, LEASE).await;
}

/// A holder whose lease expired and was taken over can neither complete nor
/// release the key.
pub async fn stale_lease_cannot_complete(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("stale");
    let stale = acquired(&*guard, &key, LEASE).await;
    tokio::time::sleep(LEASE + SLACK).await;
    let current = acquired(&*guard, &key, Duration::from_secs(30)).await;
    let err = guard.complete(&stale, RETENTION).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err:?}");
    let err = guard.release(&stale).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err:?}");
    // The current holder is unaffected.
    assert!(matches!(
        guard.acquire(&key, LEASE).await.unwrap(),
        Acquisition::InProgress { .. }
    ));
    guard.complete(&current, RETENTION).await.unwrap();
}

/// A renewed lease keeps others out past its first end, and only its holder
/// can renew it: a stale holder's renewal is `LeaseLost`.
pub async fn a_renewed_lease_keeps_others_out(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("renew");
    let lease = acquired(&*guard, &key, LEASE).await;
    tokio::time::sleep(LEASE / 2).await;
    guard.renew(&lease, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(LEASE / 2 + SLACK).await;
    // Past the first lease's end: still this holder's.
    assert!(matches!(
        guard.acquire(&key, LEASE).await.unwrap(),
        Acquisition::InProgress { .. }
    ));
    guard.complete(&lease, RETENTION).await.unwrap();
    let err = guard.renew(&lease, LEASE).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err:?}");

    // A holder whose lease was taken over cannot renew it.
    let other = fresh_name("renew-stale");
    let stale = acquired(&*guard, &other, LEASE).await;
    tokio::time::sleep(LEASE + SLACK).await;
    let current = acquired(&*guard, &other, Duration::from_secs(30)).await;
    let err = guard.renew(&stale, LEASE).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err:?}");
    guard.complete(&current, RETENTION).await.unwrap();
}

/// Eight concurrent deliveries of one event: the effect happens once.
pub async fn duplicate_deliveries_have_one_effect(guard: Arc<dyn FiringGuard>) {
    let key = fresh_name("effect");
    let effects = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (guard, key, effects) = (guard.clone(), key.clone(), effects.clone());
            tokio::spawn(async move {
                match guard.acquire(&key, Duration::from_secs(30)).await.unwrap() {
                    Acquisition::Acquired(lease) => {
                        effects.fetch_add(1, Ordering::SeqCst);
                        guard.complete(&lease, RETENTION).await.unwrap();
                    }
                    Acquisition::Completed | Acquisition::InProgress { .. } => {}
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(effects.load(Ordering::SeqCst), 1);
    assert_eq!(
        guard.acquire(&key, LEASE).await.unwrap(),
        Acquisition::Completed
    );
}
