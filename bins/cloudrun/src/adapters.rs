//! The factory: [`angzarr_core::config::Config`] in, the concrete adapters
//! out. Build [`Adapters`] once per process (clients are connected lazily and
//! reused by every request); only the adapters compiled in through cargo
//! features can be chosen.

use std::sync::Arc;

use angzarr_core::config::{Config, MessagingType, RuntimeConfig, StorageType};
use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard, MemorySnapshotStore};
use angzarr_core::{
    Error, EventBus, EventStore, FiringGuard, Result, ServiceDiscovery, SnapshotStore,
};
use angzarr_runtime::FiringPolicy;

/// The storage types this build can use.
pub const STORAGE_TYPES: &[&str] = &[
    "memory",
    #[cfg(feature = "cloudrun")]
    "gcp_bigtable",
    #[cfg(feature = "redis")]
    "redis",
];
/// The messaging types this build can use.
pub const MESSAGING_TYPES: &[&str] = &[
    "memory",
    #[cfg(feature = "cloudrun")]
    "gcp_pubsub",
];

/// The adapters of one process. The fields are public so a test or an
/// embedding program can swap one (say, the discovery) before building the
/// [`crate::App`].
#[derive(Clone, Debug)]
pub struct Adapters {
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// The snapshot store.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The bus events are published on.
    pub bus: Arc<dyn EventBus>,
    /// The firing guard of the triggers (kept in the storage backend).
    pub guard: Arc<dyn FiringGuard>,
    /// Where other services (aggregates by domain) answer.
    pub discovery: Arc<dyn ServiceDiscovery>,
    /// Firing-guard lease and retention.
    pub policy: FiringPolicy,
    /// The coordinators' settings (the `runtime` section).
    pub runtime: RuntimeConfig,
    /// The Pub/Sub bus, when messaging is `gcp_pubsub` (for flushing and admin).
    #[cfg(feature = "cloudrun")]
    pub pubsub: Option<angzarr_bus_pubsub::PubSubBus>,
    /// The Bigtable backend, when storage is `gcp_bigtable` (for table creation
    /// and request counts).
    #[cfg(feature = "cloudrun")]
    pub bigtable: Option<angzarr_store_bigtable::BigtableBackend>,
    /// The memory bus, when messaging is `memory`.
    pub memory_bus: Option<MemoryBus>,
}

impl Adapters {
    /// Builds every adapter `config` names. A type this build does not
    /// include fails with [`Error::Config`] naming the key and the types
    /// that are available. Nothing is called over the network here.
    #[cfg_attr(not(feature = "cloudrun"), allow(unused_variables))]
    pub async fn from_config(config: &Config) -> Result<Self> {
        let (store, snapshots, guard, backends) = storage(config).await?;
        let (bus, messaging) = messaging(config).await?;
        Ok(Self {
            store,
            snapshots,
            bus,
            guard,
            discovery: angzarr_host::discovery::from_config(config).await?,
            policy: FiringPolicy::from(&config.firing_guard),
            runtime: config.runtime.clone(),
            #[cfg(feature = "cloudrun")]
            pubsub: messaging.pubsub,
            #[cfg(feature = "cloudrun")]
            bigtable: backends.bigtable,
            memory_bus: messaging.memory,
        })
    }

    /// Waits until every publish handed to the bus is answered, and stops
    /// its background tasks; call it when the process is about to end.
    pub async fn flush(&self) {
        #[cfg(feature = "cloudrun")]
        if let Some(pubsub) = &self.pubsub {
            pubsub.shutdown().await;
        }
    }
}

/// Stores kept only for feature-gated fields.
#[derive(Default)]
struct Backends {
    #[cfg(feature = "cloudrun")]
    bigtable: Option<angzarr_store_bigtable::BigtableBackend>,
}

#[derive(Default)]
struct Messaging {
    #[cfg(feature = "cloudrun")]
    pubsub: Option<angzarr_bus_pubsub::PubSubBus>,
    memory: Option<MemoryBus>,
}

type Stores = (
    Arc<dyn EventStore>,
    Arc<dyn SnapshotStore>,
    Arc<dyn FiringGuard>,
    Backends,
);

async fn storage(config: &Config) -> Result<Stores> {
    #[allow(unused_mut)]
    let mut backends = Backends::default();
    match config.storage.kind {
        StorageType::Memory => Ok((
            Arc::new(MemoryEventStore::new()),
            Arc::new(MemorySnapshotStore::new()),
            Arc::new(MemoryFiringGuard::new()),
            backends,
        )),
        #[cfg(feature = "cloudrun")]
        StorageType::GcpBigtable => {
            let backend =
                angzarr_store_bigtable::Builder::from_config(&config.storage.gcp_bigtable)
                    .build()
                    .await?;
            let stores: Stores = (
                Arc::new(backend.event_store()),
                Arc::new(backend.snapshot_store()),
                Arc::new(backend.firing_guard()),
                Backends::default(),
            );
            backends.bigtable = Some(backend);
            Ok((stores.0, stores.1, stores.2, backends))
        }
        #[cfg(feature = "redis")]
        StorageType::Redis => {
            let backend =
                angzarr_store_redis::Builder::from_config(&config.storage.redis).build()?;
            Ok((
                Arc::new(backend.event_store()),
                Arc::new(backend.snapshot_store()),
                Arc::new(backend.firing_guard()),
                backends,
            ))
        }
        #[allow(unreachable_patterns)]
        other => Err(Error::config(
            "storage.type",
            format!(
                "`{}` is not built into angzarr-cloudrun; allowed: {}",
                serde_name(&other),
                STORAGE_TYPES.join(", ")
            ),
        )),
    }
}

async fn messaging(config: &Config) -> Result<(Arc<dyn EventBus>, Messaging)> {
    #[allow(unused_mut)]
    let mut messaging = Messaging::default();
    match config.messaging.kind {
        MessagingType::Memory => {
            let bus = MemoryBus::new();
            messaging.memory = Some(bus.clone());
            Ok((Arc::new(bus), messaging))
        }
        #[cfg(feature = "cloudrun")]
        MessagingType::GcpPubsub => {
            let bus = angzarr_bus_pubsub::PubSubBuilder::from_config(&config.messaging.gcp_pubsub)
                .build()
                .await?;
            messaging.pubsub = Some(bus.clone());
            Ok((Arc::new(bus), messaging))
        }
        #[allow(unreachable_patterns)]
        other => Err(Error::config(
            "messaging.type",
            format!(
                "`{}` is not built into angzarr-cloudrun; allowed: {}",
                serde_name(&other),
                MESSAGING_TYPES.join(", ")
            ),
        )),
    }
}

/// The configured spelling of an enum value.
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn types_not_built_in_are_refused_with_the_key() {
        let config = Config::from_yaml("storage: { type: aws_dynamodb }").unwrap();
        let err = Adapters::from_config(&config)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("storage.type") && err.contains("aws_dynamodb"),
            "{err}"
        );
        assert!(err.contains("memory"), "{err}");
        let config = Config::from_yaml("messaging: { type: aws_sqs }").unwrap();
        let err = Adapters::from_config(&config)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("messaging.type"), "{err}");
        let config = Config::from_yaml("discovery: { type: consul }").unwrap();
        let err = Adapters::from_config(&config)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("discovery.type"), "{err}");
    }

    #[tokio::test]
    async fn memory_is_the_default() {
        let adapters = Adapters::from_config(&Config::default()).await.unwrap();
        assert!(adapters.memory_bus.is_some());
    }
}
