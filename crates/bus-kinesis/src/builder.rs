//! [`Builder`]: settings from code, the environment or the figment config;
//! `build()` validates them and makes the client.

use std::sync::Arc;

use angzarr_core::config::KinesisConfig;
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
/// let bus = angzarr_bus_kinesis::Builder::from_env().build().await?;
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

    /// Settings from the `ANGZARR_MESSAGING__AWS_KINESIS__*` environment
    /// variables (`STREAM_PREFIX`, `REGION`, `ENDPOINT`), then `AWS_REGION`,
    /// `AWS_ENDPOINT_URL_KINESIS` / `AWS_ENDPOINT_URL`, and a static key from
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let prefix = "ANGZARR_MESSAGING__AWS_KINESIS__";
        let mut builder = Self::new();
        if let Some(v) = var(&format!("{prefix}STREAM_PREFIX")) {
            builder.stream_prefix = v;
        }
        builder.client.fill_from_env(prefix, "KINESIS");
        builder
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
