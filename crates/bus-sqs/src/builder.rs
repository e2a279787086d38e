//! [`Builder`]: settings from code or the configuration tree;
//! `build()` validates them and makes the clients.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::{Config, SqsConfig};
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
/// let bus = angzarr_bus_sqs::Builder::from_env()?
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

    /// The `messaging.aws_sqs` section of the loaded configuration tree
    /// ([`Config::load`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_MESSAGING__AWS_SQS__*` variables) through
    /// [`Builder::from_config`], so the two cannot disagree. What the tree
    /// leaves unset the AWS SDK finds itself: the region in `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, endpoints in `AWS_ENDPOINT_URL_SNS`,
    /// `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL`, credentials in
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` or
    /// its other usual sources.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.messaging.aws_sqs))
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

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use angzarr_testkit::errors::config_key as key_of;

    #[test]
    fn the_tree_reaches_the_builder() {
        let config = Config::from_yaml(
            r#"
messaging:
  aws_sqs:
    region: eu-west-1
    topic_arn_prefix: "arn:aws:sns:eu-west-1:123456789012:shop-"
    fifo: true
    queue_url: "http://127.0.0.1:5000/123456789012/shop"
    endpoint: "http://127.0.0.1:5000"
"#,
        )
        .unwrap();
        let builder = Builder::from_config(&config.messaging.aws_sqs);
        assert_eq!(
            builder.topic_arn_prefix,
            "arn:aws:sns:eu-west-1:123456789012:shop-"
        );
        assert!(builder.fifo);
        assert_eq!(
            builder.queue_url.as_deref(),
            Some("http://127.0.0.1:5000/123456789012/shop")
        );
        assert_eq!(builder.client.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            builder.client.endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        builder.validate_common().unwrap();
    }

    #[test]
    fn from_env_reads_the_tree_and_leaves_the_region_to_the_sdk() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(
                "ANGZARR_MESSAGING__AWS_SQS__TOPIC_ARN_PREFIX",
                "arn:aws:sns:eu-west-1:123456789012:shop-",
            );
            jail.set_env("ANGZARR_MESSAGING__AWS_SQS__FIFO", "true");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(
                builder.topic_arn_prefix,
                "arn:aws:sns:eu-west-1:123456789012:shop-"
            );
            assert!(builder.fifo);
            assert_eq!(builder.client.region, None);
            // No region in the tree nor for the SDK.
            assert_eq!(
                key_of(builder.validate_common()),
                "messaging.aws_sqs.region"
            );
            // The SDK's own variable is enough.
            jail.set_env("AWS_REGION", "eu-west-1");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.client.region, None);
            builder.validate_common().map_err(|e| e.to_string())?;
            // A value of the wrong kind names its key.
            jail.set_env("ANGZARR_MESSAGING__AWS_SQS__FIFO", "sometimes");
            assert_eq!(
                key_of(Builder::from_env().map(|_| ())),
                "messaging.aws_sqs.fifo"
            );
            Ok(())
        });
    }
}
