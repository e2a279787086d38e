//! The settings of the S3 payload store.
//!
//! The core configuration model has no section for a payload store yet, so
//! this crate defines its own, shaped like the other AWS sections; it is read
//! from `ANGZARR_PAYLOAD__AWS_S3__*` variables by [`crate::Builder::from_env`].

use serde::{Deserialize, Serialize};

/// S3 payload-store settings (`payload.aws_s3`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3PayloadConfig {
    /// The bucket (required).
    pub bucket: String,
    /// Prefix of every object key, e.g. `payloads/`.
    pub prefix: String,
    /// AWS region; falls back to the SDK's `AWS_REGION`.
    pub region: Option<String>,
    /// Endpoint override (e.g. moto); turns on path-style addressing.
    pub endpoint: Option<String>,
}

/// The prefix of this section's environment variables.
pub const ENV_PREFIX: &str = "ANGZARR_PAYLOAD__AWS_S3__";

impl S3PayloadConfig {
    /// Reads `ANGZARR_PAYLOAD__AWS_S3__{BUCKET,PREFIX,REGION,ENDPOINT}`.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(format!("{ENV_PREFIX}{name}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        Self {
            bucket: var("BUCKET").unwrap_or_default(),
            prefix: var("PREFIX").unwrap_or_default(),
            region: var("REGION"),
            endpoint: var("ENDPOINT"),
        }
    }
}
