//! The correlation index: which aggregates' events were written under a
//! correlation id, so that a query by correlation id finds every book of a
//! workflow across domains.
//!
//! The index lives in the event store itself, so every store keeps it with
//! no change to its layout: the records of one correlation id are the events
//! of an aggregate of the reserved domain [`CORRELATION_DOMAIN`] (root =
//! UUIDv5 of the id), each naming an aggregate (with its edition) and the
//! sequences written. Appends to it use the store's own optimistic
//! concurrency, so concurrent writers of one workflow never lose a record;
//! [`Timelines::aggregate_roots`](crate::Timelines) does not list it.
//!
//! Recording costs one conditional write: the index's next sequence for an
//! id is guessed (0 for an id this process has not seen, else the one it
//! last wrote), and a conflict answers the actual one for the next try.
//!
//! A record is written after the events it names and before they are
//! published. A process that dies between the two leaves those events out
//! of the index (they are stored and published, but a correlation query
//! does not find them); a record never names events that were not stored.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prost::Message;

use crate::error::{Error, Result};
use crate::ids::AggregateKey;
use crate::proto::{EventPage, event_page::Payload};
use crate::store::{EventStore, EventStoreExt};

/// The reserved domain of the index's records.
pub const CORRELATION_DOMAIN: &str = "_angzarr.correlation";

/// The type URL of one record.
pub const RECORD_TYPE_URL: &str = "type.googleapis.com/angzarr.CorrelationRecorded";

/// How many times a record is tried against concurrent writers of the same
/// correlation id (and retriable failures).
const ATTEMPTS: usize = 32;

/// How many correlation ids' next index sequences a process remembers.
const REMEMBERED: usize = 10_000;

/// One record: `key`'s events `first..=last` carry the correlation id.
#[derive(Clone, PartialEq, Message)]
struct CorrelationRecorded {
    #[prost(string, tag = "1")]
    correlation_id: String,
    /// [`AggregateKey::storage_key`] of the aggregate (with its edition).
    #[prost(string, tag = "2")]
    key: String,
    #[prost(uint32, tag = "3")]
    first: u32,
    #[prost(uint32, tag = "4")]
    last: u32,
}

/// An aggregate written under a correlation id, and the sequences written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correlated {
    /// The aggregate (with its edition).
    pub key: AggregateKey,
    /// The ranges `first..=last` written under the correlation id, in the
    /// order they were recorded.
    pub ranges: Vec<(u32, u32)>,
}

/// The correlation index of an event store.
#[derive(Clone, Debug)]
pub struct Correlations {
    store: Arc<dyn EventStore>,
    /// The next index sequence last seen per correlation id: the guess of
    /// the next record's position.
    next: Arc<Mutex<HashMap<String, u32>>>,
}

impl Correlations {
    /// The index kept in `store` (the plain store, not a [`crate::Timelines`]).
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            next: Arc::default(),
        }
    }

    fn guess(&self, correlation_id: &str) -> u32 {
        self.next
            .lock()
            .map_or(0, |next| next.get(correlation_id).copied().unwrap_or(0))
    }

    fn remember(&self, correlation_id: &str, next: u32) {
        if let Ok(mut remembered) = self.next.lock() {
            if remembered.len() >= REMEMBERED && !remembered.contains_key(correlation_id) {
                // A guess is only a guess: forgetting costs one conflict.
                remembered.clear();
            }
            remembered.insert(correlation_id.to_owned(), next);
        }
    }

    /// The key of `correlation_id`'s records.
    fn index_key(correlation_id: &str) -> Result<AggregateKey> {
        AggregateKey::new(
            CORRELATION_DOMAIN,
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, correlation_id.as_bytes()),
        )
    }

    /// Records that `key`'s events `first..=last` were written under
    /// `correlation_id` (nothing for an empty id).
    pub async fn record(
        &self,
        correlation_id: &str,
        key: &AggregateKey,
        first: u32,
        last: u32,
    ) -> Result<()> {
        if correlation_id.is_empty() {
            return Ok(());
        }
        let index = Self::index_key(correlation_id)?;
        let page = EventPage {
            payload: Some(Payload::Event(prost_types::Any {
                type_url: RECORD_TYPE_URL.to_owned(),
                value: CorrelationRecorded {
                    correlation_id: correlation_id.to_owned(),
                    key: key.storage_key(),
                    first,
                    last,
                }
                .encode_to_vec(),
            })),
            ..Default::default()
        };
        let mut next = self.guess(correlation_id);
        for _ in 0..ATTEMPTS {
            match self.store.append(&index, next, vec![page.clone()]).await {
                Ok(written) => {
                    self.remember(correlation_id, written);
                    return Ok(());
                }
                Err(Error::SequenceConflict { actual, .. }) => next = actual,
                // Throttled or briefly unreachable: try again shortly.
                Err(error) if error.is_retriable() => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(error) => return Err(error),
            }
        }
        Err(Error::unavailable(
            "correlation index",
            format!("`{correlation_id}` kept changing under {ATTEMPTS} attempts to record {key}"),
        ))
    }

    /// Every aggregate written under `correlation_id`, ordered by domain,
    /// root and edition.
    pub async fn lookup(&self, correlation_id: &str) -> Result<Vec<Correlated>> {
        if correlation_id.is_empty() {
            return Err(Error::invalid_argument("a correlation query needs an id"));
        }
        let index = Self::index_key(correlation_id)?;
        let mut found: BTreeMap<String, Correlated> = BTreeMap::new();
        for page in self.store.load_all(&index).await? {
            let Some(Payload::Event(any)) = &page.payload else {
                continue;
            };
            if any.type_url != RECORD_TYPE_URL {
                continue;
            }
            let record = CorrelationRecorded::decode(any.value.as_slice())
                .map_err(|e| Error::Corrupt(format!("a correlation record: {e}")))?;
            // Another id whose UUIDv5 is the same.
            if record.correlation_id != correlation_id {
                continue;
            }
            let key = AggregateKey::parse(&record.key)?;
            found
                .entry(record.key)
                .or_insert_with(|| Correlated {
                    key,
                    ranges: Vec::new(),
                })
                .ranges
                .push((record.first, record.last));
        }
        Ok(found.into_values().collect())
    }
}
