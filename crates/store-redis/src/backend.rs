//! The handle a deployment builds once and takes every store from.

use std::sync::Arc;

use angzarr_core::store::StoreLimits;

use crate::client::Connections;
use crate::guard::RedisFiringGuard;
use crate::keys::Keys;
use crate::rate::RedisRateLimiter;
use crate::snapshot::RedisSnapshotStore;
use crate::store::RedisEventStore;

/// One Redis deployment: a connection pool and a key prefix, shared by the
/// event store, snapshot store, firing guard and rate limiter taken from it.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisBackend {
    shared: Arc<Shared>,
}

/// What every store of one backend uses.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) connections: Connections,
    pub(crate) keys: Keys,
    pub(crate) limits: StoreLimits,
}

impl RedisBackend {
    pub(crate) fn new(connections: Connections, keys: Keys, limits: StoreLimits) -> Self {
        Self {
            shared: Arc::new(Shared {
                connections,
                keys,
                limits,
            }),
        }
    }

    /// The [`angzarr_core::EventStore`].
    pub fn event_store(&self) -> RedisEventStore {
        RedisEventStore::new(self.shared.clone())
    }

    /// The [`angzarr_core::SnapshotStore`].
    pub fn snapshot_store(&self) -> RedisSnapshotStore {
        RedisSnapshotStore::new(self.shared.clone())
    }

    /// The [`angzarr_core::FiringGuard`].
    pub fn firing_guard(&self) -> RedisFiringGuard {
        RedisFiringGuard::new(self.shared.clone())
    }

    /// The [`angzarr_core::RateLimiter`].
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(self.shared.clone())
    }
}
