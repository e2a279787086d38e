//! Settings from code or the configuration tree, validated in
//! [`Builder::build`].

use std::fmt;
use std::time::Duration;

use angzarr_core::config::{Config, ConsulConfig, Secret};
use angzarr_core::{Error, Result};

use crate::client::ConsulClient;
use crate::discovery::ConsulDiscovery;

/// The environment variables that set the `discovery.consul` keys of the
/// configuration tree (read by [`Config::load`], hence by
/// [`Builder::from_env`]).
pub mod env {
    /// `discovery.consul.address`.
    pub const ADDRESS: &str = "ANGZARR_DISCOVERY__CONSUL__ADDRESS";
    /// `discovery.consul.token`.
    pub const TOKEN: &str = "ANGZARR_DISCOVERY__CONSUL__TOKEN";
    /// `discovery.consul.service_template`.
    pub const SERVICE_TEMPLATE: &str = "ANGZARR_DISCOVERY__CONSUL__SERVICE_TEMPLATE";
    /// `discovery.consul.cache_ttl_secs`.
    pub const CACHE_TTL_SECS: &str = "ANGZARR_DISCOVERY__CONSUL__CACHE_TTL_SECS";
    /// `discovery.consul.timeout_ms`.
    pub const TIMEOUT_MS: &str = "ANGZARR_DISCOVERY__CONSUL__TIMEOUT_MS";
    /// Consul's own variable for the agent address (`host:port` or a URL):
    /// `discovery.consul.address`, above the file and below [`ADDRESS`]
    /// (see `angzarr_core::config::WELL_KNOWN_VARS`).
    pub const CONSUL_HTTP_ADDR: &str = "CONSUL_HTTP_ADDR";
    /// Consul's own variable for the ACL token: `discovery.consul.token`,
    /// above the file and below [`TOKEN`].
    pub const CONSUL_HTTP_TOKEN: &str = "CONSUL_HTTP_TOKEN";
}

const KEY_ADDRESS: &str = "discovery.consul.address";
const KEY_TEMPLATE: &str = "discovery.consul.service_template";
const KEY_TOKEN: &str = "discovery.consul.token";
const KEY_TIMEOUT: &str = "discovery.consul.timeout_ms";

/// Builds a [`ConsulDiscovery`].
pub struct Builder {
    address: String,
    token: Option<Secret>,
    template: String,
    ttl: Duration,
    timeout: Duration,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("address", &self.address)
            .field("token", &self.token)
            .field("template", &self.template)
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::from_config(&ConsulConfig::default())
    }
}

