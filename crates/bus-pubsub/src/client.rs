//! Construction of the Pub/Sub gRPC client: the emulator over plain HTTP/2
//! when an endpoint is given, else `pubsub.googleapis.com` with Application
//! Default Credentials fetched lazily (on the first request, never at start).

use std::fmt;
use std::sync::Arc;

use gcloud_gax::conn::{ConnectionOptions, Environment};
use gcloud_gax::retry::RetrySetting;
use gcloud_pubsub::client::{Client, ClientConfig};
use token_source::{TokenSource, TokenSourceProvider};
use tokio::sync::OnceCell;

use crate::config::PubSubSettings;
use crate::error::SdkError;

const PUBSUB_HOST: &str = "pubsub.googleapis.com";
const SCOPES: [&str; 1] = ["https://www.googleapis.com/auth/pubsub"];

/// How the connection is used: unary requests get the request timeout; a
/// streaming pull lives as long as the consumer and relies on HTTP/2
/// keep-alive pings to notice a dead peer instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    Requests,
    Streaming,
}

/// Connects to Pub/Sub. The emulator connection is opened here, so an
/// emulator that is down fails now, with a retriable error.
pub(crate) async fn connect(
    settings: &PubSubSettings,
    usage: Usage,
) -> angzarr_core::Result<Client> {
    let connection_option = match usage {
        Usage::Requests => ConnectionOptions {
            timeout: Some(settings.request_timeout),
            connect_timeout: Some(settings.connect_timeout),
            ..Default::default()
        },
        Usage::Streaming => ConnectionOptions {
            timeout: None,
            connect_timeout: Some(settings.connect_timeout),
            http2_keep_alive_interval: Some(std::time::Duration::from_secs(20)),
            keep_alive_timeout: Some(std::time::Duration::from_secs(10)),
            keep_alive_while_idle: Some(true),
        },
    };
    let (environment, endpoint, pool_size) = match &settings.endpoint {
        Some(host) => (Environment::Emulator(host.clone()), host.clone(), 1),
        None => (
            Environment::GoogleCloud(Box::new(AdcTokens::default())),
            PUBSUB_HOST.to_owned(),
            2,
        ),
    };
    let config = ClientConfig {
        pool_size,
        project_id: Some(settings.project.clone()),
        environment,
        endpoint,
        connection_option,
    };
    Client::new(config)
        .await
        .map_err(|e| SdkError::from(e).into())
}

/// The retry policy of every request: a few quick attempts on retriable
/// codes, so that a function fails fast and the platform retries the whole
/// invocation instead.
pub(crate) fn retry_setting(settings: &PubSubSettings) -> RetrySetting {
    let mut retry = RetrySetting {
        take: settings.retries,
        max_delay: Some(std::time::Duration::from_millis(500)),
        ..RetrySetting::default()
    };
    retry.codes.push(gcloud_gax::grpc::Code::DeadlineExceeded);
    retry
}

/// Application Default Credentials through `gcp_auth` (service-account key
/// file, gcloud user credentials, or the metadata server on Cloud Run), looked
/// up on the first token request and cached by `gcp_auth` until expiry.
#[derive(Clone, Default)]
struct AdcTokens {
    provider: Arc<OnceCell<Arc<dyn gcp_auth::TokenProvider>>>,
}

impl fmt::Debug for AdcTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdcTokens")
            .field("initialised", &self.provider.initialized())
            .finish()
    }
}

impl TokenSourceProvider for AdcTokens {
    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl TokenSource for AdcTokens {
    async fn token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let provider = self.provider.get_or_try_init(gcp_auth::provider).await?;
        let token = provider.token(&SCOPES).await?;
        Ok(format!("Bearer {}", token.as_str()))
    }
}
