//! SDK client construction: static credentials and region when given (no
//! metadata-service probing), an endpoint override for emulators, explicit
//! timeouts and retries, and an optional request counter.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Credentials, Intercept, Region, RuntimeComponents};

/// A static access key, used instead of the SDK's credential chain.
#[derive(Clone)]
pub struct StaticCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` (hidden in `Debug`).
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, if any (hidden in `Debug`).
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<hidden>")
            .finish_non_exhaustive()
    }
}

/// Counts the HTTP requests a client sends (every attempt, retries
/// included), to measure round trips per operation.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Sets the count back to zero.
    pub fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "angzarr-request-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The connection settings shared by the SNS and SQS clients.
#[derive(Clone, Debug)]
pub(crate) struct ClientSettings {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub credentials: Option<StaticCredentials>,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
    pub counter: Option<RequestCounter>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint: None,
            credentials: None,
            connect_timeout: Duration::from_secs(3),
            // Long enough for a 20 s long poll.
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
            counter: None,
        }
    }
}

impl ClientSettings {
    /// The shared SDK configuration. Credentials given here (or in the
    /// `AWS_ACCESS_KEY_ID` environment) are used as they are; only without
    /// them does the SDK's default chain (e.g. the Lambda role) run.
    pub(crate) async fn sdk_config(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(self.connect_timeout)
                    .operation_attempt_timeout(self.operation_timeout)
                    .build(),
            )
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(self.max_attempts.max(1)),
            );
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        if let Some(c) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "angzarr-static",
            ));
        }
        loader.load().await
    }

    /// The SNS client.
    pub(crate) fn sns(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
        let mut config = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(counter) = &self.counter {
            config = config.interceptor(counter.clone());
        }
        aws_sdk_sns::Client::from_conf(config.build())
    }

    /// The SQS client.
    pub(crate) fn sqs(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
        let mut config = aws_sdk_sqs::config::Builder::from(sdk);
        if let Some(counter) = &self.counter {
            config = config.interceptor(counter.clone());
        }
        aws_sdk_sqs::Client::from_conf(config.build())
    }
}
