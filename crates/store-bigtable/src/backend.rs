//! [`BigtableBackend`]: the connection, and the stores made from it.

use std::sync::Arc;

use angzarr_core::Result;

use crate::admin::{Admin, TableNames, schema};
use crate::client::{Client, ConnectOptions};
use crate::{BigtableEventStore, BigtableFiringGuard, BigtableRateLimiter, BigtableSnapshotStore};

/// A Bigtable connection and its four tables. Make it once per process
/// (e.g. in a `OnceCell`) and take the stores from it; they share the
/// connection and are cheap to clone.
#[derive(Clone, Debug)]
pub struct BigtableBackend {
    client: Arc<Client>,
    tables: TableNames,
    options: ConnectOptions,
    /// Made once so that every clone shares its cache of batch boundaries.
    events: BigtableEventStore,
}

impl BigtableBackend {
    pub(crate) fn new(client: Arc<Client>, tables: TableNames, options: ConnectOptions) -> Self {
        let events = BigtableEventStore::new(client.clone(), client.table_name(&tables.events));
        Self {
            client,
            tables,
            options,
            events,
        }
    }

    /// The event store (events table).
    pub fn event_store(&self) -> BigtableEventStore {
        self.events.clone()
    }

    /// The snapshot store (snapshots table).
    pub fn snapshot_store(&self) -> BigtableSnapshotStore {
        BigtableSnapshotStore::new(
            self.client.clone(),
            self.client.table_name(&self.tables.snapshots),
        )
    }

    /// The firing guard (firing-guard table).
    pub fn firing_guard(&self) -> BigtableFiringGuard {
        BigtableFiringGuard::new(
            self.client.clone(),
            self.client.table_name(&self.tables.guard),
        )
    }

    /// The rate limiter (rate-limit table).
    pub fn rate_limiter(&self) -> BigtableRateLimiter {
        BigtableRateLimiter::new(
            self.client.clone(),
            self.client.table_name(&self.tables.rate_limit),
        )
    }

    /// Creates the four tables and their column families, or completes them
    /// if some exist; running it again changes nothing. Needs
    /// `roles/bigtable.admin`; the stores themselves need only
    /// `roles/bigtable.user`.
    pub async fn create_tables(&self) -> Result<()> {
        let admin = Admin::connect(
            &self.options.project,
            &self.options.instance,
            self.options.endpoint.as_deref(),
            self.options.timeout,
        )
        .await?;
        for (table, family, gc_rule) in schema(&self.tables) {
            admin.ensure_family(&table, family, gc_rule).await?;
        }
        Ok(())
    }

    /// Data-API requests sent through this backend's connection so far (all
    /// its stores together); the README's round-trip counts come from it.
    pub fn request_count(&self) -> u64 {
        self.client.request_count()
    }
}
