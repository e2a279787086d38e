//! Settings, read from code or the configuration tree, and validated in one
//! place: [`Builder::build`].

use std::fmt;
use std::time::Duration;

use angzarr_core::config::{Config, RedisConfig};
use angzarr_core::store::StoreLimits;
use angzarr_core::{Error, Result};

use crate::backend::RedisBackend;
use crate::client::Connections;
use crate::keys::Keys;

/// The environment variables that set the `storage.redis` keys of the
/// configuration tree (read by [`Config::load`], hence by
/// [`Builder::from_env`]).
pub mod env {
    /// `storage.redis.url`.
    pub const URL: &str = "ANGZARR_STORAGE__REDIS__URL";
    /// `storage.redis.key_prefix`.
    pub const KEY_PREFIX: &str = "ANGZARR_STORAGE__REDIS__KEY_PREFIX";
    /// `storage.redis.pool_size`.
    pub const POOL_SIZE: &str = "ANGZARR_STORAGE__REDIS__POOL_SIZE";
    /// `storage.redis.timeout_ms`.
    pub const TIMEOUT_MS: &str = "ANGZARR_STORAGE__REDIS__TIMEOUT_MS";
    /// `storage.redis.ca_cert_file`.
    pub const CA_CERT_FILE: &str = "ANGZARR_STORAGE__REDIS__CA_CERT_FILE";
}

const KEY_URL: &str = "storage.redis.url";
const KEY_PREFIX: &str = "storage.redis.key_prefix";
const KEY_POOL_SIZE: &str = "storage.redis.pool_size";
const KEY_TIMEOUT: &str = "storage.redis.timeout_ms";
const KEY_CA_CERT_FILE: &str = "storage.redis.ca_cert_file";

/// What this backend accepts in one append: 1000 events of at most 512 KiB
/// each, so that one script call stays under 500 MiB, below Redis's 1 GiB
/// client query buffer and 512 MB bulk-string limits.
pub const LIMITS: StoreLimits = StoreLimits {
    max_events_per_append: 1_000,
    max_event_bytes: 512 * 1024,
};

/// Builds a [`RedisBackend`].
///
/// ```no_run
/// # fn demo() -> angzarr_core::Result<()> {
/// let backend = angzarr_store_redis::Builder::new()
///     .with_url("rediss://:password@redis.internal:6378")
///     .with_key_prefix("shop")
///     .build()?;
/// let events = backend.event_store();
/// # let _ = events; Ok(()) }
/// ```
pub struct Builder {
    url: String,
    key_prefix: String,
    pool_size: usize,
    timeout: Duration,
    /// PEM root certificate(s) to trust instead of the built-in roots.
    ca_cert_pem: Option<Vec<u8>>,
    /// A setting that could not be used (an unreadable CA file): reported by
    /// `build`.
    invalid: Option<Error>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("url", &redacted(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(|_| "<PEM>"))
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::from_config(&RedisConfig::default())
    }
}

