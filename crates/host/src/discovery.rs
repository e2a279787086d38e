//! The configuration's `discovery` section, built: where the aggregates of
//! the domains a process does not host answer, for every host.
//!
//! | `discovery.type` | built from | cargo feature of `angzarr-host` |
//! |---|---|---|
//! | `env_urls` | `discovery.env_urls` and `ANGZARR_AGGREGATE_<DOMAIN>` | always |
//! | `gcp_mesh` | `discovery.gcp_mesh` (plus `env_urls` entries) | always |
//! | `consul` | `discovery.consul` | `consul` |
//! | `aws_cloudmap` | `discovery.aws_cloudmap` | `cloudmap` |
//!
//! An endpoint names its protocol: `grpc://`/`grpcs://` (a coordinator over
//! gRPC), `http(s)://` (the gateway contract), `lambda:function` (Invoke).

use std::sync::Arc;

use angzarr_core::config::{Config, DiscoveryType};
use angzarr_core::{Error, Result, ServiceDiscovery};

/// The discovery `config` names. A type not compiled in fails, naming the
/// key, the value and the feature that provides it.
pub async fn from_config(config: &Config) -> Result<Arc<dyn ServiceDiscovery>> {
    let section = &config.discovery;
    match section.kind {
        DiscoveryType::EnvUrls => Ok(Arc::new(env_urls(config)?)),
        DiscoveryType::GcpMesh => Ok(Arc::new(
            angzarr_discovery_env::MeshDiscovery::from_config(&section.gcp_mesh)?
                .with_components(env_urls(config)?),
        )),
        #[cfg(feature = "consul")]
        DiscoveryType::Consul => Ok(Arc::new(
            angzarr_discovery_consul::Builder::from_config(&section.consul).build()?,
        )),
        #[cfg(feature = "cloudmap")]
        DiscoveryType::AwsCloudmap => Ok(Arc::new(
            angzarr_discovery_cloudmap::Builder::from_config(&section.aws_cloudmap)
                .build()
                .await?,
        )),
        #[allow(unreachable_patterns)]
        other => Err(not_built("discovery.type", other)),
    }
}

fn env_urls(config: &Config) -> Result<angzarr_discovery_env::EnvDiscovery> {
    angzarr_discovery_env::Builder::from_config(&config.discovery.env_urls)
        .with_env()
        .build()
}

#[allow(dead_code)]
fn not_built(key: &str, kind: DiscoveryType) -> Error {
    let (value, feature) = match kind {
        DiscoveryType::Consul => ("consul", "consul"),
        DiscoveryType::AwsCloudmap => ("aws_cloudmap", "cloudmap"),
        DiscoveryType::EnvUrls => ("env_urls", "-"),
        DiscoveryType::GcpMesh => ("gcp_mesh", "-"),
    };
    Error::config(
        key,
        format!("`{value}` is not built into this binary; build it with the `{feature}` feature"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn env_urls_is_built_and_a_type_not_compiled_in_names_its_feature() {
        let config = Config::from_yaml(
            "discovery: { type: env_urls, env_urls: { aggregates: { cart: 'grpc://127.0.0.1:1' } } }",
        )
        .unwrap();
        let discovery = from_config(&config).await.unwrap();
        assert_eq!(
            discovery.aggregate("cart").await.unwrap().as_str(),
            "grpc://127.0.0.1:1"
        );
        #[cfg(not(feature = "consul"))]
        {
            let config = Config::from_yaml("discovery: { type: consul }").unwrap();
            let err = from_config(&config).await.unwrap_err().to_string();
            assert!(
                err.contains("discovery.type") && err.contains("consul") && err.contains("feature"),
                "{err}"
            );
        }
    }
}
