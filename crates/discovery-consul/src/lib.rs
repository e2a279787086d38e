//! # angzarr-discovery-consul
//!
//! A [`ServiceDiscovery`](angzarr_core::ServiceDiscovery) through a Consul
//! agent's HTTP API (`discovery.type: consul`):
//!
//! * a domain's aggregate is the Consul service `{domain}-aggregate` (the
//!   template is configurable); only instances passing their health checks
//!   are used (`GET /v1/health/service/<name>?passing=true`), round-robin,
//!   cached for `cache_ttl_secs`;
//! * projectors are the services tagged `angzarr-projector`, sagas the
//!   services tagged `angzarr-saga=<source domain>` (`GET /v1/catalog/services`);
//! * an instance's URL is `Service.Address` (or `Node.Address` when empty)
//!   and `Service.Port`, `https` when the service has the tag `https`;
//! * the ACL token, if any, is sent as `X-Consul-Token`.
//!
//! ```no_run
//! # async fn demo() -> angzarr_core::Result<()> {
//! use angzarr_core::ServiceDiscovery;
//! let discovery = angzarr_discovery_consul::Builder::from_env()?.build()?;
//! let order = discovery.aggregate("order").await?;
//! # let _ = order; Ok(()) }
//! ```

mod builder;
mod client;
mod discovery;
mod model;
pub mod names;

pub use builder::{Builder, env};
pub use discovery::ConsulDiscovery;
