//! Angzarr's service discovery on AWS Cloud Map.
//!
//! [`CloudMapDiscovery`] answers [`angzarr_core::ServiceDiscovery`] with
//! Cloud Map's `DiscoverInstances` (the data-plane call, one per service and
//! cache period). The naming convention is on [`CloudMapDiscovery`]; build
//! it with [`Builder`]. [`setup`] registers namespaces, services and
//! instances for tests and tools.

mod builder;
mod client;
mod discovery;

pub mod setup;

pub use angzarr_aws::{RequestCounter, StaticCredentials};
pub use builder::Builder;
pub use discovery::{CloudMapDiscovery, NAME_ATTRIBUTE};
