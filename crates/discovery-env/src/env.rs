//! [`EnvDiscovery`]: a fixed table read from variables and configuration.

use std::collections::BTreeMap;

use angzarr_core::discovery::{Endpoint, ServiceDiscovery};
use angzarr_core::{Error, Result};
use async_trait::async_trait;
use url::Url;

use crate::names::{AGGREGATE_PREFIX, canonical};

/// A [`ServiceDiscovery`] over URLs given by `ANGZARR_AGGREGATE_<DOMAIN>`,
/// `ANGZARR_PROJECTOR_<NAME>`, `ANGZARR_SAGA_<SOURCE_DOMAIN>_<NAME>` and the
/// configuration's `discovery.env_urls`. Build it with [`crate::Builder`].
///
/// Domains are looked up in their canonical form (see [`crate::names`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvDiscovery {
    pub(crate) aggregates: BTreeMap<String, Url>,
    pub(crate) projectors: BTreeMap<String, Url>,
    pub(crate) sagas: BTreeMap<String, BTreeMap<String, Url>>,
}

impl EnvDiscovery {
    /// The aggregate URL of every known domain, by canonical domain.
    pub fn aggregates(&self) -> &BTreeMap<String, Url> {
        &self.aggregates
    }
}

#[async_trait]
impl ServiceDiscovery for EnvDiscovery {
    async fn aggregate(&self, domain: &str) -> Result<Url> {
        let wanted = canonical(domain);
        self.aggregates.get(&wanted).cloned().ok_or_else(|| {
            Error::NotFound(format!(
                "no aggregate endpoint for domain `{domain}` (set {AGGREGATE_PREFIX}{} or discovery.env_urls.aggregates.{wanted})",
                wanted.to_ascii_uppercase()
            ))
        })
    }

    async fn projectors(&self) -> Result<Vec<Endpoint>> {
        Ok(endpoints(&self.projectors))
    }

    async fn sagas(&self, source_domain: &str) -> Result<Vec<Endpoint>> {
        Ok(self
            .sagas
            .get(&canonical(source_domain))
            .map(endpoints)
            .unwrap_or_default())
    }
}

/// Endpoints in name order.
fn endpoints(table: &BTreeMap<String, Url>) -> Vec<Endpoint> {
    table
        .iter()
        .map(|(name, url)| Endpoint {
            name: name.clone(),
            url: url.clone(),
        })
        .collect()
}
