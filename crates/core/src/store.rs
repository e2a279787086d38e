//! Event and snapshot persistence.

use std::fmt;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::ids::AggregateKey;
use crate::proto::{EventBook, EventPage, Snapshot, page_header::SequenceType};

/// What a store can take in one append. Requests over a limit fail with
/// [`Error::LimitExceeded`] before anything is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// The most events one atomic append may carry (DynamoDB: 100).
    pub max_events_per_append: usize,
    /// The largest encoded [`EventPage`] the store accepts, in bytes (DynamoDB: 400 KB item).
    pub max_event_bytes: usize,
}

/// A range of sequences to load: `from` inclusive, `to` exclusive (or to the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadRange {
    /// The first sequence to load.
    pub from: u32,
    /// The first sequence not to load; `None` loads to the end.
    pub to: Option<u32>,
}

impl LoadRange {
    /// Every event of the aggregate.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events from `from` to the end.
    pub fn from(from: u32) -> Self {
        Self { from, to: None }
    }

    /// Events in `from..to`.
    pub fn between(from: u32, to: u32) -> Self {
        Self { from, to: Some(to) }
    }

    /// Whether `sequence` is in the range.
    pub fn contains(&self, sequence: u32) -> bool {
        sequence >= self.from && self.to.is_none_or(|to| sequence < to)
    }
}

/// The event history of every aggregate, with optimistic concurrency.
///
/// Sequences start at 0 and are contiguous per aggregate.
#[async_trait]
pub trait EventStore: Send + Sync + fmt::Debug {
    /// Appends `pages` to the aggregate atomically if, and only if, its next
    /// sequence is `expected`; returns the aggregate's new next sequence.
    ///
    /// The store stamps each page's header with its authoritative sequence
    /// (`expected + i`) and sets `created_at` where it is missing. Either every
    /// page is written or none is. A mismatch fails with
    /// [`Error::SequenceConflict`] carrying the actual next sequence; an empty
    /// batch is [`Error::InvalidArgument`]; a batch over [`EventStore::limits`]
    /// is [`Error::LimitExceeded`].
    async fn append(&self, key: &AggregateKey, expected: u32, pages: Vec<EventPage>)
    -> Result<u32>;

    /// Loads the aggregate's pages in `range`, ordered by sequence. An unknown
    /// aggregate has no pages.
    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>>;

    /// The sequence the aggregate's next event will get (0 for a new aggregate).
    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32>;

    /// Every aggregate with at least one event, optionally only of one domain.
    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>>;

    /// What one append may carry.
    fn limits(&self) -> StoreLimits;

    /// Deletes every event of the aggregate and answers how many there were
    /// (0 for an unknown aggregate). Histories are immutable: this is for
    /// aggregates nothing writes to any more, such as an edition being
    /// dropped ([`crate::Timelines::delete_edition`]). An append racing with
    /// it may leave part of its events behind.
    async fn delete(&self, key: &AggregateKey) -> Result<u32>;
}

/// Conveniences for every [`EventStore`].
#[async_trait]
pub trait EventStoreExt: EventStore {
    /// Loads every page of the aggregate.
    async fn load_all(&self, key: &AggregateKey) -> Result<Vec<EventPage>> {
        self.load(key, LoadRange::all()).await
    }

    /// Loads the aggregate's pages in `range` as an [`EventBook`] with its
    /// cover and next sequence.
    async fn load_book(&self, key: &AggregateKey, range: LoadRange) -> Result<EventBook> {
        let pages = self.load(key, range).await?;
        let next_sequence = match pages.last().and_then(page_sequence) {
            // When loading to the end, the last page tells the next sequence
            // without another read.
            Some(last) if range.to.is_none() => last.saturating_add(1),
            _ => self.next_sequence(key).await?,
        };
        Ok(EventBook {
            cover: Some(key.cover(String::new())),
            snapshot: None,
            pages,
            next_sequence,
        })
    }
}

impl<T: EventStore + ?Sized> EventStoreExt for T {}

/// The latest snapshot of each aggregate. A snapshot is a cache of folded
/// state: the last `put` wins.
#[async_trait]
pub trait SnapshotStore: Send + Sync + fmt::Debug {
    /// The aggregate's snapshot, if any.
    async fn get(&self, key: &AggregateKey) -> Result<Option<Snapshot>>;
    /// Stores `snapshot`, replacing the previous one.
    async fn put(&self, key: &AggregateKey, snapshot: Snapshot) -> Result<()>;
    /// Removes the aggregate's snapshot; removing a missing one is not an error.
    async fn delete(&self, key: &AggregateKey) -> Result<()>;
}

/// The sequence in a page's header, when it has a concrete one.
pub fn page_sequence(page: &EventPage) -> Option<u32> {
    match page.header.as_ref()?.sequence_type.as_ref()? {
        SequenceType::Sequence(sequence) => Some(*sequence),
        _ => None,
    }
}

/// Validates an append request against `limits` and stamps the pages with
/// their sequences (`expected + i`) and a creation time where missing.
///
/// Every backend calls this first, so every backend refuses the same requests
/// before writing anything.
pub fn prepare_append(
    key: &AggregateKey,
    expected: u32,
    mut pages: Vec<EventPage>,
    limits: StoreLimits,
) -> Result<Vec<EventPage>> {
    use prost::Message;

    if pages.is_empty() {
        return Err(Error::invalid_argument(format!(
            "append to {key} carries no events"
        )));
    }
    if pages.len() > limits.max_events_per_append {
        return Err(Error::LimitExceeded {
            what: "events per append".into(),
            limit: limits.max_events_per_append as u64,
            actual: pages.len() as u64,
        });
    }
    let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    if expected.checked_add(count).is_none() {
        return Err(Error::invalid_argument(format!(
            "append to {key} would overflow the sequence space"
        )));
    }
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    for (sequence, page) in (expected..).zip(pages.iter_mut()) {
        page.header = Some(crate::proto::PageHeader {
            sequence_type: Some(SequenceType::Sequence(sequence)),
        });
        if page.created_at.is_none() {
            page.created_at = Some(now);
        }
        page.committed = true;
        let size = page.encoded_len();
        if size > limits.max_event_bytes {
            return Err(Error::LimitExceeded {
                what: "event bytes".into(),
                limit: limits.max_event_bytes as u64,
                actual: size as u64,
            });
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_half_open() {
        let range = LoadRange::between(2, 4);
        assert!(!range.contains(1));
        assert!(range.contains(2));
        assert!(range.contains(3));
        assert!(!range.contains(4));
        assert!(LoadRange::from(5).contains(u32::MAX));
    }

    #[test]
    fn prepare_stamps_sequences_and_times() {
        let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
        let limits = StoreLimits {
            max_events_per_append: 10,
            max_event_bytes: 1024,
        };
        let pages = prepare_append(&key, 7, vec![EventPage::default(); 3], limits).unwrap();
        let sequences: Vec<_> = pages.iter().filter_map(page_sequence).collect();
        assert_eq!(sequences, vec![7, 8, 9]);
        assert!(pages.iter().all(|p| p.created_at.is_some()));
    }

    #[test]
    fn prepare_refuses_empty_and_overflowing_batches() {
        let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
        let limits = StoreLimits {
            max_events_per_append: 10,
            max_event_bytes: 1024,
        };
        assert!(prepare_append(&key, 0, vec![], limits).is_err());
        assert!(prepare_append(&key, u32::MAX, vec![EventPage::default()], limits).is_err());
    }
}
