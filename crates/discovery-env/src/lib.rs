//! # angzarr-discovery-env
//!
//! Two [`ServiceDiscovery`](angzarr_core::ServiceDiscovery) implementations
//! that need no service of their own:
//!
//! * [`EnvDiscovery`] (`discovery.type: env_urls`, the default): a table of
//!   URLs from `ANGZARR_AGGREGATE_<DOMAIN>`, `ANGZARR_PROJECTOR_<NAME>`,
//!   `ANGZARR_SAGA_<SOURCE_DOMAIN>_<NAME>` and the configuration's
//!   `discovery.env_urls`, built with [`Builder`];
//! * [`MeshDiscovery`] (`discovery.type: gcp_mesh`): aggregates by the
//!   Cloud Run service-mesh host name template, projectors and sagas from an
//!   [`EnvDiscovery`].
//!
//! Names are compared in a canonical form (lower case, `-` as `_`), see
//! [`names`].
//!
//! ```
//! # async fn demo() -> angzarr_core::Result<()> {
//! use angzarr_core::ServiceDiscovery;
//! let discovery = angzarr_discovery_env::Builder::new()
//!     .with_vars([("ANGZARR_AGGREGATE_ORDER_FULFILLMENT", "https://fulfil.run.app")])
//!     .build()?;
//! let url = discovery.aggregate("order-fulfillment").await?;
//! assert_eq!(url.as_str(), "https://fulfil.run.app/");
//! # Ok(()) }
//! ```

mod builder;
mod env;
mod mesh;
pub mod names;

pub use builder::Builder;
pub use env::EnvDiscovery;
pub use mesh::MeshDiscovery;
