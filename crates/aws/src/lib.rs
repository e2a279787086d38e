//! # angzarr-aws
//!
//! What Angzarr's AWS adapters share: [`ClientSettings`] (one SDK
//! configuration, no metadata-service probing when region and credentials
//! are given), [`RequestCounter`] (round trips, measured) and [`from_sdk`]
//! (the one mapping of SDK errors to [`angzarr_core::Error`]).

mod counter;
mod error;
mod setters;
mod settings;

pub use aws_config::SdkConfig;
pub use counter::RequestCounter;
pub use error::{RETRIABLE_CODES, from_sdk};
pub use settings::{ClientSettings, StaticCredentials};
