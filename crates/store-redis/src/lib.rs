//! # angzarr-store-redis
//!
//! Angzarr's [`EventStore`](angzarr_core::EventStore),
//! [`SnapshotStore`](angzarr_core::SnapshotStore),
//! [`FiringGuard`](angzarr_core::FiringGuard) and
//! [`RateLimiter`](angzarr_core::RateLimiter) on Redis: Memorystore for
//! Redis, ElastiCache (cluster mode disabled), or any `redis-server`.
//!
//! * Check-and-append of a batch is one Lua script (atomic, one `EVALSHA`).
//! * Every key of one aggregate carries the hash tag `{<domain>#<root>}`
//!   (see the README for the layout).
//! * `redis://` and `rediss://` (TLS, rustls) URLs, with a password or an
//!   ACL user and password in the URL.
//! * A pool of multiplexed connections; a dropped connection is retried once,
//!   otherwise the error is [`angzarr_core::Error::Unavailable`] (retriable).
//!
//! ```no_run
//! # async fn demo() -> angzarr_core::Result<()> {
//! use angzarr_core::EventStore;
//! let backend = angzarr_store_redis::Builder::from_env()?.build()?;
//! let events = backend.event_store();
//! # let _ = events; Ok(()) }
//! ```

mod backend;
mod builder;
mod client;
mod error;
mod guard;
mod keys;
mod rate;
mod scripts;
mod snapshot;
mod store;

pub use backend::RedisBackend;
pub use builder::{Builder, LIMITS, env};
pub use guard::RedisFiringGuard;
pub use rate::RedisRateLimiter;
pub use snapshot::RedisSnapshotStore;
pub use store::RedisEventStore;
