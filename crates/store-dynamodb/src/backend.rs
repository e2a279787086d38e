//! The shared handle every store of this crate works through.

use std::fmt;
use std::sync::Arc;

use angzarr_core::PayloadStore;
use aws_sdk_dynamodb::Client;

use crate::{DynamoDbEventStore, DynamoDbFiringGuard, DynamoDbRateLimiter, DynamoDbSnapshotStore};

/// The four tables this crate uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableNames {
    /// Events: partition key `pk` (S, `{domain}#{root}`), sort key `seq` (N).
    pub events: String,
    /// Snapshots: partition key `pk` (S, `{domain}#{root}`).
    pub snapshots: String,
    /// Firing guard: partition key `pk` (S, the guarded key), TTL attribute `ttl`.
    pub guard: String,
    /// Rate limits: partition key `pk` (S, `{key}#{window_ms}#{window_index}#{shard}`),
    /// TTL attribute `ttl`.
    pub rate_limits: String,
}

impl TableNames {
    /// The four names `{prefix}-events`, `{prefix}-snapshots`,
    /// `{prefix}-firing-guard`, `{prefix}-rate-limits`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            events: format!("{prefix}-events"),
            snapshots: format!("{prefix}-snapshots"),
            guard: format!("{prefix}-firing-guard"),
            rate_limits: format!("{prefix}-rate-limits"),
        }
    }
}

pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) tables: TableNames,
    pub(crate) payloads: Option<Arc<dyn PayloadStore>>,
    pub(crate) max_offloaded_event_bytes: usize,
    pub(crate) known: crate::known::KnownSequences,
    pub(crate) rate_limit_shards: u32,
}

/// A configured DynamoDB backend, made by [`crate::Builder::build`]; cheap to
/// clone. Hands out the [`angzarr_core::EventStore`],
/// [`angzarr_core::SnapshotStore`], [`angzarr_core::FiringGuard`] and
/// [`angzarr_core::RateLimiter`], all sharing one SDK client.
#[derive(Clone)]
pub struct DynamoDb {
    pub(crate) shared: Arc<Shared>,
}

impl DynamoDb {
    /// The event store on [`TableNames::events`].
    pub fn event_store(&self) -> DynamoDbEventStore {
        DynamoDbEventStore::new(self.shared.clone())
    }

    /// The snapshot store on [`TableNames::snapshots`].
    pub fn snapshot_store(&self) -> DynamoDbSnapshotStore {
        DynamoDbSnapshotStore::new(self.shared.clone())
    }

    /// The firing guard on [`TableNames::guard`].
    pub fn firing_guard(&self) -> DynamoDbFiringGuard {
        DynamoDbFiringGuard::new(self.shared.clone())
    }

    /// The rate limiter on [`TableNames::rate_limits`].
    pub fn rate_limiter(&self) -> DynamoDbRateLimiter {
        DynamoDbRateLimiter::new(self.shared.clone())
    }

    /// The SDK client, e.g. for [`crate::create_tables`].
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The table names.
    pub fn tables(&self) -> &TableNames {
        &self.shared.tables
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDb")
            .field("tables", &self.tables)
            .field("payloads", &self.payloads)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DynamoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}
