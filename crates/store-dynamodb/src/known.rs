//! What this process already knows about aggregates' histories, to skip the
//! gap check of an append.
//!
//! An append at `expected > 0` must not create a gap: event `expected - 1`
//! has to exist. Event items are never deleted, so once this process has
//! seen an aggregate reach next sequence `n` (by a load, a successful append,
//! a conflict's read or [`angzarr_core::EventStore::next_sequence`]), every
//! later append at `expected <= n` is known to be gap-free and needs no
//! `ConditionCheck`. In the usual command flow (load, decide, append) that
//! makes a one-event append a single conditional `PutItem`.
//!
//! Only a lower bound is kept, so a stale entry never lets a conflicting
//! append through: the not-exists condition on every written item still
//! decides. (Wiping the table under a running process would break the "never
//! deleted" assumption; re-create stores after that.)

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept before the map is cleared (a cache, not a registry).
const CAPACITY: usize = 16 * 1024;

/// The highest next sequence seen per aggregate (storage key).
#[derive(Debug, Default)]
pub(crate) struct KnownSequences {
    next: Mutex<HashMap<String, u32>>,
}

impl KnownSequences {
    /// Records that the aggregate's next sequence is at least `next`.
    pub(crate) fn observe(&self, key: &str, next: u32) {
        if next == 0 {
            return;
        }
        let mut map = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY && !map.contains_key(key) {
            map.clear();
        }
        let entry = map.entry(key.to_owned()).or_insert(0);
        *entry = (*entry).max(next);
    }

    /// Forgets the aggregate (its events were deleted).
    pub(crate) fn forget(&self, key: &str) {
        self.next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Whether event `expected - 1` is known to exist (always for 0).
    pub(crate) fn reaches(&self, key: &str, expected: u32) -> bool {
        expected == 0
            || self
                .next
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .is_some_and(|next| *next >= expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lower_bound_is_kept() {
        let known = KnownSequences::default();
        assert!(known.reaches("a", 0));
        assert!(!known.reaches("a", 1));
        known.observe("a", 5);
        known.observe("a", 3);
        assert!(known.reaches("a", 5));
        assert!(!known.reaches("a", 6));
        assert!(!known.reaches("b", 1));
    }
}
