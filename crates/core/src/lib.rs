//! # angzarr-core
//!
//! The small centre every other Angzarr crate depends on:
//!
//! * [`proto`]: the wire contract (package `angzarr`), generated from `proto/angzarr`,
//!   with tonic clients and servers for its services;
//! * helpers on those types: [`ids`] (UUIDs and aggregate keys) and [`any`]
//!   (packing and matching `google.protobuf.Any`);
//! * the traits a deployment composes: [`EventStore`], [`SnapshotStore`],
//!   [`EventBus`] and [`Subscription`], [`ServiceDiscovery`], [`FiringGuard`],
//!   [`RateLimiter`], and [`PayloadStore`] for payloads too large to carry inline;
//! * one error type, [`Error`], that knows whether it is retriable and how it
//!   maps to gRPC and HTTP;
//! * the configuration model, [`config::Config`], loaded with figment;
//! * [`timeline`]: editions (named timelines) over any [`EventStore`];
//! * [`memory`]: in-process implementations of every trait, the embedded default.
//!
//! No cloud SDK is linked here; each cloud service lives in its own adapter crate.

pub mod any;
pub mod bus;
pub mod config;
pub mod correlation;
pub mod discovery;
pub mod error;
pub mod guard;
pub mod ids;
pub mod memory;
pub mod payload;
pub mod proto;
pub mod rate;
pub mod store;
pub mod timeline;

pub use bus::{Delivery, EventBus, MessageAttributes, Subscription};
pub use correlation::{Correlated, Correlations};
pub use discovery::ServiceDiscovery;
pub use error::{Error, ErrorCode, Result};
pub use guard::{Acquisition, FiringGuard, Lease};
pub use ids::AggregateKey;
pub use payload::PayloadStore;
pub use rate::{RateDecision, RateLimiter};
pub use store::{EventStore, EventStoreExt, LoadRange, SnapshotStore, StoreLimits};
pub use timeline::Timelines;
