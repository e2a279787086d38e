//! The AWS SDK configurations of one process: region and static credentials
//! set explicitly when given (so the SDK never probes the instance metadata
//! service), and loaded once per distinct region and endpoint — every client
//! of the process shares one HTTP stack and one credentials provider, which
//! keeps a function's cold start short.

use std::sync::Arc;

use angzarr_core::{Error, Result};
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use tokio::sync::Mutex;

use crate::{ClientSettings, StaticCredentials, TrustRoots, https_client};

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
/// (clones share them). The default trusts the system's roots
/// ([`crate::default_https_client`]).
#[derive(Clone, Debug, Default)]
pub struct SdkConfigs {
    loaded: Arc<Mutex<Vec<(Key, SdkConfig)>>>,
    /// The HTTPS client every configuration uses;
    /// [`crate::default_https_client`] when `None`.
    http_client: Option<SharedHttpClient>,
}

impl SdkConfigs {
    /// Configurations whose HTTPS client trusts `roots` plus the PEM file
    /// `ca_cert_file`; an unreadable or malformed file is an error naming
    /// `key`.
    pub fn new(roots: TrustRoots, ca_cert_file: Option<&str>, key: &str) -> Result<Self> {
        let extra = match ca_cert_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Error::config(key, format!("cannot read `{path}`: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            loaded: Arc::default(),
            http_client: Some(https_client(roots, extra.as_deref(), key)?),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_certificate_file_names_the_key() {
        let err = SdkConfigs::new(
            TrustRoots::Amazon,
            Some("/nonexistent/ca.pem"),
            "x.ca_cert_file",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.ca_cert_file"), "{err}");
        assert!(SdkConfigs::new(TrustRoots::Amazon, None, "x").is_ok());
    }

    #[tokio::test]
    async fn one_configuration_per_region_and_endpoint() {
        let configs = SdkConfigs::default();
        let a = configs.get(Some("eu-west-1"), None).await;
        let b = configs.get(Some("eu-west-1"), None).await;
        let c = configs
            .get(Some("eu-west-1"), Some("http://127.0.0.1:1"))
            .await;
        assert_eq!(a.region(), b.region());
        assert_eq!(configs.loaded.lock().await.len(), 2);
        assert_eq!(c.endpoint_url(), Some("http://127.0.0.1:1"));
    }
}
