//! [`PubSubBuilder`]: defaults < the configuration tree (file, Google's
//! variables, `ANGZARR_*` variables) < typed setters; `build()` is the one
//! place settings are checked.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::{Config, PubSubConfig};
use angzarr_core::{PayloadStore, Result};

use crate::client;
use crate::config::PubSubSettings;
use crate::publisher::PubSubBus;

/// Builds a [`PubSubBus`].
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// use angzarr_bus_pubsub::PubSubBuilder;
/// let bus = PubSubBuilder::from_env()?
///     .with_project("my-project")
///     .with_endpoint("127.0.0.1:8085")
///     .build()
///     .await?;
/// # let _ = bus; Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct PubSubBuilder {
    settings: PubSubSettings,
    payloads: Option<Arc<dyn PayloadStore>>,
}

impl PubSubBuilder {
    /// A builder with the defaults (prefix `angzarr-events-`, 10 MB messages,
    /// no project).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from the layered configuration ([`Config::load`]): the
    /// `messaging.gcp_pubsub` section of the `ANGZARR_CONFIG` file and the
    /// `ANGZARR_MESSAGING__GCP_PUBSUB__*` variables, with
    /// `GOOGLE_CLOUD_PROJECT` / `GCLOUD_PROJECT` for the project and
    /// `PUBSUB_EMULATOR_HOST` for the endpoint — the same tree
    /// [`PubSubBuilder::from_config`] reads, so the two cannot disagree.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.messaging.gcp_pubsub))
    }

    /// A builder from the `messaging.gcp_pubsub` configuration section.
    pub fn from_config(config: &PubSubConfig) -> Self {
        let settings = PubSubSettings {
            project: config.project.clone(),
            topic_prefix: config.topic_prefix.clone(),
            subscription: config.subscription.clone(),
            endpoint: config.endpoint.clone(),
            ..PubSubSettings::default()
        };
        Self {
            settings,
            payloads: None,
        }
    }

    /// The Google Cloud project.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.settings.project = project.into();
        self
    }

    /// The topic prefix: a domain's topic is `{prefix}{domain}`.
    pub fn with_topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.topic_prefix = prefix.into();
        self
    }

    /// The subscription [`PubSubBus::subscriber`] reads by default.
    pub fn with_subscription(mut self, subscription: impl Into<String>) -> Self {
        self.settings.subscription = Some(subscription.into());
        self
    }

    /// The emulator's `host:port` (instead of `pubsub.googleapis.com`).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.settings.endpoint = Some(endpoint.into());
        self
    }

    /// The largest encoded book published inline (at most 10,000,000).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_message_bytes = bytes;
        self
    }

    /// Where books over the message limit are offloaded (claim check); without
    /// one they are refused with `Error::LimitExceeded`.
    pub fn with_payload_store(mut self, store: Arc<dyn PayloadStore>) -> Self {
        self.payloads = Some(store);
        self
    }

    /// Deadline of one gRPC request (default 30 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// Deadline of opening a connection (default 5 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Retries of a request failing with a retriable status (default 3).
    pub fn with_retries(mut self, retries: usize) -> Self {
        self.settings.retries = retries;
        self
    }

    /// Concurrent publish workers per topic (default 3).
    pub fn with_publisher_workers(mut self, workers: usize) -> Self {
        self.settings.publisher_workers = workers;
        self
    }

    /// The settings as they stand, before validation.
    pub fn settings(&self) -> &PubSubSettings {
        &self.settings
    }

    /// Validates the settings and connects. Fails with `Error::Config` naming
    /// the key of a wrong setting, or a retriable error when the service
    /// cannot be reached.
    pub async fn build(self) -> Result<PubSubBus> {
        self.settings.validate()?;
        let client = client::connect(&self.settings, client::Usage::Requests).await?;
        Ok(PubSubBus::new(client, self.settings, self.payloads))
    }
}

#[cfg(test)]
mod tests {
    use angzarr_core::Error;

    use super::*;

    #[test]
    fn config_section_is_taken_over() {
        let config = PubSubConfig {
            project: "p1".into(),
            subscription: Some("sub".into()),
            ..Default::default()
        };
        let settings = PubSubBuilder::from_config(&config).settings().clone();
        assert_eq!(settings.project, "p1");
        assert_eq!(settings.topic_prefix, "angzarr-events-");
        assert_eq!(settings.subscription.as_deref(), Some("sub"));
    }

    #[tokio::test]
    async fn build_names_the_wrong_key() {
        let err = PubSubBuilder::new()
            .with_project("p")
            .with_max_message_bytes(0)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Config { ref key, .. } if key == "messaging.gcp_pubsub.max_message_bytes"),
            "{err:?}"
        );
    }
}
