//! The AWS SDK configurations of one function process: region and static
//! credentials set explicitly when given (so the SDK never probes the
//! instance metadata service), and loaded once per distinct region and
//! endpoint — every client of the process shares one HTTP stack and one
//! credentials provider, which keeps the cold start short.

use std::sync::Arc;

use angzarr_aws::{ClientSettings, StaticCredentials};
use aws_config::SdkConfig;
use tokio::sync::Mutex;

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
}

impl SdkConfigs {
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
            ..ClientSettings::default()
        };
        let sdk = settings.sdk_config().await;
        loaded.push((key, sdk.clone()));
        sdk
    }
}
