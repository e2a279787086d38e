//! [`Builder`]: settings from code or the configuration tree;
//! `build()` validates them and makes the client.

use std::sync::Arc;

use angzarr_core::config::{Config, KinesisConfig};
use angzarr_core::{Error, PayloadStore, Result};

use angzarr_aws::ClientSettings;

use crate::client;
use crate::publish::KinesisBus;
use crate::reader::KinesisReader;

/// Config section of this crate, for error messages.
const SECTION: &str = "messaging.aws_kinesis";

/// Builds a [`KinesisBus`] and [`KinesisReader`]s.
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// let bus = angzarr_bus_kinesis::Builder::from_env()?.build().await?;
/// # let _ = bus; Ok(()) }
/// ```
///
/// Timeouts default to 3 s to connect and 10 s per attempt.
#[derive(Clone, Debug)]
pub struct Builder {
    stream_prefix: String,
    payload_store: Option<Arc<dyn PayloadStore>>,
    client: ClientSettings,
}

impl Default for Builder {
    fn default() -> Self {
        Self::from_config(&KinesisConfig::default())
    }
}

impl Builder {
    /// The defaults: streams `angzarr-events-{domain}`; region and
    /// credentials from the SDK's environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `messaging.aws_kinesis` section of the loaded configuration tree
    /// ([`Config::load`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_MESSAGING__AWS_KINESIS__*` variables) through
    /// [`Builder::from_config`], so the two cannot disagree. What the tree
    /// leaves unset the AWS SDK finds itself: the region in `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, the endpoint in `AWS_ENDPOINT_URL_KINESIS` /
    /// `AWS_ENDPOINT_URL`, credentials in `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` or its other usual
    /// sources.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.messaging.aws_kinesis))
    }

    /// Settings from the `messaging.aws_kinesis` config section.
    pub fn from_config(config: &KinesisConfig) -> Self {
        Self {
            stream_prefix: config.stream_prefix.clone(),
            payload_store: None,
            client: ClientSettings {
                region: config.region.clone(),
                endpoint: config.endpoint.clone(),
                ..ClientSettings::default()
            },
        }
    }

    /// The stream name prefix: a domain's stream is `{prefix}{domain}`.
    pub fn with_stream_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = prefix.into();
        self
    }

    /// Where books over the record limit are offloaded (claim check) and
    /// offloaded pages are fetched from on receipt.
    pub fn with_payload_store(mut self, store: Arc<dyn PayloadStore>) -> Self {
        self.payload_store = Some(store);
        self
    }

    angzarr_aws::client_setters!(client);

    fn validate(&self) -> Result<()> {
        let key = |name: &str| format!("{SECTION}.{name}");
        let valid_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !self.stream_prefix.chars().all(valid_name) || self.stream_prefix.len() > 100 {
            return Err(Error::config(
                key("stream_prefix"),
                format!(
                    "`{}` is not a stream name prefix (letters, digits, `_`, `.`, `-`; at most 100)",
                    self.stream_prefix
                ),
            ));
        }
        self.client.require_region(SECTION)?;
        self.client.validate(SECTION)?;
        Ok(())
    }

    /// Validates the settings and builds the publishing side.
    pub async fn build(self) -> Result<KinesisBus> {
        self.validate()?;
        let sdk = self.client.sdk_config().await;
        Ok(KinesisBus::new(
            client::client(&self.client, &sdk),
            self.stream_prefix,
            self.payload_store,
        ))
    }

    /// Validates the settings and builds a polling reader of `domain`'s stream.
    pub async fn build_reader(self, domain: &str) -> Result<KinesisReader> {
        self.validate()?;
        let sdk = self.client.sdk_config().await;
        Ok(KinesisReader::new(
            client::client(&self.client, &sdk),
            format!("{}{domain}", self.stream_prefix),
            self.payload_store,
        ))
    }

    /// Validates the settings and builds a raw Kinesis client (for
    /// [`crate::setup`] and tools).
    pub async fn build_client(self) -> Result<aws_sdk_kinesis::Client> {
        self.validate()?;
        let sdk = self.client.sdk_config().await;
        Ok(client::client(&self.client, &sdk))
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use angzarr_testkit::errors::config_key as key_of;

    #[test]
    fn the_tree_reaches_the_builder() {
        let config = Config::from_yaml(
            "messaging: { aws_kinesis: { region: eu-west-1, stream_prefix: shop-, endpoint: 'http://127.0.0.1:5000' } }",
        )
        .unwrap();
        let builder = Builder::from_config(&config.messaging.aws_kinesis);
        assert_eq!(builder.stream_prefix, "shop-");
        assert_eq!(builder.client.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            builder.client.endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        builder.validate().unwrap();
    }

    #[test]
    fn from_env_reads_the_tree_and_leaves_the_region_to_the_sdk() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("ANGZARR_MESSAGING__AWS_KINESIS__STREAM_PREFIX", "shop-");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.stream_prefix, "shop-");
            assert_eq!(builder.client.region, None);
            assert_eq!(key_of(builder.validate()), "messaging.aws_kinesis.region");
            jail.set_env("AWS_REGION", "eu-west-1");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            builder.validate().map_err(|e| e.to_string())?;
            // A misspelt key is refused, not ignored.
            jail.set_env("ANGZARR_MESSAGING__AWS_KINESIS__STREAM_PREFX", "x-");
            let err = Builder::from_env().map(|_| ()).unwrap_err().to_string();
            assert!(err.contains("stream_prefx"), "{err}");
            Ok(())
        });
    }
}
