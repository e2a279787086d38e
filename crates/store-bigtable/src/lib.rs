//! Angzarr stores on Google Cloud Bigtable: [`EventStore`](angzarr_core::EventStore),
//! [`SnapshotStore`](angzarr_core::SnapshotStore),
//! [`FiringGuard`](angzarr_core::FiringGuard) and
//! [`RateLimiter`](angzarr_core::RateLimiter).
//!
//! Build a [`BigtableBackend`] with a [`Builder`] (from code, from the
//! environment, or from the `storage.gcp_bigtable` config section), then take
//! the stores from it. Every append is one batch row written with one
//! CheckAndMutateRow on the row's absence, after a read that checks that a
//! batch ends exactly at the expected sequence (skipped when this process
//! already knows it does): see the crate README for the layout and why this
//! is atomic and safe under concurrent writers.
//!
//! The data API goes through `bigtable_rs`; table creation
//! ([`BigtableBackend::create_tables`]) through the table admin API.

mod admin;
mod backend;
mod builder;
mod client;
mod error;
mod events;
mod guard;
mod layout;
mod rate;
mod snapshots;

pub use backend::BigtableBackend;
pub use builder::{Builder, DEFAULT_TIMEOUT};
pub use events::{BigtableEventStore, LIMITS};
pub use guard::BigtableFiringGuard;
pub use rate::BigtableRateLimiter;
pub use snapshots::BigtableSnapshotStore;
