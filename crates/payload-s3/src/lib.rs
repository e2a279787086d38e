//! # angzarr-payload-s3
//!
//! The claim check on Amazon S3: an [`angzarr_core::PayloadStore`] that keeps
//! payloads too large for a store item or a bus message as objects named by
//! the SHA-256 of their content, and hands out
//! [`angzarr_core::proto::PayloadReference`]s (`s3://bucket/key`, hash,
//! size) that readers verify with [`angzarr_core::payload::fetch_verified`].
//!
//! ```no_run
//! # async fn demo() -> angzarr_core::Result<()> {
//! let payloads = angzarr_payload_s3::Builder::from_env()?.build().await?;
//! # let _ = payloads; Ok(()) }
//! ```

mod builder;

mod config;
mod error;
mod store;

pub use builder::Builder;
pub use config::{ENV_PREFIX, PayloadConfig, S3PayloadConfig};
pub use store::S3PayloadStore;
