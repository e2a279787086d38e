//! # angzarr-aws
//!
//! What Angzarr's AWS adapters share: [`ClientSettings`] (one SDK
//! configuration, no metadata-service probing when region and credentials
//! are given), [`RequestCounter`] (round trips, measured) and [`from_sdk`]
//! (the one mapping of SDK errors to [`angzarr_core::Error`]), and
//! [`https_client`] (an HTTPS client trusting only the roots that sign AWS
//! endpoints, which shortens a function's cold start), and [`SdkConfigs`]
//! (the process's SDK configurations, one per region and endpoint).

mod configs;
mod counter;
mod error;
mod setters;
mod settings;
mod tls;

pub use aws_config::SdkConfig;
/// An HTTP client for an SDK configuration (see [`https_client`]).
pub use aws_smithy_runtime_api::client::http::SharedHttpClient;
pub use configs::{SdkConfigs, region};
pub use counter::RequestCounter;
pub use error::{RETRIABLE_CODES, from_sdk};
pub use settings::{ClientSettings, StaticCredentials};
pub use tls::{AMAZON_TRUST_SERVICES_PEM, TrustRoots, default_https_client, https_client};
