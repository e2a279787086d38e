//! # angzarr-store-dynamodb
//!
//! Angzarr's stores on Amazon DynamoDB:
//!
//! * [`DynamoDbEventStore`]: [`angzarr_core::EventStore`], one item per event
//!   (`pk` = `{domain}#{root}`, `seq`); an append is one conditional
//!   `PutItem` (one event after a load) or one `TransactWriteItems` (up to
//!   [`MAX_EVENTS_PER_APPEND`] events), never partial; loads through
//!   paginated `Query`; events too large for an item are offloaded to an
//!   optional [`angzarr_core::PayloadStore`] and verified on load;
//! * [`DynamoDbSnapshotStore`]: [`angzarr_core::SnapshotStore`], one item per aggregate;
//! * [`DynamoDbFiringGuard`]: [`angzarr_core::FiringGuard`], one conditional
//!   `PutItem` per acquire;
//! * [`DynamoDbRateLimiter`]: [`angzarr_core::RateLimiter`], one conditional
//!   `UpdateItem ADD` per check, fixed windows, optionally sharded;
//! * [`create_tables`]: the table shapes, for tests and tooling.
//!
//! ```no_run
//! # async fn demo() -> angzarr_core::Result<()> {
//! let dynamodb = angzarr_store_dynamodb::Builder::from_env()?.build().await?;
//! let events = dynamodb.event_store();
//! # let _ = events; Ok(()) }
//! ```

mod backend;
mod builder;

mod error;
mod events;
mod guard;
mod item;
mod known;
mod rate;
mod snapshots;
mod tables;

pub use backend::{DynamoDb, TableNames};
pub use builder::{Builder, DEFAULT_MAX_OFFLOADED_EVENT_BYTES};
pub use events::{
    DynamoDbEventStore, MAX_EVENTS_PER_APPEND, MAX_INLINE_APPEND_BYTES, MAX_INLINE_EVENT_BYTES,
};
pub use guard::DynamoDbFiringGuard;
pub use rate::DynamoDbRateLimiter;
pub use snapshots::DynamoDbSnapshotStore;
pub use tables::create_tables;
