//! [`Builder`]: settings from code, from the configuration model or from the
//! environment, validated once in [`Builder::build`].

use std::sync::Arc;

use angzarr_core::config::{Config, DynamoDbConfig};
use angzarr_core::{Error, PayloadStore, Result};
use aws_sdk_dynamodb::Client;

use crate::backend::{DynamoDb, Shared, TableNames};
use angzarr_aws::ClientSettings;

/// The configuration section this builder reads, for error messages.
const SECTION: &str = "storage.aws_dynamodb";

/// The default cap on one event's encoded size when a payload store takes
/// the events too large to keep in an item (4 MiB).
pub const DEFAULT_MAX_OFFLOADED_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Builds a [`DynamoDb`] backend.
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// use angzarr_store_dynamodb::Builder;
/// let dynamodb = Builder::new()
///     .with_table_prefix("shop")
///     .with_region("us-east-1")
///     .with_endpoint("http://127.0.0.1:5000")
///     .build()
///     .await?;
/// let events = dynamodb.event_store();
/// # let _ = events; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    tables: TableNames,
    client: ClientSettings,
    existing_client: Option<Client>,
    payloads: Option<Arc<dyn PayloadStore>>,
    max_offloaded_event_bytes: usize,
    rate_limit_shards: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Self::from_config(&DynamoDbConfig::default())
    }
}

impl Builder {
    /// The defaults of [`DynamoDbConfig`]: tables `angzarr-events`,
    /// `angzarr-snapshots`, `angzarr-firing-guard`, `angzarr-rate-limits`;
    /// region and credentials from the SDK's environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings from the `storage.aws_dynamodb` section.
    pub fn from_config(config: &DynamoDbConfig) -> Self {
        Self {
            tables: TableNames {
                events: config.table_name.clone(),
                snapshots: config.snapshot_table_name.clone(),
                guard: config.guard_table_name.clone(),
                rate_limits: config.rate_limit_table_name.clone(),
            },
            client: ClientSettings {
                region: config.region.clone(),
                endpoint: config.endpoint.clone(),
                ..ClientSettings::default()
            },
            existing_client: None,
            payloads: None,
            max_offloaded_event_bytes: DEFAULT_MAX_OFFLOADED_EVENT_BYTES,
            rate_limit_shards: 1,
        }
    }

    /// Settings from the layered configuration (`ANGZARR_CONFIG` file and
    /// `ANGZARR_STORAGE__AWS_DYNAMODB__*` variables); AWS credentials and
    /// region also come from the SDK's usual variables (`AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, ...).
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.storage.aws_dynamodb))
    }

    /// All four table names.
    pub fn with_tables(mut self, tables: TableNames) -> Self {
        self.tables = tables;
        self
    }

    /// Table names from a prefix (see [`TableNames::with_prefix`]).
    pub fn with_table_prefix(self, prefix: &str) -> Self {
        self.with_tables(TableNames::with_prefix(prefix))
    }

    angzarr_aws::client_setters!(client);

    /// Uses an SDK client built elsewhere (shared, or with interceptors);
    /// region, endpoint, credentials, timeout and attempts are then ignored.
    pub fn with_client(mut self, client: Client) -> Self {
        self.existing_client = Some(client);
        self
    }

    /// Offloads events too large for an item (and snapshots too large for
    /// one) to `payloads`; the item keeps a verified reference.
    pub fn with_payload_store(mut self, payloads: Arc<dyn PayloadStore>) -> Self {
        self.payloads = Some(payloads);
        self
    }

    /// The largest event accepted when a payload store is configured
    /// (default [`DEFAULT_MAX_OFFLOADED_EVENT_BYTES`]).
    pub fn with_max_offloaded_event_bytes(mut self, bytes: usize) -> Self {
        self.max_offloaded_event_bytes = bytes;
        self
    }

    /// Spreads each rate-limit key over `shards` items per window (default
    /// 1, exact); more shards take more load per key but make the limit
    /// approximate (see [`crate::DynamoDbRateLimiter`]).
    pub fn with_rate_limit_shards(mut self, shards: u32) -> Self {
        self.rate_limit_shards = shards;
        self
    }

    /// Validates the settings and creates the SDK client.
    pub async fn build(self) -> Result<DynamoDb> {
        self.validate()?;
        let client = match self.existing_client {
            Some(client) => client,
            None => {
                let mut config =
                    aws_sdk_dynamodb::config::Builder::from(&self.client.sdk_config().await);
                if let Some(counter) = &self.client.counter {
                    config = config.interceptor(counter.clone());
                }
                Client::from_conf(config.build())
            }
        };
        Ok(DynamoDb {
            shared: Arc::new(Shared {
                client,
                tables: self.tables,
                payloads: self.payloads,
                max_offloaded_event_bytes: self.max_offloaded_event_bytes,
                known: Default::default(),
                rate_limit_shards: self.rate_limit_shards,
            }),
        })
    }

    fn validate(&self) -> Result<()> {
        for (key, name) in [
            ("table_name", &self.tables.events),
            ("snapshot_table_name", &self.tables.snapshots),
            ("guard_table_name", &self.tables.guard),
            ("rate_limit_table_name", &self.tables.rate_limits),
        ] {
            check_table_name(key, name)?;
        }
        self.client.validate(SECTION)?;
        if self.rate_limit_shards == 0 {
            return Err(Error::config(
                format!("{SECTION}.rate_limit_shards"),
                "must be at least 1",
            ));
        }
        if self.max_offloaded_event_bytes < crate::events::MAX_INLINE_EVENT_BYTES {
            return Err(Error::config(
                format!("{SECTION}.max_offloaded_event_bytes"),
                format!(
                    "must be at least the inline limit of {} bytes",
                    crate::events::MAX_INLINE_EVENT_BYTES
                ),
            ));
        }
        Ok(())
    }
}

/// DynamoDB table names: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn check_table_name(key: &str, name: &str) -> Result<()> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if (3..=255).contains(&name.len()) && valid_chars {
        Ok(())
    } else {
        Err(Error::config(
            format!("{SECTION}.{key}"),
            format!(
                "`{name}` is not a DynamoDB table name (3-255 of a-z, A-Z, 0-9, `_`, `-`, `.`)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn build_names_the_bad_key() {
        let err = Builder::new()
            .with_tables(TableNames {
                events: "x".into(),
                ..TableNames::with_prefix("t")
            })
            .build()
            .await
            .map(|_| ())
            .err();
        assert!(
            matches!(&err, Some(Error::Config { key, .. }) if key == "storage.aws_dynamodb.table_name"),
            "{err:?}"
        );
        let err = Builder::new()
            .with_endpoint("localhost:5000")
            .build()
            .await
            .map(|_| ())
            .err();
        assert!(
            matches!(&err, Some(Error::Config { key, .. }) if key == "storage.aws_dynamodb.endpoint"),
            "{err:?}"
        );
        let err = Builder::new()
            .with_max_attempts(0)
            .build()
            .await
            .map(|_| ())
            .err();
        assert!(matches!(err, Some(Error::Config { .. })), "{err:?}");
    }

    #[test]
    fn config_section_maps_to_table_names() {
        let config = DynamoDbConfig {
            table_name: "e".repeat(3),
            ..DynamoDbConfig::default()
        };
        let builder = Builder::from_config(&config);
        assert_eq!(builder.tables.events, "eee");
        assert_eq!(builder.tables.snapshots, "angzarr-snapshots");
    }
}
