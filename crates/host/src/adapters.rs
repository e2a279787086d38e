//! The one factory of every host: the configuration's `storage`,
//! `messaging`, `discovery` and `firing_guard` sections in, the adapters a
//! process talks to out. Build [`Adapters`] once per process (clients are
//! connected lazily and shared by every request).
//!
//! | config | adapter | cargo feature of `angzarr-host` |
//! |---|---|---|
//! | `storage.type: memory` | in-process events, snapshots, firing guard | always |
//! | `storage.type: aws_dynamodb` | DynamoDB events, snapshots, firing guard | `dynamodb` (in `lambda`) |
//! | `storage.type: gcp_bigtable` | Bigtable events, snapshots, firing guard | `bigtable` (in `cloudrun`) |
//! | `storage.type: redis` | Redis events, snapshots, firing guard | `redis` |
//! | `messaging.type: memory` | in-process bus | always |
//! | `messaging.type: aws_sqs` | SNS topics with SQS queues | `sqs` (in `lambda`) |
//! | `messaging.type: aws_kinesis` | Kinesis Data Streams | `kinesis` |
//! | `messaging.type: gcp_pubsub` | Pub/Sub | `pubsub` (in `cloudrun`) |
//! | `discovery.type` | see [`crate::discovery`] | `consul`, `cloudmap` |
//!
//! A type this build does not include fails at start with
//! [`Error::Config`] naming the key, the value, the types that are built in
//! and the feature that would provide it: no setting is silently ignored.

use std::sync::Arc;

use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard, MemorySnapshotStore};
use angzarr_core::{
    Error, EventBus, EventStore, FiringGuard, Result, ServiceDiscovery, SnapshotStore,
};
use angzarr_runtime::FiringPolicy;

/// The storage types this build can use.
pub const STORAGE_TYPES: &[&str] = &[
    "memory",
    #[cfg(feature = "dynamodb")]
    "aws_dynamodb",
    #[cfg(feature = "bigtable")]
    "gcp_bigtable",
    #[cfg(feature = "redis")]
    "redis",
];

/// The messaging types this build can use.
pub const MESSAGING_TYPES: &[&str] = &[
    "memory",
    #[cfg(feature = "sqs")]
    "aws_sqs",
    #[cfg(feature = "kinesis")]
    "aws_kinesis",
    #[cfg(feature = "pubsub")]
    "gcp_pubsub",
];

/// The adapters of one process. The fields are public so a test or an
/// embedding program can swap one (say, the discovery) before serving.
#[derive(Clone, Debug)]
pub struct Adapters {
    /// The configuration they were built from.
    pub config: Config,
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// The snapshot store.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The firing guard of the triggers (kept in the storage backend).
    pub guard: Arc<dyn FiringGuard>,
    /// The bus books are published on.
    pub bus: Arc<dyn EventBus>,
    /// Where the aggregates of the domains this process does not host answer.
    pub discovery: Arc<dyn ServiceDiscovery>,
    /// Firing-guard lease and retention (the `firing_guard` section).
    pub policy: FiringPolicy,
    /// The memory bus, when messaging is `memory` (to read what was published).
    pub memory_bus: Option<MemoryBus>,
    /// The DynamoDB backend, when storage is `aws_dynamodb` (its client
    /// serves other tables too, e.g. a read model).
    #[cfg(feature = "dynamodb")]
    pub dynamodb: Option<angzarr_store_dynamodb::DynamoDb>,
    /// The Bigtable backend, when storage is `gcp_bigtable` (table creation,
    /// request counts).
    #[cfg(feature = "bigtable")]
    pub bigtable: Option<angzarr_store_bigtable::BigtableBackend>,
    /// The Pub/Sub bus, when messaging is `gcp_pubsub` (flushing, admin).
    #[cfg(feature = "pubsub")]
    pub pubsub: Option<angzarr_bus_pubsub::PubSubBus>,
    /// The AWS SDK configurations the AWS adapters were built with, for the
    /// process's other AWS clients (Lambda `Invoke`) to share.
    #[cfg(feature = "aws")]
    pub aws: angzarr_aws::SdkConfigs,
}

impl Adapters {
    /// Builds every adapter `config` names. Nothing is called over the
    /// network here.
    pub async fn from_config(config: &Config) -> Result<Self> {
        Self::build(config, Sdk::default()).await
    }

