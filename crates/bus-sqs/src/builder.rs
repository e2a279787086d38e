//! [`Builder`]: settings from code, the environment or the figment config;
//! `build()` validates them and makes the clients.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::SqsConfig;
use angzarr_core::{Error, PayloadStore, Result};

use angzarr_aws::ClientSettings;

use crate::client;
use crate::publish::SnsBus;
use crate::subscription::SqsSubscription;

/// Config section of this crate, for error messages.
const SECTION: &str = "messaging.aws_sqs";

/// Builds an [`SnsBus`] and, for the pull side, an [`SqsSubscription`].
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// let bus = angzarr_bus_sqs::Builder::from_env()
///     .with_topic_arn_prefix("arn:aws:sns:us-east-1:123456789012:angzarr-events-")
///     .build()
///     .await?;
/// # let _ = bus; Ok(()) }
/// ```
///
/// Timeouts default to 3 s to connect and 30 s per attempt (the attempt
/// timeout must exceed the longest receive wait, 20 s).
#[derive(Clone, Debug)]
pub struct Builder {
    topic_arn_prefix: String,
    fifo: bool,
    queue_url: Option<String>,
    visibility_timeout: Option<Duration>,
    payload_store: Option<Arc<dyn PayloadStore>>,
    client: ClientSettings,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            topic_arn_prefix: String::new(),
            fifo: false,
            queue_url: None,
            visibility_timeout: None,
            payload_store: None,
            client: client::default_settings(),
        }
    }
}

impl Builder {
    /// Nothing set: the region and credentials come from the SDK's environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings from the `ANGZARR_MESSAGING__AWS_SQS__*` environment variables
    /// (`TOPIC_ARN_PREFIX`, `FIFO`, `QUEUE_URL`, `REGION`, `ENDPOINT`), then
    /// `AWS_REGION`, `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL`, and a static key from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let prefix = "ANGZARR_MESSAGING__AWS_SQS__";
        let mut builder = Self::new();
        if let Some(v) = var(&format!("{prefix}TOPIC_ARN_PREFIX")) {
            builder.topic_arn_prefix = v;
        }
        builder.fifo = var(&format!("{prefix}FIFO"))
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
            .unwrap_or(false);
        builder.queue_url = var(&format!("{prefix}QUEUE_URL"));
        builder.client.fill_from_env(prefix, "SNS");
        builder
    }

    /// Settings from the `messaging.aws_sqs` config section.
    pub fn from_config(config: &SqsConfig) -> Self {
        let mut builder = Self::new();
        builder.topic_arn_prefix = config.topic_arn_prefix.clone();
        builder.fifo = config.fifo;
        builder.queue_url = config.queue_url.clone();
        builder.client.region = config.region.clone();
        builder.client.endpoint = config.endpoint.clone();
        builder
    }

    /// The topic ARN without the domain: a domain's topic is `{prefix}{domain}`
    /// (with `.fifo` appended for FIFO topics).
    pub fn with_topic_arn_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_arn_prefix = prefix.into();
        self
    }

    /// FIFO topics and queues: ordered per aggregate, deduplicated.
    pub fn with_fifo(mut self, fifo: bool) -> Self {
        self.fifo = fifo;
        self
    }

    /// The queue the pull consumer reads.
    pub fn with_queue_url(mut self, url: impl Into<String>) -> Self {
        self.queue_url = Some(url.into());
        self
    }

    /// A visibility timeout for received messages; without it the queue's own applies.
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = Some(timeout);
        self
    }

    /// Where books over the size limit are offloaded (claim check) and
    /// offloaded pages are fetched from on receipt.
    pub fn with_payload_store(mut self, store: Arc<dyn PayloadStore>) -> Self {
        self.payload_store = Some(store);
        self
    }

    angzarr_aws::client_setters!(client);

    fn validate_common(&self) -> Result<()> {
        self.client.require_region(SECTION)?;
        self.client.validate(SECTION)?;
        Ok(())
    }

    /// Validates the settings and builds the publishing side.
    pub async fn build(self) -> Result<SnsBus> {
        self.validate_common()?;
        if !self.topic_arn_prefix.starts_with("arn:") {
            return Err(Error::config(
                format!("{SECTION}.topic_arn_prefix"),
                format!(
                    "`{}` is not a topic ARN prefix like `arn:aws:sns:REGION:ACCOUNT:angzarr-events-`",
                    self.topic_arn_prefix
                ),
            ));
        }
        let sdk = self.client.sdk_config().await;
        Ok(SnsBus::new(
            client::sns(&self.client, &sdk),
            self.topic_arn_prefix,
            self.fifo,
            self.payload_store,
        ))
    }

    /// Validates the settings and builds the pull consumer of `queue_url`.
    pub async fn build_subscription(self) -> Result<SqsSubscription> {
        self.validate_common()?;
        let Some(queue_url) = self.queue_url.clone() else {
            return Err(Error::config(
                format!("{SECTION}.queue_url"),
                "the pull consumer needs a queue URL",
            ));
        };
        if let Some(timeout) = self.visibility_timeout
            && timeout > Duration::from_secs(12 * 60 * 60)
        {
            return Err(Error::config(
                "visibility_timeout",
                "at most 12 hours (an SQS limit)",
            ));
        }
        let sdk = self.client.sdk_config().await;
        Ok(SqsSubscription::new(
            client::sqs(&self.client, &sdk),
            queue_url,
            self.visibility_timeout,
            self.payload_store,
        ))
    }

    /// Validates the settings and builds raw SNS and SQS clients (for
    /// [`crate::setup`] and tools).
    pub async fn build_clients(self) -> Result<(aws_sdk_sns::Client, aws_sdk_sqs::Client)> {
        self.validate_common()?;
        let sdk = self.client.sdk_config().await;
        Ok((
            client::sns(&self.client, &sdk),
            client::sqs(&self.client, &sdk),
        ))
    }
}
