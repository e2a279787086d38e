use std::collections::HashMap;

use async_trait::async_trait;
use url::Url;

use crate::discovery::{Endpoint, ServiceDiscovery};
use crate::error::{Error, Result};

/// A [`ServiceDiscovery`] over a fixed table, built in code; domains are
/// matched case-insensitively.
#[derive(Clone, Debug, Default)]
pub struct StaticDiscovery {
    aggregates: HashMap<String, Url>,
    projectors: Vec<Endpoint>,
    sagas: HashMap<String, Vec<Endpoint>>,
}

impl StaticDiscovery {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `domain`'s aggregate endpoint.
    pub fn with_aggregate(mut self, domain: &str, url: Url) -> Self {
        self.aggregates.insert(domain.to_ascii_lowercase(), url);
        self
    }

    /// Adds a projector.
    pub fn with_projector(mut self, name: &str, url: Url) -> Self {
        self.projectors.push(Endpoint {
            name: name.to_owned(),
            url,
        });
        self
    }

    /// Adds a saga reacting to `source_domain`.
    pub fn with_saga(mut self, source_domain: &str, name: &str, url: Url) -> Self {
        self.sagas
            .entry(source_domain.to_ascii_lowercase())
            .or_default()
            .push(Endpoint {
                name: name.to_owned(),
                url,
            });
        self
    }
}

#[async_trait]
impl ServiceDiscovery for StaticDiscovery {
    async fn aggregate(&self, domain: &str) -> Result<Url> {
        self.aggregates
            .get(&domain.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no aggregate endpoint for domain `{domain}`")))
    }

    async fn projectors(&self) -> Result<Vec<Endpoint>> {
        Ok(self.projectors.clone())
    }

    async fn sagas(&self, source_domain: &str) -> Result<Vec<Endpoint>> {
        Ok(self
            .sagas
            .get(&source_domain.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_endpoints_case_insensitively_and_names_unknown_domains() {
        let url = |s: &str| Url::parse(s).unwrap();
        let discovery = StaticDiscovery::new()
            .with_aggregate("Order", url("http://order.local/"))
            .with_projector("summary", url("http://summary.local/"))
            .with_saga("order", "fulfillment", url("http://saga.local/"));
        assert_eq!(
            discovery.aggregate("ORDER").await.unwrap(),
            url("http://order.local/")
        );
        let err = discovery.aggregate("cart").await.unwrap_err();
        assert!(err.to_string().contains("`cart`"), "{err}");
        assert_eq!(discovery.projectors().await.unwrap().len(), 1);
        assert_eq!(
            discovery.sagas("Order").await.unwrap()[0].name,
            "fulfillment"
        );
        assert!(discovery.sagas("cart").await.unwrap().is_empty());
    }
}
