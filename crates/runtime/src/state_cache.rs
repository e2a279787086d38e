//! Folded aggregate states kept in process between commands.
//!
//! A cached state is a snapshot — the handler's fold of an aggregate's
//! events through some sequence — that never reached a snapshot store. Events
//! are immutable, so it stays correct for as long as it is kept: the
//! pipeline starts from it and still loads every event after it. It saves the
//! snapshot read and the fold of the history since the last stored snapshot;
//! a warm function instance or a persistent process keeps its hot aggregates
//! here.

use std::collections::HashMap;
use std::sync::Mutex;

use angzarr_core::AggregateKey;
use angzarr_core::proto::Snapshot;

/// At most `capacity` states; when full, an arbitrary other entry makes room.
#[derive(Debug)]
pub(crate) struct StateCache {
    capacity: usize,
    states: Mutex<HashMap<AggregateKey, Snapshot>>,
}

impl StateCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            states: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    pub(crate) fn get(&self, key: &AggregateKey) -> Option<Snapshot> {
        self.lock().get(key).cloned()
    }

    /// Keeps `state` unless a later one is already kept (two commands on one
    /// aggregate may finish in either order; both states are valid).
    pub(crate) fn put(&self, key: &AggregateKey, state: Snapshot) {
        if self.capacity == 0 {
            return;
        }
        let mut states = self.lock();
        if let Some(kept) = states.get(key) {
            if kept.sequence >= state.sequence {
                return;
            }
        } else if states.len() >= self.capacity
            && let Some(victim) = states.keys().next().cloned()
        {
            states.remove(&victim);
        }
        states.insert(key.clone(), state);
    }

    pub(crate) fn forget(&self, key: &AggregateKey) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AggregateKey, Snapshot>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> AggregateKey {
        AggregateKey::new("counter", uuid::Uuid::from_bytes([n; 16])).unwrap()
    }

    fn at(sequence: u32) -> Snapshot {
        Snapshot {
            sequence,
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_latest_state_and_stays_bounded() {
        let cache = StateCache::new(2);
        cache.put(&key(1), at(5));
        cache.put(&key(1), at(3));
        assert_eq!(cache.get(&key(1)).map(|s| s.sequence), Some(5));
        cache.put(&key(2), at(1));
        cache.put(&key(3), at(1));
        let kept = (1..=3).filter(|n| cache.get(&key(*n)).is_some()).count();
        assert_eq!(kept, 2);
        assert!(cache.get(&key(3)).is_some(), "the newest entry is kept");
        cache.forget(&key(3));
        assert!(cache.get(&key(3)).is_none());
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = StateCache::new(0);
        cache.put(&key(1), at(1));
        assert!(cache.get(&key(1)).is_none());
    }
}