impl Builder {
    /// The defaults of `storage.redis`: `redis://127.0.0.1:6379`, prefix
    /// `angzarr`, 16 connections, 2 s timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `storage.redis` section of the loaded configuration tree
    /// ([`Config::load`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_STORAGE__REDIS__*` variables of [`env`](mod@env)) through
    /// [`Builder::from_config`], so the two cannot disagree. A value of the
    /// wrong kind fails here, naming its key.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.storage.redis))
    }

    /// The `storage.redis` section of the configuration.
    pub fn from_config(config: &RedisConfig) -> Self {
        let builder = Self {
            url: config.url.expose().to_owned(),
            key_prefix: config.key_prefix.clone(),
            pool_size: config.pool_size,
            timeout: Duration::from_millis(config.timeout_ms),
            ca_cert_pem: None,
            invalid: None,
        };
        match &config.ca_cert_file {
            Some(path) => builder.with_ca_cert_file(path),
            None => builder,
        }
    }

    /// Reads the CA certificate(s) for `rediss://` from a PEM file (see
    /// [`Builder::with_ca_cert_pem`]); an unreadable file fails in
    /// [`Builder::build`], naming `storage.redis.ca_cert_file`.
    pub fn with_ca_cert_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(pem) => self.ca_cert_pem = Some(pem),
            Err(e) => {
                self.invalid = Some(Error::config(
                    KEY_CA_CERT_FILE,
                    format!("cannot read `{}`: {e}", path.display()),
                ));
            }
        }
        self
    }

    /// The server: `redis://[:password@]host:port[/db]`, or `rediss://` for
    /// TLS. A user name may come before the password (Redis 6 ACL users).
    /// This is also the endpoint override for tests and emulators.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The prefix of every key (so that several deployments can share a
    /// server). Must not be empty nor contain `{` or `}`.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How many connections the pool keeps at most (each is multiplexed).
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How long to wait for a connection, or for the answer to one command,
    /// before failing with a retriable [`Error::Unavailable`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the CA certificate(s) in `pem` for `rediss://` instead of the
    /// built-in Mozilla roots and the system store: Memorystore's in-transit
    /// encryption uses a per-instance server CA that clients download.
    /// ElastiCache certificates chain to public roots and need nothing here.
    pub fn with_ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_cert_pem = Some(pem.into());
        self
    }

    /// Validates the settings and makes the (lazy) connection pool; nothing
    /// connects until the first command.
    pub fn build(self) -> Result<RedisBackend> {
        if let Some(error) = self.invalid {
            return Err(error);
        }
        let url = url::Url::parse(&self.url).map_err(|e| {
            Error::config(
                KEY_URL,
                format!("`{}` is not a URL: {e}", redacted(&self.url)),
            )
        })?;
        match url.scheme() {
            "redis" => {}
            "rediss" => install_tls_provider(),
            other => {
                return Err(Error::config(
                    KEY_URL,
                    format!(
                        "scheme `{other}` is not supported; use `redis://` or `rediss://` (TLS)"
                    ),
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::config(KEY_URL, "the URL names no host"));
        }
        let opened = match self.ca_cert_pem {
            Some(_) if url.scheme() != "rediss" => {
                return Err(Error::config(
                    KEY_URL,
                    "a CA certificate was given, so the URL must be `rediss://`",
                ));
            }
            Some(pem) => redis::Client::build_with_tls(
                self.url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            ),
            None => redis::Client::open(self.url.as_str()),
        };
        let client = opened.map_err(|e| {
            Error::config(
                KEY_URL,
                format!("`{}` is not a usable Redis URL: {e}", redacted(&self.url)),
            )
        })?;
        if self.key_prefix.is_empty() || self.key_prefix.contains(['{', '}']) {
            return Err(Error::config(
                KEY_PREFIX,
                "must be non-empty and must not contain `{` or `}` (they delimit hash tags)",
            ));
        }
        if self.pool_size == 0 {
            return Err(Error::config(KEY_POOL_SIZE, "must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(Error::config(KEY_TIMEOUT, "must be at least 1 ms"));
        }
        let connections = Connections::new(client, self.pool_size, self.timeout)
            .map_err(|e| Error::config(KEY_POOL_SIZE, e.to_string()))?;
        Ok(RedisBackend::new(
            connections,
            Keys::new(self.key_prefix),
            LIMITS,
        ))
    }
}

/// rustls needs one process-wide crypto provider; this crate links `ring`.
/// If the process already chose one (another crate installed it), that one
/// stays.
fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Fails only if another thread installed one meanwhile: fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The URL with its password replaced, for messages and `Debug`.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("<redacted>"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use angzarr_testkit::errors::config_key;

    #[test]
    fn bad_settings_name_their_key() {
        assert_eq!(
            config_key(Builder::new().with_url("http://x").build()),
            KEY_URL
        );
        assert_eq!(
            config_key(Builder::new().with_url("nonsense").build()),
            KEY_URL
        );
        assert_eq!(
            config_key(Builder::new().with_key_prefix("a{b").build()),
            KEY_PREFIX
        );
        assert_eq!(
            config_key(Builder::new().with_pool_size(0).build()),
            KEY_POOL_SIZE
        );
        assert_eq!(
            config_key(Builder::new().with_timeout(Duration::ZERO).build()),
            KEY_TIMEOUT
        );
    }

    #[test]
    fn the_tree_reaches_the_builder() {
        let config = Config::from_yaml(
            "storage: { redis: { url: 'redis://10.0.0.1:6380', key_prefix: shop, pool_size: 4, timeout_ms: 250 } }",
        )
        .unwrap();
        let builder = Builder::from_config(&config.storage.redis);
        assert_eq!(builder.url, "redis://10.0.0.1:6380");
        assert_eq!(builder.key_prefix, "shop");
        assert_eq!(builder.pool_size, 4);
        assert_eq!(builder.timeout, Duration::from_millis(250));
    }

    #[test]
    fn from_env_reads_the_tree() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "angzarr.yaml",
                "storage: { redis: { key_prefix: from-file } }",
            )?;
            jail.set_env("ANGZARR_CONFIG", "angzarr.yaml");
            jail.set_env(env::URL, "redis://10.0.0.1:6380");
            jail.set_env(env::POOL_SIZE, "4");
            jail.set_env(env::TIMEOUT_MS, "250");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.url, "redis://10.0.0.1:6380");
            assert_eq!(builder.key_prefix, "from-file");
            assert_eq!(builder.pool_size, 4);
            assert_eq!(builder.timeout, Duration::from_millis(250));

            // A value of the wrong kind is a configuration error naming its key.
            jail.set_env(env::POOL_SIZE, "many");
            match Builder::from_env() {
                Err(Error::Config { key, .. }) => assert_eq!(key, KEY_POOL_SIZE),
                other => panic!("expected a config error, got {other:?}"),
            }
            Ok(())
        });
    }

    #[test]
    fn passwords_never_show() {
        let builder = Builder::new().with_url("rediss://user:hunter2@cache.example:6378");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            builder.build().is_ok(),
            "a TLS URL with ACL credentials is accepted"
        );
    }
}
