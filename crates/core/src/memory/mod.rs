//! In-process implementations of every trait: the embedded default, used by
//! the local runtime, by tests, and as the reference for the conformance
//! suites. Nothing here survives the process.

mod bus;
mod discovery;
mod guard;
mod payload;
mod rate;
mod store;

pub use bus::{MemoryBus, MemorySubscription};
pub use discovery::StaticDiscovery;
pub use guard::MemoryFiringGuard;
pub use payload::MemoryPayloadStore;
pub use rate::MemoryRateLimiter;
pub use store::{MemoryEventStore, MemorySnapshotStore};

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering from poisoning: every critical section in this
/// module validates before it mutates, so the data stays consistent even if a
/// holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
