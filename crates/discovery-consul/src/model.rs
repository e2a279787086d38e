//! The parts of Consul's JSON answers this crate reads, shaped as Consul
//! documents them (`GET /v1/health/service/:service`,
//! `GET /v1/catalog/service/:service`, `GET /v1/catalog/services`). Fields
//! not listed are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One element of `/v1/health/service/:service`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceEntry {
    pub(crate) node: Node,
    pub(crate) service: AgentService,
}

/// The node part of a health entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Node {
    /// The node's address, used when the service registered none.
    #[serde(default)]
    pub(crate) address: String,
}

/// The service part of a health entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AgentService {
    /// Empty when the service registered no address of its own.
    #[serde(default)]
    pub(crate) address: String,
    pub(crate) port: u16,
    /// `null` in Consul's answer when there are none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) meta: BTreeMap<String, String>,
}

/// One element of `/v1/catalog/service/:service`: only how many there are matters.
pub(crate) type CatalogService = serde::de::IgnoredAny;

/// `/v1/catalog/services`: service name → tags.
pub(crate) type CatalogServices = BTreeMap<String, Option<Vec<String>>>;

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
