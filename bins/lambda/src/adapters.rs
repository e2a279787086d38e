//! The factory: turns the configuration into the adapters a function uses,
//! once per process ([`Adapters::shared`]).
//!
//! | config | adapter | cargo feature |
//! |---|---|---|
//! | `storage.type: aws_dynamodb` | DynamoDB events, snapshots, firing guard | `lambda` (default) |
//! | `storage.type: redis` | Redis events, snapshots, firing guard | `redis` |
//! | `storage.type: memory` | in-process (one function only; for trying things out) | always |
//! | `messaging.type: aws_sqs` | SNS publishing (SQS triggers) | always |
//! | `messaging.type: aws_kinesis` | Kinesis publishing (Kinesis triggers) | `kinesis` |
//! | `messaging.type: memory` | in-process bus (nothing is delivered to triggers) | always |
//!
//! A type whose feature is not compiled in fails at start with the key and
//! the feature to enable.

use std::sync::Arc;

use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard, MemorySnapshotStore};
use angzarr_core::{
    Error, EventBus, EventStore, FiringGuard, Result, ServiceDiscovery, SnapshotStore,
};
use tokio::sync::OnceCell;

use crate::aws::SdkConfigs;
use crate::config::LambdaConfig;

/// Everything a function talks to, built once and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Adapters {
    /// The whole configuration.
    pub config: Config,
    /// The `lambda` section.
    pub lambda: LambdaConfig,
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// The snapshot store.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The firing guard of the triggers.
    pub guard: Arc<dyn FiringGuard>,
    /// The bus books are published on.
    pub bus: Arc<dyn EventBus>,
    /// Where the aggregates of other domains answer (`discovery`).
    pub discovery: Arc<dyn ServiceDiscovery>,
    /// The DynamoDB backend, when storage is DynamoDB (its client serves
    /// other tables too, e.g. a read model).
    #[cfg(feature = "lambda")]
    pub dynamodb: Option<angzarr_store_dynamodb::DynamoDb>,
    /// The SDK configurations loaded for the adapters, for the process's
    /// other clients (the Lambda `Invoke` client) to share.
    pub sdk_configs: SdkConfigs,
}

static SHARED: OnceCell<Adapters> = OnceCell::const_new();