    /// [`Self::from_config`] with the AWS clients made from `aws` (its HTTPS
    /// client and trust roots).
    #[cfg(feature = "aws")]
    pub async fn from_config_with_aws(
        config: &Config,
        aws: angzarr_aws::SdkConfigs,
    ) -> Result<Self> {
        Self::build(config, Sdk { aws }).await
    }

    async fn build(config: &Config, sdk: Sdk) -> Result<Self> {
        let mut adapters = Self {
            config: config.clone(),
            store: Arc::new(MemoryEventStore::new()),
            snapshots: Arc::new(MemorySnapshotStore::new()),
            guard: Arc::new(MemoryFiringGuard::new()),
            bus: Arc::new(MemoryBus::new()),
            discovery: crate::discovery::from_config(config).await?,
            policy: FiringPolicy::from(&config.firing_guard),
            memory_bus: None,
            #[cfg(feature = "dynamodb")]
            dynamodb: None,
            #[cfg(feature = "bigtable")]
            bigtable: None,
            #[cfg(feature = "pubsub")]
            pubsub: None,
            #[cfg(feature = "aws")]
            aws: sdk.aws.clone(),
        };
        adapters.storage(&sdk).await?;
        adapters.messaging(&sdk).await?;
        Ok(adapters)
    }

    #[cfg_attr(not(feature = "aws"), allow(unused_variables))]
    async fn storage(&mut self, sdk: &Sdk) -> Result<()> {
        match self.config.storage.kind {
            StorageType::Memory => {
                tracing::info!(
                    "storage.type is memory: events live in this process only; set storage.type to keep them"
                );
            }
            #[cfg(feature = "dynamodb")]
            StorageType::AwsDynamodb => {
                let section = &self.config.storage.aws_dynamodb;
                let backend = angzarr_store_dynamodb::Builder::from_config(section)
                    .with_sdk_config(sdk.get(&section.region, &section.endpoint).await)
                    .build()
                    .await?;
                self.store = Arc::new(backend.event_store());
                self.snapshots = Arc::new(backend.snapshot_store());
                self.guard = Arc::new(backend.firing_guard());
                self.dynamodb = Some(backend);
            }
            #[cfg(feature = "bigtable")]
            StorageType::GcpBigtable => {
                let backend =
                    angzarr_store_bigtable::Builder::from_config(&self.config.storage.gcp_bigtable)
                        .build()
                        .await?;
                self.store = Arc::new(backend.event_store());
                self.snapshots = Arc::new(backend.snapshot_store());
                self.guard = Arc::new(backend.firing_guard());
                self.bigtable = Some(backend);
            }
            #[cfg(feature = "redis")]
            StorageType::Redis => {
                let backend = angzarr_store_redis::Builder::from_config(&self.config.storage.redis)
                    .build()?;
                self.store = Arc::new(backend.event_store());
                self.snapshots = Arc::new(backend.snapshot_store());
                self.guard = Arc::new(backend.firing_guard());
            }
            #[allow(unreachable_patterns)]
            other => return Err(not_built("storage.type", &other, STORAGE_TYPES)),
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "aws"), allow(unused_variables))]
    async fn messaging(&mut self, sdk: &Sdk) -> Result<()> {
        match self.config.messaging.kind {
            MessagingType::Memory => {
                let bus = MemoryBus::new();
                self.memory_bus = Some(bus.clone());
                self.bus = Arc::new(bus);
            }
            #[cfg(feature = "sqs")]
            MessagingType::AwsSqs => {
                let section = &self.config.messaging.aws_sqs;
                let bus = angzarr_bus_sqs::Builder::from_config(section)
                    .with_sdk_config(sdk.get(&section.region, &section.endpoint).await)
                    .build()
                    .await?;
                self.bus = Arc::new(bus);
            }
            #[cfg(feature = "kinesis")]
            MessagingType::AwsKinesis => {
                let section = &self.config.messaging.aws_kinesis;
                let bus = angzarr_bus_kinesis::Builder::from_config(section)
                    .with_sdk_config(sdk.get(&section.region, &section.endpoint).await)
                    .build()
                    .await?;
                self.bus = Arc::new(bus);
            }
            #[cfg(feature = "pubsub")]
            MessagingType::GcpPubsub => {
                let bus = angzarr_bus_pubsub::PubSubBuilder::from_config(
                    &self.config.messaging.gcp_pubsub,
                )
                .build()
                .await?;
                self.pubsub = Some(bus.clone());
                self.bus = Arc::new(bus);
            }
            #[allow(unreachable_patterns)]
            other => return Err(not_built("messaging.type", &other, MESSAGING_TYPES)),
        }
        Ok(())
    }

    /// Waits until every publish handed to the bus is answered, and stops
    /// its background tasks; call it when the process is about to end.
    pub async fn flush(&self) {
        #[cfg(feature = "pubsub")]
        if let Some(pubsub) = &self.pubsub {
            pubsub.shutdown().await;
        }
    }
}

