//! Finding the services a deployment is made of.

use std::fmt;

use async_trait::async_trait;
use url::Url;

use crate::error::Result;

/// A named service endpoint (a projector or a saga).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The component's name, used in firing-guard keys and logs.
    pub name: String,
    /// Where it answers.
    pub url: Url,
}

/// Where the aggregates, projectors and sagas of a deployment answer.
///
/// Domains are matched case-insensitively.
#[async_trait]
pub trait ServiceDiscovery: Send + Sync + fmt::Debug {
    /// The endpoint of `domain`'s aggregate; an unknown domain is [`crate::Error::NotFound`].
    async fn aggregate(&self, domain: &str) -> Result<Url>;
    /// Every projector.
    async fn projectors(&self) -> Result<Vec<Endpoint>>;
    /// The sagas that react to events of `source_domain`.
    async fn sagas(&self, source_domain: &str) -> Result<Vec<Endpoint>>;
}
