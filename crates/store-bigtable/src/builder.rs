//! [`Builder`]: settings from code, the environment or the figment config,
//! validated in one place ([`Builder::build`]).

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::{BigtableConfig, Config};
use angzarr_core::{Error, Result};

use crate::admin::TableNames;
use crate::backend::BigtableBackend;
use crate::client::{Client, ConnectOptions};

/// The default timeout of every call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

const KEY_PREFIX: &str = "storage.gcp_bigtable";

/// Builds a [`BigtableBackend`].
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// use angzarr_store_bigtable::Builder;
/// let backend = Builder::new()
///     .with_project("my-project")
///     .with_instance("my-instance")
///     .with_endpoint("127.0.0.1:8086") // the emulator
///     .build()
///     .await?;
/// let events = backend.event_store();
/// # let _ = events; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    project: String,
    instance: String,
    events_table: String,
    snapshots_table: String,
    guard_table: String,
    rate_limit_table: String,
    endpoint: Option<String>,
    timeout: Duration,
    channels: usize,
    app_profile: String,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Default settings: tables `angzarr-events`, `angzarr-snapshots`,
    /// `angzarr-firing-guard`, `angzarr-rate-limits`; no project or
    /// instance yet (both are required); a 10 s timeout; one channel.
    pub fn new() -> Self {
        Self::from_config(&BigtableConfig::default())
    }

    /// Settings of the `storage.gcp_bigtable` config section.
    pub fn from_config(config: &BigtableConfig) -> Self {
        Self {
            project: config.project.clone(),
            instance: config.instance.clone(),
            events_table: config.events_table.clone(),
            snapshots_table: config.snapshots_table.clone(),
            guard_table: config.guard_table.clone(),
            rate_limit_table: config.rate_limit_table.clone(),
            endpoint: config.endpoint.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            channels: 1,
            app_profile: config.app_profile.clone(),
        }
    }

    /// Settings from the layered configuration ([`Config::load`]): the
    /// `storage.gcp_bigtable` section of the `ANGZARR_CONFIG` file and the
    /// `ANGZARR_STORAGE__GCP_BIGTABLE__*` variables, with
    /// `GOOGLE_CLOUD_PROJECT` for the project and `BIGTABLE_EMULATOR_HOST`
    /// for the endpoint — the same tree [`Builder::from_config`] reads.
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(&Config::load()?.storage.gcp_bigtable))
    }

    /// The Google Cloud project id.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// The Bigtable instance id.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// The events table (family `event`).
    pub fn with_events_table(mut self, table: impl Into<String>) -> Self {
        self.events_table = table.into();
        self
    }

    /// The snapshots table (family `snapshot`).
    pub fn with_snapshots_table(mut self, table: impl Into<String>) -> Self {
        self.snapshots_table = table.into();
        self
    }

    /// The firing-guard table (family `guard`).
    pub fn with_guard_table(mut self, table: impl Into<String>) -> Self {
        self.guard_table = table.into();
        self
    }

    /// The rate-limit table (family `rate`).
    pub fn with_rate_limit_table(mut self, table: impl Into<String>) -> Self {
        self.rate_limit_table = table.into();
        self
    }

    /// Connects to an emulator at `host:port` (plain HTTP/2, no credentials)
    /// instead of Google Cloud.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The timeout of every call (default 10 s). A call that times out
    /// fails with a retriable error.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many HTTP/2 connections requests are balanced over (default 1;
    /// more helps only a long-running process under heavy load).
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels;
        self
    }

    /// The app profile every data request names (default: the instance's
    /// default profile). On a replicated instance, name one with
    /// single-cluster routing and single-row transactions allowed: appends
    /// need their reads and conditional writes to see the same cluster.
    pub fn with_app_profile(mut self, app_profile: impl Into<String>) -> Self {
        self.app_profile = app_profile.into();
        self
    }

    /// Validates the settings and opens the (lazy) connection. Fails with
    /// [`Error::Config`] naming the first wrong key.
    pub async fn build(self) -> Result<BigtableBackend> {
        let options = self.validate()?;
        let tables = TableNames {
            events: self.events_table,
            snapshots: self.snapshots_table,
            guard: self.guard_table,
            rate_limit: self.rate_limit_table,
        };
        let client = Arc::new(Client::connect(&options).await?);
        Ok(BigtableBackend::new(client, tables, options))
    }

    fn validate(&self) -> Result<ConnectOptions> {
        let key = |name: &str| format!("{KEY_PREFIX}.{name}");
        for (name, value) in [("project", &self.project), ("instance", &self.instance)] {
            if value.is_empty() || value.contains('/') {
                return Err(Error::config(
                    key(name),
                    format!("must be a non-empty id without `/`, got `{value}`"),
                ));
            }
        }
        for (name, table) in [
            ("events_table", &self.events_table),
            ("snapshots_table", &self.snapshots_table),
            ("guard_table", &self.guard_table),
            ("rate_limit_table", &self.rate_limit_table),
        ] {
            if !valid_table_id(table) {
                return Err(Error::config(
                    key(name),
                    format!(
                        "`{table}` is not a Bigtable table id (1-50 of `[-_.a-zA-Z0-9]`, not starting with `-` or `.`)"
                    ),
                ));
            }
        }
        let endpoint = match &self.endpoint {
            None => None,
            Some(endpoint) => {
                let host_port = endpoint.strip_prefix("http://").unwrap_or(endpoint);
                let valid = host_port
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
                    && tonic::transport::Endpoint::from_shared(format!("http://{host_port}"))
                        .is_ok();
                if !valid {
                    return Err(Error::config(
                        key("endpoint"),
                        format!("must be `host:port`, got `{endpoint}`"),
                    ));
                }
                Some(host_port.to_owned())
            }
        };
        if self.timeout.is_zero() {
            return Err(Error::config(key("timeout"), "must be longer than zero"));
        }
        if self.channels == 0 {
            return Err(Error::config(key("channels"), "must be at least 1"));
        }
        if self.app_profile.contains(['/', '&', '=']) {
            return Err(Error::config(
                key("app_profile"),
                format!("`{}` is not an app profile id", self.app_profile),
            ));
        }
        Ok(ConnectOptions {
            project: self.project.clone(),
            instance: self.instance.clone(),
            endpoint,
            timeout: self.timeout,
            channels: self.channels,
            app_profile: self.app_profile.clone(),
        })
    }
}