/// How the AWS clients are made.
#[derive(Default)]
struct Sdk {
    #[cfg(feature = "aws")]
    aws: angzarr_aws::SdkConfigs,
}

#[cfg(feature = "aws")]
impl Sdk {
    async fn get(
        &self,
        region: &Option<String>,
        endpoint: &Option<String>,
    ) -> angzarr_aws::SdkConfig {
        self.aws.get(region.as_deref(), endpoint.as_deref()).await
    }
}

/// The cargo feature of `angzarr-host` that builds `value`, and the bundle
/// it is part of.
fn feature_of(value: &str) -> &'static str {
    match value {
        "aws_dynamodb" => "`dynamodb` (part of `lambda`)",
        "aws_sqs" => "`sqs` (part of `lambda`)",
        "aws_kinesis" => "`kinesis`",
        "gcp_bigtable" => "`bigtable` (part of `cloudrun`)",
        "gcp_pubsub" => "`pubsub` (part of `cloudrun`)",
        "redis" => "`redis`",
        _ => "none",
    }
}

/// The error for a configured type this build does not include.
fn not_built<T: serde::Serialize>(key: &str, value: &T, built: &[&str]) -> Error {
    let value = serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    Error::config(
        key,
        format!(
            "`{value}` is not built into this binary (built in: {}); build it with the feature {} of angzarr-host, or the platform crate's feature of that name",
            built.join(", "),
            feature_of(&value),
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_is_the_default() {
        let adapters = Adapters::from_config(&Config::default()).await.unwrap();
        assert!(adapters.memory_bus.is_some());
        assert_eq!(adapters.store.limits(), MemoryEventStore::new().limits());
    }

    const TYPES: [(&str, &str, &str, &str); 6] = [
        (
            "storage: { type: aws_dynamodb }",
            "storage.type",
            "aws_dynamodb",
            "dynamodb",
        ),
        (
            "storage: { type: gcp_bigtable }",
            "storage.type",
            "gcp_bigtable",
            "bigtable",
        ),
        ("storage: { type: redis }", "storage.type", "redis", "redis"),
        (
            "messaging: { type: aws_sqs }",
            "messaging.type",
            "aws_sqs",
            "sqs",
        ),
        (
            "messaging: { type: aws_kinesis }",
            "messaging.type",
            "aws_kinesis",
            "kinesis",
        ),
        (
            "messaging: { type: gcp_pubsub }",
            "messaging.type",
            "gcp_pubsub",
            "pubsub",
        ),
    ];

    fn built(value: &str) -> bool {
        STORAGE_TYPES.contains(&value) || MESSAGING_TYPES.contains(&value)
    }

    #[test]
    fn the_refusal_names_the_key_the_value_the_built_types_and_the_feature() {
        for (yaml, key, value, feature) in TYPES {
            let config = Config::from_yaml(yaml).unwrap();
            let err = if key == "storage.type" {
                not_built(key, &config.storage.kind, &["memory"])
            } else {
                not_built(key, &config.messaging.kind, &["memory"])
            }
            .to_string();
            for part in [key, value, feature, "memory"] {
                assert!(err.contains(part), "{part} missing from: {err}");
            }
        }
    }

    #[tokio::test]
    async fn every_configured_type_is_built_or_refused() {
        for (yaml, key, value, _) in TYPES {
            let config = Config::from_yaml(yaml).unwrap();
            match Adapters::from_config(&config).await {
                Err(Error::Config { key: got, message }) if got == key => {
                    assert!(!built(value), "{value} is built in but refused: {message}");
                }
                // Built (lazily: nothing is called over the network here),
                // or refused by the adapter over its own section's defaults.
                Ok(_) | Err(_) => {
                    assert!(built(value), "{value} was accepted without being built in")
                }
            }
        }
    }
}