impl Adapters {
    /// The process's adapters, built from `figment` (see
    /// [`Config::figment`]) on first use.
    pub async fn shared(figment: &figment::Figment) -> Result<&'static Adapters> {
        SHARED.get_or_try_init(|| Self::from_figment(figment)).await
    }

    /// Builds the adapters from the layered configuration (defaults <
    /// `$ANGZARR_CONFIG` < `ANGZARR_*` variables).
    pub async fn load() -> Result<Self> {
        Self::from_figment(&Config::figment()?).await
    }

    /// Builds the adapters from an already loaded configuration tree.
    pub async fn from_figment(figment: &figment::Figment) -> Result<Self> {
        let config = Config::from_figment(figment.clone())?;
        let lambda = LambdaConfig::from_figment(figment)?;
        Self::from_config(config, lambda).await
    }

    /// Builds the adapters `config` names.
    pub async fn from_config(config: Config, lambda: LambdaConfig) -> Result<Self> {
        let sdk_configs = SdkConfigs::new(&lambda)?;
        #[cfg(feature = "lambda")]
        let mut dynamodb = None;
        let (store, snapshots, guard): (
            Arc<dyn EventStore>,
            Arc<dyn SnapshotStore>,
            Arc<dyn FiringGuard>,
        ) = match config.storage.kind {
            StorageType::Memory => {
                tracing::warn!(
                    "storage.type is memory: events live in this process only; set storage.type to aws_dynamodb or redis"
                );
                (
                    Arc::new(MemoryEventStore::new()),
                    Arc::new(MemorySnapshotStore::new()),
                    Arc::new(MemoryFiringGuard::new()),
                )
            }
            #[cfg(feature = "lambda")]
            StorageType::AwsDynamodb => {
                let section = &config.storage.aws_dynamodb;
                let sdk = sdk_configs
                    .get(section.region.as_deref(), section.endpoint.as_deref())
                    .await;
                let backend = angzarr_store_dynamodb::Builder::from_config(section)
                    .with_client(aws_sdk_dynamodb::Client::new(&sdk))
                    .build()
                    .await?;
                let parts = (
                    Arc::new(backend.event_store()) as Arc<dyn EventStore>,
                    Arc::new(backend.snapshot_store()) as Arc<dyn SnapshotStore>,
                    Arc::new(backend.firing_guard()) as Arc<dyn FiringGuard>,
                );
                dynamodb = Some(backend);
                parts
            }
            #[cfg(feature = "redis")]
            StorageType::Redis => {
                let backend =
                    angzarr_store_redis::Builder::from_config(&config.storage.redis).build()?;
                (
                    Arc::new(backend.event_store()),
                    Arc::new(backend.snapshot_store()),
                    Arc::new(backend.firing_guard()),
                )
            }
            other => return Err(not_compiled("storage.type", &format!("{other:?}"))),
        };

        let bus: Arc<dyn EventBus> = match config.messaging.kind {
            MessagingType::Memory => Arc::new(MemoryBus::new()),
            MessagingType::AwsSqs => {
                let section = &config.messaging.aws_sqs;
                let sdk = sdk_configs
                    .get(section.region.as_deref(), section.endpoint.as_deref())
                    .await;
                let builder = angzarr_bus_sqs::Builder::from_config(section).with_sdk_config(sdk);
                Arc::new(builder.build().await?)
            }
            #[cfg(feature = "kinesis")]
            MessagingType::AwsKinesis => {
                let section = &config.messaging.aws_kinesis;
                let sdk = sdk_configs
                    .get(section.region.as_deref(), section.endpoint.as_deref())
                    .await;
                let builder =
                    angzarr_bus_kinesis::Builder::from_config(section).with_sdk_config(sdk);
                Arc::new(builder.build().await?)
            }
            other => return Err(not_compiled("messaging.type", &format!("{other:?}"))),
        };

        let discovery = angzarr_host::discovery::from_config(&config).await?;
        Ok(Self {
            config,
            lambda,
            store,
            snapshots,
            guard,
            bus,
            discovery,
            #[cfg(feature = "lambda")]
            dynamodb,
            sdk_configs,
        })
    }
}

fn not_compiled(key: &str, kind: &str) -> Error {
    let feature = match kind {
        "AwsDynamodb" => "`lambda`",
        "Redis" => "`redis`",
        "AwsKinesis" => "`kinesis`",
        _ => "no feature (use angzarr-cloudrun)",
    };
    Error::config(
        key,
        format!("`{kind}` is not compiled into this function; build angzarr-lambda with {feature}"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_defaults_build_the_memory_backends() {
        let adapters = Adapters::from_config(Config::default(), LambdaConfig::default())
            .await
            .unwrap();
        assert_eq!(adapters.store.limits(), MemoryEventStore::new().limits());
    }

    #[tokio::test]
    async fn a_backend_of_another_platform_names_the_key() {
        let config = Config::from_yaml("storage: { type: gcp_bigtable }").unwrap();
        let err = Adapters::from_config(config, LambdaConfig::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("storage.type"), "{err}");
        let config = Config::from_yaml("messaging: { type: gcp_pubsub }").unwrap();
        let err = Adapters::from_config(config, LambdaConfig::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("messaging.type"), "{err}");
    }

    #[tokio::test]
    async fn a_bad_sqs_section_fails_at_start() {
        let config = Config::from_yaml(
            "messaging: { type: aws_sqs, aws_sqs: { region: us-east-1, topic_arn_prefix: nope } }",
        )
        .unwrap();
        let err = Adapters::from_config(config, LambdaConfig::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("topic_arn_prefix"), "{err}");
    }
}
