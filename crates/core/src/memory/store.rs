use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use super::lock;
use crate::error::{Error, Result};
use crate::ids::AggregateKey;
use crate::proto::{EventPage, Snapshot};
use crate::store::{EventStore, LoadRange, SnapshotStore, StoreLimits, prepare_append};

/// An [`EventStore`] in process memory.
#[derive(Debug)]
pub struct MemoryEventStore {
    aggregates: Mutex<HashMap<AggregateKey, Vec<EventPage>>>,
    limits: StoreLimits,
}

impl MemoryEventStore {
    /// The limits of a store made with [`MemoryEventStore::new`]: generous,
    /// but finite so that runaway appends fail as they would in the cloud.
    pub const DEFAULT_LIMITS: StoreLimits = StoreLimits {
        max_events_per_append: 1_000,
        max_event_bytes: 4 * 1024 * 1024,
    };

    /// An empty store with [`MemoryEventStore::DEFAULT_LIMITS`].
    pub fn new() -> Self {
        Self::with_limits(Self::DEFAULT_LIMITS)
    }

    /// An empty store with the given limits, e.g. a cloud backend's, to try
    /// out locally what that backend will refuse.
    pub fn with_limits(limits: StoreLimits) -> Self {
        Self {
            aggregates: Mutex::default(),
            limits,
        }
    }
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::new()
    }
}

fn next_of(pages: Option<&Vec<EventPage>>) -> u32 {
    // Pages are contiguous from 0, so the count is the next sequence.
    pages.map_or(0, |p| u32::try_from(p.len()).unwrap_or(u32::MAX))
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        let pages = prepare_append(key, expected, pages, self.limits)?;
        let mut aggregates = lock(&self.aggregates);
        let actual = next_of(aggregates.get(key));
        if actual != expected {
            return Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual,
            });
        }
        let history = aggregates.entry(key.clone()).or_default();
        history.extend(pages);
        Ok(next_of(Some(history)))
    }

    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        let aggregates = lock(&self.aggregates);
        let Some(history) = aggregates.get(key) else {
            return Ok(Vec::new());
        };
        let from = (range.from as usize).min(history.len());
        let to = range
            .to
            .map_or(history.len(), |to| (to as usize).min(history.len()))
            .max(from);
        Ok(history[from..to].to_vec())
    }

    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        Ok(next_of(lock(&self.aggregates).get(key)))
    }

    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>> {
        let mut keys: Vec<AggregateKey> = lock(&self.aggregates)
            .keys()
            .filter(|k| domain.is_none_or(|d| k.domain == d))
            .cloned()
            .collect();
        keys.sort();
        stream::iter(keys.into_iter().map(Ok)).boxed()
    }

    fn limits(&self) -> StoreLimits {
        self.limits
    }

    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        Ok(next_of(lock(&self.aggregates).remove(key).as_ref()))
    }
}

/// A [`SnapshotStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemorySnapshotStore {
    snapshots: Mutex<HashMap<AggregateKey, Snapshot>>,
}

impl MemorySnapshotStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SnapshotStore for MemorySnapshotStore {
    async fn get(&self, key: &AggregateKey) -> Result<Option<Snapshot>> {
        Ok(lock(&self.snapshots).get(key).cloned())
    }

    async fn put(&self, key: &AggregateKey, snapshot: Snapshot) -> Result<()> {
        lock(&self.snapshots).insert(key.clone(), snapshot);
        Ok(())
    }

    async fn delete(&self, key: &AggregateKey) -> Result<()> {
        lock(&self.snapshots).remove(key);
        Ok(())
    }
}
