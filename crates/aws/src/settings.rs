//! One SDK configuration for every AWS client of a process.

use std::fmt;
use std::time::Duration;

use angzarr_core::{Error, Result};
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_types::region::Region;

use crate::RequestCounter;

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

impl StaticCredentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
    /// (as Lambda sets them), if the first two are set.
    pub fn from_env() -> Option<Self> {
        let (id, secret) = (env("AWS_ACCESS_KEY_ID")?, env("AWS_SECRET_ACCESS_KEY")?);
        Some(Self {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        })
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<hidden>")
            .finish_non_exhaustive()
    }
}

/// How to reach one AWS service.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// The region; the SDK's own lookup otherwise.
    pub region: Option<String>,
    /// Endpoint override (moto's `http://127.0.0.1:PORT`).
    pub endpoint: Option<String>,
    /// A static key; the SDK's credential chain otherwise.
    pub credentials: Option<StaticCredentials>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one attempt of one operation.
    pub operation_timeout: Duration,
    /// Attempts per operation, retries included.
    pub max_attempts: u32,
    /// Counts every request, when set.
    pub counter: Option<RequestCounter>,
    /// An SDK configuration loaded already (with its HTTP client), used as it
    /// is instead of loading one from the fields above: a function that makes
    /// several clients loads one configuration and shares it, which keeps its
    /// cold start short.
    pub shared: Option<aws_config::SdkConfig>,
    /// The HTTPS client (see [`crate::https_client`]);
    /// [`crate::default_https_client`] when `None`.
    pub http_client: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
}

impl Default for ClientSettings {
    /// 3 s to connect, 10 s per attempt, 3 attempts.
    fn default() -> Self {
        Self {
            region: None,
            endpoint: None,
            credentials: None,
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 3,
            counter: None,
            shared: None,
            http_client: None,
        }
    }
}

impl ClientSettings {
    /// The defaults with another per-attempt timeout.
    pub fn with_operation_timeout(operation_timeout: Duration) -> Self {
        Self {
            operation_timeout,
            ..Self::default()
        }
    }

    /// Checks the connection settings of the adapter whose configuration
    /// section is `section` (e.g. `storage.aws_dynamodb`): an endpoint
    /// override must be an http(s) URL, a region set here must not be empty,
    /// the per-attempt timeout must be longer than zero and at least one
    /// attempt is made. An error names the key.
    pub fn validate(&self, section: &str) -> Result<()> {
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(Error::config(
                format!("{section}.endpoint"),
                format!("`{endpoint}` must be an http:// or https:// URL"),
            ));
        }
        if self.region.as_deref() == Some("") {
            return Err(Error::config(
                format!("{section}.region"),
                "must not be empty (leave it unset to use AWS_REGION)",
            ));
        }
        if self.operation_timeout.is_zero() {
            return Err(Error::config(
                format!("{section}.timeout"),
                "must be longer than zero",
            ));
        }
        if self.max_attempts == 0 {
            return Err(Error::config(
                format!("{section}.max_attempts"),
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Fails, naming `{section}.region`, when no region is known, for
    /// adapters whose resource names carry it: none set here or in the shared
    /// configuration (see [`Self::has_region`]), and none in `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, where the SDK finds it when it is unset here.
    pub fn require_region(&self, section: &str) -> Result<()> {
        if self.has_region() || region_in_env() {
            return Ok(());
        }
        Err(Error::config(
            format!("{section}.region"),
            "no region: set it or AWS_REGION",
        ))
    }

    /// Whether a region is known: set here, or in the shared configuration.
    pub fn has_region(&self) -> bool {
        self.region.is_some() || self.shared.as_ref().is_some_and(|s| s.region().is_some())
    }

    /// The SDK configuration. Region and credentials given here are used as
    /// they are — no credential chain, no metadata service; only without them
    /// does the SDK's default chain (e.g. the Lambda role) run. With an
    /// endpoint override (an emulator) and no region or credentials
    /// configured anywhere, `us-east-1` and a dummy key are used. With
    /// [`ClientSettings::shared`] set, that configuration is returned as is.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        if let Some(shared) = &self.shared {
            return shared.clone();
        }
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
        let client = self
            .http_client
            .clone()
            .unwrap_or_else(crate::default_https_client);
        loader = loader.http_client(client);
        let emulator = self.endpoint.is_some();
        // Against an emulator with no region configured anywhere, any region
        // works; resolving one must not probe the metadata service.
        let region = self
            .region
            .clone()
            .or_else(|| (emulator && !region_in_env()).then(|| EMULATOR_REGION.to_owned()));
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        match &self.credentials {
            Some(c) => {
                loader = loader.credentials_provider(Credentials::new(
                    c.access_key_id.clone(),
                    c.secret_access_key.clone(),
                    c.session_token.clone(),
                    None,
                    "angzarr-static",
                ));
            }
            // Against an emulator with no credentials configured anywhere, any
            // static pair works; real credentials always take precedence.
            None if emulator && !credentials_in_env() => {
                loader = loader.credentials_provider(Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "angzarr-emulator",
                ));
            }
            None => {}
        }
        loader.load().await
    }
}

/// The region used against an emulator when none is configured anywhere.
const EMULATOR_REGION: &str = "us-east-1";

fn region_in_env() -> bool {
    env("AWS_REGION").is_some() || env("AWS_DEFAULT_REGION").is_some()
}

/// Whether credentials are configured in the environment or a profile.
fn credentials_in_env() -> bool {
    let vars = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_SHARED_CREDENTIALS_FILE",
    ];
    vars.iter().any(|var| env(var).is_some())
        || std::env::var_os("HOME").is_some_and(|home| {
            std::path::Path::new(&home)
                .join(".aws/credentials")
                .is_file()
        })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug() {
        let credentials = StaticCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-secret".into()),
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("very-secret") && !shown.contains("token-secret"));
    }

    #[tokio::test]
    async fn given_settings_reach_the_sdk_config() {
        let settings = ClientSettings {
            region: Some("eu-west-3".into()),
            endpoint: Some("http://127.0.0.1:5999".into()),
            credentials: Some(StaticCredentials {
                access_key_id: "id".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            }),
            ..ClientSettings::default()
        };
        let sdk = settings.sdk_config().await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-3"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5999"));
        assert!(sdk.credentials_provider().is_some());
    }

    #[tokio::test]
    async fn a_shared_configuration_is_used_as_it_is() {
        let shared = ClientSettings {
            region: Some("ap-south-1".into()),
            ..ClientSettings::default()
        }
        .sdk_config()
        .await;
        let settings = ClientSettings {
            region: None,
            endpoint: Some("http://127.0.0.1:5999".into()),
            shared: Some(shared),
            ..ClientSettings::default()
        };
        assert!(settings.has_region());
        let sdk = settings.sdk_config().await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-south-1"));
        assert_eq!(sdk.endpoint_url(), None, "the shared configuration wins");
        assert!(!ClientSettings::default().has_region());
    }
}
