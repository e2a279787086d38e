//! Settings from code, the environment or the configuration file, validated
//! in [`Builder::build`].

use std::fmt;
use std::time::Duration;

use angzarr_core::config::{ConsulConfig, Secret};
use angzarr_core::{Error, Result};

use crate::client::ConsulClient;
use crate::discovery::ConsulDiscovery;

/// The environment variables [`Builder::from_env`] reads.
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
    /// Consul's own variable for the agent address, used when
    /// [`ADDRESS`] is not set (`host:port` or a URL).
    pub const CONSUL_HTTP_ADDR: &str = "CONSUL_HTTP_ADDR";
    /// Consul's own variable for the ACL token, used when [`TOKEN`] is not set.
    pub const CONSUL_HTTP_TOKEN: &str = "CONSUL_HTTP_TOKEN";
}

const KEY_ADDRESS: &str = "discovery.consul.address";
const KEY_TEMPLATE: &str = "discovery.consul.service_template";
const KEY_TTL: &str = "discovery.consul.cache_ttl_secs";
const KEY_TOKEN: &str = "discovery.consul.token";
const KEY_TIMEOUT: &str = "discovery.consul.timeout_ms";

/// Builds a [`ConsulDiscovery`].
pub struct Builder {
    address: String,
    token: Option<Secret>,
    template: String,
    ttl: Duration,
    timeout: Duration,
    invalid: Option<Error>,
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

    /// The defaults overridden by the variables in [`env`].
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut builder = Self::new();
        if let Some(address) = var(env::ADDRESS).or_else(|| var(env::CONSUL_HTTP_ADDR)) {
            builder.address = address;
        }
        if let Some(token) = var(env::TOKEN).or_else(|| var(env::CONSUL_HTTP_TOKEN)) {
            builder.token = Some(Secret::new(token));
        }
        if let Some(template) = var(env::SERVICE_TEMPLATE) {
            builder.template = template;
        }
        if let Some(secs) = var(env::CACHE_TTL_SECS) {
            match secs.trim().parse() {
                Ok(secs) => builder.ttl = Duration::from_secs(secs),
                Err(_) => {
                    builder.invalid = Some(Error::config(
                        KEY_TTL,
                        format!(
                            "`{}` must be a whole number of seconds",
                            env::CACHE_TTL_SECS
                        ),
                    ));
                }
            }
        }
        if let Some(ms) = var(env::TIMEOUT_MS) {
            match ms.trim().parse() {
                Ok(ms) => builder.timeout = Duration::from_millis(ms),
                Err(_) => {
                    builder.invalid = Some(Error::config(
                        KEY_TIMEOUT,
                        format!(
                            "`{}` must be a whole number of milliseconds",
                            env::TIMEOUT_MS
                        ),
                    ));
                }
            }
        }
        builder
    }

    /// The `discovery.consul` section of the configuration.
    pub fn from_config(config: &ConsulConfig) -> Self {
        Self {
            address: config.address.clone(),
            token: config.token.clone(),
            template: config.service_template.clone(),
            ttl: Duration::from_secs(config.cache_ttl_secs),
            timeout: Duration::from_millis(config.timeout_ms),
            invalid: None,
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
        if let Some(error) = self.invalid {
            return Err(error);
        }
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
        let bad_ttl = Builder::from_vars(|n| (n == env::CACHE_TTL_SECS).then(|| "soon".into()));
        assert_eq!(key_of(bad_ttl), KEY_TTL);
    }

    #[test]
    fn consul_variables_are_the_fallback_and_tokens_stay_hidden() {
        let builder = Builder::from_vars(|name| match name {
            env::CONSUL_HTTP_ADDR => Some("10.0.0.9:8500".into()),
            env::CONSUL_HTTP_TOKEN => Some("s3cr3t".into()),
            _ => None,
        });
        assert_eq!(builder.address, "10.0.0.9:8500");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
        assert!(builder.build().is_ok());
    }
}
