//! Creating and deleting topics and subscriptions, for tests, `xtask` and
//! set-up scripts. Production infrastructure is made by the deployment
//! modules; the runtime itself never creates anything.

use std::time::Duration;

use angzarr_core::Result;
use gcloud_gax::grpc::Code;
use gcloud_gax::retry::RetrySetting;
use gcloud_googleapis::pubsub::v1::push_config::{AuthenticationMethod, OidcToken};
use gcloud_googleapis::pubsub::v1::{DeadLetterPolicy, PushConfig};
use gcloud_pubsub::client::Client;
use gcloud_pubsub::subscription::SubscriptionConfig;

use crate::error::SdkError;

/// The OIDC token Pub/Sub attaches to push requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushOidc {
    /// The service account whose identity the token carries (claim `email`).
    pub service_account_email: String,
    /// The token's audience (claim `aud`); usually the endpoint URL.
    pub audience: String,
}

/// Topic and subscription management; see [`crate::PubSubBus::admin`].
#[derive(Clone, Debug)]
pub struct PubSubAdmin {
    client: Client,
    retry: RetrySetting,
}

impl PubSubAdmin {
    pub(crate) fn new(client: Client, retry: RetrySetting) -> Self {
        Self { client, retry }
    }

    /// Creates topic `id`; an existing topic is fine.
    pub async fn ensure_topic(&self, id: &str) -> Result<()> {
        let created = self
            .client
            .create_topic(id, None, Some(self.retry.clone()))
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::AlreadyExists => Ok(()),
            Err(status) => Err(SdkError::from(status).into()),
        }
    }

    /// Deletes topic `id`.
    pub async fn delete_topic(&self, id: &str) -> Result<()> {
        self.client
            .topic(id)
            .delete(Some(self.retry.clone()))
            .await
            .map_err(|s| SdkError::from(s).into())
    }

    /// Creates a pull subscription `id` on topic `topic` that delivers each
    /// ordering key's messages in order; with `dead_letter`, messages that
    /// failed `max_attempts` times move to that topic (and deliveries carry
    /// their attempt count).
    pub async fn create_pull_subscription(
        &self,
        id: &str,
        topic: &str,
        ack_deadline: Duration,
        dead_letter: Option<(&str, i32)>,
    ) -> Result<()> {
        let config = SubscriptionConfig {
            ack_deadline_seconds: deadline_seconds(ack_deadline),
            enable_message_ordering: true,
            dead_letter_policy: dead_letter.map(|(topic, max_attempts)| DeadLetterPolicy {
                dead_letter_topic: self.client.fully_qualified_topic_name(topic),
                max_delivery_attempts: max_attempts,
            }),
            ..Default::default()
        };
        self.create_subscription(id, topic, config).await
    }

    /// Creates a push subscription `id` on topic `topic` delivering to
    /// `endpoint`, optionally with an OIDC token on every request.
    pub async fn create_push_subscription(
        &self,
        id: &str,
        topic: &str,
        endpoint: &str,
        ack_deadline: Duration,
        oidc: Option<PushOidc>,
    ) -> Result<()> {
        let push = PushConfig {
            push_endpoint: endpoint.to_owned(),
            authentication_method: oidc.map(|oidc| {
                AuthenticationMethod::OidcToken(OidcToken {
                    service_account_email: oidc.service_account_email,
                    audience: oidc.audience,
                })
            }),
            ..Default::default()
        };
        let config = SubscriptionConfig {
            push_config: Some(push),
            ack_deadline_seconds: deadline_seconds(ack_deadline),
            enable_message_ordering: true,
            ..Default::default()
        };
        self.create_subscription(id, topic, config).await
    }

    /// Deletes subscription `id`.
    pub async fn delete_subscription(&self, id: &str) -> Result<()> {
        self.client
            .subscription(id)
            .delete(Some(self.retry.clone()))
            .await
            .map_err(|s| SdkError::from(s).into())
    }

    async fn create_subscription(
        &self,
        id: &str,
        topic: &str,
        config: SubscriptionConfig,
    ) -> Result<()> {
        self.client
            .create_subscription(id, topic, config, Some(self.retry.clone()))
            .await
            .map(drop)
            .map_err(|s| SdkError::from(s).into())
    }
}

/// Pub/Sub accepts 10 to 600 seconds.
fn deadline_seconds(deadline: Duration) -> i32 {
    deadline.as_secs().clamp(10, 600) as i32
}