impl Builder {
    /// The defaults of `discovery.consul`: agent `http://127.0.0.1:8500`, no
    /// token, services `{domain}-aggregate`, 5 s cache, 5 s request timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `discovery.consul` section of the loaded configuration tree
    /// ([`Config::load`]: the `$ANGZARR_CONFIG` file, Consul's
    /// `CONSUL_HTTP_ADDR` / `CONSUL_HTTP_TOKEN`, the `ANGZARR_*` variables of
    /// [`env`](mod@env)) through [`Builder::from_config`], so the two cannot
    /// disagree. A value of the wrong kind fails here, naming its key.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.discovery.consul))
    }

    /// The `discovery.consul` section of the configuration.
    pub fn from_config(config: &ConsulConfig) -> Self {
        Self {
            address: config.address.clone(),
            token: config.token.clone(),
            template: config.service_template.clone(),
            ttl: Duration::from_secs(config.cache_ttl_secs),
            timeout: Duration::from_millis(config.timeout_ms),
        }
    }

    /// The agent's HTTP address, `http://host:port` or `host:port` (the
    /// endpoint override for tests).
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    /// The ACL token sent as `X-Consul-Token`.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Secret::new(token));
        self
    }

    /// The aggregate service name template; `{domain}` is replaced by the
    /// domain in lower case with `_` as `-`.
    pub fn with_service_template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// How long healthy instances are reused before asking again (0: ask
    /// every time).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long one request to the agent may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Validates the settings. Nothing is sent to the agent yet.
    pub fn build(self) -> Result<ConsulDiscovery> {
        let address = self.address.trim();
        let with_scheme = if address.contains("://") {
            address.to_owned()
        } else {
            format!("http://{address}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| {
            Error::config(KEY_ADDRESS, format!("`{address}` is not an address: {e}"))
        })?;
        if url.scheme() != "http" {
            return Err(Error::config(
                KEY_ADDRESS,
                format!(
                    "scheme `{}` is not supported: talk to the local Consul agent over http:// (TLS to Consul is not implemented)",
                    url.scheme()
                ),
            ));
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(Error::config(KEY_ADDRESS, "the address names no host"));
        };
        if url.path() != "/" || url.query().is_some() {
            return Err(Error::config(
                KEY_ADDRESS,
                "give only scheme, host and port (no path or query)",
            ));
        }
        let base = format!(
            "http://{host}:{}",
            url.port_or_known_default().unwrap_or(8500)
        );
        if !self.template.contains("{domain}") {
            return Err(Error::config(
                KEY_TEMPLATE,
                format!("`{}` must contain `{{domain}}`", self.template),
            ));
        }
        let sample = self.template.replace("{domain}", "example");
        if !crate::names::is_service_name(&sample) {
            return Err(Error::config(
                KEY_TEMPLATE,
                format!(
                    "`{}` must make DNS-style names (a-z, 0-9, `-`, `.`)",
                    self.template
                ),
            ));
        }
        if let Some(token) = &self.token
            && (token.expose().trim().is_empty() || token.expose().contains(['\r', '\n']))
        {
            return Err(Error::config(KEY_TOKEN, "must be a non-empty single line"));
        }
        if self.timeout.is_zero() {
            return Err(Error::config(
                KEY_TIMEOUT,
                "the request timeout must be positive",
            ));
        }
        let client = ConsulClient::new(base, self.token, self.timeout);
        Ok(ConsulDiscovery::new(client, self.template, self.ttl))
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    fn key_of(builder: Builder) -> String {
        match builder.build() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn bad_settings_name_their_key() {
        assert_eq!(
            key_of(Builder::new().with_address("https://consul:8501")),
            KEY_ADDRESS
        );
        assert_eq!(key_of(Builder::new().with_address("http://")), KEY_ADDRESS);
        assert_eq!(
            key_of(Builder::new().with_service_template("aggregate")),
            KEY_TEMPLATE
        );
        assert_eq!(
            key_of(Builder::new().with_service_template("{domain}_agg")),
            KEY_TEMPLATE
        );
        assert_eq!(key_of(Builder::new().with_token(" ")), KEY_TOKEN);
        assert_eq!(
            key_of(Builder::new().with_timeout(Duration::ZERO)),
            KEY_TIMEOUT
        );
    }

    #[test]
    fn the_tree_reaches_the_builder() {
        let config = Config::from_yaml(
            "discovery: { consul: { address: '10.0.0.7:8500', service_template: '{domain}-svc', cache_ttl_secs: 9 } }",
        )
        .unwrap();
        let builder = Builder::from_config(&config.discovery.consul);
        assert_eq!(builder.address, "10.0.0.7:8500");
        assert_eq!(builder.template, "{domain}-svc");
        assert_eq!(builder.ttl, Duration::from_secs(9));
        assert_eq!(builder.timeout, Duration::from_millis(5_000));
        assert!(builder.build().is_ok());
    }

    #[test]
    fn from_env_reads_the_tree_with_consul_variables_below_angzarr_ones() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(env::CONSUL_HTTP_ADDR, "10.0.0.9:8500");
            jail.set_env(env::CONSUL_HTTP_TOKEN, "s3cr3t");
            jail.set_env(env::CACHE_TTL_SECS, "0");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.address, "10.0.0.9:8500");
            assert_eq!(builder.ttl, Duration::ZERO);
            assert!(!format!("{builder:?}").contains("s3cr3t"));
            assert_eq!(builder.token.as_ref().map(Secret::expose), Some("s3cr3t"));
            assert!(builder.build().is_ok());

            jail.set_env(env::ADDRESS, "http://agent:8500");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.address, "http://agent:8500");

            // A value of the wrong kind is a configuration error naming its key.
            jail.set_env(env::CACHE_TTL_SECS, "soon");
            match Builder::from_env() {
                Err(Error::Config { key, .. }) => {
                    assert_eq!(key, "discovery.consul.cache_ttl_secs");
                }
                other => panic!("expected a config error, got {other:?}"),
            }
            Ok(())
        });
    }
}
