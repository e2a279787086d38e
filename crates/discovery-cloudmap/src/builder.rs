//! [`Builder`]: settings from code or the configuration tree;
//! `build()` validates them and makes the client.

use std::time::Duration;

use angzarr_core::config::{CloudMapConfig, Config};
use angzarr_core::{Error, Result};

use angzarr_aws::ClientSettings;

use crate::client;
use crate::discovery::{CloudMapDiscovery, Naming};

/// Config section of this crate, for error messages.
const SECTION: &str = "discovery.aws_cloudmap";

/// Builds a [`CloudMapDiscovery`].
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// let discovery = angzarr_discovery_cloudmap::Builder::from_env()?
///     .with_namespace("angzarr.local")
///     .build()
///     .await?;
/// # let _ = discovery; Ok(()) }
/// ```
///
/// Timeouts default to 3 s to connect and 5 s per attempt (discovery sits on
/// the request path).
#[derive(Clone, Debug)]
pub struct Builder {
    naming: Naming,
    cache_ttl: Duration,
    client: ClientSettings,
}

impl Default for Builder {
    fn default() -> Self {
        Self::from_config(&CloudMapConfig::default())
    }
}

impl Builder {
    /// The defaults: service `{domain}-aggregate`, URL attribute `url`,
    /// projectors in service `projectors`, sagas in `{domain}-sagas`, a 10 s cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `discovery.aws_cloudmap` section of the loaded configuration
    /// tree ([`Config::load`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_DISCOVERY__AWS_CLOUDMAP__*` variables) through
    /// [`Builder::from_config`], so the two cannot disagree; a value of the
    /// wrong kind (a `cache_ttl_secs` that is no number) fails here, naming
    /// its key. What the tree leaves unset the AWS SDK finds itself: the
    /// region in `AWS_REGION` / `AWS_DEFAULT_REGION`, the endpoint in
    /// `AWS_ENDPOINT_URL_SERVICEDISCOVERY` / `AWS_ENDPOINT_URL`, credentials
    /// in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
    /// `AWS_SESSION_TOKEN` or its other usual sources.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.discovery.aws_cloudmap))
    }

    /// Settings from the `discovery.aws_cloudmap` config section.
    pub fn from_config(config: &CloudMapConfig) -> Self {
        Self {
            naming: Naming {
                namespace: config.namespace.clone(),
                service_template: config.service_template.clone(),
                url_attribute: config.url_attribute.clone(),
                projector_service: "projectors".into(),
                saga_service_template: "{domain}-sagas".into(),
            },
            cache_ttl: Duration::from_secs(config.cache_ttl_secs),
            client: ClientSettings {
                region: config.region.clone(),
                endpoint: config.endpoint.clone(),
                ..client::default_settings()
            },
        }
    }

    /// The Cloud Map namespace (its name, e.g. `angzarr.local`).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.naming.namespace = namespace.into();
        self
    }

    /// The aggregate service name template; `{domain}` is replaced by the
    /// lower-cased domain. Default `{domain}-aggregate`.
    pub fn with_service_template(mut self, template: impl Into<String>) -> Self {
        self.naming.service_template = template.into();
        self
    }

    /// The instance attribute holding an endpoint's URL. Default `url`.
    pub fn with_url_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.naming.url_attribute = attribute.into();
        self
    }

    /// The service whose instances are the projectors. Default `projectors`.
    pub fn with_projector_service(mut self, service: impl Into<String>) -> Self {
        self.naming.projector_service = service.into();
        self
    }

    /// The template of the service whose instances are the sagas reacting
    /// to a domain; `{domain}` is replaced. Default `{domain}-sagas`.
    pub fn with_saga_service_template(mut self, template: impl Into<String>) -> Self {
        self.naming.saga_service_template = template.into();
        self
    }

    /// How long answers are cached; zero turns the cache off.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    angzarr_aws::client_setters!(client);

    fn validate(&self) -> Result<()> {
        let key = |name: &str| format!("{SECTION}.{name}");
        if self.naming.namespace.is_empty() {
            return Err(Error::config(key("namespace"), "no namespace name"));
        }
        if !self.naming.service_template.contains("{domain}") {
            return Err(Error::config(
                key("service_template"),
                format!("`{}` has no `{{domain}}`", self.naming.service_template),
            ));
        }
        if !self.naming.saga_service_template.contains("{domain}") {
            return Err(Error::config(
                "saga_service_template",
                format!(
                    "`{}` has no `{{domain}}`",
                    self.naming.saga_service_template
                ),
            ));
        }
        if self.naming.url_attribute.is_empty() {
            return Err(Error::config(key("url_attribute"), "empty attribute name"));
        }
        if self.cache_ttl > Duration::from_secs(24 * 60 * 60) {
            return Err(Error::config(
                key("cache_ttl_secs"),
                "a whole number of seconds, at most one day",
            ));
        }
        self.client.require_region(SECTION)?;
        self.client.validate(SECTION)?;
        Ok(())
    }

    /// Validates the settings and builds the discovery.
    pub async fn build(self) -> Result<CloudMapDiscovery> {
        self.validate()?;
        let sdk = self.client.sdk_config().await;
        Ok(CloudMapDiscovery::new(
            client::client(&self.client, &sdk),
            self.naming,
            self.cache_ttl,
        ))
    }

    /// Validates the settings and builds a raw Cloud Map client (for
    /// [`crate::setup`] and tools), with the same endpoint handling.
    pub async fn build_client(self) -> Result<aws_sdk_servicediscovery::Client> {
        self.validate_client_only()?;
        let sdk = self.client.sdk_config().await;
        Ok(client::client(&self.client, &sdk))
    }

    fn validate_client_only(&self) -> Result<()> {
        self.client.require_region(SECTION)
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
discovery:
  aws_cloudmap:
    namespace: shop.local
    service_template: "{domain}-svc"
    url_attribute: endpoint
    cache_ttl_secs: 30
    region: eu-west-1
    endpoint: "http://127.0.0.1:5000"
"#,
        )
        .unwrap();
        let builder = Builder::from_config(&config.discovery.aws_cloudmap);
        assert_eq!(builder.naming.namespace, "shop.local");
        assert_eq!(builder.naming.service_template, "{domain}-svc");
        assert_eq!(builder.naming.url_attribute, "endpoint");
        assert_eq!(builder.cache_ttl, Duration::from_secs(30));
        assert_eq!(builder.client.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            builder.client.endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        builder.validate().unwrap();
    }

    #[test]
    fn from_env_reads_the_tree_and_leaves_the_region_to_the_sdk() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("ANGZARR_DISCOVERY__AWS_CLOUDMAP__NAMESPACE", "shop.local");
            jail.set_env("ANGZARR_DISCOVERY__AWS_CLOUDMAP__CACHE_TTL_SECS", "0");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.naming.namespace, "shop.local");
            assert_eq!(builder.cache_ttl, Duration::ZERO);
            assert_eq!(key_of(builder.validate()), "discovery.aws_cloudmap.region");
            jail.set_env("AWS_REGION", "eu-west-1");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            builder.validate().map_err(|e| e.to_string())?;
            // A TTL that is no number names its key.
            jail.set_env("ANGZARR_DISCOVERY__AWS_CLOUDMAP__CACHE_TTL_SECS", "soon");
            assert_eq!(
                key_of(Builder::from_env().map(|_| ())),
                "discovery.aws_cloudmap.cache_ttl_secs"
            );
            Ok(())
        });
    }
}
