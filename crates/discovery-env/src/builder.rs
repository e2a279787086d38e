//! Collects URLs from variables and configuration and validates them in
//! [`Builder::build`].

use std::collections::BTreeMap;

use angzarr_core::config::EnvUrlsConfig;
use angzarr_core::{Error, Result};
use url::Url;

use crate::env::EnvDiscovery;
use crate::names::{Declaration, canonical, is_sensible, parse_variable};

const CONFIG_KEY: &str = "discovery.env_urls";

/// Where one entry came from, named in errors.
#[derive(Clone, Debug)]
struct Entry {
    /// The variable or dotted configuration key.
    source: String,
    value: String,
}

/// Builds an [`EnvDiscovery`].
///
/// Entries come from the configuration section first, then from variables:
/// a variable overrides a configuration entry for the same (canonical)
/// domain, projector or saga, as the environment overrides the file
/// everywhere else in Angzarr.
///
/// ```
/// # fn demo() -> angzarr_core::Result<()> {
/// let discovery = angzarr_discovery_env::Builder::new()
///     .with_vars([("ANGZARR_AGGREGATE_ORDER", "https://order.run.app")])
///     .build()?;
/// # let _ = discovery; Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    aggregates: BTreeMap<String, Entry>,
    projectors: BTreeMap<String, Entry>,
    sagas: BTreeMap<(String, String), Entry>,
    /// The first entry that makes no sense, reported by `build`.
    invalid: Option<Error>,
}

impl Builder {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process environment's `ANGZARR_AGGREGATE_*`, `ANGZARR_PROJECTOR_*`
    /// and `ANGZARR_SAGA_*` variables. Variables that are not valid Unicode
    /// are skipped.
    pub fn from_env() -> Self {
        Self::new().with_env()
    }

    /// Adds the process environment's discovery variables on top of what is
    /// there (`Builder::from_config(..).with_env()`: the environment wins).
    pub fn with_env(self) -> Self {
        // `vars()` would panic on a variable that is not Unicode.
        self.with_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// The configuration's `discovery.env_urls` section.
    pub fn from_config(config: &EnvUrlsConfig) -> Self {
        Self::new().with_config(config)
    }

    /// Adds the entries of a `discovery.env_urls` section.
    pub fn with_config(mut self, config: &EnvUrlsConfig) -> Self {
        for (domain, url) in &config.aggregates {
            let source = format!("{CONFIG_KEY}.aggregates.{domain}");
            if let Some(domain) = self.sensible(domain, &source) {
                self.aggregates.insert(domain, entry(source, url));
            }
        }
        for (name, url) in &config.projectors {
            let source = format!("{CONFIG_KEY}.projectors.{name}");
            if let Some(name) = self.sensible(name, &source) {
                self.projectors.insert(name, entry(source, url));
            }
        }
        for (domain, sagas) in &config.sagas {
            for (name, url) in sagas {
                let source = format!("{CONFIG_KEY}.sagas.{domain}.{name}");
                let domain = self.sensible(domain, &source);
                let name = self.sensible(name, &source);
                if let (Some(domain), Some(name)) = (domain, name) {
                    self.sagas.insert((domain, name), entry(source, url));
                }
            }
        }
        self
    }

    /// Adds variables given as (name, value) pairs, e.g. `std::env::vars()`
    /// or a test's fixed list. Variables without a discovery prefix are
    /// ignored.
    pub fn with_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (name, value) in vars {
            let name = name.as_ref();
            let Some(declaration) = parse_variable(name) else {
                continue;
            };
            let found = entry(name.to_owned(), value.as_ref());
            match declaration {
                Ok(Declaration::Aggregate { domain }) => {
                    self.aggregates.insert(domain, found);
                }
                Ok(Declaration::Projector { name }) => {
                    self.projectors.insert(name, found);
                }
                Ok(Declaration::Saga {
                    source_domain,
                    name,
                }) => {
                    self.sagas.insert((source_domain, name), found);
                }
                Err(message) => self.invalid(name, message),
            }
        }
        self
    }

    /// Adds one aggregate URL in code.
    pub fn with_aggregate(mut self, domain: &str, url: &str) -> Self {
        let source = format!("aggregate `{domain}`");
        if let Some(domain) = self.sensible(domain, &source) {
            self.aggregates.insert(domain, entry(source, url));
        }
        self
    }

    /// Checks every URL (absolute `http` or `https`) and builds the table.
    pub fn build(self) -> Result<EnvDiscovery> {
        if let Some(error) = self.invalid {
            return Err(error);
        }
        let mut discovery = EnvDiscovery::default();
        for (domain, found) in self.aggregates {
            discovery.aggregates.insert(domain, parse_url(&found)?);
        }
        for (name, found) in self.projectors {
            discovery.projectors.insert(name, parse_url(&found)?);
        }
        for ((domain, name), found) in self.sagas {
            let url = parse_url(&found)?;
            discovery.sagas.entry(domain).or_default().insert(name, url);
        }
        Ok(discovery)
    }

    /// The canonical form of `name` if it makes sense; otherwise remembers
    /// the error for `build`.
    fn sensible(&mut self, name: &str, source: &str) -> Option<String> {
        let canonical = canonical(name);
        if is_sensible(&canonical) {
            Some(canonical)
        } else {
            self.invalid(
                source,
                format!(
                    "`{name}` is not a usable name: letters and digits separated by single `-` or `_`"
                ),
            );
            None
        }
    }

    fn invalid(&mut self, source: &str, message: String) {
        if self.invalid.is_none() {
            self.invalid = Some(Error::config(source, message));
        }
    }
}

fn entry(source: String, value: &str) -> Entry {
    Entry {
        source,
        value: value.trim().to_owned(),
    }
}

fn parse_url(found: &Entry) -> Result<Url> {
    let url = Url::parse(&found.value).map_err(|e| {
        Error::config(
            &found.source,
            format!("`{}` is not an absolute URL: {e}", found.value),
        )
    })?;
    let valid = match url.scheme() {
        "http" | "https" | "grpc" | "grpcs" => url.host_str().is_some_and(|h| !h.is_empty()),
        "lambda" => !url.path().trim().is_empty(),
        _ => false,
    };
    if !valid {
        return Err(Error::config(
            &found.source,
            format!(
                "`{}` must name the protocol and where: grpc://host:port or grpcs://host \
                 (a coordinator over gRPC), http(s)://host (the gateway contract), or \
                 lambda:function-name (Lambda Invoke)",
                found.value
            ),
        ));
    }
    Ok(url)
}
