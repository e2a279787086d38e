//! The AWS SDK configurations of one function process: region and static
//! credentials set explicitly when given (so the SDK never probes the
//! instance metadata service), and loaded once per distinct region and
//! endpoint — every client of the process shares one HTTP stack and one
//! credentials provider, which keeps the cold start short. The HTTPS client
//! trusts the roots of `lambda.trust_roots` (by default only the Amazon
//! Trust Services roots every AWS endpoint chains to, compiled in, so no
//! system bundle is read and parsed at start) plus `lambda.ca_cert_file`.

use std::sync::Arc;

use angzarr_aws::{ClientSettings, SharedHttpClient, StaticCredentials, https_client};
use angzarr_core::{Error, Result};
use aws_config::SdkConfig;

use tokio::sync::Mutex;

use crate::config::LambdaConfig;

/// Region and endpoint override.
type Key = (Option<String>, Option<String>);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The region: `region`, else `AWS_REGION` / `AWS_DEFAULT_REGION`.
pub fn region(region: Option<&str>) -> Option<String> {
    region
        .map(str::to_owned)
        .or_else(|| var("AWS_REGION"))
        .or_else(|| var("AWS_DEFAULT_REGION"))
}

/// SDK configurations by region and endpoint override, loaded on first use
/// (clones share them).
#[derive(Clone, Debug, Default)]
pub struct SdkConfigs {
    loaded: Arc<Mutex<Vec<(Key, SdkConfig)>>>,
    /// The HTTPS client every configuration uses; the SDK's default when
    /// `None`.
    http_client: Option<SharedHttpClient>,
}

impl SdkConfigs {
    /// Configurations whose HTTPS client trusts what `lambda` says
    /// (`trust_roots`, `ca_cert_file`); an unreadable or malformed
    /// certificate file is an error naming `lambda.ca_cert_file`.
    pub fn new(lambda: &LambdaConfig) -> Result<Self> {
        const KEY: &str = "lambda.ca_cert_file";
        let extra = match &lambda.ca_cert_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Error::config(KEY, format!("cannot read `{path}`: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            loaded: Arc::default(),
            http_client: https_client(lambda.trust_roots, extra.as_deref(), KEY)?,
        })
    }

    /// The configuration for `region` ([`region`] fills it from the
    /// environment) and `endpoint`, with the static key of
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
    /// (what Lambda gives every function) as the credentials; only without
    /// those does the SDK's chain run.
    pub async fn get(&self, region_override: Option<&str>, endpoint: Option<&str>) -> SdkConfig {
        let key = (region(region_override), endpoint.map(str::to_owned));
        let mut loaded = self.loaded.lock().await;
        if let Some((_, sdk)) = loaded.iter().find(|(k, _)| *k == key) {
            return sdk.clone();
        }
        let settings = ClientSettings {
            region: key.0.clone(),
            endpoint: key.1.clone(),
            credentials: StaticCredentials::from_env(),
            http_client: self.http_client.clone(),
            ..ClientSettings::default()
        };
        let sdk = settings.sdk_config().await;
        loaded.push((key, sdk.clone()));
        sdk
    }
}