fn valid_table_id(table: &str) -> bool {
    let mut chars = table.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok
        && table.len() <= 50
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_testkit::errors::config_key as key_of;

    #[test]
    fn wrong_settings_name_their_key() {
        let ok = Builder::new().with_project("p").with_instance("i");
        assert!(ok.validate().is_ok());
        assert_eq!(
            key_of(Builder::new().with_instance("i").validate()),
            "storage.gcp_bigtable.project"
        );
        assert_eq!(
            key_of(Builder::new().with_project("p").validate()),
            "storage.gcp_bigtable.instance"
        );
        assert_eq!(
            key_of(ok.clone().with_events_table("bad/name").validate()),
            "storage.gcp_bigtable.events_table"
        );
        assert_eq!(
            key_of(ok.clone().with_endpoint("localhost").validate()),
            "storage.gcp_bigtable.endpoint"
        );
        assert_eq!(
            key_of(ok.clone().with_timeout(Duration::ZERO).validate()),
            "storage.gcp_bigtable.timeout"
        );
        assert_eq!(
            key_of(ok.clone().with_app_profile("a/b").validate()),
            "storage.gcp_bigtable.app_profile"
        );
        let profiled = ok.clone().with_app_profile("single-cluster").validate();
        assert_eq!(profiled.unwrap().app_profile, "single-cluster");
        let with_scheme = ok
            .with_endpoint("http://127.0.0.1:8086")
            .validate()
            .unwrap();
        assert_eq!(with_scheme.endpoint.as_deref(), Some("127.0.0.1:8086"));
    }

    #[test]
    fn config_section_is_taken_over() {
        let config = BigtableConfig {
            project: "p".into(),
            instance: "i".into(),
            events_table: "ev".into(),
            endpoint: Some("127.0.0.1:9".into()),
            ..Default::default()
        };
        let builder = Builder::from_config(&config);
        assert_eq!(builder.events_table, "ev");
        assert_eq!(
            builder.validate().unwrap().endpoint.as_deref(),
            Some("127.0.0.1:9")
        );
    }
}
